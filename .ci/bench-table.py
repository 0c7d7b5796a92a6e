#!/usr/bin/env python3
"""Turns `cargo bench -- --output-format bencher` output into ratio tables.

Usage: cargo bench -p edgegrad-bench --bench matmul -- --output-format bencher | python3 .ci/bench-table.py
Each row is one benchmark input; columns are the implementations' times and the
ratio of each baseline's time to edgegrad's (above 1 means edgegrad is faster). Groups
without an "edgegrad" entry (the model benches) get their times and no ratios.
"""
import re
import sys

rows = {}
for line in sys.stdin:
    m = re.match(r"test (\S+) \.\.\. bench:\s+([\d,]+) ns/iter", line)
    if not m:
        continue
    parts = m.group(1).split("/")
    group, impl_, param = parts[0], parts[1], "/".join(parts[2:]) or "-"
    rows.setdefault((group, param), {})[impl_] = int(m.group(2).replace(",", ""))

impls = []
for r in rows.values():
    for k in r:
        if k not in impls:
            impls.append(k)
others = [i for i in impls if i != "edgegrad"]
print("| kernel | size | edgegrad | " + " | ".join(f"{o} (× slower)" for o in others) + " |")
print("|---|---|---|" + "---|" * len(others))
for (group, param), r in rows.items():
    e = r.get("edgegrad")
    cells = []
    for o in others:
        if o in r and e:
            cells.append(f"{r[o]:,} ns ({r[o] / e:.2f}×)")
        elif o in r:
            cells.append(f"{r[o]:,} ns")
        else:
            cells.append("–")
    own = f"{e:,} ns" if e else "–"
    print(f"| {group} | {param} | {own} | " + " | ".join(cells) + " |")
