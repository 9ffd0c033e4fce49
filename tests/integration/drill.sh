#!/bin/bash
# SPDX-License-Identifier: MIT
# drill.sh - mailmeshctl drill on three stores on loopback (mounts,
# replicators, mailmesh-hbmon, sync mode) while Dovecot LDA delivers: the
# ROLE answers, a --to that holds nothing, a drill there and back with its
# figures, a drill that cannot finish in time and puts things back.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/cluster.sh"
. "$(dirname "$0")/dovecot-lib.sh"

command -v jq >/dev/null || mm_skip "jq missing (apt-get install jq)"
mm_dovecot_require
[ -x "$MM_HB" ] || mm_fail "$MM_HB not built"

A=example.org/alice
MUSER=alice@example.org
# bob lives on a and b only (each file lists every store as a [peer], so
# its replicas list names exactly its holders)
B=example.org/bob
MM_CLUSTER_HBMON=1
# appended once every file lists every store (bob's section first: the
# first that matches applies)
ACCOUNTS_INI=$'[account example.org/bob]\nreplicas = a, b\nmode = sync\nsync_acks = 1\nsync_timeout = 1500ms\n[account example.org/*]\nmode = sync\nsync_acks = 1\nsync_timeout = 1500ms'

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
st() { "$MM_CTL" -c "$MM_T/$1.ini" status --json 2>/dev/null; }
active_in() { st "$1" | jq -r --arg a "$2" '.accounts[] | select(.account == $a) | .active // "-"'; }
role_in() { st "$1" | jq -r --arg a "$2" '.accounts[] | select(.account == $a) | .role'; }
writable() {
	local f=$MM_T/$1/mnt/$2/Maildir/tmp/probe.$$.$1
	{ : >"$f"; } 2>/dev/null || return 1
	rm -f "$f"
}
# one_writer ACCOUNT NODES...: exactly one of NODES writes ACCOUNT and all
# of them name it; prints it
one_writer() {
	local a=$1 n w= v; shift
	for n in "$@"; do
		if writable "$n" "$a"; then
			[ -z "$w" ] || return 1
			w=$n
		fi
	done
	[ -n "$w" ] || return 1
	for n in "$@"; do
		v=$(active_in "$n" "$a")
		[ "$v" = "$w" ] || return 1
	done
	echo "$w"
}
# state_of ACCOUNT NODES...: who has it active, with which epoch, and the
# pins every status shows (what "nothing changed" compares)
state_of() {
	local a=$1 n; shift
	for n in "$@"; do
		st "$n" | python3 -c 'import json, sys
s = json.load(sys.stdin)
acc = [x for x in s["accounts"] if x["account"] == sys.argv[1]]
pins = s["hbmon"]["pins"]
print(sys.argv[2], [(x["role"], x["epoch"], x.get("pinned")) for x in acc], pins)' "$a" "$n"
	done
}

mm_cluster_init a b c
for n in a b c; do
	printf '[peer %s]\naddress = 127.0.0.1:%s\nhbmon = 127.0.0.1:%s\n%s\n' "$n" \
		"$(mm_node_port "$n")" "$(mm_node_hbport "$n")" "$ACCOUNTS_INI" >>"$MM_T/$n.ini"
done
for n in a b c; do
	for acct in $A $([ "$n" != c ] && echo $B); do
		mkdir -p "$MM_T/$n/store/$acct/Maildir/cur" "$MM_T/$n/store/$acct/Maildir/new" \
			"$MM_T/$n/store/$acct/Maildir/tmp"
	done
	chown -R "$VUID:$VGID" "$MM_T/$n/store/example.org"
done
for n in a b c; do
	mm_node_fs $n
	mm_node_repl $n
	mm_node_hbmon $n
done
mm_wait_for 20 eval 'one_writer $A a b c >/dev/null && one_writer $B a b >/dev/null' ||
	mm_fail "not one writer for alice and bob: $(st a | jq -c .accounts)"
X=$(one_writer $A a b c)
mm_log "alice is active on $X; bob on $(one_writer $B a b)"

