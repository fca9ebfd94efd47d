/* vt_wire: JSON and Prometheus encoders (see vt_wire.h): what the
 * encoders share. Per-slot strings (states, bitmaps, RLE) are written
 * straight into a growing buffer and handed to jansson as one string: a
 * json value per slot would make a 262,144-slot slab cost tens of
 * milliseconds. */
#include "wire/vt_wire_json.h"

#include "wire/vt_buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JSON_FLAGS (JSON_COMPACT | JSON_REAL_PRECISION(12))

/* One byte more than asked: the text stays NUL-terminated. */
bool vt_wire__buf_grow(struct vt_wire__buf *b, size_t more)
{
	void *p = b->p;

	if (!b->oom && !vt_buf_reserve(&p, &b->cap, b->len + more + 1, 256))
		b->oom = true;
	b->p = p;
	return !b->oom;
}

void vt_wire__buf_put(struct vt_wire__buf *b, const char *s, size_t n)
{
	if (!vt_wire__buf_grow(b, n))
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = 0;
}

void vt_wire__buf_printf(struct vt_wire__buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || !vt_wire__buf_grow(b, (size_t)n))
		return;
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

char *vt_wire__buf_take(struct vt_wire__buf *b)
{
	if (b->oom || !vt_wire__buf_grow(b, 0)) {
		free(b->p);
		return NULL;
	}
	b->p[b->len] = 0;
	return b->p;
}

json_t *vt_wire__buf_json(struct vt_wire__buf *b)
{
	char *text = vt_wire__buf_take(b);
	json_t *j = text ? json_stringn_nocheck(text, b->len) : NULL;

	free(text);
	return j;
}

static const char hexdig[] = "0123456789abcdef";

void vt_wire__put_hex(struct vt_wire__buf *b, uint8_t v)
{
	char h[2] = { hexdig[v >> 4], hexdig[v & 15] };

	vt_wire__buf_put(b, h, 2);
}

