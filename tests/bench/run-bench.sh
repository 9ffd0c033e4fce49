#!/bin/bash
# SPDX-License-Identifier: MIT
# run-bench.sh - compare mailmesh-fs against passthrough_ll and the plain
# backing directory with maildir-bench; print medians, ratios and targets.
#
# usage: tests/bench/run-bench.sh [-n N] [-r REPEATS] [--fs-bin PATH] [--bench-bin PATH]
# Binaries default to fs/mailmesh-fs and tests/bench/maildir-bench under the
# build dir ($MM_BUILDDIR, else the current dir). Set MM_BENCH_OUT=FILE to
# also get the result table as JSON.
set -euo pipefail

PROG=run-bench.sh
N=2000
REPEATS=3
SEED=1
WRITERS_LIST="1 8"
BUILDDIR=${MM_BUILDDIR:-$PWD}
FS_BIN=$BUILDDIR/fs/mailmesh-fs
BENCH_BIN=$BUILDDIR/tests/bench/maildir-bench
PT_SRC_DIR=/usr/share/doc/libfuse3-dev/examples
MOUNT_DEADLINE_S=10

WORK=
MM_PID=
PT_PID=

die() {
	echo "$PROG: $*" >&2
	exit 1
}

usage() {
	cat <<EOF
usage: $PROG [-n N] [-r REPEATS] [--fs-bin PATH] [--bench-bin PATH]

  -n N              messages per phase (default $N)
  -r REPEATS        runs per target and writer count; medians are reported (default $REPEATS)
  --fs-bin PATH     mailmesh-fs binary (default \$MM_BUILDDIR/fs/mailmesh-fs)
  --bench-bin PATH  maildir-bench binary (default \$MM_BUILDDIR/tests/bench/maildir-bench)

MM_BUILDDIR defaults to the current directory. MM_BENCH_OUT=FILE writes the
result table as JSON.
EOF
	exit "${1:-0}"
}

is_uint() {
	[[ $1 =~ ^[1-9][0-9]*$ ]]
}

while [ $# -gt 0 ]; do
	case $1 in
	-n) [ $# -ge 2 ] || usage 2; N=$2; shift 2 ;;
	-r) [ $# -ge 2 ] || usage 2; REPEATS=$2; shift 2 ;;
	--fs-bin) [ $# -ge 2 ] || usage 2; FS_BIN=$2; shift 2 ;;
	--fs-bin=*) FS_BIN=${1#*=}; shift ;;
	--bench-bin) [ $# -ge 2 ] || usage 2; BENCH_BIN=$2; shift 2 ;;
	--bench-bin=*) BENCH_BIN=${1#*=}; shift ;;
	-h|--help) usage 0 ;;
	*) echo "$PROG: unknown argument: $1" >&2; usage 2 ;;
	esac
done

is_uint "$N" || die "invalid -n: $N"
is_uint "$REPEATS" || die "invalid -r: $REPEATS"
[ -x "$FS_BIN" ] || die "mailmesh-fs not found or not executable: $FS_BIN (build it, or pass --fs-bin / set MM_BUILDDIR)"
[ -x "$BENCH_BIN" ] || die "maildir-bench not found or not executable: $BENCH_BIN (make check, or: gcc -O2 -pthread tests/bench/maildir-bench.c -o maildir-bench; pass --bench-bin)"
FS_BIN=$(realpath -s "$FS_BIN")
BENCH_BIN=$(realpath -s "$BENCH_BIN")
for tool in gcc pkg-config python3 fusermount3 realpath; do
	command -v "$tool" >/dev/null || die "$tool not found"
done
[ -c /dev/fuse ] || die "/dev/fuse missing"
if [ "$(id -u)" -ne 0 ] && ! grep -qs '^[[:space:]]*user_allow_other' /etc/fuse.conf; then
	echo "$PROG: warning: not root and user_allow_other not set in /etc/fuse.conf; -o allow_other will fail" >&2
fi

