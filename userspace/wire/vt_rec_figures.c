/* vt_rec: the runtime's own figures (struct vt_figures: its metrics
 * registry, GC cycles, interpreter and library byte counters, the AIO
 * system's queue and failed connections) in a
 * recording — a figures record, whole, only the values that changed, or
 * the metrics as those before them where metrics came or went — and a
 * keyframe's figures section (see docs/record-format.md). */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "wire/vt_rec.h"
#include "wire/vt_rec_codec.h"

enum { FORM_NONE, FORM_WHOLE, FORM_CHANGED, FORM_REBASED };

#define HAVE_MASK (VT_FIG_AIO * 2 - 1)	/* every VT_FIG_* bit */
#define MIN_METRIC 4	/* bytes of the smallest whole metric */

/* The figures' 64-bit numbers beside the metrics, in record order. */
#define SPAN(x) { offsetof(struct vt_figures, x), \
		  sizeof(((struct vt_figures *)0)->x) / (sizeof(uint64_t)) }
static const struct {
	size_t off, n;
} spans[] = {
	SPAN(start_us), SPAN(fam), SPAN(pool_used), SPAN(pool_capacity),
	SPAN(evictions), SPAN(gc), SPAN(eval), SPAN(ssl_bytes),
	SPAN(nghttp2_bytes), SPAN(libuv_bytes), SPAN(aio),
};
_Static_assert(sizeof(struct vt_metric_family) == 4 * sizeof(uint64_t),
	       "a family's meta-stats are 4 counters");
_Static_assert(sizeof(((struct vt_figures *)0)->gc) == 16 * sizeof(uint64_t),
	       "GC figures are 16 counters");
_Static_assert(sizeof(((struct vt_figures *)0)->eval) == 6 * sizeof(uint64_t),
	       "interpreter figures are 6 counters");
_Static_assert(sizeof(((struct vt_figures *)0)->aio) == 4 * sizeof(uint64_t),
	       "the AIO system's figures are 4 (gauges in two's complement)");

static uint64_t *span_at(struct vt_figures *f, size_t i)
{
	return (uint64_t *)((char *)f + spans[i].off);
}

static const uint64_t *span_of(const struct vt_figures *f, size_t i)
{
	return (const uint64_t *)((const char *)f + spans[i].off);
}

static size_t nmetrics(const struct vt_figures *f)
{
	return f->nmetrics < VT_REC_MAX_METRICS ? f->nmetrics
						: VT_REC_MAX_METRICS;
}

static unsigned nbounds(const struct vt_metric *m)
{
	if (m->type != VT_METRIC_HISTOGRAM)
		return 0;
	return m->nbounds < VT_METRIC_MAX_BOUNDS ? m->nbounds
						 : VT_METRIC_MAX_BOUNDS;
}

static unsigned nlabels(const struct vt_metric *m)
{
	return m->nlabels < VT_METRIC_MAX_LABELS ? m->nlabels
						 : VT_METRIC_MAX_LABELS;
}

/* ---- writing ------------------------------------------------------------- */

static void scalars_put(struct vt_rec_buf *b, const struct vt_figures *f)
{
	vt_rec_put_u(b, f->have & HAVE_MASK);
	for (size_t i = 0; i < sizeof(spans) / sizeof(*spans); i++)
		for (size_t j = 0; j < spans[i].n; j++)
			vt_rec_put_u(b, span_of(f, i)[j]);
}

static void str_put(struct vt_rec_buf *b, const char *s, size_t size)
{
	size_t n = strnlen(s, size - 1);

	vt_rec_put_u(b, n);
	vt_rec_put(b, s, n);
}

static void bits_put(struct vt_rec_buf *b, double d)
{
	uint64_t v;

	memcpy(&v, &d, sizeof(v));
	vt_rec_put_u(b, v);
}

/* What names a metric: type, name, labels, a histogram's bounds. */
static void def_put(struct vt_rec_buf *b, const struct vt_metric *m)
{
	vt_rec_put_u(b, m->type);
	str_put(b, m->name, sizeof(m->name));
	vt_rec_put_u(b, nlabels(m));
	for (unsigned i = 0; i < nlabels(m); i++) {
		str_put(b, m->labels[i].key, sizeof(m->labels[i].key));
		str_put(b, m->labels[i].value, sizeof(m->labels[i].value));
	}
	if (m->type != VT_METRIC_HISTOGRAM)
		return;
	vt_rec_put_u(b, nbounds(m));
	for (unsigned i = 0; i < nbounds(m); i++)
		bits_put(b, m->bounds[i]);
}

