#!/bin/bash
# SPDX-License-Identifier: MIT
# check.sh - checks the Promela model in this directory with spin
# (README.md here):
# 1. P1 is proven by exhaustive searches of voter.pml (the lemma L1, for
#    3 stores, 2 stores + witness, each with and without clock drift; pins
#    included); each must complete (hash table, no bitstate, depth below
#    the limit) with no error. Each mutation (a known bug put back) must be
#    found by the same exhaustive search.
# 2. leases.pml (the whole cluster) is searched for P1 with bitstate
#    (supertrace) searches bounded by time: not exhaustive (README.md,
#    "Coverage"). P2 does not hold for the C code's catch-up rule (flaw 5,
#    scenario 9, a known failure), so no search asserts it (-DNO_P2).
#    MM_MODEL_SECONDS: seconds per search (default 20).
# 3. Scripted traces (scenarios.pml) show each mutation violating its
#    property while the real model keeps it.
# Prints states, memory and time of each search.
set -u
here=$(cd "$(dirname "$0")" && pwd)
command -v spin >/dev/null || { echo "SKIP: spin not installed (apt-get install spin)"; exit 77; }
command -v gcc >/dev/null || { echo "SKIP: no C compiler"; exit 77; }
secs=${MM_MODEL_SECONDS:-20}
work=$(mktemp -d "${TMPDIR:-/tmp}/mm-model.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work" || exit 1
fail=0
start=$SECONDS

# build NAME FILE MODE SPIN-FLAGS...: pan for FILE in directory NAME;
# MODE: full (exhaustive) or bitstate
build() {
	local name=$1 file=$2 mode=$3 cflags="-O2 -w -DSAFETY"
	shift 3
	mkdir -p "$name"
	cp "$here"/*.pml "$name/"
	[ "$mode" = bitstate ] && cflags="$cflags -DBITSTATE"
	(
		cd "$name" || exit 1
		nice -n 19 spin -a "$@" "$file" >spin.log 2>&1 || { cat spin.log; exit 1; }
		nice -n 19 gcc $cflags -o pan pan.c || exit 1
	) || { echo "FAIL: $name: spin or gcc failed"; fail=1; return 1; }
}

# figures NAME: errors, states, memory (MB), time from pan's report
figures() {
	local log=$1/pan.log
	errs=$(awk '/errors:/ { print $NF }' "$log" | tail -n 1)
	states=$(awk '/states, stored/ { print $1 }' "$log" | tail -n 1)
	mem=$(awk '/total actual memory usage/ { print $1 }' "$log" | tail -n 1)
	elapsed=$(awk '/elapsed time/ { print $4 }' "$log" | tail -n 1)
	errs=${errs:-?}
}

# prove NAME EXPECT FLAGS...: exhaustive search of voter.pml. EXPECT
# "hold": it must complete with no error; "fail": it must find the error.
prove() {
	local name=$1 expect=$2 depth=4000000
	shift 2
	build "$name" voter.pml full "$@" || return
	# -m: the search depth; a search that reaches it is not complete
	(cd "$name" && nice -n 19 ./pan -m$depth >pan.log 2>&1)
	figures "$name"
	local complete=yes
	grep -q "max search depth too small" "$name/pan.log" && complete=no
	printf '%-26s %-5s errors=%s states=%s memory=%sMB time=%ss complete=%s\n' "$name" \
		"$expect" "$errs" "${states:-?}" "${mem:-?}" "${elapsed:-?}" "$complete"
	if [ "$expect" = hold ] && { [ "$errs" != 0 ] || [ "$complete" = no ]; }; then
		echo "FAIL: $name: not proven:"
		grep -E "violated|too small" "$name/pan.log" | cut -c1-300
		(cd "$name" && nice -n 19 spin -t -p -g "$@" voter.pml 2>&1 | tail -n 60)
		fail=1
	elif [ "$expect" = fail ] && { [ "$errs" = 0 ] || [ "$errs" = "?" ]; }; then
		echo "FAIL: $name: the mutation was not caught"
		fail=1
	fi
}

# search NAME FLAGS...: a bitstate search of leases.pml for $secs seconds
search() {
	local name=$1
	shift
	build "$name" leases.pml bitstate "$@" || return
	# pan stops at the first error; SIGINT after $secs seconds ends a
	# search that found none (pan then prints its statistics)
	(cd "$name" && nice -n 19 timeout -s INT "$secs" ./pan -m20000 -w29 >pan.log 2>&1)
	figures "$name"
	printf '%-26s hold  errors=%s states=%s memory=%sMB time=%ss (bitstate)\n' "$name" \
		"$errs" "${states:-?}" "${mem:-?}" "${elapsed:-?}"
	if [ "$errs" != 0 ]; then
		echo "FAIL: $name: the model has a counterexample:"
		grep -E "violated|wrote" "$name/pan.log" | cut -c1-300
		(cd "$name" && nice -n 19 spin -t -p "$@" leases.pml 2>&1 | tail -n 80)
		fail=1
	fi
}

echo "== P1: the lemma L1 (voter.pml), exhaustive"
prove p1-3stores hold
prove p1-3stores-drift hold -DDRIFT=1
prove p1-witness hold -DWITNESS
prove p1-witness-drift hold -DWITNESS -DDRIFT=1
echo "== P1 mutations, found by the exhaustive search (each must fail)"
prove mut-no-transition fail -DMUT_NO_TRANSITION
prove mut-no-boot fail -DMUT_NO_BOOT
prove mut-no-margin fail -DMARGIN=0 -DDRIFT=1
prove mut-pin-no-transition fail -DMUT_PIN_NO_TRANSITION
prove mut-pin-added-losers fail -DMUT_PIN_ADDED_LOSERS
echo "== C before 0d5a182: prefs read for both views (README.md, flaw 4; must fail)"
prove c-shared-prefs fail -DC_SHARED_PREFS

echo "== the whole cluster (leases.pml), P1: bitstate, ${secs} s each (not exhaustive)"
search cluster-timed -DNO_P3 -DNO_P2 -DMAXLSN=1
search cluster-timed-witness -DNO_P3 -DNO_P2 -DMAXLSN=1 -DWITNESS
search cluster-untimed -DNO_P2 -DUNTIMED -DMAXLSN=1

# scenario N EXPECT FLAGS...: a scripted run (scenarios.pml)
scenario() {
	local n=$1 expect=$2 out got
	shift 2
	out=$(cd "$work" && cp "$here"/*.pml . && nice -n 19 spin -DSCENARIO="$n" -DNO_P3 "$@" \
		leases.pml 2>&1)
	if grep -q "assertion violated" <<<"$out"; then got=violated; else got=holds; fi
	printf 'scenario %s %-40s %s (expected %s)\n' "$n" "${*:-(real model)}" "$got" "$expect"
	[ "$got" = "$expect" ] || { echo "$out" | tail -n 20; fail=1; }
}
echo "== P1 mutations (scripted traces)"
scenario 4 violated -DMUT_NO_TRANSITION
scenario 4 holds
scenario 5 violated -DMUT_NO_BOOT
scenario 5 holds
scenario 6 violated -DMARGIN=0 -DDRIFT=1
scenario 6 holds -DDRIFT=1
scenario 8 violated -DMUT_PIN_NO_TRANSITION
scenario 8 holds
echo "== P2 (README.md, flaw 1; prefs)"
scenario 1 violated -DSPEC_CATCHUP
scenario 1 holds
scenario 2 violated -DSPEC_CATCHUP
scenario 2 holds
scenario 3 holds -DSPEC_CATCHUP
scenario 3 violated -DSPEC_CATCHUP -DMUT_NO_PREFS
scenario 3 holds
scenario 3 holds -DMUT_NO_PREFS
echo "== P2 with C's catch-up (README.md, flaw 5; known failure until hb-lease.c changes)"
scenario 9 violated
echo "== P3 without the wall clock (README.md: epochs rely on the wall clock; spec fix pending)"
out=$(cd "$work" && nice -n 19 spin -DSCENARIO=7 leases.pml 2>&1)
if grep -q "assert((epoch" <<<"$out"; then
	echo "scenario 7 (no wall clock)                  P3 violated (expected violated: known flaw)"
else
	echo "scenario 7: P3 was expected to fail without a wall clock; did the epoch rule change?"
	echo "$out" | tail -n 20
	fail=1
fi

echo "model: $((SECONDS - start)) s"
if [ "$fail" = 0 ]; then echo "model: all checks passed"; fi
exit "$fail"
