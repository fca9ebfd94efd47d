#!/bin/bash
# Bad input gets one line naming the problem and the fix, and exit code 2.
. "$(dirname "$0")/../lib/common.sh"
need_bins

expect_err() {  # expect_err LABEL PATTERN CMD...
	local label=$1 pat=$2; shift 2
	"$@" >"$TMP/out" 2>"$TMP/err"; local rc=$?
	local lines; lines=$(wc -l <"$TMP/err")
	if [ "$rc" -eq 2 ] && [ "$lines" -eq 1 ] && grep -qi -- "$pat" "$TMP/err"; then
		pass "$label: $(cat "$TMP/err")"
	else
		fail "$label: exit $rc, $lines line(s): $(head -c 300 "$TMP/err")"
	fi
}

expect_err "no such pid" "no such process" "$VT" snapshot 999999 --mode sample
sleep 30 & PIDS+=($!)
expect_err "not a valk process" "not a valk" "$VT" snapshot $! --mode sample
expect_err "unknown mode" "mode" "$VT" attach 1 --mode fast
expect_err "bad interval" "interval" "$VT" attach 1 --interval 0
expect_err "unknown command" "unknown command" "$VT" frobnicate
# argp's errors are one line too
expect_err "unknown option" "unrecognized option '--frob'" "$VT" attach 1 --frob
expect_err "missing option value" "requires an argument" "$VT" attach 1 --mode
# snapshot prints to stdout: attach's own options are refused
for o in "--listen 127.0.0.1:0" "--json $TMP/x.json" "--duration 1"; do
	expect_err "snapshot $o" "unrecognized option" "$VT" snapshot 1 $o
done
expect_err "record --follow" "unrecognized option '--follow'" "$VT" record --follow valk -o "$TMP/x.rec"
expect_err "ps argument" "no arguments" "$VT" ps 1
expect_err "layout without binary" "missing <binary>" "$VT" layout

# Each command's --help lists its own options only, and exits 0.
help_has() {  # help_has CMD 'OPTIONS IT HAS' 'OPTIONS IT LACKS'
	local out; out=$("$VT" $1 --help) || { fail "$1 --help: exit $?"; return; }
	for o in $2; do grep -q -- "$o" <<<"$out" || { fail "$1 --help lacks $o"; return; }; done
	for o in $3; do grep -q -- "$o" <<<"$out" && { fail "$1 --help lists $o"; return; }; done
	pass "$1 --help: $2; not $3"
}
help_has attach "--listen --json --duration --mode --layout --follow" ""
help_has record "--output --record --duration --listen --mode --fail-on" "--follow"
help_has snapshot "--mode --interval --layout --quiet" "--listen --json --duration --follow"
help_has ps "--pids" "--mode --listen"
help_has layout "<binary>" "--mode --listen"
help_has demo "--clients --sim --listen" "--json --layout"
"$VT" --help | grep -q "^Exit status:" && pass "--help lists the exit codes" || fail "--help: no exit codes"

# Everything that can be refused without the target is, before it is
# touched: with a pid that does not exist, the error is about the option.
expect_err "bad --listen first" "invalid listen address" "$VT" attach 999999 --listen nowhere
expect_err "bad --listen port first" "invalid listen address" "$VT" attach 999999 --listen 127.0.0.1:99999
node -e "const s = require('net').createServer().listen(0, '127.0.0.1', () => console.log('up', s.address().port))" >"$TMP/busy" &
PIDS+=($!)
for _ in $(seq 1 50); do grep -q up "$TMP/busy" && break; sleep 0.1; done
busy=$(sed -n 's/^up //p' "$TMP/busy")
expect_err "busy port first" "address already in use" "$VT" attach 999999 --listen "127.0.0.1:$busy"
expect_err "unwritable --json first" "cannot write --json" "$VT" attach 999999 --listen none --json /nonexistent/dir/state.json
expect_err "--json a directory first" "is a directory" "$VT" attach 999999 --listen none --json "$TMP"
expect_err "unwritable --record first" "cannot write --record" "$VT" attach 999999 --listen none --record /nonexistent/dir/t.vtrec
expect_err "unwritable record -o first" "cannot write --record" "$VT" record 999999 -o /nonexistent/dir/t.vtrec
expect_err "unreadable --layout first" "cannot read layout file" "$VT" snapshot 999999 --layout "$TMP/none.json"
if grep -q ':-1:' "$TMP/err"; then fail "layout error shows :-1:"; else pass "layout error without :-1:"; fi
echo '{"fields":' >"$TMP/broken.json"
expect_err "corrupt --layout first" "broken.json:[0-9]*: not a layout file" "$VT" snapshot 999999 --layout "$TMP/broken.json"
expect_err "layout of a non-ELF" "" "$VT" layout /etc/passwd

# a stripped target: no DWARF, then the fix with --layout
cp "$SIM_STATIC" "$TMP/valk-sim-stripped"
strip --strip-debug "$TMP/valk-sim-stripped"
sim_start "$TMP/valk-sim-stripped" --workload idle --port 0
expect_err "stripped target" "layout" "$VT" snapshot "$SIM_PID" --mode sample
"$VT" layout "$SIM_STATIC" >"$TMP/layout.json" || fail "layout of the unstripped build"
if "$VT" snapshot "$SIM_PID" --mode sample --layout "$TMP/layout.json" >"$TMP/snap.json" 2>"$TMP/err"; then
	jq -e '.slabs | length == 5' "$TMP/snap.json" >/dev/null && pass "stripped target with --layout" ||
		fail "stripped target with --layout: bad document"
else
	fail "stripped target with --layout: $(cat "$TMP/err")"
fi
"$VT" layout "$SIM_SHARED/../libvalkyria.so" >"$TMP/other.json" 2>/dev/null ||
	"$VT" layout "$(dirname "$SIM_SHARED")/libvalkyria.so" >"$TMP/other.json"
expect_err "layout of another build" "build-id" "$VT" snapshot "$SIM_PID" --mode sample --layout "$TMP/other.json"

if [ "$(id -u)" -eq 0 ] && id nobody >/dev/null 2>&1; then
	expect_err "not root" "root\|CAP_BPF\|permission" setpriv --reuid=nobody --regid=nogroup --clear-groups "$VT" snapshot "$SIM_PID"
fi
finish
