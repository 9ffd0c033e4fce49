#!/bin/bash
# SPDX-License-Identifier: MIT
# postfix.sh - a private Postfix instance delivering with virtual(8) into
# the mount: each message received over SMTP is one journaled delivery in
# new/ with the file's size, and the journal replays to what the mount holds.
. "$(dirname "$0")/lib.sh"

N=20
for c in postfix postconf python3 xxh128sum; do
	command -v $c >/dev/null || mm_skip "$c missing"
done
[ -x /usr/lib/postfix/sbin/virtual ] || mm_skip "Postfix virtual(8) missing (apt-get install postfix)"
id postfix >/dev/null 2>&1 || mm_skip "no postfix user"
getent group postdrop >/dev/null || mm_skip "no postdrop group"
VUSER=mail
VUID=$(id -u $VUSER 2>/dev/null) || mm_skip "no '$VUSER' user"
VGID=$(id -g $VUSER)

mm_setup batch
mm_mount

P=$MM_T/postfix
C=$P/etc
PORT=$(mm_free_port)
A=$MM_MNT/example.org/alice
mkdir -p "$C" "$P/queue" "$P/data"
chown postfix: "$P/data"
# virtual(8) creates the Maildir as the mapped uid
mkdir -p "$A"
chown "$VUID:$VGID" "$A"
echo "alice@example.org example.org/alice/" >"$C/vmailbox"
if [ -f /etc/postfix/master.cf ]; then
	cp /etc/postfix/master.cf "$C/master.cf"
else
	cp /usr/share/postfix/master.cf.dist "$C/master.cf" 2>/dev/null ||
		mm_skip "no master.cf to start from"
fi
cat >"$C/main.cf" <<CF
compatibility_level = 3.6
queue_directory = $P/queue
data_directory = $P/data
command_directory = /usr/sbin
daemon_directory = /usr/lib/postfix/sbin
meta_directory = /etc/postfix
shlib_directory = /usr/lib/postfix
mail_owner = postfix
setgid_group = postdrop
syslog_name = postfix-mmtest
maillog_file = $P/maillog
maillog_file_prefixes = $P
myhostname = mmtest.example.net
mydomain = example.net
myorigin = \$myhostname
inet_interfaces = loopback-only
inet_protocols = ipv4
mydestination =
mynetworks = 127.0.0.0/8
relayhost =
alias_maps =
alias_database =
local_recipient_maps =
local_transport = error:local delivery is disabled
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
smtpd_banner = \$myhostname ESMTP mmtest
biff = no
virtual_mailbox_domains = example.org
virtual_mailbox_base = $MM_MNT
virtual_mailbox_maps = texthash:$C/vmailbox
virtual_uid_maps = static:$VUID
virtual_gid_maps = static:$VGID
virtual_minimum_uid = $VUID
CF
pc() { postconf -c "$C" "$@"; }
# No chroot: the private queue has no copies of /etc files; the only
# listener is smtpd on 127.0.0.1:PORT.
pc -F '*/*/chroot = n'
pc -MX smtp/inet
pc -M "127.0.0.1:$PORT/inet = 127.0.0.1:$PORT inet n - n - - smtpd"
# maillog_file needs the postlogd service
[ -n "$(pc -M postlog/unix-dgram)" ] ||
	pc -M "postlog/unix-dgram = postlog unix-dgram n - n - 1 postlogd"

pf_stop() {
	local pid pids
	[ -s "$P/queue/pid/master.pid" ] || return 0
	pid=$(tr -d ' ' <"$P/queue/pid/master.pid")
	mm_alive "$pid" || return 0
	pids=$(mm_proc_tree "$pid")
	postfix -c "$C" stop >/dev/null 2>&1 || kill "$pid" 2>/dev/null
	mm_reap 15 $pids
}

# check creates the queue's subdirectories with their owners
postfix -c "$C" check >"$P/check.out" 2>&1 || { cat "$P/check.out" >&2; mm_fail "postfix check"; }
mm_on_exit pf_stop
postfix -c "$C" start >"$P/start.out" 2>&1 || { cat "$P/start.out" "$P/maillog" >&2; mm_fail "postfix start"; }
mm_wait_for 10 python3 -c "import smtplib; smtplib.SMTP('127.0.0.1', $PORT, timeout=2).quit()" ||
	mm_fail "smtpd not answering on 127.0.0.1:$PORT"

python3 - "$PORT" "$N" <<'PY' || mm_fail "SMTP submission failed"
import smtplib, sys
port, n = int(sys.argv[1]), int(sys.argv[2])
s = smtplib.SMTP("127.0.0.1", port, timeout=30)
for i in range(n):
	body = "x" * (100 * i)
	msg = ("From: bob@example.net\r\nTo: alice@example.org\r\nSubject: smtp %d\r\n"
	       "Message-ID: <smtp%d@example.net>\r\n\r\n%s\r\n" % (i, i, body))
	s.sendmail("bob@example.net", ["alice@example.org"], msg)
s.quit()
PY

count_new() { find "$A/new" -type f 2>/dev/null | wc -l; }
all_new() { [ "$(count_new)" -ge $N ]; }
mm_wait_for 60 all_new ||
	mm_fail "$(count_new) of $N messages in new/ after 60 s; $(tail -n 5 "$P/maillog")"
mm_assert_eq "$(count_new)" $N "messages in new/"

# the account's root is the Maildir: its folder is ""
want=$(echo 'folder_create folder="" sub=-'; yes 'deliver folder="" sub=new' | head -n $N)
mm_assert_eq "$(mm_ctl journal --json | jq -r '"\(.op) folder=\(.folder | tojson) sub=\(.sub // "-")"')" \
	"$want" "journal: the Maildir and $N deliveries in new/"
mm_assert_eq "$(mm_ctl journal --json | jq -r .account | sort -u)" example.org/alice "account"
mm_assert_eq "$(mm_ctl journal --json | jq -r 'select(.op == "deliver") | .folder' | sort -u)" "" "folder"
while IFS=$'\t' read -r n size hash; do
	f=$A/new/$n
	[ -f "$f" ] || mm_fail "journaled $n is not in new/"
	mm_assert_eq "$size" "$(stat -c %s "$f")" "deliver size of $n"
	mm_assert_eq "$hash" "$(xxh128sum <"$f" | cut -d' ' -f1)" "deliver hash of $n"
	[ "$(stat -c %u "$f")" = "$VUID" ] || mm_fail "$n not owned by uid $VUID"
done < <(mm_ctl journal --json | jq -r 'select(.op == "deliver") | [.name, .size, .hash] | @tsv')
mm_assert_eq "$(grep -c 'status=sent (delivered to maildir)' "$P/maillog")" $N "deliveries in the Postfix log"
# (cleanup(8) compares the mtime of its queue files, on the machine's own
# disk, with time(3) and warns when the VM's clock steps: not about us)
if grep -E 'warning:|error:|fatal:|panic:' "$P/maillog" |
	grep -vE 'cleanup.*warning: (file system clock is [0-9]+ seconds ahead of local clock|resetting file time stamps)' >&2; then
	mm_fail "Postfix logged problems"
fi
pf_stop
mm_check_replay >&2 || mm_fail "the journal does not replay to what the mount holds"
mm_umount
mm_log "ok"
