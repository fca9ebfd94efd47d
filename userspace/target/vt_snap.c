#include "target/vt_snap.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "target/vt_mem.h"
#include "target/vt_proc.h"

#define VERSION_TRIES 64
#define HDR_MAX 512
/* bitmap_version counts bitmap changes, total_acquires + total_releases the
 * operations that finished: they differ by the operations in flight. */
#define VERSION_SLACK 4096
/* Buffers are sized for the largest slab of the last SHRINK_EVERY reads:
 * a slab that shrinks or is rejected gives its memory back. */
#define SHRINK_EVERY 64

struct vt_snap {
	const struct vt_mem *mem;
	const struct vt_layout *l;
	uint64_t bias;
	uint64_t valk_sys;	/* address of the valk_sys pointer */
	struct vt_mem_regions maps;	/* cached; read again on a miss */
	/* per-slab buffers, grown as needed, reused across calls */
	size_t cap, want, reads;
	uint8_t *bitmap;
	uint32_t *kinds, *diags;
	uint16_t *owners;
	struct vt_mem_span *spans;
	char problem[256];
};

#define OFF(s, id) ((s)->l->off[VT_L_##id])

struct vt_snap *vt_snap_new(const struct vt_mem *mem, const struct vt_layout *l,
			    uint64_t bias, uint64_t valk_sys)
{
	struct vt_snap *s = calloc(1, sizeof(*s));

	if (s) {
		s->mem = mem;
		s->l = l;
		s->bias = bias;
		s->valk_sys = valk_sys;
	}
	return s;
}

void vt_snap_free(struct vt_snap *s)
{
	if (!s)
		return;
	free(s->bitmap);
	free(s->kinds);
	free(s->diags);
	free(s->owners);
	free(s->spans);
	vt_mem_regions_free(&s->maps);
	free(s);
}

const char *vt_snap_problem(const struct vt_snap *s)
{
	return s->problem;
}

/* A structure read from the target that cannot be what it claims: the
 * reason goes to vt_snap_problem, errno is EPROTO. */
static int implausible(struct vt_snap *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int implausible(struct vt_snap *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s->problem, sizeof(s->problem), fmt, ap);
	va_end(ap);
	errno = EPROTO;
	return -1;
}

/* Whether len bytes at addr are readable memory of the target: the cached
 * maps first, read again once when they do not cover it. */
static bool mapped(struct vt_snap *s, uint64_t addr, uint64_t len)
{
	if (vt_mem_regions_cover(&s->maps, addr, len))
		return true;
	return vt_mem_regions_load(s->mem, &s->maps) == 0 &&
	       vt_mem_regions_cover(&s->maps, addr, len);
}

static int resize(struct vt_snap *s, size_t total)
{
	void *b, *k, *d, *o, *sp;

	if (total < 1)
		total = 1;
	b = realloc(s->bitmap, (total + 7) / 8);
	if (b)
		s->bitmap = b;
	k = realloc(s->kinds, total * sizeof(*s->kinds));
	if (k)
		s->kinds = k;
	d = realloc(s->diags, total * sizeof(*s->diags));
	if (d)
		s->diags = d;
	o = realloc(s->owners, total * sizeof(*s->owners));
	if (o)
		s->owners = o;
	sp = realloc(s->spans, 3 * total * sizeof(*s->spans));
	if (sp)
		s->spans = sp;
	/* a failed realloc leaves its buffer as it was, the others now
	 * hold total: cap is the smaller, never more than a buffer holds */
	if (!b || !k || !d || !o || !sp) {
		if (total < s->cap)
			s->cap = total;
		errno = ENOMEM;
		return -1;
	}
	s->cap = total;
	return 0;
}

/* Sizes every per-slot buffer for at least `total` slots, and every
 * SHRINK_EVERY calls down to the largest need since. */
static int fit(struct vt_snap *s, size_t total)
{
	if (total > VT_MAX_SLOTS) {
		errno = EOVERFLOW;
		return -1;
	}
	if (total > s->want)
		s->want = total;
	if (++s->reads % SHRINK_EVERY == 0) {
		size_t want = s->want;

		s->want = 0;
		if (s->cap > 2 * want)
			resize(s, want);	/* on failure cap is still >= want */
	}
	return total <= s->cap ? 0 : resize(s, total);
}

