/* valk-trace: an external memory tracer for the Valkyria runtime. */
#include <argp.h>
#include <stdarg.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/vt_demo.h"
#include "target/vt_layout.h"
#include "target/vt_snap.h"
#include "target/vt_target.h"
#include "cli/vt_trace.h"

#define VERSION "0.1.0"
#define DEFAULT_LISTEN "127.0.0.1:7070"

const char *argp_program_version = "valk-trace " VERSION;

static const char usage[] =
	"usage: valk-trace COMMAND [OPTION...]\n"
	"\n"
	"commands:\n"
	"  attach <pid>     trace a running valk process until Ctrl-C\n"
	"  snapshot <pid>   print one memory-dialect JSON document and exit\n"
	"  ps               list processes running a valk runtime\n"
	"  layout <binary>  print the struct layout resolved from DWARF\n"
	"  demo             run the bundled stand-in runtime under load, "
	"traced, with the dashboard\n"
	"\n"
	"`valk-trace COMMAND --help` describes each command's options.\n";

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
	  DEFAULT_LISTEN ", 'none' to disable)", 0 },
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
	struct vt_trace_opts o;
	int have_pid;
};

static int parse_num(const char *s, double min, double max, double *out)
{
	char *end;

	errno = 0;
	*out = strtod(s, &end);
	return errno || end == s || *end || *out < min || *out > max ? -1 : 0;
}

static bool pow2(double v)
{
	unsigned long long n = v;

	return n == v && n && !(n & (n - 1));
}

/* One line naming the problem and where the fix is; the command fails
 * with exit code 2. */
static error_t bad(struct argp_state *st, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static error_t bad(struct argp_state *st, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "valk-trace: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (see `%s --help`)\n", st->name);
	return EINVAL;
}

