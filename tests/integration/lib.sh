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
	if declare -F mm_fail_hook >/dev/null; then
		mm_fail_hook
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
	local fsync=${1:-batch} extra=${2:-${MM_SETUP_EXTRA:-}}
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
# be exactly the lines given (after the sed -E script $MM_JOURNAL_SED, which
# a test may set to replace names it cannot predict).
mm_expect_journal() {
	local from=$1 got want
	got=$(mm_journal_lines "$from" | sed -E "${MM_JOURNAL_SED:-}")
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

# A TCP port on 127.0.0.1 that was free a moment ago.
mm_free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# mm_proc_tree PID: PID and all its descendants, one per line.
mm_proc_tree() {
	local p
	mm_alive "$1" || return 0
	echo "$1"
	for p in $(pgrep -P "$1"); do
		mm_proc_tree "$p"
	done
}

# mm_alive PID: the process exists and is not a zombie (an init that does
# not reap would keep daemons' exited children as zombies).
mm_alive() {
	local st
	st=$(cut -d')' -f2 "/proc/$1/stat" 2>/dev/null) || return 1
	[ "${st:1:1}" != Z ]
}

# mm_none_alive PID...: true when none of the processes is alive.
mm_none_alive() {
	local p
	for p in "$@"; do
		mm_alive "$p" && return 1
	done
	return 0
}

# mm_reap DEADLINE PID...: waits until the processes are gone, then kill -9
# the rest. Returns 1 if any had to be killed.
mm_reap() {
	local deadline=$1 p left rc=0; shift
	[ $# -gt 0 ] || return 0
	mm_wait_for "$deadline" mm_none_alive "$@" && return 0
	for p in "$@"; do
		if mm_alive "$p"; then
			left="$left $p"
			kill -9 "$p" 2>/dev/null
			rc=1
		fi
	done
	[ -z "$left" ] || mm_log "killed leftover processes:$left"
	return $rc
}

# mm_check_replay: replays the whole journal (messages and metadata files)
# and compares the result with what the mount holds: every message under
# <folder>/cur and <folder>/new with the size and mtime of its delivery
# record, and every Dovecot metadata file with the size of its last record.
# Prints the differences; returns 1 if there are any.
mm_check_replay() {
	mm_ctl journal --json | python3 -c "$MM_REPLAY_PY" "$MM_MNT" "${MM_ACCOUNT_DEPTH:-2}"
}

MM_REPLAY_PY='
import json, os, re, sys
mnt, depth = sys.argv[1], int(sys.argv[2])
META = re.compile(r"^(dovecot-uidlist|dovecot-keywords|subscriptions|maildirfolder|dovecot-uidvalidity.*)$")
msgs, meta, errs = {}, {}, []
def under(f, F):
	return f == F or (F != "" and f.startswith(F + "/")) or F == ""
def refolder(f, F, NF):
	return NF + f[len(F):] if F else (NF + "/" + f if f else NF)
for line in sys.stdin:
	r = json.loads(line)
	op, a, f = r["op"], r["account"], r.get("folder", "")
	k = (a, f, r.get("sub"), r.get("name"))
	nk = (a, r.get("new_folder", f), r.get("new_sub"), r.get("new_name"))
	where = "lsn %d %s %s" % (r["lsn"], op, "/".join(x for x in k if x))
	if op == "deliver":
		if k in msgs:
			errs.append(where + ": delivered twice")
		msgs[k] = (r.get("size"), r.get("mtime"))
	elif op in ("move", "flags", "copy"):
		if k not in msgs:
			errs.append(where + ": source not present")
		if nk in msgs:
			errs.append(where + ": target already present")
		msgs[nk] = msgs.get(k)
		if op != "copy":
			msgs.pop(k, None)
	elif op == "expunge":
		if msgs.pop(k, "absent") == "absent":
			errs.append(where + ": expunge of an absent message")
	elif op == "meta":
		mk = (a, f, r["name"])
		if r.get("deleted"):
			if meta.pop(mk, "absent") == "absent":
				errs.append(where + ": removal of an absent metadata file")
		else:
			meta[mk] = (r.get("size"), None)
	elif op in ("folder_rename", "folder_delete"):
		F, NF = f, r.get("new_folder")
		for d in (msgs, meta):
			for key in [x for x in d if x[0] == a and under(x[1], F)]:
				v = d.pop(key)
				if op == "folder_rename":
					d[(a, refolder(key[1], F, NF)) + key[2:]] = v
	elif op != "folder_create":
		errs.append(where + ": unknown op")
have_m, have_meta = {}, {}
for root, dirs, files in os.walk(mnt):
	rel = os.path.relpath(root, mnt)
	parts = [] if rel == "." else rel.split("/")
	if len(parts) < depth:
		continue
	a = "/".join(parts[:depth])
	rest = parts[depth:]
	for n in files:
		st = os.stat(os.path.join(root, n))
		if rest and rest[-1] in ("cur", "new"):
			have_m[(a, "/".join(rest[:-1]), rest[-1], n)] = (st.st_size, st.st_mtime_ns / 1e9)
		elif META.match(n) and not (rest and rest[-1] == "tmp"):
			have_meta[(a, "/".join(rest), n)] = (st.st_size, None)
def cmp(kind, want, have):
	for k in sorted(set(want) - set(have), key=str):
		errs.append("%s in the journal, not on the mount: %s" % (kind, "/".join(x for x in k if x)))
	for k in sorted(set(have) - set(want), key=str):
		errs.append("%s on the mount, not in the journal: %s" % (kind, "/".join(x for x in k if x)))
	for k in sorted(set(want) & set(have), key=str):
		what = "%s %s" % (kind, "/".join(x for x in k if x))
		(ws, wt), (hs, ht) = want[k] or (None, None), have[k]
		if ws is not None and ws != hs:
			errs.append("%s: journal size %s, file size %s" % (what, ws, hs))
		if wt is not None and abs(wt - ht) > 1e-5:
			errs.append("%s: journal mtime %.6f, file mtime %.6f" % (what, wt, ht))
cmp("message", msgs, have_m)
cmp("metadata", meta, have_meta)
for e in errs:
	print("replay: " + e)
print("replay: %d messages, %d metadata files, %d differences" % (len(have_m), len(have_meta), len(errs)))
sys.exit(1 if errs else 0)
'

# ---- helpers for posix-semantics.sh and bad-input.sh ----

# mm_cc NAME: compiles the C source on stdin into $MM_T/NAME.
mm_cc() {
	local name=$1
	cat >"$MM_T/$name.c"
	gcc -O2 -Wall -o "$MM_T/$name" "$MM_T/$name.c" ||
		mm_fail "cannot compile the test helper $name"
}

# mm_errno OP PATH [PATH2]: one system call through python3; prints OK or
# the errno's name (EEXIST, ENAMETOOLONG, EXDEV...). Paths may hold any
# bytes. OPs: create (O_CREAT|O_EXCL), write (O_CREAT, write, close),
# open (read-only), mkdir, rmdir, unlink, rename, link, stat. With
# MM_RUN=mm_as_user it runs as the unprivileged test user.
mm_errno() {
	${MM_RUN:-} python3 - "$@" <<'PY'
import errno, os, sys
op = sys.argv[1]
a = [os.fsencode(x) for x in sys.argv[2:]]
try:
    if op == "create":
        os.close(os.open(a[0], os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
    elif op == "write":
        fd = os.open(a[0], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            os.write(fd, b"data\n")
        finally:
            os.close(fd)
    elif op == "open":
        os.close(os.open(a[0], os.O_RDONLY))
    elif op == "mkdir":
        os.mkdir(a[0], 0o755)
    elif op == "rmdir":
        os.rmdir(a[0])
    elif op == "unlink":
        os.unlink(a[0])
    elif op == "rename":
        os.rename(a[0], a[1])
    elif op == "link":
        os.link(a[0], a[1])
    elif op == "stat":
        os.stat(a[0])
    else:
        sys.exit("mm_errno: unknown op " + op)
    print("OK")
except OSError as e:
    print(errno.errorcode.get(e.errno, str(e.errno)))
PY
}

# mm_test_user: makes sure the unprivileged user mmtestuser exists and sets
# MM_TEST_UID and MM_TEST_GID. It stays after the test.
mm_test_user() {
	id -u mmtestuser >/dev/null 2>&1 ||
		useradd -r -M -d /nonexistent -s /usr/sbin/nologin mmtestuser ||
		mm_fail "useradd mmtestuser failed"
	MM_TEST_UID=$(id -u mmtestuser)
	MM_TEST_GID=$(id -g mmtestuser)
}

# mm_as_user CMD...: runs CMD as mmtestuser (no supplementary groups), with
# a system PATH (root's may point into /root, which the user cannot read).
mm_as_user() {
	setpriv --reuid="$MM_TEST_UID" --regid="$MM_TEST_GID" --clear-groups -- \
		env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "$@"
}

# mm_check_serving ACCOUNT_DIR: the daemon is alive, still mounted, and
# serves another account: a stat and a Maildir delivery (tmp/ -> new/) in
# ACCOUNT_DIR/Maildir work and journal exactly one deliver record.
mm_check_serving() {
	local m=$1/Maildir acct name L rec
	acct=${1#"$MM_MNT"/}
	[ -n "$MM_FS_PID" ] && kill -0 "$MM_FS_PID" 2>/dev/null ||
		mm_fail "mailmesh-fs (pid ${MM_FS_PID:-none}) is not running"
	mm_is_mounted "$MM_MNT" || mm_fail "$MM_MNT is no longer mounted"
	[ -d "$m/new" ] || mm_maildir "$m" || mm_fail "mkdir in $acct failed"
	stat "$m/new" >/dev/null || mm_fail "stat $m/new failed"
	MM_SERVE_N=$((${MM_SERVE_N:-0} + 1))
	name="1700000000.M${MM_SERVE_N}P$$.serving,S=15"
	L=$(mm_last_lsn 2>/dev/null)
	printf 'Subject: check\n' >"$m/tmp/$name" || mm_fail "write in $acct/tmp failed"
	mv "$m/tmp/$name" "$m/new/$name" || mm_fail "delivery into $acct/new failed"
	rec=$(mm_ctl journal --json --from $((L + 1)) 2>/dev/null || true)
	mm_assert_eq "$(jq -r '[.op, .account, .folder, .sub, .name] | join(" ")' <<<"$rec")" \
		"deliver $acct Maildir new $name" "delivery record in $acct"
}

# mm_fail_later MESSAGE: records a failed check and goes on, so that one
# failure hides no later check; mm_finish then fails the test.
MM_LATER=
mm_fail_later() {
	mm_log "FAIL (the test goes on): $*"
	MM_LATER="${MM_LATER}  $*"$'\n'
}
mm_assert_eq_later() {
	[ "$1" = "$2" ] || mm_fail_later "${3:-values differ}: expected '$2', got '$1'"
}
# mm_finish: ends a test that used mm_fail_later.
mm_finish() {
	if [ -n "$MM_LATER" ]; then
		mm_log "FAIL: $(printf '%s' "$MM_LATER" | grep -c .) check(s) failed:"
		printf '%s' "$MM_LATER" >&2
		exit 1
	fi
	mm_log "ok"
}
