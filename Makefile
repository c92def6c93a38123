# Re-deriving CAR T-failure studies from simulated cohorts.  `make` lists the targets.
# Set-up and run everything:  make all        Run the tests:  make test

SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV    ?= .venv
PY      := $(VENV)/bin/python
STAMP   := $(VENV)/.installed
PYTHON     ?=
SEED       ?=
REPLICATES ?=
NB         ?=
P          ?=
TESTS      ?= tests
# What CI runs on each other supported Python after its set-up: the numerical kernels against
# lifelines/statsmodels/scipy, the engine, parsing and set-up (about a minute; all of it: make unit)
PORTABLE_TESTS := tests/test_kernels*.py tests/test_setup.py tests/test_io.py tests/test_params.py \
  tests/test_results.py tests/test_verdicts.py tests/test_replicate.py tests/test_spec_model.py \
  tests/test_spec_analysis.py tests/test_tokens.py tests/test_ledger.py tests/test_audit.py \
  tests/test_environment.py tests/test_offline.py

# Deterministic runs: fixed hash seed, one BLAS thread, the venv's own kernel.
export PYTHONHASHSEED := 0
export OPENBLAS_NUM_THREADS := 1
export OMP_NUM_THREADS := 1
export MKL_NUM_THREADS := 1
export JUPYTER_PREFER_ENV_PATH := 1
export MPLCONFIGDIR := $(CURDIR)/.mplconfig
export PYDEVD_DISABLE_FILE_VALIDATION := 1
# Same floating point on every x86-64 machine: numpy's AVX-512 paths and OpenBLAS's per-CPU kernels
# round differently in the last bit, and the calibrations (KM medians are step functions of the
# parameters) amplify last-bit differences into different optima. Pin both to the AVX2 paths.
export NPY_DISABLE_CPU_FEATURES := X86_V4 AVX512_ICL AVX512_SPR
export OPENBLAS_CORETYPE := Haswell

# SEED= and REPLICATES= go apart from P= so the runner can refuse the same name given by both
RUN_OPTS := $(if $(SEED),--seed=$(SEED)) $(if $(REPLICATES),--replicates=$(REPLICATES))
NBVAL := -p no:cacheprovider --nbval --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg

.PHONY: help setup all notebook help-notebook test unit unit-portable nbval lint bench calibrate validate validate-real refresh lab lock clean workshop-check sensitivity

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'
	@echo "  parameters: SEED=<integer >= 0>  REPLICATES=<integer >= 1>  NB=<notebook number or name>  P='name=value ...'"

$(STAMP): requirements.lock pyproject.toml tools/setup_venv.sh
	@VENV="$(VENV)" PYTHON="$(PYTHON)" bash tools/setup_venv.sh
	@touch $(STAMP)

setup: $(STAMP) ## create .venv from the pinned lock (Python 3.11-3.13; PYTHON=/path/to/python3 picks one)

# The runner exits 130 after Ctrl-C, having printed one line (reports/ intact); `|| [ $$? = 130 ]`
# spares make's own "*** Error 130" line (make, interrupted too, then stops without another word).
INTERRUPTIBLE := || [ $$? = 130 ]

all: $(STAMP) ## set up if needed, run every notebook, write reports/ (tables, figures, HTML)
	@$(PY) -m helpers.runner all $(RUN_OPTS) $(P) $(INTERRUPTIBLE)
	@$(PY) -m helpers.report $(INTERRUPTIBLE)
	@echo "Done: open reports/index.html"

notebook: $(STAMP) ## run one notebook (then the scorecard) and rebuild the report: make notebook NB=20 [SEED=..] [REPLICATES=..] [P='name=value']
	@$(PY) -m helpers.runner notebook $(RUN_OPTS) "$(NB)" $(P) $(INTERRUPTIBLE)
	@$(PY) -m helpers.report --if-ready $(INTERRUPTIBLE)

help-notebook: $(STAMP) ## list one notebook's parameters: make help-notebook NB=20
	@$(PY) -m helpers.runner help-notebook "$(NB)"

test: unit nbval ## unit tests, then nbval over the committed notebooks (fails if any is stale)

unit: $(STAMP) ## unit tests only [TESTS=<files> for some]
	@$(PY) -m pytest -q $(TESTS)

