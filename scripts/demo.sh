#!/bin/bash
# SPDX-License-Identifier: MIT
# demo.sh - the README's main command: installs what is needed, builds,
# mounts a demo store, delivers sample mail into it with Dovecot's LDA,
# works on it with doveadm and shows the journal. "demo.sh stop" ends it.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/deps.sh"
DEMO=${MM_DEMO_DIR:-/var/tmp/mailmesh-demo}
CONF=$DEMO/node.ini
MNT=$DEMO/mail
DCONF=$DEMO/dovecot.conf
B=$top/build

stop() {
	if [ -f "$DEMO/dovecot-run/master.pid" ]; then
		doveadm -c "$DCONF" stop 2>/dev/null || kill "$(cat "$DEMO/dovecot-run/master.pid")" 2>/dev/null || true
	fi
	if grep -q " $MNT fuse" /proc/mounts; then
		fusermount3 -u "$MNT"
		echo "unmounted $MNT"
	fi
	for _ in $(seq 100); do
		pgrep -f "mailmesh-fs -c $CONF" >/dev/null || break
		sleep 0.05
	done
	rm -rf "$DEMO"
	echo "demo removed"
}

if [ "${1:-}" = stop ]; then
	stop
	exit 0
fi
[ "$(id -u)" = 0 ] || { echo "demo.sh: run as root" >&2; exit 1; }
if grep -q " $MNT fuse" /proc/mounts; then
	echo "The demo is running already; its journal:"
	"$B/fs/mailmeshctl" -c "$CONF" journal
	echo "Stop it with: bash scripts/demo.sh stop"
	exit 0
fi

mm_install_deps
# a failure half-way leaves nothing mounted or running
trap 'echo "demo failed; cleaning up" >&2; stop' ERR
echo "building in $B ..."
mm_build "$B"
rm -rf "$DEMO"
mkdir -p "$DEMO/store" "$DEMO/state" "$MNT"
chmod 755 "$DEMO" "$DEMO/store"
cat >"$CONF" <<INI
[node]
name = demo
store = $DEMO/store
state = $DEMO/state
mount = $MNT
account_depth = 2

[journal]
fsync = batch
INI
"$B/fs/mailmesh-fs" -c "$CONF" -o allow_other
for _ in $(seq 200); do
	grep -q " $MNT fuse" /proc/mounts && break
	sleep 0.05
done
grep -q " $MNT fuse" /proc/mounts || { echo "mailmesh-fs did not mount $MNT" >&2; exit 1; }
echo "mounted $DEMO/store on $MNT (mailmesh-fs runs as a daemon, logging to syslog)"

# Dovecot delivers as the unprivileged 'mail' user, as a mail server would
mkdir "$MNT/example.org"
chown mail:mail "$MNT/example.org"
cat >"$DEMO/users" <<U
alice@example.org:{PLAIN}demo:8:8::$MNT/example.org/alice
bob@example.org:{PLAIN}demo:8:8::$MNT/example.org/bob
U
cat >"$DCONF" <<DC
protocols =
listen = 127.0.0.1
base_dir = $DEMO/dovecot-run
log_path = $DEMO/dovecot.log
ssl = no
first_valid_uid = 8
mail_location = maildir:$MNT/%d/%n/Maildir
passdb {
  driver = passwd-file
  args = $DEMO/users
}
userdb {
  driver = passwd-file
  args = $DEMO/users
}
DC
# the LDA asks a running Dovecot's auth service for the user
dovecot -c "$DCONF" </dev/null >/dev/null 2>&1
for _ in $(seq 200); do
	[ -S "$DEMO/dovecot-run/auth-userdb" ] && break
	sleep 0.05
done
deliver() {
	local to=$1 subject=$2
	printf 'From: demo@example.net\nTo: %s\nSubject: %s\nDate: %s\nMessage-ID: <%s@demo>\n\n%s\n' \
		"$to" "$subject" "$(date -R)" "$RANDOM$RANDOM" "Hello from the mailmesh demo." |
		/usr/lib/dovecot/dovecot-lda -c "$DCONF" -d "$to"
}
for i in 1 2 3 4 5; do deliver alice@example.org "Message $i for Alice"; done
for i in 1 2; do deliver bob@example.org "Message $i for Bob"; done
echo "delivered 7 messages with dovecot-lda"
D="doveadm -c $DCONF"
$D flags add -u alice@example.org '\Seen' mailbox INBOX 1:2
$D mailbox create -u alice@example.org Archive
$D move -u alice@example.org Archive mailbox INBOX 1
$D expunge -u bob@example.org mailbox INBOX 1
trap - ERR
echo "doveadm: marked 2 seen, created Archive, moved 1 there, expunged 1 of Bob's"
echo
echo "== the journal (mailmeshctl -c $CONF journal)"
"$B/fs/mailmeshctl" -c "$CONF" journal
echo
echo "== what the mount shows"
(cd "$MNT" && find example.org -path '*/new/*' -o -path '*/cur/*' | sort)
echo
"$B/fs/mailmeshctl" -c "$CONF" status
if grep -qE 'Error|Panic|Fatal' "$DEMO/dovecot.log" 2>/dev/null; then
	echo "Dovecot reported errors:"; cat "$DEMO/dovecot.log"; exit 1
fi
cat <<MSG

The demo store stays mounted on $MNT. Try:
  $B/fs/mailmeshctl -c $CONF journal --json --follow
  $B/fs/mailmeshctl -c $CONF account example.org/bob readonly
Stop it with: bash scripts/demo.sh stop
MSG
