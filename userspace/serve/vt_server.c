/* vt_server: listener, connections, SSE channels and subscriber queues.
 *
 * Each accepted connection is sniffed for the HTTP/2 client preface and
 * handed to vt_http1 or vt_http2, which turn requests into
 * vt_server_dispatch() calls and write answers through vt_conn_write().
 * A published event is formatted once into a refcounted buffer; each
 * subscriber's bounded ring queue holds references to it. One repeating
 * timer enforces the idle, stall and keep-alive deadlines. */
#include <arpa/inet.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include "serve/vt_server.h"
#include "serve/vt_http1.h"
#include "serve/vt_http2.h"

#define VT_H2_PREFACE "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
#define VT_H2_PREFACE_LEN 24
#define VT_CONN_IN (16 * 1024)
#define VT_LINGER_MS 1000	/* wait for the peer's FIN after ours */

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
};

struct vt_conn {
	uv_tcp_t tcp;
	uv_shutdown_t shutdown;
	struct vt_server *srv;
	LIST_ENTRY(vt_conn) link;
	LIST_HEAD(, vt_sse_sub) subs;
	const struct vt_proto *proto;	/* NULL while sniffing */
	void *ps;
	unsigned inflight, queued;
	uint64_t active_ms, progress_ms, shut_ms;
	bool reading, eof, finishing, shutting, shut, closed;
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
	LIST_HEAD(, vt_sse_channel) channels;
	struct vt_sse_buf *retry, *keepalive;
	struct vt_server_stats stats;
	unsigned handles;		/* open libuv handles */
	bool closing;
	void (*done)(void *);
	void *done_arg;
	int port;
	char url[80];
};

struct vt_wreq {
	uv_write_t req;
	void *own;
	unsigned nrefs;
	struct vt_sse_buf *refs[];
};

static uint64_t now_ms(const struct vt_server *srv)
{
	return uv_now(srv->loop);
}

/* ---- shared event buffers ---- */

static struct vt_sse_buf *buf_new(struct vt_server *srv, size_t len)
{
	struct vt_sse_buf *b = malloc(sizeof(*b) + len + 1);

	if (!b)
		return NULL;
	b->refs = 1;
	b->srv = srv;
	b->len = len;
	srv->stats.event_bytes += len;
	if (srv->stats.event_bytes > srv->stats.event_bytes_hwm)
		srv->stats.event_bytes_hwm = srv->stats.event_bytes;
	return b;
}

static struct vt_sse_buf *buf_ref(struct vt_sse_buf *b)
{
	b->refs++;
	return b;
}

void vt_sse_buf_unref(struct vt_sse_buf *b)
{
	if (!b || --b->refs)
		return;
	b->srv->stats.event_bytes -= b->len;
	free(b);
}

const char *vt_sse_buf_data(const struct vt_sse_buf *b, size_t *len)
{
	*len = b->len;
	return b->data;
}

static struct vt_sse_buf *buf_from(struct vt_server *srv, const char *s)
{
	struct vt_sse_buf *b = buf_new(srv, strlen(s));

	if (b)
		memcpy(b->data, s, b->len + 1);
	return b;
}

/* Copies SSE data to dst (when not NULL) with each line break (CRLF, CR
 * or LF) starting a new data: line; returns the length written. */
static size_t put_data(char *dst, const char *d, size_t n)
{
	static const char cont[] = "\ndata: ";
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		if (d[i] == '\r' && i + 1 < n && d[i + 1] == '\n')
			continue;
		if (d[i] == '\r' || d[i] == '\n') {
			if (dst)
				memcpy(dst + k, cont, sizeof(cont) - 1);
			k += sizeof(cont) - 1;
		} else {
			if (dst)
				dst[k] = d[i];
			k++;
		}
	}
	return k;
}

