#!/bin/bash
# SPDX-License-Identifier: MIT
# posix-ops.sh - raw POSIX call sequences on a real mount, each asserting
# the exact journal records it must produce (and none for tmp/ or indexes).
. "$(dirname "$0")/lib.sh"

mm_setup batch
mm_mount

A=$MM_MNT/example.org/alice
M=$A/Maildir
mkdir -p "$A"
mm_maildir "$M"
mm_expect_journal 1 <<'J'
folder_create Maildir - -
J

# deliver: tmp/ -> new/ (the write in tmp/ is not journaled)
L=$(mm_last_lsn)
printf 'Subject: one\n\nbody\n' >"$M/tmp/100.P1.host,S=19"
mv "$M/tmp/100.P1.host,S=19" "$M/new/100.P1.host,S=19"
# move new -> cur, then a flag change
mv "$M/new/100.P1.host,S=19" "$M/cur/100.P1.host,S=19:2,"
mv "$M/cur/100.P1.host,S=19:2," "$M/cur/100.P1.host,S=19:2,S"
mv "$M/cur/100.P1.host,S=19:2,S" "$M/cur/100.P1.host,S=19:2,FSa"
mm_expect_journal $((L + 1)) <<'J'
deliver Maildir new 100.P1.host,S=19
move Maildir new 100.P1.host,S=19 -> Maildir cur 100.P1.host,S=19:2,
flags Maildir cur 100.P1.host,S=19:2, -> Maildir cur 100.P1.host,S=19:2,S
flags Maildir cur 100.P1.host,S=19:2,S -> Maildir cur 100.P1.host,S=19:2,FSa
J
# the delivery record carries size and the content hash
rec=$(mm_ctl journal --json --from $((L + 1)) | head -n 1)
mm_assert_eq "$(jq -r .size <<<"$rec")" 19 "deliver size"
want_hash=$(printf 'Subject: one\n\nbody\n' | xxh128sum | cut -d' ' -f1)
mm_assert_eq "$(jq -r .hash <<<"$rec")" "$want_hash" "deliver hash (XXH3-128)"
mm_assert_eq "$(jq -r '.flags' < <(mm_ctl journal --json --from $((L + 4))))" "FSa" "flags field"

# copy by link into another folder; expunge
L=$(mm_last_lsn)
mm_maildir "$M/.Sent"
ln "$M/cur/100.P1.host,S=19:2,FSa" "$M/.Sent/cur/200.P2.host,S=19:2,S"
rm "$M/cur/100.P1.host,S=19:2,FSa"
mm_expect_journal $((L + 1)) <<'J'
folder_create Maildir/.Sent - -
copy Maildir cur 100.P1.host,S=19:2,FSa -> Maildir/.Sent cur 200.P2.host,S=19:2,S
expunge Maildir cur 100.P1.host,S=19:2,FSa
J

# a rename into another folder is a copy and an expunge
L=$(mm_last_lsn)
mm_maildir "$M/.Archive"
mv "$M/.Sent/cur/200.P2.host,S=19:2,S" "$M/.Archive/cur/200.P2.host,S=19:2,S"
mm_expect_journal $((L + 1)) <<'J'
folder_create Maildir/.Archive - -
copy Maildir/.Sent cur 200.P2.host,S=19:2,S -> Maildir/.Archive cur 200.P2.host,S=19:2,S
expunge Maildir/.Sent cur 200.P2.host,S=19:2,S
J

# direct create-write-close in new/ is a delivery (journaled at close)
L=$(mm_last_lsn)
printf 'x' >"$M/new/300.P3.host"
mm_expect_journal $((L + 1)) <<'J'
deliver Maildir new 300.P3.host
J

# link from tmp/ into new/ (qmail style), then unlink of the tmp name
L=$(mm_last_lsn)
printf 'y' >"$M/tmp/400.P4.host"
ln "$M/tmp/400.P4.host" "$M/new/400.P4.host"
rm "$M/tmp/400.P4.host"
mm_expect_journal $((L + 1)) <<'J'
deliver Maildir new 400.P4.host
J

