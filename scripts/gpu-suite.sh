#!/usr/bin/env bash
# The GPU runs, on the GPU machine, from the repo root, with what
# scripts/stage-gpu.sh put in .carry/gpu/. Logs go to $OUT (or ./gpu-logs).
#   accuracy: GPU accuracy suite, selftest
#   sanitize: compute-sanitizer memcheck/racecheck/initcheck/synccheck over the suite (small cases)
#   bench:    kernel benchmark table, criterion, and the peers run
#   peers:    ours vs torch eager, torch.compile and the Triton two-pass baseline (benches/peers.py)
#   sweep:    the register variants forced to 1, 2, 4, 8 chunks per thread (tuning the selection)
#   profile:  Nsight Compute read of the main variants
#   stalls:   Nsight Compute stall reasons on the shapes that miss their targets
#   inst:     Nsight Compute thread-instructions per element of ours, DRAM %, time, registers
#   ab:       two builds' CLIs interleaved, A then B, per norm and round, and the table of
#             benches/ab_table.py (AB_A, AB_B, AB_NORMS, AB_SHAPES, AB_ROUNDS: see ab below)
set -uo pipefail
cd "$(dirname "$0")/.."
B=.carry/gpu
OUT=${OUT:-gpu-logs}; mkdir -p "$OUT"
SAN=$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)
status=0
step() { echo; echo "=== $* ==="; }

accuracy() {
  step "info"; $B/trt-layernorm info
  step "GPU accuracy suite"
  timeout 300 $B/gpu_accuracy --test-threads=1 --nocapture >"$OUT/accuracy.log" 2>&1 || status=1
  grep -E "^summary|^test |test result|panicked|out of bounds" "$OUT/accuracy.log" | tail -40
  step "robustness: 8 threads x 8 streams, two contexts, a tensor past 2^31 elements"
  timeout 240 $B/gpu_robustness --test-threads=1 2>&1 | tee "$OUT/robustness.log" | grep -vE "^$|^running" || status=1
  step "selftest"; timeout 120 $B/trt-layernorm selftest | tee "$OUT/selftest.log" || status=1
  step "ONNX fixtures: our kernel vs ONNX Runtime's LayerNorm outputs"
  TLN_SOURCE_DIR=$PWD timeout 120 $B/onnx_patch --test-threads=1 --nocapture gpu >"$OUT/onnx-gpu.log" 2>&1 || status=1
  grep -E "max_ulp|test result|panicked|skipped" "$OUT/onnx-gpu.log" | tail -15
}

sanitize() {
  for tool in memcheck racecheck initcheck synccheck; do
    cap=300000; [[ $tool == racecheck ]] && cap=40000
    step "compute-sanitizer $tool (cases up to $cap elements)"
    TLN_TEST_MAX_ELEMENTS=$cap timeout 150 "$SAN" --tool $tool --error-exitcode 9 \
      $B/gpu_accuracy --test-threads=1 --nocapture >"$OUT/sanitize-$tool.log" 2>&1 || status=1
    echo "$(grep -c ' viol ' "$OUT/sanitize-$tool.log") cases under $tool"
    grep -E "ERROR SUMMARY|RACECHECK SUMMARY|test result|panicked" "$OUT/sanitize-$tool.log" | tail -4
  done
}

sweep() {
  step "chunks-per-thread sweep (register variants)"
  timeout 150 $B/trt-layernorm bench --dtypes f16,f32 --per-thread 1,2,4,8 \
    --shapes 512x1024,4096x768,4096x4096,8192x8192,16384x12288,4096x16384 | tee "$OUT/sweep.log" || status=1
  step "blocks-per-row sweep (split variants)"
  timeout 100 $B/trt-layernorm bench --dtypes f16,f32 --cluster 1,2,4,8,16 \
    --shapes 256x65536,64x262144,32x1048576 | tee -a "$OUT/sweep.log" || status=1
}

