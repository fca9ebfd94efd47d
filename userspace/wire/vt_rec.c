/* vt_rec: framing, the reader and the records without model state (see
 * vt_rec.h; the format is docs/record-format.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "wire/vt_buf.h"
#include "wire/vt_rec.h"
#include "wire/vt_rec_codec.h"

#define MAX_HITS 64	/* probe counters a tick may carry */

bool vt_rec_buf_grow(struct vt_rec_buf *b, size_t more)
{
	void *p = b->p;

	if (!b->oom && !vt_buf_reserve(&p, &b->cap, b->len + more, 4096))
		b->oom = true;
	b->p = p;
	return !b->oom;
}

void vt_rec_buf_free(struct vt_rec_buf *b)
{
	free(b->p);
	*b = (struct vt_rec_buf){ 0 };
}

void vt_rec_buf_put(struct vt_rec_buf *b, const void *p, size_t n)
{
	vt_rec_put(b, p, n);
}

static void put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get_le32(const uint8_t *p)
{
	return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}

void vt_rec_preamble(struct vt_rec_buf *b)
{
	uint8_t v[8];

	put_le32(v, VT_REC_VERSION);
	put_le32(v + 4, 0);
	vt_rec_put(b, VT_REC_MAGIC, 8);
	vt_rec_put(b, v, sizeof(v));
}

/* ---- frames ---------------------------------------------------------------- */

size_t vt_rec_begin(struct vt_rec_buf *b, enum vt_rec_type t)
{
	uint8_t head[5] = { 0, 0, 0, 0, (uint8_t)t };
	size_t start = b->len;

	vt_rec_put(b, head, sizeof(head));
	return start;
}

/* The checksum covers length, type and payload: a flipped length bit is
 * caught like any other. */
void vt_rec_end(struct vt_rec_buf *b, size_t start)
{
	uint8_t crc[4];
	size_t plen;

	if (b->oom)
		return;
	plen = b->len - start - 5;
	if (plen > VT_REC_MAX_PAYLOAD) {	/* no reader would take it */
		b->oom = true;
		return;
	}
	put_le32(b->p + start, (uint32_t)plen);
	put_le32(crc, (uint32_t)crc32(0, b->p + start, (uInt)(plen + 5)));
	vt_rec_put(b, crc, sizeof(crc));
}

/* ---- reading ---------------------------------------------------------------- */

int vt_rec_open(struct vt_rec_reader *r, const uint8_t *p, size_t len)
{
	*r = (struct vt_rec_reader){ .p = p, .len = len };
	if (len < 8 || memcmp(p, VT_REC_MAGIC, 8)) {
		snprintf(r->err, sizeof(r->err), "not a valk-trace recording "
			 "(no VALKREC magic)");
		return -1;
	}
	if (len < VT_REC_PREAMBLE) {
		snprintf(r->err, sizeof(r->err), "recording cut short in its "
			 "preamble (%zu bytes)", len);
		return -1;
	}
	r->version = get_le32(p + 8);
	if (r->version == 0 || r->version > VT_REC_VERSION) {
		snprintf(r->err, sizeof(r->err), "recording format version %u; "
			 "this valk-trace reads versions 1 to %u: use a newer "
			 "valk-trace", r->version, VT_REC_VERSION);
		return -1;
	}
	r->off = VT_REC_PREAMBLE;
	return 0;
}

static int bad_record(struct vt_rec_reader *r, const char *what)
{
	snprintf(r->err, sizeof(r->err), "%s at byte %zu; the %zu bytes "
		 "before it are intact", what, r->off, r->off);
	return -1;
}

int vt_rec_next(struct vt_rec_reader *r, struct vt_rec *rec)
{
	const uint8_t *h = r->p + r->off;
	size_t left = r->len - r->off;
	uint32_t plen;

	if (!left)
		return 0;
	if (left < VT_REC_FRAME)
		return bad_record(r, "recording cut short in a record header");
	plen = get_le32(h);
	if (plen > VT_REC_MAX_PAYLOAD || h[4] == 0)
		return bad_record(r, "corrupt record");
	if (left - VT_REC_FRAME < plen)
		return bad_record(r, "recording cut short in a record");
	if (crc32(0, h, plen + 5) != get_le32(h + 5 + plen))
		return bad_record(r, "corrupt record (checksum mismatch)");
	*rec = (struct vt_rec){ .type = h[4], .payload = h + 5, .len = plen,
				.off = r->off };
	r->off += plen + VT_REC_FRAME;
	return 1;
}

