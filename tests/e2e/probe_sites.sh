#!/bin/bash
# Probe sites on every build of the stand-in: `valk-trace probes` places
# each probe where its build allows the cheapest trap (the -O0 build's
# `push %rbp`, past endbr64 on the -fcf-protection build, the 5-byte nop of
# the clang build, the jump after the head CAS of a slab operation where
# the code proves it: every optimised build's, the -O0 build's acquire,
# its slab kept in the frame) and never inside a loop but that CAS's own
# retry; the stream's tracer object and `probes` run while the tracer is
# attached report the same sites; the traps per slab operation are counted
# (counts, not durations): one per operation (a CAS retried passes its
# jump again: at most 1 % of them here, the target on one core), and per
# HTTP/2 request; while attached the target's code holds the breakpoints,
# and after detach it is byte for byte the file's again.
. "$(dirname "$0")/../lib/common.sh"
need_root
need_bins

OPS=20000

# probe JSON FIELD NAME: one field of one probe of `probes --json`
field() { jq -r --arg n "$3" ".[] | select(.name == \$n) | .$2" "$1"; }

# slab_counts FILE: acquires, failed acquires (overflows) and releases
# over every slab
slab_counts() { jq -r '[([.slabs[].acquires] | add) // 0, ([.slabs[].overflow] | add) // 0, ([.slabs[].releases] | add) // 0] | join(" ")' "$1"; }

# acquire_probe FILE: the name of the attached acquire probe (entry or CAS)
acquire_probe() { jq -r '[.[] | select(.attached and (.name | startswith("uprobe:valk_slab_aquire")))][0].name' "$1"; }

file_bytes() { dd if="$2" bs=1 skip="$1" count=5 iflag=skip_bytes status=none | od -An -tx1 | tr -d ' \n'; }

check_classes() {
	local build=$1 j=$2 bad
	# entry and return probes of a function share one site
	bad=$(jq -r 'map(select(.attached)) | group_by(.function)[] | select((map(.offset) | unique | length) > 1) | .[0].function' "$j")
	[ -z "$bad" ] && pass "$build: entry and return probes share a site" || fail "$build: split sites: $bad"
	case $build in
	shared)
		bad=$(jq -r '.[] | select(.attached and (.function | startswith("uv_") | not) and (.name | endswith(":pop") | not) and (.class != "emulated" or .offset != 0)) | .name' "$j")
		[ -z "$bad" ] && pass "shared: every valk probe but the acquire's on its push %rbp" || fail "shared: $bad"
		cas_sites shared "$j" uprobe:valk_slab_aquire:pop ;;
	cet)
		bad=$(jq -r '.[] | select(.attached and (.function | startswith("uv_") | not) and .entry != "endbr64") | .name' "$j")
		[ -z "$bad" ] && pass "cet: every valk function starts with endbr64" || fail "cet: no endbr64: $bad"
		cas_sites cet "$j" uprobe:valk_slab_aquire:pop uprobe:valk_slab_release:push ;;
	nop5)
		# a release's 5-byte nop costs less than a jump the kernel emulates
		bad=$(jq -r '.[] | select(.attached and (.function | startswith("uv_") | not) and (.name | endswith(":pop") | not) and (.class != "nop5" or .offset != 0)) | .name' "$j")
		[ -z "$bad" ] && pass "nop5: every valk probe but the acquire's on its 5-byte nop" || fail "nop5: $bad"
		cas_sites nop5 "$j" uprobe:valk_slab_aquire:pop ;;
	static)
		cas_sites static "$j" uprobe:valk_slab_aquire:pop uprobe:valk_slab_release:push \
			uprobe:valk_slab_release_ptr:push ;;
	esac
}

# cas_sites BUILD FILE NAME...: those probes are on the conditional jump
# after their head CAS, emulated, and no entry or return probe of the
# same function is attached
cas_sites() {
	local build=$1 j=$2 n f bad=
	shift 2
	for n in "$@"; do
		f=$(field "$j" function "$n")
		[ "$(field "$j" attached "$n")" = true ] && [ "$(field "$j" class "$n")" = emulated ] &&
			[[ "$(field "$j" instruction "$n")" == j* ]] &&
			[ -z "$(jq -r --arg f "$f" --arg n "$n" '.[] | select(.attached and .function == $f and .name != $n) | .name' "$j")" ] ||
			bad+=" $n"
	done
	[ -z "$bad" ] && pass "$build: $* on the jump after the head CAS, alone on their function" ||
		fail "$build: CAS sites:$bad: $(jq -c '[.[] | select(.function | startswith("valk_slab_"))]' "$j")"
}

