#!/bin/bash
# SPDX-License-Identifier: MIT
# epoch.sh - epochs as fencing tokens, with three stores and mailmesh-hbmon
# on loopback: (a) every record carries the epoch of its account's active
# store (STATE/roles), across a failover, and every record is applied;
# (b) a record a deposed store wrote under its old epoch after the new one
# began (made with journal-append: its fencing "failed") is refused by a
# replica: not in its store, logged, counted (status, metrics, fsck),
# kept with its content, the sender told (a sync-mode wait does not count
# that replica); the stream goes on and the daemon keeps running; the
# known epochs survive a restart (a corrupt line of their file skipped);
# (c) a late record of the old epoch written before the new one began is
# applied; at the new active both are merged (the stale one logged as such)
# and every store ends with the same mail; (d) an epoch from a store whose
# clock runs an hour ahead reaches the others through its records, and a
# store that becomes active next (promote) takes an epoch above it, not
# its own clock's.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/cluster.sh"

command -v jq >/dev/null || mm_skip "jq missing (apt-get install jq)"
[ -x "$MM_HB" ] || mm_fail "$MM_HB not built"
APPEND=$MM_BUILDDIR/tests/integration/journal-append
[ -x "$APPEND" ] || mm_fail "$APPEND not built"
FSCK=$MM_BUILDDIR/tools/mailmesh-fsck

A=example.org/alice
MM_CLUSTER_HBMON=1
st() { "$MM_CTL" -c "$MM_T/$1.ini" status --json 2>/dev/null; }
writable() {
	local f=$MM_T/$1/mnt/$A/Maildir/tmp/probe.$$.$1
	{ : >"$f"; } 2>/dev/null || return 1
	rm -f "$f"
}
# writer NODES...: the one of NODES that can write alice (fails unless one)
writer() {
	local n w=
	for n in "$@"; do
		if writable "$n"; then
			[ -z "$w" ] || return 1
			w=$n
		fi
	done
	[ -n "$w" ] && echo "$w"
}
# roles_epoch NODE: alice's epoch in NODE's STATE/roles (exact: no jq)
roles_epoch() { awk -v a="$A" 'NR > 1 && $2 == a { print $1 }' "$MM_T/$1/state/roles"; }
# rec_field NODE NAME FIELD: FIELD of the journal record delivering NAME
rec_field() {
	"$MM_CTL" -c "$MM_T/$1.ini" journal --json | python3 -c 'import json, sys
for l in sys.stdin:
    r = json.loads(l)
    if r["op"] == "deliver" and r["name"] == sys.argv[1]:
        print(r[sys.argv[2]])' "$2" "$3"
}
# known NODE: the epochs of alice NODE's replicator keeps, sorted
known() {
	awk -v a="$A" 'NR > 1 && $3 == a { print $1 }' "$MM_T/$1/state/replication/epochs" |
		sort -n | tr '\n' ' '
}
in_store() { ls "$MM_T/$1/store/$A/Maildir/new/" "$MM_T/$1/store/$A/Maildir/cur/" 2>/dev/null | grep -q "^$2"; }
stale_count() { mm_store_count "$1" stale_epoch; }
# ctl_wait NODE LSN ACKS MS: the replicator's answer to a sync-mode wait
ctl_wait() {
	python3 - "$MM_T/$1/state/replicator.sock" "$2 $3 $4" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
s.sendall(b"wait " + sys.argv[2].encode() + b"\n")
r = b""
while not r.endswith(b"\n"):
    c = s.recv(200)
    if not c:
        break
    r += c
print(r.decode().strip())
PY
}

mm_cluster_init a b c
for n in a b c; do
	mkdir -p "$MM_T/$n/store/$A/Maildir/"{cur,new,tmp}
done
for n in a b c; do
	mm_node_fs $n
	mm_node_repl $n
	mm_node_hbmon $n
done

mm_log "(a) one store writes alice; its deliveries carry its epoch"
mm_wait_for 15 writer a b c >/dev/null || mm_fail "not one writer for alice"
X=$(writer a b c)
E1=$(roles_epoch "$X")
[ -n "$E1" ] || mm_fail "no epoch for alice in $X's STATE/roles: $(cat "$MM_T/$X/state/roles")"
mm_deliver "$X" "$A" m1
mm_assert_eq "$(rec_field "$X" m1 epoch)" "$E1" "epoch of m1's record at $X (STATE/roles)"
mm_wait_converged 20 "$A" "$X" a b c

