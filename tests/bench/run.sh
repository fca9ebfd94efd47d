#!/bin/bash
# make bench: what tracing costs, as ratios measured side by side in one
# run. Every round runs each variant once, in an order that rotates from
# round to round; the table at the end gives medians over the rounds and,
# for ratios, the median of each round's variant/untraced pair. The short
# untraced and sample runs are repeated PLAIN_REPS times per round and the
# round keeps their median. Target on core 0, valk-trace and h2load on
# core 1 (taskset), so placement does not swing the figures.
#
#   1. target slowdown: valk-sim's churn run flat out for a fixed number of
#      operations, untraced / sample / events / hybrid, every build of the
#      stand-in (shared -O0, static -O2, -O2 -fcf-protection, clang nop5)
#   2. HTTP: h2load against valk-sim --workload http, same variants
#   3. collector cost: valk-trace's CPU per second of tracing, events/s
#   4. encoding: tests/bench/bench_wire.c on a 262,144-slot handle slab
#   5. dashboard: the page's update time in chromium for two 262,144-slot
#      slabs (tests/browser/perf.mjs) against one 60 Hz frame
#   6. attach and detach: `snapshot` in each mode and the detach of a whole
#      probe set, per build, with the classes of its probe sites
#   7. recording: hybrid tracing of the paced churn of 3b with --record
#      and without, on one target: bytes per event in the file (target
#      <= 16) and the tracer's CPU with / without (target <= 1.25)
#   8. `valk-trace run -- CMD`: the wall time it adds around a runtime that
#      exits at once, and a fixed-work churn run under it against the same
#      run untraced (with the leak stacks, and --no-stacks), per build
#   9. the budget at work: sustained HTTP load, hybrid (budget 5 %) against
#      untraced and events, and at a light load whether its probes stay on
#  10-12. the collector: the ring pipeline from a BPF producer, SSE with 100
#      clients, and the scale table and plot (tests/bench/collector.sh)
# Sections 1 and 2 also run bpftrace on the same probe set (bt-count,
# bt-empty), and an empty program on valk-trace's own sites (floor).
#
# The probe modes (events, hybrid) need root; without it they are skipped.
# Knobs (environment): BENCH_ROUNDS (3), BENCH_OPS (one op count for every
# churn run; by default two are calibrated, see below), BENCH_HTTP_N
# (20000), BENCH_HTTP_C (10), BENCH_RATE (20000), BENCH_WINDOW (2 s),
# BENCH_REC_WINDOW (12 s, section 7),
# BENCH_SLOTS (262144), BENCH_RING_RATES, BENCH_SCALE_SLOTS, BENCH_ONLY
# (collector: sections 4, 4b, 10-12 alone), VT_BUILD (build). Takes about
# 15 minutes.
# Everything stays on 127.0.0.1. Exit 0 when every measurement ran (skips
# included), 1 when one failed. The per-round records are kept in
# $VT_BUILD/bench/results.txt.
set -u
cd "$(dirname "$0")/../.." || exit 1
BUILD=${VT_BUILD:-build}
VT=$BUILD/valk-trace
ROUNDS=${BENCH_ROUNDS:-3}
HTTP_N=${BENCH_HTTP_N:-20000}
HTTP_C=${BENCH_HTTP_C:-10}
RATE=${BENCH_RATE:-20000}
WINDOW=${BENCH_WINDOW:-2}
REC_WINDOW=${BENCH_REC_WINDOW:-12}	# section 7: past two keyframe intervals
SLOTS=${BENCH_SLOTS:-262144}
PLAIN_REPS=3		# untraced and sample runs per round (median kept)
DRAIN=0.35		# > 3 collector ticks: every event handled, counted
HTTP_PATH=/bytes/4096
BUILDS=(shared static cet nop5)
MODES=(untraced sample events hybrid)

TMP=$(mktemp -d "${TMPDIR:-/tmp}/vt-bench.XXXXXX")
RESULTS=$TMP/results
PIDS=()
FAILED=0
: >"$RESULTS"

cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do wait_exit "$p" 10 || kill -KILL "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say() { printf '%s\n' "$*" >&2; }
now_ns() { date +%s%N; }

sim_bin() {
	case $1 in
	shared) echo "$BUILD/fixture/valk-sim" ;; static) echo "$BUILD/fixture/valk-sim-static" ;;
	*) echo "$BUILD/fixture/valk-sim-$1" ;;
	esac
}

# True while PID runs (a zombie has finished).
alive() {
	local st
	st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1) || return 1
	[ -n "$st" ] && [ "$st" != Z ]
}

# wait_exit PID SECONDS: true once PID has finished.
wait_exit() {
	local i
	for ((i = 0; i < $2 * 20; i++)); do alive "$1" || return 0; sleep 0.05; done
	! alive "$1"
}

# wait_line FILE PATTERN SECONDS PID: true once FILE has the pattern; false
# at the limit or when PID ended without writing it.
wait_line() {
	local i
	for ((i = 0; i < $3 * 20; i++)); do
		grep -q "$2" "$1" 2>/dev/null && return 0
		alive "$4" || break
		sleep 0.05
	done
	grep -q "$2" "$1" 2>/dev/null
}

# CPU time of every thread of PID in ns (user+sys), from schedstat; from
# stat's clock ticks where the kernel has no schedstat.
cpu_ns() {
	local s=0 a f
	for f in /proc/"$1"/task/*/schedstat; do
		[ -r "$f" ] || continue
		read -r a _ <"$f" && s=$((s + a))
	done
	if [ "$s" -eq 0 ] && [ -r "/proc/$1/stat" ]; then
		local st
		read -r -a st < <(sed 's/.*) //' "/proc/$1/stat")
		s=$(((st[11] + st[12]) * 1000000000 / $(getconf CLK_TCK)))
	fi
	echo "$s"
}

# User CPU time of PID (every thread) in ns, from stat's clock ticks: what
# encoding costs, apart from the kernel's memory reads.
user_ns() {
	local st
	read -r -a st < <(sed 's/.*) //' "/proc/$1/stat")
	echo $((st[11] * 1000000000 / $(getconf CLK_TCK)))
}

forget() {
	local p keep=()
	for p in "${PIDS[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
	PIDS=("${keep[@]}")
}

# sim_start [taskset -c N] BINARY ARGS...: sets SIM_PID, SIM_OUT, SIM_PORT
# (taskset execs, so the pid is valk-sim's).
sim_start() {
	SIM_OUT=$TMP/sim.out
	"$@" --truth "$TMP/truth.json" >"$SIM_OUT" 2>&1 &
	SIM_PID=$!
	PIDS+=("$SIM_PID")
	if ! wait_line "$SIM_OUT" ' ready port ' 10 "$SIM_PID"; then
		ERR="valk-sim did not start: $(tail -n 1 "$SIM_OUT")"
		sim_stop
		return 1
	fi
	SIM_PORT=$(sed -n 's/.* ready port \([0-9]*\).*/\1/p' "$SIM_OUT")
}

sim_stop() {
	kill -TERM "$SIM_PID" 2>/dev/null
	wait_exit "$SIM_PID" 20 || kill -KILL "$SIM_PID" 2>/dev/null
	wait "$SIM_PID" 2>/dev/null
	forget "$SIM_PID"
}

# bg_tracer PATTERN WHAT CMD...: runs CMD on core 1, its output in vt.log;
# sets VT_PID, and T_ATTACHED once the log has PATTERN (else ERR, and the
# tracer is stopped).
bg_tracer() {
	local pattern=$1 what=$2
	shift 2
	"${PIN_OTHER[@]}" "$@" >"$TMP/vt.log" 2>&1 &
	VT_PID=$!
	PIDS+=("$VT_PID")
	wait_line "$TMP/vt.log" "$pattern" 60 "$VT_PID" && { T_ATTACHED=$(now_ns); return 0; }
	ERR="$what did not attach: $(grep -v -e RLIMIT -e uprobe_events -e 'detach probe' "$TMP/vt.log" | tail -n 1)"
	tracer_stop
	return 1
}

# tracer_start MODE PID: attaches; sets VT_PID, VT_JSON, T_ATTACHED. The
# bt-* modes run bpftrace instead (bt_start), floor bench_floor.
tracer_start() {
	case $1 in bt-*) bt_start "$@"; return ;; floor) floor_start "$2"; return ;; esac
	VT_JSON=$TMP/vt.json
	rm -f "$VT_JSON"
	bg_tracer 'attached to pid' valk-trace "$VT" attach "$2" --mode "$1" --listen none \
		--json "$VT_JSON" "${@:3}"
}

