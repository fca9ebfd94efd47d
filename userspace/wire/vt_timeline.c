/* vt_timeline: a trace's history for time travel (see vt_timeline.h).
 *
 * The history is segments of the recording format, each starting with a
 * keyframe, so a tick's state is its segment's keyframe plus the ticks
 * after it; one scratch model follows the requests, going on from where
 * it is when it can. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "wire/vt_timeline.h"

#define MAX_COLS 32		/* slabs drawn */
#define MAX_MARKS 200		/* of one kind */
#define MAX_LEAK_MARKS 50
#define MAX_CHANGES 500		/* of one slot, the newest kept */
#define SLOT_SCAN_BYTES (16u << 20)	/* history replayed for one slot */
#define MAX_BYTES (256u << 20)	/* kept, whatever the window */

struct column {
	int system;
	enum vt_slab_kind kind;
	uint64_t total;
};

struct tick {
	size_t seg, local;	/* segment and its tick index */
	struct vt_rec_tick facts;
	uint32_t used[MAX_COLS], overflow[MAX_COLS];
};

struct segment {
	struct vt_rec_buf buf;
	struct vt_rec_index ix;	/* ticks only; keyframe 0 for all */
};

struct vt_timeline {
	uint64_t attach_ms, keep_ms;
	struct segment *segs;
	size_t nsegs;
	struct tick *ticks;
	size_t nticks;
	size_t bytes;		/* in the segments */
	uint64_t appended;	/* ticks ever appended: the version */
	struct column cols[MAX_COLS];
	size_t ncols;
	struct vt_rec_gap *gaps;
	size_t ngaps;
	struct vt_state *scratch;
	size_t at_seg, at_local;	/* what scratch holds (SIZE_MAX: none) */
};

struct vt_timeline *vt_timeline_new(uint64_t attach_ms, uint64_t keep_ms)
{
	struct vt_timeline *tl = calloc(1, sizeof(*tl));

	if (!tl || !(tl->scratch = vt_state_new(attach_ms))) {
		free(tl);
		return NULL;
	}
	tl->attach_ms = attach_ms;
	tl->keep_ms = keep_ms;
	tl->at_seg = SIZE_MAX;
	return tl;
}

static void segment_free(struct segment *g)
{
	vt_rec_buf_free(&g->buf);
	vt_rec_index_free(&g->ix);
}

void vt_timeline_free(struct vt_timeline *tl)
{
	if (!tl)
		return;
	for (size_t i = 0; i < tl->nsegs; i++)
		segment_free(&tl->segs[i]);
	free(tl->segs);
	free(tl->ticks);
	free(tl->gaps);
	vt_state_free(tl->scratch);
	free(tl);
}

size_t vt_timeline_nticks(const struct vt_timeline *tl)
{
	return tl->nticks;
}

uint64_t vt_timeline_version(const struct vt_timeline *tl)
{
	return tl->appended;
}

/* ---- appending ------------------------------------------------------------ */

/* The oldest segment goes once the next one began before the window, or
 * when the history holds too many bytes. */
static void trim(struct vt_timeline *tl, uint64_t now_ms)
{
	while ((tl->keep_ms || tl->bytes > MAX_BYTES) && tl->nsegs > 1) {
		size_t n = tl->segs[0].ix.nticks;

		if (n >= tl->nticks || (tl->bytes <= MAX_BYTES &&
		    tl->ticks[n].facts.now_ms + tl->keep_ms > now_ms))
			return;
		tl->bytes -= tl->segs[0].buf.len;
		segment_free(&tl->segs[0]);
		memmove(tl->segs, tl->segs + 1, --tl->nsegs * sizeof(*tl->segs));
		memmove(tl->ticks, tl->ticks + n,
			(tl->nticks -= n) * sizeof(*tl->ticks));
		for (size_t i = 0; i < tl->nticks; i++)
			tl->ticks[i].seg--;
		tl->at_seg = SIZE_MAX;
	}
}

static int segment_add(struct vt_timeline *tl)
{
	struct segment *v = realloc(tl->segs, (tl->nsegs + 1) * sizeof(*v));

	if (!v)
		return -1;
	tl->segs = v;
	memset(&v[tl->nsegs++], 0, sizeof(*v));
	return 0;
}

