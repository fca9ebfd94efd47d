/* The recording format: events and state encode and decode exactly; a
 * recording replays to the live model's state tick by tick, the runtime's
 * own figures included; cut, flipped, foreign and future-version files
 * give a clear error or their intact prefix, version 2 keyframes (no
 * figures) still read; stack records read back by id, malformed stack
 * and figures records refused. `test_rec FILE` also writes the sample
 * recording (the fuzzer's seed). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vt_img.h"
#include "vt_test.h"
#include "wire/vt_rec.h"
#include "wire/vt_rec_codec.h"
#include "wire/vt_timeline.h"

#include <jansson.h>
#include <zlib.h>

#define TCP 0x10000
#define HND 0x20000
#define SYS 0x90000

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* ---- comparing models ---------------------------------------------------- */

static bool slab_eq(const struct vt_slab *a, const struct vt_slab *b)
{
	uint64_t n = a->total;

	if (a->addr != b->addr || a->system != b->system || a->kind != b->kind ||
	    a->item_size != b->item_size || n != b->total ||
	    a->stride != b->stride || a->heap_off != b->heap_off ||
	    a->data_off != b->data_off || a->used != b->used ||
	    a->hwm != b->hwm || a->overflow != b->overflow ||
	    a->acquires != b->acquires || a->releases != b->releases ||
	    a->version != b->version || a->image_ns != b->image_ns ||
	    a->image_version != b->image_version || a->image_ms != b->image_ms)
		return false;
	if (memcmp(a->bitmap, b->bitmap, (n + 7) / 8) ||
	    memcmp(a->since_ms, b->since_ms, n * 8) ||
	    memcmp(a->since_attach, b->since_attach, n) ||
	    memcmp(a->stacks, b->stacks, n * sizeof(*a->stacks)) ||
	    memcmp(a->unsure, b->unsure, n) || memcmp(a->early, b->early, n))
		return false;
	return !a->states || (!memcmp(a->states, b->states, n) &&
			      !memcmp(a->owners, b->owners, n * 2) &&
			      !memcmp(a->pending, b->pending, n));
}

static bool metric_eq(const struct vt_metric *a, const struct vt_metric *b)
{
	return vt_metric_same(a, b) && a->counter == b->counter &&
	       a->gauge == b->gauge && a->count == b->count &&
	       a->sum_us == b->sum_us && a->nbounds == b->nbounds &&
	       !memcmp(a->bounds, b->bounds, a->nbounds * sizeof(double)) &&
	       !memcmp(a->buckets, b->buckets, (a->nbounds + 1) * 8);
}

/* Field by field: the struct has padding. */
static bool figures_eq(const struct vt_figures *a, const struct vt_figures *b)
{
	if (!a || !b)
		return a == b;
	if (a->have != b->have || a->start_us != b->start_us ||
	    a->nmetrics != b->nmetrics ||
	    memcmp(a->fam, b->fam, sizeof(a->fam)) ||
	    a->pool_used != b->pool_used ||
	    a->pool_capacity != b->pool_capacity ||
	    memcmp(a->evictions, b->evictions, sizeof(a->evictions)) ||
	    memcmp(&a->gc, &b->gc, sizeof(a->gc)) ||
	    memcmp(&a->eval, &b->eval, sizeof(a->eval)) ||
	    a->ssl_bytes != b->ssl_bytes || a->nghttp2_bytes != b->nghttp2_bytes ||
	    a->libuv_bytes != b->libuv_bytes)
		return false;
	for (size_t i = 0; i < a->nmetrics; i++)
		if (!metric_eq(&a->metrics[i], &b->metrics[i]))
			return false;
	return true;
}

static bool state_eq(const struct vt_state *a, const struct vt_state *b)
{
	size_t na, nb;
	const struct vt_arena *aa = vt_state_arenas(a, &na);
	const struct vt_arena *ab = vt_state_arenas(b, &nb);

	if (vt_state_nslabs(a) != vt_state_nslabs(b) ||
	    vt_state_nsystems(a) != vt_state_nsystems(b) || na != nb ||
	    (na && memcmp(aa, ab, na * sizeof(*aa))) ||
	    memcmp(vt_state_gc(a), vt_state_gc(b), sizeof(struct vt_gc)) ||
	    memcmp(vt_state_counters(a), vt_state_counters(b),
		   sizeof(struct vt_state_counters)))
		return false;
	if (!figures_eq(vt_state_figures(a), vt_state_figures(b)))
		return false;
	for (size_t i = 0; i < vt_state_nslabs(a); i++)
		if (!slab_eq(vt_state_slab(a, i), vt_state_slab(b, i)))
			return false;
	for (size_t i = 0; i < vt_state_nsystems(a); i++)
		if (memcmp(vt_state_system(a, i), vt_state_system(b, i),
			   sizeof(struct vt_system)))
			return false;
	return true;
}

/* ---- events --------------------------------------------------------------- */

static uint64_t wide(void)
{
	switch (rnd() % 4) {
	case 0:
		return rnd();
	case 1:
		return rnd() % 300;
	case 2:
		return UINT64_MAX - rnd() % 3;
	default:
		return 0;
	}
}

static struct vt_event random_event(void)
{
	struct vt_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.type = rnd() % 10 ? 1 + rnd() % 8 : (uint32_t)wide();
	ev.ts_ns = rnd() % 5 ? 1000000000 + rnd() % 100000 : wide();
	ev.tid = rnd() % 3 ? 7 : (uint32_t)rnd();
	ev.probe = rnd() % 3 ? 1 : (uint16_t)rnd();
	switch (ev.type) {
	case VT_EV_ACQUIRE:
		ev.acquire = (struct vt_ev_acquire){ rnd() % 40 * 64, wide(),
						     wide(), wide(),
						     (uint32_t)wide(), 0 };
		break;
	case VT_EV_RELEASE:
		ev.release = (struct vt_ev_release){ rnd() % 40 * 64, wide(),
						     wide() };
		break;
	case VT_EV_ACQUIRE_FAIL:
	case VT_EV_SLAB_FREE:
		ev.acquire_fail.slab = wide();
		break;
	case VT_EV_SLAB_NEW:
		ev.slab_new = (struct vt_ev_slab_new){ wide(), wide(), wide() };
		break;
	case VT_EV_AIO_START:
		ev.aio_start.sys = wide();
		break;
	case VT_EV_CONN:
		ev.conn = (struct vt_ev_conn){ wide(), (uint32_t)wide(),
					       (uint32_t)wide(), (uint16_t)wide() };
		break;
	case VT_EV_OWNER:
		ev.owner.sys = wide();
		ev.owner.index = (uint32_t)wide();
		snprintf(ev.owner.name, sizeof(ev.owner.name), "%s",
			 rnd() % 2 ? "" : "owner-with-a-name-of-31-chars-x");
		break;
	}
	return ev;
}

/* Random events, every field at its extremes now and then, over more slabs
 * than a record's table holds, come back bit for bit. */
