#include "cli/vt_result.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/vt_cmd.h"
#include "cli/vt_file.h"
#include "wire/vt_rfmt.h"

#define SUMMARY_STACKS 3	/* leak stacks in the summaries */

/* A file of the report, written safely (vt_file); "-" is stdout. NULL
 * text: the encoder ran out of memory. */
static int write_out(const struct vt_result *r, const char *path, char *text)
{
	char err[4200], *line;
	size_t n = text ? strlen(text) : 0;
	int rc = -1;

	if (!path) {
		free(text);
		return 0;
	}
	if (!(line = text ? realloc(text, n + 2) : NULL)) {
		free(text);
		fprintf(stderr, "valk-trace: cannot write %s: out of memory\n",
			path);
		return -1;
	}
	line[n] = '\n';	/* over the terminator: written by length */
	if (!strcmp(path, "-"))
		rc = fwrite(line, 1, n + 1, stdout) == n + 1 && !fflush(stdout)
			     ? 0 : -1;
	else
		rc = vt_file_write(r->files, path, line, n + 1, err, sizeof(err));
	if (rc && strcmp(path, "-"))
		fprintf(stderr, "valk-trace: %s\n", err);
	free(line);
	return rc;
}

int vt_result_emit(const struct vt_result *r, struct vt_rep_doc *d,
		   const struct vt_rep_doc *base, int cmd_status)
{
	int code, bad = 0;

	if (vt_verdict_judge(d, r->conds, r->nconds, base)) {
		fprintf(stderr, "valk-trace: out of memory judging the report\n");
		return 1;
	}
	if (!r->quiet) {
		char *text = vt_rfmt_text(d, SUMMARY_STACKS);

		if (text)
			fputs(text, stderr);
		free(text);
	}
	for (size_t i = 0; i < d->njudged; i++)
		if (d->judged[i].v.failed)
			fprintf(stderr, "valk-trace: FAIL %s%s (pid %d)\n",
				d->judged[i].v.message,
				d->judged[i].drops ? "; the report is incomplete"
						   : "",
				d->procs[d->judged[i].proc].pid);
	code = vt_verdict_exit(d, cmd_status);
	bad |= write_out(r, r->json_path, r->json_path ? vt_rfmt_json(d) : NULL);
	bad |= write_out(r, r->junit_path, r->junit_path ? vt_rfmt_junit(d) : NULL);
	bad |= write_out(r, r->md_path,
			 r->md_path ? vt_rfmt_markdown(d, SUMMARY_STACKS) : NULL);
	return bad && code == 0 ? 1 : code;
}

enum {
	OPT_REPORT = 0x200,
	OPT_FAIL_ON,
	OPT_WARMUP,
	OPT_IGNORE,
	OPT_JUNIT,
	OPT_SUMMARY_MD,
	OPT_NO_STACKS,
	OPT_SUPPRESS,
	OPT_NO_DEFAULT_SUPPRESS,
};

static const struct argp_option options[] = {
	{ "report", OPT_REPORT, "FILE", 0,
	  "write the end-of-run report (JSON, docs/report-format.md)", 1 },
	{ "fail-on", OPT_FAIL_ON, "LIST", 0,
	  "fail (exit 1, or 3 for drops) when a condition is met: leak, "
	  "leak>N, overflow, drops, hwm:SLAB>PCT%, peak:SLAB>N, used:SLAB>N, "
	  "arena-overflow (comma-separated)", 1 },
	{ "warmup", OPT_WARMUP, "S", 0,
	  "slots acquired in the first S seconds are not leaks (default 0)", 1 },
	{ "ignore", OPT_IGNORE, "LIST", 0,
	  "not leaks: slab names (tcp_buffers, handles, stream_arenas, "
	  "http_servers, http_clients) or handle kinds (task, timer, "
	  "connection, object); listeners never are", 1 },
	{ "suppress", OPT_SUPPRESS, "LIST", 0,
	  "leaks whose acquire stack passes through one of these functions "
	  "are reported as suppressed, not counted (comma-separated; needs "
	  "stacks)", 1 },
	{ "no-default-suppress", OPT_NO_DEFAULT_SUPPRESS, 0, 0,
	  "count the runtime's own listen-task leak too (suppressed by "
	  "default)", 1 },
	{ "junit", OPT_JUNIT, "FILE", 0,
	  "JUnit XML: a test case per condition per process", 1 },
	{ "summary-md", OPT_SUMMARY_MD, "FILE", 0,
	  "a Markdown summary (for $GITHUB_STEP_SUMMARY)", 1 },
	{ "no-stacks", OPT_NO_STACKS, 0, 0,
	  "leaks without the call stacks of their acquires, which cost "
	  "every acquire a stack walk (and a stack copy where the runtime "
	  "has no frame pointers)", 1 },
	{ 0 }
};

