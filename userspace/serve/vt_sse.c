/* vt_sse: SSE channels and subscriber queues (see vt_server.h for the
 * streaming contract). A published event is formatted once into a
 * refcounted buffer; each subscriber's bounded ring queue holds references
 * to it. */
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serve/vt_server_int.h"

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

struct vt_sse_buf *vt_sse__buf_from(struct vt_server *srv, const char *s)
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

static void sub_push(struct vt_sse_sub *s, struct vt_sse_buf *b)
{
	struct vt_server *srv = s->conn->srv;

	/* every caller checks for room first: a full ring would overwrite */
	assert(s->len < srv->opts.queue_max);
	vt_conn__mark_busy(s->conn);
	s->q[(s->head + s->len) % srv->opts.queue_max] = buf_ref(b);
	s->len++;
	s->bytes += b->len;
	s->conn->queued++;
	s->queued_ms = vt_server__now_ms(srv);
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

void vt_sse__sub_detach(struct vt_sse_sub *s)
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
	vt_sse__sub_detach(s);
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

/* The channel's events after Last-Event-ID `last` when it still holds
 * them all and they fit the queue beside "retry:": queued, true. Else (no
 * id, not a number, not one of ours, too old) false: a full state. */
static bool sub_resume(struct vt_sse_sub *s, const char *last)
{
	struct vt_sse_channel *ch = s->ch;
	unsigned long long id;
	char *end;

	if (*last < '0' || *last > '9')
		return false;
	errno = 0;
	id = strtoull(last, &end, 10);
	if (*end || errno || !ch->id || id > ch->id ||
	    ch->id - id > ch->nbacklog ||
	    ch->id - id >= s->conn->srv->opts.queue_max - 1)
		return false;
	for (uint64_t i = id + 1; i <= ch->id; i++)
		sub_push(s, ch->backlog[i % VT_SSE_BACKLOG]);
	return true;
}

struct vt_sse_sub *vt_sse__sub_new(struct vt_sse_channel *ch, struct vt_conn *c,
				  const char *last_id, void (*wake)(void *),
				  void *arg)
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
	s->needs_full = !sub_resume(s, last_id);
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
	if (ch->nbacklog == VT_SSE_BACKLOG)
		vt_sse_buf_unref(ch->backlog[id % VT_SSE_BACKLOG]);
	else
		ch->nbacklog++;
	ch->backlog[id % VT_SSE_BACKLOG] = buf_ref(b);
	/* A wake may write, fail and close the connection, detaching s. */
	for (s = LIST_FIRST(&ch->subs); s; s = next) {
		next = LIST_NEXT(s, ch_link);
		sub_offer(s, b, is_full);
	}
	vt_sse_buf_unref(b);
	return id;
}

void vt_sse__channel_free(struct vt_sse_channel *ch)
{
	while (!LIST_EMPTY(&ch->subs))
		vt_sse__sub_detach(LIST_FIRST(&ch->subs));
	LIST_REMOVE(ch, link);
	vt_sse_buf_unref(ch->cache);
	for (unsigned i = 0; i < ch->nbacklog; i++)
		vt_sse_buf_unref(ch->backlog[(ch->id - i) % VT_SSE_BACKLOG]);
	free(ch->path);
	free(ch->full_event);
	free(ch);
}


struct vt_sse_channel *vt_sse__find(struct vt_server *srv,
					   const char *path)
{
	struct vt_sse_channel *ch;

	LIST_FOREACH(ch, &srv->channels, link)
		if (!strcmp(ch->path, path))
			return ch;
	return NULL;
}

void vt_sse__keepalive(struct vt_server *srv, uint64_t now)
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
