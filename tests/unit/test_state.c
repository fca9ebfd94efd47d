/* vt_state: every event type, bootstrap dedup, reconciliation, sampling,
 * leaks, and a randomized replay against a simulated runtime slab. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vt_img.h"
#include "model/vt_state.h"
#include "vt_test.h"

#define ADDR 0x7f0000000000ULL
#define HEAP_OFF IMG_HEAP_OFF
#define DATA_OFF IMG_DATA_OFF
#define ITEM IMG_ITEM		/* stride 960 */
#define MS 1000000ULL		/* ns per ms */

/* Every slot vt_state_reads_due names, batches of 4 (at most 4 here). */
static size_t reads_due(struct vt_state *s, bool conns, uint64_t *slab,
			uint64_t *slot)
{
	struct vt_state_cursor cur = { 0, 0 };

	return vt_state_reads_due(s, conns, &cur, slab, slot, 4);
}

static void img_init(struct img *m, uint64_t addr, enum vt_slab_kind kind,
		     uint64_t total)
{
	img_init_sys(m, addr, kind, total, 0);
}

static void img_free_slot(struct img *m, uint64_t slot)
{
	if (m->bm[slot / 8] >> (slot % 8) & 1)
		m->v.used--;
	m->bm[slot / 8] &= (uint8_t)~(1u << (slot % 8));
}

/* The image's version, when its read began, and its counters. */
static void img_at(struct img *m, uint64_t version, uint64_t read_ms,
		   uint64_t acquires, uint64_t releases)
{
	m->v.version = version;
	m->v.read_ns = read_ms * MS;
	m->v.acquires = acquires;
	m->v.releases = releases;
}

static struct vt_event ev_slot(uint32_t type, uint64_t slab, uint64_t slot,
			       uint64_t ts_ms)
{
	return img_ev(type, slab, slot, ts_ms * MS);
}

static struct vt_event ev_conn(uint64_t slab, uint64_t slot, uint32_t kind,
			       uint32_t diag, uint16_t owner, uint64_t ts_ms)
{
	return (struct vt_event){
		.type = VT_EV_CONN, .ts_ns = ts_ms * MS,
		.conn = { .handle = slab + HEAP_OFF + DATA_OFF + slot * 960,
			  .kind = kind, .diag = diag, .owner = owner },
	};
}

static bool model_bit(const struct vt_slab *sl, uint64_t i)
{
	return sl->bitmap[i / 8] >> (i % 8) & 1;
}

static void test_letters(void)
{
	CHECK(vt_state_letter(VT_HK_TCP, 0) == 'T');
	CHECK(vt_state_letter(VT_HK_TASK, 3) == 'K');
	CHECK(vt_state_letter(VT_HK_TIMER, 0) == 'M');
	CHECK(vt_state_letter(VT_HK_HTTP_CONN, VT_DIAG_CONNECTING) == 'N');
	CHECK(vt_state_letter(VT_HK_HTTP_CONN, VT_DIAG_ACTIVE) == 'A');
	CHECK(vt_state_letter(VT_HK_HTTP_CONN, VT_DIAG_IDLE) == 'I');
	CHECK(vt_state_letter(VT_HK_HTTP_CONN, VT_DIAG_CLOSING) == 'C');
	CHECK(vt_state_letter(VT_HK_HTTP_CONN, VT_DIAG_FREE) == 'C');
	CHECK(vt_state_letter(VT_HK_EMPTY, 0) == 'U');
	CHECK(vt_state_letter(0x7ffd1234, 0) == 'U');	/* task: pointer half */
	CHECK_STR(vt_slab_kind_name(VT_SLAB_HANDLES), "handles");
	CHECK_STR(vt_slab_kind_name(VT_SLAB_TCP_BUFFERS), "tcp_buffers");
	CHECK_STR(vt_slab_kind_name(VT_SLAB_HTTP_CLIENTS), "http_clients");
}

/* Load: per-slot letters from kind/diag for used slots only, owners for
 * connections only, since_attach stamps, counters from the image. */
static void test_load(void)
{
	struct vt_state *s = vt_state_new(5000);
	struct img m;
	const struct vt_slab *sl;
	uint64_t gen;

	img_init(&m, ADDR, VT_SLAB_HANDLES, 20);
	img_use(&m, 0, VT_HK_TASK, 0, 7);
	img_use(&m, 2, VT_HK_TCP, 0, 0);
	img_use(&m, 5, VT_HK_HTTP_CONN, VT_DIAG_ACTIVE, 1);
	img_use(&m, 6, VT_HK_HTTP_CONN, VT_DIAG_IDLE, 0);
	m.kinds[9] = VT_HK_HTTP_CONN;	/* stale words in a free slot */
	m.diags[9] = VT_DIAG_ACTIVE;
	m.v.hwm = 2;	/* below used: the model never reports less */
	m.v.acquires = 40;
	m.v.releases = 36;
	m.v.overflow = 3;
	m.v.version = 76;
	CHECK(vt_state_slab_load(s, &m.v, 5000) == 0);
	sl = vt_state_slab_find(s, ADDR);
	CHECK(sl != NULL);
	if (!sl)
		goto out;
	CHECK_EQ_U64(sl->stride, 960);
	CHECK_EQ_U64(sl->used, 4);
	CHECK_EQ_U64(sl->hwm, 4);
	CHECK_EQ_U64(sl->acquires, 40);
	CHECK_EQ_U64(sl->releases, 36);
	CHECK_EQ_U64(sl->overflow, 3);
	CHECK_EQ_U64(sl->version, 76);
	CHECK(!memcmp(sl->states, "KFTFFAIFFFFFFFFFFFFF", 20));
	CHECK_EQ_U64(sl->owners[0], VT_OWNER_NONE);
	CHECK_EQ_U64(sl->owners[5], 1);
	CHECK_EQ_U64(sl->owners[6], 0);
	CHECK_EQ_U64(sl->owners[9], VT_OWNER_NONE);
	CHECK(sl->since_attach[0] && sl->since_attach[5] && !sl->since_attach[1]);
	CHECK_EQ_U64(sl->since_ms[5], 5000);
	CHECK_EQ_U64(vt_state_nslabs(s), 1);
	CHECK(vt_state_slab(s, 0) == sl);
	CHECK(vt_state_slab(s, 1) == NULL);

	/* rejected images */
	gen = vt_state_generation(s);
	m.v.total = 0;
	CHECK(vt_state_slab_load(s, &m.v, 5000) == -1);
	m.v.total = 20;
	m.v.bitmap = NULL;
	CHECK(vt_state_slab_load(s, &m.v, 5000) == -1);
	m.v.bitmap = m.bm;
	m.v.item_size = 0;	/* no stride: slots could not be located */
	CHECK(vt_state_slab_load(s, &m.v, 5000) == -1);
	m.v.item_size = ITEM;
	m.v.system = VT_MAX_SYSTEMS;
	CHECK(vt_state_slab_load(s, &m.v, 5000) == -1);
	CHECK_EQ_U64(vt_state_generation(s), gen);

	vt_state_slab_drop(s, ADDR);
	CHECK_EQ_U64(vt_state_nslabs(s), 0);
	CHECK(vt_state_generation(s) > gen);
out:
	img_fini(&m);
	vt_state_free(s);
}

