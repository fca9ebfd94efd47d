/* vt_wire: the memory dialect (see vt_wire.h, docs in wire-format.md). */
#include <stdlib.h>
#include <string.h>

#include "wire/vt_wire_json.h"

/* Memory dialect: two lower-case hex digits per byte, LSB = lowest slot. */
static void put_bitmap_hex(struct vt_wire__buf *b, const struct vt_slab *sl)
{
	struct vt_wire__buf h = { 0 };
	size_t n = vt_wire__bitmap_bytes(sl);

	if (vt_wire__buf_grow(&h, 2 * n))
		for (size_t i = 0; i < n; i++)
			vt_wire__put_hex(&h, sl->bitmap[i]);
	if (h.oom)
		b->oom = true;
	else
		vt_wire__put_string(b, h.p ? h.p : "", h.len);
	free(h.p);
}

static json_t *summary_json(const struct vt_wire__tally *t)
{
	json_t *o = json_object();

	for (int c = 'A'; c <= 'Z'; c++) {
		char key[2] = { (char)c, 0 };

		if (t->letters[c])
			vt_wire__set_u(o, key, t->letters[c]);
	}
	return o;
}

/* Per-slot owner for the dashboard's tooltips: the owner index as one hex
 * digit (the registry holds at most 16), '-' for no connection or an index
 * past the system's registry. NULL when out of memory. */
static char *owner_digits_in(const struct vt_state *s,
			     const struct vt_slab *sl, char *own)
{
	const struct vt_system *sys = vt_state_system(s, sl->system);
	size_t n = sys ? sys->nowners : 0;

	if (!own)
		return NULL;
	for (uint64_t i = 0; i < sl->total; i++) {
		if (vt_wire__plain8(sl->states, i, sl->total)) {
			memset(own + i, '-', 8);
			i += 7;
			continue;
		}
		own[i] = vt_wire__conn_index(sl->states[i]) >= 0 && sl->owners[i] < n
			 ? "0123456789abcdef"[sl->owners[i]] : '-';
	}
	own[sl->total] = 0;
	return own;
}

static char *owner_digits(const struct vt_state *s, const struct vt_slab *sl)
{
	return owner_digits_in(s, sl, malloc(sl->total + 1));
}

/* The counts of a slab that a full document and a delta both carry. */
static void put_counts(json_t *o, const struct vt_slab *sl)
{
	vt_wire__set_u(o, "used", sl->used);
	vt_wire__set_u(o, "hwm", sl->hwm);
	vt_wire__set_u(o, "overflow", sl->overflow);
	vt_wire__set_u(o, "acquires", sl->acquires);
	vt_wire__set_u(o, "releases", sl->releases);
}

/* One slab of the memory document. The per-slot strings are written
 * straight into the text: through jansson they would be most of the
 * document's cost. */
static void put_memory_slab(struct vt_wire__buf *b, const struct vt_state *s,
			    const struct vt_slab *sl)
{
	json_t *o = json_object();
	struct vt_wire__tally t;
	char *own;

	vt_wire__set_s(o, "name", vt_slab_kind_name(sl->kind));
	vt_wire__set_u(o, "system", (uint64_t)sl->system);
	vt_wire__set_u(o, "total", sl->total);
	put_counts(o, sl);
	if (sl->invalid) {
		json_object_set_new(o, "invalid", json_true());
		vt_wire__set_s(o, "problem", sl->problem);
	}
	vt_wire__buf_put(b, "{", 1);
	vt_wire__put_members(b, o);
	if (!sl->states) {
		vt_wire__buf_put(b, ",\"bitmap\":", 10);
		put_bitmap_hex(b, sl);
		vt_wire__buf_put(b, "}", 1);
		return;
	}
	vt_wire__tally_slab(s, sl, &t);
	vt_wire__buf_put(b, ",\"states\":", 10);
	vt_wire__put_string(b, sl->states, sl->total);
	o = summary_json(&t);
	vt_wire__buf_put(b, ",\"summary\":", 11);
	vt_wire__put_json(b, o);
	json_decref(o);
	o = vt_wire__by_owner(&t);
	vt_wire__buf_put(b, ",\"by_owner\":", 12);
	vt_wire__put_json(b, o);
	json_decref(o);
	vt_wire__buf_put(b, ",\"owners\":", 10);
	if ((own = owner_digits(s, sl)))
		vt_wire__put_string(b, own, sl->total);
	else
		vt_wire__buf_put(b, "null", 4);
	free(own);
	vt_wire__buf_put(b, "}", 1);
}

