#!/usr/bin/env python3
"""The A/B table of `scripts/gpu-suite.sh ab`: reads its log (blocks headed
`=== <build> <norm> round <n>`, each a `trt-layernorm bench` table) and
prints, per norm, dtype and shape, the best time of each build over its
rounds and each build's speed-up over the first build (first/build: above 1
is faster). Only the default plan's rows count."""
import re
import sys
from collections import defaultdict

HEADER = re.compile(r"^=== (\S+) (\S+) round \d+")


def parse(lines):
    """{(norm, dtype, shape): {build: best us}} and the builds in order of appearance."""
    best, builds, block = defaultdict(dict), [], None
    for line in lines:
        m = HEADER.match(line)
        if m:
            block = m.groups()
            if block[0] not in builds:
                builds.append(block[0])
            continue
        f = line.split()
        if block is None or len(f) < 6 or f[0] not in ("f16", "bf16", "f32") or not line.rstrip().endswith("default"):
            continue
        try:
            us = float(f[4])
        except ValueError:
            continue
        build, norm = block
        key = (norm, f[0], f"{f[1]}x{f[2]}")
        best[key][build] = min(best[key].get(build, us), us)
    return best, builds


def table(best, builds):
    base = builds[0]
    head = ["norm", "dtype", "shape"] + [f"{b} us" for b in builds] + [f"{base}/{b}" for b in builds[1:]]
    rows = [head]
    for key, t in best.items():
        cells = list(key) + [f"{t[b]:.2f}" if b in t else "-" for b in builds]
        cells += [f"{t[base] / t[b]:.3f}" if base in t and b in t else "-" for b in builds[1:]]
        rows.append(cells)
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows)


if __name__ == "__main__":
    with open(sys.argv[1]) as f:
        best, builds = parse(f)
    if not builds:
        sys.exit(f"{sys.argv[1]}: no '=== <build> <norm> round <n>' blocks")
    print(table(best, builds))