# Nsight Compute on the main variants: DRAM throughput, occupancy, stalls.
profile() {
  NCU=$(command -v ncu || echo /usr/local/cuda/bin/ncu)
  : >"$OUT/ncu.txt"
  for spec in "f16 8192x8192" "f32 8192x8192" "f16 4096x768" "f16 256x65536" "f16 32x1048576"; do
    set -- $spec
    step "ncu $1 $2"
    timeout 120 "$NCU" -k regex:'tln_(regs|split)' --launch-skip 2 --launch-count 1 \
      --section SpeedOfLight --section Occupancy --section LaunchStats --section WarpStateStats --section MemoryWorkloadAnalysis \
      $B/trt-layernorm bench --dtypes "$1" --shapes "$2" >"$OUT/ncu-one.txt" 2>&1 || status=1
    { echo "=== $1 $2"; cat "$OUT/ncu-one.txt"; } >>"$OUT/ncu.txt"
    grep -E "tln_|DRAM Throughput|Memory Throughput|Duration|Registers Per Thread|Achieved Occupancy|Theoretical Occupancy|Block Limit (Registers|Shared|Warps)|Warp Cycles Per Issued|One or More Eligible|Stall" "$OUT/ncu-one.txt" | grep -v "^==PROF" | head -24
  done
  rm -f "$OUT/ncu-one.txt"
}

bench() {
  step "bench (ours)"; timeout 150 $B/trt-layernorm bench | tee "$OUT/bench.log" || status=1
  step "criterion"; timeout 200 $B/bench_layernorm --bench --noplot >"$OUT/criterion.log" 2>&1 || status=1
  grep -E "^  |skipped|builtin|time:" "$OUT/criterion.log" | head -60
  peers
}

# Ours (in its own process, first) against the peers timed in this one. The
# JSON is what benches/results/<gpu>-<date>.json commits. Alone, this step
# fits in one 10-minute command.
peers() {
  step "peers: ours vs torch eager, torch.compile, Triton two-pass"
  timeout 560 python3 benches/peers.py -v --bin $B/trt-layernorm --json-out "$OUT/peers.json" | tee "$OUT/peers.log" || status=1
  # The other norms, about 80 s each on the H200.
  for norm in rmsnorm skiplayernorm; do
    step "peers --norm $norm"
    timeout 300 python3 benches/peers.py --norm $norm --bin $B/trt-layernorm --json-out "$OUT/peers-$norm.json" | tee "$OUT/peers-$norm.log" || status=1
  done
}

# Stall reasons (average warps stalled per issued instruction) on the shapes
# whose targets are missed: what the README's performance notes cite.
stalls() {
  NCU=$(command -v ncu || echo /usr/local/cuda/bin/ncu)
  local m=gpu__time_duration.sum,sm__warps_active.avg.pct_of_peak_sustained_active,dram__throughput.avg.pct_of_peak_sustained_elapsed
  m+=,dram__bytes_read.sum,dram__bytes_write.sum,lts__t_sector_hit_rate.pct
  for r in barrier long_scoreboard short_scoreboard membar wait lg_throttle mio_throttle math_pipe_throttle no_instruction selected drain; do
    m+=,smsp__average_warps_issue_stalled_${r}_per_issue_active.ratio
  done
  # The shapes that missed in the last peers runs (benches/results/h200-2026-12-02*.json), per norm.
  local specs=("layernorm f32 1x768" "layernorm f32 1x4096" "layernorm f32 16384x12288" "layernorm f16 32x1048576"
    "layernorm f32 32x1048576" "rmsnorm f16 1x768" "rmsnorm f16 256x65536" "rmsnorm f16 32x1048576"
    "skiplayernorm f16 256x65536" "skiplayernorm f16 32x1048576" "skiplayernorm f32 1x768")
  for spec in "${specs[@]}"; do
    set -- $spec
    step "ncu stalls $1 $2 $3"
    timeout 100 "$NCU" --clock-control none -k regex:'^tln_([^e]|e[^m])' --launch-skip 2 --launch-count 1 --metrics "$m" \
      $B/trt-layernorm bench --norm "$1" --dtypes "$2" --shapes "$3" 2>&1 | grep -E "tln_|duration|warps_active|dram__|lts__|stalled" \
      | sed -E 's/smsp__average_warps_issue_stalled_//; s/_per_issue_active.ratio//' | tee -a "$OUT/ncu-stalls.txt" || status=1
  done
}

