#!/usr/bin/env python3
"""Two builds of one criterion bench, compared in the same run.

Why: a renderer whose old version is not kept in the code can only be compared across
builds, and this machine's speed drifts by several percent between runs; alternating the
two bench binaries round by round spreads that drift over both.

usage: alternate_benches.py ROUNDS FILTER NAME=BIN [NAME=BIN ...]
  BIN: a bench binary from `cargo bench --bench renderers --no-run` at each commit (the
  path cargo prints, copied aside); FILTER: criterion's name filter ("" = all).
Prints every round's point estimate, then per benchmark the median over the rounds for
each binary and its ratio to the first binary's.
"""
import re, subprocess, sys, statistics
rounds, filt, bins = int(sys.argv[1]), sys.argv[2], [a.split("=", 1) for a in sys.argv[3:]]
res = {}
for r in range(rounds):
    for name, b in bins:
        out = subprocess.run([b, "--bench", "--quick", "--discard-baseline", filt], capture_output=True, text=True).stdout
        cur = None
        for line in out.splitlines():
            m = re.match(r"^(\S+/\S+)", line)
            if m: cur = m.group(1)
            t = re.search(r"time:\s+\[\S+ \S+ (\S+) (\S+)", line)
            if t and cur:
                v = float(t.group(1)) * {"ns": 1e-3, "µs": 1, "ms": 1e3}[t.group(2)]
                res.setdefault(cur, {}).setdefault(name, []).append(v)
                print(f"round {r+1} {name:8} {cur:45} {v:10.2f} µs", flush=True)
                cur = None
print("\nmedians (µs per 1000 records) and ratio to", bins[0][0])
for bench, d in res.items():
    base = statistics.median(d[bins[0][0]])
    print(f"{bench:45} " + "  ".join(f"{n}={statistics.median(d[n]):8.2f} ({statistics.median(d[n])/base:.2f}x)" for n, _ in bins if n in d))