/* Slabs come out ordered by system, then kind, whatever the load order. */
static void test_order(void)
{
	struct vt_state *s = vt_state_new(0);
	struct img a, b, c;

	img_init(&a, 0x3000, VT_SLAB_STREAM_ARENAS, 8);
	img_init(&b, 0x2000, VT_SLAB_TCP_BUFFERS, 8);
	img_init(&c, 0x1000, VT_SLAB_TCP_BUFFERS, 8);
	c.v.system = 1;
	vt_state_slab_load(s, &c.v, 0);
	vt_state_slab_load(s, &a.v, 0);
	vt_state_slab_load(s, &b.v, 0);
	CHECK_EQ_U64(vt_state_slab(s, 0)->addr, 0x2000);
	CHECK_EQ_U64(vt_state_slab(s, 1)->addr, 0x3000);
	CHECK_EQ_U64(vt_state_slab(s, 2)->addr, 0x1000);
	img_fini(&a);
	img_fini(&b);
	img_fini(&c);
	vt_state_free(s);
}

static void test_events(void)
{
	struct vt_state *s = vt_state_new(1000);
	struct img m;
	const struct vt_slab *sl;
	struct vt_event ev;
	uint64_t pslab[4], pslot[4], gen;

	img_init(&m, ADDR, VT_SLAB_HANDLES, 16);
	vt_state_slab_load(s, &m.v, 1000);
	sl = vt_state_slab_find(s, ADDR);

	/* acquire: bit, counters, hwm from the runtime's peakUsed */
	ev = ev_slot(VT_EV_ACQUIRE, ADDR, 3, 2000);
	ev.acquire.version = 1;
	ev.acquire.peak = 9;
	gen = vt_state_generation(s);
	CHECK(vt_state_apply(s, &ev) == 0);
	CHECK(vt_state_generation(s) > gen);
	CHECK(model_bit(sl, 3));
	CHECK_EQ_U64(sl->used, 1);
	CHECK_EQ_U64(sl->acquires, 1);
	CHECK_EQ_U64(sl->hwm, 9);
	CHECK_EQ_U64(sl->version, 1);
	CHECK_EQ_U64(sl->since_ms[3], 2000);
	CHECK(!sl->since_attach[3]);
	CHECK(sl->states[3] == 'U' && sl->pending[3]);

	/* pending typing: EMPTY means not written yet, stays pending */
	CHECK_EQ_U64(reads_due(s, false, pslab, pslot), 1);
	CHECK_EQ_U64(pslab[0], ADDR);
	CHECK_EQ_U64(pslot[0], 3);
	vt_state_slot_typed(s, ADDR, 3, VT_HK_EMPTY, 0, 0);
	CHECK(sl->pending[3] && sl->states[3] == 'U');
	vt_state_slot_typed(s, ADDR, 3, VT_HK_TASK, 0, 4);
	CHECK(!sl->pending[3] && sl->states[3] == 'K');
	CHECK_EQ_U64(sl->owners[3], VT_OWNER_NONE);
	CHECK_EQ_U64(reads_due(s, false, pslab, pslot), 0);
	/* typing only fills pending slots: an event already typed it */
	vt_state_slot_typed(s, ADDR, 3, VT_HK_TCP, 0, 0);
	CHECK(sl->states[3] == 'K');

	/* a connection: acquire, then CONN events located by payload pointer */
	ev = ev_slot(VT_EV_ACQUIRE, ADDR, 7, 2100);
	ev.acquire.version = 2;
	ev.acquire.peak = UINT64_MAX;	/* a corrupt peakUsed: past the slab */
	vt_state_apply(s, &ev);
	CHECK_EQ_U64(sl->hwm, 9);	/* not taken, and hwm never goes down */
	ev = ev_conn(ADDR, 7, VT_HK_HTTP_CONN, VT_DIAG_CONNECTING, 1, 2101);
	CHECK(vt_state_apply(s, &ev) == 0);
	/* connecting: its owner is still to be read from memory */
	CHECK(sl->states[7] == 'N' && sl->pending[7]);
	CHECK_EQ_U64(sl->owners[7], 1);
	ev = ev_conn(ADDR, 7, VT_HK_HTTP_CONN, VT_DIAG_IDLE, 1, 2102);
	vt_state_apply(s, &ev);
	CHECK(!sl->pending[7]);
	CHECK(sl->states[7] == 'I');
	/* misaligned and out-of-range payload pointers are not slots */
	ev.conn.handle += 8;
	CHECK(vt_state_apply(s, &ev) == -1);
	ev = ev_conn(ADDR, 16, VT_HK_HTTP_CONN, VT_DIAG_IDLE, 1, 2102);
	CHECK(vt_state_apply(s, &ev) == -1);
	/* CONN on a free slot changes nothing */
	ev = ev_conn(ADDR, 8, VT_HK_HTTP_CONN, VT_DIAG_ACTIVE, 1, 2103);
	CHECK(vt_state_apply(s, &ev) == 0);
	CHECK(sl->states[8] == 'F');

	/* release */
	ev = ev_slot(VT_EV_RELEASE, ADDR, 7, 2200);
	ev.release.version = 3;
	CHECK(vt_state_apply(s, &ev) == 0);
	CHECK(!model_bit(sl, 7));
	CHECK_EQ_U64(sl->used, 1);
	CHECK_EQ_U64(sl->releases, 1);
	CHECK_EQ_U64(sl->version, 3);
	CHECK(sl->states[7] == 'F');
	CHECK_EQ_U64(sl->owners[7], VT_OWNER_NONE);

	/* overflow */
	ev = ev_slot(VT_EV_ACQUIRE_FAIL, ADDR, 0, 2300);
	CHECK(vt_state_apply(s, &ev) == 0);
	CHECK_EQ_U64(sl->overflow, 1);

	/* unknown slab, out-of-range slot, unknown type: counted, no effect */
	CHECK_EQ_U64(vt_state_counters(s)->ignored, 2);
	ev = ev_slot(VT_EV_ACQUIRE, ADDR + 4096, 1, 2400);
	CHECK(vt_state_apply(s, &ev) == -1);
	ev = ev_slot(VT_EV_RELEASE, ADDR, 16, 2400);
	CHECK(vt_state_apply(s, &ev) == -1);
	ev = ev_slot(VT_EV_ACQUIRE_FAIL, ADDR + 1, 0, 2400);
	CHECK(vt_state_apply(s, &ev) == -1);
	ev = ev_slot(99, ADDR, 0, 2400);
	CHECK(vt_state_apply(s, &ev) == -1);
	CHECK_EQ_U64(vt_state_counters(s)->ignored, 6);
	CHECK_EQ_U64(sl->used, 1);
	CHECK_EQ_U64(sl->acquires, 2);
	CHECK_EQ_U64(sl->releases, 1);

	/* a new slab comes with its system's read; a new system is read */
	ev = ev_slot(VT_EV_SLAB_NEW, ADDR, 0, 2500);
	CHECK(vt_state_apply(s, &ev) == 0);
	CHECK_EQ_U64(vt_state_counters(s)->events, 14);
	ev = (struct vt_event){ .type = VT_EV_AIO_START,
				.aio_start.sys = 0x9000 };
	CHECK(vt_state_apply(s, &ev) == VT_STATE_READ_SYSTEMS);
	/* a freed slab is forgotten; an unknown one changes nothing */
	ev = ev_slot(VT_EV_SLAB_FREE, ADDR + 64, 0, 2600);
	CHECK(vt_state_apply(s, &ev) == 0);
	CHECK(vt_state_slab_find(s, ADDR) == sl);
	ev = ev_slot(VT_EV_SLAB_FREE, ADDR, 0, 2600);
	CHECK(vt_state_apply(s, &ev) == 0);
	CHECK(vt_state_slab_find(s, ADDR) == NULL);
	CHECK_EQ_U64(vt_state_counters(s)->events, 17);
	CHECK_EQ_U64(vt_state_counters(s)->ignored, 6);

	img_fini(&m);
	vt_state_free(s);
}

