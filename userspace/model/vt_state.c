/* vt_state: the pure memory-state model (see vt_state.h). */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/vt_state.h"

struct vt_state {
	uint64_t attach_ms, generation;
	struct vt_slab **slabs;			/* ordered by system, kind */
	size_t nslabs;
	uint64_t max_slots;		/* of all slabs together */
	struct vt_system systems[VT_MAX_SYSTEMS];
	size_t nsystems;
	struct vt_arena *arenas;
	size_t narenas;
	struct vt_gc gc;
	struct vt_figures *figures;
	struct vt_state_counters counters;
	char warnings[VT_MAX_WARNINGS][VT_WARNING_LEN];
	size_t nwarnings;		/* ever added; the last 16 are kept */
};

static const char *const slab_kind_names[VT_SLAB_KINDS] = {
	[VT_SLAB_TCP_BUFFERS] = "tcp_buffers",
	[VT_SLAB_HANDLES] = "handles",
	[VT_SLAB_STREAM_ARENAS] = "stream_arenas",
	[VT_SLAB_HTTP_SERVERS] = "http_servers",
	[VT_SLAB_HTTP_CLIENTS] = "http_clients",
};

const char *vt_slab_kind_name(enum vt_slab_kind k)
{
	return (unsigned)k < VT_SLAB_KINDS ? slab_kind_names[k] : "unknown";
}

char vt_state_letter(uint32_t kind, uint32_t diag)
{
	switch (kind) {
	case VT_HK_TCP:
		return 'T';
	case VT_HK_TASK:
		return 'K';
	case VT_HK_TIMER:
		return 'M';
	case VT_HK_HTTP_CONN:
		switch (diag) {
		case VT_DIAG_CONNECTING:
			return 'N';
		case VT_DIAG_ACTIVE:
			return 'A';
		case VT_DIAG_IDLE:
			return 'I';
		default:	/* CLOSING, or FREE after CLOSED/ERROR */
			return 'C';
		}
	default:
		return 'U';
	}
}

static bool is_conn_letter(char c)
{
	return c == 'N' || c == 'A' || c == 'I' || c == 'C';
}

static void bit_put(uint8_t *bm, uint64_t i, bool on)
{
	if (on)
		bm[i / 8] |= (uint8_t)(1u << (i % 8));
	else
		bm[i / 8] &= (uint8_t)~(1u << (i % 8));
}

static uint64_t popcount_bitmap(const uint8_t *bm, uint64_t total)
{
	uint64_t n = 0;

	for (uint64_t i = 0; i < (total + 7) / 8; i++)
		n += (uint64_t)__builtin_popcount(bm[i]);
	return n;
}

/* Bits past total are not slots: keep them clear. */
static void bitmap_trim(struct vt_slab *sl)
{
	if (sl->total % 8)
		sl->bitmap[sl->total / 8] &= (uint8_t)((1u << (sl->total % 8)) - 1);
}

/* What every event and image keeps true of a slab; checked where a pass
 * over the bitmap is made anyway. */
static void slab_check(const struct vt_slab *sl)
{
	assert(sl->used == popcount_bitmap(sl->bitmap, sl->total));
	assert(sl->used <= sl->total);
	(void)sl;
}

static uint64_t max3(uint64_t a, uint64_t b, uint64_t c)
{
	uint64_t m = a > b ? a : b;
	return m > c ? m : c;
}

/* ---- lifecycle ---------------------------------------------------------- */

struct vt_state *vt_state_new(uint64_t attach_ms)
{
	struct vt_state *s = calloc(1, sizeof(*s));

	if (s) {
		s->attach_ms = attach_ms;
		s->max_slots = VT_MAX_TOTAL_SLOTS;
	}
	return s;
}

void vt_state_limit_slots(struct vt_state *s, uint64_t max)
{
	s->max_slots = max < VT_MAX_TOTAL_SLOTS ? max : VT_MAX_TOTAL_SLOTS;
}

static void slab_free(struct vt_slab *sl)
{
	if (!sl)
		return;
	free(sl->bitmap);
	free(sl->states);
	free(sl->owners);
	free(sl->since_ms);
	free(sl->since_attach);
	free(sl->stacks);
	free(sl->pending);
	free(sl->unsure);
	free(sl->early);
	free(sl);
}

void vt_state_free(struct vt_state *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->nslabs; i++)
		slab_free(s->slabs[i]);
	free(s->slabs);
	free(s->arenas);
	vt_figures_free(s->figures);
	free(s);
}

/* ---- slab lookup ---------------------------------------------------------- */

static size_t slab_index(const struct vt_state *s, uint64_t addr)
{
	for (size_t i = 0; i < s->nslabs; i++)
		if (s->slabs[i]->addr == addr)
			return i;
	return SIZE_MAX;
}

static struct vt_slab *slab_get(const struct vt_state *s, uint64_t addr)
{
	size_t i = slab_index(s, addr);

	return i == SIZE_MAX ? NULL : s->slabs[i];
}

static bool slab_before(const struct vt_slab *a, const struct vt_slab *b)
{
	if (a->system != b->system)
		return a->system < b->system;
	if (a->kind != b->kind)
		return a->kind < b->kind;
	return a->addr < b->addr;
}

