#!/bin/bash
# SPDX-License-Identifier: MIT
# failover.sh - leases on three stores on loopback (mounts, replicators,
# mailmesh-hbmon): one writable store per account at start; kill -9 of an
# active store while Dovecot LDA delivers (sync mode: nothing acknowledged
# is lost); SIGSTOP of an active store (fenced when it wakes, rejoins);
# two stores and a witness.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/cluster.sh"
. "$(dirname "$0")/dovecot-lib.sh"

command -v jq >/dev/null || mm_skip "jq missing (apt-get install jq)"
mm_dovecot_require
[ -x "$MM_HB" ] || mm_fail "$MM_HB not built"

ACCTS="example.org/alice example.org/u1 example.org/u2 example.org/u3"
MUSER=alice@example.org
MM_CLUSTER_HBMON=1
HOOKDIR=$(mktemp -d /tmp/failover-hook.XXXXXX)
mm_on_exit "rm -rf $HOOKDIR"
printf '#!/bin/sh\necho "$1 $2 $3" >>%s/calls\n' "$HOOKDIR" >"$HOOKDIR/hook"
chmod 755 "$HOOKDIR" "$HOOKDIR/hook"
MM_NODE_EXTRA=$'[account example.org/*]\nmode = sync\nsync_acks = 1\nsync_timeout = 1500ms\n[hbmon]\non_role_change = '"$HOOKDIR/hook"

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
st() { "$MM_CTL" -c "$MM_T/$1.ini" status --json 2>/dev/null; }
# active_in VIEWER ACCOUNT: the active store VIEWER's status names
active_in() { st "$1" | jq -r --arg a "$2" '.accounts[] | select(.account == $a) | .active // "-"'; }
# epoch_of ACCOUNT: its epoch in the status JSON on stdin, read without
# rounding (epochs are nanoseconds: more digits than jq's doubles keep)
epoch_of() {
	python3 -c 'import json, sys
for a in json.load(sys.stdin)["accounts"]:
    if a["account"] == sys.argv[1] and a["epoch"] is not None:
        print(a["epoch"])' "$1"
}
role_in() { st "$1" | jq -r --arg a "$2" '.accounts[] | select(.account == $a) | .role'; }

# writable NODE ACCOUNT: a file can be created (and removed) in the
# account's tmp/ through NODE's mount
writable() {
	local f=$MM_T/$1/mnt/$2/Maildir/tmp/probe.$$.$1
	{ : >"$f"; } 2>/dev/null || return 1
	rm -f "$f"
}
# probe_errno NODE ACCOUNT: the errno of that creation, or OK
probe_errno() {
	local f=$MM_T/$1/mnt/$2/Maildir/tmp/probe.$$.$1
	local e
	e=$(mm_errno create "$f") || true
	[ "$e" = OK ] && rm -f "$f"
	echo "$e"
}

# one_writer ACCOUNT NODES...: exactly one of NODES can write ACCOUNT, and
# every one of NODES names it in its status; prints it
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
all_one_writer() {
	local a
	for a in $ACCTS; do
		one_writer "$a" "$@" >/dev/null || return 1
	done
}
# writable_elsewhere ACCOUNT DEAD NODES...: some node but DEAD writes it
writable_elsewhere() {
	local a=$1 dead=$2 n; shift 2
	for n in "$@"; do
		[ "$n" = "$dead" ] && continue
		writable "$n" "$a" && return 0
	done
	return 1
}

# kill_store NODE SIGNAL: the signal to every process of NODE
node_pids() { local n=$1; echo "$(mm_node_pid "$n" fs) $(mm_node_pid "$n" repl) $(mm_node_pid "$n" hbmon)"; }

start_store() {
	local n=$1
	mm_node_fs "$n"
	mm_node_repl "$n"
	mm_node_hbmon "$n"
}

