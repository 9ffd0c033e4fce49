#!/bin/bash
# SPDX-License-Identifier: MIT
# fsck.sh - mailmesh-fsck on a three-store cluster: clean is exit 0; then
# each on its own, a replica file deleted, a byte flipped in a replica
# message, a flag changed on a replica, a message cut short on a replica
# and on the active store (--quick sees both), a stray file on a replica and on
# the active store, a corrupt journal record: each found and named
# exactly, --repair fixes what it can (exit 1, nothing deleted: a corrupt
# record's bytes are saved and a filler record is written over them) and
# the next run is clean.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/cluster.sh"
FSCK=$MM_BUILDDIR/tools/mailmesh-fsck
[ -x "$FSCK" ] || mm_fail "$FSCK not built"

mm_cluster_up a b c
ACCT=example.org/alice
M=$MM_T/a/mnt/$ACCT/Maildir
mkdir -p "$M" "$M/cur" "$M/new" "$M/tmp" "$M/.Sent" "$M/.Sent/cur" "$M/.Sent/new" "$M/.Sent/tmp"
for i in $(seq 1 8); do mm_deliver a "$ACCT" "1700000000.M${i}P1.host"; done
mv "$M/new/1700000000.M1P1.host" "$M/cur/1700000000.M1P1.host:2,S"
mv "$M/new/1700000000.M2P1.host" "$M/cur/1700000000.M2P1.host:2,RS"
printf 'Subject: sent\n\nx\n' >"$M/.Sent/tmp/1700000001.M1P1.host"
mv "$M/.Sent/tmp/1700000001.M1P1.host" "$M/.Sent/cur/1700000001.M1P1.host:2,S"
mm_wait_converged 30 "$ACCT" a b c

# fsck NODE [ARGS]: runs mailmesh-fsck on NODE, output in $OUT, status in $RC
fsck() {
	local n=$1; shift
	RC=0
	OUT=$("$FSCK" -c "$MM_T/$n.ini" "$@" 2>&1) || RC=$?
}
expect() {	# expect RC [PATTERN...]: the status, and lines that must be there
	local want=$1; shift
	[ "$RC" = "$want" ] || mm_fail "exit $RC, not $want: $OUT"
	for p in "$@"; do
		printf '%s\n' "$OUT" | grep -qF -- "$p" || mm_fail "no '$p' in: $OUT"
	done
}
problems() { printf '%s\n' "$OUT" | grep -c -v '^mailmesh-fsck' || true; }

mm_log "a clean cluster is clean, from every store, default, --quick and --json"
for n in a b c; do
	fsck $n --peers; expect 0
	fsck $n --peers --quick; expect 0
done
fsck a --peers --json
expect 0
mm_assert_eq "$(printf '%s' "$OUT" | jq '.problems | length')" 0 "problems in the JSON report"
mm_assert_eq "$(printf '%s' "$OUT" | jq .messages)" 9 "messages checked"

B=$MM_T/b/store/$ACCT/Maildir
A=$MM_T/a/store/$ACCT/Maildir

mm_log "a file deleted from a replica"
rm "$B/new/1700000000.M3P1.host"
fsck b --peers
expect 4 "b: missing: $ACCT/Maildir/new/1700000000.M3P1.host: on a, not on b"
mm_assert_eq "$(problems)" 1 "problems found"
fsck a --peers
expect 4 "b: missing: $ACCT/Maildir/new/1700000000.M3P1.host"
fsck b --peers --repair
expect 1 "[fixed: fetch]"
fsck b --peers; expect 0
mm_assert_eq "$(mm_tree b "$ACCT")" "$(mm_tree a "$ACCT")" "b after the repair"

mm_log "a byte flipped in a replica message"
f=$B/cur/1700000000.M1P1.host:2,S
printf 'X' | dd of="$f" bs=1 seek=3 conv=notrunc status=none
fsck b --peers --quick
expect 0	# --quick reads no content: the same size is the same message
fsck b --peers
expect 4 "b: different-content: $ACCT/Maildir/cur/1700000000.M1P1.host:2,S"
mm_assert_eq "$(problems)" 1 "problems found"
fsck b --peers --repair
expect 1 "[fixed: fetch]"
ls "$MM_T/b/state/lost+found/"*"/$ACCT/Maildir/cur/1700000000.M1P1.host:2,S" >/dev/null ||
	mm_fail "the damaged copy was not kept in lost+found"