static int slab_insert(struct vt_state *s, struct vt_slab *sl)
{
	struct vt_slab **v = realloc(s->slabs, (s->nslabs + 1) * sizeof(*v));
	size_t i = s->nslabs;

	if (!v)
		return -1;
	s->slabs = v;
	while (i > 0 && slab_before(sl, v[i - 1])) {
		v[i] = v[i - 1];
		i--;
	}
	v[i] = sl;
	s->nslabs++;
	return 0;
}

void vt_state_slab_drop(struct vt_state *s, uint64_t addr)
{
	size_t i = slab_index(s, addr);

	if (i == SIZE_MAX)
		return;
	slab_free(s->slabs[i]);
	memmove(&s->slabs[i], &s->slabs[i + 1],
		(s->nslabs - i - 1) * sizeof(*s->slabs));
	s->nslabs--;
	s->generation++;
}

/* ---- images --------------------------------------------------------------- */

static bool image_valid(const struct vt_slab_image *img)
{
	return img->total > 0 && img->total <= VT_MAX_SLOTS && img->bitmap &&
	       img->item_size > 0 && img->item_size <= VT_MAX_ITEM && img->data_off <= 4096 &&
	       img->heap_off <= 4096 && (unsigned)img->kind < VT_SLAB_KINDS &&
	       img->system >= 0 && img->system < VT_MAX_SYSTEMS;
}

static bool same_geometry(const struct vt_slab *sl,
			  const struct vt_slab_image *img)
{
	return sl->total == img->total && sl->item_size == img->item_size &&
	       sl->bitmap_addr == img->bitmap_addr &&
	       sl->kind == img->kind && sl->system == img->system &&
	       sl->heap_off == img->heap_off && sl->data_off == img->data_off;
}

/* Letter of slot i as the image shows it. Handle kinds come from memory
 * words that freed slots keep, so the bitmap decides 'F' first. */
static char image_letter(const struct vt_slab_image *img, uint64_t i)
{
	if (!vt_slab_bit(img->bitmap, i))
		return 'F';
	if (!img->kinds || !img->diags)
		return 'U';
	return vt_state_letter(img->kinds[i], img->diags[i]);
}

static uint16_t image_owner(const struct vt_slab_image *img, uint64_t i,
			    char letter)
{
	return is_conn_letter(letter) && img->owners ? img->owners[i]
						     : VT_OWNER_NONE;
}

uint64_t vt_state_slots_with(const struct vt_state *s, uint64_t addr,
			     uint64_t total)
{
	for (size_t i = 0; i < s->nslabs; i++)	/* each at most VT_MAX_SLOTS */
		if (s->slabs[i]->addr != addr)
			total += s->slabs[i]->total;
	return total;
}

static bool fits(const struct vt_state *s, uint64_t addr, uint64_t total)
{
	return vt_state_slots_with(s, addr, total) <= s->max_slots;
}

static struct vt_slab *slab_alloc(const struct vt_slab_image *img)
{
	struct vt_slab *sl = calloc(1, sizeof(*sl));
	uint64_t n = img->total;

	if (!sl)
		return NULL;
	sl->addr = img->addr;
	sl->system = img->system;
	sl->kind = img->kind;
	sl->item_size = img->item_size;
	sl->total = n;
	sl->heap_off = img->heap_off;
	sl->data_off = img->data_off;
	sl->bitmap_addr = img->bitmap_addr;
	sl->stride = vt_slab_stride(img->data_off, img->item_size);
	sl->bitmap = calloc((n + 7) / 8, 1);
	sl->since_ms = calloc(n, sizeof(*sl->since_ms));
	sl->since_attach = calloc(n, 1);
	sl->stacks = calloc(n, sizeof(*sl->stacks));
	sl->unsure = calloc(n, 1);
	sl->early = calloc(n, 1);
	if (img->kind == VT_SLAB_HANDLES) {
		sl->states = malloc(n);
		sl->owners = malloc(n * sizeof(*sl->owners));
		sl->pending = calloc(n, 1);
	}
	if (!sl->bitmap || !sl->since_ms || !sl->since_attach || !sl->stacks ||
	    !sl->unsure || !sl->early ||
	    (img->kind == VT_SLAB_HANDLES &&
	     (!sl->states || !sl->owners || !sl->pending))) {
		slab_free(sl);
		return NULL;
	}
	return sl;
}

/* Take the image's per-slot state and counters. `fresh` stamps every used
 * slot as in use since tracing began; otherwise slots that stay in use keep
 * their acquire time and pending typing, newly used slots get now_ms. */
