#!/bin/sh
# End-to-end dashboard test: valk-sim traced by valk-trace, the page in
# chromium against valk-sim's exact state (tests/browser/dashboard.mjs).
# Skips unless root with chromium and tests/browser/node_modules.
set -eu
cd "$(dirname "$0")/../.."
if ! command -v node >/dev/null 2>&1; then
	echo "browser_dashboard: node not found; install nodejs (make deps)"
	exit 77
fi
exec node tests/browser/dashboard.mjs