static struct vt_sse_buf *format_event(struct vt_server *srv, uint64_t id,
				       const char *event, const char *data,
				       size_t len)
{
	char head[160];
	int hn = snprintf(head, sizeof(head), "event: %s\nid: %" PRIu64 "\ndata: ",
			  event, id);
	struct vt_sse_buf *b;
	size_t dn;

	if (hn < 0 || (size_t)hn >= sizeof(head))
		return NULL;
	dn = put_data(NULL, data, len);
	b = buf_new(srv, hn + dn + 2);
	if (!b)
		return NULL;
	memcpy(b->data, head, hn);
	put_data(b->data + hn, data, len);
	memcpy(b->data + hn + dn, "\n\n", 3);
	return b;
}

/* The channel's full state as of its current id, built at most once per id. */
static struct vt_sse_buf *channel_full(struct vt_sse_channel *ch)
{
	struct vt_sse_buf *b;
	size_t len = 0;
	char *data;

	if (ch->cache && ch->cache_id == ch->id)
		return buf_ref(ch->cache);
	data = ch->full(ch->ctx, &len);
	if (!data)
		return NULL;
	b = format_event(ch->srv, ch->id, ch->full_event, data, len);
	free(data);
	if (!b)
		return NULL;
	vt_sse_buf_unref(ch->cache);
	ch->cache = buf_ref(b);
	ch->cache_id = ch->id;
	return b;
}

/* ---- subscriber queues ---- */

/* Stall time counts from the moment a connection has output pending. */
static void conn_mark_busy(struct vt_conn *c)
{
	if (!c->inflight && !c->queued)
		c->progress_ms = now_ms(c->srv);
}

static void sub_push(struct vt_sse_sub *s, struct vt_sse_buf *b)
{
	struct vt_server *srv = s->conn->srv;

	conn_mark_busy(s->conn);
	s->q[(s->head + s->len) % srv->opts.queue_max] = buf_ref(b);
	s->len++;
	s->bytes += b->len;
	s->conn->queued++;
	s->queued_ms = now_ms(srv);
	if (s->len > srv->stats.queue_hwm)
		srv->stats.queue_hwm = s->len;
}

static struct vt_sse_buf *sub_shift(struct vt_sse_sub *s)
{
	struct vt_sse_buf *b = s->q[s->head];

	s->head = (s->head + 1) % s->conn->srv->opts.queue_max;
	s->len--;
	s->bytes -= b->len;
	s->conn->queued--;
	s->off = 0;
	return b;
}

/* Empties the queue but for an event already partly read: cutting that
 * one short would corrupt the stream. */
static void sub_drop(struct vt_sse_sub *s)
{
	unsigned keep = s->len && s->off ? 1 : 0;

	while (s->len > keep) {
		unsigned tail = (s->head + s->len - 1) % s->conn->srv->opts.queue_max;

		s->len--;
		s->bytes -= s->q[tail]->len;
		s->conn->queued--;
		vt_sse_buf_unref(s->q[tail]);
	}
}

static void sub_fill(struct vt_sse_sub *s)
{
	struct vt_sse_buf *b;

	if (s->len || !s->needs_full || !s->ch)
		return;
	b = channel_full(s->ch);
	if (!b)
		return;
	s->needs_full = false;
	sub_push(s, b);
	vt_sse_buf_unref(b);
}

static void sub_offer(struct vt_sse_sub *s, struct vt_sse_buf *b, bool is_full)
{
	const struct vt_server_opts *o = &s->conn->srv->opts;

	if (!s->ch)	/* its connection closed during this publish */
		return;
	if (!is_full && s->needs_full) {
		if (!s->len)	/* the transport may take a full state now */
			s->wake(s->arg);
		return;
	}
	if (s->len >= o->queue_max || (s->len && s->bytes + b->len > o->queue_bytes)) {
		sub_drop(s);
		s->needs_full = true;
		s->conn->srv->stats.resyncs++;
		if (!is_full) {
			s->wake(s->arg);
			return;
		}
	}
	s->needs_full = false;
	sub_push(s, b);
	s->wake(s->arg);
}

