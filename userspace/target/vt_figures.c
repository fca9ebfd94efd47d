#include "target/vt_figures.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "target/vt_mem.h"

#define ELEM_MAX (64u << 10)	/* no metric struct is larger */
#define FAMILY_MAX (1u << 16)	/* slots per family read at most */
#define FAMILY_BYTES (16u << 20)	/* and bytes */
#define STR_CACHE 8192		/* interned strings remembered (power of 2) */
#define PAGE 4096u

/* Registry strings are interned for the life of the process: each address
 * is read once. */
struct str_entry {
	uint64_t addr;
	char s[VT_METRIC_NAME_LEN];
};

struct vt_figures_reader {
	const struct vt_mem *mem;
	const struct vt_layout *l;
	uint64_t sym[VT_LS_COUNT];	/* runtime addresses, or ABSENT */
	struct str_entry *cache;	/* open addressing, addr 0 = empty */
	size_t ncached;
	uint8_t *buf;			/* one family's elements */
	size_t cap;
};

#define OFF(r, id) ((r)->l->off[VT_L_##id])
#define HAVE(r, id) ((r)->l->off[VT_L_##id] != VT_LAYOUT_ABSENT)

struct vt_figures_reader *vt_figures_reader_new(const struct vt_target *t,
						const struct vt_mem *mem,
						const struct vt_layout *l)
{
	struct vt_figures_reader *r = calloc(1, sizeof(*r));

	if (r && !(r->cache = calloc(STR_CACHE, sizeof(*r->cache)))) {
		free(r);
		return NULL;
	}
	if (!r)
		return NULL;
	r->mem = mem;
	r->l = l;
	for (size_t i = 0; i < VT_LS_COUNT; i++)
		r->sym[i] = l->sym[i] == VT_LAYOUT_ABSENT
				    ? VT_LAYOUT_ABSENT
				    : vt_target_addr(t, vt_layout_symbols[i],
						     l->sym[i]);
	return r;
}

void vt_figures_reader_free(struct vt_figures_reader *r)
{
	if (!r)
		return;
	free(r->cache);
	free(r->buf);
	free(r);
}

static uint64_t get(const uint8_t *buf, uint64_t off, size_t width)
{
	uint64_t v = 0;

	memcpy(&v, buf + off, width);	/* little endian, as the target */
	return v;
}

/* ---- strings ------------------------------------------------------------ */

static struct str_entry *str_slot(struct vt_figures_reader *r, uint64_t addr)
{
	size_t i = (addr >> 3) * 0x9E3779B97F4A7C15ull >> 51;

	while (r->cache[i].addr && r->cache[i].addr != addr)
		i = (i + 1) & (STR_CACHE - 1);
	return &r->cache[i];
}

/* Printable ASCII only: a document never carries what a corrupt or hostile
 * target put there. */
static void str_clean(char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len && s[i]; i++)
		if (s[i] < 0x20 || s[i] > 0x7e || s[i] == '"' || s[i] == '\\')
			s[i] = '?';
	s[i < len ? i : len - 1] = '\0';
}

/* One read up to the end of the page (a string may end just before an
 * unmapped one); a string that runs on is read on from the next page. */
static void str_read(struct vt_figures_reader *r, uint64_t addr, char *out)
{
	size_t room = PAGE - (addr & (PAGE - 1)), len = VT_METRIC_NAME_LEN;

	memset(out, 0, VT_METRIC_NAME_LEN);
	if (room < len && vt_mem_read(r->mem, addr, out, room) == 0) {
		/* ended in its page, or read on (cut where memory ends) */
		if (!memchr(out, 0, room) &&
		    vt_mem_read(r->mem, addr + room, out + room, len - room))
			out[room] = '\0';
	} else if (vt_mem_read(r->mem, addr, out, len)) {
		out[0] = '\0';
	}
	str_clean(out, len);
}

static const char *str_get(struct vt_figures_reader *r, uint64_t addr)
{
	struct str_entry *e;

	if (!addr)
		return "";
	e = str_slot(r, addr);
	if (e->addr)
		return e->s;
	if (r->ncached >= STR_CACHE * 3 / 4) {
		memset(r->cache, 0, STR_CACHE * sizeof(*r->cache));
		r->ncached = 0;
		e = str_slot(r, addr);
	}
	str_read(r, addr, e->s);
	e->addr = addr;
	r->ncached++;
	return e->s;
}