static size_t column_of(struct vt_timeline *tl, const struct vt_slab *sl)
{
	size_t c;

	for (c = 0; c < tl->ncols; c++)
		if (tl->cols[c].system == sl->system && tl->cols[c].kind == sl->kind)
			break;
	if (c == MAX_COLS)
		return SIZE_MAX;
	if (c == tl->ncols)
		tl->cols[tl->ncols++] = (struct column){ sl->system, sl->kind, 0 };
	tl->cols[c].total = sl->total;
	return c;
}

static void tick_series(struct vt_timeline *tl, struct tick *k,
			const struct vt_state *s)
{
	for (size_t i = 0; i < vt_state_nslabs(s); i++) {
		const struct vt_slab *sl = vt_state_slab(s, i);
		size_t c = column_of(tl, sl);

		if (c == SIZE_MAX)
			continue;
		k->used[c] = (uint32_t)sl->used;
		k->overflow[c] = (uint32_t)sl->overflow;
	}
}

/* Appends the tick's records to the last segment's buffer and index. */
static int segment_tick(struct segment *g, const uint8_t *p, size_t len,
			uint64_t now_ms)
{
	struct vt_rec_index *ix = &g->ix;
	struct vt_rec_tickref *v = realloc(ix->ticks, (ix->nticks + 1) *
							      sizeof(*v));

	if (!v)
		return -1;
	ix->ticks = v;
	v[ix->nticks] = (struct vt_rec_tickref){ g->buf.len, g->buf.len + len,
						 now_ms, 0 };
	vt_rec_buf_put(&g->buf, p, len);
	if (g->buf.oom)
		return -1;
	ix->nticks++;
	return 0;
}

/* The records of a tick before the keyframe that ends it go after the
 * last segment's ticks: seeking ends at the keyframe, but a slot's history
 * replays them (their events, at their times). Out of memory they are
 * not kept. */
static void segment_tail(struct vt_timeline *tl, const uint8_t *p,
			 size_t len)
{
	struct vt_rec_buf *b = &tl->segs[tl->nsegs - 1].buf;
	size_t was = b->len;

	vt_rec_buf_put(b, p, len);
	if (b->oom) {
		b->oom = false;
		b->len = was;
		return;
	}
	tl->bytes += len;
}

int vt_timeline_tick(struct vt_timeline *tl, const uint8_t *p, size_t len,
		     size_t keyframe_off, const struct vt_state *s,
		     const struct vt_rec_tick *t)
{
	struct tick *v, *k;

	tl->appended++;		/* whatever is kept of it */
	if (keyframe_off != SIZE_MAX) {
		if (tl->nsegs && keyframe_off)	/* the slot history's events */
			segment_tail(tl, p, keyframe_off);
		if (segment_add(tl))
			return -1;
		p += keyframe_off;
		len -= keyframe_off;
	}
	if (!tl->nsegs)		/* nothing to start from yet */
		return 0;
	if (!(v = realloc(tl->ticks, (tl->nticks + 1) * sizeof(*v))))
		return -1;
	tl->ticks = v;
	if (segment_tick(&tl->segs[tl->nsegs - 1], p, len, t->now_ms))
		return -1;
	tl->bytes += len;
	k = &v[tl->nticks++];
	memset(k, 0, sizeof(*k));
	k->seg = tl->nsegs - 1;
	k->local = tl->segs[k->seg].ix.nticks - 1;
	k->facts = *t;
	tick_series(tl, k, s);
	trim(tl, t->now_ms);
	return 0;
}

void vt_timeline_gap(struct vt_timeline *tl, const struct vt_rec_gap *g)
{
	struct vt_rec_gap *v = realloc(tl->gaps, (tl->ngaps + 1) * sizeof(*v));

	if (v) {
		tl->gaps = v;
		tl->gaps[tl->ngaps++] = *g;
	}
}

/* ---- a whole recording ---------------------------------------------------- */

/* Where tick i's keyframe record starts, when it ends in one. */
static size_t keyframe_at(const uint8_t *p, const struct vt_rec_index *ix,
			  size_t i)
{
	struct vt_rec_reader r = { .p = p, .len = ix->ticks[i].end,
				   .off = ix->ticks[i].off };
	struct vt_rec rec = { 0 };

	if (ix->ticks[i].keyframe != i)
		return SIZE_MAX;
	while (vt_rec_next(&r, &rec) == 1)
		;
	return rec.type == VT_REC_KEYFRAME ? rec.off - ix->ticks[i].off
					   : SIZE_MAX;
}