static void slab_adopt(struct vt_slab *sl, const struct vt_slab_image *img,
		       uint64_t now_ms, bool fresh)
{
	uint64_t used = 0;

	for (uint64_t i = 0; i < sl->total; i++) {
		bool on = vt_slab_bit(img->bitmap, i);
		bool kept = !fresh && on && vt_slab_bit(sl->bitmap, i);

		used += on;
		if (!kept) {
			sl->since_ms[i] = on ? now_ms : 0;
			sl->since_attach[i] = on && fresh;
			sl->stacks[i] = 0;
		}
		if (sl->states && !(kept && sl->pending[i])) {
			char c = image_letter(img, i);

			sl->states[i] = c;
			sl->owners[i] = image_owner(img, i, c);
			sl->pending[i] = 0;
		}
	}
	memcpy(sl->bitmap, img->bitmap, (sl->total + 7) / 8);
	bitmap_trim(sl);
	sl->used = used;
	sl->hwm = img->hwm > used ? img->hwm : used;
	sl->overflow = img->overflow;
	sl->acquires = img->acquires;
	sl->releases = img->releases;
	sl->version = img->version;
	sl->image_ns = img->read_ns;
	sl->image_version = img->version;
	sl->image_ms = now_ms;
	memset(sl->unsure, 0, sl->total);
	memset(sl->early, 0, sl->total);
	sl->unsettled = !img->settled;
	sl->suspect = false;
	sl->invalid = false;
	slab_check(sl);
}

/* sl, made whole, stands where any slab of its address stood: 0, or -1
 * with sl freed when out of memory. */
static int slab_replace(struct vt_state *s, struct vt_slab *sl)
{
	vt_state_slab_drop(s, sl->addr);
	if (slab_insert(s, sl)) {
		slab_free(sl);
		return -1;
	}
	s->generation++;
	return 0;
}

int vt_state_slab_load(struct vt_state *s, const struct vt_slab_image *img,
		       uint64_t now_ms)
{
	struct vt_slab *sl;

	if (!image_valid(img) || !fits(s, img->addr, img->total))
		return -1;
	sl = slab_alloc(img);
	if (!sl)
		return -1;
	slab_adopt(sl, img, now_ms, true);
	return slab_replace(s, sl);
}

/* Does the image agree with the model? Used counts come from the bitmaps
 * (numItems-numFree runs ahead of or behind the bitmap mid-operation).
 * Pending slots are not compared: their kind is not known yet. */
static bool slab_matches(const struct vt_slab *sl,
			 const struct vt_slab_image *img)
{
	size_t nbytes = sl->total / 8;

	slab_check(sl);
	if (sl->hwm != img->hwm || sl->overflow != img->overflow ||
	    sl->acquires != img->acquires || sl->releases != img->releases)
		return false;
	if (memcmp(sl->bitmap, img->bitmap, nbytes))
		return false;
	for (uint64_t i = nbytes * 8; i < sl->total; i++)
		if (vt_slab_bit(sl->bitmap, i) != vt_slab_bit(img->bitmap, i))
			return false;
	if (!sl->states)
		return true;
	for (uint64_t i = 0; i < sl->total; i++) {
		char c;

		if (!vt_slab_bit(sl->bitmap, i) || sl->pending[i])
			continue;
		c = image_letter(img, i);
		if (sl->states[i] != c || sl->owners[i] != image_owner(img, i, c))
			return false;
	}
	return true;
}

/* Memory agrees with the model again. */
static void slab_valid(struct vt_state *s, struct vt_slab *sl)
{
	if (sl->invalid) {
		sl->invalid = false;
		s->generation++;
	}
}

int vt_state_slab_reconcile(struct vt_state *s,
			    const struct vt_slab_image *img, uint64_t now_ms)
{
	struct vt_slab *sl = slab_get(s, img->addr);

	if (!sl || !image_valid(img))
		return 0;
	if (!same_geometry(sl, img)) {	/* freed and re-created unseen */
		if (vt_state_slab_load(s, img, now_ms))
			return 0;
		s->counters.resyncs++;
		return 1;
	}
	if (sl->unsettled && img->settled) {	/* its counters too */
		bool drift = !slab_matches(sl, img);

		slab_adopt(sl, img, now_ms, false);
		s->counters.resyncs += drift;
		s->generation++;
		return drift;
	}
	if (slab_matches(sl, img)) {
		sl->suspect = false;
		slab_valid(s, sl);
		return 0;
	}
	/* Events still in flight explain a mismatch while memory moves; one
	 * at the model's own version, or that persists over an unchanged
	 * bitmap_version, is a real drift. */
	if ((img->settled && (sl->invalid || sl->version == img->version)) ||
	    (sl->suspect && sl->suspect_version == img->version)) {
		slab_adopt(sl, img, now_ms, false);
		s->counters.resyncs++;
		s->generation++;
		return 1;
	}
	sl->suspect = true;
	sl->suspect_version = img->version;
	return 0;
}

int vt_state_slab_maxima(struct vt_state *s, const struct vt_slab_image *img,
			 bool overflow)
{
	struct vt_slab *sl = slab_get(s, img->addr);

	if (!sl)
		return 0;
	overflow = overflow && img->overflow != sl->overflow;
	if ((img->hwm <= sl->hwm && !overflow) || img->hwm > sl->total)
		return 0;
	if (img->hwm > sl->hwm)
		sl->hwm = img->hwm;
	if (overflow)
		sl->overflow = img->overflow;
	s->generation++;
	return 1;
}

int vt_state_slab_sample(struct vt_state *s, const struct vt_slab_image *img,
			 uint64_t now_ms)
{
	struct vt_slab *sl = slab_get(s, img->addr);

	if (!image_valid(img))
		return -1;
	if (!sl || !same_geometry(sl, img))
		return vt_state_slab_load(s, img, now_ms);
	if (slab_matches(sl, img)) {
		slab_valid(s, sl);
		return 0;
	}
	slab_adopt(sl, img, now_ms, false);
	s->generation++;
	return 0;
}

