/* vt_replay: serving a recording as if live (see vt_replay.h). */
#include "cli/vt_replay.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include <jansson.h>

#include "cli/vt_recfile.h"
#include "cli/vt_signals.h"
#include "model/vt_report.h"
#include "cli/vt_trace.h"
#include "model/vt_state.h"
#include "serve/vt_routes.h"
#include "wire/vt_rec.h"
#include "wire/vt_timeline.h"
#include "wire/vt_wire.h"

struct vt_replay {
	const struct vt_replay_opts *o;
	const uint8_t *p;
	size_t len;
	struct vt_rec_index ix;
	struct vt_state *state;
	struct vt_state *empty;		/* served until the recording is read */
	struct vt_routes *routes;
	struct vt_timeline *history;	/* the whole recording, served */
	struct vt_report *report;	/* --report, or NULL */
	struct vt_rec_hook hook;	/* tells the report of slabs freed */
	json_t *argv;			/* the target's, from the header */
	int exit_code;
	uint64_t report_start_ms;	/* the live session's, else attach */
	size_t at;			/* the tick the state holds */
	struct vt_wire_meta meta;
	char object[512], build_id[65], mode[16], unwinder[16];
	char token[VT_TRACE_TOKEN_LEN];	/* made up beyond loopback */
	struct vt_wire_site sites[VT_P_COUNT];
	json_t *header;			/* holds the sites' strings */
	uv_timer_t step;
	struct vt_signals sig;
	uint64_t started_ms;		/* the loop's clock at the first tick */
	bool stopping;
	char err[512];
};

#define say(r, ...) vt_trace_say((r)->o->quiet, __VA_ARGS__)

/* The probe a document's entry names: the list skips retired ids, so an
 * entry's place is not its id. -1: a probe this build does not have. */
static int probe_id(json_t *p)
{
	const char *name = json_string_value(json_object_get(p, "name"));

	for (int id = 0; name && id < VT_P_COUNT; id++)
		if (vt_wire_probe_live(id) &&
		    !strcmp(vt_wire_probe_name(id), name))
			return id;
	return -1;
}

/* Where the live session's probes went, as its documents listed them. */
static const struct vt_wire_site *read_sites(struct vt_replay *r,
					     json_t *probes)
{
	size_t i;
	json_t *p;

	if (!json_is_array(probes))
		return NULL;	/* sample mode: no probes */
	json_array_foreach(probes, i, p) {
		int id = probe_id(p);
		struct vt_wire_site *w;

		if (id < 0)
			continue;
		w = &r->sites[id];
		w->attached = json_is_true(json_object_get(p, "attached"));
		w->function = json_string_value(json_object_get(p, "function"));
		w->offset = (uint64_t)json_integer_value(json_object_get(p, "offset"));
		w->file_offset = (uint64_t)json_integer_value(
			json_object_get(p, "file_offset"));
		w->insn = json_string_value(json_object_get(p, "instruction"));
		w->entry = json_string_value(json_object_get(p, "entry"));
		w->cls = json_string_value(json_object_get(p, "class"));
		w->cost_us = json_number_value(json_object_get(p, "cost_us"));
	}
	return r->sites;
}

/* What the live session's documents said of the target, from the header;
 * the clocks and sizes come with each tick. */
static int read_header(struct vt_replay *r, uint64_t *attach_ms)
{
	json_t *h = r->header = r->ix.header ? json_loads(r->ix.header, 0, NULL)
					     : NULL;
	int rc = -1;

	if (json_is_object(h)) {
		snprintf(r->object, sizeof(r->object), "%s",
			 json_string_value(json_object_get(h, "object")) ?: "");
		snprintf(r->build_id, sizeof(r->build_id), "%s",
			 json_string_value(json_object_get(h, "build_id")) ?: "");
		snprintf(r->mode, sizeof(r->mode), "%s",
			 json_string_value(json_object_get(h, "mode")) ?: "");
		r->meta.pid = (int)json_integer_value(json_object_get(h, "pid"));
		r->meta.leak_age_ms = (uint64_t)json_integer_value(
			json_object_get(h, "leak_age_ms"));
		*attach_ms = (uint64_t)json_integer_value(
			json_object_get(h, "start_mono_ms"));
		r->meta.sites = read_sites(r, json_object_get(h, "probes"));
		r->argv = json_object_get(h, "argv");
		r->report_start_ms = (uint64_t)json_integer_value(
			json_object_get(h, "report_start_ms"));
		snprintf(r->unwinder, sizeof(r->unwinder), "%s",
			 json_string_value(json_object_get(h, "unwinder")) ?: "");
		rc = 0;
	}
	r->meta.binary = r->object;
	r->meta.build_id = r->build_id;
	r->meta.mode = r->mode;
	return rc;
}

