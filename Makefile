# Two entry points, each self-contained on a fresh machine (Python 3.11+, Node 20+, Java 17):
#   make demo   install, start the embedded SCIM server, run every scenario, build the HTML report
#   make test   install (Debian's chromium too, for the report test), lint, run the test suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
TOOLS  := .tools
ALLURE := $(TOOLS)/node_modules/.bin/allure
ALLURE_VERSION := 2.46.1

.PHONY: demo test lint install browser clean

install: $(VENV)/.installed $(ALLURE)
	@# Bytecode for the package, also where PYTHONDONTWRITEBYTECODE is set: an editable install
	@# would otherwise compile every module from source at each start (0.05 s of each run).
	@$(BIN)/python -m compileall -q conformance

$(VENV)/.installed: pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $@

# The Allure 2 command line ships its Java distribution inside the npm package; it needs a JRE.
$(ALLURE):
	@command -v npm >/dev/null || { echo "npm is needed for the Allure CLI (Node 20+)"; exit 1; }
	@command -v java >/dev/null || { echo "Java 8+ is needed by the Allure CLI (e.g. apt-get install openjdk-17-jre-headless)"; exit 1; }
	npm install --silent --no-audit --no-fund --prefix $(TOOLS) allure-commandline@$(ALLURE_VERSION)

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
