/* vt_drain: when the next early drain is due, and the queue the next tick
 * applies (order, bound, what it drops), on a real libuv timer. */
#include <string.h>

#include "vt_test.h"
#include "cli/vt_drain.h"

static void test_next_ms(void)
{
	/* 52,428 events fit (4 MiB of 80-byte records) */
	CHECK_EQ_U64(vt_drain_next_ms(52428, 0, 10), VT_DRAIN_MAX_MS);
	/* 100,000/s: a quarter of the ring in 131 ms, past the cap */
	CHECK_EQ_U64(vt_drain_next_ms(52428, 1000, 10), VT_DRAIN_MAX_MS);
	/* 2 M/s: a quarter in 6 ms */
	CHECK_EQ_U64(vt_drain_next_ms(52428, 20000, 10), 6);
	/* 50 M/s: sooner than the timer can */
	CHECK_EQ_U64(vt_drain_next_ms(52428, 500000, 10), VT_DRAIN_MIN_MS);
	CHECK_EQ_U64(vt_drain_next_ms(52428, 20000, 0), VT_DRAIN_MIN_MS);
}

struct sink {
	uint64_t next_ts, bad, n;
	int drains;
	struct vt_drain *d;
	uv_loop_t *loop;
	int fires;
	int64_t seen;
};

static void take(void *ctx, const struct vt_event *ev)
{
	struct sink *k = ctx;

	k->bad += ev->ts_ns != k->next_ts++;
	k->n++;
}

/* The ring, as far as the queue is concerned: each drain with room
 * brings two events, in order after those queued (as the session's). */
static int64_t refill(void *ctx)
{
	struct sink *k = ctx;

	for (int i = 0; i < 2 && vt_drain_room(k->d); i++) {
		struct vt_event ev = { .ts_ns = k->seen++ };

		vt_drain_keep(k->d, &ev);
	}
	k->drains++;
	if (++k->fires == 3)
		vt_drain_stop(k->d);
	return k->seen;
}

static void closed(void *arg)
{
	*(int *)arg = 1;
}

static void test_queue(void)
{
	uv_loop_t loop;
	struct vt_drain d = { 0 };
	struct sink k = { .d = &d, .loop = &loop };
	size_t max = VT_DRAIN_RINGS * 1000;
	int done = 0;

	uv_loop_init(&loop);
	CHECK(vt_drain_start(&loop, &d, 1000, 100, refill, &k) == 0);
	/* the timer drains three times, then stops */
	uv_run(&loop, UV_RUN_DEFAULT);
	CHECK_EQ_U64(k.fires, 3);
	CHECK_EQ_U64(d.n, 6);
	for (size_t i = 6; i < max; i++) {
		struct vt_event ev = { .ts_ns = k.seen++ };

		CHECK(i + 1000 > max || vt_drain_room(&d));
		vt_drain_keep(&d, &ev);
	}
	CHECK(!vt_drain_room(&d));
	CHECK_EQ_U64(d.n, max);
	{
		struct vt_event ev = { .ts_ns = 1 };

		vt_drain_keep(&d, &ev);	/* full: dropped */
	}
	CHECK_EQ_U64(d.dropped, 1);
	CHECK_EQ_U64(d.n, max);
	/* applied in order, the ring drained onto the end meanwhile */
	k.drains = 0;
	vt_drain_flush(&d, take, &k);
	CHECK_EQ_U64(k.bad, 0);
	CHECK_EQ_U64(d.n, 0);
	CHECK(k.drains >= (int)(max / 4096));
	CHECK((size_t)k.seen > max);	/* a full queue made room as it went */
	CHECK_EQ_U64(k.n, k.seen);
	vt_drain_clear(&d);
	CHECK_EQ_U64(d.dropped, 0);
	vt_drain_close(&d, closed, &done);
	uv_run(&loop, UV_RUN_DEFAULT);
	CHECK(done && d.q == NULL);
	CHECK(uv_loop_close(&loop) == 0);
}

int main(void)
{
	test_next_ms();
	test_queue();
	return vt_test_done("test_drain");
}
