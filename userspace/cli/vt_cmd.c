/* vt_cmd: the option parsing the subcommands share (see vt_cmd.h). */
#include "cli/vt_cmd.h"
#include "cli/vt_file.h"
#include "cli/vt_priv.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

enum {
	OPT_LAYOUT = 0x100,
	OPT_LEAK_AGE,
	OPT_RINGBUF,
	OPT_LISTEN,
	OPT_RECORD,
	OPT_FOLLOW,
	OPT_RUNTIME,
	OPT_HISTORY,
	OPT_KEYFRAME,
	OPT_MAX_OVERHEAD,
	OPT_ALLOW_HOST,
	OPT_TOKEN,
	OPT_TLS_CERT,
	OPT_TLS_KEY,
	OPT_NO_DROP,
};

/* attach, record and run */
#define KEYFRAME_OPTION							\
	{ "keyframe-interval", OPT_KEYFRAME, "S", 0,			\
	  "a keyframe of the whole state every S seconds in the recording " \
	  "and the history: any instant is reached by replaying at most S " \
	  "seconds (default 5; 0.1..3600)", 0 }

/* Options of every session: attach, snapshot. */
static struct argp_option session_options[] = {
	{ "mode", 'm', "MODE", 0,
	  "hybrid (default): events + memory reconciliation every second; "
	  "events: events only after bootstrap; sample: memory reads only, "
	  "no probes", 0 },
	{ "interval", 'i', "MS", 0, "tick and push interval (default 100)", 0 },
	{ "layout", OPT_LAYOUT, "FILE", 0,
	  "layout JSON from `valk-trace layout` for a stripped target", 0 },
	{ "leak-age", OPT_LEAK_AGE, "S", 0,
	  "slots in use this long are leak suspects (default 30)", 0 },
	{ "ringbuf-size", OPT_RINGBUF, "BYTES", 0,
	  "BPF ring buffer size, a power of two (default 4194304)", 0 },
	{ "quiet", 'q', NULL, 0, "no progress messages on stderr", 0 },
	{ "no-drop", OPT_NO_DROP, NULL, 0,
	  "keep root after attaching: no switch to an unprivileged user, no "
	  "seccomp filter (for debugging)", 0 },
	{ 0 }
};

/* How the state is served (attach, replay): beyond --listen, which each
 * command documents itself. */
static struct argp_option serve_options[] = {
	{ "allow-host", OPT_ALLOW_HOST, "NAMES", 0,
	  "answer requests whose Host is one of these names (comma-"
	  "separated) besides localhost and the listen address; any other "
	  "gets 421", 0 },
	{ "token", OPT_TOKEN, "TOKEN", 0,
	  "require it of every request (Authorization: Bearer TOKEN, or "
	  "?token=TOKEN once in a browser); made up and printed when "
	  "--listen is not a loopback address", 0 },
	{ "tls-cert", OPT_TLS_CERT, "FILE", 0,
	  "serve HTTPS only (HTTP/2 and HTTP/1.1 by ALPN) with this PEM "
	  "certificate (chain); needs --tls-key", 0 },
	{ "tls-key", OPT_TLS_KEY, "FILE", 0,
	  "the PEM private key of --tls-cert (no passphrase)", 0 },
	{ 0 }
};

/* Options of attach and record: how long, and where the state goes. */
static struct argp_option attach_options[] = {
	{ "duration", 'd', "S", 0, "stop after S seconds", 0 },
	{ "json", 'j', "FILE", 0, "write the final state here on exit", 0 },
	{ "listen", OPT_LISTEN, "ADDR:PORT", 0,
	  "serve SSE, dashboard and /metrics here (default " VT_CMD_LISTEN
	  ", 'none' to disable)", 0 },
	{ "record", OPT_RECORD, "FILE", 0,
	  "also write a recording of the trace here (see `valk-trace "
	  "replay`)", 0 },
	{ "output", 'o', "FILE", 0, "the same as --record", 0 },
	{ "history", OPT_HISTORY, "S", 0,
	  "keep the last S seconds in memory for the dashboard's time travel "
	  "(default 300, 0: none)", 0 },
	KEYFRAME_OPTION,
	{ "max-overhead", OPT_MAX_OVERHEAD, "PCT", 0,
	  "hybrid mode: when the probes would cost the target more than PCT "
	  "% of its CPU, read the slabs instead of probing each operation "
	  "(default 5; 0: no limit)", 0 },
	{ 0 }
};