/* ---- replay ---------------------------------------------------------------- */

struct vt_slab *vt_state_slab_new(const struct vt_slab *geo)
{
	struct vt_slab_image img = {
		.addr = geo->addr, .system = geo->system, .kind = geo->kind,
		.item_size = geo->item_size, .total = geo->total,
		.heap_off = geo->heap_off, .data_off = geo->data_off,
		.bitmap = (const uint8_t *)"",
	};
	struct vt_slab *sl = image_valid(&img) ? slab_alloc(&img) : NULL;

	if (sl && sl->states) {
		memset(sl->states, 'F', sl->total);
		for (uint64_t i = 0; i < sl->total; i++)
			sl->owners[i] = VT_OWNER_NONE;
	}
	return sl;
}

void vt_state_slab_discard(struct vt_slab *sl)
{
	slab_free(sl);
}

int vt_state_slab_put(struct vt_state *s, struct vt_slab *sl)
{
	if (!fits(s, sl->addr, sl->total)) {
		slab_free(sl);
		return -1;
	}
	bitmap_trim(sl);
	sl->used = popcount_bitmap(sl->bitmap, sl->total);
	return slab_replace(s, sl);
}

void vt_state_clear(struct vt_state *s)
{
	for (size_t i = 0; i < s->nslabs; i++)
		slab_free(s->slabs[i]);
	s->nslabs = 0;
	memset(s->systems, 0, sizeof(s->systems));
	s->nsystems = 0;
	s->narenas = 0;
	memset(&s->gc, 0, sizeof(s->gc));
	memset(&s->counters, 0, sizeof(s->counters));
	s->generation++;
}

void vt_state_counters_set(struct vt_state *s,
			   const struct vt_state_counters *c)
{
	if (memcmp(&s->counters, c, sizeof(*c))) {
		s->counters = *c;
		s->generation++;
	}
}

void vt_state_slab_invalid(struct vt_state *s, uint64_t addr, const char *why)
{
	struct vt_slab *sl = slab_get(s, addr);

	if (sl && !sl->invalid) {
		sl->invalid = true;
		snprintf(sl->problem, sizeof(sl->problem), "%s", why);
		s->generation++;
	}
}

int vt_state_warn(struct vt_state *s, const char *msg)
{
	size_t kept = s->nwarnings < VT_MAX_WARNINGS ? s->nwarnings
						      : VT_MAX_WARNINGS;

	for (size_t i = 0; i < kept; i++)
		if (!strncmp(s->warnings[i], msg, VT_WARNING_LEN - 1))
			return 0;
	snprintf(s->warnings[s->nwarnings++ % VT_MAX_WARNINGS],
		 VT_WARNING_LEN, "%s", msg);
	s->generation++;
	return 1;
}

const char *vt_state_warning(const struct vt_state *s, size_t i)
{
	size_t kept = s->nwarnings < VT_MAX_WARNINGS ? s->nwarnings
						      : VT_MAX_WARNINGS;

	if (i >= kept)
		return NULL;
	return s->warnings[(s->nwarnings - kept + i) % VT_MAX_WARNINGS];
}

/* ---- systems, arenas, gc --------------------------------------------------- */

int vt_state_system_set(struct vt_state *s, int system, uint64_t addr)
{
	if (system < 0 || system >= VT_MAX_SYSTEMS)
		return -1;
	if (s->systems[system].addr != addr) {
		s->systems[system].addr = addr;
		s->generation++;
	}
	if ((size_t)system >= s->nsystems)
		s->nsystems = (size_t)system + 1;
	return 0;
}

static void owner_put(struct vt_state *s, struct vt_system *sys, unsigned idx,
		      const char *name)
{
	char buf[sizeof(sys->owners[0])] = { 0 };
	size_t len;

	if (idx >= VT_MAX_OWNERS || !name)
		return;
	/* names come from target memory: keep them printable ASCII so every
	 * encoder can emit them as they are */
	len = strnlen(name, sizeof(buf) - 1);
	for (size_t i = 0; i < len; i++)
		buf[i] = name[i] >= 0x20 && name[i] < 0x7f ? name[i] : '?';
	if (idx < sys->nowners && !strcmp(sys->owners[idx], buf))
		return;
	memcpy(sys->owners[idx], buf, sizeof(buf));
	if (idx >= sys->nowners)
		sys->nowners = idx + 1;
	s->generation++;
}

void vt_state_owner_set(struct vt_state *s, int system, unsigned idx,
			const char *name)
{
	if (system >= 0 && system < VT_MAX_SYSTEMS)
		owner_put(s, &s->systems[system], idx, name);
}

/* The runtime's arena init sets the bump offset past the heap's alignment
 * padding and zeroes the stats, so a fresh arena reads used 8, hwm 0: its
 * high-water mark is raised to its use, as a slab's is. */
static uint64_t arena_hwm(const struct vt_arena *a)
{
	return a->hwm > a->used ? a->hwm : a->used;
}

