# Shared helpers for the end-to-end tests (sourced, not run).
# VT_BUILD points at the build directory (tests/run.sh exports it).
VT_BUILD=${VT_BUILD:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/build}
VT=$VT_BUILD/valk-trace
SIM_SHARED=$VT_BUILD/fixture/valk-sim
SIM_STATIC=$VT_BUILD/fixture/valk-sim-static
SIM_CET=$VT_BUILD/fixture/valk-sim-cet
SIM_NOP5=$VT_BUILD/fixture/valk-sim-nop5
# Every build of the stand-in (tests/fixture/README.md): shared -O0, static
# -O2, shared -O2 with endbr64 entries, shared clang with 5-byte nop entries.
SIM_BUILDS="shared static cet nop5"
TMP=$(mktemp -d /tmp/vt-test.XXXXXX)
PIDS=()
FAILS=0

stop_pids() {
	for p in "${PIDS[@]}"; do kill -CONT "$p" 2>/dev/null; kill "$p" 2>/dev/null; done
	wait 2>/dev/null
}
cleanup() { stop_pids; rm -rf "$TMP"; }
trap cleanup EXIT

skip() { echo "skipped: $*"; exit 77; }
fail() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }
pass() { echo "ok: $*"; }
finish() { [ "$FAILS" -eq 0 ] && { echo "all checks passed"; exit 0; }; echo "$FAILS check(s) failed"; exit 1; }

# in_parallel FN ARG...: runs `FN ARG` for every ARG at once, each in a
# subshell with a TMP, PIDS and FAILS of its own (its processes stopped
# when it ends), then prints their outputs in the order given and counts
# their failures as this test's. For cases that share nothing but the
# machine (each its own target and tracer): their checks are the same as
# one after the other, only their waits overlap.
in_parallel() {
	local fn=$1 i=0 n jobs=()
	shift
	for arg in "$@"; do
		mkdir "$TMP/job.$i"
		(
			TMP=$TMP/job.$i
			PIDS=()
			FAILS=0
			trap 'stop_pids; echo "$FAILS" >"$TMP/fails"' EXIT
			trap 'exit 1' TERM
			"$fn" "$arg"
		) >"$TMP/job.$i/out" 2>&1 &
		jobs+=($!)
		PIDS+=($!)
		i=$((i + 1))
	done
	wait "${jobs[@]}"
	for ((i = 0; i < ${#jobs[@]}; i++)); do
		cat "$TMP/job.$i/out"
		n=$(cat "$TMP/job.$i/fails" 2>/dev/null)
		[ -n "$n" ] || { n=1; echo "FAIL: $fn ${*:i+1:1}: ended without a result"; }
		FAILS=$((FAILS + n))
	done
}

need_root() {
	[ "$(id -u)" -eq 0 ] || skip "needs root for uprobes (run the suite as root; make test goes through sudo when it is there)"
}

need_bins() {
	for b in "$VT" "$SIM_SHARED" "$SIM_STATIC" "$SIM_CET" "$SIM_NOP5"; do
		[ -x "$b" ] || { echo "missing $b: run make"; exit 1; }
	done
}

# sim_bin BUILD: the launcher of one of $SIM_BUILDS
sim_bin() {
	case $1 in
	shared) echo "$SIM_SHARED" ;; static) echo "$SIM_STATIC" ;;
	cet) echo "$SIM_CET" ;; nop5) echo "$SIM_NOP5" ;;
	esac
}

# sim_start BINARY ARGS... : starts the stand-in runtime; sets SIM_PID,
# SIM_PORT and SIM_OUT (its output); its truth file is $TMP/truth.json
sim_start() {
	local bin=$1 out=$TMP/sim.$RANDOM.out
	shift
	"$bin" "$@" --truth "$TMP/truth.json" >"$out" 2>&1 &
	local pid=$!
	PIDS+=("$pid")
	for _ in $(seq 1 400); do
		if grep -q 'ready' "$out" 2>/dev/null; then break; fi
		sleep 0.05
	done
	grep -q 'ready' "$out" || { cat "$out"; echo "valk-sim did not start"; return 1; }
	SIM_PID=$pid
	SIM_OUT=$out
	SIM_PORT=$(sed -n 's/.*ready port \([0-9]*\).*/\1/p' "$out")
	SIM_TRUTH=$TMP/truth.json
}

# wait_attached TRACER_PID STDERR_FILE: until the tracer says it attached
# (up to 20 s on a loaded machine) or ends; false if it did not attach.
wait_attached() {
	for _ in $(seq 1 400); do
		grep -q 'attached to pid' "$2" 2>/dev/null && return 0
		kill -0 "$1" 2>/dev/null || break
		sleep 0.05
	done
	grep -q 'attached to pid' "$2" 2>/dev/null
}