static void test_events_roundtrip(void)
{
	enum { N = 20000 };
	static struct vt_event in[N];
	struct vt_rec_buf b = { 0 };
	struct vt_rec_events e;
	struct vt_rec_reader r;
	struct vt_rec rec;
	struct vt_state *s = vt_state_new(0);
	size_t bad = 0;

	vt_rec_preamble(&b);
	vt_rec_events_begin(&b, &e);
	for (size_t i = 0; i < N; i++) {
		in[i] = random_event();
		vt_rec_event(&b, &e, &in[i]);
	}
	vt_rec_events_end(&b, &e);
	CHECK(!b.oom);
	CHECK(vt_rec_open(&r, b.p, b.len) == 0);
	CHECK(vt_rec_next(&r, &rec) == 1);
	CHECK(rec.type == VT_REC_EVENTS);
	CHECK_EQ_U64(vt_rec_events_count(&rec), N);
	/* decode through the model's entry point: every event is counted */
	CHECK(vt_rec_apply(s, &rec, NULL, r.err, sizeof(r.err)) == 0);
	CHECK_EQ_U64(vt_state_counters(s)->events, N);
	CHECK(vt_rec_next(&r, &rec) == 0);
	/* and bit for bit, re-encoded from a decoded copy */
	{
		struct vt_rec_buf b2 = { 0 };
		struct vt_rec_events e2;

		vt_rec_preamble(&b2);
		vt_rec_events_begin(&b2, &e2);
		for (size_t i = 0; i < N; i++)
			vt_rec_event(&b2, &e2, &in[i]);
		vt_rec_events_end(&b2, &e2);
		bad += b2.len != b.len || memcmp(b2.p, b.p, b.len);
		vt_rec_buf_free(&b2);
	}
	CHECK_EQ_U64(bad, 0);
	vt_state_free(s);
	vt_rec_buf_free(&b);
}

/* ---- the runtime's figures ------------------------------------------------ */

static struct vt_metric metric(enum vt_metric_type type, const char *name,
			       const char *route)
{
	struct vt_metric m;

	memset(&m, 0, sizeof(m));
	m.type = type;
	snprintf(m.name, sizeof(m.name), "%s", name);
	if (route) {
		m.nlabels = 2;
		snprintf(m.labels[0].key, sizeof(m.labels[0].key), "route");
		snprintf(m.labels[0].value, sizeof(m.labels[0].value), "%s",
			 route);
		snprintf(m.labels[1].key, sizeof(m.labels[1].key), "method");
		snprintf(m.labels[1].value, sizeof(m.labels[1].value), "GET");
	}
	return m;
}

/* A registry of two counters, a gauge below zero and a histogram, with
 * `extra` counters registered after them; GC, interpreter, libuv. */
static struct vt_figures *figures_new(size_t extra)
{
	struct vt_figures *f = calloc(1, sizeof(*f));
	struct vt_metric *m = calloc(4 + extra, sizeof(*m));

	f->metrics = m;
	f->nmetrics = 4 + extra;
	f->have = VT_FIG_REGISTRY | VT_FIG_GC | VT_FIG_EVAL | VT_FIG_LIBUV;
	f->start_us = 400000;
	m[0] = metric(VT_METRIC_COUNTER, "http_requests_total", "/");
	m[0].counter = 10;
	m[1] = metric(VT_METRIC_COUNTER, "http_requests_total", "/api");
	m[1].counter = 1ull << 40;
	m[2] = metric(VT_METRIC_GAUGE, "connections_delta", NULL);
	m[2].gauge = -3;
	m[3] = metric(VT_METRIC_HISTOGRAM, "http_latency_us", "/");
	m[3].nbounds = 3;
	m[3].bounds[0] = 0.5;
	m[3].bounds[1] = 1;
	m[3].bounds[2] = 5e3;
	m[3].buckets[1] = 4;
	m[3].buckets[3] = 1;
	m[3].count = 5;
	m[3].sum_us = 7000;
	for (size_t i = 0; i < extra; i++) {
		char name[32];

		snprintf(name, sizeof(name), "late_%zu_total", i);
		m[4 + i] = metric(VT_METRIC_COUNTER, name, NULL);
	}
	f->fam[VT_FAM_COUNTERS] = (struct vt_metric_family){ 2, 2, 1024, 1022 };
	f->pool_used = 300;
	f->pool_capacity = 4096;
	f->evictions[0] = 1;
	f->gc.cycles = 7;
	f->gc.pause[1] = 7;
	f->eval.evals = 100;
	f->libuv_bytes = 65536;
	return f;
}

/* f with n metrics, the first of those it has kept. */
static struct vt_figures *figures_copy(const struct vt_figures *f, size_t n)
{
	struct vt_figures *c = malloc(sizeof(*c));

	*c = *f;
	c->metrics = calloc(n ? n : 1, sizeof(*c->metrics));
	memcpy(c->metrics, f->metrics,
	       (n < f->nmetrics ? n : f->nmetrics) * sizeof(*c->metrics));
	for (size_t i = f->nmetrics; i < n; i++)
		c->metrics[i] = metric(VT_METRIC_COUNTER, "registered_later",
				       "/late");
	c->nmetrics = n;
	return c;
}

/* ---- a session, recorded and replayed ------------------------------------ */

struct session {
	struct vt_state *live;
	struct vt_rec_buf rec;
	struct vt_rec_figbase figures;	/* as the recording carries them */
	size_t nticks;
	struct vt_state *at[64];	/* the live state after each tick */
};

/* The figures of a tick: values move; none at all every fourth tick,
 * only the GC's every sixth; a metric registered at 1013 and 1027, two
 * gone at 1033 (whole records). */
static void figures_tick(struct session *x, uint64_t ms)
{
	const struct vt_figures *was = vt_state_figures(x->live);
	size_t n = was->nmetrics;
	struct vt_figures *f;

	if (ms % 4 == 0)
		return;
	n += (ms == 1013 || ms == 1027) - 2 * (ms == 1033);
	f = figures_copy(was, n);
	f->gc.cycles++;
	if (ms % 6) {
		f->metrics[0].counter += 1 + ms % 3;
		f->metrics[2].gauge = (int64_t)(ms % 7) - 3;
		if (f->nmetrics > 3) {
			f->metrics[3].count++;
			f->metrics[3].sum_us += ms;
			f->metrics[3].buckets[ms % 4]++;
		}
		f->eval.evals += 5;
	}
	vt_state_figures_set(x->live, f);
}

static struct vt_state *copy_of(const struct vt_state *s)
{
	struct vt_rec_buf b = { 0 };
	struct vt_rec_tick t = { .counters = *vt_state_counters(s) };
	struct vt_rec_reader r;
	struct vt_rec rec;
	struct vt_state *c = vt_state_new(vt_state_attach_ms(s));
	const struct vt_figures *f = vt_state_figures(s);

	vt_rec_preamble(&b);
	vt_rec_keyframe(&b, s, &t);
	if (vt_rec_open(&r, b.p, b.len) || vt_rec_next(&r, &rec) != 1 ||
	    vt_rec_apply(c, &rec, NULL, r.err, sizeof(r.err)) != 1)
		CHECK(!"keyframe of a state reads back");
	vt_rec_buf_free(&b);
	/* the figures as they were, not as the codec makes them */
	vt_state_figures_set(c, f ? figures_copy(f, f->nmetrics) : NULL);
	return c;
}

