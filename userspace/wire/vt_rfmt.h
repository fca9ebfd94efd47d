/* vt_rfmt: a judged report (struct vt_rep_doc) as the files and text a CI
 * job reads — the versioned JSON report (docs/report-format.md), and back;
 * JUnit XML; a Markdown summary; the summary printed on stderr. Each
 * writer returns a malloc'd NUL-terminated string, or NULL out of memory. */
#ifndef VT_RFMT_H
#define VT_RFMT_H

#include <stddef.h>

#include "model/vt_verdict.h"

#define VT_RFMT_SCHEMA "valk-trace/report"
#define VT_RFMT_VERSION 2	/* 2: suppressed leaks apart */
#define VT_RFMT_MAX_PROCS 256	/* processes read back from a file */

char *vt_rfmt_json(const struct vt_rep_doc *d);
/* Reads a report written by vt_rfmt_json (any schema version up to ours).
 * Every count and length is bounded. Returns 0, or -1 with a one-line
 * reason; d is freed with vt_rep_doc_free either way. */
int vt_rfmt_json_parse(const char *text, struct vt_rep_doc *d, char *err,
		       size_t errlen);

/* One <testsuite> per process, one <testcase> per condition (a process
 * without conditions has one case, "traced"). */
char *vt_rfmt_junit(const struct vt_rep_doc *d);
/* For $GITHUB_STEP_SUMMARY: verdicts, a slab table, the top leak stacks. */
char *vt_rfmt_markdown(const struct vt_rep_doc *d, size_t top_stacks);
/* The end-of-run summary on stderr: a table per process, top stacks. */
char *vt_rfmt_text(const struct vt_rep_doc *d, size_t top_stacks);

/* `valk-trace diff`: what grew from base to d, process by process
 * (matched as vt_verdict_base_of does): slab peaks, use at the end and
 * overflows, leaks, and leak stacks new or grown (a stack is known across
 * reports by its slab and frames). */
char *vt_rfmt_diff(const struct vt_rep_doc *base, const struct vt_rep_doc *d);

#endif /* VT_RFMT_H */
