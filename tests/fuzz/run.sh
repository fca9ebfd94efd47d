#!/bin/bash
# Runs the recording reader's fuzzer for SECONDS (default 600), seeded with
# the sample recording test_rec writes and its prefixes. `make fuzz` runs
# it; the suite runs it briefly (tests/e2e/fuzz_rec.sh).
set -eu
secs=${1:-600}
build=${VT_BUILD:-$(cd "$(dirname "$0")/../.." && pwd)/build}
fuzz=$build/fuzz/fuzz_rec
[ -x "$fuzz" ] && [ -x "$build/tests/test_rec" ] || { echo "missing $fuzz or test_rec: run make test"; exit 1; }
corpus=$(mktemp -d /tmp/vt-fuzz.XXXXXX)
trap 'rm -rf "$corpus"' EXIT
"$build/tests/test_rec" "$corpus/sample.rec" >/dev/null
for n in 16 100 1000 5000; do head -c "$n" "$corpus/sample.rec" >"$corpus/prefix.$n"; done
# one process, bounded memory and time per input: a hang or a balloon fails
"$fuzz" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
	-max_len=32768 -print_final_stats=1 "$corpus" 2>&1 | tail -n 25
