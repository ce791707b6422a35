# Two entry points, each self-contained on a fresh machine (Python 3.11+, Node 20+; no Java):
#   make demo   install, start the embedded SCIM server, run every scenario, build the HTML report
#   make test   install (Debian's chromium too, for the report test), lint, run the test suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
TOOLS  := .tools
ALLURE := $(TOOLS)/node_modules/.bin/allure
ALLURE_VERSION := 3.18.0
# Installed once per version (an Allure 2 left in .tools/ by an earlier checkout is replaced).
ALLURE_STAMP := $(TOOLS)/.allure-$(ALLURE_VERSION)

.PHONY: demo test lint install browser clean

install: $(VENV)/.installed $(ALLURE_STAMP)
	@# Bytecode for the package, also where PYTHONDONTWRITEBYTECODE is set: an editable install
	@# would otherwise compile every module from source at each start (0.05 s of each run).
	@$(BIN)/python -m compileall -q conformance

$(VENV)/.installed: pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $@

# The Allure 3 command line (npm package allure) runs on Node alone.
$(ALLURE_STAMP):
	@command -v npm >/dev/null || { echo "npm is needed for the Allure CLI (Node 20+)"; exit 1; }
	@rm -f $(TOOLS)/.allure-*
	@test ! -d $(TOOLS)/node_modules/allure-commandline || npm uninstall --silent --prefix $(TOOLS) allure-commandline
	npm install --silent --no-audit --no-fund --prefix $(TOOLS) allure@$(ALLURE_VERSION)
	@touch $@

# Debian's chromium, for the test that opens the HTML report offline (tests/integration/test_reports.py).
browser:
	@command -v chromium >/dev/null || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo "sudo -n" ); \
	  echo "installing Debian's chromium for the report test"; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; \
	} || { echo "Debian's chromium is needed by the report test: apt-get install chromium"; exit 1; }

demo: install
	ALLURE_BIN=$(abspath $(ALLURE)) $(BIN)/scim-conformance demo

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/scim-conformance lint

test: install lint browser
	ALLURE_BIN=$(abspath $(ALLURE)) CHROMIUM_BIN=$$(command -v chromium) $(BIN)/python -m pytest tests -p no:cacheprovider

clean:
	rm -rf $(VENV) $(TOOLS) reports/allure-results reports/html reports/junit.xml
