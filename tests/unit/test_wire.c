/* vt_wire: every document parsed back and checked against the state it was
 * built from; states, RLE, bitmaps and deltas decoded the way the dashboard
 * decodes them; Prometheus output run through promtool when installed. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "vt_img.h"
#include "model/vt_state.h"
#include "wire/vt_wire.h"
#include "vt_test.h"

#define SYS0 0x55000000ULL
#define SYS1 0x56000000ULL
#define HANDLES 0x7f0000000000ULL
#define TCP 0x7f1000000000ULL
#define ARENAS 0x7f2000000000ULL
#define TCP1 0x7f3000000000ULL
#define MS 1000000ULL

static void load(struct vt_state *s, struct img *m)
{
	CHECK(vt_state_slab_load(s, &m->v, 1000) == 0);
	img_fini(m);
}

/* The state every test starts from: two systems, system 0 with handles
 * (all letters, owners in and out of range), a 21-slot tcp slab, a 64-slot
 * arena slab with repeated bytes; system 1 with one tcp slab. */
static struct vt_state *fixture(void)
{
	struct vt_state *s = vt_state_new(1000);
	struct vt_arena ar[2] = {
		{ .name = "scratch", .capacity = 4194200, .used = 512, .hwm = 9000 },
		{ .name = "stream_arena/3", .capacity = 4194304, .used = 77,
		  .hwm = 99, .overflow = 2, .overflow_bytes = 4096 },
	};
	struct vt_gc gc = { .heap_used_bytes = 1048576,
			    .heap_total_bytes = 536870912, .nclasses = 2,
			    .classes = { { 16, 10, 256 }, { 32, 3, 128 } } };
	uint64_t hits[VT_P_COUNT] = { [VT_P_ACQUIRE_RET] = 41,
				      [VT_P_RELEASE] = 17 };
	struct img m;
	struct vt_event ev = img_ev(VT_EV_ACQUIRE, TCP, 5, 4000 * MS);

	vt_state_system_set(s, 0, SYS0);
	vt_state_system_set(s, 1, SYS1);
	vt_state_owner_set(s, 0, 0, ":8443");
	vt_state_owner_set(s, 0, 1, ":6969");
	vt_state_owner_set(s, 1, 0, ":9090");

	img_init_sys(&m, HANDLES, VT_SLAB_HANDLES, 70, 0);
	img_use(&m, 0, VT_HK_TASK, 0, 0);
	img_use(&m, 2, VT_HK_TCP, 0, 0);
	img_use(&m, 5, VT_HK_HTTP_CONN, VT_DIAG_ACTIVE, 0);
	img_use(&m, 6, VT_HK_HTTP_CONN, VT_DIAG_IDLE, 1);
	img_use(&m, 7, VT_HK_HTTP_CONN, VT_DIAG_CONNECTING, 0);
	img_use(&m, 8, VT_HK_HTTP_CONN, VT_DIAG_CLOSING, 5);	/* unknown owner */
	img_use(&m, 9, VT_HK_TIMER, 0, 0);
	m.kinds[10] = VT_HK_HTTP_CONN;	/* stale words of a freed slot */
	m.diags[10] = VT_DIAG_ACTIVE;
	m.v.hwm = 9;
	m.v.acquires = 30;
	m.v.releases = 23;
	m.v.overflow = 1;
	load(s, &m);

	img_init_sys(&m, TCP, VT_SLAB_TCP_BUFFERS, 21, 0);
	img_use(&m, 0, 0, 0, 0);
	img_use(&m, 3, 0, 0, 0);
	img_use(&m, 8, 0, 0, 0);
	img_use(&m, 20, 0, 0, 0);
	m.v.hwm = 6;
	load(s, &m);
	vt_state_apply(s, &ev);	/* slot 5 acquired at 4 s */

	img_init_sys(&m, ARENAS, VT_SLAB_STREAM_ARENAS, 64, 0);
	memset(m.bm, 0xff, 3);
	m.bm[5] = 0x01;
	m.v.used = 25;
	load(s, &m);

	img_init_sys(&m, TCP1, VT_SLAB_TCP_BUFFERS, 8, 1);
	img_use(&m, 1, 0, 0, 0);
	load(s, &m);

	vt_state_arenas_set(s, ar, 2);
	vt_state_gc_set(s, &gc);
	vt_state_tracer_update(s, 2, hits);
	return s;
}

static const struct vt_wire_meta meta = {
	.pid = 4242, .binary = "/opt/valk/lib/libvalkyria.so",
	.build_id = "0123abcd", .mode = "probe", .now_ms = 40000,
	.wall_ms = 1763800000123ULL, .leak_age_ms = 30000, .uptime_s = 42.5,
	.rss = 52428800, .vms = 2684354560ULL, .system_total = 16777216000ULL,
};

static json_t *parse(char *text)
{
	json_error_t e;
	json_t *j;

	CHECK(text != NULL);
	if (!text)
		return json_object();
	CHECK(strchr(text, '\n') == NULL);
	j = json_loads(text, 0, &e);
	if (!j)
		fprintf(stderr, "json: %s at %d: %.200s\n", e.text, e.position, text);
	CHECK(j != NULL);
	free(text);
	return j ? j : json_object();
}

static uint64_t ju(const json_t *o, const char *path)
{
	json_t *v = json_object_get(o, path);

	CHECK(json_is_integer(v));
	return (uint64_t)json_integer_value(v);
}

static const char *js(const json_t *o, const char *key)
{
	const char *v = json_string_value(json_object_get(o, key));

	return v ? v : "(missing)";
}

/* ---- decoders, as the dashboard's script.js decodes ---------------------- */

/* "F16A3" -> 16 F then 3 A; a missing count is 1. */
static char *decode_rle(const char *r, size_t len)
{
	size_t cap = 64, n = 0;
	char *out = malloc(cap);

	for (size_t i = 0; i < len;) {
		char c = r[i++];
		unsigned long cnt = 0;

		while (i < len && r[i] >= '0' && r[i] <= '9')
			cnt = cnt * 10 + (unsigned long)(r[i++] - '0');
		if (!cnt)
			cnt = 1;
		while (n + cnt + 1 > cap)
			out = realloc(out, cap *= 2);
		memset(out + n, c, cnt);
		n += cnt;
	}
	out[n] = 0;
	return out;
}

/* Apply "offset:RLE,offset:RLE" onto an expanded state string in place. */
static void apply_delta(char *states, size_t total, const char *delta)
{
	while (*delta) {
		size_t len = strcspn(delta, ",");
		char *colon = memchr(delta, ':', len), *exp;
		size_t off = strtoul(delta, NULL, 10);

		CHECK(colon != NULL);
		if (!colon)
			return;
		exp = decode_rle(colon + 1, len - (size_t)(colon + 1 - delta));
		CHECK(off + strlen(exp) <= total);
		if (off + strlen(exp) <= total)
			memcpy(states + off, exp, strlen(exp));
		free(exp);
		delta += len + (delta[len] == ',');
	}
}

/* "hh,hh*count" -> bitmap bytes; returns the byte count. */
static size_t decode_segments(const char *s, uint8_t *out, size_t max)
{
	size_t n = 0;

	while (*s) {
		unsigned v = (unsigned)strtoul(s, NULL, 16);
		size_t len = strcspn(s, ","), cnt = 1;
		const char *star = memchr(s, '*', len);

		if (star)
			cnt = strtoul(star + 1, NULL, 10);
		for (size_t i = 0; i < cnt && n < max; i++)
			out[n++] = (uint8_t)v;
		s += len + (s[len] == ',');
	}
	return n;
}

static size_t decode_hex(const char *s, uint8_t *out, size_t max)
{
	size_t n = 0;

	for (; s[0] && s[1] && n < max; s += 2) {
		char h[3] = { s[0], s[1], 0 };

		out[n++] = (uint8_t)strtoul(h, NULL, 16);
	}
	return n;
}

