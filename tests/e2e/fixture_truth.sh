#!/bin/bash
# valk-sim against its own ground truth: for every build and every
# workload, the truth file must be self-consistent (bitmap, counters,
# states, owners), show what the workload did, and stay frozen while
# paused. Also checks how each build shapes valk_slab_release_ptr.
# make test-asan runs the suite again sanitized; not this test:
[ -z "${VT_SANITIZED:-}" ] || { echo "skipped under make test-asan: the stand-in runtime alone, built as in make test"; exit 77; }
set -u
root=${VT_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
out=${VT_BUILD:-$root/build}/fixture
for tool in jq curl h2load llvm-dwarfdump objdump; do
	command -v "$tool" >/dev/null || { echo "SKIP: $tool is not installed (make deps)"; exit 77; }
done
mkdir -p "$out"
make -s -C "$root/tests/fixture" O="$out" >/dev/null 2>"$out/build.log" || {
	grep -v getpwuid "$out/build.log"; echo "FAIL: fixture build"; exit 1; }

tmp=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
failed=0
pass() { echo "PASS $*"; }
fail() { echo "FAIL $*"; failed=1; }

# Invariants every truth file must hold; prints one line per violation.
read -r -d '' INVARIANTS <<'JQ'
def hexbytes: [range(0; length / 2) as $b | .[2 * $b : 2 * $b + 2] | explode
	| map(if . >= 97 then . - 87 else . - 48 end) | .[0] * 16 + .[1]];
def bit($bytes; $i): (($bytes[$i / 8 | floor] / pow(2; $i % 8)) | floor) % 2;
def letters: explode | group_by(.) | map({key: ([.[0]] | implode), value: length}) | from_entries;
. as $t
| (.slabs[] | . as $s | ($s.bitmap | hexbytes) as $bytes
   | [range(0; $s.total) as $i | bit($bytes; $i)] as $bits
   | [ (if ($bits | add) != $s.used then "popcount \($bits | add) != used \($s.used)" else empty end),
       (if $s.used != $s.total - $s.free then "used \($s.used) != total-free \($s.total - $s.free)" else empty end),
       (if $s.acquires - $s.releases != $s.used then "acquires-releases \($s.acquires - $s.releases) != used \($s.used)" else empty end),
       (if $s.hwm < $s.used then "hwm \($s.hwm) < used \($s.used)" else empty end),
       (if ($bytes | length) != (($s.total + 7) / 8 | floor) then "bitmap has \($bytes | length) bytes" else empty end),
       (if ([range($s.total; ($bytes | length) * 8) as $i | bit($bytes; $i)] | add // 0) != 0 then "bits set past total" else empty end),
       (if $s.name != "handles" then empty
        elif ($s.states | length) != $s.total then "states length \($s.states | length) != total"
        else
          ([range(0; $s.total) as $i | select(($s.states[$i:$i + 1] == "F") != ($bits[$i] == 0)) | $i][0:5]
           | if length > 0 then "states F where bitmap differs at slots \(.)" else empty end),
          (if ($s.states | letters) != $s.summary then "summary \($s.summary) != letters of states" else empty end),
          (([$s.by_owner[][]] | add // 0) as $o | ([$s.states | letters | to_entries[]
             | select(.key | test("^[NAIC]$")) | .value] | add // 0) as $c
           | if $o != $c then "by_owner sums to \($o), states have \($c) connections" else empty end)
        end) ]
   | .[] | "\($s.system)/\($s.name): \(.)"),
  (.slabs[] | select(.name == "stream_arenas") as $s
   | [$t.arenas[] | select(.system == $s.system and (.name | startswith("stream_arena/")))] | length
   | if . != $s.used then "system \($s.system): \(.) stream arenas listed, slab uses \($s.used)" else empty end),
  (if ([.arenas[] | select(.name == "scratch")] | length) != 1 then "no scratch arena" else empty end),
  (if .owner_map != .owner_maps[0] then "owner_map differs from owner_maps[0]" else empty end),
  (([.gc.size_classes[] | .used * .size] | add) as $u
   | if .gc.heap_used_bytes < $u then "gc used \(.gc.heap_used_bytes) < size classes \($u)" else empty end)
JQ

# start BIN WORKLOAD ARGS...: sets pid and port once the ready line is out
# (up to 20 s: a loaded CI machine starts processes slowly).
start() {
	local bin=$1; shift
	# the last run's output must not be read as this one's: the shell
	# truncates the file in the child, after this one may have read it
	rm -f "$tmp/stdout" "$tmp/stderr"
	"$out/$bin" --truth "$tmp/truth.json" "$@" >"$tmp/stdout" 2>"$tmp/stderr" &
	pid=$!
	# the whole line: "ready" may be read before the port is written
	for _ in $(seq 400); do
		port=$(sed -n 's/^valk-sim: pid [0-9]* ready port \([0-9]*\)$/\1/p' "$tmp/stdout" 2>/dev/null)
		[ -n "$port" ] && break
		sleep 0.05
	done
	[ -n "$port" ] || { fail "$bin $*: no ready line: $(cat "$tmp/stdout" "$tmp/stderr")"; return 1; }
}

# truth FILE: pause (or re-dump while paused) and wait for the new file.
truth() {
	rm -f "$tmp/truth.json"
	kill -USR1 "$pid"
	for _ in $(seq 400); do
		[ -f "$tmp/truth.json" ] && break
		sleep 0.05
	done
	cp "$tmp/truth.json" "$1" 2>/dev/null || { fail "no truth file after SIGUSR1"; return 1; }
}

# check LABEL FILE: the invariants hold.
check() {
	local errs
	errs=$(jq -r "$INVARIANTS" "$2" 2>&1)
	if [ -z "$errs" ]; then pass "$1: truth consistent"; else fail "$1:"; echo "$errs" | sed 's/^/    /'; fi
}

q() { jq -r "$1" "$2"; }

stop() {
	kill -TERM "$pid"
	wait "$pid"
	local rc=$?
	pid=
	[ "$rc" -eq 0 ] && pass "$1: exits 0 on SIGTERM" || fail "$1: exit status $rc on SIGTERM"
}

# A raw HTTP/2 client that keeps its connection open: preface, SETTINGS
# and a GET / whose HEADERS frame carries FLAGS (5 = ends the stream).
h2_hold() {
	exec {fd}<>"/dev/tcp/127.0.0.1/$port"
	printf 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00' >&$fd
	printf "\\x00\\x00\\x06\\x01\\x0$1\\x00\\x00\\x00\\x01\\x82\\x86\\x84\\x01\\x01\\x61" >&$fd
	held+=("$fd")
}

run_idle() {
	local bin=$1
	start "$bin" --workload idle || return
	truth "$tmp/a.json" && check "$bin idle" "$tmp/a.json"
	[ "$(q '.slabs[1].states[0:3]' "$tmp/a.json")" = KUT ] &&
	[ "$(q '.slabs[1].used' "$tmp/a.json")" = 3 ] &&
	[ "$(q '.owner_map | join(",")' "$tmp/a.json")" = ":$port" ] &&
		pass "$bin idle: stopper K, listen task U, listener T, owner :$port" ||
		fail "$bin idle: handles $(q '.slabs[1].states[0:4]' "$tmp/a.json"), owners $(q '.owner_map' "$tmp/a.json")"
	kill -USR2 "$pid"
	stop "$bin idle"
}

run_churn() {
	local bin=$1
	start "$bin" --workload churn --seed 7 --systems 2 || return
	local i prev=0 now
	for i in 1 2 3; do
		sleep 0.4
		truth "$tmp/c$i.json" && check "$bin churn #$i" "$tmp/c$i.json"
		now=$(q '[.slabs[].acquires] | add' "$tmp/c$i.json")
		[ "$now" -gt "$prev" ] || fail "$bin churn #$i: no slab activity ($now acquires)"
		prev=$now
		if [ "$i" = 3 ]; then
			truth "$tmp/c3b.json"
			# all but the resident size, which the kernel's counter
			# moves by a page now and then in a process at rest
			cmp -s <(jq -S 'del(.process.rss)' "$tmp/c3.json") \
				<(jq -S 'del(.process.rss)' "$tmp/c3b.json") &&
				pass "$bin churn: state frozen while paused" ||
				fail "$bin churn: state changed while paused"
		fi
		kill -USR2 "$pid"
	done
	local seen
	seen=$(q '[.slabs[] | select(.name == "handles") | .summary | keys[]] | unique | join("")' "$tmp/c3.json")
	[[ "$seen" == *A* && "$seen" == *K* && "$seen" == *M* && "$seen" == *U* ]] &&
	[ "$(q '[.slabs[] | select(.name != "handles") | .used] | add' "$tmp/c3.json")" -gt 0 ] &&
	[ "$(q '[.slabs[] | .system] | max' "$tmp/c3.json")" = 1 ] &&
		pass "$bin churn: every slab and state in use on 2 systems (handle letters $seen)" ||
		fail "$bin churn: handle letters $seen"
	stop "$bin churn"
}

run_leak() {
	local bin=$1
	start "$bin" --workload leak --seed 3 || return
	sleep 0.3
	truth "$tmp/l1.json" && check "$bin leak #1" "$tmp/l1.json"
	kill -USR2 "$pid"
	sleep 1.5
	truth "$tmp/l2.json" && check "$bin leak #2" "$tmp/l2.json"
	kill -USR2 "$pid"
	local u1 u2
	u1=$(q '.slabs[1].summary.U + .slabs[1].summary.K' "$tmp/l1.json")
	u2=$(q '.slabs[1].summary.U + .slabs[1].summary.K' "$tmp/l2.json")
	[ "$u2" -gt "$u1" ] && pass "$bin leak: task slots grow $u1 -> $u2" ||
		fail "$bin leak: task slots $u1 -> $u2"
	stop "$bin leak"
}

run_http() {
	local bin=$1 body n
	start "$bin" --workload http || return
	body=$(curl -s --max-time 5 --http2-prior-knowledge "http://127.0.0.1:$port/")
	[ "$body" = valk-sim ] && pass "$bin http: curl GET /" || fail "$bin http: curl said '$body'"
	n=$(curl -s --max-time 5 --http2-prior-knowledge "http://127.0.0.1:$port/bytes/200000" | wc -c)
	[ "$n" = 200000 ] && pass "$bin http: 200000-byte body past the arena" || fail "$bin http: body of $n bytes"
	h2load -n1000 -c10 "http://127.0.0.1:$port/" >"$tmp/h2load" 2>&1
	grep -q '1000 succeeded' "$tmp/h2load" && pass "$bin http: h2load 1000 requests" ||
		fail "$bin http: h2load: $(grep requests: "$tmp/h2load")"
	held=()
	h2_hold 5; h2_hold 5; h2_hold 4
	sleep 0.3
	truth "$tmp/h1.json" && check "$bin http open" "$tmp/h1.json"
	local s
	s=$(q '.slabs[1].summary | "\(.A // 0) \(.I // 0)"' "$tmp/h1.json")
	[ "$s" = "1 2" ] &&
	[ "$(q '.slabs[1].by_owner["0"] | "\(.A) \(.I)"' "$tmp/h1.json")" = "1 2" ] &&
	[ "$(q '.slabs[2].used' "$tmp/h1.json")" = 1 ] &&
	[ "$(q '.slabs[2].acquires' "$tmp/h1.json")" -ge 1002 ] &&
	[ "$(q '.gc.heap_used_bytes' "$tmp/h1.json")" = 0 ] &&
		pass "$bin http: 1 active + 2 idle keep-alive connections of owner 0, 1 open stream arena" ||
		fail "$bin http: A/I $s, by_owner $(q -c '.slabs[1].by_owner' "$tmp/h1.json"), arenas $(q '.slabs[2].used' "$tmp/h1.json")"
	kill -USR2 "$pid"
	for fd in "${held[@]}"; do exec {fd}>&-; done
	sleep 0.3
	truth "$tmp/h2.json" && check "$bin http closed" "$tmp/h2.json"
	[ "$(q '.slabs[1].used' "$tmp/h2.json") $(q '.slabs[0].used' "$tmp/h2.json")" = "3 0" ] &&
		pass "$bin http: closed connections release handles and buffers" ||
		fail "$bin http: after close $(q -c '.slabs[1].summary' "$tmp/h2.json")"
	kill -USR2 "$pid"
	stop "$bin http"
}

run_big() {
	local bin=$1
	start "$bin" --workload idle --max-handles 262144 || return
	truth "$tmp/b.json"
	[ "$(q '.slabs[1] | "\(.total) \(.states | length) \(.summary.F)"' "$tmp/b.json")" = "262144 262144 262141" ] &&
		pass "$bin: --max-handles 262144" || fail "$bin: --max-handles 262144: $(q '.slabs[1].total' "$tmp/b.json")"
	kill -USR2 "$pid"
	stop "$bin big"
}

# Static: valk_slab_release inlined into valk_slab_release_ptr (DWARF);
# shared: not inlined anywhere and called through the PLT.
inlined_into_release_ptr() {
	llvm-dwarfdump --debug-info "$1" | awk '
		/DW_TAG_subprogram/ { sub_ = 1; fn = ""; next }
		sub_ && /DW_AT_(name|abstract_origin|specification)/ { if (fn == "") fn = $0; sub_ = 0 }
		/DW_TAG_inlined_subroutine/ { inl = 1; next }
		inl && /DW_AT_abstract_origin/ { inl = 0
			if ($0 ~ /"valk_slab_release"/ && fn ~ /"valk_slab_release_ptr"/) found = 1 }
		END { exit !found }'
}
inlined_into_release_ptr "$out/valk-sim-static" &&
	pass "static: valk_slab_release inlined into valk_slab_release_ptr (DWARF)" ||
	fail "static: no inlined valk_slab_release in valk_slab_release_ptr"
if ! llvm-dwarfdump --debug-info "$out/libvalkyria.so" | grep -A2 DW_TAG_inlined_subroutine | grep -q '"valk_slab_release"' &&
   objdump -d "$out/libvalkyria.so" --disassemble=valk_slab_release_ptr | grep -q 'call.*<valk_slab_release@plt>'; then
	pass "shared: valk_slab_release_ptr calls valk_slab_release through the PLT"
else
	fail "shared: valk_slab_release is inlined or not called through the PLT"
fi
readelf -d "$out/valk-sim" | grep -q 'RUNPATH.*\$ORIGIN' && readelf -d "$out/valk-sim" | grep -q 'NEEDED.*libvalkyria.so' &&
	pass "shared: valk-sim needs libvalkyria.so with RUNPATH \$ORIGIN" || fail "shared: launcher linkage"

# entry_bytes LIB FUNCTION: the hex bytes of the function's first 5
entry_bytes() {
	objdump -d "$1" --disassemble="$2" | awk -v f="<$2>:" '
		$2 == f { on = 1; next }
		on && /^ *[0-9a-f]+:/ { for (i = 2; i <= NF && $i ~ /^[0-9a-f][0-9a-f]$/; i++) b = b $i; if (length(b) >= 10) { print substr(b, 1, 10); exit } }'
}
# The optimised shared builds start every probed function the way their
# compilers do: endbr64 (f30f1efa) for -fcf-protection, a 5-byte nop
# (0f1f44) for clang's -fpatchable-function-entry=5.
for fn in valk_slab_aquire valk_slab_release valk_slab_release_ptr valk_slab_new \
	  valk_conn_transition valk_http2_on_begin_headers_callback; do
	case $(entry_bytes "$out/cet/libvalkyria.so" "$fn") in
	f30f1efa*) ;; *) fail "cet: $fn does not start with endbr64" ;;
	esac
	case $(entry_bytes "$out/nop5/libvalkyria.so" "$fn") in
	0f1f44*) ;; *) fail "nop5: $fn does not start with a 5-byte nop" ;;
	esac
done
[ "$failed" = 0 ] && pass "cet: endbr64 entries; nop5: 5-byte nop entries"

for bin in valk-sim valk-sim-static valk-sim-cet valk-sim-nop5; do
	run_idle "$bin"
	run_churn "$bin"
	run_leak "$bin"
	run_http "$bin"
	run_big "$bin"
done
"$out/valk-sim" --workload nope 2>"$tmp/err"; rc=$?
[ "$rc" = 2 ] && grep -q "unknown workload 'nope'" "$tmp/err" && pass "bad --workload: one-line error, status 2" ||
	fail "bad --workload: status $rc: $(cat "$tmp/err")"
[ "$failed" = 0 ] && echo "fixture_truth: all passed" || echo "fixture_truth: FAILED"
exit "$failed"
