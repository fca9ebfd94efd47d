#!/bin/bash
# The build stops at once, with a message naming the missing kernel types
# and the fix, on an architecture without a committed vmlinux.h; x86 and
# `make clean` are unaffected.
# make test-asan runs the suite again sanitized; not this test:
[ -z "${VT_SANITIZED:-}" ] || { echo "skipped under make test-asan: make's plan only: nothing built runs"; exit 77; }
. "$(dirname "$0")/../lib/common.sh"
cd "$(dirname "$0")/../.." || exit 1

out=$(make --no-print-directory -n ARCH=arm64 all 2>&1); rc=$?
[ "$rc" -ne 0 ] && pass "ARCH=arm64: make stops (exit $rc)" || fail "ARCH=arm64: make went on"
[[ "$out" == *"x86_64 only"*"ARCH=arm64"*"vmlinux/arm64/vmlinux.h"* ]] &&
	pass "ARCH=arm64: the message names the architecture and the fix" ||
	fail "ARCH=arm64: unclear message: $out"
[ "$(echo "$out" | wc -l)" -eq 1 ] && pass "one line" || fail "more than one line: $out"
make -n ARCH=arm64 clean >/dev/null 2>&1 && pass "ARCH=arm64: make clean still works" ||
	fail "ARCH=arm64: make clean fails"
make -n all >/dev/null 2>&1 && pass "x86: make plans the build" || fail "x86: make -n all fails"
finish