static const struct vt_slab *slab_of(const struct vt_state *s, uint64_t a)
{
	return vt_state_slab_find(s, a);
}

/* ---- the memory dialect --------------------------------------------------- */

static void check_memory_handles(const struct vt_state *s, json_t *h)
{
	json_t *sum = json_object_get(h, "summary");
	json_t *own = json_object_get(h, "by_owner");
	const struct vt_slab *sl = slab_of(s, HANDLES);

	CHECK_STR(js(h, "name"), "handles");
	CHECK_EQ_U64(ju(h, "total"), 70);
	CHECK_EQ_U64(ju(h, "used"), 7);
	CHECK_EQ_U64(ju(h, "hwm"), 9);
	CHECK_EQ_U64(ju(h, "overflow"), 1);
	CHECK_EQ_U64(ju(h, "acquires"), 30);
	CHECK_EQ_U64(ju(h, "releases"), 23);
	CHECK_EQ_U64(strlen(js(h, "states")), 70);
	CHECK(!strncmp(js(h, "states"), "KFTFFAINCMF", 11));
	CHECK(!memcmp(js(h, "states"), sl->states, 70));
	CHECK(json_object_get(h, "bitmap") == NULL);
	CHECK_EQ_U64(json_object_size(sum), 8);	/* letters present */
	CHECK_EQ_U64(ju(sum, "F"), 63);
	CHECK_EQ_U64(ju(sum, "K"), 1);
	CHECK_EQ_U64(ju(sum, "T"), 1);
	CHECK_EQ_U64(ju(sum, "M"), 1);
	CHECK_EQ_U64(ju(sum, "A"), 1);
	CHECK_EQ_U64(ju(sum, "I"), 1);
	CHECK_EQ_U64(ju(sum, "N"), 1);
	CHECK_EQ_U64(ju(sum, "C"), 1);
	CHECK_EQ_U64(json_object_size(own), 3);
	CHECK_EQ_U64(ju(json_object_get(own, "0"), "A"), 1);
	CHECK_EQ_U64(ju(json_object_get(own, "0"), "N"), 1);
	CHECK_EQ_U64(ju(json_object_get(own, "0"), "I"), 0);
	CHECK_EQ_U64(ju(json_object_get(own, "1"), "I"), 1);
	CHECK_EQ_U64(ju(json_object_get(own, "?"), "C"), 1);
	/* per-slot owners: connections only, '-' past the registry */
	CHECK(!strncmp(js(h, "owners"), "-----010--", 10));
	CHECK_EQ_U64(strlen(js(h, "owners")), 70);
}

static void check_memory_tcp(const struct vt_state *s, json_t *t)
{
	uint8_t bm[8];

	CHECK_STR(js(t, "name"), "tcp_buffers");
	CHECK_EQ_U64(ju(t, "system"), 0);
	CHECK_EQ_U64(ju(t, "total"), 21);
	CHECK_EQ_U64(ju(t, "used"), 5);
	CHECK_EQ_U64(ju(t, "acquires"), 1);
	/* slots 0,3,5 -> 0x29; slot 8 -> 0x01; slot 20 -> bit 4 of byte 2 */
	CHECK_STR(js(t, "bitmap"), "290110");
	CHECK_EQ_U64(decode_hex(js(t, "bitmap"), bm, sizeof(bm)), 3);
	CHECK(!memcmp(bm, slab_of(s, TCP)->bitmap, 3));
	CHECK(json_object_get(t, "states") == NULL);
}

static void check_memory_rest(json_t *doc)
{
	json_t *ar = json_object_get(doc, "arenas");
	json_t *gc = json_object_get(doc, "gc");
	json_t *tr = json_object_get(doc, "tracer");
	json_t *maps = json_object_get(doc, "owner_maps");
	json_t *probes = json_object_get(tr, "probes");
	json_t *a1 = json_array_get(ar, 1);

	CHECK_EQ_U64(json_array_size(ar), 2);
	CHECK_STR(js(json_array_get(ar, 0), "name"), "scratch");
	CHECK_STR(js(a1, "name"), "stream_arena/3");
	CHECK_EQ_U64(ju(a1, "system"), 0);
	CHECK_EQ_U64(ju(a1, "capacity"), 4194304);
	CHECK_EQ_U64(ju(a1, "used"), 77);
	CHECK_EQ_U64(ju(a1, "hwm"), 99);
	CHECK_EQ_U64(ju(a1, "overflow"), 2);
	CHECK_EQ_U64(ju(a1, "overflow_bytes"), 4096);
	CHECK_EQ_U64(ju(gc, "heap_used_bytes"), 1048576);
	CHECK_EQ_U64(ju(gc, "heap_total_bytes"), 536870912);
	CHECK_EQ_U64(json_array_size(json_object_get(gc, "size_classes")), 2);
	CHECK_EQ_U64(ju(json_array_get(json_object_get(gc, "size_classes"), 1),
			"total"), 128);
	CHECK_EQ_U64(json_array_size(json_object_get(doc, "owner_map")), 2);
	CHECK_STR(json_string_value(json_array_get(json_object_get(doc, "owner_map"), 1)),
		  ":6969");
	CHECK_EQ_U64(json_array_size(maps), 2);
	CHECK_STR(json_string_value(json_array_get(json_array_get(maps, 1), 0)),
		  ":9090");
	CHECK_STR(js(tr, "mode"), "probe");
	CHECK_EQ_U64(ju(tr, "attached_ms"), 1763800000123ULL - 39000);
	CHECK_EQ_U64(ju(tr, "events"), 1);
	CHECK_EQ_U64(ju(tr, "lost"), 2);
	CHECK_EQ_U64(ju(tr, "resyncs"), 0);
	/* every live probe, by name; the four retired ids are not listed */
	CHECK_EQ_U64(json_array_size(probes), VT_P_COUNT - 4);
	for (size_t i = 0; i < json_array_size(probes); i++)
		CHECK(strcmp(js(json_array_get(probes, i), "name"), "unknown"));
	CHECK_STR(js(json_array_get(probes, VT_P_RELEASE), "name"),
		  "uprobe:valk_slab_release");
	CHECK_EQ_U64(ju(json_array_get(probes, VT_P_RELEASE), "hits"), 17);
	CHECK_EQ_U64(ju(json_array_get(probes, VT_P_ACQUIRE_RET), "hits"), 41);
}

/* Leaks at now=40 s, min age 30 s: the slots in use since attach (1 s,
 * age 39 s) in slab order then slot order; the tcp slot acquired at 4 s
 * (age 36 s) after them. */
static void check_memory_leaks(json_t *doc)
{
	json_t *l = json_object_get(doc, "leaks");
	json_t *first = json_array_get(l, 0), *conn = NULL, *last;
	size_t n = json_array_size(l);

	CHECK_EQ_U64(n, 4 + 7 + 25 + 1 + 1);
	CHECK_STR(js(first, "slab"), "tcp_buffers");
	CHECK_EQ_U64(ju(first, "slot"), 0);
	CHECK_EQ_U64(ju(first, "age_ms"), 39000);
	CHECK_STR(js(first, "since"), "attach");
	CHECK_STR(js(first, "state"), "U");
	CHECK(json_is_null(json_object_get(first, "owner")));
	for (size_t i = 0; i < n; i++) {
		json_t *e = json_array_get(l, i);

		if (!strcmp(js(e, "slab"), "handles") && ju(e, "slot") == 6)
			conn = e;
		if (i)
			CHECK(ju(e, "age_ms") <= ju(json_array_get(l, i - 1), "age_ms"));
	}
	CHECK(conn != NULL);
	if (conn) {
		CHECK_STR(js(conn, "state"), "I");
		CHECK_STR(js(conn, "owner"), ":6969");
	}
	last = json_array_get(l, n - 1);
	CHECK_STR(js(last, "slab"), "tcp_buffers");
	CHECK_EQ_U64(ju(last, "slot"), 5);
	CHECK_EQ_U64(ju(last, "age_ms"), 36000);
	CHECK(json_object_get(last, "since") == NULL);
}

