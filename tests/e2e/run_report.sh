#!/bin/bash
# `valk-trace run -- CMD`: the leaks it reports are exactly the slots the
# stand-in runtime still holds when its slabs are freed (its truth, written
# at exit), for both builds; churn leaks only the listen task, suppressed
# by default; a process tree is traced whole; warm-up, --ignore,
# --suppress, thresholds, exit codes and their precedence, JUnit, Markdown,
# `diff` with relative thresholds; CMD's own input, output and status
# pass through untouched.
. "$(dirname "$0")/../lib/common.sh"
need_root
need_bins
command -v xmllint >/dev/null || skip "xmllint missing (apt-get install libxml2-utils)"

# The used slots of a truth file, "system/slab/slot" per line; a handle
# slot is used unless 'F', and a listener ('T') is meant to live.
truth_used() {
	jq -r 'def hex: if . >= 97 then . - 87 elif . >= 65 then . - 55 else . - 48 end;
	  .slabs[] | . as $s |
	  if .name == "handles" then
	    (.states | split("") | to_entries[] | select(.value != "F" and .value != "T") | .key)
	  else
	    (.bitmap | explode | map(hex)) as $n | range(0; $n | length / 2) as $k |
	    ($n[2 * $k] * 16 + $n[2 * $k + 1]) as $v | range(0; 8) |
	    select(($v / pow(2; .) | floor) % 2 == 1) | 8 * $k + .
	  end | "\($s.system)/\($s.name)/\(.)"' "$1" | sort
}

report_leaks() {
	jq -r ".processes[${2:-0}].leaks.slots[] | \"\(.system)/\(.slab)/\(.slot)\"" "$1" | sort
}

# run_sim LABEL EXPECTED_EXIT VT_ARGS... -- SIM ARGS...: runs, checks the
# exit code; the report is $TMP/r.json, stderr $TMP/err
run_vt() {
	local label=$1 want=$2 rc
	shift 2
	"$VT" run "$@" >"$TMP/out" 2>"$TMP/err"; rc=$?
	if [ "$rc" -eq "$want" ]; then pass "$label: exit $rc"; else
		fail "$label: exit $rc, wanted $want: $(tail -n 3 "$TMP/err")"; fi
}

# the line of main_acquire_handle's call to valk_slab_aquire
acq_line=$(awk '/^static void main_acquire_handle/ { on = 1 } on && /valk_slab_aquire/ { print NR; exit }' \
	"$(dirname "$0")/../fixture/sim_churn.c")
