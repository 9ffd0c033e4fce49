# SPDX-License-Identifier: MIT
# netns-lib.sh - stores in network namespaces, for fault tests (source after
# lib.sh; it sources cluster.sh for the shared helpers: mm_deliver, mm_tree,
# mm_wait_converged, mm_link...). One namespace per store, named
# mmt<PID><store>, each with a veth into a bridge that lives in a namespace
# of its own (mmt<PID>_br), so the test adds nothing to the root namespace's
# network. Addresses: 10.77.X.(10+i)/24, X from the test's PID.
#
# mailmesh-fs does no networking: it runs in the root namespace, so its
# mount is visible to the test and to Dovecot. mailmesh-replicator and
# mailmesh-hbmon run in the store's namespace (nsenter --net only, never
# `ip netns exec`, which would also give them a private mount namespace) and
# reach mailmesh-fs through the path-based unix sockets in STATE.
#
# Links are cut with nftables inside the namespaces: each namespace has a
# table `inet mmt` whose input chain drops what comes from the addresses in
# its set `cut`. Dropping on input only, on both sides, is a silent link
# (sends succeed, nothing arrives, TCP retransmits), not a refused one.
# Delay and loss go through tests/integration/netproxy.py (no netem here).
#
# Everything is removed by netns_teardown, registered on EXIT: daemons,
# proxies, mounts, nft tables, veths, the bridge, the namespaces.

. "$(dirname "${BASH_SOURCE[0]}")/cluster.sh"

MM_HB=$MM_BUILDDIR/hbmon/mailmesh-hbmon
NETNS_PROXY_PY=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/netproxy.py
NETNS_PREFIX=mmt$$
NETNS_BR=${NETNS_PREFIX}_br
NETNS_NET=10.77.$(( $$ % 250 + 1 ))
NETNS_REPL_PORT=7100
NETNS_HB_PORT=7200
NETNS_NAMES=
NETNS_MADE=
NETNS_TORN=
declare -A NETNS_PID NETNS_IDX NETNS_PROXIES NETNS_PROXY_CTL

# netns_require: skips (fails under CI) without root, ip, nsenter, nft.
netns_require() {
	[ "$(id -u)" = 0 ] || mm_skip "must run as root"
	command -v ip >/dev/null || mm_skip "ip missing (apt-get install iproute2)"
	command -v nsenter >/dev/null || mm_skip "nsenter missing (apt-get install util-linux)"
	command -v nft >/dev/null || mm_skip "nft missing (apt-get install nftables)"
	command -v python3 >/dev/null || mm_skip "python3 missing"
	ip netns add "${NETNS_PREFIX}_probe" 2>/dev/null ||
		mm_skip "cannot create a network namespace"
	# (under set -e a bare failing nft ended the test at once, silently:
	# CI saw that once with another namespace test running beside it)
	local ok=1 err= try
	for try in 1 2 3; do
		if err=$(nsenter --net="/run/netns/${NETNS_PREFIX}_probe" \
			nft add table inet mmt 2>&1); then
			ok=0
			break
		fi
		sleep 0.2	# a retry, not a synchronisation
	done
	ip netns del "${NETNS_PREFIX}_probe"
	[ $ok = 0 ] || mm_skip "nftables does not work in a network namespace: $err"
}

netns_ns() { echo "$NETNS_PREFIX$1"; }
netns_ip() { echo "$NETNS_NET.$(( 10 + NETNS_IDX[$1] ))"; }
# netns_exec NAME CMD...: CMD in NAME's network namespace (and nothing else).
# nsenter execs CMD, so its pid is CMD's; but `netns_exec ... &` forks a
# subshell first: to start a daemon whose pid you keep, call nsenter
# directly (as netns_daemon_start does).
netns_exec() { local n=$1; shift; nsenter --net="/run/netns/$NETNS_PREFIX$n" -- "$@"; }
netns_nft() { local n=$1; shift; netns_exec "$n" nft "$@"; }

# netns_sweep: removes namespaces left by test runs that died by SIGKILL
# (mmt<PID>..., that PID gone, no process left inside). Others are left.
netns_sweep() {
	local ns pid
	for ns in $(ip netns list 2>/dev/null | awk '{ print $1 }'); do
		[[ $ns =~ ^mmt([0-9]+) ]] || continue
		pid=${BASH_REMATCH[1]}
		[ "$pid" != $$ ] || continue
		mm_alive "$pid" && continue
		[ -z "$(ip netns pids "$ns" 2>/dev/null)" ] || continue
		mm_log "removing namespace $ns left by a dead test run"
		ip netns del "$ns" 2>/dev/null || true
	done
}

