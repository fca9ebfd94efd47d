#!/bin/bash
# Probe sites on every build of the stand-in: `valk-trace probes` places
# each probe where its build allows the cheapest trap (the -O0 build's
# `push %rbp`, past endbr64 on the -fcf-protection build, the 5-byte nop of
# the clang build) and never inside a loop; the stream's tracer object
# reports the same sites; each probed function is hit exactly once per
# operation (counts, not durations: a site inside a loop would count
# more); while attached the target's code holds the breakpoints, and after
# detach it is byte for byte the file's again.
. "$(dirname "$0")/../lib/common.sh"
need_root
need_bins

OPS=20000

# probe JSON FIELD NAME: one field of one probe of `probes --json`
field() { jq -r --arg n "$3" ".[] | select(.name == \$n) | .$2" "$1"; }

# site_bytes PID FILE_OFFSET OBJECT: 5 bytes of the target's memory at the
# code of OBJECT mapped from that file offset, as hex
site_bytes() {
	local pid=$1 off=$2 obj=$3 range perm pgoff dev inode path s e p
	while read -r range perm pgoff dev inode path; do
		[ "$path" = "$obj" ] || continue
		s=$((16#${range%-*})) e=$((16#${range#*-})) p=$((16#$pgoff))
		if [ "$off" -ge "$p" ] && [ "$off" -lt $((p + e - s)) ]; then
			dd if="/proc/$pid/mem" bs=1 skip=$((s + off - p)) count=5 iflag=skip_bytes status=none |
				od -An -tx1 | tr -d ' \n'
			return
		fi
	done <"/proc/$pid/maps"
	echo unmapped
}

# slab_counts FILE: acquire calls (acquires and overflows) and releases
# over every slab
slab_counts() { jq -r '(([.slabs[] | .acquires + .overflow] | add) // 0) as $a | (([.slabs[].releases] | add) // 0) as $r | "\($a) \($r)"' "$1"; }

file_bytes() { dd if="$2" bs=1 skip="$1" count=5 iflag=skip_bytes status=none | od -An -tx1 | tr -d ' \n'; }

check_classes() {
	local build=$1 j=$2 bad
	# entry and return probes of a function share one site
	bad=$(jq -r 'map(select(.attached)) | group_by(.function)[] | select((map(.offset) | unique | length) > 1) | .[0].function' "$j")
	[ -z "$bad" ] && pass "$build: entry and return probes share a site" || fail "$build: split sites: $bad"
	case $build in
	shared)
		bad=$(jq -r '.[] | select(.attached and (.function | startswith("uv_") | not) and (.class != "emulated" or .offset != 0)) | .name' "$j")
		[ -z "$bad" ] && pass "shared: every valk probe on its push %rbp" || fail "shared: $bad" ;;
	cet)
		bad=$(jq -r '.[] | select(.attached and (.function | startswith("uv_") | not) and .entry != "endbr64") | .name' "$j")
		[ -z "$bad" ] && pass "cet: every valk function starts with endbr64" || fail "cet: no endbr64: $bad"
		[ "$(field "$j" class uprobe:valk_slab_aquire)" = emulated ] && [ "$(field "$j" offset uprobe:valk_slab_aquire)" -ge 4 ] &&
			pass "cet: acquire probed past endbr64, on an emulated instruction ($(field "$j" instruction uprobe:valk_slab_aquire))" ||
			fail "cet: acquire site $(jq -c '.[0]' "$j")" ;;
	nop5)
		bad=$(jq -r '.[] | select(.attached and (.function | startswith("uv_") | not) and (.class != "nop5" or .offset != 0)) | .name' "$j")
		[ -z "$bad" ] && pass "nop5: every valk probe on its 5-byte nop" || fail "nop5: $bad" ;;
	static)
		# the acquire's retry loop begins right after its first instruction
		[ "$(field "$j" offset uprobe:valk_slab_aquire)" = 0 ] &&
			pass "static: acquire stays at its entry (a loop starts after it)" ||
			fail "static: acquire moved to $(field "$j" offset uprobe:valk_slab_aquire)" ;;
	esac
}

