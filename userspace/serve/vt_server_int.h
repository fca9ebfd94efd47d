/* vt_server internals: the connection layer the protocol modules
 * (vt_http1, vt_http2) and the SSE queues (vt_sse) share with the listener
 * (vt_server). Users of the server need only vt_server.h. */
#ifndef VT_SERVER_INT_H
#define VT_SERVER_INT_H

#include <sys/queue.h>

#include "serve/vt_server.h"
#include "serve/vt_tls.h"

#define VT_CONN_IN (16 * 1024)

struct vt_sse_buf {
	unsigned refs;
	struct vt_server *srv;
	size_t len;
	char data[];
};

struct vt_sse_sub {
	struct vt_sse_channel *ch;	/* NULL once detached */
	struct vt_conn *conn;
	void (*wake)(void *arg);
	void *arg;
	LIST_ENTRY(vt_sse_sub) ch_link, conn_link;
	struct vt_sse_buf **q;		/* ring of srv->opts.queue_max */
	unsigned head, len;
	size_t bytes;
	size_t off;			/* bytes of q[head] already read */
	bool needs_full;		/* skip deltas until a full state */
	uint64_t queued_ms;		/* last time anything was queued */
};

struct vt_sse_channel {
	struct vt_server *srv;
	LIST_ENTRY(vt_sse_channel) link;
	LIST_HEAD(, vt_sse_sub) subs;
	char *path, *full_event;
	vt_sse_full_fn full;
	void *ctx;
	uint64_t id;
	struct vt_sse_buf *cache;	/* full state at cache_id */
	uint64_t cache_id;
	/* the last events published, for Last-Event-ID: event id i is in
	 * backlog[i % VT_SSE_BACKLOG] while id - i < nbacklog */
	struct vt_sse_buf *backlog[VT_SSE_BACKLOG];
	unsigned nbacklog;
};

struct vt_conn {
	uv_tcp_t tcp;
	uv_shutdown_t shutdown;
	struct vt_server *srv;
	LIST_ENTRY(vt_conn) link;
	LIST_HEAD(, vt_sse_sub) subs;
	const struct vt_proto *proto;	/* NULL while sniffing */
	struct vt_tls_conn *tls;	/* NULL in cleartext */
	void *ps;
	unsigned inflight, queued;
	uint64_t active_ms, progress_ms, shut_ms;
	/* Response bytes the protocol holds for the client, and since when it
	 * has owed some without delivering any: resets and new requests do
	 * not move it, only delivery. */
	size_t held;
	uint64_t owed_ms;
	bool reading, eof, finishing, shutting, shut, closed;
	bool tls_shut;			/* close_notify queued, or not to be */
	char ip[48];			/* the client's address, its share's key */
	char local[48];			/* the address it connected to */
	char peer[64];
	size_t in_len;
	char in[VT_CONN_IN];
};

struct vt_server {
	uv_loop_t *loop;
	uv_tcp_t listener;
	uv_timer_t timer;
	struct vt_server_opts opts;
	vt_server_route_fn route;
	void *ctx;
	LIST_HEAD(, vt_conn) conns;
	struct vt_client *clients;	/* connections per client address */
	size_t held_peak;		/* most held since the last trim */
	char cookie[192];		/* Set-Cookie for a token from ?token= */
	size_t nclients;
	LIST_HEAD(, vt_sse_channel) channels;
	struct vt_sse_buf *retry, *keepalive;
	struct vt_server_stats stats;
	struct vt_tls *tls;		/* NULL in cleartext */
	char *tls_in;			/* ciphertext of the read under way */
	unsigned handles;		/* open libuv handles */
	bool closing;
	void (*done)(void *);
	void *done_arg;
	int port;
	char url[80];
};


struct vt_proto {
	void *(*open)(struct vt_conn *c);
	/* Bytes consumed; the rest is offered again after vt_conn_resume(). */
	size_t (*input)(void *st, const char *data, size_t len);
	void (*written)(void *st);	/* a write finished */
	void (*free)(void *st);		/* the connection is gone */
};

enum vt_reply { VT_REPLY_PLAIN, VT_REPLY_SSE };

/* ---- vt_http.c: a request's headers, admission and routing ---- */

/* The request headers the server looks at, kept by both protocols: each
 * value bounded; a value too long, or a header given twice (Cookie is
 * joined instead), reads "-", which matches nothing. */