static void bootstrap(struct session *x)
{
	struct img tcp, hnd;
	struct vt_arena ar[2] = {
		{ "scratch", 0, 0x5000, 1 << 20, 4096, 8192, 0, 0 },
		{ "stream_arena/3", 0, 0x6000, 65536, 100, 100, 1, 20 },
	};
	struct vt_gc gc = { .heap_used_bytes = 1000, .heap_total_bytes = 4000,
			    .nclasses = 2,
			    .classes = { { 16, 10, 64 }, { 32, 3, 32 } },
			    .large_object_bytes = 300000 };

	x->live = vt_state_new(500);
	img_init_sys(&tcp, TCP, VT_SLAB_TCP_BUFFERS, 37, 0);
	img_init_sys(&hnd, HND, VT_SLAB_HANDLES, 70, 0);
	for (int i = 0; i < 37; i += 3)
		img_use(&tcp, i, 0, 0, 0);
	img_use(&hnd, 0, VT_HK_TCP, 0, 0);
	img_use(&hnd, 5, VT_HK_HTTP_CONN, VT_DIAG_ACTIVE, 2);
	img_use(&hnd, 69, VT_HK_TASK, 0, 0);
	tcp.v.version = hnd.v.version = 10;
	tcp.v.read_ns = hnd.v.read_ns = 1000000000;
	vt_state_system_set(x->live, 0, SYS);
	vt_state_owner_set(x->live, 0, 0, "http:8080");
	vt_state_owner_set(x->live, 0, 2, "http:9090");
	CHECK(vt_state_slab_load(x->live, &tcp.v, 1000) == 0);
	CHECK(vt_state_slab_load(x->live, &hnd.v, 1000) == 0);
	vt_state_arenas_set(x->live, ar, 2);
	vt_state_gc_set(x->live, &gc);
	vt_state_figures_set(x->live, figures_new(0));
	img_fini(&tcp);
	img_fini(&hnd);
	vt_rec_preamble(&x->rec);
	vt_rec_header(&x->rec, "{\"pid\":1}");
}

/* One tick of slab traffic, fed to the live model and recorded. */
static void tick(struct session *x, uint64_t ms)
{
	struct vt_rec_events e;
	struct vt_rec_typed typed[8];
	uint64_t slab[8], slot[8];
	size_t n;
	struct vt_rec_tick t = { .now_ms = ms, .wall_ms = ms + 7e11,
				 .uptime_s = ms / 1000.0, .rss = 1 << 20 };

	vt_rec_events_begin(&x->rec, &e);
	for (int i = 0; i < 50; i++) {
		uint64_t addr = rnd() % 2 ? TCP : HND;
		uint64_t total = addr == TCP ? 37 : 70;
		struct vt_event ev = img_ev(rnd() % 3 ? VT_EV_ACQUIRE
						      : VT_EV_RELEASE,
					    addr, rnd() % total,
					    ms * 1000000 + (uint64_t)i);

		if (rnd() % 2)	/* a pop onto a used slot is early */
			ev.probe = ev.type == VT_EV_ACQUIRE ? VT_P_ACQUIRE_POP
							    : VT_P_RELEASE_PUSH;
		vt_state_apply(x->live, &ev);
		vt_rec_event(&x->rec, &e, &ev);
	}
	vt_rec_events_end(&x->rec, &e);
	n = vt_state_reads_due(x->live, true, &(struct vt_state_cursor){ 0, 0 },
			       slab, slot, 8);
	for (size_t i = 0; i < n; i++) {
		typed[i] = (struct vt_rec_typed){ slab[i], slot[i],
			1 + (uint32_t)(rnd() % 4), (uint32_t)(rnd() % 5),
			(uint16_t)(rnd() % 3) };
		vt_state_slot_typed(x->live, slab[i], slot[i], typed[i].kind,
				    typed[i].diag, typed[i].owner);
	}
	vt_rec_typed(&x->rec, typed, n);
	if (ms % 3 == 0)	/* a memory read changed a slab */
		vt_rec_slab(&x->rec, vt_state_slab_find(x->live, TCP));
	if (ms % 7 == 0) {	/* the GC heap read changed */
		struct vt_gc gc = *vt_state_gc(x->live);

		gc.heap_used_bytes += 64;
		gc.large_object_bytes += ms;
		vt_state_gc_set(x->live, &gc);
		vt_rec_gc(&x->rec, &gc);
	}
	figures_tick(x, ms);
	t.counters = *vt_state_counters(x->live);
	if (ms % 5 == 0) {
		vt_rec_keyframe(&x->rec, x->live, &t);
		vt_rec_figbase_set(&x->figures, vt_state_figures(x->live));
	} else {
		vt_rec_figures(&x->rec, &x->figures, vt_state_figures(x->live));
		vt_rec_tick(&x->rec, &t);
	}
	x->at[x->nticks++] = copy_of(x->live);
}

/* Stack 7: an inlined frame, its caller, an address no symbol names. */
static struct vt_rec_stack sample_stack(uint32_t id, int line)
{
	struct vt_rec_stack st = { .id = id, .truncated = true, .nframes = 3,
		.frames = {
			{ 0x401234, true, true, "valk_slab_aquire", "memory.c",
			  line, "libvalkyria.so" },
			{ 0x401300, true, false, "valk_aio_accept", "aio_uv.c",
			  812, "libvalkyria.so" },
			{ 0x7f0000001000, false, false, "", "", 0, "libc.so.6" },
		} };

	return st;
}

static void session_make(struct session *x)
{
	struct vt_rec_tick t = { .now_ms = 1000 };
	struct vt_rec_stack st7 = sample_stack(7, 120),
			    dup7 = sample_stack(7, 999), st3 = sample_stack(3, 5);

	memset(x, 0, sizeof(*x));
	bootstrap(x);
	t.counters = *vt_state_counters(x->live);
	vt_rec_keyframe(&x->rec, x->live, &t);
	vt_rec_figbase_set(&x->figures, vt_state_figures(x->live));
	st3.nframes = 1;
	st3.truncated = false;
	for (uint64_t ms = 1001; ms < 1041; ms++) {
		if (ms == 1002 || ms == 1020)	/* stacks come before a tick */
			vt_rec_stack(&x->rec, ms == 1002 ? &st7 : &st3);
		if (ms == 1030)		/* a second record of 7 is ignored */
			vt_rec_stack(&x->rec, &dup7);
		tick(x, ms);
	}
	vt_rec_end_record(&x->rec, 1041);
	CHECK(!x->rec.oom);
}

static void session_free(struct session *x)
{
	vt_rec_figbase_free(&x->figures);
	vt_state_free(x->live);
	for (size_t i = 0; i < x->nticks; i++)
		vt_state_free(x->at[i]);
	vt_rec_buf_free(&x->rec);
}

/* Replays p[0, len): returns the ticks replayed (the bootstrap keyframe
 * is tick 0), or -1 when a tick's state differs from the live one; -2 when
 * the file does not open. The first error goes to err ("" for none). */