static void set_meta(struct vt_replay *r, const struct vt_rec_tick *t)
{
	r->meta.now_ms = t->now_ms;
	r->meta.wall_ms = t->wall_ms;
	r->meta.uptime_s = t->uptime_s;
	r->meta.rss = t->rss;
	r->meta.vms = t->vms;
	r->meta.system_total = t->system_total;
}

static void fill_meta(void *ctx, struct vt_wire_meta *m)
{
	*m = ((struct vt_replay *)ctx)->meta;
}

static double since_start(const struct vt_replay *r, size_t i)
{
	return (r->ix.ticks[i].now_ms - r->ix.ticks[0].now_ms) / 1000.0;
}

/* ---- the report ----------------------------------------------------------- */

static void before_event(void *ctx, const struct vt_state *s,
			 const struct vt_event *ev)
{
	struct vt_replay *r = ctx;

	vt_report_event(r->report, s, ev);
}

/* Who was traced, as the live session's report said it: from the header
 * (a version 1 recording names no unwinder: probes had frame pointers). */
static void report_identity(const struct vt_replay *r, struct vt_rep_proc *p)
{
	size_t i, n = 0;
	json_t *w;

	p->pid = r->meta.pid;
	json_array_foreach(r->argv, i, w)
		n += (size_t)snprintf(p->argv + n, n < sizeof(p->argv)
				      ? sizeof(p->argv) - n : 0, "%s%s",
				      i ? " " : "", json_string_value(w) ?: "");
	snprintf(p->object, sizeof(p->object), "%s", r->object);
	snprintf(p->build_id, sizeof(p->build_id), "%s", r->build_id);
	snprintf(p->mode, sizeof(p->mode), "%s", r->mode);
	snprintf(p->unwinder, sizeof(p->unwinder), "%s", *r->unwinder
		 ? r->unwinder : r->meta.sites ? "frame-pointer" : "none");
}

/* Each leak group's frames from the recording's stack records, merged as
 * the live session merged them and suppressed as it did. A version 1
 * recording has none: its groups stay by raw stack id. */
static void symbolize(const struct vt_replay *r, struct vt_rep_proc *p)
{
	struct vt_rec_stack st;

	if (r->ix.version < 2 || !strcmp(p->unwinder, "none") || !p->ngroups)
		return;
	for (size_t i = 0; i < p->ngroups; i++) {
		struct vt_rep_group *g = &p->groups[i];

		if (g->stack_id &&
		    vt_rec_index_stack(r->p, &r->ix, g->stack_id, &st) == 0) {
			g->nframes = st.nframes;
			memcpy(g->frames, st.frames,
			       st.nframes * sizeof(*g->frames));
			g->truncated = st.truncated;
		} else {
			g->nframes = 0;
			g->truncated = false;
		}
	}
	vt_rep_groups_merge(p);
	vt_rep_suppress(p, &r->o->report->report);
}

/* The report of the ticks replayed, judged and written as `run` does. */
static int report_build(struct vt_replay *r, struct vt_rep_proc *rep)
{
	if (vt_report_finish(r->report, r->state, r->meta.now_ms, rep))
		return -1;
	report_identity(r, rep);
	symbolize(r, rep);
	return 0;
}

static void report_emit(struct vt_replay *r)
{
	struct vt_rep_doc doc = { .exit_status = -1, .nprocs = 1 };
	struct vt_rep_proc rep;

	if (report_build(r, &rep)) {
		fprintf(stderr, "valk-trace: out of memory building the report\n");
		r->exit_code = VT_EXIT_FAIL;
	} else {
		doc.procs = &rep;
		r->exit_code = vt_result_emit(&r->o->report->res, &doc, NULL, -1);
	}
	vt_rep_proc_free(&rep);
	free(doc.judged);
}

/* ---- the loop ------------------------------------------------------------- */

static void on_closed(uv_handle_t *h)
{
	(void)h;
}

