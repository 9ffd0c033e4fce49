#!/bin/bash
# SPDX-License-Identifier: MIT
# run-incr-bench.sh - incremental replication: 800 changes (100 deliveries,
# 500 flag changes, 200 expunges) made through a's mount on an account of N
# messages already on b. mailmesh: milliseconds from the return of the last
# change to b having all 800 durably (the replicator's ack), against the
# time doveadm backup (dsync) and rsync -a --delete need to carry the same
# changes to copies made before them. Run as root from the top build dir.
#   run-incr-bench.sh [-n N] [-R REPEATS] [-s]   (-s: 4 KiB messages only)
MM_BUILDDIR=${MM_BUILDDIR:-$(pwd)}
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../integration/lib.sh"
. "$HERE/../integration/cluster.sh"
. "$HERE/../integration/dovecot-lib.sh"

N=10000 REPEATS=5 SMALL=0
while [ $# -gt 0 ]; do
	case $1 in
	-n) N=$2; shift 2 ;;
	-R) REPEATS=$2; shift 2 ;;
	-s) SMALL=1; shift ;;
	*) echo "usage: $0 [-n N] [-R REPEATS] [-s]" >&2; exit 2 ;;
	esac
done
mm_dovecot_require

mm_cluster_up a b
mm_wait_streaming a b
ACCT=example.org/alice
SRC=$MM_T/a/store/$ACCT/Maildir
mm_log "generating $N messages in a's store"
python3 "$HERE/gen-maildir.py" "$SRC" "$N" --fast $([ "$SMALL" = 1 ] && echo --small) ||
	mm_fail "generating the Maildir failed"
chown -R mail:mail "$MM_T/a/store/example.org"
files=$(find "$SRC" -type f | wc -l)

mm_log "initial copies: b by resync, dsync and rsync copies (not timed)"
mm_node_ctl a resync "$ACCT" b >/dev/null || mm_fail "resync failed"
mm_wait_for 900 sh -c "grep -q 'resync of $ACCT to b: the peer confirms it' '$MM_T/a/repl.log'" ||
	mm_fail "the resync did not finish"
mm_wait_for 900 sh -c "[ \$(find '$MM_T/b/store/$ACCT/Maildir' -type f | wc -l) -ge $files ]" ||
	mm_fail "b did not get every file"
DA=$MM_T/dovecot
mm_dovecot_start "$DA" "maildir:$MM_T/a/store/%d/%n/Maildir"
DS=$MM_T/dsync RS=$MM_T/rsync
mkdir "$DS"
chown mail:mail "$DS"
doveadm -c "$DA/dovecot.conf" backup -u alice@example.org "maildir:$DS" || mm_fail "doveadm backup failed"
rsync -a "$SRC/" "$RS/" || mm_fail "rsync failed"
sync

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
declare -A T
for r in $(seq 1 "$REPEATS"); do
	l0=$(mm_last_lsn_of a)
	# the changes through a's mount, then the wait for b's ack of the last
	# record: "wait LSN 1 MS" on a's replicator answers when one peer has it
	ms=$(python3 - "$MM_T/a/mnt/$ACCT/Maildir" "$MM_T/a/state/replicator.sock" \
		"$((l0 + 800))" "$r" <<'PY'
import os, random, socket, sys, time
root, sock, last, rep = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
rnd = random.Random(rep)
cur = os.path.join(root, "cur")
names = sorted(os.listdir(cur))
rnd.shuffle(names)
flagged, gone = names[:500], names[500:700]
ops = [("d", i) for i in range(100)] + [("f", n) for n in flagged] + [("x", n) for n in gone]
rnd.shuffle(ops)
body = b"Subject: new\n\n" + b"x" * 3000 + b"\n"
for op, arg in ops:
    if op == "d":
        name = "1600000000.M%dR%d.incr" % (arg, rep)
        p = os.path.join(root, "tmp", name)
        with open(p, "wb") as f:
            f.write(body)
        os.rename(p, os.path.join(root, "new", name))
    elif op == "f":
        base, _, fl = arg.partition(":2,")
        nfl = "".join(sorted(set(fl) ^ {"F"}))
        os.rename(os.path.join(cur, arg), os.path.join(cur, base + ":2," + nfl))
    else:
        os.unlink(os.path.join(cur, arg))
t_last = time.monotonic_ns()
s = socket.socket(socket.AF_UNIX)
s.connect(sock)
s.sendall(b"wait %d 1 60000\n" % last)
reply = s.makefile().readline()
t_ack = time.monotonic_ns()
if not reply.startswith("ok"):
    sys.exit("wait: " + reply)
print("%.1f" % ((t_ack - t_last) / 1e6))
PY
) || mm_fail "the changes or the wait failed"
	got=$(mm_last_lsn_of a)
	[ "$got" = $((l0 + 800)) ] || mm_fail "a journaled $((got - l0)) records for 800 changes"
	T[mailmesh,$r]=$ms
	t0=$(now_ms)
	doveadm -c "$DA/dovecot.conf" backup -u alice@example.org "maildir:$DS" ||
		mm_fail "doveadm backup failed"
	T[dsync,$r]=$(( $(now_ms) - t0 ))
	t0=$(now_ms)
	rsync -a --delete "$SRC/" "$RS/" || mm_fail "rsync failed"
	sync
	T[rsync,$r]=$(( $(now_ms) - t0 ))
	mm_log "run $r: mailmesh ${T[mailmesh,$r]} ms after the last change, dsync ${T[dsync,$r]} ms, rsync ${T[rsync,$r]} ms"
done
# (messages only: dsync writes its dovecot-uidlist files into a's store
# behind the mount, and those are journaled by nobody)
msgs() { (cd "$MM_T/$1/store/$ACCT/Maildir" && find . -path '*/cur/*' -o -path '*/new/*' | sort); }
mm_wait_for 60 eval '[ "$(msgs a)" = "$(msgs b)" ]' ||
	mm_fail "b's messages differ from a's: $(diff <(msgs a) <(msgs b) | head -5)"
median() { for r in $(seq 1 "$REPEATS"); do echo "${T[$1,$r]}"; done | sort -n | sed -n "$(( (REPEATS + 1) / 2 ))p"; }
mm_dovecot_stop "$DA"
printf '\n800 changes (100 deliveries, 500 flag changes, 200 expunges) on %s messages, median of %s runs\n' \
	"$files" "$REPEATS"
printf '%-10s %16s\n' method "ms"
for m in mailmesh dsync rsync; do printf '%-10s %16s\n' "$m" "$(median $m)"; done
awk -v m="$(median mailmesh)" 'BEGIN { printf "\nTarget: replica converged within 50 ms of the last change: %s (%.1f ms)\n", (m <= 50 ? "MET" : "MISS"), m }'
mm_cluster_stop
mm_finish