/* A connection a stream callback is about to change (its entry probe,
 * VT_DIAG_UNREAD) is read from memory at two drains, the first of which
 * may come before the callback's write; the header's monotonic counters
 * raise the slab's (the CAS-site probes see neither failed acquires nor
 * the acquire's own peak update). */
/* Batches: every due slot named once, in order, whatever the batch size
 * (eight at a time where none is due, one by one where some are). */
static void test_reads_due_batches(void)
{
	struct vt_state *s = vt_state_new(0);
	struct img m;
	uint64_t slab[7], slot[7], want[203];
	struct vt_state_cursor cur = { 0, 0 };
	size_t n, nwant = 0, seen = 0;

	img_init(&m, ADDR, VT_SLAB_HANDLES, 203);
	for (uint64_t i = 0; i < 203; i++) {
		if (i % 5 && i <= 190)
			continue;
		img_use(&m, i, i % 2 ? VT_HK_HTTP_CONN : VT_HK_TASK,
			VT_DIAG_ACTIVE, 0);
		if (i % 2)	/* connections are read, tasks not */
			want[nwant++] = i;
	}
	vt_state_slab_load(s, &m.v, 0);
	while ((n = vt_state_reads_due(s, true, &cur, slab, slot, 7)) > 0)
		for (size_t i = 0; i < n && seen < nwant; i++, seen++) {
			CHECK_EQ_U64(slab[i], ADDR);
			CHECK_EQ_U64(slot[i], want[seen]);
		}
	CHECK_EQ_U64(seen, nwant);
	CHECK_EQ_U64(nwant, 25);
	cur = (struct vt_state_cursor){ 0, 0 };
	CHECK_EQ_U64(vt_state_reads_due(s, false, &cur, slab, slot, 7), 0);
	img_fini(&m);
	vt_state_free(s);
}

static void test_unread_and_maxima(void)
{
	struct vt_state *s = vt_state_new(1000);
	struct img m;
	const struct vt_slab *sl;
	struct vt_event ev;
	uint64_t pslab[4], pslot[4], gen;

	img_init(&m, ADDR, VT_SLAB_HANDLES, 16);
	vt_state_slab_load(s, &m.v, 1000);
	sl = vt_state_slab_find(s, ADDR);
	ev = ev_slot(VT_EV_ACQUIRE, ADDR, 5, 2000);
	ev.acquire.version = 1;
	vt_state_apply(s, &ev);
	vt_state_slot_typed(s, ADDR, 5, VT_HK_HTTP_CONN, VT_DIAG_IDLE, 2);
	CHECK(sl->states[5] == 'I' && !sl->pending[5]);
	ev = ev_conn(ADDR, 5, 0, VT_DIAG_UNREAD, 0, 2001);
	CHECK(vt_state_apply(s, &ev) == 0);
	CHECK(sl->states[5] == 'I');	/* unchanged until read */
	CHECK_EQ_U64(reads_due(s, false, pslab, pslot), 1);
	CHECK_EQ_U64(pslot[0], 5);
	/* the first read raced the callback: still idle; read once more */
	vt_state_slot_typed(s, ADDR, 5, VT_HK_HTTP_CONN, VT_DIAG_IDLE, 2);
	CHECK_EQ_U64(reads_due(s, false, pslab, pslot), 1);
	vt_state_slot_typed(s, ADDR, 5, VT_HK_HTTP_CONN, VT_DIAG_ACTIVE, 2);
	CHECK(sl->states[5] == 'A' && !sl->pending[5]);
	CHECK_EQ_U64(reads_due(s, false, pslab, pslot), 0);
	/* on a free slot it changes nothing */
	ev = ev_conn(ADDR, 6, 0, VT_DIAG_UNREAD, 0, 2002);
	CHECK(vt_state_apply(s, &ev) == 0);
	CHECK_EQ_U64(reads_due(s, false, pslab, pslot), 0);
	/* every connection is read each tick: its stream callbacks flip it
	 * between active and idle unseen */
	CHECK_EQ_U64(reads_due(s, true, pslab, pslot), 1);
	CHECK_EQ_U64(pslot[0], 5);
	CHECK(!vt_state_slot_typed(s, ADDR, 5, VT_HK_HTTP_CONN, VT_DIAG_ACTIVE, 2));
	CHECK(vt_state_slot_typed(s, ADDR, 5, VT_HK_HTTP_CONN, VT_DIAG_IDLE, 2));
	CHECK(sl->states[5] == 'I' && !sl->pending[5]);
	CHECK(!vt_state_slot_typed(s, ADDR, 3, VT_HK_HTTP_CONN, VT_DIAG_IDLE, 2));
	CHECK(sl->states[3] == 'F');	/* nor is a free slot */

	m.v.hwm = 7;
	m.v.overflow = 3;
	gen = vt_state_generation(s);
	CHECK(vt_state_slab_maxima(s, &m.v, true) == 1);
	CHECK(vt_state_generation(s) > gen);
	CHECK_EQ_U64(sl->hwm, 7);
	CHECK_EQ_U64(sl->overflow, 3);
	m.v.hwm = 2;	/* a lower high-water mark never lowers the model's */
	CHECK(vt_state_slab_maxima(s, &m.v, true) == 0);
	CHECK_EQ_U64(sl->hwm, 7);
	/* the header is the count's only source: a lower one is taken (the
	 * one before was corrupt), the high-water mark still not lowered */
	m.v.overflow = 1;
	CHECK(vt_state_slab_maxima(s, &m.v, true) == 1);
	CHECK_EQ_U64(sl->hwm, 7);
	CHECK_EQ_U64(sl->overflow, 1);
	m.v.hwm = 17;	/* above numItems: not a slab's */
	CHECK(vt_state_slab_maxima(s, &m.v, true) == 0);
	CHECK_EQ_U64(sl->hwm, 7);
	/* failed acquires are events: their count is not the header's */
	m.v.hwm = 8;
	m.v.overflow = 9;
	CHECK(vt_state_slab_maxima(s, &m.v, false) == 1);
	CHECK_EQ_U64(sl->hwm, 8);
	CHECK_EQ_U64(sl->overflow, 1);
	m.v.hwm = 8;
	CHECK(vt_state_slab_maxima(s, &m.v, false) == 0);
	img_fini(&m);
	vt_state_free(s);
}

