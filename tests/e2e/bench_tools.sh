#!/bin/sh
# `make bench`'s own programs build against today's sources (they are not
# part of `make all`, so nothing else would notice them break), and
# bench_wire runs: one small slab, every document it times.
[ -z "${VT_SANITIZED:-}" ] || { echo "skipped under make test-asan: the bench's programs, built as make bench builds them"; exit 77; }
set -eu
cd "$(dirname "$0")/../.."
b="${VT_BUILD:-build}"
make -s -f Makefile -f tests/bench/bench.mk BUILD="$b" "$b/bench/bench_wire" "$b/bench/bench_ring"
out=$("$b/bench/bench_wire" 1024 20 all)
for doc in memory valk_full valk_delta_quiet valk_delta_changes memory_delta_quiet \
	memory_delta_changes tick_idle tick_busy rec_keyframe; do
	echo "$out" | grep -q "^doc $doc us " || { echo "FAIL: bench_wire printed no $doc: $out"; exit 1; }
done
echo "ok: bench_wire and bench_ring build; bench_wire times every document"