static uint64_t get(const uint8_t *buf, uint64_t off, size_t width)
{
	uint64_t v = 0;

	memcpy(&v, buf + off, width);	/* little endian, as the target */
	return v;
}

int vt_snap_systems(struct vt_snap *s, uint64_t *sys, size_t max)
{
	const struct vt_layout *l = s->l;
	uint64_t vsys, stop = l->sym[VT_LS_AIO_STOP] + s->bias;
	uint32_t count;
	size_t n = 0;

	if (vt_mem_u64(s->mem, s->valk_sys, &vsys))
		return -1;
	if (!vsys)	/* runtime not initialised yet */
		return 0;
	if (vt_mem_u32(s->mem, vsys + OFF(s, VSYS_SUBSYSTEM_COUNT), &count))
		return -1;
	if (count > l->count[VT_LC_N_SUBSYSTEMS])
		return implausible(s, "valk_system_t.subsystem_count = %u, "
				   "above its %llu entries", count,
				   (unsigned long long)l->count[VT_LC_N_SUBSYSTEMS]);
	for (uint32_t i = 0; i < count && n < max; i++) {
		uint64_t base = vsys + OFF(s, VSYS_SUBSYSTEMS) +
				i * OFF(s, SUBSYS_SIZEOF);
		uint64_t fn, ctx;

		if (vt_mem_u64(s->mem, base + OFF(s, SUBSYS_STOP), &fn) ||
		    vt_mem_u64(s->mem, base + OFF(s, SUBSYS_CTX), &ctx))
			return -1;
		/* only AIO systems register valk_aio_stop */
		if (fn == stop && ctx)
			sys[n++] = ctx;
	}
	return (int)n;
}

int vt_snap_system_slabs(struct vt_snap *s, uint64_t sys,
			 uint64_t slabs[VT_SLAB_KINDS])
{
	static const enum vt_layout_id field[VT_SLAB_KINDS] = {
		[VT_SLAB_TCP_BUFFERS] = VT_L_SYS_TCP_BUFFERS,
		[VT_SLAB_HANDLES] = VT_L_SYS_HANDLES,
		[VT_SLAB_STREAM_ARENAS] = VT_L_SYS_STREAM_ARENAS,
		[VT_SLAB_HTTP_SERVERS] = VT_L_SYS_HTTP_SERVERS,
		[VT_SLAB_HTTP_CLIENTS] = VT_L_SYS_HTTP_CLIENTS,
	};
	struct vt_mem_span sp[VT_SLAB_KINDS];

	for (int k = 0; k < VT_SLAB_KINDS; k++)
		sp[k] = (struct vt_mem_span){ sys + s->l->off[field[k]],
					      &slabs[k], 8 };
	return vt_mem_readv(s->mem, sp, VT_SLAB_KINDS, NULL);
}

static uint64_t popcount(const uint8_t *b, uint64_t total)
{
	uint64_t n = 0;

	for (uint64_t i = 0; i < (total + 7) / 8; i++)
		n += __builtin_popcount(b[i]);
	return n;
}

/* The header's geometry, checked before anything is sized by it: slot
 * count and item size within bounds, the bitmap and every item in memory
 * the target has mapped. */