static json_t *leak_json(const struct vt_state *s, const struct vt_leak *l)
{
	const struct vt_slab *sl = l->slab;
	json_t *o = json_object();
	char state[2] = { sl->states ? sl->states[l->slot] : 'U', 0 };

	vt_wire__set_s(o, "slab", vt_slab_kind_name(sl->kind));
	vt_wire__set_u(o, "system", (uint64_t)sl->system);
	vt_wire__set_u(o, "slot", l->slot);
	vt_wire__set_u(o, "age_ms", l->age_ms);
	vt_wire__set_s(o, "state", state);
	if (vt_wire__conn_index(state[0]) >= 0)
		vt_wire__set_s(o, "owner",
			       vt_wire__owner_label(s, sl->system,
						    sl->owners[l->slot]));
	else
		vt_wire__set_s(o, "owner", NULL);
	if (l->since_attach)
		vt_wire__set_s(o, "since", "attach");
	return o;
}

/* *until: when the list can change other than in its ages (see
 * vt_state_leaks_until). */
static json_t *leaks_json(const struct vt_state *s,
			  const struct vt_wire_meta *m, uint64_t *until)
{
	struct vt_leak l[VT_WIRE_MAX_LEAKS];
	size_t n = vt_state_leaks_until(s, m->now_ms, m->leak_age_ms, l,
					VT_WIRE_MAX_LEAKS, until);
	json_t *a = json_array();

	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, leak_json(s, &l[i]));
	return a;
}

static json_t *probes_json(const struct vt_wire_site *sites,
			   const uint64_t hits[VT_P_COUNT])
{
	json_t *probes = json_array();

	for (int i = 0; i < VT_P_COUNT; i++) {
		const struct vt_wire_site *w = sites ? &sites[i] : NULL;
		json_t *p;

		if (!vt_wire_probe_live(i))
			continue;
		p = json_object();
		vt_wire__set_s(p, "name", vt_wire_probe_name(i));
		vt_wire__set_u(p, "hits", hits ? hits[i] : 0);
		json_object_set_new(p, "attached",
				    json_boolean(w && w->attached));
		if (w && w->attached) {
			vt_wire__set_s(p, "function", w->function);
			vt_wire__set_u(p, "offset", w->offset);
			vt_wire__set_u(p, "file_offset", w->file_offset);
			vt_wire__set_s(p, "instruction", w->insn);
			vt_wire__set_s(p, "entry", w->entry);
			vt_wire__set_s(p, "class", w->cls);
			json_object_set_new(p, "cost_us",
					    json_real(w->cost_us));
		}
		json_array_append_new(probes, p);
	}
	return probes;
}

char *vt_wire_probes(const struct vt_wire_site *sites,
		     const uint64_t hits[VT_P_COUNT])
{
	return vt_wire__dump(probes_json(sites, hits));
}

static json_t *overhead_json(const struct vt_wire_overhead *w)
{
	json_t *o = json_object(), *cal = json_object();
	static const char *const cls[3] = { "nop5", "emulated", "stepped" };

	json_object_set_new(o, "estimate_pct", json_real(w->estimate_pct));
	json_object_set_new(o, "projected_pct", json_real(w->projected_pct));
	json_object_set_new(o, "max_pct", json_real(w->max_pct));
	vt_wire__set_s(o, "slab_probes", w->slabs_read ? "detached" : "attached");
	for (int i = 0; i < 3; i++)
		json_object_set_new(cal, cls[i], json_real(w->hit_us[i]));
	json_object_set_new(o, "hit_us", cal);
	return o;
}