static void values_put(struct vt_rec_buf *b, const struct vt_metric *m)
{
	switch (m->type) {
	case VT_METRIC_COUNTER:
		vt_rec_put_u(b, m->counter);
		break;
	case VT_METRIC_GAUGE:
		vt_rec_put_s(b, m->gauge);
		break;
	case VT_METRIC_HISTOGRAM:
		vt_rec_put_u(b, m->count);
		vt_rec_put_u(b, m->sum_us);
		for (unsigned i = 0; i <= nbounds(m); i++)
			vt_rec_put_u(b, m->buckets[i]);
		break;
	}
}

void vt_rec_figures_put(struct vt_rec_buf *b, const struct vt_figures *f)
{
	if (!f) {
		vt_rec_put_u(b, FORM_NONE);
		return;
	}
	vt_rec_put_u(b, FORM_WHOLE);
	scalars_put(b, f);
	vt_rec_put_u(b, nmetrics(f));
	for (size_t i = 0; i < nmetrics(f); i++) {
		def_put(b, &f->metrics[i]);
		values_put(b, &f->metrics[i]);
	}
}

/* ---- comparing, field by field (structs have padding) -------------------- */

static bool same_def(const struct vt_metric *a, const struct vt_metric *b)
{
	return vt_metric_same(a, b) && nbounds(a) == nbounds(b) &&
	       !memcmp(a->bounds, b->bounds, nbounds(a) * sizeof(*a->bounds));
}

static bool same_values(const struct vt_metric *a, const struct vt_metric *b)
{
	switch (a->type) {
	case VT_METRIC_COUNTER:
		return a->counter == b->counter;
	case VT_METRIC_GAUGE:
		return a->gauge == b->gauge;
	case VT_METRIC_HISTOGRAM:
		return a->count == b->count && a->sum_us == b->sum_us &&
		       !memcmp(a->buckets, b->buckets,
			       (nbounds(a) + 1) * sizeof(*a->buckets));
	}
	return false;
}

static bool same_scalars(const struct vt_figures *a, const struct vt_figures *b)
{
	if ((a->have & HAVE_MASK) != (b->have & HAVE_MASK))
		return false;
	for (size_t i = 0; i < sizeof(spans) / sizeof(*spans); i++)
		if (memcmp(span_of(a, i), span_of(b, i),
			   spans[i].n * sizeof(uint64_t)))
			return false;
	return true;
}

static bool same_defs(const struct vt_figures *a, const struct vt_figures *b)
{
	if (nmetrics(a) != nmetrics(b))
		return false;
	for (size_t i = 0; i < nmetrics(a); i++)
		if (!same_def(&a->metrics[i], &b->metrics[i]))
			return false;
	return true;
}

/* ---- records ------------------------------------------------------------- */

void vt_rec_figbase_set(struct vt_rec_figbase *base,
			const struct vt_figures *f)
{
	struct vt_metric *keep = base->f.metrics;
	size_t n = f ? nmetrics(f) : 0;

	base->have = false;
	if (!f)
		return;
	if (n > base->cap) {
		void *p = realloc(keep, n * sizeof(*keep));

		if (!p)
			return;
		keep = base->f.metrics = p;
		base->cap = n;
	}
	base->f = *f;
	base->f.metrics = keep;
	base->f.nmetrics = n;
	if (n)
		memcpy(keep, f->metrics, n * sizeof(*keep));
	base->have = true;
}

void vt_rec_figbase_free(struct vt_rec_figbase *base)
{
	free(base->f.metrics);
	*base = (struct vt_rec_figbase){ 0 };
}

/* The changed form: the numbers, then each metric whose values changed,
 * by its distance from the one after the last. */
static void changed_put(struct vt_rec_buf *b, const struct vt_figures *f,
			const struct vt_figures *was, size_t nchanged)
{
	size_t next = 0;

	vt_rec_put_u(b, FORM_CHANGED);
	scalars_put(b, f);
	vt_rec_put_u(b, nmetrics(f));
	vt_rec_put_u(b, nchanged);
	for (size_t i = 0; i < nmetrics(f); i++) {
		if (same_values(&f->metrics[i], &was->metrics[i]))
			continue;
		vt_rec_put_u(b, i - next);
		values_put(b, &f->metrics[i]);
		next = i + 1;
	}
}

/* The metric of was that m is, looked for after the last one found,
 * at m's own index, then anywhere; SIZE_MAX when new. */
static size_t was_find(const struct vt_figures *was, size_t i,
		       const struct vt_metric *m, size_t *last)
{
	size_t n = nmetrics(was), j = *last + 1;

	if (j >= n || !same_def(&was->metrics[j], m)) {
		j = i;
		if (j >= n || !same_def(&was->metrics[j], m))
			for (j = 0; j < n && !same_def(&was->metrics[j], m); j++)
				;
	}
	if (j == n)
		return SIZE_MAX;
	*last = j;
	return j;
}