grep -q "different-content" "$MM_T/b/state/lost+found/"*"/$ACCT/Maildir/cur/1700000000.M1P1.host:2,S.why" ||
	mm_fail "no note of why beside the quarantined file"
fsck b --peers; expect 0
mm_assert_eq "$(mm_tree b "$ACCT")" "$(mm_tree a "$ACCT")" "b after the repair"

mm_log "a flag changed on a replica"
mv "$B/cur/1700000000.M2P1.host:2,RS" "$B/cur/1700000000.M2P1.host:2,FRS"
fsck b --peers
expect 4 "b: different-flags: $ACCT/Maildir/cur/1700000000.M2P1.host:2,FRS: cur/1700000000.M2P1.host:2,RS on a"
mm_assert_eq "$(problems)" 1 "problems found"
fsck b --peers --repair; expect 1 "[fixed: rename]"
fsck b --peers; expect 0
[ -e "$B/cur/1700000000.M2P1.host:2,RS" ] || mm_fail "the flags were not put back"

mm_log "a message cut short on a replica, behind the mount: --quick sees the size"
f=$B/new/1700000000.M4P1.host
truncate -s 5 "$f"
fsck b --peers --quick
expect 4 "b: different-content: $ACCT/Maildir/new/1700000000.M4P1.host: 5 bytes"
mm_assert_eq "$(problems)" 1 "problems found"
fsck b --peers --quick --repair; expect 1 "[fixed: fetch]"
fsck b --peers; expect 0
mm_assert_eq "$(mm_tree b "$ACCT")" "$(mm_tree a "$ACCT")" "b after the repair"

mm_log "a message cut short on the active store: --quick sees it against the journal"
f=$A/new/1700000000.M5P1.host
size=$(stat -c %s "$f")
truncate -s 5 "$f"
fsck a --quick
expect 4 "a: corrupt: $ACCT/Maildir/new/1700000000.M5P1.host: 5 bytes, recorded $size bytes"
mm_assert_eq "$(problems)" 1 "problems found"
fsck a --peers --quick --repair
expect 1 "a: corrupt: $ACCT/Maildir/new/1700000000.M5P1.host" "[fixed: fetch]"
[ "$(stat -c %s "$f")" = "$size" ] || mm_fail "the copy fetched is not whole"
fsck a --peers; expect 0

mm_log "a stray file on a replica"
printf 'Subject: stray\n\nx\n' >"$B/.Sent/cur/1700000009.M9P9.stray:2,S"
fsck b --peers
expect 4 "b: extra: $ACCT/Maildir/.Sent/cur/1700000009.M9P9.stray:2,S: on b, not on a"
mm_assert_eq "$(problems)" 1 "problems found"
fsck b --peers --repair; expect 1 "[fixed: quarantine"
fsck b --peers; expect 0
ls "$MM_T/b/state/lost+found/"*"/$ACCT/Maildir/.Sent/cur/1700000009.M9P9.stray:2,S" >/dev/null ||
	mm_fail "the stray file was deleted, not quarantined"

mm_log "a stray file on the active store, made behind the mount, and stale tmp/ and a bad name"
printf 'Subject: behind\n\nx\n' >"$A/cur/1700000010.M1P1.behind:2,S"
printf 'x' >"$A/tmp/1600000000.M1P1.abandoned"
touch -d '3 days ago' "$A/tmp/1600000000.M1P1.abandoned"
mkdir "$A/new/not-a-message"
fsck a
expect 4 "a: unjournaled: $ACCT/Maildir/cur/1700000010.M1P1.behind:2,S" \
	"a: stale-tmp: $ACCT/Maildir/tmp/1600000000.M1P1.abandoned" \
	"a: bad-name: $ACCT/Maildir/new/not-a-message"