static void str_copy(char *dst, size_t len, const char *src)
{
	snprintf(dst, len, "%s", src);
}

/* ---- the registry ------------------------------------------------------- */

static uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

/* A member of `width` bytes at `off` lies inside `size` bytes. */
static bool fits(uint64_t off, uint64_t width, uint64_t size)
{
	return off <= size && width <= size - off;
}

static unsigned nlabels_max(const struct vt_figures_reader *r)
{
	return (unsigned)min_u64(r->l->count[VT_LC_N_LABELS], VT_METRIC_MAX_LABELS);
}

static unsigned nbounds_max(const struct vt_figures_reader *r)
{
	return (unsigned)min_u64(r->l->count[VT_LC_N_HIST_BOUNDS],
				 VT_METRIC_MAX_BOUNDS);
}

/* A metric's name, labels and active flag inside an element of `size`. */
static bool metric_fits(const struct vt_figures_reader *r, uint64_t size,
			uint64_t name, uint64_t labels, uint64_t active)
{
	uint64_t set = OFF(r, LABELSET_LABELS) +
		       nlabels_max(r) * OFF(r, LABEL_SIZEOF);

	return size > 0 && size <= ELEM_MAX && fits(name, 8, size) &&
	       fits(active, 1, size) && fits(labels, set, size) &&
	       fits(labels + OFF(r, LABELSET_COUNT), 1, size);
}

/* Elements are parsed from a local buffer, and a layout file is as
 * untrusted as the target: every member read must lie inside its struct. */
static bool registry_geometry(const struct vt_figures_reader *r)
{
	uint64_t hs = OFF(r, HIST_SIZEOF), nb = nbounds_max(r);

	return fits(OFF(r, LABEL_KEY), 8, OFF(r, LABEL_SIZEOF)) &&
	       fits(OFF(r, LABEL_VALUE), 8, OFF(r, LABEL_SIZEOF)) &&
	       metric_fits(r, OFF(r, COUNTER_SIZEOF), OFF(r, COUNTER_NAME),
			   OFF(r, COUNTER_LABELS), OFF(r, COUNTER_ACTIVE)) &&
	       fits(OFF(r, COUNTER_VALUE), 8, OFF(r, COUNTER_SIZEOF)) &&
	       metric_fits(r, OFF(r, GAUGE_SIZEOF), OFF(r, GAUGE_NAME),
			   OFF(r, GAUGE_LABELS), OFF(r, GAUGE_ACTIVE)) &&
	       fits(OFF(r, GAUGE_VALUE), 8, OFF(r, GAUGE_SIZEOF)) &&
	       metric_fits(r, hs, OFF(r, HIST_NAME), OFF(r, HIST_LABELS),
			   OFF(r, HIST_ACTIVE)) &&
	       fits(OFF(r, HIST_NBOUNDS), 1, hs) &&
	       fits(OFF(r, HIST_BOUNDS), 8 * nb, hs) &&
	       fits(OFF(r, HIST_BUCKETS), 8 * (nb + 1), hs) &&
	       fits(OFF(r, HIST_COUNT), 8, hs) && fits(OFF(r, HIST_SUM), 8, hs) &&
	       OFF(r, SUMMARY_SIZEOF) > 0 && OFF(r, SUMMARY_SIZEOF) <= ELEM_MAX &&
	       fits(OFF(r, SUMMARY_ACTIVE), 1, OFF(r, SUMMARY_SIZEOF));
}

static bool have_registry(const struct vt_figures_reader *r)
{
	const struct vt_layout *l = r->l;

	for (size_t i = VT_L_REG_COUNTERS; i <= VT_L_LABEL_VALUE; i++)
		if (l->off[i] == VT_LAYOUT_ABSENT)
			return false;
	for (size_t i = VT_LC_N_COUNTERS; i <= VT_LC_N_HIST_BOUNDS; i++)
		if (l->count[i] == VT_LAYOUT_ABSENT)
			return false;
	return r->sym[VT_LS_G_METRICS] != VT_LAYOUT_ABSENT &&
	       registry_geometry(r);
}

/* Where one family lives in valk_metrics_registry_t. */
struct family {
	enum vt_layout_id arr, count, head, next;
	enum vt_layout_count_id cap;
	enum vt_layout_id size, name, labels, active;
	enum vt_metric_type type;
};

