#!/bin/bash
# SPDX-License-Identifier: MIT
# promote.sh - mailmeshctl promote on three stores on loopback (mounts,
# replicators, mailmesh-hbmon, sync mode): a planned switch of alice's
# active store while Dovecot LDA delivers (nothing acknowledged lost, never
# two writable stores), a refused promote that changes nothing, a restart
# of the promoted store's hbmon that keeps the pin, and --clear.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/cluster.sh"
. "$(dirname "$0")/dovecot-lib.sh"

command -v jq >/dev/null || mm_skip "jq missing (apt-get install jq)"
mm_dovecot_require
[ -x "$MM_HB" ] || mm_fail "$MM_HB not built"

A=example.org/alice
ACCTS="$A example.org/u1 example.org/u2"
MUSER=alice@example.org
MM_CLUSTER_HBMON=1
# replicas = 1: each account has two holders of the three stores, so one
# store does not hold alice (a promote to it is refused); failback_after
# 3 s keeps the restart case short
MM_NODE_EXTRA=$'[account example.org/*]\nmode = sync\nsync_acks = 1\nsync_timeout = 1500ms\n[hbmon]\nreplicas = 1\nfailback_after = 3s'

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
st() { "$MM_CTL" -c "$MM_T/$1.ini" status --json 2>/dev/null; }
active_in() { st "$1" | jq -r --arg a "$2" '.accounts[] | select(.account == $a) | .active // "-"'; }
role_in() { st "$1" | jq -r --arg a "$2" '.accounts[] | select(.account == $a) | .role'; }
pins_of() { st "$1" | jq -c '[.hbmon.pins[] | {account, store}]'; }

writable() {
	local f=$MM_T/$1/mnt/$2/Maildir/tmp/probe.$$.$1.$BASHPID
	{ : >"$f"; } 2>/dev/null || return 1
	rm -f "$f"
}
# one_writer ACCOUNT NODES...: exactly one of NODES can write ACCOUNT, and
# every one of NODES that holds it names it in its status; prints it
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
		[ -z "$v" ] || [ "$v" = "$w" ] || return 1
	done
	echo "$w"
}
all_one_writer() {
	local a
	for a in $ACCTS; do one_writer "$a" "$@" >/dev/null || return 1; done
}
node_pids() { local n=$1; echo "$(mm_node_pid "$n" fs) $(mm_node_pid "$n" repl) $(mm_node_pid "$n" hbmon)"; }
start_store() { mm_node_fs "$1"; mm_node_repl "$1"; mm_node_hbmon "$1"; }

mm_cluster_init a b c
for n in a b c; do
	for acc in $ACCTS; do
		mkdir -p "$MM_T/$n/store/$acc/Maildir/cur" "$MM_T/$n/store/$acc/Maildir/new" \
			"$MM_T/$n/store/$acc/Maildir/tmp"
	done
	chown -R "$VUID:$VGID" "$MM_T/$n/store/example.org"
done
for n in a b c; do start_store $n; done
mm_wait_for 20 all_one_writer a b c || {
	for n in a b c; do mm_log "$n: $(st $n | jq -c '[.accounts[] | {account, active, role, votes}]')"; done
	mm_fail "not exactly one writable store per account"
}
# alice's holders: X (the placement's active, writing now) and T
HOLDERS=$("$MM_CTL" -c "$MM_T/a.ini" placement "$A" --json | jq -r '.accounts[0] | [.active] + .replicas | join(" ")')
set -- $HOLDERS
X=$1 T=$2
for n in a b c; do case " $HOLDERS " in *" $n "*) ;; *) R=$n ;; esac; done
mm_assert_eq "$(one_writer "$A" a b c)" "$X" "alice's writer before the promote (holders: $HOLDERS)"
mm_log "alice: holders $X (active) and $T; $R does not hold it"

for n in a b c; do
	mm_dovecot_start "$MM_T/dovecot-$n" "maildir:$MM_T/$n/mnt/%d/%n/Maildir:INDEX=MEMORY"
done

