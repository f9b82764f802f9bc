#!/usr/bin/env python3
"""Instructions per output file of a snapshot decode, counted with callgrind.

Why: this machine has no hardware counters and its wall clock is noisy, so per-file work
changes of a few percent do not show in timed runs. Callgrind counts every instruction
executed in user space, deterministically; two builds on the same input compare exactly.

SHA-256 is reported apart: under valgrind the `sha2` crate cannot use the SHA extensions
(CPUID reports none) and runs its portable code, many times the instructions of the real
run, so it is left out of the per-file figure. Kernel work (file creation) is not counted.

usage: instructions_per_file.py BINARY SNAPSHOT_DIR [--threads N] [--keep OUT.callgrind]
       (make the input with `BINARY dev gen -o DIR --size 64M --shards 8`)
"""
import argparse
import collections
import os
import re
import shutil
import subprocess
import sys
import tempfile


def run(binary, snaps, threads, keep):
    out = tempfile.mkdtemp(prefix="ekvb-ipf-")
    cg = keep or os.path.join(out, "callgrind.out")
    dump = os.path.join(out, "dump")
    try:
        subprocess.run(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={cg}", binary,
             "decode", "--input-snap-dir", snaps, "--output", dump,
             "--threads", str(threads), "--quiet"],
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        files = sum(len(fs) for _, _, fs in os.walk(dump))
        text = subprocess.run(["callgrind_annotate", "--threshold=100", cg], check=True,
                              capture_output=True, text=True).stdout
    finally:
        if keep:
            shutil.rmtree(dump, ignore_errors=True)
        else:
            shutil.rmtree(out, ignore_errors=True)
    return files, text


def summarise(files, text, top):
    groups = collections.Counter()
    total = sha = 0
    for line in text.splitlines():
        m = re.match(r"\s*([\d,]+) \([ \d.]+%\)\s+(\S+?):(.*)$", line)
        if not m or "PROGRAM TOTALS" in line:
            continue
        ir = int(m.group(1).replace(",", ""))
        name = re.sub(r" \[.*\]$", "", m.group(3))
        total += ir
        if "sha2::" in name:
            sha += ir
            continue
        lib = m.group(2)
        if "malloc" in lib:
            key = "libc malloc/free"
        elif "/string/" in lib:
            key = "libc string (memcpy, memcmp, ...)"
        else:
            parts = name.split("::")
            key = "::".join(parts[:4]) if name.startswith("elastickv") else "::".join(parts[:2])
        groups[key] += ir
    rest = total - sha
    print(f"output files                     {files:>14,}")
    print(f"instructions (user space)        {total:>14,}")
    print(f"  of which SHA-256 (portable)    {sha:>14,}")
    print(f"  all but SHA-256                {rest:>14,}")
    print(f"per file, all but SHA-256        {rest / max(files, 1):>14,.0f}")
    print(f"top {top} groups of the rest:")
    for key, ir in groups.most_common(top):
        print(f"  {ir:>14,}  {100 * ir / rest:5.1f}%  {key}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("binary")
    ap.add_argument("snapshots")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--keep", help="keep the callgrind output at this path")
    ap.add_argument("--top", type=int, default=15)
    a = ap.parse_args()
    if not shutil.which("valgrind"):
        sys.exit("valgrind is not installed (Debian: apt-get install valgrind)")
    files, text = run(a.binary, a.snapshots, a.threads, a.keep)
    summarise(files, text, a.top)


if __name__ == "__main__":
    main()
