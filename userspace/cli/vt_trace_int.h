/* vt_trace_int: the insides of a tracing session, shared by the files
 * that make it up (vt_trace.c, vt_trace_follow.c); nothing else includes
 * this. */
#ifndef VT_TRACE_INT_H
#define VT_TRACE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "cli/vt_budget.h"
#include "cli/vt_drain.h"
#include "cli/vt_sites.h"
#include "cli/vt_trace.h"
#include "cli/vt_trace_rec.h"
#include "target/vt_layout.h"
#include "target/vt_snap.h"
#include "target/vt_target.h"
#include "wire/vt_wire.h"

struct vt_trace {
	struct vt_trace_opts *o;
	char token[VT_TRACE_TOKEN_LEN];		/* made up when serving beyond loopback */
	uv_timer_t tick;
	struct vt_drain drain;	/* the ring between ticks */
	bool early;		/* draining into drain's queue */
	uint64_t ring_events;	/* events the ring gave, in all */
	struct vt_target target;	/* valid once mapped */
	struct vt_mem mem;		/* its memory, open once mapped */
	struct vt_layout layout;
	struct vt_probe *probe;
	struct vt_sites sites;	/* where each probe went */
	struct vt_wire_site wsites[VT_P_COUNT];
	struct vt_budget budget;	/* hybrid: the probes' cost */
	struct vt_wire_overhead overhead;
	bool budgeted;
	struct vt_snap *snap;
	struct vt_figures_reader *figures;
	struct vt_state *state;
	struct vt_routes *routes;	/* HTTP, when serving */
	struct vt_trace_rec rec;	/* recording and history */
	struct vt_wire_meta meta;	/* as of the last tick */
	uint64_t report_start_ms;	/* what a report counts from */
	uint64_t systems[VT_SNAP_MAX_SYSTEMS];
	size_t nsystems;
	bool rescan;		/* an AIO system started: look for it */
	uint64_t last_reconcile_ms;
	/* hybrid: when slabs were last read whole, and the ring's losses and
	 * the model's ignored events then */
	uint64_t full_ms, full_lost, full_ignored;
	uint64_t lost, lost_ms;	/* ring losses so far, when the last was seen */
	uint64_t start_ms;
	uint64_t seq;
	struct vt_arena *arenas;
	struct vt_report *report;	/* when asked for */
	struct vt_stacks *stacks;	/* the report's acquire stacks */
	bool ustacks;		/* stacks are copied and unwound with DWARF */
	bool mapped;		/* the runtime is in the process's memory */
	uint64_t holds;		/* the probes' holds handled (run) */
	int exit_code;
	bool stopping;
	bool attached;		/* a target is traced (--follow waits unattached) */
	int closing;		/* handles still closing before the free */
	void (*on_stop)(struct vt_trace *t);	/* it ended by itself */
	void *on_stop_ctx;
	char err[512];
	char said[512];		/* the last --follow attach error said */
};

#define say(t, ...) vt_trace_say((t)->o->quiet, __VA_ARGS__)

/* Probes on, layout loaded, memory read (once mapped): 0, or -1 with the
 * reason in t->err. */
int vt_trace_attach(struct vt_trace *t);
/* The memory readers of a mapped target, its memory opened: 0, or -1
 * with the reason in t->err. */
int vt_trace_open_snap(struct vt_trace *t);
/* One tick's work: events, memory reads, counters, the report. */
void vt_trace_refresh(struct vt_trace *t, uint64_t now);
/* Closes the recording and the history (the target is dropped). */
void vt_trace_record_stop(struct vt_trace *t);
void vt_trace_say_attached(struct vt_trace *t);

#endif /* VT_TRACE_INT_H */
