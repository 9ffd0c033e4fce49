#!/bin/bash
# SPDX-License-Identifier: MIT
# bad-input.sh - what the daemon does with input it must survive: odd and
# over-long Maildir names, direct writes into new/, calls outside any
# account, renames across accounts, a full disk, a missing store or
# unusable state, bad configurations, and a journal damaged in the middle
# or at its tail. Each case checks the call's result and the journal, and
# that the daemon still serves another account afterwards.
. "$(dirname "$0")/lib.sh"

mm_setup batch
mm_mount

A=$MM_MNT/example.org/alice
M=$A/Maildir
SM=$MM_STORE/example.org/alice/Maildir
B=$MM_MNT/example.org/bob
BM=$B/Maildir
C=$MM_MNT/example.net/carol	# the "other account" that must keep working

# account-qualified journal lines from LSN $1
acct_lines() {
	mm_ctl journal --json --from "$1" | jq -r '
		[.account, .op, .folder, (.sub // "-"), (if .name == "" then "-" else .name end)]
		+ (if .new_name then ["->", .new_folder, (.new_sub // "-"), .new_name] else [] end)
		| join(" ")'
}

# seg_tool count|flip-middle|cut-last SEGMENT: counts the records in a
# journal segment (raw: pending and aborted ones too), flips a byte in the
# body of its middle record, or cuts its last record in half; the last two
# print "OFFSET LSN" of the record they damaged.
seg_tool() {
	python3 - "$@" <<'PY'
import struct, sys
cmd, path = sys.argv[1], sys.argv[2]
data = bytearray(open(path, "rb").read())
recs, off = [], 32				# MM_JSEG_HDR_SIZE
while off + 24 <= len(data):			# MM_JOURNAL_HDR_SIZE
    magic, ln = struct.unpack_from("<II", data, off)
    if magic != 0x524A4D4D or ln < 24 or off + ln > len(data):
        break
    recs.append((off, ln, struct.unpack_from("<Q", data, off + 24)[0]))
    off += ln
if cmd == "count":
    print(len(recs))
    sys.exit(0)
if len(recs) < 3:
    sys.exit("seg_tool: only %d records in %s" % (len(recs), path))
if cmd == "flip-middle":
    off, ln, lsn = recs[len(recs) // 2]
    with open(path, "r+b") as f:		# the record's size field
        f.seek(off + 40)
        f.write(bytes([data[off + 40] ^ 0xFF]))
elif cmd == "cut-last":
    off, ln, lsn = recs[-1]
    with open(path, "r+b") as f:
        f.truncate(off + ln // 2)
print(off, lsn)
PY
}
# raw records in all segments
raw_records() {
	local n=0 s
	for s in "$MM_STATE"/journal/*.mmj; do
		[ -e "$s" ] || continue		# no segment yet
		n=$((n + $(seg_tool count "$s")))
	done
	echo $n
}
last_segment() { ls "$MM_STATE"/journal/*.mmj | tail -n 1; }
log_mark() { wc -l <"$MM_T/fs.log"; }
log_since() { tail -n +$(($1 + 1)) "$MM_T/fs.log"; }

## operations outside any account work and make no records
mm_log "outside any account"
R=$(raw_records)
printf 'x\n' >"$MM_MNT/x" && mv "$MM_MNT/x" "$MM_MNT/x2" && ln "$MM_MNT/x2" "$MM_MNT/x3" ||
	mm_fail "file operations at depth 0"
rm "$MM_MNT/x2"
mkdir "$MM_MNT/example.org" || mm_fail "mkdir at depth 0"
printf 'y\n' >"$MM_MNT/example.org/y" && mv "$MM_MNT/example.org/y" "$MM_MNT/example.org/y2" ||
	mm_fail "file operations at depth 1"
mkdir "$A" && rmdir "$A" && mkdir "$A" || mm_fail "mkdir and rmdir of the account directory itself"
mkdir "$MM_MNT/new" && printf 'z\n' >"$MM_MNT/new/1700000000.M1P1.x" ||
	mm_fail "Maildir-like names outside any account"
mm_assert_eq "$(cat "$MM_STORE/x3") $(cat "$MM_STORE/example.org/y2")" "x y" "files outside accounts in the store"
[ -d "$MM_STORE/example.org/alice" ] || mm_fail "the account directory is not in the store"
mm_assert_eq "$(raw_records)" "$R" "records for operations outside any account"
mm_check_serving "$C"

## malformed Maildir names in new/ are files, delivered under their exact name
mm_log "malformed Maildir names"
mm_maildir "$M"
NON_UTF8=$'1700000000.M2P1.host\xff\xfe'
names=(':2,S' '1700000000.M1P1.host name with spaces' "$NON_UTF8"
	'1700000000.M3P1.host:2,Zz9' '1700000000.M4P1.host:1,foo')
i=0
for n in "${names[@]}"; do
	i=$((i + 1))
	L=$(mm_last_lsn)
	body="Subject: odd name $i"
	printf '%s\n' "$body" >"$M/tmp/odd"
	mv "$M/tmp/odd" "$M/new/$n" || mm_fail "delivery to new/$n"
	mm_assert_eq "$(cat "$M/new/$n")" "$body" "content of new/$n through the mount"
	mm_assert_eq "$(cat "$SM/new/$n")" "$body" "content of new/$n in the store"
	out=$(mm_ctl journal --json --from $((L + 1))) ||
		mm_fail "mailmeshctl journal exits non-zero after the delivery of new/$n"
	mm_assert_eq "$(jq -s length <<<"$out")" 1 "records for the delivery of new/$n"
	mm_assert_eq "$(jq -r '[.op, .account, .folder, .sub, .size] | join(" ")' <<<"$out")" \
		"deliver example.org/alice Maildir new $((${#body} + 1))" "record of the delivery of new/$n"
	if [ "$n" != "$NON_UTF8" ]; then
		mm_assert_eq "$(jq -r .name <<<"$out")" "$n" "name in the record of new/$n"
	else
		# JSON cannot hold the raw bytes: the name must be there, escaped;
		# the text output prints it exactly
		mm_assert_eq_later "$(jq -r '.name | type' <<<"$out")" string \
			"the JSON record of a non-UTF-8 name has a name"
		[ -z "$(jq -r '.name // empty' <<<"$out")" ] ||
			mm_assert_eq "$(jq -r '.name | test("^1700000000\\.M2P1\\.host.+$")' <<<"$out")" true \
				"the escaped non-UTF-8 name"
		text=$(mm_ctl journal --from $((L + 1))) || mm_fail "mailmeshctl journal (text) exits non-zero"
		LC_ALL=C grep -aqF -- "Maildir/new/$n size=" <<<"$text" ||
			mm_fail "the text record does not hold the exact non-UTF-8 name: $(printf '%q' "$text")"
	fi
done
mm_ctl journal --json >/dev/null || mm_fail "mailmeshctl journal exits non-zero"
mm_check_serving "$C"

## names over 255 bytes: ENAMETOOLONG, nothing journaled (not even aborted)
mm_log "names over 255 bytes"
LONG=1700000000.M5P1.$(printf 'x%.0s' $(seq 240))	# 256 bytes
LONGER=$LONG$(printf 'y%.0s' $(seq 100)):2,S
printf 'long\n' >"$M/tmp/long"
R=$(raw_records)
mm_assert_eq "$(mm_errno create "$M/new/$LONG")" ENAMETOOLONG "create in new/ with a 256-byte name"
mm_assert_eq "$(mm_errno rename "$M/tmp/long" "$M/new/$LONG")" ENAMETOOLONG \
	"delivery by rename to a 256-byte name"
mm_assert_eq "$(mm_errno link "$M/tmp/long" "$M/new/$LONG")" ENAMETOOLONG \
	"delivery by link to a 256-byte name"
mm_assert_eq "$(mm_errno rename "$M/tmp/long" "$M/cur/$LONGER")" ENAMETOOLONG \
	"delivery to a 362-byte name in cur/"
mm_assert_eq "$(mm_errno mkdir "$M/.$LONG")" ENAMETOOLONG "a folder with a 257-byte name"
rm "$M/tmp/long"
mm_assert_eq "$(raw_records)" "$R" "records after refused over-long names"
mm_check_serving "$C"

## a file written straight into new/: one deliver record at close, final size
mm_log "create-write-close in new/"
L=$(mm_last_lsn)
R=$(raw_records)
DIRECT=1700000000.M6P1.direct
python3 - "$M/new/$DIRECT" <<'PY' || mm_fail "writing new/$DIRECT"
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
os.write(fd, b"Subject: direct\n\n")
for _ in range(10):
    os.write(fd, b"x" * 10000)
os.write(fd, b"\nend\n")
os.close(fd)
PY
out=$(mm_ctl journal --json --from $((L + 1))) || mm_fail "mailmeshctl journal exits non-zero"
mm_assert_eq "$(jq -s length <<<"$out")" 1 "records for a direct write into new/"
mm_assert_eq "$(jq -r '[.op, .folder, .sub, .name, .size] | join(" ")' <<<"$out")" \
	"deliver Maildir new $DIRECT 100022" "record of a direct write into new/"
mm_assert_eq "$(jq -r .hash <<<"$out")" "$(xxh128sum <"$SM/new/$DIRECT" 2>/dev/null | cut -d' ' -f1)" \
	"content hash of a direct write into new/"
mm_assert_eq "$(raw_records)" $((R + 1)) "raw records for a direct write into new/"
mm_check_serving "$C"

## rename across accounts: EXDEV; mv's copy and delete journal in both
mm_log "rename across accounts"
mm_maildir "$BM"
X=1700000000.M7P1.host,S=6:2,S
Y=1700000000.M8P1.host,S=5:2,
printf 'cross\n' >"$M/tmp/c" && mv "$M/tmp/c" "$M/cur/$X"
mm_maildir "$M/.Proj"
printf 'proj\n' >"$M/tmp/p" && mv "$M/tmp/p" "$M/.Proj/cur/$Y"
R=$(raw_records)
mm_assert_eq "$(mm_errno rename "$M/cur/$X" "$BM/cur/$X")" EXDEV "rename of a message into another account"
mm_assert_eq "$(mm_errno rename "$M/.Proj" "$BM/.Proj")" EXDEV "rename of a folder into another account"
mm_assert_eq "$(raw_records)" "$R" "records after refused cross-account renames"
[ -f "$SM/cur/$X" ] && [ -d "$SM/.Proj/cur" ] || mm_fail "a refused rename changed the store"
L=$(mm_last_lsn)
mv "$M/cur/$X" "$BM/cur/$X" || mm_fail "mv of a message across accounts"
mm_assert_eq "$(acct_lines $((L + 1)))" "example.org/bob deliver Maildir cur $X
example.org/alice expunge Maildir cur $X" "records of mv of a message across accounts"
mm_assert_eq "$(cat "$BM/cur/$X")" cross "the moved message"
[ ! -e "$M/cur/$X" ] || mm_fail "the source of mv is still there"
L=$(mm_last_lsn)
mv "$M/.Proj" "$BM/.Proj" || mm_fail "mv of a folder across accounts"
mm_assert_eq "$(acct_lines $((L + 1)) | LC_ALL=C sort)" "example.org/alice expunge Maildir/.Proj cur $Y
example.org/alice folder_delete Maildir/.Proj - -
example.org/bob deliver Maildir/.Proj cur $Y
example.org/bob folder_create Maildir/.Proj - -" "records of mv of a folder across accounts (sorted)"
mm_assert_eq "$(cat "$BM/.Proj/cur/$Y")" proj "the message of the moved folder"
mm_check_serving "$C"

## start-up failures: a missing store, an unusable state directory
mm_log "missing store, unusable state"
# start_fails WHAT CONF [PREFIX...]: mailmesh-fs must exit non-zero within
# 5 s with exactly one log line; leaves it in $out
start_fails() {
	local what=$1 conf=$2 t0 rc ms
	shift 2
	t0=$(date +%s%N)
	out=$(timeout 20 "$@" "$MM_FS" -c "$conf" -f -o allow_other 2>&1) && rc=0 || rc=$?
	ms=$((($(date +%s%N) - t0) / 1000000))
	[ $rc -ne 0 ] || mm_fail "$what: mailmesh-fs exited 0"
	[ $rc -ne 124 ] || mm_fail "$what: mailmesh-fs still ran after 20 s"
	[ $ms -lt 5000 ] || mm_fail "$what: mailmesh-fs took $ms ms to fail"
	mm_assert_eq "$(printf '%s\n' "$out" | wc -l)" 1 "$what: log lines ($out)"
}
for d in mnt2 mnt3 mnt4; do
	mkdir "$MM_T/$d"
	mm_on_exit "fusermount3 -u '$MM_T/$d' 2>/dev/null"
done
mkdir -m 0755 "$MM_T/store3"
node_ini() {	# STORE STATE MOUNT
	printf '[node]\nname = test\nstore = %s\nstate = %s\nmount = %s\n' "$1" "$2" "$3"
}
node_ini "$MM_T/no-such-store" "$MM_T/state2" "$MM_T/mnt2" >"$MM_T/nostore.ini"
start_fails "missing store" "$MM_T/nostore.ini"
case $out in
*"$MM_T/no-such-store"*"No such file or directory"*) ;;
*) mm_fail "missing store: the log line does not name the path and the error: $out" ;;
esac
# a state directory root may not use: mode 0000 and no CAP_DAC_OVERRIDE
mkdir -m 0000 "$MM_T/state3"
node_ini "$MM_T/store3" "$MM_T/state3" "$MM_T/mnt3" >"$MM_T/nostate.ini"
start_fails "unreadable state" "$MM_T/nostate.ini" \
	setpriv --bounding-set=-dac_override,-dac_read_search --inh-caps=-all --
case $out in
*"$MM_T/state3"*"Permission denied"*) ;;
*) mm_fail "unreadable state: the log line does not name the path and the error: $out" ;;
esac
# a state path under a regular file
printf 'not a dir\n' >"$MM_T/afile"
node_ini "$MM_T/store3" "$MM_T/afile/state" "$MM_T/mnt4" >"$MM_T/filestate.ini"
start_fails "state under a file" "$MM_T/filestate.ini"
case $out in
*"$MM_T/afile/state"*"Not a directory"*) ;;
*) mm_fail "state under a file: the log line does not name the path and the error: $out" ;;
esac
for d in mnt2 mnt3 mnt4; do
	! mm_is_mounted "$MM_T/$d" || mm_fail "$MM_T/$d got mounted"
done
mm_check_serving "$C"

## bad configurations: FILE:LINE: for the line at fault
mm_log "bad configurations"
# conf_fails NAME WANT: both programs refuse NAME with a message holding WANT
conf_fails() {
	local conf=$MM_T/$1 want=$2 out rc
	out=$(timeout 20 "$MM_FS" -c "$conf" -f -o allow_other 2>&1) && rc=0 || rc=$?
	[ $rc -ne 0 ] && [ $rc -ne 124 ] || mm_fail "mailmesh-fs -c $1: exit status $rc"
	case $out in
	*"$want"*) ;;
	*) mm_fail "mailmesh-fs -c $1: the message lacks '$want': $out" ;;
	esac
	out=$("$MM_CTL" -c "$conf" journal 2>&1) && rc=0 || rc=$?
	[ $rc -ne 0 ] || mm_fail "mailmeshctl -c $1: exit status 0"
	case $out in
	*"$want"*) ;;
	*) mm_fail "mailmeshctl -c $1: the message lacks '$want': $out" ;;
	esac
}
{ node_ini "$MM_T/store3" "$MM_T/state5" "$MM_T/mnt2"; printf 'bogus = 1\n'; } >"$MM_T/bad-key.ini"
conf_fails bad-key.ini "$MM_T/bad-key.ini:6:"
conf_fails bad-key.ini "unknown key 'bogus'"
{ node_ini "$MM_T/store3" "$MM_T/state5" "$MM_T/mnt2"; printf '\n[journal]\nfsync = sometimes\n'; } \
	>"$MM_T/bad-fsync.ini"
conf_fails bad-fsync.ini "$MM_T/bad-fsync.ini:8:"
conf_fails bad-fsync.ini "sometimes"
printf '[node]\nname = test\nstate = %s\nmount = %s\n' "$MM_T/state5" "$MM_T/mnt2" >"$MM_T/no-store.ini"
conf_fails no-store.ini "missing required key 'store'"
[ ! -e "$MM_T/state5" ] || mm_fail "a refused configuration created its state directory"
mm_check_serving "$C"

## a torn tail: 37 garbage bytes after the last record
mm_log "torn tail (garbage)"
mm_umount
SEG=$(last_segment)
want=$(mm_ctl journal --json | jq -r .lsn) || mm_fail "mailmeshctl journal before the damage"
size0=$(stat -c %s "$SEG")
python3 -c 'import sys; open(sys.argv[1], "ab").write(bytes([0xA5, 0x5A, 0x00, 0xFF] * 9 + [0x42]))' "$SEG"
mm_assert_eq "$(stat -c %s "$SEG")" $((size0 + 37)) "segment size with the garbage"
mark=$(log_mark)
mm_mount
log_since "$mark" | grep -F "${SEG##*/}" | grep "torn tail" | grep -q "truncated" ||
	mm_fail "no 'torn tail ... truncated' for ${SEG##*/} in the log"
mm_assert_eq "$(stat -c %s "$SEG")" "$size0" "segment size after the torn tail was cut"
out=$(mm_ctl journal --json 2>"$MM_T/ctl.err") || mm_fail "mailmeshctl journal exits non-zero after a torn tail"
[ ! -s "$MM_T/ctl.err" ] || mm_fail "mailmeshctl journal reports errors: $(cat "$MM_T/ctl.err")"
mm_assert_eq "$(jq -r .lsn <<<"$out")" "$want" "records after a torn tail"
mm_check_serving "$C"

## a torn tail: the last record cut in half
mm_log "torn tail (half a record)"
mm_umount
SEG=$(last_segment)
all=$(mm_ctl journal --json | jq -r .lsn) || mm_fail "mailmeshctl journal before the damage"
read -r cut_off cut_lsn < <(seg_tool cut-last "$SEG")
want=$(grep -vx "$cut_lsn" <<<"$all")
mark=$(log_mark)
mm_mount
log_since "$mark" | grep -F "${SEG##*/}" | grep "offset $cut_off" | grep "torn tail" | grep -q "truncated" ||
	mm_fail "no 'torn tail ... truncated' at offset $cut_off of ${SEG##*/} in the log"
mm_assert_eq "$(stat -c %s "$SEG")" "$cut_off" "segment size after the half record was cut"
out=$(mm_ctl journal --json 2>"$MM_T/ctl.err") || mm_fail "mailmeshctl journal exits non-zero after a torn tail"
[ ! -s "$MM_T/ctl.err" ] || mm_fail "mailmeshctl journal reports errors: $(cat "$MM_T/ctl.err")"
mm_assert_eq "$(jq -r .lsn <<<"$out")" "$want" "whole records after the half record was cut"
mm_check_serving "$C"

## a corrupt record in the middle: skipped and reported, the rest is served
mm_log "corrupt record in the middle"
mm_umount
SEG=$(last_segment)
all=$(mm_ctl journal --json | jq -r .lsn)
read -r bad_off bad_lsn < <(seg_tool flip-middle "$SEG")
want=$(grep -vx "$bad_lsn" <<<"$all")
mark=$(log_mark)
mm_mount
log_since "$mark" | grep -F "${SEG##*/} offset $bad_off: corrupt record" >/dev/null ||
	mm_fail "the log does not name ${SEG##*/} offset $bad_off as corrupt: $(log_since "$mark")"
out=$(mm_ctl journal --json 2>"$MM_T/ctl.err") && rc=0 || rc=$?
[ $rc -ne 0 ] || mm_fail "mailmeshctl journal exits 0 over a corrupt record"
mm_assert_eq "$(jq -r .lsn <<<"$out")" "$want" "records around the corrupt one (LSN $bad_lsn)"
grep -F "${SEG##*/} offset $bad_off" "$MM_T/ctl.err" | grep -q "corrupt record" ||
	mm_fail "mailmeshctl does not report ${SEG##*/} offset $bad_off: $(cat "$MM_T/ctl.err")"
mm_assert_eq "$(wc -l <"$MM_T/ctl.err")" 1 "mailmeshctl error lines"
mm_check_serving "$C"
mm_assert_eq "$(mm_ctl journal --json 2>/dev/null | jq -s 'map(.lsn) | max')" \
	$(($(tail -n 1 <<<"$want") + 1)) "LSN of the first record after the damage"
mm_umount

## a full disk: store and state on an 8 MiB tmpfs
mm_log "full disk"
SMALL=$MM_T/small
mkdir "$SMALL"
mount -t tmpfs -o size=8m tmpfs "$SMALL" || mm_fail "cannot mount a tmpfs on $SMALL"
mm_on_exit "mm_umount_quiet; umount '$SMALL' 2>/dev/null"
mkdir -m 0755 "$SMALL/store"
mkdir "$SMALL/state"
node_ini "$SMALL/store" "$SMALL/state" "$MM_MNT" >"$MM_T/small.ini"
MM_CONF=$MM_T/small.ini MM_STORE=$SMALL/store MM_STATE=$SMALL/state
SM=$MM_STORE/example.org/alice/Maildir
mm_mount
mkdir -p "$A"
mm_maildir "$M"
mm_check_serving "$C"
# an index cache to delete later, as Dovecot's are (not journaled)
head -c 1M /dev/zero >"$M/dovecot.index.cache" || mm_fail "writing the cache file"
# journal replayed (deliveries and expunges in alice's new/) vs the store
journal_vs_store() {
	local j s
	j=$(mm_ctl journal --json 2>/dev/null | jq -r 'select(.account == "example.org/alice" and
		.folder == "Maildir" and .sub == "new") | [.op, .name] | join(" ")' |
		awk '$1 == "deliver" { m[$2] = 1 } $1 == "expunge" { delete m[$2] }
			END { for (n in m) print n }' | LC_ALL=C sort)
	s=$(ls "$SM/new" | LC_ALL=C sort)
	[ "$j" = "$s" ] && return 0
	mm_log "journal vs store new/:"
	diff -u <(printf '%s\n' "$j") <(printf '%s\n' "$s") | tail -n +3 >&2
	return 1
}
# deliver (tmp/ then rename into new/), smaller and smaller, until the
# rename itself is refused: every failing call must fail ENOSPC
python3 - "$M" >"$MM_T/fill.out" <<'PY' || mm_fail "filling the disk: $(cat "$MM_T/fill.out")"
import errno, os, sys
M = sys.argv[1]
size, i, delivered = 256 * 1024, 0, 0
while True:
    i += 1
    if i > 3000:
        sys.exit("the disk never filled up")
    name = "1700000000.M%dP1.full,S=%d" % (i, size)
    tmp = os.path.join(M, "tmp", name)
    step = "create"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            step = "write"
            data, off = b"x" * size, 0
            while off < size:
                off += os.write(fd, data[off:])
            step = "close"
        finally:
            os.close(fd)
        step = "rename"
        os.rename(tmp, os.path.join(M, "new", name))
        delivered += 1
    except OSError as e:
        print("%s of %s: %s" % (step, name, errno.errorcode.get(e.errno, e.errno)))
        if e.errno != errno.ENOSPC:
            sys.exit("%s of %s failed with %s, not ENOSPC" % (step, name, e))
        os.unlink(tmp)		# as the delivery agent does
        if step == "rename":
            break
        size //= 4
print("delivered", delivered)
PY
grep -q '^rename of .*: ENOSPC$' "$MM_T/fill.out" || mm_fail "no delivery was refused: $(cat "$MM_T/fill.out")"
mm_log "full: $(tr '\n' ';' <"$MM_T/fill.out")"
mm_ctl journal --json >/dev/null 2>"$MM_T/ctl.err" || mm_fail "mailmeshctl journal exits non-zero on a full disk"
[ ! -s "$MM_T/ctl.err" ] || mm_fail "mailmeshctl journal reports errors: $(cat "$MM_T/ctl.err")"
journal_vs_store || mm_fail "on a full disk the journal's deliveries differ from new/"
kill -0 "$MM_FS_PID" || mm_fail "mailmesh-fs died on a full disk"
stat "$C/Maildir/new" >/dev/null || mm_fail "stat in another account on a full disk"
# freeing space: an expunge must work on a full disk (unlink(2) never
# fails ENOSPC; a full mailbox store is emptied by expunging)
victim=$(ls "$M/new" | head -n 1)
mm_assert_eq_later "$(mm_errno unlink "$M/new/$victim")" OK "expunge (unlink) in new/ on a full disk"
# a delivery written straight into new/ fails, and its agent removes it
r=$(mm_errno write "$M/new/1700000000.M9999P1.direct")
if [ "$r" != OK ]; then
	mm_assert_eq "$r" ENOSPC "direct write into new/ on a full disk"
	mm_assert_eq_later "$(mm_errno unlink "$M/new/1700000000.M9999P1.direct")" OK \
		"removing a failed direct delivery in new/ on a full disk"
fi
journal_vs_store ||
	mm_fail_later "on a full disk the journal differs from new/ after the expunge and the failed direct write"
# deleting the cache file frees space: deliveries work again
rm "$M/dovecot.index.cache" || mm_fail "deleting the cache file on a full disk"
L=$(mm_last_lsn)
head -c 65536 /dev/urandom >"$M/tmp/again" || mm_fail "writing after space was freed"
mv "$M/tmp/again" "$M/new/1700000000.M10000P1.again,S=65536" || mm_fail "delivery after space was freed"
mm_assert_eq "$(mm_journal_lines $((L + 1)))" "deliver Maildir new 1700000000.M10000P1.again,S=65536" \
	"record of the delivery after space was freed"
mm_check_serving "$C"
# (a direct delivery left behind on the full disk can be removed now)
[ ! -e "$M/new/1700000000.M9999P1.direct" ] || rm "$M/new/1700000000.M9999P1.direct" ||
	mm_fail "removing the failed direct delivery after space was freed"
mm_ctl journal --json >/dev/null 2>"$MM_T/ctl.err" || mm_fail "mailmeshctl journal exits non-zero"
[ ! -s "$MM_T/ctl.err" ] || mm_fail "mailmeshctl journal reports errors: $(cat "$MM_T/ctl.err")"
journal_vs_store || mm_fail_later "after space was freed the journal differs from new/"
mm_umount
umount "$SMALL" || mm_fail "umount $SMALL"
mm_finish
