#!/bin/bash
# Without root, a user can still trace their own valk process in sample
# mode (memory reads only), and gets a one-line pointer to it otherwise;
# ps and a root short of CAP_SYS_PTRACE name the real cause.
. "$(dirname "$0")/../lib/common.sh"
need_bins
[ "$(id -u)" -eq 0 ] || skip "needs root to switch to an unprivileged user"
id nobody >/dev/null 2>&1 || skip "no user 'nobody'"
NOBODY=(setpriv --reuid=nobody --regid=nogroup --clear-groups --inh-caps=-all)
as_nobody() { "${NOBODY[@]}" "$@"; }

# copies the unprivileged user can run, wherever the build lives
chmod 755 "$TMP"
cp "$VT" "$SIM_SHARED" "$(dirname "$SIM_SHARED")/libvalkyria.so" "$TMP/"
# started directly (not through a function: $! must be the process itself)
"${NOBODY[@]}" "$TMP/valk-sim" --workload churn --port 0 --truth "$TMP/t.json" >"$TMP/sim.out" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 50); do grep -q ready "$TMP/sim.out" && break; sleep 0.1; done
pid=$(sed -n 's/.*pid \([0-9]*\).*/\1/p' "$TMP/sim.out")
[ -n "$pid" ] || { fail "valk-sim did not start as nobody: $(cat "$TMP/sim.out")"; finish; }

mkdir -m 777 "$TMP/out"
as_nobody "$TMP/valk-trace" attach "$pid" --mode sample --listen none --duration 2 \
	--json "$TMP/out/state.json" 2>"$TMP/err"
rc=$?
[ "$rc" -eq 0 ] && pass "sample mode as an unprivileged user: exit 0" ||
	fail "sample mode as nobody: exit $rc: $(cat "$TMP/err")"
jq -e '.slabs | length == 5' "$TMP/out/state.json" >/dev/null 2>&1 && pass "sample mode state read" ||
	fail "no state: $(head -c 200 "$TMP/out/state.json")"
as_nobody "$TMP/valk-trace" snapshot "$pid" >/dev/null 2>"$TMP/err"
rc=$?
[ "$rc" -eq 2 ] && grep -q "mode sample" "$TMP/err" && [ "$(wc -l <"$TMP/err")" -eq 1 ] &&
	pass "probes without privilege: $(cat "$TMP/err")" ||
	fail "probes without privilege: exit $rc: $(cat "$TMP/err")"
# ps as another unprivileged user: a hint that it needs root, no empty table
setpriv --reuid=daemon --regid=daemon --clear-groups --inh-caps=-all "$TMP/valk-trace" ps >"$TMP/out.ps" 2>"$TMP/err"
rc=$?
[ "$rc" -eq 0 ] && [ "$(wc -l <"$TMP/err")" -eq 1 ] && grep -q "no valk process.*run as root, or with CAP_SYS_PTRACE" "$TMP/err" &&
	! [ -s "$TMP/out.ps" ] && pass "ps as daemon hints at root: $(cat "$TMP/err")" ||
	fail "ps as daemon: exit $rc: $(cat "$TMP/out.ps" "$TMP/err")"
# nobody sees the runtime it runs itself, and is told about the others
as_nobody "$TMP/valk-trace" ps >"$TMP/out.ps" 2>"$TMP/err"
grep -q "^$pid " "$TMP/out.ps" && grep -q "these are the valk processes among" "$TMP/err" &&
	pass "ps as nobody lists nobody's runtime and hints at root" ||
	fail "ps as nobody: $(cat "$TMP/out.ps" "$TMP/err")"
as_nobody "$TMP/valk-trace" ps --pids 2>/dev/null | grep -qx "$pid" && pass "ps --pids as nobody: $pid" ||
	fail "ps --pids as nobody: no $pid"

# root without CAP_SYS_PTRACE, on another user's runtime: the cause, not "run as root"
setpriv --bounding-set=-sys_ptrace --inh-caps=-sys_ptrace "$VT" snapshot "$pid" --mode sample >/dev/null 2>"$TMP/err"
rc=$?
[ "$rc" -eq 2 ] && [ "$(wc -l <"$TMP/err")" -eq 1 ] && grep -q "no CAP_SYS_PTRACE" "$TMP/err" &&
	! grep -q "run valk-trace as root" "$TMP/err" && pass "root without CAP_SYS_PTRACE: $(cat "$TMP/err")" ||
	fail "root without CAP_SYS_PTRACE: exit $rc: $(cat "$TMP/err")"
finish
