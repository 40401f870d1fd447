#!/usr/bin/env bash
# On the GPU machine, from the repo root: the lean-runtime suite with what
# scripts/stage-lean-gpu.sh put in .carry/lean/ (no Rust, no network needed;
# xz or python3 to unpack the lean runtimes). For each staged TensorRT major:
# registration by loadLibrary and by dlopen in NVIDIA's registry, the plugin
# lifecycle, 1000 create/destroy cycles, and every plugin's enqueue on the GPU
# compared bit for bit with a direct launch. Logs go to $OUT (or ./lean-logs).
# Without a GPU it fails, unless TRT_LEAN_REQUIRE_GPU=0 (registry part only).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-lean-logs}; mkdir -p "$OUT"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
status=0
found=0
for dir in .carry/lean/trt*; do
  [[ -d $dir ]] || continue
  found=1
  major=${dir##*/trt}
  echo; echo "=== TensorRT $major lean runtime ==="
  (cd "$dir" && sha256sum -c --quiet SHA256SUMS) || { echo "$dir: staged files are damaged"; status=1; continue; }
  lean=$tmp/libnvinfer_lean.so.$major
  if command -v xz >/dev/null; then xz -dc "$dir/libnvinfer_lean.so.$major.xz" >"$lean"
  else python3 -c 'import lzma,sys; open(sys.argv[2],"wb").write(lzma.open(sys.argv[1]).read())' "$dir/libnvinfer_lean.so.$major.xz" "$lean"; fi
  # TRT_LEAN_SANITIZE=memcheck (or racecheck, ...) runs the suite under compute-sanitizer.
  wrap=()
  if [[ -n ${TRT_LEAN_SANITIZE:-} ]]; then
    wrap=("$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)" --tool "$TRT_LEAN_SANITIZE" --error-exitcode 9 --target-processes all)
  fi
  TRT_LEAN_LIB=$lean TRT_LAYERNORM_PLUGIN_LIB=$PWD/$dir/libtrt_layernorm.so TRT_LEAN_REQUIRE_GPU=${TRT_LEAN_REQUIRE_GPU:-1} \
    timeout 300 "${wrap[@]}" "$dir/plugin_lean_runtime" --nocapture --test-threads=1 >"$OUT/lean-trt$major${TRT_LEAN_SANITIZE:+-$TRT_LEAN_SANITIZE}.log" 2>&1 || status=1
  [[ -n ${TRT_LEAN_SANITIZE:-} ]] && grep -E "ERROR SUMMARY|RACECHECK SUMMARY" "$OUT/lean-trt$major-$TRT_LEAN_SANITIZE.log"
  log="$OUT/lean-trt$major${TRT_LEAN_SANITIZE:+-$TRT_LEAN_SANITIZE}.log"
  grep -m1 "lean runtime:" "$log"
  grep -E "^  |^plugin:|PASS|skipped|FAIL|test result" "$log" | grep -v "^  lean runtime:"
  grep -A3 "panicked at" "$log" | grep -vE "^\s+[0-9]+:|stack backtrace|^--$"
  # The `builtin` comparison harness against this runtime: it loads libnvinfer
  # at run time and must stop, in one line, at the missing builder.
  if [[ -x $dir/bench_layernorm ]]; then
    TRT_LIBNVINFER=$lean TRT_LAYERNORM_PLUGIN_LIB=$PWD/$dir/libtrt_layernorm.so timeout 120 "$dir/bench_layernorm" --bench builtin \
      >"$OUT/builtin-trt$major.log" 2>&1 || status=1
    grep "^builtin" "$OUT/builtin-trt$major.log"
    grep -q "has no builder" "$OUT/builtin-trt$major.log" || { echo "builtin harness: expected the no-builder skip"; status=1; }
  fi
done
[[ $found == 1 ]] || { echo "nothing staged in .carry/lean/ (run scripts/stage-lean-gpu.sh)"; exit 2; }
echo; [[ $status == 0 ]] && echo "lean-runtime suite: PASS" || echo "lean-runtime suite: FAILED (logs in $OUT)"
exit $status
