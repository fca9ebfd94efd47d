/* vt_report: the end-of-run report built from the state model (see
 * vt_report.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/vt_report.h"

#define MAX_ARENA_NAMES 4096	/* arenas tracked one by one */
#define RATE_WINDOW_MS 1000

struct rslab {
	uint64_t addr;		/* 0 once destroyed */
	struct vt_rep_slab row;
	uint64_t win_ms, win_acquires;	/* the acquisition-rate window */
};

struct rarena {
	int system;
	char name[48];
	uint64_t capacity, hwm, overflow, overflow_bytes;
};

struct rleak {
	struct vt_rep_leak leak;
	uint32_t stack_id;
};

struct vt_report {
	struct vt_report_opts o;
	uint64_t start_ms;
	struct rslab slabs[VT_REP_MAX_SLABS];
	size_t nslabs;
	struct rarena *arenas;
	size_t narenas;
	struct rleak *leaks;
	size_t nlisted;
	uint64_t nleaks;
};

static const char *const ignore_words[VT_REP_IGN_COUNT - VT_SLAB_KINDS] = {
	"listener", "task", "timer", "connection", "object",
};

int vt_report_ignore_bit(const char *word)
{
	for (int k = 0; k < VT_SLAB_KINDS; k++)
		if (!strcmp(word, vt_slab_kind_name(k)))
			return k;
	for (int i = 0; i < VT_REP_IGN_COUNT - VT_SLAB_KINDS; i++)
		if (!strcmp(word, ignore_words[i]))
			return VT_SLAB_KINDS + i;
	return -1;
}

/* The --ignore bit of a used handle slot's state letter. */
static int letter_bit(char c)
{
	switch (c) {
	case 'T':
		return VT_REP_IGN_LISTENER;
	case 'K':
		return VT_REP_IGN_TASK;
	case 'M':
		return VT_REP_IGN_TIMER;
	case 'N': case 'A': case 'I': case 'C':
		return VT_REP_IGN_CONNECTION;
	default:
		return VT_REP_IGN_OBJECT;
	}
}

static int conn_index(char c)
{
	const char *p = c ? strchr("NAIC", c) : NULL;

	return p ? p - "NAIC" : -1;
}

void vt_rep_proc_free(struct vt_rep_proc *p)
{
	free(p->leaks);
	free(p->groups);
	p->leaks = NULL;
	p->groups = NULL;
}

const struct vt_rep_slab *vt_rep_slab_find(const struct vt_rep_proc *p,
					   int system, const char *name)
{
	for (size_t i = 0; i < p->nslabs; i++)
		if (p->slabs[i].system == system &&
		    !strcmp(p->slabs[i].name, name))
			return &p->slabs[i];
	return NULL;
}

struct vt_report *vt_report_new(const struct vt_report_opts *o,
				uint64_t start_ms)
{
	struct vt_report *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->o = *o;
	r->o.ignore |= 1u << VT_REP_IGN_LISTENER;	/* meant to live */
	r->start_ms = start_ms;
	r->arenas = calloc(MAX_ARENA_NAMES, sizeof(*r->arenas));
	r->leaks = calloc(VT_REP_MAX_LEAKS, sizeof(*r->leaks));
	if (!r->arenas || !r->leaks) {
		vt_report_free(r);
		return NULL;
	}
	return r;
}

void vt_report_free(struct vt_report *r)
{
	if (!r)
		return;
	free(r->arenas);
	free(r->leaks);
	free(r);
}

static double since_start_s(const struct vt_report *r, uint64_t ms)
{
	return ms > r->start_ms ? (ms - r->start_ms) / 1000.0 : 0;
}

/* Connections of a handle slab by owner and state, now. */
static void count_conns(const struct vt_state *s, const struct vt_slab *sl,
			struct vt_rep_conns *c)
{
	const struct vt_system *sys = vt_state_system(s, sl->system);

	memset(c, 0, sizeof(*c));
	for (size_t i = 0; sys && i < sys->nowners; i++)
		snprintf(c->owner[i], sizeof(c->owner[i]), "%s", sys->owners[i]);
	c->nowners = sys ? sys->nowners : 0;
	snprintf(c->owner[c->nowners], sizeof(c->owner[0]), "none");
	for (uint64_t j = 0; j < sl->total; j++) {
		int st = conn_index(sl->states[j]);
		size_t o;

		if (st < 0)
			continue;
		o = sl->owners[j] < c->nowners ? sl->owners[j] : c->nowners;
		c->n[o][st]++;
	}
	c->nowners++;		/* the "none" row */
}

