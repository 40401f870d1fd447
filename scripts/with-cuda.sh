#!/usr/bin/env bash
# Runs the given command with what building trt-layernorm needs:
#   - a CUDA compiler: $NVCC, $CUDA_PATH/bin/nvcc, $CUDA_HOME/bin/nvcc or nvcc on PATH if there is
#     one; otherwise NVIDIA's nvcc from PyPI, installed once into a virtual environment
#     ($TRT_LAYERNORM_CUDA_VENV, default ~/.cache/trt-layernorm/cuda-venv);
#   - libclang for bindgen (Debian/Ubuntu: libclang-dev, installed with apt-get when missing and root).
# Usage: scripts/with-cuda.sh cargo test --release
set -euo pipefail

# Pinned to CUDA 13.0: kernels built by a newer nvcc can need a newer driver than 580.
CUDA_PIP_PACKAGES=(nvidia-cuda-nvcc==13.0.88 nvidia-cuda-crt==13.0.88 nvidia-cuda-runtime==13.0.96
                   nvidia-cuda-cccl==13.0.85 nvidia-nvvm==13.0.88)

have_nvcc() {
  [[ -n "${NVCC:-}" && -x "${NVCC}" ]] && return 0
  for root in "${CUDA_PATH:-}" "${CUDA_HOME:-}"; do
    [[ -n "$root" && -x "$root/bin/nvcc" ]] && return 0
  done
  command -v nvcc >/dev/null 2>&1
}

if ! have_nvcc; then
  venv="${TRT_LAYERNORM_CUDA_VENV:-$HOME/.cache/trt-layernorm/cuda-venv}"
  nvcc=$(find "$venv" -path '*/nvidia/cu13/bin/nvcc' -type f 2>/dev/null | head -n 1 || true)
  if [[ -z "$nvcc" ]]; then
    echo "with-cuda: no nvcc found; installing NVIDIA's CUDA 13.0 compiler from PyPI into $venv" >&2
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "${CUDA_PIP_PACKAGES[@]}"
    nvcc=$(find "$venv" -path '*/nvidia/cu13/bin/nvcc' -type f | head -n 1)
  fi
  export NVCC="$nvcc"
fi

if ! ldconfig -p 2>/dev/null | grep -q 'libclang[-.0-9]*\.so' && [[ -z "${LIBCLANG_PATH:-}" ]]; then
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
    echo "with-cuda: installing libclang-dev for bindgen" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libclang-dev >/dev/null
  else
    echo "with-cuda: bindgen needs libclang: install libclang-dev (or set LIBCLANG_PATH)" >&2
    exit 1
  fi
fi

exec "$@"
