#!/usr/bin/env bash
# Partition scaling of a live dump: one `dump` process against `dump begin` + N parallel
# `dump --join` processes + `dump finish`, on the same loopback cluster (`dev serve` over
# `gen` data) in one run; wall seconds of each (begin and finish included for the
# partitioned run) and the speed-up. Usage: benches/partitions.sh [SIZE] [N]
#   SIZE  gen --size (default 32M);  N  partitions (default 2)
# BIN overrides the binary (default target/debug/elastickv-backup: the dev profile is
# optimised, opt-level 1 for the engine and 2 for dependencies). The server runs on the
# same machine, so the processes share its cores with it: on a small machine the ratio
# says more about the cores than about the partitioning.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-target/debug/elastickv-backup}
SIZE=${1:-32M}
N=${2:-2}
work=$(mktemp -d)
server=""
cleanup() {
    if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT
"$BIN" gen --size "$SIZE" --shards 4 --output "$work/data" 2>/dev/null
"$BIN" dev serve --input-snap-dir "$work/data" --groups 4 >"$work/addr" 2>"$work/serve.log" &
server=$!
for _ in $(seq 1 600); do [ -s "$work/addr" ] && break; sleep 0.1; done
addr=$(head -1 "$work/addr")
now() { date +%s.%N; }

# An untimed first dump: the server's first reads (and the page cache) are slower.
"$BIN" dump --quiet --no-sync --address "$addr" --output "$work/warmup" 2>/dev/null
rm -rf "$work/warmup"
t0=$(now)
"$BIN" dump --quiet --no-sync --address "$addr" --output "$work/single" 2>"$work/single.log"
t1=$(now)

"$BIN" dump begin --address "$addr" --output "$work/parts" --partitions "$N" 2>"$work/begin.log" >/dev/null
pids=()
for i in $(seq 0 $((N - 1))); do
    JOB_COMPLETION_INDEX=$i JOB_COMPLETIONS=$N "$BIN" dump --quiet --no-sync \
        --join "$work/parts/.elastickv-backup-job/token.json" 2>"$work/part-$i.log" &
    pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done
"$BIN" dump finish --output "$work/parts" 2>"$work/finish.log"
t2=$(now)

# Same tree apart from MANIFEST.json (wall time, read_ts, pin) and its CHECKSUMS line.
diff -r -x MANIFEST.json -x CHECKSUMS "$work/single" "$work/parts" >/dev/null || {
    echo "the partitioned dump differs from the single-process dump" >&2
    exit 1
}
files=$(find "$work/single" -type f | wc -l)
bytes=$(du -sb "$work/single" | cut -f1)
echo "data: gen --size $SIZE --shards 4, served by dev serve --groups 4: $files files, $bytes bytes"
grep -h "partition [0-9]*/" "$work/begin.log" | sed 's/^elastickv-backup: /plan: /'
python3 - "$t0" "$t1" "$t2" "$N" <<'PY'
import sys
t0, t1, t2, n = float(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
single, parts = t1 - t0, t2 - t1
print(f"1 process:             {single:.2f}s")
print(f"{n} partitions (+begin, finish): {parts:.2f}s")
print(f"speed-up 1 -> {n}: {single / parts:.2f}x")
PY
