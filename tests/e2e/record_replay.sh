#!/bin/bash
# A live trace recorded with --record, then replayed: an SSE client of the
# replay receives the same sequence of memory-dialect events, slot by slot
# and field by field (only the stream's own sequence numbers differ), as
# an SSE client of the live trace did — the same deltas tick by tick, and
# the live client's first full state is the replay's state at that tick;
# the replay's last state equals the live trace's final state; the
# replayed report equals the live one, leak stacks included; `info`
# describes the file. For the churn and the http workloads (and the
# report of a build unwound with DWARF), and `record` writes the same
# format.
. "$(dirname "$0")/../lib/common.sh"
need_root
need_bins
command -v h2load >/dev/null || skip "h2load missing (apt-get install nghttp2-client)"
command -v curl >/dev/null || skip "curl missing (apt-get install curl)"

# wait_line FILE TEXT: the tracer's cue on stderr
wait_line() {
	for _ in $(seq 1 100); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.05; done
	return 1
}

# events SSE_FILE OUT: each event as {event, data} without the stream's
# own numbering (seq, and a delta's base)
events() {
	awk '/^event: /{t=$2} /^data: /{printf "{\"event\":\"%s\",\"data\":%s}\n", t, substr($0, 7)}' "$1" |
		jq -c '.data |= del(.seq, .base)' >"$2"
}

