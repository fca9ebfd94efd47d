#!/bin/bash
# HTTPS (--tls-cert/--tls-key), with a certificate made for the test:
# curl over HTTP/2 and HTTP/1.1 (chosen by ALPN) gets the JSON routes, both
# SSE dialects and /metrics, the state exact against the stand-in's truth;
# the token, its cookie and the Host check hold over TLS; TLS 1.2 serves
# HTTP/2 too, TLS 1.1 and renegotiation are refused; a plain-HTTP client
# is told to use https://, a client offering only other protocols gets
# the no_application_protocol alert, malformed records end their
# connection, handshakes that stall or trickle are closed at the idle
# limit, and the tracer serves on; fair serving holds and idle sessions
# keep no large buffers (fair.py over TLS). Bad certificate or key paths,
# or a key of another certificate, are refused in one line with exit code
# 2 before attaching.
. "$(dirname "$0")/../lib/common.sh"
need_root
need_bins
command -v openssl >/dev/null || skip "openssl missing (make deps)"
tls_cert "$TMP" || { echo "openssl could not make a test certificate"; exit 1; }
C=$TMP/cert.pem K=$TMP/key.pem
sim_start "$SIM_SHARED" --workload churn --port 0 || exit 1

# ---- refused before attaching ----
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$TMP/other.pem" 2>/dev/null
openssl pkey -in "$K" -aes256 -passout pass:secret -out "$TMP/locked.pem"
refused() {	# WHAT PATTERN ARGS...
	local what=$1 want=$2 out rc
	shift 2
	out=$("$VT" attach "$SIM_PID" --listen 127.0.0.1:0 "$@" 2>&1 </dev/null); rc=$?
	if [ "$rc" = 2 ] && [ "$(wc -l <<<"$out")" = 1 ] && grep -q -- "$want" <<<"$out" &&
	   ! grep -q attached <<<"$out"; then
		pass "$what: exit 2, \"$out\""
	else
		fail "$what: exit $rc, \"$out\""
	fi
}
refused "no such certificate" "cannot read TLS certificate $TMP/none.pem: No such file" --tls-cert "$TMP/none.pem" --tls-key "$K"
refused "no such key" "cannot read TLS key $TMP/none.pem: No such file" --tls-cert "$C" --tls-key "$TMP/none.pem"
refused "a key given as the certificate" "holds no PEM certificate" --tls-cert "$K" --tls-key "$K"
refused "a certificate given as the key" "holds no PEM private key" --tls-cert "$C" --tls-key "$C"
refused "a key of another certificate" "does not match the certificate" --tls-cert "$C" --tls-key "$TMP/other.pem"
refused "a key with a passphrase" "has a passphrase" --tls-cert "$C" --tls-key "$TMP/locked.pem"
refused "a certificate without its key" "go together" --tls-cert "$C"
refused "TLS with --listen none" "not with --listen none" --tls-cert "$C" --tls-key "$K" --listen none

