#!/bin/bash
# SPDX-License-Identifier: MIT
# replication-pause.sh - mailmeshctl pause|resume ACCOUNT: a paused account's
# changes stay on the source while other accounts keep flowing, the pause
# survives a restart of the replicator, and on resume the held changes
# (deliveries, flag changes, expunges) reach every peer in order, also one
# that was down when the account was resumed.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/cluster.sh"

mm_cluster_up a b c
A=example.org/alice
B=example.org/bob
for acct in $A $B; do mkdir -p "$MM_T/a/mnt/$acct/Maildir/"{cur,new,tmp}; done
for i in 1 2 3; do
	mm_deliver a $A "1700000000.M${i}P1.a"
	mm_deliver a $B "1700000000.M${i}P1.b"
done
mm_wait_converged 20 $A a b c
mm_wait_converged 20 $B a b c

ctl() { mm_node_ctl a "$@"; }
mm_assert_eq "$(ctl pause $A)" "$A: paused" "mailmeshctl pause"
mm_assert_eq "$(mm_link a b '.paused[0].account')" "$A" "b's link lists the paused account"
ctl replication | grep -q "^c .*PAUSED: $A" || mm_fail "the status table does not show the pause"
if ctl pause example.org/../x >/dev/null 2>&1; then
	mm_fail "pause took an account name with '..'"
fi
held_b=$(mm_tree b $A)
held_c=$(mm_tree c $A)

mm_log "changes to alice while paused; bob goes on"
M=$MM_T/a/mnt/$A/Maildir
for i in $(seq 10 19); do mm_deliver a $A "1700000000.M${i}P1.a"; done
mv "$M/new/1700000000.M1P1.a" "$M/cur/1700000000.M1P1.a:2,S"
rm "$M/new/1700000000.M2P1.a"
mv "$M/new/1700000000.M10P1.a" "$M/cur/1700000000.M10P1.a:2,RS"
for i in 4 5; do mm_deliver a $B "1700000000.M${i}P1.b"; done
# bob's records come after alice's in a's journal: once they are on b and
# c, alice's would be too had they been sent
mm_wait_converged 20 $B a b c
mm_assert_eq "$(mm_tree b $A)" "$held_b" "alice on b while paused"
mm_assert_eq "$(mm_tree c $A)" "$held_c" "alice on c while paused"

mm_log "the pause survives a restart of a's replicator"
mm_node_stop_repl a
mm_node_repl a
mm_wait_streaming a b
mm_wait_streaming a c
mm_assert_eq "$(mm_link a c '.paused | length')" 1 "c's link after a restart"
mm_deliver a $A "1700000000.M20P1.a"
mm_deliver a $B "1700000000.M6P1.b"
mm_wait_converged 20 $B a b c
mm_assert_eq "$(mm_tree b $A)" "$held_b" "alice on b after a's restart"

mm_log "resume while b is down: c gets the held changes now, b when it returns"
mm_node_stop_repl b
mm_assert_eq "$(ctl resume $A)" "$A: resumed" "mailmeshctl resume"
mm_wait_converged 20 $A a c
mm_node_repl b
mm_wait_converged 20 $A a b
mm_wait_for 20 eval "[ \"\$(mm_link a b '.paused | length')\" = 0 ]" ||
	mm_fail "b's link still lists a pause after the replay"
mm_assert_eq "$(mm_link a c '.paused | length')" 0 "c's link after the replay"
grep -q "replication to c: $A: [0-9]* held records sent" "$MM_T/a/repl.log" ||
	mm_fail "a did not log the replay to c"
[ -e "$MM_T/a/state/replication/to-b.paused" ] && mm_fail "to-b.paused left behind"

mm_log "new changes flow at once after the resume"
mm_deliver a $A "1700000000.M21P1.a"
mm_wait_converged 20 $A a b c
mm_assert_eq "$(ctl resume $A)" "$A: resumed" "resume of an account not paused"
mm_cluster_stop
mm_finish