# deliver_loop N OUT: N messages, each to the store whose status says it
# is alice's active, retrying a temporary failure; logs "ID STORE MS" for
# every delivery the LDA acknowledged
deliver_loop() {
	local i n tries out=$2
	for i in $(seq 1 "$1"); do
		for tries in $(seq 1 200); do
			for n in a b c; do
				[ "$(role_in $n "$A")" = active ] || continue
				if printf 'From: bob@example.net\nTo: %s\nSubject: m%s\nMessage-ID: <m%s@promote>\n\nbody %s\n' \
					"$MUSER" "$i" "$i" "$i" |
					$MM_LDA -c "$MM_T/dovecot-$n/dovecot.conf" -d "$MUSER" 2>>"$MM_T/lda.err"; then
					echo "m$i $n $(now_ms)" >>"$out"
					continue 3
				fi
			done
			sleep 0.05
		done
		echo "gave up on m$i" >>"$out"
	done
}
# watch_writers OUT: until killed, probes X, T, X through the mounts and
# logs every round where T took a write between two that X took
watch_writers() {
	while :; do
		if writable "$X" "$A" && writable "$T" "$A" && writable "$X" "$A"; then
			echo "both $X and $T writable at $(now_ms)" >>"$1"
		fi
	done
}

mm_log "(a) promote $A to $T while Dovecot LDA delivers"
OK=$MM_T/delivered
BOTH=$MM_T/both
: >"$OK"
: >"$BOTH"
deliver_loop 60 "$OK" &
LOOP=$!
mm_on_exit "kill $LOOP 2>/dev/null"
watch_writers "$BOTH" &
WATCH=$!
mm_on_exit "kill $WATCH 2>/dev/null"
mm_wait_for 20 eval "[ \$(wc -l <$OK) -ge 10 ]" || mm_fail "the delivery loop does not deliver"
t0=$(now_ms)
"$MM_CTL" -c "$MM_T/$X.ini" promote "$A" "$T" >"$MM_T/promote.out" 2>&1 ||
	mm_fail "promote failed: $(cat "$MM_T/promote.out")"
t1=$(now_ms)
mm_log "mailmeshctl promote (on $X) took $((t1 - t0)) ms: $(cat "$MM_T/promote.out")"
grep -q "^promoted $A: $X -> $T in " "$MM_T/promote.out" || mm_fail "no 'promoted ... $X -> $T' report"
mm_wait_for 10 writable "$T" "$A" || mm_fail "$A is not writable on $T 10 s after the promote"
t2=$(now_ms)
mm_log "$A writable on $T $((t2 - t0)) ms after the promote"
wait $LOOP || true
kill $WATCH 2>/dev/null; wait $WATCH 2>/dev/null || true
grep -q "gave up" "$OK" && mm_fail "the loop gave up: $(grep gave "$OK")"
[ -s "$BOTH" ] && mm_fail "two writable stores for $A: $(head -3 "$BOTH")"
first=$(awk -v t="$T" -v t0="$t0" '$2 == t && $3 >= t0 { print $3; exit }' "$OK")
[ -n "$first" ] || mm_fail "no delivery on $T after the promote: $(tail -5 "$OK")"
last=$(awk -v x="$X" '$2 == x { l = $3 } END { print l }' "$OK")
mm_log "promote -> first delivery acknowledged on $T: $((first - t0)) ms" \
	"(the last one on $X: $((last - t0)) ms)"
W=$(one_writer "$A" a b c) || mm_fail "not one writer of $A after the promote"
mm_assert_eq "$W" "$T" "alice's writer after the promote"
for n in a b c; do
	mm_wait_for 5 eval "[ \"\$(pins_of $n)\" = '[{\"account\":\"$A\",\"store\":\"$T\"}]' ]" ||
		mm_fail "$n's pins: $(pins_of $n)"
done
mm_assert_eq "$(st "$T" | jq -r --arg a "$A" '.accounts[] | select(.account == $a) | .pinned')" "$T" \
	"pinned in $T's status"
all_one_writer a b c || mm_fail "another account lost its single writer"
mm_wait_converged 30 "$A" "$T" a b c
missing=
while read -r id n _; do
	grep -rqs "^Message-ID: <$id@promote>" "$MM_T/$T/store/$A/Maildir/" || missing="$missing $id($n)"
