/* vt_server: the listener and its connections.
 *
 * Each accepted connection is sniffed for the HTTP/2 client preface and
 * counted in its client's share (vt_clients) and handed to vt_http1 or
 * vt_http2, which turn requests into vt_http_dispatch() calls (vt_http)
 * and write answers through vt_conn_write().
 * With TLS, vt_tls stands between the socket and that: ciphertext read is
 * turned into the plaintext the protocols see, what they write is sealed,
 * and nothing else changes. SSE routes are vt_sse's channels. One
 * repeating timer enforces the idle, stall and keep-alive deadlines,
 * handshakes included. */
#include <arpa/inet.h>
#include <inttypes.h>
#include <signal.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serve/vt_server_int.h"
#include "serve/vt_http1.h"
#include "serve/vt_http2.h"

#define VT_H2_PREFACE "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
#define VT_H2_PREFACE_LEN 24
#define VT_LINGER_MS 1000	/* wait for the peer's FIN after ours */
#define VT_TLS_IN (32 * 1024)	/* ciphertext read at a time */

struct vt_wreq {
	uv_write_t req;
	void *own;
	unsigned nrefs;
	struct vt_sse_buf *refs[];
};

uint64_t vt_server__now_ms(const struct vt_server *srv)
{
	return uv_now(srv->loop);
}

void vt_conn__mark_busy(struct vt_conn *c)
{
	if (!c->inflight && !c->queued)
		c->progress_ms = vt_server__now_ms(c->srv);
}

/* ---- connections ---- */

static void conn_closed(uv_handle_t *h);
static void server_release(struct vt_server *srv);
static void write_done(uv_write_t *req, int status);