static void sub_detach(struct vt_sse_sub *s)
{
	if (!s->ch)
		return;
	while (s->len)
		vt_sse_buf_unref(sub_shift(s));
	LIST_REMOVE(s, ch_link);
	LIST_REMOVE(s, conn_link);
	s->conn->srv->stats.streams--;
	s->ch = NULL;
}

void vt_sse_sub_free(struct vt_sse_sub *s)
{
	if (!s)
		return;
	sub_detach(s);
	free(s->q);
	free(s);
}

struct vt_sse_buf *vt_sse_sub_pop(struct vt_sse_sub *s)
{
	sub_fill(s);
	return s->len ? sub_shift(s) : NULL;
}

size_t vt_sse_sub_read(struct vt_sse_sub *s, uint8_t *dst, size_t cap)
{
	size_t n = 0;

	for (sub_fill(s); s->len && n < cap; sub_fill(s)) {
		struct vt_sse_buf *b = s->q[s->head];
		size_t k = b->len - s->off;

		if (k > cap - n)
			k = cap - n;
		memcpy(dst + n, b->data + s->off, k);
		n += k;
		s->off += k;
		if (s->off == b->len)
			vt_sse_buf_unref(sub_shift(s));
	}
	return n;
}

static struct vt_sse_sub *sub_new(struct vt_sse_channel *ch, struct vt_conn *c,
				  void (*wake)(void *), void *arg)
{
	struct vt_server *srv = ch->srv;
	struct vt_sse_sub *s = calloc(1, sizeof(*s));

	if (!s || !(s->q = calloc(srv->opts.queue_max, sizeof(*s->q)))) {
		free(s);
		return NULL;
	}
	s->ch = ch;
	s->conn = c;
	s->wake = wake;
	s->arg = arg;
	s->needs_full = true;
	LIST_INSERT_HEAD(&ch->subs, s, ch_link);
	LIST_INSERT_HEAD(&c->subs, s, conn_link);
	srv->stats.streams++;
	sub_push(s, srv->retry);
	return s;
}

/* ---- channels ---- */

struct vt_sse_channel *vt_server_channel(struct vt_server *srv,
					 const char *path,
					 const char *full_event,
					 vt_sse_full_fn full, void *ctx)
{
	struct vt_sse_channel *ch = calloc(1, sizeof(*ch));

	if (!ch)
		return NULL;
	ch->path = strdup(path);
	ch->full_event = strdup(full_event);
	if (!ch->path || !ch->full_event) {
		free(ch->path);
		free(ch->full_event);
		free(ch);
		return NULL;
	}
	ch->srv = srv;
	ch->full = full;
	ch->ctx = ctx;
	LIST_INIT(&ch->subs);
	LIST_INSERT_HEAD(&srv->channels, ch, link);
	return ch;
}

uint64_t vt_sse_publish(struct vt_sse_channel *ch, const char *event,
			const char *data, size_t len, bool is_full)
{
	uint64_t id = ++ch->id;
	struct vt_sse_buf *b = format_event(ch->srv, id, event, data, len);
	struct vt_sse_sub *s, *next;

	if (!b) {	/* out of memory: everyone resyncs from the full fn */
		LIST_FOREACH(s, &ch->subs, ch_link)
			s->needs_full = true;
		return id;
	}
	if (is_full) {
		vt_sse_buf_unref(ch->cache);
		ch->cache = buf_ref(b);
		ch->cache_id = id;
	}
	/* A wake may write, fail and close the connection, detaching s. */
	for (s = LIST_FIRST(&ch->subs); s; s = next) {
		next = LIST_NEXT(s, ch_link);
		sub_offer(s, b, is_full);
	}
	vt_sse_buf_unref(b);
	return id;
}

static void channel_free(struct vt_sse_channel *ch)
{
	while (!LIST_EMPTY(&ch->subs))
		sub_detach(LIST_FIRST(&ch->subs));
	LIST_REMOVE(ch, link);
	vt_sse_buf_unref(ch->cache);
	free(ch->path);
	free(ch->full_event);
	free(ch);
}

/* ---- requests ---- */