# netns_create NAME...: the bridge namespace, then per NAME a namespace with
# loopback up, eth0 (a veth into the bridge) at netns_ip NAME, and the nft
# table that netns_cut fills. Registers netns_teardown.
netns_create() {
	local n i=0 ns
	netns_require
	netns_sweep
	mm_on_exit netns_teardown
	NETNS_MADE="$NETNS_BR"
	ip netns add "$NETNS_BR" || mm_fail "ip netns add $NETNS_BR"
	ip -n "$NETNS_BR" link set lo up
	ip -n "$NETNS_BR" link add br0 type bridge || mm_fail "no bridge in $NETNS_BR"
	ip -n "$NETNS_BR" link set br0 up
	for n in "$@"; do
		[[ $n =~ ^[a-z0-9]{1,8}$ ]] || mm_fail "netns_create: bad store name '$n'"
		ns=$NETNS_PREFIX$n
		NETNS_IDX[$n]=$i
		i=$((i + 1))
		ip netns add "$ns" || mm_fail "ip netns add $ns"
		NETNS_MADE="$NETNS_MADE $ns"
		NETNS_NAMES="$NETNS_NAMES $n"
		ip -n "$ns" link set lo up
		ip -n "$NETNS_BR" link add "v$n" type veth peer name eth0 netns "$ns" ||
			mm_fail "veth for $n"
		ip -n "$NETNS_BR" link set "v$n" master br0 up
		ip -n "$ns" addr add "$(netns_ip "$n")/24" dev eth0
		ip -n "$ns" link set eth0 up
		netns_nft "$n" -f - <<NFT || mm_fail "nft table in $ns"
table inet mmt {
	set cut { type ipv4_addr; }
	chain input {
		type filter hook input priority 0; policy accept;
		ip saddr @cut counter drop
	}
}
NFT
	done
	# (no ping here: iputils-ping is not installed; the stores' heartbeats
	# are the first traffic over the bridge and prove it)
}

# netns_cut A B / netns_heal A B: drop everything between A and B, both ways
# (each side drops what comes from the other), / stop dropping it.
netns_cut() {
	netns_nft "$1" add element inet mmt cut "{ $(netns_ip "$2") }" &&
	netns_nft "$2" add element inet mmt cut "{ $(netns_ip "$1") }" ||
		mm_fail "netns_cut $1 $2"
}
netns_heal() {
	local a=$1 b=$2
	netns_nft "$a" delete element inet mmt cut "{ $(netns_ip "$b") }" 2>/dev/null || true
	netns_nft "$b" delete element inet mmt cut "{ $(netns_ip "$a") }" 2>/dev/null || true
	netns_is_cut "$a" "$b" && mm_fail "netns_heal $a $b: still cut"
	return 0
}
# netns_is_cut A B: true when A drops what comes from B.
netns_is_cut() {
	netns_nft "$1" get element inet mmt cut "{ $(netns_ip "$2") }" >/dev/null 2>&1
}
# netns_isolate A / netns_rejoin A: cut A from / heal A with every other store.
netns_isolate() {
	local p
	for p in $NETNS_NAMES; do
		[ "$p" = "$1" ] || netns_cut "$1" "$p"
	done
}
netns_rejoin() {
	local p
	for p in $NETNS_NAMES; do
		[ "$p" = "$1" ] || netns_heal "$1" "$p"
	done
}

