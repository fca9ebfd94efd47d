/* vt_replay: a recording played back into the state model tick by tick,
 * at the recorded pace times a speed, served exactly as the live trace
 * served it (the same routes, fed from the same model). */
#ifndef VT_REPLAY_H
#define VT_REPLAY_H

#include "cli/vt_result.h"
#include "cli/vt_trace.h"

struct vt_replay_opts {
	const char *path;
	int fd;			/* path opened before root was given up */
	double speed;		/* 1: as recorded; 0: as fast as possible */
	double from_s;		/* start this far into the recording */
	struct vt_trace_serve serve;	/* serve, when serve.listen */
	/* Gives root up (NULL: keeps it), called once the listener is bound
	 * and its TLS certificate and key read, before the recording is
	 * read; 0, or -1 after saying why. */
	int (*drop)(void *ctx);
	void *drop_ctx;
	int quiet;
	const struct vt_result_args *report;	/* --report, --fail-on ...; NULL */
};

/* Runs a whole replay on its own loop; returns a VT_EXIT_* code (with a
 * report, its verdict as `run` gives it). With a listener it serves the
 * final state after the last tick until Ctrl-C; without one it ends
 * there. */
int vt_replay_run(const struct vt_replay_opts *o);

/* The report of a whole recording, offline, as one process of d (freed
 * with vt_rep_doc_free): for `diff` of recordings. fd as in
 * vt_replay_opts (-1: open path). 0, or -1 with a one-line reason. */
int vt_replay_report(const char *path, int fd, const struct vt_report_opts *ro,
		     struct vt_rep_doc *d, char *err, size_t errlen);

#endif /* VT_REPLAY_H */