static int check_geometry(struct vt_snap *s, uint64_t addr, const uint8_t *hdr)
{
	uint64_t total = get(hdr, OFF(s, SLAB_NUM_ITEMS), 8);
	uint64_t item = get(hdr, OFF(s, SLAB_ITEM_SIZE), 8);
	uint64_t bm = get(hdr, OFF(s, SLAB_BITMAP), 8);
	uint64_t items;

	if (total == 0 || total > VT_MAX_SLOTS)
		return implausible(s, "slab %#llx: valk_slab_t.numItems = %llu, "
				   "not within 1..%llu", (unsigned long long)addr,
				   (unsigned long long)total, VT_MAX_SLOTS);
	if (item == 0 || item > VT_MAX_ITEM)
		return implausible(s, "slab %#llx: valk_slab_t.itemSize = %llu, "
				   "not within 1..%llu", (unsigned long long)addr,
				   (unsigned long long)item, VT_MAX_ITEM);
	/* both bounded above: no product or sum here can wrap */
	items = total * vt_slab_stride(OFF(s, ITEM_DATA), item);
	if (!mapped(s, bm, (total + 7) / 8))
		return implausible(s, "slab %#llx: valk_slab_t.usage_bitmap = "
				   "%#llx: its %llu bytes are not mapped",
				   (unsigned long long)addr,
				   (unsigned long long)bm,
				   (unsigned long long)(total + 7) / 8);
	if (!mapped(s, addr, OFF(s, SLAB_HEAP) + items))
		return implausible(s, "slab %#llx: %llu items of %llu bytes "
				   "reach past its mapping",
				   (unsigned long long)addr,
				   (unsigned long long)total,
				   (unsigned long long)item);
	return 0;
}

/* A slab header into hdr[HDR_MAX], its geometry checked. */
static int read_header(struct vt_snap *s, uint64_t addr, uint8_t *hdr)
{
	if (OFF(s, SLAB_HEAP) > HDR_MAX) {	/* vt_layout refuses it */
		errno = EINVAL;
		return -1;
	}
	if (vt_mem_read(s->mem, addr, hdr, OFF(s, SLAB_HEAP)))
		return -1;
	return check_geometry(s, addr, hdr);
}

/* Counters that cannot belong to a slab of that size. */
static int check_counts(struct vt_snap *s, uint64_t addr, const uint8_t *hdr,
			uint64_t version)
{
	uint64_t total = get(hdr, OFF(s, SLAB_NUM_ITEMS), 8);
	uint64_t peak = get(hdr, OFF(s, SLAB_PEAK), 8);
	uint64_t nfree = get(hdr, OFF(s, SLAB_NUM_FREE), 8);
	uint64_t acq = get(hdr, OFF(s, SLAB_ACQUIRES), 8);
	uint64_t rel = get(hdr, OFF(s, SLAB_RELEASES), 8);
	uint64_t ops, d;

	if (peak > total)
		return implausible(s, "slab %#llx: valk_slab_t.peakUsed = %llu, "
				   "above numItems %llu", (unsigned long long)addr,
				   (unsigned long long)peak,
				   (unsigned long long)total);
	/* numFree is reserved before a pop and given back after a push:
	 * never more than the slab holds */
	if (nfree > total)
		return implausible(s, "slab %#llx: valk_slab_t.numFree = %llu, "
				   "above numItems %llu", (unsigned long long)addr,
				   (unsigned long long)nfree,
				   (unsigned long long)total);
	/* a sum that wraps is no count of operations */
	d = __builtin_add_overflow(acq, rel, &ops) ? UINT64_MAX
		: version > ops ? version - ops : ops - version;
	if (d > VERSION_SLACK + total)
		return implausible(s, "slab %#llx: valk_slab_t.bitmap_version = "
				   "%llu, but total_acquires %llu and "
				   "total_releases %llu",
				   (unsigned long long)addr,
				   (unsigned long long)version,
				   (unsigned long long)acq,
				   (unsigned long long)rel);
	return 0;
}

/* Header and bitmap of a quiescent slab: between two equal
 * bitmap_version and numFree reads, with as many slots set as reserved
 * (numItems - numFree). Every operation moves the two apart while it runs
 * (an acquire reserves before it pops its slot and sets the bit, a release
 * clears the bit before it pushes the slot and gives the reservation
 * back), so no operation was in flight: each one that a probe saw before
 * the read is in the image, each after it is not, and its version says
 * which. The bitmap starts empty and the runtime bumps the version once
 * per change, so version + popcount is even too. A very busy slab may
 * never give a quiescent read: after VERSION_TRIES the last one is taken,
 * not settled (reconciliation does not repair from it). */