const char *vt_http_reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 204: return "No Content";
	case 301: return "Moved Permanently";
	case 302: return "Found";
	case 304: return "Not Modified";
	case 400: return "Bad Request";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 414: return "URI Too Long";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 503: return "Service Unavailable";
	default: return "Unknown";
	}
}

static void error_body(struct vt_http_response *out)
{
	int n = asprintf(&out->body, "%d %s\n", out->status,
			 vt_http_reason(out->status));

	if (n < 0)
		out->body = NULL;
	out->len = n < 0 ? 0 : (size_t)n;
}

void vt_http_error(struct vt_http_response *out, int status)
{
	*out = (struct vt_http_response){
		.status = status,
		.content_type = "text/plain; charset=utf-8",
	};
	error_body(out);
}

/* Splits an origin-form ("/p?q") or absolute-form ("http://h/p?q") target
 * in place. */
static bool split_target(char *t, const char **path, const char **query)
{
	char *q;

	if (t[0] != '/') {
		char *auth = strstr(t, "://");

		if (!auth || auth == t)
			return false;
		t = auth + 3 + strcspn(auth + 3, "/?#");
	}
	t[strcspn(t, "#")] = '\0';
	q = strchr(t, '?');
	if (q)
		*q++ = '\0';
	*path = *t ? t : "/";
	*query = q ? q : "";
	return true;
}

static struct vt_sse_channel *find_channel(struct vt_server *srv,
					   const char *path)
{
	struct vt_sse_channel *ch;

	LIST_FOREACH(ch, &srv->channels, link)
		if (!strcmp(ch->path, path))
			return ch;
	return NULL;
}

static void route_request(struct vt_server *srv, const char *path, const char *query,
		  struct vt_http_response *out)
{
	*out = (struct vt_http_response){
		.status = 404,
		.content_type = "text/plain; charset=utf-8",
	};
	srv->route(srv->ctx, path, query, out);
	if (out->status < 100 || out->status > 599) {
		fprintf(stderr, "valk-trace: route %s answered status %d; "
			"sending 500\n", path, out->status);
		free(out->body);
		vt_http_error(out, 500);
		return;
	}
	if (!out->content_type)
		out->content_type = "text/plain; charset=utf-8";
	if (!out->body)
		out->len = 0;
	if (!out->body && out->status >= 400)
		error_body(out);
}

enum vt_reply vt_server_dispatch(struct vt_conn *c, const char *target,
				 size_t target_len, void (*wake)(void *),
				 void *arg, struct vt_http_response *out,
				 struct vt_sse_sub **sub)
{
	char *t = strndup(target, target_len);
	const char *path, *query;
	struct vt_sse_channel *ch;

	if (!t || strlen(t) != target_len || !split_target(t, &path, &query)) {
		vt_http_error(out, t ? 400 : 500);
		free(t);
		return VT_REPLY_PLAIN;
	}
	ch = find_channel(c->srv, path);
	if (!ch)
		route_request(c->srv, path, query, out);
	free(t);
	if (!ch)
		return VT_REPLY_PLAIN;
	if (sub && !(*sub = sub_new(ch, c, wake, arg))) {
		vt_http_error(out, 500);
		return VT_REPLY_PLAIN;
	}
	*out = (struct vt_http_response){
		.status = 200,
		.content_type = "text/event-stream; charset=utf-8",
		.cache_control = "no-cache",
	};
	return VT_REPLY_SSE;
}

/* ---- connections ---- */

static void conn_closed(uv_handle_t *h);
static void server_release(struct vt_server *srv);
static void write_done(uv_write_t *req, int status);

