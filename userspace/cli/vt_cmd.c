/* vt_cmd: the option parsing the subcommands share (see vt_cmd.h). */
#include "cli/vt_cmd.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
	OPT_LAYOUT = 0x100,
	OPT_LEAK_AGE,
	OPT_RINGBUF,
	OPT_LISTEN,
};

static struct argp_option trace_options[] = {
	{ "mode", 'm', "MODE", 0,
	  "hybrid (default): events + memory reconciliation every second; "
	  "events: events only after bootstrap; sample: memory reads only, "
	  "no probes", 0 },
	{ "interval", 'i', "MS", 0, "tick and push interval (default 100)", 0 },
	{ "duration", 'd', "S", 0, "stop after S seconds (attach)", 0 },
	{ "json", 'j', "FILE", 0, "write the final state here on exit", 0 },
	{ "listen", OPT_LISTEN, "ADDR:PORT", 0,
	  "serve SSE, dashboard and /metrics here (attach; default "
	  VT_CMD_LISTEN ", 'none' to disable)", 0 },
	{ "layout", OPT_LAYOUT, "FILE", 0,
	  "layout JSON from `valk-trace layout` for a stripped target", 0 },
	{ "leak-age", OPT_LEAK_AGE, "S", 0,
	  "slots in use this long are leak suspects (default 30)", 0 },
	{ "ringbuf-size", OPT_RINGBUF, "BYTES", 0,
	  "BPF ring buffer size, a power of two (default 4194304)", 0 },
	{ "quiet", 'q', NULL, 0, "no progress messages on stderr", 0 },
	{ 0 }
};

struct trace_args {
	struct vt_trace_opts *o;
	bool have_pid;
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

error_t vt_cmd_mode(const struct argp_state *st, const char *arg,
		    enum vt_mode *out)
{
	if (vt_mode_parse(arg, out))
		return vt_cmd_bad(st, "unknown mode '%s' (hybrid, events, "
				      "sample)", arg);
	return 0;
}

static bool pow2(double v)
{
	unsigned long long n = v;

	return n == v && n && !(n & (n - 1));
}

static error_t parse_trace(int key, char *arg, struct argp_state *st)
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
		o->listen = strcmp(arg, "none") ? arg : NULL;
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
	case ARGP_KEY_ARG:
		if (a->have_pid || vt_cmd_num(arg, 1, INT_MAX, &v))
			return vt_cmd_bad(st, "expected one pid, got '%s'",
					  arg);
		o->pid = v;
		a->have_pid = true;
		break;
	case ARGP_KEY_END:
		if (!a->have_pid)
			return vt_cmd_bad(st, "missing pid; `valk-trace ps` "
					      "lists valk processes");
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

int vt_cmd_trace_args(int argc, char **argv, const char *doc,
		      struct vt_trace_opts *o)
{
	struct argp argp = { trace_options, parse_trace, "<pid>", doc,
			     0, 0, 0 };
	struct trace_args a = { .o = o };

	return argp_parse(&argp, argc, argv, 0, NULL, &a) ? VT_EXIT_USAGE : 0;
}

struct vt_trace_opts vt_cmd_trace_defaults(void)
{
	return (struct vt_trace_opts){
		.mode = VT_MODE_HYBRID,
		.interval_ms = 100,
		.ringbuf_bytes = 1 << 22,
		.leak_age_ms = 30000,
	};
}
