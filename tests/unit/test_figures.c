/* vt_figures against a registry, GC heap and counters laid out in this
 * process (read through /proc/self/mem, with a layout made
 * here by offsetof): every figure as written, and what hostile memory or a
 * hostile layout cannot make it do — read out of bounds, run past a
 * capacity, loop on a free list, emit a control character. */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "target/vt_figures.h"
#include "tests/lib/vt_fig_image.h"
#include "vt_test.h"

static struct registry reg;
static struct aio_metrics aio_m;
static struct aio_stats aio_s;
static struct mstate mstate = { .m = &aio_m, .s = &aio_s };
static struct aiosys aiosys = { .ms = &mstate };
static struct heap heap;
static struct vsys vsys = { &heap };
static struct vsys *valk_sys_ptr = &vsys;
static struct eval ev;
static uint64_t ssl_bytes = 81920, ng_bytes = 40960;

static void layout(struct vt_layout *l, struct vt_target *t)
{
	memset(t, 0, sizeof(*t));
	t->pid = getpid();
	t->is_exe = true;
	vt_fig_layout(l);
	l->sym[VT_LS_VALK_SYS] = (uintptr_t)&valk_sys_ptr;
	l->sym[VT_LS_G_METRICS] = (uintptr_t)&reg;
	l->sym[VT_LS_G_EVAL_METRICS] = (uintptr_t)&ev;
	l->sym[VT_LS_SSL_BYTES] = (uintptr_t)&ssl_bytes;
	l->sym[VT_LS_NGHTTP2_BYTES] = (uintptr_t)&ng_bytes;
	l->sym[VT_LS_LIBUV_BYTES] = VT_LAYOUT_ABSENT;	/* a runtime without it */
}

static void fill(void)
{
	memset(&reg, 0, sizeof(reg));
	reg.counters[0] = (struct counter){ .name = "http_requests_total",
		.labels = { .labels = { { "server", "0.0.0.0" }, { "port", "8443" } },
			    .count = 2 }, .value = 1234, .active = true };
	reg.counters[1] = (struct counter){ .name = "evicted_total", .value = 9 };
	reg.counters[2] = (struct counter){ .name = "event_loop_iterations",
		.labels = { .labels = { { "loop", "main" } }, .count = 1 },
		.value = 77, .active = true };
	reg.counter_count = 3;
	reg.counter_free = 1;
	reg.counter_next[1] = UINT32_MAX;
	reg.gauges[0] = (struct gauge){ .name = "aio_pending_requests",
		.value = -3, .active = true };
	reg.gauge_count = 1;
	reg.gauge_free = reg.histogram_free = reg.summary_free = UINT32_MAX;
	reg.histograms[0] = (struct hist){ .name = "http_request_duration_seconds",
		.bounds = { 0.001, 0.01 }, .nbounds = 2,
		.buckets = { 5, 3, 1 }, .count = 9, .sum = 12345, .active = true };
	reg.histogram_count = 1;
	reg.summaries[0].active = true;
	reg.summary_count = 2;
	reg.pool_count = 11;
	reg.evictions[0] = reg.evictions[1] = 1;
	reg.start_us = 424242;
	heap.rm = (struct runtime_metrics){ .cycles = 4, .pause_total = 6000,
		.pause_max = 2500, .reclaimed = 1 << 20, .allocated = 3 << 20,
		.before = 1000, .last_reclaimed = 250, .pause = { 1, 3 },
		.survival = { 10, 5, 2, 1 } };
	ev = (struct eval){ .evals = 99, .fcalls = 7, .bcalls = 80,
			    .depth_max = 12, .closures = 3, .lookups = 400 };
}

static const struct vt_metric *find(const struct vt_figures *f, const char *name)
{
	for (size_t i = 0; i < f->nmetrics; i++)
		if (!strcmp(f->metrics[i].name, name))
			return &f->metrics[i];
	return NULL;
}

