/* vt_record: a session's recording to file and memory (see vt_record.h). */
#include "cli/vt_record.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/vt_recfile.h"

struct vt_record {
	struct vt_record_opts o;
	char path[4096];
	struct vt_recfile *file;
	struct vt_rec_buf tick;		/* this tick's records */
	struct vt_rec_buf stacks;	/* stack records not in the file yet */
	struct vt_rec_events ev;
	bool in_events;
	struct vt_rec_figbase figures;	/* as the last record carried them */
	uint64_t last_keyframe_ms;
	bool gap;			/* the file dropped a tick */
	struct vt_rec_gap pending_gap;
	struct vt_timeline *history;	/* the last minutes, or NULL */
	char msg[4096 + 256];
};

/* ---- the tick buffer ------------------------------------------------------ */

static void events_close(struct vt_record *r)
{
	if (r->in_events)
		vt_rec_events_end(&r->tick, &r->ev);
	r->in_events = false;
}

void vt_record_event(struct vt_record *r, const struct vt_event *ev)
{
	if (!r->in_events)
		vt_rec_events_begin(&r->tick, &r->ev);
	r->in_events = true;
	vt_rec_event(&r->tick, &r->ev, ev);
}

void vt_record_slab(struct vt_record *r, const struct vt_slab *sl)
{
	events_close(r);
	vt_rec_slab(&r->tick, sl);
}

void vt_record_typed(struct vt_record *r, const struct vt_rec_typed *t,
		     size_t n)
{
	events_close(r);
	vt_rec_typed(&r->tick, t, n);
}

void vt_record_system(struct vt_record *r, int idx, uint64_t addr)
{
	events_close(r);
	vt_rec_system(&r->tick, idx, addr);
}

void vt_record_owner(struct vt_record *r, int system, unsigned idx,
		     const char *name)
{
	events_close(r);
	vt_rec_owner(&r->tick, system, idx, name);
}

void vt_record_arenas(struct vt_record *r, const struct vt_arena *a,
		      size_t n)
{
	events_close(r);
	vt_rec_arenas(&r->tick, a, n);
}

void vt_record_gc(struct vt_record *r, const struct vt_gc *gc)
{
	events_close(r);
	vt_rec_gc(&r->tick, gc);
}

void vt_record_stack(struct vt_record *r, const struct vt_rec_stack *st)
{
	if (r->file)
		vt_rec_stack(&r->stacks, st);
}

/* ---- history -------------------------------------------------------------- */

/* The tick's records; a keyframe, when it ends in one, starts at
 * keyframe_off (else SIZE_MAX). */
static void history_tick(struct vt_record *r, size_t keyframe_off,
			 const struct vt_state *s, const struct vt_rec_tick *t)
{
	if (r->history)
		vt_timeline_tick(r->history, r->tick.p, r->tick.len,
				 keyframe_off, s, t);
}

struct vt_timeline *vt_record_history(const struct vt_record *r)
{
	return r->history;
}

/* ---- the file ------------------------------------------------------------- */

static void file_stop(struct vt_record *r, const char *why)
{
	uint64_t written;
	const char *e = vt_recfile_error(r->file, &written);

	snprintf(r->msg, sizeof(r->msg), "recording to %s stopped: %s after "
		 "%llu bytes (readable up to there); tracing goes on", r->path,
		 e ? e : why, (unsigned long long)written);
	vt_recfile_close(r->file);
	r->file = NULL;
}

static void gap_count(struct vt_record *r, uint64_t now_ms, size_t bytes)
{
	if (!r->gap)
		r->pending_gap = (struct vt_rec_gap){ .from_ms = now_ms };
	r->gap = true;
	r->pending_gap.records++;
	r->pending_gap.bytes += bytes;
}

/* A tick the queue had no room for is dropped whole and counted; the next
 * tick that fits is preceded by a gap record and ends in a keyframe. */