/* a is read from the target, b is kept in the state */
static bool arena_eq(const struct vt_arena *a, const struct vt_arena *b)
{
	return !strcmp(a->name, b->name) && a->system == b->system &&
	       a->capacity == b->capacity && a->used == b->used &&
	       arena_hwm(a) == b->hwm && a->overflow == b->overflow &&
	       a->overflow_bytes == b->overflow_bytes;
}

void vt_state_arenas_set(struct vt_state *s, const struct vt_arena *a,
			 size_t n)
{
	struct vt_arena *v;
	size_t same = 0;

	while (same < n && same < s->narenas && arena_eq(&a[same], &s->arenas[same]))
		same++;
	if (same == n && n == s->narenas)
		return;
	v = realloc(s->arenas, (n ? n : 1) * sizeof(*v));
	if (!v)
		return;
	memcpy(v, a, n * sizeof(*v));
	for (size_t i = 0; i < n; i++) {
		v[i].name[sizeof(v[i].name) - 1] = 0;
		v[i].hwm = arena_hwm(&v[i]);
	}
	s->arenas = v;
	s->narenas = n;
	s->generation++;
}

bool vt_metric_same(const struct vt_metric *a, const struct vt_metric *b)
{
	if (a->type != b->type || a->nlabels != b->nlabels ||
	    strcmp(a->name, b->name))
		return false;
	for (unsigned i = 0; i < a->nlabels && i < VT_METRIC_MAX_LABELS; i++)
		if (strcmp(a->labels[i].key, b->labels[i].key) ||
		    strcmp(a->labels[i].value, b->labels[i].value))
			return false;
	return true;
}

void vt_figures_free(struct vt_figures *f)
{
	if (f)
		free(f->metrics);
	free(f);
}

/* Counters move every tick: no generation bump (pushes go out anyway). */
void vt_state_figures_set(struct vt_state *s, struct vt_figures *f)
{
	vt_figures_free(s->figures);
	s->figures = f;
}

const struct vt_figures *vt_state_figures(const struct vt_state *s)
{
	return s->figures;
}

struct vt_figures *vt_state_figures_edit(struct vt_state *s)
{
	return s->figures;
}

void vt_state_gc_set(struct vt_state *s, const struct vt_gc *gc)
{
	size_t n = gc->nclasses < 16 ? gc->nclasses : 16;

	if (s->gc.heap_used_bytes == gc->heap_used_bytes &&
	    s->gc.heap_total_bytes == gc->heap_total_bytes &&
	    s->gc.large_object_bytes == gc->large_object_bytes &&
	    s->gc.nclasses == n &&
	    !memcmp(s->gc.classes, gc->classes, n * sizeof(gc->classes[0])))
		return;
	s->gc.heap_used_bytes = gc->heap_used_bytes;
	s->gc.heap_total_bytes = gc->heap_total_bytes;
	s->gc.large_object_bytes = gc->large_object_bytes;
	s->gc.nclasses = n;
	memcpy(s->gc.classes, gc->classes, n * sizeof(gc->classes[0]));
	s->generation++;
}

/* ---- events ---------------------------------------------------------------- */

/* Probes are attached before memory is read: an event older than the read
 * of a slab's image is already in it. (Acquires and releases are told apart
 * more finely, by version: see apply_acquire.) */
static bool in_image(const struct vt_slab *sl, uint64_t ts_ns)
{
	return ts_ns < sl->image_ns;
}

static int ignore(struct vt_state *s)
{
	s->counters.ignored++;
	return -1;
}

static struct vt_slab *slot_slab(struct vt_state *s, uint64_t slab,
				 uint64_t slot)
{
	struct vt_slab *sl = slab_get(s, slab);

	return sl && slot < sl->total ? sl : NULL;
}

/*
 * Which events the last adopted image already holds. Probes run before
 * memory is read, so events around the read may be in the image or not.
 * The runtime bumps bitmap_version once per bitmap change, and the image
 * was read at a stable version V:
 * - an acquire's event reads the version after its own bump, so one that
 *   read at most V is in the image;
 * - otherwise an acquire onto a slot already set is one that finished its
 *   bump before the read but reached its return probe after it;
 * - a release onto a clear slot is in the image; one onto a set slot is
 *   applied, but if it read a version at most V it may be in the image
 *   with the slot acquired again since: it stays `unsure` until the
 *   slot's next acquire tells (in the image: undo the release). That
 *   acquire is seen because acquire probes go on before release probes.
 */
static void undo_release(struct vt_slab *sl, uint64_t slot)
{
	/* unsure is set by a release that cleared the slot; any acquire
	 * since cleared unsure */
	assert(!vt_slab_bit(sl->bitmap, slot) && sl->releases > 0);
	bit_put(sl->bitmap, slot, true);
	sl->used++;
	sl->releases--;
	sl->since_ms[slot] = sl->image_ms;
	sl->since_attach[slot] = 1;
	if (sl->states) {	/* its kind is read again */
		sl->states[slot] = 'U';
		sl->pending[slot] = 1;
	}
}

/* The slot to its new holder: acquired at ts_ns with e's stack. */
static void slot_take(struct vt_slab *sl, uint64_t ts_ns,
		      const struct vt_ev_acquire *e)
{
	sl->acquires++;
	if (e->version > sl->version)
		sl->version = e->version;
	sl->since_ms[e->slot] = ts_ns / 1000000;
	sl->since_attach[e->slot] = 0;
	sl->stacks[e->slot] = e->stack;
	if (sl->states) {
		/* the kind is written by inline code after the acquire */
		sl->states[e->slot] = 'U';
		sl->owners[e->slot] = VT_OWNER_NONE;
		sl->pending[e->slot] = 1;
	}
}

