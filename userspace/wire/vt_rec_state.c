/* vt_rec: records that carry model state — slabs, typing reads, systems,
 * owners, arenas, GC, keyframes — and applying any record to a model
 * (figures: vt_rec_figures.c).
 *
 * A slab is written sparsely: its geometry and counters, its bitmap, then
 * only the used slots' acquire time, flags and letter/owner, and the
 * slots whose release is still unsure; the whole is deflated. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "wire/vt_rec.h"
#include "wire/vt_rec_codec.h"

#define MAX_SLOTS (1ULL << 24)		/* the model's own limit */
#define MAX_RAW (256u << 20)		/* an inflated slab or keyframe */
#define MAX_SLABS 1024			/* in one keyframe */
#define MAX_ARENAS 65536
#define SLOT_ATTACH 1			/* used-slot flags */
#define SLOT_PENDING 2
#define SLOT_EARLY 4			/* its last holder's release to come */

static bool letter_ok(uint8_t c)
{
	return c && strchr("FNAICTKMU", c);
}

/* ---- compressed payloads ----------------------------------------------- */

/* Appends raw as: varint length, deflated bytes. */
static void put_deflated(struct vt_rec_buf *b, const struct vt_rec_buf *raw)
{
	uLongf n = compressBound(raw->len);

	if (raw->oom) {
		b->oom = true;
		return;
	}
	vt_rec_put_u(b, raw->len);
	if (!vt_rec_buf_grow(b, n))
		return;
	if (compress2(b->p + b->len, &n, raw->p, raw->len, 1) != Z_OK) {
		b->oom = true;
		return;
	}
	b->len += n;
}

/* The inflated payload (malloc'd, *len bytes), or NULL. A length beyond
 * what deflate can reach from the input is refused before allocating. */
static uint8_t *get_inflated(struct vt_rec_cur c, size_t *len)
{
	uint64_t n = vt_rec_get_max(&c, MAX_RAW);
	size_t in = (size_t)(c.end - c.p);
	uLongf got = n;
	uint8_t *raw;

	if (c.bad || n > (uint64_t)in * 1032 + 64 || !(raw = malloc(n ? n : 1)))
		return NULL;
	if (uncompress(raw, &got, c.p, in) != Z_OK || got != n) {
		free(raw);
		return NULL;
	}
	*len = n;
	return raw;
}

/* ---- slabs --------------------------------------------------------------- */

static void slab_put(struct vt_rec_buf *b, const struct vt_slab *sl)
{
	uint64_t last = 0, nunsure = 0, prev = 0;

	vt_rec_put_u(b, sl->addr);
	vt_rec_put_u(b, (uint64_t)sl->system);
	vt_rec_put_u(b, sl->kind);
	vt_rec_put_u(b, sl->item_size);
	vt_rec_put_u(b, sl->total);
	vt_rec_put_u(b, sl->heap_off);
	vt_rec_put_u(b, sl->data_off);
	vt_rec_put_u(b, sl->hwm);
	vt_rec_put_u(b, sl->overflow);
	vt_rec_put_u(b, sl->acquires);
	vt_rec_put_u(b, sl->releases);
	vt_rec_put_u(b, sl->version);
	vt_rec_put_u(b, sl->suspect_version);
	vt_rec_put_u(b, sl->suspect);
	vt_rec_put_u(b, sl->image_ns);
	vt_rec_put_u(b, sl->image_version);
	vt_rec_put_u(b, sl->image_ms);
	vt_rec_put(b, sl->bitmap, (sl->total + 7) / 8);
	for (uint64_t i = 0; i < sl->total; i++) {
		nunsure += sl->unsure[i];
		if (!vt_slab_bit(sl->bitmap, i))
			continue;
		vt_rec_put_s(b, (int64_t)(sl->since_ms[i] - last));
		last = sl->since_ms[i];
		vt_rec_put_byte(b, (uint8_t)((sl->since_attach[i] ? SLOT_ATTACH : 0) |
				(sl->pending && sl->pending[i] ? SLOT_PENDING : 0) |
				(sl->early[i] ? SLOT_EARLY : 0)));
		vt_rec_put_u(b, sl->stacks[i]);
		if (sl->states) {
			vt_rec_put_byte(b, (uint8_t)sl->states[i]);
			vt_rec_put_u(b, sl->owners[i]);
		}
	}
	vt_rec_put_u(b, nunsure);
	for (uint64_t i = 0; i < sl->total; i++)
		if (sl->unsure[i]) {
			vt_rec_put_u(b, i - prev);
			prev = i;
		}
}

