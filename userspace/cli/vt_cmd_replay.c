/* valk-trace replay FILE: serve a recording as the live trace served it,
 * at the recorded pace times --speed, from --from on; with --report and
 * --fail-on, the report and verdicts `run` gives, offline. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/vt_cmd.h"
#include "cli/vt_file.h"
#include "cli/vt_priv.h"
#include "cli/vt_replay.h"

enum { OPT_SPEED = 0x100, OPT_FROM, OPT_LISTEN, OPT_NO_DROP };

static struct argp_option options[] = {
	{ "speed", OPT_SPEED, "X", 0,
	  "X times the recorded pace (default 1); 'max': as fast as "
	  "possible", 0 },
	{ "from", OPT_FROM, "S", 0, "start S seconds into the recording", 0 },
	{ "listen", OPT_LISTEN, "ADDR:PORT", 0,
	  "serve here (default " VT_CMD_LISTEN ", 'none': replay to the end "
	  "and exit); beyond loopback with a token, as attach", 0 },
	{ "quiet", 'q', NULL, 0, "no progress messages on stderr", 0 },
	{ "json", 'j', "FILE", 0, "write the report here (as --report)", 0 },
	{ "no-drop", OPT_NO_DROP, NULL, 0,
	  "keep root: no switch to an unprivileged user, no seccomp filter "
	  "(for debugging)", 0 },
	{ 0 }
};

struct replay_args {
	struct vt_replay_opts o;
	struct vt_result_args report;
	bool no_drop;		/* --no-drop: keep root */
	struct vt_files files;	/* the report's files, once root is gone */
};

static error_t parse(int key, char *arg, struct argp_state *st)
{
	struct replay_args *a = st->input;
	struct vt_replay_opts *o = &a->o;
	double v;

	switch (key) {
	case ARGP_KEY_INIT:
		st->child_inputs[0] = &o->serve;
		st->child_inputs[1] = &a->report;
		break;
	case OPT_SPEED:
		if (!strcmp(arg, "max"))
			o->speed = 0;
		else if (vt_cmd_num(arg, 0.01, 1e6, &v))
			return vt_cmd_bad(st, "--speed wants 0.01..1000000 or "
					      "'max'");
		else
			o->speed = v;
		break;
	case OPT_FROM:
		if (vt_cmd_num(arg, 0, 1e9, &v))
			return vt_cmd_bad(st, "--from wants seconds >= 0");
		o->from_s = v;
		break;
	case OPT_LISTEN:
		o->serve.listen = strcmp(arg, "none") ? arg : NULL;
		break;
	case OPT_NO_DROP:
		a->no_drop = true;
		break;
	case 'q':
		o->quiet = 1;
		break;
	case 'j':
		a->report.res.json_path = arg;
		a->report.any = true;
		break;
	case ARGP_KEY_ARG:
		if (o->path)
			return vt_cmd_bad(st, "expected one recording, got "
					      "'%s' too", arg);
		o->path = arg;
		break;
	case ARGP_KEY_END:
		if (!o->path)
			return vt_cmd_bad(st, "missing the recording (FILE)");
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

/* vt_replay's: the report's files made by a keeper, then root given up
 * (the listener is bound already: no call of its own stays allowed). */
static int drop(void *ctx)
{
	struct replay_args *a = ctx;
	const char *outs[] = { a->report.res.json_path, a->report.res.junit_path,
			       a->report.res.md_path };

	return vt_cmd_drop(a->no_drop, 0, &a->files, outs,
			   sizeof(outs) / sizeof(*outs));
}

int vt_cmd_replay(int argc, char **argv)
{
	static const struct argp_child children[] = {
		{ &vt_cmd_serve_argp, 0, NULL, 0 },
		{ &vt_result_argp, 0, "The report of the replayed trace:", 0 },
		{ 0 }
	};
	struct replay_args a = { .o = { .speed = 1,
					.serve = { .listen = VT_CMD_LISTEN } } };
	int rc;
	struct argp argp = { options, parse, "FILE",
			     "Serve a recording made by `valk-trace record` or "
			     "--record as the live trace served it: the same "
			     "SSE streams, JSON routes, /metrics and "
			     "dashboard; with --report, the report `run` "
			     "writes.", children, 0, 0 };

	argv[0] = "valk-trace replay";
	if (vt_cmd_parse(&argp, argc, argv, &a))
		return VT_EXIT_USAGE;
	a.report.res.quiet = a.o.quiet;
	if (a.report.any)
		a.o.report = &a.report;
	/* opened while root, the listener bound, root given up, then read
	 * (a file that cannot be opened is said so by vt_replay_run) */
	a.o.fd = open(a.o.path, O_RDONLY | O_CLOEXEC);
	a.o.drop = drop;
	a.o.drop_ctx = &a;
	a.files.sock = -1;
	a.report.res.files = &a.files;
	rc = vt_replay_run(&a.o);
	if (a.files.sock >= 0)
		close(a.files.sock);
	return rc;
}