static int fill_from(struct vt_timeline *tl, const uint8_t *p,
		     const struct vt_rec_index *ix, struct vt_state *s,
		     char *err, size_t errlen)
{
	size_t at = SIZE_MAX;

	for (size_t i = 0; i < ix->nticks; i++) {
		struct vt_rec_tick t;

		if (vt_rec_seek(p, ix, s, &at, i, &t, err, errlen))
			return i ? 0 : -1;	/* the readable part */
		if (vt_timeline_tick(tl, p + ix->ticks[i].off,
				     ix->ticks[i].end - ix->ticks[i].off,
				     keyframe_at(p, ix, i), s, &t)) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
	}
	for (size_t i = 0; i < ix->ngaps; i++)
		vt_timeline_gap(tl, &ix->gaps[i]);
	return 0;
}

struct vt_timeline *vt_timeline_of(const uint8_t *p, size_t len,
				   char *err, size_t errlen)
{
	struct vt_rec_index ix;
	struct vt_timeline *tl = NULL;
	struct vt_state *s = NULL;
	json_t *h;
	uint64_t attach_ms = 0;

	if (vt_rec_index_build(p, len, &ix, err, errlen))
		return NULL;
	h = ix.header ? json_loads(ix.header, 0, NULL) : NULL;
	attach_ms = (uint64_t)json_integer_value(json_object_get(h,
							 "start_mono_ms"));
	json_decref(h);
	if (!(tl = vt_timeline_new(attach_ms, 0)) ||
	    !(s = vt_state_new(attach_ms)) ||
	    fill_from(tl, p, &ix, s, err, errlen)) {
		if (!tl || !s)
			snprintf(err, errlen, "out of memory");
		vt_timeline_free(tl);
		tl = NULL;
	}
	vt_state_free(s);
	vt_rec_index_free(&ix);
	return tl;
}

/* ---- reading ----------------------------------------------------------------- */

/* The scratch model to tick i. */
static int seek(struct vt_timeline *tl, size_t i)
{
	const struct tick *k = &tl->ticks[i];
	const struct segment *g = &tl->segs[k->seg];
	size_t at = tl->at_seg == k->seg ? tl->at_local : SIZE_MAX;
	struct vt_rec_tick t;
	char err[192];

	if (vt_rec_seek(g->buf.p, &g->ix, tl->scratch, &at, k->local, &t, err,
			sizeof(err))) {
		tl->at_seg = SIZE_MAX;
		return -1;
	}
	tl->at_seg = k->seg;
	tl->at_local = at;
	return 0;
}