static long replay(const struct session *x, const uint8_t *p, size_t len,
		   char *err, size_t errlen)
{
	struct vt_rec_reader r;
	struct vt_rec rec;
	struct vt_state *s = vt_state_new(500);
	long ticks = 0, rc;

	*err = 0;
	if (vt_rec_open(&r, p, len)) {
		snprintf(err, errlen, "%s", r.err);
		vt_state_free(s);
		return -2;
	}
	while ((rc = vt_rec_next(&r, &rec)) == 1) {
		int a = vt_rec_apply(s, &rec, NULL, err, errlen);

		if (a < 0)
			break;
		if (a == 1 && ticks > 0 && !state_eq(s, x->at[ticks - 1])) {
			ticks = -1;
			break;
		}
		ticks += a;
	}
	if (rc < 0)
		snprintf(err, errlen, "%s", r.err);
	vt_state_free(s);
	return ticks;
}

static void test_replay_equals_live(const struct session *x)
{
	char err[256];

	CHECK_EQ_U64(replay(x, x->rec.p, x->rec.len, err, sizeof(err)),
		     x->nticks + 1);
	CHECK_STR(err, "");
	CHECK(state_eq(x->at[x->nticks - 1], x->live));
}

/* Every prefix replays the ticks it holds whole; one cut inside a record
 * also says where, in one line. */
static void test_truncation(const struct session *x)
{
	struct vt_rec_reader r;
	struct vt_rec rec;
	size_t ends[4096], nends = 0, bad = 0, k = 0;
	long ticks_at[4096], ticks = 0;
	char err[256];

	vt_rec_open(&r, x->rec.p, x->rec.len);
	while (vt_rec_next(&r, &rec) == 1 && nends < 4096) {
		ticks += rec.type == VT_REC_TICK || rec.type == VT_REC_KEYFRAME;
		ticks_at[nends] = ticks;
		ends[nends++] = r.off;
	}
	for (size_t len = VT_REC_PREAMBLE; len < x->rec.len; len++) {
		long t = replay(x, x->rec.p, len, err, sizeof(err));
		bool boundary;

		while (k < nends && ends[k] <= len)
			k++;
		boundary = len == VT_REC_PREAMBLE || (k && ends[k - 1] == len);
		bad += t != (k ? ticks_at[k - 1] : 0) ||
		       (boundary ? *err != 0
				 : !strstr(err, "cut short") || !strstr(err, "intact"));
	}
	CHECK_EQ_U64(bad, 0);
	for (size_t len = 0; len < VT_REC_PREAMBLE; len++)
		bad += replay(x, x->rec.p, len, err, sizeof(err)) != -2 || !*err;
	CHECK_EQ_U64(bad, 0);
}

/* Seeking to any tick, from nothing or from wherever the model is, gives
 * that tick's live state. */
static void test_seek(const struct session *x)
{
	struct vt_rec_index ix;
	struct vt_state *s = vt_state_new(500);
	size_t at = SIZE_MAX, bad = 0;
	struct vt_rec_tick t;
	char err[256];

	CHECK(vt_rec_index_build(x->rec.p, x->rec.len, &ix, err,
				 sizeof(err)) == 0);
	CHECK_EQ_U64(ix.nticks, x->nticks + 1);
	CHECK(ix.ended && !*ix.err);
	CHECK_EQ_U64(ix.keyframes, 1 + x->nticks / 5);
	CHECK_EQ_U64(vt_rec_index_find(&ix, 1017), 17);
	CHECK_EQ_U64(vt_rec_index_find(&ix, 0), 0);
	CHECK_EQ_U64(vt_rec_index_find(&ix, 99999), x->nticks);
	for (int k = 0; k < 200; k++) {
		size_t i = 1 + rnd() % x->nticks;

		if (rnd() % 4 == 0)
			at = SIZE_MAX;
		if (vt_rec_seek(x->rec.p, &ix, s, &at, i, &t, err, sizeof(err)) ||
		    at != i || !state_eq(s, x->at[i - 1]))
			bad++;
	}
	CHECK_EQ_U64(bad, 0);
	vt_rec_index_free(&ix);
	vt_state_free(s);
}

/* The timeline of a recording shows every tick's live state; its
 * document has a series per slab and each slab's peak; a slot's history
 * starts free and ends as the live slot is. */
static void test_timeline(const struct session *x)
{
	char err[256], *doc;
	struct vt_timeline *tl = vt_timeline_of(x->rec.p, x->rec.len, err,
						 sizeof(err));
	const struct vt_state *s;
	struct vt_rec_tick t;
	size_t bad = 0;
	json_t *j, *changes;

	CHECK(tl != NULL);
	if (!tl)
		return;
	CHECK_EQ_U64(vt_timeline_nticks(tl), x->nticks + 1);
	for (size_t i = 1; i <= x->nticks; i++) {	/* in and out of order */
		size_t k = i % 2 ? i : x->nticks + 1 - i;

		if (vt_timeline_state_at(tl, 1000 + k + 7e11, &s, &t) ||
		    t.now_ms != 1000 + k || !state_eq(s, x->at[k - 1]))
			bad++;
	}
	CHECK_EQ_U64(bad, 0);
	doc = vt_timeline_json(tl, false, 0);
	j = doc ? json_loads(doc, 0, NULL) : NULL;
	CHECK_EQ_U64(json_array_size(json_object_get(j, "ticks")), x->nticks + 1);
	CHECK_EQ_U64(json_array_size(json_object_get(j, "slabs")), 2);
	CHECK(strstr(doc, "\"kind\":\"peak\",\"system\":0,\"slab\":\"handles\"") != NULL);
	json_decref(j);
	free(doc);
	doc = vt_timeline_slot_json(tl, 0, "handles", 69, err, sizeof(err));
	j = doc ? json_loads(doc, 0, NULL) : NULL;
	changes = json_object_get(j, "changes");
	CHECK(json_array_size(changes) >= 1);
	{
		const struct vt_slab *h = vt_state_slab_find(x->live, HND);
		char now[2] = { vt_slab_bit(h->bitmap, 69) ? h->states[69] : 'F', 0 };

		CHECK_STR(json_string_value(json_object_get(json_array_get(changes,
			json_array_size(changes) - 1), "state")), now);
	}
	json_decref(j);
	free(doc);
	CHECK(vt_timeline_slot_json(tl, 0, "handles", 70, err, sizeof(err)) == NULL);
	CHECK(strstr(err, "no slot 70 of handles") != NULL);
	vt_timeline_free(tl);
}

/* A live history keeps about keep_ms: whole segments (keyframe to
 * keyframe) go once the next one began before the window. */