static void test_owners(void)
{
	struct vt_state *s = vt_state_new(0);
	struct vt_event ev = { .type = VT_EV_OWNER,
			       .owner = { .sys = 0xabc000, .index = 1 } };
	const struct vt_system *sys;
	uint64_t gen;

	CHECK(vt_state_system_set(s, 0, 0x111000) == 0);
	CHECK(vt_state_system_set(s, 2, 0xabc000) == 0);
	CHECK(vt_state_system_set(s, VT_MAX_SYSTEMS, 1) == -1);
	CHECK_EQ_U64(vt_state_nsystems(s), 3);
	CHECK_EQ_U64(vt_state_system(s, 1)->addr, 0);
	strcpy(ev.owner.name, ":8443");
	CHECK(vt_state_apply(s, &ev) == 0);
	sys = vt_state_system(s, 2);
	CHECK_EQ_U64(sys->nowners, 2);
	CHECK_STR(sys->owners[1], ":8443");
	CHECK_STR(sys->owners[0], "");
	/* registry full: no index, nothing recorded */
	ev.owner.index = 0xffff;
	CHECK(vt_state_apply(s, &ev) == 0);
	CHECK_EQ_U64(sys->nowners, 2);
	/* unknown system */
	ev.owner.index = 0;
	ev.owner.sys = 0xdead000;
	CHECK(vt_state_apply(s, &ev) == -1);
	/* a 32-byte name without NUL is cut, not overrun */
	ev.owner.sys = 0x111000;
	memset(ev.owner.name, 'x', sizeof(ev.owner.name));
	CHECK(vt_state_apply(s, &ev) == 0);
	CHECK_EQ_U64(strlen(vt_state_system(s, 0)->owners[0]), 31);
	/* bytes that are not printable ASCII do not reach the encoders */
	vt_state_owner_set(s, 0, 1, ":80\xff\n");
	CHECK_STR(vt_state_system(s, 0)->owners[1], ":80??");
	/* setting the same name again is no change */
	vt_state_owner_set(s, 2, 0, ":6969");
	gen = vt_state_generation(s);
	vt_state_owner_set(s, 2, 0, ":6969");
	CHECK_EQ_U64(vt_state_generation(s), gen);
	vt_state_owner_set(s, 2, VT_MAX_OWNERS, ":1");
	CHECK_EQ_U64(sys->nowners, 2);
	vt_state_free(s);
}

/* A release probed at its push CAS can reach the ring after another
 * thread's pop of the same slot: the pop takes the slot at once, the late
 * release counts and leaves it with its new holder. A return probe's
 * acquire onto a set slot stays the bootstrap case (in the image). */
static void test_pop_before_release(void)
{
	struct vt_state *s = vt_state_new(100);
	struct img m;
	const struct vt_slab *sl;
	struct vt_event ev;

	img_init(&m, ADDR, VT_SLAB_HANDLES, 16);
	img_use(&m, 4, VT_HK_TCP, 0, 0);
	img_at(&m, 20, 100, 11, 10);
	vt_state_slab_load(s, &m.v, 100);
	sl = vt_state_slab_find(s, ADDR);

	ev = ev_slot(VT_EV_ACQUIRE, ADDR, 4, 120);
	ev.probe = VT_P_ACQUIRE_POP;
	ev.acquire.version = 25;	/* read before its bump: not in the image */
	ev.acquire.stack = 7;
	vt_state_apply(s, &ev);
	CHECK(model_bit(sl, 4));
	CHECK(sl->early[4]);
	CHECK_EQ_U64(sl->used, 1);
	CHECK_EQ_U64(sl->acquires, 12);
	CHECK_EQ_U64(sl->since_ms[4], 120);
	CHECK_EQ_U64(sl->stacks[4], 7);
	CHECK(sl->states[4] == 'U' && sl->pending[4]);

	ev = ev_slot(VT_EV_RELEASE, ADDR, 4, 119);	/* its last holder's */
	ev.probe = VT_P_RELEASE_PUSH;
	ev.release.version = 0;
	vt_state_apply(s, &ev);
	CHECK(model_bit(sl, 4));
	CHECK(!sl->early[4] && !sl->unsure[4]);
	CHECK_EQ_U64(sl->used, 1);
	CHECK_EQ_U64(sl->releases, 11);
	CHECK_EQ_U64(sl->since_ms[4], 120);
	CHECK_EQ_U64(sl->stacks[4], 7);

	vt_state_apply(s, &ev);		/* the new holder's own release */
	CHECK(!model_bit(sl, 4));
	CHECK_EQ_U64(sl->used, 0);
	CHECK_EQ_U64(sl->releases, 12);

	/* a second pop onto a slot still early waits for one release only */
	ev = ev_slot(VT_EV_ACQUIRE, ADDR, 5, 130);
	ev.probe = VT_P_ACQUIRE_POP;
	ev.acquire.version = 30;
	vt_state_apply(s, &ev);		/* slot 5 is free: a plain acquire */
	CHECK(!sl->early[5]);
	vt_state_apply(s, &ev);		/* onto itself: the release is late */
	CHECK(sl->early[5]);
	vt_state_apply(s, &ev);		/* a duplicate changes nothing more */
	CHECK_EQ_U64(sl->acquires, 14);
	img_fini(&m);
	vt_state_free(s);
}

/* Which events an image already holds, by the bitmap_version each event
 * read: acquires that read at most the image's version are in it, as are
 * acquires onto a set slot and releases of a clear one; a release that may
 * be in it is undone when the slot's next acquire turns out to be. */
static void test_in_image(void)
{
	struct vt_state *s = vt_state_new(100);
	struct img m;
	const struct vt_slab *sl;
	struct vt_event ev;

	img_init(&m, ADDR, VT_SLAB_TCP_BUFFERS, 32);
	img_use(&m, 1, 0, 0, 0);
	img_use(&m, 2, 0, 0, 0);
	img_use(&m, 6, 0, 0, 0);
	img_at(&m, 20, 100, 13, 10);
	vt_state_slab_load(s, &m.v, 100);
	sl = vt_state_slab_find(s, ADDR);

	/* other events count from when the read began (100 ms) */
	ev = ev_slot(VT_EV_ACQUIRE_FAIL, ADDR, 0, 99);
	vt_state_apply(s, &ev);
	CHECK_EQ_U64(sl->overflow, 0);
	ev = ev_slot(VT_EV_ACQUIRE_FAIL, ADDR, 0, 101);
	vt_state_apply(s, &ev);
	CHECK_EQ_U64(sl->overflow, 1);

	/* acquires that read a version <= 20 are in the image */
	ev = ev_slot(VT_EV_ACQUIRE, ADDR, 1, 99);
	ev.acquire.version = 15;
	vt_state_apply(s, &ev);
	ev = ev_slot(VT_EV_ACQUIRE, ADDR, 9, 99);	/* acquired, released */
	ev.acquire.version = 19;
	vt_state_apply(s, &ev);
	CHECK(!model_bit(sl, 9));
	CHECK_EQ_U64(sl->used, 3);
	CHECK_EQ_U64(sl->acquires, 13);
	/* its release, read at 19 (+1): the slot is clear, nothing to do */
	ev = ev_slot(VT_EV_RELEASE, ADDR, 9, 99);
	ev.release.version = 20;
	vt_state_apply(s, &ev);
	CHECK_EQ_U64(sl->releases, 10);

	/* bumped before the read, returned after it: slot 2 is set already */
	ev = ev_slot(VT_EV_ACQUIRE, ADDR, 2, 105);
	ev.acquire.version = 22;
	vt_state_apply(s, &ev);
	CHECK_EQ_U64(sl->acquires, 13);
	/* a new acquire of slot 3 */
	ev = ev_slot(VT_EV_ACQUIRE, ADDR, 3, 105);
	ev.acquire.version = 21;
	vt_state_apply(s, &ev);
	CHECK(model_bit(sl, 3));
	CHECK_EQ_U64(sl->acquires, 14);
	CHECK_EQ_U64(sl->since_ms[3], 105);

	/* a release of set slot 1 that entered after the read */
	ev = ev_slot(VT_EV_RELEASE, ADDR, 1, 106);
	ev.release.version = 23;
	vt_state_apply(s, &ev);
	CHECK(!model_bit(sl, 1));
	CHECK_EQ_U64(sl->releases, 11);

	/* slot 6: released and acquired again before the read; the release
	 * applies, the acquire (read 18) proves it was in the image */
	ev = ev_slot(VT_EV_RELEASE, ADDR, 6, 104);
	ev.release.version = 17;
	vt_state_apply(s, &ev);
	CHECK(!model_bit(sl, 6));
	CHECK(sl->unsure[6]);
	ev = ev_slot(VT_EV_ACQUIRE, ADDR, 6, 104);
	ev.acquire.version = 18;
	vt_state_apply(s, &ev);
	CHECK(model_bit(sl, 6));
	CHECK(!sl->unsure[6]);
	CHECK_EQ_U64(sl->releases, 11);
	CHECK_EQ_U64(sl->acquires, 14);
	CHECK(sl->since_attach[6]);

	/* slot 2: entered release before the read, cleared after it; its next
	 * acquire is new (read 24), so the release stands */
	ev = ev_slot(VT_EV_RELEASE, ADDR, 2, 107);
	ev.release.version = 20;
	vt_state_apply(s, &ev);
	ev = ev_slot(VT_EV_ACQUIRE, ADDR, 2, 111);
	ev.acquire.version = 24;
	vt_state_apply(s, &ev);
	CHECK(model_bit(sl, 2));
	CHECK_EQ_U64(sl->releases, 12);
	CHECK_EQ_U64(sl->acquires, 15);
	CHECK_EQ_U64(sl->since_ms[2], 111);
	CHECK_EQ_U64(sl->used, 3);

	/* a later load starts a new horizon for its slab only */
	m.v.addr = ADDR + 0x100000;
	m.v.version = 5;
	vt_state_slab_load(s, &m.v, 200);
	ev = ev_slot(VT_EV_ACQUIRE, ADDR + 0x100000, 4, 50);
	ev.acquire.version = 6;
	vt_state_apply(s, &ev);
	CHECK_EQ_U64(vt_state_slab_find(s, ADDR + 0x100000)->acquires, 14);
	img_fini(&m);
	vt_state_free(s);
}

