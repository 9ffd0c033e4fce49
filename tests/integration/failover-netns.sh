#!/bin/bash
# SPDX-License-Identifier: MIT
# failover-netns.sh - issue 4's faults that need cut links: three stores
# whose replicators and mailmesh-hbmon run in network namespaces of their
# own (netns-lib.sh), and a writer delivering into one account through all
# three mounts at once (tests/bench/drill-writer.py: an MTA that retries
# elsewhere). For a sync and for an async account:
#  - partition the active store from the other two: its mount stops
#    accepting writes before any other store accepts one (no two writers,
#    by the writer's own clock), another store takes over; heal: one
#    active, every store converges, no acknowledged delivery is lost (in
#    async mode the deliveries the cut-off store accepted before its lease
#    ended come back as late records and are merged);
# then a slow store: probe latency injected into the active store makes it
# degraded, its accounts move off, nothing acknowledged is lost.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/netns-lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
netns_require
mm_require_fuse
command -v jq >/dev/null || mm_skip "jq missing (apt-get install jq)"

STORES="a b c"
MM_NODE_EXTRA=$NETNS_SYNC_ASYNC
netns_cluster_init $STORES
for acct in sync1 async1; do
	for s in $STORES; do mkdir -p "$MM_T/$s/store/example.org/$acct/Maildir/"{cur,new,tmp}; done
done
for s in $STORES; do netns_store_start "$s"; done
WLOG=$MM_T/writer.log
WPID=

# active_as VIEWER ACCOUNT: the active store VIEWER's status names
active_as() {
	timeout 2 "$MM_CTL" -c "$MM_T/$1.ini" status --json 2>/dev/null |
		jq -r --arg a "$2" '.accounts[]? | select(.account == $a) | .active // empty'
}
# agreed ACCOUNT [NOT]: every store names the same active (not NOT); prints it
agreed() {
	local s a first=
	for s in $STORES; do
		a=$(active_as "$s" "$1")
		[ -n "$a" ] || return 1
		[ -z "$first" ] && first=$a
		[ "$a" = "$first" ] || return 1
	done
	[ "$first" != "${2:-}" ] || return 1
	echo "$first"
}
writer_start() {
	: >"$WLOG"
	python3 "$HERE/../bench/drill-writer.py" "$1" a="$MM_T/a/mnt" b="$MM_T/b/mnt" \
		c="$MM_T/c/mnt" >>"$WLOG" 2>"$MM_T/writer.err" &
	WPID=$!
	mm_on_exit "kill $WPID 2>/dev/null"
}
writer_stop() { kill "$WPID" 2>/dev/null; wait "$WPID" 2>/dev/null; WPID=; }
# missing STORE ACCOUNT FILE: how many names of FILE STORE's store lacks
missing() {
	python3 - "$MM_T/$1/store/$2/Maildir" "$3" <<'PY'
import os, sys
d, lst = sys.argv[1], sys.argv[2]
have = set()
for sub in ("new", "cur"):
    for n in os.listdir(os.path.join(d, sub)):
        have.add(n.split(":", 1)[0])
print(sum(1 for l in open(lst) if l.strip() and l.split(":", 1)[0].strip() not in have))
PY
}
succ() { awk '$3 != "-"' "$WLOG"; }