struct trace_args {
	struct vt_trace_opts *o;
	char ***cmd;		/* run: the command instead of a pid */
	const char **runtime;
	struct vt_result_args *report;
};

error_t vt_cmd_bad(const struct argp_state *st, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "valk-trace: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (see `%s --help`)\n", st->name);
	return EINVAL;
}

int vt_cmd_num(const char *s, double min, double max, double *out)
{
	char *end;

	errno = 0;
	*out = strtod(s, &end);
	return errno || end == s || *end || *out < min || *out > max ? -1 : 0;
}

static error_t keyframe_arg(const struct argp_state *st, const char *arg,
			    struct vt_trace_opts *o)
{
	double v;

	if (vt_cmd_num(arg, 0.1, 3600, &v))
		return vt_cmd_bad(st, "--keyframe-interval wants 0.1..3600 s");
	o->keyframe_ms = (uint64_t)(v * 1000 + 0.5);
	return 0;
}

error_t vt_cmd_pid(const struct argp_state *st, int key, const char *arg,
		   int *pid)
{
	double v;

	if (key == ARGP_KEY_END)
		return *pid ? 0 : vt_cmd_bad(st, "missing pid; `valk-trace ps` "
						 "lists valk processes");
	if (*pid || vt_cmd_num(arg, 1, INT_MAX, &v))
		return vt_cmd_bad(st, "expected one pid, got '%s'", arg);
	*pid = (int)v;
	return 0;
}

error_t vt_cmd_mode(const struct argp_state *st, const char *arg,
		    enum vt_mode *out)
{
	if (vt_mode_parse(arg, out))
		return vt_cmd_bad(st, "unknown mode '%s' (hybrid, events, "
				      "sample)", arg);
	return 0;
}

/* ---- one-line argp errors -------------------------------------------------- */

/* argp's err_stream: getopt has already printed its one line naming the
 * option (to stderr); argp's "Try `... --help' or ..." that follows, which
 * it wraps over two lines, is dropped, anything before it passed on.
 * Written in pieces, judged by line. */
struct err_filter {
	char line[512];
	size_t len;
	bool tried;
};

static ssize_t err_write(void *cookie, const char *buf, size_t n)
{
	struct err_filter *f = cookie;

	for (size_t i = 0; i < n; i++) {
		if (f->len < sizeof(f->line) - 1)
			f->line[f->len++] = buf[i];
		if (buf[i] != '\n')
			continue;
		f->line[f->len] = '\0';
		f->tried = f->tried || !strncmp(f->line, "Try `", 5);
		if (!f->tried)
			fputs(f->line, stderr);
		f->len = 0;
	}
	return n;
}

struct top_args {
	FILE *err;
	void *input;
};

static error_t parse_top(int key, char *arg, struct argp_state *st)
{
	struct top_args *t = st->input;

	(void)arg;
	if (key != ARGP_KEY_INIT)
		return ARGP_ERR_UNKNOWN;
	if (t->err)
		st->err_stream = t->err;
	st->child_inputs[0] = t->input;
	return 0;
}

int vt_cmd_parse(const struct argp *argp, int argc, char **argv, void *input)
{
	struct err_filter f = { .len = 0 };
	struct argp_child child[] = { { argp, 0, NULL, 0 }, { 0 } };
	struct argp top = { NULL, parse_top, NULL, NULL, child, NULL, NULL };
	struct top_args t = {
		fopencookie(&f, "w", (cookie_io_functions_t){ .write = err_write }),
		input,
	};
	int rc = argp_parse(&top, argc, argv, 0, NULL, &t);

	if (t.err)
		fclose(t.err);
	return rc ? VT_EXIT_USAGE : 0;
}

