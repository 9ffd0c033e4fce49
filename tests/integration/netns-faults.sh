#!/bin/bash
# SPDX-License-Identifier: MIT
# netns-faults.sh - the fault harness (netns-lib.sh) against what exists
# today: three stores, each with its replicator and mailmesh-hbmon in a
# network namespace of its own, mailmesh-fs mounted in the root namespace.
# All see each other healthy; a store cut from the others (nftables) is
# failed on both sides within the timeout and healthy again once rejoined;
# 300 ms of one-way delay on a's heartbeats to b (the UDP proxy) makes a and
# b degraded by round trip, and losing them all makes a failed for b only;
# mail delivered on the account's active store while it is cut from a
# replica reaches that replica after the heal. And a
# test that fails midway leaves no namespace, mount or process behind.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/netns-lib.sh"

HERE=$(cd "$(dirname "$0")" && pwd)

# ---- 1. a test that fails midway leaves nothing behind ----
mm_log "a test that fails midway, with a frozen store, leaves nothing behind"
netns_require
mm_require_fuse
child=$(mktemp /var/tmp/mmtest-child.XXXXXX)
mm_on_exit "rm -f $child $child.out"
cat >"$child" <<SH
#!/bin/bash
. "$HERE/lib.sh"
. "$HERE/netns-lib.sh"
netns_cluster_init x y
echo "\$NETNS_PREFIX \$MM_T"
netns_proxy x y udp
netns_store_start x
netns_store_start y
netns_cut x y
netns_store_freeze y
mm_fail "failing on purpose, midway"
SH
rc=0
MM_BUILDDIR=$MM_BUILDDIR MM_SRCDIR=$MM_SRCDIR bash "$child" >"$child.out" 2>"$child.err" || rc=$?
read -r cprefix cdir <"$child.out" || true
mm_assert_eq "$rc" 1 "exit status of the failing child test (stderr: $(tail -n 5 "$child.err"))"
grep -q "failing on purpose" "$child.err" || mm_fail "the child did not get as far: $(tail -n 5 "$child.err")"
[ -n "$cprefix" ] && [ -n "$cdir" ] || mm_fail "the child did not say its names"
left=$(netns_leftovers "$cprefix" "$cdir")
[ -z "$left" ] || mm_fail "the failed child left: $left"
[ ! -e "$cdir" ] || mm_fail "the failed child left its directory $cdir"
rm -f "$child.err"

# ---- 2. three stores, all healthy ----
# rtt_ms 200: the 300 ms delay below is over it
MM_NODE_EXTRA='[hbmon]
rtt_ms = 200'
netns_cluster_init a b c
netns_proxy a b udp           # a's heartbeats to b go through a proxy, no delay yet
for n in a b c; do netns_store_start "$n"; done
netns_mark
# shellcheck disable=SC2046
netns_wait_states 15 $(netns_all_pairs healthy)
mm_log "all 9 views healthy $NETNS_ALL_MS ms after the last start"
for n in a b c; do
	mm_assert_eq "$(netns_status "$n" | jq -r '.fs.running')" true "mailmesh-fs of $n in status"
done

# ---- 3. a isolated: failed on both sides ----
mm_log "isolate a"
netns_mark
netns_isolate a
netns_wait_states 5 b:a:failed c:a:failed a:b:failed a:c:failed
for c in b:a:failed c:a:failed a:b:failed a:c:failed; do
	ms=${NETNS_SEEN[$c]}
	mm_log "  ${c%%:*} sees $(cut -d: -f2 <<<"$c") failed after $ms ms"
	# the timeout is 1000 ms, and the last heartbeat left at most one
	# interval (200 ms) before the cut
	[ "$ms" -ge 700 ] || mm_fail "$c after $ms ms: before the timeout, so not by the cut?"
	[ "$ms" -le 2000 ] || mm_fail "$c after $ms ms: over 2 s"
done
netns_member b a .reason | grep -q "^not heard for" || mm_fail "b's reason: $(netns_member b a .reason)"
mm_assert_eq "$(netns_state b c)" healthy "c in b's view while a is isolated"
mm_assert_eq "$(netns_state c b)" healthy "b in c's view while a is isolated"
mm_assert_eq "$(netns_state a a)" healthy "a in its own view while isolated"
netns_is_cut b a || mm_fail "netns_is_cut b a after netns_isolate a"

mm_log "rejoin a"
netns_mark
netns_rejoin a
# shellcheck disable=SC2046
netns_wait_states 5 $(netns_all_pairs healthy)
mm_log "  all healthy again after $NETNS_ALL_MS ms"
! netns_is_cut b a || mm_fail "b still drops a after netns_rejoin a"

