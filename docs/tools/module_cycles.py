#!/usr/bin/env python3
"""Prints the dependency cycles between the top-level modules of a crate's src/ directory
(usage: module_cycles.py engine/src). A module depends on another when its non-test code
names `crate::<other>`. Prints nothing when there is none."""
import os, re, sys, itertools
args = [a for a in sys.argv[1:] if a != "-v"]
root = args[0] if args else "."
mods = {}
for e in os.listdir(root):
    p = os.path.join(root, e)
    if e in ("lib.rs", "main.rs"): continue
    name = e[:-3] if e.endswith(".rs") else e
    if e.endswith(".rs") or os.path.isdir(p):
        mods.setdefault(name, []).append(p)
deps = {m: {} for m in mods}
pat = re.compile(r"crate::(\w+)")
usegroup = re.compile(r"use crate::\{([^;]*)\};", re.S)
for m, paths in mods.items():
    files = []
    for p in paths:
        if os.path.isdir(p):
            for d, _, fs in os.walk(p):
                files += [os.path.join(d, f) for f in fs if f.endswith(".rs")]
        else: files.append(p)
    for f in files:
        src = open(f).read()
        # drop #[cfg(test)] mod tests { ... } blocks crudely: files named tests.rs
        if f.endswith("/tests.rs") or "/tests/" in f: continue
        cut = src.find("#[cfg(test)]\nmod tests")
        if cut >= 0: src = src[:cut]
        names = set(pat.findall(src))
        for g in usegroup.findall(src):
            for part in re.split(r",(?![^{]*\})", g):
                part = part.strip()
                n = re.match(r"(\w+)", part)
                if n: names.add(n.group(1))
        for n in names:
            if n in mods and n != m:
                deps[m].setdefault(n, f)
pairs = []
for a, b in itertools.combinations(sorted(mods), 2):
    if b in deps[a] and a in deps[b]:
        print(f"{a} <-> {b}: {deps[a][b]} | {deps[b][a]}")
# SCCs (Tarjan)
idx = {}; low = {}; st = []; on = set(); out = []; c = [0]
def sc(v):
    idx[v] = low[v] = c[0]; c[0] += 1; st.append(v); on.add(v)
    for w in deps[v]:
        if w not in idx: sc(w); low[v] = min(low[v], low[w])
        elif w in on: low[v] = min(low[v], idx[w])
    if low[v] == idx[v]:
        comp = []
        while True:
            w = st.pop(); on.discard(w); comp.append(w)
            if w == v: break
        if len(comp) > 1: out.append(sorted(comp))
sys.setrecursionlimit(10000)
for v in sorted(mods):
    if v not in idx: sc(v)
for comp in out: print("SCC:", comp)
if "-v" in sys.argv:
    print(f"{len(mods)} modules, {sum(len(d) for d in deps.values())} edges")
sys.exit(1 if out else 0)