# the line of valk_aio_http2_listen's call that takes the listen task
listen_line=$(awk '/^valk_aio_http_server \*valk_aio_http2_listen/ { on = 1 }
	on && /valk_slab_aquire\(sys->handleSlab\)/ { print NR; exit }' \
	"$(dirname "$0")/../fixture/aio_http2_server.c")
for build in shared static; do
	sim=$([ "$build" = shared ] && echo "$SIM_SHARED" || echo "$SIM_STATIC")
	# the -O0 build keeps frame pointers; the -O2 one's stacks are copied
	# and unwound with its DWARF CFI
	unwinder=$([ "$build" = shared ] && echo frame-pointer || echo dwarf)
	run_vt "$build leak --fail-on leak" 1 --json "$TMP/r.json" --fail-on leak -- \
		"$sim" --workload leak --seed 7 --ops 4000 --truth "$TMP/t.json" --truth-at-exit
	truth_used "$TMP/t.json" >"$TMP/want"
	report_leaks "$TMP/r.json" >"$TMP/got"
	if [ -s "$TMP/want" ] && cmp -s "$TMP/want" "$TMP/got"; then
		pass "$build leak: the $(wc -l <"$TMP/got") leaked slots are the truth's"
	else
		fail "$build leak: leaked slots differ from the truth at exit"
		diff "$TMP/want" "$TMP/got" | head -10
	fi
	# the listen task is the one suppressed leak (built in), the rest count
	jq -e '.processes[0] as $p | $p.leaks.count == ([$p.leaks.slots[] | select(.suppressed | not)] | length) and
	       $p.leaks.suppressed == 1 and ([$p.leaks.slots[] | select(.suppressed)] | length) == 1 and
	       ([$p.leaks.by_stack[] | select(.suppressed_by != "")] | map(.suppressed_by)) == ["valk_aio_http2_listen"] and
	       $p.lost_events == 0 and $p.exit_code == 0' "$TMP/r.json" >/dev/null ||
		fail "$build leak: count, suppressed, losses or exit code wrong: $(jq -c '.processes[0].leaks | {count, suppressed}' "$TMP/r.json")"
	grep -q "^valk-trace: FAIL leak: [0-9]* slots leaked; [0-9]* handles slots from main_acquire_handle (sim_churn.c:$acq_line)" "$TMP/err" &&
		pass "$build leak: the FAIL line names the top stack's frame" ||
		fail "$build leak: FAIL line: $(grep FAIL "$TMP/err")"
	# The acquire stacks: the largest group is the workload's leaking
	# acquire, named with the source line that calls valk_slab_aquire and
	# the function that called it; every leak acquired after the start has
	# a stack (the stopper, acquired before its slab was read, has none)
	if jq -e --argjson line "$acq_line" '.processes[0].leaks.by_stack[0] as $g |
	    $g.slab == "handles" and $g.frames[0].function == "main_acquire_handle" and
	    $g.frames[0].file == "sim_churn.c" and $g.frames[0].line == $line and
	    ($g.frames | map(.function) | index("main_op")) != null and
	    ($g.frames | map(.function) | index("churn_bench_main")) != null and
	    .processes[0].unwinder == $unwinder' --arg unwinder "$unwinder" "$TMP/r.json" >/dev/null &&
	   jq -e '.processes[0].leaks as $l | [$l.slots[] | select(.acquired_at_s >= 0) |
	    $l.by_stack[.stack].stack_id] | all(. > 0)' "$TMP/r.json" >/dev/null; then
		pass "$build leak: stacks ($unwinder) name main_acquire_handle (sim_churn.c:$acq_line) called from main_op, churn_bench_main"
	else
		fail "$build leak: stacks: $(jq -c '.processes[0].leaks.by_stack[0] | {slab, count, frames: [.frames[] | [.function, .file, .line, .inlined]]}' "$TMP/r.json")"
	fi
	# the static build's copies end at each thread's outermost frame once
	# one was unwound to there: every stack still reaches it, uncut
	[ "$build" = shared ] || {
		jq -e '[.processes[0].leaks.by_stack[] | select(.stack_id > 0)] |
		       length > 0 and all(.truncated == false and .frames[-1].function == "_start")' \
			"$TMP/r.json" >/dev/null &&
			pass "$build leak: every copied stack is unwound to _start, none cut" ||
			fail "$build leak: stacks cut: $(jq -c '[.processes[0].leaks.by_stack[] | {truncated, last: .frames[-1].function}]' "$TMP/r.json")"; }
	# --no-stacks: the same leaks, no stack captured
	run_vt "$build leak --no-stacks" 1 --json "$TMP/n.json" --fail-on leak --no-stacks -- \
		"$sim" --workload leak --seed 7 --ops 4000 --truth "$TMP/t3.json" --truth-at-exit
	truth_used "$TMP/t3.json" >"$TMP/want"
	report_leaks "$TMP/n.json" >"$TMP/got"
	if cmp -s "$TMP/want" "$TMP/got" && jq -e '.processes[0] | .unwinder == "none" and
	    (.leaks.by_stack | all(.stack_id == 0))' "$TMP/n.json" >/dev/null; then
		pass "$build leak --no-stacks: the truth's leaked slots, no stacks, unwinder none"
	else
		fail "$build leak --no-stacks: $(jq -c '.processes[0] | {unwinder, ids: [.leaks.by_stack[].stack_id]}' "$TMP/n.json")"
	fi
	# churn releases all it takes and the stand-in stops as the runtime
	# does (stopper, listener, connections with their buffers and arenas,
	# servers): what is left is the listen task object, which the runtime
	# never releases either (a leak of its own, suppressed by default)
	run_vt "$build churn --fail-on leak" 0 --json "$TMP/c.json" --fail-on leak,drops -- \
		"$sim" --workload churn --seed 7 --ops 4000 --truth "$TMP/t.json" --truth-at-exit
	truth_used "$TMP/t.json" >"$TMP/want"
	report_leaks "$TMP/c.json" >"$TMP/got"
	[ "$(cat "$TMP/want")" = 0/handles/1 ] && cmp -s "$TMP/want" "$TMP/got" &&
		jq -e '.processes[0].leaks | .count == 0 and .suppressed == 1 and .slots[0].suppressed and
		       .by_stack[0].suppressed_by == "valk_aio_http2_listen"' "$TMP/c.json" >/dev/null &&
		pass "$build churn: the one slot in use at exit, the truth's, is the listen task, suppressed" ||
		{ fail "$build churn: slots in use at exit differ from the truth, or more than the suppressed listen task"
		  diff "$TMP/want" "$TMP/got" | head -10; }
	run_vt "$build churn --no-default-suppress" 1 --fail-on leak --no-default-suppress -- \
		"$sim" --workload churn --seed 7 --ops 4000
	grep -q "^valk-trace: FAIL leak: 1 slots leaked; 1 handles slots from valk_aio_http2_listen (aio_http2_server.c:$listen_line)" "$TMP/err" &&
		pass "$build churn: counted, the FAIL line names the listen task's acquire" ||
		fail "$build churn: FAIL line: $(grep FAIL "$TMP/err")"
	run_vt "$build churn --no-default-suppress --ignore object" 0 --fail-on leak \
		--no-default-suppress --ignore object -- "$sim" --workload churn --seed 7 --ops 4000
	# every slab's figures at the end: the truth's, taken as they were freed
	jq -S '[.slabs[] | {system, name, peak: .hwm, final_used: .used, acquires, releases, overflow}]' \
		"$TMP/t.json" >"$TMP/want"
	jq -S '[.processes[0].slabs[] | {system, name, peak, final_used, acquires, releases, overflow}]' \
		"$TMP/c.json" >"$TMP/got"
	cmp -s "$TMP/want" "$TMP/got" && pass "$build churn: peaks, use, counts and overflows are the truth's" ||
		{ fail "$build churn: slab figures differ"; diff "$TMP/want" "$TMP/got" | head; }
