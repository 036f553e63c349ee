# Two entry points: `make lab` (students) and `make test` (CI, maintainers).
# Both create .venv on first use and install the course there; nothing else on the machine changes.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 8888
LAB_DIR ?= labs
LAB_ARGS ?=
# JupyterLab refuses to run as root (containers, CI) unless told to; the course works offline,
# so it neither fetches news nor asks about it (jupyter-settings/overrides.json).
JUPYTER_FLAGS := $(if $(filter 0,$(shell id -u)),--allow-root) --LabApp.news_url=None \
	--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate \
	--LabApp.app_settings_dir=$(CURDIR)/jupyter-settings

.PHONY: setup lab test labs browser sandbox clean

# Installed once, and again when the package's requirements change.
$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	@# pip takes torch alone (it honours the machine's pip settings, where a CPU wheel may lie on
	@# disk) and uv; uv installs the rest, torch's dependencies included, downloading in parallel:
	@# 6 s where pip took 35.
	$(BIN)/python -m pip install --quiet --no-compile --no-deps -c constraints.txt torch uv
	$(BIN)/uv pip install --quiet --python $(BIN)/python -c constraints.txt -e ".[test,cluster]"
	@# The bytecode, compiled on every core (the grading sandbox's kernels cannot write it), but
	@# for the packages' own test suites, which nothing imports (a quarter of the files). A file
	@# written for a newer Python (torch ships one) is left uncompiled, hence the `|| true`.
	$(BIN)/python -m compileall -qq -j 0 -x '/tests?/' $(VENV)/lib || true
	touch $@

setup: $(VENV)/.installed  ## create .venv with the course package and its tools

lab: setup  ## open JupyterLab on the student notebooks in labs/
	$(BIN)/jupyter lab --ServerApp.root_dir=$(LAB_DIR) --port=$(PORT) $(JUPYTER_FLAGS) $(LAB_ARGS)

test: setup browser sandbox  ## lint, unit tests, the grading round trip, nbval, the browser walk
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest -n 2 --dist loadgroup

# The browser test drives Debian's Chromium. Installed here when apt-get can be used (root on
# Debian or Ubuntu); elsewhere the test is skipped and says why.
browser:  ## install Debian's chromium for the browser test, where possible
	@if command -v chromium >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing Debian's chromium for the browser test"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else echo "no chromium and no root apt-get: the browser test will be skipped"; fi

# `course autograde` isolates each grading kernel with bubblewrap (Debian's bubblewrap package).
# Installed here when apt-get can be used; elsewhere the sandbox tests are skipped and say why,
# and `course autograde` refuses to grade without it unless given --no-sandbox.
sandbox:  ## install bubblewrap for the grading sandbox, where possible
	@if command -v bwrap >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing bubblewrap for the grading sandbox"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap >/dev/null; \
	else echo "no bwrap and no root apt-get: the grading sandbox tests will be skipped"; fi

labs: setup  ## regenerate labs/ from solutions/ (instructors, after editing a solution)
	$(BIN)/course generate

clean:  ## remove the environment and everything grading wrote
	rm -rf $(VENV) grading