static void test_timeline_keep(const struct session *x)
{
	struct vt_timeline *tl = vt_timeline_new(500, 12);
	struct vt_rec_reader r;
	struct vt_rec rec;
	struct vt_state *s = vt_state_new(500);
	size_t from = 0, key = SIZE_MAX, most = 0;
	struct vt_rec_tick t;
	char err[256];

	vt_rec_open(&r, x->rec.p, x->rec.len);
	while (vt_rec_next(&r, &rec) == 1) {
		int a = vt_rec_apply(s, &rec, &t, err, sizeof(err));

		if (rec.type == VT_REC_HEADER)
			from = r.off;
		if (rec.type == VT_REC_KEYFRAME)
			key = rec.off - from;
		if (a != 1)
			continue;
		CHECK(vt_timeline_tick(tl, x->rec.p + from, r.off - from, key, s,
				       &t) == 0);
		from = r.off;
		key = SIZE_MAX;
		if (vt_timeline_nticks(tl) > most)
			most = vt_timeline_nticks(tl);
	}
	/* keyframes every 5 ticks: at most 12 + 5 + 1 ticks are kept */
	CHECK(most <= 18 && most >= 12);
	{
		const struct vt_state *newest;

		CHECK(vt_timeline_state_at(tl, 1040 + 7e11, &newest, &t) == 0);
		CHECK(state_eq(newest, x->live));
	}
	vt_timeline_free(tl);
	vt_state_free(s);
}

static void test_bit_flips(const struct session *x)
{
	uint8_t *p = malloc(x->rec.len);
	size_t wrong = 0;
	char err[256];

	for (int i = 0; i < 3000; i++) {
		size_t at = rnd() % x->rec.len;

		memcpy(p, x->rec.p, x->rec.len);
		p[at] ^= (uint8_t)(1u << (rnd() % 8));
		/* an error, never a wrong state */
		if (replay(x, p, x->rec.len, err, sizeof(err)) == -1 ||
		    (!*err && (at < 12 || at >= 16)))	/* 12..15: reserved */
			wrong++;
	}
	CHECK_EQ_U64(wrong, 0);
	free(p);
}

static void test_foreign_files(const struct session *x)
{
	uint8_t *p = malloc(x->rec.len);
	char err[256];

	memcpy(p, x->rec.p, x->rec.len);
	p[0] = 'X';
	CHECK(replay(x, p, x->rec.len, err, sizeof(err)) == -2);
	CHECK_STR(err, "not a valk-trace recording (no VALKREC magic)");
	memcpy(p, x->rec.p, x->rec.len);
	p[8] = VT_REC_VERSION + 1;
	CHECK(replay(x, p, x->rec.len, err, sizeof(err)) == -2);
	CHECK(strstr(err, "format version 4; this valk-trace reads versions "
			  "1 to 3") && strstr(err, "newer"));
	p[8] = 1;	/* version 1 is read */
	CHECK_EQ_U64(replay(x, p, x->rec.len, err, sizeof(err)),
		     x->nticks + 1);
	CHECK(replay(x, (const uint8_t *)"", 0, err, sizeof(err)) == -2);
	free(p);
}

static bool frames_eq(const struct vt_rec_stack *a,
		      const struct vt_rec_stack *b)
{
	if (a->id != b->id || a->truncated != b->truncated ||
	    a->nframes != b->nframes)
		return false;
	for (size_t i = 0; i < a->nframes; i++) {
		const struct vt_rep_frame *f = &a->frames[i], *g = &b->frames[i];

		if (f->pc != g->pc || f->symbolized != g->symbolized ||
		    f->inlined != g->inlined || f->line != g->line ||
		    strcmp(f->func, g->func) || strcmp(f->file, g->file) ||
		    strcmp(f->module, g->module))
			return false;
	}
	return true;
}

/* A stack record: `stack` with its payload's byte at `at` set to v (at
 * SIZE_MAX: as encoded), decoded. */
static int stack_decoded(const struct vt_rec_stack *st, size_t at, uint8_t v,
			 struct vt_rec_stack *out)
{
	struct vt_rec_buf b = { 0 };
	struct vt_rec rec = { .type = VT_REC_STACK };
	int rc;

	vt_rec_stack(&b, st);
	rec.payload = b.p + 5;
	rec.len = b.len - 9;
	if (at < rec.len)
		b.p[5 + at] = v;
	rc = vt_rec_stack_decode(&rec, out);
	vt_rec_buf_free(&b);
	return rc;
}

/* Each id's first stack record, found through the index; an id without
 * one is not found; bounds hold on read. */
static void test_stacks(const struct session *x)
{
	struct vt_rec_index ix;
	struct vt_rec_stack st, want7 = sample_stack(7, 120),
			    want3 = sample_stack(3, 5), big = sample_stack(9, 1);
	char err[256];

	want3.nframes = 1;
	want3.truncated = false;
	CHECK(vt_rec_index_build(x->rec.p, x->rec.len, &ix, err,
				 sizeof(err)) == 0);
	CHECK_EQ_U64(ix.version, VT_REC_VERSION);
	CHECK_EQ_U64(ix.nstacks, 2);
	CHECK(vt_rec_index_stack(x->rec.p, &ix, 7, &st) == 0 &&
	      frames_eq(&st, &want7));
	CHECK(vt_rec_index_stack(x->rec.p, &ix, 3, &st) == 0 &&
	      frames_eq(&st, &want3));
	CHECK(vt_rec_index_stack(x->rec.p, &ix, 4, &st) == -1);
	CHECK(vt_rec_index_stack(x->rec.p, &ix, 8, &st) == -1);
	vt_rec_index_free(&ix);
	/* payload: id, flags, count, then per frame flags, pc, func ... */
	CHECK(stack_decoded(&want7, SIZE_MAX, 0, &st) == 0);
	CHECK(stack_decoded(&want7, 0, 0, &st) == -1);		/* id 0 */
	CHECK(stack_decoded(&want7, 1, 0x02, &st) == -1);	/* flag */
	CHECK(stack_decoded(&want7, 2, 33, &st) == -1);	/* frames */
	CHECK(stack_decoded(&want7, 3, 0x04, &st) == -1);	/* frame flag */
	CHECK(stack_decoded(&want7, 8, 96, &st) == -1);	/* func > 95 */
	CHECK(stack_decoded(&want7, 2, 4, &st) == -1);	/* past the end */
	/* more frames than a report keeps: the first 32 */
	big.nframes = 40;
	CHECK(stack_decoded(&big, SIZE_MAX, 0, &st) == 0);
	CHECK_EQ_U64(st.nframes, VT_REP_MAX_FRAMES);
}

/* ---- figures records --------------------------------------------------- */

/* The session's figures records: rebased where metrics came or went,
 * otherwise only what changed, and none for a tick that changed none;
 * never whole (keyframes are). */
static void test_figures_records(const struct session *x)
{
	struct vt_rec_reader r;
	struct vt_rec rec;
	size_t whole = 0, changed = 0, rebased = 0, ticks = 0;
	struct vt_rec_index ix;
	char err[256];

	vt_rec_open(&r, x->rec.p, x->rec.len);
	while (vt_rec_next(&r, &rec) == 1) {
		ticks += rec.type == VT_REC_TICK;
		if (rec.type != VT_REC_FIGURES)
			continue;
		whole += rec.payload[0] == 1;
		changed += rec.payload[0] == 2;
		rebased += rec.payload[0] == 3;
	}
	CHECK_EQ_U64(whole, 0);
	CHECK_EQ_U64(rebased, 3);		/* 1013, 1027, 1033 */
	CHECK(changed >= 20 && rebased + changed < ticks);
	CHECK(vt_rec_index_build(x->rec.p, x->rec.len, &ix, err,
				 sizeof(err)) == 0);
	CHECK_EQ_U64(ix.figures, rebased + changed);
	vt_rec_index_free(&ix);
}

