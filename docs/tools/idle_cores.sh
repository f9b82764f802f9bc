#!/bin/bash
# Idle core time of one decode: how long a core had nothing to run while the dump ran.
#
#   docs/tools/idle_cores.sh BINARY SNAPSHOT_DIR [THREADS]
#
# Records every CPU (`perf record -a -F 999`) while BINARY decodes SNAPSHOT_DIR into a fresh
# /dev/shm/idle-out, then prints the wall time, the samples of the idle task (ms of one core)
# and those of the dump's own threads. Needs perf and permission to record system-wide.
set -euo pipefail
BIN=$1; SNAP=$2; THREADS=${3:-2}
OUT=/dev/shm/idle-out; DATA=$(mktemp /tmp/idle-XXXXXX.data); TIME=$(mktemp)
rm -rf "$OUT"
perf record -q -a -F 999 -o "$DATA" -- /usr/bin/time -o "$TIME" -f "%e" \
    "$BIN" decode --input-snap-dir "$SNAP" --output "$OUT" --threads "$THREADS" --quiet \
    >/dev/null 2>&1
perf script -i "$DATA" -F comm,tid 2>/dev/null | awk -v w="$(tail -1 "$TIME")" \
    '$2=="0"{i++} $1 ~ /^ekvb|elastickv/{e++} END{printf "wall %s s, idle %d ms, dump threads %d ms\n", w, i*1.001, e*1.001}'
rm -rf "$OUT" "$DATA" "$TIME"