# Stops the tracer (it writes VT_JSON, then detaches its probes) and sets
# HITS, EVENTS, LOST from the file.
tracer_stop() {
	[ -n "$BT_KIND" ] && { bt_stop; return; }
	kill -TERM "$VT_PID" 2>/dev/null
	wait_exit "$VT_PID" 60 || kill -KILL "$VT_PID" 2>/dev/null
	wait "$VT_PID" 2>/dev/null
	forget "$VT_PID"
	HITS=0 EVENTS=0 LOST=0 SLAB_HITS=0
	[ -s "$VT_JSON" ] || return 1
	# SLAB_HITS: the traps of the per-operation slab probes (acquire
	# entry, return or CAS site; release entry or CAS site)
	read -r HITS EVENTS LOST SLAB_HITS < <(jq -r '.tracer | "\([.probes[].hits] | add // 0) \(.events) \(.lost) \([.probes[] | select(.name | test("valk_slab_(aquire|release)")) | .hits] | add // 0)"' "$VT_JSON")
}

# ---- bpftrace on valk-trace's probe set ------------------------------------------

# bt_object PID SYMBOL: the mapped file of PID that defines SYMBOL.
bt_object() {
	local f
	for f in $(awk '$6 ~ /^\// { print $6 }' "/proc/$1/maps" | sort -u); do
		readelf -Ws "$f" 2>/dev/null | awk -v s="$2" '$8 == s && $7 != "UND" { f = 1 } END { exit !f }' &&
			{ echo "$f"; return 0; }
	done
	return 1
}

# bt_script PID KIND: a bpftrace program with one probe per probe
# valk-trace would attach to PID (valk-trace probes), each at its
# function's entry: bpftrace 0.17 as Debian builds it places no probe at an
# offset, so a site inside a function ("uprobe:valk_slab_aquire:pop", on
# the jump after its CAS) is its function's entry too. bt-count counts hits
# per probe, bt-empty does nothing (the trap floor). BEGIN says when every
# probe is attached. Paths are quoted (bpftrace reads "nop5" as a number).
bt_script() {
	local obj uv body='{ }'
	obj=$(bt_object "$1" valk_slab_aquire) || return 1
	uv=$(bt_object "$1" uv_read_start) || uv=
	[ "$2" = bt-count ] && body='{ @[probe] = count(); }'
	echo 'BEGIN { printf("attached\n"); }'
	"$VT" probes "$1" --json | jq -r '.[] | select(.attached) | .name' | while IFS=: read -r kind fn _; do
		if [ "$fn" = uv_read_start ]; then [ -n "$uv" ] && echo "$kind:\"$uv\":$fn $body"
		else echo "$kind:\"$obj\":$fn $body"; fi
	done | sort -u
}

BT_KIND=
# bt_start KIND PID: bpftrace on PID's probe set; sets VT_PID (bpftrace's).
bt_start() {
	local script=$TMP/bt.bt
	bt_script "$2" "$1" >"$script" || { ERR="no probe set for bpftrace"; return 1; }
	BT_KIND=$1
	VT_JSON=
	bg_tracer '^attached' bpftrace bpftrace -p "$2" "$script"
}

# floor_sites PID: "KIND FILE FILE_OFFSET" for each site valk-trace would
# probe in PID, the CAS sites inside functions included.
floor_sites() {
	local kind fn off obj
	"$VT" probes "$1" --json | jq -r '.[] | select(.attached) | "\(.name | split(":")[0]) \(.function) \(.file_offset)"' |
		while read -r kind fn off; do
			obj=$(bt_object "$1" "$fn") || return 1
			echo "$kind $obj $off"
		done
}

# floor_start PID: bench_floor's empty program on PID's probe sites (the
# trap floor of valk-trace's own sites: bpftrace cannot probe inside a
# function); sets VT_PID. Stopped like bpftrace.
floor_start() {
	floor_sites "$1" >"$TMP/floor.sites" && [ -s "$TMP/floor.sites" ] ||
		{ ERR="no probe sites for bench_floor"; return 1; }
	BT_KIND=floor
	VT_JSON=
	bg_tracer '^attached' bench_floor sh -c 'exec "$0" "$1" <"$2"' \
		"$BUILD/bench/bench_floor" "$1" "$TMP/floor.sites"
}

# Stops bpftrace or bench_floor; HITS from bpftrace's counts (bt-count),
# EVENTS and LOST 0.
bt_stop() {
	kill -INT "$VT_PID" 2>/dev/null
	wait_exit "$VT_PID" 60 || kill -KILL "$VT_PID" 2>/dev/null
	wait "$VT_PID" 2>/dev/null
	forget "$VT_PID"
	HITS=$(awk -F': ' '/^@\[/ { s += $2 } END { print s + 0 }' "$TMP/vt.log")
	EVENTS=0 LOST=0 BT_KIND=
}

# True (with ERR set) when the tracer ended before it was told to.
tracer_died() {
	alive "$VT_PID" && return 1
	ERR="valk-trace exited during the run: $(tail -n 1 "$TMP/vt.log")"
}

# record SECTION BUILD VARIANT ROUND key=value...
record() { echo "$*" >>"$RESULTS"; }

fail_run() {
	say "  FAILED $1 $2 $3: $ERR"
	record "$1" "$2" "$3" "$4" failed=1
	FAILED=1
}

# ---- 1. flat-out churn ------------------------------------------------------

# Parses "valk-sim: done ops N slab_ops M seconds S slab_ops_per_s R
# user_s U sys_s K" into key=value pairs.
done_fields() {
	grep 'done ops' "$SIM_OUT" | awk '{
		for (i = 3; i < NF; i += 2) printf "%s=%s ", $i, $(i + 1) }'
}

# churn_once BUILD VARIANT ROUND OPS: one run; sets LINE to its record.
churn_once() {
	local build=$1 v=$2 r=$3 ops=$4 c0=0 c1=0 t0 t1 extra=""
	LINE=
	sim_start "${PIN_TARGET[@]}" "$(sim_bin "$build")" --workload churn --ops "$ops" --hold ||
		{ fail_run churn "$build" "$v" "$r"; return; }
	if [ "$v" != untraced ]; then
		tracer_start "$v" "$SIM_PID" || { sim_stop; fail_run churn "$build" "$v" "$r"; return; }
		c0=$(cpu_ns "$VT_PID")
	fi
	t0=$(now_ns)
	kill -USR2 "$SIM_PID"
	if ! wait_line "$SIM_OUT" 'done ops' 300 "$SIM_PID"; then
		ERR="valk-sim did not finish its operations"
		[ "$v" != untraced ] && tracer_stop
		sim_stop
		fail_run churn "$build" "$v" "$r"
		return
	fi
	if [ "$v" != untraced ]; then
		sleep "$DRAIN"
		if tracer_died; then
			tracer_stop
			sim_stop
			fail_run churn "$build" "$v" "$r"
			return
		fi
		c1=$(cpu_ns "$VT_PID")
		t1=$(now_ns)
		tracer_stop || { ERR="no JSON from valk-trace"; sim_stop; fail_run churn "$build" "$v" "$r"; return; }
		extra="hits=$HITS slab_hits=$SLAB_HITS events=$EVENTS lost=$LOST vt_cpu_ns=$((c1 - c0)) vt_wall_ns=$((t1 - t0))"
	fi
	LINE="churn $build $v $r $(done_fields) $extra"
	sim_stop
}

# churn_run BUILD VARIANT ROUND OPS: untraced and sample runs are short and
# cheap, so each round takes the median of PLAIN_REPS of them.
churn_run() {
	local n=1 i lines=()
	case $2 in untraced | sample) n=$PLAIN_REPS ;; esac
	for ((i = 0; i < n; i++)); do
		churn_once "$@"
		[ -n "$LINE" ] || return
		lines+=("$LINE")
	done
	LINE=$(median_of slab_ops_per_s "${lines[@]}")
	record $LINE
	say "  churn $1 $2: $(grep -o 'slab_ops_per_s=[0-9]*' <<<"$LINE")"
}

# ---- 2. HTTP ------------------------------------------------------------------

