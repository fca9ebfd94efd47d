#!/bin/bash
# Least privilege: once attached, a serving tracer is no longer root. Its
# /proc/PID/status says who it is (Uid, Gid, Groups), what it may still do
# (CapEff, CapPrm, CapBnd), NoNewPrivs 1 and Seccomp 2 (a filter) — read
# before the first request, so every request it then parses, HTTP/1.1,
# HTTP/2, malformed, is parsed by that user. Checked for attach with and
# without the overhead budget (whose slab probes come off and go on again
# as that user), in sample mode, under sudo (SUDO_UID/SUDO_GID: the
# invoking user, who owns --json), for --follow and run (which keep the
# capabilities attaching to new processes needs, and no others), replay;
# --no-drop keeps root. A --layout file is parsed by a child that is no
# longer root either. The file keeper that makes --json once root is given
# up is root still, with the three capabilities making files takes, no
# groups, its own filter and nothing open but its socket; it ends with the
# tracer.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../serve/lib.sh"
need_root
need_bins
need_serve_tools

NOBODY_UID=$(id -u nobody)
NOBODY_GID=$(id -g nobody)
# capability masks of <linux/capability.h>
CAPS_NONE=0000000000000000
# --follow: CAPS_FOLLOW (common.sh); run adds CAP_KILL 5
CAPS_RUN=$(printf '%016x' $((0x$CAPS_FOLLOW | (1 << 5))))
# the file keeper: CAP_CHOWN 0, CAP_DAC_OVERRIDE 1, CAP_FOWNER 3
CAPS_KEEPER=$(printf '%016x' $(((1 << 0) | (1 << 1) | (1 << 3))))

field() { proc_field "$@"; }

# expect_status LABEL PID UID GID CAPS [SECCOMP NNP]: Uid and Gid (real,
# effective, saved, fs), no supplementary groups, the capability sets; a
# sanitized build (make test-asan) installs no filter, for LeakSanitizer
expect_status() {
	local label=$1 pid=$2 uid=$3 gid=$4 caps=$5 nnp=${7:-1} got
	local seccomp=${6:-$([ -n "${VT_SANITIZED:-}" ] && echo 0 || echo 2)}
	got="$(field "$pid" Uid)|$(field "$pid" Gid)|$(field "$pid" Groups)|$(field "$pid" CapEff)|$(field "$pid" CapPrm)|$(field "$pid" CapBnd)|$(field "$pid" NoNewPrivs)|$(field "$pid" Seccomp)"
	local want="$uid $uid $uid $uid|$gid $gid $gid $gid||$caps|$caps|$caps|$nnp|$seccomp"
	if [ "$got" = "$want" ]; then
		pass "$label: uid $uid gid $gid, no groups, CapEff=CapPrm=CapBnd=$caps, NoNewPrivs $nnp, Seccomp $seccomp"
	else
		fail "$label: status '$got', wanted '$want'"
	fi
}

# keeper_of PID: the file keeper tracer PID forked (the same program and
# command line; nobody's child, so not found by its parent)
keeper_of() {
	local p cmd
	cmd=$(tr '\0' ' ' <"/proc/$1/cmdline")
	for p in $(pgrep -x valk-trace); do
		[ "$p" != "$1" ] && [ "$(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null)" = "$cmd" ] && echo "$p"
	done
}

