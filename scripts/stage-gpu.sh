#!/usr/bin/env bash
# Builds the GPU test suites, the CLI and the plugin library here (release; all
# architectures unless TRT_LAYERNORM_CUDA_ARCHS narrows them) and stages
# stripped copies in .carry/gpu/ for a machine that has a GPU but no Rust
# toolchain. Then, on that machine, from the repo root:
#   scripts/gpu-suite.sh [accuracy|sanitize|bench|all]
set -euo pipefail
cd "$(dirname "$0")/.."
stage=.carry/gpu
rm -rf "$stage" && mkdir -p "$stage"

json=$(scripts/with-cuda.sh cargo test --release --no-run --test gpu_accuracy --test gpu_robustness --test onnx_patch --message-format=json 2>/dev/null)
scripts/with-cuda.sh cargo build --release --bins --lib >/dev/null
for t in gpu_accuracy gpu_robustness onnx_patch; do
  exe=$(jq -r --arg t "$t" 'select(.reason=="compiler-artifact" and .target.name==$t and .executable!=null) | .executable' <<<"$json" | tail -n1)
  objcopy --strip-debug "$exe" "$stage/$t"
done
bench_json=$(scripts/with-cuda.sh cargo bench --bench layernorm --no-run --message-format=json 2>/dev/null)
exe=$(jq -r 'select(.reason=="compiler-artifact" and .target.name=="layernorm" and .executable!=null) | .executable' <<<"$bench_json" | tail -n1)
objcopy --strip-debug "$exe" "$stage/bench_layernorm"
objcopy --strip-debug target/release/trt-layernorm "$stage/trt-layernorm"
[[ -f target/release/libtrt_layernorm.so ]] && objcopy --strip-debug target/release/libtrt_layernorm.so "$stage/libtrt_layernorm.so"
du -sh "$stage"