static void test_memory(void)
{
	struct vt_state *s = fixture();
	json_t *doc = parse(vt_wire_memory(s, &meta, 41));
	json_t *slabs = json_object_get(doc, "slabs");
	json_t *target = json_object_get(doc, "target");
	struct vt_wire_meta m2 = meta;
	struct img big;

	CHECK_EQ_U64(ju(doc, "seq"), 41);
	CHECK_EQ_U64(ju(doc, "ts_ms"), 1763800000123ULL);
	CHECK_EQ_U64(ju(doc, "pid"), 4242);
	CHECK_EQ_U64(ju(target, "pid"), 4242);
	CHECK_STR(js(target, "binary"), "/opt/valk/lib/libvalkyria.so");
	CHECK_STR(js(target, "build_id"), "0123abcd");
	CHECK(json_real_value(json_object_get(target, "uptime_s")) == 42.5);
	CHECK_EQ_U64(json_array_size(slabs), 4);
	check_memory_tcp(s, json_array_get(slabs, 0));
	check_memory_handles(s, json_array_get(slabs, 1));
	CHECK_STR(js(json_array_get(slabs, 2), "name"), "stream_arenas");
	CHECK_STR(js(json_array_get(slabs, 2), "bitmap"), "ffffff0000010000");
	CHECK_EQ_U64(ju(json_array_get(slabs, 3), "system"), 1);
	check_memory_rest(doc);
	check_memory_leaks(doc);
	json_decref(doc);

	/* at most 100 leaks */
	m2.leak_age_ms = 0;
	img_init_sys(&big, 0x7f9000000000ULL, VT_SLAB_TCP_BUFFERS, 300, 2);
	memset(big.bm, 0xff, (300 + 7) / 8);
	load(s, &big);
	doc = parse(vt_wire_memory(s, &m2, 42));
	CHECK_EQ_U64(json_array_size(json_object_get(doc, "leaks")), 100);
	json_decref(doc);
	vt_state_free(s);
}

/* ---- the valk dialect --------------------------------------------------- */

static void check_valk_metrics(json_t *met)
{
	json_t *aio = json_object_get(met, "aio");
	json_t *conn = json_object_get(aio, "connections");
	json_t *mod = json_object_get(met, "modular");

	CHECK(json_real_value(json_object_get(aio, "uptime_seconds")) == 42.5);
	CHECK_EQ_U64(ju(conn, "total"), 4);
	CHECK_EQ_U64(ju(conn, "active"), 1);
	CHECK_EQ_U64(ju(conn, "idle"), 1);
	CHECK_EQ_U64(ju(conn, "closing"), 1);
	CHECK_EQ_U64(ju(conn, "connecting"), 1);
	/* no figures read: no queue, no failed count */
	CHECK(json_object_get(conn, "failed") == NULL);
	CHECK(json_object_get(aio, "queue") == NULL);
	CHECK(json_is_array(json_object_get(aio, "counters")));
	CHECK_EQ_U64(json_array_size(json_object_get(aio, "counters")), 0);
	CHECK_EQ_U64(json_array_size(json_object_get(aio, "histograms")), 0);
	CHECK_EQ_U64(json_array_size(json_object_get(mod, "gauges")), 0);
	CHECK(json_real_value(json_object_get(mod, "uptime_seconds")) == 42.5);
	CHECK_EQ_U64(ju(json_object_get(json_object_get(met, "vm"), "gc"),
			"heap_used_bytes"), 1048576);
	CHECK(json_is_object(json_object_get(met, "registry")));
}

static void check_valk_memory(const struct vt_state *s, json_t *mem)
{
	json_t *slabs = json_object_get(mem, "slabs");
	json_t *h = json_array_get(slabs, 1), *t = json_array_get(slabs, 0);
	json_t *bo = json_object_get(json_object_get(h, "summary"), "by_owner");
	json_t *bd = json_object_get(mem, "breakdown");
	const char *rle = js(h, "states");
	char *exp = decode_rle(rle, strlen(rle));
	uint8_t bm[16];

	CHECK_EQ_U64(json_array_size(slabs), 3);	/* system 0 only */
	CHECK_STR(js(h, "name"), "handles");
	CHECK_STR(rle, "K1F1T1F2A1I1N1C1M1F60");
	CHECK(!memcmp(exp, slab_of(s, HANDLES)->states, 70) && strlen(exp) == 70);
	free(exp);
	CHECK_EQ_U64(ju(h, "total"), 70);
	CHECK_EQ_U64(ju(h, "used"), 7);
	CHECK_EQ_U64(ju(json_object_get(bo, "1"), "I"), 1);
	CHECK_EQ_U64(ju(json_object_get(bo, "?"), "C"), 1);
	CHECK_STR(js(t, "bitmap"), "29,01,10");
	CHECK_STR(js(json_array_get(slabs, 2), "bitmap"), "ff*3,00*2,01,00*2");
	CHECK_EQ_U64(decode_segments(js(json_array_get(slabs, 2), "bitmap"), bm,
				     sizeof(bm)), 8);
	CHECK(!memcmp(bm, slab_of(s, ARENAS)->bitmap, 8));
	CHECK_EQ_U64(json_array_size(json_object_get(mem, "arenas")), 2);
	CHECK_EQ_U64(ju(json_object_get(mem, "process"), "rss"), 52428800);
	CHECK_EQ_U64(ju(json_object_get(mem, "process"), "system_total"),
		     16777216000ULL);
	CHECK_EQ_U64(ju(bd, "gc_used"), 1048576);
	CHECK_EQ_U64(ju(bd, "gc_cap"), 536870912);
	CHECK_EQ_U64(ju(bd, "aio_used"), (7 + 5 + 25) * 944ULL);
	CHECK_EQ_U64(ju(bd, "aio_cap"), (70 + 21 + 64) * 944ULL);
	CHECK_EQ_U64(ju(bd, "scratch_used"), 512);
	CHECK_EQ_U64(ju(bd, "scratch_cap"), 4194200);
	/* no figures read: no library bytes, and never a made-up zero */
	CHECK(json_object_get(bd, "ssl_used") == NULL);
	CHECK(json_object_get(bd, "metrics_used") == NULL);
	CHECK_EQ_U64(json_object_size(bd), 6);
	CHECK_STR(json_string_value(json_array_get(json_object_get(mem, "owner_map"), 0)),
		  ":8443");
}

static void test_valk_full(void)
{
	struct vt_state *s = fixture();
	json_t *doc = parse(vt_wire_valk_full(s, &meta, NULL));

	check_valk_metrics(json_object_get(doc, "metrics"));
	check_valk_memory(s, json_object_get(doc, "memory"));
	json_decref(doc);
	vt_state_free(s);
}

static struct vt_event conn_ev(uint64_t slot, uint32_t diag, uint16_t owner)
{
	return (struct vt_event){ .type = VT_EV_CONN,
				  .conn = { .handle = HANDLES + 96 + 16 +
						      slot * 960,
					    .kind = VT_HK_HTTP_CONN,
					    .diag = diag, .owner = owner } };
}

/* A few random acquires, releases and connection changes. */
static void churn(struct vt_state *s, const struct vt_slab *h)
{
	for (int k = rand() % 6; k >= 0; k--) {
		uint64_t slot = (uint64_t)rand() % 70;
		struct vt_event ev = img_ev(h->bitmap[slot / 8] >> (slot % 8) & 1
						    ? VT_EV_RELEASE : VT_EV_ACQUIRE,
					    HANDLES, slot, 5000 * MS);

		vt_state_apply(s, &ev);
		if (ev.type == VT_EV_ACQUIRE && rand() % 2) {
			ev = conn_ev(slot, (uint32_t)(rand() % 5),
				     (uint16_t)(rand() % 3));
			vt_state_apply(s, &ev);
		}
		ev = img_ev(rand() % 2 ? VT_EV_ACQUIRE : VT_EV_RELEASE, TCP,
			    slot % 21, 5000 * MS);
		vt_state_apply(s, &ev);
	}
}