static json_t *tracer_json(const struct vt_state *s,
			   const struct vt_wire_meta *m)
{
	const struct vt_state_counters *c = vt_state_counters(s);
	json_t *o = json_object(), *warn = json_array();
	const char *w;

	vt_wire__set_s(o, "mode", m->mode);
	/* wall clock, like ts_ms: the state keeps the monotonic attach time */
	vt_wire__set_u(o, "attached_ms",
		       m->wall_ms - (m->now_ms - vt_state_attach_ms(s)));
	vt_wire__set_u(o, "events", c->events);
	vt_wire__set_u(o, "lost", c->lost);
	vt_wire__set_u(o, "resyncs", c->resyncs);
	vt_wire__set_u(o, "ignored", c->ignored);
	json_object_set_new(o, "probes", probes_json(m->sites, c->probe_hits));
	if (m->overhead)
		json_object_set_new(o, "overhead", overhead_json(m->overhead));
	for (size_t i = 0; (w = vt_state_warning(s, i)); i++)
		json_array_append_new(warn, json_string(w));
	json_object_set_new(o, "warnings", warn);
	return o;
}

static json_t *target_json(const struct vt_wire_meta *m)
{
	json_t *o = json_object();

	vt_wire__set_u(o, "pid", (uint64_t)m->pid);
	vt_wire__set_s(o, "binary", m->binary);
	vt_wire__set_s(o, "build_id", m->build_id);
	json_object_set_new(o, "uptime_s", json_real(m->uptime_s));
	return o;
}

/* The document's members around the slabs are jansson's; the slabs are
 * written between them, in the same order and bytes. */
char *vt_wire_memory(const struct vt_state *s, const struct vt_wire_meta *m,
		     uint64_t seq)
{
	json_t *head = json_object(), *tail = json_object(), *maps = json_array();
	struct vt_wire__buf b = { 0 };

	for (size_t i = 0; i < vt_state_nsystems(s); i++)
		json_array_append_new(maps, vt_wire__owner_names(s, i));
	vt_wire__set_u(head, "seq", seq);
	vt_wire__set_u(head, "ts_ms", m->wall_ms);
	vt_wire__set_u(head, "pid", (uint64_t)m->pid);
	json_object_set_new(head, "target", target_json(m));
	json_object_set_new(tail, "arenas", vt_wire__arenas(s, true));
	json_object_set_new(tail, "gc", vt_wire__gc(vt_state_gc(s)));
	json_object_set_new(tail, "owner_map", vt_wire__owner_names(s, 0));
	json_object_set_new(tail, "owner_maps", maps);
	json_object_set_new(tail, "leaks", leaks_json(s, m, &(uint64_t){ 0 }));
	json_object_set_new(tail, "tracer", tracer_json(s, m));
	vt_wire__buf_put(&b, "{", 1);
	vt_wire__put_members(&b, head);
	vt_wire__buf_put(&b, ",\"slabs\":[", 10);
	for (size_t i = 0; i < vt_state_nslabs(s); i++) {
		if (i)
			vt_wire__buf_put(&b, ",", 1);
		put_memory_slab(&b, s, vt_state_slab(s, i));
	}
	vt_wire__buf_put(&b, "],", 2);
	vt_wire__put_members(&b, tail);
	vt_wire__buf_put(&b, "}", 1);
	return vt_wire__buf_take(&b);
}

/* ---- deltas ---- */

/* What one stream last sent of a slab. */
struct mdelta_slab {
	int system;
	enum vt_slab_kind kind;
	uint64_t total;
	char *states, *owners;	/* handles: letters and owner digits */
	char *spare;		/* the next owner digits are made here */
	struct vt_wire__tally *counts;	/* of states and owners as sent */
	uint8_t *bitmap;	/* others */
	char *tally;		/* summary and by_owner, as sent */
	char *problem;		/* why it is invalid, as sent; NULL: valid */
	uint64_t counts_sent[5];	/* used, hwm, overflow, acquires, releases */
};

