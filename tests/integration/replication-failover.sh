#!/bin/bash
# SPDX-License-Identifier: MIT
# replication-failover.sh - failover by hand: a is cut off with deliveries
# it never shipped, the account is switched to b (read-only on a,
# read-write on b), b takes more mail; when a comes back its late
# deliveries are merged into b through b's mount (journaled there, so they
# reach every replica): nothing is lost, nothing doubled, a and c end
# identical to b. a's late flag changes, expunge, folder and uidlist are
# merged by the rules of docs/replication.md: flags per flag by clock, an
# expunge wins, UIDs are never reused and b's UIDVALIDITY stays.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/cluster.sh"

mm_cluster_up a b c
ACCT=example.org/alice
deliver() { mm_deliver "$1" "$ACCT" "$2"; }
mkdir -p "$MM_T/a/mnt/$ACCT/Maildir/"{cur,new,tmp}
for i in 1 2 3 4 5 9; do deliver a "1700000000.M${i}P1.a"; done
mv "$MM_T/a/mnt/$ACCT/Maildir/new/1700000000.M1P1.a" "$MM_T/a/mnt/$ACCT/Maildir/cur/1700000000.M1P1.a:2,S"
mv "$MM_T/a/mnt/$ACCT/Maildir/new/1700000000.M4P1.a" "$MM_T/a/mnt/$ACCT/Maildir/cur/1700000000.M4P1.a:2,"
mm_wait_converged 20 "$ACCT" a b c

mm_log "a is cut off and takes 3 deliveries it cannot ship"
mm_node_stop_repl a
for i in 6 7 8; do deliver a "1700000000.M${i}P1.a"; done
# and a folder b never saw, with a message in it
mkdir -p "$MM_T/a/mnt/$ACCT/Maildir/.Late/"{cur,new,tmp}
printf 'Subject: late folder\n\nx\n' >"$MM_T/a/mnt/$ACCT/Maildir/.Late/tmp/1700000002.M1P1.a"
mv "$MM_T/a/mnt/$ACCT/Maildir/.Late/tmp/1700000002.M1P1.a" \
	"$MM_T/a/mnt/$ACCT/Maildir/.Late/new/1700000002.M1P1.a"
# and flag changes, an expunge, an empty folder, a uidlist
M=$MM_T/a/mnt/$ACCT/Maildir
mv "$M/new/1700000000.M3P1.a" "$M/cur/1700000000.M3P1.a:2,S"	# \Seen; b adds \Answered
mv "$M/cur/1700000000.M4P1.a:2," "$M/cur/1700000000.M4P1.a:2,F"	# b clears it later
rm "$M/new/1700000000.M9P1.a"	# b flags it later: the expunge wins
mkdir -p "$M/.Empty/"{cur,new,tmp}
# a gave UID 7 to M6 and 8 to M7; b will give 7 to its own first message
printf '3 V1700000000 N9 Gaaaa\n1 :1700000000.M1P1.a\n7 :1700000000.M6P1.a\n8 :1700000000.M7P1.a\n' \
	>"$M/dovecot-uidlist"

mm_log "failover by hand: b becomes the source"
mm_node_ctl a account "$ACCT" readonly >/dev/null
mm_node_ctl b account "$ACCT" readwrite >/dev/null
mm_node_ctl c account "$ACCT" readonly >/dev/null
for i in 1 2; do deliver b "1700000001.M${i}P1.b"; done
mv "$MM_T/b/mnt/$ACCT/Maildir/new/1700000000.M2P1.a" "$MM_T/b/mnt/$ACCT/Maildir/cur/1700000000.M2P1.a:2,RS"
# every change of b is journaled after a's (the journals' clocks)
M=$MM_T/b/mnt/$ACCT/Maildir
mv "$M/new/1700000000.M3P1.a" "$M/cur/1700000000.M3P1.a:2,R"
mv "$M/cur/1700000000.M4P1.a:2," "$M/cur/1700000000.M4P1.a:2,F"
mv "$M/cur/1700000000.M4P1.a:2,F" "$M/cur/1700000000.M4P1.a:2,"
mv "$M/new/1700000000.M9P1.a" "$M/cur/1700000000.M9P1.a:2,F"
printf '3 V1700000099 N8 Gbbbb\n1 :1700000000.M1P1.a\n7 :1700000001.M1P1.b\n' >"$M/dovecot-uidlist"

mm_log "a returns"
mm_node_repl a
mm_wait_for 30 sh -c "[ \$(ls '$MM_T/b/store/$ACCT/Maildir/new' | wc -l) -ge 6 ] &&
	[ -e '$MM_T/b/store/$ACCT/Maildir/.Late/new/1700000002.M1P1.a' ]" ||
	mm_fail "a's late deliveries did not reach b"