static void test_reconcile(void)
{
	struct vt_state *s = vt_state_new(0);
	struct img m;
	const struct vt_slab *sl;
	struct vt_event ev;

	img_init(&m, ADDR, VT_SLAB_HANDLES, 64);
	img_use(&m, 0, VT_HK_TASK, 0, 0);
	img_use(&m, 1, VT_HK_HTTP_CONN, VT_DIAG_ACTIVE, 0);
	m.v.hwm = 2;
	m.v.acquires = 2;
	m.v.version = 2;
	vt_state_slab_load(s, &m.v, 0);
	sl = vt_state_slab_find(s, ADDR);
	ev = ev_slot(VT_EV_ACQUIRE, ADDR, 2, 50);
	ev.acquire.version = 3;
	ev.acquire.peak = 3;
	vt_state_apply(s, &ev);
	vt_state_slot_typed(s, ADDR, 2, VT_HK_TCP, 0, 0);

	/* memory agrees: nothing to do */
	img_use(&m, 2, VT_HK_TCP, 0, 0);
	m.v.hwm = 3;
	m.v.acquires = 3;
	m.v.version = 3;
	CHECK(vt_state_slab_reconcile(s, &m.v, 100) == 0);
	CHECK(!sl->suspect);

	/* transient: memory is ahead of the events (slot 3 acquired, event
	 * not yet read); the version moves on, so no repair */
	img_use(&m, 3, VT_HK_HTTP_CONN, VT_DIAG_ACTIVE, 0);
	m.v.hwm = 4;
	m.v.acquires = 4;
	m.v.version = 4;
	CHECK(vt_state_slab_reconcile(s, &m.v, 100) == 0);
	CHECK(sl->suspect);
	img_use(&m, 4, VT_HK_HTTP_CONN, VT_DIAG_ACTIVE, 0);
	m.v.hwm = 5;
	m.v.acquires = 5;
	m.v.version = 5;
	CHECK(vt_state_slab_reconcile(s, &m.v, 100) == 0);
	/* the events arrive: the model matches and the suspicion clears */
	for (uint64_t i = 3; i <= 4; i++) {
		ev = ev_slot(VT_EV_ACQUIRE, ADDR, i, 60);
		ev.acquire.version = i + 1;
		ev.acquire.peak = i + 1;
		vt_state_apply(s, &ev);
		ev = ev_conn(ADDR, i, VT_HK_HTTP_CONN, VT_DIAG_ACTIVE, 0, 61);
		vt_state_apply(s, &ev);
	}
	CHECK(vt_state_slab_reconcile(s, &m.v, 200) == 0);
	CHECK(!sl->suspect);
	CHECK_EQ_U64(vt_state_counters(s)->resyncs, 0);

	/* a lost release: memory stays put, the mismatch persists at the
	 * same version: repaired at the second look, once */
	img_free_slot(&m, 3);
	m.v.releases = 1;
	m.v.version = 6;
	CHECK(vt_state_slab_reconcile(s, &m.v, 300) == 0);
	CHECK(model_bit(sl, 3));
	CHECK(vt_state_slab_reconcile(s, &m.v, 400) == 1);
	CHECK(!model_bit(sl, 3));
	CHECK(sl->states[3] == 'F');
	CHECK_EQ_U64(sl->used, 4);
	CHECK_EQ_U64(sl->releases, 1);
	CHECK_EQ_U64(sl->version, 6);
	CHECK_EQ_U64(vt_state_counters(s)->resyncs, 1);
	CHECK_EQ_U64(sl->since_ms[2], 50);	/* kept: stayed used */
	CHECK(sl->since_attach[1]);
	CHECK(vt_state_slab_reconcile(s, &m.v, 500) == 0);
	CHECK_EQ_U64(vt_state_counters(s)->resyncs, 1);

	/* a letter difference alone counts (lost CONN event), and a slot the
	 * model never saw acquired is stamped with the repair time */
	m.diags[4] = VT_DIAG_IDLE;
	img_use(&m, 9, VT_HK_HTTP_CONN, VT_DIAG_CLOSING, 1);
	m.v.hwm = 5;
	m.v.acquires = 6;
	m.v.version = 7;
	CHECK(vt_state_slab_reconcile(s, &m.v, 600) == 0);
	CHECK(vt_state_slab_reconcile(s, &m.v, 700) == 1);
	CHECK(sl->states[4] == 'I' && sl->states[9] == 'C');
	CHECK_EQ_U64(sl->owners[9], 1);
	CHECK_EQ_U64(sl->since_ms[9], 700);
	CHECK(!sl->since_attach[9]);
	CHECK_EQ_U64(vt_state_counters(s)->resyncs, 2);

	/* suspicion cleared by a match is not carried to a later mismatch */
	m.v.overflow = 1;
	CHECK(vt_state_slab_reconcile(s, &m.v, 800) == 0);
	m.v.overflow = 0;
	CHECK(vt_state_slab_reconcile(s, &m.v, 800) == 0);
	m.v.overflow = 1;
	CHECK(vt_state_slab_reconcile(s, &m.v, 800) == 0);
	CHECK_EQ_U64(sl->overflow, 0);

	/* pending slots are not compared: their kind is not known yet */
	ev = ev_slot(VT_EV_ACQUIRE, ADDR, 10, 900);
	ev.acquire.version = 8;
	ev.acquire.peak = 6;
	vt_state_apply(s, &ev);
	img_use(&m, 10, VT_HK_TCP, 0, 0);
	m.v.overflow = 0;
	m.v.hwm = 6;
	m.v.acquires = 7;
	m.v.version = 8;
	CHECK(vt_state_slab_reconcile(s, &m.v, 900) == 0);
	CHECK(!sl->suspect);
	CHECK(sl->states[10] == 'U');
	img_fini(&m);
	vt_state_free(s);
}

