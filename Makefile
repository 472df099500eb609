# make run   : create .venv, install, open the window (built-in runtime unless an OpenXR one is found)
# make test  : create .venv with test extras, lint, type-check, run the whole suite
# make test-min : the whole suite in .venv-min, every dependency at its declared minimum
# make fuzz  : the property tests with the long hypothesis profile (thousands of examples)
# make stress-test : the whole suite 5 times back to back under CPU load (stress-ng)
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP_RUN := $(VENV)/.installed-run
STAMP_TEST := $(VENV)/.installed-test
STAMP_INSTALLERS := $(VENV)/.installed-installers

.PHONY: run test test-min lint typecheck pytest system-deps-run system-deps-test system-deps-stress screenshots bench clean fuzz stress-test \
	system-deps-installers bundle deb dist test-installers

# Serial even under `make -jN` or a MAKEFLAGS=-j from the environment: the system
# packages (python3-venv among them) must be in before the venv is made.
.NOTPARALLEL:

# A failed `python3 -m venv` (Debian without python3-venv) still leaves .venv/bin/python
# behind, which would make every later run skip this step and fail on "No module named
# pip"; remove it so the next run starts over.
$(PY):
	$(PYTHON) -m venv $(VENV) || { rm -rf $(VENV); \
	  echo "holoremote: could not create $(VENV); on Debian: sudo apt-get install -y python3-venv" >&2; \
	  exit 1; }
	$(PY) -m pip install -q --upgrade pip || { rm -rf $(VENV); exit 1; }

$(STAMP_RUN): pyproject.toml | $(PY)
	$(PY) -m pip install -q -e .
	touch $@

$(STAMP_TEST): pyproject.toml | $(PY)
	$(PY) -m pip install -q -e '.[test]'
	touch $@ $(STAMP_RUN)

$(STAMP_INSTALLERS): pyproject.toml | $(PY)
	$(PY) -m pip install -q -e '.[test,installers]'
	touch $@ $(STAMP_TEST) $(STAMP_RUN)

system-deps-run:
	@PYTHON=$(PYTHON) scripts/system-deps.sh run

system-deps-test:
	@PYTHON=$(PYTHON) scripts/system-deps.sh test

system-deps-stress:
	@PYTHON=$(PYTHON) scripts/system-deps.sh stress

system-deps-installers:
	@PYTHON=$(PYTHON) scripts/system-deps.sh installers

run: system-deps-run $(STAMP_RUN)
	$(VENV)/bin/holoremote

lint: $(STAMP_TEST)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(STAMP_TEST)
	$(VENV)/bin/mypy

pytest: system-deps-test $(STAMP_TEST)
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest -q

test: system-deps-test $(STAMP_TEST) lint typecheck pytest

# Every dependency (and test extra) at the minimum pyproject.toml declares, so the
# declared floors are tested, not hoped for. The pins are derived from pyproject.toml
# on every change of it (scripts/min_requirements.py), so they cannot drift.
VENV_MIN := .venv-min
PY_MIN := $(VENV_MIN)/bin/python
STAMP_MIN := $(VENV_MIN)/.installed-min

$(STAMP_MIN): pyproject.toml scripts/min_requirements.py
	rm -rf $(VENV_MIN)
	$(PYTHON) -m venv $(VENV_MIN) || { rm -rf $(VENV_MIN); exit 1; }
	$(PY_MIN) -m pip install -q --upgrade pip
	$(PY_MIN) scripts/min_requirements.py pyproject.toml --extra test > $(VENV_MIN)/requirements-min.txt
	$(PY_MIN) -m pip install -q -r $(VENV_MIN)/requirements-min.txt
	$(PY_MIN) -m pip install -q --no-deps -e .
	touch $@

test-min: system-deps-test $(STAMP_MIN)
	QT_QPA_PLATFORM=offscreen $(PY_MIN) -m pytest -q

# The property tests (tests/**/test_*properties.py) with HYPOTHESIS_PROFILE=long:
# random (not derandomized) examples, thousands per test; each test still has a bound.
FUZZ_TESTS := $(shell find tests -name 'test_*properties.py' | sort)
fuzz: system-deps-test $(STAMP_TEST)
	QT_QPA_PLATFORM=offscreen HYPOTHESIS_PROFILE=long $(PY) -m pytest -q -p no:cacheprovider \
	  -o timeout=900 $(FUZZ_TESTS)

# The whole suite STRESS_RUNS times back to back while stress-ng keeps every core busy
# (scripts/stress-test.sh): a test that fails once under load is a bug to fix.
STRESS_RUNS ?= 5
stress-test: system-deps-stress $(STAMP_TEST)
	STRESS_RUNS=$(STRESS_RUNS) PY=$(PY) scripts/stress-test.sh

screenshots: system-deps-test $(STAMP_TEST)
	$(PY) -m ui.screenshots docs/images

# One table: every figure against its baseline in the same run (docs/benchmarks.md).
bench: system-deps-test $(STAMP_TEST)
	$(PY) bench/run.py

# Installers (installer/README.md): the PyInstaller one-folder bundle
# dist/holoremote-<version>/, the .deb made from it, the sdist and wheel.
bundle: system-deps-installers $(STAMP_INSTALLERS)
	$(PY) -m PyInstaller --noconfirm --clean --log-level WARN --distpath dist \
	  --workpath build/pyinstaller installer/holoremote.spec

deb: bundle
	$(PY) installer/deb.py

dist: $(STAMP_INSTALLERS)
	$(PY) -m build --outdir dist .

# The slow test (marker `slow`, left out of `make test`): builds the bundle and the
# .deb, installs the .deb with apt-get (as root) and the wheel with pipx, runs them.
test-installers: system-deps-installers $(STAMP_INSTALLERS)
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest -q -m slow tests/installers

clean:
	rm -rf $(VENV) $(VENV_MIN) .mypy_cache .ruff_cache .pytest_cache build dist