/*
 * A release probed at its push CAS reports after the slot is back on the
 * free list, so another thread's pop of that slot can reach the ring
 * first. A pop onto a used slot whose version proves it is not in the
 * image is that pop: it takes the slot at once, and the release that
 * follows it counts without freeing the slot (`early`).
 */
static int apply_acquire(struct vt_state *s, uint64_t ts_ns, uint16_t probe,
			 const struct vt_ev_acquire *e)
{
	struct vt_slab *sl = slot_slab(s, e->slab, e->slot);

	if (!sl)
		return ignore(s);
	if (e->version <= sl->image_version) {
		if (sl->unsure[e->slot])
			undo_release(sl, e->slot);
		sl->unsure[e->slot] = 0;
		return 0;
	}
	sl->unsure[e->slot] = 0;
	if (vt_slab_bit(sl->bitmap, e->slot)) {
		if (probe == VT_P_ACQUIRE_POP && !sl->early[e->slot]) {
			sl->early[e->slot] = 1;
			slot_take(sl, ts_ns, e);
		}
		return 0;
	}
	bit_put(sl->bitmap, e->slot, true);
	sl->used++;
	/* the peak the probe read is the target's: a corrupt one past the
	 * slab is not taken */
	sl->hwm = max3(sl->hwm, sl->used, e->peak <= sl->total ? e->peak : 0);
	slot_take(sl, ts_ns, e);
	return 0;
}

static int apply_release(struct vt_state *s, const struct vt_ev_release *e)
{
	struct vt_slab *sl = slot_slab(s, e->slab, e->slot);

	if (!sl)
		return ignore(s);
	if (!vt_slab_bit(sl->bitmap, e->slot))
		return 0;
	sl->releases++;
	if (e->version > sl->version)
		sl->version = e->version;
	if (sl->early[e->slot]) {	/* its next holder's pop came first */
		sl->early[e->slot] = 0;
		return 0;
	}
	sl->unsure[e->slot] = e->version <= sl->image_version;
	bit_put(sl->bitmap, e->slot, false);
	sl->used--;
	sl->since_ms[e->slot] = 0;
	sl->since_attach[e->slot] = 0;
	if (sl->states) {
		sl->states[e->slot] = 'F';
		sl->owners[e->slot] = VT_OWNER_NONE;
		sl->pending[e->slot] = 0;
	}
	return 0;
}

static int apply_acquire_fail(struct vt_state *s, uint64_t ts_ns,
			      const struct vt_ev_acquire_fail *e)
{
	struct vt_slab *sl = slab_get(s, e->slab);

	if (!sl)
		return ignore(s);
	if (!in_image(sl, ts_ns))
		sl->overflow++;
	return 0;
}

/* The handle slab holding payload address p, and its slot there. */
static struct vt_slab *handle_slot(const struct vt_state *s, uint64_t p,
				   uint64_t *slot)
{
	for (size_t i = 0; i < s->nslabs; i++) {
		struct vt_slab *sl = s->slabs[i];
		uint64_t base = sl->addr + sl->heap_off + sl->data_off;

		if (sl->kind != VT_SLAB_HANDLES || p < base ||
		    (p - base) % sl->stride || (p - base) / sl->stride >= sl->total)
			continue;
		*slot = (p - base) / sl->stride;
		return sl;
	}
	return NULL;
}

/* A connecting connection gets its owner from static code no probe sees
 * (the runtime's accept path), so it is read again each tick until it
 * leaves the connecting state. */
/* A pending handle read from memory twice, a drain apart. */
#define PENDING_TWICE 2

static bool still_typing(char letter)
{
	return letter == 'N';
}

static int apply_conn(struct vt_state *s, uint64_t ts_ns,
		      const struct vt_ev_conn *e)
{
	uint64_t slot;
	struct vt_slab *sl = handle_slot(s, e->handle, &slot);
	char c;

	if (!sl)
		return ignore(s);
	if (in_image(sl, ts_ns) || !vt_slab_bit(sl->bitmap, slot))
		return 0;
	if (e->diag == VT_DIAG_UNREAD) {
		/* read at this drain and the next: the first read may come
		 * before the function's write */
		sl->pending[slot] = PENDING_TWICE;
		return 0;
	}
	c = vt_state_letter(e->kind, e->diag);
	sl->states[slot] = c;
	sl->owners[slot] = is_conn_letter(c) ? e->owner : VT_OWNER_NONE;
	sl->pending[slot] = still_typing(c);
	return 0;
}

static int apply_owner(struct vt_state *s, const struct vt_ev_owner *e)
{
	char name[VT_NAME_LEN + 1];

	if (e->index == 0xffff)	/* registry full: the server has no index */
		return 0;
	for (size_t i = 0; i < s->nsystems; i++) {
		if (!s->systems[i].addr || s->systems[i].addr != e->sys)
			continue;
		memcpy(name, e->name, VT_NAME_LEN);
		name[VT_NAME_LEN] = 0;
		owner_put(s, &s->systems[i], e->index, name);
		return 0;
	}
	return ignore(s);
}

