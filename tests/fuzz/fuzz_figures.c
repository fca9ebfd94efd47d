/* libFuzzer target for the runtime's own figures read from its memory
 * (vt_figures): each input is mapped at a fixed address of this process as
 * "target memory" holding a metrics registry, the interpreter's counters,
 * valk_sys and its GC heap, the library byte counters and an AIO system's
 * bundles (laid out as in
 * tests/lib/vt_fig_image.h; every pointer in it is the input's), and read
 * with the real reads (/proc/self/mem) as the collector does, then put in
 * the runtime's JSON shapes. Any bytes must give figures or refusals,
 * never a crash, an out-of-bounds access or a balloon, and what is read
 * keeps the decoder's promises: counts within their arrays and
 * capacities, names and labels printable ASCII without quotes or
 * backslashes, terminated. With VT_FUZZ_FIGURES_SEED=DIR it writes its
 * seed images into DIR and exits (tests/fuzz/corpus/figures). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>

#include "target/vt_figures.h"
#include "tests/fuzz/vt_fuzz_map.h"
#include "tests/lib/vt_fig_image.h"
#include "wire/vt_wire_figures.h"

#define BASE 0x410000000000ULL

/* What is mapped at BASE. */
struct fig_image {
	struct registry reg;
	struct eval ev;
	struct vsys vsys;
	struct heap heap;
	uint64_t valk_sys;	/* -> vsys */
	uint64_t lib[3];	/* ssl, nghttp2, libuv bytes */
	char strings[2048];
	struct aiosys sys;	/* system 0, its bundles into the registry */
	struct mstate ms;
	struct aio_metrics am;
	struct aio_stats as;
};

#define AT(member) (BASE + offsetof(struct fig_image, member))

static struct vt_layout layout;
static struct vt_target target;	/* this process, no relocation */
static struct vt_mem self;

/* ---- seeds ---------------------------------------------------------------- */

/* A string into the image's string area; its address in the target. */
static uint64_t str(struct fig_image *m, size_t *used, const char *s)
{
	size_t n = strlen(s) + 1, at = *used;

	memcpy(m->strings + at, s, n);
	*used += n;
	return AT(strings) + at;
}

#define PTR(p) ((const char *)(uintptr_t)(p))

/* A registry as the runtime keeps it, with every family in use. */
static void seed_full(struct fig_image *m)
{
	struct registry *r = &m->reg;
	size_t used = 0;

	memset(m, 0, sizeof(*m));
	r->counters[0] = (struct counter){
		.name = PTR(str(m, &used, "http_requests_total")),
		.labels = { .labels = { { PTR(str(m, &used, "server")),
					  PTR(str(m, &used, "0.0.0.0")) },
					{ PTR(str(m, &used, "port")),
					  PTR(str(m, &used, "8443")) } },
			    .count = 2 },
		.value = 1234, .active = true };
	r->counters[1] = (struct counter){
		.name = PTR(str(m, &used, "evicted_total")), .value = 9 };
	r->counters[2] = (struct counter){
		.name = PTR(str(m, &used, "event_loop_iterations")),
		.labels = { .labels = { { PTR(str(m, &used, "loop")),
					  PTR(str(m, &used, "main")) } },
			    .count = 1 },
		.value = 77, .active = true };
	r->counter_count = 3;
	r->counter_free = 1;
	r->counter_next[1] = UINT32_MAX;
	r->gauges[0] = (struct gauge){
		.name = PTR(str(m, &used, "aio_pending_requests")),
		.value = -3, .active = true };
	r->gauge_count = 1;
	r->gauge_free = r->histogram_free = r->summary_free = UINT32_MAX;
	r->histograms[0] = (struct hist){
		.name = PTR(str(m, &used, "http_request_duration_seconds")),
		.bounds = { 0.001, 0.01 }, .nbounds = 2,
		.buckets = { 5, 3, 1 }, .count = 9, .sum = 12345,
		.active = true };
	r->histogram_count = 1;
	r->summaries[0].active = true;
	r->summary_count = 2;
	r->pool_count = 11;
	r->evictions[0] = r->evictions[1] = 1;
	r->start_us = 424242;
	m->vsys.heap = (struct heap *)(uintptr_t)AT(heap);
	m->heap.rm = (struct runtime_metrics){ .cycles = 4, .pause_total = 6000,
		.pause_max = 2500, .reclaimed = 1 << 20, .allocated = 3 << 20,
		.before = 1000, .last_reclaimed = 250, .pause = { 1, 3 },
		.survival = { 10, 5, 2, 1 } };
	m->ev = (struct eval){ .evals = 99, .fcalls = 7, .bcalls = 80,
			       .depth_max = 12, .closures = 3, .lookups = 400 };
	m->valk_sys = AT(vsys);
	m->sys.ms = (struct mstate *)(uintptr_t)AT(ms);
	m->ms.m = (struct aio_metrics *)(uintptr_t)AT(am);
	m->ms.s = (struct aio_stats *)(uintptr_t)AT(as);
	m->am.failed = (struct counter *)(uintptr_t)AT(reg.counters[1]);
	m->as.requests = m->as.capacity =
		(struct gauge *)(uintptr_t)AT(reg.gauges[0]);
	m->lib[0] = 81920;
	m->lib[1] = 40960;
	m->lib[2] = 4096;
}

/* The same, hostile: counts past every array, a cyclic free list, a name
 * past the mapping, bytes no document may carry. */
