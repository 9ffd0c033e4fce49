#!/bin/bash
# SPDX-License-Identifier: MIT
# run-fsck-bench.sh - mailmesh-fsck of a store of N messages (4 KiB), online,
# with two peers, against rsync doing the same comparison with each peer
# (rsync -a --dry-run --checksum for the default check, rsync -a --dry-run
# for --quick; one rsync per peer, both timed): seconds of a clean check and
# bytes moved between stores, medians of REPEATS, warm page cache for both;
# and the CPU seconds each spent (fsck's own and the peers' replicators'
# walking, all on this machine; rsync's processes).
# The messages are delivered through a's mount, so a's journal holds their
# N deliveries (fsck reads it whole) and b and c get them by replication.
# Then 10 messages are damaged on c in ways --quick sees (sizes, names,
# flags) and 10 on b in a way only the default check sees (a byte flipped):
# each check must name exactly those messages, no more and no fewer. Run as
# root from the top build dir.
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
[ "$N" -ge 100 ] || { echo "$0: -n must be at least 100" >&2; exit 2; }
FSCK=$MM_BUILDDIR/tools/mailmesh-fsck
[ -x "$FSCK" ] || mm_fail "$FSCK not built"
command -v rsync >/dev/null || mm_fail "rsync missing"

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
command -v /usr/bin/time >/dev/null || mm_fail "/usr/bin/time missing (apt-get install time)"
TCK=$(getconf CLK_TCK)
# CPU ms of process PID so far
cpu_ms() { awk -v t="$TCK" '{ print int(($14 + $15) * 1000 / t) }' "/proc/$1/stat"; }
# CPU ms in the file /usr/bin/time -f '%U %S' wrote
time_ms() { awk '{ print int(($1 + $2) * 1000) }' "$1"; }

mm_cluster_up a b c
mm_wait_streaming a b
mm_wait_streaming a c
ACCT=example.org/alice
SRC=$MM_T/a/store/$ACCT/Maildir
mm_log "delivering $N messages through a's mount (not timed)"
# mailmesh-fs holds an O_PATH fd per inode the kernel knows (a login
# shell's limit may be 20000): every 5000 messages, it is told to drop them
drop=
for f in "" .Sent .Archive .Lists; do
	drop+=" $ACCT/Maildir${f:+/$f}/cur $ACCT/Maildir${f:+/$f}/tmp"
done
t0=$(now_ms)
python3 "$HERE/gen-maildir.py" "$MM_T/a/mnt/$ACCT/Maildir" "$N" --small --deliver \
	--every 5000 "'$MM_CTL' -c '$MM_T/a.ini' invalidate $drop >/dev/null" ||
	mm_fail "delivering the messages failed"
last=$(mm_last_lsn_of a)
acked_all() {
	local n
	for n in b c; do
		[ "$(mm_link a $n .acked_lsn)" -ge "$last" ] || return 1
	done
}
mm_wait_for 3600 acked_all || mm_fail "b and c did not acknowledge LSN $last"
mm_log "delivered and replicated in $(( $(now_ms) - t0 )) ms; a's journal: $last records," \
	"$(du -sb "$MM_T/a/state/journal" | cut -f1) bytes"
files=$(find "$SRC" -type f | wc -l)
bytes=$(du -sb "$SRC" | cut -f1)
sync
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)