static void slab_head_get(struct vt_rec_cur *c, struct vt_slab *sl)
{
	sl->addr = vt_rec_get_u(c);
	sl->system = (int)vt_rec_get_max(c, VT_MAX_SYSTEMS - 1);
	sl->kind = vt_rec_get_max(c, VT_SLAB_KINDS - 1);
	sl->item_size = vt_rec_get_u(c);
	sl->total = vt_rec_get_max(c, MAX_SLOTS);
	sl->heap_off = vt_rec_get_u(c);
	sl->data_off = vt_rec_get_u(c);
	sl->hwm = vt_rec_get_u(c);
	sl->overflow = vt_rec_get_u(c);
	sl->acquires = vt_rec_get_u(c);
	sl->releases = vt_rec_get_u(c);
	sl->version = vt_rec_get_u(c);
	sl->suspect_version = vt_rec_get_u(c);
	sl->suspect = vt_rec_get_max(c, 1);
	sl->image_ns = vt_rec_get_u(c);
	sl->image_version = vt_rec_get_u(c);
	sl->image_ms = vt_rec_get_u(c);
}

static void slots_get(struct vt_rec_cur *c, struct vt_slab *sl)
{
	uint64_t last = 0, n, at = 0;

	for (uint64_t i = 0; i < sl->total && !c->bad; i++) {
		uint8_t f;

		if (!vt_slab_bit(sl->bitmap, i))
			continue;
		last = sl->since_ms[i] = last + (uint64_t)vt_rec_get_s(c);
		f = vt_rec_get_byte(c);
		sl->since_attach[i] = f & SLOT_ATTACH;
		sl->early[i] = !!(f & SLOT_EARLY);
		if (f & ~(SLOT_ATTACH | SLOT_PENDING | SLOT_EARLY))
			c->bad = true;
		sl->stacks[i] = (uint32_t)vt_rec_get_max(c, UINT32_MAX);
		if (!sl->states)
			continue;
		sl->pending[i] = !!(f & SLOT_PENDING);
		sl->states[i] = (char)vt_rec_get_byte(c);
		sl->owners[i] = (uint16_t)vt_rec_get_max(c, UINT16_MAX);
		if (!letter_ok((uint8_t)sl->states[i]) || sl->states[i] == 'F')
			c->bad = true;
	}
	n = vt_rec_get_max(c, sl->total);
	if (n > (uint64_t)(c->end - c->p))	/* one byte each at least */
		c->bad = true;
	for (uint64_t i = 0; i < n && !c->bad; i++) {
		uint64_t d = vt_rec_get_u(c);

		at += d;	/* strictly increasing, within the slab */
		if ((i && !d) || at < d || at >= sl->total)
			c->bad = true;
		else
			sl->unsure[at] = 1;
	}
}

/* One slab from a cursor into the model. The bitmap must be there before
 * slots are allocated for it. */
static int slab_get(struct vt_rec_cur *c, struct vt_state *s)
{
	struct vt_slab head = { 0 }, *sl;
	const uint8_t *bm;

	slab_head_get(c, &head);
	if (c->bad || (uint64_t)(c->end - c->p) < (head.total + 7) / 8 ||
	    !(sl = vt_state_slab_new(&head)))
		return -1;
	bm = vt_rec_get(c, (head.total + 7) / 8);
	memcpy(sl->bitmap, bm, (head.total + 7) / 8);
	sl->hwm = head.hwm;
	sl->overflow = head.overflow;
	sl->acquires = head.acquires;
	sl->releases = head.releases;
	sl->version = head.version;
	sl->suspect_version = head.suspect_version;
	sl->suspect = head.suspect;
	sl->image_ns = head.image_ns;
	sl->image_version = head.image_version;
	sl->image_ms = head.image_ms;
	slots_get(c, sl);
	if (c->bad) {
		vt_state_slab_discard(sl);
		return -1;
	}
	return vt_state_slab_put(s, sl);
}