# netns_cluster_init NAME...: netns_create, then $MM_T with per NAME a store,
# state and mount, a certificate of one cluster CA, and $MM_T/NAME.ini:
# replicator on IP:7100 and mailmesh-hbmon on IP:7200 of its namespace,
# every other store a [peer] at its namespace address. $MM_NODE_EXTRA (INI
# text) is appended to every file; a section may be reopened there.
netns_cluster_init() {
	local n p
	mm_require_fuse
	[ -x "$MM_REPL" ] || mm_fail "$MM_REPL not built"
	[ -x "$MM_HB" ] || mm_fail "$MM_HB not built"
	MM_T=$(mktemp -d /var/tmp/mmtest.XXXXXX)
	chmod 755 "$MM_T"
	mkdir -p "$MM_T/tls"
	MM_NODES="$*"
	netns_create "$@"
	for n in "$@"; do
		mkdir -p "$MM_T/$n/store" "$MM_T/$n/state" "$MM_T/$n/mnt"
		chmod 755 "$MM_T/$n" "$MM_T/$n/store" "$MM_T/$n/mnt"
		{
			printf '[node]\nname = %s\nstore = %s\nstate = %s\nmount = %s\n' \
				"$n" "$MM_T/$n/store" "$MM_T/$n/state" "$MM_T/$n/mnt"
			printf '[journal]\nfsync = batch\n'
			printf '[replication]\nlisten = %s:%s\n' "$(netns_ip "$n")" $NETNS_REPL_PORT
			printf '[tls]\nca = %s/ca.crt\ncert = %s/%s.crt\nkey = %s/%s.key\n' \
				"$MM_T/tls" "$MM_T/tls" "$n" "$MM_T/tls" "$n"
			printf '[hbmon]\nlisten = %s:%s\n' "$(netns_ip "$n")" $NETNS_HB_PORT
			for p in "$@"; do
				[ "$p" = "$n" ] && continue
				printf '[peer %s]\naddress = %s:%s\nhbmon = %s:%s\n' "$p" \
					"$(netns_ip "$p")" $NETNS_REPL_PORT "$(netns_ip "$p")" $NETNS_HB_PORT
			done
			printf '%s\n' "${MM_NODE_EXTRA:-}"
		} >"$MM_T/$n.ini"
	done
	mm_cluster_certs
}


# MM_NODE_EXTRA for a sync account (RPO zero: one peer acknowledges each
# delivery, or it fails) and an async one: example.org/sync*, async*
NETNS_SYNC_ASYNC="[account example.org/sync*]
mode = sync
sync_acks = 1
sync_timeout = 2000ms
on_timeout = fail
[account example.org/async*]
mode = async"

# on failure: the end of every store's logs
mm_fail_hook() { mm_tail_logs "$MM_NODES" "fs repl hb"; }

# netns_proxy A B udp|tcp: before A's daemons start, sends A's heartbeats
# (udp) or replication (tcp) to B through a netproxy.py in A's namespace,
# listening on its loopback; netns_shape sets its delay and loss, at any
# time. A cut between A and B still cuts it (it sends from A's address).
netns_proxy() {
	local a=$1 b=$2 proto=$3 port key=$1.$2.$3 ctl pid
	[ -z "${NETNS_PROXIES[$key]:-}" ] || return 0
	ctl=$MM_T/proxy-$a-$b.ctl
	NETNS_PROXY_CTL[$a.$b]=$ctl
	if [ "$proto" = udp ]; then
		port=$((7300 + NETNS_IDX[$b]))
		nsenter --net="/run/netns/$NETNS_PREFIX$a" -- python3 "$NETNS_PROXY_PY" "$port" $NETNS_HB_PORT --udp \
			--target "$(netns_ip "$b")" --control "$ctl" --ready "$MM_T/$key.ready" \
			>>"$MM_T/$a/proxy.log" 2>&1 &
		pid=$!
		sed -i "/^\[peer $b\]/,/^\[/ s/^hbmon = .*/hbmon = 127.0.0.1:$port/" "$MM_T/$a.ini"
	elif [ "$proto" = tcp ]; then
		port=$((7400 + NETNS_IDX[$b]))
		nsenter --net="/run/netns/$NETNS_PREFIX$a" -- python3 "$NETNS_PROXY_PY" "$port" $NETNS_REPL_PORT \
			--target "$(netns_ip "$b")" --control "$ctl" --ready "$MM_T/$key.ready" \
			>>"$MM_T/$a/proxy.log" 2>&1 &
		pid=$!
		sed -i "/^\[peer $b\]/,/^\[/ s/^address = .*/address = 127.0.0.1:$port/" "$MM_T/$a.ini"
	else
		mm_fail "netns_proxy: udp or tcp, not '$proto'"
	fi
	NETNS_PROXIES[$key]=$pid
	mm_wait_for 10 test -e "$MM_T/$key.ready" ||
		mm_fail "the $proto proxy $a -> $b did not start: $(tail -n 5 "$MM_T/$a/proxy.log")"
}

