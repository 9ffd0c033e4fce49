#!/bin/bash
# SPDX-License-Identifier: MIT
# expunge-guard.sh - a mass expunge through Dovecot on the active store:
# the guard trips and holds it (replicas keep every message, flags
# unchanged, deliveries and flags still flow, the hold survives a restart),
# `expunge-guard revert` brings the messages back with their flags; then
# `confirm` ships a second one, the replicas keep the expunged files, and
# `undelete` restores them with their flags (twice: nothing the second time);
# a move of every message is neither tripped on nor kept.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/cluster.sh"
. "$(dirname "$0")/dovecot-lib.sh"

mm_dovecot_require
MM_NODE_EXTRA=$'[replication]\nexpunge_guard = 20%\nexpunge_guard_min = 10\nexpunge_retention = 1d'
mm_cluster_up a b c
ACCT=example.org/alice
MUSER=alice@example.org
N=50
mkdir -p "$MM_T/a/mnt/$ACCT"
chown "$VUID:$VGID" "$MM_T/a/mnt/example.org" "$MM_T/a/mnt/$ACCT"
DA=$MM_T/dovecot-a
mm_dovecot_start "$DA" "maildir:$MM_T/a/mnt/%d/%n/Maildir"
da() { doveadm -c "$DA/dovecot.conf" "$@"; }
lda() { $MM_LDA -c "$DA/dovecot.conf" -d "$MUSER"; }
ctl() { mm_node_ctl a "$@"; }

# what Dovecot shows of INBOX: Message-ID and flags, one line each
view() {
	da -f tab fetch -u "$MUSER" 'hdr.message-id flags' mailbox INBOX all |
		sed 1d | sed 's/ *\\Recent//' | sort
}
# a store's INBOX messages (new/ and cur/, names with their flags)
names() {
	ls "$MM_T/$1/store/$ACCT/Maildir/cur" "$MM_T/$1/store/$ACCT/Maildir/new" |
		grep -v -e '^$' -e ':$' | sort
}
count() { names "$1" | wc -l; }
# Dovecot notices files it did not write at its next sync of the folder
same_view() { [ "$(view 2>/dev/null | grep -v gmark)" = "$expect" ]; }
# check_view WHAT: Dovecot on a shows $expect (the marker aside)
check_view() {
	local after
	mm_wait_for 10 same_view || true
	after=$(view | grep -v gmark)
	if [ "$after" != "$expect" ]; then
		diff <(printf '%s\n' "$expect") <(printf '%s\n' "$after") >&2 || true
		mm_fail "Dovecot on a does not show $1"
	fi
}
kept() { find "$MM_T/$1/state/expunged/$ACCT" -type f 2>/dev/null | wc -l; }
guard_line() { ctl replication --json | jq -c "select(.expunge_guard == \"$ACCT\")"; }
tripped() { [ -n "$(guard_line)" ]; }
released() { [ -z "$(guard_line)" ]; }
has_name() { names "$1" | grep -qxF "$2"; }

mm_log "$N messages with a mix of flags, through Dovecot's LDA and doveadm"
for i in $(seq 1 $N); do
	printf 'From: bob@example.net\nTo: %s\nSubject: message %s\nMessage-ID: <g%s@example.net>\n\n%s\n' \
		"$MUSER" "$i" "$i" "$(head -c $((i * 200)) /dev/zero | tr '\0' y)" | lda ||
		mm_fail "dovecot-lda delivery $i failed"
done
da flags add -u "$MUSER" '\Seen' mailbox INBOX uid 1:30 || mm_fail "flags \\Seen"
da flags add -u "$MUSER" '\Flagged' mailbox INBOX uid 5:12 || mm_fail "flags \\Flagged"
da flags add -u "$MUSER" '\Answered $Label1' mailbox INBOX uid 20:25 || mm_fail "flags \\Answered"
mm_wait_converged 30 "$ACCT" a b c
before=$(view)
[ "$(printf '%s\n' "$before" | wc -l)" = $N ] || mm_fail "Dovecot shows $(printf '%s\n' "$before" | wc -l) messages, not $N"
printf '%s\n' "$before" | grep -q 'Flagged' || mm_fail "no \\Flagged message: $before"
# Dovecot moved new/ to cur/ while it read them: let that replicate too
mm_wait_converged 30 "$ACCT" a b c
names_b=$(names b)
mm_assert_eq "$(count b)" $N "messages on b before the expunge"

