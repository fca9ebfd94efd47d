#!/bin/bash
# valk-trace's serving on real sockets, against the stand-in runtime's
# HTTP/2 workload under bounded h2load traffic: every route of the wire
# contract over HTTP/1.1 and HTTP/2 (prior knowledge) with curl and, meanwhile,
# both SSE dialects parsed by the node client (tests/serve/dialects.mjs) over
# both protocols: framing, ids, event names, the JSON shape of every event,
# valk deltas applied onto the last full state, and at a quiescent point
# (target paused) every stream's state equal to the ground truth; then the
# full valk document against the truth in the events and sample modes.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../serve/lib.sh"
need_root
need_bins
need_serve_tools h2load

sim_start_ms=$(date +%s%3N)
sim_start "$SIM_SHARED" --workload http --seed 11 --port 0 --tcp-buffers 512 || { fail "start valk-sim"; finish; }
tracer_start "$SIM_PID" || { fail "start valk-trace"; finish; }
pass "tracing pid $SIM_PID, serving on port $VT_PORT"

# Bounded load: long-lived connections (active and idle streams, large
# bodies through the stream arenas and the GC heap), and short ones that
# open and close all the time.
target=http://127.0.0.1:$SIM_PORT
h2load_bounded 45 -n 100000 -c 4 -m 2 --rps 10 "$target/" "$target/bytes/200000" "$target/bytes/3000"
( trap 'kill $! 2>/dev/null; exit 0' TERM
  end=$((SECONDS + 45))
  while [ $SECONDS -lt $end ]; do
	timeout 5 h2load -n 12 -c 3 -m 1 "$target/bytes/70000" "$target/x" >/dev/null 2>&1 &
	wait $!
	sleep 0.3
  done ) &
PIDS+=($!)
# slow readers: the runtime's writes stay pending and its streams open, so
# tcp buffers and stream arenas are in use at tick boundaries
timeout 45 node "$SERVE_DIR/slowload.mjs" --port "$SIM_PORT" --big 1 --small 2 --seconds 40 &
PIDS+=($!)

# ---- both dialects, both protocols, parsed by the client (in the
# background while the routes are checked) ----
cue=$TMP/cue
node "$SERVE_DIR/dialects.mjs" --port "$VT_PORT" --pid "$SIM_PID" --sim-start "$sim_start_ms" \
	--live "$TMP/live" --cue "$cue" --truth "$SIM_TRUTH" --out "$TMP" >"$TMP/client.out" 2>&1 &
client=$!
PIDS+=("$client")

# ---- every route, both protocols ----

# route PROTO PATH STATUS CONTENT-TYPE [JQ-FILTER | =BODY]
route() {
	local proto=$1 path=$2 status=$3 ctype=$4 want=${5:-} opt code got_type label
	opt=$([ "$proto" = h2 ] && echo --http2-prior-knowledge || echo --http1.1)
	label="$proto GET $path"
	code=$(curl -s "$opt" --max-time 5 -D "$TMP/hdr" -o "$TMP/body" -w '%{http_code}' "$VT_URL$path")
	got_type=$(tr -d '\r' <"$TMP/hdr" | sed -n 's/^[Cc]ontent-[Tt]ype: //p')
	if [ "$code" != "$status" ] || [ "$got_type" != "$ctype" ]; then
		fail "$label: $code '$got_type', want $status '$ctype': $(head -c 200 "$TMP/body")"
		return
	fi
	if [ "$proto" = h2 ] && ! head -n 1 "$TMP/hdr" | grep -q '^HTTP/2 '; then
		fail "$label: not answered over HTTP/2: $(head -n 1 "$TMP/hdr")"
		return
	fi
	case $want in
	'') ;;
	=*) [ "$(cat "$TMP/body")" = "${want#=}" ] || { fail "$label: body '$(head -c 200 "$TMP/body")', want '${want#=}'"; return; } ;;
	*) jq -e "$want" "$TMP/body" >/dev/null 2>&1 || { fail "$label: body fails $want: $(head -c 300 "$TMP/body")"; return; } ;;
	esac
	pass "$label: $status $ctype${want:+, $want}"
}

