#!/bin/bash
# A live trace recorded with --record, then replayed: an SSE client of the
# replay receives the same sequence of memory-dialect and valk-dialect
# events (the runtime's own figures included), slot by slot and field by
# field (only the stream's own sequence numbers differ), as an SSE client
# of the live trace did — the same deltas tick by tick, and
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
		jq -c ".data |= del(.seq, .base) | ${3:-.}" >"$2"
}

# same_stream WORKLOAD DIALECT KEY LIVE_SSE REPLAY_SSE [FILTER]: the
# replayed stream carries the live one's events (each through FILTER, jq).
# Each client's first event is a full state; from the next one on both
# streams carry one delta per tick. They are compared from the later
# client's first tick after its first event on, to the end: which client
# joined later (a tick or two apart) depends on how fast each process
# started. KEY (jq) names an event's tick, null in events that do not.
same_stream() {
	local w=$1 d=$2 key=$3 lk rk lfrom rfrom n
	events "$4" "$TMP/l.events" "${6:-.}"
	events "$5" "$TMP/r.events" "${6:-.}"
	# the first tick named after the first event: [index, key]
	lk=$(jq -s -c "[to_entries[1:][] | [.key, (.value | $key)] | select(.[1] != null)] | first" "$TMP/l.events")
	rk=$(jq -s -c "[to_entries[1:][] | [.key, (.value | $key)] | select(.[1] != null)] | first" "$TMP/r.events")
	if [ "$(jq -n "$lk[1] >= $rk[1]")" = true ]; then
		lfrom=$(jq "(.[0] + 1)" <<<"$lk")
		rfrom=$(jq -s "map($key) | index($lk[1]) // empty | . + 1" "$TMP/r.events")
	else
		rfrom=$(jq "(.[0] + 1)" <<<"$rk")
		lfrom=$(jq -s "map($key) | index($rk[1]) // empty | . + 1" "$TMP/l.events")
	fi 2>/dev/null
	if [ -z "$lfrom" ] || [ -z "$rfrom" ]; then
		fail "$w: the live and replayed $d streams share no tick (live from ${lk:-none}, replay from ${rk:-none})"
		return
	fi
	n=$(tail -n "+$lfrom" "$TMP/l.events" | wc -l)
	[ "$n" -ge 30 ] || { fail "$w: only $n live $d events to compare"; return; }
	if cmp -s <(tail -n "+$lfrom" "$TMP/l.events") <(tail -n "+$rfrom" "$TMP/r.events"); then
		pass "$w: $n replayed $d events equal the live ones, tick by tick"
	else
		fail "$w: the replayed $d events differ from the live ones"
		diff <(tail -n "+$lfrom" "$TMP/l.events" | cut -c1-150) <(tail -n "+$rfrom" "$TMP/r.events" | cut -c1-150) | head -10
	fi
}