static struct rslab *rslab_get(struct vt_report *r, const struct vt_state *s,
			       const struct vt_slab *sl, uint64_t now_ms)
{
	struct rslab *rs;

	for (size_t i = 0; i < r->nslabs; i++)
		if (r->slabs[i].addr == sl->addr)
			return &r->slabs[i];
	if (r->nslabs == VT_REP_MAX_SLABS)
		return NULL;
	rs = &r->slabs[r->nslabs++];
	memset(rs, 0, sizeof(*rs));
	rs->addr = sl->addr;
	rs->row.system = sl->system;
	snprintf(rs->row.name, sizeof(rs->row.name), "%s",
		 vt_slab_kind_name(sl->kind));
	rs->row.has_conns = sl->states != NULL;
	/* a high-water mark above the use seen first was reached before */
	rs->row.peak = sl->hwm;
	rs->row.peak_at_s = sl->hwm > sl->used ? -1 : since_start_s(r, now_ms);
	rs->win_ms = now_ms;
	rs->win_acquires = sl->acquires;
	if (sl->states)
		count_conns(s, sl, &rs->row.conns_peak);
	return rs;
}

static void observe_slab(struct vt_report *r, const struct vt_state *s,
			 const struct vt_slab *sl, uint64_t now_ms)
{
	struct rslab *rs = rslab_get(r, s, sl, now_ms);
	struct vt_rep_slab *row;

	if (!rs)
		return;
	row = &rs->row;
	row->total = sl->total;
	row->final_used = sl->used;
	row->acquires = sl->acquires;
	row->releases = sl->releases;
	row->overflow = sl->overflow;
	if (sl->hwm > row->peak) {
		row->peak = sl->hwm;
		row->peak_at_s = since_start_s(r, now_ms);
		if (sl->states)
			count_conns(s, sl, &row->conns_peak);
	}
	if (now_ms - rs->win_ms >= RATE_WINDOW_MS) {
		uint64_t rate = (sl->acquires - rs->win_acquires) * 1000 /
				(now_ms - rs->win_ms);

		if (rate > row->max_acquires_per_s)
			row->max_acquires_per_s = rate;
		rs->win_ms = now_ms;
		rs->win_acquires = sl->acquires;
	}
}

static struct rarena *rarena_get(struct vt_report *r, const struct vt_arena *a)
{
	for (size_t i = 0; i < r->narenas; i++)
		if (r->arenas[i].system == a->system &&
		    !strcmp(r->arenas[i].name, a->name))
			return &r->arenas[i];
	if (r->narenas == MAX_ARENA_NAMES)
		return NULL;
	r->arenas[r->narenas].system = a->system;
	snprintf(r->arenas[r->narenas].name, sizeof(r->arenas[0].name), "%s",
		 a->name);
	return &r->arenas[r->narenas++];
}

#define RAISE(a, b) ((a) = (b) > (a) ? (b) : (a))

static void observe_arenas(struct vt_report *r, const struct vt_state *s)
{
	size_t n;
	const struct vt_arena *a = vt_state_arenas(s, &n);

	for (size_t i = 0; i < n; i++) {
		struct rarena *ra = rarena_get(r, &a[i]);

		if (!ra)
			continue;
		RAISE(ra->capacity, a[i].capacity);
		RAISE(ra->hwm, a[i].hwm);
		RAISE(ra->overflow, a[i].overflow);
		RAISE(ra->overflow_bytes, a[i].overflow_bytes);
	}
}

void vt_report_observe(struct vt_report *r, const struct vt_state *s,
		       uint64_t now_ms)
{
	for (size_t i = 0; i < vt_state_nslabs(s); i++)
		observe_slab(r, s, vt_state_slab(s, i), now_ms);
	observe_arenas(r, s);
}

static bool leak_wanted(const struct vt_report *r, const struct vt_slab *sl,
			uint64_t j)
{
	if (r->o.ignore >> sl->kind & 1)
		return false;
	if (sl->states && r->o.ignore >> letter_bit(sl->states[j]) & 1)
		return false;
	return sl->since_ms[j] >= r->start_ms + r->o.warmup_ms;
}

