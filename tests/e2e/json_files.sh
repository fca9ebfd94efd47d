#!/bin/bash
# --json writes its file safely as root: through a fresh temporary in the
# destination's directory, renamed over it. A planted FILE.tmp symlink is
# never followed; a destination that is a symlink, a FIFO, a device or
# another user's file is refused with one line before attaching (exit 2,
# no hang); under sudo the file belongs to the invoking user.
. "$(dirname "$0")/../lib/common.sh"
need_root
need_bins
sim_start "$SIM_SHARED" --workload idle --port 0 || exit 1
D=$TMP/shared
mkdir -m 1777 "$D"
echo secret >"$TMP/root-only"; chmod 600 "$TMP/root-only"
SUM=$(sha256sum "$TMP/root-only")

trace() { timeout 20 "$VT" attach "$SIM_PID" --mode sample --duration 1 --listen none -q "$@"; }

# refused: exit 2, one line naming the file and why, the target untouched
refused() {
	local file=$1 what=$2 rc
	trace --json "$file" 2>"$TMP/err"; rc=$?
	if [ "$rc" -eq 2 ] && [ "$(wc -l <"$TMP/err")" -eq 1 ] && grep -q -- "$what" "$TMP/err"; then
		pass "refused: $(cat "$TMP/err")"
	else
		fail "$file: exit $rc, expected 2 with '$what': $(cat "$TMP/err")"
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
finish
