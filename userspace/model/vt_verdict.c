/* vt_verdict: --fail-on conditions (see vt_verdict.h). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/vt_verdict.h"

static const struct {
	const char *word;
	enum vt_cond_kind kind;
	bool slab;		/* takes ":SLAB" */
	bool limit;		/* takes ">N" (optional for leak) */
} words[] = {
	{ "leak", VT_COND_LEAK, false, true },
	{ "overflow", VT_COND_OVERFLOW, false, false },
	{ "drops", VT_COND_DROPS, false, false },
	{ "hwm", VT_COND_HWM, true, true },
	{ "peak", VT_COND_PEAK, true, true },
	{ "used", VT_COND_USED, true, true },
	{ "arena-overflow", VT_COND_ARENA_OVERFLOW, false, false },
};

#define NWORDS (sizeof(words) / sizeof(words[0]))

/* ">N", ">+N", ">N%", ">+N%" */
static int parse_limit(const char *s, struct vt_cond *c)
{
	char *end;

	if (*s++ != '>')
		return -1;
	c->relative = *s == '+';
	if (c->relative)
		s++;
	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	c->limit = strtod(s, &end);
	c->percent = *end == '%';
	end += c->percent;
	return errno || *end || !isfinite(c->limit) ? -1 : 0;
}

static int parse_one(const char *tok, struct vt_cond *c)
{
	size_t wl = strcspn(tok, ":>");

	memset(c, 0, sizeof(*c));
	snprintf(c->text, sizeof(c->text), "%s", tok);
	for (size_t i = 0; i < NWORDS; i++) {
		const char *p = tok + wl;

		if (strlen(words[i].word) != wl ||
		    strncmp(tok, words[i].word, wl))
			continue;
		c->kind = words[i].kind;
		if (words[i].slab) {
			size_t sl;

			if (*p++ != ':' || !(sl = strcspn(p, ">")) ||
			    sl >= sizeof(c->slab))
				return -1;
			memcpy(c->slab, p, sl);
			p += sl;
		}
		if (!*p)	/* leak alone: more than none */
			return words[i].slab ? -1 : 0;
		if (!words[i].limit || parse_limit(p, c))
			return -1;
		switch (c->kind) {
		case VT_COND_HWM:	/* a share of the slab, or its growth */
			return c->percent ? 0 : -1;
		case VT_COND_LEAK:
			return c->percent ? -1 : 0;
		default:		/* growth may be a percentage */
			return c->percent && !c->relative ? -1 : 0;
		}
	}
	return -1;
}

int vt_cond_parse(const char *list, struct vt_cond *c, size_t *n, size_t max,
		  char *err, size_t errlen)
{
	char buf[1024], *save = NULL;

	if (strlen(list) >= sizeof(buf)) {
		snprintf(err, errlen, "--fail-on list too long");
		return -1;
	}
	snprintf(buf, sizeof(buf), "%s", list);
	for (char *t = strtok_r(buf, ",", &save); t;
	     t = strtok_r(NULL, ",", &save)) {
		if (*n == max) {
			snprintf(err, errlen, "more than %zu --fail-on "
				 "conditions", max);
			return -1;
		}
		if (parse_one(t, &c[*n])) {
			snprintf(err, errlen, "bad --fail-on condition '%s' "
				 "(leak, leak>N, overflow, drops, "
				 "hwm:SLAB>PCT%%, peak:SLAB>N, used:SLAB>N, "
				 "arena-overflow; in diff also >+N and >+P%%)",
				 t);
			return -1;
		}
		(*n)++;
	}
	return 0;
}

/* The first frame of a leak group that names a function, as "f (a.c:9)",
 * or how the stack stands when none does. */
static void top_frame(const struct vt_rep_group *g, char *out, size_t len)
{
	for (size_t i = 0; i < g->nframes; i++) {
		const struct vt_rep_frame *f = &g->frames[i];

		if (!f->symbolized)
			continue;
		if (f->line)
			snprintf(out, len, "%s (%s:%d)", f->func, f->file,
				 f->line);
		else
			snprintf(out, len, "%s (%s)", f->func, f->module);
		return;
	}
	snprintf(out, len, g->stack_id ? "an unsymbolized stack"
				       : "no captured stack");
}

