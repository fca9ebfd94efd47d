/* vt_rec: an index of a recording's ticks, and seeking to one (see
 * vt_rec.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wire/vt_rec.h"

static int tick_add(struct vt_rec_index *ix, size_t off, size_t end,
		    uint64_t now_ms, bool keyframe)
{
	struct vt_rec_tickref *v;

	if (!(ix->nticks & (ix->nticks + 1))) {	/* 0, 1, 3, 7 ...: grow */
		v = realloc(ix->ticks, (ix->nticks + 1) * 2 * sizeof(*v));
		if (!v)
			return -1;
		ix->ticks = v;
	}
	ix->ticks[ix->nticks] = (struct vt_rec_tickref){
		off, end, now_ms,
		keyframe || !ix->nticks ? ix->nticks
					: ix->ticks[ix->nticks - 1].keyframe,
	};
	ix->nticks++;
	return 0;
}

static int gap_add(struct vt_rec_index *ix, const struct vt_rec *rec)
{
	struct vt_rec_gap g, *v;

	if (vt_rec_gap_decode(rec, &g))
		return 0;
	v = realloc(ix->gaps, (ix->ngaps + 1) * sizeof(*v));
	if (!v)
		return -1;
	ix->gaps = v;
	ix->gaps[ix->ngaps++] = g;
	return 0;
}

/* A well-formed stack record, up to VT_REC_MAX_STACKS of them. */
static int stack_add(struct vt_rec_index *ix, const struct vt_rec *rec)
{
	struct vt_rec_stack st;
	struct vt_rec_stackref *v;

	if (ix->nstacks == VT_REC_MAX_STACKS || vt_rec_stack_decode(rec, &st))
		return 0;
	if (!(ix->nstacks & (ix->nstacks + 1))) {	/* 0, 1, 3, 7 ...: grow */
		v = realloc(ix->stacks, (ix->nstacks + 1) * 2 * sizeof(*v));
		if (!v)
			return -1;
		ix->stacks = v;
	}
	ix->stacks[ix->nstacks++] = (struct vt_rec_stackref){ st.id, rec->off };
	return 0;
}

static int stackref_cmp(const void *a, const void *b)
{
	const struct vt_rec_stackref *x = a, *y = b;

	if (x->id != y->id)
		return x->id < y->id ? -1 : 1;
	return x->off < y->off ? -1 : x->off > y->off;
}

/* By id, the first record of each id kept (a writer writes each once). */
static void stacks_sort(struct vt_rec_index *ix)
{
	size_t n = 0;

	if (!ix->nstacks)
		return;
	qsort(ix->stacks, ix->nstacks, sizeof(*ix->stacks), stackref_cmp);
	for (size_t i = 0; i < ix->nstacks; i++)
		if (!n || ix->stacks[n - 1].id != ix->stacks[i].id)
			ix->stacks[n++] = ix->stacks[i];
	ix->nstacks = n;
}