static void file_tick(struct vt_record *r, uint64_t now_ms)
{
	struct vt_rec_buf out = { 0 };
	const struct vt_rec_buf *w = &r->tick;
	int rc;

	if (r->stacks.oom)	/* out of memory: those stacks are lost */
		vt_rec_buf_free(&r->stacks);
	if (r->gap || r->stacks.len) {	/* the gap, stacks, then the tick */
		if (r->gap) {
			r->pending_gap.to_ms = now_ms;
			vt_rec_gap(&out, &r->pending_gap);
		}
		vt_rec_buf_put(&out, r->stacks.p, r->stacks.len);
		vt_rec_buf_put(&out, r->tick.p, r->tick.len);
		w = &out;
	}
	rc = w->oom ? 1 : vt_recfile_write(r->file, w->p, w->len);
	if (rc == 0 && r->gap)
		snprintf(r->msg, sizeof(r->msg), "recording to %s: the disk "
			 "fell behind; a gap in the file: %llu ticks (%llu "
			 "bytes) dropped before %llu ms", r->path,
			 (unsigned long long)r->pending_gap.records,
			 (unsigned long long)r->pending_gap.bytes,
			 (unsigned long long)now_ms);
	if (rc == 0) {	/* stacks of a dropped tick go with the next one */
		r->gap = false;
		vt_rec_buf_free(&r->stacks);
	} else if (rc == 1) {
		gap_count(r, now_ms, r->tick.len);
	} else if (rc < 0) {
		file_stop(r, "write failed");
	}
	vt_rec_buf_free(&out);
}

/* ---- ticks ---------------------------------------------------------------- */

const char *vt_record_tick(struct vt_record *r, const struct vt_state *s,
			   const struct vt_rec_tick *t)
{
	size_t keyframe_off = SIZE_MAX;
	uint64_t written;

	events_close(r);
	if (r->gap || t->now_ms - r->last_keyframe_ms >= r->o.keyframe_ms) {
		keyframe_off = r->tick.len;
		vt_rec_keyframe(&r->tick, s, t);
		vt_rec_figbase_set(&r->figures, vt_state_figures(s));
		r->last_keyframe_ms = t->now_ms;
	} else {	/* the runtime's figures, when they changed */
		vt_rec_figures(&r->tick, &r->figures, vt_state_figures(s));
		vt_rec_tick(&r->tick, t);
	}
	r->msg[0] = 0;
	if (r->tick.oom) {	/* out of memory: this tick is a gap */
		if (r->file)
			gap_count(r, t->now_ms, 0);
		vt_rec_figbase_set(&r->figures, NULL);	/* next: whole */
	} else {
		history_tick(r, keyframe_off, s, t);
		if (r->file)
			file_tick(r, t->now_ms);
	}
	if (r->file && vt_recfile_error(r->file, &written))
		file_stop(r, "write failed");
	vt_rec_buf_free(&r->tick);
	return *r->msg ? r->msg : NULL;
}

int vt_record_open(const struct vt_record_opts *o, const char *header_json,
		   const struct vt_state *s, const struct vt_rec_tick *now,
		   struct vt_record **out, char *err, size_t errlen)
{
	struct vt_record *r = calloc(1, sizeof(*r));
	struct vt_rec_buf head = { 0 };

	if (!r) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	r->o = *o;
	snprintf(r->path, sizeof(r->path), "%s", !o->path ? ""
		 : strcmp(o->path, "-") ? o->path : "standard output");
	if (o->history_ms && !(r->history = vt_timeline_new(
				       vt_state_attach_ms(s), o->history_ms))) {
		snprintf(err, errlen, "out of memory");
		free(r);
		return -1;
	}
	if (o->path && vt_recfile_create(o->files, o->path, o->queue_bytes, &r->file,
					 err, errlen)) {
		vt_timeline_free(r->history);
		free(r);
		return -1;
	}
	vt_rec_preamble(&head);
	vt_rec_header(&head, header_json);
	if (r->file)
		vt_recfile_write(r->file, head.p, head.len);
	vt_rec_buf_free(&head);
	r->last_keyframe_ms = now->now_ms - o->keyframe_ms;	/* one now */
	vt_record_tick(r, s, now);
	*out = r;
	return 0;
}

int vt_record_close(struct vt_record *r, const struct vt_state *s,
		    const struct vt_rec_tick *t)
{
	int rc = 0;

	if (!r)
		return 0;
	if (r->file) {
		struct vt_rec_buf end = { 0 };

		if (r->gap) {
			r->pending_gap.to_ms = t->now_ms;
			vt_rec_gap(&end, &r->pending_gap);
		}
		if (!r->stacks.oom)
			vt_rec_buf_put(&end, r->stacks.p, r->stacks.len);
		if (r->gap)
			vt_rec_keyframe(&end, s, t);
		vt_rec_end_record(&end, t->now_ms);
		rc = end.oom || vt_recfile_write_last(r->file, end.p, end.len);
		vt_rec_buf_free(&end);
		rc = vt_recfile_close(r->file) || rc ? -1 : 0;
	}
	vt_timeline_free(r->history);
	vt_rec_buf_free(&r->tick);
	vt_rec_buf_free(&r->stacks);
	vt_rec_figbase_free(&r->figures);
	free(r);
	return rc;
}