unit-portable: $(STAMP) ## the unit tests CI runs on each other Python (kernels, engine, parsing, set-up)
	@$(PY) -m pytest -q $(PORTABLE_TESTS)

nbval: $(STAMP) ## nbval over the committed notebooks only (network blocked, outputs to a temp dir)
	@tmp=$$(mktemp -d) && CART_REPORTS_DIR=$$tmp CART_NO_PROGRESS=1 PYTHONPATH=tests/offline $(PY) -m pytest -q $(NBVAL) notebooks/*.ipynb; rc=$$?; rm -rf $$tmp; exit $$rc

lint: $(STAMP) ## ruff over the code and the notebooks
	@$(PY) -m ruff check src tests notebooks benchmarks

bench: $(STAMP) ## time the replication engine against a plain lifelines loop -> reports/bench.json
	@$(PY) benchmarks/bench_engine.py

calibrate: $(STAMP) ## re-run every paper's calibration and rewrite data/calibrated/ (slow)
	@$(PY) -m helpers.calibrate all

.PHONY: sensitivity
sensitivity: $(STAMP) ## move every assumption across its range, refit, judge again -> data/sensitivity/ (~9.5 min)
	@$(PY) -m helpers.sensitivity $(if $(PAPERS),$(PAPERS)) $(if $(BACKEND),--backend $(BACKEND))

.PHONY: new-paper
new-paper: $(STAMP) ## scaffold a paper from templates: make new-paper NAME=<paper> [PREFIX=<claim-ID prefix>] [UNDO=1]
	@$(PY) -m helpers.spec.scaffold "$(NAME)" $(if $(PREFIX),--prefix "$(PREFIX)") $(if $(UNDO),--undo)

.PHONY: check-paper
check-paper: $(STAMP) ## check a spec paper's YAML and list each printed number's role: make check-paper NAME=<paper>
	@$(PY) -m helpers.spec.check "$(NAME)"

validate: $(STAMP) ## full methods-validation study (coverage, type I error) -> reports/validation, docs/figures
	@$(PY) -m pytest -q -m slow tests
	@mkdir -p docs/figures && cp reports/validation/coverage.png docs/figures/validation_coverage.png
	@cp reports/validation/validation.csv docs/figures/validation.csv

.PHONY: validate-conditional
validate-conditional: $(STAMP) ## known-truth coverage of the conditional bands (1,000 toy papers per assumption, 250 through pyabc, ~1.5 h) -> docs/figures/conditional_*.csv
	@$(PY) -m helpers.known_truth

validate-real: $(STAMP) ## real-data validation study: independent bands (5 data sets x 7 splits x 2 models, ~25 min), then conditional ones (pooled; mimic split of all five, random splits 1-2 of the smaller four, ~25 min on 1 core) -> data/validation/
	@$(PY) -m helpers.realdata.validate --bands predictive
	@$(PY) -m helpers.realdata.validate --bands conditional --random-splits 0 --models pooled --jobs 1
	@$(PY) -m helpers.realdata.validate lung rossi larynx leukemia --bands conditional --random-splits 2 --models pooled --jobs 1

refresh: $(STAMP) ## re-run notebooks at default parameters and update the committed copies [NB=.. for one]
	@$(PY) -m helpers.runner refresh "$(NB)" $(INTERRUPTIBLE)

lab: $(STAMP) ## open JupyterLab on notebooks/ (works as root too, e.g. in a container)
	@$(VENV)/bin/jupyter lab $(if $(filter 0,$(shell id -u)),--allow-root) notebooks

workshop-check: $(STAMP) ## run every command of docs/workshop.md and check it shows what the guide says (reports/ restored after)
	@$(PY) -m helpers.workshop

lock: ## recompile requirements.lock (with hashes) from requirements.in
	@command -v uv >/dev/null 2>&1 || { echo "error: make lock needs uv (pip install uv)" >&2; exit 2; }
	@# --universal: one lock for every Python pyproject allows (papermill needs aiohttp on 3.12 only) and OS
	@uv pip compile requirements.in --universal --python-version 3.11 --generate-hashes --no-header -o requirements.lock
	@$(PY) -m helpers.environment

clean: ## remove generated output (reports/) and caches; keeps .venv
	rm -rf reports .mplconfig .pytest_cache .hypothesis
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
