#!/bin/bash
# Instructions the loopback server spends on one live dump, counted with callgrind.
#
#   docs/tools/server_instructions.sh BINARY SNAPSHOT_DIR PORT
#
# Starts `BINARY dev serve` of SNAPSHOT_DIR (8 groups) under callgrind with instrumentation
# off, switches it on for one `dump` by the same binary (run natively), then prints the
# server's instruction total. Loading is not counted. Needs valgrind.
set -euo pipefail
BIN=$1; SNAP=$2; PORT=$3
OUT=$(mktemp /tmp/server-cg-XXXXXX); LOG=$(mktemp)
valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$OUT" \
    "$BIN" dev serve --listen "127.0.0.1:$PORT" --input-snap-dir "$SNAP" --groups 8 >"$LOG" 2>&1 &
VP=$!
for _ in $(seq 600); do grep -q serving "$LOG" && break; sleep 1; done
callgrind_control -i on "$VP" >/dev/null 2>&1
rm -rf "/dev/shm/server-cg-$PORT"
"$BIN" dump --address "127.0.0.1:$PORT" --output "/dev/shm/server-cg-$PORT" --threads 2 --quiet 2>/dev/null
callgrind_control -i off "$VP" >/dev/null 2>&1
callgrind_control -d "$VP" >/dev/null 2>&1
sleep 1
kill -INT "$VP"; wait "$VP" 2>/dev/null || true
rm -rf "/dev/shm/server-cg-$PORT"
callgrind_annotate "$OUT".1 2>/dev/null | grep 'PROGRAM TOTALS'
rm -f "$OUT" "$OUT".* "$LOG"
