# SPDX-License-Identifier: MIT
# lib.sh - shared helpers for the integration tests: a private store, state
# and mount per test, a mailmesh-fs started in the foreground, and a trap
# that always unmounts and stops what the test started.
set -eu

MM_BUILDDIR=${MM_BUILDDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
MM_SRCDIR=${MM_SRCDIR:-$MM_BUILDDIR}
MM_FS=$MM_BUILDDIR/fs/mailmesh-fs
MM_CTL=$MM_BUILDDIR/fs/mailmeshctl
MM_FS_PID=
MM_CLEANUPS=

mm_log() { printf '%s: %s\n' "${0##*/}" "$*" >&2; }
mm_fail() {
	mm_log "FAIL: $*"
	if [ -n "${MM_T:-}" ] && [ -f "$MM_T/fs.log" ]; then
		mm_log "--- mailmesh-fs log (last 30 lines) ---"
		tail -n 30 "$MM_T/fs.log" >&2 || true
	fi
	exit 1
}
# Exit 77 (skip) outside CI, fail inside it [STYLE.md].
mm_skip() {
	if [ "${CI:-}" = true ]; then
		mm_fail "required for CI: $*"
	fi
	mm_log "SKIP: $*"
	exit 77
}

mm_require_fuse() {
	[ "$(id -u)" = 0 ] || mm_skip "must run as root"
	[ -c /dev/fuse ] || mm_skip "no /dev/fuse"
	command -v fusermount3 >/dev/null || mm_skip "fusermount3 missing (apt-get install fuse3)"
	command -v jq >/dev/null || mm_skip "jq missing (apt-get install jq)"
	[ -x "$MM_FS" ] || mm_fail "$MM_FS not built"
}

# Runs "$@" at exit, last registered first.
mm_on_exit() { MM_CLEANUPS="$*;${MM_CLEANUPS}"; }

mm_cleanup() {
	local rc=$?
	set +e
	eval "$MM_CLEANUPS"
	if [ -n "$MM_FS_PID" ]; then
		mm_umount_quiet
	fi
	if [ -n "${MM_T:-}" ] && ! grep -q " $MM_T/" /proc/mounts; then
		rm -rf "$MM_T"
	fi
	exit $rc
}
trap mm_cleanup EXIT
trap 'exit 130' INT TERM

# mm_setup [fsync-mode] [extra INI text]: makes $MM_T with store/state/mnt
# and $MM_CONF. Directories are world-searchable so unprivileged delivery
# agents can reach the mount.
mm_setup() {
	local fsync=${1:-batch} extra=${2:-}
	mm_require_fuse
	MM_T=$(mktemp -d /var/tmp/mmtest.XXXXXX)
	chmod 755 "$MM_T"
	mkdir -p "$MM_T/store" "$MM_T/state" "$MM_T/mnt"
	chmod 755 "$MM_T/store" "$MM_T/mnt"
	MM_STORE=$MM_T/store MM_STATE=$MM_T/state MM_MNT=$MM_T/mnt
	MM_CONF=$MM_T/node.ini
	cat >"$MM_CONF" <<INI
[node]
name = test
store = $MM_STORE
state = $MM_STATE
mount = $MM_MNT
account_depth = 2

[journal]
fsync = $fsync
$extra
INI
}

mm_is_mounted() { grep -q " $1 fuse" /proc/mounts; }

# Polls cmd until it succeeds or the deadline (seconds) passes.
mm_wait_for() {
	local deadline=$1; shift
	local end=$(( $(date +%s%N) + deadline * 1000000000 ))
	while ! "$@" 2>/dev/null; do
		[ "$(date +%s%N)" -lt "$end" ] || return 1
		sleep 0.02
	done
}

# mm_mount [FUSE -o options]: starts mailmesh-fs in the foreground.
mm_mount() {
	local opts=${1:-allow_other}
	"$MM_FS" -c "$MM_CONF" -f -o "$opts" >>"$MM_T/fs.log" 2>&1 &
	MM_FS_PID=$!
	if ! mm_wait_for 10 mm_is_mounted "$MM_MNT"; then
		kill -0 "$MM_FS_PID" 2>/dev/null || MM_FS_PID=
		mm_fail "mailmesh-fs did not mount $MM_MNT within 10 s"
	fi
}

mm_umount_quiet() {
	fusermount3 -u "$MM_MNT" 2>/dev/null || umount -l "$MM_MNT" 2>/dev/null
	if [ -n "$MM_FS_PID" ]; then
		mm_wait_for 10 eval "! kill -0 $MM_FS_PID" || kill -9 "$MM_FS_PID" 2>/dev/null
		wait "$MM_FS_PID" 2>/dev/null
	fi
	MM_FS_PID=
}

# Clean unmount; fails the test if the daemon does not exit by itself.
mm_umount() {
	fusermount3 -u "$MM_MNT" || mm_fail "fusermount3 -u $MM_MNT failed"
	mm_wait_for 10 eval "! kill -0 $MM_FS_PID" || mm_fail "mailmesh-fs did not exit after unmount"
	wait "$MM_FS_PID" || mm_fail "mailmesh-fs exited with status $?"
	MM_FS_PID=
}

# kill -9 the daemon and clear the dead mount.
mm_kill9() {
	kill -9 "$MM_FS_PID"
	wait "$MM_FS_PID" 2>/dev/null || true
	MM_FS_PID=
	fusermount3 -u "$MM_MNT" 2>/dev/null || umount -l "$MM_MNT"
}

mm_ctl() { "$MM_CTL" -c "$MM_CONF" "$@"; }

# The journal as one line per record: "op folder sub name -> new_folder new_sub new_name",
# for exact comparisons.
mm_journal_lines() {
	local from=${1:-1}
	mm_ctl journal --json --from "$from" | jq -r '
		[.op, .folder, (.sub // "-"), (if .name == "" then "-" else .name end)]
		+ (if .new_name or .new_folder then ["->", .new_folder, (.new_sub // "-"),
		   (.new_name // "-")] else [] end) | join(" ")'
}

mm_last_lsn() { mm_ctl journal --json | jq -s 'map(.lsn) | max // 0'; }

# mm_expect_journal FROM_LSN <<EOF ... EOF: the records after FROM_LSN must
# be exactly the lines given.
mm_expect_journal() {
	local from=$1 got want
	got=$(mm_journal_lines "$from")
	want=$(cat)
	if [ "$got" != "$want" ]; then
		mm_log "journal from LSN $from differs:"
		diff -u <(printf '%s\n' "$want") <(printf '%s\n' "$got") >&2 || true
		mm_fail "unexpected journal records"
	fi
}

mm_assert_eq() {
	[ "$1" = "$2" ] || mm_fail "${3:-values differ}: expected '$2', got '$1'"
}

# A Maildir with cur/new/tmp, through the mount.
mm_maildir() { mkdir -p "$1/cur" "$1/new" "$1/tmp"; }
