#!/bin/sh
# A slab made implausible through /proc/PID/mem while traced, then
# repaired: the dashboard marks it invalid with the reason and drops the
# mark (tests/browser/hostile.mjs). Skips unless root with chromium and
# tests/browser/node_modules.
set -eu
cd "$(dirname "$0")/../.."
if ! command -v node >/dev/null 2>&1; then
	echo "browser_hostile: node not found; install nodejs (make deps)"
	exit 77
fi
exec node tests/browser/hostile.mjs
