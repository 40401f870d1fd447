#!/usr/bin/env python3
"""CPU checks of patched models against ONNX Runtime (no GPU, no TensorRT).

  check ORIG_DIR PATCHED_DIR
      For every model in PATCHED_DIR, runs the original (same file name in
      ORIG_DIR) with ONNX Runtime and the patched one with onnx's reference
      evaluator, the plugins' custom ops as f64 references rounded once to
      the output type: FP32LayerNorm ((x - mean) / sqrt(var + eps) * scale +
      bias, ONNX LayerNormalization axis/epsilon, output_type), FP32RMSNorm
      (x / sqrt(mean(x^2) + eps) * scale), FP32SkipLayerNorm (the sum
      s = round_T(round_T(X + ResidualBias) + Skip), each Add rounded to X's
      type T as the graph's Adds are, then FP32LayerNorm of s; its second
      output S = s with sum_output = 1). Epsilon 0 gives NaN on a constant
      row (0/0), as the original graphs do. Prints the max difference per
      output; exits 1 when one is over tolerance (fp32: 1e-4 relative, fp16:
      1e-2 relative) or NaN where the other side has none.

  dump ORIG_DIR PATCHED_DIR OUT_DIR
      Runs each original model with ONNX Runtime and writes, for every
      FP32LayerNorm node of the patched model, that LayerNorm's input and
      output tensors (and its scale/bias) as raw little-endian files plus an
      index OUT_DIR/ln_io.json read by tests/onnx_patch.rs (the GPU test
      compares our kernel with these ONNX Runtime outputs).

Needs: numpy, onnx, onnxruntime.
"""
import json
import os
import sys

import numpy as np
import onnx
import onnxruntime as ort
from onnx import helper, numpy_helper
from onnx.reference import ReferenceEvaluator
from onnx.reference.op_run import OpRun

DTYPES = {1: ("f32", np.float32), 10: ("f16", np.float16), 16: ("bf16", None), 11: ("f64", np.float64)}


