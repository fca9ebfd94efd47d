/* vt_server: the listener and its connections.
 *
 * Each accepted connection is sniffed for the HTTP/2 client preface and
 * handed to vt_http1 or vt_http2, which turn requests into
 * vt_server_dispatch() calls and write answers through vt_conn_write().
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
#include <strings.h>

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
	case 401: return "Unauthorized";
	case 421: return "Misdirected Request";
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

/* Whether name (len bytes, any case) is one of the comma-separated
 * names in list. */
static bool listed(const char *list, const char *name, size_t len)
{
	while (list && *list) {
		size_t n = strcspn(list, ",");

		if (n == len && !strncasecmp(list, name, len))
			return true;
		list += n + (list[n] == ',');
	}
	return false;
}

/* A Host this server answers: none at all (HTTP/1.0), localhost, the
 * address the client connected to, or an --allow-host name; the port is
 * not compared. Anything else is a name an attacker's page resolved to
 * us (DNS rebinding). */
static bool host_ok(const struct vt_conn *c, const char *host)
{
	const char *end = strrchr(host, ':');
	size_t len = strlen(host);

	if (!*host)
		return true;
	if (*host == '[') {	/* [v6]:port */
		end = strchr(host, ']');
		if (!end)
			return false;
		host++;
		len = (size_t)(end - host);
	} else if (end && !strchr(end + 1, ']') && end == strchr(host, ':')) {
		len = (size_t)(end - host);
	}
	return listed("localhost,127.0.0.1,::1", host, len) ||
	       (len == strlen(c->local) && !strncasecmp(host, c->local, len)) ||
	       listed(c->srv->opts.allow_hosts, host, len);
}

static const char *const kept_names[VT_H_KEPT] = {
	[VT_H_LAST_ID] = "last-event-id", [VT_H_HOST] = "host",
	[VT_H_AUTH] = "authorization", [VT_H_COOKIE] = "cookie",
};

int vt_http_hdrs_which(const char *name, size_t len)
{
	for (int i = 0; i < VT_H_KEPT; i++)
		if (strlen(kept_names[i]) == len &&
		    !memcmp(kept_names[i], name, len))
			return i;
	return len == 10 && !memcmp(name, ":authority", 10) ? VT_H_HOST : -1;
}

void vt_http_hdrs_add(struct vt_http_hdrs *h, int which, const char *v,
		      size_t n, bool first)
{
	size_t *len = &h->len[which];
	char *b = h->v[which];

	if (*len == SIZE_MAX)	/* already unusable */
		return;
	if (first && *len && which == VT_H_COOKIE && *len + 2 < VT_HDR_KEEP) {
		memcpy(b + *len, "; ", 2);
		*len += 2;
	} else if (first && *len) {
		n = SIZE_MAX;	/* twice: matches nothing */
	}
	if (n >= VT_HDR_KEEP - *len) {
		strcpy(b, "-");
		*len = SIZE_MAX;
		return;
	}
	memcpy(b + *len, v, n);
	*len += n;
	b[*len] = '\0';
}

/* Equal, in a time that depends on the lengths only. */
static bool same_secret(const char *a, size_t alen, const char *b)
{
	size_t blen = strlen(b);
	unsigned char d = alen != blen;

	for (size_t i = 0; i < alen && i < blen; i++)
		d |= (unsigned char)(a[i] ^ b[i]);
	return !d;
}

/* The value of name=... in a list split by sep ("; " cookies, "&"
 * queries), or NULL; *len its length. */
static const char *param(const char *list, const char *name, char sep,
			 size_t *len)
{
	size_t n = strlen(name);

	while (list && *list) {
		while (*list == ' ')
			list++;
		if (!strncmp(list, name, n) && list[n] == '=') {
			*len = strcspn(list + n + 1, (char[]){ sep, 0 });
			return list + n + 1;
		}
		list = strchr(list, sep);
		list = list ? list + 1 : NULL;
	}
	return NULL;
}

/* With a token: 1 for a Bearer header or the cookie, 2 for ?token= (the
 * reply then sets the cookie, for an EventSource or a browser tab), 0
 * without it. */
static int token_ok(const struct vt_server *srv,
		    const struct vt_http_hdrs *hd, const char *query)
{
	const char *tok = srv->opts.token, *v;
	size_t n;

	if (!tok)
		return 1;
	if (!strncmp(hd->v[VT_H_AUTH], "Bearer ", 7) &&
	    same_secret(hd->v[VT_H_AUTH] + 7, strlen(hd->v[VT_H_AUTH] + 7), tok))
		return 1;
	if ((v = param(hd->v[VT_H_COOKIE], "vt_token", ';', &n)) &&
	    same_secret(v, n, tok))
		return 1;
	if ((v = param(query, "token", '&', &n)) && same_secret(v, n, tok))
		return 2;
	return 0;
}

enum vt_reply vt_server_dispatch(struct vt_conn *c, const char *target,
				 size_t target_len,
				 const struct vt_http_hdrs *hd,
				 void (*wake)(void *), void *arg,
				 struct vt_http_response *out,
				 struct vt_sse_sub **sub)
{
	char *t;
	const char *path, *query;
	struct vt_sse_channel *ch;
	int auth;

