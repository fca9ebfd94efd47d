#!/bin/bash
# Bad input gets one line naming the problem and the fix, and exit code 2.
. "$(dirname "$0")/../lib/common.sh"
need_bins

expect_err() {  # expect_err LABEL PATTERN CMD...
	local label=$1 pat=$2; shift 2
	"$@" >"$TMP/out" 2>"$TMP/err"; local rc=$?
	local lines; lines=$(wc -l <"$TMP/err")
	if [ "$rc" -eq 2 ] && [ "$lines" -eq 1 ] && grep -qi -- "$pat" "$TMP/err"; then
		pass "$label: $(cat "$TMP/err")"
	else
		fail "$label: exit $rc, $lines line(s): $(head -c 300 "$TMP/err")"
	fi
}

expect_err "no such pid" "no such process" "$VT" snapshot 999999 --mode sample
sleep 30 & PIDS+=($!)
expect_err "not a valk process" "not a valk" "$VT" snapshot $! --mode sample
expect_err "unknown mode" "mode" "$VT" attach 1 --mode fast
expect_err "bad interval" "interval" "$VT" attach 1 --interval 0
expect_err "unknown command" "unknown command" "$VT" frobnicate
expect_err "layout of a non-ELF" "" "$VT" layout /etc/passwd

# a stripped target: no DWARF, then the fix with --layout
cp "$SIM_STATIC" "$TMP/valk-sim-stripped"
strip --strip-debug "$TMP/valk-sim-stripped"
sim_start "$TMP/valk-sim-stripped" --workload idle --port 0
expect_err "stripped target" "layout" "$VT" snapshot "$SIM_PID" --mode sample
"$VT" layout "$SIM_STATIC" >"$TMP/layout.json" || fail "layout of the unstripped build"
if "$VT" snapshot "$SIM_PID" --mode sample --layout "$TMP/layout.json" >"$TMP/snap.json" 2>"$TMP/err"; then
	jq -e '.slabs | length == 5' "$TMP/snap.json" >/dev/null && pass "stripped target with --layout" ||
		fail "stripped target with --layout: bad document"
else
	fail "stripped target with --layout: $(cat "$TMP/err")"
fi
"$VT" layout "$SIM_SHARED/../libvalkyria.so" >"$TMP/other.json" 2>/dev/null ||
	"$VT" layout "$(dirname "$SIM_SHARED")/libvalkyria.so" >"$TMP/other.json"
expect_err "layout of another build" "build-id" "$VT" snapshot "$SIM_PID" --mode sample --layout "$TMP/other.json"

if [ "$(id -u)" -eq 0 ] && id nobody >/dev/null 2>&1; then
	expect_err "not root" "root\|CAP_BPF\|permission" setpriv --reuid=nobody --regid=nogroup --clear-groups "$VT" snapshot "$SIM_PID"
fi
finish
