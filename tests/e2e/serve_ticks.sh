#!/bin/bash
# One event per tick from an idle target: the stand-in runtime's idle
# workload (nothing but its listener and its registry's timers move), both
# SSE dialects over HTTP/1.1 and HTTP/2 (tests/serve/dialects.mjs --idle):
# framing, ids +1, each dialect's deltas applied the way its dashboard
# applies them, at the quiescent point every slot and every figure of the
# runtime's own dashboard equal to the ground truth, and one event per
# tick (50 in a row, ids +1) live and paused. serve_dialects.sh does the
# same under load.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../serve/lib.sh"
need_root
need_bins
need_serve_tools

sim_start_ms=$(date +%s%3N)
sim_start "$SIM_SHARED" --workload idle --port 0 || { fail "start valk-sim"; finish; }
tracer_start "$SIM_PID" || { fail "start valk-trace"; finish; }
pass "tracing idle pid $SIM_PID, serving on port $VT_PORT"

cue=$TMP/cue
node "$SERVE_DIR/dialects.mjs" --port "$VT_PORT" --pid "$SIM_PID" --sim-start "$sim_start_ms" \
	--live "$TMP/live" --cue "$cue" --truth "$SIM_TRUTH" --out "$TMP" --idle >"$TMP/client.out" 2>&1 &
client=$!
PIDS+=("$client")
wait_live "$TMP/live" "$client"	# a live stream of idle ticks, counted
sim_pause || fail "pause valk-sim"
sleep 1.5
touch "$cue"
wait "$client"
client_report client "$TMP/client.out" $?
sim_resume
tracer_alive "end"
finish
