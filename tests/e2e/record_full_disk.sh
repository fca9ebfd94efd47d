#!/bin/bash
# Recording onto a disk that fills up (a 128 KiB tmpfs made for the test):
# one line says the recording stopped and why, tracing and serving go on
# to a clean exit, and the file reads and replays up to where it stopped.
. "$(dirname "$0")/../lib/common.sh"
need_root
need_bins
command -v curl >/dev/null || skip "curl missing (apt-get install curl)"
mnt=$TMP/small
mkdir -p "$mnt"
mount -t tmpfs -o size=128k tmpfs "$mnt" || skip "cannot mount a tmpfs here"
trap 'umount "$mnt" 2>/dev/null; cleanup' EXIT

sim_start "$SIM_SHARED" --workload churn --seed 3 --port 0 || { fail "start"; finish; }
"$VT" attach "$SIM_PID" --listen 127.0.0.1:0 --record "$mnt/t.rec" 2>"$TMP/err" &
tracer=$!
PIDS+=("$tracer")
port=$(served_port "$TMP/err" "$tracer") || fail "tracer did not serve: $(cat "$TMP/err")"
for _ in $(seq 1 300); do grep -q "stopped" "$TMP/err" && break; sleep 0.1; done
line=$(grep "stopped" "$TMP/err")
[ "$(grep -c stopped "$TMP/err")" -eq 1 ] &&
	grep -q "recording to $mnt/t.rec stopped: No space left on device after [0-9]* bytes (readable up to there); tracing goes on" <<<"$line" &&
	pass "one line: $line" || fail "no full-disk line: $(cat "$TMP/err")"
sleep 1
kill -0 "$tracer" 2>/dev/null && pass "tracer still running" || fail "tracer gone"
before=$(curl -s "127.0.0.1:$port/api/diagnostics/memory" | jq '.tracer.events')
sleep 1
after=$(curl -s "127.0.0.1:$port/api/diagnostics/memory" | jq '.tracer.events')
[ -n "$before" ] && [ "$after" -gt "$before" ] && pass "still tracing and serving ($before, then $after events)" ||
	fail "not tracing after the disk filled: $before, $after"
kill -INT "$tracer"
wait "$tracer"; rc=$?
[ "$rc" -eq 0 ] && pass "clean exit" || fail "exit $rc: $(tail -n 2 "$TMP/err")"
"$VT" info "$mnt/t.rec" >"$TMP/info" || fail "info exit $?"
grep -q "status:    cut short" "$TMP/info" && pass "info: cut short" || fail "info: $(cat "$TMP/info")"
"$VT" replay "$mnt/t.rec" --speed max --listen none -q 2>"$TMP/replay.err"; rc=$?
[ "$rc" -eq 0 ] && grep -q "cut short" "$TMP/replay.err" && pass "replays up to where it stopped" ||
	fail "replay exit $rc: $(cat "$TMP/replay.err")"
finish