run_case() {
	local workload=$1 p1 p2 tracer replay n lt rt lfrom rfrom
	sim_start "$SIM_SHARED" --workload "$workload" --seed 11 --port 0 || { fail "$workload: start"; return; }
	[ "$workload" = http ] && {
		timeout 20 h2load -n 100000 -c 6 -m 2 --rps 40 "http://127.0.0.1:$SIM_PORT/" >/dev/null 2>&1 &
		PIDS+=($!)
	}
	# no overhead budget: its live estimate (tracer.overhead) is not
	# part of a recording
	"$VT" attach "$SIM_PID" --duration 5 --listen 127.0.0.1:0 --max-overhead 0 \
		--record "$TMP/$workload.rec" --json "$TMP/final.json" \
		--report "$TMP/live.report.json" 2>"$TMP/live.err" &
	tracer=$!
	PIDS+=("$tracer")
	p1=$(served_port "$TMP/live.err" "$tracer") || { fail "$workload: live tracer did not serve: $(cat "$TMP/live.err")"; return; }
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

	"$VT" replay "$TMP/$workload.rec" --listen 127.0.0.1:0 2>"$TMP/replay.err" &
	replay=$!
	PIDS+=("$replay")
	p2=$(served_port "$TMP/replay.err" "$replay") || { fail "$workload: replay did not serve: $(cat "$TMP/replay.err")"; return; }
	curl -sN --max-time 7 "http://127.0.0.1:$p2/api/diagnostics/memory/stream" >"$TMP/replay.sse"
	wait_line "$TMP/replay.err" "replay finished" || fail "$workload: replay did not finish: $(cat "$TMP/replay.err")"
	curl -s "http://127.0.0.1:$p2/api/diagnostics/memory" | jq -c 'del(.seq)' >"$TMP/replay.last"
	curl -s "http://127.0.0.1:$p2/api/diagnostics/memory?at=$at" | jq -c 'del(.seq)' >"$TMP/replay.at10.json"
	t0=$(sed -n 's/^data: //p' "$TMP/live.sse" | head -n 1 | jq .ts_ms)
	curl -s "http://127.0.0.1:$p2/api/diagnostics/memory?at=$t0" | jq -c 'del(.seq)' >"$TMP/replay.at.json"
	kill -INT "$replay"
	wait "$replay" || fail "$workload: replay exit $?"

	events "$TMP/live.sse" "$TMP/live.events"
	events "$TMP/replay.sse" "$TMP/replay.events"
	# each client's first event is a full state; from the next one on both
	# streams carry one delta per tick. They are compared from the later
	# client's second event on, to the end: which client joined later
	# (a tick or two apart) depends on how fast each process started.
	lt=$(sed -n 2p "$TMP/live.events" | jq .data.ts_ms)
	rt=$(sed -n 2p "$TMP/replay.events" | jq .data.ts_ms)
	if [ -n "$lt" ] && [ -n "$rt" ] && [ "$lt" -ge "$rt" ]; then
		lfrom=2 rfrom=$(jq -s "map(.data.ts_ms) | index($lt) // empty | . + 1" "$TMP/replay.events")
	else
		rfrom=2 lfrom=$(jq -s "map(.data.ts_ms) | index(${rt:-null}) // empty | . + 1" "$TMP/live.events")
	fi
	if [ -z "$lfrom" ] || [ -z "$rfrom" ]; then
		fail "$workload: the live and replayed streams share no tick (live from ${lt:-none}, replay from ${rt:-none})"
		return
	fi
	n=$(tail -n "+$lfrom" "$TMP/live.events" | wc -l)
	[ "$n" -ge 30 ] || { fail "$workload: only $n live events to compare"; return; }
	if cmp -s <(tail -n "+$lfrom" "$TMP/live.events") <(tail -n "+$rfrom" "$TMP/replay.events"); then
		pass "$workload: $n replayed events equal the live ones, tick by tick"
	else
		fail "$workload: the replayed events differ from the live ones"
		diff <(tail -n "+$lfrom" "$TMP/live.events" | cut -c1-150) <(tail -n "+$rfrom" "$TMP/replay.events" | cut -c1-150) | head -10
	fi
	t0=$(head -n 1 "$TMP/live.events" | jq .data.ts_ms)
	if cmp -s <(head -n 1 "$TMP/live.events" | jq -c '.data') <(jq -c "select(.ts_ms == $t0)" "$TMP/replay.at.json"); then
		pass "$workload: the live client's first full state is the replay's state at that tick"
	else
		fail "$workload: the live client's first full state differs from the replay's at $t0"
	fi
	if cmp -s "$TMP/replay.last" <(jq -c 'del(.seq)' "$TMP/final.json"); then
		pass "$workload: the replay's last state equals the live final state"
	else
		fail "$workload: the replay's last state differs from the live final state"
	fi
	[ "$(jq .live "$TMP/history.json")" = true ] && [ "$(jq '.slabs | length' "$TMP/history.json")" -ge 3 ] &&
		pass "$workload: /api/history of the live trace" || fail "$workload: /api/history: $(head -c 300 "$TMP/history.json")"
	if cmp -s "$TMP/at.json" <(jq -c "select(.ts_ms == $at)" "$TMP/replay.at10.json"); then
		pass "$workload: the live history's state at a past tick equals the recording's"
	else
		fail "$workload: the live history's state at $at differs from the recording's"
	fi
	# the report, offline: what the live session reported, leak stacks
	# included (symbolized frames, from the recording's stack records)
	"$VT" replay "$TMP/$workload.rec" --speed max --listen none -q \
		--json "$TMP/replay.report.json" || fail "$workload: replay --json exit $?"
	"$VT" replay "$TMP/$workload.rec" --speed max --listen none -q \
		--fail-on leak 2>"$TMP/replay.fail"; rc=$?
	if cmp -s <(jq -S . "$TMP/live.report.json") <(jq -S . "$TMP/replay.report.json"); then
		pass "$workload: the replayed report equals the live one, leak stacks included"
	else
		fail "$workload: the replayed report differs from the live one"
		diff <(jq -S . "$TMP/live.report.json") <(jq -S . "$TMP/replay.report.json") | head -10
	fi
	# churn's leaks were acquired while traced: their stacks have frames
	# (http's are the connections open since before the attach)
	groups=$(jq '[.processes[].leaks.by_stack[] | select(.frames | length > 0)] | length' "$TMP/live.report.json")
	if [ "$workload" = churn ]; then
		[ "$groups" -gt 0 ] && pass "churn: $groups leak stacks with frames compared" ||
			fail "churn: no leak stack with frames in the live report"
	fi
	leaks=$(jq '.processes[0].leaks.count' "$TMP/live.report.json")
	if [ "$leaks" -gt 0 ]; then
		[ "$rc" -eq 1 ] && grep -q "FAIL leak: $leaks slots leaked" "$TMP/replay.fail" &&
			pass "$workload: replay --fail-on leak: exit 1 and the FAIL line" ||
			fail "$workload: replay --fail-on leak: exit $rc: $(cat "$TMP/replay.fail")"
	else
		[ "$rc" -eq 0 ] && pass "$workload: replay --fail-on leak: no leak, exit 0" || fail "$workload: replay --fail-on leak: exit $rc"
	fi
	"$VT" info "$TMP/$workload.rec" >"$TMP/info.out" || fail "$workload: info exit $?"
	grep -q "status:    complete" "$TMP/info.out" && grep -q "^keyframes: [1-9]" "$TMP/info.out" &&
		grep -q "^events:    [1-9]" "$TMP/info.out" && pass "$workload: info" ||
		fail "$workload: info says: $(cat "$TMP/info.out")"
	kill "$SIM_PID"
}

