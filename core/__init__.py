"""The words every part of CreditBot shares: its errors, Looker's URLs and origins, each
component's policy, the read-only SQL check and the register of secrets to keep out of logs.

This package is the bottom floor: it imports nothing of the project, so `bot`, `scraper`,
`notebooks`, `auth` and `state` can all speak it without reaching up to the worker that
orchestrates them (a test holds every module to that).
"""
