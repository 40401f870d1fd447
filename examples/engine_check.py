#!/usr/bin/env python3
"""End-to-end check of a patched model in TensorRT.

  python3 examples/engine_check.py --plugin target/release/libtrt_layernorm.so \
      [--original M.onnx] [--patched M.plugin.onnx] [--trt-layernorm target/release/trt-layernorm]

1. loads the plugin library into the builder's plugin registry (load_library);
2. parses the patched model with TensorRT's ONNX parser and builds an engine:
   on TensorRT 8.6/10.x a weakly typed network with BuilderFlag.FP16 (the case
   where Myelin fuses LayerNorms into FP16 ForeignNodes); on 11.x and
   TensorRT-RTX a strongly typed network (precision comes from the model: use
   an fp16 model);
3. reports from the engine inspector (ProfilingVerbosity.DETAILED, JSON) where
   each FP32LayerNorm node ended up: a plugin layer of its own, or inside a
   Myelin ForeignNode (TensorRT-RTX 1.7 hosts plugins there; whether 8.6/10.x/
   11.x split at plugins is not verified); fails if the engine has neither;
4. runs the engine and ONNX Runtime (CPU, FP32) on the unpatched model with the
   same inputs and prints the max differences; also builds the unpatched
   model the same way and prints what it gives, for comparison.

Without --patched it patches --original itself with `trt-layernorm patch`.
Defaults: the GPT-2 fixtures of tests/fixtures/onnx (fp32 weights on 8.6/10.x,
fp16 weights on 11.x and TensorRT-RTX). Needs tensorrt (or tensorrt_rtx: run
it through scripts/with-rtx.sh, which sets up the libtensorrt_rtx.so name its
parser needs, with onnxruntime, numpy, onnx and torch installed in that venv),
onnxruntime, numpy, onnx and torch (CUDA buffers), and a GPU the TensorRT
runs on (TensorRT-RTX plans: compute capability 8.x or 12.x, not 9.0). Prints
one line 'skipped: ...' and exits 0 where TensorRT or a GPU is not available.
Exits 1 when a check fails. Not run by this project yet: no machine it has
has both a builder and a GPU that builder's plans run on.
"""
import argparse
import ctypes
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(ROOT, "tests", "fixtures", "onnx")


def skip(why):
    print(f"skipped: {why}")
    sys.exit(0)


try:
    import tensorrt as trt

    RTX = False
except Exception as e:  # noqa: BLE001 - any import failure means no usable TensorRT
    try:
        import tensorrt_rtx as trt

        RTX = True
    except Exception:  # noqa: BLE001
        skip(f"import tensorrt failed ({type(e).__name__}: {e}), and no tensorrt_rtx")

try:
    import numpy as np
except ImportError as e:
    skip(f"needs numpy ({e})")

LOGGER = trt.Logger(trt.Logger.WARNING)
MAJOR = int(trt.__version__.split(".")[0])
STRONGLY_TYPED = RTX or MAJOR >= 11


def build(onnx_path):
    """Parses and builds; returns (engine, layer info JSON)."""
    builder = trt.Builder(LOGGER)
    if builder is None:
        skip("no TensorRT builder (lean or dispatch runtime only?)")
    flags = 0
    if RTX:
        pass  # always strongly typed
    elif MAJOR >= 11 and hasattr(trt.NetworkDefinitionCreationFlag, "STRONGLY_TYPED"):
        flags |= 1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED)
    elif MAJOR < 10:
        flags |= 1 << int(trt.NetworkDefinitionCreationFlag.EXPLICIT_BATCH)
    network = builder.create_network(flags)
    parser = trt.OnnxParser(network, LOGGER)
    if not parser.parse_from_file(onnx_path):
        errs = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise SystemExit(f"FAIL: TensorRT could not parse {onnx_path}: {errs}")
    config = builder.create_builder_config()
    config.profiling_verbosity = trt.ProfilingVerbosity.DETAILED
    if not STRONGLY_TYPED:
        config.set_flag(trt.BuilderFlag.FP16)
    blob = builder.build_serialized_network(network, config)
    if blob is None:
        raise SystemExit(f"FAIL: engine build failed for {onnx_path}")
    engine = trt.Runtime(LOGGER).deserialize_cuda_engine(blob)
    inspector = engine.create_engine_inspector()
    info = json.loads(inspector.get_engine_information(trt.LayerInformationFormat.JSON))
    return engine, info


def run_engine(engine, feeds):
    import torch

    context = engine.create_execution_context()
    keep, outs = [], {}
    for i in range(engine.num_io_tensors):
        name = engine.get_tensor_name(i)
        dtype = {trt.float32: torch.float32, trt.float16: torch.float16}[engine.get_tensor_dtype(name)]
        if engine.get_tensor_mode(name) == trt.TensorIOMode.INPUT:
            t = torch.from_numpy(feeds[name]).to("cuda", dtype)
            context.set_input_shape(name, tuple(t.shape))
        else:
            t = torch.empty(tuple(context.get_tensor_shape(name)), dtype=dtype, device="cuda")
            outs[name] = t
        keep.append(t)
        context.set_tensor_address(name, t.data_ptr())
    stream = torch.cuda.current_stream()
    if not context.execute_async_v3(stream.cuda_stream):
        raise SystemExit("FAIL: execute_async_v3 returned false")
    stream.synchronize()
    return {k: v.float().cpu().numpy() for k, v in outs.items()}


