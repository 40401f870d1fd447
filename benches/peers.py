#!/usr/bin/env python3
"""Times trt-layernorm's kernel against the LayerNorms anyone can run on the
same GPU, in one run: torch eager F.layer_norm, torch.compile of it, and a
plain Triton two-pass kernel (the project's baseline). Prints, per shape,
ours, each peer, the fastest peer and fastest_peer_us / ours_us (>= 1: we win).

Every peer is timed as `trt-layernorm bench` times ours: CUDA graphs of
back-to-back calls (so Python and launch overhead are not counted), inputs
(and outputs) rotated through more than 2x the L2 cache, median of 7 trials,
warm-up and compilation outside the graph. The device-to-device copy
bandwidth and an empty launch are measured in this process too. Ours runs
in its own process (`trt-layernorm bench --json`), first, on an idle GPU;
its "% copy" is against the copy bandwidth of its own process.

    python3 benches/peers.py --bin target/release/trt-layernorm --json-out peers.json
    python3 benches/peers.py --accuracy-only        # only the peers' ulp errors on hostile rows
    python3 benches/peers.py --dtypes f16 --shapes 8192x8192 --peers triton -v   # a subset
    python3 benches/peers.py --norm rmsnorm --bin ...   # RMSNorm: HF LlamaRMSNorm's formula in torch, a one-pass Triton kernel
    python3 benches/peers.py --norm skiplayernorm --bin ...   # s = x + skip, y = LayerNorm(s), S written too

Needs PyTorch with CUDA and Triton; prints one "skipped: ..." line otherwise.
"""
import argparse
import collections
import datetime
import json
import math
import statistics
import subprocess
import sys

SHAPES = [(1, 768), (1, 4096), (128, 768), (512, 1024), (4096, 768), (4096, 4096),
          (8192, 8192), (16384, 12288), (4096, 16384), (256, 65536), (32, 1 << 20)]
DTYPES = ["f16", "bf16", "f32"]
PEERS = ["torch_eager", "torch_compile", "triton"]
EPS = 1e-5
# Same figures as src/bench.rs, so both sides are timed alike.
ROTATION_BYTES = 512 << 20  # > 2x the H200's 60 MB L2: each call reads X from DRAM
GRAPH_SECONDS = 2e-3  # target device time of one graph replay
TRIALS = 7
# Widest row the Triton baseline holds in registers (one block per row);
# wider rows loop over chunks of TRITON_CHUNK.
TRITON_MAX_FUSED = 65536
TRITON_CHUNK = 8192

try:  # the Triton kernels are defined at module level (Triton reads their source)
    import triton
    import triton.language as tl
except ImportError:
    triton = None


# ---------------------------------------------------------------------------
# Pure functions: ours' output, the table, the summary and the JSON.
# No GPU and no torch needed (tested off the GPU machine).
# ---------------------------------------------------------------------------

def parse_shapes(text):
    """'4096x768,1x768' -> [(4096, 768), (1, 768)]."""
    out = []
    for item in text.split(","):
        m, h = item.lower().split("x")
        out.append((int(m), int(h)))
    return out


def parse_ours(text):
    """`trt-layernorm bench --json` output -> (head, {(dtype, m, h): row}).

    The head line carries device, copy_gbps and empty_us; each further line
    one shape. Only the default plan counts (forced sweep plans are not ours
    as shipped). head is None where the CLI printed no measurements."""
    head, rows = None, {}
    for line in text.splitlines():
        if not line.startswith("{"):
            continue
        obj = json.loads(line)
        if "copy_gbps" in obj:
            head = obj
        elif obj.get("plan", "default") == "default":
            rows[(obj["dtype"], obj["m"], obj["h"])] = obj
    return head, rows


def fastest(peers):
    """(name, us) of the fastest peer that has a time, or (None, None)."""
    timed = [(us, name) for name, us in peers.items() if us is not None]
    if not timed:
        return None, None
    us, name = min(timed)
    return name, us


def make_row(dtype, m, h, ours, peers, peer_errors):
    """One result row. ours: the CLI's JSON line for this shape (or None)."""
    name, best = fastest(peers)
    ours_us = ours["us"] if ours else None
    row = {"dtype": dtype, "m": m, "h": h, "ours_us": ours_us,
           "ours_frac_copy": ours.get("frac_copy") if ours else None,
           "ours_variant": f"{ours['variant']}/{ours['threads_per_row']} x{ours['cluster']}" if ours else None,
           "peers": dict(peers), "fastest_peer": name, "fastest_peer_us": best,
           "ratio": best / ours_us if best is not None and ours_us else None}
    if peer_errors:
        row["peer_errors"] = dict(peer_errors)
    return row


def _num(v, fmt, width):
    return f"{'-' if v is None else format(v, fmt):>{width}}"