static void add_leak(struct vt_report *r, const struct vt_state *s,
		     const struct vt_slab *sl, uint64_t j, uint64_t now_ms,
		     bool at_destroy)
{
	struct rleak *l;
	const struct vt_system *sys;

	r->nleaks++;
	if (r->nlisted == VT_REP_MAX_LEAKS)
		return;
	l = &r->leaks[r->nlisted++];
	memset(l, 0, sizeof(*l));
	l->leak.system = sl->system;
	snprintf(l->leak.slab, sizeof(l->leak.slab), "%s",
		 vt_slab_kind_name(sl->kind));
	l->leak.slot = j;
	l->leak.age_ms = now_ms > sl->since_ms[j] ? now_ms - sl->since_ms[j] : 0;
	l->leak.acquired_at_s = sl->since_attach[j] ? -1
			      : since_start_s(r, sl->since_ms[j]);
	l->leak.at_destroy = at_destroy;
	l->stack_id = sl->stacks ? sl->stacks[j] : 0;
	if (!sl->states)
		return;
	l->leak.state = sl->states[j];
	sys = vt_state_system(s, sl->system);
	if (sys && sl->owners[j] < sys->nowners)
		snprintf(l->leak.owner, sizeof(l->leak.owner), "%s",
			 sys->owners[sl->owners[j]]);
}

static void collect_leaks(struct vt_report *r, const struct vt_state *s,
			  const struct vt_slab *sl, uint64_t now_ms,
			  bool at_destroy)
{
	for (uint64_t j = 0; j < sl->total; j++) {
		if (j % 8 == 0 && !sl->bitmap[j / 8]) {
			j += 7;		/* a byte of free slots */
			continue;
		}
		if (vt_slab_bit(sl->bitmap, j) && leak_wanted(r, sl, j))
			add_leak(r, s, sl, j, now_ms, at_destroy);
	}
}

/* The slab's last state goes into its row and its used slots are leaks
 * (a slab destroyed with slots in use leaks them). */
static void close_slab(struct vt_report *r, const struct vt_state *s,
		       const struct vt_slab *sl, uint64_t now_ms,
		       bool destroyed)
{
	struct rslab *rs;

	observe_slab(r, s, sl, now_ms);
	rs = rslab_get(r, s, sl, now_ms);
	/* a slab that lived less than a window: its rate over its life */
	if (rs && !rs->row.max_acquires_per_s && now_ms - rs->win_ms >= 10)
		rs->row.max_acquires_per_s = (sl->acquires - rs->win_acquires) *
					     1000 / (now_ms - rs->win_ms);
	if (rs) {
		rs->row.destroyed = destroyed;
		if (sl->states)
			count_conns(s, sl, &rs->row.conns_end);
		if (destroyed)
			rs->addr = 0;	/* a new slab there is another row */
	}
	collect_leaks(r, s, sl, now_ms, destroyed);
}

void vt_report_event(struct vt_report *r, const struct vt_state *s,
		     const struct vt_event *ev)
{
	const struct vt_slab *sl;

	if (ev->type != VT_EV_SLAB_FREE)
		return;
	sl = vt_state_slab_find(s, ev->slab_free.slab);
	if (sl)
		close_slab(r, s, sl, ev->ts_ns / 1000000, true);
}

/* Stream arenas come and go: one row per system and class ("scratch",
 * "stream_arenas"), peaks the highest, overflows summed. */
static void arena_rows(const struct vt_report *r, struct vt_rep_proc *out)
{
	for (size_t i = 0; i < r->narenas; i++) {
		const struct rarena *a = &r->arenas[i];
		const char *cls = strncmp(a->name, "stream_arena", 12)
					  ? a->name : "stream_arenas";
		struct vt_rep_arena *row = NULL;

		for (size_t k = 0; k < out->narenas; k++)
			if (out->arenas[k].system == a->system &&
			    !strcmp(out->arenas[k].name, cls))
				row = &out->arenas[k];
		if (!row) {
			if (out->narenas == VT_REP_MAX_ARENAS)
				continue;
			row = &out->arenas[out->narenas++];
			memset(row, 0, sizeof(*row));
			row->system = a->system;
			snprintf(row->name, sizeof(row->name), "%s", cls);
		}
		RAISE(row->capacity, a->capacity);
		RAISE(row->peak, a->hwm);
		row->overflow += a->overflow;
		row->overflow_bytes += a->overflow_bytes;
	}
}

static int group_cmp(const void *a, const void *b)
{
	const struct vt_rep_group *x = a, *y = b;

	if (!*x->suppressed_by != !*y->suppressed_by)	/* counted first */
		return *x->suppressed_by ? 1 : -1;
	if (x->count != y->count)
		return x->count < y->count ? 1 : -1;
	return x->stack_id < y->stack_id ? -1 : x->stack_id > y->stack_id;
}

static int group_rank_cmp(const void *a, const void *b, void *groups)
{
	const struct vt_rep_group *g = groups;

	return group_cmp(&g[*(const uint32_t *)a], &g[*(const uint32_t *)b]);
}

