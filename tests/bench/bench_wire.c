/* bench_wire: how long the wire encoders take for a large handle slab.
 *
 * Builds a state through the public vt_state API (one AIO system: a handle
 * slab of SLOTS slots, half in use with mixed letters and owners, plus a
 * tcp buffer slab and a stream arena slab), then times
 *   vt_wire_memory       the memory dialect, one full document
 *   vt_wire_valk_full    the valk dialect, full document
 *   vt_wire_valk_delta   the valk dialect, nothing changed since the last
 *   vt_wire_valk_delta   after CHANGES acquire/release/connection events
 *   vt_wire_memory_delta the memory dialect's delta, the same two cases
 *   tick_idle, tick_busy both streams' events of one tick (what the
 *                        collector encodes every interval), quiet and
 *                        after CHANGES events
 *   vt_rec_keyframe      a recording's keyframe of the whole state (one
 *                        every 5 s of --record), deflated
 * Each is run until about a quarter second is spent (at least 3, at most
 * 500 runs); the median and the fastest run are printed with the size.
 *
 * usage: bench_wire [SLOTS [CHANGES [DOC [CONNS]]]]   (defaults 262144,
 * 1000, all, the mix; one DOC alone is what a profiler is pointed at;
 * CONNS: exactly that many connections in the handle slab, and churn
 * that makes no new ones)
 * Output: one line per document,
 *   doc NAME us MEDIAN min MIN bytes BYTES runs N
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "model/vt_state.h"
#include "wire/vt_rec.h"
#include "wire/vt_wire.h"

/* Under valgrind --tool=callgrind --collect-atstart=no only the timed
 * encodes are counted: instructions per document, the same from run to
 * run on a busy machine. Elsewhere these are a few no-op instructions. */
#if __has_include(<valgrind/callgrind.h>)
#include <valgrind/callgrind.h>
#else
#define CALLGRIND_TOGGLE_COLLECT
#endif

#define SYS0 0x55000000ULL
#define HANDLES 0x7f0000000000ULL
#define TCP 0x7f1000000000ULL
#define ARENAS 0x7f2000000000ULL
#define MS 1000000ULL
#define MIN_RUNS 3
#define MAX_RUNS 500
#define BUDGET_NS 250000000ULL

static uint64_t rng = 0x9E3779B97F4A7C15ULL;

static uint32_t rnd(uint32_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng >> 32) % n;
}

static uint64_t now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ULL + (uint64_t)t.tv_nsec;
}

/* Connections among the handle slab's used slots: 0 for the mix below,
 * else exactly that many (the other used slots tasks and timers). */
static uint64_t nconns;

/* The letter mix of used handle slot number `k` of `used`. */
static uint32_t slot_kind(uint64_t k, uint64_t used)
{
	uint32_t r = rnd(100);

	if (nconns)	/* every (used/nconns)-th used slot */
		return k * nconns / used != (k + 1) * nconns / used
		       ? VT_HK_HTTP_CONN : r < 60 ? VT_HK_TASK : VT_HK_TIMER;
	/* 20% tasks, 10% timers, 5% listeners, the rest connections */
	return r < 20 ? VT_HK_TASK : r < 30 ? VT_HK_TIMER
	     : r < 35 ? VT_HK_TCP : VT_HK_HTTP_CONN;
}

/* A slab image with `total` slots, about `permille`/1000 of them used;
 * handle slots get a kind, diag and owner like a busy server's. */
static int load_slab(struct vt_state *s, uint64_t addr, enum vt_slab_kind kind,
		     uint64_t total, unsigned permille)
{
	uint8_t *bm = calloc((total + 7) / 8, 1);
	uint32_t *kinds = calloc(total, sizeof(*kinds));
	uint32_t *diags = calloc(total, sizeof(*diags));
	uint16_t *owners = calloc(total, sizeof(*owners));
	struct vt_slab_image img = {
		.addr = addr, .system = 0, .kind = kind, .item_size = 944,
		.total = total, .heap_off = 96, .data_off = 16, .bitmap = bm,
	};
	int rc = -1;

	if (!bm || !kinds || !diags || !owners)
		goto out;
	for (uint64_t i = 0; i < total; i++) {
		if (rnd(1000) >= permille)
			continue;
		bm[i / 8] |= (uint8_t)(1u << (i % 8));
		img.used++;
	}
	for (uint64_t i = 0, k = 0; i < total; i++) {
		if (!vt_slab_bit(bm, i))
			continue;
		kinds[i] = slot_kind(k++, img.used);
		diags[i] = kinds[i] == VT_HK_HTTP_CONN ? 1 + rnd(4) : 0;
		owners[i] = (uint16_t)rnd(4);
	}
	img.hwm = img.used;
	img.acquires = img.used * 3;
	img.releases = img.used * 2;
	if (kind == VT_SLAB_HANDLES) {
		img.kinds = kinds;
		img.diags = diags;
		img.owners = owners;
	}
	rc = vt_state_slab_load(s, &img, 1000);
out:
	free(bm);
	free(kinds);
	free(diags);
	free(owners);
	return rc;
}

