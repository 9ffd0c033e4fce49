#!/bin/bash
# SPDX-License-Identifier: MIT
# deps.sh - installs what mailmesh needs on Debian 12 (build, tests, demo)
# and builds it in the source tree. Sourced by demo.sh and test.sh.
set -euo pipefail

mm_install_deps() {
	local pkgs=(build-essential autoconf automake pkg-config
		libfuse3-dev fuse3 libzstd-dev libssl-dev libxxhash-dev xxhash
		libinih-dev libjansson-dev libcriterion-dev libevent-dev openssl clang libclang-rt-14-dev
		dovecot-core dovecot-imapd dovecot-lmtpd postfix
		jq python3 util-linux procps rsync iproute2 nftables spin)
	local missing=()
	for p in "${pkgs[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
			missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	echo "installing: ${missing[*]}"
	# Postfix asks how to configure itself: a bare install, we use
	# private configurations only
	echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# mm_build DIR [configure flags...]: autotools build in DIR (out of tree,
# so a plain and a sanitizer build can live side by side).
mm_build() {
	local top dir=$1
	shift
	top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
	(cd "$top" && { [ -x configure ] && [ configure -nt configure.ac ] &&
		[ Makefile.in -nt Makefile.am ]; } || autoreconf -fi >/dev/null 2>&1)
	mkdir -p "$dir"
	cd "$dir"
	if [ ! -f Makefile ] || [ "$top/configure" -nt config.status ]; then
		"$top/configure" -q "$@"
	fi
	make -j"$(nproc)" >/dev/null
}
