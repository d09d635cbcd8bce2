# Every target bootstraps its own virtualenv and a Chromium, so a fresh clone needs nothing else.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test lint format chromium bytecode sandbox bench clean

$(STAMP): requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	touch $(STAMP)

chromium: $(STAMP)
	$(PY) -m scraper.browser --ensure

# CreditBot's own modules, compiled ahead: where PYTHONDONTWRITEBYTECODE is set (containers often
# set it), Python would compile them again at every start, 0.06 s of each `once`. Only what
# changed is compiled again.
bytecode: $(STAMP)
	$(PY) -m compileall -q -j 0 auth bot core notebooks ops scraper state worker sandbox

demo: $(STAMP) chromium bytecode
	$(PY) main.py demo

sandbox: $(STAMP) chromium bytecode
	$(PY) -m sandbox

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

format: $(STAMP)
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

test: lint chromium bytecode
	$(PY) -m pytest -n auto --maxprocesses 4 --dist loadfile $(PYTEST_ARGS)

# Not part of `test`: about 5 minutes against the sandbox (BENCH_ARGS=--quick for a smoke run).
bench: $(STAMP) chromium bytecode
	$(PY) -m bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