static json_t *delta_slabs(json_t *doc)
{
	return json_object_get(json_object_get(doc, "memory"), "slabs");
}

/* Nothing changed: counters and totals, but no slot data. */
static void check_quiet_delta(json_t *doc)
{
	json_t *dh = json_array_get(delta_slabs(doc), 1);
	json_t *aio = json_object_get(json_object_get(doc, "metrics"), "aio");

	CHECK_STR(js(dh, "name"), "handles");
	CHECK_EQ_U64(ju(dh, "used"), 7);
	CHECK_EQ_U64(ju(dh, "hwm"), 9);
	CHECK(json_object_get(dh, "delta_states") == NULL);
	CHECK(json_object_get(json_array_get(delta_slabs(doc), 0), "bitmap") == NULL);
	CHECK_EQ_U64(ju(json_object_get(doc, "memory"), "gc"), 1048576);
	CHECK_EQ_U64(ju(json_object_get(doc, "memory"), "rss"), 52428800);
	CHECK_EQ_U64(ju(json_object_get(aio, "connections"), "total"), 4);
	CHECK(json_real_value(json_object_get(aio, "up")) == 42.5);
	CHECK_STR(js(json_array_get(json_object_get(json_object_get(doc, "memory"), "arenas"), 1), "name"),
		  "stream_arena/3");
}

/* Random churn on handles and tcp buffers; after each round the delta,
 * applied like the dashboard applies it, must give the model's states. */
static void test_valk_delta(void)
{
	struct vt_state *s = fixture();
	struct vt_wire_delta *d = vt_wire_delta_new();
	const struct vt_slab *h = slab_of(s, HANDLES), *t = slab_of(s, TCP);
	char states[70];
	uint8_t tbm[3];
	struct img m;
	json_t *doc, *by, *fh;
	bool full;
	int bad = 0, bad_tally = 0, deltas = 0;

	json_decref(parse(vt_wire_valk_full(s, &meta, d)));
	memcpy(states, h->states, 70);
	memcpy(tbm, t->bitmap, 3);
	doc = parse(vt_wire_valk_delta(s, &meta, d, &full));
	CHECK(!full);
	check_quiet_delta(doc);
	json_decref(doc);

	for (int round = 0; round < 300; round++) {
		json_t *dh, *dt;
		const char *delta, *seg;

		churn(s, h);
		doc = parse(vt_wire_valk_delta(s, &meta, d, &full));
		CHECK(!full);
		dh = json_array_get(delta_slabs(doc), 1);
		dt = json_array_get(delta_slabs(doc), 0);
		delta = json_string_value(json_object_get(dh, "delta_states"));
		seg = json_string_value(json_object_get(dt, "bitmap"));
		if (delta) {
			apply_delta(states, 70, delta);
			deltas++;
		}
		if (seg)
			decode_segments(seg, tbm, sizeof(tbm));
		bad |= memcmp(states, h->states, 70) != 0;
		bad |= memcmp(tbm, t->bitmap, 3) != 0;
		bad |= ju(dh, "used") != h->used;
		/* the tally each delta carries is a full document's */
		by = json_incref(json_object_get(json_object_get(dh, "summary"),
						 "by_owner"));
		json_decref(doc);
		doc = parse(vt_wire_valk_full(s, &meta, NULL));
		fh = json_array_get(json_object_get(json_object_get(doc, "memory"),
						    "slabs"), 1);
		bad_tally |= !by || !json_equal(by, json_object_get(
			json_object_get(fh, "summary"), "by_owner"));
		json_decref(by);
		json_decref(doc);
	}
	CHECK(bad == 0);
	CHECK(bad_tally == 0);
	CHECK(deltas > 100);

	/* a slab added to the shown system: the delta becomes a full state */
	img_init_sys(&m, 0x7f4000000000ULL, VT_SLAB_HTTP_SERVERS, 8, 0);
	load(s, &m);
	doc = parse(vt_wire_valk_delta(s, &meta, d, &full));
	CHECK(full);
	CHECK(json_object_get(doc, "metrics") &&
	      json_object_get(json_object_get(doc, "memory"), "breakdown"));
	CHECK_EQ_U64(json_array_size(delta_slabs(doc)), 4);
	json_decref(doc);
	doc = parse(vt_wire_valk_delta(s, &meta, d, &full));
	CHECK(!full);
	json_decref(doc);

	/* a new owner: only a full state carries owner_map */
	vt_state_owner_set(s, 0, 2, ":7070");
	doc = parse(vt_wire_valk_delta(s, &meta, d, &full));
	CHECK(full);
	CHECK_EQ_U64(json_array_size(json_object_get(
			     json_object_get(doc, "memory"), "owner_map")), 3);
	json_decref(doc);
	/* an arena appears: only a full state carries its capacity, sent
	 * within a second of the last full one */
	{
		struct vt_arena a = { .name = "scratch", .capacity = 100 };
		struct vt_wire_meta later = meta;

		vt_state_arenas_set(s, &a, 1);
		doc = parse(vt_wire_valk_delta(s, &meta, d, &full));
		CHECK(!full);	/* the last full one was just now */
		json_decref(doc);
		later.now_ms += 999;
		doc = parse(vt_wire_valk_delta(s, &later, d, &full));
		CHECK(!full);
		json_decref(doc);
		later.now_ms += 1;
		doc = parse(vt_wire_valk_delta(s, &later, d, &full));
		CHECK(full);
		json_decref(doc);
		a.used = 50;	/* same arenas, new usage: a delta says it */
		vt_state_arenas_set(s, &a, 1);
		doc = parse(vt_wire_valk_delta(s, &meta, d, &full));
		CHECK(!full);
		json_decref(doc);
	}
	vt_wire_delta_free(d);
	vt_state_free(s);
}

/* ---- Prometheus ----------------------------------------------------------- */

/* promtool's exit code on the text, or -1 when promtool is not installed. */
static int promtool_check(const char *text)
{
	char path[] = "/tmp/vt_prom_XXXXXX", cmd[128];
	int fd, rc;

	if (system("command -v promtool >/dev/null 2>&1"))
		return -1;
	fd = mkstemp(path);
	CHECK(fd >= 0);
	if (fd < 0)
		return 1;
	CHECK(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
	close(fd);
	snprintf(cmd, sizeof(cmd), "promtool check metrics < %s", path);
	rc = system(cmd);
	unlink(path);
	return rc;
}

static const char *const prom_lines[] = {
	"# TYPE valk_slab_slots gauge\n",
	"valk_slab_slots{pid=\"4242\",system=\"0\",slab=\"handles\",state=\"used\"} 7\n",
	"valk_slab_slots{pid=\"4242\",system=\"0\",slab=\"handles\",state=\"free\"} 63\n",
	"valk_slab_slots{pid=\"4242\",system=\"1\",slab=\"tcp_buffers\",state=\"used\"} 1\n",
	"valk_slab_hwm_slots{pid=\"4242\",system=\"0\",slab=\"handles\"} 9\n",
	"valk_slab_overflow_total{pid=\"4242\",system=\"0\",slab=\"handles\"} 1\n",
	"valk_slab_acquires_total{pid=\"4242\",system=\"0\",slab=\"tcp_buffers\"} 1\n",
	"valk_slab_releases_total{pid=\"4242\",system=\"0\",slab=\"handles\"} 23\n",
	"valk_connections{pid=\"4242\",system=\"0\",owner=\":6969\",state=\"idle\"} 1\n",
	"valk_connections{pid=\"4242\",system=\"0\",owner=\":8443\",state=\"connecting\"} 1\n",
	"valk_connections{pid=\"4242\",system=\"0\",owner=\"?\",state=\"closing\"} 1\n",
	"valk_arena_bytes{pid=\"4242\",system=\"0\",arena=\"stream_arena/3\",kind=\"hwm\"} 99\n",
	"valk_arena_bytes{pid=\"4242\",system=\"0\",arena=\"scratch\",kind=\"capacity\"} 4194200\n",
	"valk_gc_heap_bytes{pid=\"4242\",kind=\"total\"} 536870912\n",
	"valk_trace_events_total{pid=\"4242\"} 1\n",
	"valk_trace_lost_events_total{pid=\"4242\"} 2\n",
	"valk_trace_resyncs_total{pid=\"4242\"} 0\n",
	"valk_trace_probe_hits_total{pid=\"4242\",probe=\"uprobe:valk_slab_release\"} 17\n",
};

/* The sum of the values of every sample line starting with `series`. */
static uint64_t prom_sum(const char *text, const char *series)
{
	uint64_t sum = 0;

	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : p)
		if (!strncmp(p, series, strlen(series)))
			sum += strtoull(strchr(p, ' ') + 1, NULL, 10);
	return sum;
}

