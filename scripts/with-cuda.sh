#!/usr/bin/env bash
# Runs the given command with what building trt-layernorm needs:
#   - a CUDA compiler: $NVCC, $CUDA_PATH/bin/nvcc, $CUDA_HOME/bin/nvcc or nvcc on PATH if there is
#     one; otherwise NVIDIA's nvcc from PyPI, installed once into a virtual environment
#     ($TRT_LAYERNORM_CUDA_VENV, default ~/.cache/trt-layernorm/cuda-venv);
#   - libclang for bindgen (Debian/Ubuntu: libclang-dev, installed with apt-get when missing and root);
#   - PYTHON, unless already set: a Python with numpy, onnx and onnxruntime for the tests' ONNX Runtime
#     checks (tests/onnx_patch.rs, tests/onnx_forms.rs run tests/onnx/ort_check.py with it), the pinned
#     versions below installed once into a virtual environment ($TRT_LAYERNORM_ORT_VENV, default
#     ~/.cache/trt-layernorm/ort-venv; about 55 MB downloaded, 210 MB on disk, ~11 s). Where that install fails the
#     command still runs and those checks skip with one line, except under CI (CI set), where it stops.
# Usage: scripts/with-cuda.sh cargo test --release
set -euo pipefail

# Pinned to CUDA 13.0: kernels built by a newer nvcc can need a newer driver than 580.
CUDA_PIP_PACKAGES=(nvidia-cuda-nvcc==13.0.88 nvidia-cuda-crt==13.0.88 nvidia-cuda-runtime==13.0.96
                   nvidia-cuda-cccl==13.0.85 nvidia-nvvm==13.0.88)

# numpy, onnx, onnxruntime and everything they pull in, exact (all have wheels for CPython 3.11 on x86_64
# Linux; numpy 2.4 needs Python >= 3.11).
ORT_PIP_PACKAGES=(numpy==2.4.6 onnx==1.23.2 onnxruntime==1.32.0 protobuf==7.36.2 ml_dtypes==0.6.0
                  flatbuffers==25.12.19 packaging==26.4 typing_extensions==4.16.0)

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

# Sets PYTHON to the ORT venv's python, installing the pinned packages when its marker differs.
ort_python() {
  local venv="${TRT_LAYERNORM_ORT_VENV:-$HOME/.cache/trt-layernorm/ort-venv}"
  local py="$venv/bin/python" marker="$venv/.trt-layernorm-installed"
  installed() { [[ -x "$py" && -f "$marker" && "$(cat "$marker")" == "${ORT_PIP_PACKAGES[*]}" ]]; }
  if ! installed && command -v flock >/dev/null; then
    # One installer at a time (two builds may start together).
    mkdir -p "$(dirname "$venv")"
    exec 8>"$venv.lock"
    flock 8
  fi
  if ! installed; then
    echo "with-cuda: installing numpy, onnx and onnxruntime from PyPI into $venv for the ONNX Runtime checks (once)" >&2
    if ! python3 -c 'import ensurepip' >/dev/null 2>&1 && [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null || true
    fi
    if ! { python3 -m venv "$venv" &&
           "$venv/bin/pip" install --quiet --disable-pip-version-check "${ORT_PIP_PACKAGES[@]}" &&
           "$py" -c 'import numpy, onnx, onnxruntime'; }; then
      exec 8>&-
      echo "with-cuda: could not install ${ORT_PIP_PACKAGES[*]} into $venv" >&2
      [[ -n "${CI:-}" ]] && exit 1
      echo "with-cuda: the ONNX Runtime checks will skip; set PYTHON to a Python that has numpy, onnx and onnxruntime" >&2
      return 0
    fi
    echo "${ORT_PIP_PACKAGES[*]}" >"$marker"
  fi
  exec 8>&-
  export PYTHON="$py"
}
[[ -n "${PYTHON:-}" ]] || ort_python

exec "$@"
