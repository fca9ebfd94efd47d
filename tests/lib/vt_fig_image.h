/* A compact metrics registry, GC heap, interpreter counters and valk_sys,
 * laid out as the runtime's (member names and order; small arrays), and
 * their layout by offsetof: what test_figures reads in this process and
 * fuzz_figures maps as target memory. The symbols are the user's to set. */
#ifndef VT_FIG_IMAGE_H
#define VT_FIG_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "target/vt_layout.h"

#define NC 4	/* slots per family */
#define NL 8
#define NB 32

struct label { const char *key, *value; };
struct labelset { struct label labels[NL]; uint8_t count; uint32_t hash; };
struct counter {
	const char *name, *help;
	struct labelset labels;
	uint64_t value, last[4];
	bool active;
};
struct gauge {
	const char *name, *help;
	struct labelset labels;
	int64_t value;
	bool active;
};
struct hist {
	const char *name, *help;
	struct labelset labels;
	double bounds[NB];
	uint8_t nbounds;
	uint64_t buckets[NB + 1], count, sum;
	bool active;
};
struct summary { char centroids[200]; bool active; };
struct registry {
	struct counter counters[NC];
	uint64_t counter_count;
	struct gauge gauges[NC];
	uint64_t gauge_count;
	struct hist histograms[2];
	uint64_t histogram_count;
	struct summary summaries[2];
	uint64_t summary_count;
	uint32_t counter_free, counter_next[NC];
	uint32_t gauge_free, gauge_next[NC];
	uint32_t histogram_free, histogram_next[2];
	uint32_t summary_free, summary_next[2];
	uint64_t pool_count, evictions[5], start_us;
};
struct runtime_metrics {
	uint64_t cycles, pause_total, pause_max, reclaimed, allocated,
		before, last_reclaimed, pause[5], survival[4];
};
struct heap { uint64_t pad; struct runtime_metrics rm; };
struct vsys { struct heap *heap; };
struct eval {
	uint64_t evals, fcalls, bcalls;
	uint32_t depth, depth_max;
	uint64_t closures, lookups;
};
/* An AIO system's bundles: metrics_state points to them, they point into
 * the registry. */
struct aio_metrics { struct counter *total; struct gauge *active;
		     struct counter *failed; };
struct aio_stats { struct gauge *servers, *clients, *requests, *responses,
		   *capacity; };
struct mstate { void *heap, *scratch; struct aio_metrics *m;
		struct aio_stats *s; };
struct aiosys { char pad[24]; struct mstate *ms; };

#define SET(id, v) l->off[VT_L_##id] = (v)

