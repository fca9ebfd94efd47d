#!/bin/bash
# The server's HTTP/1.1 request path, HTTP/2 frames into its session, TLS
# records and sessions (raw, and HTTP/1.1, HTTP/2 and stray records in a
# real client's session), the layout reader and the memory-image decoder
# under libFuzzer (ASan, UBSan),
# 20 s each from their committed corpora: any input is answered or refused,
# never a crash, a hang, a leak or an out-of-bounds access. `make fuzz`
# runs each for 10 minutes.
dir=$(dirname "$0")
# The fuzzers are ASan + UBSan builds in every suite: make test-asan would
# only run the same binaries again.
if [ -n "${VT_SANITIZED:-}" ]; then
	echo "skipped: the fuzzers are sanitized builds already and run in make test"
	exit 77
fi
fails=0
for name in http1 http2 tls layout image; do
	out=$("$dir/../fuzz/run.sh" 20 "$name"); rc=$?
	runs=$(sed -n 's/.*Done \([0-9]*\) runs.*/\1/p' <<<"$out")
	if [ "$rc" -eq 0 ] && [ -n "$runs" ]; then
		echo "ok: fuzz_$name ran $runs inputs without a finding"
	else
		echo "$out"; echo "FAIL: fuzz_$name exit $rc"; fails=$((fails + 1))
	fi
done
[ "$fails" -eq 0 ]
