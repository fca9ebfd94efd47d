/* vt_trace_follow: a session that goes from process to process — with
 * --follow NAME, the newest valk process of the name, then the next once
 * it ends; under `run`, each process of the tree, held before its exec,
 * read once it has mapped its runtime and at each of the probes' holds. */
#ifndef VT_TRACE_FOLLOW_H
#define VT_TRACE_FOLLOW_H

#include <stdbool.h>

struct vt_trace;

/* --follow at the start: attached to the newest process of the name, or
 * said that it waits for one. */
void vt_trace_follow_start(struct vt_trace *t);
/* --follow, unattached: attaches to the newest valk process of the name
 * once there is one that can be traced (a runtime just started may not
 * have its AIO system yet: tried again next tick, the reason said once). */
void vt_trace_follow_try(struct vt_trace *t);
/* --follow: the target is gone; what it left is dropped, and the server
 * stays up, with an empty state and /healthz 503, until the next one. */
void vt_trace_follow_detach(struct vt_trace *t);
/* A process held before its exec maps the runtime later: 0 once it has
 * (its memory can be read), -1 until then (nothing to read, no event in
 * the ring). */
int vt_trace_follow_mapped(struct vt_trace *t);
/* run: a thread stopped by SIGSTOP; true when it was one of the probes'
 * holds (the stop is not passed on), handled: memory read while held. */
bool vt_trace_follow_held(struct vt_trace *t);

#endif /* VT_TRACE_FOLLOW_H */