# check_traps BUILD ACQUIRES OVERFLOWS RELEASES TRACE: the hits of the
# slab probes against the operations since attach
check_traps() {
	local build=$1 acq=$2 ovf=$3 rel=$4 e r p rp pp ops traps
	read -r e r p rp pp < <(jq -r '[.tracer.probes[] | {(.name): .hits}] | add | . as $h |
		def h(n): $h[n] // 0;
		[h("uprobe:valk_slab_aquire"), h("uretprobe:valk_slab_aquire"), h("uprobe:valk_slab_aquire:pop"),
		 h("uprobe:valk_slab_release") + h("uprobe:valk_slab_release_ptr"),
		 h("uprobe:valk_slab_release:push") + h("uprobe:valk_slab_release_ptr:push")] | join(" ")' "$5")
	ops=$((acq + ovf + rel))
	traps=$((e + r + p + rp + pp))
	# a pop or push passes its jump once, and again per retry; a failed
	# acquire never pops; a release probed at its entry traps once a call
	[ "$e$r" = 00 ] && [ "$p" -ge "$acq" ] && [ $((p - acq)) -le $((acq / 100)) ] &&
		[ $((rp + pp)) -ge "$rel" ] && [ $((rp + pp - rel)) -le $((rel / 100)) ] &&
		pass "$build: $acq acquires in $p traps, $rel releases in $((rp + pp)) traps" ||
		fail "$build: $acq acquires $rel releases: entry $e return $r pop $p release $rp push $pp"
	echo "note: $build: $(awk -v t="$traps" -v o="$ops" 'BEGIN { printf "%.3f", t / o }') slab probe traps per slab operation"
}

run_build() {
	local build=$1 bin obj tracer line ops hits
	bin=$(sim_bin "$build")
	# on one core a CAS is retried only when the thread is preempted
	# between its load and its swap
	sim_start taskset -c 0 "$bin" --workload churn --seed 5 --port 0 --ops "$OPS" --hold ||
		{ fail "$build: start"; return; }
	"$VT" probes "$SIM_PID" --json >"$TMP/probes.json" 2>"$TMP/probes.err" ||
		{ fail "$build: probes exit $?: $(cat "$TMP/probes.err")"; return; }
	"$VT" probes "$SIM_PID" >"$TMP/probes.txt" && grep -q '^probes: ' "$TMP/probes.txt" ||
		fail "$build: probes table"
	check_classes "$build" "$TMP/probes.json"
	case $build in
	static) obj=$bin ;; shared) obj=$(dirname "$bin")/libvalkyria.so ;;
	*) obj=$(dirname "$bin")/$build/libvalkyria.so ;;
	esac
	obj=$(readlink -f "$obj")
	aname=$(acquire_probe "$TMP/probes.json")
	off=$(field "$TMP/probes.json" file_offset "$aname")
	before=$(site_bytes "$SIM_PID" "$off" "$obj")
	# held before its run, the target is quiescent: its counters now
	"$VT" snapshot "$SIM_PID" --mode sample -q >"$TMP/before.json" 2>/dev/null || fail "$build: sample snapshot"
	read -r a0 o0 r0 < <(slab_counts "$TMP/before.json")
	[ "$before" = "$(file_bytes "$off" "$obj")" ] || fail "$build: code differs from the file before attach"

	"$VT" attach "$SIM_PID" --mode events --listen none --json "$TMP/trace.json" --interval 100 \
		2>"$TMP/tracer.err" &
	tracer=$!
	PIDS+=("$tracer")
	sleep 1
	during=$(site_bytes "$SIM_PID" "$off" "$obj")
	[ "$during" != "$before" ] && pass "$build: acquire's site holds a breakpoint while attached ($before -> $during)" ||
		fail "$build: acquire's site unchanged while attached"
	# the code is read from the file, never from a mapping the kernel
	# puts the tracer's breakpoints into
	"$VT" probes "$SIM_PID" --json >"$TMP/probes2.json" 2>"$TMP/probes.err" &&
		cmp -s "$TMP/probes.json" "$TMP/probes2.json" &&
		pass "$build: probes while attached: the same sites" ||
		fail "$build: probes while attached: $(diff "$TMP/probes.json" "$TMP/probes2.json" | head -n 4) $(cat "$TMP/probes.err")"
	kill -USR2 "$SIM_PID"
	for _ in $(seq 1 600); do grep -q 'done ops' "$SIM_OUT" && break; sleep 0.1; done
	line=$(grep 'done ops' "$SIM_OUT") || { fail "$build: run did not finish"; return; }
	sleep 0.5
	kill -INT "$tracer"
	wait "$tracer" || fail "$build: tracer exit $?: $(tail -n 3 "$TMP/tracer.err")"
	after=$(site_bytes "$SIM_PID" "$off" "$obj")
	[ "$after" = "$before" ] && pass "$build: detach restores the code" || fail "$build: code after detach $after, file $before"

	sim_pause || fail "$build: pause"
	read -r a1 o1 r1 < <(slab_counts "$SIM_TRUTH")
	check_traps "$build" $((a1 - a0)) $((o1 - o0)) $((r1 - r0)) "$TMP/trace.json"

	# the stream's tracer object reports the same sites
	a=$(jq -c '[.[] | select(.attached) | {name, offset, class, instruction}]' "$TMP/probes.json")
	b=$(jq -c '[.tracer.probes[] | select(.attached) | {name, offset, class, instruction}]' "$TMP/trace.json")
	[ "$a" = "$b" ] && pass "$build: the tracer object lists the same sites" || fail "$build: tracer sites $b, probes $a"
	kill "$SIM_PID"; wait "$SIM_PID" 2>/dev/null
}