static size_t tick_at_wall(const struct vt_timeline *tl, uint64_t wall_ms)
{
	size_t lo = 0, hi = tl->nticks;

	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (tl->ticks[mid].facts.wall_ms <= wall_ms)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

int vt_timeline_state_at(struct vt_timeline *tl, uint64_t wall_ms,
			 const struct vt_state **s, struct vt_rec_tick *t)
{
	size_t i;

	if (!tl->nticks)
		return -1;
	i = tick_at_wall(tl, wall_ms);
	if (seek(tl, i))
		return -1;
	*t = tl->ticks[i].facts;
	*s = tl->scratch;
	return 0;
}

/* ---- documents ------------------------------------------------------------- */

static json_t *mark(uint64_t wall_ms, const char *kind)
{
	return json_pack("{s:I, s:s}", "t", (json_int_t)wall_ms, "kind", kind);
}

static void mark_slab(json_t *m, const struct column *c)
{
	json_object_set_new(m, "system", json_integer(c->system));
	json_object_set_new(m, "slab", json_string(vt_slab_kind_name(c->kind)));
}

/* Each slab's peak (its first tick at the most used) and the ticks where
 * its overflow count grew. */
static void slab_marks(const struct vt_timeline *tl, json_t *marks)
{
	for (size_t c = 0; c < tl->ncols; c++) {
		size_t peak = 0, over = 0;

		for (size_t i = 1; i < tl->nticks; i++) {
			const struct tick *k = &tl->ticks[i];

			if (k->used[c] > tl->ticks[peak].used[c])
				peak = i;
			if (k->overflow[c] > k[-1].overflow[c] && over++ < MAX_MARKS) {
				json_t *m = mark(k->facts.wall_ms, "overflow");

				mark_slab(m, &tl->cols[c]);
				json_object_set_new(m, "count", json_integer(
					k->overflow[c] - k[-1].overflow[c]));
				json_array_append_new(marks, m);
			}
		}
		if (tl->nticks) {
			json_t *m = mark(tl->ticks[peak].facts.wall_ms, "peak");

			mark_slab(m, &tl->cols[c]);
			json_object_set_new(m, "used",
					    json_integer(tl->ticks[peak].used[c]));
			json_array_append_new(marks, m);
		}
	}
}

/* Ticks where events were lost, and the recording's gaps. */
static void loss_marks(const struct vt_timeline *tl, json_t *marks)
{
	size_t n = 0;

	for (size_t i = 1; i < tl->nticks && n < MAX_MARKS; i++) {
		const struct tick *k = &tl->ticks[i];
		uint64_t d = k->facts.counters.lost - k[-1].facts.counters.lost;
		json_t *m;

		if (k->facts.counters.lost <= k[-1].facts.counters.lost)
			continue;
		m = mark(k->facts.wall_ms, "lost");
		json_object_set_new(m, "count", json_integer((json_int_t)d));
		json_array_append_new(marks, m);
		n++;
	}
	for (size_t g = 0; g < tl->ngaps && tl->nticks; g++) {
		size_t i = 0;
		json_t *m;

		while (i + 1 < tl->nticks &&
		       tl->ticks[i].facts.now_ms < tl->gaps[g].to_ms)
			i++;
		m = mark(tl->ticks[i].facts.wall_ms, "gap");
		json_object_set_new(m, "ticks", json_integer(
			(json_int_t)tl->gaps[g].records));
		json_array_append_new(marks, m);
	}
}

/* The acquires of the leak suspects of the newest tick, in the window. */
static void leak_marks(struct vt_timeline *tl, json_t *marks,
		       uint64_t leak_age_ms)
{
	struct vt_leak l[MAX_LEAK_MARKS];
	const struct tick *last = &tl->ticks[tl->nticks - 1];
	size_t n;

	if (seek(tl, tl->nticks - 1))
		return;
	n = vt_state_leaks(tl->scratch, last->facts.now_ms, leak_age_ms, l,
			   MAX_LEAK_MARKS);
	for (size_t i = 0; i < n; i++) {
		uint64_t since = l[i].slab->since_ms[l[i].slot];
		uint64_t wall = last->facts.wall_ms - (last->facts.now_ms - since);
		json_t *m;

		if (l[i].since_attach || since < tl->ticks[0].facts.now_ms)
			continue;
		m = mark(wall, "leak");
		json_object_set_new(m, "system", json_integer(l[i].slab->system));
		json_object_set_new(m, "slab", json_string(
			vt_slab_kind_name(l[i].slab->kind)));
		json_object_set_new(m, "slot", json_integer((json_int_t)l[i].slot));
		json_array_append_new(marks, m);
	}
}

static json_t *series(const struct vt_timeline *tl)
{
	json_t *slabs = json_array();

	for (size_t c = 0; c < tl->ncols; c++) {
		json_t *used = json_array();

		for (size_t i = 0; i < tl->nticks; i++)
			json_array_append_new(used, json_integer(tl->ticks[i].used[c]));
		json_array_append_new(slabs, json_pack("{s:i, s:s, s:I, s:o}",
			"system", tl->cols[c].system,
			"slab", vt_slab_kind_name(tl->cols[c].kind),
			"total", (json_int_t)tl->cols[c].total, "used", used));
	}
	return slabs;
}

char *vt_timeline_json(struct vt_timeline *tl, bool live,
		       uint64_t leak_age_ms)
{
	json_t *ticks = json_array(), *marks = json_array(), *doc;
	char *text;

	for (size_t i = 0; i < tl->nticks; i++)
		json_array_append_new(ticks, json_integer(
			(json_int_t)tl->ticks[i].facts.wall_ms));
	slab_marks(tl, marks);
	loss_marks(tl, marks);
	if (tl->nticks)
		leak_marks(tl, marks, leak_age_ms);
	doc = json_pack("{s:b, s:o, s:o, s:o}", "live", live, "ticks", ticks,
			"slabs", series(tl), "marks", marks);
	text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
	json_decref(doc);
	return text;
}

/* ---- a slot's history -------------------------------------------------------
 *
 * The newest segments are replayed into the scratch model, told of each
 * event: after one that touched the slot, and after each tick (memory
 * reads type slots and repair them), the slot is compared with what it
 * was, and what changed is an entry at the event's (or tick's) time. The
 * scan is bounded (SLOT_SCAN_BYTES) so a request stalls the collector it
 * shares a loop with for one bounded replay at most. */

struct slot_view {
	bool used;
	char letter;		/* 'F' free */
	uint16_t owner;
	uint64_t since_ms;	/* acquired (monotonic ms); 0 free */
};

enum change_kind { CH_START, CH_ACQUIRED, CH_RELEASED, CH_STATE };

static const char *const change_names[] = {
	[CH_START] = "start", [CH_ACQUIRED] = "acquired",
	[CH_RELEASED] = "released", [CH_STATE] = "state",
};

struct change {
	enum change_kind kind;
	uint64_t wall_ms, since_wall_ms;
	char letter;
	char owner[VT_NAME_LEN + 1];
};

struct slot_scan {
	int system;
	const char *slab;
	uint64_t slot;
	uint64_t addr, payload;	/* of its slab now, 0 while none */
	int64_t wall_off;	/* wall ms - monotonic ms, of the last tick */
	uint64_t from_ms;	/* the first tick scanned (wall) */
	bool found, have;	/* the slot was seen; `last` is set */
	struct slot_view last;
	struct change ring[MAX_CHANGES];	/* the newest, ring order */
	size_t n;		/* entries made, dropped ones included */
};

static const struct vt_slab *slab_named(const struct vt_state *s, int system,
					const char *name)
{
	for (size_t i = 0; i < vt_state_nslabs(s); i++) {
		const struct vt_slab *sl = vt_state_slab(s, i);

		if (sl->system == system && !strcmp(vt_slab_kind_name(sl->kind), name))
			return sl;
	}
	return NULL;
}

/* The slot in the model now, its slab's addresses into the scan. */
static const struct vt_slab *slot_slab(struct slot_scan *x,
				       const struct vt_state *s)
{
	const struct vt_slab *sl = slab_named(s, x->system, x->slab);

	if (!sl || x->slot >= sl->total) {
		x->addr = x->payload = 0;
		return NULL;
	}
	x->addr = sl->addr;
	x->payload = sl->addr + sl->heap_off + sl->data_off + x->slot * sl->stride;
	return sl;
}

static struct slot_view view_of(const struct vt_slab *sl, uint64_t slot)
{
	struct slot_view v = { .letter = 'F', .owner = VT_OWNER_NONE };

	if (!vt_slab_bit(sl->bitmap, slot))
		return v;
	v.used = true;
	v.letter = sl->states ? sl->states[slot] : 'U';
	v.owner = sl->owners ? sl->owners[slot] : VT_OWNER_NONE;
	v.since_ms = sl->since_ms[slot];
	return v;
}

/* Field by field: the struct's padding is not part of the view. */
static bool view_same(const struct slot_view *a, const struct slot_view *b)
{
	return a->used == b->used && a->letter == b->letter &&
	       a->owner == b->owner && a->since_ms == b->since_ms;
}

static enum change_kind change_kind(const struct slot_view *a,
				    const struct slot_view *b)
{
	if (!a->used && b->used)
		return CH_ACQUIRED;
	if (a->used && !b->used)
		return CH_RELEASED;
	if (b->used && a->since_ms != b->since_ms)
		return CH_ACQUIRED;	/* its next holder's pop came first */
	return CH_STATE;
}

static void change_add(struct slot_scan *x, const struct vt_state *s,
		       enum change_kind kind, const struct slot_view *v,
		       uint64_t wall_ms)
{
	struct change *c = &x->ring[x->n++ % MAX_CHANGES];
	const struct vt_system *sys = vt_state_system(s, (size_t)x->system);

	*c = (struct change){ kind, wall_ms, 0, v->letter, "" };
	if (v->used)
		c->since_wall_ms = (uint64_t)((int64_t)v->since_ms + x->wall_off);
	if (sys && v->owner < sys->nowners)
		snprintf(c->owner, sizeof(c->owner), "%s", sys->owners[v->owner]);
}

/* Compares the slot with what it was; a difference is an entry at wall_ms. */
static void slot_check(struct slot_scan *x, const struct vt_state *s,
		       uint64_t wall_ms)
{
	const struct vt_slab *sl = slot_slab(x, s);
	struct slot_view v;

	if (!sl)
		return;
	v = view_of(sl, x->slot);
	x->found = true;
	if (!x->have)
		change_add(x, s, CH_START, &v, wall_ms);
	else if (!view_same(&v, &x->last))
		change_add(x, s, change_kind(&x->last, &v), &v, wall_ms);
	x->have = true;
	x->last = v;
}

static bool event_touches(const struct slot_scan *x, const struct vt_event *ev)
{
	switch (ev->type) {
	case VT_EV_ACQUIRE:
		return ev->acquire.slab == x->addr && ev->acquire.slot == x->slot;
	case VT_EV_RELEASE:
		return ev->release.slab == x->addr && ev->release.slot == x->slot;
	case VT_EV_CONN:
		return ev->conn.handle == x->payload;
	case VT_EV_SLAB_NEW:
	case VT_EV_SLAB_FREE:
		return true;	/* the slab may come or go */
	default:
		return false;
	}
}

static void after_event(void *ctx, const struct vt_state *s,
			const struct vt_event *ev)
{
	struct slot_scan *x = ctx;

	if (event_touches(x, ev))
		slot_check(x, s, (uint64_t)((int64_t)(ev->ts_ns / 1000000) +
					    x->wall_off));
}

/* Replays segment g into the scratch model, whole (records after its
 * last tick included: the events of the tick the next keyframe ends). */
static int segment_scan(struct vt_timeline *tl, const struct segment *g,
			struct slot_scan *x)
{
	struct vt_rec_reader r = { .p = g->buf.p, .len = g->buf.len };
	struct vt_rec_hook h = { .after = after_event, .ctx = x };
	struct vt_rec rec;
	struct vt_rec_tick t;
	char err[192];
	int rc;

	while ((rc = vt_rec_next(&r, &rec)) == 1) {
		int a;

		/* the runtime's figures are no slot's: the next seek starts
		 * over at a keyframe, which carries them */
		if (rec.type == VT_REC_FIGURES)
			continue;
		a = vt_rec_apply_hooked(tl->scratch, &rec, &t, &h, err,
					sizeof(err));
		if (a < 0)
			return -1;
		if (a == 1) {
			if (!x->from_ms)
				x->from_ms = t.wall_ms;
			x->wall_off = (int64_t)t.wall_ms - (int64_t)t.now_ms;
			slot_check(x, tl->scratch, t.wall_ms);
		}
	}
	return rc;
}

/* The first segment scanned: the newest ones within SLOT_SCAN_BYTES, the
 * newest one whatever its size. */
static size_t scan_start(const struct vt_timeline *tl)
{
	size_t i = tl->nsegs - 1, bytes = tl->segs[i].buf.len;

	while (i && bytes + tl->segs[i - 1].buf.len <= SLOT_SCAN_BYTES)
		bytes += tl->segs[--i].buf.len;
	return i;
}

static json_t *changes_json(const struct slot_scan *x)
{
	json_t *a = json_array();
	size_t n = x->n < MAX_CHANGES ? x->n : MAX_CHANGES;

	for (size_t i = x->n - n; i < x->n; i++) {
		const struct change *c = &x->ring[i % MAX_CHANGES];
		json_t *j = json_pack("{s:I, s:s, s:s%, s:s}",
			"t", (json_int_t)c->wall_ms, "event", change_names[c->kind],
			"state", &c->letter, (size_t)1, "owner", c->owner);

		if (c->letter != 'F')
			json_object_set_new(j, "since", json_integer(
				(json_int_t)c->since_wall_ms));
		json_array_append_new(a, j);
	}
	return a;
}

char *vt_timeline_slot_json(struct vt_timeline *tl, int system,
			    const char *slab, uint64_t slot, char *err,
			    size_t errlen)
{
	struct slot_scan *x = calloc(1, sizeof(*x));
	size_t first = tl->nsegs ? scan_start(tl) : 0;
	json_t *doc = NULL;
	char *text = NULL;

	if (!x) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	*x = (struct slot_scan){ .system = system, .slab = slab, .slot = slot };
	tl->at_seg = SIZE_MAX;	/* the scratch model is the scan's */
	for (size_t i = first; i < tl->nsegs; i++)
		if (segment_scan(tl, &tl->segs[i], x))
			break;	/* the readable part */
	if (!x->found)
		snprintf(err, errlen, "no slot %llu of %s in system %d in the "
			 "history", (unsigned long long)slot, slab, system);
	else
		doc = json_pack("{s:i, s:s, s:I, s:I, s:b, s:I, s:o}",
			"system", system, "slab", slab, "slot", (json_int_t)slot,
			"from", (json_int_t)x->from_ms,
			"cut", first > 0,
			"dropped", (json_int_t)(x->n > MAX_CHANGES ?
						x->n - MAX_CHANGES : 0),
			"changes", changes_json(x));
	text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
	json_decref(doc);
	free(x);
	return text;
}
