#!/bin/bash
# SPDX-License-Identifier: MIT
# demo.sh - the README's main command: installs what is needed, builds,
# starts three stores that replicate to each other on loopback, with
# mailmesh-hbmon deciding which store writes each account, delivers sample
# mail with Dovecot's LDA and doveadm into each account's active store,
# shows it on all three, kills one store and shows its accounts failing
# over, and leaves a short status. "demo.sh stop" ends it; --unattended
# never waits for Enter (the test suite runs it so).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/deps.sh"
DEMO=${MM_DEMO_DIR:-/var/tmp/mailmesh-demo}
STORES="s1 s2 s3"
CONF=$DEMO/s1.ini
MNT=$DEMO/s1/mail
DCONF=$DEMO/dovecot.conf
B=$top/build
# the test suite runs the demo with its own build
[ -n "${MM_BUILDDIR:-}" ] && [ -x "$MM_BUILDDIR/fs/mailmesh-fs" ] && B=$MM_BUILDDIR
CTL=$B/fs/mailmeshctl
UNATTENDED=
for a in "$@"; do [ "$a" = --unattended ] && UNATTENDED=1; done
pause() { [ -t 0 ] && [ -z "$UNATTENDED" ] && read -r -p "(Enter to go on) " _ || true; }

stop() {
	local s
	if [ -f "$DEMO/dovecot-run/master.pid" ]; then
		doveadm -c "$DCONF" stop 2>/dev/null || kill "$(cat "$DEMO/dovecot-run/master.pid")" 2>/dev/null || true
	fi
	pkill -TERM -f "mailmesh-(replicator|hbmon) -c $DEMO/" 2>/dev/null || true
	for s in $STORES; do
		if grep -q " $DEMO/$s/mail fuse" /proc/mounts; then
			# a killed store's mount is dead: detach it lazily
			fusermount3 -u "$DEMO/$s/mail" 2>/dev/null || fusermount3 -u -z "$DEMO/$s/mail"
			echo "unmounted $DEMO/$s/mail"
		fi
	done
	for _ in $(seq 100); do
		pgrep -f "mailmesh-(fs|replicator|hbmon) -c $DEMO/" >/dev/null || break
		sleep 0.05
	done
	rm -rf "$DEMO"
	echo "demo removed"
}

if [ "${1:-}" = stop ]; then
	[ -d "$DEMO" ] || { echo "no demo under $DEMO"; exit 0; }
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
if [ "$B" = "$top/build" ]; then
	echo "building in $B ..."
	mm_build "$B"
fi
rm -rf "$DEMO"
mkdir -p "$DEMO/tls"
chmod 755 "$DEMO"
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
declare -A PORT HPORT
for s in $STORES; do
	mkdir -p "$DEMO/$s/store" "$DEMO/$s/state" "$DEMO/$s/mail"
	chmod 755 "$DEMO/$s" "$DEMO/$s/store"
	PORT[$s]=$(free_port)
	HPORT[$s]=$(free_port)
