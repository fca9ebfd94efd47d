#!/bin/bash
# The tracer's state equals the stand-in runtime's ground truth, slot by
# slot, at quiescent points: for every mode, both builds (shared library
# with an out-of-line release, static PIE with release inlined into
# release_ptr) and the churn, leak and http workloads. The tracer attaches
# while the workload runs, so the bootstrap of slots already in use is
# checked too; `snapshot` is checked against a paused target.
. "$(dirname "$0")/../lib/common.sh"
need_root
need_bins
command -v h2load >/dev/null || skip "h2load missing (apt-get install nghttp2-client)"

load_start() {
	[ "$1" = http ] || return 0
	# bounded client load: streams on a few connections, some kept idle
	timeout 20 h2load -n 100000 -c 6 -m 2 --rps 40 "http://127.0.0.1:$SIM_PORT/" >/dev/null 2>&1 &
	PIDS+=($!)
}

run_case() {
	local build=$1 workload=$2 mode=$3 bin label tracer
	bin=$(sim_bin "$build")
	label="$build/$workload/$mode"
	# two AIO systems in one process for the synthetic workloads
	sim_start "$bin" --workload "$workload" --seed 7 --port 0 \
		$([ "$workload" = http ] || echo --systems 2) || { fail "$label: start"; return; }
	load_start "$workload"
	sleep 0.5
	rm -f "$TMP/tracer.err"	# the last case's says attached
	"$VT" attach "$SIM_PID" --mode "$mode" --listen none --json "$TMP/trace.json" \
		2>"$TMP/tracer.err" &
	tracer=$!
	PIDS+=("$tracer")
	wait_attached "$tracer" "$TMP/tracer.err" ||
		{ fail "$label: tracer did not attach: $(cat "$TMP/tracer.err")"; kill "$SIM_PID"; return; }
	sleep 1.5	# traced while busy
	sim_pause || { fail "$label: pause"; return; }
	"$VT" snapshot "$SIM_PID" --mode "$mode" >"$TMP/snap.json" 2>"$TMP/snap.err" ||
		{ fail "$label: snapshot exit $?: $(cat "$TMP/snap.err")"; }
	# hybrid repairs a drift only after seeing it twice, a second apart
	sleep 2.5
	kill -INT "$tracer"
	wait "$tracer" || fail "$label: tracer exit $?: $(tail -n 3 "$TMP/tracer.err")"
	compare "$SIM_TRUTH" "$TMP/trace.json" "$label attach"
	compare "$SIM_TRUTH" "$TMP/snap.json" "$label snapshot"
	jq -e '.tracer.lost == 0' "$TMP/trace.json" >/dev/null ||
		echo "note: $label lost $(jq .tracer.lost "$TMP/trace.json") events"
	sim_resume
	kill "$SIM_PID"; wait "$SIM_PID" 2>/dev/null
}

run_build() {
	local workload mode
	for workload in ${VT_WORKLOADS:-churn leak http}; do
		for mode in ${VT_MODES:-hybrid events sample}; do
			run_case "$1" "$workload" "$mode"
		done
	done
}

# the builds at once, each its own targets and tracers
in_parallel run_build ${VT_BUILDS:-$SIM_BUILDS}
finish