def table_lines(rows, peer_names):
    """The printed table, one line per row."""
    head = (f"{'dtype':<5} {'rows':>6} {'H':>8} | {'ours us':>8} {'%copy':>6} | "
            + " ".join(f"{p:>13}" for p in peer_names)
            + f" | {'fastest peer':>13} {'us':>8} | {'peer/ours':>9}")
    lines = [head, "-" * len(head)]
    for r in rows:
        frac = None if r["ours_frac_copy"] is None else 100 * r["ours_frac_copy"]
        lines.append(
            f"{r['dtype']:<5} {r['m']:>6} {r['h']:>8} | {_num(r['ours_us'], '.2f', 8)} {_num(frac, '.1f', 6)} | "
            + " ".join(_num(r["peers"].get(p), ".2f", 13) for p in peer_names)
            + f" | {r['fastest_peer'] or '-':>13} {_num(r['fastest_peer_us'], '.2f', 8)} | {_num(r['ratio'], '.3f', 9)}")
    return lines


def summary_line(rows):
    """How many shapes we win (ratio >= 1) and the worst ratio."""
    compared = [r for r in rows if r["ratio"] is not None]
    # A shape without ours or without any peer is no win: say how many there are.
    missing = f"; {len(rows) - len(compared)} not compared (ours or every peer missing)" if len(compared) < len(rows) else ""
    if not compared:
        return "summary: no shape has both ours and a peer timed" + missing
    wins = sum(r["ratio"] >= 1.0 for r in compared)
    worst = min(compared, key=lambda r: r["ratio"])
    return (f"summary: ours at least as fast as the fastest peer on {wins} of {len(compared)} shapes; "
            f"worst peer/ours {worst['ratio']:.3f} ({worst['dtype']} {worst['m']}x{worst['h']}, "
            f"{worst['fastest_peer']} {worst['fastest_peer_us']:.2f} us vs ours {worst['ours_us']:.2f} us); "
            f"median {statistics.median(r['ratio'] for r in compared):.3f}" + missing)


def failure_lines(rows):
    """Why each missing peer time is missing, one line per distinct reason."""
    seen = collections.OrderedDict()
    for r in rows:
        for peer, why in r.get("peer_errors", {}).items():
            seen.setdefault((peer, why), []).append(f"{r['dtype']} {r['m']}x{r['h']}")
    return [f"{peer}: null on {', '.join(where)}: {why}" for (peer, why), where in seen.items()]


def result_json(device, copy_gbps, empty_us, rows, extra=None):
    """The committed JSON: device, copy_gbps, empty_launch_us, rows (+ extra keys)."""
    return {"device": device, "copy_gbps": copy_gbps, "empty_launch_us": empty_us, "rows": rows, **(extra or {})}


# ---------------------------------------------------------------------------
# Ours: the CLI in its own process.
# ---------------------------------------------------------------------------

def run_ours(binary, shapes, dtypes, norm="layernorm"):
    """Runs `binary bench --json`; returns (head, rows, note). A failure of
    some shapes still returns the others (the CLI prints what it measured)."""
    cmd = [binary, "bench", "--json", "--norm", norm, "--shapes", ",".join(f"{m}x{h}" for m, h in shapes), "--dtypes", ",".join(dtypes)]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    except (OSError, subprocess.TimeoutExpired) as e:
        return None, {}, f"{' '.join(cmd)}: {e}"
    head, rows = parse_ours(done.stdout)
    note = None
    if done.returncode != 0 or head is None:
        note = f"{' '.join(cmd)} exited {done.returncode}: {(done.stderr or done.stdout).strip()[-500:]}"
    return head, rows, note


# ---------------------------------------------------------------------------
# The peers.
# ---------------------------------------------------------------------------

