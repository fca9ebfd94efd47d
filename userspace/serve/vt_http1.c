/* vt_http1: HTTP/1.1 on one connection, parsed by http-parser.
 *
 * Plain responses carry Content-Length and keep the connection alive. An
 * SSE route turns the connection into one event stream: chunked for
 * HTTP/1.1, raw bytes until close for HTTP/1.0. Requests are answered in
 * order; while the socket refuses output, parsing pauses, so a client that
 * pipelines requests without reading the answers cannot grow our memory. */
#include <assert.h>
#include <ctype.h>
#include <http_parser.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serve/vt_http1.h"

#define VT_H1_HEADER_MAX (16 * 1024)	/* request line and headers */
#define VT_H1_TARGET_MAX (8 * 1024)
#define VT_H1_BATCH 16			/* events per write */
#define VT_H1_BATCH_BYTES (256 * 1024)

struct vt_http1 {
	struct vt_conn *c;
	http_parser p;
	size_t hdr_bytes, target_len;
	int reject;		/* status to answer instead, then close */
	bool stop;		/* no further requests are read */
	bool chunked;		/* the event stream is chunk-framed */
	struct vt_sse_sub *sub;
	/* the header being read: its name (lower case, as far as it can be
	 * one the server keeps) and whether its value has begun */
	char hname[16];
	size_t hname_len;
	bool in_value;
	struct vt_http_hdrs hd;
	char chunk[24];		/* size line of the one stream write in flight */
	char target[VT_H1_TARGET_MAX];
};

/* A response head under construction; `n` may run past `cap` (then the
 * buffer was too small, which sizes below rule out). */
struct hbuf {
	char *buf;
	size_t cap, n;
};

static void add(struct hbuf *hd, const char *fmt, ...)
{
	va_list ap;
	int k;

	va_start(ap, fmt);
	k = vsnprintf(hd->buf + hd->n, hd->n < hd->cap ? hd->cap - hd->n : 0,
		      fmt, ap);
	va_end(ap);
	hd->n += k > 0 ? (size_t)k : 0;
}

static bool http11(const http_parser *p)
{
	return p->http_major > 1 || (p->http_major == 1 && p->http_minor >= 1);
}

/* Writes status, headers and (for a plain GET) the body; frees r->body. */
static void send_response(struct vt_http1 *h, struct vt_http_response *r,
			  bool head, bool sse, bool keep)
{
	size_t body = head || sse ? 0 : r->len;
	struct hbuf hd = {
		.cap = 256 + strlen(r->content_type) +
		       (r->cache_control ? strlen(r->cache_control) : 0) +
		       (r->set_cookie ? strlen(r->set_cookie) : 0) +
		       (r->retry_after ? 32 : 0),
	};
	uv_buf_t b;

	hd.buf = malloc(hd.cap + body);
	if (!hd.buf) {
		free(r->body);
		vt_conn_close(h->c);
		return;
	}
	add(&hd, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\n", r->status,
	    vt_http_reason(r->status), r->content_type);
	if (r->cache_control)
		add(&hd, "Cache-Control: %s\r\n", r->cache_control);
	if (r->set_cookie)
		add(&hd, "Set-Cookie: %s\r\n", r->set_cookie);
	if (r->status == 401)
		add(&hd, "WWW-Authenticate: Bearer\r\n");
	if (r->retry_after)
		add(&hd, "Retry-After: %u\r\n", r->retry_after);
	if (sse)
		add(&hd, "X-Accel-Buffering: no\r\n%s",
		    http11(&h->p) ? "Transfer-Encoding: chunked\r\n" : "");
	else
		add(&hd, "Content-Length: %zu\r\n", r->len);
	if (r->status == 405)
		add(&hd, "Allow: GET, HEAD\r\n");
	add(&hd, "Connection: %s\r\n\r\n", keep ? "keep-alive" : "close");
	if (body)
		memcpy(hd.buf + hd.n, r->body, body);
	free(r->body);
	b = uv_buf_init(hd.buf, hd.n + body);
	vt_conn_write(h->c, &b, 1, hd.buf, NULL, 0);
}

static void fail(struct vt_http1 *h, int status)
{
	struct vt_http_response r;

	vt_http_error(&r, status);
	send_response(h, &r, false, false, false);
	h->stop = true;
	vt_conn_finish(h->c);
}

/* Sends queued events, one write at a time so the queue (bounded, with
 * resync) rather than libuv's write queue absorbs a slow client. */
static void pump(struct vt_http1 *h)
{
	struct vt_sse_buf *refs[VT_H1_BATCH], *e;
	uv_buf_t bufs[VT_H1_BATCH + 2];
	unsigned n = 0;
	size_t total = 0;

	if (!h->sub || vt_conn_busy(h->c))
		return;
	while (n < VT_H1_BATCH && total < VT_H1_BATCH_BYTES &&
	       (e = vt_sse_sub_pop(h->sub))) {
		size_t len;
		const char *d = vt_sse_buf_data(e, &len);

		refs[n] = e;
		bufs[++n] = uv_buf_init((char *)d, len);
		total += len;
	}
	if (!n)
		return;
	if (!h->chunked) {
		vt_conn_write(h->c, bufs + 1, n, NULL, refs, n);
		return;
	}
	assert(!vt_conn_busy(h->c));	/* h->chunk is the one in flight */
	bufs[0] = uv_buf_init(h->chunk, snprintf(h->chunk, sizeof(h->chunk),
						 "%zx\r\n", total));
	bufs[n + 1] = uv_buf_init((char *)"\r\n", 2);
	vt_conn_write(h->c, bufs, n + 2, NULL, refs, n);
}

