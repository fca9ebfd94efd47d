#!/bin/bash
# A target whose memory turns hostile while traced, in every mode. Through
# /proc/PID/mem each slab header field (numItems, itemSize, usage_bitmap,
# numFree, peakUsed, overflowCount, bitmap_version, total_acquires,
# total_releases), a system's slab pointer, the owner registry (its count
# and names), the subsystem list (its count and each entry's stop and ctx)
# and the GC heap pointer are set to boundary values (0, 1, 2^24, 2^31,
# 2^62+1, 2^64-1, cut to the field's width; unmapped and zeroed memory for
# pointers). First while the target is parked: each value, then its
# repair, and after each field's values a busy interval; then the fields
# the runtime does not work with (its counters, the registry, the
# subsystem list) are corrupted while it runs busy and repaired while it is
# parked. Each case checks its documented behaviour: the warning it gives
# (README "Hostile memory"), or that nothing served changes. The tracer
# must stay up and answer, stay under RSS_BOUND_KB, and after each repair
# match the target's ground truth exactly again, and after each busy
# interval too.
. "$(dirname "$0")/../lib/common.sh"
need_root
need_bins
POKE=$VT_BUILD/tests/vt-poke
[ -x "$POKE" ] || { echo "missing $POKE: run make test"; exit 1; }
RSS_BOUND_KB=65536	# README: "Hostile memory"
SETTLE=1.5	# over a reconcile interval: what a quiet case waits for

