# Helpers for the serving tests (tests/e2e/serve_*.sh), sourced after
# tests/lib/common.sh.
SERVE_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

need_serve_tools() {
	local t
	for t in curl jq node "$@"; do
		command -v "$t" >/dev/null || skip "$t missing (make deps)"
	done
}

# tracer_start PID [ATTACH OPTIONS...]: traces PID serving on a free
# loopback port; sets VT_PID, VT_PORT, VT_URL (no trailing slash), VT_LOG.
tracer_start() {
	local pid=$1
	shift
	VT_LOG=$TMP/tracer.$pid.log
	: >"$VT_LOG"	# emptied now: a tracer before on this pid said 'serving'
	"$VT" attach "$pid" --listen 127.0.0.1:0 "$@" 2>"$VT_LOG" &
	VT_PID=$!
	PIDS+=("$VT_PID")
	for _ in $(seq 1 100); do
		grep -q 'serving http' "$VT_LOG" 2>/dev/null && break
		kill -0 "$VT_PID" 2>/dev/null || break
		sleep 0.05
	done
	VT_PORT=$(sed -n 's|.*serving http://127\.0\.0\.1:\([0-9]*\)/.*|\1|p' "$VT_LOG")
	if [ -z "$VT_PORT" ]; then
		cat "$VT_LOG"
		echo "valk-trace did not start serving"
		return 1
	fi
	VT_URL=http://127.0.0.1:$VT_PORT
}

# wait_live FILE PID: until the client PID has written FILE (its streams
# are live) or ended; 90 s at most, a bound for a loaded machine.
wait_live() {
	for _ in $(seq 1 900); do
		[ -e "$1" ] && return 0
		kill -0 "$2" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

# A free loopback TCP port.
free_port() {
	node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); })'
}

# run_client LABEL SCRIPT ARGS...: runs a node client of tests/serve in the
# foreground; its ok/FAIL lines count as this test's.
run_client() {
	local label=$1 out=$TMP/client.$RANDOM.out rc
	shift
	node "$SERVE_DIR/$1" "${@:2}" >"$out" 2>&1
	rc=$?
	client_report "$label" "$out" "$rc"
}

# client_report LABEL OUTPUT RC: relays a finished client's lines.
client_report() {
	local label=$1 out=$2 rc=$3 n
	sed "s/^\(ok\|FAIL\): /\1: $label: /" "$out"
	n=$(grep -c '^FAIL' "$out")
	FAILS=$((FAILS + n))
	if [ "$rc" -ne 0 ] && [ "$n" -eq 0 ]; then
		fail "$label: client exited $rc"
	fi
}

# rss_kb PID: resident set size in KiB
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }

# tracer_alive: the tracer is still running and /healthz says ok
tracer_alive() {
	local label=$1 body
	if ! kill -0 "$VT_PID" 2>/dev/null; then
		fail "$label: the tracer died: $(tail -n 3 "$VT_LOG")"
		return
	fi
	body=$(curl -s --max-time 5 -w ' %{http_code}' "$VT_URL/healthz")
	[ "$body" = "ok
 200" ] && pass "$label: tracer alive, /healthz 200 ok" ||
		fail "$label: /healthz answered '$body'"
}

# h2load_bounded SECONDS ARGS...: background h2load load against the
# target, killed after SECONDS at the latest.
h2load_bounded() {
	local secs=$1
	shift
	timeout "$secs" h2load "$@" >/dev/null 2>&1 &
	PIDS+=($!)
}
