#!/bin/sh
# The dashboard in chromium fed synthetic memory documents through its own
# update function (tests/browser/synthetic.mjs).
set -eu
cd "$(dirname "$0")/../.."
if ! command -v node >/dev/null 2>&1; then
	echo "browser_synthetic: node not found; install nodejs (make deps)"
	exit 77
fi
exec node tests/browser/synthetic.mjs