done

# a recording keeps the stacks, unless --no-stacks
"$VT" run -q --no-stacks --record "$TMP/q.rec" -- "$SIM_STATIC" --workload leak --seed 7 \
	--ops 2000 --truth "$TMP/t.json" >/dev/null 2>"$TMP/err"
"$VT" replay "$TMP/q.rec" --speed max --listen none -q --json "$TMP/q.json" >/dev/null 2>>"$TMP/err"
jq -e '.processes[0].leaks | .count > 0 and (.by_stack | all(.stack_id == 0))' "$TMP/q.json" >/dev/null &&
	pass "run --no-stacks --record: the recording keeps no stacks" ||
	fail "run --no-stacks --record: stacks: $(jq -c '[.processes[0].leaks.by_stack[].stack_id]' "$TMP/q.json") $(tail -2 "$TMP/err")"

# a script running two runtimes, one a grandchild, and a program that is none
cat >"$TMP/tree.sh" <<EOF
#!/bin/sh
"$SIM_SHARED" --workload leak --seed 1 --ops 2000 --truth "$TMP/t1.json" >/dev/null &
sh -c '"$SIM_STATIC" --workload churn --seed 2 --ops 2000 --truth "$TMP/t2.json" >/dev/null; true'
wait
EOF
chmod +x "$TMP/tree.sh"
run_vt "process tree" 0 --json "$TMP/tree.json" -- "$TMP/tree.sh"
if jq -e '[.processes[] | .argv] | length == 2 and (map(test("workload leak")) | any) and
	  (map(test("valk-sim-static --workload churn")) | any)' "$TMP/tree.json" >/dev/null &&
   jq -e '[.processes[].pid] | unique | length == 2' "$TMP/tree.json" >/dev/null; then
	pass "process tree: both runtimes reported, the shell ignored"
else
	fail "process tree: $(jq -c '[.processes[] | {pid, argv}]' "$TMP/tree.json")"
fi

# warm-up: a paced run; slots acquired in the first second are not leaks
paced=(--workload leak --seed 3 --rate 2000 --truth "$TMP/t.json")
cat >"$TMP/paced.sh" <<EOF
#!/bin/sh
"$SIM_SHARED" ${paced[*]} >/dev/null & p=\$!
sleep 2.5; kill -TERM \$p; wait \$p
EOF
chmod +x "$TMP/paced.sh"
run_vt "warm-up" 0 --json "$TMP/w.json" --warmup 1 -- "$TMP/paced.sh"
jq -e '.processes[0].leaks as $l | $l.count > 0 and ($l.slots | all(.acquired_at_s >= 1))' "$TMP/w.json" >/dev/null &&
	pass "warm-up: $(jq .processes[0].leaks.count "$TMP/w.json") leaks, all acquired after 1 s" ||
	fail "warm-up: $(jq -c '[.processes[0].leaks.slots[].acquired_at_s] | min' "$TMP/w.json")"

