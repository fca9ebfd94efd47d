#!/bin/bash
# `make deb`: build/valk-trace_VERSION_ARCH.deb with no lintian error, a
# Depends naming the package of every library the binary links, which apt
# can satisfy here; installed with dpkg into a root and package database
# of the test's own, where valk-trace --version and ps run, and removed.
# make test-asan runs the suite again sanitized; not this test:
[ -z "${VT_SANITIZED:-}" ] || { echo "skipped under make test-asan: it packages what ships, the plain build; nothing it checks depends on how the C is compiled"; exit 77; }
. "$(dirname "$0")/../lib/common.sh"
need_bins
cd "$VT_ROOT" || exit 1
for t in dpkg-deb dpkg-shlibdeps lintian apt-get; do
	command -v "$t" >/dev/null || skip "$t not found (make deps installs dpkg-dev and lintian)"
done

deb=$(make -s deb BUILD="$VT_BUILD" 2>"$TMP/deb.err" | tail -n 1)
version=$("$VT" --version | sed 's/^valk-trace //')
[ "$deb" = "$VT_BUILD/valk-trace_${version}_$(dpkg --print-architecture).deb" ] && [ -f "$deb" ] &&
	pass "make deb: $(basename "$deb")" || { fail "make deb: '$deb' $(cat "$TMP/deb.err")"; finish; }

lintian --tag-display-limit 0 "$deb" >"$TMP/lintian" 2>&1
grep -q "^E: " "$TMP/lintian" && fail "lintian errors: $(grep '^E: ' "$TMP/lintian")" ||
	pass "lintian: no errors ($(grep -c '^[WI]: ' "$TMP/lintian") warnings/notes)"

# Depends: the package of every NEEDED library, as the system names it
depends=$(dpkg-deb -f "$deb" Depends)
bad=""
for lib in $(readelf -d "$VT" | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p'); do
	path=$(ldconfig -p | awk -v l="$lib" '$1 == l && /x86-64|x32|AArch64/ { print $NF; exit }')
	real=$(readlink -f "$path")	# merged /usr: dpkg may know either spelling
	pkg=$(dpkg -S "$path" "$real" "${real#/usr}" 2>/dev/null | grep -v '^diversion' | head -n 1 | cut -d: -f1)
	[[ ", $depends" == *", $pkg "* || ", $depends" == *", $pkg," ]] || bad="$bad $lib($pkg)"
done
[ -z "$bad" ] && pass "Depends covers every linked library: $depends" || fail "Depends lacks:$bad ($depends)"
apt-get install -s "$deb" >"$TMP/apt" 2>&1 && grep -q "^Inst valk-trace" "$TMP/apt" &&
	pass "apt install ./$(basename "$deb") resolves (simulated)" || fail "apt -s: $(tail -n 3 "$TMP/apt")"

# A root of our own: the package database starts as this system's (so the
# Depends are met), the files land under $root only.
root=$TMP/root
mkdir -p "$root/var/lib/dpkg/info" "$root/var/lib/dpkg/updates" "$root/var/lib/dpkg/triggers"
cp /var/lib/dpkg/status "$root/var/lib/dpkg/status"
dpkg --root="$root" --log=/dev/null --no-triggers -i "$deb" >"$TMP/dpkg" 2>&1 &&
	dpkg --root="$root" -s valk-trace 2>/dev/null | grep -q "^Status: install ok installed" &&
	pass "dpkg -i into a root of its own" || { fail "dpkg -i: $(tail -n 5 "$TMP/dpkg")"; finish; }
! dpkg -s valk-trace >/dev/null 2>&1 || [ -e /usr/sbin/valk-trace ] || fail "the system's own database changed"
out=$("$root/usr/sbin/valk-trace" --version 2>&1)
[ "$out" = "valk-trace $version" ] && pass "installed valk-trace --version: $out" || fail "installed --version: $out"
sim_start "$SIM_SHARED" --workload idle --port 0
if [ "$(id -u)" -eq 0 ]; then
	"$root/usr/sbin/valk-trace" ps >"$TMP/ps" 2>&1
	grep -q "^$SIM_PID " "$TMP/ps" && pass "installed valk-trace ps finds pid $SIM_PID" ||
		fail "installed ps: $(cat "$TMP/ps")"
else
	"$root/usr/sbin/valk-trace" ps --pids 2>/dev/null | grep -qx "$SIM_PID" && pass "installed ps --pids: $SIM_PID" ||
		fail "installed ps --pids"
fi
zcat "$root/usr/share/man/man8/valk-trace.8.gz" | grep -q '^\.TH VALK\\-TRACE 8' && pass "man page valk-trace(8) installed" ||
	fail "no man page"
bash -c ". $root/usr/share/bash-completion/completions/valk-trace && complete -p valk-trace" >/dev/null 2>&1 &&
	pass "bash completion installed" || fail "no bash completion"
[ -f "$root/usr/lib/systemd/system/valk-trace@.service" ] &&
	[ -f "$root/usr/share/doc/valk-trace/contrib/prometheus/valk-trace.rules.yml" ] &&
	[ -f "$root/usr/share/doc/valk-trace/contrib/grafana/valk-trace.json" ] &&
	pass "fleet kit installed: systemd unit, Prometheus rules, Grafana dashboard" || fail "fleet kit not installed"
dpkg --root="$root" --log=/dev/null --no-triggers -r valk-trace >"$TMP/dpkg" 2>&1 && ! [ -e "$root/usr/sbin/valk-trace" ] &&
	pass "dpkg -r removes it" || fail "dpkg -r: $(tail -n 3 "$TMP/dpkg")"
finish
