#!/usr/bin/env bash
# Runs the given command with NVIDIA's TensorRT-RTX builder and ONNX parser available:
#   - the pinned PyPI wheel tensorrt-rtx-cu13 (Python module `tensorrt_rtx`, libraries in
#     `tensorrt_rtx_libs/`), installed once into a virtual environment
#     ($TRT_LAYERNORM_RTX_VENV, default ~/.cache/trt-layernorm/rtx-venv);
#   - the library name its ONNX parser dlopens for plugin nodes: the wheel ships only
#     libtensorrt_rtx.so.1, the parser asks for libtensorrt_rtx.so, and without it the
#     process aborts (std::terminate inside the parser). A symlink directory
#     ($venv/trt-layernorm-lib) with libtensorrt_rtx.so -> .../libtensorrt_rtx.so.1 is put
#     in front of LD_LIBRARY_PATH, which must be set before the process starts.
# Exported to the command: TRT_RTX_PYTHON (the venv's python), LD_LIBRARY_PATH.
# Usage: scripts/with-rtx.sh python tests/engine/rtx_build.py ...   (`python` = the venv's python)
#        scripts/with-rtx.sh COMMAND ARGS...                          (any command, same environment)
#        scripts/with-rtx.sh --install-only                           (install, print the python path)
# About 240 MB downloaded once; the builder runs on the CPU (ahead-of-time builds),
# its plans need a GPU it supports (compute capability 8.0, 8.6, 8.9, 12.x; not 9.0).
set -euo pipefail

RTX_PIP_PACKAGES=(tensorrt-rtx-cu13==1.7.1.116)

venv="${TRT_LAYERNORM_RTX_VENV:-$HOME/.cache/trt-layernorm/rtx-venv}"
py="$venv/bin/python"
marker="$venv/.trt-layernorm-installed"

installed() { [[ -f "$marker" && "$(cat "$marker")" == "${RTX_PIP_PACKAGES[*]}" ]]; }
if ! installed && command -v flock >/dev/null; then
  # One installer at a time (a test and the demo may start together).
  mkdir -p "$(dirname "$venv")"
  exec 9>"$venv.lock"
  flock 9
fi
if ! installed; then
  echo "with-rtx: installing ${RTX_PIP_PACKAGES[*]} from PyPI into $venv (about 240 MB, once)" >&2
  if ! python3 -c 'import ensurepip' >/dev/null 2>&1 && [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
    echo "with-rtx: installing python3-venv" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
  fi
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "${RTX_PIP_PACKAGES[@]}"
  "$py" -c 'import tensorrt_rtx' >/dev/null
  echo "${RTX_PIP_PACKAGES[*]}" >"$marker"
fi
exec 9>&-

libdir=$("$py" - <<'PY'
import glob, os, sysconfig
hits = glob.glob(os.path.join(sysconfig.get_paths()["purelib"], "tensorrt_rtx_libs", "libtensorrt_rtx.so.1"))
print(os.path.dirname(hits[0]) if hits else "")
PY
)
if [[ -z "$libdir" ]]; then
  echo "with-rtx: libtensorrt_rtx.so.1 not found under $venv (remove $venv and retry)" >&2
  exit 1
fi
links="$venv/trt-layernorm-lib"
mkdir -p "$links"
ln -sfn "$libdir/libtensorrt_rtx.so.1" "$links/libtensorrt_rtx.so"
export LD_LIBRARY_PATH="$links:$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export TRT_RTX_PYTHON="$py"

if [[ "${1:-}" == "--install-only" ]]; then
  echo "$py"
  exit 0
fi
if [[ "${1:-}" == "python" ]]; then
  shift
  exec "$py" "$@"
fi
exec "$@"
