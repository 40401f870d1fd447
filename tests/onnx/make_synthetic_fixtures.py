#!/usr/bin/env python3
"""Builds the synthetic ONNX fixtures of tests/fixtures/onnx with the `onnx`
helper API (no PyTorch needed).

The PyTorch-style fixtures reproduce node for node what torch.onnx.export
(legacy TorchScript exporter) emits for nn.LayerNorm: at opset < 17 the
decomposition of torch/onnx/symbolic_opset9.py `native_layer_norm`
(ReduceMean, Sub, Pow(Constant 2), ReduceMean, Add(Constant eps), Sqrt, Div,
Mul(weight), Add(bias); fp16 inputs are Cast to float before the statistics
and the normalized value is Cast back before the affine), at opset >= 17 one
LayerNormalization node; node names follow the exporter's `/scope/Op_k`
scheme and initializers are named after the module parameters. Real exporter
output comes from export_fixtures.py, run where PyTorch is installed.

Usage: python3 tests/onnx/make_synthetic_fixtures.py [OUT_DIR]
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

F32, F16 = TensorProto.FLOAT, TensorProto.FLOAT16
RNG = np.random.default_rng(1234)


class Graph:
    def __init__(self, opset):
        self.opset = opset
        self.nodes, self.inits, self.counts = [], [], {}

    def name(self, scope, op):
        key = (scope, op)
        k = self.counts.get(key, 0)
        self.counts[key] = k + 1
        return f"{scope}/{op}" + (f"_{k}" if k else "")

    def op(self, scope, op, inputs, **attrs):
        n = self.name(scope, op)
        out = f"{n}_output_0"
        self.nodes.append(helper.make_node(op, inputs, [out], name=n, **attrs))
        return out

    def const(self, scope, value):
        n = self.name(scope, "Constant")
        out = f"{n}_output_0"
        self.nodes.append(helper.make_node("Constant", [], [out], name=n, value=numpy_helper.from_array(np.asarray(value))))
        return out

    def init(self, name, arr):
        self.inits.append(numpy_helper.from_array(arr, name))
        return name

    def param(self, name, shape, dtype, scale=0.2, offset=0.0):
        return self.init(name, (RNG.standard_normal(shape) * scale + offset).astype(dtype))

    def reduce_mean(self, scope, x, axes):
        if self.opset >= 18:
            a = self.const(scope, np.array(axes, dtype=np.int64))
            return self.op(scope, "ReduceMean", [x, a], keepdims=1)
        return self.op(scope, "ReduceMean", [x], axes=axes, keepdims=1)

    def layer_norm(self, scope, x, prefix, hidden, eps, dtype, decomposed, square="Pow", div="Div", affine=True, axes=(-1,), bias=True):
        w = self.param(f"{prefix}.weight", hidden, dtype, 0.1, 1.0) if affine else None
        b = self.param(f"{prefix}.bias", hidden, dtype, 0.1) if affine and bias else None
        if not decomposed:
            ins = [x, w] + ([b] if b else [])
            return self.op(scope, "LayerNormalization", ins, axis=axes[0] if len(axes) == 1 else -len(axes), epsilon=eps)
        half = dtype == np.float16
        xin = self.op(scope, "Cast", [x], to=F32) if half else x
        mean = self.reduce_mean(scope, xin, list(axes))
        d = self.op(scope, "Sub", [xin, mean])
        sq = self.op(scope, "Pow", [d, self.const(scope, np.array(2.0, np.float32))]) if square == "Pow" else self.op(scope, "Mul", [d, d])
        var = self.reduce_mean(scope, sq, list(axes))
        std = self.op(scope, "Sqrt", [self.op(scope, "Add", [var, self.const(scope, np.array(eps, np.float32))])])
        n = self.op(scope, "Div", [d, std]) if div == "Div" else self.op(scope, "Mul", [d, self.op(scope, "Reciprocal", [std])])
        if half:
            n = self.op(scope, "Cast", [n], to=F16)
        if w:
            n = self.op(scope, "Mul", [n, w])
        if b:
            n = self.op(scope, "Add", [n, b])
        return n

    def linear(self, scope, x, prefix, fin, fout, dtype):
        w = self.param(f"{prefix}.weight", (fin, fout), dtype, 1.0 / np.sqrt(fin))
        b = self.param(f"{prefix}.bias", (fout,), dtype, 0.02)
        return self.op(scope, "Add", [self.op(scope, "MatMul", [x, w]), b])

    def gelu(self, scope, x, dtype):
        t = self.op(scope, "Div", [x, self.const(scope, np.array(np.sqrt(2.0), dtype))])
        e = self.op(scope, "Add", [self.op(scope, "Erf", [t]), self.const(scope, np.array(1.0, dtype))])
        return self.op(scope, "Mul", [self.op(scope, "Mul", [x, e]), self.const(scope, np.array(0.5, dtype))])

    def attention(self, scope, x, prefix, hidden, dtype):
        q = self.linear(f"{scope}/query", x, f"{prefix}.query", hidden, hidden, dtype)
        k = self.linear(f"{scope}/key", x, f"{prefix}.key", hidden, hidden, dtype)
        v = self.linear(f"{scope}/value", x, f"{prefix}.value", hidden, hidden, dtype)
        kt = self.op(scope, "Transpose", [k], perm=[0, 2, 1])
        s = self.op(scope, "Div", [self.op(scope, "MatMul", [q, kt]), self.const(scope, np.array(np.sqrt(hidden), dtype))])
        p = self.op(scope, "Softmax", [s], axis=-1)
        return self.linear(f"{scope}/output", self.op(scope, "MatMul", [p, v]), f"{prefix}.output", hidden, hidden, dtype)

    def model(self, name, inputs, outputs):
        g = helper.make_graph(self.nodes, name, inputs, outputs, self.inits)
        m = helper.make_model(g, producer_name="pytorch", producer_version="2.11.0",
                              opset_imports=[helper.make_opsetid("", self.opset)])
        m.ir_version = 8 if self.opset < 18 else 9
        m.metadata_props.add(key="fixture", value=f"synthetic {name}")
        m = onnx.shape_inference.infer_shapes(m, strict_mode=True)
        onnx.checker.check_model(m, full_check=True)
        return m


def io(name, elem, shape):
    return helper.make_tensor_value_info(name, elem, shape)


def bert(opset, B=2, S=8, H=32):
    g = Graph(opset)
    dec = opset < 17
    x = g.layer_norm("/embeddings/LayerNorm", "input", "embeddings.LayerNorm", H, 1e-12, np.float32, dec)
    a = g.attention("/encoder/layer.0/attention", x, "encoder.layer.0.attention", H, np.float32)
    h = g.layer_norm("/encoder/layer.0/attention/output/LayerNorm", g.op("/encoder/layer.0/attention/output", "Add", [a, x]),
                     "encoder.layer.0.attention.output.LayerNorm", H, 1e-12, np.float32, dec)
    f = g.gelu("/encoder/layer.0/intermediate", g.linear("/encoder/layer.0/intermediate/dense", h, "encoder.layer.0.intermediate.dense", H, 4 * H, np.float32), np.float32)
    f = g.linear("/encoder/layer.0/output/dense", f, "encoder.layer.0.output.dense", 4 * H, H, np.float32)
    out = g.layer_norm("/encoder/layer.0/output/LayerNorm", g.op("/encoder/layer.0/output", "Add", [f, h]),
                       "encoder.layer.0.output.LayerNorm", H, 1e-12, np.float32, dec)
    out = g.op("", "Identity", [out])
    g.nodes[-1].output[0] = "last_hidden_state"
    return g.model(f"bert_block_op{opset}", [io("input", F32, [B, S, H])], [io("last_hidden_state", F32, [B, S, H])])


def gpt2(opset, dtype=np.float32, B=2, S=8, H=32):
    g = Graph(opset)
    dec = opset < 17
    elem = F16 if dtype == np.float16 else F32
    x = "input"
    for i in range(2):
        ln1 = g.layer_norm(f"/h.{i}/ln_1", x, f"h.{i}.ln_1", H, 1e-5, dtype, dec)
        x = g.op(f"/h.{i}", "Add", [x, g.attention(f"/h.{i}/attn", ln1, f"h.{i}.attn", H, dtype)])
        ln2 = g.layer_norm(f"/h.{i}/ln_2", x, f"h.{i}.ln_2", H, 1e-5, dtype, dec)
        m = g.linear(f"/h.{i}/mlp/c_proj", g.gelu(f"/h.{i}/mlp/act", g.linear(f"/h.{i}/mlp/c_fc", ln2, f"h.{i}.mlp.c_fc", H, 4 * H, dtype), dtype),
                     f"h.{i}.mlp.c_proj", 4 * H, H, dtype)
        x = g.op(f"/h.{i}", "Add", [x, m])
    out = g.layer_norm("/ln_f", x, "ln_f", H, 1e-5, dtype, dec)
    g.nodes[-1].output[0] = "logits"
    tag = "_fp16" if dtype == np.float16 else ""
    return g.model(f"gpt2_block{tag}_op{opset}", [io("input", elem, [B, S, H])], [io("logits", elem, [B, S, H])])


def vit(opset, B=2, P=4, C=48, H=32):
    g = Graph(opset)
    dec = opset < 17
    emb = g.linear("/embeddings/patch_embeddings/projection", "pixel_patches", "embeddings.patch_embeddings.projection", C, H, np.float32)
    cls = g.init("embeddings.cls_token", RNG.standard_normal((B, 1, H)).astype(np.float32))
    x = g.op("/embeddings", "Concat", [cls, emb], axis=1)
    x = g.op("/embeddings", "Add", [x, g.param("embeddings.position_embeddings", (1, P + 1, H), np.float32, 0.02)])
    ln = g.layer_norm("/encoder/layer.0/layernorm_before", x, "encoder.layer.0.layernorm_before", H, 1e-6, np.float32, dec)
    x = g.op("/encoder/layer.0", "Add", [g.attention("/encoder/layer.0/attention", ln, "encoder.layer.0.attention", H, np.float32), x])
    ln = g.layer_norm("/encoder/layer.0/layernorm_after", x, "encoder.layer.0.layernorm_after", H, 1e-6, np.float32, dec)
    m = g.linear("/encoder/layer.0/output/dense", g.gelu("/encoder/layer.0/intermediate", g.linear("/encoder/layer.0/intermediate/dense", ln, "encoder.layer.0.intermediate.dense", H, 2 * H, np.float32), np.float32),
                 "encoder.layer.0.output.dense", 2 * H, H, np.float32)
    x = g.op("/encoder/layer.0", "Add", [m, x])
    out = g.layer_norm("/layernorm", x, "layernorm", H, 1e-6, np.float32, dec)
    g.nodes[-1].output[0] = "last_hidden_state"
    return g.model(f"vit_block_op{opset}", [io("pixel_patches", F32, [B, P, C])], [io("last_hidden_state", F32, [B, P + 1, H])])


def variants(B=2, S=4, H=16):
    """Opset 18 (ReduceMean axes as an input) and the decomposition variants."""
    g = Graph(18)
    x = g.layer_norm("/v/ln_mul_recip", "input", "v.ln_mul_recip", H, 1e-5, np.float32, True, square="Mul", div="Recip")
    x = g.op("/v", "Relu", [x])
    x = g.layer_norm("/v/ln_noaffine", x, "v.ln_noaffine", H, 1e-5, np.float32, True, affine=False)
    x = g.op("/v", "Tanh", [x])
    x = g.layer_norm("/v/ln_two_axes", x, "v.ln_two_axes", (S, H), 1e-5, np.float32, True, axes=(-2, -1))
    x = g.op("/v", "Relu", [x])
    x = g.layer_norm("/v/ln_positive_axis", x, "v.ln_positive_axis", H, 1e-6, np.float32, True, axes=(2,))
    x = g.op("/v", "Tanh", [x])
    x = g.layer_norm("/v/ln_scale_only", x, "v.ln_scale_only", H, 1e-5, np.float32, True, bias=False)
    g.nodes[-1].output[0] = "output"
    return g.model("variants_op18", [io("input", F32, [B, S, H])], [io("output", F32, [B, S, H])])


def tf_moments(B=2, S=4, H=16):
    """tf2onnx's rendering of Keras LayerNormalization (tf.nn.moments + batch_normalization)."""
    g = Graph(13)
    nodes = []
    x = "input"
    for k, with_beta in enumerate([True, False]):
        p = f"StatefulPartitionedCall/model/layer_normalization_{k}"
        gamma = g.param(f"{p}/gamma", (H,), np.float32, 0.1, 1.0)
        mean = g.op(f"{p}/moments", "ReduceMean", [x], axes=[-1], keepdims=1)
        d = g.op(f"{p}/moments", "Sub", [x, mean])
        sq = g.op(f"{p}/moments", "Mul", [d, d])
        var = g.op(f"{p}/moments", "ReduceMean", [sq], axes=[-1], keepdims=1)
        add = g.op(f"{p}/batchnorm", "Add", [var, g.const(f"{p}/batchnorm", np.array(1e-3, np.float32))])
        inv = g.op(f"{p}/batchnorm", "Reciprocal", [g.op(f"{p}/batchnorm", "Sqrt", [add])])
        inv = g.op(f"{p}/batchnorm", "Mul", [inv, gamma])
        xm = g.op(f"{p}/batchnorm", "Mul", [x, inv])
        mm = g.op(f"{p}/batchnorm", "Mul", [mean, inv])
        if with_beta:
            beta = g.param(f"{p}/beta", (H,), np.float32, 0.1)
            x = g.op(f"{p}/batchnorm", "Add", [xm, g.op(f"{p}/batchnorm", "Sub", [beta, mm])])
        else:
            x = g.op(f"{p}/batchnorm", "Sub", [xm, mm])
        x = g.op(f"{p}", "Relu", [x])
    g.nodes[-1].output[0] = "output"
    return g.model("tf_moments_op13", [io("input", F32, [B, S, H])], [io("output", F32, [B, S, H])])


