#!/bin/sh
# Unit tests of the dashboard's pure logic (web/model.js) with node's
# built-in test runner.
# make test-asan runs the suite again sanitized; not this test:
[ -z "${VT_SANITIZED:-}" ] || { echo "skipped under make test-asan: the dashboard's JavaScript under node: nothing sanitized runs"; exit 77; }
set -eu
cd "$(dirname "$0")/../.."
if ! command -v node >/dev/null 2>&1; then
	echo "web_unit: node not found; install nodejs (make deps)"
	exit 77
fi
exec node --test tests/web/
