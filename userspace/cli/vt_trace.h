/* vt_trace: one tracing session — attach to a target, bootstrap from its
 * memory, keep the state model current from probe events and/or memory
 * reads on a libuv timer, and hand the state to the outputs. */
#ifndef VT_TRACE_H
#define VT_TRACE_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#define VT_TRACE_VERSION "0.1.0"

#include "model/vt_report.h"
#include "serve/vt_routes.h"

struct vt_files;

enum vt_mode { VT_MODE_HYBRID, VT_MODE_EVENTS, VT_MODE_SAMPLE };

/* Where and how a trace or a replay serves: --listen and the options of
 * vt_cmd's serving group. */
struct vt_trace_serve {
	const char *listen;	/* serve HTTP here, or NULL */
	const char *allow_hosts; /* Host names served besides localhost */
	const char *token;	/* required of every request, or NULL */
	const char *tls_cert, *tls_key;	/* serve HTTPS with these, or NULL */
};

/* A token made up for serving beyond loopback: 32 hex digits. */
#define VT_TRACE_TOKEN_LEN 33

/* Exit codes, as documented in the README. */
enum {
	VT_EXIT_OK = 0,		/* detached by Ctrl-C, --duration or snapshot */
	VT_EXIT_FAIL = 1,	/* an error while tracing */
	VT_EXIT_USAGE = 2,	/* bad arguments or cannot attach */
	VT_EXIT_TARGET_GONE = 3,/* the target exited or exec'd while traced */
};

struct vt_trace_opts {
	int pid;
	enum vt_mode mode;
	unsigned interval_ms;	/* tick: event drain, memory reads, pushes */
	double duration_s;	/* 0: until Ctrl-C or the target ends */
	const char *json_path;	/* final memory-dialect state, or NULL */
	const char *layout_path;/* layout JSON for a stripped target */
	size_t ringbuf_bytes;
	uint64_t leak_age_ms;
	double max_overhead_pct;/* hybrid: the probes' budget, 0: none */
	struct vt_trace_serve serve;	/* serve HTTP, when serve.listen */
	const char *record_path;/* write a recording here, or NULL */
	const struct vt_files *files;	/* who makes the files (vt_file.h) */
	const char *follow;	/* trace the valk process of this name, and
				 * the next one after it exits (no pid) */
	uint64_t history_ms;	/* kept for time travel when serving */
	uint64_t keyframe_ms;	/* recording and history keyframe interval */
	int snapshot;		/* print one document after one tick, exit */
	int quiet;
	bool no_drop;		/* --no-drop: keep root (vt_priv) */
	unsigned priv_needs;	/* VT_PRIV_* the caller's own part needs */
	/* When set, starts the target once the outputs are checked and the
	 * listener bound, and returns its pid (or 0 after saying why). */
	int (*launch)(void *ctx);
	void *launch_ctx;
	/* The end-of-session report (attach, run): kept when set. */
	bool report;
	struct vt_report_opts report_opts;
	/* The report or the recording shows its leaks' acquire stacks:
	 * captured at every acquire. */
	bool stacks;
	/* run: the process is held before its exec and maps its runtime
	 * later; probes go on this object, resolved the way the loader will
	 * (NULL: find the runtime among the process's mappings) */
	const char *runtime_path;
	const char *uv_path;	/* run: the object defining uv_read_start */
};

int vt_mode_parse(const char *s, enum vt_mode *out);
const char *vt_mode_name(enum vt_mode m);

/* "valk-trace: <message>" on stderr, unless quiet: progress messages. */
void vt_trace_say(int quiet, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Runs a whole attach or snapshot session on its own loop, the report
 * (o->report) judged and written as res says; returns a VT_EXIT_* code. */
struct vt_result;
int vt_trace_run(struct vt_trace_opts *o, const struct vt_result *res);

/* One session on the caller's loop, for `run`: probes attached, then the
 * memory read once the runtime is mapped; ticks until vt_trace_end. o
 * must outlive the session. Returns 0, or -1 with a one-line reason in
 * err ("" when o->launch already said why). */
struct vt_trace;
int vt_trace_open(uv_loop_t *loop, struct vt_trace_opts *o,
		  struct vt_trace **out, char *err, size_t errlen);
/* Ends the session while the process still exists (its memory is read a
 * last time, stacks symbolized): the report into rep when asked for, then
 * everything closed and freed on the loop. 0; 1 when the process never
 * mapped its runtime (nothing to report); -1 out of memory. */
int vt_trace_end(struct vt_trace *t, struct vt_rep_proc *rep);

/* 0 when this process may attach probes in that mode, else -1 with the
 * one-line reason. */
int vt_trace_check_env(enum vt_mode mode, char *err, size_t errlen);

/* 0 when the output file `path` (named by option `what` in the error) can
 * be written: a pipe or terminal we may write, or a regular file replaced
 * through a temporary file in a directory we may write. */
int vt_trace_check_output(const struct vt_files *k, const char *what,
			  const char *path, char *err, size_t errlen);

/* Serves st at s->listen, as every trace and replay does: beyond loopback
 * every request needs a token, s->token or one made up into made and
 * printed on stderr; the Host check and TLS as s says. 0, or -1 with a
 * one-line reason in err. */
int vt_trace_serve(uv_loop_t *loop, const struct vt_trace_serve *s,
		   char made[VT_TRACE_TOKEN_LEN], const struct vt_state *st,
		   vt_routes_meta_fn meta, void *ctx, struct vt_routes **out,
		   char *err, size_t errlen);

#endif /* VT_TRACE_H */