static void seed_hostile(struct fig_image *m)
{
	static const char evil[] = "a\"b\\c\x01\xff";
	size_t used = 1500;

	seed_full(m);
	m->reg.counter_count = 1000000000;
	m->reg.counters[0].labels.count = 200;
	m->reg.counters[0].labels.labels[0].value = PTR(str(m, &used, evil));
	m->reg.counters[2].name = PTR(BASE + sizeof(*m) + 4096);
	m->reg.counter_free = 0;
	m->reg.counter_next[0] = 1;
	m->reg.counter_next[1] = 0;
	m->reg.histograms[0].nbounds = 250;
	m->reg.gauge_count = UINT64_MAX;
	m->vsys.heap = (struct heap *)(uintptr_t)(BASE - 4096);
	m->as.responses = (struct gauge *)(uintptr_t)(BASE + sizeof(*m) + 64);
}

static void write_seed(const char *dir, const char *name,
		       const struct fig_image *m, size_t len)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (!(f = fopen(path, "wb")) || fwrite(m, 1, len, f) != len ||
	    fclose(f))
		abort();
}

static void seeds(const char *dir)
{
	static struct fig_image m;

	seed_full(&m);
	write_seed(dir, "full", &m, sizeof(m));
	/* cut short: the GC heap and counters past the input's end */
	write_seed(dir, "truncated", &m, offsetof(struct fig_image, vsys));
	seed_hostile(&m);
	write_seed(dir, "hostile", &m, sizeof(m));
	exit(0);
}

/* ---- the target ----------------------------------------------------------- */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *dir = getenv("VT_FUZZ_FIGURES_SEED");

	(void)argc;
	(void)argv;
	if (dir)
		seeds(dir);
	vt_fig_layout(&layout);
	layout.sym[VT_LS_VALK_SYS] = AT(valk_sys);
	layout.sym[VT_LS_G_METRICS] = AT(reg);
	layout.sym[VT_LS_G_EVAL_METRICS] = AT(ev);
	layout.sym[VT_LS_SSL_BYTES] = AT(lib[0]);
	layout.sym[VT_LS_NGHTTP2_BYTES] = AT(lib[1]);
	layout.sym[VT_LS_LIBUV_BYTES] = AT(lib[2]);
	target.pid = getpid();
	target.is_exe = true;
	if (vt_mem_open(&self, getpid()))
		abort();
	return 0;
}

/* A string of the figures: terminated within len, printable ASCII, no
 * quote or backslash. */
static void check_str(const char *s, size_t len)
{
	size_t n = strnlen(s, len);

	if (n == len)
		abort();
	for (size_t i = 0; i < n; i++)
		if (s[i] < 0x20 || s[i] > 0x7e || s[i] == '"' || s[i] == '\\')
			abort();
}

static void check(const struct vt_figures *f)
{
	for (int k = 0; k < VT_FAMS; k++) {
		const struct vt_metric_family *fm = &f->fam[k];

		if (fm->hwm > fm->capacity || fm->free > fm->capacity ||
		    fm->active > fm->hwm)
			abort();
	}
	for (size_t i = 0; i < f->nmetrics; i++) {
		const struct vt_metric *m = &f->metrics[i];

		if (m->nlabels > VT_METRIC_MAX_LABELS ||
		    m->nbounds > VT_METRIC_MAX_BOUNDS)
			abort();
		check_str(m->name, sizeof(m->name));
		for (unsigned j = 0; j < m->nlabels; j++) {
			check_str(m->labels[j].key, sizeof(m->labels[j].key));
			check_str(m->labels[j].value, sizeof(m->labels[j].value));
		}
	}
}

/* Every JSON shape the figures go out in, dumped. */
static void encode(const struct vt_figures *f, const struct vt_figures *g)
{
	struct vt_wire_figures_base *b = vt_wire_figures_base_new();
	json_t *docs[6] = { vt_wire_figures_registry(f, 500000, 1.5),
			    vt_wire_figures_registry_stats(f), json_object(),
			    json_object(), json_object(), NULL };

	vt_wire_figures_vm(docs[2], docs[3], f);
	vt_wire_figures_breakdown(docs[4], f);
	if (!b || vt_wire_figures_base_set(b, f, 500000))
		abort();
	/* a registry read gives a delta */
	docs[5] = vt_wire_figures_delta(b, g, 600000);
	if (!docs[5] && !(g->have & VT_FIG_REGISTRY))
		docs[5] = json_object();
	for (int i = 0; i < 6; i++) {
		char *s = docs[i] ? json_dumps(docs[i], JSON_COMPACT) : NULL;

		if (!s)
			abort();
		free(s);
		json_decref(docs[i]);
	}
	vt_wire_figures_base_free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t len;
	struct vt_figures_reader *r;
	struct vt_figures *f, *g;
	void *m;

	if (!size)
		return 0;
	m = vt_fuzz_map(BASE, data, size, &len);
	/* strings are remembered by address: a reader per image */
	r = vt_figures_reader_new(&target, &self, &layout);
	if (!r)
		abort();
	f = vt_figures_read(r, AT(sys));
	g = vt_figures_read(r, AT(sys));	/* again: the delta against the first */
	if (f && g) {
		check(f);
		check(g);
		encode(f, g);
	}
	vt_figures_free(f);
	vt_figures_free(g);
	vt_figures_reader_free(r);
	munmap(m, len);
	return 0;
}
