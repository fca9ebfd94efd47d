#!/bin/bash
# The slot history route (/api/history/slot, a scan of the history on the
# collector's loop) under a flood: live, 8 clients asking a new slot each
# time get at most about one scan per tick answered and the rest refused
# with 429 and Retry-After, while the memory stream gets every tick
# (tests/serve/slot_flood.py flood); in a replay at its end, the same slot
# asked again and again is answered each time from the answer kept, other
# slots in a row are refused (slot_flood.py same).
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../serve/lib.sh"
need_root
need_bins
need_serve_tools python3

sim_start "$SIM_SHARED" --workload churn --seed 4 --port 0 || { fail "start valk-sim"; finish; }
tracer_start "$SIM_PID" --record "$TMP/churn.rec" || { fail "start valk-trace"; finish; }
sleep 2	# a history of some ticks to scan
python3 "$SERVE_DIR/slot_flood.py" "$VT_PORT" flood >"$TMP/flood.out" 2>&1
client_report live "$TMP/flood.out" $?
tracer_alive "after the flood"
kill -INT "$VT_PID"
wait "$VT_PID" || fail "tracer exit $?: $(tail -n 3 "$VT_LOG")"

"$VT" replay "$TMP/churn.rec" --speed max --listen 127.0.0.1:0 2>"$TMP/replay.err" &
replay=$!
PIDS+=("$replay")
port=$(served_port "$TMP/replay.err" "$replay") || { fail "replay did not serve: $(cat "$TMP/replay.err")"; finish; }
for _ in $(seq 1 100); do grep -q "replay finished" "$TMP/replay.err" && break; sleep 0.05; done
grep -q "replay finished" "$TMP/replay.err" || fail "replay did not finish: $(cat "$TMP/replay.err")"
python3 "$SERVE_DIR/slot_flood.py" "$port" same >"$TMP/same.out" 2>&1
client_report replay "$TMP/same.out" $?
kill -INT "$replay"
wait "$replay" || fail "replay exit $?"
finish
