#!/usr/bin/env python3
"""Parses ONNX models with TensorRT-RTX's ONNX parser and builds serialized plans on
the CPU (ahead-of-time), with libtrt_layernorm.so loaded into the builder's plugin
registry. Driven by tests/engine_rtx.rs; run through scripts/with-rtx.sh, which
installs the pinned wheel and puts the libtensorrt_rtx.so name the parser dlopens
for plugin nodes on LD_LIBRARY_PATH:

  scripts/with-rtx.sh python tests/engine/rtx_build.py [--plugin LIB] [--text] MODEL.onnx [MODEL.onnx ...]

Prints one JSON object per model on stdout (lines starting with `{`):
  model, parsed, parse_errors, network_layers (name, type of every layer of the
  parsed network), built, plan_bytes, plan_counts (occurrences in the plan of
  "FP32LayerNorm", "FP32RMSNorm", "FP32SkipLayerNorm", "epsilon" and of each plugin
  layer's name), engine_layers
  (kind, name of each line of the builder's "Engine Layer Information"),
  logged_errors (ERROR messages of the logger, ours included).
Then `{"creators": {"FP32LayerNorm": [...], "FP32RMSNorm": [...], "FP32SkipLayerNorm": [...]}}` before the first
model: the versions of each plugin load_library registered. Exits 0 whatever the models give; non-zero only when
the plugin library cannot be loaded.

--text (used by `trt-layernorm demo`): a few readable lines per model instead,
and exit status 1 when a model does not parse or build.
"""
import argparse
import json
import os
import re
import sys

import tensorrt_rtx as trt


class Logger(trt.ILogger):
    def __init__(self):
        trt.ILogger.__init__(self)
        self.messages = []

    def log(self, severity, msg):
        self.messages.append((severity, msg))


PLUGINS = ("FP32LayerNorm", "FP32RMSNorm", "FP32SkipLayerNorm")

LAYER_LINE = re.compile(r"^Layer\((?P<kind>[^)]*)\): (?P<name>.*?), Tactic: ")


def engine_layers(messages):
    """The builder's layer list (VERBOSE, 'Engine Layer Information:' then one line per layer)."""
    out = []
    for _, msg in messages:
        if "Engine Layer Information" not in msg:
            continue
        for line in msg.splitlines():
            m = LAYER_LINE.match(line.strip())
            if m:
                out.append({"kind": m.group("kind"), "name": m.group("name")})
    return out


def run(builder, logger, path):
    logger.messages.clear()
    network = builder.create_network(0)  # TensorRT-RTX networks are strongly typed
    parser = trt.OnnxParser(network, logger)
    result = {"model": path}
    result["parsed"] = bool(parser.parse_from_file(path))
    result["parse_errors"] = [str(parser.get_error(i)) for i in range(parser.num_errors)]
    result["network_layers"] = [
        {"name": network.get_layer(i).name, "type": str(network.get_layer(i).type).split(".")[-1]}
        for i in range(network.num_layers)
    ]
    result["built"] = False
    if result["parsed"]:
        config = builder.create_builder_config()
        blob = builder.build_serialized_network(network, config)
        if blob is not None:
            data = bytes(blob)
            result["built"] = True
            result["plan_bytes"] = len(data)
            names = list(PLUGINS) + ["epsilon"] + [
                l["name"] for l in result["network_layers"] if l["type"].startswith("PLUGIN")
            ]
            result["plan_counts"] = {n: data.count(n.encode()) for n in names}
        result["engine_layers"] = engine_layers(logger.messages)
    result["logged_errors"] = [m for s, m in logger.messages if s <= trt.ILogger.Severity.ERROR]
    return result


def text(r):
    """Readable lines for one result."""
    layers = r["network_layers"]
    plugins = [l["name"] for l in layers if l["type"].startswith("PLUGIN")]
    norms = sum(1 for l in layers if l["type"] == "NORMALIZATION")
    lines = []
    if not r["parsed"]:
        return ["  the parser refused it: " + "; ".join(r["parse_errors"] or r["logged_errors"])]
    desc = f"  parsed network: {len(layers)} layers, {len(plugins)} plugin layers"
    if norms:
        desc += f", {norms} NORMALIZATION layers"
    lines.append(desc + (": " + ", ".join(plugins) if plugins else ""))
    if not r["built"]:
        return lines + ["  the build failed: " + "; ".join(r["logged_errors"])]
    carried = sum(1 for p in plugins if r["plan_counts"].get(p, 0) > 0)
    lines.append(f"  plan: {r['plan_bytes']} bytes" + (f", carries {carried} of the {len(plugins)} plugin layers" if plugins else ""))
    lines.append("  the builder's layer list (\"Engine Layer Information\"):")
    lines += [f"    Layer({l['kind']}): {l['name']}" for l in r["engine_layers"]]
    return lines


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--plugin", help="libtrt_layernorm.so, loaded into the builder's plugin registry")
    ap.add_argument("--text", action="store_true", help="readable output (trt-layernorm demo)")
    ap.add_argument("models", nargs="+")
    args = ap.parse_args()

    logger = Logger()
    builder = trt.Builder(logger)
    registry = builder.get_plugin_registry()
    if args.plugin is not None and registry.load_library(args.plugin) is None:
        errs = "; ".join(m for _, m in logger.messages)
        print(f"rtx_build: load_library({args.plugin}) failed: {errs}", file=sys.stderr)
        return 2
    creators = {p: sorted(c.plugin_version for c in registry.all_creators if c.name == p) for p in PLUGINS}
    if not args.text:
        print(json.dumps({"tensorrt_rtx": trt.__version__, "creators": creators}), flush=True)
    ok = True
    for path in args.models:
        r = run(builder, logger, path)
        ok &= r["built"]
        if args.text:
            print(f"{os.path.basename(path)}:")
            print("\n".join(text(r)), flush=True)
        else:
            print(json.dumps(r), flush=True)
    return 0 if ok or not args.text else 1


if __name__ == "__main__":
    sys.exit(main())
