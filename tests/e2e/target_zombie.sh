#!/bin/bash
# A target that exits while its parent does not reap it stays a zombie
# with its start time: the tracer says "exited" (exit 3), not "exec'd".
. "$(dirname "$0")/../lib/common.sh"
need_root
need_bins
for mode in hybrid sample; do
	# the shell becomes `sleep`, which never waits for its child
	bash -c "\"$SIM_SHARED\" --workload churn --port 0 >\"$TMP/sim.out\" 2>&1 & echo \$! >\"$TMP/sim.pid\"; exec sleep 30" &
	PIDS+=($!)
	for _ in $(seq 1 100); do grep -q ready "$TMP/sim.out" 2>/dev/null && break; sleep 0.05; done
	pid=$(cat "$TMP/sim.pid")
	"$VT" attach "$pid" --mode "$mode" --listen none 2>"$TMP/err" &
	tracer=$!
	sleep 1
	kill -TERM "$pid"
	for _ in $(seq 1 50); do [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" = Z ] && break; sleep 0.1; done
	[ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" = Z ] || fail "$mode: the target is no zombie"
	wait "$tracer"; rc=$?
	if [ "$rc" -eq 3 ] && grep -q "target $pid exited" "$TMP/err"; then
		pass "$mode: $(tail -n 1 "$TMP/err")"
	else
		fail "$mode: exit $rc: $(tail -n 2 "$TMP/err")"
	fi
	kill "${PIDS[-1]}" 2>/dev/null
done
finish
