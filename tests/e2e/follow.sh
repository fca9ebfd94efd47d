#!/bin/bash
# attach --follow NAME, as the systemd unit runs it: the tracer waits for
# a valk process of that name, traces it exactly, keeps serving (healthz
# 503, an empty state) when it exits, and traces the runtime restarted
# under a new pid exactly again — one tracer, one port, both pids. While
# it waits, --duration and a signal end it.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../serve/lib.sh"
need_root
need_bins
need_serve_tools
name=vtf$$$RANDOM
cp "$SIM_STATIC" "$TMP/$name"
port=$(free_port)
url=http://127.0.0.1:$port
log=$TMP/tracer.log
health() { curl -s -o /dev/null -w '%{http_code}' "$url/healthz"; }
wait_log() {  # wait_log REGEX: up to 10 s for the tracer to say it
	for _ in $(seq 1 100); do grep -q "$1" "$log" && return 0; sleep 0.1; done
	return 1
}

# Waiting for a name that never comes: --duration still ends it, and a
# signal says there was nothing to detach from.
timeout 120 "$VT" attach --follow "none$name" --listen none --duration 1 2>"$TMP/wait.log"; rc=$?
[ "$rc" -eq 0 ] && grep -q "^valk-trace: --duration over while waiting for a valk process named none$name$" "$TMP/wait.log" &&
	! grep -q "left as it was" "$TMP/wait.log" && pass "waiting, --duration 1: ends, exit 0" ||
	fail "waiting with --duration: exit $rc, $(cat "$TMP/wait.log")"
"$VT" attach --follow "none$name" --listen none 2>"$TMP/wait.log" &
waiter=$!
PIDS+=("$waiter")
for _ in $(seq 1 100); do grep -q "waiting for" "$TMP/wait.log" && break; sleep 0.1; done
kill -INT "$waiter"; wait "$waiter"; rc=$?
[ "$rc" -eq 0 ] && grep -q "^valk-trace: interrupted while waiting for a valk process named none$name$" "$TMP/wait.log" &&
	! grep -q "left as it was" "$TMP/wait.log" && pass "waiting, SIGINT: exit 0, nothing said detached" ||
	fail "waiting, SIGINT: exit $rc, $(cat "$TMP/wait.log")"

"$VT" attach --follow "$name" --listen "127.0.0.1:$port" --json "$TMP/final.json" 2>"$log" &
tracer=$!
PIDS+=("$tracer")
wait_log "serving http" && wait_log "waiting for a valk process named $name" &&
	[ "$(health)" = 503 ] && pass "no $name yet: serving, waiting, healthz 503" ||
	{ fail "before the runtime: $(cat "$log") healthz $(health)"; finish; }

# traced, then checked against the runtime's truth: every slab, slot by slot
traced_exactly() {  # LABEL
	wait_log "attached to pid $SIM_PID " || { fail "$1: not attached to $SIM_PID: $(tail -n 3 "$log")"; return; }
	sleep 2
	sim_pause || { fail "$1: pause"; return; }
	sleep 2.5	# hybrid repairs only what it saw twice, a second apart
	curl -s "$url/api/diagnostics/memory" >"$TMP/doc.json"
	jq -e ".target.pid == $SIM_PID" "$TMP/doc.json" >/dev/null && pass "$1: serving pid $SIM_PID" ||
		fail "$1: pid $(jq .target.pid "$TMP/doc.json")"
	compare "$SIM_TRUTH" "$TMP/doc.json" "$1"
	grep -q "^valk_slab_slots{pid=\"$SIM_PID\"" <(curl -s "$url/metrics") && pass "$1: /metrics labelled pid $SIM_PID" ||
		fail "$1: /metrics"
	[ "$(health)" = 200 ] && pass "$1: healthz 200" || fail "$1: healthz $(health)"
	sim_resume
}

sim_start "$TMP/$name" --workload churn --seed 3 --port 0 || { fail "start $name"; finish; }
first=$SIM_PID
traced_exactly "first runtime"

kill -KILL "$first"; wait "$first" 2>/dev/null
wait_log "target $first exited; waiting for the next valk process named $name" &&
	kill -0 "$tracer" 2>/dev/null && [ "$(health)" = 503 ] &&
	jq -e '.slabs | length == 0' <(curl -s "$url/api/diagnostics/memory") >/dev/null &&
	pass "runtime killed: the tracer stays, empty state, healthz 503" ||
	fail "after the kill: $(tail -n 2 "$log"), healthz $(health)"

sim_start "$TMP/$name" --workload churn --seed 5 --port 0 --systems 2 || { fail "restart $name"; finish; }
[ "$SIM_PID" != "$first" ] || fail "the restart has the same pid"
traced_exactly "restarted runtime, pid $SIM_PID"

kill -TERM "$tracer"
wait "$tracer"; rc=$?
[ "$rc" -eq 0 ] && jq -e ".target.pid == $SIM_PID" "$TMP/final.json" >/dev/null &&
	pass "SIGTERM: exit 0, final --json of pid $SIM_PID" || fail "end: exit $rc, $(head -c 200 "$TMP/final.json")"
finish
