/* vt_wire: JSON and Prometheus encoders (see vt_wire.h).
 *
 * Per-slot strings (states, bitmaps, RLE) are written straight into a
 * growing buffer and handed to jansson as one string: a json value per
 * slot would make a 262,144-slot slab cost tens of milliseconds. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "wire/vt_wire.h"

#define JSON_FLAGS (JSON_COMPACT | JSON_REAL_PRECISION(12))

/* ---- growable text buffer ------------------------------------------------ */

struct vbuf {
	char *p;
	size_t len, cap;
	bool oom;
};

static bool vbuf_grow(struct vbuf *b, size_t more)
{
	size_t cap = b->cap ? b->cap : 256;
	char *p;

	if (b->oom)
		return false;
	if (b->len + more + 1 <= b->cap)
		return true;
	while (cap < b->len + more + 1)
		cap *= 2;
	p = realloc(b->p, cap);
	if (!p) {
		b->oom = true;
		return false;
	}
	b->p = p;
	b->cap = cap;
	return true;
}

static void vbuf_put(struct vbuf *b, const char *s, size_t n)
{
	if (!vbuf_grow(b, n))
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = 0;
}

static void vbuf_printf(struct vbuf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void vbuf_printf(struct vbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || !vbuf_grow(b, (size_t)n))
		return;
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

/* The buffer's text, or NULL (and freed) if any append failed. */
static char *vbuf_take(struct vbuf *b)
{
	if (b->oom || !vbuf_grow(b, 0)) {
		free(b->p);
		return NULL;
	}
	b->p[b->len] = 0;
	return b->p;
}

/* A jansson string holding the buffer's text; consumes the buffer. */
static json_t *vbuf_json(struct vbuf *b)
{
	char *text = vbuf_take(b);
	json_t *j = text ? json_stringn_nocheck(text, b->len) : NULL;

	free(text);
	return j;
}

/* ---- slot strings ----------------------------------------------------------- */

/* Decimal without snprintf: RLE of a busy slab prints one per run. */
static void put_u64(struct vbuf *b, uint64_t v)
{
	char tmp[20], *p = tmp + sizeof(tmp);

	do {
		*--p = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	vbuf_put(b, p, (size_t)(tmp + sizeof(tmp) - p));
}

/* Runs of equal chars as <char><count>, the count always printed. */
static void put_rle(struct vbuf *b, const char *s, uint64_t n)
{
	for (uint64_t i = 0; i < n;) {
		uint64_t j = i + 1;

		while (j < n && s[j] == s[i])
			j++;
		vbuf_put(b, &s[i], 1);
		put_u64(b, j - i);
		i = j;
	}
}

static const char hexdig[] = "0123456789abcdef";

static void put_hex_byte(struct vbuf *b, uint8_t v)
{
	char h[2] = { hexdig[v >> 4], hexdig[v & 15] };

	vbuf_put(b, h, 2);
}

static size_t bitmap_bytes(const struct vt_slab *sl)
{
	return (size_t)((sl->total + 7) / 8);
}

/* Memory dialect: two lower-case hex digits per byte, LSB = lowest slot. */
static json_t *bitmap_hex(const struct vt_slab *sl)
{
	struct vbuf b = { 0 };
	size_t n = bitmap_bytes(sl);

	vbuf_grow(&b, 2 * n);
	for (size_t i = 0; i < n; i++)
		put_hex_byte(&b, sl->bitmap[i]);
	return vbuf_json(&b);
}

/* Valk dialect: the dashboard's comma segments, `hh` or `hh*count`. */
static json_t *bitmap_segments(const uint8_t *bm, size_t n)
{
	struct vbuf b = { 0 };

	for (size_t i = 0; i < n;) {
		size_t j = i + 1;

		while (j < n && bm[j] == bm[i])
			j++;
		if (i)
			vbuf_put(&b, ",", 1);
		put_hex_byte(&b, bm[i]);
		if (j - i > 1) {
			vbuf_put(&b, "*", 1);
			put_u64(&b, j - i);
		}
		i = j;
	}
	return vbuf_json(&b);
}

static json_t *states_rle(const struct vt_slab *sl)
{
	struct vbuf b = { 0 };

	put_rle(&b, sl->states, sl->total);
	return vbuf_json(&b);
}

/* `offset:RLE` for every run of slots whose letter changed since `prev`. */
static json_t *states_delta(const char *prev, const struct vt_slab *sl)
{
	struct vbuf b = { 0 };
	const char *cur = sl->states;
	uint64_t n = sl->total;

	for (uint64_t i = 0; i < n;) {
		uint64_t j;

		if (prev[i] == cur[i]) {
			i++;
			continue;
		}
		for (j = i + 1; j < n && prev[j] != cur[j]; j++)
			;
		if (b.len)
			vbuf_put(&b, ",", 1);
		put_u64(&b, i);
		vbuf_put(&b, ":", 1);
		put_rle(&b, cur + i, j - i);
		i = j;
	}
	if (b.len)
		return vbuf_json(&b);
	free(b.p);
	return NULL;
}

/* ---- shared pieces ------------------------------------------------------------ */

static void set_u(json_t *o, const char *k, uint64_t v)
{
	json_object_set_new(o, k, json_integer((json_int_t)v));
}

static void set_s(json_t *o, const char *k, const char *v)
{
	json_object_set_new(o, k, v ? json_string(v) : json_null());
}

static const char *const probe_names[VT_P_COUNT] = {
	[VT_P_ACQUIRE_ENTRY] = "uprobe:valk_slab_aquire",
	[VT_P_ACQUIRE_RET] = "uretprobe:valk_slab_aquire",
	[VT_P_RELEASE] = "uprobe:valk_slab_release",
	[VT_P_SLAB_NEW_ENTRY] = "uprobe:valk_slab_new",
	[VT_P_SLAB_NEW_RET] = "uretprobe:valk_slab_new",
	[VT_P_SLAB_FREE] = "uprobe:valk_slab_free",
	[VT_P_AIO_START_RET] = "uretprobe:valk_aio_start_with_config",
	[VT_P_CONN_TRANSITION_ENTRY] = "uprobe:valk_conn_transition",
	[VT_P_CONN_TRANSITION_RET] = "uretprobe:valk_conn_transition",
	[VT_P_CONN_INIT_ENTRY] = "uprobe:__valk_conn_set_init_state",
	[VT_P_CONN_INIT_RET] = "uretprobe:__valk_conn_set_init_state",
	[VT_P_OWNER_ENTRY] = "uprobe:valk_owner_register",
	[VT_P_OWNER_RET] = "uretprobe:valk_owner_register",
	[VT_P_BEGIN_HEADERS_ENTRY] = "uprobe:valk_http2_on_begin_headers_callback",
	[VT_P_BEGIN_HEADERS_RET] = "uretprobe:valk_http2_on_begin_headers_callback",
	[VT_P_STREAM_CLOSE_ENTRY] = "uprobe:valk_http2_server_on_stream_close_callback",
	[VT_P_STREAM_CLOSE_RET] = "uretprobe:valk_http2_server_on_stream_close_callback",
	[VT_P_RELEASE_PTR] = "uprobe:valk_slab_release_ptr",
	[VT_P_READ_START] = "uprobe:uv_read_start",
};

const char *vt_wire_probe_name(enum vt_probe_id id)
{
	return (unsigned)id < VT_P_COUNT && probe_names[id] ? probe_names[id]
							    : "unknown";
}

/* Connection counts of a handle slab: per letter, and per owner index with
 * one extra row for owners outside the system's registry ("?"). */
enum { CONN_N, CONN_A, CONN_I, CONN_C, CONN_STATES };
static const char conn_letters[CONN_STATES] = { 'N', 'A', 'I', 'C' };

struct tally {
	uint64_t letters[256];
	uint64_t owner[VT_MAX_OWNERS + 1][CONN_STATES];
	size_t nowners;		/* the system's registry size */
};

static int conn_index(char c)
{
	const char *p = memchr(conn_letters, c, CONN_STATES);

	return p ? (int)(p - conn_letters) : -1;
}

static size_t system_owners(const struct vt_state *s, int system)
{
	const struct vt_system *sys = vt_state_system(s, (size_t)system);

	return sys ? sys->nowners : 0;
}

static void tally_slab(const struct vt_state *s, const struct vt_slab *sl,
		       struct tally *t)
{
	memset(t, 0, sizeof(*t));
	t->nowners = system_owners(s, sl->system);
	for (uint64_t i = 0; i < sl->total; i++) {
		unsigned char c = (unsigned char)sl->states[i];
		int k = conn_index((char)c);

		t->letters[c]++;
		if (k >= 0) {
			size_t o = sl->owners[i] < t->nowners ? sl->owners[i]
							      : VT_MAX_OWNERS;
			t->owner[o][k]++;
		}
	}
}

static bool tally_owner_any(const struct tally *t, size_t o)
{
	for (int k = 0; k < CONN_STATES; k++)
		if (t->owner[o][k])
			return true;
	return false;
}

/* {"<idx>":{"A":a,"I":i,"C":c,"N":n}}, owners with connections only. */
static json_t *by_owner_json(const struct tally *t)
{
	static const int order[CONN_STATES] = { CONN_A, CONN_I, CONN_C, CONN_N };
	json_t *o = json_object();

	for (size_t i = 0; i <= VT_MAX_OWNERS; i++) {
		json_t *e;
		char key[24];

		if (!tally_owner_any(t, i))
			continue;
		e = json_object();
		for (int k = 0; k < CONN_STATES; k++) {
			char name[2] = { conn_letters[order[k]], 0 };

			set_u(e, name, t->owner[i][order[k]]);
		}
		if (i < VT_MAX_OWNERS)
			snprintf(key, sizeof(key), "%zu", i);
		else
			strcpy(key, "?");
		json_object_set_new(o, key, e);
	}
	return o;
}

static json_t *summary_json(const struct tally *t)
{
	json_t *o = json_object();

	for (int c = 'A'; c <= 'Z'; c++) {
		char key[2] = { (char)c, 0 };

		if (t->letters[c])
			set_u(o, key, t->letters[c]);
	}
	return o;
}

static json_t *owner_names(const struct vt_state *s, size_t system)
{
	const struct vt_system *sys = vt_state_system(s, system);
	json_t *a = json_array();

	for (size_t i = 0; sys && i < sys->nowners; i++)
		json_array_append_new(a, json_string(sys->owners[i]));
	return a;
}

/* The name an owner index is shown under: registry name or "?". */
static const char *owner_label(const struct vt_state *s, int system,
			       uint16_t idx)
{
	const struct vt_system *sys = vt_state_system(s, (size_t)system);

	return sys && idx < sys->nowners ? sys->owners[idx] : "?";
}

static json_t *gc_json(const struct vt_gc *gc)
{
	json_t *o = json_object(), *a = json_array();

	set_u(o, "heap_used_bytes", gc->heap_used_bytes);
	set_u(o, "heap_total_bytes", gc->heap_total_bytes);
	for (size_t i = 0; i < gc->nclasses; i++) {
		json_t *c = json_object();

		set_u(c, "size", gc->classes[i].size);
		set_u(c, "used", gc->classes[i].used);
		set_u(c, "total", gc->classes[i].total);
		json_array_append_new(a, c);
	}
	json_object_set_new(o, "size_classes", a);
	return o;
}

static json_t *arena_json(const struct vt_arena *a, bool with_system)
{
	json_t *o = json_object();

	set_s(o, "name", a->name);
	if (with_system)
		set_u(o, "system", (uint64_t)a->system);
	set_u(o, "capacity", a->capacity);
	set_u(o, "used", a->used);
	set_u(o, "hwm", a->hwm);
	set_u(o, "overflow", a->overflow);
	set_u(o, "overflow_bytes", a->overflow_bytes);
	return o;
}

static json_t *arenas_json(const struct vt_state *s, bool with_system)
{
	size_t n;
	const struct vt_arena *v = vt_state_arenas(s, &n);
	json_t *a = json_array();

	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, arena_json(&v[i], with_system));
	return a;
}

/* Serialise and free a document. */
static char *dump(json_t *doc)
{
	char *text = doc ? json_dumps(doc, JSON_FLAGS) : NULL;

	json_decref(doc);
	return text;
}

/* ---- the memory dialect --------------------------------------------------- */

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
		own[i] = conn_index(sl->states[i]) >= 0 && sl->owners[i] < n
			 ? "0123456789abcdef"[sl->owners[i]] : '-';
	j = json_stringn_nocheck(own, sl->total);
	free(own);
	return j;
}