# Cases while parked: WHAT|VALUE|EXPECT|ARG, one field's values together.
# EXPECT: warn (a new warning matching the ERE ARG), same (no warning,
# everything served as before), quiet (no warning), name (system 0's
# first owner served as ARG: an owner name is shown as printable ASCII,
# any other byte as ?, 31 bytes at most), counter (a warning if the value
# is more than numItems + 4096 off the truth's count, else same),
# overflow (a warning if below the truth's count, else quiet).
H="system 0 handles slab 0x[0-9a-f]+: valk_slab_t"
GRID="0 1 16777216 2147483648 4611686018427387905 18446744073709551615"
grid() { for v in $GRID; do echo "$1|$v|$2|${3:-}"; done; }	# WHAT EXPECT [ARG]
PARKED=$(cat <<EOF
slab.handles.numItems|0|warn|$H.numItems = 0, not within 1..16777216; its last good state is kept
slab.handles.numItems|1|warn|$H.peakUsed = [0-9]+, above numItems 1;|numItems [0-9]+ -> 1,
slab.handles.numItems|16777216|warn|$H.usage_bitmap = 0x[0-9a-f]+: its 2097152 bytes are not mapped|16777216 items of [0-9]+ bytes reach past its mapping
slab.handles.numItems|2147483648|warn|$H.numItems = 2147483648, not within
slab.handles.numItems|4611686018427387905|warn|$H.numItems = 4611686018427387905, not within
slab.handles.numItems|18446744073709551615|warn|$H.numItems = 18446744073709551615, not within
slab.tcp_buffers.numItems|18446744073709551615|warn|system 0 tcp_buffers slab 0x[0-9a-f]+: valk_slab_t.numItems = 18446744073709551615, not within
slab.handles.itemSize|0|warn|$H.itemSize = 0, not within 1..4294967296
slab.handles.itemSize|18446744073709551615|warn|$H.itemSize = 18446744073709551615, not within
slab.handles.usage_bitmap|0|warn|$H.usage_bitmap = 0: its [0-9]+ bytes are not mapped
slab.handles.usage_bitmap|unmapped|warn|$H.usage_bitmap = 0x10000000000: its [0-9]+ bytes are not mapped
slab.handles.usage_bitmap|zeros|warn|handles slab 0x[0-9a-f]+ changed without being freed: .*usage_bitmap 0x[0-9a-f]+ -> 0x[0-9a-f]+
slab.tcp_buffers.usage_bitmap|zeros|warn|tcp_buffers slab 0x[0-9a-f]+ changed without being freed: .*usage_bitmap 0x[0-9a-f]+ -> 0x[0-9a-f]+
slab.handles.numFree|0|same|
slab.handles.numFree|1|same|
slab.handles.numFree|16777216|warn|$H.numFree = 16777216, above numItems [0-9]+
slab.handles.numFree|2147483648|warn|$H.numFree = 2147483648, above numItems
slab.handles.numFree|4611686018427387905|warn|$H.numFree = 4611686018427387905, above numItems
slab.handles.numFree|18446744073709551615|warn|$H.numFree = 18446744073709551615, above numItems
slab.handles.peakUsed|18446744073709551615|warn|$H.peakUsed = 18446744073709551615, above numItems
slab.handles.bitmap_version|4611686018427387905|warn|$H.bitmap_version = 4611686018427387905, but total_acquires
EOF
grid slab.handles.overflowCount overflow
grid slab.handles.total_acquires counter acquires
grid slab.handles.total_releases counter releases
cat <<EOF
sys.handles|unmapped|warn|system 0 points its handles slab at 0x10000000000
owners.count|0|same|
owners.count|1|same|
owners.count|16777216|same|
owners.count|2147483648|same|
owners.count|4611686018427387905|same|
owners.count|18446744073709551615|warn|valk_owner_registry_t.count = 65535, above its 16 entries
owners.count|17|warn|valk_owner_registry_t.count = 17, above its 16 entries
owners.name.0.0|0|name|
owners.name.0.0|1|name|?
owners.name.0.0|16777216|name|
owners.name.0.0|2147483648|name|
owners.name.0.0|4611686018427387905|name|?
owners.name.0.0|18446744073709551615|name|????????*
owners.name.0.0,owners.name.0.1,owners.name.0.2,owners.name.0.3|18446744073709551615|name|???????????????????????????????
vsys.subsystem_count|0|same|
vsys.subsystem_count|1|same|
vsys.subsystem_count|16777216|warn|valk_system_t.subsystem_count = 16777216, above its 16 entries
vsys.subsystem_count|2147483648|warn|valk_system_t.subsystem_count = 2147483648, above its 16 entries
vsys.subsystem_count|4611686018427387905|same|
vsys.subsystem_count|18446744073709551615|warn|valk_system_t.subsystem_count = 4294967295, above its 16 entries
vsys.subsystem.0.stop|0|same|
vsys.subsystem.0.stop|18446744073709551615|same|
vsys.subsystem.0.ctx|0|same|
vsys.subsystem.0.ctx|1|warn|names an AIO system at 0x1, which is not mapped memory; it is not traced
vsys.subsystem.0.ctx|16777216|warn|names an AIO system at 0x1000000, which is not mapped memory; it is not traced
vsys.subsystem.0.ctx|2147483648|warn|names an AIO system at 0x80000000, which is not mapped memory; it is not traced
vsys.subsystem.0.ctx|4611686018427387905|warn|names an AIO system at 0x4000000000000001, which is not mapped memory; it is not traced
vsys.subsystem.0.ctx|18446744073709551615|warn|names an AIO system at 0xffffffffffffffff, which is not mapped memory; it is not traced
vsys.subsystem.0.ctx|unmapped|warn|names an AIO system at 0x10000000000, which is not mapped memory; it is not traced
vsys.heap|unmapped|warn|GC heap \(valk_system_t.heap\) cannot be read
EOF
)
# Corrupted while the target runs busy: WHAT|VALUE|EXPECT|ARG|REPAIR. The
# runtime bumps its counters on: REPAIR consistent makes bitmap_version
# equal total_acquires + total_releases again, add takes back the value's
# jump and keeps what the runtime added (both with the target parked); old
# puts the value read back, the target still running. numItems, itemSize, numFree, usage_bitmap and the
# slab and heap pointers are the runtime's own working state (it would
# crash on them): they are corrupted while it is parked.
BUSY=$(cat <<EOF
slab.handles.total_acquires|4611686018427387904|warn|$H.bitmap_version = [0-9]+, but total_acquires 46116860184[0-9]{8} and|consistent
slab.handles.total_releases|9223372036854775808|warn|$H.bitmap_version = [0-9]+, but total_acquires [0-9]+ and total_releases 92233720368[0-9]{8};|consistent
slab.handles.bitmap_version|2147483648|warn|$H.bitmap_version = 21474[0-9]{5}, but total_acquires|consistent
slab.handles.overflowCount|16777216|quiet||add
owners.count|40000|warn|valk_owner_registry_t.count = 40000, above its 16 entries|old
owners.name.0.0|18446744073709551615|name|????????*|old
vsys.subsystem_count|33554432|warn|valk_system_t.subsystem_count = 33554432, above its 16 entries|old
vsys.subsystem.0.ctx|281474976710656|warn|names an AIO system at 0x1000000000000, which is not mapped memory; it is not traced|old
EOF
)

