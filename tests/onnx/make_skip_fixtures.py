#!/usr/bin/env python3
"""Builds the residual-Add fixtures of tests/onnx_skip.rs (`patch` fusing the
Add before a LayerNorm into one FP32SkipLayerNorm node), with the `onnx`
helper API and make_synthetic_fixtures.py's PyTorch-style node naming:

- skip_preln_op17.onnx: a pre-LN (GPT-2-style) layer with native
  LayerNormalization: ln_1 on the input; r1 = Add(input, attention) where the
  attention ends in a Linear (Add(MatMul, bias): the three-term form), r1 read
  by ln_2, by the next residual and by a Relu placed right after it (a graph
  output `side`); r2 = Add(r1, MatMul) (a bias-less Linear: two terms), read
  by ln_f and a graph output `residual`. 3 LayerNorms, 2 fused, both keeping
  the sum (sum_output = 1).
- skip_bert_op13.onnx: a post-LN (BERT-style) block, decomposed LayerNorms:
  embeddings LN on the input; LN(Add(dense(attention) + bias, e)) with scale
  and bias; LN(Add(dense + bias, h)) without affine (the fused node gets a
  scale of ones and a bias of zeros); LN(Add(h2, dense + bias)) with a scale
  only (a bias of zeros). 4 LayerNorms, 3 fused (three terms each).
- skip_broadcast_op17.onnx: LN(Add(x, pos)) with pos [1, S, H] and
  LN(Add(y, bias)) with bias [H]: broadcasting, refused (2 LayerNorms).
- skip_cast_between_op17.onnx: Add in float16, Cast to float32, LN in
  float32; and Add in float32, Cast to float16, LN in float16: refused.
  (The float16 Add is x16 + x16, exact: ONNX Runtime's CPU provider skips
  the float16 rounding of an Add followed by a Cast to float32.)
- skip_dim_param_op17.onnx: inputs with a symbolic batch size: Add(x, y),
  both ["batch", S, H], fused (one dim_param, one size); then Add(·, z) with
  z ["n", S, H], refused (not proven equal). Shapes from onnx's inference.
- skip_type_mismatch_op17.onnx: Add(x float32, y float16) before a float32
  LN, as a converter bug might leave it (not a valid ONNX model: ONNX Runtime
  refuses it; `patch` must not fuse it). Not run through ONNX Runtime.

Usage: python3 tests/onnx/make_skip_fixtures.py [OUT_DIR]   (needs numpy, onnx)
"""
import os
import sys

import numpy as np
import onnx
from onnx import helper

sys.path.insert(0, os.path.dirname(__file__))
from make_synthetic_fixtures import F16, F32, Graph, io  # noqa: E402

B, S, H = 2, 8, 32


def preln():
    g = Graph(17)
    ln1 = g.layer_norm("/h.0/ln_1", "input", "h.0.ln_1", H, 1e-5, np.float32, False)
    r1 = g.op("/h.0", "Add", ["input", g.attention("/h.0/attn", ln1, "h.0.attn", H, np.float32)])
    side = g.op("/h.0/side", "Relu", [r1])
    g.nodes[-1].output[0] = "side"
    ln2 = g.layer_norm("/h.0/ln_2", r1, "h.0.ln_2", H, 1e-5, np.float32, False)
    m = g.gelu("/h.0/mlp/act", g.linear("/h.0/mlp/c_fc", ln2, "h.0.mlp.c_fc", H, 2 * H, np.float32), np.float32)
    m = g.op("/h.0/mlp/c_proj", "MatMul", [m, g.param("h.0.mlp.c_proj.weight", (2 * H, H), np.float32, 1.0 / np.sqrt(2 * H))])
    r2 = g.op("/h.0", "Add", [r1, m])
    g.nodes[-1].output[0] = "residual"
    g.layer_norm("/ln_f", "residual", "ln_f", H, 1e-5, np.float32, False)
    g.nodes[-1].output[0] = "output"
    del side, r2
    return g.model("skip_preln_op17", [io("input", F32, [B, S, H])],
                   [io("output", F32, [B, S, H]), io("residual", F32, [B, S, H]), io("side", F32, [B, S, H])])