def negatives(B=2, S=4, H=16):
    """LayerNorm look-alikes that must not be replaced, and one that must."""
    g = Graph(13)
    # 1. x - mean is also used elsewhere (an extra output): not replaceable.
    s = "/neg/shared"
    mean = g.reduce_mean(s, "input", [-1])
    d = g.op(s, "Sub", ["input", mean])
    var = g.reduce_mean(s, g.op(s, "Pow", [d, g.const(s, np.array(2.0, np.float32))]), [-1])
    y1 = g.op(s, "Div", [d, g.op(s, "Sqrt", [g.op(s, "Add", [var, g.const(s, np.array(1e-5, np.float32))])])])
    centered = g.op(s, "Abs", [d])
    g.nodes[-1].output[0] = "centered"
    # 2. reduction over the sequence axis (axis 1 of [B, S, H]): not trailing.
    y2 = g.layer_norm("/neg/not_trailing", y1, "neg.not_trailing", H, 1e-5, np.float32, True, affine=False, axes=(1,))
    # 3. epsilon is a graph input, not a constant.
    s = "/neg/eps_input"
    mean = g.reduce_mean(s, y2, [-1])
    d = g.op(s, "Sub", [y2, mean])
    var = g.reduce_mean(s, g.op(s, "Pow", [d, g.const(s, np.array(2.0, np.float32))]), [-1])
    y3 = g.op(s, "Div", [d, g.op(s, "Sqrt", [g.op(s, "Add", [var, "eps"])])])
    # 4. RMSNorm (no centring): not a LayerNorm candidate at all.
    s = "/neg/rmsnorm"
    ms = g.reduce_mean(s, g.op(s, "Pow", [y3, g.const(s, np.array(2.0, np.float32))]), [-1])
    y4 = g.op(s, "Div", [y3, g.op(s, "Sqrt", [g.op(s, "Add", [ms, g.const(s, np.array(1e-6, np.float32))])])])
    # 5. A real LayerNorm, replaced.
    y5 = g.layer_norm("/ok/ln", y4, "ok.ln", H, 1e-5, np.float32, True)
    g.nodes[-1].output[0] = "output"
    return g.model("negatives_op13", [io("input", F32, [B, S, H]), io("eps", F32, [])],
                   [io("output", F32, [B, S, H]), io("centered", F32, [B, S, H])])


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "fixtures", "onnx")
    os.makedirs(out, exist_ok=True)
    models = [bert(13), bert(17), gpt2(13), gpt2(17), gpt2(13, np.float16), gpt2(17, np.float16), vit(13), vit(17),
              variants(), tf_moments(), negatives()]
    for m in models:
        path = os.path.join(out, f"synthetic_{m.graph.name}.onnx")
        onnx.save(m, path)
        print(f"{path}: {len(m.graph.node)} nodes, {os.path.getsize(path)} bytes")


if __name__ == "__main__":
    main()