# ---- served ----
serve() {	# ARGS...: a tracer serving HTTPS; sets PORT, ERR, TRACER
	ERR=$TMP/err.$RANDOM
	"$VT" attach "$SIM_PID" --mode sample --tls-cert "$C" --tls-key "$K" "$@" 2>"$ERR" &
	TRACER=$!
	PIDS+=("$TRACER")
	for _ in $(seq 1 200); do grep -q serving "$ERR" && break; sleep 0.05; done
	PORT=$(sed -n 's/.*serving https:\/\/[^:]*:\([0-9]*\).*/\1/p' "$ERR")
	[ -n "$PORT" ] || { cat "$ERR"; echo "tracer did not serve HTTPS"; exit 1; }
}
serve --listen 127.0.0.1:0
U=https://localhost:$PORT
cu() { curl -s --cacert "$C" --max-time 10 "$@"; }
for proto in --http2 --http1.1; do
	want=$([ $proto = --http2 ] && echo 2 || echo 1.1)
	got=$(cu $proto -o "$TMP/doc" -w '%{http_version} %{http_code}' "$U/api/diagnostics/memory")
	[ "$got" = "$want 200" ] && jq -e '.slabs | length > 0' "$TMP/doc" >/dev/null &&
		pass "$proto: ALPN gave HTTP/$want, /api/diagnostics/memory 200" || fail "$proto /api/diagnostics/memory: $got"
	got=$(cu $proto -o "$TMP/state" -w '%{http_code}' "$U/debug/metrics/state")
	[ "$got" = 200 ] && jq -e '.metrics.aio and .memory' "$TMP/state" >/dev/null &&
		pass "$proto /debug/metrics/state" || fail "$proto /debug/metrics/state: $got"
	cu $proto "$U/metrics" | grep -q '^valk_slab_slots{' && pass "$proto /metrics" || fail "$proto /metrics"
	cu $proto -N --max-time 2 "$U/api/diagnostics/memory/stream" >"$TMP/sse"
	n=$(grep -c '^event: memory-delta' "$TMP/sse")
	[ "$(head -n1 "$TMP/sse")" = "retry: 1000" ] && grep -q '^event: memory$' "$TMP/sse" && [ "$n" -ge 5 ] &&
		pass "$proto memory stream: retry, full state, $n deltas in 2 s" || fail "$proto memory stream: $(head -c 300 "$TMP/sse")"
	cu $proto -N --max-time 2 "$U/debug/diagnostics/memory" >"$TMP/sse"
	n=$(grep -c '^event: diagnostics-delta' "$TMP/sse")
	grep -q '^event: diagnostics$' "$TMP/sse" && [ "$n" -ge 5 ] &&
		pass "$proto runtime dashboard stream: full state, $n deltas" || fail "$proto diagnostics stream: $(head -c 300 "$TMP/sse")"
done
got=$(cu --http2 -o /dev/null -w '%{http_code}' -H "Host: evil.example" "$U/api/diagnostics/memory")
[ "$got" = 421 ] && pass "another site's Host over TLS: 421" || fail "evil Host over TLS: $got"
# a replay serves HTTPS with the same options
"$VT" record "$SIM_PID" --mode sample -o "$TMP/t.rec" --duration 1 -q || fail "record exit $?"
"$VT" replay "$TMP/t.rec" --listen 127.0.0.1:0 --tls-cert "$C" --tls-key "$K" 2>"$TMP/rerr" &
PIDS+=($!)
for _ in $(seq 1 200); do grep -q serving "$TMP/rerr" && break; sleep 0.05; done
rport=$(sed -n 's/.*serving https:\/\/[^:]*:\([0-9]*\).*/\1/p' "$TMP/rerr")
got=$(cu --http2 -o "$TMP/doc" -w '%{http_version} %{http_code}' "https://localhost:$rport/api/diagnostics/memory")
[ "$got" = "2 200" ] && jq -e '.slabs | length > 0' "$TMP/doc" >/dev/null &&
	pass "replay over HTTPS: HTTP/2 200" || fail "replay over HTTPS: $got $(cat "$TMP/rerr")"
sim_pause || fail "pause valk-sim"
sleep 0.5		# a tick or more of the paused target
cu --http2 -o "$TMP/traced.json" "$U/api/diagnostics/memory"
compare "$SIM_TRUTH" "$TMP/traced.json" "state over HTTP/2 + TLS against the truth (common.sh compare)"
sim_resume

# ---- clients that are not HTTPS ones ----
got=$(curl -s --max-time 5 -o "$TMP/body" -w '%{http_code}' "http://127.0.0.1:$PORT/healthz")
[ "$got" = 400 ] && grep -q 'this port serves HTTPS' "$TMP/body" && pass "plain HTTP to the TLS port: $got $(cat "$TMP/body")" || fail "plain HTTP: $got $(cat "$TMP/body")"
out=$(echo | timeout 5 openssl s_client -connect "127.0.0.1:$PORT" -alpn spdy/3,h3 2>&1)
grep -q "alert no application protocol" <<<"$out" && pass "ALPN without h2 or http/1.1: no_application_protocol alert" ||
	fail "other ALPN: $(grep -i -m3 'alert\|error\|ALPN' <<<"$out")"