/* used, hwm, overflow, acquires, releases: the counters a delta sends */
static void slab_counts(const struct vt_slab *sl, uint64_t out[5])
{
	out[0] = sl->used;
	out[1] = sl->hwm;
	out[2] = sl->overflow;
	out[3] = sl->acquires;
	out[4] = sl->releases;
}

/* The slab's counters that moved since they were last sent. */
static void put_counts_changed(json_t *o, const struct vt_slab *sl,
			       struct mdelta_slab *ds)
{
	static const char *const keys[5] = { "used", "hwm", "overflow",
					     "acquires", "releases" };
	uint64_t now[5];

	slab_counts(sl, now);
	for (int i = 0; i < 5; i++)
		if (now[i] != ds->counts_sent[i])
			vt_wire__set_u(o, keys[i], now[i]);
	memcpy(ds->counts_sent, now, sizeof(now));
}

enum { MD_GC, MD_OWNERS, MD_LEAKS, MD_SECTIONS };
static const char *const md_keys[MD_SECTIONS] = {"gc", "owner_maps",
						 "leaks"};

/* The leak list as last looked at: unchanged but for its ages while the
 * state's generation and the minimum age stay, until `until`. */
struct mdelta_leaks {
	bool known;
	uint64_t generation, min_age_ms, until;
};

struct vt_wire_mdelta {
	bool valid;
	uint64_t generation;	/* the state's, when last sent */
	struct mdelta_leaks leaks;
	size_t n;
	struct mdelta_slab *slab;
	char *section[MD_SECTIONS];	/* each as last sent */
	json_t *arenas;		/* sent entry by entry */
	json_t *tracer;		/* as last sent, with probe_hits */
};

struct vt_wire_mdelta *vt_wire_mdelta_new(void)
{
	return calloc(1, sizeof(struct vt_wire_mdelta));
}

static void mdelta_clear(struct vt_wire_mdelta *d)
{
	for (size_t i = 0; i < d->n; i++) {
		free(d->slab[i].states);
		free(d->slab[i].owners);
		free(d->slab[i].spare);
		free(d->slab[i].counts);
		free(d->slab[i].bitmap);
		free(d->slab[i].tally);
		free(d->slab[i].problem);
	}
	free(d->slab);
	for (int k = 0; k < MD_SECTIONS; k++)
		free(d->section[k]);
	json_decref(d->arenas);
	json_decref(d->tracer);
	memset(d, 0, sizeof(*d));
}

void vt_wire_mdelta_free(struct vt_wire_mdelta *d)
{
	if (d)
		mdelta_clear(d);
	free(d);
}

/* The same slabs, in the same order and sizes, as last sent. */
static bool mdelta_same_shape(const struct vt_wire_mdelta *d,
			      const struct vt_state *s)
{
	if (!d->valid || d->n != vt_state_nslabs(s))
		return false;
	for (size_t i = 0; i < d->n; i++) {
		const struct vt_slab *sl = vt_state_slab(s, i);

		if (d->slab[i].system != sl->system ||
		    d->slab[i].kind != sl->kind || d->slab[i].total != sl->total)
			return false;
	}
	return true;
}

/* A leak list compared without its ages: they grow every tick, and a
 * client ages the list it has by the time between events. */
static json_t *leaks_identity(json_t *leaks)
{
	json_t *a = json_deep_copy(leaks), *l;
	size_t i;

	json_array_foreach(a, i, l)
		json_object_del(l, "age_ms");
	return a;
}

static bool same_key(json_t *a, json_t *b, const char *k)
{
	return json_equal(json_object_get(a, k), json_object_get(b, k));
}

static bool same_leak(json_t *a, json_t *b)
{
	return same_key(a, b, "slab") && same_key(a, b, "system") &&
	       same_key(a, b, "slot");
}

/* The leak list by entry against the one last sent (its identity, as
 * text): "leaks_add", the entries new to it or changed, whole with their
 * ages; "leaks_gone", the slab, system and slot of those no longer in it.
 * A busy target's list of up to VT_WIRE_MAX_LEAKS entries changes an
 * entry or two at a time. False when out of memory. */
