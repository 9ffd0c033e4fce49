#!/bin/bash
# SPDX-License-Identifier: MIT
# replication-cut.sh - the link from a to b is cut (a proxy that stops
# passing anything, in both directions, without closing): a keeps serving
# at full speed, notices the silence within seconds and keeps redialing,
# and b catches up, nothing lost or doubled, once the link returns.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/cluster.sh"

mm_cluster_init a b
PROXY=$(mm_free_port)
HOLE=$MM_T/cut
python3 "$(dirname "$0")/netproxy.py" "$PROXY" "$(mm_node_port b)" --blackhole "$HOLE" &
PROXY_PID=$!
mm_on_exit "kill $PROXY_PID 2>/dev/null"
sed -i "/^\[peer b\]/,/^address/ s/^address = .*/address = 127.0.0.1:$PROXY/" "$MM_T/a.ini"
for n in a b; do
	mm_node_fs "$n"
	mm_node_repl "$n"
done
ACCT=example.org/alice
M=$MM_T/a/mnt/$ACCT/Maildir
mkdir -p "$M/cur" "$M/new" "$M/tmp"
deliver() { mm_deliver a "$ACCT" "$1"; }
for i in 1 2 3; do deliver "1700000000.M${i}P1.host"; done
mm_wait_converged 20 "$ACCT" a b
state() { mm_link a b .state; }
mm_assert_eq "$(state)" streaming "link state before the cut"

mm_log "the link is cut"
touch "$HOLE"
t0=$(date +%s%N)
for i in $(seq 10 40); do deliver "1700000000.M${i}P1.host"; done
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
[ "$ms" -lt 5000 ] || mm_fail "31 deliveries on a took $ms ms with the link cut"
mv "$M/new/1700000000.M10P1.host" "$M/cur/1700000000.M10P1.host:2,S"
mm_wait_for 20 eval '[ "$(state)" != streaming ]' ||
	mm_fail "a did not notice the cut link within 20 s"
grep -q "replication to b: link lost: 127.0.0.1:$PROXY: silent for 10 s" "$MM_T/a/repl.log" ||
	mm_fail "a's log does not say the link went silent"
[ ! -e "$MM_T/b/store/$ACCT/Maildir/new/1700000000.M40P1.host" ] ||
	mm_fail "b got mail through a cut link (test set-up?)"

mm_log "the link returns"
rm "$HOLE"
mm_wait_converged 40 "$ACCT" a b
mm_assert_eq "$(find "$MM_T/b/store/$ACCT/Maildir" -path '*/tmp' -prune -o -type f -name '17*' -print | wc -l)" \
	34 "messages on b after the cut (none lost, none doubled)"
mm_log "a bandwidth limit: 1 MB/s to b"
sed -i "/^\[peer b\]/,/^address/ s/^address = .*/&\nbandwidth = 1M/" "$MM_T/a.ini"
grep -q "^bandwidth = 1M" "$MM_T/a.ini" || mm_fail "could not set the bandwidth"
mm_node_stop_repl a
mm_node_repl a
n=1700000000.M99P1.host
head -c 3000000 /dev/urandom >"$M/tmp/$n"
t0=$(date +%s%N)
mv "$M/tmp/$n" "$M/new/$n"
mm_wait_for 30 test -e "$MM_T/b/store/$ACCT/Maildir/new/$n" || mm_fail "3 MB did not reach b"
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
# 3 MB of random bytes at 1 MB/s cannot take less than about 2 s
[ "$ms" -ge 2000 ] || mm_fail "3 MB reached b in $ms ms despite 1 MB/s"
mm_log "3 MB at 1 MB/s: $ms ms"
mm_cluster_stop
mm_finish
