#!/bin/bash
# SPDX-License-Identifier: MIT
# replication-sync.sh - [account] mode = sync: a delivery returns only once
# a peer has it durably (RPO zero); with the peer gone it fails with EAGAIN
# and leaves nothing delivered (the sender retries), or, with on_timeout =
# degrade, succeeds and is logged as unprotected.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/cluster.sh"

MM_NODE_EXTRA=$'[account example.org/*]\nmode = sync\nsync_acks = 1\nsync_timeout = 1500ms\n[account example.net/*]\nmode = sync\nsync_timeout = 500ms\non_timeout = degrade'
mm_cluster_up a b
M=$MM_T/a/mnt/example.org/alice/Maildir
D=$MM_T/a/mnt/example.net/dave/Maildir
mkdir -p "$M/cur" "$M/new" "$M/tmp" "$D/cur" "$D/new" "$D/tmp"
mm_wait_for 20 test -d "$MM_T/b/store/example.org/alice/Maildir/new" ||
	mm_fail "the folder did not reach b"

mm_log "with b up: on b's disk when the rename returns"
for i in 1 2 3 4 5; do
	n="1700000000.M${i}P1.host"
	printf 'Subject: %s\n\nbody\n' "$i" >"$M/tmp/$n"
	mv "$M/tmp/$n" "$M/new/$n" || mm_fail "sync delivery $i failed with b up"
	# no waiting here: RPO zero means it is there already
	[ -f "$MM_T/b/store/example.org/alice/Maildir/new/$n" ] ||
		mm_fail "delivery $i returned before b had it"
done
# Postfix delivers with link(): the same guarantee
n=1700000000.M6P1.host
printf 'Subject: 6\n\nbody\n' >"$M/tmp/$n"
ln "$M/tmp/$n" "$M/new/$n" || mm_fail "sync delivery by link failed with b up"
[ -f "$MM_T/b/store/example.org/alice/Maildir/new/$n" ] || mm_fail "the link returned before b had it"
rm "$M/tmp/$n"

mm_log "with b's replicator stopped: EAGAIN, nothing delivered"
mm_node_stop_repl b
L=$(mm_last_lsn_of a)
n=1700000000.M7P1.host
printf 'Subject: 7\n\nbody\n' >"$M/tmp/$n"
t0=$(date +%s%N)
err=$(mm_errno rename "$M/tmp/$n" "$M/new/$n")
dt=$(( ($(date +%s%N) - t0) / 1000000 ))
mm_assert_eq "$err" EAGAIN "a sync delivery with no peer"
[ "$dt" -ge 1400 ] && [ "$dt" -lt 8000 ] || mm_fail "the refusal took $dt ms, sync_timeout is 1500"
[ -f "$M/tmp/$n" ] || mm_fail "the message is not back in tmp/ for the sender"
[ ! -e "$M/new/$n" ] || mm_fail "the refused message is visible in new/"
got=$("$MM_CTL" -c "$MM_T/a.ini" journal --from $((L + 1)) | cut -d' ' -f2-4)
mm_assert_eq "$got" "deliver example.org/alice Maildir/new/$n
expunge example.org/alice Maildir/new/$n" "records of the refused delivery (the peers that got it drop it)"
mm_assert_eq "$(mm_errno link "$M/tmp/$n" "$M/new/$n")" EAGAIN "a sync link with no peer"
[ ! -e "$M/new/$n" ] || mm_fail "the refused link is visible in new/"
grep -q "example.org/alice: delivery LSN [0-9]* not on 1 peer(s) within 1500 ms" "$MM_T/a/fs.log" ||
	mm_fail "no log line for the refused delivery"

mm_log "degrade: accepted and logged"
n=1700000000.M8P1.host
printf 'Subject: 8\n\nbody\n' >"$D/tmp/$n"
mv "$D/tmp/$n" "$D/new/$n" || mm_fail "a degraded delivery failed"
grep -q "example.net/dave runs unprotected" "$MM_T/a/fs.log" || mm_fail "no unprotected log line"

mm_log "b returns: the sender's retry succeeds"
mm_node_repl b
n=1700000000.M7P1.host
mm_wait_for 20 mv "$M/tmp/$n" "$M/new/$n" || mm_fail "the retried delivery still fails"
[ -f "$MM_T/b/store/example.org/alice/Maildir/new/$n" ] || mm_fail "the retry returned before b had it"
mm_wait_converged 20 example.org/alice a b
mm_wait_converged 20 example.net/dave a b
st=$("$MM_CTL" -c "$MM_T/a.ini" status)
[[ $st =~ sync_timeouts=([0-9]+) ]] && [ "${BASH_REMATCH[1]}" -ge 3 ] ||
	mm_fail "status does not count the 3 timeouts: $st"
mm_cluster_stop
mm_finish
