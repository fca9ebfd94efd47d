#!/bin/sh
# Dashboard render time for 262,144-slot slabs in chromium; fails above
# 16.7 ms per update (tests/browser/perf.mjs).
set -eu
cd "$(dirname "$0")/../.."
if ! command -v node >/dev/null 2>&1; then
	echo "browser_perf: node not found; install nodejs (make deps)"
	exit 77
fi
exec node tests/browser/perf.mjs