# Thread instructions per element of ours: smsp__thread_inst_executed counts
# thread instructions (smsp__inst_executed counts warp instructions, and x32
# overstates where lanes idle). Issue #10's budget: about 16 per element for
# a 16-bit LayerNorm to stay memory-bound on the H200.
inst() {
  NCU=$(command -v ncu || echo /usr/local/cuda/bin/ncu)
  local m=smsp__thread_inst_executed.sum,smsp__inst_executed.sum,dram__throughput.avg.pct_of_peak_sustained_elapsed
  m+=,gpu__time_duration.sum,launch__registers_per_thread
  step "ncu instructions per element (ours)"
  printf '%-5s %-11s %-26s %12s %11s %6s %9s %5s\n' dtype shape kernel thr-inst/el warp-inst/el dram% us regs | tee "$OUT/ncu-inst.txt"
  for d in f16 bf16 f32; do
    for s in 8192x8192 4096x768 256x65536 32x1048576 1x768; do
      # Every tln_ kernel but tln_empty, whose reference launches the bench runs first.
      timeout 120 "$NCU" --clock-control none -k regex:'^tln_([^e]|e[^m])' --launch-skip 2 --launch-count 1 \
        --csv --print-units base --metrics "$m" \
        $B/trt-layernorm bench --dtypes "$d" --shapes "$s" >"$OUT/ncu-inst-one.csv" 2>&1 || status=1
      ncu_per_element "$d" "$s" <"$OUT/ncu-inst-one.csv" | tee -a "$OUT/ncu-inst.txt" || status=1
    done
  done
  rm -f "$OUT/ncu-inst-one.csv"
}

# A/B of two builds in one run: AB_A (default .carry/ab/trt-layernorm-a: a
# previous build's stripped CLI, which scripts/stage-gpu.sh leaves alone)
# against AB_B (default this build's), A then B, AB_ROUNDS times per norm.
# The table keeps each build's best round; the ratios are A's time over B's.
ab() {
  local a=${AB_A:-.carry/ab/trt-layernorm-a} b=${AB_B:-$B/trt-layernorm}
  local shapes=${AB_SHAPES:-1x768,1x4096,128x768,512x1024,4096x768,4096x4096,8192x8192,256x65536,32x1048576}
  step "A/B: $a against $b"
  : >"$OUT/ab.log"
  for norm in ${AB_NORMS:-layernorm rmsnorm skiplayernorm}; do
    for round in $(seq 1 "${AB_ROUNDS:-2}"); do
      for v in A B; do
        local bin=$a; [[ $v == B ]] && bin=$b
        { echo "=== $v $norm round $round"; timeout 120 "$bin" bench --norm "$norm" --shapes "$shapes"; } >>"$OUT/ab.log" 2>&1 || status=1
      done
    done
  done
  python3 benches/ab_table.py "$OUT/ab.log" | tee "$OUT/ab.txt" || status=1
}

# ncu --csv (details page, base units) on stdin -> one line per profiled
# kernel, the instruction counts divided by the shape's elements.
ncu_per_element() {
  python3 -c '
import csv, sys
dtype, shape = sys.argv[1:3]
m, h = map(int, shape.split("x"))
elements = m * h
lines = sys.stdin.read().splitlines()
start = next((i for i, l in enumerate(lines) if l.startswith(chr(34) + "ID")), None)
if start is None:
    print(f"{dtype:<5} {shape:<11} no ncu results: " + " | ".join(lines[-3:]))
    sys.exit(1)
kernels = {}
for r in csv.DictReader(lines[start:]):
    value = (r.get("Metric Value") or "").replace(",", "")
    if r.get("Metric Name") and value.replace(".", "", 1).isdigit():
        kernels.setdefault((r["ID"], r["Kernel Name"]), {})[r["Metric Name"]] = float(value)
names = ["smsp__thread_inst_executed.sum", "smsp__inst_executed.sum",
         "dram__throughput.avg.pct_of_peak_sustained_elapsed", "gpu__time_duration.sum", "launch__registers_per_thread"]
for (_, kernel), v in kernels.items():
    thread_inst, warp_inst, dram, ns, regs = (v.get(n, float("nan")) for n in names)
    print(f"{dtype:<5} {shape:<11} {kernel[:26]:<26} {thread_inst / elements:>12.2f} {warp_inst / elements:>11.3f}"
          f" {dram:>6.1f} {ns * 1e-3:>9.2f} {regs:>5.0f}")
' "$1" "$2"
}

case "${1:-all}" in
  accuracy) accuracy ;;
  sanitize) sanitize ;;
  bench) bench ;;
  peers) peers ;;
  inst) inst ;;
  sweep) sweep ;;
  profile) profile ;;
  stalls) stalls ;;
  ab) ab ;;
  all) accuracy; sanitize; bench ;;
  *) echo "usage: $0 [accuracy|sanitize|bench|peers|sweep|profile|stalls|inst|ab|all]"; exit 2 ;;
esac
exit $status
