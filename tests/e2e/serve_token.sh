#!/bin/bash
# Exposure: on an address beyond loopback the tracer makes up a token and
# prints it; with --token, the given one. Without it every request gets 401
# (HTTP/1.1 and HTTP/2); with it — a Bearer header, or ?token= once, which
# sets an HttpOnly SameSite cookie the next requests and an EventSource
# carry — the trace is served. Loopback needs none. A replay serves under
# the same rules.
. "$(dirname "$0")/../lib/common.sh"
need_root
need_bins
sim_start "$SIM_SHARED" --workload idle --port 0 || exit 1
# beyond loopback: the wildcard address (the token guards it for the few
# seconds of the test); the test itself only talks to 127.0.0.1
ADDR=0.0.0.0

serve() {	# ARGS...: starts a tracer (attach, or replay REC), sets PORT and the stderr file ERR
	ERR=$TMP/err.$RANDOM
	: >"$ERR"
	if [ "$1" = replay ]; then shift; "$VT" replay "$@" 2>"$ERR" &
	else "$VT" attach "$SIM_PID" --mode sample "$@" 2>"$ERR" &
	fi
	PIDS+=($!)
	for _ in $(seq 1 200); do grep -q serving "$ERR" && break; sleep 0.05; done
	PORT=$(sed -n 's/.*serving http:\/\/[^:]*:\([0-9]*\).*/\1/p' "$ERR")
}
code() { curl -s -o "$TMP/body" -w '%{http_code}' "$@"; }

serve --listen "$ADDR:0"
tok=$(sed -n 's/.*needs the token \([0-9a-f]*\) .*/\1/p' "$ERR")
[ ${#tok} = 32 ] && pass "a token made up and printed: $(grep token "$ERR")" || fail "no token printed: $(cat "$ERR")"
u=http://127.0.0.1:$PORT/api/diagnostics/memory
for proto in --http1.1 --http2-prior-knowledge; do
	c=$(code $proto "$u"); [ "$c" = 401 ] && ! grep -q '"pid"' "$TMP/body" && pass "$proto no token: 401" || fail "$proto no token: $c"
	c=$(code $proto -H "Authorization: Bearer wrong$tok" "$u"); [ "$c" = 401 ] && pass "$proto wrong token: 401" || fail "$proto wrong token: $c"
	c=$(code $proto -H "Authorization: Bearer $tok" "$u"); [ "$c" = 200 ] && pass "$proto Bearer: 200" || fail "$proto Bearer: $c"
	rm -f "$TMP/jar"
	c=$(code $proto -c "$TMP/jar" "$u?token=$tok"); [ "$c" = 200 ] && pass "$proto ?token=: 200" || fail "$proto ?token=: $c"
	grep -q "#HttpOnly_127.0.0.1.*vt_token.$tok" "$TMP/jar" && pass "$proto HttpOnly cookie set" || fail "$proto no HttpOnly cookie: $(cat "$TMP/jar")"
	c=$(code $proto -b "$TMP/jar" "$u"); [ "$c" = 200 ] && pass "$proto cookie: 200" || fail "$proto cookie: $c"
done
curl -s -D "$TMP/hdr" -o /dev/null "$u?token=$tok"
grep -qi '^set-cookie: vt_token=.*HttpOnly; SameSite=Strict' "$TMP/hdr" && pass "cookie is HttpOnly, SameSite=Strict" || fail "cookie: $(grep -i set-cookie "$TMP/hdr")"
timeout 2 curl -sN -b "$TMP/jar" "http://127.0.0.1:$PORT/api/diagnostics/memory/stream" >"$TMP/sse"
grep -q '^event: memory' "$TMP/sse" && pass "the event stream with the cookie" || fail "no events with the cookie"

serve --listen "$ADDR:0" --token given-token-0123456789
c=$(code -H "Authorization: Bearer given-token-0123456789" "http://127.0.0.1:$PORT/healthz"); [ "$c" = 200 ] && pass "--token: 200" || fail "--token: $c"
grep -q "needs the token" "$ERR" && fail "a given token is printed" || pass "a given token is not printed"

serve --listen 127.0.0.1:0
c=$(code "http://127.0.0.1:$PORT/healthz"); [ "$c" = 200 ] && pass "loopback: no token needed" || fail "loopback: $c"

# a replay beyond loopback: a token made up, or the one given
"$VT" record "$SIM_PID" --mode sample -o "$TMP/t.rec" --duration 1 -q || fail "record exit $?"
serve replay "$TMP/t.rec" --listen "$ADDR:0"
tok=$(sed -n 's/.*needs the token \([0-9a-f]*\) .*/\1/p' "$ERR")
[ ${#tok} = 32 ] && pass "replay: a token made up and printed" || fail "replay: no token printed: $(cat "$ERR")"
u=http://127.0.0.1:$PORT/api/diagnostics/memory
c=$(code "$u"); [ "$c" = 401 ] && ! grep -q '"pid"' "$TMP/body" && pass "replay, no token: 401" || fail "replay, no token: $c"
c=$(code -H "Authorization: Bearer wrong$tok" "$u"); [ "$c" = 401 ] && pass "replay, wrong token: 401" || fail "replay, wrong token: $c"
c=$(code -H "Authorization: Bearer $tok" "$u"); [ "$c" = 200 ] && grep -q '"pid"' "$TMP/body" && pass "replay, Bearer: 200" || fail "replay, Bearer: $c"
serve replay "$TMP/t.rec" --listen "$ADDR:0" --token given-token-0123456789
c=$(code "http://127.0.0.1:$PORT/healthz"); [ "$c" = 401 ] && pass "replay --token, none sent: 401" || fail "replay --token, none sent: $c"
c=$(code -H "Authorization: Bearer given-token-0123456789" "http://127.0.0.1:$PORT/healthz"); [ "$c" = 200 ] && pass "replay --token: 200" || fail "replay --token: $c"
grep -q "needs the token" "$ERR" && fail "replay: a given token is printed" || pass "replay: a given token is not printed"
serve replay "$TMP/t.rec" --listen 127.0.0.1:0
c=$(code "http://127.0.0.1:$PORT/healthz"); [ "$c" = 200 ] && pass "replay on loopback: no token needed" || fail "replay on loopback: $c"
finish
