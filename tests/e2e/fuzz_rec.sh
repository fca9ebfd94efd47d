#!/bin/bash
# The recording reader under libFuzzer (ASan, UBSan) for 30 s: any bytes
# read as a recording give an error or a state, never a crash, a hang or
# an out-of-bounds read. `make fuzz` runs it for 10 minutes.
dir=$(dirname "$0")
# The fuzzers are ASan + UBSan builds in every suite: make test-asan would
# only run the same binaries again.
if [ -n "${VT_SANITIZED:-}" ]; then
	echo "skipped: the fuzzers are sanitized builds already and run in make test"
	exit 77
fi
out=$("$dir/../fuzz/run.sh" 30 rec); rc=$?
echo "$out"
[ "$rc" -eq 0 ] && grep -q "Done [0-9]* runs" <<<"$out" || { echo "FAIL: fuzzer exit $rc"; exit 1; }
echo "ok: fuzzer ran $(sed -n 's/.*Done \([0-9]*\) runs.*/\1/p' <<<"$out") inputs without a finding"