static void test_read(struct vt_figures_reader *r)
{
	struct vt_figures *f = vt_figures_read(r, 0);
	const struct vt_metric *m;

	CHECK(f != NULL);
	if (!f)
		return;
	CHECK_EQ_U64(f->have, VT_FIG_REGISTRY | VT_FIG_GC | VT_FIG_EVAL |
			      VT_FIG_SSL | VT_FIG_NGHTTP2);
	CHECK_EQ_U64(f->nmetrics, 4);	/* 2 counters, 1 gauge, 1 histogram */
	m = find(f, "http_requests_total");
	CHECK(m && m->type == VT_METRIC_COUNTER && m->counter == 1234 &&
	      m->nlabels == 2);
	if (m) {
		CHECK_STR(m->labels[1].key, "port");
		CHECK_STR(m->labels[1].value, "8443");
	}
	CHECK(find(f, "evicted_total") == NULL);	/* inactive: evicted */
	m = find(f, "aio_pending_requests");
	CHECK(m && m->type == VT_METRIC_GAUGE && m->gauge == -3);
	m = find(f, "http_request_duration_seconds");
	CHECK(m && m->nbounds == 2 && m->bounds[1] == 0.01 &&
	      m->buckets[2] == 1 && m->count == 9 && m->sum_us == 12345);
	CHECK_EQ_U64(f->fam[VT_FAM_COUNTERS].active, 2);
	CHECK_EQ_U64(f->fam[VT_FAM_COUNTERS].hwm, 3);
	CHECK_EQ_U64(f->fam[VT_FAM_COUNTERS].capacity, NC);
	CHECK_EQ_U64(f->fam[VT_FAM_COUNTERS].free, 1);
	CHECK_EQ_U64(f->fam[VT_FAM_SUMMARIES].active, 1);
	CHECK_EQ_U64(f->pool_used, 11);
	CHECK_EQ_U64(f->evictions[1], 1);
	CHECK_EQ_U64(f->start_us, 424242);
	CHECK_EQ_U64(f->gc.cycles, 4);
	CHECK_EQ_U64(f->gc.pause_us_max, 2500);
	CHECK_EQ_U64(f->gc.pause[1], 3);
	CHECK_EQ_U64(f->gc.survival[3], 1);
	CHECK_EQ_U64(f->gc.last_reclaimed, 250);
	CHECK_EQ_U64(f->eval.stack_max, 12);
	CHECK_EQ_U64(f->eval.lookups, 400);
	CHECK_EQ_U64(f->ssl_bytes, 81920);
	CHECK_EQ_U64(f->nghttp2_bytes, 40960);
	vt_figures_free(f);
}

/* System 0's queue and failed connections, through its bundles to the
 * registry's gauges and counter; a bundle not made yet leaves them out. */
static void test_aio(struct vt_figures_reader *r)
{
	struct vt_figures *f;

	fill();
	aio_m = (struct aio_metrics){ &reg.counters[2], &reg.gauges[0],
				      &reg.counters[0] };
	aio_s = (struct aio_stats){ .requests = &reg.gauges[0],
				    .responses = &reg.gauges[1],
				    .capacity = &reg.gauges[2] };
	reg.gauges[1].value = 5;
	reg.gauges[2].value = 2048;
	f = vt_figures_read(r, (uintptr_t)&aiosys);
	CHECK(f && (f->have & VT_FIG_AIO));
	if (f) {
		CHECK(f->aio.pending_requests == -3);
		CHECK(f->aio.pending_responses == 5);
		CHECK(f->aio.queue_capacity == 2048);
		CHECK_EQ_U64(f->aio.connections_failed, 1234);
	}
	vt_figures_free(f);
	f = vt_figures_read(r, 0);	/* no system */
	CHECK(f && !(f->have & VT_FIG_AIO));
	vt_figures_free(f);
	mstate.m = NULL;	/* a bundle not there */
	f = vt_figures_read(r, (uintptr_t)&aiosys);
	CHECK(f && !(f->have & VT_FIG_AIO) && (f->have & VT_FIG_REGISTRY));
	vt_figures_free(f);
	mstate.m = &aio_m;
}

