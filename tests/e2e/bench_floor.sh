#!/bin/bash
# make bench's floor variant: bench_floor puts its empty program on the
# sites it is given (a breakpoint in the target's code while attached, the
# file's bytes again after it stops) and refuses what it cannot attach.
. "$(dirname "$0")/../lib/common.sh"
[ -z "${VT_SANITIZED:-}" ] ||
	skip "skipped under make test-asan: the bench's programs, built as make bench builds them"
need_root
need_bins
cd "$(dirname "$0")/../.."
FLOOR=$VT_BUILD/bench/bench_floor
make -s -f Makefile -f tests/bench/bench.mk BUILD="$VT_BUILD" "$FLOOR" || { echo "FAIL: bench_floor does not build"; exit 1; }

sim_start "$SIM_SHARED" --workload churn --rate 2000 || exit 1
obj=$(readlink -f "$(dirname "$SIM_SHARED")/libvalkyria.so")
off=$("$VT" probes "$SIM_PID" --json | jq -r '.[] | select(.name == "uprobe:valk_slab_release") | .file_offset')
[ -n "$off" ] || { echo "FAIL: no valk_slab_release site"; exit 1; }
before=$(site_bytes "$SIM_PID" "$off" "$obj")

echo "uprobe $obj $off" | "$FLOOR" "$SIM_PID" >"$TMP/floor.out" 2>&1 &
fp=$!
PIDS+=("$fp")
for _ in $(seq 1 200); do grep -q '^attached' "$TMP/floor.out" && break; sleep 0.05; done
grep -qx 'attached 1' "$TMP/floor.out" && pass "one site attached" ||
	fail "bench_floor did not attach: $(tail -n 1 "$TMP/floor.out")"
during=$(site_bytes "$SIM_PID" "$off" "$obj")
[ "${during:0:2}" = cc ] && [ "${before:0:2}" != cc ] && pass "a breakpoint at the site while attached ($before -> $during)" ||
	fail "site bytes $before while detached, $during attached"
kill -TERM "$fp"
wait "$fp"; rc=$?
after=$(site_bytes "$SIM_PID" "$off" "$obj")
[ "$rc" -eq 0 ] && [ "$after" = "$before" ] && pass "SIGTERM detaches: exit 0, the site's bytes are the file's" ||
	fail "after SIGTERM: exit $rc, bytes $after (before $before)"

out=$(echo "uprobe $TMP/no-such-file 0" | "$FLOOR" "$SIM_PID" 2>&1); rc=$?
[ "$rc" -eq 1 ] && [[ $out == *"cannot attach uprobe $TMP/no-such-file+0"* ]] && pass "a site it cannot attach: exit 1, named" ||
	fail "missing file: exit $rc: $out"
out=$("$FLOOR" "$SIM_PID" </dev/null 2>&1); rc=$?
[ "$rc" -eq 1 ] && [[ $out == *"no site on stdin"* ]] && pass "no site: exit 1" || fail "no site: exit $rc: $out"
finish