static bool leaks_changes(json_t *doc, const char *sent, json_t *cur)
{
	json_t *prev = json_loads(sent, 0, NULL), *now = leaks_identity(cur);
	json_t *add = json_array(), *gone = json_array(), *c, *p;
	size_t i, j;
	bool ok = prev && now && add && gone;

	json_array_foreach(now, i, c) {
		bool same = false;

		json_array_foreach(prev, j, p)
			same |= json_equal(p, c);
		if (!same)
			json_array_append(add, json_array_get(cur, i));
	}
	json_array_foreach(prev, j, p) {
		bool kept = false;

		json_array_foreach(now, i, c)
			kept |= same_leak(p, c);
		if (!kept)
			json_array_append_new(gone, json_pack("{s:O,s:O,s:O}",
				"slab", json_object_get(p, "slab"),
				"system", json_object_get(p, "system"),
				"slot", json_object_get(p, "slot")));
	}
	if (json_array_size(add))
		json_object_set(doc, "leaks_add", add);
	if (json_array_size(gone))
		json_object_set(doc, "leaks_gone", gone);
	json_decref(prev);
	json_decref(now);
	json_decref(add);
	json_decref(gone);
	return ok;
}

static bool leaks_same(const struct mdelta_leaks *l, const struct vt_state *s,
		       const struct vt_wire_meta *m)
{
	return l->known && l->generation == vt_state_generation(s) &&
	       l->min_age_ms == m->leak_age_ms && m->now_ms < l->until;
}

/* The sections of a memory document that change rarely; the leak list
 * only when it may have changed (else out[MD_LEAKS] is NULL): looking
 * means walking every slot in use. */
static void md_sections(const struct vt_state *s, const struct vt_wire_meta *m,
			struct mdelta_leaks *l, json_t *out[MD_SECTIONS])
{
	json_t *maps = json_array();

	for (size_t i = 0; i < vt_state_nsystems(s); i++)
		json_array_append_new(maps, vt_wire__owner_names(s, i));
	out[MD_GC] = vt_wire__gc(vt_state_gc(s));
	out[MD_OWNERS] = maps;
	out[MD_LEAKS] = NULL;
	if (leaks_same(l, s, m))
		return;
	out[MD_LEAKS] = leaks_json(s, m, &l->until);
	l->known = true;
	l->generation = vt_state_generation(s);
	l->min_age_ms = m->leak_age_ms;
}

/* A run of runs_delta as raw characters. */
static void put_raw(struct vt_wire__buf *b, const uint8_t *run, size_t n)
{
	vt_wire__buf_put(b, (const char *)run, n);
}

/* A run of runs_delta as two hex digits a byte. */
static void put_hex_run(struct vt_wire__buf *b, const uint8_t *run, size_t n)
{
	for (size_t k = 0; k < n; k++)
		vt_wire__put_hex(b, run[k]);
}

/* Replaces *kept with a copy of n bytes of cur; false when out of memory
 * (the stream then starts over with a full document). */
static bool keep_copy(void *kept, const void *cur, size_t n)
{
	void **k = kept, *p = realloc(*k, n ? n : 1);

	if (!p)
		return false;
	memcpy(p, cur, n);
	*k = p;
	return true;
}

/* "invalid" once the slab's validity or its reason changed since the
 * last event: true with the "problem", or false once memory is plausible
 * again (a full document has "invalid" only while it is). */
static void mdelta_validity(json_t *o, const struct vt_slab *sl,
			    struct mdelta_slab *ds, bool *ok)
{
	const char *now = sl->invalid ? sl->problem : NULL;

	if (now ? ds->problem && !strcmp(now, ds->problem) : !ds->problem)
		return;
	json_object_set_new(o, "invalid", json_boolean(now));
	if (now)
		vt_wire__set_s(o, "problem", now);
	free(ds->problem);
	ds->problem = now ? strdup(now) : NULL;
	*ok &= !now || ds->problem;
}