bool vt_result_shows_stacks(const struct vt_result *r)
{
	if (r->json_path || r->junit_path || r->md_path || !r->quiet)
		return true;
	for (size_t i = 0; i < r->nconds; i++)
		if (r->conds[i].kind == VT_COND_LEAK)
			return true;
	return false;
}

static error_t parse_ignore(struct vt_report_opts *o, char *arg,
			    struct argp_state *st)
{
	char *save = NULL, msg[160];

	for (char *w = strtok_r(arg, ",", &save); w;
	     w = strtok_r(NULL, ",", &save)) {
		int bit = vt_report_ignore_bit(w);

		if (bit < 0) {
			snprintf(msg, sizeof(msg), "--ignore: unknown slab or "
				 "kind '%.60s'", w);
			return vt_cmd_bad(st, "%s", msg);
		}
		o->ignore |= 1u << bit;
	}
	return 0;
}

static error_t parse_suppress(struct vt_report_opts *o, char *arg,
			      struct argp_state *st)
{
	char *save = NULL;

	for (char *w = strtok_r(arg, ",", &save); w;
	     w = strtok_r(NULL, ",", &save))
		if (vt_report_suppress_add(o, w))
			return vt_cmd_bad(st, "--suppress: '%.60s': at most %d "
					  "function names of fewer than %d "
					  "bytes", w, VT_REP_MAX_SUPPRESS,
					  VT_REP_FUNC_LEN);
	return 0;
}

static error_t check_paths(const struct vt_result *r)
{
	const char *what[] = { "--report", "--junit", "--summary-md" };
	const char *path[] = { r->json_path, r->junit_path, r->md_path };
	char err[4200];

	for (size_t i = 0; i < 3; i++)
		if (path[i] && vt_trace_check_output(NULL, what[i], path[i], err,
						     sizeof(err))) {
			fprintf(stderr, "valk-trace: %s\n", err);
			return EINVAL;
		}
	return 0;
}

static error_t parse_opt(int key, char *arg, struct argp_state *st)
{
	struct vt_result_args *a = st->input;
	char err[512], *end;
	double v;

	switch (key) {
	case OPT_REPORT:
		a->res.json_path = arg;
		break;
	case OPT_FAIL_ON:
		if (vt_cond_parse(arg, a->res.conds, &a->res.nconds,
				  VT_VERDICT_MAX, err, sizeof(err)))
			return vt_cmd_bad(st, "%s", err);
		for (size_t i = 0; i < a->res.nconds && !a->diff; i++)
			if (a->res.conds[i].relative)
				return vt_cmd_bad(st, "relative thresholds "
						  "(>+N) belong to `valk-trace "
						  "diff`");
		break;
	case OPT_WARMUP:
		errno = 0;
		v = strtod(arg, &end);
		if (errno || end == arg || *end || v < 0 || v > 1e9)
			return vt_cmd_bad(st, "--warmup wants seconds >= 0");
		a->report.warmup_ms = v * 1000;
		break;
	case OPT_IGNORE:
		if (parse_ignore(&a->report, arg, st))
			return EINVAL;
		break;
	case OPT_SUPPRESS:
		if (parse_suppress(&a->report, arg, st))
			return EINVAL;
		break;
	case OPT_NO_DEFAULT_SUPPRESS:
		a->report.no_default_suppress = true;
		break;
	case OPT_JUNIT:
		a->res.junit_path = arg;
		break;
	case OPT_SUMMARY_MD:
		a->res.md_path = arg;
		break;
	case OPT_NO_STACKS:
		if (a->diff)
			return vt_cmd_bad(st, "--no-stacks belongs to a traced "
					  "session");
		a->no_stacks = true;
		break;
	case ARGP_KEY_END:	/* a typo costs no run */
		return check_paths(&a->res);
	default:
		return ARGP_ERR_UNKNOWN;
	}
	a->any = true;
	return 0;
}

const struct argp vt_result_argp = { options, parse_opt, NULL, NULL, NULL,
				     NULL, NULL };