declare -A T B C
RB=$(mm_node_pid b repl) RC=$(mm_node_pid c repl)
for r in $(seq 1 "$REPEATS"); do
	for mode in default quick; do
		q=; [ "$mode" = quick ] && q=--quick
		b0=$(cpu_ms "$RB") c0=$(cpu_ms "$RC")
		t0=$(now_ms)
		out=$(/usr/bin/time -f '%U %S' -o "$MM_T/time" \
			"$FSCK" -c "$MM_T/a.ini" --peers --json $q "$ACCT") ||
			mm_fail "fsck $mode of a clean store: exit $?: $(printf '%s' "$out" | head -c 2000)"
		T[fsck-$mode,$r]=$(( $(now_ms) - t0 ))
		C[fsck-$mode,$r]=$(( $(time_ms "$MM_T/time") + $(cpu_ms "$RB") - b0 + $(cpu_ms "$RC") - c0 ))
		B[fsck-$mode,$r]=$(printf '%s' "$out" | jq .peer_bytes)
		[ "$(printf '%s' "$out" | jq .messages)" = "$N" ] ||
			mm_fail "fsck $mode checked $(printf '%s' "$out" | jq .messages) messages, not $N"
		c=; [ "$mode" = default ] && c=--checksum
		t0=$(now_ms)
		sent=0 cpu=0
		for n in b c; do
			s=$(/usr/bin/time -f '%U %S' -o "$MM_T/time" \
				rsync -a --dry-run $c --stats "$SRC/" "$MM_T/$n/store/$ACCT/Maildir/" |
				awk '/^Total bytes sent:/ { gsub(",", "", $4); s += $4 }
				     /^Total bytes received:/ { gsub(",", "", $4); s += $4 } END { print s }')
			sent=$(( sent + s )) cpu=$(( cpu + $(time_ms "$MM_T/time") ))
		done
		T[rsync-$mode,$r]=$(( $(now_ms) - t0 ))
		B[rsync-$mode,$r]=$sent C[rsync-$mode,$r]=$cpu
		mm_log "run $r $mode: fsck ${T[fsck-$mode,$r]} ms (CPU ${C[fsck-$mode,$r]} ms)" \
			"${B[fsck-$mode,$r]} B, rsync ${T[rsync-$mode,$r]} ms (CPU ${C[rsync-$mode,$r]} ms)" \
			"${B[rsync-$mode,$r]} B"
	done
done

# ---- damage: each check names exactly the damaged messages ----
# 10 messages of cur/ spread over the store, picked on a
mapfile -t picked < <(find "$SRC" -path '*/cur/*' -type f | sort |
	awk -v n="$files" 'NR % int(n / 20) == 7' | head -20)
[ "${#picked[@]}" = 20 ] || mm_fail "picked ${#picked[@]} messages, not 20"
rel() { printf '%s' "${1#"$MM_T/a/store/$ACCT/"}"; }	# FOLDER/cur/NAME
# expected problems, one "FOLDER/SUB/NAME KIND" line each
want_c= want_b=
# c, what --quick sees: 3 cut short (their S= tag and a's size both
# disagree), 3 flags changed, 2 removed, 2 renamed to another identity
for i in 0 1 2 3 4 5 6 7 8 9; do
	p=$(rel "${picked[$i]}") f=$MM_T/c/store/$ACCT/${p}
	case $i in
	0|1|2) truncate -s 100 "$f"
	       want_c+="$p size-tag"$'\n'"$p different-content"$'\n' ;;
	3|4|5) mv "$f" "${f%%:2,*}:2,FS"
	       want_c+="${p%%:2,*}:2,FS different-flags"$'\n' ;;
	6|7) rm "$f"
	     want_c+="$p missing"$'\n' ;;
	8|9) q=${p%%,S=*}x,S=${p#*,S=}
	     mv "$f" "$MM_T/c/store/$ACCT/$q"
	     want_c+="$p missing"$'\n'"$q extra"$'\n' ;;
	esac
done
# b, what only the default check sees: a byte flipped, the size unchanged
for i in $(seq 10 19); do
	p=$(rel "${picked[$i]}")
	printf 'Z' | dd of="$MM_T/b/store/$ACCT/$p" bs=1 seek=100 conv=notrunc status=none
	want_b+="$p different-content"$'\n'
done
want_c=$(printf '%s' "$want_c" | sort) want_b=$(printf '%s' "$want_b" | sort)
# check NODE QUICK WANT: fsck on NODE names exactly WANT
damage_ok=ok
check() {
	local n=$1 q=$2 want=$3 rc=0 out got t0 ms exp=4
	[ -n "$want" ] || exp=0
	t0=$(now_ms)
	out=$("$FSCK" -c "$MM_T/$n.ini" --peers --json $q "$ACCT") || rc=$?
	ms=$(( $(now_ms) - t0 ))
	got=$(printf '%s' "$out" | jq -r '.problems[] | "\(.folder)/\(.path) \(.kind)"' | sort)
	if [ "$got" = "$want" ] && [ "$rc" = "$exp" ]; then
		mm_log "fsck ${q:---default} on $n: $(printf '%s' "$want" | grep -c . || true)" \
			"problems as expected, $ms ms, $(printf '%s' "$out" | jq .peer_bytes) B"
	else
		damage_ok=WRONG
		mm_log "fsck ${q:---default} on $n: exit $rc; expected:"
		printf '%s\n' "$want" >&2
		mm_log "got:"
		printf '%s\n' "$got" >&2
	fi
}
check c --quick "$want_c"
check c "" "$want_c"
check b "" "$want_b"
check b --quick ""	# a flipped byte of the same size: not --quick's to see

median() { for r in $(seq 1 "$REPEATS"); do echo "${1}[$2,$r]"; done |
	while read -r k; do eval "echo \${$k}"; done | sort -n | sed -n "$(( (REPEATS + 1) / 2 ))p"; }
printf '\nmailmesh-fsck of %s files (%s MB) on a, two peers, median of %s runs, warm cache\n' \
	"$files" "$(( bytes >> 20 ))" "$REPEATS"
printf '%-8s %9s %9s %9s %8s %12s %12s %9s %9s\n' mode fsck_ms rsync_ms speedup \
	bytes_% fsck_bytes rsync_bytes fsck_cpu rsync_cpu
for mode in default quick; do
	ft=$(median T "fsck-$mode") rt=$(median T "rsync-$mode")
	fb=$(median B "fsck-$mode") rb=$(median B "rsync-$mode")
	printf '%-8s %9s %9s %8sx %8s %12s %12s %9s %9s\n' "$mode" "$ft" "$rt" \
		"$(awk -v a="$rt" -v b="$ft" 'BEGIN { printf "%.2f", a / b }')" \
		"$(awk -v a="$fb" -v b="$bytes" 'BEGIN { printf "%.4f", 100 * a / b }')" \
		"$fb" "$rb" "$(median C "fsck-$mode")" "$(median C "rsync-$mode")"
done
printf '(ms: medians; speedup: rsync_ms / fsck_ms; bytes_%%: fsck_bytes of the store;\n'
printf ' cpu: ms of CPU, fsck with the walks of the peers'"'"' replicators, rsync all its processes)\n'
printf 'machine: %s CPUs, load average before the runs %s\n' "$(nproc)" "$LOAD0"
printf 'targets: default >= 1x rsync, quick >= 5x rsync, both < 1%% of the store moved\n'
printf '10 damaged messages on c (--quick and default) and 10 on b (default): %s\n' "$damage_ok"
mm_cluster_stop
mm_finish