# --suppress: leaks acquired through a function are counted apart
run_vt "--suppress" 0 --json "$TMP/s.json" --fail-on leak --suppress nosuch,main_acquire_handle -- \
	"$SIM_SHARED" --workload leak --seed 7 --ops 4000
jq -e '.processes[0].leaks | .count == 0 and .suppressed == (.slots | length) and .suppressed > 100 and
       ([.by_stack[].suppressed_by] | unique) == ["main_acquire_handle", "valk_aio_http2_listen"]' "$TMP/s.json" >/dev/null &&
	grep -q " 0 leaked slots, [0-9]* suppressed$" "$TMP/err" &&
	pass "--suppress: every leak suppressed by its function, none counted" ||
	fail "--suppress: $(jq -c '.processes[0].leaks | {count, suppressed, by: [.by_stack[].suppressed_by]}' "$TMP/s.json")"
"$VT" run --suppress "$(printf 'f%.0s' $(seq 1 100))" -- true 2>"$TMP/e"; rc=$?
[ "$rc" -eq 2 ] && grep -q "^valk-trace: --suppress: .*at most 16 function names of fewer than 96 bytes" "$TMP/e" &&
	pass "--suppress: an overlong name: exit 2, one line" || fail "--suppress overlong: exit $rc: $(cat "$TMP/e")"

# --ignore, thresholds, JUnit and Markdown in one run
run_vt "thresholds" 1 --json "$TMP/i.json" --ignore task,object,http_clients \
	--fail-on 'leak>100000,hwm:handles>1%,peak:handles>100000,used:tcp_buffers>1000' \
	--junit "$TMP/j.xml" --summary-md "$TMP/s.md" -- \
	"$SIM_SHARED" --workload leak --seed 7 --ops 4000 --truth "$TMP/t.json"
jq -e '[.processes[0].leaks.slots[] | select(.state == "K" or .state == "U" or .slab == "http_clients")] | length == 0' \
	"$TMP/i.json" >/dev/null && pass "--ignore: no task, object or client leak" || fail "--ignore: ignored kinds reported"
jq -e '[.verdicts[] | .passed] == [true, false, true, true]' "$TMP/i.json" >/dev/null &&
	pass "thresholds: only hwm:handles>1% failed" || fail "thresholds: $(jq -c '[.verdicts[] | .passed]' "$TMP/i.json")"
if xmllint --noout "$TMP/j.xml" 2>/dev/null &&
   [ "$(xmllint --xpath 'count(//testsuite/testcase)' "$TMP/j.xml")" = 4 ] &&
   [ "$(xmllint --xpath 'count(//testcase[@name="hwm:handles>1%"]/failure)' "$TMP/j.xml")" = 1 ] &&
   [ "$(xmllint --xpath 'string(//testsuite/@failures)' "$TMP/j.xml")" = 1 ]; then
	pass "JUnit: parses, four cases, the failed one with its failure"
else
	fail "JUnit: $(head -c 600 "$TMP/j.xml")"
fi
grep -q '^| 0 | handles |' "$TMP/s.md" && grep -q '❌ hwm:handles' "$TMP/s.md" &&
	pass "Markdown summary: slab table and verdicts" || fail "Markdown summary: $(head -c 300 "$TMP/s.md")"

# exit codes: CMD's status passes through unless a condition fails; lost
# events with `drops` asked for are 3, before anything else
printf 'in\n' >"$TMP/in"
cat >"$TMP/io.sh" <<EOF
#!/bin/sh
read line; printf 'out:%s\0bytes\n' "\$line"; printf 'to stderr\n' >&2
"$SIM_SHARED" --workload leak --seed 1 --ops 1000 --truth "$TMP/t.json" >/dev/null
exit 7
EOF
chmod +x "$TMP/io.sh"
"$VT" run -q -- "$TMP/io.sh" <"$TMP/in" >"$TMP/out" 2>"$TMP/err"; rc=$?
printf 'out:in\0bytes\n' >"$TMP/want"
[ "$rc" -eq 7 ] && cmp -s "$TMP/out" "$TMP/want" && [ "$(cat "$TMP/err")" = "to stderr" ] &&
	pass "CMD's stdin, stdout, stderr and exit status 7 pass through" ||
	fail "pass-through: exit $rc, stdout $(od -c "$TMP/out" | head -2), stderr $(head -c 200 "$TMP/err")"
