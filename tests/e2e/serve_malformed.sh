#!/bin/bash
# Malformed and hostile clients against the real tracer's server
# (tests/serve/malformed.mjs): garbage bytes, oversized headers and
# targets, bad methods, broken HTTP/2 (truncated preface, bad frames and
# header blocks), clients that connect and send nothing. Each gets 400,
# 405, 414 or 431, or a closed connection; concurrent SSE clients keep
# receiving on time throughout; the tracer is alive and healthy after.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../serve/lib.sh"
need_root
need_bins
need_serve_tools

sim_start "$SIM_SHARED" --workload churn --seed 4 --port 0 || { fail "start valk-sim"; finish; }
tracer_start "$SIM_PID" || { fail "start valk-trace"; finish; }
pass "tracing pid $SIM_PID, serving on port $VT_PORT"
run_client client malformed.mjs --port "$VT_PORT" --pid "$SIM_PID"
# the server went on: plain requests on both protocols still work
for opt in --http1.1 --http2-prior-knowledge; do
	n=$(curl -s "$opt" --max-time 5 "$VT_URL/api/diagnostics/memory" | jq '.slabs | length')
	[ "$n" = 5 ] && pass "curl $opt: /api/diagnostics/memory still served" || fail "curl $opt: /api/diagnostics/memory gave '$n'"
done
tracer_alive "end"
finish