/* ---- commands of one argument ------------------------------------------------ */

struct one_arg {
	const char *args_doc, *name;	/* what it is, for the errors */
	const char *value;
};

static error_t parse_one(int key, char *arg, struct argp_state *st)
{
	struct one_arg *a = st->input;

	switch (key) {
	case ARGP_KEY_ARG:
		if (a->value)
			return vt_cmd_bad(st, "expected one %s, got '%s'",
					  a->args_doc, arg);
		a->value = arg;
		break;
	case ARGP_KEY_END:
		if (!a->value)
			return vt_cmd_bad(st, "missing %s", a->name);
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

int vt_cmd_one_arg(int argc, char **argv, const char *args_doc,
		   const char *name, const char *doc, const char **out)
{
	struct argp argp = { NULL, parse_one, args_doc, doc, NULL, NULL, NULL };
	struct one_arg a = { args_doc, name, NULL };
	int rc = vt_cmd_parse(&argp, argc, argv, &a);

	*out = a.value;
	return rc;
}

/* ---- attach and snapshot ------------------------------------------------------ */

static bool pow2(double v)
{
	unsigned long long n = v;

	return n == v && n && !(n & (n - 1));
}

static error_t parse_session(int key, char *arg, struct argp_state *st)
{
	struct trace_args *a = st->input;
	struct vt_trace_opts *o = a->o;
	double v;

	switch (key) {
	case 'm':
		return vt_cmd_mode(st, arg, &o->mode);
	case 'i':
		if (vt_cmd_num(arg, 10, 60000, &v))
			return vt_cmd_bad(st, "--interval wants 10..60000 ms");
		o->interval_ms = v;
		break;
	case OPT_LAYOUT:
		o->layout_path = arg;
		break;
	case OPT_LEAK_AGE:
		if (vt_cmd_num(arg, 0, 1e9, &v))
			return vt_cmd_bad(st, "--leak-age wants seconds >= 0");
		o->leak_age_ms = v * 1000;
		break;
	case OPT_RINGBUF:
		if (vt_cmd_num(arg, 4096, 1 << 30, &v) || !pow2(v))
			return vt_cmd_bad(st, "--ringbuf-size wants a power of "
					      "two, 4096..1073741824");
		o->ringbuf_bytes = v;
		break;
	case 'q':
		o->quiet = 1;
		break;
	case OPT_NO_DROP:
		o->no_drop = true;
		break;
	case ARGP_KEY_END:
		if (a->cmd && !*a->cmd)
			return vt_cmd_bad(st, "missing the command: valk-trace "
					      "run [OPTION...] -- CMD [ARG...]");
		if (a->cmd)
			break;
		if (o->follow && o->pid)
			return vt_cmd_bad(st, "a pid or --follow NAME, not both");
		if (o->follow && o->record_path)
			return vt_cmd_bad(st, "a recording is of one target: "
					      "--record or --follow, not both");
		if (o->follow)
			break;
		return vt_cmd_pid(st, key, arg, &o->pid);
	case ARGP_KEY_ARG:
		if (a->cmd) {	/* CMD and its words are not ours */
			*a->cmd = &st->argv[st->next - 1];
			st->next = st->argc;
			break;
		}
		return vt_cmd_pid(st, key, arg, &o->pid);
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static error_t parse_serve(int key, char *arg, struct argp_state *st)
{
	struct vt_trace_serve *s = st->input;

	switch (key) {
	case OPT_ALLOW_HOST:
		s->allow_hosts = arg;
		break;
	case OPT_TOKEN:
		if (strlen(arg) < 16 || strlen(arg) > 128 ||
		    strspn(arg, "0123456789abcdefghijklmnopqrstuvwxyz"
				"ABCDEFGHIJKLMNOPQRSTUVWXYZ-_.") != strlen(arg))
			return vt_cmd_bad(st, "--token wants 16 to 128 letters, "
					      "digits, '-', '_' or '.'");
		s->token = arg;
		break;
	case OPT_TLS_CERT:
		s->tls_cert = arg;
		break;
	case OPT_TLS_KEY:
		s->tls_key = arg;
		break;
	case ARGP_KEY_END:
		if (!s->tls_cert != !s->tls_key)
			return vt_cmd_bad(st, "--tls-cert and --tls-key go "
					      "together: give both");
		if (s->tls_cert && !s->listen)
			return vt_cmd_bad(st, "--tls-cert serves HTTPS: not "
					      "with --listen none");
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

const struct argp vt_cmd_serve_argp = { serve_options, parse_serve, NULL,
					NULL, NULL, NULL, NULL };

static error_t parse_attach(int key, char *arg, struct argp_state *st)
{
	struct trace_args *a = st->input;
	struct vt_trace_opts *o = a->o;
	double v;

	switch (key) {
	case ARGP_KEY_INIT:
		st->child_inputs[0] = a;
		st->child_inputs[1] = &o->serve;
		st->child_inputs[2] = a->report;
		break;
	case 'd':
		if (vt_cmd_num(arg, 0.001, 1e9, &v))
			return vt_cmd_bad(st, "--duration wants a positive "
					      "number");
		o->duration_s = v;
		break;
	case 'j':
		o->json_path = arg;
		break;
	case OPT_LISTEN:
		o->serve.listen = strcmp(arg, "none") ? arg : NULL;
		break;
	case OPT_RECORD:
	case 'o':
		o->record_path = arg;
		break;
	case OPT_HISTORY:
		if (vt_cmd_num(arg, 0, 86400, &v))
			return vt_cmd_bad(st, "--history wants 0..86400 s");
		o->history_ms = v * 1000;
		break;
	case OPT_KEYFRAME:
		return keyframe_arg(st, arg, o);
	case OPT_MAX_OVERHEAD:
		if (vt_cmd_num(arg, 0, 100, &v))
			return vt_cmd_bad(st, "--max-overhead wants a percentage, "
					      "0..100 (0: no limit)");
		o->max_overhead_pct = v;
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static const struct argp session_argp = { session_options, parse_session,
					  "<pid>", NULL, NULL, NULL, NULL };
/* run's: the same options, the command instead of <pid> */
static const struct argp run_session_argp = { session_options, parse_session,
					      NULL, NULL, NULL, NULL, NULL };
static const struct argp_child attach_children[] = {
	{ &session_argp, 0, NULL, 0 },
	{ &vt_cmd_serve_argp, 0, NULL, 0 },
	{ &vt_result_argp, 0, "The end-of-session report:", 0 },
	{ 0 }
};
static const struct argp attach_argp = { attach_options, parse_attach, NULL,
					 NULL, attach_children, NULL, NULL };

/* attach alone: a recording is of one target, so record has no --follow. */
static struct argp_option follow_options[] = {
	{ "follow", OPT_FOLLOW, "NAME", 0,
	  "instead of <pid>: trace the valk process named NAME (command or "
	  "executable name), waiting for it, and the next one whenever it "
	  "exits or restarts", 0 },
	{ 0 }
};

static error_t parse_follow(int key, char *arg, struct argp_state *st)
{
	struct trace_args *a = st->input;

	switch (key) {
	case ARGP_KEY_INIT:
		st->child_inputs[0] = a;
		break;
	case OPT_FOLLOW:
		if (!*arg || strchr(arg, '/'))
			return vt_cmd_bad(st, "--follow wants a process name, "
					      "not a path");
		a->o->follow = arg;
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static const struct argp_child follow_children[] = {
	{ &attach_argp, 0, NULL, 0 },
	{ 0 }
};
static const struct argp follow_argp = { follow_options, parse_follow, NULL,
					 NULL, follow_children, NULL, NULL };

int vt_cmd_trace_args(int argc, char **argv, const char *doc,
		      enum vt_cmd_session kind, struct vt_trace_opts *o,
		      struct vt_result_args *report)
{
	struct argp argp = kind == VT_CMD_ATTACH   ? follow_argp
			   : kind == VT_CMD_RECORD ? attach_argp
						   : session_argp;
	struct trace_args a = { .o = o, .report = report };
	int rc;

	argp.doc = doc;
	rc = vt_cmd_parse(&argp, argc, argv, &a);
	if (!rc && report)
		vt_cmd_report_opts(o, report);
	return rc;
}

void vt_cmd_report_opts(struct vt_trace_opts *o, struct vt_result_args *r)
{
	o->report = o->report || r->any;
	o->report_opts = r->report;
	r->res.quiet = o->quiet;
	/* shown by the report or kept in the recording */
	o->stacks = !r->no_stacks &&
		    ((o->report && vt_result_shows_stacks(&r->res)) ||
		     o->record_path);
}

/* ---- run ------------------------------------------------------------------ */

static struct argp_option run_options[] = {
	{ "json", 'j', "FILE", 0, "write the report here (as --report)", 0 },
	{ "runtime", OPT_RUNTIME, "PATH", 0,
	  "the runtime object, for programs that load it in a way their ELF "
	  "headers do not say (dlopen)", 0 },
	{ "record", OPT_RECORD, "FILE", 0,
	  "write a recording of each traced process: FILE, then FILE.PID "
	  "for every further one", 0 },
	KEYFRAME_OPTION,
	{ 0 }
};

static error_t parse_run(int key, char *arg, struct argp_state *st)
{
	struct trace_args *a = st->input;

	switch (key) {
	case ARGP_KEY_INIT:
		st->child_inputs[0] = a;
		st->child_inputs[1] = a->report;
		break;
	case 'j':
		a->report->res.json_path = arg;
		break;
	case OPT_RUNTIME:
		*a->runtime = arg;
		break;
	case OPT_KEYFRAME:
		return keyframe_arg(st, arg, a->o);
	case OPT_RECORD:
		a->o->record_path = arg;
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

int vt_cmd_run_args(int argc, char **argv, const char *doc,
		    struct vt_trace_opts *o, struct vt_result_args *report,
		    char ***cmd, const char **runtime)
{
	static const struct argp_child children[] = {
		{ &run_session_argp, 0, NULL, 0 },
		{ &vt_result_argp, 0, "The report:", 0 },
		{ 0 }
	};
	struct argp argp = { run_options, parse_run, "-- CMD [ARG...]", doc,
			     children, NULL, NULL };
	struct trace_args a = { .o = o, .report = report, .cmd = cmd,
				.runtime = runtime };
	int rc = vt_cmd_parse(&argp, argc, argv, &a);

	if (!rc)
		vt_cmd_report_opts(o, report);
	return rc;
}

int vt_cmd_drop(bool no_drop, unsigned needs, struct vt_files *files,
		const char *const *outs, size_t n)
{
	char err[512];

	files->sock = -1;
	if (no_drop)
		return 0;
	if (vt_files_keep(files, outs, n, err, sizeof(err)) ||
	    vt_priv_drop(needs, err, sizeof(err))) {
		fprintf(stderr, "valk-trace: %s\n", err);
		return -1;
	}
	return 0;
}

struct vt_trace_opts vt_cmd_trace_defaults(void)
{
	return (struct vt_trace_opts){
		.mode = VT_MODE_HYBRID,
		.interval_ms = 100,
		.ringbuf_bytes = 1 << 22,
		.leak_age_ms = 30000,
		.history_ms = 300000,
		.keyframe_ms = 5000,
		.max_overhead_pct = 5,
	};
}
