# SPDX-License-Identifier: MIT
# cluster.sh - several stores on one machine for the replication tests
# (source after lib.sh): per node its own store, state, mount, loopback
# port and certificate, one shared CA, and cleanup of everything started.

MM_REPL=$MM_BUILDDIR/replicator/mailmesh-replicator
MM_HB=$MM_BUILDDIR/hbmon/mailmesh-hbmon
MM_NODES=
# MM_CLUSTER_HBMON=1: every node gets [hbmon] listen (a UDP port) and
# every [peer] its hbmon address; MM_CLUSTER_WITNESS=1 adds a witness
# (mm_witness_start) named w, in [hbmon] witness of every node.
MM_CLUSTER_HBMON=${MM_CLUSTER_HBMON:-}
MM_CLUSTER_WITNESS=${MM_CLUSTER_WITNESS:-}

mm_free_udp_port() {
	python3 -c 'import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
mm_node_hbport() { eval "echo \$MM_HBPORT_$1"; }

# mm_cluster_init NAME...: creates $MM_T and the nodes' files. Every node
# lists every other as a peer; the config text in $MM_NODE_EXTRA (if set)
# is appended to each node's file.
mm_cluster_init() {
	local n port
	mm_require_fuse
	[ -x "$MM_REPL" ] || mm_fail "$MM_REPL not built"
	MM_T=$(mktemp -d /var/tmp/mmtest.XXXXXX)
	chmod 755 "$MM_T"
	mkdir -p "$MM_T/tls"
	MM_NODES="$*"
	for n in "$@"; do
		mkdir -p "$MM_T/$n/store" "$MM_T/$n/state" "$MM_T/$n/mnt"
		chmod 755 "$MM_T/$n" "$MM_T/$n/store" "$MM_T/$n/mnt"
		port=$(mm_free_port)
		eval "MM_PORT_$n=$port"
		[ -z "$MM_CLUSTER_HBMON" ] || eval "MM_HBPORT_$n=$(mm_free_udp_port)"
	done
	[ -z "$MM_CLUSTER_WITNESS" ] || MM_HBPORT_w=$(mm_free_udp_port)
	for n in "$@"; do
		{
			printf '[node]\nname = %s\nstore = %s\nstate = %s\nmount = %s\n' \
				"$n" "$MM_T/$n/store" "$MM_T/$n/state" "$MM_T/$n/mnt"
			printf '[journal]\nfsync = batch\n'
			printf '[replication]\nlisten = 127.0.0.1:%s\n' "$(mm_node_port "$n")"
			printf '[tls]\nca = %s/ca.crt\ncert = %s/%s.crt\nkey = %s/%s.key\n' \
				"$MM_T/tls" "$MM_T/tls" "$n" "$MM_T/tls" "$n"
			if [ -n "$MM_CLUSTER_HBMON" ]; then
				printf '[hbmon]\nlisten = 127.0.0.1:%s\n' "$(mm_node_hbport "$n")"
				[ -z "$MM_CLUSTER_WITNESS" ] ||
					printf 'witness = 127.0.0.1:%s\n' "$MM_HBPORT_w"
			fi
			for p in "$@"; do
				[ "$p" = "$n" ] && continue
				printf '[peer %s]\naddress = 127.0.0.1:%s\n' "$p" "$(mm_node_port "$p")"
				[ -z "$MM_CLUSTER_HBMON" ] ||
					printf 'hbmon = 127.0.0.1:%s\n' "$(mm_node_hbport "$p")"
			done
			printf '%s\n' "${MM_NODE_EXTRA:-}"
		} >"$MM_T/$n.ini"
	done
	if [ -n "$MM_CLUSTER_WITNESS" ]; then
		# the witness: no mail, its state dir for the control socket
		mkdir -p "$MM_T/w/store" "$MM_T/w/state"
		{
			printf '[node]\nname = w\nstore = %s\nstate = %s\nmount = %s\n' \
				"$MM_T/w/store" "$MM_T/w/state" "$MM_T/w/mnt"
			printf '[tls]\nca = %s/ca.crt\n' "$MM_T/tls"
			printf '[hbmon]\nlisten = 127.0.0.1:%s\n' "$MM_HBPORT_w"
			for p in "$@"; do
				printf '[peer %s]\naddress = 127.0.0.1:%s\nhbmon = 127.0.0.1:%s\n' \
					"$p" "$(mm_node_port "$p")" "$(mm_node_hbport "$p")"
			done
		} >"$MM_T/w.ini"
	fi
	mm_cluster_certs
}

# mm_cluster_certs: a CA made on the first of $MM_NODES, a certificate for
# each node (the files are shared: $MM_T/tls)
mm_cluster_certs() {
	local n
	set -- $MM_NODES
	mm_node_ctl "$1" certs init >/dev/null || mm_fail "certs init"
	for n in $MM_NODES; do
		mm_node_ctl "$1" certs node "$n" >/dev/null || mm_fail "certs node $n"
	done
}

# mm_tail_logs 'NODES' 'LOGS': the last 15 lines of each $MM_T/NODE/LOG.log
mm_tail_logs() {
	local n f
	for n in $1; do
		for f in $2; do
			[ -s "$MM_T/$n/$f.log" ] || continue
			mm_log "--- $n $f.log (last 15 lines) ---"
			tail -n 15 "$MM_T/$n/$f.log" >&2
		done
	done
}

# on failure: the end of every node's logs
mm_fail_hook() { mm_tail_logs "$MM_NODES ${MM_CLUSTER_WITNESS:+w}" "fs repl hbmon"; }

mm_node_port() { eval "echo \$MM_PORT_$1"; }
mm_node_ctl() { local n=$1; shift; "$MM_CTL" -c "$MM_T/$n.ini" "$@"; }
mm_node_pid() { eval "echo \${MM_PID_$1_$2:-}"; }

# mm_node_fs NAME: mounts the node's store (foreground daemon in the
# background, its log in $MM_T/NAME/fs.log).
mm_node_fs() {
	local n=$1 pid
	"$MM_FS" -c "$MM_T/$n.ini" -f -o allow_other >>"$MM_T/$n/fs.log" 2>&1 &
	pid=$!
	eval "MM_PID_${n}_fs=$pid"
	mm_on_exit "mm_node_stop_fs $n"
	mm_wait_for 10 mm_is_mounted "$MM_T/$n/mnt" ||
		mm_fail "mailmesh-fs of $n did not mount"
}

mm_node_stop_fs() {
	local n=$1 pid
	pid=$(mm_node_pid "$n" fs)
	[ -n "$pid" ] || return 0
	fusermount3 -u "$MM_T/$n/mnt" 2>/dev/null || umount -l "$MM_T/$n/mnt" 2>/dev/null
	mm_reap 10 "$pid" || true
	wait "$pid" 2>/dev/null || true
	eval "MM_PID_${n}_fs="
}

# mm_node_repl NAME: starts the node's replicator (log in NAME/repl.log).
mm_node_repl() {
	local n=$1 pid
	"$MM_REPL" -c "$MM_T/$n.ini" -f >>"$MM_T/$n/repl.log" 2>&1 &
	pid=$!
	eval "MM_PID_${n}_repl=$pid"
	mm_on_exit "mm_node_stop_repl $n TERM quiet"
	mm_wait_for 10 test -S "$MM_T/$n/state/replicator.sock" ||
		mm_fail "the replicator of $n did not start: $(tail -n 5 "$MM_T/$n/repl.log")"
}

# mm_node_stop_repl NAME [SIGNAL [quiet]]: stops it (TERM by default, or
# KILL). After TERM it must exit 0 by itself (under ASan that includes no
# leak), unless "quiet" (the exit trap).
mm_node_stop_repl() {
	local n=$1 sig=${2:-TERM} quiet=${3:-} pid rc=0 st=0
	pid=$(mm_node_pid "$n" repl)
	[ -n "$pid" ] || return 0
	kill -"$sig" "$pid" 2>/dev/null
	mm_reap 10 "$pid" || rc=137
	wait "$pid" 2>/dev/null || st=$?
	[ "$rc" != 0 ] || rc=$st
	eval "MM_PID_${n}_repl="
	rm -f "$MM_T/$n/state/replicator.sock"
	if [ "$sig" = TERM ] && [ -z "$quiet" ] && [ "$rc" != 0 ]; then
		mm_fail "the replicator of $n exited with status $rc after SIGTERM"
	fi
	return 0
}

# mm_node_hbmon NAME: starts the node's mailmesh-hbmon (log in
# NAME/hbmon.log); mm_witness_start the witness w.
mm_node_hbmon() {
	local n=$1 pid
	"$MM_HB" ${2:-} -c "$MM_T/$n.ini" -f >>"$MM_T/$n/hbmon.log" 2>&1 &
	pid=$!
	eval "MM_PID_${n}_hbmon=$pid"
	mm_on_exit "mm_node_stop_hbmon $n KILL"
	mm_wait_for 10 test -S "$MM_T/$n/state/hbmon.sock" ||
		mm_fail "mailmesh-hbmon of $n did not start: $(tail -n 5 "$MM_T/$n/hbmon.log")"
}
mm_witness_start() { mm_node_hbmon w --witness; }

# mm_node_stop_hbmon NAME [SIGNAL]: stops it (after a SIGCONT, should it
# be stopped), TERM by default.
mm_node_stop_hbmon() {
	local n=$1 sig=${2:-TERM} pid
	pid=$(mm_node_pid "$n" hbmon)
	[ -n "$pid" ] || return 0
	kill -CONT "$pid" 2>/dev/null
	kill -"$sig" "$pid" 2>/dev/null
	mm_reap 10 "$pid" || true
	wait "$pid" 2>/dev/null || true
	eval "MM_PID_${n}_hbmon="
	rm -f "$MM_T/$n/state/hbmon.sock"
}

# mm_tree NAME ACCOUNT: one line per file of the account in NAME's store
# that replication must reproduce (not tmp/, not index or cache files):
# path, size, mode, uid, gid, mtime in ns, SHA-256.
mm_tree() {
	python3 - "$MM_T/$1/store/$2" <<'PY'
import hashlib, os, re, stat, sys
root = sys.argv[1]
skip = re.compile(r'(^|/)tmp/|(^|/)dovecot\.(index|list\.index|mailbox\.log)|\.lock$')
out = []
for d, dirs, files in os.walk(root):
    dirs.sort()
    for f in sorted(files):
        p = os.path.join(d, f)
        rel = os.path.relpath(p, root)
        if skip.search(rel):
            continue
        st = os.lstat(p)
        h = hashlib.sha256(open(p, 'rb').read()).hexdigest()
        out.append('%s %d %o %d %d %d %s' % (rel, st.st_size, stat.S_IMODE(st.st_mode),
                   st.st_uid, st.st_gid, st.st_mtime_ns, h))
print('\n'.join(out))
PY
}

mm_trees_equal() { [ "$(mm_tree "$1" "$3")" = "$(mm_tree "$2" "$3")" ]; }

# mm_wait_converged SECONDS ACCOUNT SOURCE REPLICA...: polls until every
# replica's tree of ACCOUNT equals SOURCE's; on timeout prints a diff.
mm_wait_converged() {
	local deadline=$1 acct=$2 src=$3 r; shift 3
	for r in "$@"; do
		if ! mm_wait_for "$deadline" mm_trees_equal "$src" "$r" "$acct"; then
			diff <(mm_tree "$src" "$acct") <(mm_tree "$r" "$acct") | head -20 >&2
			mm_log "--- $r replicator log ---"
			tail -n 20 "$MM_T/$r/repl.log" >&2
			mm_log "--- $src replicator log ---"
			tail -n 20 "$MM_T/$src/repl.log" >&2
			mm_fail "$r did not converge on $acct with $src within $deadline s"
		fi
	done
}

# mm_last_lsn_of NAME: the last LSN of NAME's journal.
mm_last_lsn_of() { "$MM_CTL" -c "$MM_T/$1.ini" journal --json | jq -s 'map(.lsn) | max // 0'; }

# mm_cluster_stop: stops every replicator (each must exit 0 on SIGTERM)
# and unmounts every store (each mailmesh-fs must exit 0), so that leaks
# and crashes at exit fail the test under ASan.
mm_cluster_stop() {
	local n pid st
	for n in $MM_NODES; do
		mm_node_stop_repl "$n"
	done
	for n in $MM_NODES; do
		pid=$(mm_node_pid "$n" fs)
		[ -n "$pid" ] || continue
		fusermount3 -u "$MM_T/$n/mnt" || mm_fail "fusermount3 -u of $n failed"
		mm_reap 10 "$pid" || mm_fail "mailmesh-fs of $n did not exit after unmount"
		st=0
		wait "$pid" 2>/dev/null || st=$?
		eval "MM_PID_${n}_fs="
		[ "$st" = 0 ] || mm_fail "mailmesh-fs of $n exited with status $st"
	done
}

# mm_cluster_up NAME...: mm_cluster_init, then every store mounted and its
# replicator started.
mm_cluster_up() {
	local n
	mm_cluster_init "$@"
	for n in "$@"; do
		mm_node_fs "$n"
		mm_node_repl "$n"
	done
}

# mm_link NODE PEER [JQ]: NODE's outbound link to PEER from `mailmeshctl
# replication --json` (the whole object, or the jq expression JQ of it).
mm_link() {
	"$MM_CTL" -c "$MM_T/$1.ini" replication --json |
		jq -c -r "select(.peer == \"$2\" and .direction == \"out\") | ${3:-.}"
}

# mm_store_count NODE FIELD: one of NODE's replicator counters (applied,
# already, merged, by_hash, ...).
mm_store_count() {
	"$MM_CTL" -c "$MM_T/$1.ini" replication --json | jq "select(.store) | .$2"
}

# mm_deliver NODE ACCOUNT NAME: a small message delivered through NODE's
# mount into ACCOUNT's Maildir (tmp/, then rename into new/).
mm_deliver() {
	local m=$MM_T/$1/mnt/$2/Maildir
	printf 'Subject: %s\n\n%s on %s\n' "$3" "$3" "$1" >"$m/tmp/$3"
	mv "$m/tmp/$3" "$m/new/$3"
}

# mm_wait_streaming NODE PEER: until NODE's link to PEER is streaming.
mm_wait_streaming() {
	mm_wait_for 20 eval "[ \"\$(mm_link $1 $2 .state)\" = streaming ]" ||
		mm_fail "$1 does not stream to $2"
}
