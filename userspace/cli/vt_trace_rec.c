/* vt_trace_rec: a session's recording hookup (see vt_trace_rec.h). */
#include "cli/vt_trace_rec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "serve/vt_routes.h"
#include "target/vt_proc.h"

#define RECORD_QUEUE (64u << 20)	/* bytes the disk may lag behind */

static json_t *argv_json(int pid)
{
	char buf[4096];
	size_t n = vt_proc_cmdline(pid, buf, sizeof(buf) - 1);
	json_t *a = json_array();

	buf[n] = 0;
	for (size_t i = 0; i < n; i += strlen(buf + i) + 1)
		json_array_append_new(a, json_stringn_nocheck(buf + i,
							     strlen(buf + i)));
	return a;
}

static json_t *layout_json(const struct vt_layout *l)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	json_t *j = NULL;

	if (f && vt_layout_write_json(l, f) == 0 && fclose(f) == 0)
		j = json_loadb(text, len, 0, NULL);
	else if (f)
		fclose(f);
	free(text);
	return j ? j : json_null();
}

/* Where the probes went, as the documents list them (hits aside). */
static json_t *sites_json(const struct vt_wire_site *sites)
{
	uint64_t hits[VT_P_COUNT] = { 0 };
	char *text = sites ? vt_wire_probes(sites, hits) : NULL;
	json_t *j = text ? json_loads(text, 0, NULL) : NULL;

	free(text);
	return j ? j : json_null();
}

/* The recording's header: what replay needs to serve as the live trace
 * did, and what a reader needs to know what it holds. */
static char *header_json(const struct vt_trace_rec_src *s)
{
	const struct vt_trace_opts *o = s->o;
	json_t *h = json_pack("{s:i, s:s, s:i, s:o, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:o, s:o, s:I, s:s}",
		"format", VT_REC_VERSION, "valk_trace", VT_TRACE_VERSION,
		"pid", o->pid, "argv", argv_json(o->pid),
		"object", s->target->object, "build_id", s->target->build_id,
		"mode", vt_mode_name(o->mode),
		"interval_ms", (json_int_t)o->interval_ms,
		"leak_age_ms", (json_int_t)o->leak_age_ms,
		"keyframe_ms", (json_int_t)o->keyframe_ms,
		"start_wall_ms", (json_int_t)s->meta->wall_ms,
		"start_mono_ms", (json_int_t)vt_state_attach_ms(s->state),
		"layout", layout_json(s->layout), "probes", sites_json(s->sites),
		"report_start_ms", (json_int_t)s->report_start_ms,
		"unwinder", s->unwinder);
	char *text = h ? json_dumps(h, JSON_COMPACT) : NULL;

	json_decref(h);
	return text;
}

static struct vt_rec_tick tick_facts(const struct vt_trace_rec_src *s)
{
	const struct vt_wire_meta *m = s->meta;

	return (struct vt_rec_tick){
		.now_ms = m->now_ms, .wall_ms = m->wall_ms,
		.uptime_s = m->uptime_s, .rss = m->rss,
		.vms = m->vms, .system_total = m->system_total,
		.counters = *vt_state_counters(s->state),
	};
}

int vt_trace_rec_start(struct vt_trace_rec *r,
		       const struct vt_trace_rec_src *s, char *err,
		       size_t errlen)
{
	struct vt_record_opts ro = {
		.path = s->o->record_path,
		.files = s->o->files,
		.history_ms = s->routes ? s->o->history_ms : 0,
		.keyframe_ms = s->o->keyframe_ms,
		.queue_bytes = RECORD_QUEUE,
	};
	struct vt_rec_tick now = tick_facts(s);
	char *head;
	int rc;

	if (!ro.path && !ro.history_ms)
		return 0;
	if (!(head = header_json(s))) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	rc = vt_record_open(&ro, head, s->state, &now, &r->rec, err, errlen);
	free(head);
	r->stacks = ro.path ? s->stacks : NULL;
	r->probe = s->probe;
	memset(r->written, 0, sizeof(r->written));
	if (rc == 0 && s->routes)
		vt_routes_set_history(s->routes, vt_record_history(r->rec), true);
	return rc;
}

static size_t id_bit(uint32_t id)
{
	if (id & VT_STACKS_OWN)
		id = (id & ~VT_STACKS_OWN) + VT_STACK_MAP_ENTRIES + 1;
	return id < VT_TRACE_REC_IDS ? id : 0;
}

/* Symbolized as the report will be at the end: replay then reports the
 * same frames without the process. */
void vt_trace_rec_event(struct vt_trace_rec *r, const struct vt_event *ev)
{
	struct vt_rec_stack st;
	size_t bit;

	if (!r->rec)
		return;
	if (r->stacks && ev->type == VT_EV_ACQUIRE &&
	    (bit = id_bit(ev->acquire.stack)) &&
	    !(r->written[bit / 64] & 1ull << bit % 64)) {
		r->written[bit / 64] |= 1ull << bit % 64;
		st.id = ev->acquire.stack;
		st.nframes = vt_stacks_frames(r->stacks, r->probe, st.id,
					      st.frames, VT_REP_MAX_FRAMES,
					      &st.truncated);
		vt_record_stack(r->rec, &st);
	}
	vt_record_event(r->rec, ev);
}

bool vt_trace_rec_late_due(const struct vt_trace_rec *r,
			   const struct vt_trace_opts *o)
{
	return !r->rec && !r->tried && o->record_path;
}

void vt_trace_rec_late(struct vt_trace_rec *r,
		       const struct vt_trace_rec_src *s)
{
	char err[512];

	r->tried = true;
	if (vt_trace_rec_start(r, s, err, sizeof(err)))
		fprintf(stderr, "valk-trace: %s; tracing goes on without the "
			"recording\n", err);
	else
		vt_trace_say(s->o->quiet, "pid %d: recording to %s", s->o->pid,
			     s->o->record_path);
}

void vt_trace_rec_stop(struct vt_trace_rec *r,
		       const struct vt_trace_rec_src *s)
{
	struct vt_rec_tick now;

	if (s->routes)
		vt_routes_set_history(s->routes, NULL, false);
	if (!r->rec)
		return;
	now = tick_facts(s);
	if (vt_record_close(r->rec, s->state, &now) && s->o->record_path)
		fprintf(stderr, "valk-trace: the recording %s is incomplete "
			"(see the message above); it reads up to where it "
			"stopped\n", s->o->record_path);
	r->rec = NULL;
	r->stacks = NULL;	/* the session's, freed after this */
	r->probe = NULL;
}

void vt_trace_rec_tick(struct vt_trace_rec *r,
		       const struct vt_trace_rec_src *s)
{
	struct vt_rec_tick now;
	const char *msg;

	if (!r->rec)
		return;
	now = tick_facts(s);
	if ((msg = vt_record_tick(r->rec, s->state, &now)))
		fprintf(stderr, "valk-trace: %s\n", msg);
}