# netns_shape A B [DELAY_MS [LOSS_PCT]]: the proxies from A to B hold each
# datagram or chunk DELAY_MS and lose LOSS_PCT percent of them (TCP: a lost
# chunk stalls 200 ms). Without values: no delay, no loss.
netns_shape() {
	local ctl=${NETNS_PROXY_CTL[$1.$2]:-}
	[ -n "$ctl" ] || mm_fail "netns_shape $1 $2: no netns_proxy $1 $2"
	printf 'delay=%s loss=%s\n' "${3:-0}" "${4:-0}" >"$ctl.new"
	mv "$ctl.new" "$ctl"
}

# ---- stores ----

netns_pid() { echo "${NETNS_PID[$1.$2]:-}"; }

# netns_daemon_start NAME fs|repl|hb: mailmesh-fs (root namespace,
# allow_other), mailmesh-replicator or mailmesh-hbmon (NAME's namespace),
# in the foreground, logging to $MM_T/NAME/{fs,repl,hb}.log.
netns_daemon_start() {
	local n=$1 d=$2 pid
	[ -z "$(netns_pid "$n" "$d")" ] || mm_fail "$d of $n is already running"
	case $d in
	fs)
		"$MM_FS" -c "$MM_T/$n.ini" -f -o allow_other >>"$MM_T/$n/fs.log" 2>&1 &
		pid=$!
		NETNS_PID[$n.fs]=$pid
		mm_wait_for 10 mm_is_mounted "$MM_T/$n/mnt" ||
			mm_fail "mailmesh-fs of $n did not mount"
		;;
	repl)
		rm -f "$MM_T/$n/state/replicator.sock"
		nsenter --net="/run/netns/$NETNS_PREFIX$n" -- "$MM_REPL" -c "$MM_T/$n.ini" -f >>"$MM_T/$n/repl.log" 2>&1 &
		pid=$!
		NETNS_PID[$n.repl]=$pid
		mm_wait_for 10 test -S "$MM_T/$n/state/replicator.sock" ||
			mm_fail "the replicator of $n did not start: $(tail -n 5 "$MM_T/$n/repl.log")"
		;;
	hb)
		nsenter --net="/run/netns/$NETNS_PREFIX$n" -- "$MM_HB" -c "$MM_T/$n.ini" -f >>"$MM_T/$n/hb.log" 2>&1 &
		pid=$!
		NETNS_PID[$n.hb]=$pid
		mm_wait_for 10 eval "netns_status $n | jq -e .hbmon.running >/dev/null" ||
			mm_fail "mailmesh-hbmon of $n did not start: $(tail -n 5 "$MM_T/$n/hb.log")"
		;;
	*) mm_fail "netns_daemon_start: fs, repl or hb, not '$d'" ;;
	esac
}

# netns_daemon_stop NAME fs|repl|hb [SIGNAL [quiet]]: TERM by default (it
# must exit 0 by itself within 10 s, unless quiet), or KILL. A stopped
# daemon is continued first. mailmesh-fs is unmounted (after KILL, the dead
# mount is cleared).
netns_daemon_stop() {
	local n=$1 d=$2 sig=${3:-TERM} quiet=${4:-} pid rc=0 st=0
	local -
	set +e
	pid=$(netns_pid "$n" "$d")
	[ -n "$pid" ] || return 0
	kill -CONT "$pid" 2>/dev/null
	if [ "$d" = fs ] && [ "$sig" = TERM ]; then
		fusermount3 -u "$MM_T/$n/mnt" 2>/dev/null || umount -l "$MM_T/$n/mnt" 2>/dev/null
	else
		kill -"$sig" "$pid" 2>/dev/null
	fi
	mm_reap 10 "$pid" || rc=137
	wait "$pid" 2>/dev/null || st=$?
	[ "$rc" != 0 ] || rc=$st
	NETNS_PID[$n.$d]=
	if [ "$d" = fs ] && mm_is_mounted "$MM_T/$n/mnt"; then
		fusermount3 -u "$MM_T/$n/mnt" 2>/dev/null || umount -l "$MM_T/$n/mnt" 2>/dev/null
	fi
	if [ "$sig" = TERM ] && [ -z "$quiet" ] && [ "$rc" != 0 ]; then
		mm_fail "$d of $n exited with status $rc after SIGTERM"
	fi
	return 0
}