static const struct family families[VT_FAMS] = {
	[VT_FAM_COUNTERS] = {VT_L_REG_COUNTERS, VT_L_REG_COUNTER_COUNT,
			     VT_L_REG_COUNTER_FREE, VT_L_REG_COUNTER_NEXT,
			     VT_LC_N_COUNTERS, VT_L_COUNTER_SIZEOF,
			     VT_L_COUNTER_NAME, VT_L_COUNTER_LABELS,
			     VT_L_COUNTER_ACTIVE, VT_METRIC_COUNTER},
	[VT_FAM_GAUGES] = {VT_L_REG_GAUGES, VT_L_REG_GAUGE_COUNT,
			   VT_L_REG_GAUGE_FREE, VT_L_REG_GAUGE_NEXT,
			   VT_LC_N_GAUGES, VT_L_GAUGE_SIZEOF, VT_L_GAUGE_NAME,
			   VT_L_GAUGE_LABELS, VT_L_GAUGE_ACTIVE,
			   VT_METRIC_GAUGE},
	[VT_FAM_HISTOGRAMS] = {VT_L_REG_HISTOGRAMS, VT_L_REG_HISTOGRAM_COUNT,
			       VT_L_REG_HISTOGRAM_FREE,
			       VT_L_REG_HISTOGRAM_NEXT, VT_LC_N_HISTOGRAMS,
			       VT_L_HIST_SIZEOF, VT_L_HIST_NAME,
			       VT_L_HIST_LABELS, VT_L_HIST_ACTIVE,
			       VT_METRIC_HISTOGRAM},
	/* summaries count in the meta-stats only: the runtime exports none */
	[VT_FAM_SUMMARIES] = {VT_L_REG_SUMMARIES, VT_L_REG_SUMMARY_COUNT,
			      VT_L_REG_SUMMARY_FREE, VT_L_REG_SUMMARY_NEXT,
			      VT_LC_N_SUMMARIES, VT_L_SUMMARY_SIZEOF,
			      VT_L_REG_SUMMARIES, VT_L_REG_SUMMARIES,
			      VT_L_SUMMARY_ACTIVE, VT_METRIC_COUNTER},
};

static void read_labels(struct vt_figures_reader *r, const uint8_t *ls,
			struct vt_metric *m)
{
	uint64_t n = get(ls, OFF(r, LABELSET_COUNT), 1);

	m->nlabels = (unsigned)min_u64(n, nlabels_max(r));
	for (unsigned i = 0; i < m->nlabels; i++) {
		const uint8_t *lb = ls + OFF(r, LABELSET_LABELS) +
				    i * OFF(r, LABEL_SIZEOF);

		str_copy(m->labels[i].key, sizeof(m->labels[i].key),
			 str_get(r, get(lb, OFF(r, LABEL_KEY), 8)));
		str_copy(m->labels[i].value, sizeof(m->labels[i].value),
			 str_get(r, get(lb, OFF(r, LABEL_VALUE), 8)));
	}
}

static void read_histogram(struct vt_figures_reader *r, const uint8_t *e,
			   struct vt_metric *m)
{
	uint64_t n = get(e, OFF(r, HIST_NBOUNDS), 1);

	m->nbounds = (unsigned)min_u64(n, nbounds_max(r));
	for (unsigned b = 0; b < m->nbounds; b++)
		memcpy(&m->bounds[b], e + OFF(r, HIST_BOUNDS) + 8 * b, 8);
	for (unsigned b = 0; b <= m->nbounds; b++)
		m->buckets[b] = get(e, OFF(r, HIST_BUCKETS) + 8 * b, 8);
	m->count = get(e, OFF(r, HIST_COUNT), 8);
	m->sum_us = get(e, OFF(r, HIST_SUM), 8);
}

static int grow(struct vt_figures_reader *r, size_t len)
{
	uint8_t *b;

	if (len <= r->cap)
		return 0;
	if (!(b = realloc(r->buf, len)))
		return -1;
	r->buf = b;
	r->cap = len;
	return 0;
}

