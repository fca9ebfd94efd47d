#!/bin/bash
# Runs every test: unit binaries (build/tests/test_*) and scripts
# (tests/e2e/*.sh). A test passes with exit 0, is skipped with exit 77 (it
# prints why), fails otherwise. `tests/run.sh PATTERN` runs the matching ones.
# The last line is the summary: "N passed, N failed, N skipped".
set -u
cd "$(dirname "$0")/.."
export VT_BUILD="${VT_BUILD:-$PWD/build}"
# Under `make test` a test's own make runs as if from a shell, not nested.
unset MAKEFLAGS MAKELEVEL MFLAGS
export VT_ROOT="$PWD"
logdir="$VT_BUILD/test-logs"
mkdir -p "$logdir"
pass=0 fail=0 skip=0 failed=()
for t in "$VT_BUILD"/tests/test_* tests/e2e/*.sh; do
	[ -x "$t" ] || continue
	name=$(basename "$t")
	[ $# -gt 0 ] && [[ "$name" != *$1* ]] && continue
	start=$SECONDS
	"$t" >"$logdir/$name.log" 2>&1 </dev/null
	rc=$?
	dur=$((SECONDS - start))
	case $rc in
	0) pass=$((pass + 1)); echo "PASS $name (${dur}s)" ;;
	77) skip=$((skip + 1)); echo "SKIP $name: $(tail -n 1 "$logdir/$name.log")" ;;
	*) fail=$((fail + 1)); failed+=("$name")
	   echo "FAIL $name (exit $rc, ${dur}s) — last lines of $logdir/$name.log:"
	   tail -n 25 "$logdir/$name.log" | sed 's/^/    /' ;;
	esac
done
echo
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
