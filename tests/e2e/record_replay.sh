#!/bin/bash
# A live trace recorded with --record, then replayed: an SSE client of the
# replay receives the same sequence of memory-dialect states, slot by slot
# and field by field (only the stream's own sequence number differs), as
# an SSE client of the live trace did; the replay's last state equals the
# live trace's final state; `info` describes the file. For the churn and
# the http workloads, and `record` writes the same format.
. "$(dirname "$0")/../lib/common.sh"
need_root
need_bins
command -v h2load >/dev/null || skip "h2load missing (apt-get install nghttp2-client)"
command -v curl >/dev/null || skip "curl missing (apt-get install curl)"

port() { echo $((20000 + RANDOM % 20000)); }

# wait_line FILE TEXT: the tracer's cue on stderr
wait_line() {
	for _ in $(seq 1 100); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.05; done
	return 1
}

# states SSE_FILE OUT: each memory event's document without its seq
states() {
	sed -n 's/^data: //p' "$1" | jq -c 'del(.seq)' >"$2"
}

run_case() {
	local workload=$1 p1 p2 tracer replay first n
	sim_start "$SIM_SHARED" --workload "$workload" --seed 11 --port 0 || { fail "$workload: start"; return; }
	[ "$workload" = http ] && {
		timeout 20 h2load -n 100000 -c 6 -m 2 --rps 40 "http://127.0.0.1:$SIM_PORT/" >/dev/null 2>&1 &
		PIDS+=($!)
	}
	p1=$(port)
	"$VT" attach "$SIM_PID" --duration 5 --listen "127.0.0.1:$p1" \
		--record "$TMP/$workload.rec" --json "$TMP/final.json" 2>"$TMP/live.err" &
	tracer=$!
	PIDS+=("$tracer")
	wait_line "$TMP/live.err" serving || { fail "$workload: live tracer did not serve: $(cat "$TMP/live.err")"; return; }
	curl -sN --max-time 7 "http://127.0.0.1:$p1/api/diagnostics/memory/stream" >"$TMP/live.sse" &
	sse=$!
	# the live history (--history, on by default): a past tick's state
	sleep 3
	curl -s "http://127.0.0.1:$p1/api/history" >"$TMP/history.json"
	at=$(jq '.ticks[10]' "$TMP/history.json")
	curl -s "http://127.0.0.1:$p1/api/diagnostics/memory?at=$at" | jq -c 'del(.seq)' >"$TMP/at.json"
	wait "$tracer" || fail "$workload: tracer exit $?: $(tail -n 3 "$TMP/live.err")"
	wait $sse
	grep -q "recording to $TMP/$workload.rec" "$TMP/live.err" || fail "$workload: no 'recording to' line"

	p2=$(port)
	"$VT" replay "$TMP/$workload.rec" --listen "127.0.0.1:$p2" 2>"$TMP/replay.err" &
	replay=$!
	PIDS+=("$replay")
	wait_line "$TMP/replay.err" serving || { fail "$workload: replay did not serve: $(cat "$TMP/replay.err")"; return; }
	curl -sN --max-time 7 "http://127.0.0.1:$p2/api/diagnostics/memory/stream" >"$TMP/replay.sse"
	wait_line "$TMP/replay.err" "replay finished" || fail "$workload: replay did not finish: $(cat "$TMP/replay.err")"
	curl -s "http://127.0.0.1:$p2/api/diagnostics/memory" | jq -c 'del(.seq)' >"$TMP/replay.last"
	kill -INT "$replay"
	wait "$replay" || fail "$workload: replay exit $?"

	states "$TMP/live.sse" "$TMP/live.states"
	states "$TMP/replay.sse" "$TMP/replay.states"
	n=$(wc -l <"$TMP/replay.states")
	[ "$n" -ge 30 ] || { fail "$workload: only $n replayed states"; return; }
	first=$(grep -nxF -f <(head -n 1 "$TMP/replay.states") "$TMP/live.states" | head -n 1 | cut -d: -f1)
	if [ -z "$first" ]; then
		fail "$workload: the replay's first state was never sent live"
		diff <(head -n 1 "$TMP/replay.states" | jq -S .) <(head -n 1 "$TMP/live.states" | jq -S .) | head -20
		return
	fi
	if cmp -s "$TMP/replay.states" <(tail -n "+$first" "$TMP/live.states"); then
		pass "$workload: $n replayed states equal the live ones from state $first on"
	else
		fail "$workload: the replayed sequence differs from the live one"
		diff <(tail -n "+$first" "$TMP/live.states" | jq -c '[.slabs[] | .used]') \
			<(jq -c '[.slabs[] | .used]' "$TMP/replay.states") | head -10
	fi
	[ "$(wc -l <"$TMP/live.states")" -ge $((first + n - 1)) ] || fail "$workload: live stream shorter than the replay"
	if cmp -s "$TMP/replay.last" <(jq -c 'del(.seq)' "$TMP/final.json"); then
		pass "$workload: the replay's last state equals the live final state"
	else
		fail "$workload: the replay's last state differs from the live final state"
	fi
	[ "$(jq .live "$TMP/history.json")" = true ] && [ "$(jq '.slabs | length' "$TMP/history.json")" -ge 3 ] &&
		pass "$workload: /api/history of the live trace" || fail "$workload: /api/history: $(head -c 300 "$TMP/history.json")"
	if cmp -s "$TMP/at.json" <(jq -c "select(.ts_ms <= $at)" "$TMP/live.states" | tail -n 1); then
		pass "$workload: the live history's state at a past tick equals what the stream sent then"
	else
		fail "$workload: the live history's state at $at differs from the stream's"
	fi
	"$VT" info "$TMP/$workload.rec" >"$TMP/info.out" || fail "$workload: info exit $?"
	grep -q "status:    complete" "$TMP/info.out" && grep -q "^keyframes: [1-9]" "$TMP/info.out" &&
		grep -q "^events:    [1-9]" "$TMP/info.out" && pass "$workload: info" ||
		fail "$workload: info says: $(cat "$TMP/info.out")"
	kill "$SIM_PID"
}

run_case churn
run_case http

# `record` writes the same format, serving nothing
sim_start "$SIM_SHARED" --workload churn --seed 5 --port 0 || fail "record: start"
"$VT" record "$SIM_PID" -o "$TMP/r.rec" --duration 1 -q || fail "record exit $?"
"$VT" replay "$TMP/r.rec" --speed max --listen none -q || fail "replay of record's file exit $?"
"$VT" info "$TMP/r.rec" | grep -q "status:    complete" && pass "record: complete recording" || fail "record: $("$VT" info "$TMP/r.rec")"
p3=$(port)
"$VT" attach "$SIM_PID" --duration 2 --history 0 --listen "127.0.0.1:$p3" -q 2>/dev/null &
sleep 1
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$p3/api/history")
[ "$code" = 404 ] && pass "--history 0: no /api/history" || fail "--history 0: /api/history answered $code"
wait $!
"$VT" record "$SIM_PID" 2>"$TMP/noout.err"; rc=$?
[ "$rc" -eq 2 ] && grep -q "record needs -o FILE" "$TMP/noout.err" && pass "record without -o: exit 2" ||
	fail "record without -o: exit $rc: $(cat "$TMP/noout.err")"
finish
