#!/bin/bash
# SPDX-License-Identifier: MIT
# run-placement-bench.sh - the placement simulation of issue 4: 20 stores,
# 100,000 accounts, 3 stores failed, for a few seeds (each seed fails other
# stores and names the accounts differently). Prints max/mean of the active
# load over the survivors against the target (<= 1.25), and the time taken.
# Touches no store. Run from the top build dir.
#   run-placement-bench.sh [-S "SEEDS"] [--stores N] [--accounts N] [--fail K]
set -eu
MM_BUILDDIR=${MM_BUILDDIR:-$(pwd)}
CTL=${MM_CTL:-$MM_BUILDDIR/fs/mailmeshctl}
SEEDS="1 2 3 4 5" STORES=20 ACCOUNTS=100000 FAIL=3 TARGET=1.25
while [ $# -gt 0 ]; do
	case $1 in
	-S) SEEDS=$2; shift 2 ;;
	--stores) STORES=$2; shift 2 ;;
	--accounts) ACCOUNTS=$2; shift 2 ;;
	--fail) FAIL=$2; shift 2 ;;
	*) echo "usage: $0 [-S \"SEEDS\"] [--stores N] [--accounts N] [--fail K]" >&2; exit 2 ;;
	esac
done
[ -x "$CTL" ] || { echo "$0: $CTL not built (make, or set MM_BUILDDIR)" >&2; exit 1; }
command -v jq >/dev/null || { echo "$0: jq missing (apt-get install jq)" >&2; exit 1; }

echo "placement: $STORES stores, $ACCOUNTS accounts, $FAIL failed, replicas 2;" \
	"target: max/mean active load <= $TARGET over the survivors"
printf '%-5s %-24s %8s %8s %9s %7s %9s %6s %9s %9s\n' seed failed before after \
	replicas moved receivers lost "sim ms" "wall ms"
worst=0 status=MET
for seed in $SEEDS; do
	t0=$(date +%s%N)
	out=$("$CTL" placement --simulate --stores "$STORES" --accounts "$ACCOUNTS" \
		--fail "$FAIL" --replicas 2 --seed "$seed" --json)
	t1=$(date +%s%N)
	wall=$(( (t1 - t0) / 1000000 ))
	line=$(jq -r '[(.failed | join(",")), .active.before.max_mean, .active.after.max_mean,
		.replicas.after.max_mean, .active.moved, .active.receivers, .lost,
		.elapsed_ms] | @tsv' <<<"$out")
	IFS=$'\t' read -r failed before after reps moved recv lost ms <<<"$line"
	printf '%-5s %-24s %8.3f %8.3f %9.3f %7s %9s %6s %9.0f %9s\n' "$seed" "$failed" \
		"$before" "$after" "$reps" "$moved" "$recv/$((STORES - FAIL))" "$lost" "$ms" "$wall"
	worst=$(jq -n --argjson a "$after" --argjson w "$worst" 'if $a > $w then $a else $w end')
	if jq -e -n --argjson a "$after" --argjson t "$TARGET" '$a > $t' >/dev/null; then
		status=MISS
	fi
done
echo "worst max/mean after the failures: $(printf '%.3f' "$worst") (target <= $TARGET): $status"
echo "(before: over all $STORES stores; after: over the $((STORES - FAIL)) survivors;" \
	"replicas: max/mean replica load after; lost: accounts whose every copy was on a failed store)"