def layernorm_f64(x, scale, bias, epsilon, axis, output_type):
    """LayerNorm of x over the dims from `axis` on, in f64, rounded once to
    x's type (float32 with output_type 1). Epsilon 0: a constant row is 0/0 = NaN."""
    axis = axis if axis >= 0 else x.ndim + axis
    axes = tuple(range(axis, x.ndim))
    xd = x.astype(np.float64)
    d = xd - xd.mean(axis=axes, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        y = d / np.sqrt((d * d).mean(axis=axes, keepdims=True) + np.float64(np.float32(epsilon)))
    if scale is not None:
        y = y * scale.astype(np.float64)
    if bias is not None:
        y = y + bias.astype(np.float64)
    return y.astype(np.float32 if output_type == 1 else x.dtype)


class FP32LayerNorm(OpRun):
    op_domain = "trt.plugins"

    def _run(self, x, scale=None, bias=None, epsilon=1e-5, axis=-1, plugin_version="1", plugin_namespace="", output_type=0):
        return (layernorm_f64(x, scale, bias, epsilon, axis, output_type),)


class FP32SkipLayerNorm(OpRun):
    op_domain = "trt.plugins"

    def _run(self, x, skip, scale=None, bias=None, residual_bias=None, epsilon=1e-5, axis=-1, plugin_version="1",
             plugin_namespace="", output_type=0, sum_output=0):
        assert skip.dtype == x.dtype and skip.shape == x.shape, (x.dtype, x.shape, skip.dtype, skip.shape)
        t = x.dtype
        # Each Add exact in f64 (sums of two float32/float16 values), then rounded once to T.
        s = x
        if residual_bias is not None:
            assert residual_bias.dtype == t
            s = (s.astype(np.float64) + residual_bias.astype(np.float64)).astype(t)
        s = (s.astype(np.float64) + skip.astype(np.float64)).astype(t)
        y = layernorm_f64(s, scale, bias, epsilon, axis, output_type)
        return (y, s) if sum_output == 1 else (y,)


class FP32RMSNorm(OpRun):
    op_domain = "trt.plugins"

    def _run(self, x, scale=None, epsilon=1e-5, axis=-1, plugin_version="1", plugin_namespace="", output_type=0):
        axis = axis if axis >= 0 else x.ndim + axis
        axes = tuple(range(axis, x.ndim))
        xd = x.astype(np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            y = xd / np.sqrt((xd * xd).mean(axis=axes, keepdims=True) + np.float64(np.float32(epsilon)))
        if scale is not None:
            y = y * scale.astype(np.float64)
        return (y.astype(np.float32 if output_type == 1 else x.dtype),)


class RMSNormalization(OpRun):
    """ONNX's RMSNormalization for every stash_type (onnx's reference
    evaluator takes only 1), for the nodes `patch` refuses and keeps."""

    op_domain = ""

    def _run(self, x, scale, axis=-1, epsilon=1e-5, stash_type=1):
        axis = axis if axis >= 0 else x.ndim + axis
        stash = {1: np.float32, 10: np.float16, 11: np.float64, 16: np.float32}[stash_type]
        xs = x.astype(stash)
        n = xs / np.sqrt((xs * xs).mean(axis=tuple(range(axis, x.ndim)), keepdims=True) + stash(epsilon))
        return ((n.astype(x.dtype) * scale).astype(scale.dtype),)


def feeds(model, seed=0):
    rng = np.random.default_rng(seed)
    out = {}
    for i in model.graph.input:
        t = i.type.tensor_type
        shape = [d.dim_value if d.dim_value > 0 else 2 for d in t.shape.dim]
        dt = DTYPES[t.elem_type][1]
        if i.name == "eps":
            out[i.name] = np.array(1e-5, dt)
        else:
            out[i.name] = (rng.standard_normal(shape) * 2.0 + 0.5).astype(dt)
    return out


def pairs(orig_dir, patched_dir):
    for f in sorted(os.listdir(patched_dir)):
        if f.endswith(".onnx") and os.path.exists(os.path.join(orig_dir, f)):
            yield f, onnx.load(os.path.join(orig_dir, f)), onnx.load(os.path.join(patched_dir, f))


def check(orig_dir, patched_dir):
    bad = 0
    for f, orig, patched in pairs(orig_dir, patched_dir):
        x = feeds(orig)
        sess = ort.InferenceSession(orig.SerializeToString(), providers=["CPUExecutionProvider"])
        want = sess.run(None, x)
        with np.errstate(invalid="ignore", divide="ignore"):
            got = ReferenceEvaluator(patched, new_ops=[FP32LayerNorm, FP32RMSNorm, FP32SkipLayerNorm, RMSNormalization]).run(None, x)
        n = sum(1 for n in patched.graph.node if n.op_type == "FP32LayerNorm")
        n_rms = sum(1 for n in patched.graph.node if n.op_type == "FP32RMSNorm")
        n_skip = sum(1 for n in patched.graph.node if n.op_type == "FP32SkipLayerNorm")
        kinds = f"{n} FP32LayerNorm" + (f", {n_skip} FP32SkipLayerNorm" if n_skip else "") + (f", {n_rms} FP32RMSNorm" if n_rms else "")
        for o, w, g in zip(orig.graph.output, want, got):
            tol = 1e-2 if w.dtype == np.float16 else 1e-4
            w64, g64 = w.astype(np.float64), g.astype(np.float64)
            same_shape = w.shape == g.shape
            # NaN on both sides (a constant row with epsilon 0) is agreement; on one side, not.
            nan_w, nan_g = np.isnan(w64), np.isnan(g64) if same_shape else np.isnan(w64)
            nan_ok = same_shape and bool(np.array_equal(nan_w, nan_g))
            fin = ~nan_w
            diff = np.abs(w64[fin] - g64[fin]) / np.maximum(1.0, np.abs(w64[fin])) if same_shape else np.array([np.inf])
            err = float(np.max(diff)) if diff.size else 0.0
            ok = err <= tol and w.dtype == g.dtype and same_shape and nan_ok
            bad += not ok
            nans = f", {int(nan_w.sum())} NaN on both sides" if nan_w.any() and nan_ok else ("" if nan_ok else ", NaN on one side only")
            print(f"{'ok  ' if ok else 'FAIL'} {f} ({kinds}): output {o.name} {w.dtype}{list(w.shape)} max rel diff {err:.3g} (tol {tol:g}){nans}")
    print(f"{'all outputs match' if not bad else f'{bad} output(s) differ'}")
    return 1 if bad else 0


def dump(orig_dir, patched_dir, out_dir):
    os.makedirs(out_dir, exist_ok=True)
    index = []
    for f, orig, patched in pairs(orig_dir, patched_dir):
        lns = [n for n in patched.graph.node if n.op_type == "FP32LayerNorm"]
        if not lns:
            continue
        inferred = onnx.shape_inference.infer_shapes(orig)
        types = {v.name: v for v in list(inferred.graph.value_info) + list(inferred.graph.input) + list(inferred.graph.output)}
        m = onnx.ModelProto()
        m.CopyFrom(orig)
        known = {o.name for o in m.graph.output}
        wanted = []
        for n in lns:
            for t in (n.input[0], n.output[0]):
                if t not in known:
                    m.graph.output.append(types[t])
                    known.add(t)
                wanted.append(t)
        names = [o.name for o in m.graph.output]
        sess = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
        vals = dict(zip(names, sess.run(None, feeds(orig))))
        inits = {t.name: numpy_helper.to_array(t) for t in patched.graph.initializer}
        stem = f[: -len(".onnx")]
        for k, n in enumerate(lns):
            attrs = {a.name: helper.get_attribute_value(a) for a in n.attribute}
            rec = {"model": f, "node": n.name, "epsilon": float(attrs["epsilon"]), "axis": int(attrs["axis"]),
                   "output_type": int(attrs.get("output_type", 0))}
            for role, t in (("x", n.input[0]), ("y", n.output[0])):
                a = vals[t]
                rec[f"{role}_dtype"] = {np.dtype(np.float32): "f32", np.dtype(np.float16): "f16"}[a.dtype]
                rec[f"{role}_shape"] = list(a.shape)
                path = f"{stem}.ln{k}.{role}.bin"
                a.tofile(os.path.join(out_dir, path))
                rec[f"{role}_file"] = path
            for role, slot in (("scale", 1), ("bias", 2)):
                if len(n.input) > slot and n.input[slot]:
                    a = inits[n.input[slot]]
                    path = f"{stem}.ln{k}.{role}.bin"
                    a.tofile(os.path.join(out_dir, path))
                    rec[f"{role}_dtype"] = {np.dtype(np.float32): "f32", np.dtype(np.float16): "f16"}[a.dtype]
                    rec[f"{role}_file"] = path
            index.append(rec)
    with open(os.path.join(out_dir, "ln_io.json"), "w") as fh:
        json.dump(index, fh, indent=1)
    total = sum(os.path.getsize(os.path.join(out_dir, p)) for p in os.listdir(out_dir))
    print(f"wrote {len(index)} LayerNorm input/output records to {out_dir} ({total} bytes)")
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "check":
        sys.exit(check(sys.argv[2], sys.argv[3]))
    if len(sys.argv) == 5 and sys.argv[1] == "dump":
        sys.exit(dump(sys.argv[2], sys.argv[3], sys.argv[4]))
    print(__doc__)
    sys.exit(2)
