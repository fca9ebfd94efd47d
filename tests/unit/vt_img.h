/* Slab images built by hand for the unit tests of the state model and the
 * encoders: a runtime-like geometry (96-byte slab header, 16-byte item
 * header, 944-byte handles, stride 960), arrays sized for `total` slots. */
#ifndef VT_IMG_H
#define VT_IMG_H

#include <stdlib.h>
#include <string.h>

#include "model/vt_state.h"

#define IMG_HEAP_OFF 96
#define IMG_DATA_OFF 16
#define IMG_ITEM 944
/* The bitmap_version an event read: later than any image of the tests. */
#define IMG_AFTER (1ull << 40)

struct img {
	struct vt_slab_image v;
	uint8_t *bm;
	uint32_t *kinds, *diags;
	uint16_t *owners;
};

static inline void img_init_sys(struct img *m, uint64_t addr,
				enum vt_slab_kind kind, uint64_t total,
				int system)
{
	memset(m, 0, sizeof(*m));
	m->bm = calloc((total + 7) / 8, 1);
	m->kinds = calloc(total, sizeof(*m->kinds));
	m->diags = calloc(total, sizeof(*m->diags));
	m->owners = calloc(total, sizeof(*m->owners));
	m->v = (struct vt_slab_image){
		.addr = addr, .system = system, .kind = kind,
		.item_size = IMG_ITEM, .total = total,
		.heap_off = IMG_HEAP_OFF, .data_off = IMG_DATA_OFF,
		.bitmap = m->bm,
	};
	if (kind == VT_SLAB_HANDLES) {
		m->v.kinds = m->kinds;
		m->v.diags = m->diags;
		m->v.owners = m->owners;
	}
}

static inline void img_fini(struct img *m)
{
	free(m->bm);
	free(m->kinds);
	free(m->diags);
	free(m->owners);
}

/* Mark slot used with a handle kind/diag/owner; used count follows. */
static inline void img_use(struct img *m, uint64_t slot, uint32_t kind,
			   uint32_t diag, uint16_t owner)
{
	if (!(m->bm[slot / 8] >> (slot % 8) & 1))
		m->v.used++;
	m->bm[slot / 8] |= (uint8_t)(1u << (slot % 8));
	m->kinds[slot] = kind;
	m->diags[slot] = diag;
	m->owners[slot] = owner;
}

/* An event about a slab (acquire, release, acquire failure, slab
 * lifecycle) or one of its slots; slot changes read version IMG_AFTER. */
static inline struct vt_event img_ev(uint32_t type, uint64_t slab,
				     uint64_t slot, uint64_t ts_ns)
{
	struct vt_event ev = { .type = type, .ts_ns = ts_ns };

	switch (type) {
	case VT_EV_ACQUIRE:
		ev.acquire = (struct vt_ev_acquire){ slab, slot, IMG_AFTER, 0, 0, 0 };
		break;
	case VT_EV_RELEASE:
		ev.release = (struct vt_ev_release){ slab, slot, IMG_AFTER };
		break;
	case VT_EV_SLAB_NEW:
		ev.slab_new.slab = slab;
		break;
	case VT_EV_SLAB_FREE:
		ev.slab_free.slab = slab;
		break;
	default:	/* an acquire failure, or a type no one knows */
		ev.acquire_fail.slab = slab;
	}
	return ev;
}

#endif /* VT_IMG_H */