make_accounts() {
	local n a
	for n in "$@"; do
		for a in $ACCTS; do
			mkdir -p "$MM_T/$n/store/$a/Maildir/cur" "$MM_T/$n/store/$a/Maildir/new" \
				"$MM_T/$n/store/$a/Maildir/tmp"
		done
		chown -R "$VUID:$VGID" "$MM_T/$n/store/example.org"
	done
}

TIMES=$(mktemp /tmp/failover-times.XXXXXX)
mm_on_exit "rm -f $TIMES"
mm_cluster_init a b c
make_accounts a b c
for n in a b c; do start_store $n; done

mm_log "(a) start: every account has exactly one writable store, named by all three"
t0=$(now_ms)
mm_wait_for 15 all_one_writer a b c || {
	for n in a b c; do mm_log "$n: $(st $n | jq -c '[.accounts[] | {account, active, role, votes}]')"; done
	mm_fail "not exactly one writable store per account"
}
mm_log "writable everywhere after $(( $(now_ms) - t0 )) ms: $(st a | jq -c '[.accounts[] | {account, active, replicas}]')"
for n in a b c; do
	mm_assert_eq "$(st $n | jq '[.accounts[] | select(.role == "active")] | length')" \
		"$(st a | jq --arg n $n '[.accounts[] | select(.active == $n)] | length')" \
		"accounts active at $n by its own and a's status"
done

mm_log "on_role_change ran for every account made active, with its epoch"
for a in $ACCTS; do
	w=$(active_in a "$a")
	e=$(st "$w" | epoch_of "$a")
	[ -n "$e" ] || mm_fail "no epoch for $a in $w's status"
	mm_wait_for 5 grep -q "^$a active $e\$" "$HOOKDIR/calls" ||
		mm_fail "no on_role_change '$a active $e' (active at $w): $(cat "$HOOKDIR/calls")"
	"$MM_CTL" -c "$MM_T/$w.ini" events --json | grep -F "\"account\":\"$a\"" |
		grep -F '"role":"active"' | grep -q -F "\"epoch\":$e," ||
		mm_fail "mailmeshctl events at $w does not show $a active with epoch $e"
done

mm_log "contrib/frontends/mailmesh-maps.sh points every account at its active store"
MAPS=$MM_T/maps
MM_CTL=$MM_CTL bash "$MM_SRCDIR/contrib/frontends/mailmesh-maps.sh" -c "$MM_T/b.ini" -o "$MAPS" \
	>/dev/null || mm_fail "mailmesh-maps.sh failed"
