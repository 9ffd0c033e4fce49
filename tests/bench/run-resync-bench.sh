#!/bin/bash
# SPDX-License-Identifier: MIT
# run-resync-bench.sh - initial replication of an existing Maildir tree
# (N messages over INBOX and 3 folders, 60% 4 KiB, 30% 40 KiB, 10% 400 KiB)
# to an empty store: mailmesh (mailmeshctl resync, until the peer has every
# file and has synced) against doveadm backup (Dovecot's dsync) and rsync -a,
# in one run, on the same disk. Run as root from the top build directory.
#   run-resync-bench.sh [-n N] [-R REPEATS] [-m 'METHOD...']  (all three by default)
MM_BUILDDIR=${MM_BUILDDIR:-$(pwd)}
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../integration/lib.sh"
. "$HERE/../integration/cluster.sh"
. "$HERE/../integration/dovecot-lib.sh"

N=10000 REPEATS=3 METHODS="mailmesh dsync rsync"
while [ $# -gt 0 ]; do
	case $1 in
	-n) N=$2; shift 2 ;;
	-R) REPEATS=$2; shift 2 ;;
	-m) METHODS=$2; shift 2 ;;
	*) echo "usage: $0 [-n N] [-R REPEATS] [-m 'METHOD...']" >&2; exit 2 ;;
	esac
done
mm_dovecot_require

mm_cluster_up a b
mm_wait_streaming a b
ACCT=example.org/alice
SRC=$MM_T/a/store/$ACCT/Maildir
mm_log "generating $N messages in a's store"
python3 "$HERE/gen-maildir.py" "$SRC" "$N" ||
	mm_fail "generating the Maildir failed"
chown -R mail:mail "$MM_T/a/store/example.org"
sync
files=$(find "$SRC" -type f | wc -l)
bytes=$(du -sb "$SRC" | cut -f1)

DA=$MM_T/dovecot
mm_dovecot_start "$DA" "maildir:$MM_T/a/store/%d/%n/Maildir"
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
declare -A T
run_one() {	# METHOD REP
	local m=$1 r=$2 t0 dst
	sync
	echo 3 >/proc/sys/vm/drop_caches
	t0=$(now_ms)
	case $m in
	mailmesh)
		w0=$(mm_link a b | jq .bytes_sent)
		mm_node_ctl a resync "$ACCT" b >/dev/null || mm_fail "resync failed"
		# done when b confirms: it sends RESYNCED once all is applied
		# and synced (syncfs), so this is "durable on the peer"
		mm_wait_for 600 sh -c "[ \$(grep -c 'resync of $ACCT to b: the peer confirms it' '$MM_T/a/repl.log') -ge $r ]" ||
			mm_fail "the resync did not finish"
		[ "$(find "$MM_T/b/store/$ACCT/Maildir" -type f | wc -l)" -ge "$files" ] ||
			mm_fail "b confirmed the resync without every file"
		WIRE=$(( $(mm_link a b | jq .bytes_sent) - w0 ))
		mm_log "mailmesh run $r: $WIRE bytes on the wire ($(awk -v w="$WIRE" -v b="$bytes" \
			'BEGIN { printf "%.3f", w / b }') of the raw $bytes)"
		;;
	dsync)
		dst=$MM_T/dsync$r
		mkdir "$dst"
		chown mail:mail "$dst"
		doveadm -c "$DA/dovecot.conf" backup -u alice@example.org "maildir:$dst" ||
			mm_fail "doveadm backup failed"
		;;
	rsync)
		dst=$MM_T/rsync$r
		rsync -a "$SRC/" "$dst/" || mm_fail "rsync failed"
		sync
		;;
	esac
	T[$m,$r]=$(( $(now_ms) - t0 ))
	mm_log "$m run $r: ${T[$m,$r]} ms"
}
for r in $(seq 1 "$REPEATS"); do
	# the peer starts empty every time
	if [ "$r" -gt 1 ]; then
		mm_node_stop_repl b
		mm_node_stop_fs b
		rm -rf "$MM_T/b/store/example.org" "$MM_T/b/state/replication" "$MM_T/b/state/accounts"
		mm_node_fs b
		mm_node_repl b
		mm_wait_streaming a b
	fi
	for m in $METHODS; do run_one "$m" "$r"; done
	rm -rf "$MM_T"/dsync* "$MM_T"/rsync*
done
# a resync of the unchanged account: digests only
if [[ " $METHODS " == *" mailmesh "* ]]; then
	sent0=$(mm_link a b | jq .bytes_sent)
	sync
	echo 3 >/proc/sys/vm/drop_caches
	t0=$(now_ms)
	mm_node_ctl a resync "$ACCT" b >/dev/null || mm_fail "resync failed"
	mm_wait_for 600 sh -c "[ \$(grep -c 'resync of $ACCT to b: the peer confirms it' '$MM_T/a/repl.log') -ge $((REPEATS + 1)) ]" ||
		mm_fail "the resync of the unchanged account did not finish"
	again_ms=$(( $(now_ms) - t0 ))
	again_bytes=$(( $(mm_link a b | jq .bytes_sent) - sent0 ))
fi
median() { for r in $(seq 1 "$REPEATS"); do echo "${T[$1,$r]}"; done | sort -n | sed -n "$(( (REPEATS + 1) / 2 ))p"; }
mm_dovecot_stop "$DA"
printf '\nInitial replication of %s files (%s MB), median of %s runs, cold page cache\n' \
	"$files" "$((bytes / 1000000))" "$REPEATS"
printf '%-10s %10s %12s %14s\n' method "seconds" "messages/s" "vs dsync"
ds=; [[ " $METHODS " != *" dsync "* ]] || ds=$(median dsync)
for m in $METHODS; do
	t=$(median "$m")
	awk -v m="$m" -v t="$t" -v n="$N" -v d="${ds:-0}" \
		'BEGIN { printf "%-10s %10.2f %12.0f %14s\n", m, t / 1000, n / (t / 1000), (d > 0 ? sprintf("%.2fx", d / t) : "-") }'
done
mm=; [[ " $METHODS " != *" mailmesh "* ]] || mm=$(median mailmesh)
if [ -n "${again_ms:-}" ]; then
	awk -v t="$again_ms" -v b="$again_bytes" -v s="$bytes" 'BEGIN { printf "\nResync of the unchanged account (cold cache): %.2f s, %d bytes on the wire (%.4f%% of the store)\n", t / 1000, b, 100 * b / s }'
fi
echo
if [ -n "$ds" ] && [ -n "$mm" ]; then
	awk -v m="$mm" -v d="$ds" 'BEGIN { printf "Target: mailmesh at least 2x faster than doveadm backup: %s (%.2fx)\n", (d / m >= 2 ? "MET" : "MISS"), d / m }'
fi
mm_cluster_stop
mm_finish