run_case churn
run_case http

# code without frame pointers: stacks unwound with DWARF from copies (ids
# of the tracer's own), recorded and reported the same
sim_start "$SIM_STATIC" --workload churn --seed 3 --port 0 || fail "static: start"
"$VT" attach "$SIM_PID" --duration 3 --listen none --max-overhead 0 -q \
	--record "$TMP/dwarf.rec" --report "$TMP/dwarf.live.json" || fail "static: attach exit $?"
kill "$SIM_PID"
"$VT" replay "$TMP/dwarf.rec" --speed max --listen none -q --json "$TMP/dwarf.replay.json" ||
	fail "static: replay exit $?"
if [ "$(jq -r '.processes[0].unwinder' "$TMP/dwarf.live.json")" = dwarf ] &&
	[ "$(jq '[.processes[0].leaks.by_stack[] | select(.frames | length > 0)] | length' "$TMP/dwarf.live.json")" -gt 0 ] &&
	cmp -s <(jq -S . "$TMP/dwarf.live.json") <(jq -S . "$TMP/dwarf.replay.json"); then
	pass "static build (dwarf): the replayed report equals the live one, leak stacks included"
else
	fail "static build (dwarf): the replayed report differs, or has no stacks"
	diff <(jq -S . "$TMP/dwarf.live.json") <(jq -S . "$TMP/dwarf.replay.json") | head -10
fi

# diff takes recordings as well as reports: replayed into their reports
"$VT" diff "$TMP/churn.rec" "$TMP/churn.rec" --fail-on 'leak>+0' >"$TMP/diff.out" 2>&1 &&
	grep -q "leaks: \([0-9]*\) -> \1;" "$TMP/diff.out" && pass "diff of a recording with itself: no growth, exit 0" ||
	fail "diff of a recording with itself: $(cat "$TMP/diff.out")"
"$VT" diff "$TMP/churn.rec" "$TMP/live.report.json" >"$TMP/diff2.out" 2>&1 &&
	grep -q "^pid " "$TMP/diff2.out" && pass "diff of a recording with a report" ||
	fail "diff of a recording with a report: $(cat "$TMP/diff2.out")"