json() { curl -s --max-time 5 "http://127.0.0.1:$PORT/api/diagnostics/memory"; }

# exact_now: the tracer serves the truth file's state now, no slab marked
# invalid (quiet: for polling; compare reports)
exact_now() {
	json >"$TMP/now.json" && normalize "$SIM_TRUTH" >"$TMP/n.truth" &&
		normalize "$TMP/now.json" >"$TMP/n.now" && cmp -s "$TMP/n.truth" "$TMP/n.now" &&
		jq -e '[.slabs[] | select(.invalid == true)] == []' "$TMP/now.json" >/dev/null
}

# new_warnings DOC: warnings of DOC not in $TMP/warn.before
new_warnings() { jq -r --slurpfile b "$TMP/warn.before" '.tracer.warnings - $b[0] | .[]' "$1"; }

# alive LABEL: the tracer runs, answers, and is under its bound
alive() {
	local rss
	kill -0 "$TRACER" 2>/dev/null || { fail "$1: tracer died: $(tail -n 3 "$TMP/tracer.err")"; return 1; }
	json >"$TMP/bad.json" && jq -e .slabs "$TMP/bad.json" >/dev/null ||
		{ fail "$1: tracer does not answer"; return 1; }
	rss=$(awk '/VmRSS/ {print $2}' "/proc/$TRACER/status")
	[ "$rss" -lt "$RSS_BOUND_KB" ] || [ -n "${VT_SANITIZED:-}" ] ||
		{ fail "$1: tracer RSS $rss kB above $RSS_BOUND_KB"; return 1; }
}

# the expectation of a counter or overflow case from the truth: warn ERE,
# same or quiet
resolve() {	# EXPECT ARG VALUE
	local h
	h=$(jq -r '.slabs[] | select(.name == "handles" and .system == 0) |
		"\(.acquires) \(.releases) \(.total) \(.overflow)"' "$SIM_TRUTH")
	case $1 in
	counter)
		# d: how far the version is from acquires + releases
		if awk -v v="$3" -v h="$h" -v which="$2" 'BEGIN { split(h, x, " ");
			c = which == "acquires" ? x[1] : x[2]; d = v - c; if (d < 0) d = -d;
			exit !(d > 4096 + x[3]) }'; then
			echo "warn|$H.bitmap_version = [0-9]+, but total_acquires"
		else
			echo "same|"
		fi ;;
	overflow)
		if awk -v v="$3" -v h="$h" 'BEGIN { split(h, x, " "); exit !(v < x[4]) }'; then
			echo "warn|$H.overflowCount = $3, below the [0-9]+ read before"
		else
			echo "quiet|"
		fi ;;
	*) echo "$1|$2" ;;
	esac
}

