#!/bin/bash
# Resuming and stuck SSE subscribers against the real tracer of a churn
# workload (tests/serve/resume.mjs): Last-Event-ID gets a full state first
# and then continuing ids; clients that stop reading (sockets open) do not
# delay the others, the tracer's RSS stays bounded while they are
# connected, and they are dropped after the 30 s stall limit.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../serve/lib.sh"
need_root
need_bins
need_serve_tools ss

# a large handle slab makes every memory event ~70 KB, so stuck clients
# fill their queues and socket buffers within seconds
sim_start "$SIM_SHARED" --workload churn --seed 5 --port 0 --max-handles 65536 --rate 2000 ||
	{ fail "start valk-sim"; finish; }
# no time-travel history: it grows by design over its first 300 s (about
# 0.3 MB/s here), and the RSS checks are of the stuck clients' queues
tracer_start "$SIM_PID" --history 0 || { fail "start valk-trace"; finish; }
pass "tracing pid $SIM_PID, serving on port $VT_PORT"
size=$(curl -s --max-time 5 "$VT_URL/api/diagnostics/memory" | wc -c)
[ "$size" -gt 65536 ] && pass "memory event size $size bytes" || fail "memory event only $size bytes"

run_client client resume.mjs --port "$VT_PORT" --pid "$SIM_PID" --tracer "$VT_PID" --log "$VT_LOG" --stuck-s 31
tracer_alive "end"
grep 'dropping client' "$VT_LOG" | sed 's/^/note: /'
finish