int vt_state_apply(struct vt_state *s, const struct vt_event *ev)
{
	s->counters.events++;
	s->generation++;
	switch (ev->type) {
	case VT_EV_ACQUIRE:
		return apply_acquire(s, ev->ts_ns, ev->probe, &ev->acquire);
	case VT_EV_ACQUIRE_FAIL:
		return apply_acquire_fail(s, ev->ts_ns, &ev->acquire_fail);
	case VT_EV_RELEASE:
		return apply_release(s, &ev->release);
	case VT_EV_CONN:
		return apply_conn(s, ev->ts_ns, &ev->conn);
	case VT_EV_OWNER:
		return apply_owner(s, &ev->owner);
	case VT_EV_SLAB_FREE:
		vt_state_slab_drop(s, ev->slab_free.slab);
		return 0;
	case VT_EV_SLAB_NEW:	/* its system's read loads it */
		return 0;
	case VT_EV_AIO_START:
		return VT_STATE_READ_SYSTEMS;
	default:
		return ignore(s);
	}
}

/* ---- pending handle kinds -------------------------------------------------- */

/* A connection re-read each tick: 'N' ones are pending already. */
static bool conn_reread(char c)
{
	return c == 'A' || c == 'I' || c == 'C';
}

/* Slot i of a handle slab is to be read now. */
static bool read_due(const struct vt_slab *sl, bool conns, uint64_t i)
{
	return sl->pending[i] || (conns && conn_reread(sl->states[i]));
}

#define BYTES_1 0x0101010101010101ull
#define BYTES_80 0x8080808080808080ull

static bool has_byte(uint64_t w, uint8_t b)
{
	uint64_t x = w ^ (BYTES_1 * b);

	return (x - BYTES_1) & ~x & BYTES_80;
}

/* Some slot of the eight from i on may be due: the whole slab is passed
 * every tick, eight slots a step where none is. */
static bool eight_due(const struct vt_slab *sl, bool conns, uint64_t i)
{
	uint64_t p, st;

	memcpy(&p, sl->pending + i, 8);
	if (p)
		return true;
	memcpy(&st, sl->states + i, 8);
	return conns && (has_byte(st, 'A') || has_byte(st, 'I') ||
			 has_byte(st, 'C'));
}

size_t vt_state_reads_due(const struct vt_state *s, bool conns,
			  struct vt_state_cursor *cur, uint64_t *slab,
			  uint64_t *slot, size_t max)
{
	size_t n = 0;

	for (; cur->slab < s->nslabs && n < max; cur->slab++, cur->slot = 0) {
		const struct vt_slab *sl = s->slabs[cur->slab];
		uint64_t *i = &cur->slot;

		if (!sl->pending)
			continue;
		while (*i < sl->total && n < max) {
			if (*i % 8 == 0 && *i + 8 <= sl->total &&
			    !eight_due(sl, conns, *i)) {
				*i += 8;
				continue;
			}
			if (read_due(sl, conns, *i)) {
				slab[n] = sl->addr;
				slot[n++] = *i;
			}
			++*i;
		}
		if (n == max)
			break;
	}
	return n;
}

bool vt_state_slot_typed(struct vt_state *s, uint64_t slab, uint64_t slot,
			 uint32_t kind, uint32_t diag, uint16_t owner)
{
	struct vt_slab *sl = slab_get(s, slab);
	uint8_t pending;
	char c;

	if (!sl || !sl->pending || slot >= sl->total || kind == VT_HK_EMPTY ||
	    (!sl->pending[slot] && !is_conn_letter(sl->states[slot])))
		return false;
	c = vt_state_letter(kind, diag);
	owner = is_conn_letter(c) ? owner : VT_OWNER_NONE;
	pending = still_typing(c) || sl->pending[slot] == PENDING_TWICE;
	if (sl->states[slot] == c && sl->owners[slot] == owner &&
	    sl->pending[slot] == pending)
		return false;
	if (sl->states[slot] != c || sl->owners[slot] != owner)
		s->generation++;
	sl->states[slot] = c;
	sl->owners[slot] = owner;
	sl->pending[slot] = pending;
	return true;
}

/* ---- read access ------------------------------------------------------------ */

size_t vt_state_nslabs(const struct vt_state *s)
{
	return s->nslabs;
}

const struct vt_slab *vt_state_slab(const struct vt_state *s, size_t i)
{
	return i < s->nslabs ? s->slabs[i] : NULL;
}

const struct vt_slab *vt_state_slab_find(const struct vt_state *s,
					 uint64_t addr)
{
	return slab_get(s, addr);
}

size_t vt_state_nsystems(const struct vt_state *s)
{
	return s->nsystems;
}

const struct vt_system *vt_state_system(const struct vt_state *s, size_t i)
{
	return i < s->nsystems ? &s->systems[i] : NULL;
}

const struct vt_arena *vt_state_arenas(const struct vt_state *s, size_t *n)
{
	*n = s->narenas;
	return s->arenas;
}

const struct vt_gc *vt_state_gc(const struct vt_state *s)
{
	return &s->gc;
}

