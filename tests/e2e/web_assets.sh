#!/bin/sh
# The dashboard files built into the binary: compiles vt_web.c and
# vt_web_assets.S the way the Makefile does and runs tests/web/test_web_assets.c.
# make test-asan runs the suite again sanitized; not this test:
[ -z "${VT_SANITIZED:-}" ] || { echo "skipped under make test-asan: it builds with its own flags, as in make test"; exit 77; }
set -eu
cd "$(dirname "$0")/../.."
out="${VT_BUILD:-build}/web-test"
mkdir -p "$out"
CC="${CC:-gcc}"
flags="-O2 -g -Wall -Wextra -Werror -std=gnu11 -D_GNU_SOURCE"
$CC -c -I. userspace/serve/vt_web_assets.S -o "$out/vt_web_assets.o"
$CC $flags -iquote userspace -iquote . -Itests/unit tests/web/test_web_assets.c \
	userspace/serve/vt_web.c "$out/vt_web_assets.o" -o "$out/test_web_assets"
"$out/test_web_assets"
