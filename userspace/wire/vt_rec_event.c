/* vt_rec: events records. Each field is a small delta against what came
 * before in the same record — the time against the previous event, a slot
 * and a bitmap_version against the same slab's previous event — so an
 * acquire or a release takes 6 to 9 bytes. The context starts empty in
 * every record: a record decodes alone. */
#include <string.h>

#include "wire/vt_rec.h"
#include "wire/vt_rec_codec.h"

#define NSLABS (sizeof(((struct vt_rec_events *)0)->slabs) / \
		sizeof(struct vt_rec_slabctx))
#define HEAD_TYPE 0x0f		/* 0: type 0 or one past 15 follows */
#define HEAD_SAME_TID 0x10
#define HEAD_SAME_PROBE 0x20
#define HEAD_RESERVED 0xc0

void vt_rec_events_begin(struct vt_rec_buf *b, struct vt_rec_events *e)
{
	*e = (struct vt_rec_events){ .start = vt_rec_begin(b, VT_REC_EVENTS) };
}

void vt_rec_events_end(struct vt_rec_buf *b, struct vt_rec_events *e)
{
	vt_rec_end(b, e->start);
}

/* The slab's index in the record's table: written as the index, or as the
 * table's size followed by the address for a slab not in it yet. */
static size_t slab_put(struct vt_rec_buf *b, struct vt_rec_events *e,
		       uint64_t addr)
{
	size_t i;

	for (i = 0; i < e->nslabs; i++)
		if (e->slabs[i].addr == addr) {
			vt_rec_put_u(b, i);
			return i;
		}
	vt_rec_put_u(b, e->nslabs);
	vt_rec_put_u(b, addr);
	if (e->nslabs == NSLABS)	/* full: this one stays out */
		return SIZE_MAX;
	e->slabs[e->nslabs] = (struct vt_rec_slabctx){ .addr = addr };
	return e->nslabs++;
}

static size_t slab_get(struct vt_rec_cur *c, struct vt_rec_events *e,
		       __u64 *addr)
{
	uint64_t i = vt_rec_get_max(c, e->nslabs);

	if (i < e->nslabs) {
		*addr = e->slabs[i].addr;
		return i;
	}
	*addr = vt_rec_get_u(c);
	if (c->bad || e->nslabs == NSLABS)
		return SIZE_MAX;
	e->slabs[e->nslabs] = (struct vt_rec_slabctx){ .addr = *addr };
	return e->nslabs++;
}

/* The slab context an index names, or a throwaway one when the table was
 * full (both sides then code against zeros). */
static struct vt_rec_slabctx *slab_ctx(struct vt_rec_events *e, size_t i,
				       struct vt_rec_slabctx *scratch)
{
	if (i != SIZE_MAX)
		return &e->slabs[i];
	*scratch = (struct vt_rec_slabctx){ 0 };
	return scratch;
}

static void put_slot(struct vt_rec_buf *b, struct vt_rec_events *e,
		     uint64_t addr, uint64_t slot, uint64_t version,
		     const __u64 *peak)
{
	struct vt_rec_slabctx scratch, *x = slab_ctx(e, slab_put(b, e, addr),
						   &scratch);

	vt_rec_put_s(b, (int64_t)(slot - x->slot));
	vt_rec_put_s(b, (int64_t)(version - x->version - 1));
	x->slot = slot;
	x->version = version;
	if (peak) {
		vt_rec_put_s(b, (int64_t)(*peak - x->peak));
		x->peak = *peak;
	}
}

static void get_slot(struct vt_rec_cur *c, struct vt_rec_events *e,
		     __u64 *addr, __u64 *slot, __u64 *version, __u64 *peak)
{
	struct vt_rec_slabctx scratch, *x = slab_ctx(e, slab_get(c, e, addr),
						   &scratch);

	x->slot = *slot = x->slot + (uint64_t)vt_rec_get_s(c);
	x->version = *version = x->version + 1 + (uint64_t)vt_rec_get_s(c);
	if (peak)
		x->peak = *peak = x->peak + (uint64_t)vt_rec_get_s(c);
}

static void put_body(struct vt_rec_buf *b, struct vt_rec_events *e,
		     const struct vt_event *ev)
{
	size_t n;

	switch (ev->type) {
	case VT_EV_ACQUIRE:
		put_slot(b, e, ev->acquire.slab, ev->acquire.slot,
			 ev->acquire.version, &ev->acquire.peak);
		vt_rec_put_u(b, ev->acquire.stack);
		break;
	case VT_EV_RELEASE:
		put_slot(b, e, ev->release.slab, ev->release.slot,
			 ev->release.version, NULL);
		break;
	case VT_EV_ACQUIRE_FAIL:
		slab_put(b, e, ev->acquire_fail.slab);
		break;
	case VT_EV_SLAB_NEW:
		slab_put(b, e, ev->slab_new.slab);
		vt_rec_put_u(b, ev->slab_new.item_size);
		vt_rec_put_u(b, ev->slab_new.num_items);
		break;
	case VT_EV_SLAB_FREE:
		slab_put(b, e, ev->slab_free.slab);
		break;
	case VT_EV_AIO_START:
		vt_rec_put_u(b, ev->aio_start.sys);
		break;
	case VT_EV_CONN:
		vt_rec_put_s(b, (int64_t)(ev->conn.handle - e->handle));
		e->handle = ev->conn.handle;
		vt_rec_put_u(b, ev->conn.kind);
		vt_rec_put_u(b, ev->conn.diag);
		vt_rec_put_u(b, ev->conn.owner);
		break;
	case VT_EV_OWNER:
		n = strnlen(ev->owner.name, VT_NAME_LEN);
		vt_rec_put_u(b, ev->owner.sys);
		vt_rec_put_u(b, ev->owner.index);
		vt_rec_put_u(b, n);
		vt_rec_put(b, ev->owner.name, n);
		break;
	}
}