static void stop(struct vt_replay *r)
{
	if (r->stopping)
		return;
	r->stopping = true;
	if (r->report)
		report_emit(r);
	uv_close((uv_handle_t *)&r->step, on_closed);
	vt_signals_close(&r->sig, on_closed);
	if (r->routes)
		vt_routes_close(r->routes, NULL, NULL);
}

static void finished(struct vt_replay *r, const char *why)
{
	if (*r->ix.err)
		fprintf(stderr, "valk-trace: the recording is cut short: %s\n",
			r->ix.err);
	/* the time it took, by the loop's clock: the pace --speed set */
	say(r, "replay %s at +%.1f s, played in %.2f s%s", why,
	    since_start(r, r->at),
	    (uv_now(r->step.loop) - r->started_ms) / 1000.0,
	    r->routes ? "; serving its last state until Ctrl-C" : "");
	if (!r->routes)
		stop(r);
}

/* The wait until the tick after the one shown, at the chosen speed. */
static uint64_t next_delay(const struct vt_replay *r)
{
	size_t i = r->at;

	if (r->o->speed <= 0 || i + 1 >= r->ix.nticks)
		return 0;
	return (uint64_t)((r->ix.ticks[i + 1].now_ms - r->ix.ticks[i].now_ms) /
			  r->o->speed);
}

/* The model, the meta and the report to the next tick. 0, or -1 with
 * the reason in r->err (the model stays at the tick before). */
static int step(struct vt_replay *r)
{
	struct vt_rec_tick t;
	size_t next = r->at + 1;

	if (vt_rec_seek_hooked(r->p, &r->ix, r->state, &r->at, next, &t,
			       &r->hook, r->err, sizeof(r->err))) {
		r->at = next - 1;
		return -1;
	}
	set_meta(r, &t);
	if (r->report)
		vt_report_observe(r->report, r->state, t.now_ms);
	return 0;
}

/* One tick: the model to the next recorded tick, then the documents. */
static void on_step(uv_timer_t *h)
{
	struct vt_replay *r = h->data;

	if (r->at + 1 >= r->ix.nticks) {
		finished(r, "finished");
		return;
	}
	if (step(r)) {
		fprintf(stderr, "valk-trace: %s\n", r->err);
		finished(r, "stopped");
		return;
	}
	if (r->routes)
		vt_routes_tick(r->routes, r->meta.now_ms);
	uv_timer_start(&r->step, on_step, next_delay(r), 0);
}

static void on_signal(uv_signal_t *h, int sig)
{
	struct vt_replay *r = h->data;

	say(r, "%s: replay stopped", sig == SIGINT ? "interrupted"
						   : "terminated");
	stop(r);
}

/* ---- setting up --------------------------------------------------------- */

/* The recording mapped and indexed, the model at --from. */
static int open_recording(struct vt_replay *r)
{
	const struct vt_replay_opts *o = r->o;
	struct vt_rec_tick t;
	uint64_t attach_ms = 0;
	size_t i;

	if (vt_recfile_map(o->path, o->fd, &r->p, &r->len, r->err, sizeof(r->err)))
		return -1;
	if (vt_rec_index_build(r->p, r->len, &r->ix, r->err, sizeof(r->err)))
		return -1;
	if (!r->ix.nticks || read_header(r, &attach_ms)) {
		snprintf(r->err, sizeof(r->err), "holds no complete tick%s%s",
			 *r->ix.err ? ": " : "", r->ix.err);
		return -1;
	}
	if (!(r->state = vt_state_new(attach_ms)) ||
	    (o->report && !(r->report = vt_report_new(&o->report->report,
				r->report_start_ms ? r->report_start_ms
						   : attach_ms)))) {
		snprintf(r->err, sizeof(r->err), "out of memory");
		return -1;
	}
	r->hook = (struct vt_rec_hook){ .before = r->report ? before_event : NULL,
					.ctx = r };
	i = vt_rec_index_find(&r->ix, r->ix.ticks[0].now_ms +
					      (uint64_t)(o->from_s * 1000));
	r->at = SIZE_MAX;
	if (vt_rec_seek_hooked(r->p, &r->ix, r->state, &r->at, i, &t, &r->hook,
			       r->err, sizeof(r->err)))
		return -1;
	set_meta(r, &t);	/* observed from the next tick on, as live */
	return 0;
}