	if (!host_ok(c, hd->v[VT_H_HOST])) {
		vt_http_error(out, 421);
		return VT_REPLY_PLAIN;
	}
	t = strndup(target, target_len);
	if (!t || strlen(t) != target_len || !split_target(t, &path, &query)) {
		vt_http_error(out, t ? 400 : 500);
		free(t);
		return VT_REPLY_PLAIN;
	}
	auth = token_ok(c->srv, hd, query);
	if (!auth) {
		free(t);
		vt_http_error(out, 401);
		return VT_REPLY_PLAIN;
	}
	ch = vt_sse__find(c->srv, path);
	if (!ch)
		route_request(c->srv, path, query, out);
	free(t);
	if (!ch) {
		out->set_cookie = auth == 2 ? c->srv->cookie : NULL;
		return VT_REPLY_PLAIN;
	}
	if (sub && !(*sub = vt_sse__sub_new(ch, c, hd->v[VT_H_LAST_ID], wake,
					      arg))) {
		vt_http_error(out, 500);
		return VT_REPLY_PLAIN;
	}
	*out = (struct vt_http_response){
		.status = 200,
		.content_type = "text/event-stream; charset=utf-8",
		.cache_control = "no-cache",
		.set_cookie = auth == 2 ? c->srv->cookie : NULL,
	};
	return VT_REPLY_SSE;
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

static void client_gone(struct vt_conn *c);

void vt_conn_close(struct vt_conn *c)
{
	struct vt_sse_sub *s;

	if (c->closed)
		return;
	c->closed = true;
	while ((s = LIST_FIRST(&c->subs)))
		vt_sse__sub_detach(s);
	client_gone(c);
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

/* ---- per-client shares ---- */

/* The connection count of each client address, open addressing over
 * 2 * max_conns slots. An address whose count fell to 0 keeps its slot
 * (probe chains stay whole) until the table is rebuilt from the open
 * connections. */
struct vt_client {
	char ip[48];
	unsigned n;
};

static uint32_t ip_hash(const char *ip)
{
	uint32_t h = 2166136261u;

	while (*ip)
		h = (h ^ (uint8_t)*ip++) * 16777619u;
	return h;
}

static struct vt_client *client_slot(struct vt_server *srv, const char *ip)
{
	size_t n = srv->nclients, i = ip_hash(ip) % n;

	for (size_t k = 0; k < n; k++, i = (i + 1) % n)
		if (!*srv->clients[i].ip || !strcmp(srv->clients[i].ip, ip))
			return &srv->clients[i];
	return NULL;
}

/* Every slot taken: keep only the addresses of open connections. */
static void clients_rebuild(struct vt_server *srv)
{
	struct vt_conn *c;

	memset(srv->clients, 0, srv->nclients * sizeof(*srv->clients));
	LIST_FOREACH(c, &srv->conns, link) {
		struct vt_client *k = *c->ip ? client_slot(srv, c->ip) : NULL;

		if (k) {
			snprintf(k->ip, sizeof(k->ip), "%s", c->ip);
			k->n++;
		}
	}
}

static struct vt_client *client_of(struct vt_server *srv, const char *ip)
{
	struct vt_client *k = client_slot(srv, ip);

	if (!k) {
		clients_rebuild(srv);
		k = client_slot(srv, ip);
	}
	if (k && !*k->ip)
		snprintf(k->ip, sizeof(k->ip), "%s", ip);
	return k;
}

/* The oldest connection of address ip but `except` with nothing in
 * progress. */
static struct vt_conn *idle_of(struct vt_server *srv, const char *ip,
			       const struct vt_conn *except)
{
	struct vt_conn *o, *best = NULL;

	LIST_FOREACH(o, &srv->conns, link)
		if (o != except && !strcmp(o->ip, ip) && !o->inflight &&
		    !o->queued &&
		    !o->held && LIST_EMPTY(&o->subs) &&
		    (!best || o->active_ms < best->active_ms))
			best = o;
	return best;
}

/* Closes the oldest idle connection of address ip other than c (an idle
 * connection answers nothing and streams nothing: a fresh one is likelier
 * to be someone looking). False when it has none. */
static bool evict(struct vt_server *srv, const char *ip,
		  const struct vt_conn *c)
{
	struct vt_conn *victim = idle_of(srv, ip, c);

	if (!victim)
		return false;
	srv->stats.evicted++;
	vt_conn_close(victim);
	return true;
}

/* The address holding the most connections. */
static const char *top_client(const struct vt_server *srv)
{
	const struct vt_client *top = NULL;

	for (size_t i = 0; i < srv->nclients; i++)
		if (!top || srv->clients[i].n > top->n)
			top = &srv->clients[i];
	return top && top->n ? top->ip : NULL;
}

/* A client address at its per_client share, or a full server, first
 * makes room by closing an idle connection (the client's own, or the
 * largest holder's); only then is the new one refused. */
static bool admit(struct vt_conn *c)
{
	struct vt_server *srv = c->srv;
	struct vt_client *k = client_of(srv, c->ip);
	const char *top;

	if (!k || (k->n >= srv->opts.per_client && !evict(srv, c->ip, c))) {
		srv->stats.refused_share++;
		*c->ip = '\0';		/* counts in no share */
		return false;
	}
	k->n++;
	if (srv->stats.conns <= srv->opts.max_conns ||
	    ((top = top_client(srv)) && evict(srv, top, c)))
		return true;
	srv->stats.refused++;
	return false;
}

static void client_gone(struct vt_conn *c)
{
	struct vt_client *k = *c->ip ? client_slot(c->srv, c->ip) : NULL;

	if (k && k->n)
		k->n--;
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
	if (!admit(c)) {
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
	srv->nclients = 2 * (size_t)srv->opts.max_conns + 1;
	srv->clients = calloc(srv->nclients, sizeof(*srv->clients));
	if (!srv->retry || !srv->keepalive || !srv->clients) {
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