now_us() {
	local t=$EPOCHREALTIME
	echo $(( ${t%.*} * 1000000 + 10#${t#*.} ))
}

is_mounted() {
	awk -v p="$1" '$2 == p { found = 1 } END { exit !found }' /proc/mounts
}

# wait_mount MOUNTPOINT PID NAME: poll /proc/mounts until MOUNTPOINT shows up.
wait_mount() {
	local mnt=$1 pid=$2 name=$3 deadline
	deadline=$(( $(now_us) + MOUNT_DEADLINE_S * 1000000 ))
	while ! is_mounted "$mnt"; do
		if ! kill -0 "$pid" 2>/dev/null; then
			echo "$PROG: $name exited before mounting $mnt; log:" >&2
			sed 's/^/  /' "$WORK/$name.log" >&2 || true
			return 1
		fi
		if [ "$(now_us)" -ge "$deadline" ]; then
			echo "$PROG: $name did not mount $mnt within ${MOUNT_DEADLINE_S}s; log:" >&2
			sed 's/^/  /' "$WORK/$name.log" >&2 || true
			return 1
		fi
		sleep 0.05
	done
}

# stop_daemon PID GRACE: after an unmount the daemon leaves by itself (GRACE=1
# waits up to 5 s for that); otherwise, or if it lingers, TERM then KILL it.
stop_daemon() {
	local pid=$1 grace=$2
	[ -n "$pid" ] || return 0
	if [ "$grace" = 1 ]; then
		for _ in $(seq 50); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
	fi
	if kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid" 2>/dev/null
		for _ in $(seq 30); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
	fi
	wait "$pid" 2>/dev/null
}

# stop_fs MOUNTPOINT PID: unmount (fusermount3, else lazy umount), stop daemon.
stop_fs() {
	local mnt=$1 pid=$2 grace=0
	if is_mounted "$mnt"; then
		grace=1
		fusermount3 -u "$mnt" 2>/dev/null || fusermount3 -u -z "$mnt" 2>/dev/null ||
			umount -l "$mnt" || echo "$PROG: warning: could not unmount $mnt" >&2
	fi
	stop_daemon "$pid" "$grace"
}

cleanup() {
	local rc=$?
	set +e
	trap - EXIT INT TERM HUP
	if [ -n "$WORK" ]; then
		stop_fs "$WORK/mm-mnt" "$MM_PID"
		stop_fs "$WORK/pt-mnt" "$PT_PID"
	fi
	if [ -n "$WORK" ] && [ -d "$WORK" ]; then
		if awk -v w="$WORK/" 'index($2, w) == 1 { found = 1 } END { exit !found }' /proc/mounts; then
			echo "$PROG: warning: mounts remain under $WORK; not removing it" >&2
		else
			rm -rf --one-file-system "$WORK"
		fi
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

WORK=$(mktemp -d /var/tmp/mailmesh-bench.XXXXXX)
WORK=$(realpath "$WORK")
mkdir "$WORK"/{direct,mm-store,mm-state,mm-mnt,pt-src,pt-mnt,ptbuild,results}

# passthrough_ll, built from the libfuse examples
if [ -f "$PT_SRC_DIR/passthrough_ll.c" ]; then
	cp "$PT_SRC_DIR/passthrough_ll.c" "$WORK/ptbuild/"
elif [ -f "$PT_SRC_DIR/passthrough_ll.c.gz" ]; then
	zcat "$PT_SRC_DIR/passthrough_ll.c.gz" >"$WORK/ptbuild/passthrough_ll.c"
else
	die "passthrough_ll.c not found in $PT_SRC_DIR (apt-get install libfuse3-dev)"
fi
if [ -f "$PT_SRC_DIR/passthrough_helpers.h" ]; then
	cp "$PT_SRC_DIR/passthrough_helpers.h" "$WORK/ptbuild/"
elif [ -f "$PT_SRC_DIR/passthrough_helpers.h.gz" ]; then
	zcat "$PT_SRC_DIR/passthrough_helpers.h.gz" >"$WORK/ptbuild/passthrough_helpers.h"
fi
PT_BIN=$WORK/ptbuild/passthrough_ll
# shellcheck disable=SC2046
gcc -O2 -o "$PT_BIN" "$WORK/ptbuild/passthrough_ll.c" $(pkg-config --cflags --libs fuse3) ||
	die "building passthrough_ll failed"

CONF=$WORK/mailmesh.conf
cat >"$CONF" <<EOF
[node]
name = bench
store = $WORK/mm-store
state = $WORK/mm-state
mount = $WORK/mm-mnt
account_depth = 2
[journal]
fsync = batch
EOF

"$FS_BIN" -c "$CONF" -f -o allow_other >"$WORK/mailmesh-fs.log" 2>&1 &
MM_PID=$!
wait_mount "$WORK/mm-mnt" "$MM_PID" mailmesh-fs || die "mounting mailmesh-fs failed"

"$PT_BIN" -f -o "source=$WORK/pt-src,allow_other" "$WORK/pt-mnt" >"$WORK/passthrough_ll.log" 2>&1 &
PT_PID=$!
wait_mount "$WORK/pt-mnt" "$PT_PID" passthrough_ll || die "mounting passthrough_ll failed"

TARGETS=(direct passthrough_ll mailmesh)
declare -A TARGET_DIR=(
	[direct]=$WORK/direct
	[passthrough_ll]=$WORK/pt-mnt
	[mailmesh]=$WORK/mm-mnt
)
declare -A TARGET_PID=([passthrough_ll]=$PT_PID [mailmesh]=$MM_PID)
declare -A TARGET_LOG=([passthrough_ll]=$WORK/passthrough_ll.log [mailmesh]=$WORK/mailmesh-fs.log)

echo "maildir-bench: N=$N repeats=$REPEATS writers=(${WRITERS_LIST}) workdir=$WORK" >&2
echo "  mailmesh-fs: $FS_BIN" >&2
echo "  maildir-bench: $BENCH_BIN" >&2

for w in $WRITERS_LIST; do
	for rep in $(seq "$REPEATS"); do
		# Rotate the target order each repeat so drift hits all alike.
		for k in 0 1 2; do
			t=${TARGETS[$(( (k + rep - 1) % 3 ))]}
			dir=${TARGET_DIR[$t]}
			# One fresh domain per run keeps accounts at depth 2.
			dom=r${rep}w${w}.bench.example
			out=$WORK/results/$t-w$w-r$rep.jsonl
			pid=${TARGET_PID[$t]:-}
			if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
				tail -n 20 "${TARGET_LOG[$t]}" >&2 || true
				die "$t daemon (pid $pid) exited unexpectedly"
			fi
			sync
			printf '  w=%s rep=%s %-15s ' "$w" "$rep" "$t" >&2
			if ! "$BENCH_BIN" "$dir" -n "$N" -w "$w" -s "$SEED" -d "$dom" --json >"$out"; then
				echo "FAILED" >&2
				die "maildir-bench failed on $t ($dir/$dom, writers=$w, repeat=$rep)"
			fi
			python3 - "$out" >&2 <<'EOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
print(" ".join("%s=%.0f/s" % (r["phase"], r["ops_per_s"]) for r in rows))
EOF
			rm -rf "${dir:?}/$dom" || die "removing $dir/$dom failed"
		done
	done
done

python3 - "$WORK/results" "$N" "$REPEATS" "$SEED" "${MM_BENCH_OUT:-}" <<'EOF'
import json, os, re, statistics, sys

resdir, n, repeats, seed, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
PHASES = ["deliver", "move", "flags", "read", "expunge"]
TARGETS = ["direct", "passthrough_ll", "mailmesh"]

samples, runs = {}, []
for fn in sorted(os.listdir(resdir)):
    m = re.fullmatch(r"(.+)-w(\d+)-r(\d+)\.jsonl", fn)
    if not m:
        continue
    target, w, rep = m.group(1), int(m.group(2)), int(m.group(3))
    for line in open(os.path.join(resdir, fn)):
        if not line.strip():
            continue
        r = json.loads(line)
        r.update(target=target, repeat=rep)
        runs.append(r)
        samples.setdefault((target, w, r["phase"]), []).append(r["ops_per_s"])

def ratio(a, b):
    return a / b if a is not None and b else None

def fmt(v, spec):
    return "-" if v is None else format(v, spec)

writers = sorted({k[1] for k in samples})
rows = []
for phase in PHASES:
    for w in writers:
        med = {t: (statistics.median(samples[(t, w, phase)])
                   if (t, w, phase) in samples else None) for t in TARGETS}
        rows.append(dict(phase=phase, writers=w, direct=med["direct"],
                         passthrough_ll=med["passthrough_ll"], mailmesh=med["mailmesh"],
                         mm_pt=ratio(med["mailmesh"], med["passthrough_ll"]),
                         mm_direct=ratio(med["mailmesh"], med["direct"]),
                         pt_direct=ratio(med["passthrough_ll"], med["direct"])))

print()
print("Median ops/s over %d repeat(s), N=%d messages per phase (read: warm cache)" % (repeats, n))
hdr = "%-8s %7s %12s %15s %12s %7s %10s %10s" % (
    "phase", "writers", "direct", "passthrough_ll", "mailmesh", "mm/pt", "mm/direct", "pt/direct")
print(hdr)
print("-" * len(hdr))
for r in rows:
    print("%-8s %7d %12s %15s %12s %7s %10s %10s" % (
        r["phase"], r["writers"], fmt(r["direct"], ".1f"), fmt(r["passthrough_ll"], ".1f"),
        fmt(r["mailmesh"], ".1f"), fmt(r["mm_pt"], ".2f"), fmt(r["mm_direct"], ".2f"),
        fmt(r["pt_direct"], ".2f")))

def check(name, rows_sel, key, need):
    misses = ["%s/w%d %s" % (r["phase"], r["writers"], fmt(r[key], ".2f") + "x")
              for r in rows_sel if r[key] is None or r[key] < need]
    return dict(target=name, result="MISS" if misses else "PASS", misses=misses)

targets = [
    check("mailmesh >= passthrough_ll on every phase", rows, "mm_pt", 1.0),
    check("mailmesh >= 1.5x passthrough_ll on move and flags",
          [r for r in rows if r["phase"] in ("move", "flags")], "mm_pt", 1.5),
    check("warm read: mailmesh >= 0.5x direct",
          [r for r in rows if r["phase"] == "read"], "mm_direct", 0.5),
]
print()
print("Targets:")
for t in targets:
    line = "  %-4s %s" % (t["result"], t["target"])
    if t["misses"]:
        line += "  (short: %s)" % ", ".join(t["misses"])
    print(line)

if out:
    with open(out, "w") as f:
        json.dump(dict(n=n, repeats=repeats, seed=seed, writers=writers, rows=rows,
                       targets=targets, runs=runs), f, indent=1)
        f.write("\n")
    print("\nJSON written to %s" % out)
EOF