def layers(info):
    return info.get("Layers", [])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--plugin", default=os.path.join(ROOT, "target", "release", "libtrt_layernorm.so"))
    default_model = "synthetic_gpt2_block_fp16_op13.onnx" if STRONGLY_TYPED else "synthetic_gpt2_block_op13.onnx"
    ap.add_argument("--original", default=os.path.join(FIXTURES, default_model))
    ap.add_argument("--patched")
    ap.add_argument("--trt-layernorm", default=os.path.join(ROOT, "target", "release", "trt-layernorm"))
    ap.add_argument("--plugin-version", default="2" if RTX or MAJOR >= 10 else "1")
    args = ap.parse_args()

    try:
        import onnxruntime as ort
        import torch
    except Exception as e:  # noqa: BLE001
        skip(f"needs onnxruntime and torch ({e})")
    if not torch.cuda.is_available():
        skip("no CUDA device")
    if not os.path.exists(args.plugin):
        raise SystemExit(f"FAIL: plugin library {args.plugin} not found (cargo build --release)")
    # load_library works everywhere; a plain dlopen registers nothing under TensorRT-RTX.
    registry = trt.Builder(LOGGER).get_plugin_registry() if RTX else trt.get_plugin_registry()
    if registry.load_library(args.plugin) is None:
        ctypes.CDLL(args.plugin, mode=ctypes.RTLD_GLOBAL)  # already registered at load time (dlopen by TensorRT 8.6)
    creators = [c.name for c in registry.all_creators] if hasattr(registry, "all_creators") else []
    print(f"TensorRT {trt.__version__}; plugin {args.plugin}; FP32LayerNorm creators: {creators.count('FP32LayerNorm') or 'n/a'}")

    patched = args.patched
    if patched is None:
        patched = os.path.join(tempfile.mkdtemp(prefix="tln-engine-"), "model.plugin.onnx")
        cmd = [args.trt_layernorm, "patch", args.original, "-o", patched, "--plugin-version", args.plugin_version]
        print("$ " + " ".join(cmd))
        r = subprocess.run(cmd, capture_output=True, text=True)
        print(r.stdout, end="")
        if r.returncode != 0:
            raise SystemExit(f"FAIL: patch failed: {r.stderr.strip()}")

    # The plugin node names the parser will give the plugin layers.
    import onnx  # only to read node names; optional dependency of this script

    plugin_nodes = [n.name for n in onnx.load(patched, load_external_data=False).graph.node if n.op_type == "FP32LayerNorm"]

    sess = ort.InferenceSession(args.original, providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    feeds = {}
    for i in sess.get_inputs():
        shape = [d if isinstance(d, int) else 2 for d in i.shape]
        feeds[i.name] = (rng.standard_normal(shape) * 2 + 0.5).astype(np.float16 if "float16" in i.type else np.float32)
    # FP32 reference: ORT on the unpatched model with FP32 inputs (fp16 models: ORT in fp16 is what the model says).
    ref = dict(zip([o.name for o in sess.get_outputs()], [o.astype(np.float32) for o in sess.run(None, feeds)]))

    failures = []
    engine, info = build(patched)
    plugin_layers = [l for l in layers(info) if "Plugin" in str(l.get("LayerType", ""))]
    foreign = [l for l in layers(info) if "ForeignNode" in str(l.get("Name", "")) or l.get("LayerType") == "Myelin"]
    own = 0
    for name in plugin_nodes:
        mine = [l for l in plugin_layers if name in str(l.get("Name", ""))]
        own += len(mine) == 1
        if len(mine) > 1 or (not mine and not foreign):
            failures.append(f"{name}: {len(mine)} plugin layers and no ForeignNode that could host it")
    print(f"patched engine: {len(layers(info))} layers, {len(plugin_layers)} plugin layers, "
          f"{len(plugin_nodes)} FP32LayerNorm nodes: {own} plugin layers of their own, "
          f"{len(plugin_nodes) - own} inside {len(foreign)} Myelin ForeignNode layer(s)")
    got = run_engine(engine, feeds)
    for k, want in ref.items():
        d = np.abs(got[k].astype(np.float64) - want)
        print(f"  patched  vs ORT FP32 unpatched: {k}: max abs diff {d.max():.3e}, mean {d.mean():.3e}")

    engine0, info0 = build(args.original)
    got0 = run_engine(engine0, feeds)
    print(f"unpatched engine: {len(layers(info0))} layers, "
          f"{sum(1 for l in layers(info0) if 'ForeignNode' in str(l.get('Name', '')))} Myelin ForeignNodes")
    for k, want in ref.items():
        d = np.abs(got0[k].astype(np.float64) - want)
        print(f"  unpatched vs ORT FP32 unpatched: {k}: max abs diff {d.max():.3e}, mean {d.mean():.3e}")

    if failures:
        print("FAIL: " + "; ".join(failures))
        return 1
    print("ok: the patched engine built and ran")
    return 0


if __name__ == "__main__":
    sys.exit(main())