got=$(cu --http2 --tlsv1.2 --tls-max 1.2 -o /dev/null -w '%{http_version} %{http_code}' "$U/healthz")
[ "$got" = "2 200" ] && pass "TLS 1.2: HTTP/2" || fail "TLS 1.2: $got"
cu -v --tlsv1.1 --tls-max 1.1 "$U/healthz" >"$TMP/out" 2>&1
grep -q "alert protocol version" "$TMP/out" && pass "TLS 1.1: the protocol_version alert" || fail "TLS 1.1: $(grep -i -m2 'alert\|error' "$TMP/out")"
out=$( (sleep 1; echo R; sleep 1) | timeout 10 openssl s_client -tls1_2 -connect "127.0.0.1:$PORT" 2>&1)
grep -q "RENEGOTIATING" <<<"$out" && grep -q "no renegotiation" <<<"$out" && pass "TLS 1.2 renegotiation refused" ||
	fail "renegotiation: $(grep -i -m3 'RENEGOT\|alert\|error' <<<"$out")"
got=$(cu --no-alpn -o /dev/null -w '%{http_version} %{http_code}' "$U/healthz")
[ "$got" = "1.1 200" ] && pass "no ALPN: HTTP/1.1" || fail "no ALPN: $got"
got=$(cu --no-alpn --http2-prior-knowledge -o /dev/null -w '%{http_version} %{http_code}' "$U/healthz")
[ "$got" = "2 200" ] && pass "no ALPN, HTTP/2 preface: HTTP/2" || fail "no ALPN, h2 prior knowledge: $got"

# ---- malformed records: each connection ends, the tracer serves on ----
# (a record cut short waits for the rest, like a stalled handshake: below)
ends() {	# BYTES-FILE: true when the tracer closes the connection within 5 s
	exec 3<>"/dev/tcp/127.0.0.1/$PORT"
	cat "$1" >&3 2>/dev/null
	timeout 5 cat <&3 >/dev/null 2>&1; local rc=$?
	exec 3<&-
	[ "$rc" != 124 ]
}
bad=0
printf '\x16\x03\x01\xff\xff' >"$TMP/rec.0"; head -c 600 /dev/urandom >>"$TMP/rec.0"	# longer than any record
printf '\x16\x03\x01\x00\x06\x01\x00\x00\x02\x03\x03' >"$TMP/rec.1"	# a ClientHello of 2 bytes
printf '\x16\x03\x01\x00\x04\x0f\x00\x00\x00' >"$TMP/rec.2"	# a CertificateVerify first
printf '\x17\x03\x03\x00\x10' >"$TMP/rec.3"; head -c 16 /dev/urandom >>"$TMP/rec.3"	# data before any handshake
hex2() { printf '\\x%02x\\x%02x' $(($1 >> 8)) $(($1 & 255)); }
for i in $(seq 4 43); do	# whole handshake records of random bytes, half of them ClientHellos
	n=$((RANDOM % 2000 + 8))
	{ printf '\x16\x03\x01'; printf "$(hex2 $n)"
	  [ $((i % 2)) = 0 ] && { printf '\x01\x00'; printf "$(hex2 $((n - 4)))"; n=$((n - 4)); }
	  head -c "$n" /dev/urandom; } >"$TMP/rec.$i"
done
for i in $(seq 0 43); do ends "$TMP/rec.$i" || { bad=$((bad + 1)); echo "note: rec.$i left open: $(od -An -tx1 -N16 "$TMP/rec.$i")"; }; done
[ "$bad" = 0 ] && pass "44 malformed or truncated TLS inputs: every connection ended" || fail "$bad malformed inputs left their connection open"
got=$(cu --http2 "$U/healthz")
kill -0 "$TRACER" 2>/dev/null && [ "$got" = ok ] && pass "tracer serves on after them" || fail "tracer after malformed TLS: $got; $(tail -n 3 "$ERR")"