# run_http BUILD: probe hits per HTTP/2 request, counted over REQS
# requests on one connection, one at a time: its slab operations (a
# stream arena acquired and released; the connection's read and write
# tcp buffers are taken once for all its requests, as the runtime's are)
# trap once each, and nothing else does (the stream callbacks are not
# probed: the connections they flip between active and idle are read
# every tick)
REQS=2000
run_http() {
	local build=$1 tracer per slab cb want
	sim_start taskset -c 0 "$(sim_bin "$build")" --workload http --port 0 || { fail "$build http: start"; return; }
	"$VT" attach "$SIM_PID" --mode events --listen none --json "$TMP/http.json" 2>"$TMP/tracer.err" &
	tracer=$!
	PIDS+=("$tracer")
	for _ in $(seq 1 200); do grep -q 'attached to pid' "$TMP/tracer.err" && break; sleep 0.05; done
	h2load -n "$REQS" -c 1 -m 1 "http://127.0.0.1:$SIM_PORT/bytes/4096" >"$TMP/h2load.out" 2>&1 ||
		fail "$build http: h2load: $(tail -n 2 "$TMP/h2load.out")"
	sleep 0.5
	kill -INT "$tracer"
	wait "$tracer" || fail "$build http: tracer exit $?"
	read -r per slab cb < <(jq -r --arg n "$REQS" '[.tracer.probes[] | {(.name): .hits}] | add | . as $h |
		def sum(re): [to_entries[] | select(.key | test(re)) | .value] | add // 0;
		[sum("."), sum("valk_slab_(aquire|release)"), sum("stream_close|begin_headers")] |
		map(. / ($n | tonumber)) | join(" ")' "$TMP/http.json")
	want=2
	awk -v c="$cb" -v s="$slab" -v p="$per" -v w="$want" \
		'BEGIN { exit !(c == 0 && s >= w && s <= w * 1.05 && p - s < 0.01) }' &&
		pass "$build http: $per probe hits per request, $slab of them slab traps (target $want)" ||
		fail "$build http: per request $per hits, $slab slab traps (want $want), $cb stream callback traps (want 0)"
	kill "$SIM_PID"; wait "$SIM_PID" 2>/dev/null
}

for build in ${VT_BUILDS:-$SIM_BUILDS}; do
	run_build "$build"
done
if command -v h2load >/dev/null; then
	for build in ${VT_BUILDS:-$SIM_BUILDS}; do
		run_http "$build"
	done
else
	fail "h2load missing (scripts/deps.sh installs nghttp2-client)"
fi

# another tracer's probes on the file (bpftrace, no pid: every process
# mapping it gets the breakpoints, a mapping of the file made to read it
# too): the sites are read from the file, the same as before
foreign_tracer() {
	local bin bt i
	bin=$(readlink -f "$(sim_bin static)")
	sim_start "$bin" --workload churn --port 0 || { fail "foreign tracer: start"; return; }
	"$VT" probes "$SIM_PID" --json >"$TMP/own.json" 2>/dev/null || fail "foreign tracer: probes"
	bpftrace -e "uprobe:$bin:valk_slab_aquire, uprobe:$bin:valk_slab_release { @[probe] = count(); }" \
		>"$TMP/bt.out" 2>&1 &
	bt=$!
	PIDS+=("$bt")
	for i in $(seq 1 200); do grep -q 'Attaching' "$TMP/bt.out" && break; sleep 0.05; done
	sleep 0.5
	"$VT" probes "$SIM_PID" --json >"$TMP/foreign.json" 2>"$TMP/probes.err" &&
		cmp -s "$TMP/own.json" "$TMP/foreign.json" &&
		pass "static: probes with bpftrace on the same functions: the same sites" ||
		fail "static: probes beside bpftrace: $(diff "$TMP/own.json" "$TMP/foreign.json" | head -n 4) $(cat "$TMP/probes.err")"
	kill -INT "$bt"; wait "$bt" 2>/dev/null
	kill "$SIM_PID"; wait "$SIM_PID" 2>/dev/null
}
if command -v bpftrace >/dev/null; then
	foreign_tracer
else
	fail "bpftrace missing (scripts/deps.sh installs it)"
fi

# bad input: one line, exit 2
"$VT" probes 999999 2>"$TMP/err"; rc=$?
[ "$rc" = 2 ] && [ "$(wc -l <"$TMP/err")" = 1 ] && grep -q 'no such process' "$TMP/err" &&
	pass "probes of no process: one line, exit 2" || fail "probes 999999: exit $rc: $(cat "$TMP/err")"
"$VT" probes $$ 2>"$TMP/err"; rc=$?
[ "$rc" = 2 ] && grep -q 'not a valk process' "$TMP/err" &&
	pass "probes of a non-valk process: exit 2" || fail "probes \$\$: exit $rc: $(cat "$TMP/err")"
finish