int vt_conn_write(struct vt_conn *c, const uv_buf_t *bufs, unsigned n,
		  void *own, struct vt_sse_buf **refs, unsigned nrefs)
{
	struct vt_wreq *w = c->closed ? NULL
				      : malloc(sizeof(*w) + nrefs * sizeof(*refs));

	if (w) {	/* else closed, or out of memory: close */
		w->own = own;
		w->nrefs = nrefs;
		for (unsigned i = 0; i < nrefs; i++)
			w->refs[i] = refs[i];
		conn_mark_busy(c);
		if (!uv_write(&w->req, (uv_stream_t *)&c->tcp, bufs, n,
			      write_done)) {
			c->inflight++;
			return 0;
		}
		free(w);
	}
	vt_conn_close(c);
	free(own);
	for (unsigned i = 0; i < nrefs; i++)
		vt_sse_buf_unref(refs[i]);
	return -1;
}

bool vt_conn_busy(const struct vt_conn *c)
{
	return c->inflight > 0;
}

size_t vt_conn_unsent(const struct vt_conn *c)
{
	return uv_stream_get_write_queue_size((const uv_stream_t *)&c->tcp);
}

void vt_conn_touch(struct vt_conn *c)
{
	c->active_ms = now_ms(c->srv);
}

static void shutdown_done(uv_shutdown_t *req, int status)
{
	struct vt_conn *c = req->data;

	if (c->closed)
		return;
	if (status < 0) {
		vt_conn_close(c);
		return;
	}
	c->shut = true;
	c->shut_ms = now_ms(c->srv);
}

/* A finishing connection closes once its output is out: at once if the
 * peer has gone, else after our FIN, so that unread input does not make
 * the kernel answer with a reset that destroys the response. */
static void conn_settle(struct vt_conn *c)
{
	if (!c->finishing || c->inflight || c->shutting || c->closed)
		return;
	if (c->eof) {
		vt_conn_close(c);
		return;
	}
	c->shutting = true;
	c->shutdown.data = c;
	if (uv_shutdown(&c->shutdown, (uv_stream_t *)&c->tcp, shutdown_done))
		vt_conn_close(c);
}

void vt_conn_finish(struct vt_conn *c)
{
	struct vt_sse_sub *s;

	while ((s = LIST_FIRST(&c->subs)))
		sub_detach(s);
	c->finishing = true;
	conn_settle(c);
}

static void write_done(uv_write_t *req, int status)
{
	struct vt_wreq *w = (struct vt_wreq *)req;
	struct vt_conn *c = req->handle->data;

	free(w->own);
	for (unsigned i = 0; i < w->nrefs; i++)
		vt_sse_buf_unref(w->refs[i]);
	free(w);
	c->inflight--;
	if (c->closed)
		return;
	if (status < 0) {
		vt_conn_close(c);
		return;
	}
	c->progress_ms = now_ms(c->srv);
	if (c->finishing)
		conn_settle(c);
	else
		c->proto->written(c->ps);
}

void vt_conn_close(struct vt_conn *c)
{
	struct vt_sse_sub *s;

	if (c->closed)
		return;
	c->closed = true;
	while ((s = LIST_FIRST(&c->subs)))
		sub_detach(s);
	LIST_REMOVE(c, link);
	c->srv->stats.conns--;
	uv_close((uv_handle_t *)&c->tcp, conn_closed);
}

static void conn_closed(uv_handle_t *h)
{
	struct vt_conn *c = h->data;
	struct vt_server *srv = c->srv;

	if (c->proto && c->ps)
		c->proto->free(c->ps);
	free(c);
	server_release(srv);
}

static void conn_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	struct vt_conn *c = h->data;

	(void)hint;
	*buf = uv_buf_init(c->in + c->in_len, sizeof(c->in) - c->in_len);
}

/* Picks the protocol from the first bytes: the HTTP/2 preface or not. */
static bool conn_sniff(struct vt_conn *c)
{
	size_t n = c->in_len < VT_H2_PREFACE_LEN ? c->in_len : VT_H2_PREFACE_LEN;

	if (!memcmp(c->in, VT_H2_PREFACE, n) && n < VT_H2_PREFACE_LEN)
		return false;
	c->proto = memcmp(c->in, VT_H2_PREFACE, n) ? &vt_http1_proto
						    : &vt_http2_proto;
	c->ps = c->proto->open(c);
	if (!c->ps) {
		fprintf(stderr, "valk-trace: out of memory for client %s\n",
			c->peer);
		vt_conn_close(c);
		return false;
	}
	return true;
}

