#!/bin/bash
# SPDX-License-Identifier: MIT
# readonly.sh - mailmeshctl account ACCOUNT readonly|readwrite: writes to a
# read-only account fail with EROFS (even on descriptors opened before the
# switch), reads keep working, other accounts are untouched, and the mode
# survives a restart.
. "$(dirname "$0")/lib.sh"

mm_setup batch
mm_mount
A=$MM_MNT/example.org/alice/Maildir
B=$MM_MNT/example.org/bob/Maildir
mm_maildir "$A"
mm_maildir "$B"
printf 'a\n' >"$A/new/1.a"
printf 'b\n' >"$B/new/1.b"

# an fd opened for writing before the switch
exec 7>>"$A/notes"

out=$(mm_ctl account example.org/alice readonly)
mm_assert_eq "$out" "example.org/alice: readonly" "mailmeshctl output"
L=$(mm_last_lsn)

expect_erofs() {
	local what=$1; shift
	local err
	if err=$("$@" 2>&1); then
		mm_fail "$what succeeded on a read-only account"
	fi
	case $err in
	*"Read-only file system"*) ;;
	*) mm_fail "$what: expected EROFS, got: $err" ;;
	esac
}
expect_erofs "create" touch "$A/tmp/x"
expect_erofs "deliver" mv "$A/new/1.a" "$A/cur/1.a:2,S"
expect_erofs "unlink" rm "$A/new/1.a"
expect_erofs "mkdir" mkdir "$A/.Junk"
expect_erofs "chmod" chmod 600 "$A/new/1.a"
# (not touch(1): it opens the file for writing first)
expect_erofs "utimes" python3 -c "
import os, sys
try:
    os.utime(sys.argv[1], (978307200, 978307200))
except OSError as e:
    sys.exit(e.strerror)" "$A/new/1.a"
# opening an existing file for writing is refused as its modes would
# refuse it (EACCES): Dovecot then falls back to read-only, where it takes
# EROFS for an error (docs/architecture.md, Accounts and modes)
if err=$(sh -c "echo x >>'$A/new/1.a'" 2>&1); then
	mm_fail "open for write succeeded on a read-only account"
fi
case $err in
*"Permission denied"*) ;;
*) mm_fail "open for write: expected EACCES, got: $err" ;;
esac
expect_erofs "link" ln "$A/new/1.a" "$A/cur/2.a"
# (python: the shell's echo reports every write error as "I/O error")
expect_erofs "write on an fd opened before" python3 -c "
import os, sys
try:
    os.write(7, b'late')
except OSError as e:
    sys.exit(e.strerror)"
exec 7>&-

# reads keep working, listing too
mm_assert_eq "$(cat "$A/new/1.a")" "a" "read from a read-only account"
ls "$A/new" >/dev/null || mm_fail "readdir on a read-only account"
# the other account is writable
mv "$B/new/1.b" "$B/cur/1.b:2,S" || mm_fail "bob must stay writable"
mm_expect_journal $((L + 1)) <<'J'
move Maildir new 1.b -> Maildir cur 1.b:2,S
J
mm_ctl status | grep -q "readonly_accounts=1" || mm_fail "status must count 1 read-only account"

# the mode survives a restart
mm_umount
mm_mount
expect_erofs "create after restart" touch "$A/tmp/y"

mm_ctl account example.org/alice readwrite >/dev/null
touch "$A/tmp/z" || mm_fail "create after readwrite"
mv "$A/new/1.a" "$A/cur/1.a:2,S" || mm_fail "rename after readwrite"

# a bad account name is refused, and nothing changes
if mm_ctl account example.org readonly 2>"$MM_T/err"; then
	mm_fail "an account name with the wrong depth must be refused"
fi
grep -q "account_depth is 2" "$MM_T/err" || mm_fail "unclear error: $(cat "$MM_T/err")"
if mm_ctl account ../x readonly 2>/dev/null; then
	mm_fail "'..' in an account name must be refused"
fi

# set while the daemon is down: applied when it starts
mm_umount
mm_ctl account example.org/bob readonly | grep -q "not running" ||
	mm_fail "mailmeshctl must say the daemon is not running"
mm_mount
expect_erofs "create in bob after offline switch" touch "$B/tmp/q"
mm_log "ok"
