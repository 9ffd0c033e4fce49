#!/bin/bash
# SPDX-License-Identifier: MIT
# demo.sh - the README's main command: installs what is needed, builds,
# starts three stores that replicate to each other on loopback, delivers
# sample mail into one with Dovecot's LDA and doveadm, and shows it on all
# three. "demo.sh stop" ends it.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/deps.sh"
DEMO=${MM_DEMO_DIR:-/var/tmp/mailmesh-demo}
STORES="s1 s2 s3"
CONF=$DEMO/s1.ini
MNT=$DEMO/s1/mail
DCONF=$DEMO/dovecot.conf
B=$top/build
CTL=$B/fs/mailmeshctl

stop() {
	local s
	if [ -f "$DEMO/dovecot-run/master.pid" ]; then
		doveadm -c "$DCONF" stop 2>/dev/null || kill "$(cat "$DEMO/dovecot-run/master.pid")" 2>/dev/null || true
	fi
	pkill -TERM -f "mailmesh-replicator -c $DEMO/" 2>/dev/null || true
	for s in $STORES; do
		if grep -q " $DEMO/$s/mail fuse" /proc/mounts; then
			fusermount3 -u "$DEMO/$s/mail"
			echo "unmounted $DEMO/$s/mail"
		fi
	done
	for _ in $(seq 100); do
		pgrep -f "mailmesh-(fs|replicator) -c $DEMO/" >/dev/null || break
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
	echo "The demo is running already; store s1's replication:"
	"$CTL" -c "$CONF" replication
	echo "Stop it with: bash scripts/demo.sh stop"
	exit 0
fi

mm_install_deps
# a failure half-way leaves nothing mounted or running
trap 'echo "demo failed; cleaning up" >&2; stop' ERR
echo "building in $B ..."
mm_build "$B"
rm -rf "$DEMO"
mkdir -p "$DEMO/tls"
chmod 755 "$DEMO"
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
declare -A PORT
for s in $STORES; do
	mkdir -p "$DEMO/$s/store" "$DEMO/$s/state" "$DEMO/$s/mail"
	chmod 755 "$DEMO/$s" "$DEMO/$s/store"
	PORT[$s]=$(free_port)
done
# three stores on this machine, each replicating to the other two over
# TLS on loopback
for s in $STORES; do
	{
		printf '[node]\nname = %s\nstore = %s\nstate = %s\nmount = %s\naccount_depth = 2\n\n' \
			"$s" "$DEMO/$s/store" "$DEMO/$s/state" "$DEMO/$s/mail"
		printf '[journal]\nfsync = batch\n\n[replication]\nlisten = 127.0.0.1:%s\n\n' "${PORT[$s]}"
		printf '[tls]\nca = %s/tls/ca.crt\ncert = %s/tls/%s.crt\nkey = %s/tls/%s.key\n' \
			"$DEMO" "$DEMO" "$s" "$DEMO" "$s"
		for p in $STORES; do
			[ "$p" = "$s" ] || printf '\n[peer %s]\naddress = 127.0.0.1:%s\n' "$p" "${PORT[$p]}"
		done
	} >"$DEMO/$s.ini"
done
"$CTL" -c "$CONF" certs init >/dev/null
for s in $STORES; do "$CTL" -c "$CONF" certs node "$s" >/dev/null; done
echo "made a cluster CA and certificates for $STORES in $DEMO/tls"
for s in $STORES; do
	"$B/fs/mailmesh-fs" -c "$DEMO/$s.ini" -o allow_other
	for _ in $(seq 200); do
		grep -q " $DEMO/$s/mail fuse" /proc/mounts && break
		sleep 0.05
	done
	grep -q " $DEMO/$s/mail fuse" /proc/mounts || { echo "mailmesh-fs did not mount $DEMO/$s/mail" >&2; exit 1; }
	"$B/replicator/mailmesh-replicator" -c "$DEMO/$s.ini"
	echo "store $s: $DEMO/$s/store mounted on $DEMO/$s/mail, replicator on 127.0.0.1:${PORT[$s]}"
done
echo "(the daemons log to syslog)"

# Dovecot delivers to store s1 as the unprivileged 'mail' user, as a mail
# server would
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
echo "== store s1's journal (mailmeshctl -c $CONF journal)"
"$CTL" -c "$CONF" journal
# what replication reproduces: not tmp/, indexes, caches or locks
tree() {
	(cd "$DEMO/$1/store" && find example.org -path '*/tmp' -prune -o -type f -print |
		grep -vE '(^|/)dovecot\.(index|list\.index|mailbox\.log)|\.lock$' | sort)
}
for _ in $(seq 200); do
	[ "$(tree s1)" = "$(tree s2)" ] && [ "$(tree s1)" = "$(tree s3)" ] && break
	sleep 0.05
done
echo
echo "== replication from s1 (mailmeshctl -c $CONF replication)"
"$CTL" -c "$CONF" replication
echo
for s in $STORES; do
	echo "== mail through store $s's mount ($DEMO/$s/mail)"
	(cd "$DEMO/$s/mail" && find example.org -path '*/new/*' -o -path '*/cur/*' | sort)
done
if [ "$(tree s1)" = "$(tree s2)" ] && [ "$(tree s1)" = "$(tree s3)" ]; then
	echo "s2 and s3 hold the same messages and metadata files as s1 (names, so flags too)"
else
	echo "s2 and s3 have not caught up with s1 within 10 s" >&2
	exit 1
fi
if touch "$DEMO/s2/mail/example.org/alice/Maildir/new/x" 2>/dev/null; then
	echo "a write into s2's replica succeeded" >&2
	exit 1
fi
echo "s2 and s3 hold example.org/alice and example.org/bob read-only (a write there fails)"
trap - ERR
if grep -qE 'Error|Panic|Fatal' "$DEMO/dovecot.log" 2>/dev/null; then
	echo "Dovecot reported errors:"; cat "$DEMO/dovecot.log"; exit 1
fi
cat <<MSG

The three stores keep running under $DEMO. Try:
  $CTL -c $CONF journal --json --follow
  $CTL -c $DEMO/s2.ini replication
  printf 'Subject: hi\n\nhi\n' | /usr/lib/dovecot/dovecot-lda -c $DCONF -d alice@example.org
  ls $DEMO/s3/mail/example.org/alice/Maildir/new
Stop it with: bash scripts/demo.sh stop
MSG