static int read_bitmap(struct vt_snap *s, uint64_t addr, uint8_t *hdr,
		       struct vt_slab_image *img)
{
	uint64_t v2 = 0, free2 = 0;

	for (int i = 0; i < VERSION_TRIES; i++) {
		uint64_t total, bm, free1;

		if (read_header(s, addr, hdr))
			return -1;
		total = get(hdr, OFF(s, SLAB_NUM_ITEMS), 8);
		bm = get(hdr, OFF(s, SLAB_BITMAP), 8);
		free1 = get(hdr, OFF(s, SLAB_NUM_FREE), 8);
		if (fit(s, total) ||
		    vt_mem_read(s->mem, bm, s->bitmap, (total + 7) / 8) ||
		    vt_mem_u64(s->mem, addr + OFF(s, SLAB_VERSION), &v2) ||
		    vt_mem_u64(s->mem, addr + OFF(s, SLAB_NUM_FREE), &free2))
			return -1;
		img->version = get(hdr, OFF(s, SLAB_VERSION), 8);
		img->used = popcount(s->bitmap, total);
		img->settled = img->version == v2 && free1 == free2 &&
			       free1 <= total && total - free1 == img->used &&
			       (v2 + img->used) % 2 == 0;
		if (img->settled)
			break;
	}
	img->version = v2;
	return check_counts(s, addr, hdr, v2);
}

static uint64_t slot_data(const struct vt_slab_image *img, uint64_t slot)
{
	return img->addr + img->heap_off +
	       slot * vt_slab_stride(img->data_off, img->item_size) + img->data_off;
}

/* The three spans of a handle's kind, diag state and owner at payload d. */
static struct vt_mem_span *handle_spans(const struct vt_snap *s, uint64_t d,
					uint32_t *kind, uint32_t *diag,
					uint16_t *owner, struct vt_mem_span *sp)
{
	*sp++ = (struct vt_mem_span){ d + OFF(s, HANDLE_KIND), kind, 4 };
	*sp++ = (struct vt_mem_span){ d + OFF(s, HANDLE_DIAG_STATE), diag, 4 };
	*sp++ = (struct vt_mem_span){ d + OFF(s, HANDLE_DIAG_OWNER), owner, 2 };
	return sp;
}

/* Kind, diag state and owner of every used handle slot, in one batch. */
static int read_handles(struct vt_snap *s, struct vt_slab_image *img)
{
	struct vt_mem_span *sp = s->spans;

	for (uint64_t i = 0; i < img->total; i++) {
		s->kinds[i] = VT_HK_EMPTY;
		s->diags[i] = VT_DIAG_FREE;
		s->owners[i] = VT_OWNER_NONE;
		if (vt_slab_bit(s->bitmap, i))
			sp = handle_spans(s, slot_data(img, i), &s->kinds[i],
					  &s->diags[i], &s->owners[i], sp);
	}
	return vt_mem_readv(s->mem, s->spans, sp - s->spans, NULL);
}

/* Acquires and releases as of the bitmap: every acquire and release bumps
 * the version once, so they are (version ± used) / 2. The header's own
 * counters are bumped last in each operation and may lag the bitmap by an
 * operation in flight; they serve when the version is unusable. */
static void counters(const uint8_t *hdr, struct vt_snap *s,
		     struct vt_slab_image *img)
{
	uint64_t v = img->version, u = img->used;

	if (v >= u && (v + u) % 2 == 0) {
		img->acquires = (v + u) / 2;
		img->releases = (v - u) / 2;
		return;
	}
	img->acquires = get(hdr, OFF(s, SLAB_ACQUIRES), 8);
	img->releases = get(hdr, OFF(s, SLAB_RELEASES), 8);
}

/* The header's own fields of an image. */
static void header_fields(const struct vt_snap *s, const uint8_t *hdr,
			  struct vt_slab_image *img)
{
	img->item_size = get(hdr, OFF(s, SLAB_ITEM_SIZE), 8);
	img->total = get(hdr, OFF(s, SLAB_NUM_ITEMS), 8);
	img->bitmap_addr = get(hdr, OFF(s, SLAB_BITMAP), 8);
	img->heap_off = OFF(s, SLAB_HEAP);
	img->data_off = OFF(s, ITEM_DATA);
	img->hwm = get(hdr, OFF(s, SLAB_PEAK), 8);
	img->overflow = get(hdr, OFF(s, SLAB_OVERFLOW), 8);
}

