#!/bin/bash
# The maps of the source stay true: README's "Layout of the source" table
# names every module of each layer folder in that folder's row, and every
# source file docs/architecture.md names exists.
# make test-asan runs the suite again sanitized; not this test:
[ -z "${VT_SANITIZED:-}" ] || { echo "skipped under make test-asan: it reads the source and docs: nothing built runs"; exit 77; }
. "$(dirname "$0")/../lib/common.sh"
cd "$(dirname "$0")/../.." || exit 1

for dir in userspace/*/; do
	layer=$(basename "$dir")
	row=$(grep "^| \`userspace/$layer/\` |" README.md)
	[ -n "$row" ] || { fail "README: no row for userspace/$layer/"; continue; }
	for m in $(ls "$dir" | grep '\.[chS]$' | sed 's/\.[chS]$//' | sort -u); do
		[ "$m" = main ] && continue
		# a module is named, or its family is (vt_rec for vt_rec_event)
		named=
		for w in $(grep -o '`vt_[a-z0-9_]*\(\.h\)\?`' <<<"$row" | tr -d '`' | sed 's/\.h$//'); do
			[[ "$m" == "$w" || "$m" == "${w}_"* ]] && named=1
		done
		[ -n "$named" ] || fail "README: the userspace/$layer/ row does not name $m"
	done
done
[ "$FAILS" -eq 0 ] && pass "README's table names every module of every layer"

n=0
for p in $(grep -o '\(bpf\|web\|userspace/[a-z]*\)/[A-Za-z0-9_.]*\.[chS]' docs/architecture.md | sort -u); do
	n=$((n + 1))
	[ -e "$p" ] || fail "docs/architecture.md names $p, which does not exist"
done
for p in $(grep -o '\b\(cli\|serve\|wire\|model\|target\|probe\)/vt_[a-z0-9_*]*\.[ch]\b' docs/architecture.md | sort -u); do
	n=$((n + 1))
	compgen -G "userspace/$p" >/dev/null || fail "docs/architecture.md names $p, which does not exist"
done
[ "$n" -gt 10 ] && pass "docs/architecture.md: the $n files it names exist" ||
	fail "docs/architecture.md names only $n files"
finish