/* Writes bufs to the socket as they are. */
static int raw_write(struct vt_conn *c, const uv_buf_t *bufs, unsigned n,
		     void *own, struct vt_sse_buf **refs, unsigned nrefs)
{
	struct vt_wreq *w = c->closed ? NULL
				      : malloc(sizeof(*w) + nrefs * sizeof(*refs));

	if (w) {	/* else closed, or out of memory: close */
		w->own = own;
		w->nrefs = nrefs;
		for (unsigned i = 0; i < nrefs; i++)
			w->refs[i] = refs[i];
		vt_conn__mark_busy(c);
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

/* Writes what TLS has to send: records, handshake messages, alerts. */
static int tls_flush(struct vt_conn *c)
{
	size_t len;
	char *out = vt_tls_conn_take(c->tls, &len);
	uv_buf_t b = uv_buf_init(out, len);

	if (out)
		return raw_write(c, &b, 1, out, NULL, 0);
	if (len)	/* no memory for them */
		vt_conn_close(c);
	return len ? -1 : 0;
}

int vt_conn_write(struct vt_conn *c, const uv_buf_t *bufs, unsigned n,
		  void *own, struct vt_sse_buf **refs, unsigned nrefs)
{
	int rc = 0;

	if (!c->tls || c->closed)
		return raw_write(c, bufs, n, own, refs, nrefs);
	/* sealed into a copy: the plaintext is released at once */
	for (unsigned i = 0; i < n && !rc; i++)
		rc = vt_tls_conn_write(c->tls, bufs[i].base, bufs[i].len);
	free(own);
	for (unsigned i = 0; i < nrefs; i++)
		vt_sse_buf_unref(refs[i]);
	if (rc) {
		vt_conn_close(c);
		return -1;
	}
	return tls_flush(c);
}

bool vt_conn_busy(const struct vt_conn *c)
{
	return c->inflight > 0;
}

size_t vt_conn_unsent(const struct vt_conn *c)
{
	return uv_stream_get_write_queue_size((const uv_stream_t *)&c->tcp);
}

bool vt_conn_hold(struct vt_conn *c, size_t n)
{
	struct vt_server *srv = c->srv;

	/* one response always fits, however large: the caps bound the
	 * responses a client piles up, not the documents it can get */
	if ((c->held && c->held + n > srv->opts.conn_held_max) ||
	    (srv->stats.held && srv->stats.held + n > srv->opts.held_max)) {
		srv->stats.held_refused++;
		return false;
	}
	if (!c->owed_ms)
		c->owed_ms = vt_server__now_ms(srv);
	c->held += n;
	srv->stats.held += n;
	if (srv->stats.held > srv->held_peak)
		srv->held_peak = srv->stats.held;
	return true;
}

void vt_conn_unhold(struct vt_conn *c, size_t n, bool delivered)
{
	struct vt_server *srv = c->srv;

	n = n < c->held ? n : c->held;
	c->held -= n;
	srv->stats.held -= n;
	if (delivered)
		c->owed_ms = c->held ? vt_server__now_ms(srv) : 0;
	/* once nothing is held, what the bodies took goes back to the
	 * system (freed heap memory is otherwise kept by malloc) */
	if (!srv->stats.held && srv->held_peak > (1u << 20)) {
		srv->held_peak = 0;
		malloc_trim(0);
	}
}

void vt_conn_touch(struct vt_conn *c)
{
	c->active_ms = vt_server__now_ms(c->srv);
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
	c->shut_ms = vt_server__now_ms(c->srv);
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
	if (c->tls && !c->tls_shut) {	/* close_notify before the FIN */
		c->tls_shut = true;
		vt_tls_conn_shutdown(c->tls);
		if (tls_flush(c) || c->inflight)
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
		vt_sse__sub_detach(s);
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
	c->progress_ms = vt_server__now_ms(c->srv);
	if (c->finishing)
		conn_settle(c);
	else if (c->proto)	/* else a TLS handshake's */
		c->proto->written(c->ps);
}

void vt_conn_close(struct vt_conn *c)
{
	struct vt_sse_sub *s;

	if (c->closed)
		return;
	c->closed = true;
	while ((s = LIST_FIRST(&c->subs)))
		vt_sse__sub_detach(s);
	vt_clients_gone(c);
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
	vt_tls_conn_free(c->tls);
	free(c);
	server_release(srv);
}

static void conn_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	struct vt_conn *c = h->data;

	(void)hint;
	/* ciphertext is fed to TLS before the next read: one buffer serves */
	*buf = c->tls ? uv_buf_init(c->srv->tls_in, VT_TLS_IN)
		      : uv_buf_init(c->in + c->in_len, sizeof(c->in) - c->in_len);
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

/* The protocol has taken all it was given: a TLS connection has more to
 * give it only then. */
static bool conn_taken(const struct vt_conn *c)
{
	return !c->closed && !c->finishing && !(c->proto && c->in_len);
}

/* Plaintext out of TLS to the protocol for as long as it takes it; then
 * whatever TLS has to say (handshake, tickets, an alert) is written. A
 * session that failed, or that the peer closed, is finished. */
static void tls_decrypt(struct vt_conn *c)
{
	ssize_t n;

	do {
		n = vt_tls_conn_read(c->tls, c->in + c->in_len,
				     sizeof(c->in) - c->in_len);
		if (n > 0) {
			c->in_len += n;
			conn_process(c);
		}
	} while (n > 0 && conn_taken(c));
	if (c->closed)
		return;
	if (n < 0 && !c->finishing) {
		c->srv->stats.tls_failed += n == VT_TLS_FAILED;
		vt_conn_finish(c);	/* an alert goes out first */
	}
	if (!c->finishing)
		tls_flush(c);
}

/* A plain HTTP client at a TLS port is told so, in plain HTTP. */
static void plain_to_tls(struct vt_conn *c)
{
	static const char answer[] =
		"HTTP/1.1 400 Bad Request\r\n"
		"Content-Type: text/plain; charset=utf-8\r\n"
		"Content-Length: 51\r\nConnection: close\r\n\r\n"
		"400 Bad Request: this port serves HTTPS (https://)\n";
	uv_buf_t b = uv_buf_init((char *)answer, sizeof(answer) - 1);

	c->srv->stats.tls_failed++;
	c->tls_shut = true;	/* no session to close */
	if (!raw_write(c, &b, 1, NULL, NULL, 0))
		vt_conn_finish(c);
}

static void conn_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf);

void vt_conn_resume(struct vt_conn *c)
{
	if (c->closed)
		return;
	if (c->in_len)
		conn_process(c);
	if (c->tls && conn_taken(c))
		tls_decrypt(c);
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
	if (c->tls && vt_tls_conn_feed(c->tls, buf->base, n))
		plain_to_tls(c);
	else if (c->tls)
		tls_decrypt(c);
	else {
		c->in_len += n;
		conn_process(c);
	}
}

/* The numeric IP of an IPv4 or IPv6 address into ip; returns its port. */
static int addr_name(const struct sockaddr_storage *ss, char *ip, size_t len)
{
	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;

		uv_ip6_name(a, ip, len);
		return ntohs(a->sin6_port);
	}
	uv_ip4_name((const struct sockaddr_in *)ss, ip, len);
	return ntohs(((const struct sockaddr_in *)ss)->sin_port);
}

static void peer_name(struct vt_conn *c)
{
	struct sockaddr_storage ss;
	int len = sizeof(ss);
	char ip[INET6_ADDRSTRLEN] = "?";
	int port = 0;

	if (!uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len))
		port = addr_name(&ss, ip, sizeof(ip));
	snprintf(c->ip, sizeof(c->ip), "%s", ip);
	snprintf(c->peer, sizeof(c->peer), "%s:%d", ip, port);
	len = sizeof(ss);
	if (!uv_tcp_getsockname(&c->tcp, (struct sockaddr *)&ss, &len))
		addr_name(&ss, c->local, sizeof(c->local));
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
	peer_name(c);
	if (!vt_clients_admit(c)) {
		vt_conn_close(c);
		return;
	}
	if (srv->tls && !(c->tls = vt_tls_conn_new(srv->tls))) {
		fprintf(stderr, "valk-trace: out of memory for client %s\n",
			c->peer);
		vt_conn_close(c);
		return;
	}
	uv_tcp_nodelay(&c->tcp, 1);
	c->active_ms = c->progress_ms = vt_server__now_ms(srv);
	vt_conn_resume(c);
}