# metadata: whole-file replacement by rename, in-place rewrite, removal
L=$(mm_last_lsn)
printf '3 V1 N1\n' >"$M/dovecot-uidlist.lock"
mv "$M/dovecot-uidlist.lock" "$M/dovecot-uidlist"
printf '3 V1 N2\n1 100\n' >"$M/dovecot-uidlist"
printf '0 $Junk\n' >"$M/dovecot-keywords"
printf 'Sent\n' >"$M/subscriptions"
rm "$M/dovecot-keywords"
mm_expect_journal $((L + 1)) <<'J'
meta Maildir - dovecot-uidlist
meta Maildir - dovecot-uidlist
meta Maildir - dovecot-keywords
meta Maildir - subscriptions
meta Maildir - dovecot-keywords
J
last=$(mm_ctl journal --json --from $((L + 2)) | head -n 1)
mm_assert_eq "$(jq -r .data_len <<<"$last")" 14 "meta record carries the whole file"
mm_assert_eq "$(mm_ctl journal --json --from $((L + 5)) | jq -r .deleted)" true "meta removal"

# no records for tmp/, indexes, caches and locks
L=$(mm_last_lsn)
for f in dovecot.index dovecot.index.log dovecot.index.cache dovecot.list.index \
	dovecot.list.index.log dovecot.mailbox.log dovecot-uidlist.lock maildirsize; do
	printf 'z' >"$M/$f"
	mv "$M/$f" "$M/$f.2"
	rm "$M/$f.2"
done
printf 'z' >"$M/tmp/scratch"; rm "$M/tmp/scratch"
mm_assert_eq "$(mm_last_lsn)" "$L" "index, lock and tmp files must not be journaled"

# folders: rename and delete (Dovecot's ..DOVECOT-TRASHED rename, and rmdir)
L=$(mm_last_lsn)
mv "$M/.Archive" "$M/.Old"
mv "$M/.Old" "$M/..DOVECOT-TRASHED"
rm -rf "$M/..DOVECOT-TRASHED"
rmdir "$M/.Sent/cur" "$M/.Sent/new" "$M/.Sent/tmp"
rmdir "$M/.Sent"
mm_expect_journal $((L + 1)) <<'J'
folder_rename Maildir/.Archive - - -> Maildir/.Old - -
folder_delete Maildir/.Old - -
folder_delete Maildir/.Sent - -
J

# the content of a delivery stays readable after its message is gone
deliver_lsn=$(mm_ctl journal --json | jq -r 'select(.op == "deliver" and .name == "100.P1.host,S=19") | .lsn')
content=$(ls "$MM_STATE"/content/*/"$(printf '%016x' "$deliver_lsn")")
[ -f "$content" ] || mm_fail "no content kept for LSN $deliver_lsn"
mm_assert_eq "$(xxh128sum "$content" | cut -d' ' -f1)" "$want_hash" "kept content after expunge"

# a change made in the store behind the mount (as the replicator will make
# them) shows through the mount once invalidated, though the kernel had
# the name cached as missing and the directory's attributes cached
ls "$M/new/500.P5.host" 2>/dev/null && mm_fail "500.P5.host must not exist yet"
stat -c %Y "$M/new" >/dev/null
printf 'behind\n' >"$MM_STORE/example.org/alice/Maildir/new/500.P5.host"
mm_ctl invalidate example.org/alice/Maildir/new/500.P5.host
mm_assert_eq "$(cat "$M/new/500.P5.host" 2>&1)" "behind" "invalidated path"
rm "$MM_STORE/example.org/alice/Maildir/new/500.P5.host"
mm_ctl invalidate example.org/alice/Maildir/new/500.P5.host
[ -e "$M/new/500.P5.host" ] && mm_fail "a removed file still shows after invalidation"

# every record names the account
mm_assert_eq "$(mm_ctl journal --json | jq -r .account | sort -u)" "example.org/alice" "account"

# the store holds exactly what the mount shows
diff -r "$MM_STORE" "$MM_MNT" >/dev/null || mm_fail "store and mount differ"
# SIGTERM unmounts cleanly: exit status 0, nothing left mounted
L=$(mm_last_lsn)
kill -TERM "$MM_FS_PID"
wait "$MM_FS_PID" || mm_fail "mailmesh-fs exited with $? on SIGTERM"
MM_FS_PID=
mm_is_mounted "$MM_MNT" && mm_fail "still mounted after SIGTERM"
grep -q "unmounting" "$MM_T/fs.log" || mm_fail "no unmount logged"
# the journal survives and reads the same
mm_assert_eq "$(mm_last_lsn)" "$(mm_ctl journal --json | wc -l)" "LSNs are dense"
mm_log "ok"
