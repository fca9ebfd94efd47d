/* vt_wire: Prometheus text format 0.0.4 (see vt_wire.h). */
#include <stddef.h>
#include <string.h>

#include "wire/vt_wire_json.h"

static void prom_family(struct vt_wire__buf *b, const char *name,
			const char *type, const char *help)
{
	vt_wire__buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help,
			    name, type);
}

static void prom_label(struct vt_wire__buf *b, const char *key,
		       const char *val)
{
	vt_wire__buf_printf(b, ",%s=\"", key);
	for (const char *p = val; *p; p++) {
		if (*p == '\\' || *p == '"')
			vt_wire__buf_printf(b, "\\%c", *p);
		else if (*p == '\n')
			vt_wire__buf_put(b, "\\n", 2);
		else
			vt_wire__buf_put(b, p, 1);
	}
	vt_wire__buf_put(b, "\"", 1);
}

/* `name{pid="P"[,system="S"]` — finish with prom_label()s and prom_end(). */
static void prom_start(struct vt_wire__buf *b, const char *name,
		       const struct vt_wire_meta *m, int system)
{
	vt_wire__buf_printf(b, "%s{pid=\"%d\"", name, m->pid);
	if (system >= 0)
		vt_wire__buf_printf(b, ",system=\"%d\"", system);
}

static void prom_end(struct vt_wire__buf *b, uint64_t v)
{
	vt_wire__buf_printf(b, "} %llu\n", (unsigned long long)v);
}

static void prom_slab_slots(struct vt_wire__buf *b, const struct vt_state *s,
			    const struct vt_wire_meta *m)
{
	prom_family(b, "valk_slab_slots", "gauge", "Slab slots by state.");
	for (size_t i = 0; i < vt_state_nslabs(s); i++) {
		const struct vt_slab *sl = vt_state_slab(s, i);

		for (int used = 1; used >= 0; used--) {
			prom_start(b, "valk_slab_slots", m, sl->system);
			prom_label(b, "slab", vt_slab_kind_name(sl->kind));
			prom_label(b, "state", used ? "used" : "free");
			prom_end(b, used ? sl->used : sl->total - sl->used);
		}
	}
}

static const struct {
	const char *name, *type, *help;
	size_t off;
} slab_families[] = {
	{ "valk_slab_hwm_slots", "gauge", "Most slab slots ever in use at once.",
	  offsetof(struct vt_slab, hwm) },
	{ "valk_slab_overflow_total", "counter",
	  "Slab acquires that failed because no slot was free.",
	  offsetof(struct vt_slab, overflow) },
	{ "valk_slab_acquires_total", "counter", "Successful slab acquires.",
	  offsetof(struct vt_slab, acquires) },
	{ "valk_slab_releases_total", "counter", "Slab releases.",
	  offsetof(struct vt_slab, releases) },
};

static void prom_slab_suspects(struct vt_wire__buf *b, const struct vt_state *s,
			       const struct vt_wire_meta *m)
{
	prom_family(b, "valk_leak_suspect_slots", "gauge",
		    "Slab slots in use for at least the leak age (--leak-age).");
	for (size_t i = 0; i < vt_state_nslabs(s); i++) {
		const struct vt_slab *sl = vt_state_slab(s, i);

		prom_start(b, "valk_leak_suspect_slots", m, sl->system);
		prom_label(b, "slab", vt_slab_kind_name(sl->kind));
		prom_end(b, vt_slab_suspects(sl, m->now_ms, m->leak_age_ms));
	}
}

static void prom_slab_counters(struct vt_wire__buf *b, const struct vt_state *s,
			       const struct vt_wire_meta *m)
{
	for (size_t f = 0; f < sizeof(slab_families) / sizeof(slab_families[0]); f++) {
		prom_family(b, slab_families[f].name, slab_families[f].type,
			    slab_families[f].help);
		for (size_t i = 0; i < vt_state_nslabs(s); i++) {
			const struct vt_slab *sl = vt_state_slab(s, i);
			uint64_t v;

			memcpy(&v, (const char *)sl + slab_families[f].off, sizeof(v));
			prom_start(b, slab_families[f].name, m, sl->system);
			prom_label(b, "slab", vt_slab_kind_name(sl->kind));
			prom_end(b, v);
		}
	}
}

