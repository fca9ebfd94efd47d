/* vt_result: the end of a judged run — verdicts on stderr, the report
 * files (JSON, JUnit, Markdown), the human summary, the exit code. */
#ifndef VT_RESULT_H
#define VT_RESULT_H

#include <stdbool.h>
#include <stddef.h>

#include "model/vt_verdict.h"

struct vt_files;

struct vt_result {
	const char *json_path;	/* the report, or NULL */
	const char *junit_path;
	const char *md_path;
	const struct vt_files *files;	/* who makes them (vt_file.h) */
	struct vt_cond conds[VT_VERDICT_MAX];	/* --fail-on */
	size_t nconds;
	bool quiet;		/* no summary on stderr (FAIL lines stay) */
};

/* The report options, shared by `attach`, `snapshot` and `run` as an argp
 * child: its input is a struct vt_result_args. */
#include <argp.h>
#include "model/vt_report.h"

struct vt_result_args {
	struct vt_result res;
	struct vt_report_opts report;
	bool any;		/* a report option was given */
	bool diff;		/* diff: relative thresholds allowed */
	bool no_stacks;		/* --no-stacks */
};
extern const struct argp vt_result_argp;

/* Something r writes shows leak stacks: a report file, the summary, a
 * leak condition's FAIL line. */
bool vt_result_shows_stacks(const struct vt_result *r);

/* Judges d (against base in a diff), prints a FAIL line per failed
 * condition, writes the files, prints the summary. Returns the exit code
 * (vt_verdict_exit with cmd_status, -1: no command), or 1 when a file
 * cannot be written. */
int vt_result_emit(const struct vt_result *r, struct vt_rep_doc *d,
		   const struct vt_rep_doc *base, int cmd_status);

#endif /* VT_RESULT_H */
