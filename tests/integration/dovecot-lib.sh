# SPDX-License-Identifier: MIT
# dovecot-lib.sh - a private Dovecot instance for the tests (source after
# lib.sh): its own config, run and state dirs, a passwd-file user, IMAP on
# a loopback port or none, and a stop registered for the exit trap.

MM_LDA=/usr/lib/dovecot/dovecot-lda

# mm_dovecot_require: skips (fails under CI) without Dovecot and its user.
mm_dovecot_require() {
	local c
	for c in dovecot doveadm python3 xxh128sum; do
		command -v $c >/dev/null || mm_skip "$c missing"
	done
	[ -x $MM_LDA ] || mm_skip "$MM_LDA missing (apt-get install dovecot-core)"
	VUSER=mail
	VUID=$(id -u $VUSER 2>/dev/null) || mm_skip "no '$VUSER' user"
	VGID=$(id -g $VUSER)
}

# mm_dovecot_start DIR MAIL_LOCATION [IMAP_PORT]: writes DIR/dovecot.conf
# for user alice@example.org (uid $VUID) and starts the master. Without a
# port it serves no protocol (doveadm and the LDA only).
mm_dovecot_start() {
	local d=$1 loc=$2 port=${3:-}
	mkdir -p "$d/home/alice"
	chown "$VUID:$VGID" "$d/home/alice"
	# auth reads the passwd-file as the dovecot user
	echo "alice@example.org:{PLAIN}secret:$VUID:$VGID::$d/home/alice::" >"$d/users"
	chmod 644 "$d/users"
	cat >"$d/dovecot.conf" <<CONF
base_dir = $d/run
state_dir = $d/state
instance_name = mmtest-$$-${d##*/}
log_path = $d/dovecot.log
protocols = ${port:+imap}
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain
first_valid_uid = $VUID
mail_location = $loc
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u $d/users
}
userdb {
  driver = passwd-file
  args = username_format=%u $d/users
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = ${port:-0}
  }
  inet_listener imaps {
    port = 0
  }
}
protocol imap {
  mail_max_userip_connections = 50
}
CONF
	dovecot -c "$d/dovecot.conf" || mm_fail "dovecot ($d) did not start"
	mm_on_exit "mm_dovecot_stop $d"
	mm_wait_for 10 test -s "$d/run/master.pid" || mm_fail "no dovecot master.pid in $d"
}

mm_dovecot_stop() {
	local d=$1 pid pids
	[ -s "$d/run/master.pid" ] || return 0
	pid=$(cat "$d/run/master.pid")
	pids=$(mm_proc_tree "$pid")
	doveadm -c "$d/dovecot.conf" stop >/dev/null 2>&1 || kill "$pid" 2>/dev/null
	mm_reap 15 $pids
	rm -f "$d/run/master.pid"
}
