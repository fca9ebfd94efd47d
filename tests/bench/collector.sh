# make bench, sections 10-12: the collector's own figures. Sourced by
# run.sh (its helpers: sim_start, tracer_start, cpu_ns, record, ...).
#
#  10. the ring pipeline: bench_ring (a BPF program of the bench writing
#      slab events into a running valk-trace's own events ring, triggered
#      from userspace with BPF_PROG_TEST_RUN) at RING_RATES events/s for
#      RING_S s against `valk-trace attach --mode events` of a valk-sim
#      churn target (4 MiB default ring); the tracer's CPU, what it
#      applied, what the ring could not take
#  11. SSE: `valk-trace attach` (hybrid) serving a valk-sim churn target,
#      its CPU over SSE_S s with no client, then with SSE_CLIENTS clients
#      of the memory stream (tests/bench/sse_load.mjs), and the bytes each
#      received per second
#  12. scale: bench_wire's figures (encoding, idle and busy tick, the
#      model's apply rate) for slabs of SCALE_SLOTS slots and for
#      SCALE_CONNS connections in a 262,144-slot slab, and 10. and 11. for
#      those slab sizes; a table and a plot in tests/bench/ (scale.txt,
#      scale.png, gnuplot)

RING_RATES=${BENCH_RING_RATES:-1000000 2000000 5000000}
RING_S=2
SSE_S=5
SSE_CLIENTS=100
SCALE_SLOTS=${BENCH_SCALE_SLOTS:-1024 65536 262144 1048576}
SCALE_CONNS="10 1000 10000"

# ring_run RATE ROUND SLOTS: one paced producer run; records the offered,
# applied and lost events and the tracer's CPU over the run.
ring_run() {
	local rate=$1 r=$2 slots=$3 c0 c1 t0 t1 out
	sim_start "${PIN_TARGET[@]}" "$(sim_bin shared)" --workload churn --rate 100 \
		--max-handles "$slots" || { fail_run ring "$slots" "$rate" "$r"; return; }
	tracer_start events "$SIM_PID" || { sim_stop; fail_run ring "$slots" "$rate" "$r"; return; }
	c0=$(cpu_ns "$VT_PID")
	t0=$(now_ns)
	out=$("${PIN_TARGET[@]}" "$BUILD/bench/bench_ring" "$VT_PID" "$SIM_PID" "$rate" "$RING_S" 2>&1)
	sleep "$DRAIN"
	c1=$(cpu_ns "$VT_PID")
	t1=$(now_ns)
	tracer_stop
	sim_stop
	if [[ "$out" != ring\ offered* ]]; then
		ERR=$(tail -n 1 <<<"$out"); fail_run ring "$slots" "$rate" "$r"; return
	fi
	# offered N lost L seconds S rate R
	record ring "$slots" "$rate" "$r" $(awk '{ printf "offered=%s ring_lost=%s seconds=%s ", $3, $5, $7 }' <<<"$out") \
		applied="$EVENTS" vt_lost="$LOST" vt_cpu_ns=$((c1 - c0)) wall_ns=$((t1 - t0))
	say "  ring $slots slots $rate/s: $out, tracer events $EVENTS"
}

