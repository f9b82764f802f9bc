#!/usr/bin/env python3
"""Per-thread CPU timeline of a `perf record` run: where the serial phases are.

    perf record -F 999 --call-graph dwarf,16384 -o run.data -- \
        elastickv-backup decode --input-snap-dir DATA --output OUT --threads 2
    perf script -i run.data > run.txt
    python3 docs/tools/perf_timeline.py run.txt [BUCKET_SECONDS]

Prints one line per time bucket: samples per thread (the process's first thread is
`main`, the decode thread) and the decode thread's two most frequent frames just below
the dispatcher, so a bucket where the workers (`ekvb-write-N`) have few samples and
`main` is busy shows which adapter keeps the run serial.
"""

import collections
import re
import sys


def samples(path):
    cur = None
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            if not line.strip():
                if cur:
                    yield cur
                cur = None
                continue
            if not line[0].isspace():
                m = re.match(r"\s*(\S+)\s+(\d+)\s+([\d.]+):", line)
                if m:
                    cur = (m.group(1), int(m.group(2)), float(m.group(3)), [])
                continue
            if cur is not None:
                parts = line.strip().split(None, 1)
                if len(parts) == 2:
                    cur[3].append(re.sub(r"\+0x[0-9a-f]+", "", parts[1].split(" (")[0]))
    if cur:
        yield cur


def phase(frames):
    ours = [f for f in frames if "elastickv" in f]
    for i, f in enumerate(ours):
        if "Dispatcher::dispatch" in f or "pipeline::write_data" in f:
            return (ours[i - 1] if i > 0 else f)[:90]
    return ours[-1][:90] if ours else (frames[0][:50] if frames else "?")


def main():
    path = sys.argv[1]
    bucket = float(sys.argv[2]) if len(sys.argv) > 2 else 0.1
    rows = list(samples(path))
    if not rows:
        sys.exit("no samples")
    t0 = min(r[2] for r in rows)
    main_tid = min(r[1] for r in rows)
    threads = collections.defaultdict(collections.Counter)
    phases = collections.defaultdict(collections.Counter)
    for comm, tid, t, frames in rows:
        b = int((t - t0) / bucket)
        name = "main" if tid == main_tid else comm
        threads[b][name] += 1
        if tid == main_tid:
            phases[b][phase(frames)] += 1
    for b in sorted(threads):
        top = "; ".join(f"{n}× {p}" for p, n in phases[b].most_common(2))
        print(f"{b * bucket:5.1f}s {dict(threads[b])}  {top}")


if __name__ == "__main__":
    main()