static void get_body(struct vt_rec_cur *c, struct vt_rec_events *e,
		     struct vt_event *ev)
{
	const uint8_t *name;
	uint64_t n;

	switch (ev->type) {
	case VT_EV_ACQUIRE:
		get_slot(c, e, &ev->acquire.slab, &ev->acquire.slot,
			 &ev->acquire.version, &ev->acquire.peak);
		ev->acquire.stack = (uint32_t)vt_rec_get_max(c, UINT32_MAX);
		break;
	case VT_EV_RELEASE:
		get_slot(c, e, &ev->release.slab, &ev->release.slot,
			 &ev->release.version, NULL);
		break;
	case VT_EV_ACQUIRE_FAIL:
		slab_get(c, e, &ev->acquire_fail.slab);
		break;
	case VT_EV_SLAB_NEW:
		slab_get(c, e, &ev->slab_new.slab);
		ev->slab_new.item_size = vt_rec_get_u(c);
		ev->slab_new.num_items = vt_rec_get_u(c);
		break;
	case VT_EV_SLAB_FREE:
		slab_get(c, e, &ev->slab_free.slab);
		break;
	case VT_EV_AIO_START:
		ev->aio_start.sys = vt_rec_get_u(c);
		break;
	case VT_EV_CONN:
		e->handle = ev->conn.handle = e->handle +
					      (uint64_t)vt_rec_get_s(c);
		ev->conn.kind = (uint32_t)vt_rec_get_max(c, UINT32_MAX);
		ev->conn.diag = (uint32_t)vt_rec_get_max(c, UINT32_MAX);
		ev->conn.owner = (uint16_t)vt_rec_get_max(c, UINT16_MAX);
		break;
	case VT_EV_OWNER:
		ev->owner.sys = vt_rec_get_u(c);
		ev->owner.index = (uint32_t)vt_rec_get_max(c, UINT32_MAX);
		n = vt_rec_get_max(c, VT_NAME_LEN);
		if ((name = vt_rec_get(c, n)))
			memcpy(ev->owner.name, name, n);
		break;
	}
}

void vt_rec_event(struct vt_rec_buf *b, struct vt_rec_events *e,
		  const struct vt_event *ev)
{
	unsigned t = ev->type < 16 ? ev->type : 0;
	uint8_t head = (uint8_t)t;

	head |= ev->tid == e->tid ? HEAD_SAME_TID : 0;
	head |= ev->probe == e->probe[t] ? HEAD_SAME_PROBE : 0;
	vt_rec_put_byte(b, head);
	if (!t)
		vt_rec_put_u(b, ev->type);
	vt_rec_put_s(b, (int64_t)(ev->ts_ns - e->ts));
	if (!(head & HEAD_SAME_TID))
		vt_rec_put_u(b, ev->tid);
	if (!(head & HEAD_SAME_PROBE))
		vt_rec_put_u(b, ev->probe);
	e->ts = ev->ts_ns;
	e->tid = ev->tid;
	e->probe[t] = ev->probe;
	put_body(b, e, ev);
}

/* The next event of a record: 0, or -1 when malformed. */
int vt_rec_event_read(struct vt_rec_cur *c, struct vt_rec_events *e,
		      struct vt_event *ev)
{
	uint8_t head = vt_rec_get_byte(c);
	unsigned t = head & HEAD_TYPE;

	memset(ev, 0, sizeof(*ev));
	if (head & HEAD_RESERVED)
		return -1;
	ev->type = t ? t : (uint32_t)vt_rec_get_max(c, UINT32_MAX);
	if (!t && ev->type && ev->type < 16)	/* those have their nibble */
		return -1;
	e->ts = ev->ts_ns = e->ts + (uint64_t)vt_rec_get_s(c);
	e->tid = ev->tid = head & HEAD_SAME_TID
		? e->tid : (uint32_t)vt_rec_get_max(c, UINT32_MAX);
	e->probe[t] = ev->probe = head & HEAD_SAME_PROBE
		? e->probe[t] : (uint16_t)vt_rec_get_max(c, UINT16_MAX);
	get_body(c, e, ev);
	return c->bad ? -1 : 0;
}