run_vt "a failed condition before CMD's status" 1 -q --fail-on leak -- "$TMP/io.sh" <"$TMP/in"
run_vt "lost events with drops: 3" 3 -q --ringbuf-size 4096 --fail-on leak,drops -- \
	"$SIM_STATIC" --workload churn --seed 1 --ops 200000 --truth "$TMP/t.json"
grep -q "FAIL drops: [1-9][0-9]* events lost" "$TMP/err" && pass "drops: FAIL line names the losses" ||
	fail "drops: $(grep FAIL "$TMP/err")"

# no runtime anywhere, and a command that does not exist
"$VT" run -- sh -c 'exit 0' >"$TMP/out" 2>"$TMP/err"; rc=$?
[ "$rc" -eq 2 ] && [ "$(wc -l <"$TMP/err")" -eq 1 ] && grep -q "ran a valk runtime" "$TMP/err" &&
	pass "no runtime: $(cat "$TMP/err")" || fail "no runtime: exit $rc: $(cat "$TMP/err")"
"$VT" run -- /nonexistent/cmd >"$TMP/out" 2>"$TMP/err"; rc=$?
[ "$rc" -eq 2 ] && [ "$(wc -l <"$TMP/err")" -eq 1 ] && pass "no such command: $(cat "$TMP/err")" ||
	fail "no such command: exit $rc: $(cat "$TMP/err")"

# without the capabilities uprobes need, CMD is not started at all
setpriv --bounding-set=-bpf,-perfmon,-sys_admin --inh-caps=-bpf,-perfmon,-sys_admin \
	"$VT" run -- touch "$TMP/ran" >"$TMP/out" 2>"$TMP/err"; rc=$?
[ "$rc" -eq 2 ] && [ "$(wc -l <"$TMP/err")" -eq 1 ] && grep -q "uprobes need" "$TMP/err" && [ ! -e "$TMP/ran" ] &&
	pass "no uprobe privilege: CMD not run: $(cat "$TMP/err")" ||
	fail "no privilege: exit $rc, ran: $([ -e "$TMP/ran" ] && echo yes || echo no): $(cat "$TMP/err")"

# diff: a leaking run against a clean base grows; a report against itself does not
"$VT" diff "$TMP/c.json" "$TMP/r.json" --fail-on 'leak>+0,peak:handles>+10%' >"$TMP/out" 2>"$TMP/err"; rc=$?
[ "$rc" -eq 1 ] && grep -q "FAIL leak>+0" "$TMP/err" && grep -q "leaks: [0-9]* -> [0-9]*" "$TMP/out" &&
	pass "diff: growth fails leak>+0" || fail "diff: exit $rc: $(cat "$TMP/err") $(head -5 "$TMP/out")"
"$VT" diff "$TMP/r.json" "$TMP/r.json" --fail-on 'leak>+0,peak:handles>+0%,overflow' --junit "$TMP/dj.xml" \
	>"$TMP/out" 2>"$TMP/err"; rc=$?
[ "$rc" -eq 0 ] && xmllint --noout "$TMP/dj.xml" 2>/dev/null && pass "diff: a report against itself passes" ||
	fail "diff self: exit $rc: $(cat "$TMP/err")"
"$VT" diff "$TMP/r.json" /etc/passwd >"$TMP/out" 2>"$TMP/err"; rc=$?
[ "$rc" -eq 2 ] && [ "$(wc -l <"$TMP/err")" -eq 1 ] && pass "diff of a non-report: $(cat "$TMP/err")" ||
	fail "diff non-report: exit $rc: $(cat "$TMP/err")"
printf '{"a":\n\001}' >"$TMP/ctl.json"	# the bytes jansson quotes are shown printable
"$VT" diff "$TMP/r.json" "$TMP/ctl.json" >"$TMP/out" 2>"$TMP/err"; rc=$?
[ "$rc" -eq 2 ] && [ "$(wc -l <"$TMP/err")" -eq 1 ] && ! LC_ALL=C grep -q '[[:cntrl:]]' "$TMP/err" &&
	pass "diff of broken JSON with control bytes: one printable line" ||
	fail "diff broken JSON: exit $rc: $(od -c "$TMP/err" | head -3)"
"$VT" run --fail-on 'leak>+0' -- true >/dev/null 2>"$TMP/err"; rc=$?
[ "$rc" -eq 2 ] && grep -q "belong to" "$TMP/err" && pass "run refuses relative thresholds" ||
	fail "relative in run: exit $rc: $(cat "$TMP/err")"
finish