static void test_sample(void)
{
	struct vt_state *s = vt_state_new(10);
	struct img m;
	const struct vt_slab *sl;
	uint64_t gen;

	img_init(&m, ADDR, VT_SLAB_HANDLES, 8);
	img_use(&m, 0, VT_HK_TASK, 0, 0);
	CHECK(vt_state_slab_sample(s, &m.v, 10) == 0);	/* first: a load */
	sl = vt_state_slab_find(s, ADDR);
	CHECK(sl && sl->since_attach[0]);
	if (!sl)
		goto out;
	img_use(&m, 1, VT_HK_HTTP_CONN, VT_DIAG_CONNECTING, 0);
	m.v.acquires = 5;
	m.v.hwm = 2;
	CHECK(vt_state_slab_sample(s, &m.v, 300) == 0);
	CHECK(sl->states[1] == 'N');
	CHECK_EQ_U64(sl->since_ms[1], 300);
	CHECK_EQ_U64(sl->since_ms[0], 10);
	CHECK(sl->since_attach[0]);
	CHECK_EQ_U64(sl->used, 2);
	CHECK_EQ_U64(sl->acquires, 5);
	CHECK_EQ_U64(vt_state_counters(s)->resyncs, 0);
	gen = vt_state_generation(s);
	CHECK(vt_state_slab_sample(s, &m.v, 400) == 0);
	CHECK_EQ_U64(vt_state_generation(s), gen);	/* no change */
	img_free_slot(&m, 0);
	CHECK(vt_state_slab_sample(s, &m.v, 500) == 0);
	CHECK(vt_state_generation(s) > gen);
	CHECK(sl->states[0] == 'F');
	CHECK_EQ_U64(sl->used, 1);
out:
	img_fini(&m);
	vt_state_free(s);
}

static void test_leaks(void)
{
	struct vt_state *s = vt_state_new(1000);
	struct img h, t;
	struct vt_leak l[8];
	struct vt_event ev;
	size_t n;

	img_init(&h, ADDR, VT_SLAB_HANDLES, 16);
	img_init(&t, 0x5000, VT_SLAB_TCP_BUFFERS, 16);
	img_use(&h, 4, VT_HK_TCP, 0, 0);	/* in use since attach */
	vt_state_slab_load(s, &h.v, 1000);
	vt_state_slab_load(s, &t.v, 1000);
	ev = ev_slot(VT_EV_ACQUIRE, 0x5000, 2, 3000);
	vt_state_apply(s, &ev);
	ev = ev_slot(VT_EV_ACQUIRE, ADDR, 9, 2000);
	vt_state_apply(s, &ev);
	ev = ev_slot(VT_EV_ACQUIRE, 0x5000, 7, 2000);	/* ties slab 9 */
	vt_state_apply(s, &ev);
	ev = ev_slot(VT_EV_ACQUIRE, 0x5000, 8, 9500);	/* too young */
	vt_state_apply(s, &ev);

	n = vt_state_leaks(s, 10000, 1000, l, 8);
	CHECK_EQ_U64(n, 4);
	CHECK(l[0].slab->addr == ADDR && l[0].slot == 4 && l[0].since_attach);
	CHECK_EQ_U64(l[0].age_ms, 9000);
	/* equal ages: slab order (tcp_buffers before handles), then slot */
	CHECK(l[1].slab->addr == 0x5000 && l[1].slot == 7);
	CHECK(l[2].slab->addr == ADDR && l[2].slot == 9);
	CHECK_EQ_U64(l[2].age_ms, 8000);
	CHECK(l[3].slab->addr == 0x5000 && l[3].slot == 2);
	CHECK(!l[3].since_attach);
	/* bounded: the oldest two */
	n = vt_state_leaks(s, 10000, 1000, l, 2);
	CHECK_EQ_U64(n, 2);
	CHECK(l[0].slot == 4 && l[1].slot == 7);
	CHECK_EQ_U64(vt_state_leaks(s, 10000, 20000, l, 8), 0);
	img_fini(&h);
	img_fini(&t);
	vt_state_free(s);
}

static void test_arenas_gc(void)
{
	struct vt_state *s = vt_state_new(0);
	struct vt_arena a[2] = { { .name = "scratch", .capacity = 100, .used = 5 },
				 { .name = "stream_arena/3", .capacity = 7 } };
	struct vt_gc gc = { .heap_used_bytes = 64, .heap_total_bytes = 512,
			    .nclasses = 1, .classes = { { 16, 4, 256 } } };
	const struct vt_arena *got;
	size_t n;
	uint64_t gen;

	vt_state_arenas_set(s, a, 2);
	got = vt_state_arenas(s, &n);
	CHECK_EQ_U64(n, 2);
	CHECK_STR(got[1].name, "stream_arena/3");
	CHECK_EQ_U64(got[0].hwm, 5);	/* a fresh arena: hwm 0 read, used 5 */
	gen = vt_state_generation(s);
	vt_state_arenas_set(s, a, 2);
	CHECK_EQ_U64(vt_state_generation(s), gen);
	a[0].used = 6;
	vt_state_arenas_set(s, a, 2);
	CHECK(vt_state_generation(s) > gen);
	vt_state_arenas_set(s, a, 1);
	vt_state_arenas(s, &n);
	CHECK_EQ_U64(n, 1);

	vt_state_gc_set(s, &gc);
	CHECK_EQ_U64(vt_state_gc(s)->classes[0].total, 256);
	gen = vt_state_generation(s);
	vt_state_gc_set(s, &gc);
	CHECK_EQ_U64(vt_state_generation(s), gen);

	uint64_t hits[VT_P_COUNT] = { [VT_P_RELEASE] = 12 };
	vt_state_tracer_update(s, 3, hits);
	CHECK_EQ_U64(vt_state_counters(s)->lost, 3);
	CHECK_EQ_U64(vt_state_counters(s)->probe_hits[VT_P_RELEASE], 12);
	CHECK(vt_state_generation(s) > gen);
	CHECK_EQ_U64(vt_state_attach_ms(s), 0);
	vt_state_free(s);
}

/* ---- randomized replay against a simulated runtime slab ---------------- */

/* The runtime's slab as slab.c runs it: a LIFO free list, numFree, the
 * peak, counters, and a bitmap_version bumped on every bitmap change. */
struct sim {
	uint64_t n, nfree, peak, overflow, acq, rel, version, head;
	uint64_t *next;
	uint8_t *bm;
};

static void sim_init(struct sim *x, uint64_t n)
{
	memset(x, 0, sizeof(*x));
	x->n = x->nfree = n;
	x->next = malloc(n * sizeof(*x->next));
	x->bm = calloc((n + 7) / 8, 1);
	for (uint64_t i = 0; i < n; i++)
		x->next[i] = i + 1;
}

static struct vt_event sim_acquire(struct sim *x, uint64_t addr, uint64_t ts)
{
	struct vt_event ev = ev_slot(VT_EV_ACQUIRE_FAIL, addr, 0, ts);
	uint64_t slot;

	if (!x->nfree) {
		x->overflow++;
		return ev;
	}
	x->nfree--;
	slot = x->head;
	x->head = x->next[slot];
	x->bm[slot / 8] |= (uint8_t)(1u << (slot % 8));
	x->version++;
	if (x->n - x->nfree > x->peak)
		x->peak = x->n - x->nfree;
	x->acq++;
	ev = ev_slot(VT_EV_ACQUIRE, addr, slot, ts);
	ev.acquire.version = x->version;
	ev.acquire.peak = x->peak;
	return ev;
}

