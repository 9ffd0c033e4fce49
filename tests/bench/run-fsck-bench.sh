#!/bin/bash
# SPDX-License-Identifier: MIT
# run-fsck-bench.sh - mailmesh-fsck of a store of N messages (4 KiB), online,
# with two peers, against rsync doing the same comparison with each peer
# (rsync -a --dry-run --checksum for the default check, rsync -a --dry-run
# for --quick): seconds of a clean check and bytes moved between stores,
# medians of REPEATS, warm page cache; then 10 messages damaged on a
# replica must be named, exactly those. Run as root from the top build dir.
#   run-fsck-bench.sh [-n N] [-R REPEATS]
MM_BUILDDIR=${MM_BUILDDIR:-$(pwd)}
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../integration/lib.sh"
. "$HERE/../integration/cluster.sh"

N=100000 REPEATS=3
while [ $# -gt 0 ]; do
	case $1 in
	-n) N=$2; shift 2 ;;
	-R) REPEATS=$2; shift 2 ;;
	*) echo "usage: $0 [-n N] [-R REPEATS]" >&2; exit 2 ;;
	esac
done
FSCK=$MM_BUILDDIR/tools/mailmesh-fsck
[ -x "$FSCK" ] || mm_fail "$FSCK not built"
command -v rsync >/dev/null || mm_fail "rsync missing"

mm_cluster_up a b c
mm_wait_streaming a b
mm_wait_streaming a c
ACCT=example.org/alice
SRC=$MM_T/a/store/$ACCT/Maildir
mm_log "generating $N messages in a's store"
python3 "$HERE/gen-maildir.py" "$SRC" "$N" --small || mm_fail "generating the Maildir failed"
chown -R mail:mail "$MM_T/a/store/example.org"
files=$(find "$SRC" -type f | wc -l)
bytes=$(du -sb "$SRC" | cut -f1)
mm_log "copies on b and c by resync (not timed)"
mm_node_ctl a resync "$ACCT" >/dev/null || mm_fail "resync failed"
for n in b c; do
	mm_wait_for 1800 sh -c "grep -q 'resync of $ACCT to $n: the peer confirms it' '$MM_T/a/repl.log'" ||
		mm_fail "the resync to $n did not finish"
done
sync

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
declare -A T B
for r in $(seq 1 "$REPEATS"); do
	for mode in default quick; do
		q=; [ "$mode" = quick ] && q=--quick
		t0=$(now_ms)
		out=$("$FSCK" -c "$MM_T/a.ini" --peers --json $q "$ACCT") ||
			mm_fail "fsck $mode of a clean store: exit $?: $(printf '%s' "$out" | head -c 2000)"
		T[fsck-$mode,$r]=$(( $(now_ms) - t0 ))
		B[fsck-$mode,$r]=$(printf '%s' "$out" | jq .peer_bytes)
		c=; [ "$mode" = default ] && c=--checksum
		t0=$(now_ms)
		sent=0
		for n in b c; do
			s=$(rsync -a --dry-run $c --stats "$SRC/" "$MM_T/$n/store/$ACCT/Maildir/" |
				awk '/^Total bytes sent:/ { gsub(",", "", $4); s += $4 }
				     /^Total bytes received:/ { gsub(",", "", $4); s += $4 } END { print s }')
			sent=$(( sent + s ))
		done
		T[rsync-$mode,$r]=$(( $(now_ms) - t0 ))
		B[rsync-$mode,$r]=$sent
		mm_log "run $r $mode: fsck ${T[fsck-$mode,$r]} ms ${B[fsck-$mode,$r]} B, rsync ${T[rsync-$mode,$r]} ms ${B[rsync-$mode,$r]} B"
	done
done

mm_log "10 messages damaged on b (a byte flipped in each)"
mapfile -t victims < <(find "$MM_T/b/store/$ACCT/Maildir" -path '*/cur/*' -type f | sort |
	awk -v n="$files" 'NR % int(n / 10) == 7' | head -10)
[ "${#victims[@]}" = 10 ] || mm_fail "picked ${#victims[@]} messages, not 10"
for f in "${victims[@]}"; do
	printf 'Z' | dd of="$f" bs=1 seek=100 conv=notrunc status=none
done
rc=0
out=$("$FSCK" -c "$MM_T/b.ini" --peers --json "$ACCT") || rc=$?
[ "$rc" = 4 ] || mm_fail "fsck of the damaged replica: exit $rc"
want=$(for f in "${victims[@]}"; do echo "${f#"$MM_T/b/store/$ACCT/"}"; done | sort)
got=$(printf '%s' "$out" | jq -r '.problems[] | "\(.folder)/\(.path) \(.kind)"' | sort)
named=$(printf '%s\n' "$got" | awk '$2 == "different-content" { print $1 }' | sort)
found=ok
[ "$named" = "$want" ] && [ "$(printf '%s\n' "$got" | wc -l)" = 10 ] || found=WRONG

median() { for r in $(seq 1 "$REPEATS"); do echo "${1}[$2,$r]"; done |
	while read -r k; do eval "echo \${$k}"; done | sort -n | sed -n "$(( (REPEATS + 1) / 2 ))p"; }
printf '\nmailmesh-fsck of %s files (%s MB) on a, two peers, median of %s runs, warm cache\n' \
	"$files" "$(( bytes >> 20 ))" "$REPEATS"
printf '%-8s %10s %10s %14s %14s %12s %12s\n' mode fsck_ms rsync_ms fsck_bytes rsync_bytes \
	speedup bytes_%store
for mode in default quick; do
	ft=$(median T "fsck-$mode") rt=$(median T "rsync-$mode")
	fb=$(median B "fsck-$mode") rb=$(median B "rsync-$mode")
	printf '%-8s %10s %10s %14s %14s %11sx %11s%%\n' "$mode" "$ft" "$rt" "$fb" "$rb" \
		"$(awk -v a="$rt" -v b="$ft" 'BEGIN { printf "%.2f", a / b }')" \
		"$(awk -v a="$fb" -v b="$bytes" 'BEGIN { printf "%.4f", 100 * a / b }')"
done
printf 'targets: default >= 1x rsync, quick >= 5x rsync, both < 1%% of the store moved\n'
printf '10 damaged messages on b: %s\n' "$found"
[ "$found" = ok ] || { printf 'expected:\n%s\ngot:\n%s\n' "$want" "$got"; }
mm_cluster_stop
mm_finish
