#!/bin/bash
# Runs libFuzzer targets for SECONDS each (default 600): `run.sh [SECONDS
# [NAME...]]`, NAME among rec, http1, http2, tls, layout, image, figures
# (default all).
# Each starts from a copy of its committed corpus (tests/fuzz/corpus/NAME;
# rec's is the sample recording test_rec writes and its prefixes). `make
# fuzz` runs them; the suite runs them briefly (tests/e2e/fuzz_*.sh).
set -eu
secs=${1:-600}
shift || true
names=${*:-rec http1 http2 tls layout image figures}
here=$(cd "$(dirname "$0")" && pwd)
build=${VT_BUILD:-$here/../../build}
rc=0
for name in $names; do
	fuzz=$build/fuzz/fuzz_$name
	[ -x "$fuzz" ] || { echo "missing $fuzz: run make test"; exit 1; }
	corpus=$(mktemp -d /tmp/vt-fuzz.XXXXXX)
	if [ "$name" = rec ]; then
		[ -x "$build/tests/test_rec" ] || { echo "missing test_rec: run make test"; exit 1; }
		"$build/tests/test_rec" "$corpus/sample.rec" >/dev/null
		for n in 16 100 1000 5000; do head -c "$n" "$corpus/sample.rec" >"$corpus/prefix.$n"; done
	else
		cp "$here/corpus/$name"/* "$corpus/"
	fi
	echo "== fuzz_$name, $secs s"
	# one process, bounded memory and time per input: a hang or a
	# balloon fails; findings land in build/fuzz/NAME-*. The fuzzer's
	# own status decides, and it must have said it finished: a crash,
	# leak or timeout ends it early, without its "Done N runs" line.
	log=$corpus.log
	frc=0
	(cd "$corpus" && "$fuzz" -max_total_time="$secs" -timeout=10 \
		-rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 \
		-artifact_prefix="$build/fuzz/$name-" . >"$log" 2>&1) || frc=$?
	tail -n 25 "$log"
	if [ "$frc" -ne 0 ] || ! grep -q '^Done [0-9]* runs' "$log"; then
		echo "FAIL: fuzz_$name exit $frc (findings: $build/fuzz/$name-*)"
		rc=1
	fi
	rm -rf "$corpus" "$log"
done
exit $rc