static json_t *memory_slab(const struct vt_state *s, const struct vt_slab *sl)
{
	json_t *o = json_object();
	struct tally t;

	set_s(o, "name", vt_slab_kind_name(sl->kind));
	set_u(o, "system", (uint64_t)sl->system);
	set_u(o, "total", sl->total);
	set_u(o, "used", sl->used);
	set_u(o, "hwm", sl->hwm);
	set_u(o, "overflow", sl->overflow);
	set_u(o, "acquires", sl->acquires);
	set_u(o, "releases", sl->releases);
	if (!sl->states) {
		json_object_set_new(o, "bitmap", bitmap_hex(sl));
		return o;
	}
	tally_slab(s, sl, &t);
	json_object_set_new(o, "states",
			    json_stringn_nocheck(sl->states, sl->total));
	json_object_set_new(o, "summary", summary_json(&t));
	json_object_set_new(o, "by_owner", by_owner_json(&t));
	json_object_set_new(o, "owners", owners_hex(s, sl));
	return o;
}

static json_t *leak_json(const struct vt_state *s, const struct vt_leak *l)
{
	const struct vt_slab *sl = l->slab;
	json_t *o = json_object();
	char state[2] = { sl->states ? sl->states[l->slot] : 'U', 0 };

	set_s(o, "slab", vt_slab_kind_name(sl->kind));
	set_u(o, "system", (uint64_t)sl->system);
	set_u(o, "slot", l->slot);
	set_u(o, "age_ms", l->age_ms);
	set_s(o, "state", state);
	if (conn_index(state[0]) >= 0)
		set_s(o, "owner", owner_label(s, sl->system, sl->owners[l->slot]));
	else
		set_s(o, "owner", NULL);
	if (l->since_attach)
		set_s(o, "since", "attach");
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

static json_t *tracer_json(const struct vt_state *s,
			   const struct vt_wire_meta *m)
{
	const struct vt_state_counters *c = vt_state_counters(s);
	json_t *o = json_object(), *probes = json_array();

	set_s(o, "mode", m->mode);
	/* wall clock, like ts_ms: the state keeps the monotonic attach time */
	set_u(o, "attached_ms", m->wall_ms - (m->now_ms - vt_state_attach_ms(s)));
	set_u(o, "events", c->events);
	set_u(o, "lost", c->lost);
	set_u(o, "resyncs", c->resyncs);
	set_u(o, "ignored", c->ignored);
	for (int i = 0; i < VT_P_COUNT; i++) {
		json_t *p = json_object();

		set_s(p, "name", vt_wire_probe_name(i));
		set_u(p, "hits", c->probe_hits[i]);
		json_array_append_new(probes, p);
	}
	json_object_set_new(o, "probes", probes);
	return o;
}

static json_t *target_json(const struct vt_wire_meta *m)
{
	json_t *o = json_object();

	set_u(o, "pid", (uint64_t)m->pid);
	set_s(o, "binary", m->binary);
	set_s(o, "build_id", m->build_id);
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
		json_array_append_new(maps, owner_names(s, i));
	set_u(doc, "seq", seq);
	set_u(doc, "ts_ms", m->wall_ms);
	set_u(doc, "pid", (uint64_t)m->pid);
	json_object_set_new(doc, "target", target_json(m));
	json_object_set_new(doc, "slabs", slabs);
	json_object_set_new(doc, "arenas", arenas_json(s, true));
	json_object_set_new(doc, "gc", gc_json(vt_state_gc(s)));
	json_object_set_new(doc, "owner_map", owner_names(s, 0));
	json_object_set_new(doc, "owner_maps", maps);
	json_object_set_new(doc, "leaks", leaks_json(s, m));
	json_object_set_new(doc, "tracer", tracer_json(s, m));
	return dump(doc);
}

/* ---- the valk dialect ------------------------------------------------------ */

struct delta_slab {
	enum vt_slab_kind kind;
	uint64_t total;
	char *states;		/* handles: the letters last sent */
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
};

struct vt_wire_delta *vt_wire_delta_new(void)
{
	return calloc(1, sizeof(struct vt_wire_delta));
}

static void delta_clear(struct vt_wire_delta *d)
{
	for (size_t i = 0; i < d->n; i++) {
		free(d->slab[i].states);
		free(d->slab[i].bitmap);
	}
	memset(d, 0, sizeof(*d));
}

void vt_wire_delta_free(struct vt_wire_delta *d)
{
	if (d)
		delta_clear(d);
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

static size_t owner_count(const struct vt_state *s, int system)
{
	const struct vt_system *sys = vt_state_system(s, system);

	return sys ? sys->nowners : 0;
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
	d->nowners = owner_count(s, system);
	d->arenas = arena_names_hash(s);
	for (size_t i = 0; i < n; i++) {
		struct delta_slab *ds = &d->slab[d->n++];

		ds->kind = v[i]->kind;
		ds->total = v[i]->total;
		if (v[i]->states)
			ds->states = dup_mem(v[i]->states, v[i]->total);
		else
			ds->bitmap = dup_mem(v[i]->bitmap, bitmap_bytes(v[i]));
		if (!ds->states && !ds->bitmap)
			return;
	}
	d->valid = true;
}

static bool delta_same_shape(const struct vt_wire_delta *d,
			     const struct vt_state *s, int system,
			     const struct vt_slab **v, size_t n)
{
	if (!d->valid || d->system != system || d->n != n ||
	    d->nowners != owner_count(s, system) ||
	    d->arenas != arena_names_hash(s))
		return false;
	for (size_t i = 0; i < n; i++)
		if (d->slab[i].kind != v[i]->kind ||
		    d->slab[i].total != v[i]->total ||
		    !d->slab[i].states != !v[i]->states)
			return false;
	return true;
}

struct conns {
	uint64_t n[CONN_STATES];
};

static void count_conns(const struct vt_state *s, const struct vt_slab **v,
			size_t n, struct conns *c)
{
	struct tally t;

	memset(c, 0, sizeof(*c));
	for (size_t i = 0; i < n; i++) {
		if (!v[i]->states)
			continue;
		tally_slab(s, v[i], &t);
		for (int k = 0; k < CONN_STATES; k++)
			c->n[k] += t.letters[(unsigned char)conn_letters[k]];
	}
}

static json_t *connections_json(const struct conns *c)
{
	json_t *o = json_object();

	set_u(o, "total", c->n[CONN_N] + c->n[CONN_A] + c->n[CONN_I] + c->n[CONN_C]);
	set_u(o, "active", c->n[CONN_A]);
	set_u(o, "idle", c->n[CONN_I]);
	set_u(o, "closing", c->n[CONN_C]);
	set_u(o, "connecting", c->n[CONN_N]);
	return o;
}

/* A metrics registry document: the tracer sees no metric families. */
static json_t *registry_json(double uptime_s)
{
	json_t *o = json_object();

	json_object_set_new(o, "uptime_seconds", json_real(uptime_s));
	json_object_set_new(o, "counters", json_array());
	json_object_set_new(o, "gauges", json_array());
	json_object_set_new(o, "histograms", json_array());
	return o;
}

static json_t *vm_json(const struct vt_gc *gc)
{
	json_t *o = json_object();

	json_object_set_new(o, "gc", gc_json(gc));
	return o;
}

static json_t *valk_metrics(const struct vt_state *s,
			    const struct vt_wire_meta *m,
			    const struct vt_slab **v, size_t n)
{
	json_t *o = json_object(), *aio = registry_json(m->uptime_s);
	struct conns c;

	count_conns(s, v, n, &c);
	json_object_set_new(aio, "connections", connections_json(&c));
	json_object_set_new(o, "aio", aio);
	json_object_set_new(o, "modular", registry_json(m->uptime_s));
	json_object_set_new(o, "vm", vm_json(vt_state_gc(s)));
	json_object_set_new(o, "registry", json_object());
	return o;
}

static json_t *valk_slab(const struct vt_state *s, const struct vt_slab *sl)
{
	json_t *o = json_object(), *summary;
	struct tally t;

	set_s(o, "name", vt_slab_kind_name(sl->kind));
	set_u(o, "used", sl->used);
	set_u(o, "total", sl->total);
	set_u(o, "hwm", sl->hwm);
	set_u(o, "overflow", sl->overflow);
	if (!sl->states) {
		json_object_set_new(o, "bitmap",
				    bitmap_segments(sl->bitmap, bitmap_bytes(sl)));
		return o;
	}
	tally_slab(s, sl, &t);
	summary = json_object();
	json_object_set_new(summary, "by_owner", by_owner_json(&t));
	json_object_set_new(o, "states", states_rle(sl));
	json_object_set_new(o, "summary", summary);
	return o;
}

/* The runtime's breakdown keys; what the tracer cannot see is 0. */
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
	set_u(o, "gc_used", gc->heap_used_bytes);
	set_u(o, "gc_cap", gc->heap_total_bytes);
	set_u(o, "aio_used", aio_used);
	set_u(o, "aio_cap", aio_cap);
	set_u(o, "scratch_used", scratch_used);
	set_u(o, "scratch_cap", scratch_cap);
	set_u(o, "metrics_used", 0);
	set_u(o, "metrics_cap", 0);
	set_u(o, "ssl_used", 0);
	set_u(o, "nghttp2_used", 0);
	set_u(o, "libuv_used", 0);
	return o;
}

static json_t *process_json(const struct vt_wire_meta *m)
{
	json_t *o = json_object();

	set_u(o, "rss", m->rss);
	set_u(o, "vms", m->vms);
	set_u(o, "system_total", m->system_total);
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
	json_object_set_new(mem, "arenas", arenas_json(s, false));
	json_object_set_new(mem, "gc", gc_json(vt_state_gc(s)));
	json_object_set_new(mem, "process", process_json(m));
	json_object_set_new(mem, "breakdown", breakdown_json(s, v, n));
	json_object_set_new(mem, "owner_map",
			    owner_names(s, system < 0 ? 0 : (size_t)system));
	json_object_set_new(doc, "metrics", valk_metrics(s, m, v, n));
	json_object_set_new(doc, "memory", mem);
	if (d)
		delta_remember(d, s, system, v, n);
	return dump(doc);
}

/* One slab of a delta: counters always, slot data only where it changed,
 * and the remembered copy brought up to date. */
static json_t *delta_slab(const struct vt_state *s, const struct vt_slab *sl,
			  struct delta_slab *ds)
{
	json_t *o = json_object(), *summary, *changed;
	struct tally t;

	set_s(o, "name", vt_slab_kind_name(sl->kind));
	set_u(o, "used", sl->used);
	set_u(o, "hwm", sl->hwm);
	set_u(o, "overflow", sl->overflow);
	if (!sl->states) {
		if (memcmp(ds->bitmap, sl->bitmap, bitmap_bytes(sl))) {
			json_object_set_new(o, "bitmap",
					    bitmap_segments(sl->bitmap, bitmap_bytes(sl)));
			memcpy(ds->bitmap, sl->bitmap, bitmap_bytes(sl));
		}
		return o;
	}
	changed = states_delta(ds->states, sl);
	if (changed) {
		json_object_set_new(o, "delta_states", changed);
		memcpy(ds->states, sl->states, sl->total);
	}
	tally_slab(s, sl, &t);
	summary = json_object();
	json_object_set_new(summary, "by_owner", by_owner_json(&t));
	json_object_set_new(o, "summary", summary);
	return o;
}

static json_t *delta_metrics(const struct vt_state *s,
			     const struct vt_wire_meta *m,
			     const struct vt_slab **v, size_t n)
{
	json_t *o = json_object(), *aio = json_object(), *vm = json_object();
	json_t *gc = json_object();
	struct conns c;

	count_conns(s, v, n, &c);
	json_object_set_new(aio, "up", json_real(m->uptime_s));
	json_object_set_new(aio, "connections", connections_json(&c));
	set_u(gc, "heap_used_bytes", vt_state_gc(s)->heap_used_bytes);
	set_u(gc, "heap_total_bytes", vt_state_gc(s)->heap_total_bytes);
	json_object_set_new(vm, "gc", gc);
	json_object_set_new(o, "aio", aio);
	json_object_set_new(o, "vm", vm);
	return o;
}

static json_t *delta_arenas(const struct vt_state *s)
{
	size_t n;
	const struct vt_arena *v = vt_state_arenas(s, &n);
	json_t *a = json_array();

	for (size_t i = 0; i < n; i++) {
		json_t *o = json_object();

		set_s(o, "name", v[i].name);
		set_u(o, "used", v[i].used);
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

	*full = !delta_same_shape(d, s, system, v, n);
	if (*full)
		return vt_wire_valk_full(s, m, d);
	doc = json_object();
	mem = json_object();
	slabs = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(slabs, delta_slab(s, v[i], &d->slab[i]));
	json_object_set_new(mem, "slabs", slabs);
	json_object_set_new(mem, "arenas", delta_arenas(s));
	set_u(mem, "gc", vt_state_gc(s)->heap_used_bytes);
	set_u(mem, "rss", m->rss);
	json_object_set_new(doc, "metrics", delta_metrics(s, m, v, n));
	json_object_set_new(doc, "memory", mem);
	return dump(doc);
}

/* ---- Prometheus ------------------------------------------------------------- */

static void prom_family(struct vbuf *b, const char *name, const char *type,
			const char *help)
{
	vbuf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void prom_label(struct vbuf *b, const char *key, const char *val)
{
	vbuf_printf(b, ",%s=\"", key);
	for (const char *p = val; *p; p++) {
		if (*p == '\\' || *p == '"')
			vbuf_printf(b, "\\%c", *p);
		else if (*p == '\n')
			vbuf_put(b, "\\n", 2);
		else
			vbuf_put(b, p, 1);
	}
	vbuf_put(b, "\"", 1);
}

/* `name{pid="P"[,system="S"]` — finish with prom_label()s and prom_end(). */
static void prom_start(struct vbuf *b, const char *name,
		       const struct vt_wire_meta *m, int system)
{
	vbuf_printf(b, "%s{pid=\"%d\"", name, m->pid);
	if (system >= 0)
		vbuf_printf(b, ",system=\"%d\"", system);
}

static void prom_end(struct vbuf *b, uint64_t v)
{
	vbuf_printf(b, "} %llu\n", (unsigned long long)v);
}

static void prom_slab_slots(struct vbuf *b, const struct vt_state *s,
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

static void prom_slab_counters(struct vbuf *b, const struct vt_state *s,
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
static void prom_slab_conns(struct vbuf *b, const struct vt_state *s,
			    const struct vt_wire_meta *m,
			    const struct vt_slab *sl)
{
	static const char *const state_names[CONN_STATES] = {
		"connecting", "active", "idle", "closing"
	};
	const char *names[VT_MAX_OWNERS + 1];
	uint64_t counts[VT_MAX_OWNERS + 1][CONN_STATES] = { { 0 } };
	size_t nn = 0;
	struct tally t;

	tally_slab(s, sl, &t);
	for (size_t o = 0; o <= VT_MAX_OWNERS; o++) {
		const char *name;
		size_t k = 0;

		if (!tally_owner_any(&t, o))
			continue;
		name = o < VT_MAX_OWNERS ? owner_label(s, sl->system, (uint16_t)o) : "?";
		while (k < nn && strcmp(names[k], name))
			k++;
		if (k == nn)
			names[nn++] = name;
		for (int st = 0; st < CONN_STATES; st++)
			counts[k][st] += t.owner[o][st];
	}
	for (size_t k = 0; k < nn; k++) {
		for (int st = 0; st < CONN_STATES; st++) {
			prom_start(b, "valk_connections", m, sl->system);
			prom_label(b, "owner", names[k]);
			prom_label(b, "state", state_names[st]);
			prom_end(b, counts[k][st]);
		}
	}
}

static void prom_arenas(struct vbuf *b, const struct vt_state *s,
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

static void prom_gc(struct vbuf *b, const struct vt_state *s,
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

static void prom_tracer(struct vbuf *b, const struct vt_state *s,
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
		prom_start(b, "valk_trace_probe_hits_total", m, -1);
		prom_label(b, "probe", vt_wire_probe_name(i));
		prom_end(b, c->probe_hits[i]);
	}
}

char *vt_wire_prometheus(const struct vt_state *s,
			 const struct vt_wire_meta *m)
{
	struct vbuf b = { 0 };

	prom_slab_slots(&b, s, m);
	prom_slab_counters(&b, s, m);
	prom_family(&b, "valk_connections", "gauge",
		    "HTTP connections in the handle slab by owner and state.");
	for (size_t i = 0; i < vt_state_nslabs(s); i++)
		if (vt_state_slab(s, i)->states)
			prom_slab_conns(&b, s, m, vt_state_slab(s, i));
	prom_arenas(&b, s, m);
	prom_gc(&b, s, m);
	prom_tracer(&b, s, m);
	return vbuf_take(&b);
}

/* ---- /debug/slab/buckets ------------------------------------------------------ */

static int set_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

static int parse_u64(const char *key, const char *v, size_t n, uint64_t *out,
		     char *err, size_t errlen)
{
	char tmp[24], *end;

	if (!n || n >= sizeof(tmp) || strspn(v, "0123456789") < n)
		return set_err(err, errlen,
			       "bad %s '%.*s': use a decimal number", key,
			       (int)(n < 32 ? n : 32), v);
	memcpy(tmp, v, n);
	tmp[n] = 0;
	errno = 0;
	*out = strtoull(tmp, &end, 10);
	if (errno)
		return set_err(err, errlen, "%s '%s' is out of range", key, tmp);
	return 0;
}

static int parse_param(const char *key, size_t klen, const char *v, size_t n,
		       struct vt_wire_buckets_req *req, char *err,
		       size_t errlen)
{
	uint64_t x;

#define KEY_IS(k) (klen == strlen(k) && !memcmp(key, k, klen))
	if (KEY_IS("slab")) {
		if (!n || n >= sizeof(req->slab) || strspn(v, "abcdefghijklmnopqrstuvwxyz_") < n)
			return set_err(err, errlen,
				       "bad slab name: use tcp_buffers, handles, stream_arenas, http_servers or http_clients");
		memcpy(req->slab, v, n);
		req->slab[n] = 0;
		return 0;
	}
	if (KEY_IS("system")) {
		if (parse_u64("system", v, n, &x, err, errlen))
			return -1;
		if (x >= VT_MAX_SYSTEMS)
			return set_err(err, errlen, "system %llu does not exist: use 0-%d",
				       (unsigned long long)x, VT_MAX_SYSTEMS - 1);
		req->system = (int)x;
		return 0;
	}
	if (KEY_IS("start"))
		return parse_u64("start", v, n, &req->start, err, errlen);
	if (KEY_IS("end"))
		return parse_u64("end", v, n, &req->end, err, errlen);
	if (KEY_IS("buckets"))
		return parse_u64("buckets", v, n, &req->buckets, err, errlen);
#undef KEY_IS
	return 0;	/* unknown keys (cache busters) are not errors */
}

int vt_wire_buckets_parse(const char *query, struct vt_wire_buckets_req *req,
			  char *err, size_t errlen)
{
	const char *p = query ? query : "";

	memset(req, 0, sizeof(*req));
	strcpy(req->slab, "tcp_buffers");
	req->system = -1;
	req->end = UINT64_MAX;
	req->buckets = 100;
	while (*p) {
		size_t len = strcspn(p, "&");
		const char *eq = memchr(p, '=', len);

		if (eq && parse_param(p, (size_t)(eq - p), eq + 1,
				      len - (size_t)(eq - p) - 1, req, err, errlen))
			return -1;
		p += len + (p[len] == '&');
	}
	if (req->buckets < 1 || req->buckets > VT_WIRE_MAX_BUCKETS)
		return set_err(err, errlen, "buckets must be 1-%d",
			       VT_WIRE_MAX_BUCKETS);
	if (req->start > req->end)
		return set_err(err, errlen,
			       "start %llu is past end %llu: use start <= end",
			       (unsigned long long)req->start,
			       (unsigned long long)req->end);
	return 0;
}

static const struct vt_slab *find_named(const struct vt_state *s,
					const char *name, int system)
{
	for (size_t i = 0; i < vt_state_nslabs(s); i++) {
		const struct vt_slab *sl = vt_state_slab(s, i);

		if (!strcmp(vt_slab_kind_name(sl->kind), name) &&
		    (system < 0 || sl->system == system))
			return sl;
	}
	return NULL;
}

char *vt_wire_buckets(const struct vt_state *s,
		      const struct vt_wire_buckets_req *req, char *err,
		      size_t errlen)
{
	const struct vt_slab *sl = find_named(s, req->slab, req->system);
	uint64_t end, per, (*bk)[2];
	struct vbuf b = { 0 };
	size_t n = 0;

	if (!sl) {
		set_err(err, errlen,
			"no slab '%s' in the target: use tcp_buffers, handles, stream_arenas, http_servers or http_clients",
			req->slab);
		return NULL;
	}
	if (req->buckets < 1 || req->buckets > VT_WIRE_MAX_BUCKETS ||
	    req->start > req->end) {
		set_err(err, errlen, "bad bucket request: parse it first");
		return NULL;
	}
	end = req->end < sl->total ? req->end : sl->total;
	/* like the runtime: equal slices rounded up, trailing ones may be
	 * empty; an empty range has no buckets */
	if (req->start < end)
		n = (size_t)req->buckets;
	bk = calloc(n ? n : 1, sizeof(*bk));
	if (!bk) {
		set_err(err, errlen, "out of memory");
		return NULL;
	}
	per = n ? (end - req->start + n - 1) / n : 1;
	for (uint64_t i = req->start; i < end; i++)
		bk[(i - req->start) / per][!(sl->bitmap[i / 8] >> (i % 8) & 1)]++;
	vbuf_put(&b, "{\"buckets\":[", 12);
	for (size_t i = 0; i < n; i++)
		vbuf_printf(&b, "%s{\"u\":%llu,\"f\":%llu}", i ? "," : "",
			    (unsigned long long)bk[i][0],
			    (unsigned long long)bk[i][1]);
	vbuf_printf(&b, "],\"total\":%llu}", (unsigned long long)sl->total);
	free(bk);
	if (b.oom)
		set_err(err, errlen, "out of memory");
	return vbuf_take(&b);
}