/* Largest group first; each leak keeps pointing at its own group. */
static void sort_groups(struct vt_rep_proc *p)
{
	size_t n = p->ngroups ? p->ngroups : 1;
	uint32_t *order = calloc(n, sizeof(*order)), *rank = calloc(n, sizeof(*rank));
	struct vt_rep_group *sorted = calloc(n, sizeof(*sorted));

	if (!order || !rank || !sorted)
		goto out;	/* unsorted, still consistent */
	for (size_t i = 0; i < p->ngroups; i++)
		order[i] = i;
	qsort_r(order, p->ngroups, sizeof(*order), group_rank_cmp, p->groups);
	for (size_t i = 0; i < p->ngroups; i++) {
		sorted[i] = p->groups[order[i]];
		rank[order[i]] = i;
	}
	memcpy(p->groups, sorted, p->ngroups * sizeof(*sorted));
	for (size_t i = 0; i < p->nlisted; i++)
		if (p->leaks[i].stack < p->ngroups)
			p->leaks[i].stack = rank[p->leaks[i].stack];
out:
	free(order);
	free(rank);
	free(sorted);
}

/* A leak group before its frames: stack id, slab, count. */
struct gkey {
	uint32_t stack_id;
	const char *slab;
	uint64_t count;
};

static int gkey_cmp(const void *a, const void *b, void *keys)
{
	const struct gkey *x = (const struct gkey *)keys + *(const uint32_t *)a;
	const struct gkey *y = (const struct gkey *)keys + *(const uint32_t *)b;

	if (x->count != y->count)
		return x->count < y->count ? 1 : -1;
	if (x->stack_id != y->stack_id)
		return x->stack_id < y->stack_id ? -1 : 1;
	return strcmp(x->slab, y->slab);
}

/* Leaks by acquire stack and slab, largest group first, the largest
 * VT_REP_MAX_GROUPS kept; each leak points at its group (UINT32_MAX past
 * them). Slots without a captured stack form the groups of stack id 0. */
static int group_leaks(const struct vt_report *r, struct vt_rep_proc *out)
{
	size_t n = r->nlisted ? r->nlisted : 1, nkeys = 0;
	struct gkey *keys = calloc(n, sizeof(*keys));
	uint32_t *of = calloc(n, sizeof(*of)), *order = calloc(n, sizeof(*order));
	uint32_t *rank = calloc(n, sizeof(*rank));
	int rc = -1;

	if (!keys || !of || !order || !rank)
		goto out;
	for (size_t i = 0; i < r->nlisted; i++) {
		const struct rleak *l = &r->leaks[i];
		size_t k;

		for (k = 0; k < nkeys; k++)
			if (keys[k].stack_id == l->stack_id &&
			    !strcmp(keys[k].slab, l->leak.slab))
				break;
		if (k == nkeys)
			keys[nkeys++] = (struct gkey){ l->stack_id, l->leak.slab, 0 };
		keys[k].count++;
		of[i] = k;
	}
	for (size_t k = 0; k < nkeys; k++)
		order[k] = k;
	qsort_r(order, nkeys, sizeof(*order), gkey_cmp, keys);
	out->ngroups = nkeys < VT_REP_MAX_GROUPS ? nkeys : VT_REP_MAX_GROUPS;
	out->groups = calloc(out->ngroups ? out->ngroups : 1,
			     sizeof(*out->groups));
	if (!out->groups)
		goto out;
	for (size_t g = 0; g < nkeys; g++) {
		rank[order[g]] = g;
		if (g >= out->ngroups)
			continue;
		out->groups[g].stack_id = keys[order[g]].stack_id;
		out->groups[g].count = keys[order[g]].count;
		snprintf(out->groups[g].slab, sizeof(out->groups[g].slab), "%s",
			 keys[order[g]].slab);
	}
	for (size_t i = 0; i < r->nlisted; i++)
		out->leaks[i].stack = rank[of[i]] < out->ngroups ? rank[of[i]]
								 : UINT32_MAX;
	rc = 0;
out:
	free(keys);
	free(of);
	free(order);
	free(rank);
	return rc;
}

static bool frame_same(const struct vt_rep_frame *a,
		       const struct vt_rep_frame *b)
{
	if (a->symbolized != b->symbolized || a->inlined != b->inlined)
		return false;
	if (!a->symbolized)
		return !strcmp(a->module, b->module);
	return !strcmp(a->func, b->func) && !strcmp(a->file, b->file) &&
	       a->line == b->line;
}

