#!/bin/sh
# Install the Debian packages valk-trace needs to build and test; a no-op
# when they are all present. Run as root.
set -eu
PKGS="make gcc clang llvm libclang-rt-14-dev libbpf-dev bpftool libelf-dev zlib1g-dev libuv1-dev
libnghttp2-dev libjansson-dev libdw-dev libhttp-parser-dev libcapstone-dev libssl-dev openssl pkg-config gdb
curl nghttp2-client prometheus chromium iproute2 procps jq libxml2-utils dpkg-dev lintian man-db
python3 bpftrace gnuplot-nox valgrind"
missing=""
# Node.js may come from another Debian source that bundles npm: ask for
# Debian's packages only when the commands are missing.
command -v node >/dev/null 2>&1 || missing="$missing nodejs"
command -v npm >/dev/null 2>&1 || missing="$missing npm"
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
		missing="$missing $p"
done
if [ -n "$missing" ]; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "deps: missing packages:$missing; run as root (make deps, or sudo make deps)" >&2
		exit 2
	fi
	echo "deps: installing$missing"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing
fi
# playwright-core drives Debian's chromium in the dashboard tests.
if [ ! -d tests/browser/node_modules/playwright-core ] && [ -f tests/browser/package.json ]; then
	(cd tests/browser && npm install --no-audit --no-fund --silent)
fi