static void test_prometheus(void)
{
	struct vt_state *s = fixture();
	char *text = vt_wire_prometheus(s, &meta);
	const struct vt_wire_overhead ov = { .estimate_pct = 0.25,
					     .projected_pct = 88.5,
					     .max_pct = 5, .slabs_read = true };
	struct vt_wire_meta m = meta;
	struct vt_event ev = img_ev(VT_EV_ACQUIRE, HANDLES, 20, 0);
	int rc;

	CHECK(text != NULL);
	for (size_t i = 0; text && i < sizeof(prom_lines) / sizeof(prom_lines[0]); i++) {
		if (!strstr(text, prom_lines[i]))
			fprintf(stderr, "missing: %s", prom_lines[i]);
		CHECK(strstr(text, prom_lines[i]) != NULL);
	}
	CHECK_EQ_U64(prom_sum(text, "valk_leak_suspect_slots{"), 4 + 7 + 25 + 1 + 1);
	CHECK(text && !strstr(text, "valk_trace_overhead"));	/* no budget */
	free(text);

	/* over budget: the estimate, the budget, the slab probes off */
	m.overhead = &ov;
	text = vt_wire_prometheus(s, &m);
	CHECK(text && strstr(text, "valk_trace_overhead_percent{pid=\"4242\"} 0.250\n"));
	CHECK(text && strstr(text, "valk_trace_overhead_budget_percent{pid=\"4242\"} 5.000\n"));
	CHECK(text && strstr(text, "valk_trace_slab_probes_attached{pid=\"4242\"} 0\n"));
	free(text);

	/* a label value that needs escapes, on a connection of owner 2 */
	vt_state_owner_set(s, 0, 2, "we\"ird\\name");
	vt_state_apply(s, &ev);
	ev = conn_ev(20, VT_DIAG_ACTIVE, 2);
	vt_state_apply(s, &ev);
	text = vt_wire_prometheus(s, &meta);
	CHECK(text && strstr(text, "owner=\"we\\\"ird\\\\name\",state=\"active\"} 1\n"));
	rc = text ? promtool_check(text) : 1;
	if (rc < 0)
		printf("test_wire: promtool not installed, Prometheus output not linted\n");
	else
		CHECK(rc == 0);
	free(text);
	vt_state_free(s);
}

/* ---- buckets --------------------------------------------------------------- */

static void check_buckets(const struct vt_state *s, const char *query,
			  const struct vt_slab *sl, uint64_t start,
			  uint64_t end, uint64_t n)
{
	struct vt_wire_buckets_req req;
	char err[256];
	json_t *doc, *b;
	uint64_t per, bad = 0;

	CHECK(vt_wire_buckets_parse(query, &req, err, sizeof(err)) == 0);
	doc = parse(vt_wire_buckets(s, &req, err, sizeof(err)));
	b = json_object_get(doc, "buckets");
	CHECK_EQ_U64(ju(doc, "total"), sl->total);
	CHECK_EQ_U64(json_array_size(b), start < end ? n : 0);
	per = start < end ? (end - start + n - 1) / n : 1;
	for (uint64_t i = 0; start < end && i < n; i++) {
		uint64_t u = 0, f = 0;

		for (uint64_t j = start + i * per; j < start + (i + 1) * per && j < end; j++) {
			if (sl->bitmap[j / 8] >> (j % 8) & 1)
				u++;
			else
				f++;
		}
		bad |= ju(json_array_get(b, i), "u") != u;
		bad |= ju(json_array_get(b, i), "f") != f;
	}
	CHECK(bad == 0);
	json_decref(doc);
}

static void bucket_error(const struct vt_state *s, const char *query,
			 const char *want)
{
	struct vt_wire_buckets_req req;
	char err[256] = "";
	char *out = NULL;

	if (!vt_wire_buckets_parse(query, &req, err, sizeof(err)))
		out = vt_wire_buckets(s, &req, err, sizeof(err));
	CHECK(out == NULL);
	free(out);
	if (!strstr(err, want))
		fprintf(stderr, "query '%s': error '%s' lacks '%s'\n", query, err, want);
	CHECK(strstr(err, want) != NULL);
}

static void test_buckets(void)
{
	struct vt_state *s = fixture();
	struct vt_wire_buckets_req req;
	char err[256];

	CHECK(vt_wire_buckets_parse(NULL, &req, err, sizeof(err)) == 0);
	CHECK_STR(req.slab, "tcp_buffers");
	CHECK_EQ_U64(req.buckets, 100);
	check_buckets(s, "", slab_of(s, TCP), 0, 21, 100);
	check_buckets(s, "slab=handles&start=0&end=70&buckets=7", slab_of(s, HANDLES), 0, 70, 7);
	check_buckets(s, "slab=handles&start=3&end=69&buckets=4&_=17", slab_of(s, HANDLES), 3, 69, 4);
	check_buckets(s, "slab=stream_arenas&start=5&end=10000&buckets=3", slab_of(s, ARENAS), 5, 64, 3);
	check_buckets(s, "slab=tcp_buffers&system=1&buckets=2", slab_of(s, TCP1), 0, 8, 2);
	check_buckets(s, "slab=handles&start=500&end=600", slab_of(s, HANDLES), 500, 70, 100);
	bucket_error(s, "buckets=0", "buckets must be 1-4096");
	bucket_error(s, "buckets=4097", "buckets must be 1-4096");
	bucket_error(s, "start=abc", "bad start 'abc'");
	bucket_error(s, "start=99999999999999999999", "out of range");
	bucket_error(s, "end=-1", "bad end");
	bucket_error(s, "start=9&end=3", "past end");
	bucket_error(s, "slab=Handles!", "bad slab name");
	bucket_error(s, "slab=lval", "no slab 'lval'");
	bucket_error(s, "slab=tcp_buffers&system=3", "no slab 'tcp_buffers'");
	bucket_error(s, "system=77", "system 77 does not exist");

	/* random query strings: an answer or a reason, never a crash */
	for (int i = 0; i < 20000; i++) {
		static const char alpha[] = "slab=&tcp_buffershandlesstartendbuckets0123456789=&%x";
		char q[40], *out = NULL;
		size_t n = (size_t)(rand() % 39);

		for (size_t j = 0; j < n; j++)
			q[j] = alpha[rand() % (sizeof(alpha) - 1)];
		q[n] = 0;
		err[0] = 0;
		if (!vt_wire_buckets_parse(q, &req, err, sizeof(err)))
			out = vt_wire_buckets(s, &req, err, sizeof(err));
		CHECK(out || err[0]);
		free(out);
	}
	vt_state_free(s);
}

/* ---- a large slab --------------------------------------------------------- */

/* A 262,144-slot handle slab encodes in every dialect, and a delta after
 * releases is a delta; how long it takes is measured by `make bench`
 * (tests/bench/bench_wire.c), never judged here. */
