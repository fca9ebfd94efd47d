#include "cli/vt_trace_follow.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/vt_stacks.h"
#include "cli/vt_trace_int.h"
#include "model/vt_state.h"
#include "probe/vt_probe.h"
#include "serve/vt_routes.h"
#include "target/vt_figures.h"
#include "target/vt_proc.h"
#include "target/vt_snap.h"
#include "target/vt_target.h"

/* A state of its own for each target, served from the moment it exists. */
static int fresh_state(struct vt_trace *t)
{
	struct vt_state *s = vt_state_new(vt_proc_now_ms());

	if (!s)
		return -1;
	if (t->routes)
		vt_routes_set_state(t->routes, s);
	vt_state_free(t->state);
	t->state = s;
	return 0;
}

void vt_trace_follow_detach(struct vt_trace *t)
{
	char why[128];

	vt_trace_record_stop(t);	/* a new history with the next target */
	vt_probe_close(t->probe);
	vt_drain_clear(&t->drain);
	vt_snap_free(t->snap);
	vt_figures_reader_free(t->figures);
	vt_mem_close(&t->mem);
	vt_stacks_free(t->stacks);
	free(t->arenas);
	t->stacks = NULL;
	t->probe = NULL;
	t->snap = NULL;
	t->figures = NULL;
	t->arenas = NULL;
	t->nsystems = 0;
	t->rescan = false;
	t->attached = false;
	t->mapped = false;
	t->o->pid = 0;
	fresh_state(t);
	snprintf(why, sizeof(why), "no valk process named %s", t->o->follow);
	if (t->routes)
		vt_routes_set_unhealthy(t->routes, why);
}

void vt_trace_follow_try(struct vt_trace *t)
{
	int pid = vt_target_find_named(t->o->follow);

	if (!pid)
		return;
	t->o->pid = pid;
	if (fresh_state(t) || vt_trace_attach(t)) {
		if (strcmp(t->err, t->said))
			say(t, "%s; trying again", t->err);
		snprintf(t->said, sizeof(t->said), "%s", t->err);
		vt_trace_follow_detach(t);
		return;
	}
	t->said[0] = '\0';
	if (t->routes)
		vt_routes_set_unhealthy(t->routes, NULL);
	vt_trace_say_attached(t);
}

void vt_trace_follow_start(struct vt_trace *t)
{
	vt_trace_follow_try(t);
	if (t->attached)
		return;
	say(t, "waiting for a valk process named %s", t->o->follow);
	vt_trace_follow_detach(t);
}

int vt_trace_follow_mapped(struct vt_trace *t)
{
	char err[512];

	if (t->mapped)
		return 0;
	if (vt_target_open(t->o->pid, &t->target, err, sizeof(err)) ||
	    vt_trace_open_snap(t))
		return -1;
	t->mapped = true;
	return 0;
}

bool vt_trace_follow_held(struct vt_trace *t)
{
	if (!t->probe || vt_probe_holds(t->probe) <= t->holds)
		return false;
	t->holds++;
	vt_trace_refresh(t, vt_proc_now_ms());
	return true;
}
