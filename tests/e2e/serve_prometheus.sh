#!/bin/bash
# Fleet use of /metrics: a real Prometheus server (loopback, its own
# storage in a temporary directory, scrape_interval 1s) scrapes two tracers
# tracing two valk-sim processes; valk_slab_slots read back through
# Prometheus' query API carries both pids and equals each tracer's
# /metrics. `promtool check metrics` accepts both tracers' output.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../serve/lib.sh"
need_root
need_bins
need_serve_tools prometheus promtool

families=valk_slab_slots,valk_slab_hwm_slots,valk_slab_overflow_total,valk_slab_acquires_total,valk_slab_releases_total,valk_leak_suspect_slots,valk_connections,valk_arena_bytes,valk_trace_events_total,valk_trace_lost_events_total

declare -a SIMS TRACERS PORTS
for i in 0 1; do
	sim_start "$SIM_SHARED" --workload churn --seed $((30 + i)) --port 0 --systems $((i + 1)) ||
		{ fail "start valk-sim $i"; finish; }
	tracer_start "$SIM_PID" || { fail "start valk-trace $i"; finish; }
	SIMS[$i]=$SIM_PID TRACERS[$i]=$VT_PID PORTS[$i]=$VT_PORT
	pass "tracer $i: pid ${SIM_PID} ($((i + 1)) AIO system(s)) served on port $VT_PORT"
done

# ---- the exposition itself ----
for i in 0 1; do
	url=http://127.0.0.1:${PORTS[$i]}/metrics
	curl -s --max-time 5 "$url" >"$TMP/metrics.$i"
	if out=$(promtool check metrics <"$TMP/metrics.$i" 2>&1); then
		pass "tracer $i: promtool check metrics accepts /metrics$([ -n "$out" ] && echo ": $out")"
	else
		fail "tracer $i: promtool check metrics: $out"
	fi
	missing=""
	for f in ${families//,/ }; do
		grep -q "^# TYPE $f " "$TMP/metrics.$i" && grep -q "^$f{" "$TMP/metrics.$i" || missing+=" $f"
	done
	[ -z "$missing" ] && pass "tracer $i: every family of the contract present" || fail "tracer $i: missing$missing"
	nopid=$(grep -v '^#' "$TMP/metrics.$i" | grep -vc "pid=\"${SIMS[$i]}\"")
	[ "$nopid" = 0 ] && pass "tracer $i: every series labelled pid=\"${SIMS[$i]}\"" || fail "tracer $i: $nopid series without pid=\"${SIMS[$i]}\""
	grep -q "^valk_slab_slots{.*slab=\"handles\",state=\"free\"}" "$TMP/metrics.$i" &&
		grep -q "^valk_arena_bytes{.*kind=\"capacity\"}" "$TMP/metrics.$i" &&
		pass "tracer $i: valk_slab_slots{state=used|free}, valk_arena_bytes{kind=used|capacity|hwm}" ||
		fail "tracer $i: labels of valk_slab_slots / valk_arena_bytes"
done

# ---- a Prometheus server scraping both ----
pport=$(free_port)
cat >"$TMP/prometheus.yml" <<YML
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: valk-trace
    static_configs:
      - targets: ['127.0.0.1:${PORTS[0]}', '127.0.0.1:${PORTS[1]}']
YML
promtool check config "$TMP/prometheus.yml" >/dev/null 2>&1 || fail "promtool check config: $(promtool check config "$TMP/prometheus.yml" 2>&1)"
prometheus --config.file="$TMP/prometheus.yml" --storage.tsdb.path="$TMP/prom" \
	--web.listen-address="127.0.0.1:$pport" --log.level=warn >"$TMP/prometheus.log" 2>&1 &
PIDS+=($!)
prom=http://127.0.0.1:$pport
for _ in $(seq 1 100); do
	[ "$(curl -s -o /dev/null -w '%{http_code}' "$prom/-/ready")" = 200 ] && break
	sleep 0.2
done
[ "$(curl -s -o /dev/null -w '%{http_code}' "$prom/-/ready")" = 200 ] || { fail "Prometheus not ready: $(tail -n 5 "$TMP/prometheus.log")"; finish; }
pass "Prometheus ready on 127.0.0.1:$pport"

# both tracers scraped
for _ in $(seq 1 60); do
	n=$(curl -s "$prom/api/v1/query" --data-urlencode 'query=count(count by (pid) (valk_slab_slots))' | jq -r '.data.result[0].value[1] // 0')
	[ "$n" = 2 ] && break
	sleep 0.25
done
[ "$n" = 2 ] && pass "Prometheus holds valk_slab_slots of both pids" || fail "Prometheus holds valk_slab_slots of $n pid(s)"

# hold the targets still, let the tracers settle and Prometheus scrape again
for i in 0 1; do
	SIM_PID=${SIMS[$i]}
	sim_pause || fail "pause valk-sim $i"
	cp "$SIM_TRUTH" "$TMP/truth.$i.json"
done
sleep 5
# ... where /metrics agrees with the targets' ground truth
for i in 0 1; do
	curl -s --max-time 5 "http://127.0.0.1:${PORTS[$i]}/metrics" >"$TMP/metrics.$i"
	want=$(jq -r --arg pid "${SIMS[$i]}" '.slabs[] |
		"valk_slab_slots{pid=\"\($pid)\",system=\"\(.system)\",slab=\"\(.name)\",state=\"used\"} \(.used)",
		"valk_slab_slots{pid=\"\($pid)\",system=\"\(.system)\",slab=\"\(.name)\",state=\"free\"} \(.total - .used)"' "$TMP/truth.$i.json" | sort)
	got=$(grep '^valk_slab_slots{' "$TMP/metrics.$i" | sort)
	[ "$want" = "$got" ] && pass "tracer $i: valk_slab_slots equals the ground truth ($(echo "$got" | wc -l) series)" ||
		fail "tracer $i: valk_slab_slots differs from the ground truth: $(diff <(echo "$want") <(echo "$got") | head -n 6 | tr '\n' ' ')"
done
run_client client prom.mjs --prom "$prom" \
	--tracers "127.0.0.1:${PORTS[0]}=${SIMS[0]},127.0.0.1:${PORTS[1]}=${SIMS[1]}" \
	--families "$families" --exact valk_slab_slots,valk_slab_hwm_slots,valk_connections
for i in 0 1; do kill -USR2 "${SIMS[$i]}"; done
for i in 0 1; do VT_PID=${TRACERS[$i]} VT_URL=http://127.0.0.1:${PORTS[$i]} tracer_alive "tracer $i at the end"; done
finish
