/* vt_http2: cleartext HTTP/2 (prior knowledge) through nghttp2's server
 * session.
 *
 * Input goes to nghttp2_session_mem_recv; output is drained with
 * nghttp2_session_mem_send into one write at a time, so a client that
 * stops reading leaves frames in nghttp2 (bounded by its own limits) and
 * events in the subscriber queues (bounded, with resync), never in an
 * unbounded write queue. An SSE response is a stream whose data source
 * defers while nothing is queued and is resumed by each publish; nghttp2
 * applies the peer's flow-control windows. Protocol errors end the
 * connection with GOAWAY. */
#include <nghttp2/nghttp2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include "serve/vt_http2.h"

#define VT_H2_HEADER_MAX (16 * 1024)	/* as SETTINGS_MAX_HEADER_LIST_SIZE */
#define VT_H2_TARGET_MAX (8 * 1024)
#define VT_H2_WRITE (64 * 1024)		/* output gathered per write */
#define VT_H2_STREAMS 100

struct vt_http2;

struct h2_stream {
	struct vt_http2 *h2;
	int32_t id;
	LIST_ENTRY(h2_stream) link;
	size_t hdr_bytes;
	int reject;		/* status to answer instead of routing */
	bool head, has_method;
	char *target;
	size_t target_len;
	struct vt_http_hdrs hd;		/* the headers the server keeps */
	struct vt_http_response resp;	/* plain response being sent */
	size_t sent, held;		/* body bytes sent, and held unsent */
	struct vt_sse_sub *sub;
};

struct vt_http2 {
	struct vt_conn *c;
	nghttp2_session *s;
	LIST_HEAD(, h2_stream) streams;
	bool busy;		/* inside nghttp2: no mem_send now */
};

static void pump(struct vt_http2 *h2);

static void stream_free(struct h2_stream *st)
{
	vt_conn_unhold(st->h2->c, st->held, false);
	LIST_REMOVE(st, link);
	vt_sse_sub_free(st->sub);
	free(st->resp.body);
	free(st->target);
	free(st);
}

static ssize_t body_read(nghttp2_session *s, int32_t id, uint8_t *buf,
			 size_t len, uint32_t *flags, nghttp2_data_source *src,
			 void *ud)
{
	struct h2_stream *st = src->ptr;
	size_t left = st->resp.len - st->sent;

	(void)s, (void)id, (void)ud;
	if (len > left)
		len = left;
	memcpy(buf, st->resp.body + st->sent, len);
	st->sent += len;
	st->held -= len;
	vt_conn_unhold(st->h2->c, len, true);
	if (st->sent == st->resp.len) {
		*flags |= NGHTTP2_DATA_FLAG_EOF;
		free(st->resp.body);	/* all of it is nghttp2's now */
		st->resp.body = NULL;
	}
	return len;
}

static ssize_t sse_read(nghttp2_session *s, int32_t id, uint8_t *buf,
			size_t len, uint32_t *flags, nghttp2_data_source *src,
			void *ud)
{
	struct h2_stream *st = src->ptr;
	size_t n = vt_sse_sub_read(st->sub, buf, len);

	(void)s, (void)id, (void)flags, (void)ud;
	return n ? (ssize_t)n : NGHTTP2_ERR_DEFERRED;
}

/* A publish queued data for the stream. */
static void wake(void *arg)
{
	struct h2_stream *st = arg;

	nghttp2_session_resume_data(st->h2->s, st->id);
	pump(st->h2);
}

#define NV(n, v) { (uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, strlen(v), \
		   NGHTTP2_NV_FLAG_NO_COPY_NAME }