mm_log "(1) the ROLE answers: active on one holder, not on the others"
# a few deliveries on X (sync mode: each is on a peer when mv returns)
for i in 1 2 3; do mm_deliver "$X" $A "pre$i"; done
mm_wait_converged 20 $A "$X" a b c
HEAD=$(mm_last_lsn_of "$X")
[ "$HEAD" -gt 0 ] || mm_fail "no records in $X's journal"
for asker in a c; do
	out=$("$MM_CTL" -c "$MM_T/$asker.ini" drill $A --dry-run --json) ||
		mm_fail "drill --dry-run from $asker failed: $out"
	mm_assert_eq "$(echo "$out" | jq -r '[.holders[].store] | sort | join(" ")')" "a b c" \
		"holders of alice asked from $asker"
	mm_assert_eq "$(echo "$out" | jq -r '[.holders[] | select(.active)] | map(.store) | join(" ")')" \
		"$X" "the holders that answer active (asked from $asker)"
	mm_assert_eq "$(echo "$out" | jq -r .active)" "$X" "the active of the dry run from $asker"
	echo "$out" | jq -e '.holders | all(.answered and .held)' >/dev/null ||
		mm_fail "a holder did not answer or has no copy: $out"
	# the epoch is the one the active store's status gives (ns: compared as text)
	e=$(echo "$out" | python3 -c 'import json, sys
print([h["epoch"] for h in json.load(sys.stdin)["holders"] if h["active"]][0])')
	es=$(st "$X" | python3 -c 'import json, sys
print([x["epoch"] for x in json.load(sys.stdin)["accounts"] if x["account"] == sys.argv[1]][0])' $A)
	mm_assert_eq "$e" "$es" "alice's epoch by ROLE and by $X's status"
	echo "$out" | jq -e '.holders | map(select(.active | not)) | all(.epoch == 0)' >/dev/null ||
		mm_fail "an inactive holder answered an epoch: $out"
	# head: the journal's last LSN; cursors: one per other store, and
	# the others have all of X's journal
	for n in a b c; do
		mm_assert_eq "$(echo "$out" | jq -r --arg n $n '.holders[] | select(.store == $n) | .head')" \
			"$(mm_last_lsn_of $n)" "the head $n answered (asked from $asker)"
		mm_assert_eq "$(echo "$out" | jq -r --arg n $n '.holders[] | select(.store == $n) | .from | keys | join(" ")')" \
			"$(echo a b c | tr ' ' '\n' | grep -v "^$n\$" | tr '\n' ' ' | sed 's/ $//')" \
			"the cursors $n answered"
		[ "$n" = "$X" ] && continue
		mm_assert_eq "$(echo "$out" | jq -r --arg n $n --arg x "$X" '.holders[] | select(.store == $n) | .from[$x]')" \
			"$HEAD" "$n's cursor for $X"
	done
	slow=$(echo "$out" | jq '[.holders[].ask_ms] | max')
	mm_log "ROLE asked from $asker: the slowest holder's quickest answer $slow ms"
	echo "$out" | jq -e '.holders | all(.ask_ms < 10)' >/dev/null ||
		mm_fail "a ROLE answer took 10 ms or more: $out"
done
mm_assert_eq "$(echo "$out" | jq -r .to)" \
	"$("$MM_CTL" -c "$MM_T/a.ini" placement $A --json | jq -r --arg x "$X" \
	   '.accounts[0] | [.active] + .replicas | . as $l | ($l | index($x)) as $i | $l[($i + 1) % 3]')" \
	"the target: the next holder after $X in placement order"

mm_log "(2) --to a store that does not hold the account: refused, nothing changes"
before=$(state_of $B a b c)
[ "$(echo "$before" | grep -c "'active', [0-9]*, None)\] \[\]\$")" = 1 ] ||
	mm_fail "not one store with bob active, unpinned, no pins: $before"
ev_before=$(cat "$MM_T"/{a,b,c}/state/events 2>/dev/null | wc -l)
rc=0
"$MM_CTL" -c "$MM_T/a.ini" drill $B --to c >"$MM_T/to-c.out" 2>&1 || rc=$?
mm_assert_eq "$rc" 1 "exit status of a drill of bob to c"
grep -Eq "c does not hold it \(its holders: (a b|b a)\)" "$MM_T/to-c.out" ||
	mm_fail "no clear message: $(cat "$MM_T/to-c.out")"
