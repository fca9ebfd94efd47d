#!/bin/sh
# Time travel in chromium against a recording of a live trace
# (tests/browser/timetravel.mjs). Skips unless root with chromium and
# tests/browser/node_modules.
set -eu
cd "$(dirname "$0")/../.."
if ! command -v node >/dev/null 2>&1; then
	echo "browser_timetravel: node not found; install nodejs (make deps)"
	exit 77
fi
exec node tests/browser/timetravel.mjs
