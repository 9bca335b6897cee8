# podinsights: `make ingest` and `make test` work on a fresh clone.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install ingest test lint fmt bench serve fuzz clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

ingest: install
	$(BIN)/podinsights feeds add data/demo/feed.xml
	$(BIN)/podinsights ingest --feeds data/feeds.opml

test: install
	$(BIN)/pytest

fuzz: install
	$(BIN)/pytest -m slow tests/test_fuzz.py

lint: install
	$(BIN)/ruff check pipeline benchmarks tests
	$(BIN)/ruff format --check pipeline benchmarks tests
	$(BIN)/mypy pipeline benchmarks

serve: install
	$(BIN)/podinsights serve

bench: install
	$(BIN)/python -m benchmarks asr
	$(BIN)/python -m benchmarks asr-speed
	$(BIN)/python -m benchmarks themes
	$(BIN)/python -m benchmarks search
	$(BIN)/python -m benchmarks ingest
	$(BIN)/python -m benchmarks diarization
	$(BIN)/python -m benchmarks qdpx
	$(BIN)/python -m benchmarks loops

fmt: install
	$(BIN)/ruff check --fix pipeline benchmarks tests
	$(BIN)/ruff format pipeline benchmarks tests

clean:
	rm -rf $(VENV) data/podinsights.db* data/audio data/models data/logs data/reports