# expect LABEL EXPECT ARG: waits (10 s at most: a bound for a loaded
# machine, not an expected time) for what the case documents
expect() {
	local label=$1 kind=$2 arg=$3 got
	case $kind in
	warn)
		for _ in $(seq 1 100); do
			alive "$label" || return
			new_warnings "$TMP/bad.json" | grep -Eq -- "$arg" && break
			sleep 0.1
		done
		got=$(new_warnings "$TMP/bad.json" | grep -E -- "$arg" | head -n 1)
		[ -n "$got" ] && pass "$label: reported: $got" ||
			fail "$label: no warning like '$arg' (new: $(new_warnings "$TMP/bad.json" | tr '\n' '|'))" ;;
	same|quiet)
		sleep "$SETTLE"
		alive "$label" || return
		got=$(new_warnings "$TMP/bad.json")
		[ -z "$got" ] || { fail "$label: warned: $got"; return; }
		if [ "$kind" = quiet ]; then
			pass "$label: no warning"
		elif exact_now; then
			pass "$label: no warning, everything served as before"
		else
			fail "$label: served state changed"
			slab_differences "$TMP/n.truth" "$TMP/n.now" | head -5
		fi ;;
	name)
		for _ in $(seq 1 100); do
			alive "$label" || return
			got=$(jq -r '.owner_maps[0][0]' "$TMP/bad.json")
			[ "$got" = "$arg" ] && break
			sleep 0.1
		done
		[ "$got" = "$arg" ] && pass "$label: owner 0 served as '$got'" ||
			fail "$label: owner 0 served as '$got', not '$arg'" ;;
	esac
}