int vt_rec_index_stack(const uint8_t *p, const struct vt_rec_index *ix,
		       uint32_t id, struct vt_rec_stack *st)
{
	struct vt_rec_stackref *ref;
	struct vt_rec_reader r = { .p = p, .len = ix->good_len };
	struct vt_rec rec;
	size_t lo = 0, hi = ix->nstacks;

	while (lo < hi) {		/* the first ref of id */
		size_t mid = lo + (hi - lo) / 2;

		if (ix->stacks[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	ref = lo < ix->nstacks && ix->stacks[lo].id == id ? &ix->stacks[lo]
							    : NULL;
	if (!ref)
		return -1;
	r.off = ref->off;
	return vt_rec_next(&r, &rec) == 1 ? vt_rec_stack_decode(&rec, st) : -1;
}

/* What one record adds to the index; the tick it ends starts at *from. */
static int index_record(struct vt_rec_index *ix, const struct vt_rec *rec,
			size_t *from, size_t end)
{
	struct vt_rec_tick t;
	long n;

	ix->records++;
	switch (rec->type) {
	case VT_REC_HEADER:
		if (!ix->header)
			ix->header = vt_rec_header_json(rec);
		*from = end;
		return 0;
	case VT_REC_EVENTS:
		if ((n = vt_rec_events_count(rec)) >= 0) {
			ix->events += (uint64_t)n;
			ix->event_bytes += rec->len + VT_REC_FRAME;
		}
		return 0;
	case VT_REC_GAP:
		return gap_add(ix, rec);
	case VT_REC_END:
		ix->ended = true;
		return 0;
	case VT_REC_STACK:
		return stack_add(ix, rec);
	case VT_REC_FIGURES:
		ix->figures++;
		return 0;
	case VT_REC_KEYFRAME:
		if (vt_rec_keyframe_ms(rec, &t.now_ms))
			return 0;
		ix->keyframes++;
		if (tick_add(ix, *from, end, t.now_ms, true))
			return -1;
		*from = end;
		return 0;
	case VT_REC_TICK:
		if (vt_rec_tick_decode(rec, &t))
			return 0;
		if (tick_add(ix, *from, end, t.now_ms, false))
			return -1;
		*from = end;
		return 0;
	default:
		return 0;
	}
}

int vt_rec_index_build(const uint8_t *p, size_t len, struct vt_rec_index *ix,
		       char *err, size_t errlen)
{
	struct vt_rec_reader r;
	struct vt_rec rec;
	size_t from = VT_REC_PREAMBLE;
	int rc;

	memset(ix, 0, sizeof(*ix));
	if (vt_rec_open(&r, p, len)) {
		snprintf(err, errlen, "%s", r.err);
		return -1;
	}
	while ((rc = vt_rec_next(&r, &rec)) == 1)
		if (index_record(ix, &rec, &from, r.off)) {
			snprintf(err, errlen, "out of memory");
			vt_rec_index_free(ix);
			return -1;
		}
	if (rc < 0)
		snprintf(ix->err, sizeof(ix->err), "%s", r.err);
	ix->good_len = r.off;
	ix->version = r.version;
	stacks_sort(ix);
	return 0;
}

void vt_rec_index_free(struct vt_rec_index *ix)
{
	free(ix->header);
	free(ix->ticks);
	free(ix->gaps);
	free(ix->stacks);
	memset(ix, 0, sizeof(*ix));
}

size_t vt_rec_index_find(const struct vt_rec_index *ix, uint64_t now_ms)
{
	size_t lo = 0, hi = ix->nticks;

	while (hi - lo > 1) {		/* ticks are in time order */
		size_t mid = lo + (hi - lo) / 2;

		if (ix->ticks[mid].now_ms <= now_ms)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

/* Applies the records of [off, end) to s; the last tick's facts to *t. */
static int apply_range(const uint8_t *p, size_t off, size_t end,
		       struct vt_state *s, struct vt_rec_tick *t,
		       const struct vt_rec_hook *h, char *err, size_t errlen)
{
	struct vt_rec_reader r = { .p = p, .len = end, .off = off };
	struct vt_rec rec;
	int rc;

	while ((rc = vt_rec_next(&r, &rec)) == 1)
		if (vt_rec_apply_hooked(s, &rec, t, h, err, errlen) < 0)
			return -1;
	if (rc < 0)
		snprintf(err, errlen, "%s", r.err);
	return rc;
}

int vt_rec_seek(const uint8_t *p, const struct vt_rec_index *ix,
		struct vt_state *s, size_t *at, size_t i,
		struct vt_rec_tick *t, char *err, size_t errlen)
{
	return vt_rec_seek_hooked(p, ix, s, at, i, t, NULL, err, errlen);
}

int vt_rec_seek_hooked(const uint8_t *p, const struct vt_rec_index *ix,
		       struct vt_state *s, size_t *at, size_t i,
		       struct vt_rec_tick *t, const struct vt_rec_hook *h,
		       char *err, size_t errlen)
{
	size_t k = ix->ticks[i].keyframe;

	if (*at == SIZE_MAX || *at < k || *at > i)
		*at = k;	/* the keyframe replaces the whole state */
	else if (*at == i)
		return 0;
	else
		++*at;
	for (; *at <= i; ++*at)
		if (apply_range(p, ix->ticks[*at].off, ix->ticks[*at].end, s,
				t, h, err, errlen)) {
			*at = SIZE_MAX;
			return -1;
		}
	*at = i;
	return 0;
}
