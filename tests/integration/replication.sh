#!/bin/bash
# SPDX-License-Identifier: MIT
# replication.sh - three stores on loopback: mail operations through a's
# mount reach b and c byte for byte (names, content, mode, owner, mtime);
# replicas are read-only in their mounts; a replicator killed mid-burst
# catches up with nothing lost or doubled; strangers and garbage are refused.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/cluster.sh"

mm_cluster_up a b c
ACCT=example.org/alice
M=$MM_T/a/mnt/$ACCT/Maildir
SEQ=0

# deliver SIZE [FLAGS]: a message the way an MDA writes one, to new/ or,
# with flags, straight to cur/.
deliver() {
	local size=$1 name
	SEQ=$((SEQ + 1))
	name="17000$(printf "%05d" $SEQ).M${SEQ}P$BASHPID.host,S=$size"
	head -c "$size" /dev/urandom >"$M/tmp/$name"
	touch -d "2024-01-0$((SEQ % 9 + 1)) 12:00:00" "$M/tmp/$name"
	if [ $# -gt 1 ]; then
		mv "$M/tmp/$name" "$M/cur/$name:2,$2"
	else
		mv "$M/tmp/$name" "$M/new/$name"
	fi
	echo "$name"
}

## the mail operations
mm_log "deliver, move, flag, expunge, copy, folders, metadata"
mkdir -p "$M/cur" "$M/new" "$M/tmp"
names=()
for size in 10 4096 40960 409600 3200000 0 777; do
	names+=("$(deliver "$size")")
done
for i in 1 2 3; do
	mv "$M/new/${names[$i]}" "$M/cur/${names[$i]}:2,"
done
mv "$M/cur/${names[1]}:2," "$M/cur/${names[1]}:2,S"
mv "$M/cur/${names[2]}:2," "$M/cur/${names[2]}:2,FRS"
rm "$M/new/${names[5]}"
mkdir -p "$M/.Sent/cur" "$M/.Sent/new" "$M/.Sent/tmp"
ln "$M/cur/${names[1]}:2,S" "$M/.Sent/cur/${names[1]}:2,S"
mkdir -p "$M/.Old/cur" "$M/.Old/new" "$M/.Old/tmp"
mv "$M/.Old" "$M/.Archive"
printf '3 V1700000000 N4 G0123\n1 :%s\n' "${names[1]}" >"$M/dovecot-uidlist.lock"
touch -d "2024-02-02 10:00:00" "$M/dovecot-uidlist.lock"
mv "$M/dovecot-uidlist.lock" "$M/dovecot-uidlist"
printf 'INBOX\nSent\n' >"$M/subscriptions"
deliver 2000 RS >/dev/null
mm_wait_converged 30 "$ACCT" a b c

## replicas through their mounts: the same mail, read-only
mm_log "replicas through their mounts"
for n in b c; do
	R=$MM_T/$n/mnt/$ACCT/Maildir
	mm_assert_eq "$(ls "$R/cur" | sort | tr '\n' ' ')" "$(ls "$M/cur" | sort | tr '\n' ' ')" \
		"cur/ listing through $n's mount"
	cmp -s "$R/new/${names[4]}" "$M/new/${names[4]}" ||
		mm_fail "the 3.2 MB message differs through $n's mount"
	mm_assert_eq "$(stat -c %Y "$R/new/${names[0]}")" "$(stat -c %Y "$M/new/${names[0]}")" \
		"INTERNALDATE (mtime) on $n"
	mm_assert_eq "$(mm_errno create "$R/new/1.M1P1.x")" EROFS "a write to the replica on $n"
	grep -q "$ACCT" "$MM_T/$n/state/accounts" || mm_fail "$n does not hold $ACCT read-only"
done
# a change on a shows through b's mount at once: no stale kernel cache
ls "$MM_T/b/mnt/$ACCT/Maildir/new" >/dev/null
late=$(deliver 123)
mm_wait_for 10 test -e "$MM_T/b/mnt/$ACCT/Maildir/new/$late" ||
	mm_fail "a delivery on a did not show through b's mount (stale cache?)"
mv "$M/new/$late" "$M/cur/$late:2,T"
mm_wait_for 10 test -e "$MM_T/b/mnt/$ACCT/Maildir/cur/$late:2,T" ||
	mm_fail "a move on a did not show through b's mount"
mm_wait_for 10 test ! -e "$MM_T/b/mnt/$ACCT/Maildir/new/$late" ||
	mm_fail "the moved message still shows in new/ through b's mount (stale cache)"

## status
last=$("$MM_CTL" -c "$MM_T/a.ini" journal --json | jq -s 'map(.lsn) | max')
mm_wait_for 10 sh -c "[ \"\$('$MM_CTL' -c '$MM_T/a.ini' replication --json |
	jq -s '[.[] | select(.direction == \"out\" and .acked_lsn == $last)] | length')\" = 2 ]" ||
	mm_fail "replication status: not both peers acknowledged LSN $last:
$("$MM_CTL" -c "$MM_T/a.ini" replication --json)"
"$MM_CTL" -c "$MM_T/a.ini" replication | grep -q '^b .*streaming' ||
	mm_fail "the table does not show b streaming"

## kill -9 a replica's replicator in the middle of a burst
mm_log "kill -9 during a burst"
( for i in $(seq 1 150); do deliver $((i * 97 % 20000)) >/dev/null; done ) &
BURST=$!
mm_wait_for 20 sh -c "[ \$(ls '$MM_T/b/store/$ACCT/Maildir/new' | wc -l) -ge 40 ]" ||
	mm_fail "b saw no deliveries during the burst"
