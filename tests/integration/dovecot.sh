#!/bin/bash
# SPDX-License-Identifier: MIT
# dovecot.sh - a private Dovecot (LDA, doveadm, IMAP) on the mount: the
# exact journal records of each mail operation, a clean Dovecot log, and a
# concurrent IMAP load whose journal replays to what the mount holds.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dovecot-lib.sh"

mm_dovecot_require
mm_setup batch
mm_mount

D=$MM_T/dovecot
CONF=$D/dovecot.conf
MUSER=alice@example.org
A=$MM_MNT/example.org/alice
M=$A/Maildir
PORT=$(mm_free_port)
mkdir -p "$A"
chown "$VUID:$VGID" "$A"
mm_dovecot_start "$D" "maildir:$MM_MNT/%d/%n/Maildir" "$PORT"

da() { doveadm -c "$CONF" "$@"; }
lda() { $MM_LDA -c "$CONF" -d "$MUSER"; }

# Journal lines from LSN $1 with message base names replaced by the labels
# given to them (m1, m2, ...) and uidvalidity marker names by X.
SEDX='s/dovecot-uidvalidity\.[0-9a-f]{8}/dovecot-uidvalidity.X/g'
label() { SEDX="$SEDX;s/$(printf '%s' "$1" | sed 's/[].[\*^$/]/\\&/g')/$2/g"; }
jl() { mm_journal_lines "$1" | sed -E "$SEDX"; }
expect() { MM_JOURNAL_SED=$SEDX mm_expect_journal "$1"; }
json() { mm_ctl journal --json --from "$1"; }

# --- delivery with dovecot-lda --------------------------------------------
L=$(mm_last_lsn)
for i in 1 2 3 4; do
	printf 'From: bob@example.net\nTo: %s\nSubject: message %s\nMessage-ID: <lda%s@example.net>\n\n%s\n' \
		"$MUSER" $i $i "$(head -c $((i * 300)) /dev/zero | tr '\0' x)" | lda ||
		mm_fail "dovecot-lda delivery $i failed"
done
i=0
for n in $(json $((L + 1)) | jq -r 'select(.op == "deliver") | .name'); do
	i=$((i + 1))
	label "$n" m$i
done
# non-metadata records are exact; metadata only for the UID/uidvalidity files
got=$(jl $((L + 1)) | grep -v '^meta ')
mm_assert_eq "$got" "folder_create Maildir - -
deliver Maildir new m1
deliver Maildir new m2
deliver Maildir new m3
deliver Maildir new m4" "records of 4 LDA deliveries"
bad=$(jl $((L + 1)) | grep '^meta ' |
	grep -vE '^meta Maildir - (dovecot-uidlist|dovecot-uidvalidity|dovecot-uidvalidity\.X|maildirfolder)$' || true)
[ -z "$bad" ] || mm_fail "unexpected metadata records: $bad"
# each delivery record carries the file's size and content hash
while IFS=$'\t' read -r n size hash; do
	f=$M/new/$n
	[ -f "$f" ] || mm_fail "delivered $n is not in new/"
	mm_assert_eq "$size" "$(stat -c %s "$f")" "deliver size of $n"
	mm_assert_eq "$hash" "$(xxh128sum <"$f" | cut -d' ' -f1)" "deliver hash of $n"
done < <(json $((L + 1)) | jq -r 'select(.op == "deliver") | [.name, .size, .hash] | @tsv')
mm_assert_eq "$(ls "$M/new" | wc -l)" 4 "messages in new/"
mm_assert_eq "$(json 1 | jq -s '[.[] | select(.op == "meta" and .name == "dovecot-uidlist"
	and .data_len > 0)] | length > 0')" true "dovecot-uidlist journaled with content"

# --- flags: \Seen on everything (Dovecot keeps recent mail in new/) --------
L=$(mm_last_lsn)
da flags add -u "$MUSER" '\Seen' mailbox INBOX all || mm_fail "doveadm flags add"
expect $((L + 1)) <<'J'
flags Maildir new m1 -> Maildir new m1:2,S
flags Maildir new m2 -> Maildir new m2:2,S
flags Maildir new m3 -> Maildir new m3:2,S
flags Maildir new m4 -> Maildir new m4:2,S
J
mm_assert_eq "$(json $((L + 1)) | jq -r .flags | sort -u)" S "flags field"

# a keyword and \Flagged: the keyword file is journaled
L=$(mm_last_lsn)
da flags add -u "$MUSER" '\Flagged $Label1' mailbox INBOX uid 1 || mm_fail "doveadm flags add keyword"
expect $((L + 1)) <<'J'
flags Maildir new m1:2,S -> Maildir new m1:2,FSa
meta Maildir - dovecot-keywords
J

