/* vt_routes: the collector's HTTP face — every route of the wire contract
 * over vt_server, fed from the state model once per tick. */
#ifndef VT_ROUTES_H
#define VT_ROUTES_H

#include <stddef.h>
#include <uv.h>

#include "model/vt_state.h"
#include "serve/vt_server.h"
#include "wire/vt_timeline.h"
#include "wire/vt_wire.h"

struct vt_routes;

/* Fills the target/clock facts the encoders need. */
typedef void (*vt_routes_meta_fn)(void *ctx, struct vt_wire_meta *m);

/* Starts serving on `listen` ("127.0.0.1:7070") with the server's opts
 * (NULL: defaults; allow_hosts and token are what callers set). 0, or -1
 * with a one-line reason in err. */
int vt_routes_start(uv_loop_t *loop, const char *listen,
		    const struct vt_server_opts *opts,
		    const struct vt_state *st, vt_routes_meta_fn meta,
		    void *ctx, struct vt_routes **out, char *err,
		    size_t errlen);
const char *vt_routes_url(const struct vt_routes *r);

/* Once per tick, after the state is current: encodes one event per stream
 * (memory: a full state first, then memory-delta; valk: diagnostics, then
 * diagnostics-delta) and hands it to every subscriber. */
void vt_routes_tick(struct vt_routes *r, uint64_t now_ms);

/* Serves st from now on (a new target's state): every stream gets a
 * full state at the next tick. */
void vt_routes_set_state(struct vt_routes *r, const struct vt_state *st);

/* Time travel over tl (the session keeps it; NULL: none): the routes of
 * vt_history.h. live: it follows a live trace. */
void vt_routes_set_history(struct vt_routes *r, struct vt_timeline *tl,
			   bool live);

/* /healthz answers 503 with this one-line reason from now on (NULL: 200
 * ok). */
void vt_routes_set_unhealthy(struct vt_routes *r, const char *reason);

/* Closes the server; done(arg) runs when every handle is closed. */
void vt_routes_close(struct vt_routes *r, void (*done)(void *), void *arg);

#endif /* VT_ROUTES_H */
