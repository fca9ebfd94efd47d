/* vt_budget: what the probes cost the target, estimated every second from
 * their hit counts and what a hit of each costs on this machine, as a
 * share of the target's CPU time (of one core when it used less), against
 * --max-overhead. Over budget, the per-operation probes come off the
 * target (the session then reads the slabs every tick); once the rate the
 * slabs' own counters show, priced at what those probes cost per slab
 * operation while they were on, would fit again, they go back on. Pure logic:
 * the session feeds it counts and clocks. */
#ifndef VT_BUDGET_H
#define VT_BUDGET_H

#include <stdbool.h>
#include <stdint.h>

#include <linux/types.h>

#include "bpf/valk_trace.h"

/* The probes that fire once per operation: slab acquire and release.
 * What they report is read from memory every tick while they are off. */
#define VT_BUDGET_SLAB_PROBES                                              \
	((1u << VT_P_ACQUIRE_ENTRY) | (1u << VT_P_ACQUIRE_RET) |           \
	 (1u << VT_P_RELEASE) | (1u << VT_P_RELEASE_PTR) |                 \
	 (1u << VT_P_ACQUIRE_POP) | (1u << VT_P_RELEASE_PUSH) |            \
	 (1u << VT_P_RELEASE_PTR_PUSH))

#define VT_BUDGET_WINDOW_MS 1000
#define VT_BUDGET_CALM 3	/* windows in a row that fit before re-attach */

struct vt_budget {
	double max_pct;			/* 0: unlimited */
	double hit_us[VT_P_COUNT];	/* what one hit of each probe costs */
	bool slabs_read;		/* the slab probes are off */
	double estimate_pct;		/* the probes on now, last window */
	double projected_pct;		/* with the slab probes on, last window */
	double op_us;			/* their cost per slab operation */
	unsigned calm;
	bool primed;
	uint64_t hits[VT_P_COUNT], ops[2], cpu_ns, ms;	/* window start */
};

enum vt_budget_act { VT_BUDGET_KEEP, VT_BUDGET_DETACH, VT_BUDGET_ATTACH };

void vt_budget_init(struct vt_budget *b, double max_pct,
		    const double hit_us[VT_P_COUNT]);

/* One look at the counters: hits per probe (cumulative), the slabs'
 * acquire and release counters (cumulative, summed), the target's CPU
 * time, the clock. Says what to do with the slab probes; the caller does
 * it and reports DETACH/ATTACH done with vt_budget_done. */
enum vt_budget_act vt_budget_tick(struct vt_budget *b,
				  const uint64_t hits[VT_P_COUNT],
				  uint64_t acquires, uint64_t releases,
				  uint64_t cpu_ns, uint64_t now_ms);
void vt_budget_done(struct vt_budget *b, enum vt_budget_act act);

#endif /* VT_BUDGET_H */