mm_node_stop_repl b KILL
wait $BURST || mm_fail "the burst of deliveries failed"
mm_node_repl b
mm_wait_converged 60 "$ACCT" a b c
total=$(find "$MM_T/a/store/$ACCT" -path '*/tmp' -prune -o -type f -name '17*' -print | wc -l)
mm_assert_eq "$(find "$MM_T/b/store/$ACCT" -path '*/tmp' -prune -o -type f -name '17*' -print | wc -l)" \
	"$total" "messages on b after the restart (none lost, none doubled)"
ls "$MM_T/b/store/$ACCT/Maildir/tmp" | grep -q . &&
	mm_fail "staging files left in b's tmp/: $(ls "$MM_T/b/store/$ACCT/Maildir/tmp")"

## the source restarts: peers reconnect and nothing is sent twice
mm_node_stop_repl a
mm_node_repl a
deliver 5000 >/dev/null
mm_wait_converged 30 "$ACCT" a b c
sent=$("$MM_CTL" -c "$MM_T/a.ini" replication --json |
	jq -s '[.[] | select(.direction == "out") | .records_sent] | add')
mm_assert_eq "$sent" 2 "records a sent to b and c after its restart (one delivery each)"

## one content delivered three times: sent once to each peer
mm_log "the same content three times"
sent_b() { mm_link a b .bytes_sent; }
head -c 1000000 /dev/urandom >"$MM_T/big"
before=$(sent_b)
for i in 1 2 3; do
	cp "$MM_T/big" "$M/tmp/1800000000.M${i}P1.dup,S=1000000"
	mv "$M/tmp/1800000000.M${i}P1.dup,S=1000000" "$M/new/1800000000.M${i}P1.dup,S=1000000"
done
mm_wait_converged 30 "$ACCT" a b c
sent=$(( $(sent_b) - before ))
[ "$sent" -lt 1500000 ] || mm_fail "3 copies of 1 MB sent $sent bytes to b"
mm_assert_eq "$(mm_store_count b by_hash)" 2 \
	"deliveries b took from the content it keeps"

## strangers and garbage
mm_log "strangers and garbage"
mkdir "$MM_T/evil"
printf '[node]\nname = evil\nstore = /nonexistent\nstate = %s\nmount = /nonexistent2\n[tls]\nca = %s/ca.crt\n' \
	"$MM_T/evil" "$MM_T/evil" >"$MM_T/evil.ini"
"$MM_CTL" -c "$MM_T/evil.ini" certs init >/dev/null
"$MM_CTL" -c "$MM_T/evil.ini" certs node b >/dev/null	# a "b" from another CA
timeout 10 openssl s_client -connect "127.0.0.1:$(mm_node_port a)" -tls1_3 \
	-cert "$MM_T/evil/b.crt" -key "$MM_T/evil/b.key" -CAfile "$MM_T/tls/ca.crt" \
	</dev/null >"$MM_T/evil.out" 2>&1 || true
# (fixed bytes: random ones now and then start like a TLS record or an
# SSLv2 hello and leave OpenSSL waiting for the rest)
timeout 10 python3 -c '
import random, socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"\x00garbage" + random.Random(7).randbytes(5000))
s.settimeout(5)
try:
    s.recv(100)
except Exception:
    pass
' "$(mm_node_port a)" || true
# a certificate of the right CA but for a store that is not a peer
"$MM_CTL" -c "$MM_T/a.ini" certs node mallory >/dev/null
timeout 10 openssl s_client -connect "127.0.0.1:$(mm_node_port a)" -tls1_3 \
	-cert "$MM_T/tls/mallory.crt" -key "$MM_T/tls/mallory.key" -CAfile "$MM_T/tls/ca.crt" \
	</dev/null >"$MM_T/mallory.out" 2>&1 || true
mm_wait_for 10 grep -q "'mallory' is not a peer of this store" "$MM_T/a/repl.log" ||
	mm_fail "a did not log the refused non-peer: $(tail -n 5 "$MM_T/a/repl.log")"
grep -q "unknown client 127.0.0.1:[0-9]*: certificate refused: unable to get local issuer" \
	"$MM_T/a/repl.log" || mm_fail "a did not log the certificate of another CA"
grep -q "unknown client 127.0.0.1:[0-9]*: TLS: wrong version number" "$MM_T/a/repl.log" ||
	mm_fail "a did not log the garbage bytes"
kill -0 "$(mm_node_pid a repl)" || mm_fail "a's replicator died"
# an account c is not to hold (by c's own configuration) is refused there
mm_node_stop_repl c
printf '[account example.com/*]\nreplicate = no\n' >>"$MM_T/c.ini"
mm_node_repl c
X=$MM_T/a/mnt/example.com/xavier/Maildir
mkdir -p "$X/cur" "$X/new" "$X/tmp"
mm_wait_for 20 grep -q "is for example.com/xavier, which this store does not hold" "$MM_T/c/repl.log" ||
	mm_fail "c did not refuse an account it does not hold"
[ ! -e "$MM_T/c/store/example.com" ] || mm_fail "c applied records of an account it does not hold"
mm_wait_for 20 test -d "$MM_T/b/store/example.com/xavier/Maildir/new" ||
	mm_fail "b (which holds every account) did not get example.com/xavier"
# the operator settles it: c stops refusing, and catches up
sed -i '/^\[account example.com/,$d' "$MM_T/c.ini"
mm_node_stop_repl c
mm_node_repl c
deliver 999 >/dev/null
mm_wait_converged 30 "$ACCT" a b c
mm_cluster_stop
mm_finish