static void test_large_slab(void)
{
	const uint64_t n = 262144;
	struct vt_state *s = vt_state_new(0);
	struct vt_wire_delta *d = vt_wire_delta_new();
	struct img m;
	char *a, *b, *c;
	bool full;

	img_init_sys(&m, HANDLES, VT_SLAB_HANDLES, n, 0);
	for (uint64_t i = 0; i < n; i++)
		if (rand() % 3)
			img_use(&m, i, (uint32_t)(rand() % 6),
				(uint32_t)(rand() % 5), (uint16_t)(rand() % 4));
	load(s, &m);
	free(vt_wire_valk_full(s, &meta, d));
	for (int i = 0; i < 1000; i++) {
		struct vt_event ev = img_ev(VT_EV_RELEASE, HANDLES,
					    (uint64_t)rand() % n, 0);
		vt_state_apply(s, &ev);
	}
	a = vt_wire_memory(s, &meta, 1);
	c = vt_wire_valk_delta(s, &meta, d, &full);
	b = vt_wire_valk_full(s, &meta, NULL);
	CHECK(a && b && c && !full);
	CHECK(a && strlen(a) > n);	/* one letter per slot at least */
	CHECK(c && b && strlen(c) < strlen(b));
	free(a);
	free(b);
	free(c);
	vt_wire_delta_free(d);
	vt_state_free(s);
}

/* Figures as read from the runtime: a labelled counter, a gauge and a
 * histogram, the registry's meta-stats, GC, interpreter, library bytes. */
static struct vt_figures *figures(uint64_t requests, int64_t conns,
				  uint64_t slow)
{
	struct vt_figures *f = calloc(1, sizeof(*f));
	struct vt_metric *m = calloc(3, sizeof(*m));

	f->have = VT_FIG_REGISTRY | VT_FIG_GC | VT_FIG_EVAL | VT_FIG_NGHTTP2 |
		  VT_FIG_AIO;
	f->start_us = 30000000;		/* 10 s before meta.now_ms */
	f->metrics = m;
	f->nmetrics = 3;
	m[0] = (struct vt_metric){ .type = VT_METRIC_COUNTER,
				   .name = "http_requests_total", .nlabels = 2,
				   .counter = requests };
	snprintf(m[0].labels[0].key, 32, "server");
	snprintf(m[0].labels[0].value, 96, "0.0.0.0");
	snprintf(m[0].labels[1].key, 32, "port");
	snprintf(m[0].labels[1].value, 96, "8443");
	m[1] = (struct vt_metric){ .type = VT_METRIC_GAUGE,
				   .name = "http_connections_active",
				   .gauge = conns };
	m[2] = (struct vt_metric){ .type = VT_METRIC_HISTOGRAM,
				   .name = "http_request_duration_seconds",
				   .nbounds = 2, .bounds = { 0.001, 0.1 },
				   .buckets = { 5, 2 + slow, 1 },
				   .count = 8 + slow, .sum_us = 90000 + slow * 50000 };
	f->fam[VT_FAM_COUNTERS] = (struct vt_metric_family){ 1, 2, 1024, 1 };
	f->pool_used = 9;
	f->pool_capacity = 4096;
	f->evictions[0] = f->evictions[1] = 1;
	f->gc.cycles = 4;
	f->gc.pause_us_total = 6000;
	f->gc.last_before = 1000;
	f->gc.last_reclaimed = 250;
	f->gc.pause[1] = 4;
	f->eval.evals = 77;
	f->nghttp2_bytes = 40960;
	f->aio.pending_requests = 3;
	f->aio.pending_responses = 1;
	f->aio.queue_capacity = 2048;
	f->aio.connections_failed = 2 + slow;
	return f;
}

static json_t *metric_named(json_t *arr, const char *name)
{
	size_t i;
	json_t *m;

	json_array_foreach(arr, i, m)
		if (!strcmp(js(m, "name"), name))
			return m;
	return NULL;
}

static void test_figures(void)
{
	struct vt_state *s = fixture();
	struct vt_wire_delta *d = vt_wire_delta_new();
	json_t *doc, *mt, *mod, *c, *h, *b, *bd, *reg, *items, *aio;
	bool full;

	vt_state_figures_set(s, figures(100, 3, 0));
	doc = parse(vt_wire_valk_full(s, &meta, d));
	mt = json_object_get(doc, "metrics");
	mod = json_object_get(mt, "modular");
	CHECK(json_real_value(json_object_get(mod, "uptime_seconds")) == 10.0);
	c = metric_named(json_object_get(mod, "counters"), "http_requests_total");
	CHECK_EQ_U64(ju(c, "value"), 100);
	CHECK_STR(js(json_object_get(c, "labels"), "port"), "8443");
	CHECK(json_equal(json_object_get(mod, "counters"),
			 json_object_get(json_object_get(mt, "aio"), "counters")));
	h = metric_named(json_object_get(mod, "histograms"),
			 "http_request_duration_seconds");
	b = json_object_get(h, "buckets");
	CHECK_EQ_U64(json_array_size(b), 3);	/* cumulative, +Inf last */
	CHECK_EQ_U64(ju(json_array_get(b, 1), "count"), 7);
	CHECK_STR(js(json_array_get(b, 2), "le"), "+Inf");
	CHECK_EQ_U64(ju(json_array_get(b, 2), "count"), 8);
	CHECK(json_object_get(metric_named(json_object_get(mod, "gauges"),
					   "http_connections_active"), "labels") == NULL);
	reg = json_object_get(mt, "registry");
	CHECK_EQ_U64(ju(json_object_get(reg, "counters"), "free"), 1);
	CHECK_EQ_U64(ju(json_object_get(reg, "evictions"), "total"), 1);
	CHECK_EQ_U64(ju(json_object_get(reg, "string_pool"), "capacity"), 4096);
	CHECK(json_object_get(reg, "collect_time_us") == NULL);
	CHECK_EQ_U64(ju(json_object_get(json_object_get(mt, "vm"), "gc"), "efficiency_pct"), 25);
	CHECK(json_real_value(json_object_get(json_object_get(json_object_get(mt, "vm"), "gc"),
					      "pause_ms_avg")) == 1.5);
	CHECK_EQ_U64(ju(json_object_get(json_object_get(mt, "vm"), "interpreter"), "evals_total"), 77);
	bd = json_object_get(json_object_get(doc, "memory"), "breakdown");
	CHECK_EQ_U64(ju(bd, "nghttp2_used"), 40960);
	CHECK(json_object_get(bd, "ssl_used") == NULL);	/* not read */
	aio = json_object_get(mt, "aio");
	CHECK_EQ_U64(ju(json_object_get(aio, "queue"), "pending_requests"), 3);
	CHECK_EQ_U64(ju(json_object_get(aio, "queue"), "pending_responses"), 1);
	CHECK_EQ_U64(ju(json_object_get(aio, "queue"), "capacity"), 2048);
	CHECK_EQ_U64(ju(json_object_get(aio, "connections"), "failed"), 2);
	json_decref(doc);

	/* what changed since the full document, as the runtime's delta */
	vt_state_figures_set(s, figures(105, 2, 1));
	doc = parse(vt_wire_valk_delta(s, &meta, d, &full));
	CHECK(!full);
	/* the dashboard merges a delta's connections, never its queue */
	aio = json_object_get(json_object_get(doc, "metrics"), "aio");
	CHECK_EQ_U64(ju(json_object_get(aio, "connections"), "failed"), 3);
	CHECK(json_object_get(aio, "queue") == NULL);
	mod = json_object_get(json_object_get(doc, "metrics"), "modular");
	CHECK_EQ_U64(ju(mod, "changed"), 3);
	CHECK_EQ_U64(ju(mod, "histograms_changed"), 1);
	items = json_object_get(mod, "deltas");
	CHECK_STR(js(json_array_get(items, 0), "t"), "c");
	CHECK_EQ_U64(ju(json_array_get(items, 0), "d"), 5);
	CHECK_STR(js(json_object_get(json_array_get(items, 0), "l"), "server"), "0.0.0.0");
	CHECK_EQ_U64(ju(json_array_get(items, 1), "v"), 2);
	h = json_array_get(items, 2);
	CHECK_EQ_U64(ju(h, "c"), 1);
	CHECK_EQ_U64(ju(h, "s"), 50000);
	CHECK_EQ_U64(ju(json_array_get(json_object_get(h, "b"), 0), "d"), 0);
	CHECK_EQ_U64(ju(json_array_get(json_object_get(h, "b"), 1), "d"), 1);
	CHECK_EQ_U64(ju(json_array_get(json_object_get(h, "b"), 2), "d"), 1);
	json_decref(doc);
	/* unchanged: an empty list, the VM document still whole */
	vt_state_figures_set(s, figures(105, 2, 1));
	doc = parse(vt_wire_valk_delta(s, &meta, d, &full));
	mod = json_object_get(json_object_get(doc, "metrics"), "modular");
	CHECK_EQ_U64(json_array_size(json_object_get(mod, "deltas")), 0);
	CHECK(json_object_get(json_object_get(json_object_get(doc, "metrics"), "vm"),
			      "interpreter") != NULL);
	json_decref(doc);
	vt_wire_delta_free(d);
	vt_state_free(s);
}