for a in $ACCTS; do
	u=${a#*/}@${a%%/*} w=$(active_in b "$a")
	grep -qx "$u $w" "$MAPS/haproxy.map" || mm_fail "haproxy.map lacks '$u $w': $(cat "$MAPS/haproxy.map")"
	grep -qx "$u lmtp:inet:127.0.0.1:24" "$MAPS/postfix-transport" ||
		mm_fail "postfix-transport lacks $u: $(cat "$MAPS/postfix-transport")"
	grep -q "^$u::::::::proxy=y host=127.0.0.1 port=143 nopassword=y\$" "$MAPS/dovecot-proxy" ||
		mm_fail "dovecot-proxy lacks $u: $(cat "$MAPS/dovecot-proxy")"
done

mm_log "(b) kill -9 the active store of $MUSER while Dovecot LDA delivers"
for n in a b c; do
	mm_dovecot_start "$MM_T/dovecot-$n" "maildir:$MM_T/$n/mnt/%d/%n/Maildir:INDEX=MEMORY"
done

mm_log "(a2) a new account: Dovecot LDA's first delivery on its active store creates it at once"
# not provisioned anywhere: the mount asks mailmesh-hbmon on the first
# write, which weighs the new account and grants its lease there
pref_of() { "$MM_CTL" -c "$MM_T/a.ini" placement "$1" --json | jq -r '.accounts[0].active'; }
add_user() { echo "$1@example.org:{PLAIN}secret:$VUID:$VGID::$MM_T/dovecot-$2/home/alice::" \
	>>"$MM_T/dovecot-$2/users"; }
NEWA=example.org/newbie
p=$(pref_of "$NEWA")
add_user newbie "$p"
t0=$(now_ms)
printf 'From: x@example.net\nTo: newbie@example.org\nSubject: first\nMessage-ID: <first@failover>\n\nhi\n' |
	$MM_LDA -c "$MM_T/dovecot-$p/dovecot.conf" -d newbie@example.org ||
	mm_fail "the first delivery to $NEWA on its active store $p failed"
mm_log "first delivery to the new $NEWA on $p took $(( $(now_ms) - t0 )) ms"
mm_wait_for 10 eval '[ "$(one_writer "$NEWA" a b c)" = "$p" ]' ||
	mm_fail "$NEWA is not writable at $p alone, as every status says: $(st a | jq -c .accounts)"
mm_wait_converged 20 "$NEWA" a b c
# the same on a store that is not the new account's active: refused, so
# the LDA gives a temporary failure (the MTA retries, nothing is lost)
NEWB=example.org/newbie2
p2=$(pref_of "$NEWB")
for q in a b c; do [ "$q" != "$p2" ] && break; done
add_user newbie2 "$q"
rc=0
printf 'From: x@example.net\nTo: newbie2@example.org\nSubject: first\n\nhi\n' |
	$MM_LDA -c "$MM_T/dovecot-$q/dovecot.conf" -d newbie2@example.org 2>/dev/null || rc=$?
mm_assert_eq "$rc" 75 "dovecot-lda's exit status for a new account on $q, not its active ($p2)"
[ -z "$(find "$MM_T/$q/store/$NEWB" -type f 2>/dev/null)" ] || mm_fail "$q holds files of $NEWB"

X=$(one_writer example.org/alice a b c) || mm_fail "no single writer for alice"
OK=$MM_T/delivered
: >"$OK"
# deliver_loop N: delivers N messages, each to the store the others'
# status names active, retrying a temporary failure there; logs the ids
# that the LDA acknowledged
deliver_loop() {
	local i n tries
	for i in $(seq 1 "$1"); do
		for tries in $(seq 1 100); do
			for n in a b c; do
				[ "$(role_in $n example.org/alice)" = active ] || continue
				if printf 'From: bob@example.net\nTo: %s\nSubject: m%s\nMessage-ID: <m%s@failover>\n\nbody %s\n' \
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
deliver_loop 60 &
LOOP=$!
mm_on_exit "kill $LOOP 2>/dev/null"
mm_wait_for 20 eval "[ \$(wc -l <$OK) -ge 10 ]" || mm_fail "the delivery loop does not deliver"
t0=$(now_ms)
# shellcheck disable=SC2046
kill -9 $(node_pids "$X")
mm_wait_for 10 writable_elsewhere example.org/alice "$X" a b c ||
	mm_fail "alice is not writable elsewhere 10 s after $X was killed"
t1=$(now_ms)
mm_log "kill -9 $X: alice writable elsewhere after $((t1 - t0)) ms"
echo "failover kill-9 $((t1 - t0)) ms" >>"$TIMES"
[ $((t1 - t0)) -lt 3000 ] || mm_fail "failover took $((t1 - t0)) ms (target 3000)"
eval "MM_PID_${X}_hbmon= MM_PID_${X}_repl="
mm_node_stop_fs "$X"
wait $LOOP || true
grep -q "gave up" "$OK" && mm_fail "the loop gave up: $(grep gave "$OK")"
LIVE=$(echo a b c | tr ' ' '\n' | grep -v "^$X\$" | tr '\n' ' ')
Y=$(one_writer example.org/alice $LIVE) || mm_fail "no single writer for alice after the kill"
mm_log "new active $Y; $(wc -l <"$OK") deliveries acknowledged"
missing=
while read -r id n; do
	grep -rqs "Message-ID: <$id@failover>" "$MM_T/$Y/store/example.org/alice/Maildir/new" \
		"$MM_T/$Y/store/example.org/alice/Maildir/cur" || missing="$missing $id($n)"
done <"$OK"
[ -z "$missing" ] || mm_fail "acknowledged deliveries missing on $Y:$missing"
mm_dovecot_stop "$MM_T/dovecot-$X"

mm_log "$X restarts: it rejoins as a replica, and one store writes each account"
start_store "$X"
mm_wait_for 20 all_one_writer a b c || {
	for n in a b c; do mm_log "$n: $(st $n | jq -c '{ready: .leases.ready, accounts: [.accounts[] | {account, active, role}]}')"; done
	mm_fail "not one writer per account after $X rejoined"
}

mm_log "(c) SIGSTOP the active store of alice"
S=$(one_writer example.org/alice a b c) || mm_fail "no single writer for alice"
t0=$(now_ms)
# shellcheck disable=SC2046
kill -STOP $(node_pids "$S")
mm_on_exit "kill -CONT $(node_pids "$S") 2>/dev/null"
LIVE=$(echo a b c | tr ' ' '\n' | grep -v "^$S\$" | tr '\n' ' ')
mm_wait_for 10 writable_elsewhere example.org/alice "$S" $LIVE ||
	mm_fail "alice is not writable elsewhere 10 s after $S was stopped"
t1=$(now_ms)
mm_log "SIGSTOP $S: alice writable elsewhere after $((t1 - t0)) ms"
echo "failover sigstop $((t1 - t0)) ms" >>"$TIMES"
[ $((t1 - t0)) -lt 3000 ] || mm_fail "failover took $((t1 - t0)) ms (target 3000)"
Z=$(one_writer example.org/alice $LIVE) || mm_fail "no single writer among $LIVE"
mm_deliver "$Z" example.org/alice while-frozen || mm_fail "a delivery on $Z right after the failover failed"
# shellcheck disable=SC2046
kill -CONT $(node_pids "$S")
e=$(probe_errno "$S" example.org/alice)
mm_assert_eq "$e" EROFS "a write through $S's mount right after SIGCONT"
mm_wait_for 20 all_one_writer a b c || mm_fail "not one writer per account after $S woke"
mm_wait_for 20 test -f "$MM_T/$S/store/example.org/alice/Maildir/new/while-frozen" ||
	mm_fail "$S did not get what was written while it was frozen"
grep -q "example.org/alice: replica" "$MM_T/$S/hbmon.log" ||
	mm_fail "$S did not log alice's demotion"
[ -s "$MM_T/$S/state/events" ] || mm_fail "no events file at $S"
"$MM_CTL" -c "$MM_T/$S.ini" events | grep -q "example.org/alice" ||
	mm_fail "mailmeshctl events shows no alice: $("$MM_CTL" -c "$MM_T/$S.ini" events 2>&1)"
mm_log "(e) drain: planned maintenance of alice's active store while the LDA delivers"
# every store's Dovecot (the killed store's went with it in (b))
for n in a b c; do
	[ -s "$MM_T/dovecot-$n/run/master.pid" ] && kill -0 "$(cat "$MM_T/dovecot-$n/run/master.pid")" 2>/dev/null ||
		{ rm -f "$MM_T/dovecot-$n/run/master.pid"
		  mm_dovecot_start "$MM_T/dovecot-$n" "maildir:$MM_T/$n/mnt/%d/%n/Maildir:INDEX=MEMORY"; }
done
D=$(one_writer example.org/alice a b c) || mm_fail "no single writer for alice"
OK=$MM_T/delivered.drain
: >"$OK"
deliver_loop 40 &
LOOP=$!
mm_wait_for 20 eval "[ \$(wc -l <$OK) -ge 5 ]" || mm_fail "the delivery loop does not deliver: $(tail -n 5 "$MM_T/lda.err" 2>/dev/null)"
t0=$(now_ms)
"$MM_CTL" -c "$MM_T/$D.ini" drain "$D" --timeout 30 >"$MM_T/drain.out" 2>&1 ||
	mm_fail "drain of $D failed: $(cat "$MM_T/drain.out")"
mm_log "drain of $D took $(( $(now_ms) - t0 )) ms: $(tr '\n' '|' <"$MM_T/drain.out")"
grep -q "^drained: nothing of $D is only here" "$MM_T/drain.out" || mm_fail "no zero-loss report"
wait "$LOOP" || true
grep -q "gave up" "$OK" && mm_fail "deliveries gave up during the drain: $(grep 'gave up' "$OK")"
mm_assert_eq "$(st "$D" | jq '[.accounts[] | select(.role != "replica")] | length')" 0 \
	"accounts still active at the drained $D"
mm_assert_eq "$(st "$D" | jq -r .hbmon.leases.draining)" true "draining in $D's status"
E=$(one_writer example.org/alice a b c) || mm_fail "no single writer after the drain"
[ "$E" != "$D" ] || mm_fail "alice is still written at the drained $D"
mm_wait_converged 30 example.org/alice "$E" a b c
while read -r id n; do
	grep -rqs "^Message-ID: <$id@failover>" "$MM_T/$E/store/example.org/alice/Maildir/" ||
		mm_fail "$id, acknowledged on $n during the drain, is not on $E"
done < <(grep -v "gave up" "$OK")
"$MM_CTL" -c "$MM_T/$D.ini" drain --off >/dev/null || mm_fail "drain --off failed"
mm_wait_for 20 all_one_writer a b c || mm_fail "not one writer per account after the drain ended"
mm_log "drain ended: alice active on $(one_writer example.org/alice a b c)"

for n in a b c; do mm_dovecot_stop "$MM_T/dovecot-$n"; done
mm_cluster_stop
for n in a b c; do mm_node_stop_hbmon $n; done
rm -rf "$MM_T"

mm_log "(d) two stores and a witness"
MM_CLUSTER_WITNESS=1
mm_cluster_init p q
make_accounts p q
mm_witness_start
for n in p q; do start_store $n; done
mm_wait_for 15 all_one_writer p q || mm_fail "not one writer per account (p, q, witness)"
before=$(for n in p q; do st $n | jq -c '[.accounts[] | {account, role, epoch}]'; done)
mm_node_stop_hbmon w KILL
mm_wait_for 5 eval "st p | jq -e '.members[] | select(.name == \"witness\" and .state == \"failed\")' >/dev/null" ||
	mm_fail "p does not see the witness failed"
# an observation window (not a synchronisation): for 3 s, nothing moves
end=$(( $(now_ms) + 3000 ))
while [ "$(now_ms)" -lt "$end" ]; do
	now=$(for n in p q; do st $n | jq -c '[.accounts[] | {account, role, epoch}]'; done)
	[ "$now" = "$before" ] || mm_fail "roles changed without the witness: $before -> $now"
	sleep 0.2
done
all_one_writer p q || mm_fail "not one writer per account without the witness"
mm_witness_start
mm_wait_for 5 eval "st p | jq -e '.members[] | select(.name == \"witness\" and .state == \"healthy\")' >/dev/null" ||
	mm_fail "p does not hear the witness again"
P=$(one_writer example.org/alice p q) || mm_fail "no single writer for alice"
O=$([ "$P" = p ] && echo q || echo p)
t0=$(now_ms)
# shellcheck disable=SC2046
kill -9 $(node_pids "$P")
eval "MM_PID_${P}_hbmon= MM_PID_${P}_repl="
mm_wait_for 10 writable "$O" example.org/alice || mm_fail "alice did not fail over to $O"
t1=$(now_ms)
mm_log "kill -9 $P with a witness: alice writable on $O after $((t1 - t0)) ms"
echo "failover kill-9-witness $((t1 - t0)) ms" >>"$TIMES"
mm_node_stop_fs "$P"
for a in $ACCTS; do
	writable "$O" "$a" || mm_fail "$a is not writable on $O"
done
mm_cluster_stop
mm_node_stop_hbmon "$O"
mm_node_stop_hbmon w
cat "$TIMES" >&2
mm_finish
