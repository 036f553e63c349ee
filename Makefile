# Two entry points: `make lab` (students) and `make test` (CI, maintainers).
# Both create .venv on first use and install the course there; nothing else on the machine changes.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 8888

.PHONY: setup lab test labs clean

# Installed once, and again when the package's requirements change.
$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[test]"
	touch $@

setup: $(VENV)/.installed  ## create .venv with the course package and its tools

lab: setup  ## open JupyterLab on the student notebooks in labs/
	$(BIN)/jupyter lab --ServerApp.root_dir=labs --port=$(PORT)

test: setup  ## lint, unit tests, the grading round trip and nbval over solutions/
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest

labs: setup  ## regenerate labs/ from solutions/ (instructors, after editing a solution)
	$(BIN)/course generate

clean:  ## remove the environment and everything grading wrote
	rm -rf $(VENV) grading
