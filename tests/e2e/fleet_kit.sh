#!/bin/bash
# contrib/, the kit for a fleet of hosts: the Prometheus rules pass their
# own unit tests (promtool test rules) and name only series valk-trace
# exports; the Grafana dashboard is valid JSON whose every query is valid
# PromQL over exported series and the rules' recordings; the systemd unit
# passes systemd-analyze verify, and its ExecStart, run as written, follows
# a runtime by name and serves its /metrics.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../serve/lib.sh"
need_root
need_bins
need_serve_tools promtool
kit=$VT_ROOT/contrib
rules=$kit/prometheus/valk-trace.rules.yml
dash=$kit/grafana/valk-trace.json
unit=$kit/systemd/valk-trace@.service

out=$(cd "$kit/prometheus" && promtool test rules valk-trace.rules.test.yml 2>&1) &&
	pass "promtool test rules: $(grep -c 'alertname:' "$kit/prometheus/valk-trace.rules.test.yml") alert checks" ||
	fail "promtool test rules: $out"
promtool check rules "$rules" >/dev/null 2>&1 && pass "promtool check rules" || fail "$(promtool check rules "$rules" 2>&1)"
for a in ValkSlabNearExhaustion ValkSlabHighWaterMark ValkSlabOverflow ValkLeakSuspectsGrowing ValkTraceLostEvents ValkTracerDown; do
	grep -q "alertname: $a$" "$kit/prometheus/valk-trace.rules.test.yml" || fail "alert $a is not tested"
done

# What a tracer exports, from a live one.
sim_start "$SIM_SHARED" --workload churn --port 0 || { fail "start valk-sim"; finish; }
tracer_start "$SIM_PID" || { fail "start valk-trace"; finish; }
curl -s "$VT_URL/metrics" >"$TMP/metrics"
exported=$(sed -n 's/^# TYPE \([a-z_:]*\) .*/\1/p' "$TMP/metrics" | sort -u)
recorded=$(sed -n 's/^ *- record: *\([a-z0-9_:]*\).*/\1/p' "$rules" | sort -u)
known=$(printf '%s\n' $exported $recorded up | sort -u)
grep -qx valk_leak_suspect_slots <<<"$exported" && pass "exports valk_leak_suspect_slots" || fail "no valk_leak_suspect_slots"
# the series a text names: valk_*, valk:* and up
names() { grep -o '[a-zA-Z_:][a-zA-Z0-9_:]*' | grep -x 'valk_[a-z0-9_]*\|valk:[a-z0-9_:]*\|up' | sort -u; }
unknown=$(grep -v '^ *#\|record:' "$rules" | names | grep -vxF "$known")
[ -z "$unknown" ] && pass "rules use only exported series: $(grep -v '^ *#' "$rules" | names | tr '\n' ' ')" ||
	fail "rules name series valk-trace does not export: $unknown"

# The dashboard
if jq -e '.title and .uid and (.panels | length > 0) and ([.panels[].id] | length == (unique | length))
	and all(.panels[]; .gridPos and .type and (.targets | length > 0) and all(.targets[]; .expr and .refId))' \
	"$dash" >/dev/null; then pass "grafana: valid JSON, $(jq '.panels | length' "$dash") panels, unique ids, every panel a query"
else fail "grafana: not a dashboard"; fi
jq -r '.panels[].targets[].expr' "$dash" >"$TMP/exprs"
unknown=$(names <"$TMP/exprs" | grep -vxF "$known")
[ -z "$unknown" ] && pass "grafana: every series exported or recorded ($(names <"$TMP/exprs" | wc -l) names)" ||
	fail "grafana: unknown series: $unknown"
{ echo "groups:"; echo "  - name: dashboard"; echo "    rules:"
  n=0; while IFS= read -r e; do n=$((n + 1)); printf '      - record: dashboard:q%d\n        expr: %s\n' "$n" "$(jq -Rn --arg e "${e//\$instance/.*}" '$e')"; done <"$TMP/exprs"
} >"$TMP/dash-rules.yml"
out=$(promtool check rules "$TMP/dash-rules.yml" 2>&1) && pass "grafana: every query is valid PromQL" || fail "grafana PromQL: $out"

# The systemd unit: verified (with the binary of this build), then its
# ExecStart run as written for a runtime named like a service.
mkdir -p "$TMP/units"
sed "s|/usr/sbin/valk-trace|$VT|" "$unit" >"$TMP/units/valk-trace@.service"
if command -v systemd-analyze >/dev/null; then
	out=$(systemd-analyze verify --man=no "$TMP/units/valk-trace@vtsvc.service" 2>&1) && [ -z "$out" ] &&
		pass "systemd-analyze verify: no complaint" || fail "systemd-analyze verify: $out"
fi
name=vtsvc$$
cp "$SIM_STATIC" "$TMP/$name"
port=$(free_port)
cmd=$(sed -n 's/^ExecStart=//p' "$TMP/units/valk-trace@.service" |
	sed -e "s/%i/$name/g" -e "s/\${VT_LISTEN}/127.0.0.1:$port/" -e 's/\${VT_MODE}/hybrid/' -e 's/\$VT_ARGS//')
$cmd 2>"$TMP/unit.log" &
PIDS+=($!)
sim_start "$TMP/$name" --workload idle --port 0 || { fail "start $name"; finish; }
for _ in $(seq 1 100); do grep -q "attached to pid $SIM_PID " "$TMP/unit.log" && break; sleep 0.1; done
grep -q "^valk_slab_slots{pid=\"$SIM_PID\"" <(curl -s "http://127.0.0.1:$port/metrics") &&
	pass "the unit's ExecStart follows $name (pid $SIM_PID) and serves its /metrics" ||
	fail "the unit's ExecStart ($cmd): $(cat "$TMP/unit.log")"
finish
