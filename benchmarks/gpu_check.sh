#!/usr/bin/env bash
# GPU check (≈ 8 minutes on one GPU): equivariance sweep in float32 on CUDA, a dry run of every experiment's
# full setting (`gdl reproduce NAME --dry-run`: full-size models and optimisers, a few steps, one evaluation),
# every benchmark on the GPU; prints one summary table. Needs a CUDA build of torch
# (see README: make install TORCH=... TORCH_INDEX=...).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-.venv/bin/python}"
exec timeout 900 "$PYTHON" benchmarks/gpu_check.py --device cuda "$@"