/* The free list's depth, walked over the next_free array as read. */
static uint64_t free_depth(struct vt_figures_reader *r, uint64_t base,
			   const struct family *fam, uint64_t cap)
{
	uint32_t head, *next;
	uint64_t n = 0;

	if (vt_mem_u32(r->mem, base + r->l->off[fam->head], &head) ||
	    grow(r, cap * 4) ||
	    vt_mem_read(r->mem, base + r->l->off[fam->next], r->buf, cap * 4))
		return 0;
	next = (uint32_t *)r->buf;
	for (; head < cap && n < cap; head = next[head])
		n++;
	return n;
}

/* One family: its meta-stats and, but for summaries, its active metrics
 * appended to f->metrics. */
static int read_family(struct vt_figures_reader *r, uint64_t base, int k,
		       struct vt_figures *f, size_t *room)
{
	const struct family *fam = &families[k];
	const struct vt_layout *l = r->l;
	struct vt_metric_family *st = &f->fam[k];
	uint64_t size = l->off[fam->size], hwm;

	st->capacity = min_u64(l->count[fam->cap], FAMILY_MAX);
	if (vt_mem_u64(r->mem, base + l->off[fam->count], &hwm))
		return -1;
	st->hwm = min_u64(hwm, st->capacity);
	st->free = free_depth(r, base, fam, st->capacity);
	if (st->hwm * size > FAMILY_BYTES || grow(r, st->hwm * size) ||
	    vt_mem_read(r->mem, base + l->off[fam->arr], r->buf, st->hwm * size))
		return -1;
	for (uint64_t i = 0; i < st->hwm; i++) {
		const uint8_t *e = r->buf + i * size;
		struct vt_metric *m;

		if (!get(e, l->off[fam->active], 1))
			continue;
		st->active++;
		if (k == VT_FAM_SUMMARIES)
			continue;
		if (f->nmetrics == *room) {
			size_t n = *room ? 2 * *room : 64;
			void *p = realloc(f->metrics, n * sizeof(*f->metrics));

			if (!p)
				return -1;
			f->metrics = p;
			*room = n;
		}
		m = &f->metrics[f->nmetrics++];
		memset(m, 0, sizeof(*m));
		m->type = fam->type;
		str_copy(m->name, sizeof(m->name),
			 str_get(r, get(e, l->off[fam->name], 8)));
		read_labels(r, e + l->off[fam->labels], m);
		if (k == VT_FAM_COUNTERS)
			m->counter = get(e, OFF(r, COUNTER_VALUE), 8);
		else if (k == VT_FAM_GAUGES)
			m->gauge = (int64_t)get(e, OFF(r, GAUGE_VALUE), 8);
		else
			read_histogram(r, e, m);
	}
	return 0;
}

/* An 8-byte field of a runtime struct and where it lands in the figures. */
struct fig_u64 {
	enum vt_layout_id id;
	size_t at;		/* offsetof(struct vt_figures, ...) */
};

#define FIG(id, field) { VT_L_##id, offsetof(struct vt_figures, field) }
#define NFIELDS(fl) (sizeof(fl) / sizeof(*(fl)))

/* Does this build's layout have all n fields? */
static bool have_all(const struct vt_figures_reader *r,
		     const struct fig_u64 *fl, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (r->l->off[fl[i].id] == VT_LAYOUT_ABSENT)
			return false;
	return true;
}

/* The n fields at base + their offsets, read in one batch into f. */
static int read_u64s(struct vt_figures_reader *r, uint64_t base,
		     const struct fig_u64 *fl, size_t n, struct vt_figures *f)
{
	struct vt_mem_span sp[24];

	for (size_t i = 0; i < n; i++) {
		uint64_t *out = (uint64_t *)((char *)f + fl[i].at);

		*out = 0;
		sp[i] = (struct vt_mem_span){base + r->l->off[fl[i].id], out, 8};
	}
	return vt_mem_readv(r->mem, sp, n, NULL);
}

