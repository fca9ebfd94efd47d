/* vt_record: a tracing session's recording. What the state model is fed
 * each tick is encoded once (wire/vt_rec.h) and goes to a file (--record,
 * `valk-trace record`) and/or to the last minutes kept in memory
 * (--history) for the dashboard's time travel. A keyframe — the whole
 * state — starts the recording, follows every keyframe interval and every
 * gap, so any instant is one interval of replay away. */
#ifndef VT_RECORD_H
#define VT_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "model/vt_state.h"
#include "wire/vt_rec.h"
#include "wire/vt_timeline.h"

struct vt_files;

struct vt_record_opts {
	const char *path;	/* the recording's file, or NULL */
	const struct vt_files *files;	/* who makes it (vt_file.h) */
	uint64_t history_ms;	/* kept in memory; 0: none */
	uint64_t keyframe_ms;	/* keyframe interval */
	size_t queue_bytes;	/* the file writer's queue */
};

struct vt_record;

/* Starts recording with the header and the state as it is now (a
 * keyframe). 0, or -1 with a one-line reason. */
int vt_record_open(const struct vt_record_opts *o, const char *header_json,
		   const struct vt_state *s, const struct vt_rec_tick *now,
		   struct vt_record **out, char *err, size_t errlen);

/* What the model was fed, in the order it was fed. */
void vt_record_event(struct vt_record *r, const struct vt_event *ev);
void vt_record_slab(struct vt_record *r, const struct vt_slab *sl);
void vt_record_typed(struct vt_record *r, const struct vt_rec_typed *t,
		     size_t n);
void vt_record_system(struct vt_record *r, int idx, uint64_t addr);
void vt_record_owner(struct vt_record *r, int system, unsigned idx,
		     const char *name);
void vt_record_arenas(struct vt_record *r, const struct vt_arena *a,
		      size_t n);
void vt_record_gc(struct vt_record *r, const struct vt_gc *gc);
/* An acquire stack for the file (the history has no use for it), written
 * before the next tick that reaches the file. */
void vt_record_stack(struct vt_record *r, const struct vt_rec_stack *st);

/* Ends a tick: its records go to the file and the history. Returns a
 * one-line message when the file just stopped (full disk) or a gap was
 * written, else NULL. */
const char *vt_record_tick(struct vt_record *r, const struct vt_state *s,
			   const struct vt_rec_tick *t);

/* The history kept in memory (--history), or NULL. */
struct vt_timeline *vt_record_history(const struct vt_record *r);

/* Writes the end record, flushes and closes the file. When the queue
 * dropped the last ticks, their gap and a keyframe of s at t are written
 * first, so a file always ends in the final state. 0, or -1 when the file
 * could not be written completely. */
int vt_record_close(struct vt_record *r, const struct vt_state *s,
		    const struct vt_rec_tick *t);

#endif /* VT_RECORD_H */
