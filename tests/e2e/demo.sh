#!/bin/bash
# `valk-trace demo`: the stand-in runtime under client load, traced and
# served; connections come and go; Ctrl-C stops all of it and leaves no
# process behind.
. "$(dirname "$0")/../lib/common.sh"
need_root
need_bins
"$VT" demo --listen 127.0.0.1:0 >"$TMP/demo.out" 2>&1 &
demo=$!
PIDS+=("$demo")
port=$(served_port "$TMP/demo.out" "$demo") && pass "serving" ||
	{ fail "demo did not serve: $(cat "$TMP/demo.out")"; finish; }
sim=$(sed -n 's/.*demo runtime pid \([0-9]*\).*/\1/p' "$TMP/demo.out")

# the load makes connections: over a few seconds the handle slab shows
# connection states and tcp buffers and stream arenas are used
seen=""
for _ in $(seq 1 40); do
	doc=$(curl -s "http://127.0.0.1:$port/api/diagnostics/memory")
	seen="$seen$(echo "$doc" | jq -r '.slabs[] | select(.name == "handles") | .states' | tr -d 'FKUT')"
	acq=$(echo "$doc" | jq '[.slabs[] | select(.name != "handles") | .acquires] | add')
	sleep 0.2
done
[[ "$seen" == *A* || "$seen" == *I* ]] && pass "connections seen: $(echo "$seen" | fold -w1 | sort | uniq -c | tr -s ' \n' ' ')" ||
	fail "no connection states seen"
[ "${acq:-0}" -gt 0 ] && pass "buffers and arenas used ($acq acquires)" || fail "no buffer/arena traffic"
curl -s "http://127.0.0.1:$port/" | grep -qi "<html" && pass "dashboard page" || fail "no dashboard page"

kill -INT "$demo"
wait "$demo"; rc=$?
[ "$rc" -eq 0 ] && pass "Ctrl-C: exit 0" || fail "Ctrl-C: exit $rc"
grep -q "^valk-trace: demo runtime pid $sim stopped$" "$TMP/demo.out" && ! grep -q "left as it was" "$TMP/demo.out" &&
	pass "says the demo runtime was stopped" || fail "stop message: $(tail -n 2 "$TMP/demo.out")"
sleep 0.2
kill -0 "$sim" 2>/dev/null && fail "the runtime $sim is still running" || pass "no process left behind"
finish