if triton is not None:
    @triton.jit
    def _ln_two_pass(X, Y, W, B, H, eps, BLOCK: tl.constexpr):
        # One program per row, the row in registers; FP32 two-pass sums, no compensation.
        row = tl.program_id(0).to(tl.int64)
        cols = tl.arange(0, BLOCK)
        mask = cols < H
        x = tl.load(X + row * H + cols, mask=mask, other=0.0).to(tl.float32)
        mean = tl.sum(x, axis=0) / H
        d = tl.where(mask, x - mean, 0.0)
        var = tl.sum(d * d, axis=0) / H
        rstd = 1.0 / tl.sqrt(var + eps)
        w = tl.load(W + cols, mask=mask, other=0.0).to(tl.float32)
        b = tl.load(B + cols, mask=mask, other=0.0).to(tl.float32)
        tl.store(Y + row * H + cols, (d * rstd * w + b).to(Y.dtype.element_ty), mask=mask)

    @triton.jit
    def _ln_two_pass_looped(X, Y, W, B, H, eps, CHUNK: tl.constexpr):
        # The same arithmetic for rows too wide for registers: three sweeps over the row.
        row = tl.program_id(0).to(tl.int64)
        X += row * H
        Y += row * H
        acc = tl.zeros([CHUNK], dtype=tl.float32)
        for off in range(0, H, CHUNK):
            cols = off + tl.arange(0, CHUNK)
            acc += tl.load(X + cols, mask=cols < H, other=0.0).to(tl.float32)
        mean = tl.sum(acc, axis=0) / H
        acc = tl.zeros([CHUNK], dtype=tl.float32)
        for off in range(0, H, CHUNK):
            cols = off + tl.arange(0, CHUNK)
            x = tl.load(X + cols, mask=cols < H, other=0.0).to(tl.float32)
            d = tl.where(cols < H, x - mean, 0.0)
            acc += d * d
        rstd = 1.0 / tl.sqrt(tl.sum(acc, axis=0) / H + eps)
        for off in range(0, H, CHUNK):
            cols = off + tl.arange(0, CHUNK)
            mask = cols < H
            x = tl.load(X + cols, mask=mask, other=0.0).to(tl.float32)
            w = tl.load(W + cols, mask=mask, other=0.0).to(tl.float32)
            b = tl.load(B + cols, mask=mask, other=0.0).to(tl.float32)
            tl.store(Y + cols, ((x - mean) * rstd * w + b).to(Y.dtype.element_ty), mask=mask)


    @triton.jit
    def _rms_one_pass(X, Y, W, H, eps, BLOCK: tl.constexpr):
        # RMSNorm, one program per row, the row in registers: FP32 sum of squares.
        row = tl.program_id(0).to(tl.int64)
        cols = tl.arange(0, BLOCK)
        mask = cols < H
        x = tl.load(X + row * H + cols, mask=mask, other=0.0).to(tl.float32)
        rstd = 1.0 / tl.sqrt(tl.sum(x * x, axis=0) / H + eps)
        w = tl.load(W + cols, mask=mask, other=0.0).to(tl.float32)
        tl.store(Y + row * H + cols, (x * rstd * w).to(Y.dtype.element_ty), mask=mask)

    @triton.jit
    def _rms_looped(X, Y, W, H, eps, CHUNK: tl.constexpr):
        row = tl.program_id(0).to(tl.int64)
        X += row * H
        Y += row * H
        acc = tl.zeros([CHUNK], dtype=tl.float32)
        for off in range(0, H, CHUNK):
            cols = off + tl.arange(0, CHUNK)
            x = tl.load(X + cols, mask=cols < H, other=0.0).to(tl.float32)
            acc += x * x
        rstd = 1.0 / tl.sqrt(tl.sum(acc, axis=0) / H + eps)
        for off in range(0, H, CHUNK):
            cols = off + tl.arange(0, CHUNK)
            mask = cols < H
            x = tl.load(X + cols, mask=mask, other=0.0).to(tl.float32)
            w = tl.load(W + cols, mask=mask, other=0.0).to(tl.float32)
            tl.store(Y + cols, (x * rstd * w).to(Y.dtype.element_ty), mask=mask)

    @triton.jit
    def _skip_ln_two_pass(X, SKIP, Y, S, W, B, H, eps, BLOCK: tl.constexpr):
        # SkipLayerNorm: s = x + skip in X's type (rounded as torch's add), stored as S;
        # then _ln_two_pass's arithmetic on s.
        row = tl.program_id(0).to(tl.int64)
        cols = tl.arange(0, BLOCK)
        mask = cols < H
        s = tl.load(X + row * H + cols, mask=mask, other=0.0) + tl.load(SKIP + row * H + cols, mask=mask, other=0.0)
        tl.store(S + row * H + cols, s.to(S.dtype.element_ty), mask=mask)
        x = s.to(tl.float32)
        mean = tl.sum(x, axis=0) / H
        d = tl.where(mask, x - mean, 0.0)
        var = tl.sum(d * d, axis=0) / H
        rstd = 1.0 / tl.sqrt(var + eps)
        w = tl.load(W + cols, mask=mask, other=0.0).to(tl.float32)
        b = tl.load(B + cols, mask=mask, other=0.0).to(tl.float32)
        tl.store(Y + row * H + cols, (d * rstd * w + b).to(Y.dtype.element_ty), mask=mask)

    @triton.jit
    def _skip_ln_looped(X, SKIP, Y, S, W, B, H, eps, CHUNK: tl.constexpr):
        # _ln_two_pass_looped on s = x + skip: the first sweep stores S; the later
        # sweeps re-read X and SKIP and add again (the same rounding), never
        # reading back S this program wrote.
        row = tl.program_id(0).to(tl.int64)
        X += row * H
        SKIP += row * H
        Y += row * H
        S += row * H
        acc = tl.zeros([CHUNK], dtype=tl.float32)
        for off in range(0, H, CHUNK):
            cols = off + tl.arange(0, CHUNK)
            mask = cols < H
            s = tl.load(X + cols, mask=mask, other=0.0) + tl.load(SKIP + cols, mask=mask, other=0.0)
            tl.store(S + cols, s.to(S.dtype.element_ty), mask=mask)
            acc += s.to(tl.float32)
        mean = tl.sum(acc, axis=0) / H
        acc = tl.zeros([CHUNK], dtype=tl.float32)
        for off in range(0, H, CHUNK):
            cols = off + tl.arange(0, CHUNK)
            mask = cols < H
            s = tl.load(X + cols, mask=mask, other=0.0) + tl.load(SKIP + cols, mask=mask, other=0.0)
            d = tl.where(mask, s.to(tl.float32) - mean, 0.0)
            acc += d * d
        rstd = 1.0 / tl.sqrt(tl.sum(acc, axis=0) / H + eps)
        for off in range(0, H, CHUNK):
            cols = off + tl.arange(0, CHUNK)
            mask = cols < H
            s = tl.load(X + cols, mask=mask, other=0.0) + tl.load(SKIP + cols, mask=mask, other=0.0)
            w = tl.load(W + cols, mask=mask, other=0.0).to(tl.float32)
            b = tl.load(B + cols, mask=mask, other=0.0).to(tl.float32)
            tl.store(Y + cols, ((s.to(tl.float32) - mean) * rstd * w + b).to(Y.dtype.element_ty), mask=mask)


