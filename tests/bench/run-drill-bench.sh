#!/bin/bash
# SPDX-License-Identifier: MIT
# run-drill-bench.sh - failover drills: three stores in network namespaces
# (tests/integration/netns-lib.sh), one account written through every mount
# at once by drill-writer.py (an MTA that retries elsewhere), and per drill
# a fault on the account's active store: kill -9 of its daemons, a partition
# (nftables) or a freeze (SIGSTOP). Measured: the RTO, from the fault to the
# first successful delivery on another store, and the messages lost: those
# whose delivery returned success but that the new active lacks right after
# the failover (the RPO window; must be 0 in sync mode) and after the old
# store is back and merged (must be 0 always). Prints p50/p99 per scenario
# and mode, against the issue's target (p99 under 3 s). Failback is at once
# (failback_after = 0) so that drills follow each other quickly; failover
# timing does not depend on it. Run as root from the top build directory.
#   run-drill-bench.sh [-n DRILLS] [-s 'kill9 partition freeze'] [-m 'sync async']
MM_BUILDDIR=${MM_BUILDDIR:-$(pwd)}
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../integration/lib.sh"
. "$HERE/../integration/netns-lib.sh"

DRILLS=20 SCENARIOS="kill9 partition freeze" MODES="sync async"
while [ $# -gt 0 ]; do
	case $1 in
	-n) DRILLS=$2; shift 2 ;;
	-s) SCENARIOS=$2; shift 2 ;;
	-m) MODES=$2; shift 2 ;;
	*) echo "usage: $0 [-n DRILLS] [-s 'kill9 partition freeze'] [-m 'sync async']" >&2
	   exit 2 ;;
	esac
done
netns_require
mm_require_fuse
STORES="a b c"
WPID=

now_ns() { date +%s%N; }

# active_of: the account's active store as the first store that answers
# with one says; empty while none is
active_of() {
	local s a
	for s in "$@"; do
		a=$(timeout 2 "$MM_CTL" -c "$MM_T/$s.ini" status --json 2>/dev/null |
			jq -r --arg a "$ACCT" '.accounts[]? | select(.account == $a) | .active // empty')
		[ -n "$a" ] && { echo "$a"; return 0; }
	done
	return 1
}

# all_agree: every store names the same active, which is $1 if given
all_agree() {
	local s a first=
	for s in $STORES; do
		a=$(timeout 2 "$MM_CTL" -c "$MM_T/$s.ini" status --json 2>/dev/null |
			jq -r --arg a "$ACCT" '.accounts[]? | select(.account == $a) | .active // empty')
		[ -n "$a" ] || return 1
		[ -z "$first" ] && first=$a
		[ "$a" = "$first" ] || return 1
	done
	[ -z "${1:-}" ] || [ "$first" = "$1" ]
}

writer_start() {
	local specs=() s
	for s in $STORES; do specs+=("$s=$MM_T/$s/mnt"); done
	: >"$WLOG"
	python3 "$HERE/drill-writer.py" "$ACCT" "${specs[@]}" >>"$WLOG" 2>"$MM_T/writer.err" &
	WPID=$!
	mm_on_exit "kill $WPID 2>/dev/null"
}
writer_stop() {
	[ -n "$WPID" ] || return 0
	kill "$WPID" 2>/dev/null
	wait "$WPID" 2>/dev/null
	WPID=
}

# has_names STORE FILE: how many of the names in FILE STORE's store lacks
missing_on() {
	local store=$1 list=$2 dir=$MM_T/$1/store/$ACCT/Maildir
	python3 - "$dir" "$list" <<'PY'
import os, sys
d, lst = sys.argv[1], sys.argv[2]
have = set()
for sub in ("new", "cur"):
    try:
        for n in os.listdir(os.path.join(d, sub)):
            have.add(n.split(":", 1)[0])
    except FileNotFoundError:
        pass
want = [l.strip() for l in open(lst) if l.strip()]
print(sum(1 for n in want if n.split(":", 1)[0] not in have))
PY
}

fault() {	# SCENARIO STORE
	case $1 in
	kill9) netns_store_kill9 "$2" ;;
	partition) netns_isolate "$2" ;;
	freeze) netns_store_freeze "$2" ;;
	esac
}
recover() {	# SCENARIO STORE
	case $1 in
	kill9) netns_store_start "$2" ;;
	partition) netns_rejoin "$2" ;;
	freeze) netns_store_thaw "$2" ;;
	esac
}

pct() {	# P FILE: the P-th percentile (nearest rank) of the numbers in FILE
	sort -n "$2" | awk -v p="$1" '{v[NR]=$1} END{if (NR == 0) {print "-"; exit}
		i=int((p/100)*NR + 0.999999); if (i < 1) i=1; if (i > NR) i=NR; print v[i]}'
}