# http_once BUILD VARIANT ROUND: one run; sets LINE, or ERR on failure.
http_once() {
	local build=$1 v=$2 r=$3 out req ok extra=""
	LINE=
	sim_start "${PIN_TARGET[@]}" "$(sim_bin "$build")" --workload http || return
	if [ "$v" != untraced ]; then
		tracer_start "$v" "$SIM_PID" || { sim_stop; return; }
	fi
	out=$(timeout 120 "${PIN_OTHER[@]}" h2load -n "$HTTP_N" -c "$HTTP_C" -t 1 \
		"http://127.0.0.1:$SIM_PORT$HTTP_PATH" 2>&1)
	req=$(sed -n 's/^finished in [^,]*, \([0-9.]*\) req\/s.*/\1/p' <<<"$out")
	ok=$(sed -n 's/^requests: .* \([0-9]*\) succeeded.*/\1/p' <<<"$out")
	if [ "$v" != untraced ]; then
		sleep "$DRAIN"
		if tracer_died; then
			tracer_stop
			sim_stop
			return
		fi
		tracer_stop
		extra="hits=$HITS slab_hits=$SLAB_HITS events=$EVENTS lost=$LOST"
	fi
	sim_stop
	if [ -z "$req" ] || [ "${ok:-0}" -ne "$HTTP_N" ]; then
		ERR="h2load: ${ok:-0} of $HTTP_N requests succeeded: $(grep -v -e '^progress' -e '^$' <<<"$out" | head -n 3 | tr '\n' ' ')"
		return
	fi
	LINE="http $build $v $r req_s=$req $extra"
}

# median_of KEY LINE...: the record whose KEY=value is the median.
median_of() {
	local key=$1
	shift
	printf '%s\n' "$@" | awk -v k="$key=" '{ for (i = 5; i <= NF; i++)
		if (index($i, k) == 1) print substr($i, length(k) + 1), $0 }' |
		sort -g | sed -n "$((($# + 1) / 2))p" | cut -d' ' -f2-
}

# http_run BUILD VARIANT ROUND: like churn_run, PLAIN_REPS untraced and
# sample runs per round; a run that fails is tried once more (the first
# failure is shown).
http_run() {
	local n=1 i lines=()
	case $2 in untraced | sample) n=$PLAIN_REPS ;; esac
	for ((i = 0; i < n; i++)); do
		http_once "$@"
		if [ -z "$LINE" ]; then
			say "  http $1 $2: $ERR; trying again"
			http_once "$@"
			[ -n "$LINE" ] || { fail_run http "$@"; return; }
		fi
		lines+=("$LINE")
	done
	LINE=$(median_of req_s "${lines[@]}")
	record $LINE
	say "  http $1 $2: $(grep -o 'req_s=[0-9.]*' <<<"$LINE")"
}

# ---- 3. collector at a steady rate ------------------------------------------

paced_run() {
	local v=$1 r=$2 s0 s1 c0=0 c1=0 t0 t1 extra=""
	sim_start "${PIN_TARGET[@]}" "$(sim_bin shared)" --workload churn --rate "$RATE" \
		--max-handles "$SLOTS" || { fail_run paced shared "$v" "$r"; return; }
	sleep 0.5
	if [ "$v" != untraced ]; then
		tracer_start "$v" "$SIM_PID" || { sim_stop; fail_run paced shared "$v" "$r"; return; }
		c0=$(cpu_ns "$VT_PID")
	fi
	s0=$(cpu_ns "$SIM_PID")
	t0=$(now_ns)
	sleep "$WINDOW"
	s1=$(cpu_ns "$SIM_PID")
	t1=$(now_ns)
	if [ "$v" != untraced ]; then
		if tracer_died; then
			tracer_stop
			sim_stop
			fail_run paced shared "$v" "$r"
			return
		fi
		c1=$(cpu_ns "$VT_PID")
		tracer_stop
		extra="vt_cpu_ns=$((c1 - c0)) events=$EVENTS lost=$LOST traced_ns=$((t1 - T_ATTACHED))"
	fi
	sim_stop
	record paced shared "$v" "$r" sim_cpu_ns=$((s1 - s0)) wall_ns=$((t1 - t0)) $extra
	say "  paced $v: target $(((s1 - s0) * 1000 / (t1 - t0))) ms/s"
}

# 7. The paced churn traced in hybrid with and without --record, one
# after the other on the same target (the order rotates by round), each
# for REC_WINDOW seconds from its attach (keyframes every 5 s fall in
# it): the tracer's CPU of both, and the file's bytes per event.
record_run() {
	local r=$1 v c0 c1 u0 u1 t0 t1 rec=$TMP/bench.rec info
	sim_start "${PIN_TARGET[@]}" "$(sim_bin shared)" --workload churn --rate "$RATE" \
		--max-handles "$SLOTS" || { fail_run recording shared hybrid "$r"; return; }
	sleep 0.5
	for v in $(rotated "$r" plain record); do
		rm -f "$rec"
		if [ "$v" = record ]; then
			tracer_start hybrid "$SIM_PID" --record "$rec"
		else
			tracer_start hybrid "$SIM_PID"
		fi || { sim_stop; fail_run recording shared "$v" "$r"; return; }
		c0=$(cpu_ns "$VT_PID") u0=$(user_ns "$VT_PID")
		t0=$(now_ns)
		sleep "$REC_WINDOW"
		c1=$(cpu_ns "$VT_PID") u1=$(user_ns "$VT_PID")
		t1=$(now_ns)
		tracer_stop
		if [ "$v" = plain ]; then
			record recording shared plain "$r" vt_cpu_ns=$((c1 - c0)) \
				vt_user_ns=$((u1 - u0)) wall_ns=$((t1 - t0))
			continue
		fi
		info=$("$VT" info "$rec")
		# "events:    N (B bytes each)": the events records' bytes per event
		record recording shared record "$r" vt_cpu_ns=$((c1 - c0)) \
			vt_user_ns=$((u1 - u0)) wall_ns=$((t1 - t0)) \
			events="$(sed -n 's/^events: *\([0-9]*\).*/\1/p' <<<"$info")" \
			ev_bytes="$(sed -n 's/^events:.*(\([0-9.]*\) bytes each).*/\1/p' <<<"$info")" \
			file_bytes="$(stat -c %s "$rec")"
		say "  recording: $(grep '^events' <<<"$info")"
	done
	rm -f "$rec"
	sim_stop
}

# ---- checks -------------------------------------------------------------------

for b in "$VT" $(for b in "${BUILDS[@]}"; do sim_bin "$b"; done); do
	[ -x "$b" ] || { say "bench: missing $b: run make"; exit 1; }
done
"$BUILD/fixture/valk-sim" --help | grep -q -- '--ops' ||
	{ say "bench: valk-sim has no --ops: rebuild it (make fixture)"; exit 1; }
NOTES=()
VARIANTS=("${MODES[@]}")
if [ "$(id -u)" -ne 0 ]; then
	VARIANTS=(untraced sample)
	NOTES+=("events and hybrid skipped: uprobes need root (sudo make bench)")
fi
command -v jq >/dev/null || { VARIANTS=(untraced);
	NOTES+=("every traced variant skipped: jq is not installed (make deps)"); }
# bpftrace on the same probe set, counting and with empty programs:
# sections 1 and 2 only.
BT_VARIANTS=()
if [[ " ${VARIANTS[*]} " == *" events "* ]]; then
	if command -v bpftrace >/dev/null; then BT_VARIANTS=(bt-count bt-empty)
	else NOTES+=("bpftrace rows skipped: bpftrace is not installed (make deps)"); fi
	if make -s -f Makefile -f tests/bench/bench.mk BUILD="$BUILD" "$BUILD/bench/bench_floor" >"$TMP/floor.build" 2>&1; then
		BT_VARIANTS+=(floor)
	else NOTES+=("floor rows skipped: bench_floor did not build: $(tail -n 1 "$TMP/floor.build")"); fi
fi
HAVE_H2LOAD=1
# The target on core 0; valk-trace and h2load on core 1. Left to the
# scheduler, where the threads land changes churn ops/s and HTTP req/s by
# up to 2x from run to run.
PIN_TARGET=() PIN_OTHER=()
if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
	PIN_TARGET=(taskset -c 0) PIN_OTHER=(taskset -c 1)
else
	NOTES+=("not pinned to cores (needs taskset and 2 CPUs): expect more noise")
fi
command -v h2load >/dev/null || { HAVE_H2LOAD=0;
	NOTES+=("HTTP skipped: h2load is not installed (make deps)"); }

# ---- calibration -------------------------------------------------------------

# Op counts, fixed for the whole run: untraced and sample runs do
# OPS_PLAIN operations (the slower build's untraced run lasts about
# PLAIN_S: long enough for several collector ticks), events and hybrid runs
# OPS_PROBE (the slower build's hybrid run lasts about PROBE_S). The churn
# is stationary after its first few hundred operations, so rates compare.
PLAIN_S=0.5
PROBE_S=1.2
CAL_PLAIN=500000
CAL_PROBE=50000

