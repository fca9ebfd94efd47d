/* vt_trace_rec: a tracing session's recording — started with a header
 * telling what was attached and a keyframe of the first state, ended each
 * tick, closed with the session — and the history (--history) it keeps,
 * handed to the server. The session feeds it what the model is fed
 * (vt_trace_rec_event, vt_record_* on `rec`); each acquire stack goes
 * into the file once, symbolized while the process is there. */
#ifndef VT_TRACE_REC_H
#define VT_TRACE_REC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cli/vt_record.h"
#include "cli/vt_stacks.h"
#include "cli/vt_trace.h"
#include "target/vt_layout.h"
#include "target/vt_target.h"
#include "wire/vt_wire.h"

struct vt_routes;

/* The session as its recording sees it, at the time of the call. */
struct vt_trace_rec_src {
	const struct vt_trace_opts *o;
	const struct vt_target *target;
	const struct vt_layout *layout;
	const struct vt_wire_site *sites;	/* NULL: no probes */
	const struct vt_state *state;
	const struct vt_wire_meta *meta;	/* this tick's */
	uint64_t report_start_ms;
	struct vt_routes *routes;		/* serving; NULL */
	struct vt_stacks *stacks;		/* acquire stacks; NULL */
	const struct vt_probe *probe;
	const char *unwinder;			/* as the report says it */
};

/* A stack id's bit among those written: kernel ids 1..VT_STACK_MAP_ENTRIES,
 * then ours. */
#define VT_TRACE_REC_IDS (VT_STACK_MAP_ENTRIES + 1 + VT_STACKS_MAX + 1)

struct vt_trace_rec {
	struct vt_record *rec;	/* NULL: nothing recorded */
	bool tried;		/* the late start ran */
	struct vt_stacks *stacks;	/* NULL: no stacks to the file */
	const struct vt_probe *probe;
	uint64_t written[(VT_TRACE_REC_IDS + 63) / 64];
};

/* Starts the recording (--record) and/or the history (when serving): 0,
 * or -1 with a one-line reason. */
int vt_trace_rec_start(struct vt_trace_rec *r,
		       const struct vt_trace_rec_src *s, char *err,
		       size_t errlen);
/* An event the model is about to get: its stack first, when new. */
void vt_trace_rec_event(struct vt_trace_rec *r, const struct vt_event *ev);
/* run: a process attached before it mapped its runtime is recorded from
 * its first tick with the runtime mapped; tried once: a failure is said
 * and tracing goes on. True when it is to be tried now (s->meta then
 * brought up to date by the caller). */
bool vt_trace_rec_late_due(const struct vt_trace_rec *r,
			   const struct vt_trace_opts *o);
void vt_trace_rec_late(struct vt_trace_rec *r,
		       const struct vt_trace_rec_src *s);
/* Ends the tick; a full disk stops the file with one line, tracing goes
 * on. */
void vt_trace_rec_tick(struct vt_trace_rec *r,
		       const struct vt_trace_rec_src *s);
/* Closes the recording (a line when the file is incomplete), and the
 * history with it. */
void vt_trace_rec_stop(struct vt_trace_rec *r,
		       const struct vt_trace_rec_src *s);

#endif /* VT_TRACE_REC_H */
