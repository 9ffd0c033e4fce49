#!/bin/bash
# SPDX-License-Identifier: MIT
# test.sh - the README's test command: installs what is needed, builds,
# runs the whole suite, then again under AddressSanitizer and
# UndefinedBehaviorSanitizer, then make distcheck (unit tests only).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/deps.sh"
[ "$(id -u)" = 0 ] || { echo "test.sh: run as root (FUSE mounts, Dovecot, Postfix)" >&2; exit 1; }

mm_install_deps
start=$(date +%s)

show_failures() {
	for f in "$1"/tests/*/*.log; do
		grep -qE ':test-result: (FAIL|ERROR)' "${f%.log}.trs" 2>/dev/null || continue
		echo "---- $f"
		tail -n 60 "$f"
	done
}

echo "== build and make check"
mm_build "$top/build"
make -j2 check || { show_failures "$top/build"; exit 1; }

echo "== make check under AddressSanitizer and UndefinedBehaviorSanitizer"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
mm_build "$top/build-sanitizers" --enable-sanitizers
make -j2 check || { show_failures "$top/build-sanitizers"; exit 1; }
# Criterion reports a leak found in a test's worker as a warning and
# still passes the test: the logs say it
if bad=$(grep -l -E "ERROR: (LeakSanitizer|AddressSanitizer)|runtime error:" \
	"$top"/build-sanitizers/tests/*/*.log); then
	for f in $bad; do echo "---- $f"; grep -A 30 -E "ERROR: |runtime error:" "$f" | head -60; done
	echo "a sanitizer reported errors in the logs above"
	exit 1
fi
unset ASAN_OPTIONS UBSAN_OPTIONS

# libFuzzer needs clang; the decoder faces the network, so CI always runs it
fuzz_s=${MM_FUZZ_SECONDS:-60}
echo "== fuzz the replication frame decoder for $fuzz_s s (tests/fuzz/fuzz-wire.c)"
fz=$top/build/fuzz
mkdir -p "$fz/corpus"
clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	-D_GNU_SOURCE -I"$top/lib" "$top/lib/wire.c" "$top/lib/buf.c" "$top/lib/mem.c" \
	"$top/lib/log.c" "$top/tests/fuzz/fuzz-wire.c" -lzstd -lxxhash -o "$fz/fuzz-wire"
( cd "$fz" && ./fuzz-wire -max_total_time="$fuzz_s" -print_final_stats=1 corpus \
	>fuzz.log 2>&1 ) || { tail -n 60 "$fz/fuzz.log"; echo "fuzz-wire found a crash"; exit 1; }
fuzz_runs=$(awk '/stat::number_of_executed_units/ { print $2 }' "$fz/fuzz.log")
echo "fuzz-wire: $fuzz_runs inputs, no crash"

echo "== make distcheck (unit tests)"
cd "$top/build"
make -j2 distcheck TESTS='$(UNIT_TESTS)' >/dev/null || { echo "distcheck failed"; exit 1; }

# one plain summary line for CI: both runs of make check together
count() { awk -v k="$1" '$1 == "#" && $2 == k":" { n += $3 } END { print n + 0 }' \
	"$top/build/test-suite.log" "$top/build-sanitizers/test-suite.log"; }
echo "== all tests passed in $(( $(date +%s) - start )) s"
echo "$(count PASS) passed, $(count FAIL) failed, $(count SKIP) skipped; fuzz-wire $fuzz_runs inputs"