# calibrate VARIANT OPS SECONDS MIN MAX: runs VARIANT on both builds and
# prints the op count that makes the slower one last SECONDS.
calibrate() {
	local b
	for b in "${BUILDS[@]}"; do churn_run "$b" "$1" 0 "$2"; done
	awk -v n="$2" -v t="$3" -v lo="$4" -v hi="$5" -v v="$1" '
		$1 == "churn" && $3 == v && $4 == 0 { for (i = 5; i <= NF; i++)
			if ($i ~ /^seconds=/) { s = substr($i, 9) + 0; if (s > max) max = s } }
		END { o = max > 0 ? n * t / max : hi; o = o < lo ? lo : o > hi ? hi : o
			printf "%d", int(o / 1000) * 1000 }' "$RESULTS"
}

# BENCH_ONLY=collector: sections 4, 4b and 10-12 alone (no target runs)
TRACE_ROUNDS=$ROUNDS
[ "${BENCH_ONLY:-}" = collector ] && TRACE_ROUNDS=0 BENCH_OPS=${BENCH_OPS:-1000}
OPS_PLAIN=${BENCH_OPS:-}
OPS_PROBE=${BENCH_OPS:-}
if [ -z "$OPS_PLAIN" ]; then
	say "calibrating the op counts"
	OPS_PLAIN=$(calibrate untraced "$CAL_PLAIN" "$PLAIN_S" 200000 20000000)
	OPS_PROBE=1000000
	if [[ " ${VARIANTS[*]} " == *" hybrid "* ]]; then
		OPS_PROBE=$(calibrate hybrid "$CAL_PROBE" "$PROBE_S" 100000 1000000)
	fi
	awk '$4 != 0' "$RESULTS" >"$RESULTS.new" && mv "$RESULTS.new" "$RESULTS"
fi
ops_of() { case $1 in untraced | sample) echo "$OPS_PLAIN" ;; *) echo "$OPS_PROBE" ;; esac; }

START=$SECONDS
say "bench: $ROUNDS rounds, churn $OPS_PLAIN ops untraced/sample and $OPS_PROBE events/hybrid, h2load -n $HTTP_N -c $HTTP_C, paced churn $RATE ops/s with $SLOTS handle slots"

