#!/bin/bash
# SPDX-License-Identifier: MIT
# run-repl-bench.sh - replication lag and bytes on the wire between two
# stores on loopback: N realistic deliveries at RATE/s through store a's
# mount, timed until they appear in store b; then again through a proxy
# that adds a 50 ms round trip. Medians over REPEATS runs. Run as root from
# the top build directory (or set MM_BUILDDIR).
#   run-repl-bench.sh [-n N] [-r RATE] [-R REPEATS]
MM_BUILDDIR=${MM_BUILDDIR:-$(pwd)}
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../integration/lib.sh"
. "$HERE/../integration/cluster.sh"

N=2000 RATE=200 REPEATS=3
while [ $# -gt 0 ]; do
	case $1 in
	-n) N=$2; shift 2 ;;
	-r) RATE=$2; shift 2 ;;
	-R) REPEATS=$2; shift 2 ;;
	*) echo "usage: $0 [-n N] [-r RATE] [-R REPEATS]" >&2; exit 2 ;;
	esac
done

mm_cluster_up a b
ACCT=example.org/alice

# run LABEL SEED [small]: one timed run into a fresh folder; prints its JSON line
run() {
	local label=$1 seed=$2 mix=${3:-} f=$MM_T/a/mnt/$ACCT/Maildir/.run$2 before after
	mkdir -p "$f/cur" "$f/new" "$f/tmp"
	mm_wait_for 20 test -d "$MM_T/b/store/$ACCT/Maildir/.run$seed/new" ||
		mm_fail "the run's folder did not reach b"
	before=$(mm_link a b .bytes_sent)
	python3 "$HERE/repl-lag.py" "$f/new" "$MM_T/b/store/$ACCT/Maildir/.run$seed/new" \
		"$N" "$RATE" "$seed" $mix >"$MM_T/run$seed.json" || mm_fail "run $seed lost messages"
	after=$(mm_link a b .bytes_sent)
	# per-message zstd -3, the baseline for bytes on the wire
	zstd_bytes=$(python3 - "$f/new" <<'PY'
import ctypes, os, sys
z = ctypes.CDLL("libzstd.so.1")
z.ZSTD_compressBound.restype = ctypes.c_size_t
z.ZSTD_compress.restype = ctypes.c_size_t
total = 0
for name in os.listdir(sys.argv[1]):
    data = open(os.path.join(sys.argv[1], name), "rb").read()
    cap = z.ZSTD_compressBound(len(data))
    buf = ctypes.create_string_buffer(cap)
    total += z.ZSTD_compress(buf, ctypes.c_size_t(cap), data, ctypes.c_size_t(len(data)), 3)
print(total)
PY
)
	jq -c --arg l "$label" --argjson w $((after - before)) --argjson z "$zstd_bytes" \
		'. + {run: $l, wire_bytes: $w, zstd3_bytes: $z,
		      wire_ratio: ($w / .raw_bytes), zstd3_ratio: ($z / .raw_bytes)}' "$MM_T/run$seed.json"
}

for r in $(seq 1 "$REPEATS"); do
	run loopback "$r"
done >"$MM_T/loopback.jsonl"
for r in $(seq 1 "$REPEATS"); do
	run small "$((r + 50))" small
done >"$MM_T/small.jsonl"

# the same through a proxy that adds 25 ms each way
PROXY=$(mm_free_port)
python3 "$HERE/../integration/netproxy.py" "$PROXY" "$(mm_node_port b)" --delay 25 &
PROXY_PID=$!
mm_on_exit "kill $PROXY_PID 2>/dev/null"
sed -i "/^\[peer b\]/,/^address/ s/^address = .*/address = 127.0.0.1:$PROXY/" "$MM_T/a.ini"
mm_node_stop_repl a
mm_node_repl a
for r in $(seq 1 "$REPEATS"); do
	run "rtt50ms" "$((r + 100))"
done >"$MM_T/delayed.jsonl"

median() { jq -s "map(.$2) | sort | .[length / 2 | floor]" "$1"; }
printf '\nReplication a -> b, %s messages at %s/s (60%% 4 KiB, 30%% 40 KiB, 10%% 400 KiB), median of %s runs\n' \
	"$N" "$RATE" "$REPEATS"
printf '%-10s %9s %9s %9s %9s %11s %11s\n' link "rate/s" "p50 ms" "p99 ms" "max ms" "wire/raw" "zstd3/raw"
for f in loopback small delayed; do
	printf '%-10s %9s %9s %9s %9s %11.3f %11.3f\n' "$f" \
		"$(median "$MM_T/$f.jsonl" rate)" "$(median "$MM_T/$f.jsonl" p50_ms)" \
		"$(median "$MM_T/$f.jsonl" p99_ms)" "$(median "$MM_T/$f.jsonl" max_ms)" \
		"$(median "$MM_T/$f.jsonl" wire_ratio)" "$(median "$MM_T/$f.jsonl" zstd3_ratio)"
done
p99=$(median "$MM_T/loopback.jsonl" p99_ms)
w=$(median "$MM_T/loopback.jsonl" wire_ratio)
z=$(median "$MM_T/loopback.jsonl" zstd3_ratio)
echo
echo "Targets:"
awk -v p="$p99" 'BEGIN { printf "  %s p99 lag on loopback < 100 ms (%s ms)\n", (p < 100 ? "MET " : "MISS"), p }'
awk -v w="$w" -v z="$z" 'BEGIN { printf "  %s wire bytes <= per-message zstd -3 (%.3f vs %.3f of raw)\n", (w <= z ? "MET " : "MISS"), w, z }'
s4=$(median "$MM_T/small.jsonl" wire_ratio)
awk -v w="$s4" 'BEGIN { printf "  %s wire bytes <= 0.45 of raw for 4 KiB messages (%.3f)\n", (w <= 0.45 ? "MET " : "MISS"), w }'
cat "$MM_T"/*.jsonl >"${MM_BENCH_OUT:-/dev/null}"
mm_finish
