#!/bin/bash
# A target that exits while its parent does not reap it stays a zombie
# with its start time: the tracer says "exited" (exit 3), not "exec'd",
# in every mode.
. "$(dirname "$0")/../lib/common.sh"
need_root
need_bins
for mode in hybrid events sample; do
	# the shell becomes `sleep`, which never waits for its child
	# files of this mode's own: the last mode's say ready at once
	bash -c "\"$SIM_SHARED\" --workload churn --port 0 >\"$TMP/sim.$mode.out\" 2>&1 & echo \$! >\"$TMP/sim.$mode.pid\"; exec sleep 30" &
	PIDS+=($!)
	for _ in $(seq 1 400); do grep -q ready "$TMP/sim.$mode.out" 2>/dev/null && break; sleep 0.05; done
	pid=$(cat "$TMP/sim.$mode.pid")
	"$VT" attach "$pid" --mode "$mode" --listen none 2>"$TMP/err.$mode" &
	tracer=$!
	wait_attached "$tracer" "$TMP/err.$mode" || fail "$mode: tracer did not attach: $(cat "$TMP/err.$mode")"
	kill -TERM "$pid"
	for _ in $(seq 1 50); do [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" = Z ] && break; sleep 0.1; done
	[ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" = Z ] || fail "$mode: the target is no zombie"
	wait "$tracer"; rc=$?
	if [ "$rc" -eq 3 ] && grep -q "target $pid exited" "$TMP/err.$mode"; then
		pass "$mode: $(tail -n 1 "$TMP/err.$mode")"
	else
		fail "$mode: exit $rc: $(tail -n 2 "$TMP/err.$mode")"
	fi
	kill "${PIDS[-1]}" 2>/dev/null
done
finish
