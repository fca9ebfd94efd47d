#!/bin/bash
# contrib/, the kit for a fleet of hosts: the Prometheus rules pass their
# own unit tests (promtool test rules) and name only series valk-trace
# exports; the Grafana dashboard is valid JSON whose every query is valid
# PromQL over exported series and the rules' recordings; the systemd unit
# passes systemd-analyze verify, and its ExecStart, run as systemd would
# (its environment, its capability bounding set, no-new-privs), with the
# README's settings for a host scraped from another, follows a runtime by
# name, gives root up, serves its /metrics to a real Prometheus configured
# as the README says (a wrong token refused with 401; a name not allowed
# with 421) and writes its report when stopped.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../serve/lib.sh"
need_root
need_bins
need_serve_tools promtool setpriv
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
# ExecStart run as systemd runs it, as far as that goes without systemd:
# the Environment= defaults, then the README's environment file of a host
# scraped from another (the one EnvironmentFile= names), the words
# expanded as systemd expands them (%i the instance, ${VAR} one word,
# $VAR split at white space), under the unit's CapabilityBoundingSet,
# AmbientCapabilities and NoNewPrivileges (setpriv). The tracer must then
# attach by name, give root up as it does outside the unit, serve what
# Prometheus scrapes with that configuration, and write a --json report
# through its file keeper.
mkdir -p "$TMP/units"
sed "s|/usr/sbin/valk-trace|$VT|" "$unit" >"$TMP/units/valk-trace@.service"
if command -v systemd-analyze >/dev/null; then
	out=$(systemd-analyze verify --man=no "$TMP/units/valk-trace@vtsvc.service" 2>&1) && [ -z "$out" ] &&
		pass "systemd-analyze verify: no complaint" || fail "systemd-analyze verify: $out"