/* A slab's figure for hwm (percent of its slots), peak or used; a slab
 * absent from a base report counts as 0. */
static double slab_figure(const struct vt_rep_slab *s, enum vt_cond_kind k)
{
	if (!s)
		return 0;
	switch (k) {
	case VT_COND_HWM:
		return s->total ? 100.0 * s->peak / s->total : 0;
	case VT_COND_PEAK:
		return s->peak;
	default:
		return s->final_used;
	}
}

static uint64_t sum_overflow(const struct vt_rep_proc *p, bool arenas)
{
	uint64_t n = 0;

	if (arenas)
		for (size_t i = 0; i < p->narenas; i++)
			n += p->arenas[i].overflow;
	else
		for (size_t i = 0; i < p->nslabs; i++)
			n += p->slabs[i].overflow;
	return n;
}

static bool exceeds(const struct vt_cond *c, double now, double base)
{
	if (!c->relative)
		return now > c->limit;
	if (c->percent && c->kind != VT_COND_HWM)	/* hwm: points */
		return base ? (now - base) * 100.0 / base > c->limit
			    : now > 0;
	return now - base > c->limit;
}

static void judge_leak(const struct vt_cond *c, const struct vt_rep_proc *p,
		       const struct vt_rep_proc *base, struct vt_verdict *v)
{
	const struct vt_rep_group *g = p->ngroups &&
		!*p->groups[0].suppressed_by ? &p->groups[0] : NULL;
	char top[256] = "";
	double b = base ? (double)base->nleaks : 0;

	v->failed = exceeds(c, p->nleaks, b);
	if (g)		/* counted groups come first */
		top_frame(g, top, sizeof(top));
	if (c->relative)
		snprintf(v->message, sizeof(v->message),
			 "%s: %llu slots leaked, %llu in the base", c->text,
			 (unsigned long long)p->nleaks, (unsigned long long)b);
	else if (!p->nleaks)
		snprintf(v->message, sizeof(v->message), "%s: no slot leaked",
			 c->text);
	else if (!g)
		snprintf(v->message, sizeof(v->message),
			 "%s: %llu slots leaked", c->text,
			 (unsigned long long)p->nleaks);
	else
		snprintf(v->message, sizeof(v->message),
			 "%s: %llu slots leaked; %llu %s slots from %s", c->text,
			 (unsigned long long)p->nleaks,
			 (unsigned long long)g->count, g->slab, top);
}

/* hwm/peak/used: the worst system's figure is judged. */
static void judge_slab(const struct vt_cond *c, const struct vt_rep_proc *p,
		       const struct vt_rep_proc *base, struct vt_verdict *v)
{
	const char *unit = c->kind == VT_COND_HWM ? "%" : "";
	const char *what = c->kind == VT_COND_HWM ? "high-water mark"
			 : c->kind == VT_COND_PEAK ? "peak" : "used at the end";
	double worst = -1, worst_base = 0;
	bool any = false;

	for (size_t i = 0; i < p->nslabs; i++) {
		const struct vt_rep_slab *s = &p->slabs[i];
		double now, was;

		if (strcmp(s->name, c->slab))
			continue;
		now = slab_figure(s, c->kind);
		was = base ? slab_figure(vt_rep_slab_find(base, s->system,
							  s->name), c->kind)
			   : 0;
		any = true;
		if (exceeds(c, now, was))
			v->failed = true;
		if (now - was > worst - worst_base || worst < 0) {
			worst = now;
			worst_base = was;
		}
	}
	if (!any)
		snprintf(v->message, sizeof(v->message),
			 "%s: no slab named %s in the report", c->text, c->slab);
	else if (c->relative)
		snprintf(v->message, sizeof(v->message),
			 "%s: %s %s %.4g%s, %.4g%s in the base", c->text,
			 c->slab, what, worst, unit, worst_base, unit);
	else
		snprintf(v->message, sizeof(v->message), "%s: %s %s %.4g%s",
			 c->text, c->slab, what, worst, unit);
}

