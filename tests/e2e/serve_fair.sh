#!/bin/bash
# Fair serving (tests/serve/fair.py): one client address cannot take more
# than its share of connections nor lock another out, and HTTP/2 response
# bytes held for clients that never read are capped and given back.
# Connection caps and the reset-and-reopen stall are also unit-tested in
# test_server (test_max_conns, test_h2_held).
. "$(dirname "$0")/../lib/common.sh"
need_root
need_bins
command -v python3 >/dev/null || skip "python3 missing"
sim_start "$SIM_SHARED" --workload idle --port 0 || exit 1
ulimit -n 8192
"$VT" attach "$SIM_PID" --mode sample --listen 127.0.0.1:0 2>"$TMP/err" &
tracer=$!
PIDS+=("$tracer")
for _ in $(seq 1 200); do grep -q serving "$TMP/err" && break; sleep 0.05; done
port=$(sed -n 's/.*serving http:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$TMP/err")
[ -n "$port" ] || { cat "$TMP/err"; echo "tracer did not serve"; exit 1; }
python3 "$VT_ROOT/tests/serve/fair.py" "$port" "$tracer" || FAILS=$((FAILS + 1))
kill -0 "$tracer" 2>/dev/null && pass "tracer still serving" || fail "tracer died"
finish
