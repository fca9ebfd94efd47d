/* vt_wire internals: what the encoders (vt_wire_memory, vt_wire_valk,
 * vt_wire_prom, vt_wire_buckets) share. Not for use outside wire/: the
 * public interface is vt_wire.h. */
#ifndef VT_WIRE_JSON_H
#define VT_WIRE_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <jansson.h>

#include "wire/vt_wire.h"

/* A growable text buffer. After a failed append every later one is a
 * no-op and take returns NULL. */
struct vt_wire__buf {
	char *p;
	size_t len, cap;
	bool oom;
};

bool vt_wire__buf_grow(struct vt_wire__buf *b, size_t more);
void vt_wire__buf_put(struct vt_wire__buf *b, const char *s, size_t n);
void vt_wire__buf_printf(struct vt_wire__buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* The buffer's text, or NULL (and freed) if any append failed. */
char *vt_wire__buf_take(struct vt_wire__buf *b);
/* A jansson string holding the buffer's text; consumes the buffer. */
json_t *vt_wire__buf_json(struct vt_wire__buf *b);
/* Compact JSON of j (NULL: the buffer fails). */
void vt_wire__put_json(struct vt_wire__buf *b, const json_t *j);
/* The members of object o (non-empty), without its braces; takes o. */
void vt_wire__put_members(struct vt_wire__buf *b, json_t *o);
/* n bytes as a JSON string, byte for byte what jansson's dump writes: the
 * big per-slot strings go straight in, never through a json_t. */
void vt_wire__put_string(struct vt_wire__buf *b, const char *s, size_t n);
/* Two lower-case hex digits. */
void vt_wire__put_hex(struct vt_wire__buf *b, uint8_t v);
/* Decimal without snprintf: the run encodings print one a run. */
void vt_wire__put_u64(struct vt_wire__buf *b, uint64_t v);

/* Writes the n units of one changed run, as they are now. */
typedef void vt_wire__run_fn(struct vt_wire__buf *b, const uint8_t *run,
			     size_t n);
/* "off:run,off:run" for every run of units where cur differs from prev
 * (n units each), put writing the run; NULL when none differ. */
json_t *vt_wire__runs_delta(const void *prev, const void *cur, size_t n,
			    vt_wire__run_fn *put);

size_t vt_wire__bitmap_bytes(const struct vt_slab *sl);
void vt_wire__set_u(json_t *o, const char *k, uint64_t v);
/* NULL is JSON null. */
void vt_wire__set_s(json_t *o, const char *k, const char *v);
/* Serialise (compact) and free a document. */
char *vt_wire__dump(json_t *doc);
/* Serialise (compact) without freeing: malloc'd, NULL when out of memory. */
char *vt_wire__text(const json_t *doc);

/* Connection counts of a handle slab: per letter, and per owner index with
 * one extra row for owners outside the system's registry ("?"). */
enum { VT_WIRE__CONN_N, VT_WIRE__CONN_A, VT_WIRE__CONN_I, VT_WIRE__CONN_C,
       VT_WIRE__CONN_STATES };
extern const char vt_wire__conn_letters[VT_WIRE__CONN_STATES];

struct vt_wire__tally {
	uint64_t letters[256];
	uint64_t owner[VT_MAX_OWNERS + 1][VT_WIRE__CONN_STATES];
	size_t nowners;		/* the system's registry size */
};

/* Per byte: its VT_WIRE__CONN_* index plus one, 0 for any other letter
 * (a table, not a search: the encoders ask once per slot). */
extern const uint8_t vt_wire__conn_of[256];

/* The first index from i on where a and b differ, n if none: eight bytes
 * a step, as the encoders look for the few changed slots of big slabs. */
static inline size_t vt_wire__next_diff(const void *a, const void *b,
					size_t i, size_t n)
{
	const uint8_t *x = a, *y = b;

	for (; i + 8 <= n; i += 8) {
		uint64_t u, v;

		memcpy(&u, x + i, 8);
		memcpy(&v, y + i, 8);
		if (u != v)
			break;
	}
	while (i < n && x[i] == y[i])
		i++;
	return i;
}

/* The VT_WIRE__CONN_* index of a connection letter, or -1. */
static inline int vt_wire__conn_index(char c)
{
	return vt_wire__conn_of[(unsigned char)c] - 1;
}

/* Eight slots from i on hold one letter that is no connection's (free,
 * mostly): a tally or a digit string takes them in one step. */
static inline bool vt_wire__plain8(const char *p, size_t i, size_t n)
{
	uint64_t w;

	if (i + 8 > n || vt_wire__conn_of[(unsigned char)p[i]])
		return false;
	memcpy(&w, p + i, 8);
	return w == (unsigned char)p[i] * 0x0101010101010101ull;
}
void vt_wire__tally_slab(const struct vt_state *s, const struct vt_slab *sl,
			 struct vt_wire__tally *t);
/* One slot's part of a tally taken (d = -1) or given (+1): its letter and
 * owner bucket (an index below the registry size, or VT_MAX_OWNERS). */
static inline void vt_wire__tally_slot(struct vt_wire__tally *t,
				       unsigned char c, unsigned bucket, int d)
{
	unsigned k = vt_wire__conn_of[c];

	t->letters[c] += (uint64_t)(int64_t)d;
	if (k)
		t->owner[bucket < VT_MAX_OWNERS ? bucket : VT_MAX_OWNERS][k - 1] +=
			(uint64_t)(int64_t)d;
}
bool vt_wire__tally_owner_any(const struct vt_wire__tally *t, size_t o);
json_t *vt_wire__by_owner(const struct vt_wire__tally *t);

/* Owner registry size of a system (0 for an unused index). */
size_t vt_wire__owner_count(const struct vt_state *s, int system);
/* ["name", ...] of a system's owner registry. */
json_t *vt_wire__owner_names(const struct vt_state *s, size_t system);
const char *vt_wire__owner_label(const struct vt_state *s, int system,
				 uint16_t idx);
json_t *vt_wire__gc(const struct vt_gc *gc);
json_t *vt_wire__arenas(const struct vt_state *s, bool with_system);

#endif /* VT_WIRE_JSON_H */