static int read_registry(struct vt_figures_reader *r, struct vt_figures *f)
{
	static const struct fig_u64 ev[] = {
		FIG(REG_EVICTIONS, evictions[0]),
		FIG(REG_EVICT_COUNTERS, evictions[1]),
		FIG(REG_EVICT_GAUGES, evictions[2]),
		FIG(REG_EVICT_HISTOGRAMS, evictions[3]),
		FIG(REG_EVICT_SUMMARIES, evictions[4]),
	};
	uint64_t base = r->sym[VT_LS_G_METRICS];
	size_t room = 0;

	for (int k = 0; k < VT_FAMS; k++)
		if (read_family(r, base, k, f, &room))
			return -1;
	if (read_u64s(r, base, ev, NFIELDS(ev), f) ||
	    vt_mem_u64(r->mem, base + OFF(r, REG_POOL_COUNT), &f->pool_used) ||
	    vt_mem_u64(r->mem, base + OFF(r, REG_START), &f->start_us))
		return -1;
	f->pool_capacity = r->l->count[VT_LC_N_STRING_POOL];
	f->have |= VT_FIG_REGISTRY;
	return 0;
}

/* ---- GC, interpreter, libraries ------------------------------------------ */

static int read_gc(struct vt_figures_reader *r, struct vt_figures *f)
{
	static const struct fig_u64 fl[] = {
		FIG(GC_CYCLES, gc.cycles),
		FIG(GC_PAUSE_TOTAL, gc.pause_us_total),
		FIG(GC_PAUSE_MAX, gc.pause_us_max),
		FIG(GC_RECLAIMED, gc.reclaimed),
		FIG(GC_ALLOCATED, gc.allocated),
		FIG(GC_LAST_BEFORE, gc.last_before),
		FIG(GC_LAST_RECLAIMED, gc.last_reclaimed),
		FIG(GC_PAUSE_0_1, gc.pause[0]),
		FIG(GC_PAUSE_1_5, gc.pause[1]),
		FIG(GC_PAUSE_5_10, gc.pause[2]),
		FIG(GC_PAUSE_10_16, gc.pause[3]),
		FIG(GC_PAUSE_16, gc.pause[4]),
		FIG(GC_SURVIVAL_0, gc.survival[0]),
		FIG(GC_SURVIVAL_1_5, gc.survival[1]),
		FIG(GC_SURVIVAL_6_20, gc.survival[2]),
		FIG(GC_SURVIVAL_21, gc.survival[3]),
	};
	uint64_t vsys, heap;

	if (!have_all(r, fl, NFIELDS(fl)))
		return 0;
	if (vt_mem_u64(r->mem, r->sym[VT_LS_VALK_SYS], &vsys) || !vsys ||
	    vt_mem_u64(r->mem, vsys + OFF(r, VSYS_HEAP), &heap) || !heap ||
	    read_u64s(r, heap, fl, NFIELDS(fl), f))
		return -1;
	f->have |= VT_FIG_GC;
	return 0;
}

static int read_eval(struct vt_figures_reader *r, struct vt_figures *f)
{
	static const struct fig_u64 fl[] = {
		FIG(EVAL_EVALS, eval.evals),
		FIG(EVAL_FUNCTION_CALLS, eval.function_calls),
		FIG(EVAL_BUILTIN_CALLS, eval.builtin_calls),
		FIG(EVAL_CLOSURES, eval.closures),
		FIG(EVAL_LOOKUPS, eval.lookups),
	};
	uint64_t base = r->sym[VT_LS_G_EVAL_METRICS];
	uint32_t stack;

	if (!have_all(r, fl, NFIELDS(fl)) || !HAVE(r, EVAL_STACK_MAX) ||
	    base == VT_LAYOUT_ABSENT)
		return 0;
	if (read_u64s(r, base, fl, NFIELDS(fl), f) ||
	    vt_mem_u32(r->mem, base + OFF(r, EVAL_STACK_MAX), &stack))
		return -1;
	f->eval.stack_max = stack;
	f->have |= VT_FIG_EVAL;
	return 0;
}

static void read_libs(struct vt_figures_reader *r, struct vt_figures *f)
{
	static const struct {
		enum vt_layout_sym_id sym;
		unsigned flag;
		size_t off;
	} libs[] = {
		{VT_LS_SSL_BYTES, VT_FIG_SSL, offsetof(struct vt_figures, ssl_bytes)},
		{VT_LS_NGHTTP2_BYTES, VT_FIG_NGHTTP2,
		 offsetof(struct vt_figures, nghttp2_bytes)},
		{VT_LS_LIBUV_BYTES, VT_FIG_LIBUV,
		 offsetof(struct vt_figures, libuv_bytes)},
	};

	for (size_t i = 0; i < sizeof(libs) / sizeof(*libs); i++) {
		uint64_t sym = r->sym[libs[i].sym];

		if (sym != VT_LAYOUT_ABSENT &&
		    !vt_mem_u64(r->mem, sym,
				(uint64_t *)((char *)f + libs[i].off)))
			f->have |= libs[i].flag;
	}
}