done < <(grep -v "gave up" "$OK")
[ -z "$missing" ] || mm_fail "acknowledged deliveries missing on $T:$missing"
mm_log "$(wc -l <"$OK") deliveries acknowledged, all on $T"
"$MM_CTL" -c "$MM_T/$T.ini" events | grep "$A active" | tail -1 | grep -q "promoted by operator to $T" ||
	mm_fail "no 'promoted by operator' in $T's events: $("$MM_CTL" -c "$MM_T/$T.ini" events | grep "$A" | tail -3)"
"$MM_CTL" -c "$MM_T/$X.ini" events | grep "$A replica" | tail -1 | grep -q "promoted by operator to $T" ||
	mm_fail "no 'promoted by operator' in $X's events: $("$MM_CTL" -c "$MM_T/$X.ini" events | grep "$A" | tail -3)"

mm_log "(b) again: idempotent, nothing moves"
view_of() { st "$1" | jq -r .hbmon.leases.view_id; }
v0=$(view_of "$T")
"$MM_CTL" -c "$MM_T/$R.ini" promote "$A" "$T" >"$MM_T/promote.out" 2>&1 ||
	mm_fail "promote again failed: $(cat "$MM_T/promote.out")"
mm_assert_eq "$(view_of "$T")" "$v0" "$T's view_id after the same promote"

mm_log "(c) bad promotes: a clear error, nothing changes"
bad() {
	local want=$1 rc=0; shift
	"$MM_CTL" -c "$MM_T/$X.ini" promote "$@" >"$MM_T/bad.out" 2>&1 || rc=$?
	mm_assert_eq "$rc" 1 "exit status of promote $*"
	grep -q "$want" "$MM_T/bad.out" || mm_fail "promote $*: '$(cat "$MM_T/bad.out")' lacks '$want'"
}
bad "$R does not hold $A (its stores: " "$A" "$R"
bad "nosuch is not a member" "$A" nosuch
bad "has 1 components" example.org "$T"
rc=0
"$MM_CTL" -c "$MM_T/$X.ini" promote "$A" >/dev/null 2>&1 || rc=$?
mm_assert_eq "$rc" 2 "exit status of promote without a store"
printf 'promote %s\n' "$A" | python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.sendall(sys.stdin.read().encode())
print(s.recv(512).decode().strip())' "$MM_T/$X/state/hbmon.sock" >"$MM_T/raw.out"
grep -q "^error usage: promote ACCOUNT STORE" "$MM_T/raw.out" || mm_fail "raw 'promote ACCOUNT': $(cat "$MM_T/raw.out")"
for n in a b c; do
	mm_assert_eq "$(pins_of $n)" "[{\"account\":\"$A\",\"store\":\"$T\"}]" "$n's pins after the refusals"
done
mm_assert_eq "$(view_of "$T")" "$v0" "$T's view_id after the refusals"
mm_assert_eq "$(one_writer "$A" a b c)" "$T" "alice's writer after the refusals"
kill -0 "$(mm_node_pid "$X" hbmon)" || mm_fail "$X's hbmon died"

mm_log "(d) $T's hbmon restarts: the pin comes back from $T/state/hbmon.pins"
grep -q "$A" "$MM_T/$T/state/hbmon.pins" || mm_fail "no pin in $T's hbmon.pins"
mm_node_stop_hbmon "$T" KILL
mm_node_hbmon "$T"
mm_wait_for 5 grep -q "pins: 1 in force (from $MM_T/$T/state/hbmon.pins)" "$MM_T/$T/hbmon.log" ||
	mm_fail "$T did not read its pin at start: $(grep pins "$MM_T/$T/hbmon.log")"
mm_wait_for 30 eval '[ "$(one_writer "$A" a b c)" = "$T" ]' ||
	mm_fail "$A is not back on $T after its hbmon restarted: $(st $T | jq -c '.accounts')"
mm_assert_eq "$(pins_of "$T")" "[{\"account\":\"$A\",\"store\":\"$T\"}]" "$T's pins after its restart"

mm_log "(e) --clear: back to the placement's active $X"
t0=$(now_ms)
"$MM_CTL" -c "$MM_T/$T.ini" promote "$A" --clear >"$MM_T/clear.out" 2>&1 ||
	mm_fail "promote --clear failed: $(cat "$MM_T/clear.out")"
