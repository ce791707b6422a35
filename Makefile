# Two entry points, each self-contained on a fresh machine (Python 3.11+, Node 20+, Java 17):
#   make demo   install, start the embedded SCIM server, run every scenario, build the HTML report
#   make test   install, lint, run the test suite (unit, integration, fault tests)
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
TOOLS  := .tools
ALLURE := $(TOOLS)/node_modules/.bin/allure
ALLURE_VERSION := 2.46.1

.PHONY: demo test lint install clean

install: $(VENV)/.installed $(ALLURE)

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

demo: install
	ALLURE_BIN=$(abspath $(ALLURE)) $(BIN)/scim-conformance demo

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/scim-conformance lint

test: install lint
	ALLURE_BIN=$(abspath $(ALLURE)) $(BIN)/python -m pytest tests -p no:cacheprovider

clean:
	rm -rf $(VENV) $(TOOLS) reports/allure-results reports/html reports/junit.xml