static void respond(struct h2_stream *st)
{
	struct vt_http2 *h2 = st->h2;
	struct vt_http_response *r = &st->resp;
	enum vt_reply k = VT_REPLY_PLAIN;
	char status[8], length[24], retry[16];
	nghttp2_data_provider prd = { .source.ptr = st };
	nghttp2_nv nv[8];
	size_t n = 0;

	if (!st->reject && (!st->has_method || !st->target))
		st->reject = 400;
	if (st->reject)
		vt_http_error(r, st->reject);
	else
		k = vt_http_dispatch(h2->c, st->target, st->target_len,
				     &st->hd, wake, st, r,
				     st->head ? NULL : &st->sub);
	snprintf(status, sizeof(status), "%d", r->status);
	snprintf(length, sizeof(length), "%zu", r->len);
	nv[n++] = (nghttp2_nv)NV(":status", status);
	nv[n++] = (nghttp2_nv)NV("content-type", r->content_type);
	if (r->cache_control)
		nv[n++] = (nghttp2_nv)NV("cache-control", r->cache_control);
	if (r->set_cookie)
		nv[n++] = (nghttp2_nv)NV("set-cookie", r->set_cookie);
	if (r->status == 401)
		nv[n++] = (nghttp2_nv)NV("www-authenticate", "Bearer");
	if (r->retry_after) {
		snprintf(retry, sizeof(retry), "%u", r->retry_after);
		nv[n++] = (nghttp2_nv)NV("retry-after", retry);
	}
	if (k == VT_REPLY_SSE)
		nv[n++] = (nghttp2_nv)NV("x-accel-buffering", "no");
	else
		nv[n++] = (nghttp2_nv)NV("content-length", length);
	if (r->status == 405)
		nv[n++] = (nghttp2_nv)NV("allow", "GET, HEAD");
	prd.read_callback = k == VT_REPLY_SSE ? sse_read : body_read;
	/* bodies held for a client that does not read are capped: past the
	 * cap a stream is refused (the client may retry it) */
	if (k == VT_REPLY_PLAIN && !st->head && r->len) {
		if (!vt_conn_hold(h2->c, r->len)) {
			nghttp2_submit_rst_stream(h2->s, NGHTTP2_FLAG_NONE,
						  st->id, NGHTTP2_REFUSED_STREAM);
			return;
		}
		st->held = r->len;
	}
	nghttp2_submit_response(h2->s, st->id, nv, n,
				st->sub || (!st->head && r->len) ? &prd : NULL);
}

static int on_begin_headers(nghttp2_session *s, const nghttp2_frame *f,
			    void *ud)
{
	struct vt_http2 *h2 = ud;
	struct h2_stream *st;

	if (f->hd.type != NGHTTP2_HEADERS ||
	    f->headers.cat != NGHTTP2_HCAT_REQUEST)
		return 0;
	st = calloc(1, sizeof(*st));
	if (!st)
		return NGHTTP2_ERR_CALLBACK_FAILURE;
	st->h2 = h2;
	st->id = f->hd.stream_id;
	LIST_INSERT_HEAD(&h2->streams, st, link);
	nghttp2_session_set_stream_user_data(s, st->id, st);
	return 0;
}

static bool is(const uint8_t *a, size_t n, const char *b)
{
	return n == strlen(b) && !memcmp(a, b, n);
}

static int on_header(nghttp2_session *s, const nghttp2_frame *f,
		     const uint8_t *name, size_t namelen, const uint8_t *value,
		     size_t valuelen, uint8_t flags, void *ud)
{
	struct h2_stream *st =
		nghttp2_session_get_stream_user_data(s, f->hd.stream_id);

	(void)flags, (void)ud;
	if (!st || st->reject)
		return 0;
	st->hdr_bytes += namelen + valuelen + 32;	/* RFC 9113 6.5.2 */
	if (st->hdr_bytes > VT_H2_HEADER_MAX) {
		st->reject = 431;
	} else if (is(name, namelen, ":method")) {
		st->has_method = true;
		st->head = is(value, valuelen, "HEAD");
		if (!st->head && !is(value, valuelen, "GET"))
			st->reject = 405;
	} else if (vt_http_hdrs_which((const char *)name, namelen) >= 0) {
		vt_http_hdrs_add(&st->hd,
				 vt_http_hdrs_which((const char *)name, namelen),
				 (const char *)value, valuelen, true);
	} else if (is(name, namelen, ":path")) {
		if (st->target)
			st->reject = 400;
		else if (valuelen > VT_H2_TARGET_MAX)
			st->reject = 414;
		else if (!(st->target = strndup((const char *)value, valuelen)))
			return NGHTTP2_ERR_CALLBACK_FAILURE;
		else
			st->target_len = valuelen;
	}
	return 0;
}