void vt_cond_judge(const struct vt_cond *c, const struct vt_rep_proc *p,
		   const struct vt_rep_proc *base, struct vt_verdict *v)
{
	bool arenas = c->kind == VT_COND_ARENA_OVERFLOW;
	uint64_t now, was;

	memset(v, 0, sizeof(*v));
	switch (c->kind) {
	case VT_COND_LEAK:
		judge_leak(c, p, base, v);
		return;
	case VT_COND_HWM:
	case VT_COND_PEAK:
	case VT_COND_USED:
		judge_slab(c, p, base, v);
		return;
	case VT_COND_DROPS:
		v->failed = p->lost_events > 0;
		snprintf(v->message, sizeof(v->message), "%s: %llu events lost",
			 c->text, (unsigned long long)p->lost_events);
		return;
	case VT_COND_OVERFLOW:
	case VT_COND_ARENA_OVERFLOW:
		now = sum_overflow(p, arenas);
		was = base ? sum_overflow(base, arenas) : 0;
		v->failed = now > was;
		snprintf(v->message, sizeof(v->message), "%s: %llu %s overflows",
			 c->text, (unsigned long long)now,
			 arenas ? "arena" : "slab");
		if (base)
			snprintf(v->message + strlen(v->message),
				 sizeof(v->message) - strlen(v->message),
				 ", %llu in the base", (unsigned long long)was);
		return;
	}
}

void vt_rep_doc_free(struct vt_rep_doc *d)
{
	for (size_t i = 0; i < d->nprocs; i++)
		vt_rep_proc_free(&d->procs[i]);
	free(d->procs);
	free(d->judged);
	d->procs = NULL;
	d->judged = NULL;
	d->nprocs = d->njudged = 0;
}

const struct vt_rep_proc *vt_verdict_base_of(const struct vt_rep_doc *d,
					      size_t i,
					      const struct vt_rep_doc *base)
{
	size_t rank = 0;

	for (size_t k = 0; k < i; k++)
		rank += !strcmp(d->procs[k].argv, d->procs[i].argv);
	for (size_t k = 0; k < base->nprocs; k++)
		if (!strcmp(base->procs[k].argv, d->procs[i].argv) &&
		    rank-- == 0)
			return &base->procs[k];
	/* paths differ between checkouts: else the one at the same place */
	return i < base->nprocs ? &base->procs[i] : NULL;
}

int vt_verdict_judge(struct vt_rep_doc *d, const struct vt_cond *c, size_t n,
		     const struct vt_rep_doc *base)
{
	size_t cap = d->nprocs * n;

	free(d->judged);
	d->njudged = 0;
	d->judged = calloc(cap ? cap : 1, sizeof(*d->judged));
	if (!d->judged)
		return -1;
	for (size_t i = 0; i < d->nprocs; i++) {
		const struct vt_rep_proc *b = base ? vt_verdict_base_of(d, i, base) : NULL;
		static const struct vt_rep_proc none;

		for (size_t k = 0; k < n; k++) {
			struct vt_rep_judged *j = &d->judged[d->njudged++];

			j->proc = i;
			j->drops = c[k].kind == VT_COND_DROPS;
			snprintf(j->cond, sizeof(j->cond), "%s", c[k].text);
			/* a process new in the diff grows from nothing */
			vt_cond_judge(&c[k], &d->procs[i],
				      base && !b ? &none : b, &j->v);
		}
	}
	return 0;
}

int vt_verdict_exit(const struct vt_rep_doc *d, int cmd_status)
{
	bool failed = false;

	for (size_t i = 0; i < d->njudged; i++) {
		if (d->judged[i].v.failed && d->judged[i].drops)
			return 3;
		failed |= d->judged[i].v.failed;
	}
	if (failed)
		return 1;
	return cmd_status > 0 ? cmd_status : 0;
}
