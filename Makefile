# Every target bootstraps its own virtualenv and a Chromium, so a fresh clone needs nothing else.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test lint format chromium sandbox bench clean

$(STAMP): requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	touch $(STAMP)

chromium: $(STAMP)
	$(PY) -m scraper.browser --ensure

demo: $(STAMP) chromium
	$(PY) main.py demo

sandbox: $(STAMP) chromium
	$(PY) -m sandbox

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

format: $(STAMP)
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

test: lint chromium
	$(PY) -m pytest -n auto --maxprocesses 4 --dist loadfile $(PYTEST_ARGS)

# Not part of `test`: about 7 minutes against the sandbox (BENCH_ARGS=--quick for a smoke run).
bench: $(STAMP) chromium
	$(PY) -m bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