/* payload as a figures record applied to s: vt_rec_apply's result. */
static int figures_apply(struct vt_state *s, const uint8_t *p, size_t n)
{
	struct vt_rec_buf b = { 0 };
	struct vt_rec_reader r;
	struct vt_rec rec;
	size_t start;
	char err[256] = "";
	int rc = -2;

	vt_rec_preamble(&b);
	start = vt_rec_begin(&b, VT_REC_FIGURES);
	vt_rec_buf_put(&b, p, n);
	vt_rec_end(&b, start);
	if (vt_rec_open(&r, b.p, b.len) == 0 && vt_rec_next(&r, &rec) == 1)
		rc = vt_rec_apply(s, &rec, NULL, err, sizeof(err));
	if (rc < 0)
		CHECK(strstr(err, "malformed figures record at byte 16") != NULL);
	vt_rec_buf_free(&b);
	return rc;
}

/* A whole figures payload of f (its record's framing stripped). */
static void figures_payload(struct vt_rec_buf *b, const struct vt_figures *f)
{
	struct vt_rec_figbase none = { 0 };
	struct vt_rec_buf rec = { 0 };

	vt_rec_figures(&rec, &none, f);
	vt_rec_buf_put(b, rec.p + 5, rec.len - VT_REC_FRAME);
	vt_rec_buf_free(&rec);
	vt_rec_figbase_free(&none);
}

/* A record only of the changed values is what it says, smaller than the
 * whole, and nothing is written when nothing changed. Malformed ones
 * (every count and length past its bound, a base that is not there or
 * not the same metrics) are refused, the model's figures as they were. */
static void test_figures_malformed(void)
{
	struct vt_figures *f0 = figures_new(0), *f1 = figures_copy(f0, 4);
	struct vt_figures *one = figures_copy(f0, 1), *five = figures_new(1);
	struct vt_rec_figbase base = { 0 };
	struct vt_rec_buf b = { 0 }, w = { 0 }, t = { 0 };
	struct vt_state *s = vt_state_new(0);
	size_t n;

	/* whole, every kind of metric: as they were */
	figures_payload(&w, f0);
	CHECK(figures_apply(s, w.p, w.len) == 0);
	CHECK(figures_eq(vt_state_figures(s), f0));
	vt_state_figures_set(s, NULL);
	vt_rec_buf_free(&w);
	f1->metrics[1].counter++;
	f1->gc.cycles++;
	vt_rec_figbase_set(&base, f0);
	vt_rec_figures(&b, &base, f0);
	CHECK_EQ_U64(b.len, 0);			/* the same: nothing */
	vt_rec_figures(&b, &base, f1);
	CHECK(b.len > 5 && b.p[5] == 2);	/* changed */
	figures_payload(&w, f1);
	CHECK(b.len - VT_REC_FRAME < w.len / 2);
	/* applied to nothing, then to other metrics: refused */
	CHECK(figures_apply(s, b.p + 5, b.len - VT_REC_FRAME) == -1);
	CHECK(vt_state_figures(s) == NULL);
	vt_state_figures_set(s, figures_new(1));
	CHECK(figures_apply(s, b.p + 5, b.len - VT_REC_FRAME) == -1);
	CHECK(figures_eq(vt_state_figures(s), five));
	vt_state_figures_set(s, figures_copy(f0, 4));
	CHECK(figures_apply(s, b.p + 5, b.len - VT_REC_FRAME) == 0);
	CHECK(figures_eq(vt_state_figures(s), f1));
	/* a changed metric past the last one: the gap before the one
	 * value (2^40 + 1, six bytes) made 4, metrics being 0 to 3 */
	vt_rec_buf_put(&t, b.p + 5, b.len - VT_REC_FRAME);
	CHECK(t.p[t.len - 7] == 1);
	t.p[t.len - 7] = 4;
	CHECK(figures_apply(s, t.p, t.len) == -1);
	CHECK(figures_eq(vt_state_figures(s), f1));
	/* metrics came: as those before them, the new one whole; smaller
	 * than whole, and what it says */
	{
		struct vt_figures *f2 = figures_copy(f1, 5);
		struct vt_rec_buf b2 = { 0 }, w2 = { 0 };

		f2->metrics[0].counter += 2;
		vt_rec_figbase_set(&base, f1);
		vt_rec_figures(&b2, &base, f2);
		figures_payload(&w2, f2);
		CHECK(b2.len > 5 && b2.p[5] == 3 &&
		      b2.len - VT_REC_FRAME < w2.len / 2);
		CHECK(figures_apply(s, b2.p + 5, b2.len - VT_REC_FRAME) == 0);
		CHECK(figures_eq(vt_state_figures(s), f2));
		vt_state_figures_set(s, NULL);	/* rebased on nothing */
		CHECK(figures_apply(s, b2.p + 5, b2.len - VT_REC_FRAME) == -1);
		vt_state_figures_set(s, figures_copy(f1, 4));
		vt_rec_buf_free(&b2);
		vt_rec_buf_free(&w2);
		vt_figures_free(f2);
	}
	/* whole, of one counter "http_requests_total": its last bytes are
	 * count, type, name length, name, label count... value */
	vt_rec_buf_free(&w);
	one->metrics[0].nlabels = 0;
	one->metrics[0].counter = 5;
	snprintf(one->metrics[0].name, sizeof(one->metrics[0].name), "ab");
	figures_payload(&w, one);
	CHECK(figures_apply(s, w.p, w.len) == 0);
	CHECK(figures_eq(vt_state_figures(s), one));
	n = w.len;
	{
		static const struct {
			size_t from_end;
			uint8_t v;
		} bad[] = {
			{ 6, 3 },	/* type */
			{ 5, 96 },	/* name length */
			{ 4, 0 },	/* a NUL in the name */
			{ 2, 9 },	/* labels */
			{ 7, 2 },	/* count: a metric past the end */
		};

		for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
			uint8_t keep = w.p[n - bad[i].from_end];

			w.p[n - bad[i].from_end] = bad[i].v;
			CHECK(figures_apply(s, w.p, n) == -1);
			w.p[n - bad[i].from_end] = keep;
		}
	}
	CHECK(figures_eq(vt_state_figures(s), one));
	/* rebased on it: its one metric as it is, then one past it */
	vt_rec_buf_free(&t);
	vt_rec_buf_put(&t, w.p, n - 7);
	t.p[0] = 3;
	vt_rec_put_u(&t, 1);
	vt_rec_put_u(&t, 1);		/* metric 0, values the same */
	CHECK(figures_apply(s, t.p, t.len) == 0);
	CHECK(figures_eq(vt_state_figures(s), one));
	t.p[t.len - 1] = 3;		/* metric 1 of 1 */
	CHECK(figures_apply(s, t.p, t.len) == -1);
	CHECK(figures_eq(vt_state_figures(s), one));
	vt_rec_buf_free(&t);
	vt_rec_put_byte(&w, 0);		/* a byte past the end */
	CHECK(figures_apply(s, w.p, w.len) == -1);
	/* counts beyond the bound, or beyond what the payload holds */
	vt_rec_buf_free(&t);
	vt_rec_buf_put(&t, w.p, n - 7);
	vt_rec_put_u(&t, VT_REC_MAX_METRICS + 1);
	CHECK(figures_apply(s, t.p, t.len) == -1);
	t.len = n - 7;
	vt_rec_put_u(&t, VT_REC_MAX_METRICS);
	CHECK(figures_apply(s, t.p, t.len) == -1);
	t.p[0] = 3;			/* no such form */
	CHECK(figures_apply(s, t.p, t.len) == -1);
	CHECK(figures_eq(vt_state_figures(s), one));
	CHECK(figures_apply(s, (const uint8_t *)"\0", 1) == 0);	/* none */
	CHECK(vt_state_figures(s) == NULL);
	vt_rec_buf_free(&b);
	vt_rec_buf_free(&w);
	vt_rec_buf_free(&t);
	vt_rec_figbase_free(&base);
	vt_figures_free(f0);
	vt_figures_free(f1);
	vt_figures_free(one);
	vt_figures_free(five);
	vt_state_free(s);
}