# --- folders: create, copy, move, expunge, rename, delete ---------------------
L=$(mm_last_lsn)
da mailbox create -u "$MUSER" Archive Sent || mm_fail "doveadm mailbox create"
expect $((L + 1)) <<'J'
folder_create Maildir/.Archive - -
meta Maildir/.Archive - maildirfolder
meta Maildir - dovecot-uidvalidity.X
meta Maildir - dovecot-uidvalidity.X
meta Maildir - dovecot-uidvalidity
meta Maildir/.Archive - dovecot-uidlist
meta Maildir/.Archive - dovecot-uidlist
folder_create Maildir/.Sent - -
meta Maildir/.Sent - maildirfolder
meta Maildir - dovecot-uidvalidity.X
meta Maildir - dovecot-uidvalidity.X
meta Maildir - dovecot-uidvalidity
meta Maildir/.Sent - dovecot-uidlist
meta Maildir/.Sent - dovecot-uidlist
J

# Dovecot copies by link() into the destination's tmp/ and renames it into
# cur/: the journal sees a delivery (with the same content hash), not a copy.
L=$(mm_last_lsn)
da copy -u "$MUSER" Archive mailbox INBOX uid 1 || mm_fail "doveadm copy"
expect $((L + 1)) <<'J'
deliver Maildir/.Archive cur m1:2,FSa
meta Maildir/.Archive - dovecot-keywords
meta Maildir/.Archive - dovecot-uidlist
J
h1=$(json 1 | jq -r 'select(.op == "deliver" and .folder == "Maildir") | .hash' | head -n 1)
mm_assert_eq "$(json $((L + 1)) | jq -r 'select(.op == "deliver") | .hash')" "$h1" "copied content hash"

L=$(mm_last_lsn)
da move -u "$MUSER" Sent mailbox INBOX uid 2 || mm_fail "doveadm move"
expect $((L + 1)) <<'J'
deliver Maildir/.Sent cur m2:2,S
expunge Maildir new m2:2,S
meta Maildir - dovecot-uidlist
meta Maildir/.Sent - dovecot-uidlist
J

L=$(mm_last_lsn)
da expunge -u "$MUSER" mailbox INBOX uid 3 || mm_fail "doveadm expunge"
expect $((L + 1)) <<'J'
expunge Maildir new m3:2,S
meta Maildir - dovecot-uidlist
J

L=$(mm_last_lsn)
da mailbox rename -u "$MUSER" Archive Old || mm_fail "doveadm mailbox rename"
expect $((L + 1)) <<'J'
folder_rename Maildir/.Archive - - -> Maildir/.Old - -
J

# delete: Dovecot expunges, then renames to ..DOVECOT-TRASHED and removes it
L=$(mm_last_lsn)
da mailbox delete -u "$MUSER" Old || mm_fail "doveadm mailbox delete"
expect $((L + 1)) <<'J'
expunge Maildir/.Old cur m1:2,FSa
meta Maildir/.Old - dovecot-uidlist
meta Maildir/.Old - dovecot-uidlist
folder_delete Maildir/.Old - -
J
[ ! -e "$M/.Old" ] && [ ! -e "$M/..DOVECOT-TRASHED" ] || mm_fail "deleted mailbox still on the mount"

L=$(mm_last_lsn)
da mailbox subscribe -u "$MUSER" Sent || mm_fail "doveadm mailbox subscribe"
expect $((L + 1)) <<'J'
meta Maildir - subscriptions
J

# UIDs survive: every folder's last dovecot-uidlist record is the file on
# the mount, and the UIDs Dovecot reports are the ones in it
for f in Maildir Maildir/.Sent; do
	want=$(json 1 | jq -rs --arg f "$f" '[.[] | select(.op == "meta" and .folder == $f
		and .name == "dovecot-uidlist")] | last | "\(.data_len) \(.size)"')
	s=$(stat -c %s "$A/$f/dovecot-uidlist")
	mm_assert_eq "$want" "$s $s" "last journaled $f/dovecot-uidlist"
done
mm_assert_eq "$(da -f flow fetch -u "$MUSER" uid mailbox INBOX all | tr '\n' ' ')" "uid=1 uid=4 " "INBOX UIDs"
mm_assert_eq "$(da -f flow fetch -u "$MUSER" uid mailbox Sent all | tr '\n' ' ')" "uid=1 " "Sent UIDs"
uids=$(awk 'NR > 1 { print $1 }' "$M/dovecot-uidlist" | tr '\n' ' ')
mm_assert_eq "$uids" "1 4 " "UIDs in INBOX dovecot-uidlist"