mm_log "$X's mailmesh-hbmon dies: alice fails over, with a newer epoch"
mm_node_stop_hbmon "$X" KILL
REST=$(echo a b c | tr ' ' '\n' | grep -v "^$X\$" | tr '\n' ' ')
mm_wait_for 15 writer $REST >/dev/null || mm_fail "alice did not fail over from $X"
Y=$(writer $REST)
Z=$(echo $REST | tr ' ' '\n' | grep -v "^$Y\$")
mm_wait_for 10 eval '[ -n "$(roles_epoch "$Y")" ]' || mm_fail "no epoch at $Y"
E2=$(roles_epoch "$Y")
[ "$E2" -gt "$E1" ] || mm_fail "the new epoch $E2 at $Y is not above $E1"
writable "$X" && mm_fail "$X still writes alice without its mailmesh-hbmon"
mm_log "alice: $X (epoch $E1) -> $Y (epoch $E2); $Z a replica"
mm_deliver "$Y" "$A" m2
mm_assert_eq "$(rec_field "$Y" m2 epoch)" "$E2" "epoch of m2's record at $Y (STATE/roles)"
mm_wait_converged 20 "$A" "$Y" "$Z" "$X"
for n in a b c; do
	mm_assert_eq "$(stale_count $n)" 0 "records refused as stale at $n in normal operation"
done
mm_wait_for 10 eval '[ "$(known "$Z")" = "$E1 $E2 " ]' ||
	mm_fail "$Z knows alice's epochs '$(known "$Z")', not '$E1 $E2 '"

mm_log "(b) $X, deposed, writes under epoch $E1 after $E2 began (its fencing failed)"
# $Y's replicator is away: $Z alone sees the deposed store's records
mm_node_stop_repl "$Y"
mm_node_stop_fs "$X"
printf 'Subject: stale\n\nwritten by a deposed store\n' >"$MM_T/stale.msg"
L1=$("$APPEND" "$MM_T/$X/state" "$A" Maildir stale-1 "$E1" "$(date +%s%N)" "$MM_T/stale.msg") ||
	mm_fail "journal-append failed"
mm_wait_for 20 eval '[ "$(stale_count "$Z")" = 1 ]' ||
	mm_fail "$Z did not refuse LSN $L1 of $X (stale_epoch $(stale_count "$Z"))"
in_store "$Z" stale-1 && mm_fail "$Z applied the stale record"
grep -q "record LSN $L1 of $X for $A (deliver) written under epoch $E1 .* after epoch $E2 began: refused (split brain?)" \
	"$MM_T/$Z/repl.log" || mm_fail "$Z did not log the refusal: $(grep -i stale "$MM_T/$Z/repl.log" | tail -3)"
"$MM_CTL" -c "$MM_T/$Z.ini" metrics | grep -qx "mailmesh_replication_stale_epoch_refused_total{store=\"$Z\"} 1" ||
	mm_fail "$Z's metrics: $("$MM_CTL" -c "$MM_T/$Z.ini" metrics | grep stale)"
"$MM_CTL" -c "$MM_T/$Z.ini" replication | grep -q "STALE EPOCH: 1 of its records refused" ||
	mm_fail "mailmeshctl replication at $Z does not show the refusal"
# kept whole: the record, with its epoch, and its content
"$MM_CTL" -c "$MM_T/$Z.ini" journal --refused --json >"$MM_T/refused.json" ||
	mm_fail "mailmeshctl journal --refused failed"
python3 - "$MM_T/refused.json" "$X" "$L1" "$E1" <<'PY' || mm_fail "refused records at $Z: $(cat "$MM_T/refused.json")"
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
assert len(recs) == 1, recs
r = recs[0]
assert (r["peer"], r["lsn"], r["epoch"], r["name"]) == (sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), "stale-1"), r
assert r["content_kept"] is True, r
PY
H=$(jq -r .hash "$MM_T/refused.json")
cmp -s "$MM_T/stale.msg" "$MM_T/$Z/state/replication/refused/content/$H" ||
	mm_fail "the refused delivery's content is not kept as it was"
# the sender hears it: counted, and a sync-mode wait does not count $Z
mm_wait_for 10 eval '[ "$(mm_link "$X" "$Z" .refused_stale)" = 1 ]' ||
	mm_fail "$X's link to $Z does not count the refusal"
grep -q "replication to $Z: the peer refused record LSN $L1" "$MM_T/$X/repl.log" ||
	mm_fail "$X did not log that $Z refused LSN $L1"

mm_log "(c) a late record of epoch $E1, written before $E2 began, is applied; the stream went on"
printf 'Subject: late\n\nwritten before the failover\n' >"$MM_T/late.msg"
L2=$("$APPEND" "$MM_T/$X/state" "$A" Maildir late-1 "$E1" "$((E2 - 1000000000))" "$MM_T/late.msg") ||
	mm_fail "journal-append failed"
mm_wait_for 20 in_store "$Z" late-1 || mm_fail "$Z did not apply the late record LSN $L2 of $X"
mm_wait_for 10 eval '[ "$(mm_link "$X" "$Z" .acked_lsn)" -ge "$L2" ]' ||
	mm_fail "$Z did not acknowledge past LSN $L2"