/* The tally bucket of an owner digit. */
static unsigned digit_bucket(char digit)
{
	return digit == '-' ? VT_MAX_OWNERS
	       : digit <= '9' ? (unsigned)(digit - '0')
			      : (unsigned)(digit - 'a' + 10);
}

/* The tally of the states and digits now, from the one of those sent:
 * only the slots where either changed are looked at. */
static void tally_update(struct vt_wire__tally *t, const struct mdelta_slab *ds,
			 const struct vt_slab *sl, const char *own, size_t nowners)
{
	const char *ps = ds->states, *po = ds->owners, *cs = sl->states;
	size_t n = sl->total;

	/* a, b: the next slot whose letter, whose digit differs, each looked
	 * for once past the last (from every change: quadratic) */
	for (size_t i, a = vt_wire__next_diff(ps, cs, 0, n),
		       b = vt_wire__next_diff(po, own, 0, n);
	     (i = a < b ? a : b) < n;) {
		vt_wire__tally_slot(t, (unsigned char)ps[i], digit_bucket(po[i]), -1);
		vt_wire__tally_slot(t, (unsigned char)cs[i], digit_bucket(own[i]), 1);
		if (a == i)
			a = vt_wire__next_diff(ps, cs, i + 1, n);
		if (b == i)
			b = vt_wire__next_diff(po, own, i + 1, n);
	}
	t->nowners = nowners;
}

/* One slab of a delta: counters always, per-slot data where it changed
 * (looked for only when the state changed at all: an idle tick is
 * cheap). */
static json_t *mdelta_slab_json(const struct vt_state *s,
				const struct vt_slab *sl,
				struct mdelta_slab *ds, bool same, bool *ok)
{
	json_t *o = json_object(), *runs, *tally;
	char *own, *tj;

	vt_wire__set_s(o, "name", vt_slab_kind_name(sl->kind));
	vt_wire__set_u(o, "system", (uint64_t)sl->system);
	put_counts_changed(o, sl, ds);
	mdelta_validity(o, sl, ds, ok);
	if (same)
		return o;
	if (!sl->states) {
		if ((runs = vt_wire__runs_delta(ds->bitmap, sl->bitmap,
						vt_wire__bitmap_bytes(sl),
						put_hex_run))) {
			json_object_set_new(o, "bitmap", runs);
			*ok &= keep_copy(&ds->bitmap, sl->bitmap, vt_wire__bitmap_bytes(sl));
		}
		return o;
	}
	/* into the spare buffer, swapped with the one sent when it differs:
	 * no megabyte of fresh pages per tick for a big slab */
	own = owner_digits_in(s, sl, ds->spare ? ds->spare
					      : malloc(sl->total + 1));
	ds->spare = own;
	if (!own) {
		*ok = false;
		return o;
	}
	/* the tally follows the slots that changed; made whole only first */
	if (ds->counts)
		tally_update(ds->counts, ds, sl, own,
			     vt_wire__owner_count(s, sl->system));
	else if ((ds->counts = malloc(sizeof(*ds->counts))))
		vt_wire__tally_slab(s, sl, ds->counts);
	if ((runs = vt_wire__runs_delta(ds->states, sl->states, sl->total,
					put_raw))) {
		json_object_set_new(o, "states", runs);
		*ok &= keep_copy(&ds->states, sl->states, sl->total);
	}
	if ((runs = vt_wire__runs_delta(ds->owners, own, sl->total, put_raw))) {
		json_object_set_new(o, "owners", runs);
		ds->spare = ds->owners;
		ds->owners = own;
	}
	if (!ds->counts) {
		*ok = false;
		return o;
	}
	tally = json_object();
	json_object_set_new(tally, "summary", summary_json(ds->counts));
	json_object_set_new(tally, "by_owner", vt_wire__by_owner(ds->counts));
	tj = vt_wire__text(tally);
	if (tj && (!ds->tally || strcmp(tj, ds->tally))) {
		json_object_update(o, tally);
		free(ds->tally);
		ds->tally = tj;
		tj = NULL;
	}
	*ok &= ds->tally != NULL;
	free(tj);
	json_decref(tally);
	return o;
}