/* A version 2 keyframe, which ends after the tick's facts, reads as a
 * state without figures nor large-object bytes; a version 3 keyframe may
 * not carry only the changed values. */
static void test_keyframe_versions(const struct session *x)
{
	struct vt_rec_buf b = { 0 }, k = { 0 };
	struct vt_rec_tick t = { .now_ms = 77 };
	struct vt_state *s = vt_state_new(500);
	struct vt_rec_reader r;
	struct vt_rec rec;
	struct vt_rec_cur c;
	uint8_t *raw, *out;
	uLongf got, outlen;
	uint64_t rawlen;
	size_t start;
	char err[256];
	struct vt_gc gc = *vt_state_gc(x->live);

	gc.large_object_bytes = 0;		/* a keyframe without */
	vt_state_gc_set(x->live, &gc);
	vt_state_figures_set(x->live, NULL);
	t.counters = *vt_state_counters(x->live);
	vt_rec_keyframe(&k, x->live, &t);
	c = (struct vt_rec_cur){ k.p + 5, k.p + k.len - 4, false };
	CHECK_EQ_U64(vt_rec_get_u(&c), 77);
	rawlen = vt_rec_get_u(&c);
	got = (uLongf)rawlen;
	raw = malloc(rawlen);
	CHECK(uncompress(raw, &got, c.p, (uLong)(c.end - c.p)) == Z_OK);
	/* its end: large-object bytes 0, figures none */
	CHECK(got == rawlen && raw[rawlen - 2] == 0 && raw[rawlen - 1] == 0);
	outlen = compressBound(rawlen);
	out = malloc(outlen);
	CHECK(compress(out, &outlen, raw, rawlen - 2) == Z_OK);	/* cut */
	vt_rec_preamble(&b);
	b.p[8] = 2;
	start = vt_rec_begin(&b, VT_REC_KEYFRAME);
	vt_rec_put_u(&b, 77);
	vt_rec_put_u(&b, rawlen - 2);
	vt_rec_buf_put(&b, out, outlen);
	vt_rec_end(&b, start);
	vt_state_figures_set(s, figures_new(0));
	CHECK(vt_rec_open(&r, b.p, b.len) == 0 && r.version == 2);
	CHECK(vt_rec_next(&r, &rec) == 1);
	CHECK(vt_rec_apply(s, &rec, &t, err, sizeof(err)) == 1);
	CHECK(vt_state_figures(s) == NULL && state_eq(s, x->live));
	/* a changed-values section in a keyframe is refused */
	raw[rawlen - 1] = 2;
	outlen = compressBound(rawlen);
	CHECK(compress(out, &outlen, raw, rawlen) == Z_OK);
	b.len = VT_REC_PREAMBLE;
	start = vt_rec_begin(&b, VT_REC_KEYFRAME);
	vt_rec_put_u(&b, 77);
	vt_rec_put_u(&b, rawlen);
	vt_rec_buf_put(&b, out, outlen);
	vt_rec_end(&b, start);
	CHECK(vt_rec_open(&r, b.p, b.len) == 0 && vt_rec_next(&r, &rec) == 1);
	CHECK(vt_rec_apply(s, &rec, &t, err, sizeof(err)) == -1);
	free(raw);
	free(out);
	vt_rec_buf_free(&b);
	vt_rec_buf_free(&k);
	vt_state_free(s);
}

/* Records whose checksum is right but whose payload is noise: refused
 * with the record's name, never a crash (the fuzzer goes further). */
static void test_noise_payloads(void)
{
	size_t refused = 0, total = 0;

	for (int type = 1; type < VT_REC_TYPES; type++)
		for (int i = 0; i < 300; i++) {
			struct vt_rec_buf b = { 0 };
			struct vt_rec_reader r;
			struct vt_rec rec;
			struct vt_state *s = vt_state_new(0);
			size_t start, n = rnd() % 64;
			char err[256];

			vt_rec_preamble(&b);
			start = vt_rec_begin(&b, type);
			for (size_t j = 0; j < n; j++)
				vt_rec_put_byte(&b, (uint8_t)rnd());
			vt_rec_end(&b, start);
			if (vt_rec_open(&r, b.p, b.len) == 0 &&
			    vt_rec_next(&r, &rec) == 1) {
				total++;
				refused += vt_rec_apply(s, &rec, NULL, err,
							sizeof(err)) < 0;
			}
			vt_state_free(s);
			vt_rec_buf_free(&b);
		}
	CHECK_EQ_U64(total, (VT_REC_TYPES - 1) * 300);
	CHECK(refused > 0);
}

/* ---- a recording with every kind of moment ------------------------------- *
 *
 * Ticks 100 ms apart (wall = monotonic + W): 1000 keyframe; 1100 slot 3
 * acquired at 1020, released at 1050, acquired again at 1070 and made an
 * active connection of owner 2 at 1090 (all inside one tick); 1200 two
 * failed acquires and 5 events lost; a gap of 4 records, then at 1300 a
 * keyframe whose tick released slot 3 at 1250; 1400 slot 7 acquired at
 * 1350, in use since. */
#define W 700000000000ull

static void moment_events(struct vt_rec_buf *b, struct vt_state *s,
			  const struct vt_event *evs, size_t n)
{
	struct vt_rec_events e;

	vt_rec_events_begin(b, &e);
	for (size_t i = 0; i < n; i++) {
		vt_state_apply(s, &evs[i]);
		vt_rec_event(b, &e, &evs[i]);
	}
	vt_rec_events_end(b, &e);
}

static void moment_tick(struct vt_rec_buf *b, struct vt_state *s,
			uint64_t ms, uint64_t lost, bool keyframe)
{
	struct vt_rec_tick t = { .now_ms = ms, .wall_ms = ms + W,
				 .counters = *vt_state_counters(s) };

	t.counters.lost = lost;
	vt_state_counters_set(s, &t.counters);
	if (keyframe)
		vt_rec_keyframe(b, s, &t);
	else
		vt_rec_tick(b, &t);
}