int vt_snap_slab(struct vt_snap *s, uint64_t addr, int system,
		 enum vt_slab_kind kind, struct vt_slab_image *img)
{
	uint8_t hdr[HDR_MAX];

	*img = (struct vt_slab_image){ .addr = addr, .system = system,
				       .kind = kind,
				       .read_ns = vt_proc_now_ns() };
	if (read_bitmap(s, addr, hdr, img))
		return -1;
	header_fields(s, hdr, img);
	counters(hdr, s, img);
	img->bitmap = s->bitmap;
	if (kind != VT_SLAB_HANDLES)
		return 0;
	if (read_handles(s, img))
		return -1;
	img->kinds = s->kinds;
	img->diags = s->diags;
	img->owners = s->owners;
	return 0;
}

int vt_snap_slab_header(struct vt_snap *s, uint64_t addr, int system,
			enum vt_slab_kind kind, struct vt_slab_image *img)
{
	uint8_t hdr[HDR_MAX];

	*img = (struct vt_slab_image){ .addr = addr, .system = system,
				       .kind = kind };
	if (read_header(s, addr, hdr))
		return -1;
	header_fields(s, hdr, img);
	img->version = get(hdr, OFF(s, SLAB_VERSION), 8);
	return check_counts(s, addr, hdr, img->version);
}

int vt_snap_handles(struct vt_snap *s, const struct vt_slab *const *slabs,
		    const uint64_t *slots, size_t n, uint32_t *kinds,
		    uint32_t *diags, uint16_t *owners)
{
	struct vt_mem_span *sp;

	if (fit(s, n))
		return -1;
	sp = s->spans;
	for (size_t i = 0; i < n; i++) {
		const struct vt_slab *sl = slabs[i];

		sp = handle_spans(s, sl->addr + sl->heap_off +
				     slots[i] * sl->stride + sl->data_off,
				  &kinds[i], &diags[i], &owners[i], sp);
	}
	return vt_mem_readv(s->mem, s->spans, sp - s->spans, NULL);
}

int vt_snap_owners(struct vt_snap *s, uint64_t sys, char names[][32],
		   size_t max)
{
	uint64_t reg = sys + OFF(s, SYS_OWNERS);
	uint64_t namelen = s->l->count[VT_LC_OWNER_NAME_LEN];
	uint16_t count;

	if (namelen > 32)
		namelen = 32;
	if (namelen == 0)	/* vt_layout rejects it; never index name[-1] */
		return 0;
	if (vt_mem_u16(s->mem, reg + OFF(s, OWNERS_COUNT), &count))
		return -1;
	if (count > s->l->count[VT_LC_N_OWNERS])
		return implausible(s, "valk_owner_registry_t.count = %u, above "
				   "its %llu entries", count,
				   (unsigned long long)s->l->count[VT_LC_N_OWNERS]);
	if (count > max)
		count = max;
	for (uint16_t i = 0; i < count; i++) {
		uint64_t e = reg + OFF(s, OWNERS_ENTRIES) +
			     i * OFF(s, OWNER_SIZEOF) + OFF(s, OWNER_NAME);

		if (vt_mem_read(s->mem, e, names[i], namelen))
			return -1;
		names[i][namelen - 1] = '\0';
	}
	return count;
}

static int read_arena(struct vt_snap *s, uint64_t a, struct vt_arena *out)
{
	struct vt_mem_span sp[5] = {
		{ a + OFF(s, ARENA_CAPACITY), &out->capacity, 8 },
		{ a + OFF(s, ARENA_OFFSET), &out->used, 8 },
		{ a + OFF(s, ARENA_HWM), &out->hwm, 8 },
		{ a + OFF(s, ARENA_OVERFLOWS), &out->overflow, 8 },
		{ a + OFF(s, ARENA_OVERFLOW_BYTES), &out->overflow_bytes, 8 },
	};

	return vt_mem_readv(s->mem, sp, 5, NULL);
}