static void wake(void *arg)
{
	pump(arg);
}

static void respond(struct vt_http1 *h)
{
	bool head = h->p.method == HTTP_HEAD;
	bool keep = http_should_keep_alive(&h->p);
	struct vt_http_response r;
	struct vt_sse_sub *sub = NULL;
	enum vt_reply k = vt_http_dispatch(h->c, h->target, h->target_len,
					   &h->hd, wake, h, &r,
					   head ? NULL : &sub);

	if (sub) {
		h->sub = sub;
		h->stop = true;
		h->chunked = http11(&h->p);
		keep = h->chunked;	/* HTTP/1.0 streams end at close */
	}
	send_response(h, &r, head, k == VT_REPLY_SSE, keep);
	if (!keep && !sub) {
		h->stop = true;
		vt_conn_finish(h->c);
	}
}

static int on_begin(http_parser *p)
{
	struct vt_http1 *h = p->data;

	h->hdr_bytes = h->target_len = 0;
	h->reject = 0;
	h->hname_len = 0;
	h->in_value = false;
	memset(&h->hd, 0, sizeof(h->hd));
	return 0;
}

static int count(struct vt_http1 *h, size_t n)
{
	h->hdr_bytes += n;
	if (h->hdr_bytes <= VT_H1_HEADER_MAX)
		return 0;
	h->reject = 431;
	return -1;
}

static int on_url(http_parser *p, const char *at, size_t n)
{
	struct vt_http1 *h = p->data;

	if (h->target_len + n > sizeof(h->target)) {
		h->reject = 414;
		return -1;
	}
	memcpy(h->target + h->target_len, at, n);
	h->target_len += n;
	return count(h, n);
}

/* Names and values may come in pieces; the server's kept headers are
 * gathered (vt_http_hdrs). */
static int on_header_field(http_parser *p, const char *at, size_t n)
{
	struct vt_http1 *h = p->data;

	if (h->in_value)
		h->hname_len = 0;
	h->in_value = false;
	for (size_t i = 0; i < n; i++, h->hname_len++)
		if (h->hname_len < sizeof(h->hname))
			h->hname[h->hname_len] = (char)tolower((unsigned char)at[i]);
	return count(h, n);
}

static int on_header_value(http_parser *p, const char *at, size_t n)
{
	struct vt_http1 *h = p->data;
	int which = h->hname_len <= sizeof(h->hname)
		    ? vt_http_hdrs_which(h->hname, h->hname_len) : -1;

	if (which >= 0)
		vt_http_hdrs_add(&h->hd, which, at, n, !h->in_value);
	h->in_value = true;
	return count(h, n);
}

static int on_headers_complete(http_parser *p)
{
	struct vt_http1 *h = p->data;

	if (p->method == HTTP_GET || p->method == HTTP_HEAD)
		return 0;
	h->reject = 405;
	return -1;
}

static int on_message_complete(http_parser *p)
{
	struct vt_http1 *h = p->data;

	vt_conn_touch(h->c);
	respond(h);
	if (h->stop || vt_conn_unsent(h->c))
		http_parser_pause(p, 1);
	return 0;
}

static const http_parser_settings settings = {
	.on_message_begin = on_begin,
	.on_url = on_url,
	.on_header_field = on_header_field,
	.on_header_value = on_header_value,
	.on_headers_complete = on_headers_complete,
	.on_message_complete = on_message_complete,
};

/* Upgrade requests (h2c, websocket) are declined by answering in HTTP/1.1;
 * the parser stops at them, so it starts afresh for what follows. */
static void restart(struct vt_http1 *h)
{
	http_parser_init(&h->p, HTTP_REQUEST);
	h->p.data = h;
}

static size_t h1_input(void *st, const char *data, size_t len)
{
	struct vt_http1 *h = st;
	size_t off = 0;

	while (!h->stop && off < len && HTTP_PARSER_ERRNO(&h->p) == HPE_OK) {
		enum http_errno e;

		off += http_parser_execute(&h->p, &settings, data + off,
					   len - off);
		e = HTTP_PARSER_ERRNO(&h->p);
		if (e != HPE_OK && e != HPE_PAUSED)
			fail(h, h->reject ? h->reject : 400);
		else if (e == HPE_OK && h->p.upgrade)
			restart(h);
	}
	return h->stop ? len : off;
}

static void h1_written(void *st)
{
	struct vt_http1 *h = st;

	if (h->sub) {
		pump(h);
		return;
	}
	if (h->stop || HTTP_PARSER_ERRNO(&h->p) != HPE_PAUSED ||
	    vt_conn_unsent(h->c))
		return;
	if (h->p.upgrade)
		restart(h);
	else
		http_parser_pause(&h->p, 0);
	vt_conn_resume(h->c);
}

static void *h1_open(struct vt_conn *c)
{
	struct vt_http1 *h = malloc(sizeof(*h));

	if (!h)
		return NULL;
	memset(h, 0, offsetof(struct vt_http1, target));
	h->c = c;
	restart(h);
	return h;
}

static void h1_free(void *st)
{
	struct vt_http1 *h = st;

	vt_sse_sub_free(h->sub);
	free(h);
}

const struct vt_proto vt_http1_proto = {
	.open = h1_open,
	.input = h1_input,
	.written = h1_written,
	.free = h1_free,
};
