#!/bin/sh
# The dashboard on 262,144-slot slabs in chromium: both drawn as heat maps
# through 20 updates without page errors (tests/browser/perf.mjs). The
# render time it prints is judged in `make bench`, not here.
set -eu
cd "$(dirname "$0")/../.."
if ! command -v node >/dev/null 2>&1; then
	echo "browser_large: node not found; install nodejs (make deps)"
	exit 77
fi
exec node tests/browser/perf.mjs
