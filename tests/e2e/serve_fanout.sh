#!/bin/bash
# 100 concurrent SSE clients (HTTP/1.1, HTTP/2 one stream per session and
# HTTP/2 multiplexed; both dialects) for 30 s against the real tracer of a
# churn workload (tests/serve/fanout.mjs): every client receives every
# event in order, and all clients of a stream the same events.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../serve/lib.sh"
need_root
need_bins
need_serve_tools

sim_start "$SIM_SHARED" --workload churn --seed 3 --port 0 || { fail "start valk-sim"; finish; }
tracer_start "$SIM_PID" || { fail "start valk-trace"; finish; }
pass "tracing pid $SIM_PID, serving on port $VT_PORT"
rss0=$(rss_kb "$VT_PID")
run_client client fanout.mjs --port "$VT_PORT" --pid "$SIM_PID" --clients 100 --seconds 30
echo "note: tracer RSS ${rss0} kB before, $(rss_kb "$VT_PID") kB after"
if grep -q 'dropping client' "$VT_LOG"; then
	fail "the tracer dropped clients: $(grep 'dropping client' "$VT_LOG" | head -n 3)"
else
	pass "the tracer dropped no client"
fi
tracer_alive "end"
finish
