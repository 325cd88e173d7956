#!/usr/bin/env bash
# Builds, in the repository root, what a GPU machine without a package index needs to run
# benchmarks/gpu_check.py (both folders are git-ignored; carry them to that machine):
#   gpu_pack/  every kernel as PTX for sm_80/sm_90 plus the CPU backend's references (~16 MB)
#   .whl/      pykeops, keopscore, lark wheels (pure Python, 0.4 MB): pykeops' column, keir.torch
# keir's MLIR and LLVM wheels (~280 MB; the MLIR bindings load LLVM's 94 MB wheel's libLLVM.so)
# do not fit the 64 MiB a device call carries: there keir runs the pack's kernels with numpy
# alone, and the checks that compile on the spot (Genred, keir.torch) say they were skipped.
# Needs keir's full install here (PYTHON, default .venv/bin/python).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
"$PY" benchmarks/gpu_check.py --prepare gpu_pack
rm -rf .whl && mkdir .whl
# lark: keir's formula parser, so that keir.torch imports there (its device-pointer check)
"$PY" -m pip wheel -q --no-deps -w .whl pykeops==2.3 keopscore==2.3 lark
du -sh gpu_pack .whl
