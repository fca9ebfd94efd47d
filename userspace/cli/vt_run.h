/* vt_run: `valk-trace run -- CMD`: starts CMD held before its exec,
 * follows its whole process tree with ptrace, and traces every process
 * that runs a valk runtime from its first instruction — probes attached by
 * path with the process as their filter before it is let go — then
 * reports each one separately and judges the report. */
#ifndef VT_RUN_H
#define VT_RUN_H

#include "cli/vt_result.h"
#include "cli/vt_trace.h"

/* base: the session options every traced process gets (its pid and
 * runtime are filled per process); runtime: --runtime PATH, or NULL.
 * Returns the exit code (README: exit codes). */
int vt_run(const struct vt_trace_opts *base, const struct vt_result *res,
	   char *const cmd[], const char *runtime);

#endif /* VT_RUN_H */
