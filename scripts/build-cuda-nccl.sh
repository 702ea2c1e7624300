#!/usr/bin/env bash
# The `nccl` release binary (CUDA, and data-parallel ranks whose gradients NCCL sums) on a
# machine without a GPU: ../shared/gpu/build-cuda.sh with `--features nccl`, after adding NCCL's
# library (PyPI's nvidia-nccl-cu13 wheel) to that script's link folder. Run from the project
# root; the result is .gpu/tinybert.gz. The GPU machine needs libnccl.so.2 on its loader path
# (PyTorch's CUDA wheels carry it: site-packages/nvidia/nccl/lib).
set -euo pipefail
VENV=${CUDA_VENV:-$HOME/.cache/tinybert-cuda13}
[ -x "$VENV/bin/pip" ] || python3 -m venv "$VENV"
"$VENV/bin/pip" install -q "nvidia-nccl-cu13==2.32.6"
NCCL=$("$VENV/bin/python" -c 'import nvidia.nccl, os; print(os.path.join(list(nvidia.nccl.__path__)[0], "lib"))')
mkdir -p "$VENV/linklibs"
ln -sf "$NCCL/libnccl.so.2" "$VENV/linklibs/libnccl.so"
exec bash ../shared/gpu/build-cuda.sh --features nccl "$@"