void vt_wire__put_u64(struct vt_wire__buf *b, uint64_t v)
{
	char tmp[20], *p = tmp + sizeof(tmp);

	do {
		*--p = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	vt_wire__buf_put(b, p, (size_t)(tmp + sizeof(tmp) - p));
}

json_t *vt_wire__runs_delta(const void *prev, const void *cur, size_t n,
			    vt_wire__run_fn *put)
{
	const uint8_t *p = prev, *c = cur;
	struct vt_wire__buf b = { 0 };

	for (size_t i = vt_wire__next_diff(p, c, 0, n); i < n;
	     i = vt_wire__next_diff(p, c, i, n)) {
		size_t j;

		for (j = i + 1; j < n && p[j] != c[j]; j++)
			;
		if (b.len)
			vt_wire__buf_put(&b, ",", 1);
		vt_wire__put_u64(&b, i);
		vt_wire__buf_put(&b, ":", 1);
		put(&b, c + i, j - i);
		i = j;
	}
	if (b.len)
		return vt_wire__buf_json(&b);
	free(b.p);
	return NULL;
}

size_t vt_wire__bitmap_bytes(const struct vt_slab *sl)
{
	return (size_t)((sl->total + 7) / 8);
}

void vt_wire__set_u(json_t *o, const char *k, uint64_t v)
{
	json_object_set_new(o, k, json_integer((json_int_t)v));
}

void vt_wire__set_s(json_t *o, const char *k, const char *v)
{
	json_object_set_new(o, k, v ? json_string(v) : json_null());
}

#define PROBE_NAME(id, kind, func, site) [VT_P_##id] = #kind ":" func site,
#define RETIRED(id, kind)
static const char *const probe_names[VT_P_COUNT] = {
	VT_PROBES(PROBE_NAME, RETIRED)
};
#undef RETIRED
#undef PROBE_NAME

const char *vt_wire_probe_name(enum vt_probe_id id)
{
	return vt_wire_probe_live(id) ? probe_names[id] : "unknown";
}

/* A retired id keeps its place (recordings index hits by id) but has no
 * program: it is neither listed nor exported. */
bool vt_wire_probe_live(enum vt_probe_id id)
{
	return (unsigned)id < VT_P_COUNT && probe_names[id];
}

const char vt_wire__conn_letters[VT_WIRE__CONN_STATES] = { 'N', 'A', 'I',
								'C' };

const uint8_t vt_wire__conn_of[256] = {
	['N'] = VT_WIRE__CONN_N + 1, ['A'] = VT_WIRE__CONN_A + 1,
	['I'] = VT_WIRE__CONN_I + 1, ['C'] = VT_WIRE__CONN_C + 1,
};

size_t vt_wire__owner_count(const struct vt_state *s, int system)
{
	const struct vt_system *sys = vt_state_system(s, (size_t)system);

	return sys ? sys->nowners : 0;
}

void vt_wire__tally_slab(const struct vt_state *s, const struct vt_slab *sl,
		       struct vt_wire__tally *t)
{
	const unsigned char *st = (const unsigned char *)sl->states;
	size_t nowners = vt_wire__owner_count(s, sl->system);

	memset(t, 0, sizeof(*t));
	t->nowners = nowners;
	for (uint64_t i = 0; i < sl->total; i++) {
		unsigned k = vt_wire__conn_of[st[i]];

		if (vt_wire__plain8(sl->states, i, sl->total)) {
			t->letters[st[i]] += 8;
			i += 7;
			continue;
		}
		t->letters[st[i]]++;
		if (k)
			t->owner[sl->owners[i] < nowners ? sl->owners[i]
							 : VT_MAX_OWNERS][k - 1]++;
	}
}

bool vt_wire__tally_owner_any(const struct vt_wire__tally *t, size_t o)
{
	for (int k = 0; k < VT_WIRE__CONN_STATES; k++)
		if (t->owner[o][k])
			return true;
	return false;
}

/* {"<idx>":{"A":a,"I":i,"C":c,"N":n}}, owners with connections only. */
json_t *vt_wire__by_owner(const struct vt_wire__tally *t)
{
	static const int order[VT_WIRE__CONN_STATES] = {
		VT_WIRE__CONN_A, VT_WIRE__CONN_I, VT_WIRE__CONN_C,
		VT_WIRE__CONN_N
	};
	json_t *o = json_object();

	for (size_t i = 0; i <= VT_MAX_OWNERS; i++) {
		json_t *e;
		char key[24];

		if (!vt_wire__tally_owner_any(t, i))
			continue;
		e = json_object();
		for (int k = 0; k < VT_WIRE__CONN_STATES; k++) {
			char name[2] = { vt_wire__conn_letters[order[k]], 0 };

			vt_wire__set_u(e, name, t->owner[i][order[k]]);
		}
		if (i < VT_MAX_OWNERS)
			snprintf(key, sizeof(key), "%zu", i);
		else
			strcpy(key, "?");
		json_object_set_new(o, key, e);
	}
	return o;
}

json_t *vt_wire__owner_names(const struct vt_state *s, size_t system)
{
	const struct vt_system *sys = vt_state_system(s, system);
	json_t *a = json_array();

	for (size_t i = 0; sys && i < sys->nowners; i++)
		json_array_append_new(a, json_string(sys->owners[i]));
	return a;
}

/* The name an owner index is shown under: registry name or "?". */
const char *vt_wire__owner_label(const struct vt_state *s, int system,
			       uint16_t idx)
{
	const struct vt_system *sys = vt_state_system(s, (size_t)system);

	return sys && idx < sys->nowners ? sys->owners[idx] : "?";
}

json_t *vt_wire__gc(const struct vt_gc *gc)
{
	json_t *o = json_object(), *a = json_array();

	vt_wire__set_u(o, "heap_used_bytes", gc->heap_used_bytes);
	vt_wire__set_u(o, "heap_total_bytes", gc->heap_total_bytes);
	for (size_t i = 0; i < gc->nclasses; i++) {
		json_t *c = json_object();

		vt_wire__set_u(c, "size", gc->classes[i].size);
		vt_wire__set_u(c, "used", gc->classes[i].used);
		vt_wire__set_u(c, "total", gc->classes[i].total);
		json_array_append_new(a, c);
	}
	json_object_set_new(o, "size_classes", a);
	return o;
}

static json_t *arena_json(const struct vt_arena *a, bool with_system)
{
	json_t *o = json_object();

	vt_wire__set_s(o, "name", a->name);
	if (with_system)
		vt_wire__set_u(o, "system", (uint64_t)a->system);
	vt_wire__set_u(o, "capacity", a->capacity);
	vt_wire__set_u(o, "used", a->used);
	vt_wire__set_u(o, "hwm", a->hwm);
	vt_wire__set_u(o, "overflow", a->overflow);
	vt_wire__set_u(o, "overflow_bytes", a->overflow_bytes);
	return o;
}

json_t *vt_wire__arenas(const struct vt_state *s, bool with_system)
{
	size_t n;
	const struct vt_arena *v = vt_state_arenas(s, &n);
	json_t *a = json_array();

	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, arena_json(&v[i], with_system));
	return a;
}