mm_log "scenario 1: a mass expunge of 45 of $N; the guard trips"
t0=$(date +%s%N)
da expunge -u "$MUSER" mailbox INBOX uid 1:45 || mm_fail "doveadm expunge"
mm_wait_for 20 tripped || mm_fail "the guard did not trip: $(ctl replication --json)"
t1=$(date +%s%N)
mm_log "the guard tripped $(( (t1 - t0) / 1000000 )) ms after doveadm expunge began"
grep -q "expunge guard: $ACCT: more than 20% of its messages" "$MM_T/a/repl.log" ||
	mm_fail "no error logged for the trip"
[ "$(grep -c "expunge guard: $ACCT: more than" "$MM_T/a/repl.log")" = 1 ] ||
	mm_fail "the trip was logged more than once"
ctl replication | grep -q "^EXPUNGE GUARD: $ACCT" || mm_fail "the status table does not show it"
ctl replication | grep -q "^b .*EXPUNGES HELD: $ACCT" || mm_fail "b's link does not show the hold"
mm_assert_eq "$(mm_link a b '.paused[0].guard')" true "b's link holds alice's expunges"
mm_assert_eq "$(mm_link a c '.paused[0].guard')" true "c's link holds alice's expunges"

mm_log "deliveries and flag changes still flow; the replicas keep every message"
printf 'From: bob@example.net\nSubject: marker\nMessage-ID: <gmark@example.net>\n\nm\n' | lda ||
	mm_fail "marker delivery"
da flags add -u "$MUSER" '\Seen' mailbox INBOX uid 46 || mm_fail "flags on uid 46"
expect=$(printf '%s\n' "$before" | sed 's/^\(<g46@example.net>\)\t$/\1\t\\Seen/')
[ "$expect" != "$before" ] || mm_fail "uid 46 had flags already: $before"
# a's journal order: the marker and the flag change come after every
# expunge, so once a replica has them every expunge was held or applied
covers() { [ -z "$(comm -23 <(names a) <(names "$1"))" ]; }
for n in b c; do
	mm_wait_for 20 covers "$n" ||
		mm_fail "$n does not have a's messages with their flags: $(comm -23 <(names a) <(names "$n"))"
	got=$(count "$n")
	k=$(kept "$n")
	mm_log "$n: $got messages in the Maildir, $k kept of the expunges shipped before the trip"
	mm_assert_eq "$((got + k))" $((N + 1)) "$n: messages in the Maildir plus kept"
	[ "$k" -le 10 ] || mm_fail "$n: $k expunges reached it; the guard allows 10"
	[ "$got" -ge $((N + 1 - 10)) ] || mm_fail "$n has only $got messages"
	# every message still there has the flags it had: new names are the
	# marker and uid 46's \Seen only
	changed=$(comm -13 <(printf '%s\n' "$names_b") <(names "$n") | wc -l)
	[ "$changed" = 2 ] || mm_fail "$n: names changed beyond the marker and uid 46: $(comm -13 <(printf '%s\n' "$names_b") <(names "$n"))"
done
mm_assert_eq "$(names a | wc -l)" 6 "messages on a after the expunge (5 left, the marker)"

mm_log "metrics show the hold; it survives a restart of the replicator"
ctl metrics | grep -q "^mailmesh_expunge_guard_held{store=\"a\",account=\"$ACCT\"} [1-9]" ||
	mm_fail "no mailmesh_expunge_guard_held metric: $(ctl metrics | grep expunge)"
mm_node_stop_repl a
mm_node_repl a
mm_wait_streaming a b
mm_wait_streaming a c
tripped || mm_fail "the guard's hold did not survive a restart"
mm_assert_eq "$(mm_link a b '.paused[0].guard')" true "b's hold after the restart"

