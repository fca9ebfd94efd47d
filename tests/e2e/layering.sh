#!/bin/bash
# The source's one dependency direction (docs/architecture.md): a file in
# userspace/LAYER/ may include only headers of the layers listed for LAYER.
# Every quoted include must name its layer ("model/vt_state.h"), so the
# check reads the includes as written.
# make test-asan runs the suite again sanitized; not this test:
[ -z "${VT_SANITIZED:-}" ] || { echo "skipped under make test-asan: it reads the source: nothing built runs"; exit 77; }
cd "$(dirname "$0")/../.." || exit 1
declare -A allowed=(
	[model]="model"
	[target]="model target"
	[probe]="model target probe"
	[wire]="model wire"
	[serve]="model wire serve"
	[cli]="model target probe wire serve cli"
)
bad=0
for f in userspace/*/*.[chS]; do
	layer=${f#userspace/}; layer=${layer%%/*}
	[ -n "${allowed[$layer]:-}" ] || { echo "FAIL: $f: unknown layer $layer"; bad=1; continue; }
	while IFS=: read -r line inc; do
		inc=${inc#*\"}; inc=${inc%\"*}
		# The event record is below every layer; the skeleton is the probe's.
		[ "$inc" = bpf/valk_trace.h ] && continue
		[ "$inc" = valk_trace.skel.h ] && [ "$layer" = probe ] && continue
		dep=${inc%%/*}
		if [ "$dep" = "$inc" ]; then
			echo "FAIL: $f:$line: \"$inc\" does not name its layer"; bad=1
		elif [[ " ${allowed[$layer]} " != *" $dep "* ]]; then
			echo "FAIL: $f:$line: $layer includes $inc (a higher layer: $dep)"; bad=1
		fi
	done < <(grep -n '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "$f" | sed 's/:[^"]*/:/')
done
[ "$bad" -eq 0 ] && echo "all checks passed: every include follows the layers"
exit "$bad"
