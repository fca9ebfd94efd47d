/* vt_wire: the valk dialect, the runtime's own dashboard documents, full
 * and as deltas against what a stream already sent (see vt_wire.h). */
#include <stdlib.h>
#include <string.h>

#include "wire/vt_wire_figures.h"
#include "wire/vt_wire_json.h"

/* Runs of equal chars as <char><count>, the count always printed. */
static void put_rle(struct vt_wire__buf *b, const uint8_t *s, size_t n)
{
	for (size_t i = 0; i < n;) {
		size_t j = i + 1;

		while (j < n && s[j] == s[i])
			j++;
		vt_wire__buf_put(b, (const char *)&s[i], 1);
		vt_wire__put_u64(b, j - i);
		i = j;
	}
}

/* Valk dialect: the dashboard's comma segments, `hh` or `hh*count`. */
static json_t *bitmap_segments(const uint8_t *bm, size_t n)
{
	struct vt_wire__buf b = { 0 };

	for (size_t i = 0; i < n;) {
		size_t j = i + 1;

		while (j < n && bm[j] == bm[i])
			j++;
		if (i)
			vt_wire__buf_put(&b, ",", 1);
		vt_wire__put_hex(&b, bm[i]);
		if (j - i > 1) {
			vt_wire__buf_put(&b, "*", 1);
			vt_wire__put_u64(&b, j - i);
		}
		i = j;
	}
	return vt_wire__buf_json(&b);
}

static json_t *states_rle(const struct vt_slab *sl)
{
	struct vt_wire__buf b = { 0 };

	put_rle(&b, (const uint8_t *)sl->states, sl->total);
	return vt_wire__buf_json(&b);
}

/* `offset:RLE` for every run of slots whose letter changed since `prev`. */
static json_t *states_delta(const char *prev, const struct vt_slab *sl)
{
	return vt_wire__runs_delta(prev, sl->states, sl->total, put_rle);
}

struct conns {
	uint64_t n[VT_WIRE__CONN_STATES];
};

struct delta_slab {
	enum vt_slab_kind kind;
	uint64_t total;
	char *states;		/* handles: the letters last sent */
	uint16_t *owners;	/* and the owners they were tallied with */
	struct vt_wire__tally *counts;	/* that tally, NULL: not made yet */
	uint8_t *bitmap;	/* others: the bitmap last sent */
};

struct vt_wire_delta {
	bool valid;
	int system;
	size_t n;
	struct delta_slab slab[VT_SLAB_KINDS];
	/* A delta cannot name new owners or give a new arena's capacity (the
	 * dashboard takes both from full events only): when these change the
	 * next document is full. */
	size_t nowners;
	uint64_t arenas;	/* hash of the arena names */
	uint64_t generation;	/* the state's, when last sent */
	uint64_t full_ms;	/* when the last full document was made */
	/* the connection counts, a walk of every handle slot: kept while the
	 * state's generation stays */
	struct conns conns;
	uint64_t conns_generation;
	bool conns_known;
	struct vt_wire_figures_base *figures;	/* the registry as sent */
};

struct vt_wire_delta *vt_wire_delta_new(void)
{
	struct vt_wire_delta *d = calloc(1, sizeof(*d));

	if (d && !(d->figures = vt_wire_figures_base_new())) {
		free(d);
		return NULL;
	}
	return d;
}

static void delta_clear(struct vt_wire_delta *d)
{
	struct vt_wire_figures_base *f = d->figures;

	for (size_t i = 0; i < d->n; i++) {
		free(d->slab[i].states);
		free(d->slab[i].owners);
		free(d->slab[i].counts);
		free(d->slab[i].bitmap);
	}
	memset(d, 0, sizeof(*d));
	d->figures = f;
}

void vt_wire_delta_free(struct vt_wire_delta *d)
{
	if (d) {
		delta_clear(d);
		vt_wire_figures_base_free(d->figures);
	}
	free(d);
}

/* The slabs the valk dialect shows: those of the lowest system index, one
 * per kind, in kind order. Returns how many; *system is -1 for none. */
static size_t valk_slabs(const struct vt_state *s, int *system,
			 const struct vt_slab **v)
{
	size_t n = 0;

	*system = vt_state_nslabs(s) ? vt_state_slab(s, 0)->system : -1;
	for (size_t i = 0; i < vt_state_nslabs(s); i++) {
		const struct vt_slab *sl = vt_state_slab(s, i);

		if (sl->system == *system && (!n || v[n - 1]->kind != sl->kind))
			v[n++] = sl;
	}
	return n;
}

