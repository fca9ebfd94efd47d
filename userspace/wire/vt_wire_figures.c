#include "wire/vt_wire_figures.h"

#include <stdlib.h>
#include <string.h>

static void put_u(json_t *o, const char *k, uint64_t v)
{
	json_object_set_new(o, k, json_integer((json_int_t)v));
}

static json_t *labels_json(const struct vt_metric *m)
{
	json_t *o = json_object();

	for (unsigned i = 0; i < m->nlabels; i++)
		json_object_set_new(o, m->labels[i].key,
				    json_string(m->labels[i].value));
	return o;
}

static void add_labels(json_t *o, const char *key, const struct vt_metric *m)
{
	if (m->nlabels)
		json_object_set_new(o, key, labels_json(m));
}

/* Cumulative bucket counts, as the registry exports them. */
static json_t *buckets_json(const struct vt_metric *m, const uint64_t *base,
			    const char *count_key)
{
	json_t *a = json_array();
	uint64_t cum = 0;

	for (unsigned b = 0; b <= m->nbounds; b++) {
		json_t *e = json_object();

		cum += m->buckets[b] - (base ? base[b] : 0);
		json_object_set_new(e, "le", b < m->nbounds
					     ? json_real(m->bounds[b])
					     : json_string("+Inf"));
		put_u(e, count_key, cum);
		json_array_append_new(a, e);
	}
	return a;
}

static json_t *metric_json(const struct vt_metric *m)
{
	json_t *o = json_object();

	json_object_set_new(o, "name", json_string(m->name));
	switch (m->type) {
	case VT_METRIC_COUNTER:
		put_u(o, "value", m->counter);
		break;
	case VT_METRIC_GAUGE:
		json_object_set_new(o, "value", json_integer(m->gauge));
		break;
	case VT_METRIC_HISTOGRAM:
		put_u(o, "count", m->count);
		put_u(o, "sum_us", m->sum_us);
		break;
	}
	add_labels(o, "labels", m);
	if (m->type == VT_METRIC_HISTOGRAM)
		json_object_set_new(o, "buckets", buckets_json(m, NULL, "count"));
	return o;
}

static const char *const family_keys[] = {
	[VT_METRIC_COUNTER] = "counters",
	[VT_METRIC_GAUGE] = "gauges",
	[VT_METRIC_HISTOGRAM] = "histograms",
};

json_t *vt_wire_figures_registry(const struct vt_figures *f, uint64_t now_us,
				 double process_uptime_s)
{
	json_t *o = json_object(), *fam[3];
	bool reg = f && (f->have & VT_FIG_REGISTRY);

	json_object_set_new(o, "uptime_seconds",
			    json_real(reg && now_us > f->start_us
					      ? (double)(now_us - f->start_us) / 1e6
					      : process_uptime_s));
	for (int k = 0; k < 3; k++) {
		fam[k] = json_array();
		json_object_set_new(o, family_keys[k], fam[k]);
	}
	for (size_t i = 0; reg && i < f->nmetrics; i++)
		json_array_append_new(fam[f->metrics[i].type],
				      metric_json(&f->metrics[i]));
	return o;
}

json_t *vt_wire_figures_registry_stats(const struct vt_figures *f)
{
	static const char *const fams[VT_FAMS] = {"counters", "gauges",
						  "histograms", "summaries"};
	json_t *o = json_object(), *ev, *pool;

	if (!f || !(f->have & VT_FIG_REGISTRY))
		return o;
	for (int k = 0; k < VT_FAMS; k++) {
		json_t *e = json_object();

		put_u(e, "active", f->fam[k].active);
		put_u(e, "hwm", f->fam[k].hwm);
		put_u(e, "capacity", f->fam[k].capacity);
		put_u(e, "free", f->fam[k].free);
		json_object_set_new(o, fams[k], e);
	}
	pool = json_object();
	put_u(pool, "used", f->pool_used);
	put_u(pool, "capacity", f->pool_capacity);
	json_object_set_new(o, "string_pool", pool);
	ev = json_object();
	put_u(ev, "total", f->evictions[0]);
	for (int k = 0; k < VT_FAMS; k++)
		put_u(ev, fams[k], f->evictions[k + 1]);
	json_object_set_new(o, "evictions", ev);
	return o;
}