static void conn_process(struct vt_conn *c)
{
	size_t used;

	if (!c->proto && !conn_sniff(c))
		return;
	used = c->proto->input(c->ps, c->in, c->in_len);
	if (c->closed)
		return;
	if (c->finishing)
		used = c->in_len;
	memmove(c->in, c->in + used, c->in_len - used);
	c->in_len -= used;
	if (c->in_len && c->reading) {	/* the protocol holds input back */
		uv_read_stop((uv_stream_t *)&c->tcp);
		c->reading = false;
	}
}

static void conn_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf);

void vt_conn_resume(struct vt_conn *c)
{
	if (c->closed)
		return;
	if (c->in_len)
		conn_process(c);
	if (!c->closed && !c->in_len && !c->reading && !c->eof) {
		if (uv_read_start((uv_stream_t *)&c->tcp, conn_alloc, conn_read)) {
			vt_conn_close(c);
			return;
		}
		c->reading = true;
	}
}

static void conn_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
	struct vt_conn *c = st->data;

	(void)buf;
	if (n == UV_EOF) {	/* the peer sends no more: finish what we owe */
		uv_read_stop(st);
		c->reading = false;
		c->eof = true;
		vt_conn_finish(c);
		return;
	}
	if (n < 0) {
		vt_conn_close(c);
		return;
	}
	if (c->finishing)	/* discard: nothing more will be answered */
		return;
	c->in_len += n;
	conn_process(c);
}

static void peer_name(struct vt_conn *c)
{
	struct sockaddr_storage ss;
	int len = sizeof(ss);
	char ip[INET6_ADDRSTRLEN] = "?";
	int port = 0;

	if (!uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len)) {
		if (ss.ss_family == AF_INET6) {
			struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

			uv_ip6_name(a, ip, sizeof(ip));
			port = ntohs(a->sin6_port);
		} else {
			struct sockaddr_in *a = (struct sockaddr_in *)&ss;

			uv_ip4_name(a, ip, sizeof(ip));
			port = ntohs(a->sin_port);
		}
	}
	snprintf(c->peer, sizeof(c->peer), "%s:%d", ip, port);
}

static void on_connection(uv_stream_t *l, int status)
{
	struct vt_server *srv = l->data;
	struct vt_conn *c;

	if (status < 0 || srv->closing || !(c = calloc(1, sizeof(*c))))
		return;
	c->srv = srv;
	LIST_INIT(&c->subs);
	uv_tcp_init(srv->loop, &c->tcp);
	c->tcp.data = c;
	srv->handles++;
	LIST_INSERT_HEAD(&srv->conns, c, link);
	srv->stats.conns++;
	if (uv_accept(l, (uv_stream_t *)&c->tcp)) {
		vt_conn_close(c);
		return;
	}
	if (srv->stats.conns > srv->opts.max_conns) {
		srv->stats.refused++;
		vt_conn_close(c);
		return;
	}
	uv_tcp_nodelay(&c->tcp, 1);
	peer_name(c);
	c->active_ms = c->progress_ms = now_ms(srv);
	vt_conn_resume(c);
}

/* ---- deadlines ---- */

static void sweep_conn(struct vt_conn *c, uint64_t now)
{
	const struct vt_server_opts *o = &c->srv->opts;

	if (c->inflight || c->queued) {
		if (now - c->progress_ms < o->stall_ms)
			return;
		fprintf(stderr, "valk-trace: dropping client %s: no bytes "
			"accepted for %" PRIu64 " ms (%u writes, %u events "
			"pending)\n", c->peer, now - c->progress_ms,
			c->inflight, c->queued);
		c->srv->stats.stalled++;
		vt_conn_close(c);
	} else if (c->shut ? now - c->shut_ms >= VT_LINGER_MS
			   : LIST_EMPTY(&c->subs) &&
				     now - c->active_ms >= o->idle_ms) {
		vt_conn_close(c);
	}
}

