#!/usr/bin/env bash
# Short libFuzzer runs of the CPU-side parsers (fuzz/: targets `wire` and `fields`, the plugin's
# parsers; `onnx` and `onnx_graph`, the ONNX reader and `patch`), for CI.
# Each target runs FUZZ_SECONDS (default 30) from the committed seeds (fuzz/seeds/<target>)
# in a scratch corpus; all run at once (on 2 cores each gets about half a core: the wall
# time stays FUZZ_SECONDS plus the build). A crash, an input running over 25 s (a hang) or
# one over libFuzzer's 2 GB memory limit fails the script (exit 1) and leaves the input
# under fuzz/artifacts/<target>/.
#
# Needs cargo-fuzz (installed with `cargo install --locked cargo-fuzz` when missing, unless
# FUZZ_NO_INSTALL=1) and the nightly-only `-Zsanitizer` flag, which a stable toolchain allows
# with RUSTC_BOOTSTRAP=1. Where either is unavailable the script prints one line and exits 0.
# Building the fuzz crate builds trt-layernorm, so it needs nvcc like every build:
#   scripts/with-cuda.sh scripts/fuzz-smoke.sh
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${FUZZ_SECONDS:-30}"
targets=(wire fields onnx onnx_graph)
# The kernels play no part here: one architecture keeps the build short.
export TRT_LAYERNORM_CUDA_ARCHS="${TRT_LAYERNORM_CUDA_ARCHS:-90}"
export RUSTC_BOOTSTRAP=1

skip() { echo "fuzz-smoke: skipped: $*"; exit 0; }

if ! cargo fuzz --version >/dev/null 2>&1; then
  [[ "${FUZZ_NO_INSTALL:-0}" == 1 ]] && skip "cargo-fuzz is not installed (FUZZ_NO_INSTALL=1)"
  echo "fuzz-smoke: installing cargo-fuzz" >&2
  cargo install --locked --quiet cargo-fuzz >&2 || skip "cargo install cargo-fuzz failed"
  cargo fuzz --version >/dev/null 2>&1 || skip "cargo-fuzz does not run after installing it"
fi

# Can this toolchain build with AddressSanitizer and libFuzzer's coverage flags?
probe=$(mktemp -d)
trap 'rm -rf "$probe"' EXIT
echo 'fn main() {}' > "$probe/p.rs"
if ! rustc -Zsanitizer=address -Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
     -o "$probe/p" "$probe/p.rs" >"$probe/log" 2>&1; then
  skip "this Rust toolchain cannot build with -Zsanitizer=address even with RUSTC_BOOTSTRAP=1 ($(head -n 1 "$probe/log"))"
fi

# From here on a failure is a real one.
cargo fuzz build -O >&2

pids=()
for t in "${targets[@]}"; do
  mkdir -p "$probe/corpus/$t"
  cargo fuzz run -O "$t" "$probe/corpus/$t" "fuzz/seeds/$t" -- \
    -max_total_time="$seconds" -timeout=25 -print_final_stats=1 >"$probe/$t.log" 2>&1 &
  pids+=($!)
done
status=0
for i in "${!targets[@]}"; do
  t=${targets[$i]}
  if wait "${pids[$i]}"; then
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$probe/$t.log" | grep -o '[0-9]*$' || echo '?')
    echo "fuzz-smoke: $t: ${execs} executions in ${seconds} s, no crash"
  else
    status=1
    echo "fuzz-smoke: $t: FAILED; the end of its log:"
    tail -n 40 "$probe/$t.log"
  fi
done
exit $status