static void moments_make(struct vt_rec_buf *b)
{
	struct vt_state *s = vt_state_new(500);
	struct img hnd;
	const struct vt_slab *sl;
	struct vt_event conn = { .type = VT_EV_CONN, .ts_ns = 1090000000 };
	struct vt_rec_gap gap = { 4, 400, 1200, 1300 };

	img_init_sys(&hnd, HND, VT_SLAB_HANDLES, 70, 0);
	img_use(&hnd, 0, VT_HK_TCP, 0, 0);
	hnd.v.version = 10;
	hnd.v.read_ns = 900000000;
	vt_state_system_set(s, 0, SYS);
	vt_state_owner_set(s, 0, 2, "http:9090");
	CHECK(vt_state_slab_load(s, &hnd.v, 900) == 0);
	img_fini(&hnd);
	sl = vt_state_slab_find(s, HND);
	conn.conn = (struct vt_ev_conn){ HND + sl->heap_off + sl->data_off +
					 3 * sl->stride, VT_HK_HTTP_CONN,
					 VT_DIAG_ACTIVE, 2 };
	vt_rec_preamble(b);
	vt_rec_header(b, "{\"pid\":1,\"start_mono_ms\":500}");
	moment_tick(b, s, 1000, 0, true);
	moment_events(b, s, (struct vt_event[]){
		img_ev(VT_EV_ACQUIRE, HND, 3, 1020000000),
		img_ev(VT_EV_RELEASE, HND, 3, 1050000000),
		img_ev(VT_EV_ACQUIRE, HND, 3, 1070000000), conn }, 4);
	moment_tick(b, s, 1100, 0, false);
	moment_events(b, s, (struct vt_event[]){
		img_ev(VT_EV_ACQUIRE_FAIL, HND, 0, 1150000000),
		img_ev(VT_EV_ACQUIRE_FAIL, HND, 0, 1160000000) }, 2);
	moment_tick(b, s, 1200, 5, false);
	vt_rec_gap(b, &gap);
	moment_events(b, s, (struct vt_event[]){
		img_ev(VT_EV_RELEASE, HND, 3, 1250000000) }, 1);
	moment_tick(b, s, 1300, 5, true);
	moment_events(b, s, (struct vt_event[]){
		img_ev(VT_EV_ACQUIRE, HND, 7, 1350000000) }, 1);
	moment_tick(b, s, 1400, 5, false);
	vt_rec_end_record(b, 1400);
	CHECK(!b->oom);
	vt_state_free(s);
}

/* The mark of kind at wall time t (W + ms), or NULL. */
static json_t *mark_at(json_t *marks, const char *kind, uint64_t ms)
{
	for (size_t i = 0; i < json_array_size(marks); i++) {
		json_t *m = json_array_get(marks, i);

		if (!strcmp(json_string_value(json_object_get(m, "kind")), kind) &&
		    (uint64_t)json_integer_value(json_object_get(m, "t")) == W + ms)
			return m;
	}
	return NULL;
}

static int64_t num(json_t *o, const char *key)
{
	return json_integer_value(json_object_get(o, key));
}

/* Each kind of moment is marked at its tick (a leak at its acquire). */
static void test_marks(struct vt_timeline *tl)
{
	char *doc = vt_timeline_json(tl, false, 10);
	json_t *j = doc ? json_loads(doc, 0, NULL) : NULL;
	json_t *marks = json_object_get(j, "marks"), *m;

	CHECK_EQ_U64(json_array_size(marks), 5);
	CHECK((m = mark_at(marks, "peak", 1100)) && num(m, "used") == 2);
	CHECK((m = mark_at(marks, "overflow", 1200)) && num(m, "count") == 2);
	CHECK((m = mark_at(marks, "lost", 1200)) && num(m, "count") == 5);
	CHECK((m = mark_at(marks, "gap", 1300)) && num(m, "ticks") == 4);
	CHECK((m = mark_at(marks, "leak", 1350)) && num(m, "slot") == 7);
	json_decref(j);
	free(doc);
}

/* A slot's history has every change at its event's time, also those
 * inside one tick and in the tick a keyframe ends; each says the state
 * and the owner. */
static void test_slot_events(struct vt_timeline *tl)
{
	static const struct { const char *event, *state, *owner; uint64_t t; }
	want[] = {
		{ "start", "F", "", 1000 }, { "acquired", "U", "", 1020 },
		{ "released", "F", "", 1050 }, { "acquired", "U", "", 1070 },
		{ "state", "A", "http:9090", 1090 }, { "released", "F", "", 1250 },
	};
	char err[256], *doc = vt_timeline_slot_json(tl, 0, "handles", 3, err,
						     sizeof(err));
	json_t *j = doc ? json_loads(doc, 0, NULL) : NULL;
	json_t *ch = json_object_get(j, "changes");
	size_t bad = 0;

	CHECK_EQ_U64(json_array_size(ch), 6);
	for (size_t i = 0; i < json_array_size(ch) && i < 6; i++) {
		json_t *c = json_array_get(ch, i);

		bad += strcmp(json_string_value(json_object_get(c, "event")),
			      want[i].event) ||
		       strcmp(json_string_value(json_object_get(c, "state")),
			      want[i].state) ||
		       strcmp(json_string_value(json_object_get(c, "owner")),
			      want[i].owner) ||
		       (uint64_t)num(c, "t") != W + want[i].t;
	}
	CHECK_EQ_U64(bad, 0);
	CHECK(num(json_array_get(ch, 4), "since") == (int64_t)(W + 1070));
	CHECK(num(j, "from") == (int64_t)(W + 1000));
	CHECK(json_is_false(json_object_get(j, "cut")));
	CHECK(num(j, "dropped") == 0);
	json_decref(j);
	free(doc);
}

static void test_moments(void)
{
	struct vt_rec_buf b = { 0 };
	char err[256];
	struct vt_timeline *tl;

	moments_make(&b);
	tl = vt_timeline_of(b.p, b.len, err, sizeof(err));
	CHECK(tl != NULL);
	if (tl) {
		CHECK_EQ_U64(vt_timeline_nticks(tl), 5);
		test_marks(tl);
		test_slot_events(tl);
	}
	vt_timeline_free(tl);
	vt_rec_buf_free(&b);
}

int main(int argc, char **argv)
{
	struct session x;

	test_events_roundtrip();
	session_make(&x);
	test_replay_equals_live(&x);
	test_truncation(&x);
	test_seek(&x);
	test_timeline(&x);
	test_timeline_keep(&x);
	test_moments();
	test_bit_flips(&x);
	test_foreign_files(&x);
	test_stacks(&x);
	test_figures_records(&x);
	test_figures_malformed();
	test_noise_payloads();
	if (argc > 1) {
		FILE *f = fopen(argv[1], "wb");

		CHECK(f && fwrite(x.rec.p, 1, x.rec.len, f) == x.rec.len &&
		      !fclose(f));
	}
	test_keyframe_versions(&x);	/* takes the live figures away */
	session_free(&x);
	return vt_test_done("test_rec");
}
