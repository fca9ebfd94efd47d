#include "serve/vt_routes.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serve/vt_history.h"
#include "serve/vt_server.h"
#include "serve/vt_web.h"

struct vt_routes {
	struct vt_server *srv;
	struct vt_sse_channel *mem, *valk;
	const struct vt_state *st;
	vt_routes_meta_fn meta;
	void *ctx;
	struct vt_wire_delta *delta;	/* what the valk stream has sent */
	struct vt_wire_mdelta *mdelta;	/* what the memory stream has sent */
	uint64_t mem_id;
	struct vt_timeline *history;	/* time travel, or NULL */
	struct vt_history_slots *slots;	/* its slot answers and limit */
	bool history_live;
	bool pushed;			/* the streams have a state */
	char unhealthy[256];
	void (*done)(void *);
	void *done_arg;
};

static void meta(struct vt_routes *r, struct vt_wire_meta *m)
{
	r->meta(r->ctx, m);
}

static void reply(struct vt_http_response *out, int status,
		  const char *type, char *body)
{
	if (!body) {
		vt_http_error(out, 500);
		return;
	}
	out->status = status;
	out->content_type = type;
	out->body = body;
	out->len = strlen(body);
	out->cache_control = "no-cache";
}

static void route_asset(const struct vt_web_asset *a,
			struct vt_http_response *out)
{
	char *body = malloc(a->len);

	if (!body) {
		vt_http_error(out, 500);
		return;
	}
	memcpy(body, a->data, a->len);
	out->status = 200;
	out->content_type = a->content_type;
	out->body = body;
	out->len = a->len;
	out->cache_control = "no-cache";
}

static void route_buckets(struct vt_routes *r, const char *query,
			  struct vt_http_response *out)
{
	struct vt_wire_buckets_req req;
	char err[256];
	char *doc = NULL;

	if (vt_wire_buckets_parse(query, &req, err, sizeof(err)) == 0)
		doc = vt_wire_buckets(r->st, &req, err, sizeof(err));
	if (doc) {
		reply(out, 200, "application/json", doc);
		return;
	}
	strcat(err, "\n");
	reply(out, 400, "text/plain; charset=utf-8", strdup(err));
}

/* The target's figures and the tracer's, its own server's included. */
static void route_metrics(struct vt_routes *r, struct vt_wire_meta *m,
			  struct vt_http_response *out)
{
	struct vt_server_stats st;
	struct vt_wire_serving sv;

	vt_server_stats(r->srv, &st);
	sv = (struct vt_wire_serving){
		.conns = st.conns, .streams = st.streams, .idled = st.idled,
		.stalled = st.stalled, .evicted = st.evicted,
		.refused = st.refused, .refused_share = st.refused_share,
		.tls_failed = st.tls_failed,
	};
	m->serving = &sv;
	reply(out, 200, "text/plain; version=0.0.4; charset=utf-8",
	      vt_wire_prometheus(r->st, m));
}

static void route(void *ctx, const char *path, const char *query,
		  struct vt_http_response *out)
{
	struct vt_routes *r = ctx;
	const struct vt_web_asset *a = vt_web_find(path);
	struct vt_wire_meta m;

	if (a) {
		route_asset(a, out);
		return;
	}
	meta(r, &m);
	if (r->history && vt_history_route(r->history, r->slots,
					   r->history_live, path, query, &m,
					   out))
		return;
	if (!strcmp(path, "/api/diagnostics/memory"))
		reply(out, 200, "application/json",
		      vt_wire_memory(r->st, &m, r->mem_id));
	else if (!strcmp(path, "/debug/metrics/state")) {
		reply(out, 200, "application/json",
		      vt_wire_valk_full(r->st, &m, NULL));
		out->cache_control = "no-cache, no-store, must-revalidate";
	} else if (!strcmp(path, "/metrics"))
		route_metrics(r, &m, out);
	else if (!strcmp(path, "/debug/slab/buckets"))
		route_buckets(r, query, out);
	else if (!strcmp(path, "/healthz"))
		reply(out, *r->unhealthy ? 503 : 200,
		      "text/plain; charset=utf-8",
		      strdup(*r->unhealthy ? r->unhealthy : "ok\n"));
}

/* Full states for new, resuming and lagging subscribers: the state as of
 * the last tick, which is the state now (it only changes in ticks). */