static struct vt_event sim_release(struct sim *x, uint64_t addr,
				   uint64_t slot, uint64_t ts)
{
	struct vt_event ev = ev_slot(VT_EV_RELEASE, addr, slot, ts);

	x->bm[slot / 8] &= (uint8_t)~(1u << (slot % 8));
	x->version++;
	x->next[slot] = x->head;
	x->head = slot;
	x->nfree++;
	x->rel++;
	ev.release.version = x->version;
	return ev;
}

static bool sim_used(const struct sim *x, uint64_t i)
{
	return x->bm[i / 8] >> (i % 8) & 1;
}

/* One random step: acquire (maybe failing) or release a random used slot. */
static struct vt_event sim_step(struct sim *x, uint64_t addr, uint64_t ts)
{
	uint64_t slot;

	if (x->nfree == x->n || rand() % 2) {
		return sim_acquire(x, addr, ts);
	}
	do
		slot = (uint64_t)rand() % x->n;
	while (!sim_used(x, slot));
	return sim_release(x, addr, slot, ts);
}

static void sim_image(const struct sim *x, uint64_t addr, struct img *m)
{
	img_init(m, addr, VT_SLAB_TCP_BUFFERS, x->n);
	memcpy(m->bm, x->bm, (x->n + 7) / 8);
	m->v.used = x->n - x->nfree;
	m->v.hwm = x->peak;
	m->v.overflow = x->overflow;
	m->v.acquires = x->acq;
	m->v.releases = x->rel;
	m->v.version = x->version;
}

static int sim_compare(const struct sim *x, const struct vt_slab *sl,
		       bool counters)
{
	int bad = memcmp(sl->bitmap, x->bm, (x->n + 7) / 8) != 0;

	bad |= sl->used != x->n - x->nfree;
	if (counters)
		bad |= sl->acquires != x->acq || sl->releases != x->rel ||
		       sl->overflow != x->overflow || sl->hwm != x->peak ||
		       sl->version != x->version;
	return bad;
}

/* Live replay from an empty slab: every step exact. */
static void test_replay(void)
{
	const uint64_t addr = 0x900000;
	struct vt_state *s = vt_state_new(0);
	struct sim x;
	struct img m;
	int bad = 0;

	sim_init(&x, 61);	/* not a multiple of 8 */
	sim_image(&x, addr, &m);
	vt_state_slab_load(s, &m.v, 0);
	img_fini(&m);
	for (uint64_t i = 1; i <= 20000; i++) {
		struct vt_event ev = sim_step(&x, addr, i);

		vt_state_apply(s, &ev);
		bad |= sim_compare(&x, vt_state_slab_find(s, addr), true);
	}
	CHECK(bad == 0);
	CHECK(x.overflow > 0 && x.rel > 1000);	/* the walk went everywhere */
	sim_image(&x, addr, &m);
	CHECK(vt_state_slab_reconcile(s, &m.v, 0) == 0);
	CHECK(!vt_state_slab_find(s, addr)->suspect);
	img_fini(&m);
	free(x.next);
	free(x.bm);
	vt_state_free(s);
}

/* Bootstrap replay: the image is read at a random moment, then every
 * buffered event is replayed: bitmap and counters come out exact. */
static void test_boot_replay(void)
{
	const uint64_t addr = 0x900000;
	int bad = 0;

	for (int round = 0; round < 200; round++) {
		struct vt_state *s = vt_state_new(0);
		struct vt_event evs[400];
		struct sim x;
		struct img m;
		uint64_t read_at = 100 + (uint64_t)(rand() % 40);
		size_t n = 0;

		sim_init(&x, 40);
		for (uint64_t t = 1; t <= 300; t++) {
			evs[n++] = sim_step(&x, addr, t);
			if (t == read_at) {
				sim_image(&x, addr, &m);
				m.v.read_ns = read_at * MS;
				vt_state_slab_load(s, &m.v, 0);
				img_fini(&m);
			}
		}
		for (size_t i = 0; i < n; i++)
			vt_state_apply(s, &evs[i]);
		bad |= sim_compare(&x, vt_state_slab_find(s, addr), true);
		free(x.next);
		free(x.bm);
		vt_state_free(s);
	}
	CHECK(bad == 0);
}

/* Random bytes, but often naming the test's slab, one of its slots, a
 * payload address near its handles or its system. A freed slab stays
 * random: dropping the test's slab is not garbage. */
static void fuzz_aim(struct vt_event *ev)
{
	uint64_t handle = ADDR + (uint64_t)(rand() % (100 * 960 + 200));

	switch (ev->type) {
	case VT_EV_ACQUIRE:
	case VT_EV_RELEASE:	/* slab and slot lead both */
		if (rand() % 2)
			ev->acquire.slab = ADDR;
		if (rand() % 2)
			ev->acquire.slot %= 128;
		break;
	case VT_EV_ACQUIRE_FAIL:
		if (rand() % 2)
			ev->acquire_fail.slab = ADDR;
		break;
	case VT_EV_CONN:
		if (rand() % 2)
			ev->conn.handle = handle;
		break;
	case VT_EV_OWNER:
		if (rand() % 4 == 0)
			ev->owner.sys = 0x1000;
		break;
	}
}

/* Whatever a target or a broken probe sends, the model stays consistent:
 * used equals the bitmap's popcount and free slots are 'F'. */
static void test_garbage(void)
{
	struct vt_state *s = vt_state_new(0);
	struct img m;
	const struct vt_slab *sl;
	uint64_t pop = 0, notfree = 0;

	img_init(&m, ADDR, VT_SLAB_HANDLES, 100);
	vt_state_slab_load(s, &m.v, 0);
	vt_state_system_set(s, 0, 0x1000);
	sl = vt_state_slab_find(s, ADDR);
	for (int i = 0; i < 200000; i++) {
		struct vt_event ev;
		uint8_t *raw = (uint8_t *)&ev;

		for (size_t j = 0; j < sizeof(ev); j++)
			raw[j] = (uint8_t)rand();
		ev.type = (uint32_t)(rand() % 10);
		fuzz_aim(&ev);
		vt_state_apply(s, &ev);
	}
	for (uint64_t i = 0; i < sl->total; i++) {
		pop += model_bit(sl, i);
		notfree += !model_bit(sl, i) && sl->states[i] != 'F';
	}
	CHECK_EQ_U64(sl->used, pop);
	CHECK_EQ_U64(notfree, 0);
	CHECK(vt_state_counters(s)->ignored > 0);
	img_fini(&m);
	vt_state_free(s);
}

/* The slots of all slabs together are bounded before any is allocated: a
 * slab that would take them above the bound is refused (loaded, sampled
 * or replayed), one replaced is counted once, and the others stay. */
static void test_total_slots(void)
{
	struct vt_state *s = vt_state_new(0);
	struct vt_slab geo = { 0 };
	struct img a, b, big;

	vt_state_limit_slots(s, 1000);
	img_init(&a, ADDR, VT_SLAB_TCP_BUFFERS, 600);
	img_init_sys(&b, ADDR + 0x100000, VT_SLAB_HANDLES, 400, 1);
	img_init_sys(&big, ADDR + 0x100000, VT_SLAB_HANDLES, 401, 1);
	CHECK(vt_state_slab_load(s, &a.v, 0) == 0);
	CHECK(vt_state_slab_load(s, &b.v, 0) == 0);	/* 1000: at the bound */
	CHECK_EQ_U64(vt_state_slots_with(s, ADDR, 600), 1000);
	CHECK_EQ_U64(vt_state_slots_with(s, ADDR + 0x100000, 401), 1001);
	CHECK(vt_state_slab_load(s, &big.v, 0) == -1);
	CHECK(vt_state_slab_sample(s, &big.v, 0) == -1);
	CHECK_EQ_U64(vt_state_slab_find(s, ADDR + 0x100000)->total, 400);
	CHECK(vt_state_slab_load(s, &a.v, 0) == 0);	/* replaced: once */
	geo = *vt_state_slab_find(s, ADDR + 0x100000);
	geo.total = 401;
	CHECK(vt_state_slab_put(s, vt_state_slab_new(&geo)) == -1);
	geo.total = 400;
	CHECK(vt_state_slab_put(s, vt_state_slab_new(&geo)) == 0);
	CHECK_EQ_U64(vt_state_nslabs(s), 2);
	img_fini(&a);
	img_fini(&b);
	img_fini(&big);
	vt_state_free(s);
}

