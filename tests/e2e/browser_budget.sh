#!/bin/sh
# The overhead budget on the dashboard: the estimate against the budget in
# the header, each slab event-traced or read as the slab probes come off
# and on again (tests/browser/budget.mjs). Skips unless root with chromium and
# tests/browser/node_modules.
set -eu
cd "$(dirname "$0")/../.."
if ! command -v node >/dev/null 2>&1; then
	echo "browser_budget: node not found; install nodejs (make deps)"
	exit 77
fi
exec node tests/browser/budget.mjs