# rotate LIST... by N: the variant order changes from round to round
rotated() {
	local n=$1 i
	shift
	local a=("$@")
	for ((i = 0; i < ${#a[@]}; i++)); do echo "${a[(i + n) % ${#a[@]}]}"; done
}

pairs=()
for b in "${BUILDS[@]}"; do for v in "${VARIANTS[@]}" "${BT_VARIANTS[@]}"; do pairs+=("$b:$v"); done; done
for ((r = 1; r <= TRACE_ROUNDS; r++)); do
	say "round $r/$ROUNDS"
	for p in $(rotated $((r * 3)) "${pairs[@]}"); do churn_run "${p%%:*}" "${p#*:}" "$r" "$(ops_of "${p#*:}")"; done
	if [ "$HAVE_H2LOAD" -eq 1 ]; then
		for p in $(rotated $((r * 3)) "${pairs[@]}"); do http_run "${p%%:*}" "${p#*:}" "$r"; done
	fi
	for v in $(rotated "$r" "${VARIANTS[@]}"); do paced_run "$v" "$r"; done
	[[ " ${VARIANTS[*]} " == *" hybrid "* ]] && record_run "$r"
done

# ---- 1b. each program's own cost -------------------------------------------------

# prog_stats PID: "NAME RUNS RUN_NS" of each BPF program PID holds (by
# the prog_id of its descriptors)
prog_stats() {
	local id
	for id in $(awk '/^prog_id:/ { print $2 }' /proc/"$1"/fdinfo/* 2>/dev/null | sort -u); do
		bpftool prog show id "$id" -j
	done | jq -r '"\(.name) \(.run_cnt // 0) \(.run_time_ns // 0)"' | sort
}

# prog_cost BUILD VARIANT: one paced churn run traced by VARIANT (events or
# floor) with the kernel's BPF run-time statistics on (their own two clock
# reads per run are in every figure, the floor's too): runs and ns of each
# program over PROG_S seconds.
PROG_S=3
prog_cost() {
	local b=$1 v=$2 name n0 t0 n1 t1
	sim_start "${PIN_TARGET[@]}" "$(sim_bin "$b")" --workload churn --rate 200000 ||
		{ fail_run progcost "$b" "$v" 1; return; }
	tracer_start "$v" "$SIM_PID" || { sim_stop; fail_run progcost "$b" "$v" 1; return; }
	prog_stats "$VT_PID" >"$TMP/ps0"
	sleep "$PROG_S"
	prog_stats "$VT_PID" >"$TMP/ps1"
	tracer_stop
	sim_stop
	join "$TMP/ps0" "$TMP/ps1" | while read -r name n0 t0 n1 t1; do
		[ $((n1 - n0)) -ge 1000 ] &&
			record progcost "$b" "$v:$name" 1 runs_s=$(((n1 - n0) / PROG_S)) ns_run=$(((t1 - t0) / (n1 - n0)))
	done
}

if [[ " ${VARIANTS[*]} " == *" events "* ]] && [ "$TRACE_ROUNDS" -gt 0 ] && command -v bpftool >/dev/null; then
	say "each program's own cost (bpf_stats)"
	stats_was=$(cat /proc/sys/kernel/bpf_stats_enabled)
	echo 1 >/proc/sys/kernel/bpf_stats_enabled
	for b in "${BUILDS[@]}"; do
		for v in events "${BT_VARIANTS[@]}"; do [ "$v" = floor ] || [ "$v" = events ] && prog_cost "$b" "$v"; done
	done
	echo "$stats_was" >/proc/sys/kernel/bpf_stats_enabled
fi

# ---- 6. attach and detach ------------------------------------------------------

# first_event PID: nanoseconds from starting `valk-trace attach PID` (the
# default mode, listening on a free port) to a client's first full
# `memory` event: the client connects as soon as the tracer says it
# serves (its log polled every 5 ms) and gets the state at once
first_event() {
	local t0 t1= url= line i
	t0=$(now_ns)
	"${PIN_OTHER[@]}" "$VT" attach "$1" --listen 127.0.0.1:0 >"$TMP/first.log" 2>&1 &
	VT_PID=$!
	PIDS+=("$VT_PID")
	for ((i = 0; i < 2000; i++)); do
		url=$(sed -n 's/^valk-trace: serving \(http[^ ]*\).*/\1/p' "$TMP/first.log")
		[ -n "$url" ] || ! alive "$VT_PID" && break
		sleep 0.005
	done
	if [ -n "$url" ]; then
		while read -r line; do
			[ "$line" = "event: memory" ] && { t1=$(now_ns); break; }
		done < <(curl -sN --max-time 5 "${url%/}/api/diagnostics/memory/stream" | tr -d '\r')
	fi
	kill -TERM "$VT_PID" 2>/dev/null
	wait "$VT_PID" 2>/dev/null
	forget "$VT_PID"
	[ -n "$t1" ] && echo $((t1 - t0))
}

# life_run BUILD ROUND: on a paced churn target, the wall time of
# `snapshot` in each mode (attach, one tick, detach), of an attach (until
# its "attached" line, polled every 50 ms) and of a detach (SIGTERM until
# the tracer has exited: final JSON written, every probe removed), and the
# classes of the build's probe sites.
life_run() {
	local build=$1 r=$2 m t0 t1
	sim_start "${PIN_TARGET[@]}" "$(sim_bin "$build")" --workload churn --rate 2000 ||
		{ fail_run life "$build" all "$r"; return; }
	for m in $(rotated "$r" "${VARIANTS[@]}"); do
		[ "$m" = untraced ] && continue
		t0=$(now_ns)
		if ! "${PIN_OTHER[@]}" "$VT" snapshot "$SIM_PID" --mode "$m" -q >/dev/null 2>"$TMP/snap.err"; then
			ERR=$(tail -n 1 "$TMP/snap.err"); fail_run life "$build" "$m" "$r"; continue
		fi
		t1=$(now_ns)
		record life "$build" "$m" "$r" snap_ns=$((t1 - t0))
	done
	if [[ " ${VARIANTS[*]} " == *" events "* ]]; then
		"$VT" probes "$SIM_PID" --json >"$TMP/probes.json" 2>/dev/null &&
			record life "$build" sites "$r" $(jq -r '[.[] | select(.attached) | .class] |
				"nop5=\(map(select(. == "nop5")) | length) emulated=\(map(select(. == "emulated")) | length) stepped=\(map(select(. == "stepped")) | length)"' "$TMP/probes.json")
		t0=$(now_ns)
		if tracer_start events "$SIM_PID"; then
			record life "$build" attach "$r" attach_ns=$((T_ATTACHED - t0))
			sleep 0.3
			t0=$(now_ns)
			kill -TERM "$VT_PID"
			wait "$VT_PID" 2>/dev/null
			t1=$(now_ns)
			forget "$VT_PID"
			record life "$build" detach "$r" detach_ns=$((t1 - t0))
		else
			fail_run life "$build" attach "$r"
		fi
		if t0=$(first_event "$SIM_PID"); then
			record life "$build" first "$r" first_ns="$t0"
		else
			ERR=$(tail -n 1 "$TMP/first.log"); fail_run life "$build" first "$r"
		fi
	fi
	sim_stop
}

say "attach and detach"
for ((r = 1; r <= TRACE_ROUNDS; r++)); do
	for b in $(rotated "$r" "${BUILDS[@]}"); do life_run "$b" "$r"; done
done

# ---- 8. run -- CMD ------------------------------------------------------------------

# run_cmd BUILD ROUND: `valk-sim --workload churn --ops N` plain and under
# `valk-trace run` (exec held, probes by path, the report at its exit,
# with its leak stacks), for N = 1 (a command that exits at once) and N =
# OPS_PROBE, there also with --no-stacks; wall times.
run_cmd() {
	local build=$1 r=$2 n v t0 t1 rc
	for n in 1 "$OPS_PROBE"; do
		for v in $(rotated "$r" plain traced $([ "$n" = 1 ] || echo nostack)); do
			local cmd=("${PIN_TARGET[@]}" "$(sim_bin "$build")" --workload churn --seed 1
				   --ops "$n" --truth "$TMP/truth.json")
			t0=$(now_ns)
			if [ "$v" = plain ]; then "${cmd[@]}" >/dev/null 2>"$TMP/run.err"; rc=$?
			elif [ "$v" = nostack ]; then
				"$VT" run -q --no-stacks --json "$TMP/run.json" -- "${cmd[@]}" >/dev/null 2>"$TMP/run.err"; rc=$?
			else "$VT" run -q --json "$TMP/run.json" -- "${cmd[@]}" >/dev/null 2>"$TMP/run.err"; rc=$?; fi
			t1=$(now_ns)
			if [ "$rc" -ne 0 ]; then
				ERR="exit $rc: $(tail -n 1 "$TMP/run.err")"; fail_run run "$build" "$v$n" "$r"; continue
			fi
			record run "$build" "$v$([ "$n" = 1 ] && echo 1 || echo N)" "$r" wall_ns=$((t1 - t0))
		done
	done
}

if [[ " ${VARIANTS[*]} " == *" events "* ]] && [ "$TRACE_ROUNDS" -gt 0 ]; then
	say "run -- CMD"
	for ((r = 1; r <= ROUNDS; r++)); do
		for b in $(rotated "$r" shared static); do run_cmd "$b" "$r"; done
	done
fi

# ---- 9. the budget at work --------------------------------------------------------

# budget_run BUILD VARIANT LOAD: h2load for BUDGET_S seconds after a
# BUDGET_WARM s warm-up (the budget decides on 1 s windows: the runs of 2.
# are over before it acts), at full load or at LIGHT_RPS requests/s in all;
# records req/s and whether the slab probes were on at the end.
BUDGET_S=6
BUDGET_WARM=3
LIGHT_RPS=500
budget_run() {
	local build=$1 v=$2 load=$3 out req extra="" rate=()
	[ "$load" = light ] && rate=(--rps $((LIGHT_RPS / HTTP_C)))
	sim_start "${PIN_TARGET[@]}" "$(sim_bin "$build")" --workload http ||
		{ fail_run budget "$build" "$v-$load" 1; return; }
	if [ "$v" != untraced ]; then
		tracer_start "$v" "$SIM_PID" || { sim_stop; fail_run budget "$build" "$v-$load" 1; return; }
	fi
	out=$(timeout 60 "${PIN_OTHER[@]}" h2load -D "$BUDGET_S" --warm-up-time "$BUDGET_WARM" \
		-c "$HTTP_C" -t 1 "${rate[@]}" "http://127.0.0.1:$SIM_PORT$HTTP_PATH" 2>&1)
	req=$(sed -n 's/^finished in [^,]*, \([0-9.]*\) req\/s.*/\1/p' <<<"$out")
	if [ "$v" != untraced ]; then
		tracer_stop
		extra="probes=$(jq -r '.tracer.overhead.slab_probes // "attached"' "$VT_JSON" 2>/dev/null)"
	fi
	sim_stop
	[ -n "$req" ] || { ERR="h2load: $(tail -n 1 <<<"$out")"; fail_run budget "$build" "$v-$load" 1; return; }
	record budget "$build" "$v-$load" 1 req_s="$req" $extra
	say "  budget $build $v $load: req_s=$req $extra"
}

if [ "$HAVE_H2LOAD" -eq 1 ] && [[ " ${VARIANTS[*]} " == *" hybrid "* ]] && [ "$TRACE_ROUNDS" -gt 0 ]; then
	say "the budget at work: h2load -D $BUDGET_S after ${BUDGET_WARM}s"
	for b in shared static; do
		for v in untraced events hybrid; do budget_run "$b" "$v" full; done
		for v in untraced hybrid; do budget_run "$b" "$v" light; done
	done
fi

# ---- 4. encoding ----------------------------------------------------------------

say "encoding: building and running bench_wire"
WIRE=$TMP/wire.out
if make -s -f Makefile -f tests/bench/bench.mk BUILD="$BUILD" "$BUILD/bench/bench_wire" >"$TMP/wire.build" 2>&1; then
	"$BUILD/bench/bench_wire" "$SLOTS" >"$WIRE" 2>&1 || { say "bench_wire failed: $(tail -n 1 "$WIRE")"; FAILED=1; }
	# instructions per document under callgrind: the same on a busy machine
	if command -v valgrind >/dev/null; then
		for doc in memory tick_idle; do
			valgrind --tool=callgrind --collect-atstart=no --callgrind-out-file=/dev/null \
				"$BUILD/bench/bench_wire" "$SLOTS" 1000 "$doc" >"$TMP/cg.out" 2>&1 &&
				awk -v d="$doc" '/Collected :/ { c = $NF } /^doc / { r = $NF }
					END { if (r) printf "instructions %s %d\n", d, c / r }' "$TMP/cg.out" >>"$WIRE"
		done
	else
		NOTES+=("instruction counts skipped: valgrind is not installed")
	fi
else
	say "bench_wire did not build:"; tail -n 20 "$TMP/wire.build" >&2
	FAILED=1
	: >"$WIRE"
fi

# ---- 10-12. the collector: ring pipeline, SSE, scale ------------------------------

. tests/bench/collector.sh
collector_runs

# ---- 4b. live deltas ------------------------------------------------------------
# Sizes of the events both streams carry from a busy target: valk-sim churn
# at its default rate, traced (hybrid as root, else sample), each stream
# read with curl for DELTA_S seconds.
DELTA_S=5
DELTAS=$TMP/deltas.out
: >"$DELTAS"
say "live deltas: event sizes from a busy valk-sim (churn), ${DELTA_S} s per stream"
dmode=$([ "$(id -u)" -eq 0 ] && echo hybrid || echo sample)
if command -v curl >/dev/null && sim_start "$BUILD/fixture/valk-sim" --workload churn --seed 5; then
	"$VT" attach "$SIM_PID" --mode "$dmode" --listen 127.0.0.1:0 >"$TMP/vtd.log" 2>&1 &
	VT_PID=$!
	PIDS+=("$VT_PID")
	if wait_line "$TMP/vtd.log" 'serving http' 30 "$VT_PID"; then
		url=$(sed -n 's|.*serving \(http://[^ ]*\)|\1|p' "$TMP/vtd.log")
		for path in api/diagnostics/memory/stream debug/diagnostics/memory; do
			timeout "$DELTA_S" curl -sN "${url}$path" >"$TMP/stream.sse" 2>/dev/null
			# sizes per event name, sorted, then count, median, max
			awk '/^event: / { ev = $2 } /^data: / { print ev, length($0) - 6 }' "$TMP/stream.sse" |
				sort -k1,1 -k2,2n |
				awk -v path="/$path" '
				function out() { if (n) printf "live %s %s events %d median %d max %d\n", path, ev, n, v[int((n + 1) / 2)], v[n] }
				$1 != ev { out(); ev = $1; n = 0 }
				{ v[++n] = $2 }
				END { out() }' >>"$DELTAS"
		done
	else
		NOTES+=("live deltas skipped: the tracer did not serve: $(tail -n 1 "$TMP/vtd.log")")
	fi
	kill -TERM "$VT_PID" 2>/dev/null; wait "$VT_PID" 2>/dev/null; forget "$VT_PID"
	sim_stop
else
	NOTES+=("live deltas skipped: ${ERR:-curl is not installed (make deps)}")
fi

# ---- 5. dashboard ---------------------------------------------------------------

say "dashboard: render time in chromium (tests/browser/perf.mjs)"
RENDER=$TMP/render.out
if command -v node >/dev/null 2>&1; then
	node tests/browser/perf.mjs >"$RENDER" 2>&1
	case $? in 0) ;; 77) NOTES+=("dashboard skipped: $(tail -n 1 "$RENDER")") ;;
	*) say "perf.mjs failed: $(tail -n 3 "$RENDER")"; FAILED=1 ;; esac
else
	NOTES+=("dashboard skipped: node not found (make deps)"); : >"$RENDER"
fi

# ---- the table ------------------------------------------------------------------

report() {
	awk -v ops="$OPS_PLAIN" -v ops_probe="$OPS_PROBE" -v rounds="$ROUNDS" -v http_n="$HTTP_N" -v http_c="$HTTP_C" \
	    -v http_path="$HTTP_PATH" -v rate="$RATE" -v slots="$SLOTS" \
	    -v window="$WINDOW" -v rec_window="$REC_WINDOW" -v drain="$DRAIN" -v pinned="${#PIN_TARGET[@]}" -v variants="${VARIANTS[*]} ${BT_VARIANTS[*]}" -v wire="$WIRE" -v deltas="$DELTAS" -v render="$RENDER" \
	    -v builds="${BUILDS[*]}" -v prog_s="$PROG_S" \
	    -f tests/bench/stats.awk -f /dev/stdin "$RESULTS" <<'AWK'
# events against bpftrace on the same probe set, per build: the ratio of
# the medians of their ratios to untraced
# 1b: each build's programs and their ns per run, sorted by name
function prog_table(    k, kk, names, n, i, j, m, t, any) {
	for (i = 1; i <= nb; i++) {
		n = 0
		for (k in seen) {
			split(k, kk, SUBSEP)
			if (kk[1] == "progcost" && kk[2] == B[i]) names[++n] = kk[3]
		}
		for (j = 2; j <= n; j++) for (m = j; m > 1 && names[m - 1] > names[m]; m--) { t = names[m]; names[m] = names[m - 1]; names[m - 1] = t }
		if (n && !any++) {
			printf "\n1b. Each BPF program's own run time in the kernel (bpf_stats), one run per build of valk-sim\n"
			printf "    churn --rate 200000 for %d s, events mode and bench_floor's empty program (floor)\n", prog_s
			printf "%-7s %-34s %10s %8s\n", "build", "variant:program", "runs/s", "ns/run"
		}
		for (j = 1; j <= n; j++)
			printf "%-7s %-34s %10s %8s\n", B[i], names[j], thousands(F["progcost", B[i], names[j], 1, "runs_s"]),
				F["progcost", B[i], names[j], 1, "ns_run"]
	}
}
function over(e, d) { return d > 0 ? sprintf("%.2f", e / d) : "-" }
function vs_bt(sec, key,    i, b, e, c, z, f, any) {
	for (i = 1; i <= nb; i++) {
		b = B[i]; e = med(key SUBSEP b SUBSEP "events")
		c = med(key SUBSEP b SUBSEP "bt-count"); z = med(key SUBSEP b SUBSEP "bt-empty")
		f = med(key SUBSEP b SUBSEP "floor")
		if (e == "" || (c == "" && z == "" && f == "")) continue
		if (!any++) printf "   events against bpftrace on the same functions and an empty program on the same sites\n   (targets: >= 1.00x bt-count, >= 0.90x bt-empty and floor):\n"
		printf "   %-7s events/bt-count %s   events/bt-empty %s   events/floor %s\n", b,
			over(e, c), over(e, z), over(e, f)
	}
}
{
	sec = $1; b = $2; v = $3; r = $4
	for (i = 5; i <= NF; i++) { split($i, kv, "="); F[sec, b, v, r, kv[1]] = kv[2] }
	seen[sec, b, v] = 1; R[sec, b, v, r] = 1
	if ((sec, b, v, r, "failed") in F) failed[sec, b, v] = 1
}
END {
	nv = split(variants, V, " ")
	nb = split(builds, B, " ")
	# per-round values
	for (k in R) {
		split(k, p, SUBSEP); sec = p[1]; b = p[2]; v = p[3]; r = p[4]
		if ((sec, b, v, r, "failed") in F) continue
		if (sec == "churn") {
			so = F[sec, b, v, r, "slab_ops"]; s = F[sec, b, v, r, "seconds"]
			cpu = F[sec, b, v, r, "user_s"] + F[sec, b, v, r, "sys_s"]
			add("ops_s" SUBSEP b SUBSEP v, F[sec, b, v, r, "slab_ops_per_s"])
			add("cpu_op" SUBSEP b SUBSEP v, cpu * 1e9 / so)
			if (v != "untraced") {
				h = F[sec, b, v, r, "hits"]; ev = F[sec, b, v, r, "events"]; lo = F[sec, b, v, r, "lost"]
				add("hits_op" SUBSEP b SUBSEP v, h / so)
				if ((sec, b, v, r, "slab_hits") in F)
					add("traps_op" SUBSEP b SUBSEP v, F[sec, b, v, r, "slab_hits"] / so)
				add("lost_pct" SUBSEP b SUBSEP v, ev + lo > 0 ? 100 * lo / (ev + lo) : 0)
				w = F[sec, b, v, r, "vt_wall_ns"]
				add("vt_ms_s" SUBSEP b SUBSEP v, F[sec, b, v, r, "vt_cpu_ns"] / w * 1000)
				add("ev_s" SUBSEP b SUBSEP v, ev / s)
				add("lost_s" SUBSEP b SUBSEP v, lo / s)
			}
			base = (sec, b, "untraced", r, "slab_ops_per_s") in F && !((sec, b, "untraced", r, "failed") in F)
			if (base && v != "untraced") {
				bo = F[sec, b, "untraced", r, "slab_ops_per_s"]
				bc = (F[sec, b, "untraced", r, "user_s"] + F[sec, b, "untraced", r, "sys_s"]) * 1e9 / F[sec, b, "untraced", r, "slab_ops"]
				add("ratio" SUBSEP b SUBSEP v, F[sec, b, v, r, "slab_ops_per_s"] / bo)
				add("wall_add" SUBSEP b SUBSEP v, 1e9 / F[sec, b, v, r, "slab_ops_per_s"] - 1e9 / bo)
				add("cpu_add" SUBSEP b SUBSEP v, cpu * 1e9 / so - bc)
				if (h > 0) add("ns_hit" SUBSEP b SUBSEP v, (cpu * 1e9 - bc * so) / h)
			}
		} else if (sec == "life") {
			if (v == "sites") sites[b] = F[sec, b, v, r, "nop5"] "/" F[sec, b, v, r, "emulated"] "/" F[sec, b, v, r, "stepped"]
			else if (v == "attach") add("attach" SUBSEP b, F[sec, b, v, r, "attach_ns"] / 1e9)
			else if (v == "detach") add("detach" SUBSEP b, F[sec, b, v, r, "detach_ns"] / 1e9)
			else if (v == "first") add("first" SUBSEP b, F[sec, b, v, r, "first_ns"] / 1e9)
			else add("snap" SUBSEP b SUBSEP v, F[sec, b, v, r, "snap_ns"] / 1e9)
		} else if (sec == "run") {
			add("run" SUBSEP b SUBSEP v, F[sec, b, v, r, "wall_ns"] / 1e9)
			pv = v; sub(/^(traced|nostack)/, "plain", pv)
			if (v ~ /^(traced|nostack)/ && (sec, b, pv, r, "wall_ns") in F) {
				add("run_add" SUBSEP b SUBSEP v, (F[sec, b, v, r, "wall_ns"] - F[sec, b, pv, r, "wall_ns"]) / 1e9)
				add("run_ratio" SUBSEP b SUBSEP v, F[sec, b, v, r, "wall_ns"] / F[sec, b, pv, r, "wall_ns"])
			}
		} else if (sec == "http") {
			add("req_s" SUBSEP b SUBSEP v, F[sec, b, v, r, "req_s"])
			if (v != "untraced") {
				add("hits_req" SUBSEP b SUBSEP v, F[sec, b, v, r, "hits"] / http_n)
				if ((sec, b, v, r, "slab_hits") in F)
					add("traps_req" SUBSEP b SUBSEP v, F[sec, b, v, r, "slab_hits"] / http_n)
				ev = F[sec, b, v, r, "events"]; lo = F[sec, b, v, r, "lost"]
				add("hlost_pct" SUBSEP b SUBSEP v, ev + lo > 0 ? 100 * lo / (ev + lo) : 0)
			}
			if ((sec, b, "untraced", r, "req_s") in F && v != "untraced")
				add("hratio" SUBSEP b SUBSEP v, F[sec, b, v, r, "req_s"] / F[sec, b, "untraced", r, "req_s"])
		} else if (sec == "recording") {
			ms = F[sec, b, v, r, "vt_cpu_ns"] / F[sec, b, v, r, "wall_ns"] * 1000
			if (v == "plain") {
				add("rec_plain_ms_s", ms)
				continue
			}
			add("rec_ms_s", ms)
			add("rec_ev_b", F[sec, b, v, r, "ev_bytes"])
			if (F[sec, b, v, r, "events"] > 0)
				add("rec_file_b", F[sec, b, v, r, "file_bytes"] / F[sec, b, v, r, "events"])
			pw = F[sec, b, "plain", r, "wall_ns"]
			if (pw > 0 && F[sec, b, "plain", r, "vt_cpu_ns"] > 0)
				add("rec_ratio", ms / (F[sec, b, "plain", r, "vt_cpu_ns"] / pw * 1000))
			add("rec_user_ms_s", F[sec, b, v, r, "vt_user_ns"] / F[sec, b, v, r, "wall_ns"] * 1000)
			if (pw > 0)
				add("rec_plain_user_ms_s", F[sec, b, "plain", r, "vt_user_ns"] / pw * 1000)
		} else if (sec == "paced") {
			w = F[sec, b, v, r, "wall_ns"]
			add("sim_ms_s" SUBSEP v, F[sec, b, v, r, "sim_cpu_ns"] / w * 1000)
			if (v != "untraced") {
				add("pvt_ms_s" SUBSEP v, F[sec, b, v, r, "vt_cpu_ns"] / w * 1000)
				tr = F[sec, b, v, r, "traced_ns"] / 1e9
				add("pev_s" SUBSEP v, F[sec, b, v, r, "events"] / tr)
				add("plost_s" SUBSEP v, F[sec, b, v, r, "lost"] / tr)
			}
		}
	}
	printf "\nvalk-trace bench: %d rounds, variants interleaved; medians over rounds;\n", rounds
	printf "ratios are the median of each round's variant/untraced pair.\n"
	if (pinned) printf "Target on core 0; valk-trace and h2load on core 1.\n"

	printf "\n1. Target slowdown: valk-sim --workload churn --ops N, main and loop thread flat out\n"
	printf "   (N = %d untraced and sample, %d events and hybrid)\n", ops, ops_probe
	printf "   (traps/op: traps of the slab probes per slab operation, target <= 1)\n"
	printf "%-7s %-9s %12s %7s %12s %12s %12s %8s %8s %11s %7s\n", "build", "variant", "slab ops/s", "ratio", "min-max", "wall ns/op+", "cpu ns/op+", "traps/op", "hits/op", "cpu ns/hit", "lost %"
	for (i = 1; i <= nb; i++) for (j = 1; j <= nv; j++) {
		b = B[i]; v = V[j]
		if (!(("churn", b, v) in seen)) continue
		if (("churn", b, v) in failed && med("ops_s" SUBSEP b SUBSEP v) == "") { printf "%-7s %-9s failed\n", b, v; continue }
		u = v == "untraced"; bt = v ~ /^(bt-.*|floor)$/
		printf "%-7s %-9s %12s %7s %12s %12s %12s %8s %8s %11s %7s\n", b, v,
			thousands(med("ops_s" SUBSEP b SUBSEP v)),
			u ? "1.000" : num(med("ratio" SUBSEP b SUBSEP v), "%.3f"),
			u ? "-" : span("ratio" SUBSEP b SUBSEP v, "%.3f"),
			u ? "-" : num(med("wall_add" SUBSEP b SUBSEP v), "%+.0f"),
			u ? sprintf("(%.0f)", med("cpu_op" SUBSEP b SUBSEP v)) : num(med("cpu_add" SUBSEP b SUBSEP v), "%+.0f"),
			u || bt || v == "sample" ? "-" : num(med("traps_op" SUBSEP b SUBSEP v), "%.3f"),
			u || v ~ /^(bt-empty|floor)$/ ? "-" : num(med("hits_op" SUBSEP b SUBSEP v), "%.2f"),
			u || v == "sample" ? "-" : num(med("ns_hit" SUBSEP b SUBSEP v), "%.0f"),
			u || v == "sample" || bt ? "-" : num(med("lost_pct" SUBSEP b SUBSEP v), "%.1f")
	}
	vs_bt("churn", "ratio")

	prog_table()

	if (("http", "shared", "untraced") in seen) {
		printf "\n2. HTTP: h2load -n %d -c %d GET %s on 127.0.0.1 (valk-sim --workload http)\n", http_n, http_c, http_path
		printf "   (targets: events >= 0.70x on shared, >= 0.60x on the optimised builds;\n"
		printf "    hits/req, every probe hit per request, <= 5; slab/req those of the slab probes)\n"
		printf "%-7s %-9s %10s %7s %12s %10s %9s %7s\n", "build", "variant", "req/s", "ratio", "min-max", "hits/req", "slab/req", "lost %"
		for (i = 1; i <= nb; i++) for (j = 1; j <= nv; j++) {
			b = B[i]; v = V[j]
			if (!(("http", b, v) in seen)) continue
			if (med("req_s" SUBSEP b SUBSEP v) == "") { printf "%-7s %-9s failed\n", b, v; continue }
			u = v == "untraced"; bt = v ~ /^(bt-.*|floor)$/
			printf "%-7s %-9s %10s %7s %12s %10s %9s %7s\n", b, v, thousands(med("req_s" SUBSEP b SUBSEP v)),
				u ? "1.000" : num(med("hratio" SUBSEP b SUBSEP v), "%.3f"),
				u ? "-" : span("hratio" SUBSEP b SUBSEP v, "%.3f"),
				u || v ~ /^(bt-empty|floor)$/ ? "-" : num(med("hits_req" SUBSEP b SUBSEP v), "%.2f"),
				u || bt || v == "sample" ? "-" : num(med("traps_req" SUBSEP b SUBSEP v), "%.2f"),
				u || v == "sample" || bt ? "-" : num(med("hlost_pct" SUBSEP b SUBSEP v), "%.1f")
		}
		vs_bt("http", "hratio")
	}

	printf "\n3. Collector cost: valk-trace CPU (user+sys) per second of tracing\n"
	printf "a) the runs of 1.: CPU over the run and %ss after it; events per second of the run\n", drain
	printf "%-7s %-9s %14s %12s %10s\n", "build", "mode", "tracer ms/s", "events/s", "lost/s"
	for (i = 1; i <= nb; i++) for (j = 1; j <= nv; j++) {
		b = B[i]; v = V[j]
		if (v == "untraced" || v ~ /^(bt-.*|floor)$/ || !(("churn", b, v) in seen)) continue
		if (med("vt_ms_s" SUBSEP b SUBSEP v) == "") { printf "%-7s %-9s failed\n", b, v; continue }
		printf "%-7s %-9s %14s %12s %10s\n", b, v, num(med("vt_ms_s" SUBSEP b SUBSEP v), "%.1f"),
			v == "sample" ? "-" : thousands(med("ev_s" SUBSEP b SUBSEP v)),
			v == "sample" ? "-" : thousands(med("lost_s" SUBSEP b SUBSEP v))
	}
	printf "b) steady churn --rate %d, %d handle slots, shared build, %s s windows\n", rate, slots, window
	printf "%-9s %14s %14s %12s %10s\n", "mode", "tracer ms/s", "target ms/s", "events/s", "lost/s"
	for (j = 1; j <= nv; j++) {
		v = V[j]
		if (!(("paced", "shared", v) in seen)) continue
		if (med("sim_ms_s" SUBSEP v) == "") { printf "%-9s failed\n", v; continue }
		u = v == "untraced"
		printf "%-9s %14s %14s %12s %10s\n", v, u ? "-" : num(med("pvt_ms_s" SUBSEP v), "%.1f"),
			num(med("sim_ms_s" SUBSEP v), "%.1f"),
			u || v == "sample" ? "-" : thousands(med("pev_s" SUBSEP v)),
			u || v == "sample" ? "-" : thousands(med("plost_s" SUBSEP v))
	}

	printf "\n4. Encoding (bench_wire): one AIO system, %d handle slots half in use\n", slots
	printf "%-20s %14s %12s %12s %6s %9s %14s\n", "document", "us/doc median", "us fastest", "bytes", "runs", "target", "instructions"
	tgt["memory"] = "<= 5000"; tgt["tick_idle"] = "<= 100"
	while ((getline line < wire) > 0) {
		n = split(line, wf, " ")
		if (wf[1] == "state") state = line
		if (wf[1] == "apply") apply = line
		if (wf[1] == "instructions") instr[wf[2]] = wf[3]
		if (wf[1] == "doc") docs[++nd] = line
	}
	for (i = 1; i <= nd; i++) {
		split(docs[i], wf, " ")
		printf "%-20s %14s %12s %12s %6s %9s %14s\n", wf[2], wf[4], wf[6], thousands(wf[8]), wf[10],
			(wf[2] in tgt) ? tgt[wf[2]] : "-", (wf[2] in instr) ? thousands(instr[wf[2]]) : "-"
	}
	if (!nd) printf "(no result: see the messages above)\n"
	else if (state != "") printf "(%s)\n", state
	if (apply != "") {
		split(apply, af, " ")
		printf "model alone: %s events made in memory, applied at %.1f M/s median, %.1f M/s fastest of 5 (target >= 5 M/s)\n",
			thousands(af[3]), af[9] / 1e6, af[11] / 1e6
	}

	printf "\n4b. Live events from a busy target (valk-sim churn), bytes of data (target: a delta under 4,096)\n"
	printf "%-32s %-20s %8s %10s %10s\n", "stream", "event", "events", "median", "max"
	while ((getline line < deltas) > 0) {
		if (split(line, df, " ") < 9 || df[1] != "live") continue
		printf "%-32s %-20s %8s %10s %10s\n", df[2], df[3], df[5], thousands(df[7]), thousands(df[9])
		ndl++
	}
	if (!ndl) printf "(no result: see the notes)\n"

	printf "\n5. Dashboard: one update of two 262,144-slot slabs in chromium, up to layout\n"
	while ((getline line < render) > 0) {
		if (split(line, rf, " ") < 13 || rf[1] != "render") continue
		printf "mean %s ms, median %s ms, max %s ms over %s updates (target < %s ms, one 60 Hz frame)\n", rf[7], rf[9], rf[11], rf[5], rf[13]
		nr++
	}
	if (!nr) printf "(no result: see the messages above)\n"

	printf "\n6. Attach and detach: seconds, median over rounds\n"
	printf "   (targets: snapshot <= 0.5 in any mode, detach <= 0.3, attach to a client's first full state <= 0.3)\n"
	printf "%-7s %-24s %9s %9s %9s %8s %8s %8s\n", "build", "sites nop5/emul/step", "sample", "events", "hybrid", "attach", "detach", "first"
	for (i = 1; i <= nb; i++) {
		b = B[i]
		if (!(("life", b, "sample") in seen) && !(("life", b, "detach") in seen)) continue
		printf "%-7s %-24s %9s %9s %9s %8s %8s %8s\n", b, (b in sites) ? sites[b] : "-",
			num(med("snap" SUBSEP b SUBSEP "sample"), "%.3f"), num(med("snap" SUBSEP b SUBSEP "events"), "%.3f"),
			num(med("snap" SUBSEP b SUBSEP "hybrid"), "%.3f"), num(med("attach" SUBSEP b), "%.3f"),
			num(med("detach" SUBSEP b), "%.3f"), num(med("first" SUBSEP b), "%.3f")
	}
	if (("recording", "shared", "record") in seen) {
		printf "\n7. Recording: the steady churn of 3b traced in hybrid, with --record and without, %s s each\n", rec_window
		printf "%-32s %10s %10s\n", "", "measured", "target"
		printf "%-32s %10s %10s\n", "bytes/event, events records", num(med("rec_ev_b"), "%.1f"), "<= 16"
		printf "%-32s %10s %10s\n", "bytes/event, whole file", num(med("rec_file_b"), "%.1f"), "-"
		printf "%-32s %10s %10s\n", "tracer ms/s with --record", num(med("rec_ms_s"), "%.1f"), "-"
		printf "%-32s %10s %10s\n", "tracer ms/s without", num(med("rec_plain_ms_s"), "%.1f"), "-"
		printf "%-32s %10s %10s\n", "tracer CPU, with / without", num(med("rec_ratio"), "%.2f"), "<= 1.25"
		printf "%-32s %10s %10s\n", "  of it user ms/s with --record", num(med("rec_user_ms_s"), "%.1f"), "-"
		printf "%-32s %10s %10s\n", "  of it user ms/s without", num(med("rec_plain_user_ms_s"), "%.1f"), "-"
	}

	if (("run", "shared", "plain1") in seen) {
		printf "\n8. valk-trace run -- valk-sim --workload churn --ops N: wall seconds, median over rounds\n"
		printf "   (target: run adds <= 0.3 s around a command that exits at once, N = 1)\n"
		printf "%-7s %6s %10s %10s %10s %8s\n", "build", "N", "plain", "under run", "added", "ratio"
		for (i = 1; i <= nb; i++) {
			b = B[i]
			if (!(("run", b, "plain1") in seen)) continue
			printf "%-7s %6s %10s %10s %10s %8s\n", b, 1, num(med("run" SUBSEP b SUBSEP "plain1"), "%.3f"),
				num(med("run" SUBSEP b SUBSEP "traced1"), "%.3f"), num(med("run_add" SUBSEP b SUBSEP "traced1"), "%+.3f"),
				num(med("run_ratio" SUBSEP b SUBSEP "traced1"), "%.2f")
			printf "%-7s %6s %10s %10s %10s %8s\n", b, ops_probe, num(med("run" SUBSEP b SUBSEP "plainN"), "%.3f"),
				num(med("run" SUBSEP b SUBSEP "tracedN"), "%.3f"), num(med("run_add" SUBSEP b SUBSEP "tracedN"), "%+.3f"),
				num(med("run_ratio" SUBSEP b SUBSEP "tracedN"), "%.2f")
			printf "%-7s %6s %10s %10s %10s %8s  --no-stacks\n", b, ops_probe, num(med("run" SUBSEP b SUBSEP "plainN"), "%.3f"),
				num(med("run" SUBSEP b SUBSEP "nostackN"), "%.3f"), num(med("run_add" SUBSEP b SUBSEP "nostackN"), "%+.3f"),
				num(med("run_ratio" SUBSEP b SUBSEP "nostackN"), "%.2f")
		}
	}
}
AWK
	local n
	for n in "${NOTES[@]}"; do echo "note: $n"; done
	echo "bench took $((SECONDS - START)) s after calibration"
}

report
awk -v s="$BUDGET_S" -v w="$BUDGET_WARM" -v light="$LIGHT_RPS" -v c="$HTTP_C" '
$1 == "budget" && $5 ~ /^req_s=/ { q[$2, $3] = substr($5, 7); p[$2, $3] = $6; seen[$2] = 1 }
END {
	printf "\n9. The budget at work: h2load -c %d for %d s after a %d s warm-up, GET on valk-sim --workload http\n", c, s, w
	printf "   (targets: hybrid, the default, >= 0.95x untraced at full load; at %d req/s its slab probes stay on)\n", light
	printf "%-7s %-6s %-9s %10s %7s  %s\n", "build", "load", "variant", "req/s", "ratio", "slab probes at the end"
	n = split("shared static", B, " ")
	for (i = 1; i <= n; i++) {
		b = B[i]
		if (!(b in seen)) continue
		split("untraced-full events-full hybrid-full untraced-light hybrid-light", V, " ")
		for (j = 1; j <= 5; j++) {
			v = V[j]; split(v, vl, "-"); base = q[b, "untraced-" vl[2]]
			if (!((b, v) in q)) continue
			ratio = base > 0 ? sprintf("%.3f", q[b, v] / base) : "-"
			probes = p[b, v] == "" ? "-" : substr(p[b, v], 8)
			printf "%-7s %-6s %-9s %10.0f %7s  %s\n", b, vl[2], vl[1], q[b, v], ratio, probes
		}
	}
}' "$RESULTS"
collector_report
mkdir -p "$BUILD/bench" && cp "$RESULTS" "$BUILD/bench/results.txt"
[ "$FAILED" -eq 0 ]
