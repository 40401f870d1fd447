#!/usr/bin/env python3
"""Builds the fixtures of the LayerNorm forms `patch` learned in issue 12,
item 6 (tests/onnx_forms.rs checks them):

- synthetic_torch_rsqrt_op13.onnx: `(x - mean) * torch.rsqrt(var + eps)` as the
  TorchScript exporter writes it: torch/onnx/symbolic_opset9.py `rsqrt` is
  `Div(Constant(torch.ones(1)), Sqrt(·))`, then `Mul(x - mean, ·)` (either
  operand order); one with the affine, one without.
- synthetic_eps_folded_op13.onnx: LayerNorms with epsilon 0, replaced with
  epsilon = 0 since the plugins take it: `Sqrt(var)` with no `Add` (an
  optimizer folded a zero epsilon away) and `Add(var, 0)`; plus one ordinary
  LayerNorm.
- synthetic_rank_inferred_op13.onnx: no value_info at all, graph input with
  a symbolic batch size; LayerNorms with positive ReduceMean axes behind MatMul,
  Add, Reshape (constant shape), Transpose, Cast and Relu, so their rank is
  known only by inference.
- onnx_ln_function_op17.onnx, onnx_ln_function_fp16_op18.onnx: ONNX's own
  function body of LayerNormalization, as `onnx.inliner` writes it
  (`inline_selected_functions(..., inline_schema_functions=True)`): Flatten,
  Cast to the stash type, ReduceMean(x), ReduceMean(x*x) - mean*mean, Add(eps),
  Sqrt, Div, Cast back, Mul(Flatten(Scale)), Add(Flatten(B)) or Identity,
  Reshape(·, Shape(X)), plus the unused shape and Reciprocal nodes of the
  Mean/InvStdDev outputs.
- synthetic_eps0_rows_op13.onnx: epsilon-0 norms on an input whose rows at
  sequence position 0 are all zero (Mul by a mask): a LayerNorm with
  `Sqrt(var)` and no `Add`, one with `Add(var, 0)`, and an RMSNorm
  `x / Sqrt(mean(x^2))`; on those rows the graph computes 0/0 = NaN, and so
  must the plugins (tests/onnx_forms.rs, ONNX Runtime check).
- onnx_ln_function_stash64_op17.onnx: the function body of a
  LayerNormalization with stash_type = 11 (its statistics in float64), as
  `onnx.inliner` writes it: refused as the native node is.

Usage: python3 tests/onnx/make_more_forms_fixtures.py [OUT_DIR]   (needs numpy, onnx >= 1.16)
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, inliner, numpy_helper

sys.path.insert(0, os.path.dirname(__file__))
from make_synthetic_fixtures import F16, F32, Graph, io  # noqa: E402


def torch_rsqrt(g, scope, x, prefix, hidden, eps, affine=True, mul_order=("d", "r")):
    """nn-style LayerNorm written with torch.rsqrt, legacy exporter at opset 13."""
    mean = g.reduce_mean(scope, x, [-1])
    d = g.op(scope, "Sub", [x, mean])
    var = g.reduce_mean(scope, g.op(scope, "Pow", [d, g.const(scope, np.array(2.0, np.float32))]), [-1])
    s = g.op(scope, "Sqrt", [g.op(scope, "Add", [var, g.const(scope, np.array(eps, np.float32))])])
    r = g.op(scope, "Div", [g.const(scope, np.ones(1, np.float32)), s])
    n = g.op(scope, "Mul", [d, r] if mul_order == ("d", "r") else [r, d])
    if affine:
        n = g.op(scope, "Mul", [n, g.param(f"{prefix}.weight", hidden, np.float32, 0.1, 1.0)])
        n = g.op(scope, "Add", [n, g.param(f"{prefix}.bias", hidden, np.float32, 0.1)])
    return n


def rsqrt_model(B=2, S=4, H=16):
    g = Graph(13)
    x = torch_rsqrt(g, "/ln_a", "input", "ln_a", H, 1e-5)
    x = g.op("/act", "Tanh", [x])
    x = torch_rsqrt(g, "/ln_b", x, "ln_b", H, 1e-6, affine=False, mul_order=("r", "d"))
    g.nodes[-1].output[0] = "output"
    return g.model("torch_rsqrt_op13", [io("input", F32, [B, S, H])], [io("output", F32, [B, S, H])])


def eps_folded_model(B=2, S=4, H=16):
    g = Graph(13)
    # 1. Sqrt(var): an optimizer folded epsilon 0 away.
    s = "/folded"
    mean = g.reduce_mean(s, "input", [-1])
    d = g.op(s, "Sub", ["input", mean])
    var = g.reduce_mean(s, g.op(s, "Pow", [d, g.const(s, np.array(2.0, np.float32))]), [-1])
    y = g.op(s, "Div", [d, g.op(s, "Sqrt", [var])])
    y = g.op(s, "Add", [g.op(s, "Mul", [y, g.param("folded.weight", H, np.float32, 0.1, 1.0)]), g.param("folded.bias", H, np.float32, 0.1)])
    y = g.op("/act", "Relu", [y])
    # 2. Add(var, 0): epsilon 0 written out.
    y = g.layer_norm("/zero", y, "zero", H, 0.0, np.float32, True)
    y = g.op("/act", "Tanh", [y])
    # 3. An ordinary LayerNorm, replaced.
    y = g.layer_norm("/ok", y, "ok", H, 1e-5, np.float32, True)
    g.nodes[-1].output[0] = "output"
    return g.model("eps_folded_op13", [io("input", F32, [B, S, H])], [io("output", F32, [B, S, H])])


def rank_inferred_model(S=4, H=16):
    """Ranks known only through the ops: no value_info, a symbolic batch size."""
    g = Graph(13)
    h = g.op("/proj", "Add", [g.op("/proj", "MatMul", ["input", g.param("proj.weight", (H, 2 * H), np.float32, 0.2)]),
                               g.param("proj.bias", (2 * H,), np.float32, 0.02)])
    # [B, S, 2H] -> [B, S, 2, H] -> [B, 2, S, H]
    h = g.op("/split", "Reshape", [h, g.const("/split", np.array([0, 0, 2, H], np.int64))])
    h = g.op("/split", "Transpose", [h], perm=[0, 2, 1, 3])
    # LayerNorm over axis 3 (positive, as some exporters write it) of a rank-4 tensor.
    h = g.layer_norm("/ln_pos", h, "ln_pos", H, 1e-5, np.float32, True, axes=(3,))
    h = g.op("/act", "Relu", [h])
    # Over the last two axes, [2] and [3].
    h = g.layer_norm("/ln_two", h, "ln_two", (S, H), 1e-5, np.float32, True, axes=(2, 3))
    h = g.op("/merge", "Cast", [h], to=F32)
    h = g.op("/merge", "Reshape", [g.op("/merge", "Transpose", [h], perm=[0, 2, 1, 3]), g.const("/merge", np.array([0, 0, -1], np.int64))])
    # Native LayerNormalization would be opset 17; at 13 a decomposed one with axes [2] of the rank-3 result.
    h = g.layer_norm("/ln_out", h, "ln_out", 2 * H, 1e-5, np.float32, True, axes=(2,))
    g.nodes[-1].output[0] = "output"
    gr = helper.make_graph(g.nodes, "rank_inferred_op13", [io("input", F32, ["batch", S, H])], [io("output", F32, ["batch", S, 2 * H])], g.inits)
    m = helper.make_model(gr, producer_name="pytorch", producer_version="2.11.0", opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    m.metadata_props.add(key="fixture", value="synthetic rank_inferred_op13 (no value_info on purpose)")
    onnx.checker.check_model(m)
    return m


def ln_function_model(opset, dtype, B=2, S=4, H=16, stash_type=None):
    """LayerNormalization nodes inlined into ONNX's function body by onnx.inliner."""
    npd = np.float16 if dtype == F16 else np.float32
    rng = np.random.default_rng(7)
    inits, nodes = [], []

    def param(name, shape, scale, offset=0.0):
        inits.append(numpy_helper.from_array((rng.standard_normal(shape) * scale + offset).astype(npd), name))
        return name

    # axis -1 with bias; axis 1 (positive, normalizing [S, H]) without bias.
    nodes.append(helper.make_node("LayerNormalization", ["input", param("ln_1.weight", (H,), 0.1, 1.0), param("ln_1.bias", (H,), 0.1)],
                                  ["ln_1_out"], name="/ln_1/LayerNormalization", axis=-1, epsilon=1e-5))
    nodes.append(helper.make_node("Relu", ["ln_1_out"], ["act_out"], name="/act/Relu"))
    nodes.append(helper.make_node("LayerNormalization", ["act_out", param("ln_2.weight", (S, H), 0.1, 1.0)],
                                  ["output"], name="/ln_2/LayerNormalization", axis=1, epsilon=1e-6))
    tag = ("_fp16" if dtype == F16 else "") + ("" if stash_type is None else f"_stash{ {11: 64, 10: 16}[stash_type]}")
    g = helper.make_graph(nodes, f"ln_function{tag}_op{opset}",
                          [io("input", dtype, [B, S, H])], [io("output", dtype, [B, S, H])], inits)
    # The inliner needs the initializers' types.
    g.value_info.extend(helper.make_tensor_value_info(t.name, dtype, list(t.dims)) for t in inits)
    m = helper.make_model(g, producer_name="onnx.inliner", opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8 if opset < 18 else 9
    m = onnx.shape_inference.infer_shapes(m, strict_mode=True)
    m = inliner.inline_selected_functions(m, [("", "LayerNormalization")], inline_schema_functions=True)
    assert not any(n.op_type == "LayerNormalization" for n in m.graph.node), "inliner left LayerNormalization"
    how = f"LayerNormalization inlined by onnx {onnx.__version__} inline_selected_functions"
    if stash_type is not None:
        # onnx builds no function body for a stash_type other than 1: write the
        # body of the first node as it would be, its Casts to the stash type
        # (of Flatten(X) and of epsilon) to `stash_type`.
        casts = [n for n in m.graph.node if n.op_type == "Cast" and n.output[0] in ("XU__1", "Epsilon__1")]
        assert len(casts) == 2, [n.output for n in casts]
        for n in casts:
            next(a for a in n.attribute if a.name == "to").i = stash_type
        del m.graph.value_info[:]
        m = onnx.shape_inference.infer_shapes(m, strict_mode=True)
        how += f", then its first body's stash-type Casts set to {stash_type} by hand"
    m.metadata_props.add(key="fixture", value=how)
    onnx.checker.check_model(m, full_check=True)
    return m


def eps0_rows_model(B=2, S=4, H=16):
    """Epsilon-0 norms on rows of zeros: NaN in the graph and in the plugins."""
    g = Graph(13)
    mask = np.ones((1, S, 1), np.float32)
    mask[0, 0, 0] = 0.0
    x = g.op("/mask", "Mul", ["input", g.init("mask", mask)])
    # LayerNorm, Sqrt(var) with no Add.
    s = "/ln_folded"
    mean = g.reduce_mean(s, x, [-1])
    d = g.op(s, "Sub", [x, mean])
    var = g.reduce_mean(s, g.op(s, "Pow", [d, g.const(s, np.array(2.0, np.float32))]), [-1])
    y = g.op(s, "Div", [d, g.op(s, "Sqrt", [var])])
    g.op(s, "Add", [g.op(s, "Mul", [y, g.param("ln_folded.weight", H, np.float32, 0.1, 1.0)]), g.param("ln_folded.bias", H, np.float32, 0.1)])
    g.nodes[-1].output[0] = "out_ln_folded"
    # LayerNorm, Add(var, 0).
    g.layer_norm("/ln_zero", x, "ln_zero", H, 0.0, np.float32, True)
    g.nodes[-1].output[0] = "out_ln_zero"
    # RMSNorm, x / Sqrt(mean(x^2)) with a weight.
    s = "/rms_folded"
    ms = g.reduce_mean(s, g.op(s, "Pow", [x, g.const(s, np.array(2.0, np.float32))]), [-1])
    g.op(s, "Mul", [g.op(s, "Div", [x, g.op(s, "Sqrt", [ms])]), g.param("rms_folded.weight", H, np.float32, 0.1, 1.0)])
    g.nodes[-1].output[0] = "out_rms_folded"
    outs = [io(n, F32, [B, S, H]) for n in ("out_ln_folded", "out_ln_zero", "out_rms_folded")]
    return g.model("eps0_rows_op13", [io("input", F32, [B, S, H])], outs)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "fixtures", "onnx")
    os.makedirs(out, exist_ok=True)
    models = [("synthetic_", rsqrt_model()), ("synthetic_", eps_folded_model()), ("synthetic_", rank_inferred_model()),
              ("onnx_", ln_function_model(17, F32)), ("onnx_", ln_function_model(18, F16)),
              # Added later (after the others, so their random weights stay as they were).
              ("synthetic_", eps0_rows_model()), ("onnx_", ln_function_model(17, F32, stash_type=11))]
    for prefix, m in models:
        path = os.path.join(out, f"{prefix}{m.graph.name}.onnx")
        onnx.save(m, path)
        print(f"{path}: {len(m.graph.node)} nodes, {os.path.getsize(path)} bytes")


if __name__ == "__main__":
    main()