static void *dup_mem(const void *p, size_t n)
{
	void *q = malloc(n ? n : 1);

	return q ? memcpy(q, p, n) : NULL;
}

/* FNV-1a over the names of the arenas, in order. */
static uint64_t arena_names_hash(const struct vt_state *s)
{
	size_t n;
	const struct vt_arena *v = vt_state_arenas(s, &n);
	uint64_t h = 14695981039346656037ull;

	for (size_t i = 0; i < n; i++)
		for (const char *p = v[i].name; ; p++) {
			h = (h ^ (unsigned char)*p) * 1099511628211ull;
			if (!*p)
				break;
		}
	return h;
}

/* Remember what the client now has; on failure the next delta is full. */
static void delta_remember(struct vt_wire_delta *d, const struct vt_state *s,
			   int system, const struct vt_slab **v, size_t n)
{
	delta_clear(d);
	d->system = system;
	d->nowners = vt_wire__owner_count(s, system);
	d->arenas = arena_names_hash(s);
	for (size_t i = 0; i < n; i++) {
		struct delta_slab *ds = &d->slab[d->n++];

		ds->kind = v[i]->kind;
		ds->total = v[i]->total;
		if (v[i]->states) {
			ds->states = dup_mem(v[i]->states, v[i]->total);
			ds->owners = dup_mem(v[i]->owners,
					     v[i]->total * sizeof(*ds->owners));
			if (!ds->owners)
				return;
		} else {
			ds->bitmap = dup_mem(v[i]->bitmap, vt_wire__bitmap_bytes(v[i]));
		}
		if (!ds->states && !ds->bitmap)
			return;
	}
	d->generation = vt_state_generation(s);
	d->valid = true;
}

/* A changed set of stream arenas waits for a full document at most this
 * long: a busy server takes and gives back arenas every tick, and a full
 * document every tick would be the runtime's whole dashboard each time.
 * Meanwhile deltas carry the use of the arenas the client knows. */
#define ARENAS_FULL_MS 1000

static bool delta_same_shape(const struct vt_wire_delta *d,
			     const struct vt_state *s, int system,
			     const struct vt_slab **v, size_t n, uint64_t now_ms)
{
	if (!d->valid || d->system != system || d->n != n ||
	    d->nowners != vt_wire__owner_count(s, system) ||
	    (d->arenas != arena_names_hash(s) &&
	     now_ms - d->full_ms >= ARENAS_FULL_MS))
		return false;
	for (size_t i = 0; i < n; i++)
		if (d->slab[i].kind != v[i]->kind ||
		    d->slab[i].total != v[i]->total ||
		    !d->slab[i].states != !v[i]->states)
			return false;
	return true;
}

static void conns_add(struct conns *c, const struct vt_wire__tally *t)
{
	for (int k = 0; k < VT_WIRE__CONN_STATES; k++)
		c->n[k] += t->letters[(unsigned char)vt_wire__conn_letters[k]];
}

static void count_conns(const struct vt_state *s, const struct vt_slab **v,
			size_t n, struct conns *c)
{
	struct vt_wire__tally t;

	memset(c, 0, sizeof(*c));
	for (size_t i = 0; i < n; i++) {
		if (!v[i]->states)
			continue;
		vt_wire__tally_slab(s, v[i], &t);
		conns_add(c, &t);
	}
}

/* count_conns, or the counts d kept when nothing changed since. */
static void delta_conns(const struct vt_state *s, const struct vt_slab **v,
			size_t n, struct vt_wire_delta *d, struct conns *c)
{
	if (!d->conns_known || d->conns_generation != vt_state_generation(s)) {
		count_conns(s, v, n, &d->conns);
		d->conns_generation = vt_state_generation(s);
		d->conns_known = true;
	}
	*c = d->conns;
}