static void sweep_keepalive(struct vt_server *srv, uint64_t now)
{
	struct vt_sse_channel *ch;
	struct vt_sse_sub *s, *next;

	LIST_FOREACH(ch, &srv->channels, link) {
		for (s = LIST_FIRST(&ch->subs); s; s = next) {
			next = LIST_NEXT(s, ch_link);
			if (!s->ch || now - s->queued_ms < srv->opts.keepalive_ms ||
			    s->len >= srv->opts.queue_max)
				continue;
			sub_push(s, srv->keepalive);
			s->wake(s->arg);
		}
	}
}

static void sweep(uv_timer_t *t)
{
	struct vt_server *srv = t->data;
	uint64_t now = now_ms(srv);
	struct vt_conn *c, *next;

	for (c = LIST_FIRST(&srv->conns); c; c = next) {
		next = LIST_NEXT(c, link);
		sweep_conn(c, now);
	}
	sweep_keepalive(srv, now);
}

/* ---- server ---- */

static void opts_defaults(struct vt_server_opts *o)
{
	if (!o->idle_ms)
		o->idle_ms = 10000;
	if (!o->stall_ms)
		o->stall_ms = 30000;
	if (!o->keepalive_ms)
		o->keepalive_ms = 15000;
	if (!o->queue_max)
		o->queue_max = 64;
	if (o->queue_max < 4)	/* room for a partial event and a full state */
		o->queue_max = 4;
	if (!o->queue_bytes)
		o->queue_bytes = 8 << 20;
	if (!o->max_conns)
		o->max_conns = 1024;
}

/* A quarter of the shortest deadline keeps each one within 25 %. */
static uint64_t sweep_interval(const struct vt_server_opts *o)
{
	unsigned m = o->idle_ms;

	if (o->stall_ms < m)
		m = o->stall_ms;
	if (o->keepalive_ms < m)
		m = o->keepalive_ms;
	m /= 4;
	return m < 10 ? 10 : m > 1000 ? 1000 : m;
}

static int parse_listen(const char *s, struct sockaddr_storage *ss,
			char *err, size_t errlen)
{
	const char *colon = strrchr(s, ':');
	char host[INET6_ADDRSTRLEN + 2], *end;
	size_t hl = colon ? (size_t)(colon - s) : 0;
	unsigned long port = colon ? strtoul(colon + 1, &end, 10) : 0;
	int rc;

	if (!colon || hl == 0 || hl >= sizeof(host) || !colon[1] || *end ||
	    port > 65535) {
		snprintf(err, errlen, "invalid listen address \"%s\": expected "
			 "IP:PORT such as 127.0.0.1:7070", s);
		return UV_EINVAL;
	}
	memcpy(host, s, hl);
	host[hl] = '\0';
	if (host[0] == '[' && host[hl - 1] == ']') {
		host[hl - 1] = '\0';
		rc = uv_ip6_addr(host + 1, port, (struct sockaddr_in6 *)ss);
	} else {
		rc = uv_ip4_addr(host, port, (struct sockaddr_in *)ss);
	}
	if (rc)
		snprintf(err, errlen, "invalid listen address \"%s\": \"%s\" "
			 "is not a numeric IP address", s, host);
	return rc;
}

static void set_url(struct vt_server *srv)
{
	struct sockaddr_storage ss;
	int len = sizeof(ss);
	char ip[INET6_ADDRSTRLEN] = "?";

	uv_tcp_getsockname(&srv->listener, (struct sockaddr *)&ss, &len);
	if (ss.ss_family == AF_INET6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

		uv_ip6_name(a, ip, sizeof(ip));
		srv->port = ntohs(a->sin6_port);
		snprintf(srv->url, sizeof(srv->url), "http://[%s]:%d/", ip,
			 srv->port);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;

		uv_ip4_name(a, ip, sizeof(ip));
		srv->port = ntohs(a->sin_port);
		snprintf(srv->url, sizeof(srv->url), "http://%s:%d/", ip,
			 srv->port);
	}
}

