#!/usr/bin/env bash
# Throughput of `--output s3://` (moto in server mode on loopback) against the directory
# output, on the same generated data, in one run: each decode timed with /usr/bin/time
# (wall seconds and peak RSS). Usage: benches/s3_output.sh [SIZE] [LAYOUT]
#   SIZE   gen --size (default 64M);  LAYOUT  per-item (default) or jsonl
# BIN overrides the binary (default target/debug/elastickv-backup: the dev profile is
# optimised, opt-level 1 for the engine and 2 for dependencies).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-target/debug/elastickv-backup}
SIZE=${1:-64M}
LAYOUT=${2:-per-item}
work=$(mktemp -d)
moto=""
cleanup() {
    if [ -n "$moto" ]; then kill "$moto" 2>/dev/null || true; wait "$moto" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
moto_server -H 127.0.0.1 -p "$port" >"$work/moto.log" 2>&1 &
moto=$!
for _ in $(seq 1 600); do
    curl -sf "http://127.0.0.1:$port/" >/dev/null 2>&1 && break
    sleep 0.1
done
curl -sf -X PUT "http://127.0.0.1:$port/bench" >/dev/null
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1 \
    AWS_EC2_METADATA_DISABLED=true AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
"$BIN" gen --size "$SIZE" --shards 4 --output "$work/data" 2>/dev/null
layout=(--dynamodb-bundle-mode "$LAYOUT")
t() { /usr/bin/time -f "%e %M" -o "$work/time" "$@" 2>/dev/null; cat "$work/time"; }
read -r dir_s dir_kb < <(t "$BIN" decode --input-snap-dir "$work/data" --output "$work/dir" "${layout[@]}")
read -r s3_s s3_kb < <(t "$BIN" decode --input-snap-dir "$work/data" --output s3://bench/tree/ \
    --s3-endpoint "http://127.0.0.1:$port" "${layout[@]}")
read -r ar_s ar_kb < <(t "$BIN" decode --input-snap-dir "$work/data" --output s3://bench/dump.tar.zst \
    --archive tar.zst --s3-endpoint "http://127.0.0.1:$port" "${layout[@]}")
bytes=$(du -sb "$work/dir" | cut -f1)
files=$(find "$work/dir" -type f | wc -l)
echo "data: gen --size $SIZE --shards 4, layout $LAYOUT: $files files, $bytes bytes"
echo "directory:        ${dir_s}s  peak RSS ${dir_kb} KiB"
echo "s3:// tree:       ${s3_s}s  peak RSS ${s3_kb} KiB"
echo "s3:// tar.zst:    ${ar_s}s  peak RSS ${ar_kb} KiB"
python3 -c "print(f'throughput ratio s3 tree / directory = {$dir_s/$s3_s:.2f}; s3 tar.zst / directory = {$dir_s/$ar_s:.2f}')"