# poke_all WHATS VALUE: each WHAT (comma-separated) set; their old values
# in OLDS, in order
poke_all() {
	local w
	OLDS=()
	for w in ${1//,/ }; do
		OLDS+=("$("$POKE" "$SIM_PID" "$w" "$2")") || return 1
	done
}

# repair_all WHATS HOW VALUE: each WHAT back, the last first
repair_all() {
	local w i
	local -a ws=(${1//,/ })
	for ((i = ${#ws[@]} - 1; i >= 0; i--)); do
		w=${ws[i]}
		case $2 in
		old) "$POKE" "$SIM_PID" "$w" "${OLDS[i]}" ;;
		consistent) "$POKE" "$SIM_PID" "$w" consistent ;;
		add) "$POKE" "$SIM_PID" "$w" "add:$((OLDS[i] - $3))" ;;
		esac >/dev/null || return 1
	done
}

# repaired LABEL: the parked target's truth is served again (10 s at most)
repaired() {
	for _ in $(seq 1 100); do exact_now && break; sleep 0.1; done
	exact_now && return 0
	fail "$1: not exact after the repair"
	slab_differences "$TMP/n.truth" "$TMP/n.now" | head -10
	jq -r '.slabs[] | select(.invalid == true) | "still invalid: \(.name): \(.problem)"' "$TMP/now.json"
}

# the expected owner name of a name case: ARG with * standing for the
# rest of the truth's name past the 8 bytes written
owner_want() {
	local name
	name=$(jq -r '.owner_maps[0][0] // empty' "$SIM_TRUTH")
	[ "${1: -1}" = "*" ] && echo "${1%\*}${name:8}" || echo "$1"
}

parked_cases() {
	local mode=$1 what value kind arg last= label
	while IFS='|' read -r what value kind arg; do
		if [ "$what" != "$last" ]; then
			[ -n "$last" ] && { sim_resume; sleep 2.2; }	# busy: a reconcile interval and more
			sim_pause || { fail "$mode/$what: pause"; return; }
			sleep 0.4	# events in flight drained, no time for a quiet repair
			json >"$TMP/traced.json"
			compare "$SIM_TRUTH" "$TMP/traced.json" "$mode: before $what (busy, after the repairs before it)"
			last=$what
		fi
		label="$mode/$what=$value (parked)"
		IFS='|' read -r kind arg <<<"$(resolve "$kind" "$arg" "$value")"
		[ "$kind" = name ] && arg=$(owner_want "$arg")
		json | jq -c .tracer.warnings >"$TMP/warn.before"
		poke_all "$what" "$value" || { fail "$label: poke"; continue; }
		expect "$label" "$kind" "$arg"
		repair_all "$what" old || fail "$label: repair"
		repaired "$label"
	done <<<"$PARKED"
	sim_resume
}

busy_cases() {
	local mode=$1 what value kind arg how label
	while IFS='|' read -r what value kind arg how; do
		label="$mode/$what=$value (busy)"
		sleep 2.2
		[ "$kind" = name ] && arg=$(owner_want "$arg")
		json | jq -c .tracer.warnings >"$TMP/warn.before"
		poke_all "$what" "$value" || { fail "$label: poke"; continue; }
		expect "$label" "$kind" "$arg"
		# what the runtime never writes is put back as it runs (its
		# ground truth, written when it parks, reads the registry and
		# the subsystem list); its counters once it is parked
		if [ "$how" = old ]; then
			repair_all "$what" old || fail "$label: repair"
		else
			sim_pause || { fail "$label: pause"; return; }
			repair_all "$what" "$how" "$value" || fail "$label: repair"
			sim_resume
		fi
		sleep 2.2	# busy again, repaired
		sim_pause || { fail "$label: pause"; return; }
		sleep 0.4
		json >"$TMP/traced.json"
		compare "$SIM_TRUTH" "$TMP/traced.json" "$label: repaired, after a busy interval"
		sim_resume
	done <<<"$BUSY"
}

run_mode() {
	local mode=$1
	sim_start "$SIM_SHARED" --workload churn --seed 11 --port 0 || { fail "$mode: start"; return; }
	"$VT" attach "$SIM_PID" --mode "$mode" --listen 127.0.0.1:0 2>"$TMP/tracer.err" &
	TRACER=$!
	PIDS+=("$TRACER")
	for _ in $(seq 1 400); do grep -q serving "$TMP/tracer.err" && break; sleep 0.05; done
	PORT=$(sed -n 's/.*serving http:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$TMP/tracer.err")
	[ -n "$PORT" ] || { fail "$mode: tracer did not serve: $(cat "$TMP/tracer.err")"; return; }
	sleep 2.2	# busy: owners registered, counters past their first values
	parked_cases "$mode"
	busy_cases "$mode"
	sleep 2.2
	sim_pause && sleep 0.4 && json >"$TMP/traced.json" &&
		compare "$SIM_TRUTH" "$TMP/traced.json" "$mode: after the last repair"
	echo "$mode: tracer RSS $(awk '/VmRSS/ {print $2}' "/proc/$TRACER/status") kB, resyncs $(jq .tracer.resyncs "$TMP/traced.json")"
	sim_resume
	kill -INT "$TRACER"
	wait "$TRACER" || fail "$mode: tracer exit $?"
	kill "$SIM_PID"; wait "$SIM_PID" 2>/dev/null
}

# attach to a target corrupt already: exit 2, one line naming the
# structure, no errno text, no "last good state" (there is none yet)
attach_corrupt() {	# WHAT VALUE PATTERN
	local what=$1 value=$2 want=$3 old out rc
	sim_pause || { fail "$what: pause"; return; }
	old=$("$POKE" "$SIM_PID" "$what" "$value") || { fail "$what: poke"; sim_resume; return; }
	out=$("$VT" attach "$SIM_PID" --mode sample --listen none --duration 1 2>&1); rc=$?
	"$POKE" "$SIM_PID" "$what" "$old" >/dev/null || fail "$what: repair"
	if [ "$rc" = 2 ] && [ "$(wc -l <<<"$out")" = 1 ] && grep -q -- "$want" <<<"$out" &&
	   ! grep -q "last good state\|Bad address\|Input/output error" <<<"$out"; then
		pass "attach to $what=$value: exit 2, \"$out\""
	else
		fail "attach to $what=$value: exit $rc, \"$out\""
	fi
	sim_resume
}
sim_start "$SIM_SHARED" --workload churn --seed 5 --port 0 || exit 1
attach_corrupt slab.handles.numItems 0x4000000000000001 "handles slab .*valk_slab_t.numItems = 4611686018427387905.*it is not traced"
attach_corrupt sys.handles unmapped "points its handles slab at 0x10000000000, which is not mapped memory; it is not traced"
attach_corrupt slab.handles.numFree 0xffffffffffffffff "handles slab .*valk_slab_t.numFree = 18446744073709551615, above numItems .*it is not traced"
"$VT" attach "$SIM_PID" --mode sample --listen none --duration 0.5 -q && pass "attach once repaired: exit 0" || fail "attach once repaired: exit $?"
kill "$SIM_PID"; wait "$SIM_PID" 2>/dev/null

# the modes at once, each its own target and tracer
in_parallel run_mode hybrid events sample
finish
