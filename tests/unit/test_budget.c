/* vt_budget: the overhead estimate from counts and clocks, and when the
 * slab probes come off and go back on. */
#include "cli/vt_budget.h"
#include "vt_test.h"

static uint64_t hits[VT_P_COUNT];

/* One window of 1 s: n acquires and n releases, all probed when probed,
 * and cpu_ms of target CPU. */
static enum vt_budget_act window(struct vt_budget *b, uint64_t *now,
				 uint64_t *cpu, uint64_t *ops, uint64_t n,
				 uint64_t cpu_ms)
{
	if (!b->slabs_read) {
		hits[VT_P_ACQUIRE_ENTRY] += n;
		hits[VT_P_ACQUIRE_RET] += n;
		hits[VT_P_RELEASE] += n;
	}
	*ops += n;
	*now += 1000;
	*cpu += cpu_ms * 1000000;
	return vt_budget_tick(b, hits, *ops, *ops, *cpu, *now);
}

static void test_estimate_and_detach(void)
{
	double us[VT_P_COUNT] = { 0 };
	struct vt_budget b;
	uint64_t now = 5000, cpu = 0, ops = 0;

	us[VT_P_ACQUIRE_ENTRY] = 1.0;
	us[VT_P_ACQUIRE_RET] = 0.5;
	us[VT_P_RELEASE] = 1.0;
	vt_budget_init(&b, 5, us);
	/* the first look only starts the window */
	CHECK_EQ_U64(vt_budget_tick(&b, hits, 0, 0, 0, now), VT_BUDGET_KEEP);
	/* half a window: nothing decided yet */
	CHECK_EQ_U64(vt_budget_tick(&b, hits, 0, 0, 0, now + 500),
		     VT_BUDGET_KEEP);
	/* 10,000 ops of 2.5 us in 1 s of CPU: 2.5 % */
	CHECK_EQ_U64(window(&b, &now, &cpu, &ops, 10000, 1000), VT_BUDGET_KEEP);
	CHECK(b.estimate_pct > 2.49 && b.estimate_pct < 2.51);
	/* 100,000 ops in 1 s: 25 % */
	CHECK_EQ_U64(window(&b, &now, &cpu, &ops, 100000, 1000), VT_BUDGET_DETACH);
	CHECK(b.estimate_pct > 24.9 && b.estimate_pct < 25.1);
	vt_budget_done(&b, VT_BUDGET_DETACH);
	CHECK(b.slabs_read);
	/* detached, the same rate: projected from the slab counters, with
	 * the probes' cost added to the CPU it is a share of */
	CHECK_EQ_U64(window(&b, &now, &cpu, &ops, 100000, 750), VT_BUDGET_KEEP);
	CHECK(b.projected_pct > 24.9 && b.projected_pct < 25.1);
	CHECK(b.estimate_pct < 0.01);
	/* back on after three calm windows (< half the budget) in a row */
	CHECK_EQ_U64(window(&b, &now, &cpu, &ops, 1000, 1000), VT_BUDGET_KEEP);
	CHECK_EQ_U64(window(&b, &now, &cpu, &ops, 1000, 1000), VT_BUDGET_KEEP);
	/* a busy window starts the count again */
	CHECK_EQ_U64(window(&b, &now, &cpu, &ops, 100000, 750), VT_BUDGET_KEEP);
	CHECK_EQ_U64(window(&b, &now, &cpu, &ops, 1000, 1000), VT_BUDGET_KEEP);
	CHECK_EQ_U64(window(&b, &now, &cpu, &ops, 1000, 1000), VT_BUDGET_KEEP);
	CHECK_EQ_U64(window(&b, &now, &cpu, &ops, 1000, 1000), VT_BUDGET_ATTACH);
	vt_budget_done(&b, VT_BUDGET_ATTACH);
	CHECK(!b.slabs_read);
}

static void test_unlimited_and_resets(void)
{
	double us[VT_P_COUNT] = { 0 };
	struct vt_budget b;
	uint64_t now = 0, cpu = 0, ops = 0;

	us[VT_P_ACQUIRE_ENTRY] = 10;
	vt_budget_init(&b, 0, us);
	vt_budget_tick(&b, hits, ops, ops, cpu, now);
	/* 100 % and more, but no budget */
	CHECK_EQ_U64(window(&b, &now, &cpu, &ops, 100000, 1000), VT_BUDGET_KEEP);
	CHECK(b.estimate_pct == 100);
	/* counters that go back (a new slab set, a restarted target) restart
	 * the window instead of producing a huge delta */
	CHECK_EQ_U64(vt_budget_tick(&b, hits, 0, 0, 0, now + 1000),
		     VT_BUDGET_KEEP);
	/* a nearly idle target: 100 us of probes in a second is 0.01 % of a
	 * core, not 100 % of its 0 ms of CPU */
	vt_budget_init(&b, 5, us);
	vt_budget_tick(&b, hits, ops, ops, cpu, now);
	CHECK_EQ_U64(window(&b, &now, &cpu, &ops, 10, 0), VT_BUDGET_KEEP);
	CHECK(b.estimate_pct > 0.009 && b.estimate_pct < 0.011);
}

int main(void)
{
	test_estimate_and_detach();
	test_unlimited_and_resets();
	return vt_test_done("test_budget");
}
