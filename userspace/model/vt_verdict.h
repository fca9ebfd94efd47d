/* vt_verdict: --fail-on conditions, parsed and judged against a report
 * (`run`, `attach`) or against a report and its base (`diff`). */
#ifndef VT_VERDICT_H
#define VT_VERDICT_H

#include <stdbool.h>
#include <stddef.h>

#include "model/vt_report.h"

#define VT_VERDICT_MAX 32	/* conditions in one --fail-on list */

enum vt_cond_kind {
	VT_COND_LEAK,		/* leak, leak>N, leak>+N */
	VT_COND_OVERFLOW,	/* any slab overflowed (diff: more than base) */
	VT_COND_DROPS,		/* events were lost */
	VT_COND_HWM,		/* hwm:SLAB>PCT% — peak / total */
	VT_COND_PEAK,		/* peak:SLAB>N, peak:SLAB>+N, peak:SLAB>+P% */
	VT_COND_USED,		/* used:SLAB>N — in use at the end */
	VT_COND_ARENA_OVERFLOW,	/* any arena overflowed */
};

struct vt_cond {
	enum vt_cond_kind kind;
	char slab[32];		/* hwm, peak, used */
	double limit;		/* fails when the figure exceeds it */
	bool relative;		/* '+': growth over the base report (diff) */
	bool percent;		/* limit in percent */
	char text[64];		/* as written */
};

/* Parses a comma-separated list, appending to c[*n] (at most max in all).
 * Returns 0, or -1 with a one-line reason naming the bad condition. */
int vt_cond_parse(const char *list, struct vt_cond *c, size_t *n, size_t max,
		  char *err, size_t errlen);

struct vt_verdict {
	bool failed;
	char message[320];	/* "leak: 12 handles slots from f (a.c:9)" */
};

/* Judges p (and its base for relative conditions; NULL outside diff, where
 * a relative condition is an error found at parse time by the caller).
 * The message names the figures either way. */
void vt_cond_judge(const struct vt_cond *c, const struct vt_rep_proc *p,
		   const struct vt_rep_proc *base, struct vt_verdict *v);

/* A whole report: what ran, every traced process, every verdict. */
struct vt_rep_judged {
	size_t proc;		/* index into procs */
	char cond[64];
	struct vt_verdict v;
	bool drops;		/* the condition was `drops` */
};

struct vt_rep_doc {
	char command[1024];	/* CMD's words joined by spaces, or "" */
	int exit_status;	/* CMD's, -1: none (attach, diff) */
	size_t nprocs;
	struct vt_rep_proc *procs;
	size_t njudged;
	struct vt_rep_judged *judged;
};

void vt_rep_doc_free(struct vt_rep_doc *d);

/* Judges every condition against every process of d; in a diff, each
 * process of d is matched with the base process of the same command line
 * and rank among those (NULL base: no diff). Returns 0, or -1 out of
 * memory. */
int vt_verdict_judge(struct vt_rep_doc *d, const struct vt_cond *c, size_t n,
		     const struct vt_rep_doc *base);

/* The base process for d's i-th: the same command line, the same rank
 * among the processes with that command line; without one, the base's
 * i-th; NULL when base has fewer. */
const struct vt_rep_proc *vt_verdict_base_of(const struct vt_rep_doc *d,
					      size_t i,
					      const struct vt_rep_doc *base);

/* The exit code of a judged run (see the README): 3 events were lost and
 * `drops` was asked for; else 1 a condition failed; else CMD's own
 * status (cmd_status >= 0); else 0. */
int vt_verdict_exit(const struct vt_rep_doc *d, int cmd_status);

#endif /* VT_VERDICT_H */