void vt_rec_slab(struct vt_rec_buf *b, const struct vt_slab *sl)
{
	struct vt_rec_buf raw = { 0 };
	size_t start = vt_rec_begin(b, VT_REC_SLAB);

	slab_put(&raw, sl);
	put_deflated(b, &raw);
	vt_rec_buf_free(&raw);
	vt_rec_end(b, start);
}

/* ---- systems, owners, arenas, gc, typing reads ------------------------- */

static void system_put(struct vt_rec_buf *b, int idx, uint64_t addr)
{
	vt_rec_put_u(b, (uint64_t)idx);
	vt_rec_put_u(b, addr);
}

static void owner_put(struct vt_rec_buf *b, int system, unsigned idx,
		      const char *name)
{
	size_t n = strnlen(name, 31);

	vt_rec_put_u(b, (uint64_t)system);
	vt_rec_put_u(b, idx);
	vt_rec_put_u(b, n);
	vt_rec_put(b, name, n);
}

void vt_rec_system(struct vt_rec_buf *b, int idx, uint64_t addr)
{
	size_t start = vt_rec_begin(b, VT_REC_SYSTEM);

	system_put(b, idx, addr);
	vt_rec_end(b, start);
}

void vt_rec_owner(struct vt_rec_buf *b, int system, unsigned idx,
		  const char *name)
{
	size_t start = vt_rec_begin(b, VT_REC_OWNER);

	owner_put(b, system, idx, name);
	vt_rec_end(b, start);
}

static void system_get(struct vt_rec_cur *c, struct vt_state *s)
{
	int idx = (int)vt_rec_get_max(c, VT_MAX_SYSTEMS - 1);
	uint64_t addr = vt_rec_get_u(c);

	if (!c->bad)
		vt_state_system_set(s, idx, addr);
}

static void owner_get(struct vt_rec_cur *c, struct vt_state *s)
{
	int system = (int)vt_rec_get_max(c, VT_MAX_SYSTEMS - 1);
	unsigned idx = (unsigned)vt_rec_get_max(c, VT_MAX_OWNERS - 1);
	uint64_t n = vt_rec_get_max(c, 31);
	const uint8_t *p = vt_rec_get(c, n);
	char name[32] = { 0 };

	if (c->bad)
		return;
	memcpy(name, p, n);
	vt_state_owner_set(s, system, idx, name);
}

static void arenas_put(struct vt_rec_buf *b, const struct vt_arena *a,
		       size_t n)
{
	vt_rec_put_u(b, n);
	for (size_t i = 0; i < n; i++) {
		size_t len = strnlen(a[i].name, sizeof(a[i].name) - 1);

		vt_rec_put_u(b, len);
		vt_rec_put(b, a[i].name, len);
		vt_rec_put_u(b, (uint64_t)a[i].system);
		vt_rec_put_u(b, a[i].addr);
		vt_rec_put_u(b, a[i].capacity);
		vt_rec_put_u(b, a[i].used);
		vt_rec_put_u(b, a[i].hwm);
		vt_rec_put_u(b, a[i].overflow);
		vt_rec_put_u(b, a[i].overflow_bytes);
	}
}

static void arena_get(struct vt_rec_cur *c, struct vt_arena *a)
{
	uint64_t len = vt_rec_get_max(c, sizeof(a->name) - 1);
	const uint8_t *p = vt_rec_get(c, len);

	memset(a, 0, sizeof(*a));
	if (p)
		memcpy(a->name, p, len);
	a->system = (int)vt_rec_get_max(c, VT_MAX_SYSTEMS - 1);
	a->addr = vt_rec_get_u(c);
	a->capacity = vt_rec_get_u(c);
	a->used = vt_rec_get_u(c);
	a->hwm = vt_rec_get_u(c);
	a->overflow = vt_rec_get_u(c);
	a->overflow_bytes = vt_rec_get_u(c);
}

/* Each arena takes at least 9 bytes: the count is checked against what is
 * left before allocating. */
