# Two commands from a fresh clone (README, first screen):
#   make sweep   virtualenv + install, then the main sweep (5 cross-ratio jobs) and its report
#   make test    virtualenv + install, then the test suite (python -m pytest -q -n 2)
#   make lint    virtualenv + install, then ruff check, ruff format --check and actionlint
# Benchmark files come from $HYBRID_RETRIEVAL_DATA when set, else they are downloaded on first use
# into ~/.cache/hybrid_retrieval/data (pinned, sha256-checked). .ci/run runs the README's `make lint` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
SWEEP ?= cross_ratio
ifndef SWEEP_DIR  # fixed once (:=), so the report reads the dir the sweep wrote
SWEEP_DIR := multirun/$(SWEEP)/$(shell date +%Y-%m-%d_%H-%M-%S)
endif

.PHONY: setup sweep smoke test lint

setup: $(VENV)/.installed

# torch first, pinned: a plain `torch` requirement would pull a multi-GB CUDA build on a CPU machine
$(VENV)/.installed: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/pip install torch==2.13.0
	$(BIN)/pip install -e ".[dev]"
	touch $@

sweep: setup
	WANDB_MODE=$${WANDB_MODE:-offline} $(BIN)/python run.py -m +sweeps=$(SWEEP) hydra.sweep.dir=$(SWEEP_DIR)
	$(BIN)/python -m hybrid_retrieval.report $(SWEEP_DIR)

smoke: setup
	WANDB_MODE=$${WANDB_MODE:-offline} $(BIN)/python run.py -m experiment=smoke data.cross_ratio=0,1 \
		hydra.sweep.dir=multirun/smoke/$(shell date +%Y-%m-%d_%H-%M-%S)

test: setup
	WANDB_MODE=$${WANDB_MODE:-offline} $(BIN)/python -m pytest -q -n 2

# ruff (pyproject.toml) over the tree, and actionlint (a pip-installed binary) over .github/workflows
lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/actionlint