enum { VT_H_LAST_ID, VT_H_HOST, VT_H_AUTH, VT_H_COOKIE, VT_H_KEPT };
#define VT_HDR_KEEP 256
struct vt_http_hdrs {
	char v[VT_H_KEPT][VT_HDR_KEEP];
	size_t len[VT_H_KEPT];
};
/* Which kept header a lower-case name is, or -1. */
int vt_http_hdrs_which(const char *name, size_t len);
/* Adds a piece of kept header `which`; `first` when it starts another
 * occurrence of the header rather than continuing one. */
void vt_http_hdrs_add(struct vt_http_hdrs *h, int which, const char *v,
		      size_t n, bool first);

/* Routes one request. VT_REPLY_PLAIN: *out is the response. VT_REPLY_SSE:
 * *out holds the stream's status and headers (send X-Accel-Buffering: no,
 * no length) and, if sub is not NULL (a GET, not a HEAD), *sub is the new
 * subscription whose queued data wake(arg) announces. hd holds the
 * request's Last-Event-ID, Host (or :authority) — a name that is not this
 * server's answers 421 (DNS rebinding) — and, with a token, its
 * Authorization and Cookie: a request without the token answers 401. */
enum vt_reply vt_http_dispatch(struct vt_conn *c, const char *target,
			       size_t target_len,
			       const struct vt_http_hdrs *hd,
			       void (*wake)(void *), void *arg,
			       struct vt_http_response *out,
			       struct vt_sse_sub **sub);

/* ---- vt_clients.c: the per-client shares of max_conns ---- */

/* The empty table of client addresses (2 * max_conns + 1 slots); false
 * when out of memory. srv->clients is freed with the server. */
bool vt_clients_init(struct vt_server *srv);
/* Counts a new connection in its address's share, first closing an idle
 * connection where the share or the server is full; false: refused. */
bool vt_clients_admit(struct vt_conn *c);
/* A connection of the share closes. */
void vt_clients_gone(struct vt_conn *c);

/* ---- vt_server.c: connections ---- */

/* Queues bufs; `own` is freed and `refs` released once written. Returns -1
 * (having released them) if the connection is closed or failing. */
int vt_conn_write(struct vt_conn *c, const uv_buf_t *bufs, unsigned n,
		  void *own, struct vt_sse_buf **refs, unsigned nrefs);
bool vt_conn_busy(const struct vt_conn *c);	/* a write in flight */
/* Before holding a response body of n bytes for the client: false when
 * that would pass the connection's or the server's cap (refuse it). */
bool vt_conn_hold(struct vt_conn *c, size_t n);
/* n held bytes are gone: delivered to the socket, or dropped (a reset
 * stream, a closed connection). */
void vt_conn_unhold(struct vt_conn *c, size_t n, bool delivered);
size_t vt_conn_unsent(const struct vt_conn *c);	/* bytes the socket refused */
void vt_conn_touch(struct vt_conn *c);		/* a request completed */
void vt_conn_resume(struct vt_conn *c);		/* take held-back input */
void vt_conn_finish(struct vt_conn *c);		/* close once output is sent */
void vt_conn_close(struct vt_conn *c);

/* The next whole event queued for a subscriber (the caller owns the
 * reference), or NULL. */
struct vt_sse_buf *vt_sse_sub_pop(struct vt_sse_sub *s);
/* Copies up to cap queued bytes, possibly ending mid-event. */
size_t vt_sse_sub_read(struct vt_sse_sub *s, uint8_t *dst, size_t cap);
void vt_sse_sub_free(struct vt_sse_sub *s);
const char *vt_sse_buf_data(const struct vt_sse_buf *b, size_t *len);
void vt_sse_buf_unref(struct vt_sse_buf *b);

/* Between vt_server.c and vt_sse.c. */
uint64_t vt_server__now_ms(const struct vt_server *srv);
/* Stall time counts from the moment a connection has output pending. */
void vt_conn__mark_busy(struct vt_conn *c);
struct vt_sse_buf *vt_sse__buf_from(struct vt_server *srv, const char *s);
/* A subscription: the events after Last-Event-ID last_id if the channel
 * still holds them, else a full state first. */
struct vt_sse_sub *vt_sse__sub_new(struct vt_sse_channel *ch,
				   struct vt_conn *c, const char *last_id,
				   void (*wake)(void *), void *arg);
/* Unlinks a subscription from its channel and connection, emptying it. */
void vt_sse__sub_detach(struct vt_sse_sub *s);
struct vt_sse_channel *vt_sse__find(struct vt_server *srv, const char *path);
/* ": keep-alive" to every subscriber quiet for keepalive_ms. */
void vt_sse__keepalive(struct vt_server *srv, uint64_t now);
void vt_sse__channel_free(struct vt_sse_channel *ch);

#endif /* VT_SERVER_INT_H */