# INTERNALDATE is the file's mtime; S= and W= are the physical and virtual sizes
da -f tab fetch -u "$MUSER" 'guid date.received size.physical size.virtual' mailbox '*' all |
	tail -n +2 >"$D/fetch.tsv"
mm_assert_eq "$(wc -l <"$D/fetch.tsv")" 3 "messages doveadm fetch sees"
while IFS=$'\t' read -r guid date phys virt; do
	f=$(find "$M" -path '*/tmp' -prune -o -type f -name "$guid*" -print)
	[ -n "$f" ] && [ "$(printf '%s\n' "$f" | wc -l)" = 1 ] || mm_fail "no single file for guid $guid: $f"
	mm_assert_eq "$(date -d "@$(stat -c %Y "$f")" '+%Y-%m-%d %H:%M:%S')" "$date" "mtime vs INTERNALDATE of $guid"
	mm_assert_eq "$(stat -c %s "$f")" "$phys" "file size vs size.physical of $guid"
	[[ $f =~ ,S=([0-9]+) ]] && mm_assert_eq "${BASH_REMATCH[1]}" "$phys" "S= of $guid"
	[[ $f =~ ,W=([0-9]+) ]] && mm_assert_eq "${BASH_REMATCH[1]}" "$virt" "W= of $guid"
done <"$D/fetch.tsv"

# IMAP APPEND with a date: the file's mtime and the delivery record's mtime
# are that INTERNALDATE
L=$(mm_last_lsn)
python3 - "$PORT" <<'PY' || mm_fail "IMAP APPEND"
import imaplib, sys
m = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]))
m.login("alice@example.org", "secret")
typ, data = m.append("Sent", "(\\Seen)", '"01-Jan-2020 12:00:00 +0000"',
		     b"From: carol@example.net\r\nSubject: dated\r\n\r\nold mail\r\n")
m.logout()
sys.exit(typ != "OK")
PY
label "$(json $((L + 1)) | jq -r 'select(.op == "deliver") | .name | sub(":2,.*"; "")')" a1
# the IMAP session may rewrite dovecot-uidlist once more when it closes
mm_assert_eq "$(jl $((L + 1)) | uniq)" "deliver Maildir/.Sent cur a1:2,S
meta Maildir/.Sent - dovecot-uidlist" "records of an IMAP APPEND"
rec=$(json $((L + 1)) | jq -c 'select(.op == "deliver")')
mm_assert_eq "$(jq -r '.mtime | floor' <<<"$rec")" 1577880000 "journaled mtime of an APPEND with a date"
mm_assert_eq "$(stat -c %Y "$M/.Sent/cur/$(jq -r .name <<<"$rec")")" 1577880000 "mtime of an APPEND with a date"
mm_assert_eq "$(TZ=UTC da -f flow fetch -u "$MUSER" date.received mailbox Sent uid 2)" \
	"date.received=2020-01-01 12:00:00" "INTERNALDATE of an APPEND with a date"

# --- IMAP load: 10 clients and a delivery loop ---------------------------------
cat >"$D/imapload.py" <<'PY'
import imaplib, random, re, sys, threading, time
port, clients, iters, secs = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
deadline = time.time() + secs
lock = threading.Lock()
stats = {"iterations": 0, "appends": 0, "expunges": 0, "races": 0}
errors = []
MSG = b"From: load@example.net\r\nSubject: appended %d\r\n\r\nbody %d\r\n"

def ok(typ, data, what):
	if typ == "OK":
		return True
	text = b" ".join(d for d in data if isinstance(d, bytes)).decode(errors="replace")
	if typ == "NO" and ("EXPUNGEISSUED" in text or "no longer exist" in text):
		with lock:
			stats["races"] += 1
		return False
	with lock:
		errors.append("%s: %s %s" % (what, typ, text))
	return False

