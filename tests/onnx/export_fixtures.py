#!/usr/bin/env python3
"""Exports small BERT-, GPT-2- and ViT-style blocks with PyTorch's legacy
(TorchScript) ONNX exporter at opset 13 (LayerNorm decomposed into
ReduceMean/Sub/Pow/...) and opset 17 (LayerNormalization), plus GPT-2 with
fp16 weights, into OUT_DIR as torch_<arch>[_fp16]_op<N>.onnx.

Needs only torch (no onnx package, no network). Run it where PyTorch is
installed, then copy the files into tests/fixtures/onnx/ (tests/onnx_patch.rs
picks up every torch_*.onnx there):

    python3 tests/onnx/export_fixtures.py OUT_DIR

The fp16 model is traced on CUDA when available (CPU half kernels are
incomplete on some PyTorch versions), else on CPU.

Where transformers is installed (and onnxscript, for the dynamo exporter),
it also exports transformers' own blocks from tiny configs with random
weights (every LayerNorm weight and every bias random, so the residual Adds'
dense biases are real), fed `inputs_embeds` [2, 8, 32], as
hf_<model>_op13, _op17 (TorchScript exporter) and hf_<model>_dynamo_opN
(dynamo exporter, its default opset), for tests/onnx_skip.rs:

- hf_bert: BertModel, one layer, no pooler (post-LN: embeddings LayerNorm,
  then Add(dense + bias, residual) before each of the layer's two LayerNorms);
- hf_gpt2: GPT2Model's two GPT2Blocks and ln_f, called without a mask
  (pre-LN: each residual sum feeds the next LayerNorm and the next residual).
  GPT2Model itself does not export with the TorchScript exporter
  (transformers' mask code calls `aten::diff`).

`ONLY_HF=1 python3 tests/onnx/export_fixtures.py OUT_DIR` exports these only.
"""
import math
import os
import sys

import torch
from torch import nn

torch.manual_seed(0)


class Attention(nn.Module):
    def __init__(self, h):
        super().__init__()
        self.query, self.key, self.value, self.output = (nn.Linear(h, h) for _ in range(4))
        self.scale = 1.0 / math.sqrt(h)

    def forward(self, x):
        p = torch.softmax(self.query(x) @ self.key(x).transpose(1, 2) * self.scale, dim=-1)
        return self.output(p @ self.value(x))


class BertBlock(nn.Module):
    """Post-LN: embeddings LayerNorm, attention + LayerNorm, FFN + LayerNorm."""

    def __init__(self, h=32):
        super().__init__()
        self.emb_ln = nn.LayerNorm(h, eps=1e-12)
        self.attn = Attention(h)
        self.attn_ln = nn.LayerNorm(h, eps=1e-12)
        self.ffn = nn.Sequential(nn.Linear(h, 4 * h), nn.GELU(), nn.Linear(4 * h, h))
        self.out_ln = nn.LayerNorm(h, eps=1e-12)

    def forward(self, x):
        x = self.emb_ln(x)
        x = self.attn_ln(x + self.attn(x))
        return self.out_ln(x + self.ffn(x))


class GPT2Layer(nn.Module):
    def __init__(self, h):
        super().__init__()
        self.ln_1, self.attn, self.ln_2 = nn.LayerNorm(h), Attention(h), nn.LayerNorm(h)
        self.mlp = nn.Sequential(nn.Linear(h, 4 * h), nn.GELU(approximate="tanh"), nn.Linear(4 * h, h))

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class GPT2Block(nn.Module):
    """Pre-LN, two layers and the final ln_f: five LayerNorms."""

    def __init__(self, h=32):
        super().__init__()
        self.h = nn.ModuleList([GPT2Layer(h), GPT2Layer(h)])
        self.ln_f = nn.LayerNorm(h)

    def forward(self, x):
        for layer in self.h:
            x = layer(x)
        return self.ln_f(x)


class ViTBlock(nn.Module):
    """Patch embedding + cls token, one pre-LN encoder layer, final LayerNorm (eps 1e-6)."""

    def __init__(self, c=48, h=32, patches=4):
        super().__init__()
        self.proj = nn.Linear(c, h)
        self.cls = nn.Parameter(torch.randn(1, 1, h))
        self.pos = nn.Parameter(torch.randn(1, patches + 1, h) * 0.02)
        self.layernorm_before = nn.LayerNorm(h, eps=1e-6)
        self.attn = Attention(h)
        self.layernorm_after = nn.LayerNorm(h, eps=1e-6)
        self.mlp = nn.Sequential(nn.Linear(h, 2 * h), nn.GELU(), nn.Linear(2 * h, h))
        self.layernorm = nn.LayerNorm(h, eps=1e-6)

    def forward(self, patches):
        x = self.proj(patches)
        x = torch.cat([self.cls.expand(x.shape[0], -1, -1), x], dim=1) + self.pos
        x = x + self.attn(self.layernorm_before(x))
        x = x + self.mlp(self.layernorm_after(x))
        return self.layernorm(x)


