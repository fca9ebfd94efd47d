#!/bin/sh
# The dashboard in chromium fed synthetic memory documents through its own
# update function (tests/browser/synthetic.mjs).
# make test-asan runs the suite again sanitized; not this test:
[ -z "${VT_SANITIZED:-}" ] || { echo "skipped under make test-asan: the dashboard served by node: no collector runs"; exit 77; }
set -eu
cd "$(dirname "$0")/../.."
if ! command -v node >/dev/null 2>&1; then
	echo "browser_synthetic: node not found; install nodejs (make deps)"
	exit 77
fi
exec node tests/browser/synthetic.mjs
