#!/bin/bash
# SPDX-License-Identifier: MIT
# replication-retention.sh - retention removes journal segments a stopped
# peer never acknowledged: the source says so (log, status, a marker that
# survives restarts) instead of letting the replica drift silently;
# streaming goes on from what is left, and when the peer is back the source
# resyncs its accounts by itself (folder digests first) and clears the mark.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/cluster.sh"

MM_NODE_EXTRA=$'[journal]\nsegment_size = 4K\nretention_size = 12K'
mm_cluster_up a b
ACCT=example.org/alice
M=$MM_T/a/mnt/$ACCT/Maildir
mkdir -p "$M/cur" "$M/new" "$M/tmp"
deliver() { mm_deliver a "$ACCT" "$1"; }
for i in 1 2 3; do deliver "1700000000.M${i}P1.host"; done
mm_wait_converged 20 "$ACCT" a b
status() { mm_link a b; }
mm_assert_eq "$(status | jq .needs_resync)" false "b needs no resync while it keeps up"

mm_log "b's replicator stops; a's journal outgrows retention_size"
mm_node_stop_repl b
acked=$(status | jq .acked_lsn)
for i in $(seq 10 120); do deliver "1700000000.M${i}P1.host"; done
mm_wait_for 20 grep -q "removed segment" "$MM_T/a/fs.log" ||
	mm_fail "retention removed no segment"
mm_wait_for 20 grep -q "journal records $((acked + 1))\.\.[0-9]* were removed by retention before b acknowledged them: b needs a resync" \
	"$MM_T/a/repl.log" || mm_fail "a did not report what b lost"
mm_assert_eq "$(status | jq '[.needs_resync, .lost_from]' -c)" "[true,$((acked + 1))]" \
	"status of b while it is down"
"$MM_CTL" -c "$MM_T/a.ini" replication | grep -q "^b .*NEEDS A RESYNC" ||
	mm_fail "the status table does not show that b needs a resync"

mm_node_stop_repl a
mm_node_repl a
mm_assert_eq "$(status | jq .needs_resync)" true "the mark survives a restart of a's replicator"

mm_log "b returns: the rest streams, and a resyncs the account by itself"
mm_node_repl b
mm_wait_for 30 grep -q "replication to b: resync done; it no longer needs one" "$MM_T/a/repl.log" ||
	mm_fail "a did not resync b by itself"
mm_wait_converged 30 "$ACCT" a b
[ -e "$MM_T/b/store/$ACCT/Maildir/new/1700000000.M10P1.host" ] ||
	mm_fail "b lacks a message whose record retention removed"
mm_assert_eq "$(status | jq .needs_resync)" false "b's mark after the resync"
[ ! -e "$MM_T/a/state/replication/to-b.resync" ] || mm_fail "to-b.resync is still there"
# digests: b listed what it had, only the rest travelled
grep -q "resync of $ACCT to b: sent, .* [0-9]* messages ([1-9][0-9]* the peer had: no content)" \
	"$MM_T/a/repl.log" || mm_fail "a sent b content it had: $(grep 'to b: sent' "$MM_T/a/repl.log")"
mm_cluster_stop
mm_finish
