/* vt_drain: empties the event ring between ticks, as often as the event
 * rate needs for the ring to stay under a quarter full, into a queue the
 * next tick applies. A 4 MiB ring holds what one 100 ms tick brings only
 * below about 580,000 events per second, and a full ring loses events;
 * the model still changes only in ticks (a new subscriber's full state is
 * the last tick's). The BPF side never wakes the collector (a wakeup per
 * event would cost more than the event), so the rate seen at each drain
 * sets when the next one comes: at least every VT_DRAIN_MAX_MS, which
 * keeps a burst from idle within the default ring up to about 5 million
 * events per second. The queue holds at most VT_DRAIN_RINGS rings' worth;
 * past that the ring is left to fill, and what the queue cannot take is
 * counted lost, like the ring's losses. */
#ifndef VT_DRAIN_H
#define VT_DRAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/types.h>
#include <uv.h>

#include "bpf/valk_trace.h"

#define VT_DRAIN_MAX_MS 10
#define VT_DRAIN_MIN_MS 1
#define VT_DRAIN_RINGS 16

/* Drains the ring into the queue (vt_drain_keep); returns how many
 * events the ring has given so far, at ticks too (the rate is taken from
 * its growth), or -1 when there is no ring to drain now. */
typedef int64_t (*vt_drain_fn)(void *ctx);
typedef void (*vt_drain_event_fn)(void *ctx, const struct vt_event *ev);

struct vt_drain {
	uv_timer_t timer;
	vt_drain_fn fn;
	void *ctx;
	size_t ring_events;	/* what the ring holds */
	uint64_t idle_ms;	/* the period while there is no ring */
	uint64_t last_ms;	/* the last drain (loop time) */
	int64_t last_seen;	/* fn's count then */
	struct vt_event *q;	/* drained, not yet applied */
	size_t n, cap;
	uint64_t dropped;	/* the queue was full */
	bool stopped;
	void (*done)(void *);
	void *done_arg;
};

/* When the next drain is due, in ms, after `events` arrived in
 * `elapsed_ms`: a quarter of the ring at that rate, within
 * VT_DRAIN_MIN_MS..VT_DRAIN_MAX_MS. */
uint64_t vt_drain_next_ms(size_t ring_events, uint64_t events,
			  uint64_t elapsed_ms);

/* Starts draining every idle_ms until fn first finds a ring. 0, or a
 * libuv error. */
int vt_drain_start(uv_loop_t *loop, struct vt_drain *d, size_t ring_events,
		   uint64_t idle_ms, vt_drain_fn fn, void *ctx);
/* Started and not stopped: until then nothing is queued. */
bool vt_drain_running(const struct vt_drain *d);
/* Whether the queue takes another drain of a whole ring. */
bool vt_drain_room(const struct vt_drain *d);
/* Queues one event (counted in `dropped` when the queue is full). */
void vt_drain_keep(struct vt_drain *d, const struct vt_event *ev);
/* Hands the queued events to fn in order and empties the queue; the ring
 * is drained onto its end meanwhile. */
void vt_drain_flush(struct vt_drain *d, vt_drain_event_fn fn, void *ctx);
/* Forgets the queued events and the count of those dropped (the target
 * they came from is gone). */
void vt_drain_clear(struct vt_drain *d);
void vt_drain_stop(struct vt_drain *d);
/* Closes the timer, frees the queue; done(arg) once closed. */
void vt_drain_close(struct vt_drain *d, void (*done)(void *), void *arg);

#endif /* VT_DRAIN_H */