/* ---- records without state ---------------------------------------------- */

void vt_rec_header(struct vt_rec_buf *b, const char *json)
{
	size_t start = vt_rec_begin(b, VT_REC_HEADER);

	vt_rec_put(b, json, strlen(json));
	vt_rec_end(b, start);
}

char *vt_rec_header_json(const struct vt_rec *rec)
{
	char *s;

	if (rec->type != VT_REC_HEADER || memchr(rec->payload, 0, rec->len))
		return NULL;
	s = malloc(rec->len + 1);
	if (!s)
		return NULL;
	memcpy(s, rec->payload, rec->len);
	s[rec->len] = 0;
	return s;
}

void vt_rec_tick_put(struct vt_rec_buf *b, const struct vt_rec_tick *t)
{
	const struct vt_state_counters *c = &t->counters;
	uint64_t up;

	memcpy(&up, &t->uptime_s, sizeof(up));
	vt_rec_put_u(b, t->now_ms);
	vt_rec_put_u(b, t->wall_ms);
	vt_rec_put_u(b, up);
	vt_rec_put_u(b, t->rss);
	vt_rec_put_u(b, t->vms);
	vt_rec_put_u(b, t->system_total);
	vt_rec_put_u(b, c->events);
	vt_rec_put_u(b, c->lost);
	vt_rec_put_u(b, c->resyncs);
	vt_rec_put_u(b, c->ignored);
	vt_rec_put_u(b, VT_P_COUNT);
	for (int i = 0; i < VT_P_COUNT; i++)
		vt_rec_put_u(b, c->probe_hits[i]);
}

void vt_rec_tick(struct vt_rec_buf *b, const struct vt_rec_tick *t)
{
	size_t start = vt_rec_begin(b, VT_REC_TICK);

	vt_rec_tick_put(b, t);
	vt_rec_end(b, start);
}

/* A tick's fields, from a tick record or the end of a keyframe. */
int vt_rec_tick_read(struct vt_rec_cur *c, struct vt_rec_tick *t)
{
	struct vt_state_counters *k = &t->counters;
	uint64_t up, n;

	*t = (struct vt_rec_tick){ 0 };
	t->now_ms = vt_rec_get_u(c);
	t->wall_ms = vt_rec_get_u(c);
	up = vt_rec_get_u(c);
	memcpy(&t->uptime_s, &up, sizeof(up));
	t->rss = vt_rec_get_u(c);
	t->vms = vt_rec_get_u(c);
	t->system_total = vt_rec_get_u(c);
	k->events = vt_rec_get_u(c);
	k->lost = vt_rec_get_u(c);
	k->resyncs = vt_rec_get_u(c);
	k->ignored = vt_rec_get_u(c);
	n = vt_rec_get_max(c, MAX_HITS);
	for (uint64_t i = 0; i < n && !c->bad; i++) {
		uint64_t h = vt_rec_get_u(c);

		if (i < VT_P_COUNT)	/* a newer build's extra probes */
			k->probe_hits[i] = h;
	}
	return c->bad ? -1 : 0;
}

int vt_rec_tick_decode(const struct vt_rec *rec, struct vt_rec_tick *t)
{
	struct vt_rec_cur c = vt_rec_cursor(rec);

	return rec->type == VT_REC_TICK ? vt_rec_tick_read(&c, t) : -1;
}

void vt_rec_gap(struct vt_rec_buf *b, const struct vt_rec_gap *g)
{
	size_t start = vt_rec_begin(b, VT_REC_GAP);

	vt_rec_put_u(b, g->records);
	vt_rec_put_u(b, g->bytes);
	vt_rec_put_u(b, g->from_ms);
	vt_rec_put_u(b, g->to_ms);
	vt_rec_end(b, start);
}

int vt_rec_gap_decode(const struct vt_rec *rec, struct vt_rec_gap *g)
{
	struct vt_rec_cur c = vt_rec_cursor(rec);

	if (rec->type != VT_REC_GAP)
		return -1;
	g->records = vt_rec_get_u(&c);
	g->bytes = vt_rec_get_u(&c);
	g->from_ms = vt_rec_get_u(&c);
	g->to_ms = vt_rec_get_u(&c);
	return c.bad ? -1 : 0;
}

void vt_rec_end_record(struct vt_rec_buf *b, uint64_t now_ms)
{
	size_t start = vt_rec_begin(b, VT_REC_END);

	vt_rec_put_u(b, now_ms);
	vt_rec_end(b, start);
}