static json_t *gc_figures(json_t *o, const struct vt_figures *f)
{
	static const char *const pauses[] = {"0_1ms", "1_5ms", "5_10ms",
					     "10_16ms", "16ms_plus"};
	static const char *const gens[] = {"gen_0", "gen_1_5", "gen_6_20",
					   "gen_21_plus"};
	json_t *ph = json_object(), *sv = json_object();
	uint64_t eff = f->gc.last_before
			       ? f->gc.last_reclaimed * 100 / f->gc.last_before
			       : 0;

	put_u(o, "cycles_total", f->gc.cycles);
	put_u(o, "pause_us_total", f->gc.pause_us_total);
	put_u(o, "pause_us_max", f->gc.pause_us_max);
	json_object_set_new(o, "pause_ms_avg",
			    json_real(f->gc.cycles ? (double)f->gc.pause_us_total /
							     f->gc.cycles / 1000.0
						   : 0.0));
	put_u(o, "reclaimed_bytes_total", f->gc.reclaimed);
	put_u(o, "allocated_bytes_total", f->gc.allocated);
	put_u(o, "efficiency_pct", eff > 100 ? 100 : eff);
	for (int i = 0; i < 5; i++)
		put_u(ph, pauses[i], f->gc.pause[i]);
	for (int i = 0; i < 4; i++)
		put_u(sv, gens[i], f->gc.survival[i]);
	json_object_set_new(o, "pause_histogram", ph);
	json_object_set_new(o, "survival", sv);
	return o;
}

void vt_wire_figures_vm(json_t *vm_gc, json_t *vm, const struct vt_figures *f)
{
	json_t *in;

	if (f && (f->have & VT_FIG_GC))
		gc_figures(vm_gc, f);
	if (!f || !(f->have & VT_FIG_EVAL))
		return;
	in = json_object();
	put_u(in, "evals_total", f->eval.evals);
	put_u(in, "function_calls", f->eval.function_calls);
	put_u(in, "builtin_calls", f->eval.builtin_calls);
	put_u(in, "stack_depth_max", f->eval.stack_max);
	put_u(in, "closures_created", f->eval.closures);
	put_u(in, "env_lookups", f->eval.lookups);
	json_object_set_new(vm, "interpreter", in);
}

void vt_wire_figures_breakdown(json_t *o, const struct vt_figures *f)
{
	if (f && (f->have & VT_FIG_SSL))
		put_u(o, "ssl_used", f->ssl_bytes);
	if (f && (f->have & VT_FIG_NGHTTP2))
		put_u(o, "nghttp2_used", f->nghttp2_bytes);
	if (f && (f->have & VT_FIG_LIBUV))
		put_u(o, "libuv_used", f->libuv_bytes);
}

void vt_wire_figures_aio(json_t *aio, json_t *connections,
			 const struct vt_figures *f)
{
	json_t *q;

	if (!f || !(f->have & VT_FIG_AIO))
		return;
	put_u(connections, "failed", f->aio.connections_failed);
	if (!aio)
		return;
	q = json_object();
	json_object_set_new(q, "pending_requests",
			    json_integer(f->aio.pending_requests));
	json_object_set_new(q, "pending_responses",
			    json_integer(f->aio.pending_responses));
	json_object_set_new(q, "capacity", json_integer(f->aio.queue_capacity));
	json_object_set_new(aio, "queue", q);
}

/* ---- deltas ------------------------------------------------------------ */

struct vt_wire_figures_base {
	struct vt_metric *m;
	size_t n, cap;
	uint64_t ts_us;
};

struct vt_wire_figures_base *vt_wire_figures_base_new(void)
{
	return calloc(1, sizeof(struct vt_wire_figures_base));
}

