#!/bin/bash
# SPDX-License-Identifier: MIT
# replication-resync.sh - mailmeshctl resync ACCOUNT: a Maildir tree that
# predates the journal (put in a's store directly) reaches b whole, with
# owners, modes and mtimes; a resync after b lost a message and a's flags
# changed behind the journal repairs b, sending content only for what b
# lacks, and removes what b has and a has not (messages, metadata, a
# folder); a resync of an unchanged account sends nothing but digests.
# Then a new store, c (configured from the start, started last): it gets
# the account by resync by itself, the tree older than the journal too.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/cluster.sh"

mm_cluster_init a b c
for n in a b; do
	mm_node_fs $n
	mm_node_repl $n
done
# a and b are new to each other: each seeds the other (nothing to send
# yet); the tree below goes in once that is done
mm_wait_streaming a b
mm_wait_for 20 eval "[ \"\$(mm_link a b .seeding)\" = false ]" || mm_fail "a never ended seeding b"
ACCT=example.org/alice
S=$MM_T/a/store/$ACCT/Maildir
mkdir -p "$S/cur" "$S/new" "$S/tmp" "$S/.Sent/cur" "$S/.Sent/new" "$S/.Sent/tmp"
for i in $(seq 1 30); do
	size=$(( i == 7 ? 2000000 : i * 300 ))
	head -c "$size" /dev/urandom >"$S/cur/1600000000.M${i}P1.old,S=$size:2,S"
	touch -d "2020-03-0$(( i % 9 + 1 )) 10:00:00" "$S/cur/1600000000.M${i}P1.old,S=$size:2,S"
done
for i in 1 2 3; do printf 'Subject: n%s\n\nnew\n' $i >"$S/new/1600000001.M${i}P1.old"; done
for i in 1 2 3 4 5; do printf 'Subject: s%s\n\nsent\n' $i >"$S/.Sent/cur/1600000002.M${i}P1.old:2,S"; done
printf '3 V1600000000 N39 G00\n' >"$S/dovecot-uidlist"
: >"$S/.Sent/maildirfolder"
chown -R mail:mail "$MM_T/a/store/example.org"
[ ! -e "$MM_T/b/store/$ACCT" ] || mm_fail "b has mail that was never journaled (test set-up?)"

mm_log "resync of a tree older than the journal"
mm_wait_streaming a b
out=$(mm_node_ctl a resync "$ACCT") || mm_fail "mailmeshctl resync failed: $out"
case $out in *"to 1 peer(s)"*) ;; *) mm_fail "resync output: $out" ;; esac
mm_wait_converged 30 "$ACCT" a b
mm_assert_eq "$(stat -c %U "$MM_T/b/store/$ACCT/Maildir/cur")" mail "owner of a folder made by the resync"

mm_log "repair: b lost a message and has two files a has not, a's flags changed behind the journal"
BS=$MM_T/b/store/$ACCT/Maildir
rm "$BS/cur/1600000000.M3P1.old,S=900:2,S"
mv "$S/cur/1600000000.M4P1.old,S=1200:2,S" "$S/cur/1600000000.M4P1.old,S=1200:2,FS"
printf 'Subject: only on b\n\nx\n' >"$BS/cur/1600000009.M1P1.extra:2,S"
printf '0 Junk\n' >"$BS/.Sent/dovecot-keywords"
# and a folder a never had, with a message in it
mkdir -p "$BS/.Extra/cur" "$BS/.Extra/new" "$BS/.Extra/tmp"
printf 'Subject: extra folder\n\nx\n' >"$BS/.Extra/cur/1600000009.M2P1.extra:2,"
mm_node_ctl a resync "$ACCT" b >/dev/null || mm_fail "the second resync failed"
# a delivery while the resync runs is not taken for an extra
mm_deliver a "$ACCT" "1600000003.M1P1.during"
mm_wait_converged 30 "$ACCT" a b
mm_wait_for 20 grep -q "resync of $ACCT to b: the peer confirms it" "$MM_T/a/repl.log" ||
	mm_fail "b did not confirm the repair"
grep -q "resync of $ACCT: [0-9]* records, 0 folders the same; removed 2 messages, 1 metadata files and 1 folders the source does not have" \
	"$MM_T/b/repl.log" || mm_fail "b did not log what the resync removed"
[ ! -e "$BS/.Extra" ] || mm_fail "the folder a never had is still on b"
# only the lost message's content travelled: b listed the other 37
grep -q "resync of $ACCT to b: sent, 2 folders (0 the same on the peer, 2 differed), 2 folder records, 2 metadata files, 38 messages (37 the peer had: no content)" \
	"$MM_T/a/repl.log" || mm_fail "a's summary of the repair: $(grep 'to b: sent' "$MM_T/a/repl.log" | tail -1)"
[ -e "$BS/new/1600000003.M1P1.during" ] || mm_fail "the delivery made during the resync is not on b"
[ ! -e "$MM_T/b/store/$ACCT/Maildir/cur/1600000000.M4P1.old,S=1200:2,S" ] ||
	mm_fail "b kept the message under its old flags too"

mm_log "a third resync changes nothing, and sends nothing: the folder digests match"
before=$(mm_tree b "$ACCT")
count() { mm_store_count b "$1"; }
applied0=$(count applied)
out=$(mm_node_ctl a resync "$ACCT") || mm_fail "the third resync failed"
files=$(printf '%s' "$out" | sed -E 's/.*: ([0-9]+) files.*/\1/')
[ "$files" -ge 40 ] || mm_fail "resync output: $out"
mm_wait_for 20 eval "[ \$(grep -c 'resync of $ACCT to b: the peer confirms it' '$MM_T/a/repl.log') -ge 2 ]" ||
	mm_fail "b did not confirm the third resync"
grep 'to b: sent' "$MM_T/a/repl.log" | tail -1 |
	grep -q "sent, 2 folders (2 the same on the peer, 0 differed), 0 folder records, 0 metadata files, 0 messages" ||
	mm_fail "a's summary of the third resync: $(grep 'to b: sent' "$MM_T/a/repl.log" | tail -1)"
grep -q "resync of $ACCT: 0 records, 2 folders the same; removed 0 messages, 0 metadata files and 0 folders" \
	"$MM_T/b/repl.log" || mm_fail "b's log of the third resync"
mm_assert_eq "$(count applied)" "$applied0" "records b applied for a resync with nothing to do"
mm_assert_eq "$(mm_tree b "$ACCT")" "$before" "b after a resync with nothing to do"
if out=$(mm_node_ctl a resync "$ACCT" nobody 2>&1); then
	mm_fail "a resync to an unknown peer succeeded: $out"
fi

mm_log "a new store: c, started for the first time, is seeded with every account"
grep -q "replication to c: a new peer (it never acknowledged a record)" "$MM_T/a/repl.log" ||
	mm_fail "a did not take c for a new peer"
[ "$(mm_link a c .seeding)" = true ] || mm_fail "a's status does not say c is being seeded"
mm_node_fs c
mm_node_repl c
mm_wait_converged 60 "$ACCT" a c
mm_wait_for 20 eval "[ \"\$(mm_link a c .needs_resync)\" = false ]" ||
	mm_fail "a still says c needs a resync"
[ -e "$MM_T/a/state/replication/to-c.acked" ] || mm_fail "a will take c for new again"
mm_node_stop_repl a
mm_node_repl a
mm_wait_streaming a c
mm_assert_eq "$(grep -c 'replication to c: a new peer' "$MM_T/a/repl.log")" 1 \
	"times a took c for a new peer (a restart must not seed it again)"
mm_cluster_stop
mm_finish
