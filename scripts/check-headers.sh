#!/usr/bin/env bash
# Compile-checks the TensorRT plugin against every TensorRT header set: one
# release build per set into target/headers/<set>/, with -Werror on our C++
# (TensorRT's and CUDA's headers are -isystem, so only our warnings count),
# then checks each libtrt_layernorm.so: the four exported entry points, no
# libnvinfer in DT_NEEDED.
# Usage: scripts/check-headers.sh [<tensorrt include dir> ...]
#        (default: every /opt/tensorrt-headers/*/include)
# TRT_LAYERNORM_CUDA_ARCHS=90 makes the kernel part of each build quicker.
set -euo pipefail
cd "$(dirname "$0")/.."
dirs=("$@")
[[ ${#dirs[@]} -gt 0 ]] || dirs=(/opt/tensorrt-headers/*/include)
mkdir -p target/headers
status=0
for inc in "${dirs[@]}"; do
  set_name=$(basename "$(dirname "$inc")")
  tgt=target/headers/$set_name
  log=target/headers/$set_name.log
  printf '%-10s ' "$set_name"
  if ! TENSORRT_INCLUDE_DIR=$inc TRT_LAYERNORM_WERROR=1 CARGO_TARGET_DIR=$tgt \
       scripts/with-cuda.sh cargo build --release --lib >"$log" 2>&1; then
    echo "FAILED to build (see $log):"; grep -E "error|warning: trt-layernorm" "$log" | head -20; status=1; continue
  fi
  if grep -q "TensorRT plugin library was skipped" "$log"; then
    echo "FAILED: the plugin was skipped (no headers at $inc?)"; status=1; continue
  fi
  so=$tgt/release/libtrt_layernorm.so
  exports=$(nm -D --defined-only "$so" | awk '{print $3}' \
    | grep -xE 'getPluginCreators|getCreators|setLoggerFinder|initTrtLayerNormPlugins' | sort | tr '\n' ' ')
  nvinfer=$(readelf -d "$so" | grep NEEDED | grep -o 'lib[^]]*nvinfer[^]]*' || true)
  warnings=$(grep -c "^warning: trt-layernorm@" "$log" || true)
  if [[ $exports == "getCreators getPluginCreators initTrtLayerNormPlugins setLoggerFinder " && -z $nvinfer && $warnings == 0 ]]; then
    echo "ok: no warnings; exports: $exports; no libnvinfer in DT_NEEDED"
  else
    echo "FAILED: exports [$exports] nvinfer [$nvinfer] build warnings $warnings (see $log)"; status=1
  fi
done
exit $status