static int server_listen(struct vt_server *srv, const char *listen, char *err,
			 size_t errlen)
{
	struct sockaddr_storage ss;
	int rc = parse_listen(listen, &ss, err, errlen);

	if (rc)
		return rc;
	rc = uv_tcp_bind(&srv->listener, (struct sockaddr *)&ss, 0);
	if (!rc)
		rc = uv_listen((uv_stream_t *)&srv->listener, 128, on_connection);
	if (rc == UV_EADDRINUSE)
		snprintf(err, errlen, "cannot listen on %s: address already in "
			 "use; stop the other server or choose another port",
			 listen);
	else if (rc)
		snprintf(err, errlen, "cannot listen on %s: %s", listen,
			 uv_strerror(rc));
	return rc;
}

static void handle_closed(uv_handle_t *h)
{
	server_release(h->data);
}

/* A peer that resets mid-write must cost an EPIPE, not the process
 * (libuv leaves SIGPIPE alone). A handler the program set is kept. */
static void ignore_sigpipe(void)
{
	struct sigaction sa;

	if (!sigaction(SIGPIPE, NULL, &sa) && sa.sa_handler == SIG_DFL)
		signal(SIGPIPE, SIG_IGN);
}

int vt_server_start(uv_loop_t *loop, const char *listen,
		    const struct vt_server_opts *opts, vt_server_route_fn route,
		    void *ctx, struct vt_server **out, char *err, size_t errlen)
{
	struct vt_server *srv = calloc(1, sizeof(*srv));
	int rc;

	*out = NULL;
	ignore_sigpipe();
	if (!srv) {
		snprintf(err, errlen, "out of memory starting the HTTP server");
		return UV_ENOMEM;
	}
	srv->loop = loop;
	srv->route = route;
	srv->ctx = ctx;
	if (opts)
		srv->opts = *opts;
	opts_defaults(&srv->opts);
	LIST_INIT(&srv->conns);
	LIST_INIT(&srv->channels);
	uv_tcp_init(loop, &srv->listener);
	uv_timer_init(loop, &srv->timer);
	srv->listener.data = srv->timer.data = srv;
	srv->handles = 2;
	srv->retry = buf_from(srv, "retry: 1000\n\n");
	srv->keepalive = buf_from(srv, ": keep-alive\n\n");
	if (!srv->retry || !srv->keepalive) {
		snprintf(err, errlen, "out of memory starting the HTTP server");
		rc = UV_ENOMEM;
	} else {
		rc = server_listen(srv, listen, err, errlen);
	}
	if (rc) {
		vt_server_close(srv, NULL, NULL);
		return rc;
	}
	set_url(srv);
	uv_timer_start(&srv->timer, sweep, sweep_interval(&srv->opts),
		       sweep_interval(&srv->opts));
	*out = srv;
	return 0;
}

const char *vt_server_url(const struct vt_server *srv)
{
	return srv->url;
}

int vt_server_port(const struct vt_server *srv)
{
	return srv->port;
}

void vt_server_stats(const struct vt_server *srv, struct vt_server_stats *out)
{
	*out = srv->stats;
}

static void server_release(struct vt_server *srv)
{
	if (--srv->handles || !srv->closing)
		return;
	while (!LIST_EMPTY(&srv->channels))
		channel_free(LIST_FIRST(&srv->channels));
	vt_sse_buf_unref(srv->retry);
	vt_sse_buf_unref(srv->keepalive);
	if (srv->done)
		srv->done(srv->done_arg);
	free(srv);
}

void vt_server_close(struct vt_server *srv, void (*done)(void *), void *arg)
{
	srv->closing = true;
	srv->done = done;
	srv->done_arg = arg;
	while (!LIST_EMPTY(&srv->conns))
		vt_conn_close(LIST_FIRST(&srv->conns));
	uv_close((uv_handle_t *)&srv->listener, handle_closed);
	uv_close((uv_handle_t *)&srv->timer, handle_closed);
}