# sim_pause: quiesce the target and wait for its fresh truth file
sim_pause() {
	rm -f "$SIM_TRUTH"
	kill -USR1 "$SIM_PID"
	for _ in $(seq 1 200); do [ -s "$SIM_TRUTH" ] && return 0; sleep 0.05; done
	echo "no truth file from valk-sim"; return 1
}

sim_resume() { kill -USR2 "$SIM_PID"; }

# served_port FILE [PID]: waits for "serving http://127.0.0.1:PORT/" in a
# tracer's stderr FILE (it listened on port 0: the kernel chose a free
# port, so concurrent tests cannot collide) and prints PORT; fails if PID
# exits first or no line comes within 20 s.
served_port() {
	local i
	for i in $(seq 1 400); do
		grep -q 'serving https\?://' "$1" 2>/dev/null && break
		[ -n "${2:-}" ] && ! kill -0 "$2" 2>/dev/null && break
		sleep 0.05
	done
	sed -n 's|.*serving https\?://127\.0\.0\.1:\([0-9]*\)/.*|\1|p' "$1" | head -n 1 | grep .
}

# proc_field PID FIELD: a field of /proc/PID/status (Uid, CapEff, ...)
proc_field() { awk -v f="$2:" '$1 == f { $1 = ""; sub(/^ /, ""); print; exit }' "/proc/$1/status"; }

# The capabilities a tracer following a name keeps after the switch (the
# README's "Least privilege"), a mask of <linux/capability.h>:
# CAP_DAC_READ_SEARCH 2, CAP_SYS_PTRACE 19, CAP_PERFMON 38, CAP_BPF 39,
# CAP_CHECKPOINT_RESTORE 40
CAPS_FOLLOW=$(printf '%016x' $(((1 << 2) | (1 << 19) | (1 << 38) | (1 << 39) | (1 << 40))))

# tls_cert DIR: a test certificate and key in DIR (tests/lib/tls_cert.sh)
tls_cert() { sh "$(dirname "${BASH_SOURCE[0]}")/tls_cert.sh" "$1"; }

# The comparable part of a memory-dialect document: every slab's counters
# and per-slot state (states for handles, bitmap for the rest), arenas,
# owners. Truth and tracer must agree on it exactly.
normalize() {
	jq -S '{
	  slabs: [.slabs[] | {name, system, total, used, hwm, overflow, acquires, releases,
	          slots: (if .name == "handles" then .states else .bitmap end),
	          by_owner: (.by_owner // {})}],
	  arenas: [.arenas[] | {name, system, capacity, used, hwm, overflow, overflow_bytes}] | sort_by(.system, .name),
	  owner_map: (.owner_map // []),
	  owner_maps: (.owner_maps // [])
	}' "$1"
}

# slab_differences TRUTH TRACED (both normalized): each field that differs,
# per slab, with the first slots that differ
slab_differences() {
	jq -r --slurpfile b "$2" '$b[0] as $b |
[range(0; [.slabs, $b.slabs | length] | max) as $i
 | (.slabs[$i] // {}) as $x | ($b.slabs[$i] // {}) as $y
 | ([$x, $y | keys[]] | unique[]) as $k
 | select($x[$k] != $y[$k])
 | "slab \($i) (\($x.name // $y.name) of system \($x.system // $y.system)) \($k): " +
   (if $k == "slots" and ($x[$k] | type) == "string" and ($y[$k] | type) == "string" then
      "slots " + ([range(0; [$x[$k], $y[$k] | length] | max) | select($x[$k][.:.+1] != $y[$k][.:.+1])] | .[:8] |
        map("\(.)=\($x[$k][.:.+1])/\($y[$k][.:.+1])") | join(" ")) + " (truth/traced)"
    else "\($x[$k] | tostring | .[:120]) (truth) vs \($y[$k] | tostring | .[:120]) (traced)" end)]
| .[]' "$1"
}

# compare TRUTH TRACED LABEL: exact equality, with a readable diff if not
compare() {
	local a=$TMP/norm.truth b=$TMP/norm.traced
	normalize "$1" >"$a" && normalize "$2" >"$b" || { fail "$3: unreadable JSON"; return; }
	if cmp -s "$a" "$b"; then pass "$3: exact"; else
		fail "$3: differs from ground truth"
		slab_differences "$a" "$b" | head -20
		diff <(jq -c '.arenas[],.owner_map' "$a") <(jq -c '.arenas[],.owner_map' "$b") | head -10
	fi
}

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
