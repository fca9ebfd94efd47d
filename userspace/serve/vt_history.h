/* vt_history: the time-travel routes over a trace's history — the
 * dashboard's timeline (/api/history), the state at an instant
 * (/api/diagnostics/memory?at=MS) and one slot's changes
 * (/api/history/slot?system=S&slab=NAME&slot=N).
 *
 * A slot's changes are a scan of the history on the collector's loop (up
 * to ~75 ms): scans start at most 10 times a second and take at most a
 * quarter of the loop's time, all clients together; a request beyond
 * that gets 429 with Retry-After. The last answers are kept while the
 * history stays the same: the same slot asked again is answered from
 * them, whatever the limit. */
#ifndef VT_HISTORY_H
#define VT_HISTORY_H

#include <stdbool.h>

#include "serve/vt_server.h"
#include "wire/vt_timeline.h"
#include "wire/vt_wire.h"

/* Answers path if it is a history route: 1 (out filled), else 0. m is
 * the session's meta (its clocks are replaced by the instant's); live:
 * the history follows a live trace (the dashboard offers "live"). */
struct vt_history_slots;	/* the slot route's answers and limit */

struct vt_history_slots *vt_history_slots_new(void);
/* Drops the answers kept (another history is served). */
void vt_history_slots_forget(struct vt_history_slots *sl);
void vt_history_slots_free(struct vt_history_slots *sl);

int vt_history_route(struct vt_timeline *tl, struct vt_history_slots *sl,
		     bool live, const char *path, const char *query,
		     const struct vt_wire_meta *m,
		     struct vt_http_response *out);

#endif /* VT_HISTORY_H */