/* The model's invariants are assert()s, live in the objects the tests link
 * (no NDEBUG): a slab whose used count no longer matches its bitmap stops
 * the process at the next pass over the bitmap, here a reconciliation. */
static void test_invariants_checked(void)
{
	struct vt_state *s = vt_state_new(0);
	struct img m;
	pid_t pid;
	int st = 0;

	img_init(&m, ADDR, VT_SLAB_TCP_BUFFERS, 16);
	img_use(&m, 3, 0, 0, 0);
	vt_state_slab_load(s, &m.v, 0);
	CHECK(vt_state_slab_reconcile(s, &m.v, 0) == 0);	/* consistent */
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		struct vt_slab *sl = (struct vt_slab *)vt_state_slab_find(s, ADDR);

		freopen("/dev/null", "w", stderr);
		sl->used++;
		vt_state_slab_reconcile(s, &m.v, 0);
		_exit(0);
	}
	CHECK(pid > 0 && waitpid(pid, &st, 0) == pid);
	CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT);
	img_fini(&m);
	vt_state_free(s);
}

/* A busy target never holds its version still: a drift is repaired from
 * one settled image taken at the version the model has reached, or from
 * any settled image while the slab is marked invalid. */
static void test_reconcile_busy(void)
{
	struct vt_state *s = vt_state_new(0);
	const struct vt_slab *sl;
	struct img bad, m;

	/* the model adopted a corrupt image: slot 5 missing */
	img_init(&bad, ADDR, VT_SLAB_TCP_BUFFERS, 16);
	img_use(&bad, 0, 0, 0, 0);
	bad.v.version = 2;
	bad.v.acquires = 2;
	bad.v.releases = 0;
	bad.v.settled = true;	/* a quiet read, of wrong memory */
	CHECK(vt_state_slab_load(s, &bad.v, 0) == 0);
	sl = vt_state_slab_find(s, ADDR);
	img_init(&m, ADDR, VT_SLAB_TCP_BUFFERS, 16);
	img_use(&m, 0, 0, 0, 0);
	img_use(&m, 5, 0, 0, 0);
	m.v.acquires = 2;
	m.v.hwm = 2;

	/* at another version, or not settled: events may be in flight */
	m.v.version = 4;
	m.v.settled = true;
	CHECK(vt_state_slab_reconcile(s, &m.v, 10) == 0);
	m.v.version = 2;
	m.v.settled = false;
	CHECK(vt_state_slab_reconcile(s, &m.v, 20) == 0);
	CHECK(!model_bit(sl, 5));
	/* settled at the model's version: repaired at the first look */
	m.v.settled = true;
	sl = vt_state_slab_find(s, ADDR);
	CHECK(vt_state_slab_reconcile(s, &m.v, 30) == 1);
	CHECK(model_bit(sl, 5));
	CHECK_EQ_U64(vt_state_counters(s)->resyncs, 1);

	/* invalid: kept as it was until memory agrees or a settled image
	 * replaces it, whatever its version */
	vt_state_slab_invalid(s, ADDR, "numItems 0");
	CHECK(sl->invalid && !strcmp(sl->problem, "numItems 0"));
	vt_state_slab_invalid(s, ADDR, "another");	/* the first reason stays */
	CHECK(!strcmp(sl->problem, "numItems 0"));
	CHECK(vt_state_slab_reconcile(s, &m.v, 40) == 0);
	CHECK(!sl->invalid);
	vt_state_slab_invalid(s, ADDR, "unmapped bitmap");
	img_use(&m, 7, 0, 0, 0);
	m.v.version = 9;
	m.v.acquires = 3;
	m.v.hwm = 3;
	CHECK(vt_state_slab_reconcile(s, &m.v, 50) == 1);
	CHECK(model_bit(sl, 7) && !sl->invalid);
	img_fini(&bad);
	img_fini(&m);
	vt_state_free(s);
}

/* A boot image read while memory moved (never settled in its tries) may
 * hold an operation half done: the first settled image replaces it, even
 * where their slots agree (its counters may not). */
static void test_unsettled_boot(void)
{
	struct vt_state *s = vt_state_new(0);
	const struct vt_slab *sl;
	struct img m;

	img_init(&m, ADDR, VT_SLAB_TCP_BUFFERS, 16);
	img_use(&m, 3, 0, 0, 0);
	img_at(&m, 7, 0, 3, 3);		/* from the header: one behind */
	m.v.settled = false;
	CHECK(vt_state_slab_load(s, &m.v, 0) == 0);
	sl = vt_state_slab_find(s, ADDR);
	CHECK(sl->unsettled);
	CHECK(vt_state_slab_reconcile(s, &m.v, 10) == 0);	/* moving still */
	CHECK(sl->unsettled && sl->acquires == 3);
	img_at(&m, 9, 20, 5, 4);
	m.v.hwm = 1;
	m.v.settled = true;
	/* the slots agree, the counters do not: a repair */
	CHECK(vt_state_slab_reconcile(s, &m.v, 20) == 1);
	CHECK(!sl->unsettled);
	CHECK_EQ_U64(sl->acquires, 5);
	CHECK_EQ_U64(sl->image_version, 9);
	CHECK_EQ_U64(vt_state_counters(s)->resyncs, 1);
	CHECK(vt_state_slab_reconcile(s, &m.v, 30) == 0);	/* then as ever */
	img_fini(&m);
	vt_state_free(s);
}

/* Warnings: each distinct one once, the last VT_MAX_WARNINGS kept. */
static void test_warnings(void)
{
	struct vt_state *s = vt_state_new(0);
	char msg[32];

	CHECK(vt_state_warning(s, 0) == NULL);
	CHECK(vt_state_warn(s, "w0") == 1);
	CHECK(vt_state_warn(s, "w0") == 0);
	for (int i = 1; i < VT_MAX_WARNINGS + 4; i++) {
		snprintf(msg, sizeof(msg), "w%d", i);
		CHECK(vt_state_warn(s, msg) == 1);
	}
	CHECK(!strcmp(vt_state_warning(s, 0), "w4"));
	CHECK(!strcmp(vt_state_warning(s, VT_MAX_WARNINGS - 1), "w19"));
	CHECK(vt_state_warning(s, VT_MAX_WARNINGS) == NULL);
	vt_state_free(s);
}

int main(void)
{
	srand(12345);
	test_letters();
	test_load();
	test_order();
	test_events();
	test_reads_due_batches();
	test_unread_and_maxima();
	test_owners();
	test_in_image();
	test_pop_before_release();
	test_reconcile();
	test_reconcile_busy();
	test_unsettled_boot();
	test_warnings();
	test_sample();
	test_leaks();
	test_arenas_gc();
	test_replay();
	test_boot_replay();
	test_garbage();
	test_total_slots();
	test_invariants_checked();
	return vt_test_done("test_state");
}
