#include "cli/vt_stacks.h"

#include <stdlib.h>
#include <string.h>

#include "target/vt_sym.h"

#define QUEUE 8192		/* per CPU: copies whose events are not read */
#define CPUS 256		/* the CPU is the seq's top byte */

struct own {
	uint64_t pcs[VT_STACK_DEPTH];
	uint8_t n;
	bool stopped;
};

struct vt_stacks {
	int pid;
	const struct vt_mem *mem;
	struct vt_sym *sym;	/* opened at the first use */
	struct own *own;
	size_t nown;
	uint32_t *slot;		/* open addressing: 1 + index into own */
	struct cpuq *q[CPUS];	/* allocated at a CPU's first copy */
};

/* A CPU's copies in order: its events come in the same order. */
struct cpuq {
	size_t head, tail;	/* tail - head entries, at index % QUEUE */
	uint32_t seq[QUEUE], id[QUEUE];
};

#define SLOTS (VT_STACKS_MAX * 2)

struct vt_stacks *vt_stacks_new(int pid, const struct vt_mem *mem)
{
	struct vt_stacks *st = calloc(1, sizeof(*st));

	if (!st)
		return NULL;
	st->pid = pid;
	st->mem = mem;
	st->own = calloc(VT_STACKS_MAX, sizeof(*st->own));
	st->slot = calloc(SLOTS, sizeof(*st->slot));
	if (!st->own || !st->slot) {
		vt_stacks_free(st);
		return NULL;
	}
	return st;
}

void vt_stacks_free(struct vt_stacks *st)
{
	if (!st)
		return;
	vt_sym_close(st->sym);
	for (size_t i = 0; i < CPUS; i++)
		free(st->q[i]);
	free(st->own);
	free(st->slot);
	free(st);
}

static struct vt_sym *sym(struct vt_stacks *st)
{
	if (!st->sym)
		st->sym = vt_sym_open(st->pid, st->mem);
	return st->sym;
}

static uint64_t hash(const struct own *o)
{
	uint64_t h = 1469598103934665603ull;

	for (size_t i = 0; i < o->n; i++)
		h = (h ^ o->pcs[i]) * 1099511628211ull;
	return h;
}

/* Our id of an unwound stack, the same for the same addresses; 0 when
 * the table is full. */
static uint32_t intern(struct vt_stacks *st, const struct own *o)
{
	for (size_t i = hash(o) % SLOTS, k = 0; k < SLOTS;
	     i = (i + 1) % SLOTS, k++) {
		uint32_t s = st->slot[i];

		if (!s) {
			if (st->nown == VT_STACKS_MAX)
				return 0;
			st->own[st->nown] = *o;
			st->slot[i] = ++st->nown;
			return VT_STACKS_OWN | st->nown;
		}
		if (st->own[s - 1].n == o->n &&
		    !memcmp(st->own[s - 1].pcs, o->pcs, o->n * sizeof(*o->pcs)))
			return VT_STACKS_OWN | s;
	}
	return 0;
}

/* Once a copy was unwound to its outermost frame, the thread's copies
 * end there; one that ended there and was too short makes them full
 * again. */
static bool stack_top(const struct vt_ustack *u,
		      const struct vt_sym_reach *r, uint64_t *top)
{
	*top = r->end;
	if (u->flags & VT_US_TOP)
		return r->past;
	return r->end != 0;
}

bool vt_stacks_copied(struct vt_stacks *st, const struct vt_ustack *u,
		      uint64_t *top)
{
	struct own o = { .n = 0 };
	struct vt_sym *s = sym(st);
	struct cpuq **q = &st->q[u->seq >> 24];
	struct vt_sym_reach reach = { 0 };
	uint32_t id = 0;

	if (s && (o.n = vt_sym_unwind(s, u, o.pcs, VT_STACK_DEPTH,
				      &o.stopped, &reach)))
		id = intern(st, &o);
	if (!*q && !(*q = calloc(1, sizeof(**q))))
		return false;
	if ((*q)->tail - (*q)->head == QUEUE)	/* the oldest is dropped */
		(*q)->head++;
	(*q)->seq[(*q)->tail % QUEUE] = u->seq;
	(*q)->id[(*q)->tail % QUEUE] = id;
	(*q)->tail++;
	return stack_top(u, &reach, top);
}

/* a before b among one CPU's 24-bit sequence numbers (they wrap) */
static bool seq_before(uint32_t a, uint32_t b)
{
	return (int32_t)((a - b) << 8) < 0;
}

uint32_t vt_stacks_of_copy(struct vt_stacks *st, uint32_t seq)
{
	struct cpuq *q = seq ? st->q[seq >> 24] : NULL;

	/* copies before it belong to acquires whose events were lost */
	while (q && q->head != q->tail) {
		uint32_t s = q->seq[q->head % QUEUE];

		if (s == seq)
			return q->id[q->head++ % QUEUE];
		if (!seq_before(s, seq))
			break;
		q->head++;
	}
	return 0;
}

size_t vt_stacks_frames(struct vt_stacks *st, const struct vt_probe *p,
			uint32_t id, struct vt_rep_frame *out, size_t max,
			bool *truncated)
{
	uint64_t pcs[VT_STACK_DEPTH];
	size_t n = 0, got;
	bool stopped = false;
	struct vt_sym *s = sym(st);

	*truncated = false;
	if (!s || !id)
		return 0;
	if (id & VT_STACKS_OWN) {
		uint32_t k = (id & ~VT_STACKS_OWN) - 1;

		if (k < st->nown) {
			n = st->own[k].n;
			memcpy(pcs, st->own[k].pcs, n * sizeof(*pcs));
			stopped = st->own[k].stopped;
		}
	} else if (p) {
		n = vt_probe_stack(p, id, pcs, VT_STACK_DEPTH);
	}
	got = vt_sym_frames(s, pcs, n, out, max, truncated);
	*truncated |= stopped;
	return got;
}