static void cleanup(struct vt_replay *r)
{
	vt_report_free(r->report);
	json_decref(r->header);
	vt_timeline_free(r->history);
	vt_state_free(r->state);
	vt_state_free(r->empty);
	vt_rec_index_free(&r->ix);
	if (r->p)
		vt_recfile_unmap(r->p, r->len);
}

/* The listener, as attach makes it, while still root (a port below 1024,
 * a TLS key only root reads); it serves nothing until the recording is
 * read, after root is given up: no parser of the recording runs as root. */
static int listen_first(struct vt_replay *r, uv_loop_t *loop)
{
	if (!r->o->serve.listen)
		return 0;
	if (!(r->empty = vt_state_new(0))) {
		snprintf(r->err, sizeof(r->err), "out of memory");
		return -1;
	}
	return vt_trace_serve(loop, &r->o->serve, r->token, r->empty, fill_meta,
			      r, &r->routes, r->err, sizeof(r->err));
}

static int serve(struct vt_replay *r)
{
	if (!r->routes)
		return 0;
	if (!(r->history = vt_timeline_of(r->p, r->len, r->err, sizeof(r->err))))
		return -1;
	vt_routes_set_state(r->routes, r->state);
	vt_routes_set_history(r->routes, r->history, false);
	fprintf(stderr, "valk-trace: serving %s\n", vt_routes_url(r->routes));
	return 0;
}

/* Set up, or VT_EXIT_USAGE with the loop closed and everything freed
 * (what failed said why, or says so now). */
static int setup(struct vt_replay *r, uv_loop_t *loop)
{
	const struct vt_replay_opts *o = r->o;
	char speed[32];

	if (listen_first(r, loop)) {
		fprintf(stderr, "valk-trace: %s\n", r->err);
		return -1;
	}
	if (o->drop && o->drop(o->drop_ctx))
		return -1;
	if (open_recording(r)) {
		fprintf(stderr, "valk-trace: %s: %s\n", o->path, r->err);
		return -1;
	}
	snprintf(speed, sizeof(speed), o->speed > 0 ? "%gx" : "max", o->speed);
	say(r, "replaying %s: pid %d (%s), mode %s, %.1f s from +%.1f s, "
	       "speed %s", o->path, r->meta.pid, r->object, r->mode,
	    since_start(r, r->ix.nticks - 1), since_start(r, r->at), speed);
	if (serve(r)) {
		fprintf(stderr, "valk-trace: %s\n", r->err);
		return -1;
	}
	return 0;
}

int vt_replay_run(const struct vt_replay_opts *o)
{
	struct vt_replay r = { .o = o, .exit_code = VT_EXIT_OK };
	uv_loop_t loop;

	uv_loop_init(&loop);
	if (setup(&r, &loop)) {
		if (r.routes)	/* the server frees itself on the loop */
			vt_routes_close(r.routes, NULL, NULL);
		uv_run(&loop, UV_RUN_DEFAULT);
		uv_loop_close(&loop);
		cleanup(&r);
		return VT_EXIT_USAGE;
	}
	uv_timer_init(&loop, &r.step);
	r.step.data = &r;
	uv_update_time(&loop);
	r.started_ms = uv_now(&loop);
	uv_timer_start(&r.step, on_step, next_delay(&r), 0);
	vt_signals_run(&loop, &r.sig, on_signal, &r);
	cleanup(&r);
	return r.exit_code;
}

int vt_replay_report(const char *path, int fd, const struct vt_report_opts *ro,
		     struct vt_rep_doc *d, char *err, size_t errlen)
{
	struct vt_result_args args = { .report = *ro, .any = true };
	struct vt_replay_opts o = { .path = path, .fd = fd, .report = &args,
				    .quiet = 1 };
	struct vt_replay r = { .o = &o };
	int rc = -1;

	*d = (struct vt_rep_doc){ .exit_status = -1 };
	if (open_recording(&r) == 0) {
		while (r.at + 1 < r.ix.nticks && step(&r) == 0)
			;
		d->procs = calloc(1, sizeof(*d->procs));
		if (d->procs && report_build(&r, d->procs) == 0) {
			d->nprocs = 1;
			rc = 0;
		} else {
			snprintf(err, errlen, "out of memory");
		}
	} else {
		snprintf(err, errlen, "%s", r.err);
	}
	cleanup(&r);
	return rc;
}