static struct vt_state *build_state(uint64_t slots)
{
	struct vt_state *s = vt_state_new(1000);
	struct vt_arena ar[2] = {
		{ .name = "scratch", .capacity = 4194200, .used = 512,
		  .hwm = 9000 },
		{ .name = "stream_arena/3", .capacity = 65536, .used = 77,
		  .hwm = 99 },
	};
	struct vt_gc gc = { .heap_used_bytes = 1048576,
			    .heap_total_bytes = 536870912, .nclasses = 2,
			    .classes = { { 16, 10, 256 }, { 32, 3, 128 } } };
	static const char *const names[] = { ":8443", ":6969", ":9090",
					     ":7070" };

	if (!s)
		return NULL;
	vt_state_system_set(s, 0, SYS0);
	for (unsigned i = 0; i < 4; i++)
		vt_state_owner_set(s, 0, i, names[i]);
	if (load_slab(s, HANDLES, VT_SLAB_HANDLES, slots, 500) ||
	    load_slab(s, TCP, VT_SLAB_TCP_BUFFERS, slots / 16, 500) ||
	    load_slab(s, ARENAS, VT_SLAB_STREAM_ARENAS, 1024, 250)) {
		vt_state_free(s);
		return NULL;
	}
	vt_state_arenas_set(s, ar, 2);
	vt_state_gc_set(s, &gc);
	return s;
}

/* n events of live traffic: acquires and releases of handle slots (half
 * of the acquires become connections) and tcp buffers. */
static void churn(struct vt_state *s, unsigned n, uint64_t *ts)
{
	const struct vt_slab *h = vt_state_slab_find(s, HANDLES);
	const struct vt_slab *t = vt_state_slab_find(s, TCP);

	for (unsigned k = 0; k < n; k++) {
		bool tcp = rnd(4) == 0;
		const struct vt_slab *sl = tcp ? t : h;
		uint64_t slot = rnd((uint32_t)sl->total);
		bool used = sl->bitmap[slot / 8] >> (slot % 8) & 1;
		struct vt_event ev = { .type = used ? VT_EV_RELEASE
						    : VT_EV_ACQUIRE,
				       .ts_ns = (*ts)++ };

		if (used)
			ev.release = (struct vt_ev_release){ .slab = sl->addr,
							     .slot = slot };
		else
			ev.acquire = (struct vt_ev_acquire){ .slab = sl->addr,
							     .slot = slot };
		vt_state_apply(s, &ev);
		if (tcp || used || rnd(2) || nconns)
			continue;
		ev = (struct vt_event){
			.type = VT_EV_CONN, .ts_ns = (*ts)++,
			.conn = { .handle = h->addr + h->heap_off +
					    h->data_off + slot * h->stride,
				  .kind = VT_HK_HTTP_CONN, .diag = 1 + rnd(4),
				  .owner = (uint16_t)rnd(4) },
		};
		vt_state_apply(s, &ev);
	}
}

