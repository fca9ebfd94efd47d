/* vt_rec: stack records — an acquire call stack, once per recording, as
 * the report shows it (symbolized frames), so a recording's leak stacks
 * read anywhere, without the target's objects. */
#include <string.h>

#include "wire/vt_rec.h"
#include "wire/vt_rec_codec.h"

#define STACK_TRUNCATED 0x01
#define FRAME_SYMBOLIZED 0x01
#define FRAME_INLINED 0x02
#define FRAME_FLAGS (FRAME_SYMBOLIZED | FRAME_INLINED)
#define MAX_LINE 0x7fffffff

static void str_put(struct vt_rec_buf *b, const char *s, size_t cap)
{
	size_t n = strnlen(s, cap - 1);

	vt_rec_put_u(b, n);
	vt_rec_put(b, s, n);
}

/* A string of at most cap - 1 bytes into s, terminated. */
static void str_get(struct vt_rec_cur *c, char *s, size_t cap)
{
	size_t n = (size_t)vt_rec_get_max(c, cap - 1);
	const uint8_t *p = vt_rec_get(c, n);

	n = p ? n : 0;
	memcpy(s, p ? (const char *)p : "", n);
	s[n] = '\0';
}

void vt_rec_stack(struct vt_rec_buf *b, const struct vt_rec_stack *st)
{
	size_t start = vt_rec_begin(b, VT_REC_STACK);
	size_t n = st->nframes < VT_REP_MAX_FRAMES ? st->nframes
						   : VT_REP_MAX_FRAMES;

	vt_rec_put_u(b, st->id);
	vt_rec_put_byte(b, st->truncated ? STACK_TRUNCATED : 0);
	vt_rec_put_u(b, n);
	for (size_t i = 0; i < n; i++) {
		const struct vt_rep_frame *f = &st->frames[i];

		vt_rec_put_byte(b, (f->symbolized ? FRAME_SYMBOLIZED : 0) |
				   (f->inlined ? FRAME_INLINED : 0));
		vt_rec_put_u(b, f->pc);
		str_put(b, f->func, sizeof(f->func));
		str_put(b, f->file, sizeof(f->file));
		vt_rec_put_u(b, f->line > 0 ? (uint64_t)f->line : 0);
		str_put(b, f->module, sizeof(f->module));
	}
	vt_rec_end(b, start);
}

int vt_rec_stack_decode(const struct vt_rec *rec, struct vt_rec_stack *st)
{
	struct vt_rec_cur c = vt_rec_cursor(rec);
	uint8_t flags;

	memset(st, 0, sizeof(*st));
	if (rec->type != VT_REC_STACK)
		return -1;
	st->id = (uint32_t)vt_rec_get_max(&c, UINT32_MAX);
	flags = vt_rec_get_byte(&c);
	st->truncated = flags & STACK_TRUNCATED;
	st->nframes = (size_t)vt_rec_get_max(&c, VT_REP_MAX_FRAMES);
	if (!st->id || flags & ~STACK_TRUNCATED)
		c.bad = true;
	for (size_t i = 0; i < st->nframes && !c.bad; i++) {
		struct vt_rep_frame *f = &st->frames[i];

		flags = vt_rec_get_byte(&c);
		if (flags & ~FRAME_FLAGS)
			c.bad = true;
		f->symbolized = flags & FRAME_SYMBOLIZED;
		f->inlined = flags & FRAME_INLINED;
		f->pc = vt_rec_get_u(&c);
		str_get(&c, f->func, sizeof(f->func));
		str_get(&c, f->file, sizeof(f->file));
		f->line = (int)vt_rec_get_max(&c, MAX_LINE);
		str_get(&c, f->module, sizeof(f->module));
	}
	return c.bad || c.p != c.end ? -1 : 0;
}