static json_t *connections_json(const struct conns *c)
{
	json_t *o = json_object();

	vt_wire__set_u(o, "total", c->n[VT_WIRE__CONN_N] + c->n[VT_WIRE__CONN_A] +
				   c->n[VT_WIRE__CONN_I] + c->n[VT_WIRE__CONN_C]);
	vt_wire__set_u(o, "active", c->n[VT_WIRE__CONN_A]);
	vt_wire__set_u(o, "idle", c->n[VT_WIRE__CONN_I]);
	vt_wire__set_u(o, "closing", c->n[VT_WIRE__CONN_C]);
	vt_wire__set_u(o, "connecting", c->n[VT_WIRE__CONN_N]);
	return o;
}

/* The runtime's metrics registry document, as read from its memory. */
static json_t *registry_json(const struct vt_state *s,
			     const struct vt_wire_meta *m)
{
	return vt_wire_figures_registry(vt_state_figures(s), m->now_ms * 1000,
					m->uptime_s);
}

static json_t *vm_json(const struct vt_state *s)
{
	const struct vt_gc *g = vt_state_gc(s);
	json_t *o = json_object(), *gc = vt_wire__gc(g);

	vt_wire__set_u(gc, "large_object_bytes", g->large_object_bytes);
	json_object_set_new(gc, "heap_utilization_pct",
			    json_real(g->heap_total_bytes
					      ? 100.0 * g->heap_used_bytes /
							g->heap_total_bytes
					      : 0.0));
	vt_wire_figures_vm(gc, o, vt_state_figures(s));
	json_object_set_new(o, "gc", gc);
	return o;
}

static json_t *valk_metrics(const struct vt_state *s,
			    const struct vt_wire_meta *m,
			    const struct vt_slab **v, size_t n)
{
	json_t *o = json_object(), *aio = registry_json(s, m), *conns;
	struct conns c;

	count_conns(s, v, n, &c);
	conns = connections_json(&c);
	vt_wire_figures_aio(aio, conns, vt_state_figures(s));
	json_object_set_new(aio, "connections", conns);
	json_object_set_new(o, "aio", aio);
	json_object_set_new(o, "modular", registry_json(s, m));
	json_object_set_new(o, "vm", vm_json(s));
	json_object_set_new(o, "registry",
			    vt_wire_figures_registry_stats(vt_state_figures(s)));
	return o;
}

static json_t *valk_slab(const struct vt_state *s, const struct vt_slab *sl)
{
	json_t *o = json_object(), *summary;
	struct vt_wire__tally t;

	vt_wire__set_s(o, "name", vt_slab_kind_name(sl->kind));
	vt_wire__set_u(o, "used", sl->used);
	vt_wire__set_u(o, "total", sl->total);
	vt_wire__set_u(o, "hwm", sl->hwm);
	vt_wire__set_u(o, "overflow", sl->overflow);
	if (!sl->states) {
		json_object_set_new(o, "bitmap",
				    bitmap_segments(sl->bitmap, vt_wire__bitmap_bytes(sl)));
		return o;
	}
	vt_wire__tally_slab(s, sl, &t);
	summary = json_object();
	json_object_set_new(summary, "by_owner", vt_wire__by_owner(&t));
	json_object_set_new(o, "states", states_rle(sl));
	json_object_set_new(o, "summary", summary);
	return o;
}

/* The runtime's breakdown keys; what no memory read gives (metrics_used,
 * metrics_cap, a library counter the runtime lacks) is left out. */
static json_t *breakdown_json(const struct vt_state *s,
			      const struct vt_slab **v, size_t n)
{
	const struct vt_gc *gc = vt_state_gc(s);
	uint64_t aio_used = 0, aio_cap = 0, scratch_used = 0, scratch_cap = 0;
	const struct vt_arena *a;
	size_t na;
	json_t *o = json_object();

	for (size_t i = 0; i < n; i++) {
		if (v[i]->kind == VT_SLAB_HTTP_SERVERS ||
		    v[i]->kind == VT_SLAB_HTTP_CLIENTS)
			continue;	/* the runtime sums the three big slabs */
		aio_used += v[i]->used * v[i]->item_size;
		aio_cap += v[i]->total * v[i]->item_size;
	}
	a = vt_state_arenas(s, &na);
	for (size_t i = 0; i < na; i++) {
		if (strcmp(a[i].name, "scratch"))
			continue;
		scratch_used += a[i].used;
		scratch_cap += a[i].capacity;
	}
	vt_wire__set_u(o, "gc_used", gc->heap_used_bytes);
	vt_wire__set_u(o, "gc_cap", gc->heap_total_bytes);
	vt_wire__set_u(o, "aio_used", aio_used);
	vt_wire__set_u(o, "aio_cap", aio_cap);
	vt_wire__set_u(o, "scratch_used", scratch_used);
	vt_wire__set_u(o, "scratch_cap", scratch_cap);
	vt_wire_figures_breakdown(o, vt_state_figures(s));
	return o;
}