done
# three stores on this machine, each replicating to the other two over
# TLS on loopback
for s in $STORES; do
	{
		printf '[node]\nname = %s\nstore = %s\nstate = %s\nmount = %s\naccount_depth = 2\n\n' \
			"$s" "$DEMO/$s/store" "$DEMO/$s/state" "$DEMO/$s/mail"
		printf '[journal]\nfsync = batch\n\n[replication]\nlisten = 127.0.0.1:%s\n\n' "${PORT[$s]}"
		printf '[hbmon]\nlisten = 127.0.0.1:%s\n\n' "${HPORT[$s]}"
		printf '[account example.org/*]\nmode = sync\nsync_acks = 1\n\n'
		printf '[tls]\nca = %s/tls/ca.crt\ncert = %s/tls/%s.crt\nkey = %s/tls/%s.key\n' \
			"$DEMO" "$DEMO" "$s" "$DEMO" "$s"
		for p in $STORES; do
			[ "$p" = "$s" ] || printf '\n[peer %s]\naddress = 127.0.0.1:%s\nhbmon = 127.0.0.1:%s\n' \
				"$p" "${PORT[$p]}" "${HPORT[$p]}"
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
	"$B/hbmon/mailmesh-hbmon" -c "$DEMO/$s.ini"
	echo "store $s: $DEMO/$s/store mounted on $DEMO/$s/mail, replicator on" \
		"127.0.0.1:${PORT[$s]}, mailmesh-hbmon on 127.0.0.1:${HPORT[$s]} (udp)"
done
echo "(the daemons log to syslog; the mounts are fenced: an account is writable"
echo " only on the store mailmesh-hbmon makes its active one)"
ready() {
	"$CTL" -c "$DEMO/$1.ini" status --json 2>/dev/null |
		jq -e '.hbmon.leases.ready and (.hbmon.leases.in_transition | not)' >/dev/null
}
for _ in $(seq 200); do
	ready s1 && ready s2 && ready s3 && break
	sleep 0.05
done
for s in $STORES; do ready "$s" || { echo "mailmesh-hbmon of $s is not ready after 10 s" >&2; exit 1; }; done
echo "all three stores hear each other and are ready"
pause

# Dovecot delivers as the unprivileged 'mail' user, as a mail server would,
# into each account's active store: a user's home is that store's mount
# (a front end would route the same way: contrib/frontends)
for s in $STORES; do
	mkdir -p "$DEMO/$s/mail/example.org"
	chown mail:mail "$DEMO/$s/mail/example.org"
done
USERS="alice bob"
# active_of ACCOUNT [STORE...]: the active store the first live STORE's
# status names; for an account no store has yet, its placement's first
active_of() {
	local a=$1 s act; shift
	for s in "${@:-s1 s2 s3}"; do
		act=$("$CTL" -c "$DEMO/$s.ini" status --json 2>/dev/null |
			jq -r --arg a "$a" '.accounts[]? | select(.account == $a) | .active // empty')
		[ -n "$act" ] && { echo "$act"; return 0; }
	done
	"$CTL" -c "$DEMO/s1.ini" placement "$a" --json | jq -r '.accounts[0].active'
}
route_users() {	# [LIVE STORES...]: rewrites the userdb, homes on the active stores
	local u act
	: >"$DEMO/users.new"
	for u in $USERS; do
		act=$(active_of "example.org/$u" "$@")
		echo "$u@example.org:{PLAIN}demo:8:8::$DEMO/$act/mail/example.org/$u" >>"$DEMO/users.new"
		echo "  $u@example.org -> store $act"
	done
	mv "$DEMO/users.new" "$DEMO/users"
}
echo "each account's active store (mailmeshctl placement / status):"
route_users
cat >"$DCONF" <<DC
protocols =
listen = 127.0.0.1
base_dir = $DEMO/dovecot-run
log_path = $DEMO/dovecot.log
ssl = no
first_valid_uid = 8
mail_location = maildir:~/Maildir
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
deliver() {	# TO SUBJECT: as an MTA would, retrying a temporary failure (75)
	local to=$1 subject=$2 id=$RANDOM$RANDOM rc
	for _ in $(seq 50); do
		rc=0
		printf 'From: demo@example.net\nTo: %s\nSubject: %s\nDate: %s\nMessage-ID: <%s@demo>\n\n%s\n' \
			"$to" "$subject" "$(date -R)" "$id" "Hello from the mailmesh demo." |
			/usr/lib/dovecot/dovecot-lda -c "$DCONF" -d "$to" || rc=$?
		[ "$rc" = 75 ] || return "$rc"
		sleep 0.2
	done
	return 75
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
A=$(active_of example.org/alice)
echo "== the journal of store $A, alice's active store (mailmeshctl -c $DEMO/$A.ini journal)"
"$CTL" -c "$DEMO/$A.ini" journal
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
echo "== replication from $A (mailmeshctl -c $DEMO/$A.ini replication)"
"$CTL" -c "$DEMO/$A.ini" replication
echo
for s in $STORES; do
	echo "== mail through store $s's mount ($DEMO/$s/mail)"
	(cd "$DEMO/$s/mail" && find example.org -path '*/new/*' -o -path '*/cur/*' | sort)
done
if [ "$(tree s1)" = "$(tree s2)" ] && [ "$(tree s1)" = "$(tree s3)" ]; then
	echo "the three stores hold the same messages and metadata files (names, so flags too)"
else
	echo "the stores have not converged within 10 s" >&2
	exit 1
fi
R=$(tr ' ' '\n' <<<"$STORES" | grep -vx "$A" | head -n 1)
if touch "$DEMO/$R/mail/example.org/alice/Maildir/new/x" 2>/dev/null; then
	echo "a write into alice's replica on $R succeeded" >&2
	exit 1
fi
echo "alice is read-only on $R, a replica (a write there fails with EROFS)"
echo
echo "== status (mailmeshctl -c $DEMO/$R.ini status)"
"$CTL" -c "$DEMO/$R.ini" status | sed -n '/ACCOUNT/,$p'
pause

# ---- a store dies: its accounts fail over ----
echo
echo "== kill -9 store $A (alice's active store): mailmesh-fs, its replicator and mailmesh-hbmon"
pkill -KILL -f "mailmesh-(fs|replicator|hbmon) -c $DEMO/$A.ini" || true
t0=$(date +%s%N)
fusermount3 -u -z "$DEMO/$A/mail" 2>/dev/null || true
LIVE=$(tr ' ' '\n' <<<"$STORES" | grep -vx "$A" | tr '\n' ' ')
NEW=
for _ in $(seq 200); do
	NEW=$(active_of example.org/alice $LIVE)
	[ -n "$NEW" ] && [ "$NEW" != "$A" ] && "$CTL" -c "$DEMO/$NEW.ini" status --json |
		jq -e '.accounts[] | select(.account == "example.org/alice") | .role == "active"' \
		>/dev/null && break
	NEW=
	sleep 0.05
done
[ -n "$NEW" ] || { echo "alice did not fail over within 10 s" >&2; exit 1; }
echo "failover: example.org/alice moved from $A to $NEW in $(( ($(date +%s%N) - t0) / 1000000 )) ms"
echo "the front end follows (here: Dovecot's userdb):"
route_users $LIVE
deliver alice@example.org "Delivered after the failover"
echo "delivered after the failover: a message for alice, through Dovecot's LDA, on $NEW"
echo
echo "== status seen from $NEW (mailmeshctl -c $DEMO/$NEW.ini status)"
"$CTL" -c "$DEMO/$NEW.ini" status
trap - ERR
if grep -qE 'Error|Panic|Fatal' "$DEMO/dovecot.log" 2>/dev/null; then
	echo "Dovecot reported errors:"; cat "$DEMO/dovecot.log"; exit 1
fi
cat <<MSG

Store $A is down; $LIVE keep serving every account under $DEMO. Try:
  $CTL -c $DEMO/$NEW.ini status
  $CTL -c $DEMO/$NEW.ini events
  printf 'Subject: hi\n\nhi\n' | /usr/lib/dovecot/dovecot-lda -c $DCONF -d alice@example.org
  ls $DEMO/$NEW/mail/example.org/alice/Maildir/new
Stop it with: bash scripts/demo.sh stop
MSG
