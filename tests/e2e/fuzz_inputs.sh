#!/bin/bash
# The server's HTTP/1.1 request path, HTTP/2 frames into its session, TLS
# records and sessions (raw, and HTTP/1.1, HTTP/2 and stray records in a
# real client's session), the layout reader, the memory-image decoder and
# the reader of the runtime's own figures under libFuzzer (ASan, UBSan),
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
tmp=$(mktemp -d /tmp/vt-fuzz-inputs.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
# as many at once as there are cores: each fuzzer one process on a core
# of its own, as when they run one after the other on an idle machine
names=(http1 http2 tls layout image figures)
running=0
for name in "${names[@]}"; do
	[ "$running" -lt "$(nproc)" ] || { wait -n; running=$((running - 1)); }
	{ "$dir/../fuzz/run.sh" 20 "$name" >"$tmp/$name.out"; echo $? >"$tmp/$name.rc"; } &
	running=$((running + 1))
done
wait
fails=0
for name in "${names[@]}"; do
	rc=$(cat "$tmp/$name.rc")
	runs=$(sed -n 's/.*Done \([0-9]*\) runs.*/\1/p' "$tmp/$name.out")
	if [ "$rc" -eq 0 ] && [ -n "$runs" ]; then
		echo "ok: fuzz_$name ran $runs inputs without a finding"
	else
		cat "$tmp/$name.out"; echo "FAIL: fuzz_$name exit $rc"; fails=$((fails + 1))
	fi
done
[ "$fails" -eq 0 ]