const struct vt_state_counters *vt_state_counters(const struct vt_state *s)
{
	return &s->counters;
}

void vt_state_tracer_update(struct vt_state *s, uint64_t lost,
			    const uint64_t hits[VT_P_COUNT])
{
	struct vt_state_counters *c = &s->counters;

	if (c->lost == lost &&
	    !memcmp(c->probe_hits, hits, sizeof(c->probe_hits)))
		return;
	c->lost = lost;
	memcpy(c->probe_hits, hits, sizeof(c->probe_hits));
	s->generation++;
}

uint64_t vt_state_attach_ms(const struct vt_state *s)
{
	return s->attach_ms;
}

uint64_t vt_state_generation(const struct vt_state *s)
{
	return s->generation;
}

/* ---- leaks ------------------------------------------------------------------ */

/* Older first; ties in slab then slot order, so the list is stable. */
static bool leak_before(const struct vt_leak *a, const struct vt_leak *b)
{
	if (a->age_ms != b->age_ms)
		return a->age_ms > b->age_ms;
	if (a->slab != b->slab)
		return slab_before(a->slab, b->slab);
	return a->slot < b->slot;
}

/* out[0..n) is a heap whose root is the entry that sorts last, so the
 * `max` oldest of any number of candidates are kept in O(N log max). */
static void leak_sift_down(struct vt_leak *h, size_t n, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		struct vt_leak t;

		if (l < n && leak_before(&h[m], &h[l]))
			m = l;
		if (r < n && leak_before(&h[m], &h[r]))
			m = r;
		if (m == i)
			return;
		t = h[i];
		h[i] = h[m];
		h[m] = t;
		i = m;
	}
}

static void leak_sift_up(struct vt_leak *h, size_t i)
{
	while (i > 0 && leak_before(&h[(i - 1) / 2], &h[i])) {
		struct vt_leak t = h[i];

		h[i] = h[(i - 1) / 2];
		h[(i - 1) / 2] = t;
		i = (i - 1) / 2;
	}
}

static void leak_offer(struct vt_leak *h, size_t *n, size_t max,
		       const struct vt_leak *c)
{
	if (*n < max) {
		h[*n] = *c;
		leak_sift_up(h, (*n)++);
	} else if (leak_before(c, &h[0])) {
		h[0] = *c;
		leak_sift_down(h, *n, 0);
	}
}

/* Counts sl's slots in use for at least min_age_ms and, given out, offers
 * each to the max oldest kept there (n of them so far); *due is lowered to
 * when the first slot in use not yet suspect turns one. Walks the bitmap
 * by its set bits: most of a big slab's time goes to the slots in use. */
static uint64_t slab_suspects(const struct vt_slab *sl, uint64_t now_ms,
			      uint64_t min_age_ms, struct vt_leak *out,
			      size_t *n, size_t max, uint64_t *due)
{
	uint64_t count = 0, bytes = (sl->total + 7) / 8;

	for (uint64_t w = 0; w < bytes; w++) {
		for (unsigned bits = sl->bitmap[w]; bits; bits &= bits - 1) {
			uint64_t j = w * 8 + (uint64_t)__builtin_ctz(bits);
			uint64_t since = sl->since_ms[j];
			uint64_t age = now_ms > since ? now_ms - since : 0;
			struct vt_leak c;

			if (j >= sl->total)
				break;
			if (age < min_age_ms) {
				if (since + min_age_ms < *due)
					*due = since + min_age_ms;
				continue;
			}
			count++;
			/* the last kept sorts before it when older or as old:
			 * slabs and slots are walked in their sort order */
			if (!out || (*n == max && age <= out[0].age_ms))
				continue;
			c = (struct vt_leak){ sl, j, age, sl->since_attach[j] };
			leak_offer(out, n, max, &c);
		}
	}
	return count;
}

uint64_t vt_slab_suspects(const struct vt_slab *sl, uint64_t now_ms,
			  uint64_t min_age_ms)
{
	uint64_t due = UINT64_MAX;

	return slab_suspects(sl, now_ms, min_age_ms, NULL, NULL, 0, &due);
}

size_t vt_state_leaks(const struct vt_state *s, uint64_t now_ms,
		      uint64_t min_age_ms, struct vt_leak *out, size_t max)
{
	uint64_t due;

	return vt_state_leaks_until(s, now_ms, min_age_ms, out, max, &due);
}

size_t vt_state_leaks_until(const struct vt_state *s, uint64_t now_ms,
			    uint64_t min_age_ms, struct vt_leak *out,
			    size_t max, uint64_t *until_ms)
{
	size_t n = 0;

	*until_ms = UINT64_MAX;
	if (!max)
		return 0;
	for (size_t i = 0; i < s->nslabs; i++)
		slab_suspects(s->slabs[i], now_ms, min_age_ms, out, &n, max,
			      until_ms);
	/* a full list: a slot turning suspect is younger than all of it */
	if (n == max)
		*until_ms = UINT64_MAX;
	/* heap sort: repeatedly move the last-sorting root to the end */
	for (size_t k = n; k > 1; k--) {
		struct vt_leak t = out[0];

		out[0] = out[k - 1];
		out[k - 1] = t;
		leak_sift_down(out, k - 1, 0);
	}
	return n;
}