/* The rebased form: the numbers, then each metric as the one of was it
 * is (its values when they changed), or whole when new. */
static void rebased_put(struct vt_rec_buf *b, const struct vt_figures *f,
			const struct vt_figures *was)
{
	size_t last = SIZE_MAX;

	vt_rec_put_u(b, FORM_REBASED);
	scalars_put(b, f);
	vt_rec_put_u(b, nmetrics(f));
	for (size_t i = 0; i < nmetrics(f); i++) {
		const struct vt_metric *m = &f->metrics[i];
		size_t j = was_find(was, i, m, &last);
		bool moved = j != SIZE_MAX && !same_values(m, &was->metrics[j]);

		if (j == SIZE_MAX) {
			vt_rec_put_u(b, 0);
			def_put(b, m);
		} else {
			vt_rec_put_u(b, 1 + 2 * (uint64_t)j + moved);
		}
		if (j == SIZE_MAX || moved)
			values_put(b, m);
	}
}

void vt_rec_figures(struct vt_rec_buf *b, struct vt_rec_figbase *base,
		    const struct vt_figures *f)
{
	const struct vt_figures *was = base->have ? &base->f : NULL;
	size_t start, nchanged = 0;
	bool changed = f && was && same_defs(f, was);

	if (!f && !was)
		return;
	for (size_t i = 0; changed && i < nmetrics(f); i++)
		nchanged += !same_values(&f->metrics[i], &was->metrics[i]);
	if (changed && !nchanged && same_scalars(f, was))
		return;
	start = vt_rec_begin(b, VT_REC_FIGURES);
	if (changed)
		changed_put(b, f, was, nchanged);
	else if (f && was)
		rebased_put(b, f, was);
	else
		vt_rec_figures_put(b, f);
	vt_rec_end(b, start);
	vt_rec_figbase_set(base, f);
}

/* ---- reading ------------------------------------------------------------- */

static void scalars_get(struct vt_rec_cur *c, struct vt_figures *f)
{
	f->have = (unsigned)vt_rec_get_max(c, HAVE_MASK);
	for (size_t i = 0; i < sizeof(spans) / sizeof(*spans); i++)
		for (size_t j = 0; j < spans[i].n; j++)
			span_at(f, i)[j] = vt_rec_get_u(c);
}

/* A string of at most size - 1 bytes, none of them NUL. */
static void str_get(struct vt_rec_cur *c, char *dst, size_t size)
{
	uint64_t n = vt_rec_get_max(c, size - 1);
	const uint8_t *p = vt_rec_get(c, n);

	if (!p || memchr(p, 0, n)) {
		c->bad = true;
		return;
	}
	memcpy(dst, p, n);
	dst[n] = 0;
}

static void def_get(struct vt_rec_cur *c, struct vt_metric *m)
{
	memset(m, 0, sizeof(*m));
	m->type = (enum vt_metric_type)vt_rec_get_max(c, VT_METRIC_HISTOGRAM);
	str_get(c, m->name, sizeof(m->name));
	m->nlabels = (unsigned)vt_rec_get_max(c, VT_METRIC_MAX_LABELS);
	for (unsigned i = 0; i < m->nlabels && !c->bad; i++) {
		str_get(c, m->labels[i].key, sizeof(m->labels[i].key));
		str_get(c, m->labels[i].value, sizeof(m->labels[i].value));
	}
	if (m->type != VT_METRIC_HISTOGRAM || c->bad)
		return;
	m->nbounds = (unsigned)vt_rec_get_max(c, VT_METRIC_MAX_BOUNDS);
	for (unsigned i = 0; i < m->nbounds && !c->bad; i++) {
		uint64_t v = vt_rec_get_u(c);

		memcpy(&m->bounds[i], &v, sizeof(v));
	}
}

/* The values of a metric whose type and bounds m has. */
static void values_get(struct vt_rec_cur *c, struct vt_metric *m)
{
	switch (m->type) {
	case VT_METRIC_COUNTER:
		m->counter = vt_rec_get_u(c);
		break;
	case VT_METRIC_GAUGE:
		m->gauge = vt_rec_get_s(c);
		break;
	case VT_METRIC_HISTOGRAM:
		m->count = vt_rec_get_u(c);
		m->sum_us = vt_rec_get_u(c);
		for (unsigned i = 0; i <= nbounds(m) && !c->bad; i++)
			m->buckets[i] = vt_rec_get_u(c);
		break;
	}
}

/* One metric of the rebased form: as the model's metric it names (its
 * values when they follow), or whole. */
