/* vt_budget: windows of counts → an overhead estimate → a decision. */
#include <string.h>

#include "cli/vt_budget.h"

void vt_budget_init(struct vt_budget *b, double max_pct,
		    const double hit_us[VT_P_COUNT])
{
	memset(b, 0, sizeof(*b));
	b->max_pct = max_pct;
	memcpy(b->hit_us, hit_us, sizeof(b->hit_us));
	/* until a window measures it: an acquire pays its entry and return
	 * or its CAS site, a release its probe; half of each per operation
	 * (a probe the target does not have costs 0) */
	b->op_us = (hit_us[VT_P_ACQUIRE_ENTRY] + hit_us[VT_P_ACQUIRE_RET] +
		    hit_us[VT_P_ACQUIRE_POP] + hit_us[VT_P_RELEASE] +
		    hit_us[VT_P_RELEASE_PUSH]) / 2;
}

/* The share of the target's CPU that added_us of probe work is, when cpu
 * (ns) already includes it; of one core when the target used less than
 * that over the window (wall, ns), so that a nearly idle target is not
 * "over budget" for microseconds of probe work. */
static double share_pct(double added_us, double cpu_ns, double wall_ns)
{
	double base = cpu_ns > wall_ns ? cpu_ns : wall_ns;
	double pct = base > 0 ? 100.0 * added_us * 1e3 / base : 0;

	return pct > 100 ? 100 : pct;
}

static void restart(struct vt_budget *b, const uint64_t hits[VT_P_COUNT],
		    uint64_t acquires, uint64_t releases, uint64_t cpu_ns,
		    uint64_t now_ms)
{
	memcpy(b->hits, hits, sizeof(b->hits));
	b->ops[0] = acquires;
	b->ops[1] = releases;
	b->cpu_ns = cpu_ns;
	b->ms = now_ms;
	b->primed = true;
}

enum vt_budget_act vt_budget_tick(struct vt_budget *b,
				  const uint64_t hits[VT_P_COUNT],
				  uint64_t acquires, uint64_t releases,
				  uint64_t cpu_ns, uint64_t now_ms)
{
	double added = 0, op_added = 0, slab_added, cpu, wall;
	uint64_t ops;

	if (!b->primed || now_ms < b->ms || cpu_ns < b->cpu_ns ||
	    acquires < b->ops[0] || releases < b->ops[1]) {
		restart(b, hits, acquires, releases, cpu_ns, now_ms);
		return VT_BUDGET_KEEP;
	}
	if (now_ms - b->ms < VT_BUDGET_WINDOW_MS)
		return VT_BUDGET_KEEP;
	for (int i = 0; i < VT_P_COUNT; i++) {
		double us = hits[i] >= b->hits[i]
			    ? (double)(hits[i] - b->hits[i]) * b->hit_us[i] : 0;

		added += us;
		if (VT_BUDGET_SLAB_PROBES >> i & 1)
			op_added += us;
	}
	ops = (acquires - b->ops[0]) + (releases - b->ops[1]);
	/* while the probes are on, learn what they cost per slab operation;
	 * while off, the slabs' own counters say how many there were */
	if (!b->slabs_read && ops > 0)
		b->op_us = op_added / (double)ops;
	slab_added = (double)ops * b->op_us;
	cpu = (double)(cpu_ns - b->cpu_ns);
	wall = (double)(now_ms - b->ms) * 1e6;
	b->estimate_pct = share_pct(added, cpu, wall);
	/* with the slab probes off their cost is not in the target's CPU */
	b->projected_pct = b->slabs_read
			   ? share_pct(added + slab_added,
				       cpu + slab_added * 1e3, wall)
			   : b->estimate_pct;
	restart(b, hits, acquires, releases, cpu_ns, now_ms);
	if (b->max_pct <= 0)
		return VT_BUDGET_KEEP;
	if (!b->slabs_read)
		return b->estimate_pct > b->max_pct ? VT_BUDGET_DETACH
						    : VT_BUDGET_KEEP;
	/* back on only with room to spare, for a while */
	b->calm = b->projected_pct < b->max_pct / 2 ? b->calm + 1 : 0;
	return b->calm >= VT_BUDGET_CALM ? VT_BUDGET_ATTACH : VT_BUDGET_KEEP;
}

void vt_budget_done(struct vt_budget *b, enum vt_budget_act act)
{
	if (act == VT_BUDGET_DETACH)
		b->slabs_read = true;
	else if (act == VT_BUDGET_ATTACH)
		b->slabs_read = false;
	b->calm = 0;
}
