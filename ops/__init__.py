"""The operator's instruments: reports on what CreditBot did, read-only, from its state.

Pure library code (stdlib only, no network); the commands in main.py print or write what these
modules return.
"""
