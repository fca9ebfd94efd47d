/* vt_drain: draining the event ring as often as its rate needs, into a
 * queue for the next tick (see vt_drain.h). */
#include "cli/vt_drain.h"

#include <stdlib.h>
#include <string.h>

uint64_t vt_drain_next_ms(size_t ring_events, uint64_t events,
			  uint64_t elapsed_ms)
{
	uint64_t ms;

	if (!events)
		return VT_DRAIN_MAX_MS;
	ms = ring_events * (elapsed_ms ? elapsed_ms : 1) / (4 * events);
	return ms < VT_DRAIN_MIN_MS ? VT_DRAIN_MIN_MS
	       : ms > VT_DRAIN_MAX_MS ? VT_DRAIN_MAX_MS : ms;
}

static void on_drain(uv_timer_t *h)
{
	struct vt_drain *d = h->data;
	uint64_t now = uv_now(h->loop);
	int64_t seen = d->fn(d->ctx);
	uint64_t next = seen < 0 ? d->idle_ms
		      : vt_drain_next_ms(d->ring_events,
					 (uint64_t)(seen - d->last_seen),
					 now - d->last_ms);

	d->last_ms = now;
	if (seen >= d->last_seen)
		d->last_seen = seen;
	if (!d->stopped)	/* fn may have stopped it */
		uv_timer_start(h, on_drain, next, 0);
}

int vt_drain_start(uv_loop_t *loop, struct vt_drain *d, size_t ring_events,
		   uint64_t idle_ms, vt_drain_fn fn, void *ctx)
{
	int rc = uv_timer_init(loop, &d->timer);

	if (rc)
		return rc;
	d->timer.data = d;
	d->fn = fn;
	d->ctx = ctx;
	d->ring_events = ring_events ? ring_events : 1;
	d->idle_ms = idle_ms ? idle_ms : VT_DRAIN_MAX_MS;
	d->last_ms = uv_now(loop);
	return uv_timer_start(&d->timer, on_drain, VT_DRAIN_MAX_MS, 0);
}

bool vt_drain_running(const struct vt_drain *d)
{
	return d->fn && !d->stopped;
}

bool vt_drain_room(const struct vt_drain *d)
{
	return d->n + d->ring_events <= VT_DRAIN_RINGS * d->ring_events;
}

void vt_drain_keep(struct vt_drain *d, const struct vt_event *ev)
{
	if (d->n == d->cap) {
		size_t max = VT_DRAIN_RINGS * d->ring_events;
		size_t cap = d->cap ? 2 * d->cap : d->ring_events;
		struct vt_event *q;

		cap = cap < max ? cap : max;
		q = cap > d->cap ? realloc(d->q, cap * sizeof(*q)) : NULL;
		if (!q) {
			d->dropped++;
			return;
		}
		d->q = q;
		d->cap = cap;
	}
	d->q[d->n++] = *ev;
}

/* Applying a tick's worth of events takes milliseconds at high rates:
 * the ring is drained onto the queue's end every so often meanwhile. */
#define FLUSH_DRAIN_EVERY 4096

void vt_drain_flush(struct vt_drain *d, vt_drain_event_fn fn, void *ctx)
{
	for (size_t i = 0; i < d->n; i++) {
		fn(ctx, &d->q[i]);
		if (i % FLUSH_DRAIN_EVERY != FLUSH_DRAIN_EVERY - 1)
			continue;
		if (!vt_drain_room(d)) {	/* what is applied makes room */
			d->n -= i + 1;
			memmove(d->q, d->q + i + 1, d->n * sizeof(*d->q));
			i = (size_t)-1;
		}
		d->fn(d->ctx);
	}
	d->n = 0;
}

void vt_drain_clear(struct vt_drain *d)
{
	d->n = 0;
	d->dropped = 0;
}

void vt_drain_stop(struct vt_drain *d)
{
	d->stopped = true;
	uv_timer_stop(&d->timer);
}

static void on_closed(uv_handle_t *h)
{
	struct vt_drain *d = h->data;

	free(d->q);
	d->q = NULL;
	d->n = d->cap = 0;
	d->done(d->done_arg);
}

void vt_drain_close(struct vt_drain *d, void (*done)(void *), void *arg)
{
	d->done = done;
	d->done_arg = arg;
	uv_close((uv_handle_t *)&d->timer, on_closed);
}
