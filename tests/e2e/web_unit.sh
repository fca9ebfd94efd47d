#!/bin/sh
# Unit tests of the dashboard's pure logic (web/model.js) with node's
# built-in test runner.
set -eu
cd "$(dirname "$0")/../.."
if ! command -v node >/dev/null 2>&1; then
	echo "web_unit: node not found; install nodejs (make deps)"
	exit 77
fi
exec node --test tests/web/