static json_t *process_json(const struct vt_wire_meta *m)
{
	json_t *o = json_object();

	vt_wire__set_u(o, "rss", m->rss);
	vt_wire__set_u(o, "vms", m->vms);
	vt_wire__set_u(o, "system_total", m->system_total);
	return o;
}

char *vt_wire_valk_full(const struct vt_state *s,
			const struct vt_wire_meta *m, struct vt_wire_delta *d)
{
	const struct vt_slab *v[VT_SLAB_KINDS];
	int system;
	size_t n = valk_slabs(s, &system, v);
	json_t *doc = json_object(), *mem = json_object(), *slabs = json_array();

	for (size_t i = 0; i < n; i++)
		json_array_append_new(slabs, valk_slab(s, v[i]));
	json_object_set_new(mem, "slabs", slabs);
	json_object_set_new(mem, "arenas", vt_wire__arenas(s, false));
	json_object_set_new(mem, "gc", vt_wire__gc(vt_state_gc(s)));
	json_object_set_new(mem, "process", process_json(m));
	json_object_set_new(mem, "breakdown", breakdown_json(s, v, n));
	json_object_set_new(mem, "owner_map",
			    vt_wire__owner_names(s, system < 0 ? 0 : (size_t)system));
	json_object_set_new(doc, "metrics", valk_metrics(s, m, v, n));
	json_object_set_new(doc, "memory", mem);
	if (d) {
		delta_remember(d, s, system, v, n);
		d->full_ms = m->now_ms;
		vt_wire_figures_base_set(d->figures, vt_state_figures(s),
					 m->now_ms * 1000);
	}
	return vt_wire__dump(doc);
}

/* The slab's tally now, from the one made with the letters and owners
 * last sent: only the slots where either changed are looked at (the
 * registry size is the same, or the document would be a full one).
 * Updates ds->owners; ds->states is the caller's to update. */
static const struct vt_wire__tally *delta_tally(const struct vt_state *s,
						const struct vt_slab *sl,
						struct delta_slab *ds)
{
	size_t n = sl->total, no = vt_wire__owner_count(s, sl->system);
	struct vt_wire__tally *t = ds->counts;

	if (!t) {
		if (!(t = ds->counts = malloc(sizeof(*t))))
			return NULL;
		vt_wire__tally_slab(s, sl, t);
		memcpy(ds->owners, sl->owners, n * sizeof(*ds->owners));
		return t;
	}
	/* a, b: the next slot whose letter, whose owner differs, each
	 * looked for once past the last (from every change: quadratic) */
	for (size_t i, a = vt_wire__next_diff(ds->states, sl->states, 0, n),
		       b = vt_wire__next_diff(ds->owners, sl->owners, 0, 2 * n) / 2;
	     (i = a < b ? a : b) < n;) {
		vt_wire__tally_slot(t, (unsigned char)ds->states[i],
				    ds->owners[i] < no ? ds->owners[i]
						       : VT_MAX_OWNERS, -1);
		vt_wire__tally_slot(t, (unsigned char)sl->states[i],
				    sl->owners[i] < no ? sl->owners[i]
						       : VT_MAX_OWNERS, 1);
		ds->owners[i] = sl->owners[i];
		if (a == i)
			a = vt_wire__next_diff(ds->states, sl->states, i + 1, n);
		if (b == i)
			b = vt_wire__next_diff(ds->owners, sl->owners,
					       2 * (i + 1), 2 * n) / 2;
	}
	return t;
}

/* One slab of a delta: counters always, slot data only where it changed
 * (looked for only when the state changed at all), and the remembered
 * copy brought up to date. */
static json_t *delta_slab(const struct vt_state *s, const struct vt_slab *sl,
			  struct delta_slab *ds, bool same, struct conns *c)
{
	json_t *o = json_object(), *summary, *changed;
	const struct vt_wire__tally *t;
	struct vt_wire__tally whole;

