#!/bin/bash
# SPDX-License-Identifier: MIT
# check.sh - checks tests/model/leases.pml with spin (README.md here):
# time-bounded searches of the model must find no counterexample, and
# scripted traces (scenarios.pml) must show each mutation (a known bug put
# back) violating its property while the real model keeps it. Prints
# states and time.
#
# The search is a supertrace (bitstate) search, time-bounded: see README.md
# ("Coverage") for why it is not exhaustive and what that means.
# MM_MODEL_SECONDS: seconds per search of the real model (default 30).
set -u
here=$(cd "$(dirname "$0")" && pwd)
command -v spin >/dev/null || { echo "SKIP: spin not installed (apt-get install spin)"; exit 77; }
command -v gcc >/dev/null || { echo "SKIP: no C compiler"; exit 77; }
secs=${MM_MODEL_SECONDS:-30}
work=$(mktemp -d "${TMPDIR:-/tmp}/mm-model.XXXXXX")
trap 'rm -rf "$work"' EXIT
cp "$here/leases.pml" "$here/scenarios.pml" "$work/"
cd "$work" || exit 1
fail=0

# run NAME EXPECT SECONDS DEPTH SPIN-FLAGS...: EXPECT is "hold" or "fail"
run() {
	local name=$1 expect=$2 t=$3 depth=$4
	shift 4
	mkdir -p "$name"
	cp leases.pml scenarios.pml "$name/"
	(
		cd "$name" || exit 1
		nice -n 19 spin -a "$@" leases.pml >spin.log 2>&1 || { cat spin.log; exit 1; }
		# -DSAFETY: safety properties only (assertions); -DBITSTATE: see
		# README.md
		nice -n 19 gcc -O2 -w -DSAFETY -DBITSTATE -o pan pan.c || exit 1
		# pan stops at the first error; SIGINT after $t seconds ends a
		# search that found none (pan then prints its statistics)
		nice -n 19 timeout -s INT "$t" ./pan -m"$depth" -w28 >pan.log 2>&1
		exit 0
	) || { echo "FAIL: $name: spin or gcc failed"; fail=1; return; }
	local errs states elapsed
	errs=$(awk '/errors:/ { print $NF }' "$name/pan.log" | tail -n 1)
	states=$(awk '/states, stored/ { print $1 }' "$name/pan.log" | tail -n 1)
	elapsed=$(awk '/elapsed time/ { print $4 }' "$name/pan.log" | tail -n 1)
	errs=${errs:-?}
	printf '%-24s %-5s errors=%s states=%s time=%ss\n' "$name" "$expect" "$errs" "${states:-?}" "${elapsed:-?}"
	if [ "$expect" = hold ] && [ "$errs" != 0 ]; then
		echo "FAIL: $name: the model has a counterexample:"
		grep -E "violated|wrote" "$name/pan.log" | cut -c1-300
		(cd "$name" && nice -n 19 spin -t -p "$@" leases.pml 2>&1 | tail -n 80)
		fail=1
	elif [ "$expect" = fail ] && { [ "$errs" = 0 ] || [ "$errs" = "?" ]; }; then
		echo "FAIL: $name: the mutation was not caught"
		fail=1
	fi
}

P1="-DLEASE=2 -DCATCHUP=2 -DMAXLSN=0 -DNO_P3 -DANY_HEALTH"
echo "== searches of the real model (bitstate, time-bounded: not exhaustive)"
run p1-3stores hold "$secs" 100000 $P1
run p1-witness hold "$secs" 100000 $P1 -DWITNESS
run p1-drift hold "$secs" 100000 $P1 -DDRIFT=1
run p2-3stores-data hold "$secs" 100000 -DLEASE=2 -DCATCHUP=2 -DMAXLSN=1 -DNO_P3

# scenario N FLAGS...: a scripted run (scenarios.pml); with -DSPEC_CATCHUP
# (the spec as written) P2 must be violated, without it (the fix) not
scenario() {
	local n=$1 expect=$2 out
	shift 2
	out=$(cd "$work" && nice -n 19 spin -DSCENARIO="$n" -DLEASE=2 -DCATCHUP=2 -DMAXLSN=1 -DNO_P3 "$@" \
		leases.pml 2>&1)
	if grep -q "assertion violated" <<<"$out"; then got=violated; else got=holds; fi
	printf 'scenario %s %-32s P2 %s (expected %s)\n' "$n" "${*:-(fixed)}" "$got" "$expect"
	[ "$got" = "$expect" ] || { echo "$out" | tail -n 20; fail=1; }
}
echo "== P1 mutations (scripted traces; each must violate P1, and hold without the mutation)"
sc_p1() { # like scenario, for P1
	local n=$1 expect=$2 out got
	shift 2
	out=$(cd "$work" && nice -n 19 spin -DSCENARIO="$n" -DLEASE=2 -DCATCHUP=2 -DMAXLSN=1 -DNO_P3 "$@" \
		leases.pml 2>&1)
	if grep -q "assertion violated" <<<"$out"; then got=violated; else got=holds; fi
	printf 'scenario %s %-32s P1 %s (expected %s)\n' "$n" "${*:-(real model)}" "$got" "$expect"
	[ "$got" = "$expect" ] || { echo "$out" | tail -n 20; fail=1; }
}
sc_p1 4 violated -DMUT_NO_TRANSITION
sc_p1 4 holds
sc_p1 5 violated -DMUT_NO_BOOT
sc_p1 5 holds
sc_p1 6 violated -DMARGIN=0 -DDRIFT=1
sc_p1 6 holds -DDRIFT=1
echo "== P2 scenarios (README.md, flaw 1)"
cp "$here/scenarios.pml" "$work/"
scenario 1 violated -DSPEC_CATCHUP
scenario 1 holds
scenario 2 violated -DSPEC_CATCHUP
scenario 2 holds
echo "== P2: prefs (scenario 3)"
scenario 3 holds -DSPEC_CATCHUP
scenario 3 violated -DSPEC_CATCHUP -DMUT_NO_PREFS
scenario 3 holds
scenario 3 holds -DMUT_NO_PREFS
echo "== P3 without the wall clock (README.md: epochs rely on the wall clock; spec fix pending)"
out=$(cd "$work" && nice -n 19 spin -DSCENARIO=7 -DLEASE=2 -DCATCHUP=2 -DMAXLSN=1 leases.pml 2>&1)
if grep -q "assert((epoch" <<<"$out"; then
	echo "scenario 7 (no wall clock)                  P3 violated (expected violated: known flaw)"
else
	echo "scenario 7: P3 was expected to fail without a wall clock; did the epoch rule change?"
	echo "$out" | tail -n 20
	fail=1
fi

if [ "$fail" = 0 ]; then echo "model: all checks passed"; fi
exit "$fail"