# sse_head PROTO PATH: the stream's head and first lines, with curl
# (h10: HTTP/1.0, a raw stream until close instead of chunks)
sse_head() {
	local proto=$1 path=$2 opt hdr label
	case $proto in h2) opt=--http2-prior-knowledge ;; h10) opt=--http1.0 ;; *) opt=--http1.1 ;; esac
	label="$proto GET $path (curl)"
	curl -sN "$opt" --max-time 1 -D "$TMP/hdr" -o "$TMP/body" "$VT_URL$path"
	hdr=$(tr -d '\r' <"$TMP/hdr" | tr 'A-Z' 'a-z')
	local probs=""
	echo "$hdr" | grep -qE '^http/(1\.[01]|2) 200' || probs+=" status: $(echo "$hdr" | head -n 1);"
	[ "$proto" = h10 ] && echo "$hdr" | grep -q '^transfer-encoding' && probs+=" chunked for HTTP/1.0;"
	echo "$hdr" | grep -qx 'content-type: text/event-stream; charset=utf-8' || probs+=" content-type;"
	echo "$hdr" | grep -qx 'cache-control: no-cache' || probs+=" cache-control;"
	echo "$hdr" | grep -qx 'x-accel-buffering: no' || probs+=" x-accel-buffering;"
	echo "$hdr" | grep -q '^content-encoding' && probs+=" compressed;"
	[ "$(head -n 1 "$TMP/body")" = "retry: 1000" ] || probs+=" first line '$(head -n 1 "$TMP/body")';"
	local events ids
	events=$(grep -c '^event: ' "$TMP/body")
	ids=$(grep -c '^id: [0-9][0-9]*$' "$TMP/body")
	[ "$events" -ge 2 ] && [ "$events" = "$ids" ] || probs+=" $events events, $ids ids;"
	[ -z "$probs" ] && pass "$label: SSE head, retry: 1000 first, $events events with ids" ||
		fail "$label:$probs"
}