static uint64_t count_conns(const struct vt_state *s)
{
	const struct vt_slab *h = vt_state_slab_find(s, HANDLES);
	uint64_t n = 0;

	for (uint64_t i = 0; i < h->total; i++)
		n += strchr("NAIC", h->states[i]) != NULL && h->states[i];
	return n;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

enum doc { DOC_MEMORY, DOC_FULL, DOC_DELTA_QUIET, DOC_DELTA_CHURN,
	   DOC_MDELTA_QUIET, DOC_MDELTA_CHURN, DOC_TICK_IDLE, DOC_TICK_BUSY,
	   DOC_REC_KEYFRAME };

static bool doc_churns(enum doc doc)
{
	return doc == DOC_DELTA_CHURN || doc == DOC_MDELTA_CHURN ||
	       doc == DOC_TICK_BUSY;
}

struct run {
	struct vt_state *s;
	const struct vt_wire_meta *m;
	struct vt_wire_delta *d;
	struct vt_wire_mdelta *md;
	uint64_t seq;
	unsigned changes;
	uint64_t ts;
};

static uint64_t keyframe_once(struct run *r, size_t *bytes)
{
	struct vt_rec_buf b = { 0 };
	struct vt_rec_tick t = { .now_ms = r->m->now_ms,
				 .counters = *vt_state_counters(r->s) };
	uint64_t t0 = now_ns();

	vt_rec_keyframe(&b, r->s, &t);
	t0 = now_ns() - t0;
	*bytes = b.len;
	t0 = b.oom ? 0 : t0 ? t0 : 1;
	vt_rec_buf_free(&b);
	return t0;
}

/* One encode of `doc`, timed; the state is prepared outside the timing.
 * Returns the time in ns, 0 if the encoder failed; *bytes its length. */
static uint64_t encode_once(struct run *r, enum doc doc, size_t *bytes)
{
	char *text = NULL, *more = NULL;
	bool full = false, mfull = false;
	uint64_t t0;

	if (doc == DOC_REC_KEYFRAME)
		return keyframe_once(r, bytes);
	if (doc >= DOC_DELTA_QUIET) {
		/* sync the delta contexts first: the timed deltas start from
		 * a document just sent */
		free(vt_wire_valk_delta(r->s, r->m, r->d, &full));
		r->seq++;
		free(vt_wire_memory_delta(r->s, r->m, r->md, r->seq, r->seq - 1,
					  &mfull));
		if (doc_churns(doc))
			churn(r->s, r->changes, &r->ts);
	}
	t0 = now_ns();
	CALLGRIND_TOGGLE_COLLECT;
	switch (doc) {
	case DOC_MEMORY:
		text = vt_wire_memory(r->s, r->m, 1);
		break;
	case DOC_FULL:
		text = vt_wire_valk_full(r->s, r->m, r->d);
		break;
	case DOC_DELTA_QUIET:
	case DOC_DELTA_CHURN:
		text = vt_wire_valk_delta(r->s, r->m, r->d, &full);
		break;
	default:
		if (doc == DOC_TICK_IDLE || doc == DOC_TICK_BUSY)
			more = vt_wire_valk_delta(r->s, r->m, r->d, &full);
		r->seq++;
		text = vt_wire_memory_delta(r->s, r->m, r->md, r->seq,
					    r->seq - 1, &mfull);
	}
	CALLGRIND_TOGGLE_COLLECT;
	t0 = now_ns() - t0;
	if (!text || full || mfull ||
	    ((doc == DOC_TICK_IDLE || doc == DOC_TICK_BUSY) && !more)) {
		free(text);
		free(more);
		return 0;
	}
	*bytes = strlen(text) + (more ? strlen(more) : 0);
	free(text);
	free(more);
	return t0 ? t0 : 1;
}

static const char *only;	/* the one document to time, NULL: all */

static int bench(struct run *r, enum doc doc, const char *name)
{
	uint64_t ns[MAX_RUNS], spent = 0;
	size_t bytes = 0, total = 0;
	int n = 0;

	if (only && strcmp(only, name))
		return 0;
	while (n < MAX_RUNS && (n < MIN_RUNS || spent < BUDGET_NS)) {
		ns[n] = encode_once(r, doc, &bytes);
		if (!ns[n]) {
			fprintf(stderr, "bench_wire: %s failed\n", name);
			return -1;
		}
		spent += ns[n];
		total += bytes;
		n++;
	}
	qsort(ns, (size_t)n, sizeof(*ns), cmp_u64);
	printf("doc %s us %.1f min %.1f bytes %zu runs %d\n", name,
	       (double)ns[n / 2] / 1e3, (double)ns[0] / 1e3, total / (size_t)n,
	       n);
	return 0;
}

/* The model alone: APPLY_EVENTS events made in memory beforehand
 * (acquire and release pairs on the handle slab's slots, versions past
 * its image, every fourth pair on the tcp slab), then applied in one
 * timed loop, five times; the fastest and median rates are printed. */
#define APPLY_EVENTS 2000000
#define APPLY_ROUNDS 5

static int bench_apply(struct run *r)
{
	const struct vt_slab *h = vt_state_slab_find(r->s, HANDLES);
	const struct vt_slab *t = vt_state_slab_find(r->s, TCP);
	struct vt_event *ev = calloc(APPLY_EVENTS, sizeof(*ev));
	uint64_t ns[APPLY_ROUNDS], version = 1ULL << 40;

	if (!ev)
		return -1;
	if (only && strcmp(only, "apply"))
		goto out;
	for (int round = 0; round < APPLY_ROUNDS; round++) {
		for (size_t i = 0; i < APPLY_EVENTS; i += 2) {
			const struct vt_slab *sl = i % 8 == 6 ? t : h;
			uint64_t slot = rnd((uint32_t)sl->total);

			ev[i] = (struct vt_event){ .type = VT_EV_ACQUIRE,
				.ts_ns = r->ts++ * 1000,
				.acquire = { .slab = sl->addr, .slot = slot,
					     .version = version++ } };
			ev[i + 1] = (struct vt_event){ .type = VT_EV_RELEASE,
				.ts_ns = r->ts++ * 1000,
				.release = { .slab = sl->addr, .slot = slot,
					     .version = version++ } };
		}
		ns[round] = now_ns();
		for (size_t i = 0; i < APPLY_EVENTS; i++)
			vt_state_apply(r->s, &ev[i]);
		ns[round] = now_ns() - ns[round];
	}
	qsort(ns, APPLY_ROUNDS, sizeof(*ns), cmp_u64);
	printf("apply events %d ns_per_event %.1f min %.1f per_s %.0f max_per_s %.0f\n",
	       APPLY_EVENTS, (double)ns[APPLY_ROUNDS / 2] / APPLY_EVENTS,
	       (double)ns[0] / APPLY_EVENTS,
	       APPLY_EVENTS * 1e9 / (double)ns[APPLY_ROUNDS / 2],
	       APPLY_EVENTS * 1e9 / (double)ns[0]);
out:
	free(ev);
	return 0;
}

static unsigned long arg(int argc, char **argv, int i, unsigned long def,
			 unsigned long lo, unsigned long hi)
{
	char *end;
	unsigned long v;

	if (argc <= i)
		return def;
	v = strtoul(argv[i], &end, 10);
	if (*end || v < lo || v > hi) {
		fprintf(stderr, "usage: bench_wire [SLOTS [CHANGES [DOC "
				"[CONNS]]]] (%lu..%lu)\n", lo, hi);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	uint64_t slots = arg(argc, argv, 1, 262144, 64, 1UL << 24);
	unsigned changes = (unsigned)arg(argc, argv, 2, 1000, 1, 1000000);
	struct vt_wire_meta meta = {
		.pid = 4242, .binary = "libvalkyria.so", .build_id = "0123abcd",
		.mode = "probe", .now_ms = 40000, .wall_ms = 1763800000123ULL,
		.leak_age_ms = 30000, .uptime_s = 42.5, .rss = 52428800,
		.vms = 2684354560ULL, .system_total = 16777216000ULL,
	};
	struct run r = { .m = &meta, .changes = changes, .ts = 5000 * MS };
	int rc = 0;

	only = argc > 3 && strcmp(argv[3], "all") ? argv[3] : NULL;
	nconns = arg(argc, argv, 4, 0, 0, 1UL << 24);
	r.s = build_state(slots);
	r.d = vt_wire_delta_new();
	r.md = vt_wire_mdelta_new();
	if (!r.s || !r.d || !r.md) {
		fprintf(stderr, "bench_wire: cannot build the state\n");
		return 1;
	}
	printf("state handles %llu used %llu tcp_buffers %llu changes %u "
	       "conns %llu\n", (unsigned long long)slots,
	       (unsigned long long)vt_state_slab_find(r.s, HANDLES)->used,
	       (unsigned long long)(slots / 16), changes,
	       (unsigned long long)count_conns(r.s));
	/* the first full document sizes the delta context */
	free(vt_wire_valk_full(r.s, &meta, r.d));
	free(vt_wire_memory_delta(r.s, &meta, r.md, ++r.seq, 0, &(bool){0}));
	rc |= bench(&r, DOC_MEMORY, "memory");
	rc |= bench(&r, DOC_FULL, "valk_full");
	rc |= bench(&r, DOC_DELTA_QUIET, "valk_delta_quiet");
	rc |= bench(&r, DOC_DELTA_CHURN, "valk_delta_changes");
	rc |= bench(&r, DOC_MDELTA_QUIET, "memory_delta_quiet");
	rc |= bench(&r, DOC_MDELTA_CHURN, "memory_delta_changes");
	rc |= bench(&r, DOC_TICK_IDLE, "tick_idle");
	rc |= bench(&r, DOC_TICK_BUSY, "tick_busy");
	rc |= bench(&r, DOC_REC_KEYFRAME, "rec_keyframe");
	rc |= bench_apply(&r);
	vt_wire_delta_free(r.d);
	vt_wire_mdelta_free(r.md);
	vt_state_free(r.s);
	return rc ? 1 : 0;
}