# `record` writes the same format, serving nothing
sim_start "$SIM_SHARED" --workload churn --seed 5 --port 0 || fail "record: start"
"$VT" record "$SIM_PID" -o "$TMP/r.rec" --duration 1 -q || fail "record exit $?"
"$VT" replay "$TMP/r.rec" --speed max --listen none -q || fail "replay of record's file exit $?"
"$VT" info "$TMP/r.rec" | grep -q "status:    complete" && pass "record: complete recording" || fail "record: $("$VT" info "$TMP/r.rec")"
"$VT" record "$SIM_PID" -o - --duration 1 -q >"$TMP/stdout.rec" || fail "record -o - exit $?"
"$VT" info "$TMP/stdout.rec" | grep -q "status:    complete" && pass "record -o -: a complete recording on standard output" ||
	fail "record -o -: $("$VT" info "$TMP/stdout.rec" 2>&1)"
# run --record: the recording of a process run from its start; its replay
# reports the slabs as run did
"$VT" run -q --record "$TMP/run.rec" --report "$TMP/run.report.json" -- \
	"$SIM_SHARED" --workload churn --seed 7 --ops 20000 >/dev/null 2>&1 || fail "run --record exit $?"
"$VT" replay "$TMP/run.rec" --speed max --listen none -q --report "$TMP/run.replay.json" ||
	fail "replay of run's recording exit $?"
if cmp -s <(jq -S '.processes[0].slabs' "$TMP/run.report.json") <(jq -S '.processes[0].slabs' "$TMP/run.replay.json"); then
	pass "run --record: the replay reports every slab as run did"
else
	fail "run --record: the replayed slabs differ from run's report"
	diff <(jq -S '.processes[0].slabs' "$TMP/run.report.json") <(jq -S '.processes[0].slabs' "$TMP/run.replay.json") | head -10
fi
# foreign, future-version and cut files: one line each, exit 2 or the prefix
echo "hello" >"$TMP/foreign.rec"
"$VT" info "$TMP/foreign.rec" 2>"$TMP/e1"; rc=$?
[ "$rc" -eq 2 ] && grep -qx "valk-trace: $TMP/foreign.rec: not a valk-trace recording (no VALKREC magic)" "$TMP/e1" &&
	pass "info of a foreign file: exit 2, one line" || fail "info of a foreign file: exit $rc: $(cat "$TMP/e1")"
cp "$TMP/r.rec" "$TMP/future.rec" && printf '\x03' | dd of="$TMP/future.rec" bs=1 seek=8 conv=notrunc 2>/dev/null
"$VT" replay "$TMP/future.rec" --listen none 2>"$TMP/e2"; rc=$?
[ "$rc" -eq 2 ] && [ "$(wc -l <"$TMP/e2")" -eq 1 ] && grep -q "format version 3; this valk-trace reads versions 1 to 2: use a newer valk-trace" "$TMP/e2" &&
	pass "replay of a future version: exit 2, one line" || fail "replay of a future version: exit $rc: $(cat "$TMP/e2")"
head -c $(( $(stat -c %s "$TMP/r.rec") - 7 )) "$TMP/r.rec" >"$TMP/cut.rec"
"$VT" replay "$TMP/cut.rec" --speed max --listen none -q 2>"$TMP/e3"; rc=$?
[ "$rc" -eq 0 ] && grep -Eq "cut short in a record( header)? at byte [0-9]+; the [0-9]+ bytes before it are intact" "$TMP/e3" &&
	pass "replay of a cut file: the intact prefix, and where it was cut" || fail "replay of a cut file: exit $rc: $(cat "$TMP/e3")"
"$VT" attach "$SIM_PID" --duration 4 --history 0 --listen 127.0.0.1:0 -q 2>"$TMP/p3.err" &
p3=$(served_port "$TMP/p3.err" $!)
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$p3/api/history")
[ "$code" = 404 ] && pass "--history 0: no /api/history" || fail "--history 0: /api/history answered $code"
wait $!
"$VT" record "$SIM_PID" 2>"$TMP/noout.err"; rc=$?
[ "$rc" -eq 2 ] && grep -q "record needs -o FILE" "$TMP/noout.err" && pass "record without -o: exit 2" ||
	fail "record without -o: exit $rc: $(cat "$TMP/noout.err")"
finish