# expect_keeper LABEL TRACER: root, no groups, CAP_CHOWN, CAP_DAC_OVERRIDE
# and CAP_FOWNER alone (none inheritable or ambient), no-new-privs, its
# filter; nothing open but /dev/null and its socket to the tracer
expect_keeper() {
	local label=$1 k fds
	k=$(keeper_of "$2")
	[ "$(wc -w <<<"$k")" = 1 ] || { fail "$label: $(wc -w <<<"$k") keeper processes ('$k')"; return; }
	KEEPER_PID=$k
	expect_status "$label: the file keeper" "$k" 0 0 "$CAPS_KEEPER"
	[ "$(field "$k" CapInh)|$(field "$k" CapAmb)" = "$CAPS_NONE|$CAPS_NONE" ] &&
		pass "$label: the keeper has no inheritable or ambient capability" ||
		fail "$label: keeper CapInh $(field "$k" CapInh) CapAmb $(field "$k" CapAmb)"
	fds=$(for f in /proc/"$k"/fd/*; do echo "${f##*/}=$(readlink "$f" | sed 's/:\[[0-9]*\]//')"; done | sort | tr '\n' ' ')
	[ "$fds" = "0=/dev/null 1=/dev/null 2=/dev/null 3=socket " ] &&
		pass "$label: the keeper holds /dev/null and its socket alone" ||
		fail "$label: the keeper holds $fds"
}

# served LABEL: HTTP/1.1, HTTP/2, an SSE event and a malformed request,
# all parsed after the switch; the tracer lives on
served() {
	local label=$1 code
	curl -sf "$VT_URL/api/diagnostics/memory" | jq -e '.slabs | length > 0' >/dev/null &&
		pass "$label: HTTP/1.1 JSON served" || fail "$label: no JSON over HTTP/1.1"
	curl -sf --http2-prior-knowledge "$VT_URL/metrics" | grep -q '^valk_trace_' &&
		pass "$label: HTTP/2 /metrics served" || fail "$label: no /metrics over HTTP/2"
	curl -sN --max-time 2 "$VT_URL/api/diagnostics/memory/stream" | grep -q '^data: {' &&
		pass "$label: SSE event sent" || fail "$label: no SSE event"
	code=$(exec 3<>"/dev/tcp/127.0.0.1/$VT_PORT"
		printf 'GET / HTTP/1.1\r\nHost: localhost\r\nContent-Length: -5\r\n\r\n' >&3
		timeout 5 head -n 1 <&3 | tr -d '\r')
	[[ "$code" == "HTTP/1.1 400"* ]] && pass "$label: malformed request: $code" ||
		fail "$label: malformed request answered '$code'"
	tracer_alive "$label"
}

# stop_tracer LABEL: SIGTERM detaches; exit 0
stop_tracer() {
	kill -TERM "$VT_PID"
	wait "$VT_PID" && pass "$1: SIGTERM: detached, exit 0" || fail "$1: exit $? on SIGTERM: $(tail -n 2 "$VT_LOG")"
}

sim_start "$SIM_SHARED" --workload http --port 0 || { fail "start"; finish; }

# 1. no budget: nothing kept
tracer_start "$SIM_PID" --max-overhead 0 --json "$TMP/final.json" || finish
expect_status "attach --max-overhead 0" "$VT_PID" "$NOBODY_UID" "$NOBODY_GID" "$CAPS_NONE"
KEEPER_PID=
expect_keeper "attach --json" "$VT_PID"
served "attach --max-overhead 0"
stop_tracer "attach --max-overhead 0"
if [ -n "$KEEPER_PID" ]; then
	for _ in $(seq 1 100); do kill -0 "$KEEPER_PID" 2>/dev/null || break; sleep 0.05; done
	kill -0 "$KEEPER_PID" 2>/dev/null && fail "the keeper outlived the tracer" ||
		pass "the keeper ended with the tracer"
fi
[ "$(stat -c %U "$TMP/final.json")" = root ] && jq -e .slabs "$TMP/final.json" >/dev/null &&
	pass "--json written after the switch, in root's 0700 directory, root's" ||
	fail "--json: $(ls -l "$TMP/final.json" 2>&1)"

# 2. sample mode: no probes, nothing kept
tracer_start "$SIM_PID" --mode sample || finish
expect_status "sample" "$VT_PID" "$NOBODY_UID" "$NOBODY_GID" "$CAPS_NONE"
served "sample"
stop_tracer "sample"

