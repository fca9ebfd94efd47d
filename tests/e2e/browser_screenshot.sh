#!/bin/bash
# The README's screenshot without a browser window: its chromium command,
# read from the README as it stands (only the dashboard's address is this
# test's tracer's), run against the stand-in runtime traced and served;
# it must end by itself and leave a PNG of the window's size that is the
# dashboard: the page's own background (web/style.css) its most common
# colour, where an error page or a page without its style is white.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../serve/lib.sh"
need_root
need_bins
need_serve_tools chromium python3

# the command: the README's block after "A screenshot without a browser
# window", its continuation lines joined
cmd=$(awk '/^A screenshot without a browser window/ { s = 1 } s && /^```sh/ { b = 1; next }
	b && /^```/ { exit } b' "$VT_ROOT/README.md" | sed -e ':a' -e '/\\$/N; s/\\\n//; ta')
[[ $cmd == chromium\ * ]] || { fail "no chromium command in the README: '$cmd'"; finish; }
shot=$(sed -n 's/.*--screenshot=\([^ ]*\).*/\1/p' <<<"$cmd")
size=$(sed -n 's/.*--window-size=\([0-9]*\),\([0-9]*\).*/\1 \2/p' <<<"$cmd")
url=$(grep -o 'http://127\.0\.0\.1:[0-9]*/' <<<"$cmd")
[ -n "$shot" ] && [ -n "$size" ] && [ -n "$url" ] || { fail "the README's command lacks a screenshot file, window size or address: $cmd"; finish; }

sim_start "$SIM_SHARED" --workload http --port 0 || { fail "start valk-sim"; finish; }
tracer_start "$SIM_PID" || { fail "start valk-trace"; finish; }
# the page's background and the used state's colour (web/style.css)
bg=$(sed -n 's/^ *--bg-primary: *\(#[0-9a-f]*\);.*/\1/p' "$VT_ROOT/web/style.css")
cell=$(sed -n 's/^ *--state-used: *\(#[0-9a-f]*\);.*/\1/p' "$VT_ROOT/web/style.css")

# The README's command for this tracer's address, in a directory of its
# own, with a profile of its own (HOME: a chromium already running on the
# default one would take the command over). 120 s: a bound for a command
# that would never end, not a time.
read -ra words <<<"${cmd//"$url"/$VT_URL/}"
echo "note: ${words[*]}"
mkdir -p "$TMP/shot" "$TMP/home"
(cd "$TMP/shot" && HOME=$TMP/home timeout 120 "${words[@]}" >"$TMP/chromium.log" 2>&1)
rc=$?
[ "$rc" = 0 ] && pass "the README's command ended by itself (exit 0)" ||
	fail "the README's command: exit $rc$([ "$rc" = 124 ] && echo ', still running after 120 s'): $(tail -n 3 "$TMP/chromium.log")"
# its size, its most common colour, pixels of the used state's colour
if [ -s "$TMP/shot/$shot" ] && out=$(python3 "$VT_ROOT/tests/tools/png_colours.py" "$TMP/shot/$shot" "$cell"); then
	echo "note: $(tr '\n' ' ' <<<"$out")"
	[ "$(sed -n 1p <<<"$out")" = "$size" ] && pass "$shot: a PNG of the window's size ($size)" ||
		fail "$shot: $(sed -n 1p <<<"$out"), want $size"
	[ "$(sed -n '2s/ .*//p' <<<"$out")" = "$bg" ] && pass "$shot: the dashboard, its background $bg the most common colour" ||
		fail "$shot: most common colour $(sed -n 2p <<<"$out"), not the dashboard's $bg"
	# whether the first state was drawn before the picture is a race the
	# README owns up to: printed, not judged
	echo "note: $(sed -n '3s/.* //p' <<<"$out") pixels of the used state's colour $cell (used slots drawn; the page's static legend has some too)"
	cp "$TMP/shot/$shot" "$VT_BUILD/test-logs/readme-screenshot.png"
else
	fail "no PNG $shot: $(ls -l "$TMP/shot") $out $(tail -n 3 "$TMP/chromium.log")"
fi
tracer_alive "after the screenshot"
finish
