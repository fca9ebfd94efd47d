/* vt_wire: the memory dialect (see vt_wire.h, docs in wire-format.md). */
#include <stdlib.h>

#include "wire/vt_wire_json.h"

/* Memory dialect: two lower-case hex digits per byte, LSB = lowest slot. */
static json_t *bitmap_hex(const struct vt_slab *sl)
{
	struct vt_wire__buf b = { 0 };
	size_t n = vt_wire__bitmap_bytes(sl);

	vt_wire__buf_grow(&b, 2 * n);
	for (size_t i = 0; i < n; i++)
		vt_wire__put_hex(&b, sl->bitmap[i]);
	return vt_wire__buf_json(&b);
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
 * past the system's registry. */
static json_t *owners_hex(const struct vt_state *s, const struct vt_slab *sl)
{
	const struct vt_system *sys = vt_state_system(s, sl->system);
	size_t n = sys ? sys->nowners : 0;
	char *own = malloc(sl->total);
	json_t *j;

	if (!own)
		return json_null();
	for (uint64_t i = 0; i < sl->total; i++)
		own[i] = vt_wire__conn_index(sl->states[i]) >= 0 && sl->owners[i] < n
			 ? "0123456789abcdef"[sl->owners[i]] : '-';
	j = json_stringn_nocheck(own, sl->total);
	free(own);
	return j;
}

static json_t *memory_slab(const struct vt_state *s, const struct vt_slab *sl)
{
	json_t *o = json_object();
	struct vt_wire__tally t;

	vt_wire__set_s(o, "name", vt_slab_kind_name(sl->kind));
	vt_wire__set_u(o, "system", (uint64_t)sl->system);
	vt_wire__set_u(o, "total", sl->total);
	vt_wire__set_u(o, "used", sl->used);
	vt_wire__set_u(o, "hwm", sl->hwm);
	vt_wire__set_u(o, "overflow", sl->overflow);
	vt_wire__set_u(o, "acquires", sl->acquires);
	vt_wire__set_u(o, "releases", sl->releases);
	if (!sl->states) {
		json_object_set_new(o, "bitmap", bitmap_hex(sl));
		return o;
	}
	vt_wire__tally_slab(s, sl, &t);
	json_object_set_new(o, "states",
			    json_stringn_nocheck(sl->states, sl->total));
	json_object_set_new(o, "summary", summary_json(&t));
	json_object_set_new(o, "by_owner", vt_wire__by_owner(&t));
	json_object_set_new(o, "owners", owners_hex(s, sl));
	return o;
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

static json_t *leaks_json(const struct vt_state *s,
			  const struct vt_wire_meta *m)
{
	struct vt_leak l[VT_WIRE_MAX_LEAKS];
	size_t n = vt_state_leaks(s, m->now_ms, m->leak_age_ms, l,
				  VT_WIRE_MAX_LEAKS);
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
		json_t *p = json_object();

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

static json_t *tracer_json(const struct vt_state *s,
			   const struct vt_wire_meta *m)
{
	const struct vt_state_counters *c = vt_state_counters(s);
	json_t *o = json_object();

	vt_wire__set_s(o, "mode", m->mode);
	/* wall clock, like ts_ms: the state keeps the monotonic attach time */
	vt_wire__set_u(o, "attached_ms",
		       m->wall_ms - (m->now_ms - vt_state_attach_ms(s)));
	vt_wire__set_u(o, "events", c->events);
	vt_wire__set_u(o, "lost", c->lost);
	vt_wire__set_u(o, "resyncs", c->resyncs);
	vt_wire__set_u(o, "ignored", c->ignored);
	json_object_set_new(o, "probes", probes_json(m->sites, c->probe_hits));
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

char *vt_wire_memory(const struct vt_state *s, const struct vt_wire_meta *m,
		     uint64_t seq)
{
	json_t *doc = json_object(), *slabs = json_array(), *maps = json_array();

	for (size_t i = 0; i < vt_state_nslabs(s); i++)
		json_array_append_new(slabs, memory_slab(s, vt_state_slab(s, i)));
	for (size_t i = 0; i < vt_state_nsystems(s); i++)
		json_array_append_new(maps, vt_wire__owner_names(s, i));
	vt_wire__set_u(doc, "seq", seq);
	vt_wire__set_u(doc, "ts_ms", m->wall_ms);
	vt_wire__set_u(doc, "pid", (uint64_t)m->pid);
	json_object_set_new(doc, "target", target_json(m));
	json_object_set_new(doc, "slabs", slabs);
	json_object_set_new(doc, "arenas", vt_wire__arenas(s, true));
	json_object_set_new(doc, "gc", vt_wire__gc(vt_state_gc(s)));
	json_object_set_new(doc, "owner_map", vt_wire__owner_names(s, 0));
	json_object_set_new(doc, "owner_maps", maps);
	json_object_set_new(doc, "leaks", leaks_json(s, m));
	json_object_set_new(doc, "tracer", tracer_json(s, m));
	return vt_wire__dump(doc);
}
