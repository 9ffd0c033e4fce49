#!/bin/bash
# SPDX-License-Identifier: MIT
# crash.sh - kill -9 mailmesh-fs during a delivery burst, then a simulated
# power cut (the journal loses what was not yet durable, and record states
# written after the last sync): after recovery every message visible in
# the store has its record, and the journal claims nothing that is not so.
. "$(dirname "$0")/lib.sh"

cat >"${TMPDIR:-/tmp}/mm-load.$$.py" <<'PY'
import os, random, sys
root, idx = sys.argv[1], int(sys.argv[2])
m = os.path.join(root, "example.org", "u%d" % idx, "Maildir")
rng = random.Random(idx)
i = 0
try:
    while True:
        i += 1
        name = "%d.M%dP%dQ%d.crash" % (1700000000 + i, idx, os.getpid(), i)
        body = b"Subject: %d\n\n" % i + b"x" * rng.randint(100, 8000)
        name += ",S=%d" % len(body)
        fd = os.open(os.path.join(m, "tmp", name), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.write(fd, body); os.fsync(fd); os.close(fd)
        os.rename(os.path.join(m, "tmp", name), os.path.join(m, "new", name))
        if i % 3 == 0:
            os.rename(os.path.join(m, "new", name), os.path.join(m, "cur", name + ":2,S"))
            if i % 2 == 0:
                os.rename(os.path.join(m, "cur", name + ":2,S"), os.path.join(m, "cur", name + ":2,FS"))
            if i % 9 == 0:
                os.unlink(os.path.join(m, "cur", name + (":2,FS" if i % 2 == 0 else ":2,S")))
except OSError:
    pass   # the mount went away under us: that is the point
PY
LOAD="${TMPDIR:-/tmp}/mm-load.$$.py"
mm_on_exit "rm -f '$LOAD'"
TOOL=$(dirname "$0")/journal-tool.py

# replay: the messages the journal says exist, one "account folder sub name"
# per line (exact) or "account folder identity" (--identity)
replay() {
	mm_ctl journal --json | python3 -c '
import json, sys
ident = len(sys.argv) > 1
s = set()
def key(a, f, sub, n):
    return (a, f, n.split(":")[0]) if ident else (a, f, sub, n)
for line in sys.stdin:
    r = json.loads(line)
    a, op = r["account"], r["op"]
    src = key(a, r["folder"], r.get("sub"), r["name"])
    if op == "deliver":
        s.add(src)
    elif op in ("move", "flags"):
        s.discard(src); s.add(key(a, r["new_folder"], r.get("new_sub"), r["new_name"]))
    elif op == "copy":
        s.add(key(a, r["new_folder"], r.get("new_sub"), r["new_name"]))
    elif op == "expunge":
        s.discard(src)
for k in sorted(s):
    print(" ".join(k))' "$@"
}
# the messages in the store, in the same form
store_list() {
	(cd "$MM_STORE" && find example.org -path '*/Maildir/new/*' -o -path '*/Maildir/cur/*') |
	python3 -c '
import sys
ident = len(sys.argv) > 1
out = set()
for p in sys.stdin:
    parts = p.rstrip("\n").split("/")
    a, f, sub, n = "/".join(parts[:2]), parts[2], parts[3], parts[4]
    out.add((a, f, n.split(":")[0]) if ident else (a, f, sub, n))
for k in sorted(out):
    print(" ".join(k))' "$@"
}

burst() {
	local pids=() i
	for i in 1 2 3 4; do
		mm_maildir "$MM_MNT/example.org/u$i/Maildir"
	done
	for i in 1 2 3 4; do
		python3 "$LOAD" "$MM_MNT" "$i" &
		pids+=($!)
	done
	BURST_PIDS="${pids[*]}"
	# a few hundred operations in flight before the crash
	mm_wait_for 60 eval '[ "$(mm_ctl status | sed -n "s/.*last_lsn=\([0-9]*\).*/\1/p")" -ge '"$1"' ]' ||
		mm_fail "the load did not reach $1 records"
}

# a long flush interval leaves flag changes and moves not yet durable
mm_setup batch "batch_interval = 10s"
mm_mount

# 1. kill -9 in the middle of a burst
burst 600
mm_kill9
for p in $BURST_PIDS; do wait "$p" || true; done
mm_mount
grep -q "recovery" "$MM_T/fs.log" || mm_log "note: no record was unfinished at the kill"
diff <(replay) <(store_list) >"$MM_T/diff" ||
	{ cat "$MM_T/diff" >&2; mm_fail "after kill -9 the journal and the store disagree"; }
n=$(store_list | wc -l)
[ "$n" -gt 200 ] || mm_fail "too few messages ($n) to mean anything"
mm_ctl journal >/dev/null || mm_fail "journal not readable after recovery"
mm_log "kill -9: $n messages, journal and store agree exactly"

# 2. power cut: stop the writers, note what is durable, kill, then drop
# everything after it (tearing the next record) and forget the last 300
# record states, as a power cut may
burst 1500
for p in $BURST_PIDS; do kill -STOP "$p"; done
# a writer stops only on its way back from a call: once all are stopped,
# no operation is in flight and durable_lsn covers every delivery done
all_stopped() {
	local p
	for p in $BURST_PIDS; do
		[ "$(awk '{print $3}' "/proc/$p/stat")" = T ] || return 1
	done
}
mm_wait_for 10 all_stopped || mm_fail "writers did not stop"
status=$(mm_ctl status)
durable=$(sed -n 's/.*durable_lsn=\([0-9]*\).*/\1/p' <<<"$status")
mm_kill9
for p in $BURST_PIDS; do kill -CONT "$p"; kill "$p" 2>/dev/null; wait "$p" || true; done
python3 "$TOOL" dump "$MM_STATE" >"$MM_T/before.json"
dropped=$(python3 "$TOOL" powercut "$MM_STATE" "$durable" 300)
mm_log "power cut: kept LSN <= $durable, dropped $dropped records"
mm_mount
grep -q "torn tail" "$MM_T/fs.log" || [ "$dropped" = 0 ] || mm_fail "no torn tail reported"
grep -q "unfinished records" "$MM_T/fs.log" || mm_fail "recovery did not decide the unfinished records"
mm_ctl journal >/dev/null || mm_fail "journal not readable after the power cut"
# every message in the store has its record (by identity: a lost flag
# change leaves the name behind, never the message)
missing=$(comm -13 <(replay --identity) <(store_list --identity))
[ -z "$missing" ] || mm_fail "messages in the store without a record: $missing"
# what the journal claims and the store lacks was removed by a dropped record
extra=$(comm -23 <(replay --identity) <(store_list --identity))
if [ -n "$extra" ]; then
	python3 - "$MM_T/before.json" "$durable" <<PY || mm_fail "journal claims messages that are gone: $extra"
import json, sys
dropped = set()
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r["lsn"] > int(sys.argv[2]):
        dropped.add((r["account"], r["folder"], r["name"].split(":")[0]))
for line in """$extra""".strip().splitlines():
    a, f, i = line.split(" ")
    if (a, f, i) not in dropped:
        sys.exit(1)
PY
fi
mm_log "power cut: $(store_list | wc -l) messages, every one journaled"
# and the store keeps working
printf 'after\n' >"$MM_MNT/example.org/u1/Maildir/new/after.1"
mm_umount
mm_log "ok"
