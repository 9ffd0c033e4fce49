#!/bin/bash
# SPDX-License-Identifier: MIT
# placement.sh - mailmeshctl placement on a configured cluster (the accounts
# of the store, [account] overrides, one account, JSON) and --simulate,
# which needs no configuration. No mount: placement only reads directories.
. "$(dirname "$0")/lib.sh"

command -v jq >/dev/null || mm_skip "jq missing (apt-get install jq)"
[ -x "$MM_CTL" ] || mm_fail "$MM_CTL not built"
MM_T=$(mktemp -d /var/tmp/mmtest.XXXXXX)
S=$MM_T/store
mkdir -p "$S"/example.org/{alice,bob,carol,vip1} "$S"/spam.example/x "$S"/other.net/dave \
	"$S"/example.org/.hidden "$MM_T/state"
touch "$S/example.org/notes"
CONF=$MM_T/cluster.ini
# one file for the whole cluster: the store is one of its own [peer]s
cat >"$CONF" <<INI
[node]
name = mx1
store = $S
state = $MM_T/state
mount = $MM_T/mnt
[hbmon]
replicas = 1
[peer mx1]
address = 127.0.0.1:7001
[peer mx2]
address = 127.0.0.1:7002
[peer mx3]
address = 127.0.0.1:7003
[account example.org/vip*]
replicas = mx1, mx3
[account spam.example/*]
replicate = no
INI
ctl() { "$MM_CTL" -c "$CONF" "$@"; }

mm_log "the table, as JSON"
j=$(ctl placement --json) || mm_fail "placement --json failed"
mm_assert_eq "$(jq -c .members <<<"$j")" '["mx1","mx2","mx3"]' "members"
mm_assert_eq "$(jq -r '[.accounts[].account] | join(" ")' <<<"$j")" \
	"example.org/alice example.org/bob example.org/carol example.org/vip1 other.net/dave spam.example/x" \
	"accounts of the store"
mm_assert_eq "$(jq '[.accounts[] | select(.override == null) | .replicas | length] | unique' -c <<<"$j")" \
	"[1]" "replicas = 1: one replica each"
mm_assert_eq "$(jq -r '.accounts[] | select(.account == "example.org/vip1") | [.active] + .replicas | sort | join(" ")' <<<"$j")" \
	"mx1 mx3" "[account example.org/vip*] replicas = mx1, mx3"
mm_assert_eq "$(jq -c '.accounts[] | select(.account == "spam.example/x") | .replicas' <<<"$j")" \
	"[]" "replicate = no: no replica"
mm_assert_eq "$(jq '[.stores[].active] | add' <<<"$j")" 6 "one active per account"
mm_assert_eq "$(jq '[.stores[].replicas] | add' <<<"$j")" 5 "replicas counted"

mm_log "one account agrees with the table"
one=$(ctl placement --json example.org/alice) || mm_fail "placement ACCOUNT failed"
mm_assert_eq "$(jq -c '.accounts[0] | [.active, .replicas]' <<<"$one")" \
	"$(jq -c '.accounts[] | select(.account == "example.org/alice") | [.active, .replicas]' <<<"$j")" \
	"example.org/alice"
mm_assert_eq "$(jq '.accounts[0].next | length' <<<"$one")" 1 "the store after the list"
text=$(ctl placement example.org/alice)
grep -q "^active    $(jq -r '.accounts[0].active' <<<"$one")\$" <<<"$text" || mm_fail "text: $text"
ctl placement | grep -q "^example.org/vip1 .*\[account example.org/vip\*\]\$" ||
	mm_fail "the text table does not name the override"

mm_log "errors"
rc=0; ctl placement alice 2>/dev/null || rc=$?
mm_assert_eq "$rc" 2 "an account name of the wrong depth"
rc=0; ctl placement --stores 3 2>/dev/null || rc=$?
mm_assert_eq "$rc" 2 "--stores without --simulate"
rc=0; "$MM_CTL" placement 2>/dev/null || rc=$?
mm_assert_eq "$rc" 2 "no configuration and no --simulate"
mv "$S" "$S.away"
rc=0; err=$(ctl placement 2>&1) || rc=$?
mm_assert_eq "$rc" 1 "a store that cannot be read"
mm_assert_eq "$err" "mailmeshctl: placement: opendir($S) failed: No such file or directory" "message"
mv "$S.away" "$S"

mm_log "a name that is not UTF-8 comes with its bytes in hex"
mkdir "$S/example.org/$(printf 'b\xe9d')"
mm_assert_eq "$(ctl placement --json | jq -r '.accounts[] | select(.account_hex) | .account_hex')" \
	"$(printf 'example.org/b\xe9d' | od -An -tx1 | tr -d ' \n')" "account_hex"
rmdir "$S/example.org/$(printf 'b\xe9d')"

mm_log "the simulation, without a configuration"
sim=$("$MM_CTL" placement --simulate --stores 20 --accounts 100000 --fail 3 --seed 2 --json) ||
	mm_fail "placement --simulate failed"
mm_assert_eq "$(jq '.failed | length' <<<"$sim")" 3 "failed stores"
mm_assert_eq "$(jq '.active.receivers' <<<"$sim")" 17 "every survivor takes some actives"
jq -e '.active.after.max_mean <= 1.25' <<<"$sim" >/dev/null ||
	mm_fail "max/mean $(jq .active.after.max_mean <<<"$sim") over 1.25"
mm_assert_eq "$(jq '[.stores[] | select(.failed | not) | .after.active] | add + '"$(jq .lost <<<"$sim")" <<<"$sim")" \
	100000 "every account served once, or lost"
again=$("$MM_CTL" placement --simulate --stores 20 --accounts 100000 --fail 3 --seed 2 --json)
mm_assert_eq "$(jq -c 'del(.elapsed_ms)' <<<"$again")" "$(jq -c 'del(.elapsed_ms)' <<<"$sim")" \
	"the same seed, the same result"
# with -c, [hbmon] replicas is the default
mm_assert_eq "$(ctl placement --simulate --stores 5 --accounts 10 --fail 0 --json | jq .settings.replicas)" \
	1 "--replicas from [hbmon]"
rc=0; "$MM_CTL" placement --simulate --fail 20 2>/dev/null || rc=$?
mm_assert_eq "$rc" 2 "failing every store"
mm_log "PASS"