mstate='(.metrics.aio.connections | has("total") and has("active") and has("idle") and has("closing") and has("connecting"))'
for proto in h1 h2; do
	route $proto / 200 "text/html; charset=utf-8"
	route $proto /debug/ 200 "text/html; charset=utf-8"
	route $proto /app.js 200 "text/javascript; charset=utf-8"
	route $proto /style.css 200 "text/css; charset=utf-8"
	route $proto /healthz 200 "text/plain; charset=utf-8" "=ok"
	route $proto /api/diagnostics/memory 200 application/json ".pid == $SIM_PID and (.slabs | length) == 5"
	route $proto /debug/metrics/state 200 application/json "$mstate and (.memory.slabs | length) == 5"
	grep -qix 'cache-control: no-cache, no-store, must-revalidate' <(tr -d '\r' <"$TMP/hdr") &&
		pass "$proto /debug/metrics/state: cache-control no-cache, no-store, must-revalidate" ||
		fail "$proto /debug/metrics/state: cache-control: $(grep -i cache-control "$TMP/hdr")"
	route $proto /metrics 200 "text/plain; version=0.0.4; charset=utf-8"
	grep -q "^valk_slab_slots{pid=\"$SIM_PID\".*slab=\"handles\",state=\"used\"} [0-9]" "$TMP/body" &&
		pass "$proto /metrics: valk_slab_slots for pid $SIM_PID" || fail "$proto /metrics: no valk_slab_slots for pid $SIM_PID"
	route $proto '/debug/slab/buckets?slab=handles&start=0&end=64&buckets=8' 200 application/json \
		'(.buckets | length) == 8 and .total == 256 and ([.buckets[] | .u + .f] | add) == 64 and all(.buckets[]; .u + .f == 8)'
	route $proto '/debug/slab/buckets?slab=handles&start=10&end=13&buckets=3&_=cachebuster' 200 application/json \
		'.buckets == [.buckets[] | {u, f}] and (.buckets | length) == 3 and all(.buckets[]; .u + .f == 1)'
	route $proto /debug/slab/buckets 200 application/json '(.buckets | length) == 100 and .total == 512 and ([.buckets[] | .u + .f] | add) == 512'
	route $proto '/debug/slab/buckets?slab=stream_arenas&buckets=4' 200 application/json '(.buckets | length) == 4 and .total == 32 and all(.buckets[]; .u + .f == 8)'
	for bad in 'buckets=0' 'buckets=5000' 'slab=nope' 'slab=handles&start=9&end=3' 'start=abc' 'slab=Handles' 'end=-1'; do
		route $proto "/debug/slab/buckets?$bad" 400 "text/plain; charset=utf-8"
	done
	route $proto /nope 404 "text/plain; charset=utf-8"
	route $proto /api/diagnostics/memory/stream/x 404 "text/plain; charset=utf-8"
	route $proto /metrics/ 404 "text/plain; charset=utf-8"
	sse_head $proto /api/diagnostics/memory/stream
	sse_head $proto /debug/diagnostics/memory
	sse_head $proto '/debug/diagnostics/memory?since=0'
	# HEAD: the head of a GET, no body
	opt=$([ "$proto" = h2 ] && echo --http2-prior-knowledge || echo --http1.1)
	for path in /healthz /api/diagnostics/memory /api/diagnostics/memory/stream; do
		out=$(curl -s "$opt" --max-time 2 -I -o /dev/null -w '%{http_code} %{content_type} %{size_download}' "$VT_URL$path")
		case $out in
		"200 "*" 0") pass "$proto HEAD $path: $out" ;;
		*) fail "$proto HEAD $path: $out" ;;
		esac
	done
done
sse_head h10 /api/diagnostics/memory/stream
sse_head h10 /debug/diagnostics/memory

wait_live "$TMP/live" "$client"	# streams under load
sim_pause || fail "pause valk-sim"
sleep 2.5		# hybrid repairs a drift after seeing it twice, 1 s apart
kill -0 "$VT_PID" 2>/dev/null || fail "the tracer died under load: $(tail -n 3 "$VT_LOG")"
echo "note: truth at the pause: $(jq -c '[.slabs[] | "\(.name) \(.used)/\(.total)"], (.slabs[] | select(.name == "handles") | .summary)' "$SIM_TRUTH" | tr '\n' ' ')"
touch "$cue"
wait "$client"
client_report client "$TMP/client.out" $?
for f in "$TMP"/last.memory.*.json; do
	[ -s "$f" ] && compare "$SIM_TRUTH" "$f" "last memory event of $(basename "$f" .json | cut -d. -f3) (common.sh compare)"
done
sim_resume
tracer_alive "end"

# The same full document in the other modes: a tracer of each attaches
# while the target runs, the target pauses, and every field of the valk
# dialect's full document equals the truth.
kill -INT "$VT_PID"
wait "$VT_PID" 2>/dev/null
for mode in events sample; do
	tracer_start "$SIM_PID" --mode "$mode" || { fail "mode $mode: start valk-trace"; continue; }
	sleep 1.5	# traced while the load lasts
	sim_pause || fail "mode $mode: pause valk-sim"
	sleep 2.5	# a tick past the pause; sample reads every slot each tick
	run_client "mode $mode" figures.mjs --port "$VT_PORT" --pid "$SIM_PID" \
		--sim-start "$sim_start_ms" --truth "$SIM_TRUTH"
	sim_resume
	tracer_alive "mode $mode"
	kill -INT "$VT_PID"
	wait "$VT_PID" 2>/dev/null
done
finish