# 3. --no-drop: root as before, no filter
tracer_start "$SIM_PID" --no-drop --max-overhead 0 || finish
[ "$(field "$VT_PID" Uid)" = "0 0 0 0" ] && [ "$(field "$VT_PID" Seccomp)" = 0 ] &&
	pass "--no-drop: root, no seccomp" || fail "--no-drop: Uid $(field "$VT_PID" Uid), Seccomp $(field "$VT_PID" Seccomp)"
stop_tracer "--no-drop"

# 4. under sudo: the invoking user, who gets --json
SUDO_UID=4242 SUDO_GID=4343 tracer_start "$SIM_PID" --max-overhead 0 --json "$TMP/sudo.json" || finish
expect_status "under sudo" "$VT_PID" 4242 4343 "$CAPS_NONE"
stop_tracer "under sudo"
[ "$(stat -c %u:%g "$TMP/sudo.json" 2>/dev/null)" = 4242:4343 ] &&
	pass "under sudo: --json belongs to the invoking user" ||
	fail "under sudo: --json is $(stat -c %u:%g "$TMP/sudo.json" 2>&1)"
kill "$SIM_PID"

# 5. the budget: over it the slab probes come off, within it they go on
# again, as nobody, with no capability
sim_start "$SIM_STATIC" --workload churn --seed 3 --port 0 --ops 3000000 --hold || { fail "start"; finish; }
tracer_start "$SIM_PID" || finish
expect_status "attach with the budget" "$VT_PID" "$NOBODY_UID" "$NOBODY_GID" "$CAPS_NONE"
kill -USR2 "$SIM_PID"
wait_log() {
	for _ in $(seq 1 $(($2 * 10))); do grep -q "$1" "$VT_LOG" && return 0; sleep 0.1; done
	return 1
}
wait_log 'slab operations are read, not probed' 15 && pass "budget: slab probes off" ||
	fail "budget: not detached: $(tail -n 2 "$VT_LOG")"
for _ in $(seq 1 600); do grep -q 'done ops' "$SIM_OUT" && break; sleep 0.1; done
wait_log 'probing slab operations again' 15 && pass "budget: slab probes on again as nobody" ||
	fail "budget: not re-attached: $(tail -n 2 "$VT_LOG")"
curl -sf "$VT_URL/api/diagnostics/memory" | jq -e '.tracer.overhead.slab_probes == "attached"' >/dev/null &&
	pass "budget: tracer.overhead says attached" || fail "budget: $(curl -s "$VT_URL/api/diagnostics/memory" | jq -c .tracer.overhead)"
expect_status "budget, after the re-attach" "$VT_PID" "$NOBODY_UID" "$NOBODY_GID" "$CAPS_NONE"
served "budget"
kill -INT "$VT_PID"
wait "$VT_PID" && pass "budget: SIGINT: detached, exit 0" || fail "budget: exit $? on SIGINT"
kill "$SIM_PID"

# 6. --follow: attaches to the next process of the name as nobody, with
# the capabilities that takes
cp "$SIM_SHARED" "$TMP/valk-priv"
cp "$(dirname "$SIM_SHARED")/libvalkyria.so" "$TMP/" 2>/dev/null
"$VT" attach --follow valk-priv --listen 127.0.0.1:0 --max-overhead 0 2>"$TMP/follow.log" &
VT_PID=$!
PIDS+=("$VT_PID")
VT_LOG=$TMP/follow.log
wait_log 'serving http' 10 || fail "--follow: not serving: $(cat "$TMP/follow.log")"
VT_PORT=$(sed -n 's|.*serving http://127\.0\.0\.1:\([0-9]*\)/.*|\1|p' "$VT_LOG")
VT_URL=http://127.0.0.1:$VT_PORT
expect_status "--follow" "$VT_PID" "$NOBODY_UID" "$NOBODY_GID" "$CAPS_FOLLOW"
sim_start "$TMP/valk-priv" --workload http --port 0 || fail "start valk-priv"
wait_log "attached to pid $SIM_PID" 15 && pass "--follow: attached to pid $SIM_PID after the switch" ||
	fail "--follow: not attached: $(tail -n 3 "$VT_LOG")"