# sse_run ROUND SLOTS: the tracer's CPU with no client and with
# SSE_CLIENTS, and what each client received.
sse_run() {
	local r=$1 slots=$2 c0 c1 c2 c3 t0 t1 t2 t3 url out
	sim_start "${PIN_TARGET[@]}" "$(sim_bin shared)" --workload churn --max-handles "$slots" ||
		{ fail_run sse "$slots" hybrid "$r"; return; }
	VT_JSON=$TMP/vt.json
	bg_tracer 'serving http' valk-trace "$VT" attach "$SIM_PID" --listen 127.0.0.1:0 \
		--json "$VT_JSON" || { sim_stop; fail_run sse "$slots" hybrid "$r"; return; }
	url=$(sed -n 's|.*serving http://\([^/ ]*\).*|\1|p' "$TMP/vt.log")
	sleep 1
	c0=$(cpu_ns "$VT_PID"); t0=$(now_ns)
	sleep "$SSE_S"
	c1=$(cpu_ns "$VT_PID"); t1=$(now_ns)
	# the clients subscribe, get their full state and settle for 1 s
	# before sse_load counts; the tracer's CPU is taken over its count
	node tests/bench/sse_load.mjs --port "${url##*:}" --clients "$SSE_CLIENTS" \
		--seconds "$SSE_S" >"$TMP/sse.out" 2>&1 &
	local node_pid=$!
	wait_line "$TMP/sse.out" . 1 "$node_pid"
	sleep 1.5
	c2=$(cpu_ns "$VT_PID"); t2=$(now_ns)
	sleep "$((SSE_S - 1))"
	c3=$(cpu_ns "$VT_PID"); t3=$(now_ns)
	wait "$node_pid"
	out=$(cat "$TMP/sse.out")
	tracer_stop
	sim_stop
	if [[ "$out" != sse\ clients* ]]; then
		ERR="sse_load: $(tail -n 1 <<<"$out")"; fail_run sse "$slots" hybrid "$r"; return
	fi
	# sse clients N seconds S bytes B events E per_client_bytes_s X
	record sse "$slots" hybrid "$r" idle_cpu_ns=$((c1 - c0)) idle_ns=$((t1 - t0)) \
		cpu_ns=$((c3 - c2)) wall_ns=$((t3 - t2)) \
		$(awk '{ printf "clients=%s events=%s client_bytes_s=%s", $3, $9, $11 }' <<<"$out")
	say "  sse $slots slots: $out"
}

# bench_wire at one size: its lines into SCALE_OUT as "scale KEY VALUE..."
wire_scale() {
	local slots=$1 conns=${2:-}
	"$BUILD/bench/bench_wire" "$slots" 1000 all $conns 2>&1 |
		sed "s/^/wire $slots ${conns:-mix} /" >>"$SCALE_OUT"
}

collector_runs() {
	local r rate n
	SCALE_OUT=$TMP/scale.out
	: >"$SCALE_OUT"
	say "collector: bench_wire at $SCALE_SLOTS slots and $SCALE_CONNS connections"
	for n in $SCALE_SLOTS; do wire_scale "$n"; done
	for n in $SCALE_CONNS; do wire_scale 262144 "$n"; done
	if [[ " ${VARIANTS[*]} " == *" events "* ]] &&
	   make -s -f Makefile -f tests/bench/bench.mk BUILD="$BUILD" "$BUILD/bench/bench_ring" >"$TMP/ring.build" 2>&1; then
		say "collector: the ring pipeline from bench_ring"
		for ((r = 1; r <= ROUNDS; r++)); do
			for rate in $RING_RATES; do ring_run "$rate" "$r" 262144; done
		done
		for n in $SCALE_SLOTS; do [ "$n" = 262144 ] || ring_run 5000000 1 "$n"; done
	else
		NOTES+=("ring pipeline skipped: $( [[ " ${VARIANTS[*]} " == *" events "* ]] && tail -n 1 "$TMP/ring.build" || echo 'needs root')")
	fi
	if command -v node >/dev/null; then
		say "collector: SSE with $SSE_CLIENTS clients"
		for ((r = 1; r <= ROUNDS; r++)); do sse_run "$r" 262144; done
		for n in $SCALE_SLOTS; do [ "$n" = 262144 ] || sse_run 1 "$n"; done
	else
		NOTES+=("SSE skipped: node not found (make deps)")
	fi
}