/* ---- the AIO system's bundles ------------------------------------------ */

/* One figure of a bundle: the bundle's pointer in valk_aio_metrics_state_t,
 * the metric's pointer in the bundle, its value in the metric. */
struct aio_fig {
	enum vt_layout_id bundle, member, value;
	size_t at;		/* offsetof(struct vt_figures, ...), 8 bytes */
};

#define AIO_FIG(b, m, v, field) \
	{ VT_L_MSTATE_##b, VT_L_##m, VT_L_##v, offsetof(struct vt_figures, aio.field) }

static const struct aio_fig aio_figs[] = {
	AIO_FIG(STATS, STATS_PENDING_REQ, GAUGE_VALUE, pending_requests),
	AIO_FIG(STATS, STATS_PENDING_RESP, GAUGE_VALUE, pending_responses),
	AIO_FIG(STATS, STATS_QUEUE_CAP, GAUGE_VALUE, queue_capacity),
	AIO_FIG(METRICS, AIOM_CONN_FAILED, COUNTER_VALUE, connections_failed),
};
#define N_AIO_FIGS (sizeof(aio_figs) / sizeof(*aio_figs))

/* System 0's queue and failed connections: through
 * sys->metrics_state to its bundles, to the registry's metrics they point
 * to. A bundle or metric not there (NULL) leaves them out. */
static int read_aio(struct vt_figures_reader *r, uint64_t sys,
		    struct vt_figures *f)
{
	struct vt_mem_span sp[N_AIO_FIGS];
	uint64_t ms, bundle[2], ptr[N_AIO_FIGS];

	if (!sys || !HAVE(r, MSTATE_METRICS) || !HAVE(r, MSTATE_STATS))
		return 0;
	for (size_t i = 0; i < N_AIO_FIGS; i++)
		if (r->l->off[aio_figs[i].member] == VT_LAYOUT_ABSENT ||
		    r->l->off[aio_figs[i].value] == VT_LAYOUT_ABSENT)
			return 0;
	if (vt_mem_u64(r->mem, sys + OFF(r, SYS_METRICS_STATE), &ms) || !ms ||
	    vt_mem_u64(r->mem, ms + OFF(r, MSTATE_STATS), &bundle[0]) ||
	    vt_mem_u64(r->mem, ms + OFF(r, MSTATE_METRICS), &bundle[1]))
		return -1;
	for (size_t i = 0; i < N_AIO_FIGS; i++) {
		uint64_t b = bundle[aio_figs[i].bundle == VT_L_MSTATE_METRICS];

		if (!b)
			return 0;
		sp[i] = (struct vt_mem_span){b + r->l->off[aio_figs[i].member],
					     &ptr[i], 8};
	}
	if (vt_mem_readv(r->mem, sp, N_AIO_FIGS, NULL))
		return -1;
	for (size_t i = 0; i < N_AIO_FIGS; i++) {
		if (!ptr[i])
			return 0;
		sp[i] = (struct vt_mem_span){ptr[i] + r->l->off[aio_figs[i].value],
					     (char *)f + aio_figs[i].at, 8};
	}
	if (vt_mem_readv(r->mem, sp, N_AIO_FIGS, NULL))
		return -1;
	f->have |= VT_FIG_AIO;
	return 0;
}

struct vt_figures *vt_figures_read(struct vt_figures_reader *r, uint64_t sys)
{
	struct vt_figures *f = calloc(1, sizeof(*f));

	if (!f)
		return NULL;
	errno = 0;
	if (have_registry(r) && read_registry(r, f)) {
		free(f->metrics);
		f->metrics = NULL;
		f->nmetrics = 0;
		f->have &= ~VT_FIG_REGISTRY;
	}
	if (errno != ESRCH)
		read_gc(r, f);
	if (errno != ESRCH)
		read_eval(r, f);
	if (errno != ESRCH)
		read_libs(r, f);
	if (errno != ESRCH)
		read_aio(r, sys, f);
	if (errno == ESRCH) {
		vt_figures_free(f);
		return NULL;
	}
	return f;
}