static int put_cb(const char *text, size_t n, void *data)
{
	vt_wire__buf_put(data, text, n);
	return 0;
}

void vt_wire__put_json(struct vt_wire__buf *b, const json_t *j)
{
	if (!j || json_dump_callback(j, put_cb, b, JSON_FLAGS))
		b->oom = true;
}

/* An object's members without its braces: "k":v,"k":v. */
void vt_wire__put_members(struct vt_wire__buf *b, json_t *o)
{
	size_t at = b->len;

	vt_wire__put_json(b, o);
	json_decref(o);
	if (b->oom || b->len - at < 2)
		return;
	memmove(b->p + at, b->p + at + 1, b->len - at - 2);
	b->len -= 2;
	b->p[b->len] = 0;
}

/* What a JSON string needs no escape for, and jansson's dump keeps as is:
 * 0x20..0x7e but '"' and '\\'. Eight bytes at a time (the per-slot
 * strings are hundreds of kilobytes): with y a byte's low seven bits, the
 * top bit of y + 0x01 is set for 0x7f, that of y + 0x60 clear below 0x20,
 * that of (y ^ c) + 0x7f clear where y is c; no sum carries out of its
 * byte. The bytes of a word that fails are looked at one by one. */
static bool plain_text(const char *s, size_t n)
{
	const uint64_t ones = 0x0101010101010101ULL, top = ones * 0x80;
	size_t i = 0;

	for (; i + 8 <= n; i += 8) {
		uint64_t x, y, bad;

		memcpy(&x, s + i, 8);
		y = x & ~top;
		bad = x | (y + ones) | ~(y + ones * 0x60) |
		      ~((y ^ (ones * '"')) + ones * 0x7f) |
		      ~((y ^ (ones * '\\')) + ones * 0x7f);
		if (bad & top)
			break;
	}
	for (; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c > 0x7e || c == '"' || c == '\\')
			return false;
	}
	return true;
}

void vt_wire__put_string(struct vt_wire__buf *b, const char *s, size_t n)
{
	json_t *j;

	if (plain_text(s, n)) {
		if (!vt_wire__buf_grow(b, n + 2))
			return;
		b->p[b->len++] = '"';
		memcpy(b->p + b->len, s, n);
		b->len += n;
		b->p[b->len++] = '"';
		b->p[b->len] = 0;
		return;
	}
	/* bytes of a replayed recording, say: jansson escapes them (or fails
	 * on what is no UTF-8, as the document did before) */
	j = json_stringn_nocheck(s, n);
	vt_wire__put_json(b, j);
	json_decref(j);
}

char *vt_wire__text(const json_t *doc)
{
	return json_dumps(doc, JSON_FLAGS);
}

char *vt_wire__dump(json_t *doc)
{
	char *text = doc ? json_dumps(doc, JSON_FLAGS) : NULL;

	json_decref(doc);
	return text;
}