grep -q "nothing changed" "$MM_T/to-c.out" || mm_fail "it does not say nothing changed"
rc=0
"$MM_CTL" -c "$MM_T/a.ini" drill $A --to nosuch >"$MM_T/to-x.out" 2>&1 || rc=$?
mm_assert_eq "$rc" 1 "exit status of a drill to a store that is not a member"
grep -q "nosuch does not hold it" "$MM_T/to-x.out" || mm_fail "$(cat "$MM_T/to-x.out")"
mm_assert_eq "$(state_of $B a b c)" "$before" "bob's roles, epochs and pins"
mm_assert_eq "$(cat "$MM_T"/{a,b,c}/state/events 2>/dev/null | wc -l)" "$ev_before" \
	"lines in the events files"
one_writer $B a b >/dev/null || mm_fail "bob lost its single writer"

mm_log "(3) a drill of alice while Dovecot LDA delivers"
for n in a b c; do
	mm_dovecot_start "$MM_T/dovecot-$n" "maildir:$MM_T/$n/mnt/%d/%n/Maildir:INDEX=MEMORY"
done
OK=$MM_T/delivered
: >"$OK"
# deliver_loop N: N messages, each to the store whose own status says
# active, retrying a temporary failure; logs the acknowledged ids
deliver_loop() {
	local i n tries
	for i in $(seq 1 "$1"); do
		for tries in $(seq 1 200); do
			for n in a b c; do
				[ "$(role_in $n $A)" = active ] || continue
				if printf 'From: bob@example.net\nTo: %s\nSubject: m%s\nMessage-ID: <m%s@drill>\n\nbody %s\n' \
					"$MUSER" "$i" "$i" "$i" |
					$MM_LDA -c "$MM_T/dovecot-$n/dovecot.conf" -d "$MUSER" 2>>"$MM_T/lda.err"; then
					echo "m$i $n" >>"$OK"
					continue 3
				fi
			done
			sleep 0.05
		done
		echo "gave up on m$i" >>"$OK"
	done
}
deliver_loop 1000000 &
LOOP=$!
mm_on_exit "kill $LOOP 2>/dev/null"
mm_wait_for 20 eval "[ \$(wc -l <$OK) -ge 5 ]" || mm_fail "the delivery loop does not deliver"
# run from a store that is neither end of the first move, if there is one
D=$(echo a b c | tr ' ' '\n' | grep -v "^$X\$" | tail -n 1)
t0=$(now_ms)
rc=0
"$MM_CTL" -c "$MM_T/$D.ini" drill $A --json --hold 1 >"$MM_T/drill.json" 2>"$MM_T/drill.err" || rc=$?
mm_log "drill from $D took $(( $(now_ms) - t0 )) ms: $(cat "$MM_T/drill.json") $(cat "$MM_T/drill.err")"
mm_assert_eq "$rc" 0 "exit status of the drill"
J=$(cat "$MM_T/drill.json")
echo "$J" | jq -e '.ok == true and .from == "'"$X"'" and .to != .from' >/dev/null ||
	mm_fail "not ok, or not from $X: $J"
for m in out back; do
	echo "$J" | jq -e --arg m $m '.[$m] | (.unwritable_ms > 0) and (.unwritable_ms < 30000) and
		(.switch_ms >= .unwritable_ms) and (.switch_ms < 30000) and (.rpo_records == 0) and
		(.epoch > 0)' >/dev/null || mm_fail "the $m figures are not sane: $J"
done
# epochs grow: alice's epoch back on X is above the one it had on the target
python3 -c 'import json, sys
j = json.loads(sys.argv[1]); sys.exit(0 if j["back"]["epoch"] > j["out"]["epoch"] else 1)' "$J" ||
	mm_fail "the epoch did not grow: $J"
mm_wait_for 10 eval '[ "$(one_writer $A a b c)" = "$X" ]' ||
	mm_fail "alice is not active on $X alone after the drill: $(st a | jq -c .accounts)"
"$MM_CTL" -c "$MM_T/$D.ini" events | grep -q " $A drill .*$X -> " ||
	mm_fail "mailmeshctl events on $D does not show the drill: $("$MM_CTL" -c "$MM_T/$D.ini" events | tail -n 3)"