/* The members of c that differ from was's (or that was lacks), into o;
 * those named in keep whatever their value. Returns o. */
static json_t *members_changed(json_t *o, json_t *was, json_t *c,
			       const char *const *keep)
{
	json_t *v;
	const char *k;

	json_object_foreach(c, k, v) {
		bool kept = false;

		for (const char *const *q = keep; *q; q++)
			kept |= !strcmp(*q, k);
		if (kept || !json_equal(v, json_object_get(was, k)))
			json_object_set(o, k, v);
	}
	return o;
}

/* An entry's key (name, and system where it has one), and of its other
 * members those that differ from was's. */
static json_t *entry_changes(json_t *was, json_t *c)
{
	static const char *const key[] = { "name", "system", NULL };

	return members_changed(json_object(), was, c, key);
}

/* The entries of cur (a list of objects keyed by name and system) that
 * are new, whole, or differ from prev's, with their key and the members
 * that changed (a busy server's stream arenas move every tick, their use
 * and high-water mark, seldom anything else); the keys of prev's entries
 * gone from cur are appended to *gone. */
static json_t *list_changes(json_t *prev, json_t *cur, json_t **gone)
{
	json_t *out = json_array(), *c, *p;
	size_t i, j;

	json_array_foreach(cur, i, c) {
		json_t *was = NULL;

		json_array_foreach(prev, j, p)
			if (same_key(p, c, "name") && same_key(p, c, "system")) {
				was = p;
				break;
			}
		if (!was)
			json_array_append(out, c);
		else if (!json_equal(was, c))
			json_array_append_new(out, entry_changes(was, c));
	}
	json_array_foreach(prev, j, p) {
		bool kept = false;

		json_array_foreach(cur, i, c)
			kept |= same_key(p, c, "name") && same_key(p, c, "system");
		if (!kept) {
			json_t *k = json_pack("{s:O}", "name", json_object_get(p, "name"));

			if (json_object_get(p, "system"))
				json_object_set(k, "system", json_object_get(p, "system"));
			json_array_append_new(*gone ? *gone : (*gone = json_array()), k);
		}
	}
	return out;
}

/* Arenas by entry: those new or changed in "arenas", those given back in
 * "arenas_gone"; the list as it is now becomes the one remembered. */
static void mdelta_arenas(struct vt_wire_mdelta *d, const struct vt_state *s,
			  json_t *doc)
{
	json_t *cur = vt_wire__arenas(s, true), *gone = NULL;
	json_t *ch = list_changes(d->arenas, cur, &gone);

	if (json_array_size(ch))
		json_object_set(doc, "arenas", ch);
	if (gone)
		json_object_set_new(doc, "arenas_gone", gone);
	json_decref(ch);
	json_decref(d->arenas);
	d->arenas = cur;
}

/* The tracer's figures; the probes (a fixed list, by probe id) as
 * "probe_hits": their hit counts in the full document's order. */
static json_t *mdelta_tracer(const struct vt_state *s,
			     const struct vt_wire_meta *m)
{
	json_t *t = tracer_json(s, m), *hits = json_array(), *p;
	size_t i;

	json_array_foreach(json_object_get(t, "probes"), i, p)
		json_array_append(hits, json_object_get(p, "hits"));
	json_object_del(t, "probes");
	json_object_set_new(t, "probe_hits", hits);
	return t;
}