static void rebased_get(struct vt_rec_cur *c, const struct vt_figures *was,
			struct vt_metric *m)
{
	uint64_t ref = vt_rec_get_u(c), j = (ref - 1) / 2;

	if (c->bad)
		return;
	if (!ref) {
		def_get(c, m);
	} else if (j >= was->nmetrics) {
		c->bad = true;
		return;
	} else {
		*m = was->metrics[j];
		if (!((ref - 1) & 1))
			return;
	}
	values_get(c, m);
}

/* Whole (was NULL) or rebased on the model's figures (was): every
 * metric, into new figures that replace the model's. The count is checked
 * against what the payload can hold before allocating. */
static void whole_get(struct vt_rec_cur *c, struct vt_state *s,
		      const struct vt_figures *head,
		      const struct vt_figures *was)
{
	uint64_t n = vt_rec_get_max(c, VT_REC_MAX_METRICS);
	size_t least = was ? 1 : MIN_METRIC;	/* bytes a metric takes */
	struct vt_figures *f;

	if (c->bad || n > (uint64_t)(c->end - c->p) / least ||
	    !(f = malloc(sizeof(*f)))) {
		c->bad = true;
		return;
	}
	*f = *head;
	f->nmetrics = 0;
	f->metrics = n ? calloc(n, sizeof(*f->metrics)) : NULL;
	if (n && !f->metrics) {
		free(f);
		c->bad = true;
		return;
	}
	for (uint64_t i = 0; i < n && !c->bad; i++) {
		if (was) {
			rebased_get(c, was, &f->metrics[i]);
			continue;
		}
		def_get(c, &f->metrics[i]);
		values_get(c, &f->metrics[i]);
	}
	if (c->bad || c->p != c->end) {	/* the section ends its payload */
		vt_figures_free(f);
		c->bad = true;
		return;
	}
	f->nmetrics = n;
	vt_state_figures_set(s, f);
}

/* The changed metrics' values, into f's metrics, or (f_into NULL) only
 * checked. */
static void changed_values(struct vt_rec_cur *c, const struct vt_figures *f,
			   uint64_t k, struct vt_figures *f_into)
{
	uint64_t next = 0;
	struct vt_metric scratch;

	for (uint64_t j = 0; j < k && !c->bad; j++) {
		uint64_t gap = vt_rec_get_u(c), i;
		struct vt_metric *m = &scratch;

		if (c->bad || gap >= f->nmetrics - next) {
			c->bad = true;
			return;
		}
		i = next + gap;
		next = i + 1;
		if (f_into)
			m = &f_into->metrics[i];
		else {
			scratch.type = f->metrics[i].type;
			scratch.nbounds = f->metrics[i].nbounds;
		}
		values_get(c, m);
	}
}

/* Changed: the model's figures, with the same metrics, get the numbers
 * and the values that changed; checked whole before any is applied. */
static void changed_get(struct vt_rec_cur *c, struct vt_state *s,
			struct vt_figures *head)
{
	struct vt_figures *cur = vt_state_figures_edit(s);
	uint64_t n = vt_rec_get_u(c), k;
	struct vt_rec_cur dry;

	if (c->bad || !cur || n != cur->nmetrics) {
		c->bad = true;
		return;
	}
	k = vt_rec_get_max(c, n);
	if (c->bad || k > (uint64_t)(c->end - c->p) / 2) {	/* 2 bytes each */
		c->bad = true;
		return;
	}
	dry = *c;
	changed_values(&dry, cur, k, NULL);
	if (dry.bad || dry.p != dry.end) {
		c->bad = true;
		return;
	}
	changed_values(c, cur, k, cur);
	head->nmetrics = cur->nmetrics;
	head->metrics = cur->metrics;
	*cur = *head;
}

void vt_rec_figures_get(struct vt_rec_cur *c, struct vt_state *s,
			bool changed_ok)
{
	struct vt_figures head = { 0 };
	uint64_t form = vt_rec_get_max(c, FORM_REBASED);

	if (c->bad || (form >= FORM_CHANGED && !changed_ok) ||
	    (form == FORM_REBASED && !vt_state_figures(s))) {
		c->bad = true;
		return;
	}
	if (form == FORM_NONE) {
		if (c->p != c->end)
			c->bad = true;
		else
			vt_state_figures_set(s, NULL);
		return;
	}
	scalars_get(c, &head);
	if (c->bad)
		return;
	if (form == FORM_CHANGED)
		changed_get(c, s, &head);
	else	/* the model's figures stay until the new ones are whole */
		whole_get(c, s, &head, form == FORM_REBASED
				       ? vt_state_figures(s) : NULL);
}