run_build() {
	local build=$1 bin obj tracer line ops hits
	bin=$(sim_bin "$build")
	sim_start "$bin" --workload churn --seed 5 --port 0 --ops "$OPS" --hold || { fail "$build: start"; return; }
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
	off=$(field "$TMP/probes.json" file_offset uprobe:valk_slab_aquire)
	before=$(site_bytes "$SIM_PID" "$off" "$obj")
	# held before its run, the target is quiescent: its counters now
	"$VT" snapshot "$SIM_PID" --mode sample -q >"$TMP/before.json" 2>/dev/null || fail "$build: sample snapshot"
	read -r a0 r0 < <(slab_counts "$TMP/before.json")
	[ "$before" = "$(file_bytes "$off" "$obj")" ] || fail "$build: code differs from the file before attach"

	"$VT" attach "$SIM_PID" --mode events --listen none --json "$TMP/trace.json" --interval 100 \
		2>"$TMP/tracer.err" &
	tracer=$!
	PIDS+=("$tracer")
	sleep 1
	during=$(site_bytes "$SIM_PID" "$off" "$obj")
	[ "$during" != "$before" ] && pass "$build: acquire's site holds a breakpoint while attached ($before -> $during)" ||
		fail "$build: acquire's site unchanged while attached"
	kill -USR2 "$SIM_PID"
	for _ in $(seq 1 600); do grep -q 'done ops' "$SIM_OUT" && break; sleep 0.1; done
	line=$(grep 'done ops' "$SIM_OUT") || { fail "$build: run did not finish"; return; }
	sleep 0.5
	kill -INT "$tracer"
	wait "$tracer" || fail "$build: tracer exit $?: $(tail -n 3 "$TMP/tracer.err")"
	after=$(site_bytes "$SIM_PID" "$off" "$obj")
	[ "$after" = "$before" ] && pass "$build: detach restores the code" || fail "$build: code after detach $after, file $before"

	sim_pause || fail "$build: pause"
	read -r a1 r1 < <(slab_counts "$SIM_TRUTH")
	# every slab operation since attach is exactly one hit of its probe
	ops=$((a1 - a0 + r1 - r0))
	read -r acq ret rel relp all < <(jq -r '[.tracer.probes[] | {(.name): .hits}] | add |
		"\(.["uprobe:valk_slab_aquire"]) \(.["uretprobe:valk_slab_aquire"]) \(.["uprobe:valk_slab_release"]) \(.["uprobe:valk_slab_release_ptr"]) \([.[]] | add)"' "$TMP/trace.json")
	[ "$acq" = $((a1 - a0)) ] && [ $((rel + relp)) = $((r1 - r0)) ] && [ "$acq" = "$ret" ] &&
		pass "$build: $ops slab calls, $acq acquire hits (= return hits), $((rel + relp)) release hits: one per call" ||
		fail "$build: $((a1 - a0)) acquire calls $((r1 - r0)) releases but acquire $acq, return $ret, release $rel + $relp"
	echo "note: $build: $(awk -v a="$all" -v o="$ops" 'BEGIN { printf "%.2f", a / o }') probe hits per slab operation"

	# the stream's tracer object reports the same sites
	a=$(jq -c '[.[] | select(.attached) | {name, offset, class, instruction}]' "$TMP/probes.json")
	b=$(jq -c '[.tracer.probes[] | select(.attached) | {name, offset, class, instruction}]' "$TMP/trace.json")
	[ "$a" = "$b" ] && pass "$build: the tracer object lists the same sites" || fail "$build: tracer sites $b, probes $a"
	kill "$SIM_PID"; wait "$SIM_PID" 2>/dev/null
}

for build in ${VT_BUILDS:-$SIM_BUILDS}; do
	run_build "$build"
done

# bad input: one line, exit 2
"$VT" probes 999999 2>"$TMP/err"; rc=$?
[ "$rc" = 2 ] && [ "$(wc -l <"$TMP/err")" = 1 ] && grep -q 'no such process' "$TMP/err" &&
	pass "probes of no process: one line, exit 2" || fail "probes 999999: exit $rc: $(cat "$TMP/err")"
"$VT" probes $$ 2>"$TMP/err"; rc=$?
[ "$rc" = 2 ] && grep -q 'not a valk process' "$TMP/err" &&
	pass "probes of a non-valk process: exit 2" || fail "probes \$\$: exit $rc: $(cat "$TMP/err")"
finish
