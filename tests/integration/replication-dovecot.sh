#!/bin/bash
# SPDX-License-Identifier: MIT
# replication-dovecot.sh - real Dovecot on store a (LDA deliveries, doveadm
# flags, keywords, copy, move, expunge, mailbox create/rename/delete): the
# trees on b and c become identical to a's, and a second Dovecot reading
# b's read-only mount sees the same mailboxes, messages, flags and UIDs.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/cluster.sh"
. "$(dirname "$0")/dovecot-lib.sh"

mm_dovecot_require
mm_cluster_up a b c
ACCT=example.org/alice
MUSER=alice@example.org
mkdir -p "$MM_T/a/mnt/$ACCT"
chown "$VUID:$VGID" "$MM_T/a/mnt/example.org" "$MM_T/a/mnt/$ACCT"

DA=$MM_T/dovecot-a
DB=$MM_T/dovecot-b
mm_dovecot_start "$DA" "maildir:$MM_T/a/mnt/%d/%n/Maildir"
da() { doveadm -c "$DA/dovecot.conf" "$@"; }
lda() { $MM_LDA -c "$DA/dovecot.conf" -d "$MUSER"; }

mm_log "Dovecot works on a"
for i in 1 2 3 4 5 6; do
	printf 'From: bob@example.net\nTo: %s\nSubject: message %s\nMessage-ID: <r%s@example.net>\n\n%s\n' \
		"$MUSER" $i $i "$(head -c $((i * 1000)) /dev/zero | tr '\0' x)" | lda ||
		mm_fail "dovecot-lda delivery $i failed"
done
da flags add -u "$MUSER" '\Seen' mailbox INBOX uid 1:4 || mm_fail "flags add"
da flags add -u "$MUSER" '\Flagged $Label1' mailbox INBOX uid 1 || mm_fail "keyword"
da flags add -u "$MUSER" '\Answered' mailbox INBOX uid 2 || mm_fail "flags answered"
da mailbox create -u "$MUSER" Archive Sent Junk || mm_fail "mailbox create"
da copy -u "$MUSER" Archive mailbox INBOX uid 1 || mm_fail "copy"
da move -u "$MUSER" Sent mailbox INBOX uid 2 || mm_fail "move"
da expunge -u "$MUSER" mailbox INBOX uid 3 || mm_fail "expunge"
da mailbox rename -u "$MUSER" Archive Old || mm_fail "mailbox rename"
da mailbox delete -u "$MUSER" Junk || mm_fail "mailbox delete"
da mailbox subscribe -u "$MUSER" Sent Old || mm_fail "subscribe"
printf 'From: carol@example.net\nSubject: late\n\nlate\n' | lda || mm_fail "late delivery"
mm_wait_converged 30 "$ACCT" a b c

mm_log "a second Dovecot on b's read-only mount sees the same mail"
# in-memory indexes: the replica's mount refuses writes, as it should
mm_dovecot_start "$DB" "maildir:$MM_T/b/mnt/%d/%n/Maildir:INDEX=MEMORY"
db() { doveadm -c "$DB/dovecot.conf" "$@"; }
# CONF: every mailbox's messages with UID, flags, GUID, date and size;
# \Recent is a per-session flag kept in the index, not in the Maildir
view() {
	doveadm -c "$1" -f tab fetch -u "$MUSER" \
		'mailbox uid flags guid date.received size.physical' mailbox '*' all |
		sed 's/ *\\Recent//' | sort
}
a_view=$(view "$DA/dovecot.conf")
# Dovecot takes the uidlist lock to sync even a mailbox it opened read-only;
# that fails on the replica, and must be the only complaint
b_view=$(view "$DB/dovecot.conf" 2>"$DB/doveadm.err")
other=$(grep -v -E 'dovecot-uidlist(\.lock)?\) failed: Read-only file system|Syncing mailbox .* failed: .*dovecot-uidlist' \
	"$DB/doveadm.err" || true)
[ -z "$other" ] || mm_fail "doveadm on b's replica reported: $other"
[ "$(printf '%s\n' "$a_view" | wc -l)" -ge 6 ] || mm_fail "too few messages on a: $a_view"
if [ "$a_view" != "$b_view" ]; then
	diff <(printf '%s\n' "$a_view") <(printf '%s\n' "$b_view") >&2
	mm_fail "Dovecot on b sees other mailboxes, UIDs or flags than on a"
fi
mm_assert_eq "$(db mailbox list -u "$MUSER" 2>/dev/null | sort | tr '\n' ' ')" \
	"$(da mailbox list -u "$MUSER" | sort | tr '\n' ' ')" "mailbox list on b"
a_status=$(da -f tab mailbox status -u "$MUSER" 'uidvalidity uidnext' INBOX)
[[ $a_status == *[0-9]* ]] || mm_fail "no UIDVALIDITY from a: $a_status"
mm_assert_eq "$(db -f tab mailbox status -u "$MUSER" 'uidvalidity uidnext' INBOX 2>/dev/null)" \
	"$a_status" "UIDVALIDITY and UIDNEXT of INBOX on b"
mm_assert_eq "$(db mailbox list -u "$MUSER" -s 2>/dev/null | sort | tr '\n' ' ')" "Old Sent " \
	"subscriptions on b"
printf 'From: x@example.net\nSubject: no\n\nno\n' |
	$MM_LDA -c "$DB/dovecot.conf" -d "$MUSER" 2>/dev/null &&
	mm_fail "a delivery into b's replica succeeded"
for d in "$DA" "$DB"; do
	if grep -E 'Panic:|Fatal:|[Cc]orrupt|killed with signal' "$d/dovecot.log" >&2; then
		mm_fail "Dovecot (${d##*/}) logged errors"
	fi
done
grep -E 'Error:' "$DA/dovecot.log" >&2 && mm_fail "Dovecot on a logged errors"
mm_dovecot_stop "$DB"
mm_dovecot_stop "$DA"
mm_cluster_stop
mm_finish