declare -A SUMMARY
# one cluster; one account per mode (sync: RPO zero; async)
MM_NODE_EXTRA="$NETNS_SYNC_ASYNC
[hbmon]
failback_after = 0"
netns_cluster_init $STORES
WLOG=$MM_T/writer.log
for mode in $MODES; do
	# the account exists on every store (provisioned), empty
	for s in $STORES; do
		mkdir -p "$MM_T/$s/store/example.org/${mode}1/Maildir/"{cur,new,tmp}
	done
done
for s in $STORES; do netns_store_start "$s"; done
for mode in $MODES; do
	ACCT=example.org/${mode}1
	mm_wait_for 30 all_agree || mm_fail "[$mode] the stores do not agree on an active for $ACCT"
	mm_log "[$mode] $ACCT is active on $(active_of $STORES)"
	for sc in $SCENARIOS; do
		: >"$MM_T/rto.$mode.$sc"
		lost_window=0 lost_after=0
		for i in $(seq 1 "$DRILLS"); do
			mm_wait_for 30 all_agree || mm_fail "[$mode $sc $i] no agreed active"
			writer_start
			# warm: the store that takes the writer's deliveries now is
			# the one to fault (a failback may just have moved it)
			mm_wait_for 10 awk '$3 != "-" {n++} END{exit n < 5}' "$WLOG" ||
				mm_fail "[$mode $sc $i] no deliveries: $(tail -n 3 "$WLOG")"
			old=$(awk '$3 != "-" {s=$2} END{print s}' "$WLOG")
			t_fault=$(now_ns)
			fault "$sc" "$old"
			# the first success elsewhere after the fault
			mm_wait_for 30 awk -v t="$t_fault" -v o="$old" \
				'$1 > t && $2 != o && $3 != "-" {f=1} END{exit !f}' "$WLOG" ||
				mm_fail "[$mode $sc $i] no delivery elsewhere within 30 s of the $sc of $old"
			read -r t_new new_active < <(awk -v t="$t_fault" -v o="$old" \
				'$1 > t && $2 != o && $3 != "-" {print $1, $2; exit}' "$WLOG")
			echo $(( (t_new - t_fault) / 1000000 )) >>"$MM_T/rto.$mode.$sc"
			if [ $(( (t_new - t_fault) / 1000000 )) -gt 3000 ] && [ -n "${DRILL_DEBUG:-}" ]; then
				for s in $STORES; do
					mm_log "--- slow drill: $s hb.log and repl.log since the fault"
					awk -v t="$(date -u -d "@$(( t_fault / 1000000000 ))" +%FT%T)" \
						'substr($1, 1, 19) >= t' "$MM_T/$s/hb.log" "$MM_T/$s/repl.log" |
						grep -v "late delivery [0-9]* merged" | head -40 >&2
				done
			fi
			# the RPO window: what got a success before the first
			# delivery on the new active and is not there now
			awk -v t="$t_new" '$1 < t && $3 != "-" {print $3}' "$WLOG" >"$MM_T/acked"
			w=$(missing_on "$new_active" "$MM_T/acked")
			lost_window=$(( lost_window + w ))
			recover "$sc" "$old"
			writer_stop
			# everything converges, nothing is lost
			mm_wait_for 60 all_agree || mm_fail "[$mode $sc $i] no agreement after recovery"
			now=$(active_of $STORES)
			mm_wait_converged 60 "$ACCT" $STORES ||
				mm_fail "[$mode $sc $i] stores did not converge after recovery"
			awk '$3 != "-" {print $3}' "$WLOG" >"$MM_T/acked"
			a=$(missing_on "$now" "$MM_T/acked")
			lost_after=$(( lost_after + a ))
			mm_log "[$mode $sc $i] $old -> $new_active in $(tail -n 1 "$MM_T/rto.$mode.$sc") ms;" \
				"$(wc -l <"$MM_T/acked") delivered, $w missing at failover, $a after recovery (active now $now)"
		done
		SUMMARY[$mode.$sc]="$(pct 50 "$MM_T/rto.$mode.$sc") $(pct 99 "$MM_T/rto.$mode.$sc") $lost_window $lost_after"
	done
done
netns_cluster_stop

echo
echo "Failover drills, $DRILLS per scenario: fault to first successful delivery on the new active"
printf '%-6s %-10s %8s %8s %16s %16s\n' mode scenario "p50 ms" "p99 ms" "lost(window)" "lost(after)"
met=MET
for mode in $MODES; do
	for sc in $SCENARIOS; do
		read -r p50 p99 lw la <<<"${SUMMARY[$mode.$sc]}"
		printf '%-6s %-10s %8s %8s %16s %16s\n' "$mode" "$sc" "$p50" "$p99" "$lw" "$la"
		[ "$p99" -lt 3000 ] 2>/dev/null || met=MISS
		[ "$la" = 0 ] || met=MISS
		[ "$mode" != sync ] || [ "$lw" = 0 ] || met=MISS
	done
done
echo "Target: p99 under 3 s, no acknowledged message lost in sync mode: $met"
mm_finish