run_case() {
	local workload=$1 p1 p2 tracer replay kf=() every=5000
	# churn's keyframes every 1.5 s, http's at the default interval
	[ "$workload" = churn ] && kf=(--keyframe-interval 1.5) every=1500
	sim_start "$SIM_SHARED" --workload "$workload" --seed 11 --port 0 || { fail "$workload: start"; return; }
	[ "$workload" = http ] && {
		timeout 20 h2load -n 100000 -c 6 -m 2 --rps 40 "http://127.0.0.1:$SIM_PORT/" >/dev/null 2>&1 &
		PIDS+=($!)
	}
	# no overhead budget: its live estimate (tracer.overhead) is not
	# part of a recording
	"$VT" attach "$SIM_PID" --duration 5 --listen 127.0.0.1:0 --max-overhead 0 \
		--record "$TMP/$workload.rec" --json "$TMP/final.json" \
		--report "$TMP/live.report.json" "${kf[@]}" 2>"$TMP/live.err" &
	tracer=$!
	PIDS+=("$tracer")
	p1=$(served_port "$TMP/live.err" "$tracer") || { fail "$workload: live tracer did not serve: $(cat "$TMP/live.err")"; return; }
	curl -sN --max-time 7 "http://127.0.0.1:$p1/api/diagnostics/memory/stream" >"$TMP/live.sse" &
	sse=$!
	curl -sN --max-time 7 "http://127.0.0.1:$p1/debug/diagnostics/memory" >"$TMP/live.valk" &
	valk=$!
	# the live history (--history, on by default): a past tick's state
	sleep 3
	curl -s "http://127.0.0.1:$p1/api/history" >"$TMP/history.json"
	at=$(jq '.ticks[10]' "$TMP/history.json")
	curl -s "http://127.0.0.1:$p1/api/diagnostics/memory?at=$at" | jq -c 'del(.seq)' >"$TMP/at.json"
	wait "$tracer" || fail "$workload: tracer exit $?: $(tail -n 3 "$TMP/live.err")"
	wait $sse $valk
	grep -q "recording to $TMP/$workload.rec" "$TMP/live.err" || fail "$workload: no 'recording to' line"

	"$VT" replay "$TMP/$workload.rec" --listen 127.0.0.1:0 2>"$TMP/replay.err" &
	replay=$!
	PIDS+=("$replay")
	p2=$(served_port "$TMP/replay.err" "$replay") || { fail "$workload: replay did not serve: $(cat "$TMP/replay.err")"; return; }
	curl -sN --max-time 7 "http://127.0.0.1:$p2/debug/diagnostics/memory" >"$TMP/replay.valk" &
	valk=$!
	curl -sN --max-time 7 "http://127.0.0.1:$p2/api/diagnostics/memory/stream" >"$TMP/replay.sse"
	wait $valk
	wait_line "$TMP/replay.err" "replay finished" || fail "$workload: replay did not finish: $(cat "$TMP/replay.err")"
	curl -s "http://127.0.0.1:$p2/api/diagnostics/memory" | jq -c 'del(.seq)' >"$TMP/replay.last"
	curl -s "http://127.0.0.1:$p2/api/diagnostics/memory?at=$at" | jq -c 'del(.seq)' >"$TMP/replay.at10.json"
	t0=$(sed -n 's/^data: //p' "$TMP/live.sse" | head -n 1 | jq .ts_ms)
	curl -s "http://127.0.0.1:$p2/api/diagnostics/memory?at=$t0" | jq -c 'del(.seq)' >"$TMP/replay.at.json"
	kill -INT "$replay"
	wait "$replay" || fail "$workload: replay exit $?"

	same_stream "$workload" memory .data.ts_ms "$TMP/live.sse" "$TMP/replay.sse"
	# the valk dialect whole: its memory part, the ticks' clock and
	# connections, and the runtime's own figures read from its memory
	# (its metrics registry and the modular deltas, GC cycles, the
	# interpreter, the breakdown's libuv, SSL and nghttp2 bytes), which the
	# recording carries when they change
	same_stream "$workload" "diagnostics (valk dialect)" .up "$TMP/live.valk" "$TMP/replay.valk" \
		'. + {up: .data.metrics.aio.up}'
	# not vacuous: the events compared carry the runtime's figures
	gcs=$(jq -s '[.[] | select(.data.metrics.vm.gc.cycles_total != null and .data.metrics.vm.interpreter != null)] | length' "$TMP/l.events")
	moved=$(jq -s '[.[] | select((.data.metrics.modular.deltas // []) | length > 0)] | length' "$TMP/l.events")
	if [ "$gcs" -eq "$(wc -l <"$TMP/l.events")" ] && { [ "$workload" != http ] || [ "$moved" -gt 0 ]; }; then
		pass "$workload: the valk events compared carry GC cycles and the interpreter's counters ($gcs), registry changes in $moved"
	else
		fail "$workload: the valk events lack the runtime's figures: $gcs of $(wc -l <"$TMP/l.events") with GC cycles and interpreter, $moved with registry changes"
	fi
	events "$TMP/live.sse" "$TMP/live.events"
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
		grep -q "keyframes every $every ms" "$TMP/info.out" &&
		{ [ "$workload" != churn ] || [ "$(sed -n 's/^keyframes: //p' "$TMP/info.out")" -ge 4 ]; } &&
		grep -q "^events:    [1-9]" "$TMP/info.out" && pass "$workload: info" ||
		fail "$workload: info says: $(cat "$TMP/info.out")"
	kill "$SIM_PID"
}

run_case churn
run_case http