static char *full_doc(struct vt_routes *r, bool valk, size_t *len)
{
	struct vt_wire_meta m;
	char *doc;

	if (!r->pushed)
		return NULL;
	meta(r, &m);
	doc = valk ? vt_wire_valk_full(r->st, &m, NULL)
		   : vt_wire_memory(r->st, &m, r->mem_id);
	*len = doc ? strlen(doc) : 0;
	return doc;
}

static char *full_memory(void *ctx, size_t *len)
{
	return full_doc(ctx, false, len);
}

static char *full_valk(void *ctx, size_t *len)
{
	return full_doc(ctx, true, len);
}

int vt_routes_start(uv_loop_t *loop, const char *listen,
		    const struct vt_server_opts *opts, const struct vt_state *st,
		    vt_routes_meta_fn meta_fn, void *ctx,
		    struct vt_routes **out, char *err, size_t errlen)
{
	struct vt_routes *r = calloc(1, sizeof(*r));

	if (!r || !(r->delta = vt_wire_delta_new()) ||
	    !(r->mdelta = vt_wire_mdelta_new()) ||
	    !(r->slots = vt_history_slots_new())) {
		if (r) {
			vt_wire_delta_free(r->delta);
			vt_wire_mdelta_free(r->mdelta);
		}
		free(r);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	r->st = st;
	r->meta = meta_fn;
	r->ctx = ctx;
	if (vt_server_start(loop, listen, opts, route, r, &r->srv, err,
			    errlen) < 0) {
		vt_wire_delta_free(r->delta);
		vt_wire_mdelta_free(r->mdelta);
		vt_history_slots_free(r->slots);
		free(r);
		return -1;
	}
	r->mem = vt_server_channel(r->srv, "/api/diagnostics/memory/stream",
				   "memory", full_memory, r);
	r->valk = vt_server_channel(r->srv, "/debug/diagnostics/memory",
				    "diagnostics", full_valk, r);
	*out = r;
	return 0;
}

const char *vt_routes_url(const struct vt_routes *r)
{
	return vt_server_url(r->srv);
}

/* Returns the event's id (the channel's last one if nothing went out). */
static uint64_t publish(struct vt_sse_channel *ch, const char *event,
			char *doc, bool full, uint64_t last)
{
	if (doc)
		last = vt_sse_publish(ch, event, doc, strlen(doc), full);
	free(doc);
	return last;
}

/* One event per tick on each stream, changed or not: counters, rates and
 * the tracer's figures move every tick, and a dashboard must never look
 * frozen while the target lives. Per-slot parts are encoded only where
 * they changed. */
void vt_routes_tick(struct vt_routes *r, uint64_t now_ms)
{
	struct vt_wire_meta m;
	bool full = false;
	char *doc;

	(void)now_ms;
	meta(r, &m);
	/* ids are the channel's: the delta names the event it follows */
	doc = vt_wire_memory_delta(r->st, &m, r->mdelta, r->mem_id + 1,
				   r->mem_id, &full);
	r->mem_id = publish(r->mem, full ? "memory" : "memory-delta", doc,
			    full, r->mem_id);
	doc = r->pushed ? vt_wire_valk_delta(r->st, &m, r->delta, &full)
			: vt_wire_valk_full(r->st, &m, r->delta);
	full = full || !r->pushed;
	publish(r->valk, full ? "diagnostics" : "diagnostics-delta", doc, full,
		0);
	r->pushed = true;
}

void vt_routes_set_state(struct vt_routes *r, const struct vt_state *st)
{
	r->st = st;
	r->pushed = false;	/* a full state first, in both dialects */
}

void vt_routes_set_history(struct vt_routes *r, struct vt_timeline *tl,
			   bool live)
{
	r->history = tl;
	r->history_live = live;
	vt_history_slots_forget(r->slots);
}

void vt_routes_set_unhealthy(struct vt_routes *r, const char *reason)
{
	if (reason)
		snprintf(r->unhealthy, sizeof(r->unhealthy), "%s\n", reason);
	else
		r->unhealthy[0] = '\0';
}

static void on_server_closed(void *arg)
{
	struct vt_routes *r = arg;

	vt_wire_delta_free(r->delta);
	vt_wire_mdelta_free(r->mdelta);
	vt_history_slots_free(r->slots);
	if (r->done)
		r->done(r->done_arg);
	free(r);
}

void vt_routes_close(struct vt_routes *r, void (*done)(void *), void *arg)
{
	r->done = done;
	r->done_arg = arg;
	vt_server_close(r->srv, on_server_closed, r);
}
