#!/usr/bin/env bash
# GPU check (≈ 8 minutes on one GPU): equivariance sweep in float32 on CUDA, one short training of every
# experiment, every benchmark on the GPU; prints one summary table. Needs a CUDA build of torch
# (see README: make install TORCH=... TORCH_INDEX=...).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-.venv/bin/python}"
exec timeout 900 "$PYTHON" benchmarks/gpu_check.py --device cuda "$@"