def triton_num_warps(block):
    """As a plain baseline would (Triton's layer-norm tutorial, widened to 16
    warps for wide rows): about 256 elements of the block per warp."""
    return min(max(block // 256, 1), 16)


def triton_norm(h, fused, looped, with_bias, with_skip=False):
    """A Triton baseline for rows of h elements, as fn(x, w, b) -> y: `fused`
    holds the row in registers, `looped` sweeps rows wider than
    TRITON_MAX_FUSED; `with_bias` passes b (LayerNorm) or not (RMSNorm).
    `with_skip` (SkipLayerNorm): fn(x, skip, w, b) -> (y, s), the kernel
    taking (X, SKIP, Y, S, ...) where the others take (X, Y, ...)."""
    import torch
    if h <= TRITON_MAX_FUSED:
        kernel, block = fused, triton.next_power_of_2(h)
        consts = {"BLOCK": block}
    else:
        kernel, block = looped, TRITON_CHUNK
        consts = {"CHUNK": block}
    warps = triton_num_warps(block)

    def fn(x, skip, w, b):
        y = torch.empty_like(x)
        s = torch.empty_like(x) if with_skip else None
        tensors = (x, skip, y, s) if with_skip else (x, y)
        params = (w, b) if with_bias else (w,)
        kernel[(x.shape[0],)](*tensors, *params, h, EPS, num_warps=warps, **consts)
        return (y, s) if with_skip else y
    return fn if with_skip else (lambda x, w, b: fn(x, None, w, b))


def triton_layer_norm(h):
    """The Triton two-pass LayerNorm baseline."""
    return triton_norm(h, _ln_two_pass, _ln_two_pass_looped, with_bias=True)


def raise_compile_limits(torch):
    """One compiled graph per shape: never let dynamo give up and run eager."""
    cfg = torch._dynamo.config
    for name in ("recompile_limit", "cache_size_limit", "accumulated_recompile_limit", "accumulated_cache_size_limit"):
        if hasattr(cfg, name):
            setattr(cfg, name, 4096)
    # Where dynamo would still fall back, fail loudly instead (recorded as null with the reason).
    if hasattr(cfg, "fail_on_recompile_limit_hit"):
        cfg.fail_on_recompile_limit_hit = True


def compiled_layer_norm(h):
    """torch.compile of F.layer_norm for one shape: a fresh dynamo cache each
    time, so no guard chain builds up across shapes; fullgraph so a graph break
    raises rather than running part of it eagerly."""
    import torch
    import torch.nn.functional as F
    torch._dynamo.reset()

    def ln(x, w, b):
        return F.layer_norm(x, (h,), w, b, EPS)
    return torch.compile(ln, dynamic=False, fullgraph=True)


def eager_layer_norm(h):
    import torch.nn.functional as F
    return lambda x, w, b: F.layer_norm(x, (h,), w, b, EPS)


def triton_rms_norm(h):
    """The Triton one-pass RMSNorm baseline (b unused)."""
    return triton_norm(h, _rms_one_pass, _rms_looped, with_bias=False)


def llama_rms_norm(x, w):
    """Hugging Face's LlamaRMSNorm.forward (Qwen2, Mistral: the same): FP32
    statistics, the normalized value cast back to x's type, then the weight."""
    import torch
    xf = x.float()
    var = xf.pow(2).mean(-1, keepdim=True)
    return w * (xf * torch.rsqrt(var + EPS)).to(x.dtype)


def eager_rms_norm(h):
    return lambda x, w, b: llama_rms_norm(x, w)


def compiled_rms_norm(h):
    """torch.compile of llama_rms_norm, one graph per shape (as compiled_layer_norm)."""
    import torch
    torch._dynamo.reset()
    return torch.compile(lambda x, w, b: llama_rms_norm(x, w), dynamic=False, fullgraph=True)


def skip_layer_norm(x, skip, w, b, h):
    """The residual add in x's type, then F.layer_norm of the sum: (y, s)."""
    import torch.nn.functional as F
    s = x + skip
    return F.layer_norm(s, (h,), w, b, EPS), s


def eager_skip_layer_norm(h):
    return lambda x, skip, w, b: skip_layer_norm(x, skip, w, b, h)


def compiled_skip_layer_norm(h):
    """torch.compile of skip_layer_norm, one graph per shape (as compiled_layer_norm).
    Inductor fuses the add into the norm and normalizes the FP32 sum, not the
    rounded s it stores (seen with torch 2.11: y matches LayerNorm of the FP32
    sum, S is x + skip rounded): the accuracy section shows it for 16-bit types."""
    import torch
    torch._dynamo.reset()
    return torch.compile(lambda x, skip, w, b: skip_layer_norm(x, skip, w, b, h), dynamic=False, fullgraph=True)


def triton_skip_layer_norm(h):
    """The Triton SkipLayerNorm baseline: the two-pass LayerNorm on x + skip, S stored."""
    return triton_norm(h, _skip_ln_two_pass, _skip_ln_looped, with_bias=True, with_skip=True)


PEER_FACTORIES = {"torch_eager": eager_layer_norm, "torch_compile": compiled_layer_norm, "triton": triton_layer_norm}
RMS_PEER_FACTORIES = {"torch_eager": eager_rms_norm, "torch_compile": compiled_rms_norm, "triton": triton_rms_norm}
# These take (x, skip, w, b) and return (y, s).
SKIP_PEER_FACTORIES = {"torch_eager": eager_skip_layer_norm, "torch_compile": compiled_skip_layer_norm,
                       "triton": triton_skip_layer_norm}
NORMS = {"layernorm": PEER_FACTORIES, "rmsnorm": RMS_PEER_FACTORIES, "skiplayernorm": SKIP_PEER_FACTORIES}


def peer_factories(norm):
    return NORMS[norm]


# ---------------------------------------------------------------------------
# Timing (CUDA graphs, L2 rotation), as src/bench.rs does for ours.
# ---------------------------------------------------------------------------

class Timer:
    def __init__(self, torch):
        self.torch = torch
        self.copy_gbps = self._copy_gbps()
        self.empty_us = self._empty_us()

    def median_seconds(self, fn, reps):
        """Warm-up, then the median over TRIALS of `reps` back-to-back runs of fn, per run."""
        torch = self.torch
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
        return statistics.median(times)

    def _copy_gbps(self):
        nbytes = 256 << 20
        src = self.torch.empty(nbytes, dtype=self.torch.uint8, device="cuda").random_()
        dst = self.torch.empty_like(src)
        return 2 * nbytes / self.median_seconds(lambda: dst.copy_(src), 10) / 1e9

    def _empty_us(self):
        # torch.cuda._sleep(0): a one-thread kernel that returns at once.
        calls = 1000
        graph = self.capture(lambda: [self.torch.cuda._sleep(0) for _ in range(calls)])
        return self.median_seconds(graph.replay, 1) / calls * 1e6

    def capture(self, body):
        """body() captured into a CUDA graph, after a warm-up run on a side
        stream (compilation and allocator growth stay outside the graph)."""
        torch = self.torch
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            body()
        torch.cuda.current_stream().wait_stream(side)
        torch.cuda.synchronize()
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            body()
        return graph

    def calls_per_graph(self, moved_bytes):
        est = moved_bytes / (self.copy_gbps * 1e9) + self.empty_us * 1e-6
        return int(min(2000, max(20, GRAPH_SECONDS / est)))

    def time_call(self, fn, xs, w, b, skips=None):
        """Device us per call of fn(x, w, b), x rotating through xs. The last
        len(xs) outputs are kept alive during capture so Y rotates through as
        many buffers as X does (freed ones are reused by later calls).
        With skips (SkipLayerNorm): fn(x, skip, w, b) -> (y, s), skips[i]
        rotating with xs[i], and both outputs kept alive alike."""
        moved = xs[0].numel() * xs[0].element_size() * (2 if skips is None else 4)
        calls = self.calls_per_graph(moved)

        def call(i):
            x = xs[i % len(xs)]
            return fn(x, w, b) if skips is None else fn(x, skips[i % len(xs)], w, b)

        def body():
            live = collections.deque(maxlen=len(xs))
            for i in range(calls):
                live.append(call(i))
        graph = self.capture(body)
        us = self.median_seconds(graph.replay, 1) / calls * 1e6
        del graph
        return us


def rotation_inputs(torch, m, h, dt, with_skip=False):
    """X sets totalling ROTATION_BYTES with Y (at least one, at most 64, as
    src/bench.rs), and scale and bias in X's type: (xs, skips, w, b).
    with_skip: a Skip per X (skips[i] goes with xs[i]), a set counting
    X + Skip + Y + S; else skips is None."""
    per_set = m * h * dt.itemsize * (4 if with_skip else 2)
    sets = max(1, min(64, ROTATION_BYTES // per_set))
    xs = [torch.empty(m, h, dtype=dt, device="cuda").uniform_(-2, 2) for _ in range(sets)]
    skips = [torch.empty(m, h, dtype=dt, device="cuda").uniform_(-2, 2) for _ in range(sets)] if with_skip else None
    w = torch.empty(h, dtype=dt, device="cuda").uniform_(-2, 2)
    b = torch.empty(h, dtype=dt, device="cuda").uniform_(-2, 2)
    return xs, skips, w, b


def short_error(e):
    text = f"{type(e).__name__}: {e}".strip().splitlines()
    return (text[0] if text else type(e).__name__)[:300]


def time_peers(timer, peer_names, shapes, dtypes, progress=None, norm="layernorm"):
    """{(dtype, m, h): ({peer: us or None}, {peer: why})}. A failed peer is null
    with its reason; the run goes on."""
    factories = peer_factories(norm)
    torch = timer.torch
    out = {}
    for dname in dtypes:
        dt = torch_dtypes(torch)[dname]
        for m, h in shapes:
            xs, skips, w, b = rotation_inputs(torch, m, h, dt, with_skip=norm == "skiplayernorm")
            times, errors = {}, {}
            for peer in peer_names:
                try:
                    times[peer] = timer.time_call(factories[peer](h), xs, w, b, skips)
                except Exception as e:  # noqa: BLE001 -- any peer failure is recorded, not fatal
                    times[peer], errors[peer] = None, short_error(e)
                    recover(torch)
            out[(dname, m, h)] = (times, errors)
            if progress:
                progress(f"{dname} {m}x{h}: " + ", ".join(f"{p} {_num(t, '.2f', 0)}" for p, t in times.items()))
            del xs, skips, w, b
            torch.cuda.empty_cache()
    return out


def recover(torch):
    """After a failed peer: end a capture it may have left open, drop its memory."""
    try:
        torch.cuda.synchronize()
    except Exception:  # noqa: BLE001 -- best effort; a sticky error shows up in the next peer's reason
        pass
    torch.cuda.empty_cache()


def torch_dtypes(torch):
    return {"f16": torch.float16, "bf16": torch.bfloat16, "f32": torch.float32}


# ---------------------------------------------------------------------------
# Accuracy of the peers on hostile rows (ours is tested in tests/gpu_accuracy.rs).
# ---------------------------------------------------------------------------

ACCURACY_ROWS = 256
ACCURACY_H = (768, 4096)
ROW_KINDS = ["ordinary", "outliers_x100", "mean>>spread"]
# (stored mantissa bits, smallest normal exponent), as DType::ulp in src/dtype.rs.
FORMATS = {"f16": (10, -14), "bf16": (7, -126), "f32": (23, -126)}


def hostile_rows(torch, kind, dname, m, h, gen):
    """X of m rows as f64 values representable in dname.
    ordinary: N(0, 1). outliers_x100: the same with 8 fixed channels x100
    (as in LLM activations). mean>>spread: 1e3 + 0.5 N(0, 1) for FP16 (whose
    range stops at 65504), 1e4 + N(0, 1) for BF16 and FP32."""
    x = torch.randn(m, h, generator=gen, dtype=torch.float64)
    if kind == "outliers_x100":
        x[:, torch.randperm(h, generator=gen)[:8]] *= 100
    elif kind == "mean>>spread":
        x = 1e3 + 0.5 * x if dname == "f16" else 1e4 + x
    return x.to(torch_dtypes(torch)[dname]).double()


def reference(x, w, b):
    """LayerNorm in f64 (two-pass in f64 is exact enough on these rows)."""
    mean = x.mean(dim=1, keepdim=True)
    d = x - mean
    rstd = 1.0 / (d.pow(2).mean(dim=1, keepdim=True) + EPS).sqrt()
    return d * rstd * w + b


def ulp_of(torch, a, dname):
    """Spacing of dname at |a| (a f64, >= 0), as DType::ulp: subnormal spacing below the normals."""
    mbits, min_exp = FORMATS[dname]
    _, e = torch.frexp(a.clamp_min(2.0 ** min_exp))  # a = f * 2^e, f in [0.5, 1)
    return torch.pow(2.0, (e - 1 - mbits).double())


def output_errors(torch, got, exact, dname):
    """Per element error in the unit of src/reference.rs: ulps at the correctly
    rounded result for 16-bit outputs, FP32 ulps at max(1, |exact|) for FP32.
    0 where exactly rounded; inf where one side is inf/NaN and the other not."""
    rounded = exact.to(torch_dtypes(torch)[dname]).double()
    got = got.double()
    if dname == "f32":
        unit = ulp_of(torch, exact.abs().clamp_min(1.0), dname)
    else:
        unit = ulp_of(torch, torch.minimum(rounded.abs(), got.abs()), dname)
    # As output_error: FP32 against the exact value, 16-bit against the rounded one.
    err = (got - (exact if dname == "f32" else rounded)).abs() / unit
    err = torch.where(got == rounded, torch.zeros_like(err), err)
    bad = ~(torch.isfinite(got) & torch.isfinite(rounded)) & (got != rounded)
    return torch.where(bad, torch.full_like(err, math.inf), err)


def accuracy(torch, peer_names, dtypes, norm="layernorm"):
    """{dtype: {peer: {kind: {"max_ulp", "exact_pct"}}}}, the worst over ACCURACY_H.
    layernorm and skiplayernorm only. skiplayernorm: the same hostile X plus a
    small Skip (0.1 N(0, 1)); Y against LayerNorm of the correctly rounded sum,
    and S against that sum ("s_mismatches": elements not bitwise equal)."""
    with_skip = norm == "skiplayernorm"
    results = {}
    for dname in dtypes:
        dt = torch_dtypes(torch)[dname]
        results[dname] = {p: {k: {"max_ulp": 0.0, "exact_pct": 100.0} for k in ROW_KINDS} for p in peer_names}
        for h in ACCURACY_H:
            fns = {p: peer_factories(norm)[p](h) for p in peer_names}  # one compile per H, not per row kind
            for kind in ROW_KINDS:
                gen = torch.Generator().manual_seed(h * 7919 + ROW_KINDS.index(kind))
                x = hostile_rows(torch, kind, dname, ACCURACY_ROWS, h, gen)
                w = (1 + 0.1 * torch.randn(h, generator=gen, dtype=torch.float64)).to(dt).double()
                b = (0.1 * torch.randn(h, generator=gen, dtype=torch.float64)).to(dt).double()
                xd, wd, bd = (t.to(dt).cuda() for t in (x, w, b))
                if with_skip:
                    # Drawn after w and b, so X, w and b are those of the LayerNorm section.
                    skip = (0.1 * torch.randn(ACCURACY_ROWS, h, generator=gen, dtype=torch.float64)).to(dt).double()
                    # x + skip is exact in f64 (both in dt), so this is the correctly rounded sum.
                    s_exact = (x + skip).to(dt)
                    exact = reference(s_exact.double(), w, b)
                    args = (xd, skip.to(dt).cuda(), wd, bd)
                else:
                    exact = reference(x, w, b)
                    args = (xd, wd, bd)
                for peer, fn in fns.items():
                    cell = results[dname][peer][kind]
                    if cell["max_ulp"] is None:
                        continue  # failed at the other H already
                    try:
                        got = fn(*args)
                        if with_skip:
                            got, s_got = got[0].cpu(), got[1].cpu()
                            bad = (s_got != s_exact).sum().item()
                            cell["s_mismatches"] = cell.get("s_mismatches", 0) + bad
                        else:
                            got = got.cpu()
                    except Exception as e:  # noqa: BLE001 -- recorded, not fatal
                        cell.update(max_ulp=None, exact_pct=None, error=short_error(e))
                        recover(torch)
                        continue
                    err = output_errors(torch, got, exact, dname)
                    cell["max_ulp"] = max(cell["max_ulp"], err.max().item())
                    cell["exact_pct"] = min(cell["exact_pct"], 100.0 * (err == 0).double().mean().item())
    return results


def accuracy_lines(results):
    kinds = ROW_KINDS
    head = f"{'dtype':<5} {'peer':<14} | " + " | ".join(f"{k:>22}" for k in kinds)
    lines = ["accuracy vs an f64 reference: max ulp error (% exactly rounded, worst H), "
             f"{ACCURACY_ROWS} rows x H in {ACCURACY_H}; FP32 in ulps at max(1, |y|)", head, "-" * len(head)]
    for dname, per_peer in results.items():
        for peer, cells in per_peer.items():
            parts = []
            for k in kinds:
                c = cells.get(k, {})
                if c.get("max_ulp") is None:
                    parts.append(f"{'failed':>22}")
                else:
                    ulp = "inf/NaN" if math.isinf(c["max_ulp"]) else f"{c['max_ulp']:.3g}"
                    parts.append(f"{ulp + ' (' + format(c['exact_pct'], '.2f') + '%)':>22}")
            lines.append(f"{dname:<5} {peer:<14} | " + " | ".join(parts))
    errors = [f"{p} {d} {k}: {c['error']}" for d, pp in results.items() for p, cs in pp.items()
              for k, c in cs.items() if "error" in c]
    sums = [f"{p} {d} {k}: S differs from the correctly rounded x + skip in {c['s_mismatches']} elements"
            for d, pp in results.items() for p, cs in pp.items() for k, c in cs.items() if c.get("s_mismatches")]
    return lines + errors + sums


# ---------------------------------------------------------------------------

def missing_requirements(peer_names):
    """None, or why this machine cannot run the peers."""
    try:
        import torch
    except ImportError:
        return "PyTorch is not installed"
    if not torch.cuda.is_available():
        return f"PyTorch {torch.__version__} sees no CUDA device"
    if "triton" in peer_names and triton is None:
        return "Triton is not installed"
    return None


def speed(args, peer_names, shapes, dtypes):
    import torch
    if args.ours_json:
        with open(args.ours_json) as f:
            head, ours = parse_ours(f.read())
        ours_note = None if head else f"{args.ours_json} holds no measurements"
    elif args.no_ours:
        head, ours, ours_note = None, {}, "not run (--no-ours)"
    else:
        head, ours, ours_note = run_ours(args.bin, shapes, dtypes, args.norm)
    if ours_note:
        print(f"ours: {ours_note}")

    raise_compile_limits(torch)
    timer = Timer(torch)
    device = torch.cuda.get_device_name()
    print(f"{device}: device-to-device copy {timer.copy_gbps:.0f} GB/s, empty launch {timer.empty_us:.2f} us "
          f"(this process)" + (f"; ours' process: {head['copy_gbps']:.0f} GB/s, {head['empty_us']:.2f} us" if head else ""))
    print(f"torch {torch.__version__}, triton {getattr(triton, '__version__', '-')}, CUDA {torch.version.cuda}", flush=True)

    print(f"norm: {args.norm}", flush=True)
    measured = time_peers(timer, peer_names, shapes, dtypes,
                          progress=(lambda s: print(s, file=sys.stderr, flush=True)) if args.verbose else None, norm=args.norm)
    rows = [make_row(d, m, h, ours.get((d, m, h)), *measured[(d, m, h)]) for d in dtypes for m, h in shapes]
    print()
    print("\n".join(table_lines(rows, peer_names)))
    print(summary_line(rows))
    for line in failure_lines(rows):
        print(line)

    extra = {"norm": args.norm, "date": datetime.date.today().isoformat(),
             "versions": {"torch": torch.__version__, "triton": getattr(triton, "__version__", None), "cuda": torch.version.cuda},
             "ours_process": head, "ours_note": ours_note,
             "method": "CUDA graphs of back-to-back calls, inputs rotated past L2, median of 7; "
                       "copy_gbps and empty_launch_us measured in the peers' process; ours_frac_copy against ours' process"}
    return result_json(device, timer.copy_gbps, timer.empty_us, rows, extra)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", default="target/release/trt-layernorm", help="the trt-layernorm CLI (ours)")
    ap.add_argument("--json-out", help="write the results as JSON here")
    ap.add_argument("--shapes", default=",".join(f"{m}x{h}" for m, h in SHAPES), help="ROWSxH, comma-separated")
    ap.add_argument("--dtypes", default=",".join(DTYPES), help="of X, Y, scale and bias: f16,bf16,f32")
    ap.add_argument("--peers", default=",".join(PEERS), help="a subset of " + ",".join(PEERS))
    ap.add_argument("--ours-json", help="read ours from a saved `trt-layernorm bench --json` output instead of running --bin")
    ap.add_argument("--no-ours", action="store_true", help="time the peers only")
    ap.add_argument("--accuracy", action="store_true", help="also print the peers' ulp errors on hostile rows")
    ap.add_argument("--accuracy-only", action="store_true", help="only the accuracy section")
    ap.add_argument("--norm", default="layernorm", choices=list(NORMS),
                    help="rmsnorm: ours --norm rmsnorm (scale only) against HF LlamaRMSNorm in torch and a Triton one-pass kernel; "
                         "skiplayernorm: ours --norm skiplayernorm (s = x + skip, y = LayerNorm(s), S written) against "
                         "x + skip then F.layer_norm in torch (eager and compiled) and a Triton two-pass kernel that stores S")
    ap.add_argument("-v", "--verbose", action="store_true", help="progress per shape on stderr")
    args = ap.parse_args(argv)
    shapes, dtypes = parse_shapes(args.shapes), args.dtypes.split(",")
    peer_names = args.peers.split(",")
    unknown = [p for p in peer_names if p not in PEER_FACTORIES] + [d for d in dtypes if d not in FORMATS]
    if unknown:
        ap.error(f"unknown peer or dtype: {', '.join(unknown)}")

    why = missing_requirements(peer_names)
    if why:
        print(f"skipped: {why}")
        return 0
    import torch

    result = {"device": torch.cuda.get_device_name(), "norm": args.norm} if args.accuracy_only else speed(args, peer_names, shapes, dtypes)
    if (args.accuracy or args.accuracy_only) and args.norm == "rmsnorm":
        print("accuracy: the hostile-row section covers LayerNorm and SkipLayerNorm only")
    elif args.accuracy or args.accuracy_only:
        raise_compile_limits(torch)
        acc = accuracy(torch, peer_names, dtypes, args.norm)
        print()
        if args.norm == "skiplayernorm":
            print("SkipLayerNorm: X the hostile rows below plus Skip = 0.1 N(0, 1); y against LayerNorm of the correctly rounded x + skip")
        print("\n".join(accuracy_lines(acc)))
        result["accuracy"] = acc
    if args.json_out:
        with open(args.json_out, "w") as f:
            json.dump(jsonable(result), f, indent=1)
            f.write("\n")
    return 0


def jsonable(obj):
    """inf (an inf/NaN output in the accuracy section) as the string "inf": strict JSON."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return "inf" if obj > 0 else str(obj)
    if isinstance(obj, dict):
        return {k: jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    return obj


if __name__ == "__main__":
    sys.exit(main())