/* Memory a hostile or corrupt runtime could hold. */
static void test_hostile_memory(struct vt_figures_reader *r, char *unmapped)
{
	struct vt_figures *f;
	const struct vt_metric *m;
	static char evil[] = "a\"b\\c\x01\xff";

	fill();
	reg.counter_count = 1000000000;	/* past every capacity */
	reg.counters[0].labels.count = 200;	/* past the label array */
	reg.counters[0].labels.labels[0].value = evil;
	reg.counters[2].name = unmapped;	/* a string that is not there */
	reg.counter_free = 0;			/* a free list in a cycle */
	reg.counter_next[0] = 1;
	reg.counter_next[1] = 0;
	reg.histograms[0].nbounds = 250;
	f = vt_figures_read(r, 0);
	CHECK(f && (f->have & VT_FIG_REGISTRY));
	if (!f)
		return;
	CHECK_EQ_U64(f->fam[VT_FAM_COUNTERS].hwm, NC);
	CHECK(f->fam[VT_FAM_COUNTERS].free <= NC);
	m = find(f, "http_requests_total");
	CHECK(m && m->nlabels == NL);
	if (m)
		CHECK_STR(m->labels[0].value, "a?b?c??");
	CHECK(find(f, "") != NULL);	/* the unreadable name is empty */
	m = find(f, "http_request_duration_seconds");
	CHECK(m && m->nbounds == NB);
	vt_figures_free(f);
}

/* Strings at the end of the memory they lie in: one that ends there is
 * read whole, one that runs on is cut where memory ends. */
static const char *edge_name(const struct vt_target *t, const struct vt_mem *m,
			     const struct vt_layout *l, char *at,
			     const char *bytes, size_t n)
{
	static char got[VT_METRIC_NAME_LEN];
	struct vt_figures_reader *r = vt_figures_reader_new(t, m, l);
	struct vt_figures *f;

	memcpy(at - n, bytes, n);
	fill();
	reg.counters[0].name = at - n;
	f = r ? vt_figures_read(r, 0) : NULL;
	snprintf(got, sizeof(got), "%s", f && f->nmetrics ? f->metrics[0].name
							   : "(none)");
	vt_figures_free(f);
	vt_figures_reader_free(r);
	return got;
}

static void test_page_edge(const struct vt_target *t, const struct vt_mem *m,
			   const struct vt_layout *l)
{
	char *p = mmap(NULL, 8192, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	CHECK(p != MAP_FAILED);
	if (p == MAP_FAILED)
		return;
	munmap(p + 4096, 4096);	/* nothing mapped after the first page */
	CHECK_STR(edge_name(t, m, l, p + 4096, "edge_name", 10), "edge_name");
	CHECK_STR(edge_name(t, m, l, p + 4096, "runs_on", 7), "runs_on");
	munmap(p, 4096);
}

/* A layout file as untrusted as memory: a member placed past its struct
 * leaves the registry out (and nothing else). */
static void test_hostile_layout(const struct vt_target *t,
				const struct vt_mem *m, struct vt_layout *l)
{
	struct vt_figures_reader *r;
	struct vt_figures *f;

	fill();
	l->off[VT_L_COUNTER_VALUE] = sizeof(struct counter) - 4;
	r = vt_figures_reader_new(t, m, l);
	f = r ? vt_figures_read(r, 0) : NULL;
	CHECK(f && !(f->have & VT_FIG_REGISTRY) && (f->have & VT_FIG_GC) &&
	      f->nmetrics == 0);
	vt_figures_free(f);
	vt_figures_reader_free(r);
	l->off[VT_L_COUNTER_VALUE] = offsetof(struct counter, value);
	l->count[VT_LC_N_LABELS] = 1000;	/* labels past the struct */
	l->off[VT_L_LABEL_SIZEOF] = 4096;
	r = vt_figures_reader_new(t, m, l);
	f = r ? vt_figures_read(r, 0) : NULL;
	CHECK(f && !(f->have & VT_FIG_REGISTRY));
	vt_figures_free(f);
	vt_figures_reader_free(r);
}

int main(void)
{
	struct vt_layout l;
	struct vt_target t;
	struct vt_mem m;
	struct vt_figures_reader *r;
	char *hole = mmap(NULL, 8192, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	CHECK(hole != MAP_FAILED);
	munmap(hole, 8192);	/* an address nothing is mapped at */
	layout(&l, &t);
	CHECK(vt_mem_open(&m, getpid()) == 0);
	fill();
	r = vt_figures_reader_new(&t, &m, &l);
	CHECK(r != NULL);
	test_read(r);
	test_aio(r);
	/* strings are remembered by address: a new reader for new strings */
	vt_figures_reader_free(r);
	r = vt_figures_reader_new(&t, &m, &l);
	test_hostile_memory(r, hole);
	vt_figures_reader_free(r);
	test_page_edge(&t, &m, &l);
	test_hostile_layout(&t, &m, &l);
	vt_mem_close(&m);
	return vt_test_done("test_figures");
}