def bert():
    g = Graph(13)
    e = g.layer_norm("/embeddings/LayerNorm", "input", "embeddings.LayerNorm", H, 1e-12, np.float32, True)
    a = g.attention("/encoder/layer.0/attention", e, "encoder.layer.0.attention", H, np.float32)
    h = g.layer_norm("/encoder/layer.0/attention/output/LayerNorm", g.op("/encoder/layer.0/attention/output", "Add", [a, e]),
                     "encoder.layer.0.attention.output.LayerNorm", H, 1e-12, np.float32, True)
    f = g.gelu("/encoder/layer.0/intermediate", g.linear("/encoder/layer.0/intermediate/dense", h, "encoder.layer.0.intermediate.dense", H, 2 * H, np.float32), np.float32)
    f = g.linear("/encoder/layer.0/output/dense", f, "encoder.layer.0.output.dense", 2 * H, H, np.float32)
    h2 = g.layer_norm("/encoder/layer.0/output/LayerNorm", g.op("/encoder/layer.0/output", "Add", [f, h]),
                      "encoder.layer.0.output.LayerNorm", H, 1e-12, np.float32, True, affine=False)
    f2 = g.linear("/head/dense", h2, "head.dense", H, H, np.float32)
    g.layer_norm("/head/LayerNorm", g.op("/head", "Add", [h2, f2]), "head.LayerNorm", H, 1e-12, np.float32, True, bias=False)
    g.nodes[-1].output[0] = "last_hidden_state"
    return g.model("skip_bert_op13", [io("input", F32, [B, S, H])], [io("last_hidden_state", F32, [B, S, H])])


def broadcast():
    g = Graph(17)
    x = g.op("/embeddings", "Add", ["input", g.param("embeddings.position_embeddings", (1, S, H), np.float32, 0.02)])
    x = g.layer_norm("/embeddings/LayerNorm", x, "embeddings.LayerNorm", H, 1e-12, np.float32, False)
    x = g.op("/dense", "MatMul", [x, g.param("dense.weight", (H, H), np.float32, 1.0 / np.sqrt(H))])
    x = g.op("/dense", "Add", [x, g.param("dense.bias", (H,), np.float32, 0.02)])
    g.layer_norm("/LayerNorm", x, "LayerNorm", H, 1e-5, np.float32, False)
    g.nodes[-1].output[0] = "output"
    return g.model("skip_broadcast_op17", [io("input", F32, [B, S, H])], [io("output", F32, [B, S, H])])


def cast_between():
    g = Graph(17)
    # x16 + x16 (exact in float16): ONNX Runtime's CPU provider computes a float16
    # Add followed by a Cast to float32 in float32, skipping the float16 rounding
    # ONNX asks for, so a sum that rounds would differ from the reference evaluator.
    s16 = g.op("/a", "Add", ["x16", "x16"])
    g.layer_norm("/a/LayerNorm", g.op("/a", "Cast", [s16], to=F32), "a.LayerNorm", H, 1e-5, np.float32, False)
    g.nodes[-1].output[0] = "out32"
    s32 = g.op("/b", "Add", ["x32", "y32"])
    g.layer_norm("/b/LayerNorm", g.op("/b", "Cast", [s32], to=F16), "b.LayerNorm", H, 1e-5, np.float16, False)
    g.nodes[-1].output[0] = "out16"
    return g.model("skip_cast_between_op17",
                   [io("x16", F16, [B, S, H]), io("x32", F32, [B, S, H]), io("y32", F32, [B, S, H])],
                   [io("out32", F32, [B, S, H]), io("out16", F16, [B, S, H])])


def dim_param():
    g = Graph(17)
    y1 = g.layer_norm("/ln_1", g.op("/res_1", "Add", ["x", "y"]), "ln_1", H, 1e-5, np.float32, False)
    g.layer_norm("/ln_2", g.op("/res_2", "Add", [y1, "z"]), "ln_2", H, 1e-5, np.float32, False)
    g.nodes[-1].output[0] = "output"
    return g.model("skip_dim_param_op17", [io("x", F32, ["batch", S, H]), io("y", F32, ["batch", S, H]), io("z", F32, ["n", S, H])],
                   [io("output", F32, ["n", S, H])])


def type_mismatch():
    g = Graph(17)
    g.layer_norm("/ln", g.op("/res", "Add", ["x", "y"]), "ln", H, 1e-5, np.float32, False)
    g.nodes[-1].output[0] = "output"
    gr = helper.make_graph(g.nodes, "skip_type_mismatch_op17", [io("x", F32, [B, S, H]), io("y", F16, [B, S, H])],
                           [io("output", F32, [B, S, H])], g.inits)
    m = helper.make_model(gr, producer_name="pytorch", producer_version="2.11.0", opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    m.metadata_props.add(key="fixture", value="synthetic skip_type_mismatch_op17 (Add of float32 and float16: invalid on purpose)")
    onnx.checker.check_model(m)  # structure only: the types are wrong on purpose
    return m


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "fixtures", "onnx")
    os.makedirs(out, exist_ok=True)
    for m in [preln(), bert(), broadcast(), cast_between(), dim_param(), type_mismatch()]:
        path = os.path.join(out, f"{m.graph.name}.onnx")
        onnx.save(m, path)
        print(f"{path}: {len(m.graph.node)} nodes, {os.path.getsize(path)} bytes")


if __name__ == "__main__":
    main()