/* The main thread's scratch arena, as the runtime exposes it to its own
 * metrics: sys->metrics_state->scratch_arena. */
static uint64_t scratch_addr(struct vt_snap *s, uint64_t sys)
{
	uint64_t ms = 0, a = 0;

	if (vt_mem_u64(s->mem, sys + OFF(s, SYS_METRICS_STATE), &ms) || !ms ||
	    vt_mem_u64(s->mem, ms + OFF(s, METRICS_SCRATCH), &a))
		return 0;
	return a;
}

static bool listed(const struct vt_arena *out, size_t n, uint64_t addr)
{
	for (size_t i = 0; i < n; i++)
		if (out[i].addr == addr)
			return true;
	return false;
}

static int add_arena(struct vt_snap *s, uint64_t a, int system,
		     struct vt_arena *out)
{
	memset(out, 0, sizeof(*out));
	out->addr = a;
	out->system = system;
	return read_arena(s, a, out);
}

int vt_snap_arenas(struct vt_snap *s, int system, uint64_t sys,
		   const struct vt_slab *arenas, struct vt_arena *out,
		   size_t n, size_t max)
{
	uint64_t a = scratch_addr(s, sys);

	if (a && n < max && !listed(out, n, a) &&
	    add_arena(s, a, system, &out[n]) == 0) {
		snprintf(out[n].name, sizeof(out[n].name), "scratch");
		n++;
	}
	for (uint64_t i = 0; arenas && i < arenas->total && n < max; i++) {
		if (!vt_slab_bit(arenas->bitmap, i))
			continue;
		a = arenas->addr + arenas->heap_off + i * arenas->stride +
		    arenas->data_off;
		if (add_arena(s, a, system, &out[n]))
			return -1;
		snprintf(out[n].name, sizeof(out[n].name),
			 "stream_arena/%llu", (unsigned long long)i);
		n++;
	}
	return (int)n;
}

int vt_snap_gc(struct vt_snap *s, struct vt_gc *gc)
{
	const struct vt_layout *l = s->l;
	uint64_t vsys = 0, heap = 0, large;
	uint8_t pl[HDR_MAX];
	size_t plen = OFF(s, PAGELIST_SIZEOF);

	memset(gc, 0, sizeof(*gc));
	if (plen > sizeof(pl)) {
		errno = EINVAL;
		return -1;
	}
	if (vt_mem_u64(s->mem, s->valk_sys, &vsys) ||
	    (vsys && vt_mem_u64(s->mem, vsys + OFF(s, VSYS_HEAP), &heap)))
		return -1;
	if (!vsys || !heap)
		return 1;
	gc->nclasses = l->count[VT_LC_N_GC_CLASSES];
	if (gc->nclasses > sizeof(gc->classes) / sizeof(gc->classes[0]))
		gc->nclasses = sizeof(gc->classes) / sizeof(gc->classes[0]);
	for (size_t c = 0; c < gc->nclasses; c++) {
		struct vt_gc_class *k = &gc->classes[c];

		if (vt_mem_read(s->mem, heap + OFF(s, GCHEAP_CLASSES) + c * plen,
				pl, plen))
			return -1;
		k->size = get(pl, OFF(s, PAGELIST_SLOT_SIZE), 2);
		k->used = get(pl, OFF(s, PAGELIST_USED), 8);
		k->total = get(pl, OFF(s, PAGELIST_TOTAL), 8);
		gc->heap_used_bytes += k->used * k->size;
	}
	if (vt_mem_u64(s->mem, heap + OFF(s, GCHEAP_LARGE_BYTES), &large) ||
	    vt_mem_u64(s->mem, heap + OFF(s, GCHEAP_HARD_LIMIT),
		       &gc->heap_total_bytes))
		return -1;
	gc->heap_used_bytes += large;
	gc->large_object_bytes = large;
	return 0;
}