mm_log "promote --clear took $(( $(now_ms) - t0 )) ms: $(cat "$MM_T/clear.out")"
grep -q "^pin cleared for $A: $T -> $X in " "$MM_T/clear.out" || mm_fail "no 'pin cleared ... $T -> $X' report"
mm_wait_for 10 eval '[ "$(one_writer "$A" a b c)" = "$X" ]' || mm_fail "$A is not back on $X alone"
for n in a b c; do
	mm_wait_for 5 eval "[ \"\$(pins_of $n)\" = '[]' ]" || mm_fail "$n still has pins: $(pins_of $n)"
done
all_one_writer a b c || mm_fail "not one writer per account after the clear"

for n in a b c; do mm_dovecot_stop "$MM_T/dovecot-$n"; done
mm_cluster_stop
for n in a b c; do mm_node_stop_hbmon $n; done
no_sanitizer_reports() {
	if grep -q -E "Sanitizer|runtime error:" "$MM_T"/*/hbmon.log; then
		grep -E -A5 "Sanitizer|runtime error:" "$MM_T"/*/hbmon.log | head -30 >&2
		mm_fail "sanitizer reports in the hbmon logs"
	fi
}
no_sanitizer_reports
rm -rf "$MM_T"

mm_log "(f) two stores and a witness: the witness keeps the pins too, and is no target"
MM_CLUSTER_WITNESS=1
ACCTS=$A
mm_cluster_init p q
for n in p q; do
	mkdir -p "$MM_T/$n/store/$A/Maildir/cur" "$MM_T/$n/store/$A/Maildir/new" \
		"$MM_T/$n/store/$A/Maildir/tmp"
	chown -R "$VUID:$VGID" "$MM_T/$n/store/example.org"
done
mm_witness_start
for n in p q; do start_store $n; done
mm_wait_for 20 all_one_writer p q || mm_fail "not one writer of $A (p, q, witness)"
P=$(one_writer "$A" p q)
O=$([ "$P" = p ] && echo q || echo p)
"$MM_CTL" -c "$MM_T/$P.ini" promote "$A" "$O" >"$MM_T/promote.out" 2>&1 ||
	mm_fail "promote to $O failed: $(cat "$MM_T/promote.out")"
mm_wait_for 10 eval '[ "$(one_writer "$A" p q)" = "$O" ]' || mm_fail "$A did not move to $O"
mm_wait_for 5 grep -q " $O $A\$" "$MM_T/w/state/hbmon.pins" ||
	mm_fail "the witness did not record the pin: $(cat "$MM_T/w/state/hbmon.pins" 2>&1)"
rc=0
"$MM_CTL" -c "$MM_T/$P.ini" promote "$A" witness >"$MM_T/bad.out" 2>&1 || rc=$?
mm_assert_eq "$rc" 1 "exit status of a promote to the witness"
grep -q "witness is the witness: it holds no mail" "$MM_T/bad.out" || mm_fail "$(cat "$MM_T/bad.out")"
rc=0
"$MM_CTL" -c "$MM_T/w.ini" promote "$A" "$P" >"$MM_T/bad.out" 2>&1 || rc=$?
mm_assert_eq "$rc" 1 "exit status of a promote sent to the witness"
grep -q "this is the witness" "$MM_T/bad.out" || mm_fail "$(cat "$MM_T/bad.out")"
"$MM_CTL" -c "$MM_T/$O.ini" promote "$A" --clear >"$MM_T/clear.out" 2>&1 ||
	mm_fail "--clear failed: $(cat "$MM_T/clear.out")"
mm_wait_for 10 eval '[ "$(one_writer "$A" p q)" = "$P" ]' || mm_fail "$A did not go back to $P"
mm_wait_for 5 grep -q " - $A\$" "$MM_T/w/state/hbmon.pins" ||
	mm_fail "the witness did not record the clear: $(cat "$MM_T/w/state/hbmon.pins")"
mm_cluster_stop
for n in p q w; do mm_node_stop_hbmon $n; done
no_sanitizer_reports
mm_finish
