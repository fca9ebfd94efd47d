/* vt_history: the time-travel routes over a trace's history — the
 * dashboard's timeline (/api/history), the state at an instant
 * (/api/diagnostics/memory?at=MS) and one slot's changes
 * (/api/history/slot?system=S&slab=NAME&slot=N). */
#ifndef VT_HISTORY_H
#define VT_HISTORY_H

#include <stdbool.h>

#include "serve/vt_server.h"
#include "wire/vt_timeline.h"
#include "wire/vt_wire.h"

/* Answers path if it is a history route: 1 (out filled), else 0. m is
 * the session's meta (its clocks are replaced by the instant's); live:
 * the history follows a live trace (the dashboard offers "live"). */
int vt_history_route(struct vt_timeline *tl, bool live, const char *path,
		     const char *query, const struct vt_wire_meta *m,
		     struct vt_http_response *out);

#endif /* VT_HISTORY_H */
