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

.PHONY: run test install install-test clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.torch: | $(BIN)/python
	$(PIP_INSTALL) $(TORCH_INDEX) "$(TORCH)"
	touch $@

$(VENV)/.installed: setup.cfg pyproject.toml $(VENV)/.torch
	$(PIP_INSTALL) -e ".[data]"
	touch $@

$(VENV)/.installed-test: setup.cfg pyproject.toml $(VENV)/.installed
	$(PIP_INSTALL) -e ".[data,test,notebooks]"
	touch $@

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

run: install
	$(BIN)/gdl reproduce --quick

test: install-test
	$(BIN)/python -m ruff check gdl tests benchmarks
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) results runs build *.egg-info