static error_t parse_trace(int key, char *arg, struct argp_state *st)
{
	struct trace_args *a = st->input;
	double v;

	switch (key) {
	case 'm':
		if (vt_mode_parse(arg, &a->o.mode))
			return bad(st, "unknown mode '%s' (hybrid, events, "
				       "sample)", arg);
		break;
	case 'i':
		if (parse_num(arg, 10, 60000, &v))
			return bad(st, "--interval wants 10..60000 ms");
		a->o.interval_ms = v;
		break;
	case 'd':
		if (parse_num(arg, 0.001, 1e9, &v))
			return bad(st, "--duration wants a positive number");
		a->o.duration_s = v;
		break;
	case 'j':
		a->o.json_path = arg;
		break;
	case OPT_LISTEN:
		a->o.listen = strcmp(arg, "none") ? arg : NULL;
		break;
	case OPT_LAYOUT:
		a->o.layout_path = arg;
		break;
	case OPT_LEAK_AGE:
		if (parse_num(arg, 0, 1e9, &v))
			return bad(st, "--leak-age wants seconds >= 0");
		a->o.leak_age_ms = v * 1000;
		break;
	case OPT_RINGBUF:
		if (parse_num(arg, 4096, 1 << 30, &v) || !pow2(v))
			return bad(st, "--ringbuf-size wants a power of two, "
				       "4096..1073741824");
		a->o.ringbuf_bytes = v;
		break;
	case 'q':
		a->o.quiet = 1;
		break;
	case ARGP_KEY_ARG:
		if (a->have_pid || parse_num(arg, 1, INT_MAX, &v))
			return bad(st, "expected one pid, got '%s'", arg);
		a->o.pid = v;
		a->have_pid = 1;
		break;
	case ARGP_KEY_END:
		if (!a->have_pid)
			return bad(st, "missing pid; `valk-trace ps` lists valk "
				       "processes");
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static int cmd_trace(int argc, char **argv, bool snapshot)
{
	struct argp argp = { trace_options, parse_trace, "<pid>",
			     snapshot ? "Print one memory-dialect JSON document "
					"of <pid>'s state and exit."
				      : "Trace <pid> until Ctrl-C, --duration "
					"or the target's end.", 0, 0, 0 };
	struct trace_args a = { .o = {
		.mode = VT_MODE_HYBRID,
		.interval_ms = 100,
		.ringbuf_bytes = 1 << 22,
		.leak_age_ms = 30000,
		.listen = snapshot ? NULL : DEFAULT_LISTEN,
		.snapshot = snapshot,
	} };

	argv[0] = snapshot ? "valk-trace snapshot" : "valk-trace attach";
	if (argp_parse(&argp, argc, argv, 0, NULL, &a))
		return VT_EXIT_USAGE;
	if (snapshot)
		a.o.listen = NULL;
	return vt_trace_run(&a.o);
}

static void print_ps_row(const struct vt_target *t, void *ctx)
{
	struct vt_layout l;
	struct vt_snap *s;
	char err[256], aio[16] = "?";
	uint64_t sys[VT_SNAP_MAX_SYSTEMS];

	(void)ctx;
	if (vt_layout_from_elf(t->open_path, &l, err, sizeof(err)) == 0 &&
	    (s = vt_snap_new(t->pid, &l, t->bias,
			     vt_target_addr(t, "valk_sys",
					    l.sym[VT_LS_VALK_SYS])))) {
		int n = vt_snap_systems(s, sys, VT_SNAP_MAX_SYSTEMS);

		if (n >= 0)
			snprintf(aio, sizeof(aio), "%d", n);
		vt_snap_free(s);
	}
	printf("%-8d %-4s %-20.20s %s%s\n", t->pid, aio,
	       *t->build_id ? t->build_id : "-", t->object,
	       t->deleted ? " (deleted)" : "");
}

static int cmd_ps(int argc, char **argv)
{
	(void)argv;
	if (argc > 1) {
		fprintf(stderr, "valk-trace: ps takes no arguments\n");
		return VT_EXIT_USAGE;
	}
	printf("%-8s %-4s %-20s %s\n", "PID", "AIO", "BUILD-ID", "OBJECT");
	if (vt_target_scan(print_ps_row, NULL) == 0)
		fprintf(stderr, "valk-trace: no valk process found\n");
	return VT_EXIT_OK;
}

static int cmd_layout(int argc, char **argv)
{
	struct vt_layout l;
	char err[512];

	if (argc != 2 || argv[1][0] == '-') {
		fprintf(stderr, "usage: valk-trace layout <binary>\n"
				"Print the runtime's struct layout, resolved "
				"from the binary's DWARF, as JSON.\n");
		return argc == 2 && !strcmp(argv[1], "--help") ? VT_EXIT_OK
							     : VT_EXIT_USAGE;
	}
	if (vt_layout_from_elf(argv[1], &l, err, sizeof(err))) {
		fprintf(stderr, "valk-trace: %s\n", err);
		return VT_EXIT_USAGE;
	}
	return vt_layout_write_json(&l, stdout) ? VT_EXIT_FAIL : VT_EXIT_OK;
}

int main(int argc, char **argv)
{
	argp_err_exit_status = VT_EXIT_USAGE;
	const char *cmd = argc > 1 ? argv[1] : "";

	if (!strcmp(cmd, "attach"))
		return cmd_trace(argc - 1, argv + 1, false);
	if (!strcmp(cmd, "snapshot"))
		return cmd_trace(argc - 1, argv + 1, true);
	if (!strcmp(cmd, "ps"))
		return cmd_ps(argc - 1, argv + 1);
	if (!strcmp(cmd, "layout"))
		return cmd_layout(argc - 1, argv + 1);
	if (!strcmp(cmd, "demo"))
		return vt_demo_run(argc - 1, argv + 1);
	if (!strcmp(cmd, "--version")) {
		puts(argp_program_version);
		return VT_EXIT_OK;
	}
	if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
		fputs(usage, stdout);
		return VT_EXIT_OK;
	}
	if (*cmd)
		fprintf(stderr, "valk-trace: unknown command '%s' (see "
				"`valk-trace --help`)\n", cmd);
	else
		fputs(usage, stderr);
	return VT_EXIT_USAGE;
}
