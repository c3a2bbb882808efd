# The two commands of the README. Both create .venv on first use and reuse it afterwards.
#   make demo   install avtaleflyt and run the demo year on the embedded default (SQLite)
#   make test   install what the tests need (Python extras, Debian's Chromium) and run them all

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: demo test install install-test chromium postgres pdf-libs bench bench-api

demo: install pdf-libs
	$(BIN)/avtaleflyt demo

test: install-test chromium postgres pdf-libs
	$(BIN)/python -m pytest

# P1–P5 of issue 12 at 1x, 10x and full size (SQLite; BENCH_ARGS="--db postgresql" for
# PostgreSQL). Needs the test extras (aiosmtpd for the local SMTP server, httpx for the
# in-process dashboard client). The generated databases are cached in bench/.cache.
bench: install-test postgres
	$(BIN)/python bench/run.py $(BENCH_ARGS)

# Issue 10: the CLI as the API's client of a running `serve` against a floor (bench/api.py).
bench-api: install
	$(BIN)/python bench/api.py $(BENCH_ARGS)

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

# Browser tests drive Debian's Chromium through Playwright; Playwright's own browser
# download cannot work on machines without internet access, so it is never used.
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  $(SUDO) apt-get update -qq && \
	  $(SUDO) apt-get install -y -qq --no-install-recommends chromium >/dev/null; }

# PDF documents are laid out by WeasyPrint, which needs Pango and a font from Debian.
pdf-libs:
	@{ ldconfig -p | grep -q libpangoft2-1.0 && fc-list | grep -q .; } || { \
	  $(SUDO) apt-get update -qq && \
	  $(SUDO) apt-get install -y -qq --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 \
	    fonts-dejavu-core fonts-crosextra-carlito >/dev/null; }

# PostgreSQL tests need the machine's server on 127.0.0.1:5432; start it if it stopped.
postgres:
	@pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null || \
	  { command -v pg_ctlcluster >/dev/null && \
	    $(SUDO) pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql) main start; } || true
