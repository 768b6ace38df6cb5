#!/usr/bin/env bash
# The enforcement library on a real NVIDIA GPU: builds the library exactly as it ships
# (make, release), then native/gpu/check.py runs PyTorch, CuPy and CUDA runtime workloads
# with and without it and prints a table of targets and measurements.
# Needs: gcc, make, nvcc, python3 with torch and cupy, an NVIDIA driver. About 5 minutes.
set -euo pipefail
cd "$(dirname "$0")"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
python3 -c 'import torch, cupy; print("torch", torch.__version__, "cuda", torch.version.cuda, "cupy", cupy.__version__)'
make -s clean >/dev/null
make -s VARIANT=release lib
mkdir -p build/gpu
nvcc -O2 -o build/gpu/launch_bench gpu/launch_bench.cu
exec python3 gpu/check.py "$@"
