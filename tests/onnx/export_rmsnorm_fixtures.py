#!/usr/bin/env python3
"""Exports the RMSNorm fixtures of tests/onnx_rmsnorm.rs (issue 12, "More norms")
into OUT_DIR (default tests/fixtures/onnx), as rms_<model>[_fp16]_<exporter>op<N>.onnx:

- rms_llama, rms_qwen2: one transformers decoder layer (LlamaDecoderLayer,
  Qwen2DecoderLayer: input_layernorm, attention, post_attention_layernorm,
  MLP) and the model's final RMSNorm, from tiny configs with random weights:
  3 RMSNorms each. Input: hidden states [2, 8, 32] (no embedding, no mask).
- rms_t5: transformers' T5EncoderModel with one layer, fed inputs_embeds:
  3 T5LayerNorms (self-attention, feed-forward, final).
- rms_gemma: one GemmaDecoderLayer and its final GemmaRMSNorm (3 RMSNorms
  with the `1 + weight` scale), exported without constant folding so the
  `Add(1, weight)` stays in the graph as it does in unfolded exports.
- rms_llama_fp16: the LLaMA block in float16 (Cast to float around the
  statistics and back before the weight).
- rms_torch_nn: torch.nn.RMSNorm (F.rms_norm) with and without a weight and
  with the default epsilon (None = finfo(float32).eps), around a Linear: 2 RMSNorms.

Each is exported with the legacy TorchScript exporter at opsets 13 and 17
(`_op13`, `_op17`) and with the dynamo exporter at its default opset
(`_dynamo_opN`); and `rms_torch_nn_dynamo_op23` asks the dynamo exporter
for opset 23 (where torch writes ONNX RMSNormalization). Finally
rms_native_op23.onnx is written by hand with onnx.helper: RMSNormalization
nodes with the default attributes, axis=-2 with a 2-D scale, float16 X and
scale, and two that must be refused (stash_type double; a scale of the wrong
shape); and rms_forms_op18.onnx, also by hand: Mul(x, x) with Pow(·, -0.5),
Div(x, Sqrt(·)) over two axes, Gemma's 1 + w with w a graph input on a
float16 X with no Cast back (output_type 1), and three look-alikes to refuse
(epsilon folded away, Add(ms, 0), a reduction not over the trailing axes).

Needs torch, transformers, onnx, onnxscript (dynamo), numpy; CPU only:

    python3 tests/onnx/export_rmsnorm_fixtures.py [OUT_DIR]
"""
import os
import sys
import warnings

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper, numpy_helper
from torch import nn

warnings.filterwarnings("ignore")
torch.manual_seed(0)
H = 32
TINY = dict(hidden_size=H, intermediate_size=64, num_hidden_layers=1, num_attention_heads=4, num_key_value_heads=2, vocab_size=64)


def randomize_norms(m, offset=1.0):
    # Non-trivial weights, so the scale is exercised (HF initialises them to
    # 1; Gemma's to 0, its scale being 1 + weight).
    with torch.no_grad():
        for name, p in m.named_parameters():
            if "norm" in name:
                p.copy_(offset + 0.1 * torch.randn_like(p))
    return m


class DecoderBlock(nn.Module):
    """A transformers decoder layer (with its rotary embedding) and the final norm."""

    def __init__(self, layer, rotary, norm):
        super().__init__()
        self.layer, self.rotary, self.norm = layer, rotary, norm

    def forward(self, hidden_states):
        position_ids = torch.arange(hidden_states.shape[1]).unsqueeze(0)
        pe = self.rotary(hidden_states, position_ids)
        h = self.layer(hidden_states, attention_mask=None, position_embeddings=pe)
        if isinstance(h, tuple):
            h = h[0]
        return self.norm(h)


def decoder_block(family):
    if family == "llama":
        from transformers import LlamaConfig as C
        from transformers.models.llama import modeling_llama as M

        cfg = C(**TINY, attn_implementation="eager")
        return DecoderBlock(M.LlamaDecoderLayer(cfg, 0), M.LlamaRotaryEmbedding(cfg), M.LlamaRMSNorm(H, eps=cfg.rms_norm_eps))
    if family == "qwen2":
        from transformers import Qwen2Config as C
        from transformers.models.qwen2 import modeling_qwen2 as M

        cfg = C(**TINY, attn_implementation="eager")
        return DecoderBlock(M.Qwen2DecoderLayer(cfg, 0), M.Qwen2RotaryEmbedding(cfg), M.Qwen2RMSNorm(H, eps=cfg.rms_norm_eps))
    if family == "gemma":
        from transformers import GemmaConfig as C
        from transformers.models.gemma import modeling_gemma as M

        cfg = C(**TINY, head_dim=8, attn_implementation="eager")
        return DecoderBlock(M.GemmaDecoderLayer(cfg, 0), M.GemmaRotaryEmbedding(cfg), M.GemmaRMSNorm(H, eps=cfg.rms_norm_eps))
    raise ValueError(family)