mm_assert_eq "$(stale_count "$Z")" 1 "records refused at $Z after the late one"
kill -0 "$(mm_node_pid "$Z" repl)" || mm_fail "$Z's replicator died"
r=$(ctl_wait "$X" "$L2" 1 2000)
case $r in ok*) ;; *) mm_fail "a wait for LSN $L2 at $X: $r";; esac
r=$(ctl_wait "$X" "$L1" 1 1000)
case $r in "error timeout acked=0 of 1 refused=1") ;; *) mm_fail "a wait for the refused LSN $L1 at $X: $r";; esac
t0=$(date +%s%N)
r=$(ctl_wait "$X" "$L1" 2 5000)
case $r in "error refused"*) ;; *) mm_fail "a wait for 2 acks of the refused LSN $L1 at $X: $r";; esac
[ $(( ($(date +%s%N) - t0) / 1000000 )) -lt 1000 ] || mm_fail "the refused wait did not fail at once"

mm_log "$Z restarts (a corrupt line in its epochs file): it still knows $E2"
mm_node_stop_repl "$Z"
echo "$E2 0123456789abcdef $A" >>"$MM_T/$Z/state/replication/epochs"
mm_node_repl "$Z"
grep -q "epochs: 1 bad line(s)" "$MM_T/$Z/repl.log" || mm_fail "$Z did not report the corrupt line"
L3=$("$APPEND" "$MM_T/$X/state" "$A" Maildir stale-2 "$E1" "$(date +%s%N)" "$MM_T/stale.msg") ||
	mm_fail "journal-append failed"
mm_wait_for 20 eval '[ "$(stale_count "$Z")" = 1 ]' ||
	mm_fail "$Z did not refuse LSN $L3 of $X after its restart"
in_store "$Z" stale-2 && mm_fail "$Z applied the stale record after its restart"
mm_assert_eq "$("$MM_CTL" -c "$MM_T/$Z.ini" journal --refused | wc -l)" 2 "records kept refused at $Z"
"$FSCK" -c "$MM_T/$Z.ini" --quick --json "$A" >"$MM_T/fsck.json" 2>"$MM_T/fsck.err" || true
mm_assert_eq "$(jq .refused_stale "$MM_T/fsck.json")" 2 "refused records mailmesh-fsck reports at $Z"

mm_log "$Y (the active) comes back: it merges both, the stale one logged as such"
mm_node_repl "$Y"
mm_wait_for 20 eval '[ "$(stale_count "$Y")" -ge 2 ]' ||
	mm_fail "$Y did not take LSN $L1 and $L3 of $X as stale (stale_epoch $(stale_count "$Y"))"
grep -q "record LSN $L1 of $X for $A (deliver) .* refused (split brain?); this store is the account's active: merged" \
	"$MM_T/$Y/repl.log" || mm_fail "$Y did not log the stale record it merged"
for m in stale-1 late-1 stale-2; do
	mm_wait_for 20 in_store "$Y" "$m" || mm_fail "$Y did not merge $m"
done
# the merges are journaled at $Y under its epoch, and reach everyone
mm_assert_eq "$(rec_field "$Y" stale-1 epoch)" "$E2" "epoch of $Y's merge of stale-1"
mm_node_fs "$X"
mm_wait_converged 30 "$A" "$Y" "$Z" "$X"
for m in m1 m2 stale-1 late-1 stale-2; do
	in_store "$Z" "$m" || mm_fail "$Z lacks $m at the end"
done
kill -0 "$(mm_node_pid "$Z" repl)" || mm_fail "$Z's replicator died"

mm_log "(d) $X's clock an hour ahead: its epoch reaches $Z, whose next epoch goes above it"
mm_node_stop_fs "$X"
EF=$(( $(date +%s%N) + 3600000000000 ))
"$APPEND" "$MM_T/$X/state" "$A" Maildir future-1 "$EF" "$(date +%s%N)" "$MM_T/late.msg" >/dev/null ||
	mm_fail "journal-append failed"
mm_wait_for 20 eval 'case "$(known "$Z")" in *"$EF "*) true;; *) false;; esac' ||
	mm_fail "$Z did not learn epoch $EF: '$(known "$Z")'"
out=$(mm_node_ctl "$Z" promote "$A" "$Z") || mm_fail "promote $A to $Z: $out"
mm_wait_for 20 eval '[ -n "$(roles_epoch "$Z")" ]' || mm_fail "$A not active at $Z after the promote"
E3=$(roles_epoch "$Z")
[ "$E3" -gt "$EF" ] || mm_fail "$Z's epoch $E3 is not above $EF, the one it learnt"
mm_log "$Z active with epoch $E3 > $EF"
mm_node_fs "$X"
mm_cluster_stop
mm_log "ok"