n_before=$(wc -l <"$OK")
mm_wait_for 20 eval "[ \$(wc -l <$OK) -ge $((n_before + 3)) ]" ||
	mm_fail "deliveries do not go on after the drill"

mm_log "(3b) alice pinned to $X before: the drill goes back with a promote, the pin stays"
"$MM_CTL" -c "$MM_T/$D.ini" promote $A "$X" >/dev/null || mm_fail "promote $A $X failed"
mm_wait_for 10 eval "st $D | jq -e --arg a $A --arg x $X '.accounts[] | select(.account == \$a) | .pinned == \$x' >/dev/null" ||
	mm_fail "$D's status does not show alice pinned to $X"
rc=0
"$MM_CTL" -c "$MM_T/$D.ini" drill $A >"$MM_T/pinned.out" 2>&1 || rc=$?
mm_log "pinned drill: $(tr '\n' '|' <"$MM_T/pinned.out")"
mm_assert_eq "$rc" 0 "exit status of the drill of pinned alice"
grep -q "pinned to $X; moving it to .*, then back with 'promote $A $X'" "$MM_T/pinned.out" ||
	mm_fail "it does not go back with a promote to $X"
grep -q "^drill $A: $X -> [a-c]: unwritable [0-9.]* s (switch [0-9.]* s), 0 records behind; back [a-c] -> $X: unwritable" \
	"$MM_T/pinned.out" || mm_fail "no report line"
mm_wait_for 10 eval '[ "$(one_writer $A a b c)" = "$X" ]' || mm_fail "alice is not back on $X"
st $D | jq -e --arg a $A --arg x $X '.accounts[] | select(.account == $a) | .pinned == $x' >/dev/null ||
	mm_fail "the pin to $X did not stay"
"$MM_CTL" -c "$MM_T/$D.ini" promote $A --clear >/dev/null || mm_fail "promote --clear failed"
mm_wait_for 10 eval "st $D | jq -e --arg a $A '.accounts[] | select(.account == \$a) | .pinned == null' >/dev/null" ||
	mm_fail "alice is still pinned after --clear"
mm_wait_for 10 eval '[ "$(one_writer $A a b c)" = "$X" ]' || mm_fail "alice is not on $X after --clear"

mm_log "(4) a drill that cannot finish within its timeout puts alice back"
rc=0
"$MM_CTL" -c "$MM_T/$D.ini" drill $A --timeout 0.1 >"$MM_T/short.out" 2>&1 || rc=$?
mm_log "short drill: $(tr '\n' '|' <"$MM_T/short.out")"
mm_assert_eq "$rc" 1 "exit status of a drill with a 0.1 s timeout"
grep -q "^FAILED: the move to .*timed out" "$MM_T/short.out" || mm_fail "no FAILED line"
# it waits for a stable state before it says what it left: back on X, no pin
grep -q "^left: $A is active on $X (epoch [0-9]*); not pinned\$" "$MM_T/short.out" ||
	mm_fail "it does not say it left alice on $X, not pinned"
mm_wait_for 20 eval '[ "$(one_writer $A a b c)" = "$X" ]' ||
	mm_fail "alice is not back on $X alone after the failed drill: $(st a | jq -c .accounts)"
for n in a b c; do
	st $n | jq -e --arg a $A '[.accounts[] | select(.account == $a and .pinned != null)] | length == 0' \
		>/dev/null || mm_fail "$n's status shows alice pinned: $(st $n | jq -c .accounts)"
done

kill $LOOP 2>/dev/null || true
wait $LOOP 2>/dev/null || true
grep -q "gave up" "$OK" && mm_fail "deliveries gave up: $(grep 'gave up' "$OK")"
mm_log "$(wc -l <"$OK") deliveries acknowledged"
mm_wait_converged 30 $A "$X" a b c
missing=
while read -r id n; do
	grep -rqs "^Message-ID: <$id@drill>" "$MM_T/$X/store/$A/Maildir/new" \
		"$MM_T/$X/store/$A/Maildir/cur" || missing="$missing $id($n)"
done <"$OK"
[ -z "$missing" ] || mm_fail "acknowledged deliveries missing on $X:$missing"

for n in a b c; do mm_dovecot_stop "$MM_T/dovecot-$n"; done
mm_cluster_stop
for n in a b c; do mm_node_stop_hbmon $n; done
mm_finish