/* Connections of one handle slab per owner name: a server restarted on the
 * same port registers the same name again, and labels must be unique. */
static void prom_slab_conns(struct vt_wire__buf *b, const struct vt_state *s,
			    const struct vt_wire_meta *m,
			    const struct vt_slab *sl)
{
	static const char *const state_names[VT_WIRE__CONN_STATES] = {
		"connecting", "active", "idle", "closing"
	};
	const char *names[VT_MAX_OWNERS + 1];
	uint64_t counts[VT_MAX_OWNERS + 1][VT_WIRE__CONN_STATES] = { { 0 } };
	size_t nn = 0;
	struct vt_wire__tally t;

	vt_wire__tally_slab(s, sl, &t);
	for (size_t o = 0; o <= VT_MAX_OWNERS; o++) {
		const char *name;
		size_t k = 0;

		if (!vt_wire__tally_owner_any(&t, o))
			continue;
		name = o < VT_MAX_OWNERS
		       ? vt_wire__owner_label(s, sl->system, (uint16_t)o) : "?";
		while (k < nn && strcmp(names[k], name))
			k++;
		if (k == nn)
			names[nn++] = name;
		for (int st = 0; st < VT_WIRE__CONN_STATES; st++)
			counts[k][st] += t.owner[o][st];
	}
	for (size_t k = 0; k < nn; k++) {
		for (int st = 0; st < VT_WIRE__CONN_STATES; st++) {
			prom_start(b, "valk_connections", m, sl->system);
			prom_label(b, "owner", names[k]);
			prom_label(b, "state", state_names[st]);
			prom_end(b, counts[k][st]);
		}
	}
}

static void prom_arenas(struct vt_wire__buf *b, const struct vt_state *s,
			const struct vt_wire_meta *m)
{
	size_t n;
	const struct vt_arena *a = vt_state_arenas(s, &n);

	prom_family(b, "valk_arena_bytes", "gauge",
		    "Arena bytes: in use, capacity and high-water mark.");
	for (size_t i = 0; i < n; i++) {
		const uint64_t v[3] = { a[i].used, a[i].capacity, a[i].hwm };
		static const char *const kinds[3] = { "used", "capacity", "hwm" };

		for (int k = 0; k < 3; k++) {
			prom_start(b, "valk_arena_bytes", m, a[i].system);
			prom_label(b, "arena", a[i].name);
			prom_label(b, "kind", kinds[k]);
			prom_end(b, v[k]);
		}
	}
}

static void prom_gc(struct vt_wire__buf *b, const struct vt_state *s,
		    const struct vt_wire_meta *m)
{
	const struct vt_gc *gc = vt_state_gc(s);

	prom_family(b, "valk_gc_heap_bytes", "gauge",
		    "GC heap bytes in use and the heap's hard limit.");
	prom_start(b, "valk_gc_heap_bytes", m, -1);
	prom_label(b, "kind", "used");
	prom_end(b, gc->heap_used_bytes);
	prom_start(b, "valk_gc_heap_bytes", m, -1);
	prom_label(b, "kind", "total");
	prom_end(b, gc->heap_total_bytes);
}

