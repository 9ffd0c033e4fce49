#!/bin/bash
# SPDX-License-Identifier: MIT
# relay.sh - records of a dead store reach the replicas through its
# successor (tests/model/README.md, flaw 5): three stores, a sync-mode
# account active on X; Z's replicator is away while X takes 20 deliveries
# (acknowledged by Y); X is killed; the account fails over to Y, which has
# them all; Z's replicator comes back (X is gone: Z cannot get them from
# X); Y resyncs the account to its replicas because it took it over from a
# store it could not hear; then the account is promoted to Z, and every
# acknowledged delivery is there.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/cluster.sh"

command -v jq >/dev/null || mm_skip "jq missing (apt-get install jq)"
[ -x "$MM_HB" ] || mm_fail "$MM_HB not built"
A=example.org/alice
MM_CLUSTER_HBMON=1
MM_NODE_EXTRA=$'[account example.org/*]\nmode = sync\nsync_acks = 1\nsync_timeout = 2000ms\non_timeout = fail'

role_in() {
	"$MM_CTL" -c "$MM_T/$1.ini" status --json 2>/dev/null |
		jq -r --arg a "$A" '.accounts[] | select(.account == $a) | .role'
}
count() { ls "$MM_T/$1/store/$A/Maildir/new/" 2>/dev/null | grep -c '^relay'; }

mm_cluster_init a b c
for n in a b c; do	# provisioned by hand on every holder
	mkdir -p "$MM_T/$n/store/$A/Maildir/cur" "$MM_T/$n/store/$A/Maildir/new" \
		"$MM_T/$n/store/$A/Maildir/tmp"
	chown -R mail:mail "$MM_T/$n/store/example.org"
	mm_node_fs $n
	mm_node_repl $n
	mm_node_hbmon $n
done
X=$("$MM_CTL" -c "$MM_T/a.ini" placement "$A" --json | jq -r '.accounts[0].active')
mm_wait_for 20 eval '[ "$(role_in "$X")" = active ]' || mm_fail "$A is not active on $X"
set -- $(echo a b c | tr ' ' '\n' | grep -v "^$X\$")
Y=$1 Z=$2
mm_log "$A active on $X; $Z's replicator away while $X takes 20 deliveries"
mm_node_stop_repl "$Z"
for i in $(seq 1 20); do
	mm_deliver "$X" "$A" "relay$i" || mm_fail "delivery $i on $X failed"
done
mm_wait_for 10 eval '[ "$(count "$Y")" = 20 ]' || mm_fail "$Y has $(count "$Y") of the 20"
mm_assert_eq "$(count "$Z")" 0 "deliveries on $Z, whose replicator is away"

mm_log "kill -9 $X; $A fails over to $Y"
kill -9 $(mm_node_pid "$X" fs) $(mm_node_pid "$X" repl) $(mm_node_pid "$X" hbmon)
eval "MM_PID_${X}_hbmon= MM_PID_${X}_repl="
mm_node_stop_fs "$X"
mm_wait_for 20 eval '[ "$(role_in "$Y")" = active ]' || mm_fail "$A did not fail over to $Y"
mm_wait_for 10 grep -q "account $A: active here after its store was lost; the resync to $Z waits" \
	"$MM_T/$Y/hbmon.log" || mm_fail "$Y did not queue a resync of $A to $Z"

mm_log "$Z's replicator comes back: $Y's resync brings it $X's deliveries"
mm_node_repl "$Z"
mm_wait_for 30 grep -q "account $A: active here after its store was lost: resyncing it to $Z" \
	"$MM_T/$Y/hbmon.log" || mm_fail "$Y did not resync $A to $Z once it connected"
mm_wait_for 30 eval '[ "$(count "$Z")" = 20 ]' ||
	mm_fail "$Z has $(count "$Z") of the 20 after $Y's resync: $(grep -i resync "$MM_T/$Y/repl.log" | tail -3)"

mm_log "promote $A to $Z: every acknowledged delivery is there"
out=$("$MM_CTL" -c "$MM_T/$Y.ini" promote "$A" "$Z") || mm_fail "promote: $out"
mm_wait_for 20 eval '[ "$(role_in "$Z")" = active ]' || mm_fail "$A did not move to $Z"
mm_assert_eq "$(count "$Z")" 20 "acknowledged deliveries on $Z, now the active"
mm_cluster_stop
for n in a b c; do mm_node_stop_hbmon $n; done
mm_finish