/* ---- deadlines ---- */

static void sweep_conn(struct vt_conn *c, uint64_t now)
{
	const struct vt_server_opts *o = &c->srv->opts;

	if (c->inflight || c->queued || c->held) {
		uint64_t since = c->inflight || c->queued ? c->progress_ms : now;

		/* owed bytes count from the first one not delivered */
		if (c->held && c->owed_ms < since)
			since = c->owed_ms;
		if (now - since < o->stall_ms)
			return;
		fprintf(stderr, "valk-trace: dropping client %s: no bytes "
			"accepted for %" PRIu64 " ms (%u writes, %u events, "
			"%zu response bytes pending)\n", c->peer, now - since,
			c->inflight, c->queued, c->held);
		c->srv->stats.stalled++;
		vt_conn_close(c);
	} else if (c->shut) {
		if (now - c->shut_ms >= VT_LINGER_MS)
			vt_conn_close(c);
	} else if (LIST_EMPTY(&c->subs) && now - c->active_ms >= o->idle_ms) {
		c->srv->stats.idled++;
		vt_conn_close(c);
	}
}

static void sweep(uv_timer_t *t)
{
	struct vt_server *srv = t->data;
	uint64_t now = vt_server__now_ms(srv);
	struct vt_conn *c, *next;

	for (c = LIST_FIRST(&srv->conns); c; c = next) {
		next = LIST_NEXT(c, link);
		sweep_conn(c, now);
	}
	vt_sse__keepalive(srv, now);
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
	if (!o->per_client)
		o->per_client = o->max_conns / 2 ? o->max_conns / 2 : 1;
	if (!o->held_max)
		o->held_max = 16 << 20;
	if (!o->conn_held_max)
		o->conn_held_max = 1 << 20;
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
	bool v6;

	uv_tcp_getsockname(&srv->listener, (struct sockaddr *)&ss, &len);
	v6 = ss.ss_family == AF_INET6;
	srv->port = addr_name(&ss, ip, sizeof(ip));
	snprintf(srv->url, sizeof(srv->url), v6 ? "%s://[%s]:%d/"
						: "%s://%s:%d/",
		 srv->tls ? "https" : "http", ip, srv->port);
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
	srv->retry = vt_sse__buf_from(srv, "retry: 1000\n\n");
	srv->keepalive = vt_sse__buf_from(srv, ": keep-alive\n\n");
	if (srv->opts.token)	/* over TLS, never sent in cleartext */
		snprintf(srv->cookie, sizeof(srv->cookie), "vt_token=%.128s; "
			 "HttpOnly; SameSite=Strict; Path=/%s", srv->opts.token,
			 srv->opts.tls_cert ? "; Secure" : "");
	if (!vt_clients_init(srv) || !srv->retry || !srv->keepalive) {
		snprintf(err, errlen, "out of memory starting the HTTP server");
		rc = UV_ENOMEM;
	} else if (srv->opts.tls_cert &&
		   (vt_tls_new(srv->opts.tls_cert, srv->opts.tls_key,
			       &srv->tls, err, errlen) ||
		    !(srv->tls_in = malloc(VT_TLS_IN)))) {
		if (srv->tls)
			snprintf(err, errlen, "out of memory setting up TLS");
		rc = UV_EINVAL;
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
		vt_sse__channel_free(LIST_FIRST(&srv->channels));
	vt_sse_buf_unref(srv->retry);
	vt_sse_buf_unref(srv->keepalive);
	free(srv->clients);
	vt_tls_free(srv->tls);
	free(srv->tls_in);
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
