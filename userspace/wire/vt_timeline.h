/* vt_timeline: a trace's history for time travel — the recorded ticks of
 * the last minutes (a live session) or of a whole recording (replay),
 * kept in memory in the recording format, with what the dashboard's
 * timeline draws: slots in use per slab per tick, and the moments that
 * matter (each slab's peak, overflows, lost events, recording gaps, leak
 * suspects' acquires). Any tick's state is rebuilt from the keyframe
 * before it; a slot's history from the whole window. */
#ifndef VT_TIMELINE_H
#define VT_TIMELINE_H

#include <stddef.h>
#include <stdint.h>

#include "model/vt_state.h"
#include "wire/vt_rec.h"

struct vt_timeline;

/* keep_ms: history kept (older segments are dropped whole; never more
 * than 256 MiB); 0: all (up to that).
 * attach_ms: the session's attach time (vt_state_new's). */
struct vt_timeline *vt_timeline_new(uint64_t attach_ms, uint64_t keep_ms);
void vt_timeline_free(struct vt_timeline *tl);

/* One tick's records, whole (copied): [0, len), its last record the tick
 * or keyframe; keyframe_off is where a keyframe record starts in it, or
 * SIZE_MAX. s is the state after the tick, t its facts. 0, or -1 out of
 * memory (the tick is not kept). */
int vt_timeline_tick(struct vt_timeline *tl, const uint8_t *p, size_t len,
		     size_t keyframe_off, const struct vt_state *s,
		     const struct vt_rec_tick *t);
/* A recording gap before the next tick (replay of a file with one). */
void vt_timeline_gap(struct vt_timeline *tl, const struct vt_rec_gap *g);
/* Makes a timeline of a whole recording. NULL with a reason in err. */
struct vt_timeline *vt_timeline_of(const uint8_t *p, size_t len,
				   char *err, size_t errlen);

size_t vt_timeline_nticks(const struct vt_timeline *tl);
/* Changes whenever the ticks kept do (each tick appended): answers made
 * of the history hold while it stays. */
uint64_t vt_timeline_version(const struct vt_timeline *tl);

/* The state at wall time wall_ms: the last tick at or before it (the
 * first when it is earlier). *s stays the timeline's until the next call;
 * t gets the tick's facts. 0, or -1 when empty or unreadable. */
int vt_timeline_state_at(struct vt_timeline *tl, uint64_t wall_ms,
			 const struct vt_state **s, struct vt_rec_tick *t);

/* GET /api/history: {"live", "ticks":[wall ms...], "slabs":[{system,
 * name, total, used:[...]}], "marks":[{t, kind, ...}]}. leak_age_ms picks
 * the leak suspects. malloc'd JSON, or NULL out of memory. */
char *vt_timeline_json(struct vt_timeline *tl, bool live,
		       uint64_t leak_age_ms);
/* GET /api/history/slot: the slot's changes over the window, {"slot",
 * "changes":[{t, state, owner}]} (state "F" when released). NULL with a
 * reason in err when no such slab is in the history. */
char *vt_timeline_slot_json(struct vt_timeline *tl, int system,
			    const char *slab, uint64_t slot, char *err,
			    size_t errlen);

#endif /* VT_TIMELINE_H */