def randomize_norms(m):
    # Non-trivial scale and bias, so the affine part is exercised.
    with torch.no_grad():
        for mod in m.modules():
            if isinstance(mod, nn.LayerNorm):
                mod.weight.copy_(1.0 + 0.1 * torch.randn_like(mod.weight))
                mod.bias.copy_(0.1 * torch.randn_like(mod.bias))
    return m


def export(model, example, path, opset, in_name, out_name):
    model.eval()
    kwargs = dict(opset_version=opset, input_names=[in_name], output_names=[out_name], do_constant_folding=True)
    try:
        torch.onnx.export(model, (example,), path, dynamo=False, **kwargs)
    except TypeError:  # PyTorch < 2.5 has no `dynamo` argument; it is the legacy exporter anyway
        torch.onnx.export(model, (example,), path, **kwargs)
    print(f"{path}: {os.path.getsize(path)} bytes")


class HFEmbeds(nn.Module):
    """A transformers model fed inputs_embeds, returning last_hidden_state."""

    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, inputs_embeds):
        return self.m(inputs_embeds=inputs_embeds, use_cache=False, return_dict=True).last_hidden_state


class HFGPT2Layers(nn.Module):
    """GPT2Model's blocks and ln_f, without its embeddings and mask."""

    def __init__(self, m):
        super().__init__()
        self.h, self.ln_f = m.h, m.ln_f

    def forward(self, hidden_states):
        for block in self.h:
            out = block(hidden_states, attention_mask=None)
            hidden_states = out[0] if isinstance(out, tuple) else out
        return self.ln_f(hidden_states)


def randomize_hf(m):
    with torch.no_grad():
        for name, p in m.named_parameters():
            if name.endswith("bias"):
                p.copy_(0.1 * torch.randn_like(p))
            elif "LayerNorm" in name or "ln_" in name:
                p.copy_(1.0 + 0.1 * torch.randn_like(p))
    return m


def export_hf(out):
    try:
        from transformers import BertConfig, BertModel, GPT2Config, GPT2Model
    except ImportError as e:
        print(f"transformers blocks skipped: {e}")
        return
    import onnx

    bert = BertConfig(vocab_size=16, hidden_size=32, num_hidden_layers=1, num_attention_heads=4, intermediate_size=64,
                      max_position_embeddings=8, type_vocab_size=1, attn_implementation="eager")
    gpt2 = GPT2Config(vocab_size=16, n_positions=8, n_embd=32, n_inner=64, n_layer=2, n_head=4, attn_implementation="eager")
    torch.manual_seed(1)  # the same weights whether or not the blocks above were exported
    models = [("hf_bert", randomize_hf(HFEmbeds(BertModel(bert, add_pooling_layer=False)))), ("hf_gpt2", randomize_hf(HFGPT2Layers(GPT2Model(gpt2))))]
    x = torch.randn(2, 8, 32)
    for stem, m in models:
        for opset in (13, 17):
            export(m, x, f"{out}/{stem}_op{opset}.onnx", opset, "inputs_embeds", "last_hidden_state")
        path = f"{out}/{stem}_dynamo.onnx"
        try:
            torch.onnx.export(m.eval(), (x,), path, dynamo=True, input_names=["inputs_embeds"], output_names=["last_hidden_state"], external_data=False)
        except Exception as e:  # report and go on
            print(f"{path}: FAILED: {type(e).__name__}: {str(e).splitlines()[0][:300]}")
            continue
        version = next(o.version for o in onnx.load(path).opset_import if o.domain in ("", "ai.onnx"))
        final = path.replace("_dynamo.onnx", f"_dynamo_op{version}.onnx")
        os.replace(path, final)
        print(f"{final}: {os.path.getsize(final)} bytes")


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    if os.environ.get("ONLY_HF"):
        export_hf(out)
        return 0
    for opset in (13, 17):
        export(randomize_norms(BertBlock()), torch.randn(2, 8, 32), f"{out}/torch_bert_block_op{opset}.onnx", opset, "input", "last_hidden_state")
        export(randomize_norms(GPT2Block()), torch.randn(2, 8, 32), f"{out}/torch_gpt2_block_op{opset}.onnx", opset, "input", "logits")
        export(randomize_norms(ViTBlock()), torch.randn(2, 4, 48), f"{out}/torch_vit_block_op{opset}.onnx", opset, "pixel_patches", "last_hidden_state")
        dev = "cuda" if torch.cuda.is_available() else "cpu"
        half = randomize_norms(GPT2Block()).to(dev).half()
        export(half, torch.randn(2, 8, 32, device=dev, dtype=torch.float16), f"{out}/torch_gpt2_block_fp16_op{opset}.onnx", opset, "input", "logits")
    export_hf(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