mm_wait_converged 30 "$ACCT" b a c
count() { find "$MM_T/$1/store/$ACCT/Maildir" -path '*/tmp' -prune -o -type f -name '17*' -print | wc -l; }
for n in a b c; do
	mm_assert_eq "$(count "$n")" 11 \
		"messages on $n (6 before, 4 late from a, 1 expunged by a, 2 on b)"
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

# flags per flag: a's \Seen and b's \Answered both; b's later clear of F wins
for n in a b c; do
	S=$MM_T/$n/store/$ACCT/Maildir
	[ -f "$S/cur/1700000000.M3P1.a:2,RS" ] ||
		mm_fail "M3 on $n is not R and S: $(ls "$S/cur" | grep M3P1)"
	[ -f "$S/cur/1700000000.M4P1.a:2," ] ||
		mm_fail "M4 on $n: b's later clear of F lost: $(ls "$S/cur" | grep M4P1)"
	[ -z "$(ls "$S/new" "$S/cur" | grep M9P1)" ] ||
		mm_fail "M9, expunged by a, is still on $n"
	[ -d "$S/.Empty/cur" ] || mm_fail "a's late folder .Empty is not on $n"
done
# the uidlist: b's UIDVALIDITY and UIDs, a's M7 at its UID 8 (never given
# out on b), a's M6 at a fresh UID since b gave 7 to its own message
U=$MM_T/b/store/$ACCT/Maildir/dovecot-uidlist
mm_assert_eq "$(head -n 1 "$U")" "3 V1700000099 N10 Gbbbb" "merged uidlist header on b"
mm_assert_eq "$(grep -c . "$U")" 5 "lines of the merged uidlist on b"
grep -qx '7 :1700000001.M1P1.b' "$U" || mm_fail "b's UID 7 changed: $(cat "$U")"
grep -qx '8 :1700000000.M7P1.a' "$U" || mm_fail "a's UID 8 not kept: $(cat "$U")"
grep -qx '9 :1700000000.M6P1.a' "$U" || mm_fail "M6 did not get a fresh UID: $(cat "$U")"
cmp -s "$U" "$MM_T/c/store/$ACCT/Maildir/dovecot-uidlist" ||
	mm_fail "c's uidlist is not b's merged one"
# every conflict counted and logged, naming the peer, LSN, message and rule
[ "$(mm_store_count b conflicts)" -ge 3 ] ||
	mm_fail "b counted $(mm_store_count b conflicts) conflicts, expected 3 or more"
[ "$(mm_store_count b late_merged)" -ge 5 ] ||
	mm_fail "b merged $(mm_store_count b late_merged) late records, expected 5 or more"
L=$MM_T/b/repl.log
grep -q "replication from a: late record [0-9]* (flags $ACCT/Maildir/1700000000.M4P1.a:2,): conflict: .*rule: flags merge per flag" "$L" ||
	mm_fail "b did not log the conflict on M4's F"
grep -q "replication from a: late record [0-9]* (expunge $ACCT/Maildir/1700000000.M9P1.a): conflict: .*rule: an expunge wins" "$L" ||
	mm_fail "b did not log the expunge of M9 over its later flag"
grep -q "replication from a: late record [0-9]* (meta $ACCT/Maildir/dovecot-uidlist): conflict: .*at a fresh UID" "$L" ||
	mm_fail "b did not log the uidlist merge"
grep -q "replication from a: late record [0-9]* (move $ACCT/Maildir/1700000000.M3P1.a): .*-> cur/1700000000.M3P1.a:2,RS" "$L" ||
	mm_fail "b did not log the merge of M3's flags"

mm_log "b loses its cursor of a: a's records again change nothing"
before=$(mm_tree b "$ACCT")
mm_node_stop_repl b
rm -f "$MM_T/b/state/replication/from-a.lsn"
mm_node_repl b
last=$(mm_last_lsn_of a)
in_durable() {
	"$MM_CTL" -c "$MM_T/b.ini" replication --json |
		jq -r 'select(.peer == "a" and .direction == "in") | .durable_lsn'
}
mm_wait_for 30 eval '[ "$(in_durable)" = "$last" ]' ||
	mm_fail "b did not apply a's records again (at $(in_durable) of $last)"
mm_assert_eq "$(mm_store_count b merged)" 0 "late deliveries merged again"
mm_assert_eq "$(mm_store_count b late_merged)" 0 "late records merged again"
[ "$(mm_tree b "$ACCT")" = "$before" ] || {
	diff <(echo "$before") <(mm_tree b "$ACCT") >&2
	mm_fail "a's records applied again changed b"
}
mm_wait_converged 30 "$ACCT" b a c
mm_cluster_stop
mm_finish