def client(cid):
	rnd = random.Random(cid)
	try:
		m = imaplib.IMAP4("127.0.0.1", port)
		m.login("alice@example.org", "secret")
		for it in range(iters):
			if time.time() > deadline:
				break
			typ, data = m.select("INBOX")
			if not ok(typ, data, "SELECT"):
				continue
			# sequence numbers shift as other sessions expunge: store by UID
			uids = []
			if int(data[0]) > 0:
				typ, data = m.fetch("1:*", "(UID FLAGS RFC822.SIZE BODY.PEEK[])")
				if ok(typ, data, "FETCH"):
					for d in data:
						x = re.match(rb"\d+ \(.*?UID (\d+)", d[0] if isinstance(d, tuple) else d)
						if x:
							uids.append(x.group(1).decode())
			if uids:
				ok(*m.uid("STORE", rnd.choice(uids), "+FLAGS", "(\\Flagged)"), "STORE +FLAGS")
				ok(*m.uid("STORE", rnd.choice(uids), "-FLAGS", "(\\Flagged)"), "STORE -FLAGS")
			if rnd.random() < 0.1:
				if ok(*m.append("INBOX", "(\\Seen)", None, MSG % (cid * 1000 + it, it)), "APPEND"):
					with lock:
						stats["appends"] += 1
			if len(uids) > 20 and rnd.random() < 0.15:
				if ok(*m.uid("STORE", ",".join(rnd.sample(uids, 3)), "+FLAGS", "(\\Deleted)"), "STORE \\Deleted"):
					if ok(*m.expunge(), "EXPUNGE"):
						with lock:
							stats["expunges"] += 1
			ok(*m.noop(), "NOOP")
			with lock:
				stats["iterations"] += 1
		m.logout()
	except Exception as e:
		with lock:
			errors.append("client %d: %r" % (cid, e))

ts = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
for t in ts:
	t.start()
for t in ts:
	t.join()
print("imapload: %s" % stats)
for e in errors[:20]:
	print("imapload error: " + e)
sys.exit(1 if errors or stats["iterations"] == 0 else 0)
PY

# deliveries run next to the clients until told to stop, paced so that the
# mailbox stays small enough for FETCH 1:* on every iteration
lda_loop() {
	local i=0
	while [ ! -e "$D/stop-lda" ] && [ $i -lt 400 ]; do
		i=$((i + 1))
		printf 'From: loop@example.net\nSubject: loop %s\n\nbody %s\n' $i $i | lda ||
			echo "delivery $i failed" >>"$D/lda-errors"
		sleep 0.1
	done
	echo $i >"$D/lda-count"
}
lda_loop &
LDA_PID=$!
mm_on_exit "touch $D/stop-lda; mm_reap 10 $LDA_PID"
t0=$(date +%s)
# in the background so that a signal to the test is handled at once
python3 "$D/imapload.py" "$PORT" 10 200 45 >"$D/imapload.out" 2>&1 &
LOAD_PID=$!
mm_on_exit "kill $LOAD_PID 2>/dev/null; mm_reap 5 $LOAD_PID"
load_rc=0
wait $LOAD_PID || load_rc=$?
touch "$D/stop-lda"
mm_wait_for 20 test -s "$D/lda-count" || mm_fail "delivery loop did not stop"
wait $LDA_PID 2>/dev/null || true
cat "$D/imapload.out" >&2
mm_log "load: $(($(date +%s) - t0)) s, $(cat "$D/lda-count") LDA deliveries"

# --- Dovecot's log: no errors, no crashes, no index corruption -------------------
log_bad=0
grep -E 'Error:|Panic:|Fatal:|killed with signal|SIGBUS|[Cc]orrupt|fscking' "$D/dovecot.log" >&2 && log_bad=1
grep 'Warning:' "$D/dovecot.log" >&2 || true
[ $log_bad = 0 ] || mm_fail "Dovecot logged errors"
[ ! -e "$D/lda-errors" ] || mm_fail "dovecot-lda failed under load: $(head -n 5 "$D/lda-errors")"
[ $load_rc = 0 ] || mm_fail "IMAP clients got errors"

# --- the journal: nothing for tmp/, indexes or locks; replays to the mount ----
bad=$(json 1 | jq -c 'select(.sub == "tmp" or .new_sub == "tmp"
	or ([.name, .new_name] | map(select(. != null)) | any(test(
	"^dovecot\\.index|^dovecot\\.list\\.index|^dovecot\\.mailbox\\.log|\\.lock$|^maildirsize$|DOVECOT-TRASHED"))))' |
	head -n 5)
[ -z "$bad" ] || mm_fail "records for tmp/, index or lock files: $bad"
# every message name's S= is its file size
while read -r f; do
	[[ $f =~ ,S=([0-9]+) ]] || continue
	mm_assert_eq "$(stat -c %s "$f")" "${BASH_REMATCH[1]}" "size of $f"
done < <(find "$MM_MNT" -type f \( -path '*/cur/*' -o -path '*/new/*' \))
mm_dovecot_stop "$D"
mm_check_replay >&2 || mm_fail "the journal does not replay to what the mount holds"
mm_umount
mm_log "ok"