/* Writes "off:now" runs of a memory delta over a per-slot string. */
static void apply_runs(char *dst, size_t n, const char *runs, bool hex)
{
	while (runs && *runs) {
		char *end;
		unsigned long off = strtoul(runs, &end, 10) * (hex ? 2 : 1);
		const char *now = end + 1, *stop = strchr(now, ',');
		size_t len = stop ? (size_t)(stop - now) : strlen(now);

		CHECK(*end == ':' && off + len <= n);
		if (*end != ':' || off + len > n)
			return;
		memcpy(dst + off, now, len);
		runs = stop ? stop + 1 : NULL;
	}
}

/* The memory dialect's deltas, applied to the full document they follow,
 * give the model's per-slot states and bitmaps round after round. */
static void test_memory_delta(void)
{
	struct vt_state *s = fixture();
	struct vt_wire_mdelta *d = vt_wire_mdelta_new();
	const struct vt_slab *h = slab_of(s, HANDLES), *t = slab_of(s, TCP);
	char states[71] = { 0 }, hex[7] = { 0 };
	json_t *doc, *dh, *dt, *fh, *sum = NULL, *byo = NULL;
	bool full;
	int bad = 0, bad_tally = 0, runs = 0, tallies = 0;
	uint64_t used = h->used;

	doc = parse(vt_wire_memory_delta(s, &meta, d, 1, 0, &full));
	CHECK(full);
	for (size_t i = 0; i < json_array_size(json_object_get(doc, "slabs")); i++) {
		json_t *sl = json_array_get(json_object_get(doc, "slabs"), i);

		if (ju(sl, "system") || strcmp(js(sl, "name"), "handles"))
			continue;
		memcpy(states, js(sl, "states"), 70);
		sum = json_incref(json_object_get(sl, "summary"));
		byo = json_incref(json_object_get(sl, "by_owner"));
	}
	memcpy(hex, js(json_array_get(json_object_get(doc, "slabs"), 0), "bitmap"), 6);
	json_decref(doc);
	doc = parse(vt_wire_memory_delta(s, &meta, d, 2, 1, &full));
	CHECK(!full);
	CHECK_EQ_U64(ju(doc, "base"), 1);
	CHECK(json_object_get(doc, "leaks") == NULL);	/* same slots */
	CHECK(json_object_get(doc, "arenas") == NULL);
	CHECK(json_object_get(doc, "tracer") != NULL);
	json_decref(doc);
	for (int round = 0; round < 300; round++) {
		churn(s, h);
		doc = parse(vt_wire_memory_delta(s, &meta, d, 3 + round, 2 + round, &full));
		CHECK(!full);
		dt = json_array_get(json_object_get(doc, "slabs"), 0);
		dh = json_array_get(json_object_get(doc, "slabs"), 1);
		CHECK_STR(js(dh, "name"), "handles");
		if (json_object_get(dh, "states"))
			runs++;
		apply_runs(states, 70, json_string_value(json_object_get(dh, "states")), false);
		apply_runs(hex, 6, json_string_value(json_object_get(dt, "bitmap")), true);
		for (int i = 0; i < 3; i++) {
			char b[3];

			snprintf(b, 3, "%02x", t->bitmap[i]);
			bad |= memcmp(hex + 2 * i, b, 2) != 0;
		}
		bad |= memcmp(states, h->states, 70) != 0;
		/* a counter only when it moved */
		if (json_object_get(dh, "used"))
			used = ju(dh, "used");
		bad |= used != h->used;
		/* the tally a delta carries when it changed (kept otherwise,
		 * each delta's made from the last one's) is a full document's */
		if (json_object_get(dh, "summary")) {
			json_decref(sum);
			json_decref(byo);
			sum = json_incref(json_object_get(dh, "summary"));
			byo = json_incref(json_object_get(dh, "by_owner"));
			tallies++;
		}
		json_decref(doc);
		doc = parse(vt_wire_memory(s, &meta, 9));
		fh = json_array_get(json_object_get(doc, "slabs"), 1);
		bad_tally |= !json_equal(sum, json_object_get(fh, "summary")) ||
			     !json_equal(byo, json_object_get(fh, "by_owner"));
		json_decref(doc);
	}
	json_decref(sum);
	json_decref(byo);
	CHECK(bad == 0);
	CHECK(bad_tally == 0);
	CHECK(runs > 100);
	CHECK(tallies > 100);
	vt_wire_mdelta_free(d);
	vt_state_free(s);
}

/* The encoded size of a busy tick stays within one event's budget (4 KB):
 * slots, owners, tallies and the leak list changing, the GC heap
 * changed, and a busy server's stream arenas, 24 of its 32 in use, all
 * moving their use (a delta sends their key and what moved), a third of
 * them taken since the last tick (sent whole) and as many given back. */
static void test_memory_delta_busy_size(void)
{
	struct vt_state *s = fixture();
	struct vt_wire_mdelta *d = vt_wire_mdelta_new();
	const struct vt_slab *h = slab_of(s, HANDLES);
	struct vt_arena pool[33] = {
		{ .name = "scratch", .capacity = 4194200, .used = 512, .hwm = 9000 },
	}, ar[33];
	struct vt_gc gc = { .heap_used_bytes = 1048576,
			    .heap_total_bytes = 536870912, .nclasses = 2,
			    .classes = { { 16, 10, 256 }, { 32, 3, 128 } } };
	size_t largest = 0, partial = 0, bad = 0, n = 0;
	bool full;

	for (int i = 1; i <= 32; i++) {
		snprintf(pool[i].name, sizeof(pool[i].name), "stream_arena/%d", i - 1);
		pool[i].capacity = 65536;
	}
	for (int round = -1; round < 200; round++) {
		char *text;
		json_t *doc, *a, *e;
		size_t i;

		churn(s, h);
		n = 0;
		for (int i = 0; i <= 32; i++) {
			struct vt_arena *p = &pool[i];

			if (i && (i + round + 4) % 4 == 0) {	/* given back */
				p->used = p->hwm = 0;
				continue;
			}
			p->used = (p->used + 1 + (uint64_t)(rand() % 6000)) % p->capacity;
			p->hwm = p->used > p->hwm ? p->used : p->hwm;
			ar[n++] = *p;
		}
		vt_state_arenas_set(s, ar, n);
		gc.heap_used_bytes += 4096 + (uint64_t)(rand() % 4096);
		gc.classes[(round + 2) % 2].used++;
		vt_state_gc_set(s, &gc);
		text = vt_wire_memory_delta(s, &meta, d, 2 + round, 1 + round, &full);
		CHECK(text && full == (round < 0));
		if (!text)
			break;
		if (round >= 0 && strlen(text) > largest)
			largest = strlen(text);
		doc = parse(text);	/* frees text */
		if (round < 0) {
			json_decref(doc);
			continue;
		}
		a = json_object_get(doc, "arenas");
		CHECK_EQ_U64(json_array_size(a), 25);
		json_array_foreach(a, i, e) {	/* the new ones whole */
			bool whole = json_object_get(e, "capacity") != NULL;

			partial += !whole;
			bad += !json_object_get(e, "name") || !json_object_get(e, "used") ||
			       whole != (json_object_get(e, "overflow_bytes") != NULL);
		}
		CHECK_EQ_U64(json_array_size(json_object_get(doc, "arenas_gone")), 8);
		json_decref(doc);
	}
	CHECK_EQ_U64(bad, 0);
	CHECK_EQ_U64(partial, 200 * 17);	/* changed members only */
	if (largest >= 4096 || getenv("VT_SIZES"))
		fprintf(stderr, "busy delta: largest %zu bytes\n", largest);
	CHECK(largest > 0 && largest < 4096);
	vt_wire_mdelta_free(d);
	vt_state_free(s);
}

