/* vt_rec_codec: the recording format's primitives, shared by its encoders
 * and decoders: LEB128 varints, zigzag for signed deltas, and a decoding
 * cursor that turns every overrun into a sticky `bad` instead of a read
 * past the end. */
#ifndef VT_REC_CODEC_H
#define VT_REC_CODEC_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "wire/vt_rec.h"

bool vt_rec_buf_grow(struct vt_rec_buf *b, size_t more);

/* Room for n more bytes: the common case inline, every put being a few
 * bytes. */
static inline bool vt_rec_room(struct vt_rec_buf *b, size_t n)
{
	return (!b->oom && b->cap - b->len >= n) || vt_rec_buf_grow(b, n);
}

static inline void vt_rec_put(struct vt_rec_buf *b, const void *p, size_t n)
{
	if (!n || !vt_rec_room(b, n))	/* nothing: b->p may be NULL */
		return;
	memcpy(b->p + b->len, p, n);
	b->len += n;
}

static inline void vt_rec_put_u(struct vt_rec_buf *b, uint64_t v)
{
	uint8_t *p;

	if (!vt_rec_room(b, 10))
		return;
	p = b->p + b->len;
	for (; v >= 0x80; v >>= 7)
		*p++ = (uint8_t)(v | 0x80);
	*p++ = (uint8_t)v;
	b->len = (size_t)(p - b->p);
}

static inline void vt_rec_put_s(struct vt_rec_buf *b, int64_t v)
{
	vt_rec_put_u(b, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
}

static inline void vt_rec_put_byte(struct vt_rec_buf *b, uint8_t v)
{
	if (vt_rec_room(b, 1))
		b->p[b->len++] = v;
}

struct vt_rec_cur {
	const uint8_t *p, *end;
	bool bad;
};

static inline uint64_t vt_rec_get_u(struct vt_rec_cur *c)
{
	uint64_t v = 0;

	for (unsigned shift = 0; shift < 64; shift += 7) {
		if (c->p >= c->end)
			break;
		v |= (uint64_t)(*c->p & 0x7f) << shift;
		if (!(*c->p++ & 0x80))
			return v;
	}
	c->bad = true;
	return 0;
}

static inline int64_t vt_rec_get_s(struct vt_rec_cur *c)
{
	uint64_t u = vt_rec_get_u(c);

	return (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
}

static inline const uint8_t *vt_rec_get(struct vt_rec_cur *c, uint64_t n)
{
	const uint8_t *p = c->p;

	if (c->bad || n > (uint64_t)(c->end - c->p)) {
		c->bad = true;
		return NULL;
	}
	c->p += n;
	return p;
}

static inline uint8_t vt_rec_get_byte(struct vt_rec_cur *c)
{
	const uint8_t *p = vt_rec_get(c, 1);

	return p ? *p : 0;
}

/* A varint that must not exceed max (a count, an index, a small word). */
static inline uint64_t vt_rec_get_max(struct vt_rec_cur *c, uint64_t max)
{
	uint64_t v = vt_rec_get_u(c);

	if (v > max)
		c->bad = true;
	return v > max ? 0 : v;
}

static inline struct vt_rec_cur vt_rec_cursor(const struct vt_rec *rec)
{
	return (struct vt_rec_cur){ rec->payload, rec->payload + rec->len,
				    false };
}

/* A tick's fields: a tick record's payload, and a keyframe's end. */
int vt_rec_tick_read(struct vt_rec_cur *c, struct vt_rec_tick *t);
void vt_rec_tick_put(struct vt_rec_buf *b, const struct vt_rec_tick *t);
/* A keyframe's figures section: f whole, or none. */
void vt_rec_figures_put(struct vt_rec_buf *b, const struct vt_figures *f);
/* A figures section or record into the model: a record may carry only
 * the values that changed (changed_ok), a keyframe never. Sets c->bad
 * when malformed, the model's figures then unchanged. */
void vt_rec_figures_get(struct vt_rec_cur *c, struct vt_state *s,
			bool changed_ok);
/* The next event of an events record: 0, or -1 when malformed. */
int vt_rec_event_read(struct vt_rec_cur *c, struct vt_rec_events *e,
		      struct vt_event *ev);

#endif /* VT_REC_CODEC_H */
