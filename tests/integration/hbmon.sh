#!/bin/bash
# SPDX-License-Identifier: MIT
# hbmon.sh - three mailmesh-hbmon daemons (a, b, c) on loopback, no mounts:
# all healthy; a frozen member (SIGSTOP) is failed within the timeout and
# healthy again after SIGCONT; a killed one is failed; forged and replayed
# datagrams are refused and counted; a slow store probe is seen degraded.
. "$(dirname "$0")/lib.sh"

MM_HB=$MM_BUILDDIR/hbmon/mailmesh-hbmon
command -v jq >/dev/null || mm_skip "jq missing (apt-get install jq)"
command -v python3 >/dev/null || mm_skip "python3 missing"
[ -x "$MM_HB" ] || mm_fail "$MM_HB not built"
[ -x "$MM_CTL" ] || mm_fail "$MM_CTL not built"

MM_T=$(mktemp -d /var/tmp/mmtest.XXXXXX)
T=$MM_T
declare -A PID PORT

udp_port() {
	python3 -c 'import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Stop every daemon, even a stopped one, and say what sanitizers found.
stop_all() {
	local n pids=
	for n in "${!PID[@]}"; do
		[ -n "${PID[$n]}" ] || continue
		kill -CONT "${PID[$n]}" 2>/dev/null
		kill -TERM "${PID[$n]}" 2>/dev/null
		pids="$pids ${PID[$n]}"
	done
	# shellcheck disable=SC2086
	mm_reap 10 $pids
	grep -h -B2 -A30 -E "Sanitizer|runtime error:" "$T"/*.log >&2 2>/dev/null || true
}
mm_on_exit stop_all
mm_fail_hook() {
	local n
	for n in a b c; do
		mm_log "--- $n.log (last 20 lines) ---"
		tail -n 20 "$T/$n.log" >&2 2>/dev/null || true
	done
}

head -c 512 /dev/urandom | base64 >"$T/ca.pem"
for n in a b c; do
	PORT[$n]=$(udp_port)
	mkdir -p "$T/$n/store" "$T/$n/state"
done
TAP=$(udp_port)
for n in a b c; do
	{
		cat <<INI
[node]
name = $n
store = $T/$n/store
state = $T/$n/state
mount = $T/$n/mnt
[tls]
ca = $T/ca.pem
[hbmon]
listen = 127.0.0.1:${PORT[$n]}
INI
		# one file for the cluster: every store lists itself too
		for p in a b c; do
			printf '[peer %s]\naddress = 127.0.0.1:1\nhbmon = 127.0.0.1:%s\n' \
				"$p" "${PORT[$p]}"
		done
		# b also sends to a tap, where the test captures a datagram; the
		# others list it without an hbmon address, so that every store
		# has the same members (heartbeats carry their hash)
		printf '[peer tap]\naddress = 127.0.0.1:1\n'
		[ "$n" != b ] || printf 'hbmon = 127.0.0.1:%s\n' "$TAP"
	} >"$T/$n.ini"
done

start() { "$MM_HB" -c "$T/$1.ini" -f >>"$T/$1.log" 2>&1 & PID[$1]=$!; }
st() { "$MM_CTL" -c "$T/$1.ini" status --json 2>/dev/null; }
# state_of VIEWER MEMBER
state_of() { st "$1" | jq -r --arg m "$2" '.members[] | select(.name == $m) | .state'; }
is_state() { [ "$(state_of "$1" "$2")" = "$3" ]; }
all_healthy() {
	local v m
	for v in a b c; do
		for m in a b c; do
			is_state "$v" "$m" healthy || return 1
		done
	done
}
counter() { st "$1" | jq -r ".hbmon.counters.$2"; }
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

mm_log "a bad configuration is refused with a clear message"
sed '/^listen/d' "$T/a.ini" >"$T/bad.ini"
if "$MM_HB" -c "$T/bad.ini" -f 2>"$T/bad.err"; then mm_fail "started without listen"; fi
grep -q "missing \[hbmon\] listen" "$T/bad.err" || mm_fail "message: $(cat "$T/bad.err")"
sed 's/^interval.*//; s/^\[hbmon\]/[hbmon]\ninterval = 5/' "$T/a.ini" >"$T/bad.ini"
if "$MM_HB" -c "$T/bad.ini" -f 2>"$T/bad.err"; then mm_fail "started with interval = 5"; fi
grep -q "bad.ini:[0-9]*: interval must be" "$T/bad.err" || mm_fail "message: $(cat "$T/bad.err")"

mm_log "not running: status says so"
out=$("$MM_CTL" -c "$T/a.ini" status --json) && rc=0 || rc=$?
mm_assert_eq "$rc" 3 "status exit code with nothing running"
mm_assert_eq "$(jq -r .hbmon.running <<<"$out")" false "hbmon.running"

for n in a b c; do start $n; done
mm_wait_for 10 all_healthy || mm_fail "a, b and c do not all see each other healthy"
mm_log "all healthy: $(st a | jq -c '[.members[] | {name, state, rtt_ms}]')"
j=$(st a)
for k in name state rtt_ms probe_ms pressure_io free_bytes last_heard_ms reason; do
	[ "$(jq --arg k "$k" '[.members[] | has($k)] | all' <<<"$j")" = true ] ||
		mm_fail "member key $k missing: $j"
done
"$MM_CTL" -c "$T/a.ini" status | grep -q "^c  *healthy" || mm_fail "text status"

mm_log "SIGSTOP c: a and b mark it failed"
t0=$(now_ms)
kill -STOP "${PID[c]}"
mm_wait_for 5 is_state a c failed || mm_fail "a does not see c failed"
t1=$(now_ms)
mm_wait_for 5 is_state b c failed || mm_fail "b does not see c failed"
t2=$(now_ms)
mm_log "detection: a after $((t1 - t0)) ms, b after $((t2 - t0)) ms (timeout 1000 ms)"
[ $((t1 - t0)) -lt 2000 ] || mm_fail "a took $((t1 - t0)) ms to detect c"
[ $((t2 - t0)) -lt 2000 ] || mm_fail "b took $((t2 - t0)) ms to detect c"
# c's last heartbeat left at most one interval (200 ms) before the stop
[ $((t1 - t0)) -ge 700 ] || mm_fail "a failed c after $((t1 - t0)) ms: before the timeout"
st a | jq -r '.members[] | select(.name == "c") | .reason' | grep -q "not heard for" ||
	mm_fail "no reason for c's failure"
grep -q "member c: healthy -> failed: not heard for" "$T/a.log" || mm_fail "a did not log c's failure"

mm_log "SIGCONT c: healthy again"
kill -CONT "${PID[c]}"
mm_wait_for 5 all_healthy || mm_fail "not all healthy after SIGCONT"

mm_log "forged, garbage and replayed datagrams to a"
auth0=$(counter a rx_bad_auth) replay0=$(counter a rx_replay) bad0=$(counter a rx_malformed)
python3 - "$TAP" "${PORT[a]}" <<'PY' || mm_fail "python sender failed"
import hashlib, hmac, os, socket, struct, sys, time
tap, a = int(sys.argv[1]), int(sys.argv[2])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", tap))
s.settimeout(5)
captured = s.recv(2048)
for _ in range(3):  # b has sent three later ones to a since
    s.recv(2048)
out = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
out.sendto(captured, ("127.0.0.1", a))
# a well-formed heartbeat from "b" under the wrong key (docs/hbmon.md)
name = b"b"
body = (b"MMHB" + bytes([3, 0, len(name)]) + name +
        struct.pack("<QQQIHHHQQIB", 7, 1 << 40, int(time.time() * 1000), 1000, 0, 0, 0,
                    1 << 40, 0, 0, 0) +
        # version 2: members_hash, head, no applied, lease 0, view, no prefs
        struct.pack("<QQBBQQQB", 0, 0, 0, 0, 0, 0, 0, 0) +
        # version 3: no pin entry, pins_hash, pins_count, no pin definition,
        # prefs_moving
        struct.pack("<BQBBQ", 0, 0, 0, 0, 0))
key = hashlib.sha256(b"not the cluster CA").digest()
# from another socket: a logs one line per source address per 10 s
out = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
out.sendto(body + hmac.new(key, body, hashlib.sha256).digest(), ("127.0.0.1", a))
out.sendto(os.urandom(200), ("127.0.0.1", a))
out.sendto(b"MMHB", ("127.0.0.1", a))
PY
counted() {
	[ "$(counter a rx_bad_auth)" -eq $((auth0 + 1)) ] &&
	[ "$(counter a rx_replay)" -eq $((replay0 + 1)) ] &&
	[ "$(counter a rx_malformed)" -eq $((bad0 + 2)) ]
}
mm_wait_for 5 counted || mm_fail "counters: $(st a | jq -c .hbmon.counters)"
mm_log "counted: $(st a | jq -c .hbmon.counters)"
mm_alive "${PID[a]}" || mm_fail "a died"
is_state a b healthy || mm_fail "b is not healthy in a's view after the forgery"
grep -q "refused: authentication failed" "$T/a.log" || mm_fail "a did not log the forgery"
grep -q "refused: replayed" "$T/a.log" || mm_fail "a did not log the replay"

mm_log "kill -9 b: failed"
kill -9 "${PID[b]}"
wait "${PID[b]}" 2>/dev/null || true
PID[b]=
mm_wait_for 5 is_state a b failed || mm_fail "a does not see b failed"
mm_wait_for 5 is_state c b failed || mm_fail "c does not see b failed"

mm_log "b restarts with a slow store probe: degraded, and seen so"
printf '[hbmon]\nprobe_delay_ms = 400\n' >>"$T/b.ini"
# the file's earlier [hbmon] keys still apply: a section may be reopened
start b
mm_wait_for 10 is_state b b degraded || mm_fail "b does not report itself degraded"
mm_wait_for 5 is_state a b degraded || mm_fail "a does not see b degraded"
mm_wait_for 5 is_state c b degraded || mm_fail "c does not see b degraded"
r=$(st a | jq -r '.members[] | select(.name == "b") | .reason')
[[ $r == "reports degraded: probe "*" ms > 200 ms" ]] || mm_fail "reason in a's view: $r"
mm_log "b degraded: $r"
is_state a c healthy || mm_fail "c should still be healthy"

stop_all
for n in a c b; do
	grep -q "signal 15: stopping" "$T/$n.log" || mm_fail "$n did not stop on SIGTERM"
done
if grep -q -E "Sanitizer|runtime error:" "$T"/*.log; then mm_fail "sanitizer reports"; fi
PID=()
mm_log "ok"
