#!/bin/sh
# The dashboard on 262,144-slot slabs in chromium: both drawn as heat maps
# through 20 updates without page errors (tests/browser/perf.mjs). The
# render time it prints is judged in `make bench`, not here.
# make test-asan runs the suite again sanitized; not this test:
[ -z "${VT_SANITIZED:-}" ] || { echo "skipped under make test-asan: the dashboard served by node: no collector runs"; exit 77; }
set -eu
cd "$(dirname "$0")/../.."
if ! command -v node >/dev/null 2>&1; then
	echo "browser_large: node not found; install nodejs (make deps)"
	exit 77
fi
exec node tests/browser/perf.mjs
