#!/bin/bash
# `make install` (PREFIX, DESTDIR) and what it installs: the binary, the
# man page valk-trace(8) — made from --help, so every command and option of
# --help is in it — and the bash completion (commands, each command's own
# options, mode names, pids of valk processes); `make uninstall`; and a
# build of the stand-in runtime whose output carries no warning.
# make test-asan runs the suite again sanitized; not this test:
[ -z "${VT_SANITIZED:-}" ] || { echo "skipped under make test-asan: it installs what ships, the plain build; nothing it checks depends on how the C is compiled"; exit 77; }
. "$(dirname "$0")/../lib/common.sh"
need_bins
cd "$VT_ROOT" || exit 1
dest=$TMP/dest

make -s install BUILD="$VT_BUILD" DESTDIR="$dest" PREFIX=/opt/vt >"$TMP/make.out" 2>&1 ||
	{ fail "make install: $(tail -n 5 "$TMP/make.out")"; finish; }
bin=$dest/opt/vt/sbin/valk-trace man=$dest/opt/vt/share/man/man8/valk-trace.8
comp=$dest/opt/vt/share/bash-completion/completions/valk-trace
[ -x "$bin" ] && [ -f "$man" ] && [ -f "$comp" ] && pass "make install DESTDIR PREFIX: binary, man page, completion" ||
	fail "make install: $(cd "$dest" && find . -type f)"
[ "$("$bin" --version)" = "$("$VT" --version)" ] && pass "installed binary runs: $("$bin" --version)" ||
	fail "installed binary: $("$bin" --version 2>&1)"

# The man page renders without a warning and holds all of --help.
warn=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -E UTF-8 -l -Tutf8 -Z "$man" 2>&1 >/dev/null)
[ -z "$warn" ] && pass "man page renders without warnings" || fail "man warnings: $warn"
page=$(LC_ALL=C.UTF-8 MANWIDTH=200 man -l "$man" 2>/dev/null)
cmds=$("$VT" --help | awk '/^Commands:/ { on = 1; next } on && /^$/ { exit } on { print $1 }')
[ "$(wc -w <<<"$cmds")" -ge 5 ] || fail "--help lists only: $cmds"
missing=""
for c in $cmds; do
	grep -q "^   valk-trace $c " <<<"$page" || missing="$missing $c"
	for o in $("$VT" "$c" --help | grep -o -- '^ *\(-., \)\{0,1\}--[a-z-]*' | grep -o -- '--[a-z-]*'); do
		case $o in --help | --usage | --version) continue ;; esac
		# the command's section holds the option
		awk -v c="   valk-trace $c " -v o="$o" 'index($0, c) == 1 { on = 1; next } on && /^   valk-trace / { exit }
			on && index($0, o) { found = 1 } END { exit !found }' <<<"$page" || missing="$missing $c:$o"
	done
done
for code in 0 1 2 3; do grep -q "^       $code  " <<<"$page" || missing="$missing exit-$code"; done
[ -z "$missing" ] && pass "man page: every command and option of --help, every exit code ($(wc -w <<<"$cmds") commands)" ||
	fail "man page lacks:$missing"

# Completion, from the installed script, against the installed binary.
"$SIM_SHARED" --workload idle --port 0 >"$TMP/sim.out" 2>&1 &
PIDS+=($!)
sim=$!
for _ in $(seq 1 50); do grep -q ready "$TMP/sim.out" && break; sleep 0.1; done
complete_words() {  # complete_words WORD... : what TAB offers for the last word
	bash -c '. "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); _valk_trace
		printf "%s\n" "${COMPREPLY[@]}"' _ "$comp" "$bin" "$@" | sort | tr '\n' ' '
}
expect_completion() {  # LABEL WANT(regex) [NOT(regex)] -- WORD...
	local label=$1 want=$2 not=$3 got; shift 4
	got=$(complete_words "$@")
	if [[ " $got" =~ $want ]] && { [ -z "$not" ] || ! [[ " $got" =~ $not ]]; }; then pass "completion: $label: $got"
	else fail "completion: $label: got '$got'"; fi
}
expect_completion "every command of --help" "^ *--help --version $(sort <<<"$cmds" | tr '\n' ' ')$" "" -- ""
expect_completion "attach options" "--layout --leak-age --listen" "" -- attach --l
expect_completion "snapshot has no --listen" "--layout --leak-age" "--listen" -- snapshot --l
expect_completion "mode names" "events hybrid sample" "" -- attach --mode ""
expect_completion "mode after =" "sample" "" -- snapshot --mode = s
expect_completion "pids of valk processes" " $sim " "" -- attach ""
expect_completion "no pid for a number option" "^ *$" "" -- attach --interval ""

make -s uninstall DESTDIR="$dest" PREFIX=/opt/vt
[ -z "$(find "$dest" -type f)" ] && pass "make uninstall removes all three" || fail "left: $(find "$dest" -type f)"

# The README's set-up commands as root need no sudo (a fresh Debian 12 has
# none); as a user they would prefix the root steps with it.
if [ "$(id -u)" -eq 0 ]; then
	cmds=$(make -n -s demo test BUILD="$VT_BUILD" 2>&1)
	grep -q "scripts/deps.sh" <<<"$cmds" && ! grep -qw sudo <<<"$cmds" &&
		pass "make demo, make test as root: no sudo" || fail "make -n demo test as root: $(grep -w sudo <<<"$cmds" | head -n 2)"
fi

# A build says nothing but its commands: the static stand-in's link drops
# glibc's getpwuid_r warning about static NSS.
make -s -C tests/fixture O="$TMP/fixture" "$TMP/fixture/valk-sim-static" >"$TMP/build.out" 2>&1
rc=$?
[ "$rc" -eq 0 ] && ! grep -qi "warning" "$TMP/build.out" && pass "static stand-in builds without a warning" ||
	fail "static stand-in build: exit $rc: $(grep -i -m 3 warning "$TMP/build.out")"
finish
