#!/bin/bash
# --json and --record write their files safely as root: through a fresh
# temporary in the destination's directory, renamed over it. A planted
# FILE.tmp symlink is never followed; a destination that is a symlink, a
# FIFO, a device or another user's file is refused with one line naming
# it and the way out, before attaching (exit 2, no hang), and is left as
# it was (a symlink's target too); under sudo the file belongs to the
# invoking user. A recording for a FIFO goes through standard output.
. "$(dirname "$0")/../lib/common.sh"
need_root
need_bins
sim_start "$SIM_SHARED" --workload idle --port 0 || exit 1
D=$TMP/shared
mkdir -m 1777 "$D"
echo secret >"$TMP/root-only"; chmod 600 "$TMP/root-only"
SUM=$(sha256sum "$TMP/root-only")

trace() { timeout 20 "$VT" attach "$SIM_PID" --mode sample --duration 1 --listen none -q "$@"; }
record() { timeout 20 "$VT" record "$SIM_PID" --mode sample --duration 1 -q "$@"; }

# refused [CMD OPTION] FILE WHAT: exit 2, one line naming the file and
# why, the target untouched (CMD OPTION: trace --json unless given)
refused() {
	local cmd=trace opt=--json file what rc
	[ $# -eq 4 ] && { cmd=$1; opt=$2; shift 2; }
	file=$1 what=$2
	"$cmd" "$opt" "$file" 2>"$TMP/err"; rc=$?
	if [ "$rc" -eq 2 ] && [ "$(wc -l <"$TMP/err")" -eq 1 ] && grep -q -- "$what" "$TMP/err"; then
		pass "$cmd $opt refused: $(cat "$TMP/err")"
	else
		fail "$cmd $opt $file: exit $rc, expected 2 with '$what': $(cat "$TMP/err")"
	fi
}

ln -s "$TMP/root-only" "$D/link.json"
refused "$D/link.json" "is a symbolic link"
mkfifo "$D/fifo.json"
refused "$D/fifo.json" "is a FIFO"
refused /dev/null "is a device"
refused "$D" "is a directory"
refused "$TMP/no/such/dir/out.json" "does not exist"
echo theirs >"$D/theirs.json"; chown 65534:65534 "$D/theirs.json"
refused "$D/theirs.json" "belongs to uid 65534"
[ "$(cat "$D/theirs.json")" = theirs ] && pass "another user's file is left as it was" ||
	fail "another user's file changed"

# the old attack: FILE.tmp planted as a symlink to a root-only file
ln -s "$TMP/root-only" "$D/out.json.tmp"
trace --json "$D/out.json" 2>"$TMP/err" || fail "write: $(cat "$TMP/err")"
jq -e .slabs "$D/out.json" >/dev/null && pass "written" || fail "no document in out.json"
[ "$(sha256sum "$TMP/root-only")" = "$SUM" ] && pass "planted FILE.tmp symlink not followed" ||
	fail "the root-only file was overwritten"
[ "$(stat -c %a "$D/out.json")" = 644 ] && pass "mode 0644" || fail "mode $(stat -c %a "$D/out.json")"
ls -a "$D" | grep -q '^\.valk-trace\.' && fail "temporary left behind" || pass "no temporary left"

# replaced whole: a second write leaves a valid document
trace --json "$D/out.json" 2>/dev/null && jq -e .slabs "$D/out.json" >/dev/null &&
	pass "replaced" || fail "second write"

# under sudo: the invoking user's file
SUDO_UID=65534 SUDO_GID=65534 trace --json "$D/mine.json" 2>"$TMP/err" || fail "sudo write: $(cat "$TMP/err")"
[ "$(stat -c %u:%g "$D/mine.json" 2>/dev/null)" = 65534:65534 ] && pass "owned by the invoking user" ||
	fail "owner $(stat -c %u:%g "$D/mine.json" 2>/dev/null)"

# standard output
trace --json - 2>/dev/null | jq -e .slabs >/dev/null && pass "--json - writes stdout" || fail "--json -"

# --record, of attach and of record: the same refusals, with the way out
# named, and nothing written through them
for how in "trace --record" "record -o"; do
	set -- $how
	refused "$1" "$2" "$D/link.json" "is a symbolic link: name a regular file"
	refused "$1" "$2" "$D/fifo.json" "is a FIFO: not opened .*or - and redirect standard output to it"
	refused "$1" "$2" "$D/theirs.json" "belongs to uid 65534: not replaced; remove it or name another file"
done
ln -s "$TMP/created-through-link.rec" "$D/dangling.rec"
refused record -o "$D/dangling.rec" "dangling.rec is a symbolic link"
[ ! -e "$TMP/created-through-link.rec" ] && pass "--record: a dangling symlink's target is not created" ||
	fail "--record created the file a symlink named"
[ "$(sha256sum "$TMP/root-only")" = "$SUM" ] && [ -L "$D/link.json" ] && [ -p "$D/fifo.json" ] &&
	[ "$(cat "$D/theirs.json")" = theirs ] &&
	pass "--record: the symlink, its target, the FIFO and the other user's file are as they were" ||
	fail "--record changed a refused destination: $(ls -l "$D")"
ls -a "$D" | grep -q '^\.valk-trace\.' && fail "--record: temporary left behind" || pass "--record: no temporary left"
# the way out: standard output into the FIFO, read whole at its other end
cat "$D/fifo.json" >"$TMP/through-fifo.rec" &
reader=$!
record -o - >"$D/fifo.json" 2>"$TMP/err" || fail "record -o - into a FIFO: exit $?: $(cat "$TMP/err")"
wait "$reader"
"$VT" info "$TMP/through-fifo.rec" >/dev/null 2>&1 && pass "record -o - into a FIFO: a whole recording at its reader" ||
	fail "the recording through the FIFO does not read: $("$VT" info "$TMP/through-fifo.rec" 2>&1 | head -n 2)"
# a planted FILE.tmp symlink is not followed by --record either
ln -s "$TMP/root-only" "$D/out.rec.tmp"
record -o "$D/out.rec" 2>"$TMP/err" || fail "record: $(cat "$TMP/err")"
"$VT" info "$D/out.rec" >/dev/null 2>&1 && [ "$(sha256sum "$TMP/root-only")" = "$SUM" ] &&
	pass "--record: written, the planted FILE.tmp symlink not followed" ||
	fail "--record: $(ls -l "$D/out.rec" 2>&1), root-only $(sha256sum <"$TMP/root-only")"
finish