# netns_store_start NAME: mailmesh-fs, then the replicator and mailmesh-hbmon.
netns_store_start() {
	netns_daemon_start "$1" fs
	netns_daemon_start "$1" repl
	netns_daemon_start "$1" hb
}

# netns_store_stop NAME [quiet]: SIGTERM to hbmon and the replicator, then
# unmount; each must exit 0 (unless quiet).
netns_store_stop() {
	netns_daemon_stop "$1" hb TERM "${2:-}"
	netns_daemon_stop "$1" repl TERM "${2:-}"
	netns_daemon_stop "$1" fs TERM "${2:-}"
}

# netns_store_kill9 NAME: kill -9 all three at once (the dead mount is then
# cleared, so the next netns_store_start can mount again).
netns_store_kill9() {
	local d pid pids=
	for d in hb repl fs; do
		pid=$(netns_pid "$1" "$d")
		[ -n "$pid" ] && pids="$pids $pid"
	done
	# shellcheck disable=SC2086
	[ -z "$pids" ] || kill -9 $pids 2>/dev/null || true
	for d in hb repl fs; do
		netns_daemon_stop "$1" "$d" KILL
	done
}

# netns_store_freeze NAME [fs|repl|hb...] / netns_store_thaw NAME [...]:
# SIGSTOP / SIGCONT the daemons given, all three by default. A frozen
# mailmesh-fs blocks whoever touches its mount until it is thawed.
netns_store_freeze() { netns_signal STOP "$@"; }
netns_store_thaw() { netns_signal CONT "$@"; }
netns_signal() {
	local sig=$1 n=$2 d pid; shift 2
	[ $# -gt 0 ] || set -- hb repl fs
	for d in "$@"; do
		pid=$(netns_pid "$n" "$d")
		[ -n "$pid" ] || mm_fail "netns_signal $sig: $d of $n is not running"
		kill -"$sig" "$pid" || mm_fail "kill -$sig $d of $n"
	done
}

# netns_cluster_up NAME...: netns_cluster_init and every store started.
netns_cluster_up() {
	local n
	netns_cluster_init "$@"
	for n in "$@"; do
		netns_store_start "$n"
	done
}

# netns_cluster_stop: every store stopped (each daemon must exit 0).
netns_cluster_stop() {
	local n
	for n in $MM_NODES; do
		netns_store_stop "$n"
	done
}

# ---- member states ----

netns_status() { "$MM_CTL" -c "$MM_T/$1.ini" status --json 2>/dev/null; }
# netns_state VIEWER MEMBER: MEMBER's state in VIEWER's hbmon (or empty).
netns_state() {
	netns_status "$1" | jq -r --arg m "$2" '.members[] | select(.name == $m) | .state'
}
# netns_member VIEWER MEMBER [JQ]: MEMBER's object in VIEWER's status.
netns_member() {
	netns_status "$1" | jq -c -r --arg m "$2" ".members[] | select(.name == \$m) | ${3:-.}"
}

# netns_wait_states DEADLINE_S VIEWER:MEMBER:STATE...: polls every
# VIEWER's status until each MEMBER has its STATE there (all at the same
# time), or fails the test naming what is still missing. The ms from
# $NETNS_T0 (set by netns_mark) to each condition's first sighting land in
# NETNS_SEEN[VIEWER:MEMBER:STATE], and the last one in NETNS_ALL_MS. A
# sighting is timed when the status was asked for; one round (a status and
# a jq per viewer) takes some 30 ms per viewer, the figures' resolution.
declare -A NETNS_SEEN
NETNS_T0=0
netns_now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
netns_mark() { NETNS_T0=$(netns_now_ms); }
netns_wait_states() {
	local deadline=$1 c v m m2 s now left end; shift
	local -A have at
	end=$(( $(netns_now_ms) + deadline * 1000 ))
	for c in "$@"; do unset "NETNS_SEEN[$c]"; done
	while :; do
		have=() at=()
		left=
		for c in "$@"; do
			IFS=: read -r v m s <<<"$c"
			if [ -z "${at[$v]:-}" ]; then
				at[$v]=$(netns_now_ms)
				# one "viewer:member:state" line per member
				while read -r m2; do
					have[$m2]=1
				done < <(netns_status "$v" | jq -r --arg v "$v" \
					'.members[]? | "\($v):\(.name):\(.state)"' 2>/dev/null)
			fi
			if [ -n "${have[$c]:-}" ]; then
				[ -n "${NETNS_SEEN[$c]:-}" ] || NETNS_SEEN[$c]=$(( at[$v] - NETNS_T0 ))
			else
				left="$left $c"
			fi
		done
		now=$(netns_now_ms)
		if [ -z "$left" ]; then
			NETNS_ALL_MS=0
			for c in "$@"; do
				[ "${NETNS_SEEN[$c]}" -le "$NETNS_ALL_MS" ] || NETNS_ALL_MS=${NETNS_SEEN[$c]}
			done
			return 0
		fi
		if [ "$now" -ge "$end" ]; then
			for c in $left; do
				IFS=: read -r v m s <<<"$c"
				mm_log "$v sees $m: $(netns_member "$v" "$m" '[.state, .reason] | join(": ")')"
			done
			mm_fail "within $deadline s, not reached:$left"
		fi
		sleep 0.02
	done
}

# netns_all_pairs STATE [NAME...]: VIEWER:MEMBER:STATE for every pair of
# the stores given (all by default), for netns_wait_states.
netns_all_pairs() {
	local s=$1 v m; shift
	[ $# -gt 0 ] || set -- $MM_NODES
	for v in "$@"; do
		for m in "$@"; do
			printf '%s:%s:%s\n' "$v" "$m" "$s"
		done
	done
}

# ---- teardown ----

# netns_teardown: stops every daemon and proxy, unmounts, deletes the nft
# tables, the namespaces (and with them the veths) and the bridge. Safe to
# run twice, and at any point of a failed set-up.
netns_teardown() {
	local n d key ns pids
	local -
	set +e
	[ -z "$NETNS_TORN" ] || return 0
	NETNS_TORN=1
	for n in $NETNS_NAMES; do
		for d in hb repl fs; do
			netns_daemon_stop "$n" "$d" TERM quiet
		done
	done
	for key in "${!NETNS_PROXIES[@]}"; do
		kill "${NETNS_PROXIES[$key]}" 2>/dev/null
		mm_reap 5 "${NETNS_PROXIES[$key]}"
		wait "${NETNS_PROXIES[$key]}" 2>/dev/null
	done
	NETNS_PROXIES=()
	for ns in $NETNS_MADE; do
		[ -e "/run/netns/$ns" ] || continue
		pids=$(ip netns pids "$ns" 2>/dev/null)
		if [ -n "$pids" ]; then
			mm_log "killing what is left in $ns: $pids"
			# shellcheck disable=SC2086
			kill -9 $pids 2>/dev/null
			# shellcheck disable=SC2086
			mm_reap 5 $pids
		fi
		nsenter --net="/run/netns/$ns" nft delete table inet mmt 2>/dev/null
		ip netns del "$ns" || mm_log "ip netns del $ns failed"
	done
	# mounts under $MM_T that a dead daemon left
	if [ -n "${MM_T:-}" ]; then
		for n in $NETNS_NAMES; do
			mm_is_mounted "$MM_T/$n/mnt" && { fusermount3 -u "$MM_T/$n/mnt" 2>/dev/null ||
				umount -l "$MM_T/$n/mnt"; }
		done
	fi
	return 0
}

# netns_leftovers PREFIX [DIR]: prints what a run left behind: namespaces
# named PREFIX*, FUSE mounts under DIR, processes whose command line names
# DIR. Empty output: nothing left.
netns_leftovers() {
	local prefix=$1 dir=${2:-} p
	ip netns list 2>/dev/null | awk -v p="$prefix" 'index($1, p) == 1 { print "namespace " $1 }'
	[ -n "$dir" ] || return 0
	awk -v d="$dir/" '$3 ~ /^fuse/ && index($2, d) == 1 { print "mount " $2 }' /proc/mounts
	for p in $(pgrep -f -- "$dir/" 2>/dev/null); do
		[ "$p" != $$ ] && [ "$p" != "$BASHPID" ] && mm_alive "$p" &&
			echo "process $p $(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null)"
	done
	return 0
}
