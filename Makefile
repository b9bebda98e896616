# Two commands set everything up on a fresh machine:
#   make run    create .venv, install gdl, run every example in quick mode → results/REPORT.md
#   make test   create .venv, install gdl with its test extras, run the whole suite (notebooks included)
#
# TORCH: the default is the CPU build that this kind of machine keeps on local disk.
# On a GPU machine install a CUDA build instead, e.g.
#   make test TORCH=torch==2.13.0 TORCH_INDEX="--index-url https://download.pytorch.org/whl/cu128"
PYTHON ?= python3
VENV ?= .venv
TORCH ?= torch==2.13.0
TORCH_INDEX ?=
BIN := $(VENV)/bin
PIP_INSTALL := $(BIN)/python -m pip --disable-pip-version-check install --progress-bar off

WORDNET_FILE ?= /usr/share/wordnet/data.noun

.PHONY: run test install install-test clean wordnet

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.torch: | $(BIN)/python
	$(PIP_INSTALL) $(TORCH_INDEX) "$(TORCH)"
	touch $@

$(VENV)/.installed: setup.cfg pyproject.toml $(VENV)/.torch
	$(PIP_INSTALL) -e ".[data]"
	touch $@

$(VENV)/.installed-test: setup.cfg pyproject.toml $(VENV)/.installed
	$(PIP_INSTALL) -e ".[data,meshes,test,notebooks]"
	touch $@

# WordNet 3.0 (Debian's wordnet-base) for the poincare_wordnet example; installed only when missing, never fatal
wordnet:
	@if [ -f "$(WORDNET_FILE)" ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		(apt-get update -qq && apt-get install -y -qq wordnet-base) || echo "make: could not install wordnet-base with apt-get; the WordNet example and its tests will say how to get it"; \
	elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then \
		(sudo -n apt-get update -qq && sudo -n apt-get install -y -qq wordnet-base) || echo "make: could not install wordnet-base; run: sudo apt-get install wordnet-base"; \
	else echo "make: $(WORDNET_FILE) is missing and apt-get needs root: run 'sudo apt-get install wordnet-base' (or set GDL_WORDNET_DIR)"; fi

install: wordnet $(VENV)/.installed
install-test: wordnet $(VENV)/.installed-test

run: install
	$(BIN)/gdl reproduce --quick

test: install-test
	$(BIN)/python -m ruff check gdl tests benchmarks
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) results runs build *.egg-info