# ---- stalled and trickled handshakes end at the idle limit (10 s) ----
# closed by it, says /metrics; never before it (a busy machine only
# makes it later)
idled() {
	cu "$U/metrics" | sed -n 's/^valk_trace_http_closed_total{.*reason="idle"} //p'
}
idle0=$(idled)
t0=$SECONDS
exec 4<>"/dev/tcp/127.0.0.1/$PORT"
printf '\x16\x03\x01\x02\x00\x01' >&4	# a ClientHello promising 512 bytes
( trap '' PIPE
  exec 5<>"/dev/tcp/127.0.0.1/$PORT"	# one byte of it a second
  printf '\x16\x03\x01\x02\x00' >&5
  for _ in $(seq 1 40); do printf '\x01' >&5 2>/dev/null || break; sleep 1; done
  timeout 40 cat <&5 >/dev/null; echo $((SECONDS - t0)) >"$TMP/trickle" ) &
timeout 30 cat <&4 >/dev/null; rc=$?; took=$((SECONDS - t0))
exec 4<&-
wait $!
trickled=$(cat "$TMP/trickle")
idle1=$(idled)
[ "$rc" = 0 ] && [ "$took" -ge 9 ] && pass "a stalled handshake closed after ${took} s (idle limit 10 s)" ||
	fail "stalled handshake: closed=$([ "$rc" = 0 ] && echo yes || echo no) after $took s"
[ "$trickled" -ge 9 ] && [ "$trickled" -lt 40 ] && pass "a handshake sent a byte a second closed after ${trickled} s" ||
	fail "trickled handshake: ended after ${trickled} s"
[ -n "$idle0" ] && [ "$((idle1 - idle0))" -eq 2 ] && pass "both closed at the idle limit (/metrics: closed idle $idle0 -> $idle1)" ||
	fail "handshakes closed at the idle limit: ${idle0:-none} -> ${idle1:-none}"

kill -0 "$TRACER" 2>/dev/null || fail "the tracer ended: $(tail -n 3 "$ERR")"

# ---- fair serving over TLS ----
if command -v python3 >/dev/null; then
	python3 "$VT_ROOT/tests/serve/fair.py" "$PORT" "$TRACER" "$C" || FAILS=$((FAILS + 1))
else
	fail "fair serving over TLS not checked: python3 missing (make deps)"
fi

# ---- the token and its cookie over TLS ----
serve --listen 0.0.0.0:0 --token tls-token-0123456789
a=https://127.0.0.1:$PORT/api/diagnostics/memory
got=$(cu -o /dev/null -w '%{http_code}' "$a"); [ "$got" = 401 ] && pass "no token over TLS: 401" || fail "no token over TLS: $got"
got=$(cu -o /dev/null -w '%{http_code}' -H "Authorization: Bearer tls-token-0123456789" "$a")
[ "$got" = 200 ] && pass "Bearer over TLS: 200" || fail "Bearer over TLS: $got"
got=$(cu -c "$TMP/jar" -D "$TMP/hdr" -o /dev/null -w '%{http_code}' "$a?token=tls-token-0123456789")
grep -q "#HttpOnly_127.0.0.1.*vt_token.tls-token-0123456789" "$TMP/jar" && [ "$got" = 200 ] &&
	grep -qi '^set-cookie: vt_token=.*HttpOnly; SameSite=Strict; Path=/; Secure' "$TMP/hdr" &&
	pass "?token= over TLS sets the cookie, HttpOnly and Secure" || fail "?token= over TLS: $got $(grep -i set-cookie "$TMP/hdr") $(cat "$TMP/jar")"
cu -N --max-time 2 -b "$TMP/jar" "https://127.0.0.1:$PORT/api/diagnostics/memory/stream" | grep -q '^event: memory' &&
	pass "the event stream with the cookie over TLS" || fail "no events with the cookie over TLS"
kill -0 "$TRACER" 2>/dev/null || fail "the tracer ended: $(tail -n 3 "$ERR")"
finish
