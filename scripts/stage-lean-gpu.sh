#!/usr/bin/env bash
# Stages the TensorRT lean-runtime suite for a GPU machine without Rust or
# network (run scripts/run-lean-gpu.sh there). For each TensorRT major that
# has a lean runtime on PyPI, it builds here, against that major's headers:
#   - libtrt_layernorm.so (the plugin), the test executable
#     tests/plugin_lean_runtime.rs and the criterion bench (its `builtin`
#     harness), release, debug info stripped;
#   - libnvinfer_lean.so.<major> from the wheel (only that file), xz-compressed;
# into .carry/lean/trt<major>/.
#
#   TRT10_INCLUDE  TensorRT 10.x headers (default /opt/tensorrt-headers/10.16/include),
#                  lean runtime tensorrt-lean-cu12-libs==10.16.1.11
#   TRT11_INCLUDE  TensorRT 11.x headers (default /opt/tensorrt-headers/11.1/include),
#                  lean runtime tensorrt-lean-cu13-libs==11.4.0.106
#   TRT_LAYERNORM_CUDA_ARCHS  kernel architectures (default here: 90, the H100; all is bigger)
set -euo pipefail
cd "$(dirname "$0")/.."
export TRT_LAYERNORM_CUDA_ARCHS=${TRT_LAYERNORM_CUDA_ARCHS:-90}
stage=.carry/lean
wheels=.carry/wheels
rm -rf "$stage" && mkdir -p "$stage" "$wheels"

declare -A INCLUDE=([10]=${TRT10_INCLUDE:-/opt/tensorrt-headers/10.16/include} [11]=${TRT11_INCLUDE:-/opt/tensorrt-headers/11.1/include})
declare -A WHEEL=([10]=tensorrt-lean-cu12-libs==10.16.1.11 [11]=tensorrt-lean-cu13-libs==11.4.0.106)

for major in 10 11; do
  out=$stage/trt$major
  mkdir -p "$out"
  tgt=target/lean/trt$major
  echo "== TensorRT $major: headers ${INCLUDE[$major]}, CUDA archs $TRT_LAYERNORM_CUDA_ARCHS"
  export TENSORRT_INCLUDE_DIR=${INCLUDE[$major]} CARGO_TARGET_DIR=$tgt
  scripts/with-cuda.sh cargo build --release --lib 2>&1 | grep -E "^(warning: trt-layernorm|error)" || true
  json=$(scripts/with-cuda.sh cargo test --release --no-run --test plugin_lean_runtime --message-format=json 2>/dev/null)
  exe=$(jq -r 'select(.reason=="compiler-artifact" and .target.name=="plugin_lean_runtime" and .executable!=null) | .executable' <<<"$json" | tail -n1)
  [[ -x $exe ]] || { echo "no test executable built for TensorRT $major"; exit 1; }
  grep -q initTrtLayerNormPlugins "$tgt/release/libtrt_layernorm.so" || { echo "plugin not built (headers missing?)"; exit 1; }
  objcopy --strip-debug "$exe" "$out/plugin_lean_runtime"
  objcopy --strip-debug "$tgt/release/libtrt_layernorm.so" "$out/libtrt_layernorm.so"
  # The criterion bench with the `builtin` comparison harness (needs these headers):
  # against a lean runtime it must stop at "no builder", one line.
  bench_json=$(scripts/with-cuda.sh cargo bench --bench layernorm --no-run --message-format=json 2>/dev/null)
  bexe=$(jq -r 'select(.reason=="compiler-artifact" and .target.name=="layernorm" and .executable!=null) | .executable' <<<"$bench_json" | tail -n1)
  objcopy --strip-debug "$bexe" "$out/bench_layernorm"
  unset TENSORRT_INCLUDE_DIR CARGO_TARGET_DIR

  # The lean runtime: only libnvinfer_lean.so.<major> from the wheel, compressed once and cached.
  xzfile=$wheels/libnvinfer_lean.so.$major.xz
  if [[ ! -f $xzfile ]]; then
    whl=$(ls "$wheels"/tensorrt_lean_cu1?_libs-"${WHEEL[$major]#*==}"-*.whl 2>/dev/null | head -n1 || true)
    if [[ -z $whl ]]; then
      python3 -m pip download --no-deps --quiet -d "$wheels" "${WHEEL[$major]}"
      whl=$(ls "$wheels"/tensorrt_lean_cu1?_libs-"${WHEEL[$major]#*==}"-*.whl | head -n1)
    fi
    unzip -o -q -j "$whl" "tensorrt_lean_libs/libnvinfer_lean.so.$major" -d "$wheels/"
    xz -9e -T0 -c "$wheels/libnvinfer_lean.so.$major" >"$xzfile.tmp" && mv "$xzfile.tmp" "$xzfile"
  fi
  cp "$xzfile" "$out/"
  (cd "$out" && sha256sum plugin_lean_runtime bench_layernorm libtrt_layernorm.so "libnvinfer_lean.so.$major.xz" >SHA256SUMS)
  du -sh "$out"
done
du -sh "$stage"
du -sb "$stage" | awk '{printf "staged: %.1f MiB\n", $1/1048576}'