static int on_frame_recv(nghttp2_session *s, const nghttp2_frame *f, void *ud)
{
	struct h2_stream *st;

	(void)ud;
	if ((f->hd.type != NGHTTP2_HEADERS && f->hd.type != NGHTTP2_DATA) ||
	    !(f->hd.flags & NGHTTP2_FLAG_END_STREAM))
		return 0;
	st = nghttp2_session_get_stream_user_data(s, f->hd.stream_id);
	if (st) {
		vt_conn_touch(st->h2->c);
		respond(st);
	}
	return 0;
}

static int on_stream_close(nghttp2_session *s, int32_t id, uint32_t err,
			   void *ud)
{
	struct h2_stream *st = nghttp2_session_get_stream_user_data(s, id);

	(void)err, (void)ud;
	if (st)
		stream_free(st);
	return 0;
}

/* Drains nghttp2's output into one write; closes once the session is
 * done (GOAWAY sent or received and nothing left to say). */
static void pump(struct vt_http2 *h2)
{
	char *out = NULL;
	size_t len = 0;
	ssize_t n = 0;
	uv_buf_t b;

	if (h2->busy || vt_conn_busy(h2->c))
		return;
	h2->busy = true;
	while (len < VT_H2_WRITE) {
		const uint8_t *d;
		char *grown;

		n = nghttp2_session_mem_send(h2->s, &d);
		if (n <= 0)
			break;
		grown = realloc(out, len + n);
		if (!grown) {
			n = NGHTTP2_ERR_NOMEM;
			break;
		}
		out = grown;
		memcpy(out + len, d, n);
		len += n;
	}
	h2->busy = false;
	if (n < 0) {
		free(out);
		vt_conn_close(h2->c);
		return;
	}
	b = uv_buf_init(out, len);
	if (len)
		vt_conn_write(h2->c, &b, 1, out, NULL, 0);
	if (!nghttp2_session_want_read(h2->s) &&
	    !nghttp2_session_want_write(h2->s))
		vt_conn_finish(h2->c);
}

static size_t h2_input(void *state, const char *data, size_t len)
{
	struct vt_http2 *h2 = state;
	ssize_t n;

	h2->busy = true;
	n = nghttp2_session_mem_recv(h2->s, (const uint8_t *)data, len);
	h2->busy = false;
	if (n < 0)
		nghttp2_session_terminate_session(h2->s, NGHTTP2_PROTOCOL_ERROR);
	pump(h2);
	return len;
}

static void h2_written(void *state)
{
	pump(state);
}

static void h2_free(void *state)
{
	struct vt_http2 *h2 = state;

	nghttp2_session_del(h2->s);	/* runs no callbacks */
	while (!LIST_EMPTY(&h2->streams))
		stream_free(LIST_FIRST(&h2->streams));
	free(h2);
}

static void *h2_open(struct vt_conn *c)
{
	static const nghttp2_settings_entry settings[] = {
		{ NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, VT_H2_STREAMS },
		{ NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, VT_H2_HEADER_MAX },
	};
	struct vt_http2 *h2 = calloc(1, sizeof(*h2));
	nghttp2_session_callbacks *cb;
	int rc;

	if (!h2 || nghttp2_session_callbacks_new(&cb)) {
		free(h2);
		return NULL;
	}
	nghttp2_session_callbacks_set_on_begin_headers_callback(cb, on_begin_headers);
	nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame_recv);
	nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_stream_close);
	rc = nghttp2_session_server_new(&h2->s, cb, h2);
	nghttp2_session_callbacks_del(cb);
	if (rc || nghttp2_submit_settings(h2->s, NGHTTP2_FLAG_NONE, settings,
					  sizeof(settings) / sizeof(*settings))) {
		if (!rc)
			nghttp2_session_del(h2->s);
		free(h2);
		return NULL;
	}
	h2->c = c;
	LIST_INIT(&h2->streams);
	return h2;
}

const struct vt_proto vt_http2_proto = {
	.open = h2_open,
	.input = h2_input,
	.written = h2_written,
	.free = h2_free,
};