	vt_wire__set_s(o, "name", vt_slab_kind_name(sl->kind));
	vt_wire__set_u(o, "used", sl->used);
	vt_wire__set_u(o, "hwm", sl->hwm);
	vt_wire__set_u(o, "overflow", sl->overflow);
	if (same)
		return o;
	if (!sl->states) {
		if (memcmp(ds->bitmap, sl->bitmap, vt_wire__bitmap_bytes(sl))) {
			json_object_set_new(o, "bitmap",
					    bitmap_segments(sl->bitmap, vt_wire__bitmap_bytes(sl)));
			memcpy(ds->bitmap, sl->bitmap, vt_wire__bitmap_bytes(sl));
		}
		return o;
	}
	if (!(t = delta_tally(s, sl, ds))) {	/* out of memory: made whole */
		vt_wire__tally_slab(s, sl, &whole);
		t = &whole;
	}
	changed = states_delta(ds->states, sl);
	if (changed) {
		json_object_set_new(o, "delta_states", changed);
		memcpy(ds->states, sl->states, sl->total);
	}
	conns_add(c, t);
	summary = json_object();
	json_object_set_new(summary, "by_owner", vt_wire__by_owner(t));
	json_object_set_new(o, "summary", summary);
	return o;
}

/* As the runtime's delta: the registry's changes since the stream's last
 * document, and the whole VM document and registry meta-stats. */
static json_t *delta_metrics(const struct vt_state *s,
			     const struct vt_wire_meta *m,
			     const struct vt_slab **v, size_t n,
			     struct vt_wire_delta *d)
{
	json_t *o = json_object(), *aio = json_object(), *conns;
	json_t *mod = vt_wire_figures_delta(d->figures, vt_state_figures(s),
					    m->now_ms * 1000);
	struct conns c;

	delta_conns(s, v, n, d, &c);
	conns = connections_json(&c);
	/* the dashboard merges connections from a delta, not the queue */
	vt_wire_figures_aio(NULL, conns, vt_state_figures(s));
	json_object_set_new(aio, "up", json_real(m->uptime_s));
	json_object_set_new(aio, "connections", conns);
	json_object_set_new(o, "aio", aio);
	if (mod)
		json_object_set_new(o, "modular", mod);
	json_object_set_new(o, "vm", vm_json(s));
	json_object_set_new(o, "registry",
			    vt_wire_figures_registry_stats(vt_state_figures(s)));
	return o;
}

static json_t *delta_arenas(const struct vt_state *s)
{
	size_t n;
	const struct vt_arena *v = vt_state_arenas(s, &n);
	json_t *a = json_array();

	for (size_t i = 0; i < n; i++) {
		json_t *o = json_object();

		vt_wire__set_s(o, "name", v[i].name);
		vt_wire__set_u(o, "used", v[i].used);
		json_array_append_new(a, o);
	}
	return a;
}

char *vt_wire_valk_delta(const struct vt_state *s,
			 const struct vt_wire_meta *m, struct vt_wire_delta *d,
			 bool *full)
{
	const struct vt_slab *v[VT_SLAB_KINDS];
	int system;
	size_t n = valk_slabs(s, &system, v);
	json_t *doc, *mem, *slabs;
	struct conns c = { 0 };
	bool same;

	*full = !delta_same_shape(d, s, system, v, n, m->now_ms);
	if (*full)
		return vt_wire_valk_full(s, m, d);
	doc = json_object();
	mem = json_object();
	slabs = json_array();
	same = d->generation == vt_state_generation(s);
	for (size_t i = 0; i < n; i++)
		json_array_append_new(slabs, delta_slab(s, v[i], &d->slab[i],
							same, &c));
	if (!same) {	/* the slabs' tallies counted the connections */
		d->conns = c;
		d->conns_generation = vt_state_generation(s);
		d->conns_known = true;
	}
	d->generation = vt_state_generation(s);
	json_object_set_new(mem, "slabs", slabs);
	json_object_set_new(mem, "arenas", delta_arenas(s));
	vt_wire__set_u(mem, "gc", vt_state_gc(s)->heap_used_bytes);
	vt_wire__set_u(mem, "rss", m->rss);
	json_object_set_new(doc, "metrics", delta_metrics(s, m, v, n, d));
	json_object_set_new(doc, "memory", mem);
	return vt_wire__dump(doc);
}
