/* vt_cmd: the subcommands of valk-trace, one file each (vt_cmd_<name>.c),
 * and the option parsing they share. Each entry point takes the command's
 * own argv (argv[0] is the command's name) and returns a VT_EXIT_* code. */
#ifndef VT_CMD_H
#define VT_CMD_H

#include <argp.h>
#include <stdbool.h>

#include "cli/vt_result.h"
#include "cli/vt_trace.h"

#define VT_CMD_LISTEN "127.0.0.1:7070"	/* the default --listen */

int vt_cmd_attach(int argc, char **argv);
int vt_cmd_snapshot(int argc, char **argv);
int vt_cmd_record(int argc, char **argv);
int vt_cmd_replay(int argc, char **argv);
int vt_cmd_info(int argc, char **argv);
int vt_cmd_ps(int argc, char **argv);
int vt_cmd_probes(int argc, char **argv);
int vt_cmd_layout(int argc, char **argv);
int vt_cmd_demo(int argc, char **argv);
int vt_cmd_run(int argc, char **argv);
int vt_cmd_diff(int argc, char **argv);

/* Prints "valk-trace: <message> (see `<command> --help`)" and returns the
 * argp error that makes the command exit with VT_EXIT_USAGE. */
error_t vt_cmd_bad(const struct argp_state *st, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* A number in [min, max], the whole string; 0, or -1. */
int vt_cmd_num(const char *s, double min, double max, double *out);
/* The one <pid> argument, for ARGP_KEY_ARG and ARGP_KEY_END: given once,
 * a number, not missing. */
error_t vt_cmd_pid(const struct argp_state *st, int key, const char *arg,
		   int *pid);
/* --mode's value, or a vt_cmd_bad error naming the modes. */
error_t vt_cmd_mode(const struct argp_state *st, const char *arg,
		    enum vt_mode *out);

/* --allow-host, --token, --tls-cert, --tls-key into a struct
 * vt_trace_serve (its child input), checked against its listen. */
extern const struct argp vt_cmd_serve_argp;

/* argp_parse with one-line errors (argp's "Try `--help'" line is
 * dropped): 0, or VT_EXIT_USAGE after the line. */
int vt_cmd_parse(const struct argp *argp, int argc, char **argv, void *input);

/* A command that takes one argument and no option but --help: args_doc
 * ("<binary>") and doc for --help, name ("<binary>: the runtime's ...")
 * for the errors. 0 with *out set, or VT_EXIT_USAGE after a one-line error. */
int vt_cmd_one_arg(int argc, char **argv, const char *args_doc,
		   const char *name, const char *doc, const char **out);

/* Which session's options: each lists only its own in --help. */
enum vt_cmd_session {
	VT_CMD_SNAPSHOT,	/* those of every session */
	VT_CMD_RECORD,		/* and --duration, --json, --listen ...,
				 * the report's */
	VT_CMD_ATTACH,		/* and --follow */
};

/* A session's options: the defaults, then <pid> and the options of argv
 * that kind takes (report given for attach and record). Returns 0, or
 * VT_EXIT_USAGE after a one-line error. */
int vt_cmd_trace_args(int argc, char **argv, const char *doc,
		      enum vt_cmd_session kind, struct vt_trace_opts *o,
		      struct vt_result_args *report);
/* run's: the session's and the report's options, --json, --runtime, then
 * the command (*cmd points into argv). */
int vt_cmd_run_args(int argc, char **argv, const char *doc,
		    struct vt_trace_opts *o, struct vt_result_args *report,
		    char ***cmd, const char **runtime);
/* The report options parsed go into the session's. */
void vt_cmd_report_opts(struct vt_trace_opts *o, struct vt_result_args *r);
/* The defaults of every session: hybrid, 100 ms ticks, a 4 MiB ring
 * buffer, 30 s leak age, no listener. */
struct vt_trace_opts vt_cmd_trace_defaults(void);

/* A command that needs no privilege once its inputs are open: the files
 * it writes (outs, n; NULLs skipped) made by a keeper (vt_file.h), then
 * root given up with these VT_PRIV_* needs (vt_priv.h) unless no_drop.
 * 0, or -1 after saying why on stderr. */
struct vt_files;
int vt_cmd_drop(bool no_drop, unsigned needs, struct vt_files *files,
		const char *const *outs, size_t n);

#endif /* VT_CMD_H */
