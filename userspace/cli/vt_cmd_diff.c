/* valk-trace diff BASE.json NEW.json: what grew between two reports,
 * judged with thresholds relative to the base (leak>+0, peak:SLAB>+10%). */
#include "cli/vt_cmd.h"
#include "cli/vt_file.h"
#include "cli/vt_replay.h"
#include "wire/vt_rec.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wire/vt_rfmt.h"

#define MAX_REPORT_BYTES (256u << 20)	/* a report file larger is refused */

struct diff_args {
	struct vt_result_args r;
	const char *path[2];
	int npaths;
};

static error_t parse_diff(int key, char *arg, struct argp_state *st)
{
	struct diff_args *a = st->input;

	switch (key) {
	case ARGP_KEY_INIT:
		st->child_inputs[0] = &a->r;
		a->r.diff = true;
		break;
	case ARGP_KEY_ARG:
		if (a->npaths == 2)
			return vt_cmd_bad(st, "expected two reports, got a "
					      "third: '%s'", arg);
		a->path[a->npaths++] = arg;
		break;
	case ARGP_KEY_END:
		if (a->npaths != 2)
			return vt_cmd_bad(st, "expected two reports: BASE.json "
					      "NEW.json");
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

/* A whole file, bounded, from fd (closed); NULL with a one-line reason. */
static char *slurp(const char *path, int fd, char *err, size_t errlen)
{
	FILE *f = fd >= 0 ? fdopen(fd, "r") : NULL;
	char *buf = NULL;
	size_t n = 0, cap = 0;

	if (!f) {
		snprintf(err, errlen, "cannot read %s: %m", path);
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	for (;;) {
		if (n + 65536 + 1 > cap) {
			char *p = cap < MAX_REPORT_BYTES
					  ? realloc(buf, cap = cap ? cap * 2
								   : 1 << 20)
					  : NULL;

			if (!p) {
				snprintf(err, errlen, "%s is larger than %u MiB "
					 "or memory ran out", path,
					 MAX_REPORT_BYTES >> 20);
				free(buf);
				fclose(f);
				return NULL;
			}
			buf = p;
		}
		size_t got = fread(buf + n, 1, 65536, f);

		n += got;
		if (got < 65536)
			break;
	}
	fclose(f);
	buf[n] = '\0';
	return buf;
}

/* A recording (VALKREC) is replayed into its report. */
static bool is_recording(int fd)
{
	char magic[8];

	return pread(fd, magic, 8, 0) == 8 && !memcmp(magic, VT_REC_MAGIC, 8);
}

/* fd: path opened while root (closed here), or -1 (errno says why). */
static int load(const char *path, int fd, const struct vt_report_opts *ro,
		struct vt_rep_doc *d)
{
	char err[512], why[512], *text;
	int rc;

	if (fd >= 0 && is_recording(fd)) {
		rc = vt_replay_report(path, fd, ro, d, why, sizeof(why));
		if (rc)
			fprintf(stderr, "valk-trace: %s: %s\n", path, why);
		return rc;
	}
	text = slurp(path, fd, err, sizeof(err));
	if (!text) {
		fprintf(stderr, "valk-trace: %s\n", err);
		memset(d, 0, sizeof(*d));
		return -1;
	}
	rc = vt_rfmt_json_parse(text, d, why, sizeof(why));
	free(text);
	if (rc)
		fprintf(stderr, "valk-trace: %s: %s; pass reports written by "
				"`valk-trace run --json` or `--report`\n",
			path, why);
	return rc;
}

int vt_cmd_diff(int argc, char **argv)
{
	static const struct argp_child children[] = {
		{ &vt_result_argp, 0, "Thresholds and outputs:", 0 },
		{ 0 }
	};
	struct argp argp = { NULL, parse_diff, "BASE.json NEW.json",
			     "What grew from BASE to NEW, two reports of "
			     "`valk-trace run` or two recordings (replayed "
			     "into their reports); --fail-on takes thresholds "
			     "relative to BASE (leak>+0, peak:handles>+10%).",
			     children, NULL, NULL };
	struct diff_args a = { .npaths = 0 };
	struct vt_rep_doc base = { 0 }, now = { 0 };
	struct vt_files files;
	char *text;
	int code = VT_EXIT_USAGE, fd[2], err[2];

	argv[0] = "valk-trace diff";
	if (vt_cmd_parse(&argp, argc, argv, &a))
		return VT_EXIT_USAGE;
	const char *outs[] = { a.r.res.json_path, a.r.res.junit_path,
			       a.r.res.md_path };

	/* both opened while root, root given up, then read */
	for (int i = 0; i < 2; i++) {
		fd[i] = open(a.path[i], O_RDONLY | O_CLOEXEC);
		err[i] = errno;
	}
	if (vt_cmd_drop(false, 0, &files, outs, sizeof(outs) / sizeof(*outs))) {
		for (int i = 0; i < 2; i++)
			if (fd[i] >= 0)
				close(fd[i]);
		return VT_EXIT_USAGE;
	}
	a.r.res.files = &files;
	errno = err[0];
	if (load(a.path[0], fd[0], &a.r.report, &base) == 0 &&
	    (errno = err[1], load(a.path[1], fd[1], &a.r.report, &now) == 0)) {
		text = vt_rfmt_diff(&base, &now);
		if (text)
			fputs(text, stdout);
		free(text);
		a.r.res.quiet = true;	/* the diff is the summary */
		code = vt_result_emit(&a.r.res, &now, &base, -1);
	}
	vt_rep_doc_free(&now);
	vt_rep_doc_free(&base);
	return code;
}
