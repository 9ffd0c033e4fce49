#!/bin/bash
# SPDX-License-Identifier: MIT
# seed.sh - a store that joins a running cluster with an empty store (c)
# is seeded by resync and takes no account before it has the mail: a and
# b run with mailmesh-hbmon and serve an account that ranks c first, its
# mail put in their stores before mailmesh (older than any journal, so
# only a resync can bring it); c's mount and mailmesh-hbmon start without
# its replicator: c hears a quorum and is caught up by every journal, but
# its peers owe it a seed, so it stays not ready and the account stays
# where it is; once c's replicator runs, the seed completes, c is ready
# and takes the account, and at that moment it has every message. Then
# the replication lag the status shows (a's replicator stopped: c's
# deliveries wait) and its return to 0.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/cluster.sh"

command -v jq >/dev/null || mm_skip "jq missing (apt-get install jq)"
[ -x "$MM_HB" ] || mm_fail "$MM_HB not built"
MM_CLUSTER_HBMON=1
N=300

st() { "$MM_CTL" -c "$MM_T/$1.ini" status --json 2>/dev/null; }
role_in() { st "$1" | jq -r --arg a "$2" '.accounts[] | select(.account == $a) | .role'; }
count() { find "$MM_T/$1/store/$2/Maildir/cur" "$MM_T/$1/store/$2/Maildir/new" -type f | wc -l; }

mm_cluster_init a b c
X=
for i in $(seq 1 200); do
	a=example.org/u$i
	if [ "$("$MM_CTL" -c "$MM_T/a.ini" placement "$a" --json | jq -r '.accounts[0].active')" = c ]; then
		X=$a
		break
	fi
done
[ -n "$X" ] || mm_fail "no account among 200 ranks c first (placement?)"
mm_log "account $X ranks c first; $N messages older than the journal on a and b"
S=$MM_T/a/store/$X/Maildir
mkdir -p "$S/cur" "$S/new" "$S/tmp"
for i in $(seq 1 $N); do
	printf 'Subject: old %s\n\nfrom before mailmesh\n' "$i" >"$S/cur/1600000000.M${i}P1.old:2,S"
done
mkdir -p "$MM_T/b/store/example.org"
cp -a "$MM_T/a/store/example.org/." "$MM_T/b/store/example.org/"
chown -R mail:mail "$MM_T/a/store/example.org" "$MM_T/b/store/example.org"

for n in a b; do
	mm_node_fs $n
	mm_node_repl $n
	mm_node_hbmon $n
done
mm_wait_for 20 eval "[ \"\$(role_in a $X)\" = active ] || [ \"\$(role_in b $X)\" = active ]" ||
	mm_fail "$X has no active store with c down"
O=a; [ "$(role_in a "$X")" = active ] || O=b
mm_log "$X is active on $O"

mm_log "c joins without its replicator: owed a seed, not ready"
mm_node_fs c
mm_node_hbmon c
owed() { st c | jq -e --arg o "$O" '.hbmon.leases.owed_resync_by | index($o) != null' >/dev/null; }
mm_wait_for 20 owed || mm_fail "c's status does not say $O owes it a resync: $(st c | jq -c .hbmon.leases)"
# c hears a and b (a quorum) and every journal head is 0 or applied:
# without the seed it would be ready after one timeout (1 s); it must not
# be for 4 s (a deadline on a negative: polled every 200 ms)
mm_wait_for 20 eval "[ \"\$(st c | jq -r '[.members[] | select(.state == \"healthy\")] | length')\" = 3 ]" ||
	mm_fail "c does not hear a and b"
end=$(( $(date +%s%N) / 1000000 + 4000 ))
while [ $(( $(date +%s%N) / 1000000 )) -lt "$end" ]; do
	[ "$(st c | jq -r .hbmon.leases.ready)" = false ] || mm_fail "c became ready while owed a seed"
	case $(role_in c "$X") in	# "" while c does not have it at all
	active|pending) mm_fail "c took $X without its mail: $(role_in c "$X")" ;;
	esac
	sleep 0.2
done
[ "$(role_in "$O" "$X")" = active ] || mm_fail "$X left $O while c was not ready"
grep -q "owed a resync by .*$O" "$MM_T/c/hbmon.log" || mm_fail "c's log does not say why it is not ready"


mm_log "c's replicator starts: the seed completes, c takes $X with every message"
mm_node_repl c
mm_wait_for 60 eval "[ \"\$(role_in c $X)\" = active ]" ||
	mm_fail "c did not take $X after its seed: $(st c | jq -c .hbmon.leases)"
got=$(count c "$X")
mm_assert_eq "$got" "$N" "messages of $X on c when it became active"
[ "$(mm_link "$O" c .seeding)" = false ] || mm_fail "$O still says it seeds c"
grep -q "replication to c: a new peer" "$MM_T/$O/repl.log" || mm_fail "$O did not take c for new"

mm_log "replication lag in the status: a's replicator stopped, three deliveries at c"
lag() { st c | jq -r '.members[] | select(.name == "c") | .lag_records'; }
mm_wait_for 20 eval '[ "$(lag)" = 0 ]' || mm_fail "c's journal lags before the test: $(lag)"
mm_node_stop_repl a
for i in 1 2 3; do mm_deliver c "$X" lag$i; done
mm_wait_for 10 eval '[ "$(lag)" -ge 3 ]' || mm_fail "c's status does not show a's lag: $(lag)"
mm_node_repl a
mm_wait_for 20 eval '[ "$(lag)" = 0 ]' || mm_fail "the lag did not go back to 0: $(lag)"

mm_cluster_stop
for n in a b c; do mm_node_stop_hbmon $n; done
mm_finish