bool vt_rep_group_same(const struct vt_rep_group *a,
		       const struct vt_rep_group *b)
{
	if (strcmp(a->slab, b->slab) || a->nframes != b->nframes ||
	    !a->stack_id != !b->stack_id)
		return false;
	for (size_t i = 0; i < a->nframes; i++)
		if (!frame_same(&a->frames[i], &b->frames[i]))
			return false;
	return true;
}

void vt_rep_groups_merge(struct vt_rep_proc *p)
{
	size_t n = 0;
	uint32_t *to = calloc(p->ngroups ? p->ngroups : 1, sizeof(*to));

	if (!to)
		return;		/* the groups stay apart */
	for (size_t i = 0; i < p->ngroups; i++) {
		size_t g;

		for (g = 0; g < n; g++)
			if (vt_rep_group_same(&p->groups[g], &p->groups[i]))
				break;
		if (g == n)
			p->groups[n++] = p->groups[i];
		else
			p->groups[g].count += p->groups[i].count;
		to[i] = g;
	}
	p->ngroups = n;
	for (size_t i = 0; i < p->nlisted; i++)
		if (p->leaks[i].stack < UINT32_MAX)
			p->leaks[i].stack = to[p->leaks[i].stack];
	free(to);
	sort_groups(p);
}

/* The runtime takes a task object from the handle slab to set up each
 * listener and never releases it (aio_http2_server.c): one slot per
 * listener, like the listener meant to live. */
static const char *const default_suppress[] = {
	"valk_aio_http2_listen_with_config",	/* the runtime */
	"valk_aio_http2_listen",		/* its stand-in, older runtimes */
	NULL,
};

int vt_report_suppress_add(struct vt_report_opts *o, const char *func)
{
	size_t n = strlen(func);

	if (!n || n >= VT_REP_FUNC_LEN || o->nsuppress >= VT_REP_MAX_SUPPRESS)
		return -1;
	memcpy(o->suppress[o->nsuppress++], func, n + 1);
	return 0;
}

static bool suppresses(const struct vt_report_opts *o, const char *func)
{
	for (size_t i = 0; i < o->nsuppress; i++)
		if (!strcmp(o->suppress[i], func))
			return true;
	for (size_t i = 0; !o->no_default_suppress && default_suppress[i]; i++)
		if (!strcmp(default_suppress[i], func))
			return true;
	return false;
}

/* The first frame of g in a suppressed function, or NULL. */
static const char *suppressed_frame(const struct vt_rep_group *g,
				    const struct vt_report_opts *o)
{
	for (size_t i = 0; i < g->nframes; i++)
		if (g->frames[i].symbolized && suppresses(o, g->frames[i].func))
			return g->frames[i].func;
	return NULL;
}

void vt_rep_suppress(struct vt_rep_proc *p, const struct vt_report_opts *o)
{
	for (size_t i = 0; i < p->ngroups; i++) {
		struct vt_rep_group *g = &p->groups[i];
		const char *f = *g->suppressed_by ? NULL : suppressed_frame(g, o);
		uint64_t n = g->count < p->nleaks ? g->count : p->nleaks;

		if (!f)
			continue;
		snprintf(g->suppressed_by, sizeof(g->suppressed_by), "%s", f);
		p->nleaks -= n;
		p->nsuppressed += n;
	}
	for (size_t i = 0; i < p->nlisted; i++) {
		struct vt_rep_leak *l = &p->leaks[i];

		l->suppressed = l->stack < p->ngroups &&
				*p->groups[l->stack].suppressed_by;
	}
	sort_groups(p);
}

int vt_report_finish(struct vt_report *r, const struct vt_state *s,
		     uint64_t now_ms, struct vt_rep_proc *out)
{
	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < vt_state_nslabs(s); i++)
		close_slab(r, s, vt_state_slab(s, i), now_ms, false);
	observe_arenas(r, s);
	out->duration_s = since_start_s(r, now_ms);
	out->lost_events = vt_state_counters(s)->lost;
	out->exit_code = -1;
	for (size_t i = 0; i < r->nslabs; i++)
		out->slabs[out->nslabs++] = r->slabs[i].row;
	arena_rows(r, out);
	out->nleaks = r->nleaks;
	out->nlisted = r->nlisted;
	out->leaks = calloc(r->nlisted ? r->nlisted : 1, sizeof(*out->leaks));
	if (!out->leaks)
		return -1;
	for (size_t i = 0; i < r->nlisted; i++)
		out->leaks[i] = r->leaks[i].leak;
	return group_leaks(r, out);
}