/* A slab marked invalid: the full document and the next delta say so with
 * the reason, later deltas not again, and one delta says when memory is
 * plausible again. */
static json_t *tcp_of(json_t *doc)
{
	json_t *sl = json_array_get(json_object_get(doc, "slabs"), 0);

	CHECK_STR(js(sl, "name"), "tcp_buffers");
	return sl;
}

static void test_memory_invalid(void)
{
	static const char why[] = "system 0 tcp_buffers slab 0x7f1000000000: "
				  "numItems 0 is not 1..16777216";
	struct vt_state *s = fixture();
	struct vt_wire_mdelta *d = vt_wire_mdelta_new();
	json_t *doc;
	struct img m;
	bool full;

	doc = parse(vt_wire_memory_delta(s, &meta, d, 1, 0, &full));
	CHECK(full && !json_object_get(tcp_of(doc), "invalid"));
	json_decref(doc);
	vt_state_slab_invalid(s, TCP, why);
	doc = parse(vt_wire_memory_delta(s, &meta, d, 2, 1, &full));
	CHECK(!full && json_is_true(json_object_get(tcp_of(doc), "invalid")));
	CHECK_STR(js(tcp_of(doc), "problem"), why);
	CHECK(!json_object_get(json_array_get(json_object_get(doc, "slabs"), 1),
			       "invalid"));
	json_decref(doc);
	doc = parse(vt_wire_memory_delta(s, &meta, d, 3, 2, &full));
	CHECK(!json_object_get(tcp_of(doc), "invalid"));	/* said once */
	json_decref(doc);
	doc = parse(vt_wire_memory(s, &meta, 4));
	CHECK(json_is_true(json_object_get(tcp_of(doc), "invalid")));
	CHECK_STR(js(tcp_of(doc), "problem"), why);
	json_decref(doc);
	img_init_sys(&m, TCP, VT_SLAB_TCP_BUFFERS, 21, 0);	/* repaired */
	img_use(&m, 3, 0, 0, 0);
	load(s, &m);
	doc = parse(vt_wire_memory_delta(s, &meta, d, 5, 3, &full));
	CHECK(!full && json_is_false(json_object_get(tcp_of(doc), "invalid")));
	CHECK(!json_object_get(tcp_of(doc), "problem"));
	json_decref(doc);
	doc = parse(vt_wire_memory(s, &meta, 6));
	CHECK(!json_object_get(tcp_of(doc), "invalid"));
	json_decref(doc);
	vt_wire_mdelta_free(d);
	vt_state_free(s);
}

/* A slot turns leak suspect with time alone, nothing else changing: the
 * delta of that tick carries the leak list as the full document has it;
 * the ticks around it do not. */
static void test_memory_delta_leak_age(void)
{
	struct vt_state *s = fixture();
	struct vt_wire_mdelta *d = vt_wire_mdelta_new();
	const struct vt_slab *t = slab_of(s, TCP);
	struct vt_wire_meta m = meta;
	uint64_t slot = 0;
	json_t *doc, *mem;
	bool full;

	while (slot < t->total && vt_slab_bit(t->bitmap, slot))
		slot++;
	CHECK(slot < t->total);
	{
		struct vt_event ev = img_ev(VT_EV_ACQUIRE, TCP, slot, 20000 * MS);

		vt_state_apply(s, &ev);
	}
	json_decref(parse(vt_wire_memory_delta(s, &m, d, 1, 0, &full)));
	CHECK(full);
	m.now_ms = 45000;	/* the slot is 25 s old: not yet a suspect */
	doc = parse(vt_wire_memory_delta(s, &m, d, 2, 1, &full));
	CHECK(!full && json_object_get(doc, "leaks") == NULL);
	json_decref(doc);
	m.now_ms = 50000;	/* 30 s: it is */
	doc = parse(vt_wire_memory_delta(s, &m, d, 3, 2, &full));
	mem = parse(vt_wire_memory(s, &m, 3));
	/* the entry new to the list, whole, as the full document has it */
	CHECK(!full && json_array_size(json_object_get(doc, "leaks_add")) == 1);
	{
		json_t *add = json_array_get(json_object_get(doc, "leaks_add"), 0), *l;
		size_t i, found = 0;

		json_array_foreach(json_object_get(mem, "leaks"), i, l)
			found += json_equal(l, add);
		CHECK(found == 1 && ju(add, "slot") == slot);
	}
	CHECK(json_object_get(doc, "leaks") == NULL &&
	      json_object_get(doc, "leaks_gone") == NULL);
	json_decref(doc);
	json_decref(mem);
	doc = parse(vt_wire_memory_delta(s, &m, d, 4, 3, &full));
	CHECK(json_object_get(doc, "leaks_add") == NULL &&
	      json_object_get(doc, "leaks_gone") == NULL);
	json_decref(doc);
	{	/* released: it leaves the list, by its key alone */
		struct vt_event ev = img_ev(VT_EV_RELEASE, TCP, slot, 50000 * MS);
		json_t *g;

		vt_state_apply(s, &ev);
		doc = parse(vt_wire_memory_delta(s, &m, d, 5, 4, &full));
		g = json_array_get(json_object_get(doc, "leaks_gone"), 0);
		CHECK(!full && json_array_size(json_object_get(doc, "leaks_gone")) == 1);
		CHECK_STR(js(g, "slab"), "tcp_buffers");
		CHECK_EQ_U64(ju(g, "slot"), slot);
		CHECK(json_object_size(g) == 3 && json_object_get(doc, "leaks_add") == NULL);
		json_decref(doc);
	}
	vt_wire_mdelta_free(d);
	vt_state_free(s);
}

int main(void)
{
	srand(777);
	CHECK_STR(vt_wire_probe_name(VT_P_READ_START), "uprobe:uv_read_start");
	CHECK_STR(vt_wire_probe_name(VT_P_COUNT), "unknown");
	for (int i = 0; i < VT_P_COUNT; i++)	/* every live probe is named */
		CHECK(!vt_wire_probe_live(i) ||
		      strcmp(vt_wire_probe_name(i), "unknown"));
	CHECK(!vt_wire_probe_live(VT_P_STREAM_CLOSE_RET));	/* retired */
	CHECK(!vt_wire_probe_live(VT_P_BEGIN_HEADERS_ENTRY));
	test_memory();
	test_valk_full();
	test_valk_delta();
	test_figures();
	test_memory_delta();
	test_memory_delta_busy_size();
	test_memory_invalid();
	test_memory_delta_leak_age();
	test_prometheus();
	test_buckets();
	test_large_slab();
	return vt_test_done("test_wire");
}