for acct in sync1 async1; do
	A=example.org/$acct
	mm_wait_for 20 agreed "$A" >/dev/null || mm_fail "no agreed active for $A"
	X=$(agreed "$A")
	mm_log "[$acct] partition $X, the active store, from the other two"
	writer_start "$A"
	# the store that takes the deliveries now is the one to cut (the
	# account may still be settling onto the store all agreed on)
	mm_wait_for 10 awk '$3 != "-" {n++} END{exit n < 5}' "$WLOG" ||
		mm_fail "[$acct] no deliveries: $(tail -n 3 "$WLOG")"
	X=$(awk '$3 != "-" {s=$2} END{print s}' "$WLOG")
	mm_log "[$acct] partition $X, the store taking the deliveries"
	t0=$(date +%s%N)
	netns_isolate "$X"
	mm_wait_for 10 awk -v t="$t0" -v x="$X" '$1 > t && $2 != x && $3 != "-" {f=1} END{exit !f}' \
		"$WLOG" || mm_fail "[$acct] no delivery elsewhere within 10 s of the partition"
	read -r t_new Y < <(succ | awk -v t="$t0" -v x="$X" '$1 > t && $2 != x {print $1, $2; exit}')
	t_last=$(succ | awk -v x="$X" '$2 == x {t=$1} END{print (t == "" ? 0 : t)}')
	mm_log "[$acct] $X accepted its last delivery $(( (t_last - t0) / 1000000 )) ms after the cut," \
		"$Y its first $(( (t_new - t0) / 1000000 )) ms after"
	[ "$t_last" -lt "$t_new" ] ||
		mm_fail "[$acct] $X accepted a delivery after $Y had accepted one: two writers"
	[ $(( (t_new - t0) / 1000000 )) -lt 5000 ] || mm_fail "[$acct] failover took over 5 s"
	# the cut-off store is fenced: its mount refuses, while it still runs
	f=$MM_T/$X/mnt/$A/Maildir/tmp/probe.$$
	[ "$(mm_errno create "$f")" = EROFS ] || mm_fail "[$acct] $X's mount still writes $A"
	succ | awk -v t="$t_new" '$1 < t {print $3}' >"$MM_T/acked.before"
	w=$(missing "$Y" "$A" "$MM_T/acked.before")
	mm_log "[$acct] acknowledged before the failover and not on $Y: $w"
	[ "$acct" = async1 ] || mm_assert_eq "$w" 0 "[$acct] acknowledged deliveries missing on $Y"
	mm_log "[$acct] heal"
	netns_rejoin "$X"
	mm_wait_for 10 awk -v t="$t_new" '$1 > t && $3 != "-" {n++} END{exit n < 20}' "$WLOG" ||
		mm_fail "[$acct] deliveries stopped after the heal"
	writer_stop
	mm_wait_for 30 agreed "$A" >/dev/null || mm_fail "[$acct] no agreed active after the heal"
	Z=$(agreed "$A")
	mm_wait_converged 60 "$A" $STORES
	succ | awk '{print $3}' >"$MM_T/acked"
	mm_log "[$acct] active $Z after the heal; $(wc -l <"$MM_T/acked") deliveries acknowledged"
	mm_assert_eq "$(missing "$Z" "$A" "$MM_T/acked")" 0 "[$acct] acknowledged deliveries missing"
done

A=example.org/sync1
X=$(agreed "$A") || mm_fail "no agreed active for $A"
mm_log "a slow store: 400 ms injected into every probe of $X, the active store of $A"
writer_start "$A"
mm_wait_for 10 grep -q " $X [0-9]" "$WLOG" || mm_fail "no delivery on $X"
t0=$(date +%s%N)
python3 - "$MM_T/$X/state/hbmon.sock" <<'PY' || mm_fail "probe-delay refused"
import socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
s.sendall(b"probe-delay 400\n"); r = s.recv(100)
sys.exit(0 if r.startswith(b"ok") else 1)
PY
mm_wait_for 20 agreed "$A" "$X" >/dev/null || mm_fail "$A did not move off the slow $X"
Y=$(agreed "$A" "$X")
mm_log "$A moved from $X to $Y $(( ($(date +%s%N) - t0) / 1000000 )) ms after the slowdown;" \
	"$Y sees $X $(netns_state "$Y" "$X"): $(netns_member "$Y" "$X" .reason)"
mm_assert_eq "$(netns_state "$Y" "$X")" degraded "$X in $Y's view"
netns_member "$Y" "$X" .reason | grep -q "probe" || mm_fail "$Y's reason for $X: no probe"
mm_wait_for 10 awk -v y="$Y" '$2 == y && $3 != "-" {f=1} END{exit !f}' "$WLOG" ||
	mm_fail "no delivery on $Y after the move"
writer_stop
mm_wait_converged 60 "$A" $STORES
succ | awk '{print $3}' >"$MM_T/acked"
mm_assert_eq "$(missing "$Y" "$A" "$MM_T/acked")" 0 "acknowledged deliveries missing after the move"

netns_cluster_stop
if grep -q -E "Sanitizer|runtime error:" "$MM_T"/*/*.log; then
	grep -h -B2 -A30 -E "Sanitizer|runtime error:" "$MM_T"/*/*.log >&2
	mm_fail "sanitizer reports"
fi
netns_teardown
mm_log "ok"