class T5Encoder(nn.Module):
    def __init__(self):
        super().__init__()
        from transformers import T5Config, T5EncoderModel

        cfg = T5Config(vocab_size=64, d_model=H, d_kv=8, d_ff=64, num_layers=1, num_heads=4, relative_attention_num_buckets=8,
                       attn_implementation="eager")
        self.m = T5EncoderModel(cfg)

    def forward(self, inputs_embeds):
        return self.m(inputs_embeds=inputs_embeds).last_hidden_state


class TorchRMSNormBlock(nn.Module):
    """torch.nn.RMSNorm as a model uses it: with a weight, without, default eps."""

    def __init__(self):
        super().__init__()
        self.norm_in = nn.RMSNorm(H, eps=1e-6)
        self.proj = nn.Linear(H, H)
        self.norm_out = nn.RMSNorm(H, elementwise_affine=False)

    def forward(self, x):
        return self.norm_out(torch.relu(self.proj(self.norm_in(x))))


def export(model, example, path, in_name, out_name, opset=None, dynamo=False, fold=True):
    model.eval()
    try:
        if dynamo:
            kwargs = dict(opset_version=opset) if opset else {}
            torch.onnx.export(model, (example,), path, dynamo=True, input_names=[in_name], output_names=[out_name], external_data=False, **kwargs)
        else:
            torch.onnx.export(model, (example,), path, dynamo=False, opset_version=opset, input_names=[in_name],
                              output_names=[out_name], do_constant_folding=fold)
    except Exception as e:  # report and go on: each fixture stands alone
        print(f"{path}: FAILED: {type(e).__name__}: {str(e).splitlines()[0][:300]}")
        return None
    m = onnx.load(path)
    version = next(o.version for o in m.opset_import if o.domain in ("", "ai.onnx"))
    if dynamo:
        final = path.replace("_dynamo.onnx", f"_dynamo_op{version}.onnx")
        os.replace(path, final)
        path = final
    ops = [n.op_type for n in m.graph.node]
    print(f"{path}: {os.path.getsize(path)} bytes, opset {version}, {len(ops)} nodes, "
          f"{ops.count('ReduceMean')} ReduceMean, {ops.count('RMSNormalization')} RMSNormalization")
    return path


def native_op23(path):
    """ONNX RMSNormalization (opset 23) written with onnx.helper."""
    rng = np.random.default_rng(23)

    def w(name, shape, dtype=np.float32):
        return numpy_helper.from_array((1.0 + 0.1 * rng.standard_normal(shape)).astype(dtype), name)

    nodes = [
        # defaults: axis -1, epsilon 1e-5, stash_type 1
        helper.make_node("RMSNormalization", ["x", "n1.weight"], ["n1_out"], name="/n1/RMSNormalization"),
        helper.make_node("Relu", ["n1_out"], ["r1"], name="/act1/Relu"),
        # over the last two axes, explicit attributes
        helper.make_node("RMSNormalization", ["r1", "n2.weight"], ["n2_out"], name="/n2/RMSNormalization", axis=-2, epsilon=1e-6, stash_type=1),
        # float16 X and scale
        helper.make_node("Cast", ["n2_out"], ["h16"], name="/to16/Cast", to=TensorProto.FLOAT16),
        helper.make_node("RMSNormalization", ["h16", "n3.weight"], ["n3_out"], name="/n3/RMSNormalization", epsilon=1e-6),
        helper.make_node("Cast", ["n3_out"], ["h32"], name="/to32/Cast", to=TensorProto.FLOAT),
        # refused: statistics asked in double
        helper.make_node("RMSNormalization", ["h32", "n4.weight"], ["n4_out"], name="/n4/RMSNormalization", stash_type=11),
        # refused: a scale over two axes for a norm over one
        helper.make_node("RMSNormalization", ["n4_out", "n5.weight"], ["output"], name="/n5/RMSNormalization"),
    ]
    inits = [w("n1.weight", [H]), w("n2.weight", [8, H]), w("n3.weight", [H], np.float16), w("n4.weight", [H]), w("n5.weight", [8, H])]
    g = helper.make_graph(nodes, "rms_native_op23", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 8, H])],
                          [helper.make_tensor_value_info("output", TensorProto.FLOAT, [2, 8, H])], inits)
    m = helper.make_model(g, producer_name="onnx.helper", opset_imports=[helper.make_opsetid("", 23)])
    m.ir_version = 11
    m.metadata_props.add(key="fixture", value="hand-written rms_native_op23")
    m = onnx.shape_inference.infer_shapes(m, strict_mode=True)
    onnx.checker.check_model(m, full_check=True)
    onnx.save(m, path)
    print(f"{path}: {os.path.getsize(path)} bytes, opset 23, {len(nodes)} nodes (hand-written)")
    return path


