#!/bin/bash
# SPDX-License-Identifier: MIT
# mailmesh-maps.sh - keeps front ends pointing every account at its active
# store: writes a Dovecot proxy passdb, a Postfix transport map and an
# HAProxy map from `mailmeshctl status --json` (accounts: active store),
# each through a temporary file and a rename, then reloads what needs it.
#
#   mailmesh-maps.sh -c /etc/mailmesh/node.ini [-o /etc/mailmesh/maps] [--apply]
#
# Run it from [hbmon] on_role_change (it is called as HOOK ACCOUNT ROLE
# EPOCH; the arguments are ignored: every map is rewritten whole, so a
# missed call is repaired by the next), and from a timer on the front-end
# host as a safety net. Store addresses come from the [peer] sections of
# the file (the host part of `address`; this store's own from its
# [replication] listen), with these ports:
#   MM_IMAP_PORT (143) for the Dovecot proxy, MM_LMTP_PORT (24) for Postfix.
# Accounts are "domain/user" (account_depth = 2) and become user@domain.
set -euo pipefail
CONF=/etc/mailmesh/node.ini OUT=/etc/mailmesh/maps APPLY=0
CTL=${MM_CTL:-mailmeshctl}
while [ $# -gt 0 ]; do
	case $1 in
	-c) CONF=$2; shift 2 ;;
	-o) OUT=$2; shift 2 ;;
	--apply) APPLY=1; shift ;;
	*) shift ;;	# ACCOUNT ROLE EPOCH from on_role_change
	esac
done
IMAP_PORT=${MM_IMAP_PORT:-143} LMTP_PORT=${MM_LMTP_PORT:-24}
mkdir -p "$OUT"
status=$("$CTL" -c "$CONF" status --json)
# store name -> host: every [peer NAME] address = HOST:PORT, and this
# store's own name ([node] name) with its [replication] listen host
hosts=$(awk '
	function val(l) { sub(/^[^=]*=[ \t]*/, "", l); sub(/[ \t]*([;#].*)?$/, "", l); return l }
	/^\[/ { sec = $0; p = ""; if (sec ~ /^\[peer /) { p = $2; sub(/\]$/, "", p) } next }
	sec == "[node]" && /^name[ \t]*=/ { self = val($0) }
	sec == "[replication]" && /^listen[ \t]*=/ { l = val($0); sub(/:[0-9]+$/, "", l); selfhost = l }
	p != "" && /^address[ \t]*=/ { a = val($0); sub(/:[0-9]+$/, "", a); print p, a; p = "" }
	END { if (self != "" && selfhost != "") print self, selfhost }' "$CONF")
host_of() { awk -v s="$1" '$1 == s {print $2}' <<<"$hosts"; }

write() {	# FILE: stdin to FILE, atomically
	local tmp
	tmp=$(mktemp "$1.XXXXXX")
	cat >"$tmp"
	chmod 644 "$tmp"
	mv -f "$tmp" "$1"
}

declare -A HOST
while read -r store; do
	[ -n "$store" ] && HOST[$store]=$(host_of "$store")
done < <(jq -r '.accounts[]?.active // empty' <<<"$status" | sort -u)

jq -r '.accounts[]? | select(.active != null) | "\(.account) \(.active)"' <<<"$status" |
while read -r account store; do
	user=${account#*/} domain=${account%%/*}
	host=${HOST[$store]:-}
	[ -n "$host" ] || { echo "mailmesh-maps: no [peer $store] address for $account" >&2; continue; }
	printf '%s@%s %s %s\n' "$user" "$domain" "$store" "$host"
done >"$OUT/.active"

# Dovecot (on the proxy host): passdb { driver = passwd-file; args = $OUT/dovecot-proxy }
awk -v p="$IMAP_PORT" '{printf "%s::::::::proxy=y host=%s port=%s nopassword=y\n", $1, $3, p}' \
	"$OUT/.active" | write "$OUT/dovecot-proxy"
# Postfix: transport_maps = hash:$OUT/postfix-transport
awk -v p="$LMTP_PORT" '{printf "%s lmtp:inet:%s:%s\n", $1, $3, p}' "$OUT/.active" |
	write "$OUT/postfix-transport"
# HAProxy: use_backend %[req.hdr(X-Mail-User),map($OUT/haproxy.map,default)]
awk '{printf "%s %s\n", $1, $2}' "$OUT/.active" | write "$OUT/haproxy.map"
rm -f "$OUT/.active"

if [ "$APPLY" = 1 ]; then
	command -v postmap >/dev/null && postmap "$OUT/postfix-transport"
	# Dovecot rereads passwd-file when it changes; HAProxy reads maps at
	# reload (or push single entries: echo "set map $OUT/haproxy.map K V" |
	# socat stdio /run/haproxy/admin.sock)
	if command -v systemctl >/dev/null && systemctl is-active -q haproxy 2>/dev/null; then
		systemctl reload haproxy
	fi
fi
echo "mailmesh-maps: $(wc -l <"$OUT/haproxy.map") accounts mapped in $OUT"