/* Remember a full document's slabs and sections as sent. */
static bool mdelta_remember(struct vt_wire_mdelta *d, const struct vt_state *s,
			    json_t *sec[MD_SECTIONS])
{
	bool ok = true;

	mdelta_clear(d);
	d->n = vt_state_nslabs(s);
	d->slab = calloc(d->n ? d->n : 1, sizeof(*d->slab));
	if (!d->slab)
		return false;
	for (size_t i = 0; i < d->n; i++) {
		const struct vt_slab *sl = vt_state_slab(s, i);
		struct mdelta_slab *ds = &d->slab[i];
		bool unused = true;

		ds->system = sl->system;
		ds->kind = sl->kind;
		ds->total = sl->total;
		slab_counts(sl, ds->counts_sent);	/* as the full one sent */
		ds->problem = sl->invalid ? strdup(sl->problem) : NULL;
		ok &= !sl->invalid || ds->problem;
		/* a first delta against empty copies fills them */
		ok &= keep_copy(&ds->bitmap, sl->bitmap, vt_wire__bitmap_bytes(sl));
		if (sl->states) {
			ok &= keep_copy(&ds->states, sl->states, sl->total);
			ds->owners = owner_digits(s, sl);
			ok &= ds->owners != NULL;
			json_decref(mdelta_slab_json(s, sl, ds, false, &unused));
		}
	}
	for (int k = 0; k < MD_SECTIONS; k++) {
		json_t *j = k == MD_LEAKS ? leaks_identity(sec[k]) : json_incref(sec[k]);

		d->section[k] = vt_wire__text(j);
		ok &= d->section[k] != NULL;
		json_decref(j);
	}
	d->arenas = vt_wire__arenas(s, true);
	ok &= d->arenas != NULL;
	d->valid = ok;
	d->generation = vt_state_generation(s);
	return ok;
}

char *vt_wire_memory_delta(const struct vt_state *s,
			   const struct vt_wire_meta *m,
			   struct vt_wire_mdelta *d, uint64_t seq,
			   uint64_t base, bool *full)
{
	json_t *sec[MD_SECTIONS], *doc, *slabs;
	bool ok = true;
	char *text;

	*full = !mdelta_same_shape(d, s);
	if (*full) {
		struct mdelta_leaks l = { 0 };

		text = vt_wire_memory(s, m, seq);
		md_sections(s, m, &l, sec);
		if (text && !mdelta_remember(d, s, sec))
			d->valid = false;
		d->leaks = l;
		d->tracer = mdelta_tracer(s, m);
		for (int k = 0; k < MD_SECTIONS; k++)
			json_decref(sec[k]);
		return text;
	}
	doc = json_object();
	slabs = json_array();
	vt_wire__set_u(doc, "seq", seq);
	vt_wire__set_u(doc, "base", base);
	vt_wire__set_u(doc, "ts_ms", m->wall_ms);
	for (size_t i = 0; i < d->n; i++)
		json_array_append_new(slabs, mdelta_slab_json(
				s, vt_state_slab(s, i), &d->slab[i],
				d->generation == vt_state_generation(s), &ok));
	d->generation = vt_state_generation(s);
	json_object_set_new(doc, "slabs", slabs);
	md_sections(s, m, &d->leaks, sec);
	for (int k = 0; k < MD_SECTIONS; k++) {
		json_t *id;
		char *t;

		if (!sec[k])	/* the leak list, known to be as sent */
			continue;
		id = k == MD_LEAKS ? leaks_identity(sec[k]) : json_incref(sec[k]);
		t = vt_wire__text(id);
		json_decref(id);
		ok &= t != NULL;
		if (t && strcmp(t, d->section[k])) {
			if (k == MD_LEAKS)
				ok &= leaks_changes(doc, d->section[k], sec[k]);
			else
				json_object_set(doc, md_keys[k], sec[k]);
			free(d->section[k]);
			d->section[k] = t;
			t = NULL;
		}
		free(t);
		json_decref(sec[k]);
	}
	mdelta_arenas(d, s, doc);
	{	/* the tracer's members that moved since the last event */
		static const char *const none[] = { NULL };
		json_t *t = mdelta_tracer(s, m);

		json_object_set_new(doc, "tracer",
				    members_changed(json_object(), d->tracer, t, none));
		json_decref(d->tracer);
		d->tracer = t;
	}
	text = vt_wire__dump(doc);
	/* a copy that failed, or a delta not sent: the next one is full */
	d->valid = ok && text;
	return text;
}