# Sections 10-12 from the records and bench_wire's lines; the scale table
# also goes to tests/bench/scale.txt, its plot to tests/bench/scale.png.
collector_report() {
	local table=tests/bench/scale.txt dat=$TMP/scale.dat
	awk -v ring_s="$RING_S" -v sse_s="$SSE_S" -v clients="$SSE_CLIENTS" -v wire="$SCALE_OUT" \
	    -v dat="$dat" -v table="$table" -v slots_list="$SCALE_SLOTS" -v conns_list="$SCALE_CONNS" \
	    -f tests/bench/stats.awk -f /dev/stdin "$RESULTS" <<'AWK'
function out(line) { print line; print line >> table }
function nan(v) { return v == "" ? "NaN" : v }
function mm(k, d) { return (k SUBSEP d) in W ? sprintf("%.0f/%.0f", W[k, d], M[k, d]) : "-" }
$1 == "ring" && !(($0) ~ /failed=1/) {
	for (i = 5; i <= NF; i++) { split($i, kv, "="); F[kv[1]] = kv[2] }
	k = $2 SUBSEP $3
	cpu = F["vt_cpu_ns"] / 1e9
	add("lost" SUBSEP k, F["offered"] > 0 ? 100 * (F["ring_lost"] + F["vt_lost"]) / F["offered"] : 0)
	add("ms_s" SUBSEP k, F["vt_cpu_ns"] / F["wall_ns"] * 1000)
	add("cap" SUBSEP k, cpu > 0 ? F["applied"] / cpu : 0)
	add("applied" SUBSEP k, F["applied"]); add("offered" SUBSEP k, F["offered"])
	rates[$3] = 1; ring[$2] = 1
}
$1 == "sse" && !(($0) ~ /failed=1/) {
	for (i = 5; i <= NF; i++) { split($i, kv, "="); F[kv[1]] = kv[2] }
	add("idle_pct" SUBSEP $2, 100 * F["idle_cpu_ns"] / F["idle_ns"])
	add("pct" SUBSEP $2, 100 * F["cpu_ns"] / F["wall_ns"])
	add("bytes" SUBSEP $2, F["client_bytes_s"]); add("clients" SUBSEP $2, F["clients"])
	sse[$2] = 1
}
END {
	while ((getline line < wire) > 0) {
		n = split(line, w, " ")
		k = w[2] SUBSEP w[3]
		if (w[4] == "doc") { W[k, w[5]] = w[7]; M[k, w[5]] = w[9] }
		if (w[4] == "apply") W[k, "apply"] = w[12]
	}
	printf "\n10. The ring pipeline: bench_ring (BPF, BPF_PROG_TEST_RUN) into valk-trace's own ring, events mode, 4 MiB ring,\n"
	printf "    %d s per run, valk-sim churn with 262,144 handle slots; median over rounds (min-max)\n", ring_s
	printf "    (target: >= 5 M events/s on one core, no loss at the default ring size)\n"
	printf "%12s %12s %9s %15s %12s %14s\n", "offered/s", "applied", "lost %", "min-max", "tracer ms/s", "M events/cpu-s"
	for (r in rates) order[++nr] = r + 0
	for (i = 2; i <= nr; i++) { t = order[i]; for (j = i - 1; j >= 1 && order[j] > t; j--) order[j + 1] = order[j]; order[j + 1] = t }
	for (i = 1; i <= nr; i++) {
		k = 262144 SUBSEP order[i]
		if (!(("lost" SUBSEP k) in L)) continue
		printf "%12s %12s %9s %15s %12s %14s\n", thousands(order[i]), thousands(med("applied" SUBSEP k)),
			num(med("lost" SUBSEP k), "%.2f"), span("lost" SUBSEP k, "%.2f"),
			num(med("ms_s" SUBSEP k), "%.1f"), num(med("cap" SUBSEP k) / 1e6, "%.1f")
	}
	if (!nr) printf "(no result: see the notes)\n"
	printf "\n11. SSE: valk-trace attach (hybrid) of valk-sim churn, 262,144 handle slots, %d clients of the memory stream (HTTP/1.1)\n", clients
	printf "    for %d s after they subscribed; the tracer's CPU beside the same tracer with no client (target: <= 10 %% of a core)\n", sse_s
	printf "%-22s %10s %15s %14s\n", "", "% of core", "min-max", "bytes/client/s"
	if ((262144 in sse)) {
		printf "%-22s %10s %15s %14s\n", "no client", num(med("idle_pct" SUBSEP 262144), "%.1f"), span("idle_pct" SUBSEP 262144, "%.1f"), "-"
		printf "%-22s %10s %15s %14s\n", med("clients" SUBSEP 262144) " clients", num(med("pct" SUBSEP 262144), "%.1f"),
			span("pct" SUBSEP 262144, "%.1f"), thousands(med("bytes" SUBSEP 262144))
	} else printf "(no result: see the notes)\n"

	printf "" > table
	out("")
	out("12. Scale: the collector's figures by handle slab size and by connections (a 262,144-slot slab)")
	out("    encoding and model: bench_wire, median/fastest us, M events/s; ring: 5 M events/s offered (lost %, tracer ms/s);")
	out("    SSE: 100 clients, % of a core and bytes per client per second; live figures for slab sizes only")
	out("    targets: memory event <= 5000 us and idle tick <= 100 us at 262,144 slots; model and ring >= 5 M/s, no loss; SSE <= 10 %")
	out(sprintf("%-10s %7s %13s %10s %13s %9s %9s %9s %7s %11s", "slots", "conns", "memory us", "idle us", "busy us", "model M/s",
		"ring lost", "ring ms/s", "SSE %", "SSE B/cl/s"))
	printf "" > dat
	ns = split(slots_list, S, " ")
	for (i = 1; i <= ns; i++) {
		k = S[i] SUBSEP "mix"; rk = S[i] SUBSEP 5000000
		out(sprintf("%-10s %7s %13s %10s %13s %9s %9s %9s %7s %11s", thousands(S[i]), "mix", mm(k, "memory"),
			num(W[k, "tick_idle"], "%.1f"), mm(k, "tick_busy"), (((k SUBSEP "apply") in W) ? sprintf("%.1f", W[k, "apply"] / 1e6) : "-"),
			num(med("lost" SUBSEP rk), "%.2f"), num(med("ms_s" SUBSEP rk), "%.0f"),
			num(med("pct" SUBSEP S[i]), "%.1f"), thousands(med("bytes" SUBSEP S[i]))))
		printf "slots %s %s %s %s\n", S[i], nan(M[k, "memory"]), nan(M[k, "tick_idle"]), nan(M[k, "tick_busy"]) >> dat
	}
	nc = split(conns_list, C, " ")
	for (i = 1; i <= nc; i++) {
		k = 262144 SUBSEP C[i]
		out(sprintf("%-10s %7s %13s %10s %13s %9s %9s %9s %7s %11s", thousands(262144), thousands(C[i]), mm(k, "memory"),
			num(W[k, "tick_idle"], "%.1f"), mm(k, "tick_busy"), (((k SUBSEP "apply") in W) ? sprintf("%.1f", W[k, "apply"] / 1e6) : "-"),
			"-", "-", "-", "-"))
		printf "conns %s %s %s %s\n", C[i], nan(M[k, "memory"]), nan(M[k, "tick_idle"]), nan(M[k, "tick_busy"]) >> dat
	}
}
AWK
	scale_plot "$dat"
}