# ---- 4. delay and loss on a's heartbeats to b ----
mm_log "300 ms one-way delay on a's heartbeats to b"
netns_mark
netns_shape a b 300
netns_wait_states 5 a:b:degraded b:a:degraded
mm_log "  a sees b degraded after ${NETNS_SEEN[a:b:degraded]} ms, b sees a after ${NETNS_SEEN[b:a:degraded]} ms"
for v in a b; do
	[ $v = a ] && m=b || m=a
	r=$(netns_member $v $m .reason)
	mm_log "  $v sees $m: $r, rtt_ms $(netns_member $v $m .rtt_ms)"
	[[ $r =~ ^rtt\ ([0-9]+)\ ms\ \>\ 200\ ms$ ]] || mm_fail "$v's reason for $m: $r"
	[ "${BASH_REMATCH[1]}" -ge 290 ] || mm_fail "$v measures $m's rtt at ${BASH_REMATCH[1]} ms, under the 300 ms delay"
	[ "${BASH_REMATCH[1]}" -lt 1000 ] || mm_fail "$v measures $m's rtt at ${BASH_REMATCH[1]} ms"
done
# c's links do not go through the proxy
for c in c:a a:c c:b b:c; do
	mm_assert_eq "$(netns_state "${c%:*}" "${c#*:}")" healthy "$c while a -> b is delayed"
done
netns_mark
netns_shape a b
# shellcheck disable=SC2046
netns_wait_states 5 $(netns_all_pairs healthy)
mm_log "  no delay: all healthy after $NETNS_ALL_MS ms"

mm_log "all of a's heartbeats to b lost"
netns_mark
netns_shape a b 0 100
netns_wait_states 5 b:a:failed
mm_log "  b sees a failed after ${NETNS_SEEN[b:a:failed]} ms"
[ "${NETNS_SEEN[b:a:failed]}" -ge 700 ] || mm_fail "b failed a after ${NETNS_SEEN[b:a:failed]} ms"
mm_assert_eq "$(netns_state c a)" healthy "a in c's view while a -> b loses everything"
netns_shape a b
# shellcheck disable=SC2046
netns_wait_states 5 $(netns_all_pairs healthy)

# ---- 5. replication across a cut and a heal ----
# The account is created through the mount of its active store X (the
# mounts are fenced: mailmesh-hbmon grants the new account there); then X
# is cut from one replica Y: X keeps its majority (X and Z), so it stays
# active, Z gets the mail at once and Y after the heal.
ACCT=example.org/alice
X=$("$MM_CTL" -c "$MM_T/a.ini" placement "$ACCT" --json | jq -r '.accounts[0].active')
read -r Y Z <<<"$(printf '%s\n' a b c | grep -vx "$X" | tr '\n' ' ')"
M=$MM_T/$X/mnt/$ACCT/Maildir
mkdir -p "$M/cur" "$M/new" "$M/tmp" || mm_fail "cannot create $ACCT through $X's mount"
mm_deliver "$X" "$ACCT" 1700000000.M1P1.before
mm_wait_converged 20 "$ACCT" a b c
mm_assert_eq "$(mm_link "$X" "$Y" .state)" streaming "$X's link to $Y before the cut"

mm_log "cut $X (the active store of $ACCT) from $Y, deliver on $X"
netns_cut "$X" "$Y"
mm_deliver "$X" "$ACCT" 1700000000.M2P1.during
mm_wait_converged 20 "$ACCT" "$X" "$Z"
t0=$(netns_now_ms)
mm_wait_for 30 eval '[ "$(mm_link "$X" "$Y" .state)" != streaming ]' ||
	mm_fail "$X did not notice within 30 s that $Y is cut off"
mm_log "  $X's link to $Y: $(mm_link "$X" "$Y" .state) after $(( $(netns_now_ms) - t0 )) ms"
[ ! -e "$MM_T/$Y/store/$ACCT/Maildir/new/1700000000.M2P1.during" ] ||
	mm_fail "$Y got $X's mail through the cut"
mm_assert_eq "$(netns_state "$Z" "$X")" healthy "$X in $Z's view while $X and $Y are cut"

mm_log "heal $X and $Y"
netns_mark
netns_heal "$X" "$Y"
mm_wait_converged 40 "$ACCT" "$X" "$Y"
mm_log "  $Y converged $(( $(netns_now_ms) - NETNS_T0 )) ms after the heal"
mm_assert_eq "$(find "$MM_T/$Y/store/$ACCT/Maildir" -path '*/tmp' -prune -o -type f -name '17*' -print | wc -l)" \
	2 "messages on $Y after the heal"
# shellcheck disable=SC2046
netns_wait_states 5 $(netns_all_pairs healthy)

# ---- 6. clean stop, then nothing left ----
netns_cluster_stop
if grep -q -E "Sanitizer|runtime error:" "$MM_T"/*/*.log; then
	grep -h -B2 -A30 -E "Sanitizer|runtime error:" "$MM_T"/*/*.log >&2
	mm_fail "sanitizer reports"
fi
netns_teardown
left=$(netns_leftovers "$NETNS_PREFIX" "$MM_T")
[ -z "$left" ] || mm_fail "left after the teardown: $left"
mm_log "ok"