/* Every offset, size and count of the figures, nothing else. */
static inline void vt_fig_layout(struct vt_layout *l)
{
	memset(l, 0, sizeof(*l));
	SET(REG_COUNTERS, offsetof(struct registry, counters));
	SET(REG_COUNTER_COUNT, offsetof(struct registry, counter_count));
	SET(REG_COUNTER_FREE, offsetof(struct registry, counter_free));
	SET(REG_COUNTER_NEXT, offsetof(struct registry, counter_next));
	SET(REG_GAUGES, offsetof(struct registry, gauges));
	SET(REG_GAUGE_COUNT, offsetof(struct registry, gauge_count));
	SET(REG_GAUGE_FREE, offsetof(struct registry, gauge_free));
	SET(REG_GAUGE_NEXT, offsetof(struct registry, gauge_next));
	SET(REG_HISTOGRAMS, offsetof(struct registry, histograms));
	SET(REG_HISTOGRAM_COUNT, offsetof(struct registry, histogram_count));
	SET(REG_HISTOGRAM_FREE, offsetof(struct registry, histogram_free));
	SET(REG_HISTOGRAM_NEXT, offsetof(struct registry, histogram_next));
	SET(REG_SUMMARIES, offsetof(struct registry, summaries));
	SET(REG_SUMMARY_COUNT, offsetof(struct registry, summary_count));
	SET(REG_SUMMARY_FREE, offsetof(struct registry, summary_free));
	SET(REG_SUMMARY_NEXT, offsetof(struct registry, summary_next));
	SET(REG_POOL_COUNT, offsetof(struct registry, pool_count));
	for (int i = 0; i < 5; i++)
		l->off[VT_L_REG_EVICTIONS + i] =
			offsetof(struct registry, evictions) + 8 * i;
	SET(REG_START, offsetof(struct registry, start_us));
	SET(COUNTER_SIZEOF, sizeof(struct counter));
	SET(COUNTER_NAME, offsetof(struct counter, name));
	SET(COUNTER_LABELS, offsetof(struct counter, labels));
	SET(COUNTER_VALUE, offsetof(struct counter, value));
	SET(COUNTER_ACTIVE, offsetof(struct counter, active));
	SET(GAUGE_SIZEOF, sizeof(struct gauge));
	SET(GAUGE_NAME, offsetof(struct gauge, name));
	SET(GAUGE_LABELS, offsetof(struct gauge, labels));
	SET(GAUGE_VALUE, offsetof(struct gauge, value));
	SET(GAUGE_ACTIVE, offsetof(struct gauge, active));
	SET(HIST_SIZEOF, sizeof(struct hist));
	SET(HIST_NAME, offsetof(struct hist, name));
	SET(HIST_LABELS, offsetof(struct hist, labels));
	SET(HIST_BOUNDS, offsetof(struct hist, bounds));
	SET(HIST_NBOUNDS, offsetof(struct hist, nbounds));
	SET(HIST_BUCKETS, offsetof(struct hist, buckets));
	SET(HIST_COUNT, offsetof(struct hist, count));
	SET(HIST_SUM, offsetof(struct hist, sum));
	SET(HIST_ACTIVE, offsetof(struct hist, active));
	SET(SUMMARY_SIZEOF, sizeof(struct summary));
	SET(SUMMARY_ACTIVE, offsetof(struct summary, active));
	SET(LABELSET_LABELS, offsetof(struct labelset, labels));
	SET(LABELSET_COUNT, offsetof(struct labelset, count));
	SET(LABEL_SIZEOF, sizeof(struct label));
	SET(LABEL_KEY, offsetof(struct label, key));
	SET(LABEL_VALUE, offsetof(struct label, value));
	SET(VSYS_HEAP, offsetof(struct vsys, heap));
	SET(SYS_METRICS_STATE, offsetof(struct aiosys, ms));
	SET(MSTATE_METRICS, offsetof(struct mstate, m));
	SET(MSTATE_STATS, offsetof(struct mstate, s));
	SET(AIOM_CONN_FAILED, offsetof(struct aio_metrics, failed));
	SET(STATS_PENDING_REQ, offsetof(struct aio_stats, requests));
	SET(STATS_PENDING_RESP, offsetof(struct aio_stats, responses));
	SET(STATS_QUEUE_CAP, offsetof(struct aio_stats, capacity));
	{
		static const size_t rm[] = {
			offsetof(struct runtime_metrics, cycles),
			offsetof(struct runtime_metrics, pause_total),
			offsetof(struct runtime_metrics, pause_max),
			offsetof(struct runtime_metrics, reclaimed),
			offsetof(struct runtime_metrics, allocated),
			offsetof(struct runtime_metrics, before),
			offsetof(struct runtime_metrics, last_reclaimed),
			offsetof(struct runtime_metrics, survival[0]),
			offsetof(struct runtime_metrics, survival[1]),
			offsetof(struct runtime_metrics, survival[2]),
			offsetof(struct runtime_metrics, survival[3]),
			offsetof(struct runtime_metrics, pause[0]),
			offsetof(struct runtime_metrics, pause[1]),
			offsetof(struct runtime_metrics, pause[2]),
			offsetof(struct runtime_metrics, pause[3]),
			offsetof(struct runtime_metrics, pause[4]),
		};
		for (int i = 0; i < 16; i++)	/* the layout's GC id order */
			l->off[VT_L_GC_CYCLES + i] = offsetof(struct heap, rm) + rm[i];
	}
	SET(EVAL_EVALS, offsetof(struct eval, evals));
	SET(EVAL_FUNCTION_CALLS, offsetof(struct eval, fcalls));
	SET(EVAL_BUILTIN_CALLS, offsetof(struct eval, bcalls));
	SET(EVAL_STACK_MAX, offsetof(struct eval, depth_max));
	SET(EVAL_CLOSURES, offsetof(struct eval, closures));
	SET(EVAL_LOOKUPS, offsetof(struct eval, lookups));
	l->count[VT_LC_N_COUNTERS] = NC;
	l->count[VT_LC_N_GAUGES] = NC;
	l->count[VT_LC_N_HISTOGRAMS] = 2;
	l->count[VT_LC_N_SUMMARIES] = 2;
	l->count[VT_LC_N_STRING_POOL] = 4096;
	l->count[VT_LC_N_LABELS] = NL;
	l->count[VT_LC_N_HIST_BOUNDS] = NB;
}

#undef SET
#endif /* VT_FIG_IMAGE_H */
