#!/bin/bash
# SPDX-License-Identifier: MIT
# demo.sh - the README's main command runs to the end unattended: three
# stores with mailmesh-hbmon on loopback, mail through Dovecot's LDA on each
# account's active store, the same trees on all three, a store killed and
# its account failed over and written on the new active; then "stop"
# leaves no mount, process or file behind.
. "$(dirname "$0")/lib.sh"
mm_require_fuse
command -v jq >/dev/null || mm_skip "jq missing (apt-get install jq)"
[ -x /usr/lib/dovecot/dovecot-lda ] || mm_skip "Dovecot missing"
DEMO=$(mktemp -d /var/tmp/mmtest-demo.XXXXXX)
rmdir "$DEMO"
export MM_DEMO_DIR=$DEMO MM_BUILDDIR
run_stop() { bash "$MM_SRCDIR/scripts/demo.sh" stop >/dev/null 2>&1 || true; }
mm_on_exit run_stop
rc=0
bash "$MM_SRCDIR/scripts/demo.sh" --unattended >"$MM_BUILDDIR/demo.out" 2>&1 </dev/null || rc=$?
OUT=$(cat "$MM_BUILDDIR/demo.out")
[ "$rc" = 0 ] || mm_fail "the demo exited $rc: $(tail -n 20 "$MM_BUILDDIR/demo.out")"
for want in "all three stores hear each other and are ready" \
	"the three stores hold the same messages and metadata files" \
	"read-only on" "failover: example.org/alice moved from" \
	"delivered after the failover"; do
	grep -qF "$want" <<<"$OUT" || mm_fail "no '$want' in the demo's output"
done
ms=$(sed -n 's/^failover: .* in \([0-9]*\) ms$/\1/p' <<<"$OUT")
mm_log "the demo's failover took $ms ms"
[ "$ms" -lt 5000 ] || mm_fail "the demo's failover took $ms ms"
new=$(sed -n 's/^failover: .* to \(s[0-9]\) in .*/\1/p' <<<"$OUT")
ls "$DEMO/$new/store/example.org/alice/Maildir/new/" | grep -q . ||
	mm_fail "no mail for alice on $new"
grep -rqs "Delivered after the failover" "$DEMO/$new/store/example.org/alice/Maildir/new/" ||
	mm_fail "the message delivered after the failover is not on $new"
bash "$MM_SRCDIR/scripts/demo.sh" stop >/dev/null || mm_fail "demo.sh stop failed"
! grep -q " $DEMO/" /proc/mounts || mm_fail "stop left mounts: $(grep " $DEMO/" /proc/mounts)"
! pgrep -f -- "-c $DEMO/" >/dev/null || mm_fail "stop left processes: $(pgrep -af -- "-c $DEMO/")"
[ ! -e "$DEMO" ] || mm_fail "stop left $DEMO"
mm_log "ok"