static void arenas_get(struct vt_rec_cur *c, struct vt_state *s)
{
	uint64_t n = vt_rec_get_max(c, MAX_ARENAS);
	struct vt_arena *a;

	if (c->bad || n > (uint64_t)(c->end - c->p) / 9 ||
	    !(a = calloc(n ? n : 1, sizeof(*a)))) {
		c->bad = true;
		return;
	}
	for (uint64_t i = 0; i < n && !c->bad; i++)
		arena_get(c, &a[i]);
	if (!c->bad)
		vt_state_arenas_set(s, a, n);
	free(a);
}

void vt_rec_arenas(struct vt_rec_buf *b, const struct vt_arena *a, size_t n)
{
	size_t start = vt_rec_begin(b, VT_REC_ARENAS);

	arenas_put(b, a, n);
	vt_rec_end(b, start);
}

/* The heap's sizes and classes; a GC record then has (version 3) the
 * large-object bytes, which a keyframe has at its end. */
static void gc_put(struct vt_rec_buf *b, const struct vt_gc *gc)
{
	vt_rec_put_u(b, gc->heap_used_bytes);
	vt_rec_put_u(b, gc->heap_total_bytes);
	vt_rec_put_u(b, gc->nclasses);
	for (size_t i = 0; i < gc->nclasses && i < 16; i++) {
		vt_rec_put_u(b, gc->classes[i].size);
		vt_rec_put_u(b, gc->classes[i].used);
		vt_rec_put_u(b, gc->classes[i].total);
	}
}

/* record: a GC record's payload, whose end may hold the large-object
 * bytes (none in version 2). */
static void gc_get(struct vt_rec_cur *c, struct vt_state *s, bool record)
{
	struct vt_gc gc = { 0 };

	gc.heap_used_bytes = vt_rec_get_u(c);
	gc.heap_total_bytes = vt_rec_get_u(c);
	gc.nclasses = vt_rec_get_max(c, 16);
	for (size_t i = 0; i < gc.nclasses && !c->bad; i++) {
		gc.classes[i].size = vt_rec_get_u(c);
		gc.classes[i].used = vt_rec_get_u(c);
		gc.classes[i].total = vt_rec_get_u(c);
	}
	if (record && !c->bad && c->p < c->end)
		gc.large_object_bytes = vt_rec_get_u(c);
	if (!c->bad)
		vt_state_gc_set(s, &gc);
}

void vt_rec_gc(struct vt_rec_buf *b, const struct vt_gc *gc)
{
	size_t start = vt_rec_begin(b, VT_REC_GC);

	gc_put(b, gc);
	vt_rec_put_u(b, gc->large_object_bytes);	/* version 3 */
	vt_rec_end(b, start);
}

/* A version 3 keyframe's end: the large-object bytes, then the figures;
 * a version 2 one has neither (the state then has none of them). */
static void keyframe_tail_get(struct vt_rec_cur *c, struct vt_state *s)
{
	struct vt_gc gc = *vt_state_gc(s);

	if (c->p == c->end) {
		vt_state_figures_set(s, NULL);
		return;
	}
	gc.large_object_bytes = vt_rec_get_u(c);
	if (c->bad)
		return;
	vt_state_gc_set(s, &gc);
	vt_rec_figures_get(c, s, false);
}

void vt_rec_typed(struct vt_rec_buf *b, const struct vt_rec_typed *t,
		  size_t n)
{
	size_t start = vt_rec_begin(b, VT_REC_TYPED);
	uint64_t slab = 0, slot = 0;

	for (size_t i = 0; i < n; i++) {
		vt_rec_put_s(b, (int64_t)(t[i].slab - slab));
		vt_rec_put_s(b, (int64_t)(t[i].slot - slot));
		vt_rec_put_u(b, t[i].kind);
		vt_rec_put_u(b, t[i].diag);
		vt_rec_put_u(b, t[i].owner);
		slab = t[i].slab;
		slot = t[i].slot;
	}
	vt_rec_end(b, start);
}

static void typed_get(struct vt_rec_cur *c, struct vt_state *s)
{
	uint64_t slab = 0, slot = 0;

	while (c->p < c->end && !c->bad) {
		uint32_t kind, diag;
		uint16_t owner;

		slab += (uint64_t)vt_rec_get_s(c);
		slot += (uint64_t)vt_rec_get_s(c);
		kind = (uint32_t)vt_rec_get_max(c, UINT32_MAX);
		diag = (uint32_t)vt_rec_get_max(c, UINT32_MAX);
		owner = (uint16_t)vt_rec_get_max(c, UINT16_MAX);
		if (!c->bad)
			vt_state_slot_typed(s, slab, slot, kind, diag, owner);
	}
}