# replay --from S: it starts at the last tick at or before S seconds in,
# and at speed 0.01 stays there (the next tick is 10 s away): its state
# then is the recording's at that tick
"$VT" replay "$TMP/churn.rec" --from 2 --speed 0.01 --listen 127.0.0.1:0 2>"$TMP/from.err" &
replay=$!
PIDS+=("$replay")
p4=$(served_port "$TMP/from.err" "$replay") || fail "--from: replay did not serve: $(cat "$TMP/from.err")"
curl -s "http://127.0.0.1:$p4/api/history" >"$TMP/from.history"
first=$(curl -s "http://127.0.0.1:$p4/api/diagnostics/memory" | jq -c 'del(.seq)')
want=$(jq '.ticks[0] as $t0 | [.ticks[] | select(. <= $t0 + 2000)] | last' "$TMP/from.history")
curl -s "http://127.0.0.1:$p4/api/diagnostics/memory?at=$want" | jq -c 'del(.seq)' >"$TMP/from.at"
kill -INT "$replay"
wait "$replay" || fail "--from: replay exit $?"
if grep -q " s from +[12]\.[0-9] s, speed 0.01x" "$TMP/from.err" &&
	[ "$(jq .ts_ms <<<"$first")" = "$want" ] && cmp -s <(echo "$first") "$TMP/from.at"; then
	pass "replay --from 2: its state is the recording's at the last tick before +2 s"
else
	fail "replay --from 2: state at $(jq .ts_ms <<<"$first" 2>/dev/null), want $want: $(head -n 1 "$TMP/from.err")"
fi

# replay --speed 4: every recorded tick is sent, in order, with its
# recorded time, and the replay took at least the recording's span / 4 by
# its own clock (each wait truncated to the millisecond: one per tick)
"$VT" replay "$TMP/churn.rec" --speed 4 --listen 127.0.0.1:0 2>"$TMP/speed.err" &
replay=$!
PIDS+=("$replay")
p5=$(served_port "$TMP/speed.err" "$replay") || fail "--speed 4: replay did not serve: $(cat "$TMP/speed.err")"
curl -sN --max-time 4 "http://127.0.0.1:$p5/api/diagnostics/memory/stream" >"$TMP/speed.sse" &
sse=$!
wait_line "$TMP/speed.err" "replay finished" || fail "--speed 4: did not finish: $(cat "$TMP/speed.err")"
curl -s "http://127.0.0.1:$p5/api/history" | jq -c .ticks >"$TMP/speed.ticks"
kill -INT "$replay"
wait "$replay" || fail "--speed 4: replay exit $?"
wait $sse
sent=$(sed -n 's/^data: //p' "$TMP/speed.sse" | jq -s -c 'map(.ts_ms)')
played=$(sed -n 's/.*played in \([0-9.]*\) s.*/\1/p' "$TMP/speed.err")
if jq -e --argjson s "$sent" --argjson p "${played:-0}" \
	'. as $t | ($t | index($s[0])) as $i | $i != null and $t[$i:] == $s and ($s | length) > 30 and
	 $p * 1000 + ($t | length) + 1 >= ($t[-1] - $t[0]) / 4' "$TMP/speed.ticks" >/dev/null; then
	pass "replay --speed 4: $(jq length <<<"$sent") ticks sent in order at their recorded times, played in $played s of $(jq '(.[-1] - .[0]) / 1000' "$TMP/speed.ticks") s recorded"
else
	fail "replay --speed 4: sent $(jq length <<<"$sent") ticks, played in ${played:-?} s: $(cat "$TMP/speed.err")"
fi
"$VT" replay "$TMP/churn.rec" --speed 0 --listen none 2>"$TMP/speed0.err"; rc=$?
[ "$rc" -eq 2 ] && [ "$(wc -l <"$TMP/speed0.err")" -eq 1 ] && grep -q "^valk-trace: --speed wants" "$TMP/speed0.err" &&
	pass "replay --speed 0: exit 2, one line" || fail "replay --speed 0: exit $rc: $(cat "$TMP/speed0.err")"
"$VT" attach 1 --keyframe-interval 0.05 2>"$TMP/kf.err"; rc=$?
[ "$rc" -eq 2 ] && grep -qx "valk-trace: --keyframe-interval wants 0.1..3600 s (see \`valk-trace attach --help\`)" "$TMP/kf.err" &&
	pass "--keyframe-interval 0.05: exit 2, one line" || fail "--keyframe-interval 0.05: exit $rc: $(cat "$TMP/kf.err")"

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
cp "$TMP/r.rec" "$TMP/future.rec" && printf '\x04' | dd of="$TMP/future.rec" bs=1 seek=8 conv=notrunc 2>/dev/null
"$VT" replay "$TMP/future.rec" --listen none 2>"$TMP/e2"; rc=$?
[ "$rc" -eq 2 ] && [ "$(wc -l <"$TMP/e2")" -eq 1 ] && grep -q "format version 4; this valk-trace reads versions 1 to 3: use a newer valk-trace" "$TMP/e2" &&
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
