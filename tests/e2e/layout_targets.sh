#!/bin/bash
# Targets whose runtime is not simply at the path /proc/<pid>/maps names:
# the executable or libvalkyria.so deleted after start, the executable
# replaced on disk by another file, and a target in its own mount namespace
# whose file we cannot see. `ps` must list each, and events mode (uprobes
# alone) must reproduce the ground truth exactly, which it only does if the
# probes went to the file the target really runs.
. "$(dirname "$0")/../lib/common.sh"
need_root
need_bins

# trace_case LABEL: ps, attach in events mode, compare, stop the target.
trace_case() {
	local label=$1 tracer
	"$VT" ps >"$TMP/ps.txt" 2>&1
	if grep -q "^$SIM_PID " "$TMP/ps.txt"; then
		pass "$label: listed by ps"
	else
		fail "$label: not listed by ps: $(head -c 300 "$TMP/ps.txt")"
	fi
	"$VT" attach "$SIM_PID" --mode events --listen none --json "$TMP/trace.json" \
		2>"$TMP/tracer.err" &
	tracer=$!
	PIDS+=("$tracer")
	wait_attached "$tracer" "$TMP/tracer.err" || fail "$label: tracer did not attach: $(cat "$TMP/tracer.err")"
	sleep 1.5	# traced while busy
	sim_pause || { fail "$label: pause"; return; }
	sleep 1
	kill -INT "$tracer"
	wait "$tracer" || fail "$label: tracer exit $?: $(tail -n 3 "$TMP/tracer.err")"
	compare "$SIM_TRUTH" "$TMP/trace.json" "$label"
	sim_resume
	kill "$SIM_PID"
	wait "$SIM_PID" 2>/dev/null
}

run=(--workload churn --seed 7 --port 0)

# case_run CASE: starts the target CASE names and traces it.
case_run() {
	case $1 in
	deleted)	# the static build, deleted after start
		mkdir "$TMP/deleted"
		cp "$SIM_STATIC" "$TMP/deleted/valk-sim-static"
		sim_start "$TMP/deleted/valk-sim-static" "${run[@]}" || { fail "deleted exe: start"; return; }
		rm "$TMP/deleted/valk-sim-static"
		trace_case "deleted executable" ;;
	replaced)	# the static build, replaced on disk by another ELF file
		mkdir "$TMP/replaced"
		cp "$SIM_STATIC" "$TMP/replaced/valk-sim-static"
		sim_start "$TMP/replaced/valk-sim-static" "${run[@]}" || { fail "replaced exe: start"; return; }
		cp "$SIM_SHARED" "$TMP/replaced/new" && mv "$TMP/replaced/new" "$TMP/replaced/valk-sim-static"
		trace_case "replaced executable" ;;
	library)	# the shared build, its library deleted after start (a package upgrade)
		mkdir "$TMP/lib"
		cp "$SIM_SHARED" "$(dirname "$SIM_SHARED")/libvalkyria.so" "$TMP/lib/"
		LD_LIBRARY_PATH=$TMP/lib sim_start "$TMP/lib/valk-sim" "${run[@]}" || { fail "deleted library: start"; return; }
		grep -q "$TMP/lib/libvalkyria.so" "/proc/$SIM_PID/maps" || fail "deleted library: the copy is not the one mapped"
		rm "$TMP/lib/libvalkyria.so"
		trace_case "deleted library" ;;
	namespace)	# the static build in its own mount namespace, from a
			# tmpfs only it sees; ours has another file at the path
		mkdir "$TMP/ns"
		cp "$SIM_SHARED" "$TMP/ns/valk-sim-static"
		if unshare -m true 2>/dev/null; then
			sim_start unshare -m sh -c 'd=$0 && mount -t tmpfs vt "$d" && cp "$1" "$d/" &&
				shift && exec "$d/valk-sim-static" "$@"' "$TMP/ns" "$SIM_STATIC" "${run[@]}" ||
				{ fail "mount namespace: start"; return; }
			trace_case "other mount namespace"
		else
			echo "note: unshare -m unavailable, mount namespace case not run"
		fi ;;
	esac
}

# the cases at once, each its own target and tracer
in_parallel case_run deleted replaced library namespace
finish