/* ---- keyframes ------------------------------------------------------------ */

static void keyframe_put(struct vt_rec_buf *b, const struct vt_state *s,
			 const struct vt_rec_tick *t)
{
	size_t na, n = vt_state_nsystems(s);
	const struct vt_arena *a = vt_state_arenas(s, &na);

	vt_rec_put_u(b, n);
	for (size_t i = 0; i < n; i++) {
		const struct vt_system *sys = vt_state_system(s, i);

		system_put(b, (int)i, sys->addr);
		vt_rec_put_u(b, sys->nowners);
		for (size_t j = 0; j < sys->nowners; j++)
			owner_put(b, (int)i, (unsigned)j, sys->owners[j]);
	}
	vt_rec_put_u(b, vt_state_nslabs(s));
	for (size_t i = 0; i < vt_state_nslabs(s); i++)
		slab_put(b, vt_state_slab(s, i));
	arenas_put(b, a, na);
	gc_put(b, vt_state_gc(s));
	vt_rec_tick_put(b, t);
	vt_rec_put_u(b, vt_state_gc(s)->large_object_bytes);	/* version 3 */
	vt_rec_figures_put(b, vt_state_figures(s));
}

void vt_rec_keyframe(struct vt_rec_buf *b, const struct vt_state *s,
		     const struct vt_rec_tick *t)
{
	struct vt_rec_buf raw = { 0 };
	size_t start = vt_rec_begin(b, VT_REC_KEYFRAME);

	vt_rec_put_u(b, t->now_ms);	/* for an index, without inflating */
	keyframe_put(&raw, s, t);
	put_deflated(b, &raw);
	vt_rec_buf_free(&raw);
	vt_rec_end(b, start);
}

static void keyframe_get(struct vt_rec_cur *c, struct vt_state *s,
			 struct vt_rec_tick *t)
{
	uint64_t n = vt_rec_get_max(c, VT_MAX_SYSTEMS);

	vt_state_clear(s);
	for (uint64_t i = 0; i < n && !c->bad; i++) {
		uint64_t nown;

		system_get(c, s);
		nown = vt_rec_get_max(c, VT_MAX_OWNERS);
		for (uint64_t j = 0; j < nown && !c->bad; j++)
			owner_get(c, s);
	}
	n = vt_rec_get_max(c, MAX_SLABS);
	for (uint64_t i = 0; i < n && !c->bad; i++)
		if (slab_get(c, s))
			c->bad = true;
	arenas_get(c, s);
	gc_get(c, s, false);
	if (!c->bad && vt_rec_tick_read(c, t) == 0)
		vt_state_counters_set(s, &t->counters);
	if (!c->bad)
		keyframe_tail_get(c, s);
}

/* ---- applying ------------------------------------------------------------- */

static void events_get(struct vt_rec_cur *c, struct vt_state *s,
		       const struct vt_rec_hook *h)
{
	struct vt_rec_events e = { 0 };
	struct vt_event ev;

	while (c->p < c->end && !c->bad) {
		if (vt_rec_event_read(c, &e, &ev)) {
			c->bad = true;
			break;
		}
		if (h && h->before)
			h->before(h->ctx, s, &ev);
		vt_state_apply(s, &ev);
		if (h && h->after)
			h->after(h->ctx, s, &ev);
	}
}

long vt_rec_events_count(const struct vt_rec *rec)
{
	struct vt_rec_cur c = vt_rec_cursor(rec);
	struct vt_rec_events e = { 0 };
	struct vt_event ev;
	long n = 0;

	if (rec->type != VT_REC_EVENTS)
		return -1;
	while (c.p < c.end)
		if (vt_rec_event_read(&c, &e, &ev))
			return -1;
		else
			n++;
	return n;
}