mm_log "revert: the messages come back on a with their flags, everything converges"
out=$(ctl expunge-guard "$ACCT" revert) || mm_fail "expunge-guard revert failed: $out"
mm_log "revert: $(printf '%s\n' "$out" | tail -n 2 | tr '\n' ' ')"
printf '%s\n' "$out" | grep -q "^$ACCT: 45 restored, 0 already there, 0 failed" ||
	mm_fail "revert did not restore the 45: $out"
released || mm_fail "the guard still holds after revert"
mm_wait_converged 30 "$ACCT" a b c
check_view "the messages back with their flags"
[ "$(mm_link a b '.paused | length')" = 0 ] || mm_fail "b's link still holds something"

mm_log "scenario 2: expunge all $((N + 1)) again; confirm ships it"
da expunge -u "$MUSER" mailbox INBOX all || mm_fail "doveadm expunge all"
mm_wait_for 20 tripped || mm_fail "the guard did not trip the second time"
out=$(ctl expunge-guard "$ACCT" confirm) || mm_fail "confirm failed: $out"
mm_assert_eq "$out" "$ACCT: confirmed" "expunge-guard confirm"
released || mm_fail "the guard still holds after confirm"
mm_wait_converged 30 "$ACCT" a b c
for n in b c; do
	mm_assert_eq "$(count "$n")" 0 "messages on $n after confirm"
	k=$(kept "$n")
	[ "$k" -ge $((N + 1)) ] || mm_fail "$n keeps only $k expunged files"
done
ctl expunge-guard "$ACCT" confirm >/dev/null 2>&1 && mm_fail "confirm with nothing held succeeded"

mm_log "undelete: back through a with their flags, replicated; a second run restores nothing"
out=$(ctl undelete "$ACCT" --dry-run) || mm_fail "undelete --dry-run: $out"
printf '%s\n' "$out" | grep -q "^$ACCT: $((N + 1)) to restore" || mm_fail "dry run: $out"
mm_assert_eq "$(count a)" 0 "a after the dry run"
t0=$(date +%s%N)
out=$(ctl undelete "$ACCT" --since 1h) || mm_fail "undelete failed: $out"
t1=$(date +%s%N)
mm_log "undelete: $(printf '%s\n' "$out" | tail -n 1), $(( (t1 - t0) / 1000000 )) ms in all"
printf '%s\n' "$out" | grep -q "^$ACCT: $((N + 1)) restored, 0 already there, 0 failed" ||
	mm_fail "undelete did not restore $((N + 1)): $out"
mm_wait_converged 30 "$ACCT" a b c
check_view "the undeleted messages with their flags"
view | grep -q gmark || mm_fail "the marker was not undeleted"
out=$(ctl undelete "$ACCT") || mm_fail "second undelete failed: $out"
printf '%s\n' "$out" | grep -q "^$ACCT: 0 restored, $((N + 1)) already there, 0 failed" ||
	mm_fail "the second undelete restored something: $out"
ctl undelete example.org/../x >/dev/null 2>&1 && mm_fail "undelete took a bad account name"

mm_log "a move of every message to another folder is no mass expunge, and is not kept"
kept_b=$(kept b)
da mailbox create -u "$MUSER" Archive || mm_fail "mailbox create Archive"
da move -u "$MUSER" Archive mailbox INBOX all || mm_fail "doveadm move"
mm_wait_converged 30 "$ACCT" a b c
released || mm_fail "a move tripped the guard: $(guard_line)"
mm_assert_eq "$(count a)" 0 "INBOX on a after the move"
mm_assert_eq "$(ls "$MM_T/b/store/$ACCT/Maildir/.Archive/cur" "$MM_T/b/store/$ACCT/Maildir/.Archive/new" | grep -v -e '^$' -e ':$' | wc -l)" \
	$((N + 1)) "messages in Archive on b"
mm_assert_eq "$(kept b)" "$kept_b" "expunged files kept on b after the move"
mm_node_ctl b undelete "$ACCT" >/dev/null 2>&1 && mm_fail "undelete ran on a replica"

for f in "$DA/dovecot.log"; do
	if grep -E 'Panic:|Fatal:|[Cc]orrupt|killed with signal' "$f" >&2; then
		mm_fail "Dovecot logged errors"
	fi
done
mm_dovecot_stop "$DA"
mm_cluster_stop
mm_log "ok"