served "--follow"
stop_tracer "--follow"
kill "$SIM_PID"

# 7. run: the command's processes attached as they start
"$VT" run --json "$TMP/run.json" -- sh -c "sleep 1.5; $SIM_SHARED --workload churn --seed 7 --ops 2000" \
	>/dev/null 2>"$TMP/run.log" &
run=$!
PIDS+=("$run")
sleep 0.7
expect_status "run" "$run" "$NOBODY_UID" "$NOBODY_GID" "$CAPS_RUN"
wait "$run" && pass "run: exit 0" || fail "run: exit $?: $(tail -n 3 "$TMP/run.log")"
jq -e '.processes | length == 1' "$TMP/run.json" >/dev/null &&
	pass "run: the process started after the switch is reported" || fail "run: $(head -c 300 "$TMP/run.json")"

# 8. replay: nobody once its listener is bound, before the recording is read
sim_start "$SIM_SHARED" --workload http --port 0 || { fail "start"; finish; }
"$VT" record "$SIM_PID" -o "$TMP/r.rec" --duration 1 -q || fail "record exit $?"
kill "$SIM_PID"
"$VT" replay "$TMP/r.rec" --listen 127.0.0.1:0 2>"$TMP/replay.log" &
VT_PID=$!
PIDS+=("$VT_PID")
VT_LOG=$TMP/replay.log
wait_log 'serving http' 10 || fail "replay: not serving: $(cat "$VT_LOG")"
VT_PORT=$(sed -n 's|.*serving http://127\.0\.0\.1:\([0-9]*\)/.*|\1|p' "$VT_LOG")
VT_URL=http://127.0.0.1:$VT_PORT
expect_status "replay" "$VT_PID" "$NOBODY_UID" "$NOBODY_GID" "$CAPS_NONE"
served "replay"
stop_tracer "replay"

# 9. --layout: opened as root, parsed by a child that gave root up; the
# file is a FIFO fed in two halves, so the child is caught mid-parse
sim_start "$SIM_SHARED" --workload churn --port 0 || { fail "start"; finish; }
"$VT" layout "$VT_BUILD/fixture/libvalkyria.so" >"$TMP/layout.json" || fail "layout exit $?"
mkfifo "$TMP/layout.fifo"
"$VT" snapshot "$SIM_PID" --mode sample --layout "$TMP/layout.fifo" >"$TMP/snap.json" 2>"$TMP/snap.log" &
VT_PID=$!
PIDS+=("$VT_PID")
exec 3>"$TMP/layout.fifo"
half=$(($(wc -c <"$TMP/layout.json") / 2))
head -c "$half" "$TMP/layout.json" >&3
child=
for _ in $(seq 1 100); do child=$(pgrep -P "$VT_PID" | head -n 1); [ -n "$child" ] && break; sleep 0.05; done
if [ -n "$child" ]; then
	expect_status "the --layout parser" "$child" "$NOBODY_UID" "$NOBODY_GID" "$CAPS_NONE"
	[ "$(field "$VT_PID" Uid)" = "0 0 0 0" ] && pass "the tracer is root still, attaching" || fail "tracer: Uid $(field "$VT_PID" Uid)"
else
	fail "no --layout parser process"
fi
tail -c +"$((half + 1))" "$TMP/layout.json" >&3
exec 3>&-
wait "$VT_PID" && jq -e '.slabs | length > 0' "$TMP/snap.json" >/dev/null &&
	pass "--layout read through the parser: snapshot exit 0" || fail "snapshot --layout: exit $? $(cat "$TMP/snap.log")"
kill "$SIM_PID"
finish
