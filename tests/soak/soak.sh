#!/bin/bash
# Soak: `soak.sh SECONDS [HISTORY]` traces the stand-in's http workload under h2load
# load, in hybrid mode, with 10 SSE clients (5 per dialect) reading for
# SECONDS, then checks: the collector's RSS is flat (least-squares slope
# after the warm-up — a quarter of the run, and the dashboard's --history
# of HISTORY seconds (default 300) filling — below SLOPE_KB_PER_MIN),
# no events were lost, every client is still streaming, and the state
# equals the target's ground truth once it is paused. `make soak` runs it
# for 10 minutes; tests/e2e/soak.sh for 60 s.
. "$(dirname "$0")/../lib/common.sh"
need_root
need_bins
command -v h2load >/dev/null || skip "h2load missing (apt-get install nghttp2-client)"
secs=${1:-600}
history=${2:-300}
warm=$((secs / 4 > history + 30 ? secs / 4 : history + 30))
SLOPE_KB_PER_MIN=${SLOPE_KB_PER_MIN:-256}
sim_start "$SIM_SHARED" --workload http --port 0 || exit 1
timeout $((secs + 30)) h2load -n 100000000 -c 8 -m 4 --rps 50 "http://127.0.0.1:$SIM_PORT/bytes/2048" >/dev/null 2>&1 &
PIDS+=($!)
"$VT" attach "$SIM_PID" --mode hybrid --listen 127.0.0.1:0 --history "$history" 2>"$TMP/err" &
tracer=$!
PIDS+=("$tracer")
for _ in $(seq 1 400); do grep -q serving "$TMP/err" && break; sleep 0.05; done
port=$(sed -n 's/.*serving http:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$TMP/err")
[ -n "$port" ] || { cat "$TMP/err"; echo "tracer did not serve"; exit 1; }
for i in $(seq 1 10); do
	path=$([ $((i % 2)) = 0 ] && echo /api/diagnostics/memory/stream || echo /debug/diagnostics/memory)
	curl -sN --max-time $((secs + 60)) "http://127.0.0.1:$port$path" >"$TMP/sse.$i" 2>/dev/null &
	PIDS+=($!)
done
: >"$TMP/rss"
start=$SECONDS
while [ $((SECONDS - start)) -lt "$secs" ]; do
	kill -0 "$tracer" 2>/dev/null || { fail "tracer died: $(tail -n 3 "$TMP/err")"; finish; }
	echo "$((SECONDS - start)) $(awk '/VmRSS/ {print $2}' "/proc/$tracer/status")" >>"$TMP/rss"
	sleep 2
done
# slope after warm-up (kB per minute), least squares
read -r slope first last < <(awk -v from="$warm" '$1 >= from {n++; x+=$1; y+=$2; xx+=$1*$1; xy+=$1*$2; if (!f) f=$2; l=$2}
	END {d = n*xx - x*x; printf "%.1f %d %d\n", d ? (n*xy - x*y) / d * 60 : 0, f, l}' "$TMP/rss")
echo "collector RSS: $first kB -> $last kB from $warm s on, slope $slope kB/min (bound $SLOPE_KB_PER_MIN)"
# the bound is the plain build's: a sanitized one quarantines freed memory
awk -v s="$slope" -v b="$SLOPE_KB_PER_MIN" 'BEGIN {exit !(s < b)}' || [ -n "${VT_SANITIZED:-}" ] &&
	pass "RSS flat" || fail "RSS grows $slope kB/min"
for i in $(seq 1 10); do
	sz=$(stat -c %s "$TMP/sse.$i")
	sleep 0.3
	[ "$(stat -c %s "$TMP/sse.$i")" -gt "$sz" ] && pass "SSE client $i still streaming" || fail "SSE client $i stopped"
done
sim_pause || { fail "pause"; finish; }
sleep 2.5	# a reconcile interval: nothing left in flight
curl -s "http://127.0.0.1:$port/api/diagnostics/memory" >"$TMP/traced.json"
compare "$SIM_TRUTH" "$TMP/traced.json" "after $secs s"
lost=$(jq .tracer.lost "$TMP/traced.json")
[ "$lost" = 0 ] && pass "no events lost ($(jq .tracer.events "$TMP/traced.json") events)" || fail "$lost events lost"
sim_resume
finish
