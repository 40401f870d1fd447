#!/usr/bin/env python3
"""Times torch.nn.functional.layer_norm and trt-layernorm's kernel on the same
shapes in one run, and prints ratios: ours / PyTorch / device-to-device copy.

PyTorch is timed with CUDA graphs of back-to-back calls (so Python overhead is
not counted), inputs rotated past the L2 cache, median of several trials, as
`trt-layernorm bench` times ours. Both measure their own copy bandwidth; the
table uses each side's own, and prints both.

    python3 benches/compare_pytorch.py --bin target/release/trt-layernorm [--json-out results.json]
"""
import argparse
import json
import subprocess
import sys

SHAPES = [(1, 768), (1, 4096), (128, 768), (512, 1024), (4096, 768), (4096, 4096),
          (8192, 8192), (16384, 12288), (4096, 16384), (256, 65536), (32, 1 << 20)]
DTYPES = ["f16", "bf16", "f32"]
ROTATION_BYTES = 512 << 20
GRAPH_SECONDS = 2e-3
TRIALS = 7


def torch_timings(shapes, dtypes):
    import torch
    import torch.nn.functional as F

    dev = torch.device("cuda")
    tdt = {"f16": torch.float16, "bf16": torch.bfloat16, "f32": torch.float32}

    def median_seconds(fn, reps):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        fn()
        times = []
        for _ in range(TRIALS):
            start.record()
            for _ in range(reps):
                fn()
            end.record()
            end.synchronize()
            times.append(start.elapsed_time(end) * 1e-3 / reps)
        return sorted(times)[TRIALS // 2]

    nbytes = 256 << 20
    src = torch.empty(nbytes, dtype=torch.uint8, device=dev).random_()
    dst = torch.empty_like(src)
    copy_gbps = 2 * nbytes / median_seconds(lambda: dst.copy_(src), 10) / 1e9
    del src, dst

    rows = []
    for name in dtypes:
        dt = tdt[name]
        for m, h in shapes:
            per_set = m * h * dt.itemsize * 2
            sets = max(1, min(64, ROTATION_BYTES // per_set))
            xs = [torch.empty(m, h, dtype=dt, device=dev).uniform_(-2, 2) for _ in range(sets)]
            w = torch.empty(h, dtype=dt, device=dev).uniform_(-2, 2)
            b = torch.empty(h, dtype=dt, device=dev).uniform_(-2, 2)
            est = per_set / (copy_gbps * 1e9) + 3e-6
            calls = int(min(2000, max(20, GRAPH_SECONDS / est)))
            stream = torch.cuda.Stream()
            stream.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(stream):  # warm-up outside the graph
                for i in range(3):
                    F.layer_norm(xs[i % sets], (h,), w, b, 1e-5)
            torch.cuda.current_stream().wait_stream(stream)
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph):
                for i in range(calls):
                    F.layer_norm(xs[i % sets], (h,), w, b, 1e-5)
            secs = median_seconds(graph.replay, 1) / calls
            moved = m * h * dt.itemsize * 2 + 2 * h * dt.itemsize
            rows.append({"dtype": name, "m": m, "h": h, "us": secs * 1e6, "gbps": moved / secs / 1e9})
            del xs, graph
            torch.cuda.empty_cache()
    return copy_gbps, torch.cuda.get_device_name(), rows


def ours_timings(binary, shapes, dtypes):
    cmd = [binary, "bench", "--json", "--shapes", ",".join(f"{m}x{h}" for m, h in shapes), "--dtypes", ",".join(dtypes)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    if not lines:
        sys.exit(f"compare_pytorch: {binary} printed no measurements:\n{out}")
    return lines[0], lines[1:]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", default="target/release/trt-layernorm")
    ap.add_argument("--dtypes", default=",".join(DTYPES))
    ap.add_argument("--json-out")
    args = ap.parse_args()
    dtypes = args.dtypes.split(",")

    try:
        import torch
        if not torch.cuda.is_available():
            print("skipped: PyTorch sees no CUDA device")
            return 0
    except ImportError:
        print("skipped: PyTorch is not installed")
        return 0

    head, ours = ours_timings(args.bin, SHAPES, dtypes)
    copy_gbps, device, theirs = torch_timings(SHAPES, dtypes)
    key = lambda r: (r["dtype"], r["m"], r["h"])
    theirs_by = {key(r): r for r in theirs}

    print(f"{device}: copy {head['copy_gbps']:.0f} GB/s (ours' process), {copy_gbps:.0f} GB/s (PyTorch's); "
          f"empty launch {head['empty_us']:.2f} us")
    print(f"{'dtype':<5} {'rows':>6} {'H':>8} | {'ours us':>8} {'%copy':>6} | {'torch us':>8} {'%copy':>6} | {'speedup':>7}")
    table = []
    for r in ours:
        t = theirs_by[key(r)]
        row = {**{k: r[k] for k in ("dtype", "m", "h")},
               "ours_us": r["us"], "ours_frac_copy": r["gbps"] / head["copy_gbps"],
               "torch_us": t["us"], "torch_frac_copy": t["gbps"] / copy_gbps,
               "speedup": t["us"] / r["us"], "ours_minus_empty_us": r["us"] - head["empty_us"]}
        table.append(row)
        print(f"{r['dtype']:<5} {r['m']:>6} {r['h']:>8} | {r['us']:>8.2f} {100 * row['ours_frac_copy']:>5.1f}% | "
              f"{t['us']:>8.2f} {100 * row['torch_frac_copy']:>5.1f}% | {row['speedup']:>6.2f}x")
    if args.json_out:
        with open(args.json_out, "w") as f:
            json.dump({"device": device, "ours": head, "torch_copy_gbps": copy_gbps, "rows": table}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