# The scale table as a PNG: time per memory event, idle and busy tick
# against the slab size and against the connections (gnuplot, pngcairo).
scale_plot() {
	local png=tests/bench/scale.png
	if ! command -v gnuplot >/dev/null; then
		NOTES+=("scale plot skipped: gnuplot is not installed (make deps)"); return
	fi
	gnuplot <<GP 2>"$TMP/gnuplot.err" || NOTES+=("scale plot failed: $(tail -n 1 "$TMP/gnuplot.err")")
set terminal pngcairo size 1100,500 font ",10" noenhanced
set output "$png"
set multiplot layout 1,2 title "valk-trace collector: what one tick costs (bench_wire, fastest of its runs)"
set logscale xy
set grid
set key outside below
set ylabel "microseconds"
array XL[2] = ["handle slab slots (about half in use)", "connections in a 262,144-slot slab"]
array ROWS[2] = ["slots", "conns"]
array X0[2] = [700, 5]
array X1[2] = [1600000, 20000]
do for [i = 1:2] {
	set xlabel XL[i]
	set xrange [X0[i]:X1[i]]
	plot "< grep ^".ROWS[i]." $1" using 2:3 with linespoints title "memory event (full)", \
	     "" using 2:5 with linespoints title "busy tick (1,000 events)", \
	     "" using 2:4 with linespoints title "idle tick", \
	     5000 with lines dashtype 2 title "target: memory event 5 ms", \
	     100 with lines dashtype 3 title "target: idle tick 0.1 ms"
}
unset multiplot
GP
}