fi
key() { sed -n "s/^$1=//p" "$TMP/units/valk-trace@.service" | tr '\n' ' '; }
# README: a fenced block of the "Scraping from other hosts" section, the
# Nth of those that open with FENCE
readme_block() {
	awk -v fence="$1" -v n="$2" '/^### Scraping from other hosts/ { s = 1; next }
		s && /^## / { exit }
		s && /^```/ { if (open) { if (want) exit; open = 0 } else { open = 1; want = $0 == fence && ++k == n }; next }
		open && want' "$VT_ROOT/README.md"
}
name=vtsvc$$
port=$(free_port)
declare -A env
for kv in $(key Environment); do env[${kv%%=*}]=${kv#*=}; done
readme_block '```' 1 | sed -n 's/^\([A-Z_]*\)=/\1=/p' >"$TMP/default"
grep -q '^VT_ARGS=.*--token' "$TMP/default" || fail "the README's environment file gives no --token: $(cat "$TMP/default")"
while IFS= read -r l; do
	[[ $l =~ ^([A-Za-z_][A-Za-z0-9_]*)=\"?([^\"]*)\"?$ ]] && env[${BASH_REMATCH[1]}]=${BASH_REMATCH[2]}
done <"$TMP/default"
token=$(sed -n 's/.*--token \([^ "]*\).*/\1/p' "$TMP/default")
allowed=$(sed -n 's/.*--allow-host \([^ "]*\).*/\1/p' "$TMP/default")
# another host's address, on loopback; a report for the keeper to write
env[VT_LISTEN]=127.0.0.2:$port
env[VT_ARGS]="${env[VT_ARGS]} --json $TMP/state/report.json"
mkdir -p "$TMP/state"
cmd=()
set -f
for w in $(key ExecStart); do
	w=${w//%i/$name}
	if [[ $w =~ ^\$([A-Za-z_][A-Za-z0-9_]*)$ ]]; then
		cmd+=(${env[${BASH_REMATCH[1]}]})
		continue
	fi
	while [[ $w =~ \$\{([A-Za-z_][A-Za-z0-9_]*)\} ]]; do
		w=${w//"${BASH_REMATCH[0]}"/${env[${BASH_REMATCH[1]}]}}
	done
	cmd+=("$w")
done
set +f
capset() { tr ' ' '\n' | grep . | sed 's/^CAP_//' | tr 'A-Z' 'a-z' | sed 's/^/+/' | paste -sd, -; }
bounding=$(key CapabilityBoundingSet)
ambient=$(key AmbientCapabilities)
[[ $bounding != *"~"* ]] || fail "the test does not emulate a CapabilityBoundingSet=~ (a set dropped)"
sandbox=(setpriv --inh-caps=-all"${ambient:+,$(capset <<<"$ambient")}")
[ -n "$bounding" ] && sandbox+=(--bounding-set=-all,"$(capset <<<"$bounding")")
[ -n "$ambient" ] && sandbox+=(--ambient-caps=-all,"$(capset <<<"$ambient")")
case $(key NoNewPrivileges) in yes\ | true\ | on\ | 1\ ) sandbox+=(--no-new-privs) ;; esac
[ -z "$(key User)$(key Group)" ] || fail "the test does not emulate User=/Group="
echo "note: the unit's ExecStart: ${sandbox[*]} -- ${cmd[*]}"
cp "$SIM_STATIC" "$TMP/$name"
"${sandbox[@]}" -- "${cmd[@]}" 2>"$TMP/unit.log" &
upid=$!
PIDS+=($upid)
sim_start "$TMP/$name" --workload idle --port 0 || { fail "start $name"; finish; }
# 20 s: a bound for a loaded machine, not a time
for _ in $(seq 1 200); do
	grep -q "attached to pid $SIM_PID " "$TMP/unit.log" && break
	kill -0 "$upid" 2>/dev/null || break
	sleep 0.1
done
url=http://127.0.0.2:$port
bearer="Authorization: Bearer $token"
grep -q "^valk_slab_slots{pid=\"$SIM_PID\"" <(curl -s -H "$bearer" "$url/metrics") &&
	pass "the unit's ExecStart, in the unit's sandbox, follows $name (pid $SIM_PID) and serves its /metrics on $url" ||
	fail "the unit's ExecStart (${sandbox[*]} -- ${cmd[*]}): $(cat "$TMP/unit.log")"
if kill -0 "$upid" 2>/dev/null; then
	got="$(proc_field "$upid" Uid)|$(proc_field "$upid" CapEff)|$(proc_field "$upid" CapPrm)|$(proc_field "$upid" CapBnd)|$(proc_field "$upid" NoNewPrivs)"
	nobody=$(id -u nobody)
	want="$nobody $nobody $nobody $nobody|$CAPS_FOLLOW|$CAPS_FOLLOW|$CAPS_FOLLOW|1"
	[ "$got" = "$want" ] && pass "in the unit's sandbox the tracer gives root up as outside it: uid $nobody, CapEff=CapPrm=CapBnd=$CAPS_FOLLOW" ||
		fail "in the unit's sandbox the tracer's status is '$got', wanted '$want'"
fi

# Scraped as from another host: the README's configuration in a real
# Prometheus, its targets this tracer, its credentials file the token (a
# second job with another token must be refused)
if command -v prometheus >/dev/null; then
	readme_block '```yaml' 1 >"$TMP/readme-prom.yml"
	echo "$token" >"$TMP/token"
	echo "0123456789abcdef0123456789abcdef" >"$TMP/wrong-token"
	chmod 600 "$TMP/token" "$TMP/wrong-token"
	cp "$rules" "$TMP/"
	{ printf 'global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n'
	  sed -e "s|targets: \[.*\]|targets: ['127.0.0.2:$port']|" -e "s|credentials_file: .*|credentials_file: $TMP/token|" "$TMP/readme-prom.yml"
	  sed -n '/^  - job_name:/,$p' "$TMP/readme-prom.yml" |
		sed -e 's/job_name: [^ ]*/job_name: valk-trace-wrong-token/' -e "s|targets: \[.*\]|targets: ['127.0.0.2:$port']|" \
		    -e "s|credentials_file: .*|credentials_file: $TMP/wrong-token|"
	} >"$TMP/prometheus.yml"
	awk '/^```yaml/ { y = 1; next } y && /^```/ { exit } y' "$kit/README.md" | cmp -s - "$TMP/readme-prom.yml" &&
		pass "contrib/README.md gives the README's Prometheus configuration" ||
		fail "contrib/README.md's Prometheus configuration is not the README's"
	out=$(promtool check config "$TMP/prometheus.yml" 2>&1) && pass "promtool check config: the README's configuration" ||
		fail "promtool check config: $out"
	pport=$(free_port)
	prometheus --config.file="$TMP/prometheus.yml" --storage.tsdb.path="$TMP/prom" \
		--web.listen-address="127.0.0.1:$pport" --log.level=warn >"$TMP/prometheus.log" 2>&1 &
	PIDS+=($!)
	prom=http://127.0.0.1:$pport
	health() { curl -s "$prom/api/v1/targets" | jq -r --arg j "$1" '.data.activeTargets[] | select(.labels.job == $j) | "\(.health) \(.lastError)"'; }
	# 60 s: a bound for a loaded machine, not a time
	for _ in $(seq 1 300); do
		[[ "$(health valk-trace)" == up* && "$(health valk-trace-wrong-token)" == down* ]] && break
		kill -0 "$upid" 2>/dev/null || break
		sleep 0.2
	done
	[[ "$(health valk-trace)" == up* ]] && pass "Prometheus scrapes it with the README's authorization stanza: up" ||
		fail "Prometheus with the README's configuration: '$(health valk-trace)' $(tail -n 3 "$TMP/prometheus.log")"
	[[ "$(health valk-trace-wrong-token)" == "down "*401* ]] && pass "with another token: $(health valk-trace-wrong-token)" ||
		fail "with another token: '$(health valk-trace-wrong-token)'"
	n=$(curl -s "$prom/api/v1/query" --data-urlencode "query=count(valk_slab_slots{job=\"valk-trace\",pid=\"$SIM_PID\"})" | jq -r '.data.result[0].value[1] // 0')
	[ "$n" -gt 0 ] && pass "Prometheus holds $n valk_slab_slots series of pid $SIM_PID" || fail "Prometheus holds no valk_slab_slots of pid $SIM_PID"
fi
# by name: the one allowed, another; no token, another token
code() { curl -s -o "$TMP/body" -w '%{http_code}' "$@"; }
host=${allowed%%,*}
c=$(code --resolve "$host:$port:127.0.0.2" -H "$bearer" "http://$host:$port/metrics")
[ "$c" = 200 ] && grep -q '^valk_slab_slots{' "$TMP/body" && pass "by the name allowed ($host): 200 and the metrics" || fail "by $host: $c"
c=$(code --resolve "elsewhere.example.org:$port:127.0.0.2" -H "$bearer" "http://elsewhere.example.org:$port/metrics")
[ "$c" = 421 ] && ! grep -q valk_slab "$TMP/body" && pass "by a name not allowed: 421" || fail "by a name not allowed: $c"
c=$(code "$url/metrics")
[ "$c" = 401 ] && ! grep -q valk_slab "$TMP/body" && pass "without the token: 401" || fail "without the token: $c"
c=$(code -H "Authorization: Bearer 0123456789abcdef0123456789abcdef" "$url/metrics")
[ "$c" = 401 ] && ! grep -q valk_slab "$TMP/body" && pass "with another token: 401" || fail "with another token: $c"

# stopped as systemd stops it: the keeper writes the report
kill -TERM "$upid"
# 60 s: a bound for a tracer that would not end, not a time
for _ in $(seq 1 600); do kill -0 "$upid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$upid" 2>/dev/null && fail "still running 60 s after SIGTERM"
jq -e --argjson p "$SIM_PID" '.pid == $p and (.slabs | length) > 0' "$TMP/state/report.json" >/dev/null 2>&1 &&
	pass "stopped with SIGTERM, its keeper wrote the --json report" ||
	fail "no --json report after SIGTERM: $(tail -n 3 "$TMP/unit.log")"
finish