void vt_wire_figures_base_free(struct vt_wire_figures_base *b)
{
	if (b)
		free(b->m);
	free(b);
}

int vt_wire_figures_base_set(struct vt_wire_figures_base *b,
			     const struct vt_figures *f, uint64_t now_us)
{
	size_t n = f && (f->have & VT_FIG_REGISTRY) ? f->nmetrics : 0;

	if (n > b->cap) {
		void *p = realloc(b->m, n * sizeof(*b->m));

		if (!p)
			return -1;
		b->m = p;
		b->cap = n;
	}
	if (n)
		memcpy(b->m, f->metrics, n * sizeof(*b->m));
	b->n = n;
	b->ts_us = now_us;
	return 0;
}

/* The same metric as sent before: at the same index while the registry
 * keeps its order, else found by name and labels; NULL if new. */
static const struct vt_metric *base_find(const struct vt_wire_figures_base *b,
					 size_t i, const struct vt_metric *m)
{
	if (i < b->n && vt_metric_same(&b->m[i], m))
		return &b->m[i];
	for (size_t j = 0; j < b->n; j++)
		if (vt_metric_same(&b->m[j], m))
			return &b->m[j];
	return NULL;
}

/* One delta item, or NULL when m did not change since p. A metric new to
 * the stream counts from zero. */
static json_t *delta_item(const struct vt_metric *m, const struct vt_metric *p)
{
	static const struct vt_metric zero;
	json_t *o;

	if (!p)
		p = &zero;
	if ((m->type == VT_METRIC_COUNTER && m->counter == p->counter) ||
	    (m->type == VT_METRIC_GAUGE && m->gauge == p->gauge && p != &zero) ||
	    (m->type == VT_METRIC_HISTOGRAM && m->count == p->count &&
	     m->sum_us == p->sum_us))
		return NULL;
	o = json_object();
	json_object_set_new(o, "n", json_string(m->name));
	switch (m->type) {
	case VT_METRIC_COUNTER:
		json_object_set_new(o, "t", json_string("c"));
		/* a counter below its last value was recreated: all is new */
		put_u(o, "d", m->counter - (m->counter > p->counter
						    ? p->counter : 0));
		break;
	case VT_METRIC_GAUGE:
		json_object_set_new(o, "t", json_string("g"));
		json_object_set_new(o, "v", json_integer(m->gauge));
		break;
	case VT_METRIC_HISTOGRAM:
		json_object_set_new(o, "t", json_string("h"));
		put_u(o, "c", m->count - p->count);
		put_u(o, "s", m->sum_us - p->sum_us);
		json_object_set_new(o, "b", buckets_json(m, p->buckets, "d"));
		break;
	}
	add_labels(o, "l", m);
	return o;
}

json_t *vt_wire_figures_delta(struct vt_wire_figures_base *b,
			      const struct vt_figures *f, uint64_t now_us)
{
	uint64_t changed[3] = {0, 0, 0};
	json_t *o, *deltas;

	if (!f || !(f->have & VT_FIG_REGISTRY))
		return NULL;
	deltas = json_array();
	for (size_t i = 0; i < f->nmetrics; i++) {
		const struct vt_metric *m = &f->metrics[i];
		json_t *d = delta_item(m, base_find(b, i, m));

		if (!d)
			continue;
		changed[m->type]++;
		json_array_append_new(deltas, d);
	}
	o = json_object();
	put_u(o, "ts", now_us);
	put_u(o, "interval_us", now_us - b->ts_us);
	put_u(o, "changed", json_array_size(deltas));
	put_u(o, "counters_changed", changed[VT_METRIC_COUNTER]);
	put_u(o, "gauges_changed", changed[VT_METRIC_GAUGE]);
	put_u(o, "histograms_changed", changed[VT_METRIC_HISTOGRAM]);
	json_object_set_new(o, "deltas", deltas);
	if (vt_wire_figures_base_set(b, f, now_us)) {
		json_decref(o);
		return NULL;
	}
	return o;
}
