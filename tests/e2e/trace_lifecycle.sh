#!/bin/bash
# Tracer lifecycle: two tracers on one target stay exact and detaching one
# disturbs neither the other nor the target; detaching leaves no BPF
# program behind; a ring buffer too small on purpose reports its losses and
# hybrid mode repairs the state; a target that dies or execs another
# program ends the trace with a final state and exit code 3.
. "$(dirname "$0")/../lib/common.sh"
need_root
need_bins
command -v bpftool >/dev/null || skip "bpftool missing"

# ids of the BPF programs tracer PID holds (its descriptors' fdinfo): not
# those of any other tracer on the machine
prog_ids() { grep -h '^prog_id:' /proc/"$1"/fdinfo/* 2>/dev/null | awk '{ print $2 }' | sort -u; }
# ids of every BPF program loaded
loaded_ids() { bpftool prog show -j 2>/dev/null | jq -r '.[].id' | sort; }

# health_until PORT WANT: polls /healthz until it answers WANT (30 s at
# most: a bound for a loaded machine); the last answer in $health
health_until() {
	for _ in $(seq 1 300); do
		health=$(curl -s --max-time 5 -w ' %{http_code}' "http://127.0.0.1:$1/healthz")
		[[ "$health" == $2 ]] && return 0
		sleep 0.1
	done
	return 1
}

tracer_start() {  # tracer_start NAME ARGS...: sets TR_PID
	local name=$1; shift
	"$VT" attach "$SIM_PID" --listen none --json "$TMP/$name.json" "$@" 2>"$TMP/$name.err" &
	TR_PID=$!
	PIDS+=("$TR_PID")
	for _ in $(seq 1 100); do grep -q attached "$TMP/$name.err" && return 0; sleep 0.05; done
	cat "$TMP/$name.err"; return 1
}

# --- two tracers at once ------------------------------------------------
sim_start "$SIM_SHARED" --workload churn --seed 3 --port 0
tracer_start a && a=$TR_PID
tracer_start b && b=$TR_PID
ours=$({ prog_ids "$a"; prog_ids "$b"; } | sort -u)
[ "$(echo "$ours" | grep -c .)" -ge 4 ] || fail "expected the two tracers' programs, found: $ours"
sleep 1.5
sim_pause; sleep 2.5
kill -INT "$a"; wait "$a" || fail "tracer a exit code $?"
compare "$SIM_TRUTH" "$TMP/a.json" "two tracers: first"
sim_resume; sleep 1.5
sim_pause; sleep 2.5
kill -INT "$b"; wait "$b" || fail "tracer b exit code $?"
compare "$SIM_TRUTH" "$TMP/b.json" "two tracers: second, after the first detached"
left=$(comm -12 <(echo "$ours") <(loaded_ids))
[ -z "$left" ] && pass "no BPF program left after detach" ||
	fail "BPF programs left behind after detach: $left"
kill -0 "$SIM_PID" && pass "target still running after both detached" || fail "target died"
sim_resume; kill "$SIM_PID"; wait "$SIM_PID" 2>/dev/null

# --- a ring buffer too small on purpose (no overhead budget: the repair
# by reconciliation is what is checked) ----------------------------------
sim_start "$SIM_STATIC" --workload churn --seed 5 --port 0 --rate 200000
tracer_start small --mode hybrid --ringbuf-size 4096 --max-overhead 0 --listen 127.0.0.1:0 && t=$TR_PID
for _ in $(seq 1 100); do grep -q 'serving http' "$TMP/small.err" && break; sleep 0.05; done
port=$(sed -n 's|.*serving http://127\.0\.0\.1:\([0-9]*\)/.*|\1|p' "$TMP/small.err")
sleep 2
health_until "$port" '*lost events*--ringbuf-size* 503' &&
	pass "/healthz 503 while the ring loses events: $health" ||
	fail "/healthz while losing events: '$health'"
sim_pause	# the loss window (5 s) passes
health_until "$port" $'ok\n 200' && pass "/healthz 200 once losses stopped" ||
	fail "/healthz after losses stopped: '$health'"
kill -INT "$t"; wait "$t" || fail "small-ring tracer exit code $?"
lost=$(jq '.tracer.lost' "$TMP/small.json")
resyncs=$(jq '.tracer.resyncs' "$TMP/small.json")
[ "${lost:-0}" -gt 0 ] && pass "lost events reported ($lost)" || fail "no loss reported with a 4 KiB ring"
[ "${resyncs:-0}" -gt 0 ] && pass "hybrid repaired the drift ($resyncs resyncs)" || fail "no resync after losses"
compare "$SIM_TRUTH" "$TMP/small.json" "small ring buffer, hybrid, after reconciliation"
sim_resume; kill "$SIM_PID"; wait "$SIM_PID" 2>/dev/null

# --- the target dies while traced ---------------------------------------
sim_start "$SIM_SHARED" --workload churn --seed 9 --port 0
tracer_start gone && t=$TR_PID
sleep 1
kill -KILL "$SIM_PID"
wait "$t"; rc=$?
[ "$rc" -eq 3 ] && pass "target killed: exit code 3" || fail "target killed: exit code $rc, want 3"
grep -q 'exited' "$TMP/gone.err" && pass "target killed: message" || fail "no message: $(cat "$TMP/gone.err")"
jq -e '.slabs | length > 0' "$TMP/gone.json" >/dev/null && pass "final state written" || fail "no final state"

# --- the target execs another program while traced ----------------------
sim_start "$SIM_STATIC" --workload churn --seed 11 --port 0
tracer_start exec && t=$TR_PID
sleep 1
kill -HUP "$SIM_PID"	# valk-sim execs `sleep 30` in place
wait "$t"; rc=$?
[ "$rc" -eq 3 ] && pass "target exec'd: exit code 3" || fail "target exec'd: exit code $rc, want 3"
grep -q "exec'd" "$TMP/exec.err" && pass "target exec'd: message" || fail "no message: $(cat "$TMP/exec.err")"
jq -e '.slabs | length > 0' "$TMP/exec.json" >/dev/null && pass "final state written after exec" ||
	fail "no final state after exec"
finish
