#!/bin/bash
# --max-overhead (hybrid): under flat-out slab traffic the per-operation
# slab probes come off the target and the state stays exact from reads;
# once the traffic stops they go back on and the state stays exact; a
# light load stays event-traced; --max-overhead 0 and events mode never
# drop a probe. The decisions are judged by what the tracer reports
# (tracer.overhead, /metrics, which probes count hits), the state by the
# ground truth at each pause.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../serve/lib.sh"
need_root
need_bins
need_serve_tools

doc() { curl -sf "$VT_URL/api/diagnostics/memory" >"$1"; }
overhead() { jq -r ".tracer.overhead.$2" "$1"; }
# hits FILE PREFIX: the hits of the probes named so (an acquire's probe
# is its entry, or its CAS site ":pop")
hits() { jq -r --arg n "$2" '[.tracer.probes[] | select(.name | startswith($n)) | .hits] | add' "$1"; }

# wait_log PATTERN SECONDS: true once the tracer said it
wait_log() {
	for _ in $(seq 1 $(($2 * 10))); do grep -q "$1" "$VT_LOG" && return 0; sleep 0.1; done
	return 1
}

# exact_at_pause LABEL FILE attached|detached: pauses the target, lets
# the tracer settle, compares its state and what it says of the probes
exact_at_pause() {
	sim_pause || fail "$1: pause"
	sleep 1.5
	doc "$2"
	compare "$SIM_TRUTH" "$2" "$1"
	[ "$(overhead "$2" slab_probes)" = "$3" ] && pass "$1: tracer.overhead says slab probes $3" ||
		fail "$1: tracer.overhead: $(jq -c .tracer.overhead "$2")"
}

# 1. flat out: detached, exact from reads; then idle: attached again, exact
sim_start "$SIM_STATIC" --workload churn --seed 3 --port 0 --ops 3000000 --hold || { fail "start"; finish; }
tracer_start "$SIM_PID" || finish
sleep 1
kill -USR2 "$SIM_PID"
if wait_log 'slab operations are read, not probed' 10; then
	pass "flat out: $(grep -o 'probes cost the target [0-9.]*% of its CPU, over the 5% budget' "$VT_LOG")"
else
	fail "flat out: slab probes not detached: $(tail -n 2 "$VT_LOG")"
fi
exact_at_pause "over budget, slabs read" "$TMP/over.json" detached
a=$(hits "$TMP/over.json" uprobe:valk_slab_aquire)
curl -sf "$VT_URL/metrics" | grep -q '^valk_trace_slab_probes_attached{pid="'"$SIM_PID"'"} 0$' &&
	pass "/metrics: valk_trace_slab_probes_attached 0" || fail "/metrics lacks the detached gauge"
sim_resume
for _ in $(seq 1 600); do grep -q 'done ops' "$SIM_OUT" && break; sleep 0.1; done
grep -q 'done ops' "$SIM_OUT" || fail "run did not finish"
if wait_log 'probing slab operations again' 10; then
	pass "idle: $(grep -o 'slab probes would cost [0-9.]*%, within the 5% budget' "$VT_LOG")"
else
	fail "idle: slab probes not re-attached: $(tail -n 2 "$VT_LOG")"
fi
exact_at_pause "back within budget, probed" "$TMP/back.json" attached
[ "$(hits "$TMP/back.json" uprobe:valk_slab_aquire)" = "$a" ] &&
	pass "no acquire hit counted while detached and idle" ||
	fail "acquire hits $a -> $(hits "$TMP/back.json" uprobe:valk_slab_aquire)"
jq -e '.tracer.overhead.hit_us | .nop5 > 0 and .emulated > .nop5 and .stepped > .emulated' "$TMP/back.json" >/dev/null &&
	pass "calibrated: $(jq -c .tracer.overhead.hit_us "$TMP/back.json") us per hit" ||
	fail "calibration: $(jq -c .tracer.overhead.hit_us "$TMP/back.json")"
kill -INT "$VT_PID"; wait "$VT_PID"
sim_resume
kill "$SIM_PID"; wait "$SIM_PID" 2>/dev/null

# 2. a light load stays event-traced
sim_start "$SIM_SHARED" --workload churn --seed 4 --port 0 --rate 100 || { fail "start light"; finish; }
tracer_start "$SIM_PID" || finish
sleep 4
doc "$TMP/light.json"
[ "$(overhead "$TMP/light.json" slab_probes)" = attached ] &&
	jq -e '.tracer.overhead.estimate_pct < 5' "$TMP/light.json" >/dev/null &&
	pass "light load: probed, estimate $(overhead "$TMP/light.json" estimate_pct)%" ||
	fail "light load: $(jq -c .tracer.overhead "$TMP/light.json")"
kill -INT "$VT_PID"; wait "$VT_PID"
kill "$SIM_PID"; wait "$SIM_PID" 2>/dev/null

# 3. no budget, and events mode: every probe stays on under the same load
# and there is no estimate to report
for opts in "--max-overhead 0" "--mode events"; do
	sim_start "$SIM_STATIC" --workload churn --seed 5 --port 0 --ops 3000000 --hold || { fail "start"; finish; }
	tracer_start "$SIM_PID" $opts || finish
	sleep 1
	kill -USR2 "$SIM_PID"
	sleep 3
	doc "$TMP/nolimit.json"
	! grep -q 'slab operations are read' "$VT_LOG" && [ "$(jq .tracer.overhead "$TMP/nolimit.json")" = null ] &&
		pass "$opts: slab probes stay on (acquire hits $(hits "$TMP/nolimit.json" uprobe:valk_slab_aquire))" ||
		fail "$opts: $(tail -n 1 "$VT_LOG")"
	kill -INT "$VT_PID"; wait "$VT_PID"
	kill "$SIM_PID"; wait "$SIM_PID" 2>/dev/null
done

"$VT" attach 1 --max-overhead 200 2>"$TMP/err"; rc=$?
[ "$rc" = 2 ] && [ "$(wc -l <"$TMP/err")" = 1 ] && grep -q 'max-overhead' "$TMP/err" &&
	pass "--max-overhead 200: one line, exit 2" || fail "--max-overhead 200: exit $rc: $(cat "$TMP/err")"
finish