int vt_rec_keyframe_ms(const struct vt_rec *rec, uint64_t *now_ms)
{
	struct vt_rec_cur c = vt_rec_cursor(rec);
	uint64_t v = vt_rec_get_u(&c);

	if (now_ms)
		*now_ms = v;
	return rec->type == VT_REC_KEYFRAME && !c.bad ? 0 : -1;
}

/* Inflates a slab or keyframe payload and decodes it into s. */
static int inflated(const struct vt_rec *rec, struct vt_state *s,
		    struct vt_rec_tick *t, bool keyframe)
{
	struct vt_rec_cur in = vt_rec_cursor(rec);
	size_t len;
	uint8_t *raw;
	struct vt_rec_cur c;

	if (keyframe)		/* its time, read again inside */
		vt_rec_get_u(&in);
	raw = in.bad ? NULL : get_inflated(in, &len);
	c = (struct vt_rec_cur){ raw, raw ? raw + len : NULL, !raw };
	struct vt_rec_tick scratch;

	if (raw && keyframe)
		keyframe_get(&c, s, t ? t : &scratch);
	else if (raw && slab_get(&c, s))
		c.bad = true;
	free(raw);
	return c.bad || c.p != c.end ? -1 : 0;
}

static int apply_plain(struct vt_state *s, const struct vt_rec *rec,
		       const struct vt_rec_hook *h)
{
	struct vt_rec_cur c = vt_rec_cursor(rec);

	switch (rec->type) {
	case VT_REC_EVENTS:
		events_get(&c, s, h);
		break;
	case VT_REC_TYPED:
		typed_get(&c, s);
		break;
	case VT_REC_SYSTEM:
		system_get(&c, s);
		break;
	case VT_REC_OWNER:
		owner_get(&c, s);
		break;
	case VT_REC_ARENAS:
		arenas_get(&c, s);
		break;
	case VT_REC_GC:
		gc_get(&c, s, true);
		break;
	case VT_REC_FIGURES:
		vt_rec_figures_get(&c, s, true);
		break;
	default:	/* header, gap, end, and types of a newer minor */
		return 0;
	}
	return c.bad || c.p != c.end ? -1 : 0;
}

static const char *const type_names[VT_REC_TYPES] = {
	[VT_REC_HEADER] = "header", [VT_REC_EVENTS] = "events",
	[VT_REC_SLAB] = "slab", [VT_REC_TYPED] = "typed",
	[VT_REC_SYSTEM] = "system", [VT_REC_OWNER] = "owner",
	[VT_REC_ARENAS] = "arenas", [VT_REC_GC] = "gc", [VT_REC_TICK] = "tick",
	[VT_REC_KEYFRAME] = "keyframe", [VT_REC_GAP] = "gap",
	[VT_REC_END] = "end", [VT_REC_STACK] = "stack",
	[VT_REC_FIGURES] = "figures",
};

int vt_rec_apply(struct vt_state *s, const struct vt_rec *rec,
		 struct vt_rec_tick *tick, char *err, size_t errlen)
{
	return vt_rec_apply_hooked(s, rec, tick, NULL, err, errlen);
}

int vt_rec_apply_hooked(struct vt_state *s, const struct vt_rec *rec,
			struct vt_rec_tick *tick, const struct vt_rec_hook *h,
			char *err, size_t errlen)
{
	struct vt_rec_tick t;
	struct vt_rec_stack st;
	int rc;

	switch (rec->type) {
	case VT_REC_TICK:
		rc = vt_rec_tick_decode(rec, &t);
		if (rc == 0) {
			vt_state_counters_set(s, &t.counters);
			if (tick)
				*tick = t;
		}
		break;
	case VT_REC_SLAB:
		rc = inflated(rec, s, NULL, false);
		break;
	case VT_REC_KEYFRAME:
		rc = inflated(rec, s, tick, true);
		break;
	case VT_REC_STACK:	/* for reports: the model has only its id */
		rc = vt_rec_stack_decode(rec, &st);
		break;
	default:
		rc = apply_plain(s, rec, h);
	}
	if (rc)	/* only known types get here */
		snprintf(err, errlen, "malformed %s record at byte %zu",
			 type_names[rec->type], rec->off);
	return rc ? -1 : rec->type == VT_REC_TICK ||
			 rec->type == VT_REC_KEYFRAME;
}