mm_assert_eq "$(problems)" 3 "problems found"
fsck a --repair; expect 1
fsck a; expect 0
fsck a --peers; expect 0

mm_log "a corrupt journal record"
# the first move record of a's journal gets a byte of its name flipped
read -r seg off <<<"$(python3 - "$MM_T/a/state/journal" <<'PY'
import os, struct, sys
d = sys.argv[1]
for seg in sorted(f for f in os.listdir(d) if f.endswith(".mmj")):
    path = os.path.join(d, seg)
    data = open(path, "rb").read()
    off = 32
    while off + 24 <= len(data):
        magic, length = struct.unpack_from("<II", data, off)
        if magic != 0x524a4d4d:
            break
        if data[off + 10] == 2:	# move
            with open(path, "r+b") as f:
                f.seek(off + 100)
                f.write(bytes([data[off + 100] ^ 0xff]))
            print(seg, off)
            sys.exit(0)
        off += length
sys.exit(1)
PY
)" || mm_fail "no move record in a's journal"
fsck a
expect 4 "a: journal-corrupt:" "$seg" "$off"
mm_assert_eq "$(problems)" 1 "problems found: $OUT"
skipped=$(printf '%s\n' "$OUT" | sed -n 's/.* \([0-9]*\) bytes skipped.*/\1/p')
[ -n "$skipped" ] || mm_fail "no 'bytes skipped' in: $OUT"
fsck a --repair
# the record itself cannot be made again: its bytes are saved, a filler
# record stands in their place, and the journal reads clean again
expect 1 "a: journal-corrupt:" "$seg" "$off" "fixed: fill, saved to"
saved=$(ls "$MM_T/a/state/lost+found/"*/journal/"$seg@$off") || mm_fail "nothing saved"
mm_assert_eq "$(stat -c %s "$saved")" "$skipped" "bytes saved"
grep -q "^problem: journal-corrupt" "$saved.why" || mm_fail "no .why beside $saved"
fsck a; expect 0 "1 journal range(s) voided by an earlier --repair"
fsck a --peers; expect 0
# the store and its replication go on past the filler
mm_deliver a "$ACCT" "1700000099.M1P1.after"
mm_wait_converged 30 "$ACCT" a b c
fsck a --peers; expect 0
mm_log "mailmeshctl metrics: the figures of this cluster, and fsck's last run"
prom=$MM_T/a.prom
mm_node_ctl a metrics --textfile "$prom" || mm_fail "metrics --textfile failed"
metric() { grep -F "$1 " "$prom" | awk '{print $2}'; }
delivered=$(mm_node_ctl a journal --json | jq -s '[.[] | select(.op == "deliver")] | length')
[ "$delivered" -ge 9 ] || mm_fail "only '$delivered' deliveries in a's journal"
mm_assert_eq "$(metric 'mailmesh_ops_total{store="a",op="deliver"}')" "$delivered" "deliveries"
for p in b c; do
	mm_assert_eq "$(metric "mailmesh_replication_peer_up{store=\"a\",peer=\"$p\"}")" 1 "$p up"
	mm_assert_eq "$(metric "mailmesh_replication_backlog_records{store=\"a\",peer=\"$p\"}")" 0 \
		"$p backlog"
done
mm_assert_eq "$(metric 'mailmesh_up{store="a",daemon="mailmesh-fs"}')" 1 "fs up"
mm_assert_eq "$(metric 'mailmesh_fsck_last_exit_code{store="a"}')" 0 "fsck's last exit"
[ "$(metric 'mailmesh_journal_bytes{store="a"}')" -gt 0 ] || mm_fail "no journal bytes"
# every sample is under its own # TYPE, once
awk '/^# TYPE /{t[$3]++; cur=$3; next} /^#/{next}
     {n=$1; sub(/\{.*/, "", n); if (n != cur) {print "stray: " $0; bad=1}}
     END{for (k in t) if (t[k] > 1) {print "twice: " k; bad=1}; exit bad}' "$prom" ||
	mm_fail "malformed metrics"
ls "$MM_T"/a.prom.*.tmp 2>/dev/null && mm_fail "a temporary file was left"

mm_cluster_stop
mm_finish