def forms_op18(path):
    """The decomposed forms no exporter above wrote, and look-alikes to refuse
    (helper API, PyTorch-style names; ReduceMean axes as an input)."""
    sys.path.insert(0, os.path.dirname(__file__))
    from make_synthetic_fixtures import F16, F32, Graph, io

    g = Graph(18)
    f32 = lambda v: np.array(v, np.float32)  # noqa: E731

    def mean_sq(s, x, square="Pow", axes=(-1,)):
        sq = g.op(s, "Pow", [x, g.const(s, f32(2.0))]) if square == "Pow" else g.op(s, "Mul", [x, x])
        return g.reduce_mean(s, sq, list(axes))

    # 1. Mul(x, x), Pow(·, -0.5), Mul(x, ·), Mul(·, weight): replaced.
    s = "/pow_half"
    r = g.op(s, "Pow", [g.op(s, "Add", [mean_sq(s, "input", "Mul"), g.const(s, f32(1e-6))]), g.const(s, f32(-0.5))])
    y = g.op(s, "Mul", [g.op(s, "Mul", ["input", r]), g.param("pow_half.weight", H, np.float32, 0.1, 1.0)])
    # 2. Div(x, Sqrt(ms + eps)) over the last two axes, a [8, H] weight: replaced (axis -2).
    s = "/div_2d"
    d = g.op(s, "Div", [y, g.op(s, "Sqrt", [g.op(s, "Add", [mean_sq(s, y, axes=(-2, -1)), g.const(s, f32(1e-5))])])])
    y = g.op(s, "Mul", [g.param("div_2d.weight", (8, H), np.float32, 0.1, 1.0), d])
    # 3. Epsilon folded away: Sqrt(ms) with no Add: refused.
    s = "/folded"
    y = g.op(s, "Div", [y, g.op(s, "Sqrt", [mean_sq(s, y)])])
    # 4. Add(ms, 0): refused.
    s = "/zero"
    y = g.op(s, "Div", [y, g.op(s, "Sqrt", [g.op(s, "Add", [mean_sq(s, y), g.const(s, f32(0.0))])])])
    # 5. Not over the trailing axes: refused.
    s = "/not_trailing"
    y = g.op(s, "Div", [y, g.op(s, "Sqrt", [g.op(s, "Add", [mean_sq(s, y, axes=(1,)), g.const(s, f32(1e-6))])])])
    # 6. float16 X cast to float, Gemma's 1 + w with w a graph input (not a
    #    constant: the Add stays and is the Scale), no Cast back: replaced,
    #    output_type = 1.
    s = "/gemma_fp16"
    x16 = g.op(s, "Cast", [g.op("/to16", "Cast", [y], to=F16)], to=F32)
    r = g.op(s, "Reciprocal", [g.op(s, "Sqrt", [g.op(s, "Add", [mean_sq(s, x16), g.const(s, f32(1e-6))])])])
    scale = g.op(s, "Add", [g.const(s, f32(1.0)), "gemma.weight"])
    y = g.op(s, "Mul", [g.op(s, "Mul", [x16, r]), scale])
    g.nodes[-1].output[0] = "output"
    m = g.model("rms_forms_op18", [io("input", F32, [2, 8, H]), io("gemma.weight", F32, [H])], [io("output", F32, [2, 8, H])])
    m.graph.name = "rms_forms_op18"
    onnx.save(m, path)
    print(f"{path}: {os.path.getsize(path)} bytes, opset 18, {len(m.graph.node)} nodes (hand-written)")
    return path


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "fixtures", "onnx")
    os.makedirs(out, exist_ok=True)
    x = torch.randn(2, 8, H)
    made = []
    models = [
        ("rms_llama", lambda: randomize_norms(decoder_block("llama")), x, True),
        ("rms_qwen2", lambda: randomize_norms(decoder_block("qwen2")), x, True),
        ("rms_t5", lambda: randomize_norms(T5Encoder()), x, True),
        ("rms_gemma", lambda: randomize_norms(decoder_block("gemma"), offset=0.0), x, False),
        ("rms_torch_nn", lambda: randomize_norms(TorchRMSNormBlock()), x, True),
        ("rms_llama_fp16", lambda: randomize_norms(decoder_block("llama")).half(), x.half(), True),
    ]
    for stem, make, example, fold in models:
        for opset in (13, 17):
            torch.manual_seed(opset)
            made.append(export(make(), example, f"{out}/{stem}_op{opset}.onnx", "hidden_states", "output", opset=opset, fold=fold))
        torch.manual_seed(18)
        made.append(export(make(), example, f"{out}/{stem}_dynamo.onnx", "hidden_states", "output", dynamo=True))
    torch.manual_seed(23)
    made.append(export(randomize_norms(TorchRMSNormBlock()), x, f"{out}/rms_torch_nn_dynamo.onnx", "hidden_states", "output", opset=23, dynamo=True))
    made.append(native_op23(f"{out}/rms_native_op23.onnx"))
    made.append(forms_op18(f"{out}/rms_forms_op18.onnx"))
    failed = sum(p is None for p in made)
    print(f"{len(made) - failed} fixtures written, {failed} failed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
