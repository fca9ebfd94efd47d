#!/bin/sh
# The dashboard in chromium over https:// with HTTP/2, live and exact
# (tests/browser/tls.mjs). Skips unless root with chromium and
# tests/browser/node_modules.
set -eu
cd "$(dirname "$0")/../.."
if ! command -v node >/dev/null 2>&1; then
	echo "browser_tls: node not found; install nodejs (make deps)"
	exit 77
fi
exec node tests/browser/tls.mjs
