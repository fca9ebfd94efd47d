#!/bin/bash
# DNS rebinding: a request whose Host (HTTP/1.1) or :authority (HTTP/2) is
# not localhost, the address the client connected to or an --allow-host
# name gets 421 and nothing of the trace; the names served get 200. A
# replay checks Host the same way.
. "$(dirname "$0")/../lib/common.sh"
need_root
need_bins
sim_start "$SIM_SHARED" --workload idle --port 0 || exit 1
"$VT" attach "$SIM_PID" --mode sample --listen 127.0.0.1:0 \
	--allow-host trace.example,Other.Example 2>"$TMP/err" &
PIDS+=($!)
for _ in $(seq 1 200); do grep -q serving "$TMP/err" && break; sleep 0.05; done
port=$(sed -n 's/.*serving http:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$TMP/err")
[ -n "$port" ] || { cat "$TMP/err"; echo "tracer did not serve"; exit 1; }
code() { curl -s -o "$TMP/body" -w '%{http_code}' "$@" "http://127.0.0.1:$port/api/diagnostics/memory"; }
for proto in --http1.1 --http2-prior-knowledge; do
	for h in "localhost:$port" "127.0.0.1:$port" "[::1]:$port" "trace.example" "other.example:$port"; do
		c=$(code "$proto" -H "Host: $h")
		[ "$c" = 200 ] && pass "$proto Host $h: 200" || fail "$proto Host $h: $c"
	done
	for h in "evil.example" "evil.example:$port" "127.0.0.1.evil.example" "localhost.evil" "trace.example.evil"; do
		c=$(code "$proto" -H "Host: $h")
		if [ "$c" = 421 ] && ! grep -q '"pid"' "$TMP/body"; then pass "$proto Host $h: 421"; else fail "$proto Host $h: $c"; fi
	done
done
# two Host headers: no name of ours
exec 3<>"/dev/tcp/127.0.0.1/$port"
printf 'GET /healthz HTTP/1.1\r\nHost: localhost\r\nHost: evil.example\r\nConnection: close\r\n\r\n' >&3
c=$(timeout 5 head -c 12 <&3)
exec 3<&-
[ "$c" = "HTTP/1.1 421" ] && pass "two Host headers: 421" || fail "two Host headers: $c"

"$VT" record "$SIM_PID" --mode sample -o "$TMP/t.rec" --duration 1 -q || fail "record exit $?"
"$VT" replay "$TMP/t.rec" --listen 127.0.0.1:0 --allow-host trace.example 2>"$TMP/rerr" &
PIDS+=($!)
for _ in $(seq 1 200); do grep -q serving "$TMP/rerr" && break; sleep 0.05; done
port=$(sed -n 's/.*serving http:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$TMP/rerr")
[ -n "$port" ] || { cat "$TMP/rerr"; echo "replay did not serve"; exit 1; }
for proto in --http1.1 --http2-prior-knowledge; do
	for h in "localhost:$port" "trace.example"; do
		c=$(code "$proto" -H "Host: $h")
		[ "$c" = 200 ] && pass "replay $proto Host $h: 200" || fail "replay $proto Host $h: $c"
	done
	c=$(code "$proto" -H "Host: evil.example:$port")
	if [ "$c" = 421 ] && ! grep -q '"pid"' "$TMP/body"; then pass "replay $proto Host evil.example: 421"; else fail "replay $proto Host evil.example: $c"; fi
done
finish
