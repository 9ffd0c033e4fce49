#!/bin/bash
# SPDX-License-Identifier: MIT
# replication-failover.sh - failover by hand: a is cut off with deliveries
# it never shipped, the account is switched to b (read-only on a,
# read-write on b), b takes more mail; when a comes back its late
# deliveries are merged into b through b's mount (journaled there, so they
# reach every replica): nothing is lost, nothing doubled, a and c end
# identical to b.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/cluster.sh"

mm_cluster_up a b c
ACCT=example.org/alice
deliver() { mm_deliver "$1" "$ACCT" "$2"; }
mkdir -p "$MM_T/a/mnt/$ACCT/Maildir/"{cur,new,tmp}
for i in 1 2 3 4 5; do deliver a "1700000000.M${i}P1.a"; done
mv "$MM_T/a/mnt/$ACCT/Maildir/new/1700000000.M1P1.a" "$MM_T/a/mnt/$ACCT/Maildir/cur/1700000000.M1P1.a:2,S"
mm_wait_converged 20 "$ACCT" a b c

mm_log "a is cut off and takes 3 deliveries it cannot ship"
mm_node_stop_repl a
for i in 6 7 8; do deliver a "1700000000.M${i}P1.a"; done
# and a folder b never saw, with a message in it
mkdir -p "$MM_T/a/mnt/$ACCT/Maildir/.Late/"{cur,new,tmp}
printf 'Subject: late folder\n\nx\n' >"$MM_T/a/mnt/$ACCT/Maildir/.Late/tmp/1700000002.M1P1.a"
mv "$MM_T/a/mnt/$ACCT/Maildir/.Late/tmp/1700000002.M1P1.a" \
	"$MM_T/a/mnt/$ACCT/Maildir/.Late/new/1700000002.M1P1.a"

mm_log "failover by hand: b becomes the source"
mm_node_ctl a account "$ACCT" readonly >/dev/null
mm_node_ctl b account "$ACCT" readwrite >/dev/null
mm_node_ctl c account "$ACCT" readonly >/dev/null
for i in 1 2; do deliver b "1700000001.M${i}P1.b"; done
mv "$MM_T/b/mnt/$ACCT/Maildir/new/1700000000.M2P1.a" "$MM_T/b/mnt/$ACCT/Maildir/cur/1700000000.M2P1.a:2,RS"

mm_log "a returns"
mm_node_repl a
mm_wait_for 30 sh -c "[ \$(ls '$MM_T/b/store/$ACCT/Maildir/new' | wc -l) -ge 6 ] &&
	[ -e '$MM_T/b/store/$ACCT/Maildir/.Late/new/1700000002.M1P1.a' ]" ||
	mm_fail "a's late deliveries did not reach b"
mm_wait_converged 30 "$ACCT" b a c
count() { find "$MM_T/$1/store/$ACCT/Maildir" -path '*/tmp' -prune -o -type f -name '17*' -print | wc -l; }
for n in a b c; do
	mm_assert_eq "$(count "$n")" 11 "messages on $n (5 before, 4 late from a, 2 on b)"
done
for i in 6 7 8; do
	[ -f "$MM_T/c/store/$ACCT/Maildir/new/1700000000.M${i}P1.a" ] ||
		mm_fail "late delivery $i did not reach c through b"
done
[ -f "$MM_T/a/store/$ACCT/Maildir/cur/1700000000.M2P1.a:2,RS" ] ||
	mm_fail "b's flag change did not reach a"
[ -f "$MM_T/c/store/$ACCT/Maildir/.Late/new/1700000002.M1P1.a" ] ||
	mm_fail "the late folder's message did not reach c"
mm_assert_eq "$(mm_store_count b merged)" 4 \
	"late deliveries b merged"
grep -q "late delivery [0-9]* merged into $ACCT/Maildir" "$MM_T/b/repl.log" ||
	mm_fail "b did not log the merge"
mm_cluster_stop
mm_finish