static void prom_tracer(struct vt_wire__buf *b, const struct vt_state *s,
			const struct vt_wire_meta *m)
{
	const struct vt_state_counters *c = vt_state_counters(s);
	const struct {
		const char *name, *help;
		uint64_t v;
	} fam[] = {
		{ "valk_trace_events_total", "Events received from the probes.",
		  c->events },
		{ "valk_trace_lost_events_total",
		  "Events lost because the ring buffer was full.", c->lost },
		{ "valk_trace_resyncs_total",
		  "Slabs repaired from memory after the model drifted.",
		  c->resyncs },
		{ "valk_trace_ignored_events_total",
		  "Events naming no known slab, slot or system.", c->ignored },
	};

	for (size_t i = 0; i < sizeof(fam) / sizeof(fam[0]); i++) {
		prom_family(b, fam[i].name, "counter", fam[i].help);
		prom_start(b, fam[i].name, m, -1);
		prom_end(b, fam[i].v);
	}
	prom_family(b, "valk_trace_probe_hits_total", "counter",
		    "Hits of each probe.");
	for (int i = 0; i < VT_P_COUNT; i++) {
		if (!vt_wire_probe_live(i))
			continue;
		prom_start(b, "valk_trace_probe_hits_total", m, -1);
		prom_label(b, "probe", vt_wire_probe_name(i));
		prom_end(b, c->probe_hits[i]);
	}
	if (!m->overhead)
		return;
	prom_family(b, "valk_trace_overhead_percent", "gauge",
		    "Estimated share of the target's CPU spent in the probes, "
		    "the last second.");
	prom_start(b, "valk_trace_overhead_percent", m, -1);
	vt_wire__buf_printf(b, "} %.3f\n", m->overhead->estimate_pct);
	prom_family(b, "valk_trace_overhead_budget_percent", "gauge",
		    "The --max-overhead budget the estimate is held to.");
	prom_start(b, "valk_trace_overhead_budget_percent", m, -1);
	vt_wire__buf_printf(b, "} %.3f\n", m->overhead->max_pct);
	prom_family(b, "valk_trace_slab_probes_attached", "gauge",
		    "1 while slab operations are probed, 0 while the slabs are "
		    "read instead (over --max-overhead).");
	prom_start(b, "valk_trace_slab_probes_attached", m, -1);
	prom_end(b, !m->overhead->slabs_read);
}

/* One counter family of labelled values: reason="..." each. */
static void prom_reasons(struct vt_wire__buf *b, const struct vt_wire_meta *m,
			 const char *name, const char *help,
			 const char *const reasons[], const uint64_t v[],
			 size_t n)
{
	prom_family(b, name, "counter", help);
	for (size_t i = 0; i < n; i++) {
		prom_start(b, name, m, -1);
		prom_label(b, "reason", reasons[i]);
		prom_end(b, v[i]);
	}
}

static void prom_serving(struct vt_wire__buf *b, const struct vt_wire_meta *m)
{
	const struct vt_wire_serving *sv = m->serving;
	const char *const closed[] = { "idle", "stalled", "evicted", "tls" };
	const char *const refused[] = { "full", "client_share" };
	const uint64_t nclosed[] = { sv->idled, sv->stalled, sv->evicted,
				     sv->tls_failed };
	const uint64_t nrefused[] = { sv->refused, sv->refused_share };

	prom_family(b, "valk_trace_http_connections", "gauge",
		    "Connections open to valk-trace's own server.");
	prom_start(b, "valk_trace_http_connections", m, -1);
	prom_end(b, sv->conns);
	prom_family(b, "valk_trace_http_streams", "gauge",
		    "SSE streams open on valk-trace's own server.");
	prom_start(b, "valk_trace_http_streams", m, -1);
	prom_end(b, sv->streams);
	prom_reasons(b, m, "valk_trace_http_closed_total",
		     "Connections valk-trace closed: at the idle limit, for "
		     "making no progress, to admit another, for a TLS error.",
		     closed, nclosed, 4);
	prom_reasons(b, m, "valk_trace_http_refused_total",
		     "Connections refused: over the limit, over one client's "
		     "share.", refused, nrefused, 2);
}

char *vt_wire_prometheus(const struct vt_state *s,
			 const struct vt_wire_meta *m)
{
	struct vt_wire__buf b = { 0 };

	prom_slab_slots(&b, s, m);
	prom_slab_counters(&b, s, m);
	prom_slab_suspects(&b, s, m);
	prom_family(&b, "valk_connections", "gauge",
		    "HTTP connections in the handle slab by owner and state.");
	for (size_t i = 0; i < vt_state_nslabs(s); i++)
		if (vt_state_slab(s, i)->states)
			prom_slab_conns(&b, s, m, vt_state_slab(s, i));
	prom_arenas(&b, s, m);
	prom_gc(&b, s, m);
	prom_tracer(&b, s, m);
	if (m->serving)
		prom_serving(&b, m);
	return vt_wire__buf_take(&b);
}
