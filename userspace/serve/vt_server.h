/* vt_server: HTTP/1.1 and HTTP/2 on the collector's libuv loop.
 *
 * One port serves both protocols (HTTP/2 recognised by its client
 * preface): in cleartext (HTTP/2 by prior knowledge), or with a
 * certificate over TLS only (HTTP/2 chosen by ALPN, see vt_tls.h). The server knows nothing of memory: plain routes are
 * answered by one callback, and SSE channels stream events the collector
 * publishes, already encoded. Everything runs on the loop's thread.
 *
 * Streaming contract: every subscriber first gets "retry: 1000", then a
 * full-state event, then the live stream; one that sends the Last-Event-ID
 * of an event the channel still holds (its last VT_SSE_BACKLOG) gets the
 * events after that one instead of the full state. A subscriber that falls behind
 * (its bounded queue overflows) drops what it has queued and skips to a
 * fresh full state, so it never receives a delta relative to an event it
 * did not get. A client whose socket accepts nothing for stall_ms is
 * dropped. */
#ifndef VT_SERVER_H
#define VT_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

struct vt_server;
struct vt_sse_channel;

#define VT_SSE_BACKLOG 32	/* events a channel keeps for resuming */

struct vt_http_response {
	int status;
	const char *content_type;
	char *body;			/* malloc'd; the server frees it */
	size_t len;
	const char *cache_control;	/* NULL: no Cache-Control header */
	const char *set_cookie;		/* NULL: no Set-Cookie header */
	unsigned retry_after;		/* s: a Retry-After header; 0: none */
};

/* Answers a GET or HEAD (the server rejects other methods itself). `out`
 * arrives as a 404 text/plain response with no body; a route sets what it
 * serves. A status >= 400 left without a body gets a one-line text body.
 * path and query are raw (not percent-decoded); query is "" if absent. */
typedef void (*vt_server_route_fn)(void *ctx, const char *path,
				   const char *query,
				   struct vt_http_response *out);

/* Fills *out with `status` and a one-line text body. */
void vt_http_error(struct vt_http_response *out, int status);
const char *vt_http_reason(int status);

/* The DATA of a full-state event for a channel, as of the last event
 * published on it (malloc'd, the server frees it), or NULL if there is no
 * state yet. Results are cached until the next publish. */
typedef char *(*vt_sse_full_fn)(void *ctx, size_t *len);

/* Zero fields take the default shown. */
struct vt_server_opts {
	unsigned idle_ms;	/* close a connection with nothing to do (10 s) */
	unsigned stall_ms;	/* drop a client that accepts no bytes (30 s) */
	unsigned keepalive_ms;	/* ": keep-alive" on a quiet stream (15 s) */
	unsigned queue_max;	/* events queued per subscriber (64) */
	size_t queue_bytes;	/* bytes queued per subscriber (8 MiB) */
	unsigned max_conns;	/* open connections (1024): when full, the oldest
				 * idle one of the largest holder makes room,
				 * else a new one is refused */
	unsigned per_client;	/* of them from one client address (half) */
	size_t held_max;	/* response bytes held, all connections (16 MiB) */
	size_t conn_held_max;	/* response bytes held by one connection (1 MiB) */
	/* Host names answered besides localhost and the address a client
	 * reached, comma-separated (NULL: none). */
	const char *allow_hosts;
	/* When set, every request must carry it: "Authorization: Bearer T",
	 * the vt_token cookie, or ?token=T (which sets the cookie). */
	const char *token;
	/* PEM certificate (chain) and its private key: serve HTTPS only
	 * (NULL: cleartext). Read when the server starts. */
	const char *tls_cert, *tls_key;
};

struct vt_server_stats {
	uint64_t conns;		/* open connections */
	uint64_t streams;	/* open SSE subscriptions */
	uint64_t event_bytes;	/* bytes of encoded events held in memory */
	uint64_t event_bytes_hwm;
	uint64_t queue_hwm;	/* most events ever queued for one subscriber */
	uint64_t resyncs;	/* subscribers that skipped to a full state */
	uint64_t stalled;	/* connections dropped for making no progress */
	uint64_t refused;	/* connections refused over max_conns */
	uint64_t refused_share;	/* refused over a client's per_client share */
	uint64_t evicted;	/* idle connections closed to admit another */
	uint64_t idled;		/* connections closed at the idle limit */
	uint64_t held;		/* response bytes held for clients */
	uint64_t held_refused;	/* responses refused over held_max */
	uint64_t tls_failed;	/* TLS sessions ended by an error: bad
				 * records, no common protocol, plain HTTP */
};

/* Listens on "IP:PORT" ("[::1]:PORT" for IPv6; port 0 picks a free one).
 * On failure writes a one-line reason to err and returns a negative libuv
 * error; resources are released by the loop's next iteration. */
int vt_server_start(uv_loop_t *loop, const char *listen,
		    const struct vt_server_opts *opts, vt_server_route_fn route,
		    void *ctx, struct vt_server **out, char *err,
		    size_t errlen);

/* "http://127.0.0.1:7070/" (https with TLS) with the bound port. */
const char *vt_server_url(const struct vt_server *srv);
int vt_server_port(const struct vt_server *srv);

/* An SSE route at `path` (query ignored). Full-state events are named
 * `full_event`. NULL on allocation failure. Channels live as long as the
 * server. */
struct vt_sse_channel *vt_server_channel(struct vt_server *srv,
					 const char *path,
					 const char *full_event,
					 vt_sse_full_fn full, void *ctx);

/* Sends "event: EVENT\nid: N\ndata: DATA\n\n" to every subscriber, formatted
 * once into a buffer they share; line breaks in DATA become further data:
 * lines. is_full marks a full state (a resyncing subscriber may start at
 * it). Returns the event's id N, one more than the last. */
uint64_t vt_sse_publish(struct vt_sse_channel *ch, const char *event,
			const char *data, size_t len, bool is_full);

void vt_server_stats(const struct vt_server *srv, struct vt_server_stats *out);

/* Closes the listener and every connection; done(arg) runs once all handles
 * are closed and the server is freed. */
void vt_server_close(struct vt_server *srv, void (*done)(void *), void *arg);

#endif /* VT_SERVER_H */
