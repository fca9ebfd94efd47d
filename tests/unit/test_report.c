/* The end-of-run report, its verdicts and its formats: a state model fed
 * by hand, then every figure, leak and verdict checked, and the JSON file
 * read back to the same report. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/vt_report.h"
#include "model/vt_verdict.h"
#include "wire/vt_rfmt.h"
#include "vt_img.h"
#include "vt_test.h"

#define MS 1000000ull
#define HANDLES 0x10000
#define TCP 0x20000

static struct vt_event acquire(uint64_t slab, uint64_t slot, uint64_t ts_ms,
			       uint32_t stack)
{
	struct vt_event ev = img_ev(VT_EV_ACQUIRE, slab, slot, ts_ms * MS);

	ev.acquire.stack = stack;
	return ev;
}

static struct vt_event release(uint64_t slab, uint64_t slot, uint64_t ts_ms)
{
	return img_ev(VT_EV_RELEASE, slab, slot, ts_ms * MS);
}

static void apply(struct vt_state *s, struct vt_event ev)
{
	CHECK(vt_state_apply(s, &ev) == 0);
}

/* A process at 1000 ms: handles slot 0 a task (the stopper), slot 1 the
 * listener, both in use when first read; 8 tcp buffers, none used. */
static struct vt_state *boot(void)
{
	struct vt_state *s = vt_state_new(1000);
	struct img h, t;

	vt_state_system_set(s, 0, 0xabc000);
	vt_state_owner_set(s, 0, 0, "api");
	img_init_sys(&h, HANDLES, VT_SLAB_HANDLES, 16, 0);
	img_use(&h, 0, VT_HK_TASK, 0, VT_OWNER_NONE);
	img_use(&h, 1, VT_HK_TCP, 0, VT_OWNER_NONE);
	h.v.hwm = 2;
	img_init_sys(&t, TCP, VT_SLAB_TCP_BUFFERS, 8, 0);
	CHECK(vt_state_slab_load(s, &h.v, 1000) == 0);
	CHECK(vt_state_slab_load(s, &t.v, 1000) == 0);
	img_fini(&h);
	img_fini(&t);
	return s;
}

/* 1200 ms: handles 2 (task, stack 7), 3 (connection of "api", stack 8),
 * 4 (task, stack 7) and tcp buffer 0 (stack 9); 1300 ms: 3 released;
 * 2600 ms: handle 5, a timer (stack 7). */
static void workload(struct vt_state *s, struct vt_report *r)
{
	vt_report_observe(r, s, 1100);
	apply(s, acquire(HANDLES, 2, 1200, 7));
	apply(s, acquire(HANDLES, 3, 1200, 8));
	apply(s, acquire(HANDLES, 4, 1200, 7));
	apply(s, acquire(TCP, 0, 1200, 9));
	vt_state_slot_typed(s, HANDLES, 2, VT_HK_TASK, 0, VT_OWNER_NONE);
	vt_state_slot_typed(s, HANDLES, 3, VT_HK_HTTP_CONN, VT_DIAG_ACTIVE, 0);
	vt_state_slot_typed(s, HANDLES, 4, VT_HK_TASK, 0, VT_OWNER_NONE);
	vt_report_observe(r, s, 1250);
	apply(s, release(HANDLES, 3, 1300));
	vt_report_observe(r, s, 1300);
	vt_report_observe(r, s, 2100);
	apply(s, acquire(HANDLES, 5, 2600, 7));
	vt_state_slot_typed(s, HANDLES, 5, VT_HK_TIMER, 0, VT_OWNER_NONE);
	vt_report_observe(r, s, 2700);
}

static struct vt_rep_proc build(const struct vt_report_opts *o)
{
	struct vt_state *s = boot();
	struct vt_report *r = vt_report_new(o, 1000);
	struct vt_rep_proc p;

	workload(s, r);
	CHECK(vt_report_finish(r, s, 3000, &p) == 0);
	vt_report_free(r);
	vt_state_free(s);
	return p;
}

static const struct vt_rep_leak *leak_at(const struct vt_rep_proc *p,
					 const char *slab, uint64_t slot)
{
	for (size_t i = 0; i < p->nlisted; i++)
		if (!strcmp(p->leaks[i].slab, slab) && p->leaks[i].slot == slot)
			return &p->leaks[i];
	return NULL;
}

static void test_figures(void)
{
	struct vt_report_opts o = { 0 };
	struct vt_rep_proc p = build(&o);
	const struct vt_rep_slab *h = vt_rep_slab_find(&p, 0, "handles");
	const struct vt_rep_slab *t = vt_rep_slab_find(&p, 0, "tcp_buffers");

	CHECK(h && t);
	if (!h || !t)
		return;
	CHECK_EQ_U64(h->total, 16);
	CHECK_EQ_U64(h->peak, 5);		/* 0, 1, 2, 3, 4 */
	CHECK(fabs(h->peak_at_s - 0.25) < 1e-9);
	CHECK_EQ_U64(h->final_used, 5);		/* 0, 1, 2, 4, 5 */
	CHECK_EQ_U64(h->acquires, 4);
	CHECK_EQ_U64(h->releases, 1);
	/* 3 acquires in the window 1100..2100 */
	CHECK_EQ_U64(h->max_acquires_per_s, 3);
	CHECK(h->has_conns && !t->has_conns);
	CHECK_STR(h->conns_peak.owner[0], "api");
	CHECK_EQ_U64(h->conns_peak.n[0][1], 1);	/* api: one A at the peak */
	CHECK_EQ_U64(h->conns_end.n[0][1], 0);	/* and none at the end */
	CHECK_EQ_U64(t->peak, 1);
	CHECK(fabs(p.duration_s - 2.0) < 1e-9);
	vt_rep_proc_free(&p);
}

static void test_leaks(void)
{
	struct vt_report_opts o = { 0 };
	struct vt_rep_proc p = build(&o);
	const struct vt_rep_leak *l;

	/* handles 0, 2, 4, 5 and tcp 0; the listener is meant to live */
	CHECK_EQ_U64(p.nleaks, 5);
	CHECK(leak_at(&p, "handles", 1) == NULL);
	CHECK(leak_at(&p, "handles", 3) == NULL);
	l = leak_at(&p, "handles", 0);
	CHECK(l && l->acquired_at_s == -1 && l->state == 'K');
	l = leak_at(&p, "handles", 2);
	CHECK(l && l->age_ms == 1800 && fabs(l->acquired_at_s - 0.2) < 1e-9);
	/* by stack, largest first: 7 (three handles), then 0, 8 ... */
	CHECK(p.ngroups == 3);
	CHECK(p.groups[0].stack_id == 7 && p.groups[0].count == 3);
	CHECK_STR(p.groups[0].slab, "handles");
	CHECK(l && p.groups[l->stack].stack_id == 7);
	vt_rep_proc_free(&p);

	o.warmup_ms = 500;	/* only what came after 1500 ms */
	p = build(&o);
	CHECK_EQ_U64(p.nleaks, 1);
	CHECK(leak_at(&p, "handles", 5) != NULL);
	vt_rep_proc_free(&p);

	o.warmup_ms = 0;
	o.ignore = 1u << vt_report_ignore_bit("task") |
		   1u << vt_report_ignore_bit("tcp_buffers");
	CHECK(vt_report_ignore_bit("nonsense") < 0);
	p = build(&o);
	CHECK_EQ_U64(p.nleaks, 1);		/* the timer */
	CHECK(leak_at(&p, "handles", 5) != NULL);
	vt_rep_proc_free(&p);
}

static void test_destroyed(void)
{
	struct vt_report_opts o = { 0 };
	struct vt_state *s = boot();
	struct vt_report *r = vt_report_new(&o, 1000);
	struct vt_rep_proc p;

	workload(s, r);
	vt_report_event(r, s, &(struct vt_event){
		.type = VT_EV_SLAB_FREE, .ts_ns = 2800 * 1000000ull,
		.slab_free.slab = TCP });
	vt_state_slab_drop(s, TCP);
	CHECK(vt_report_finish(r, s, 3000, &p) == 0);
	CHECK(leak_at(&p, "tcp_buffers", 0) && leak_at(&p, "tcp_buffers", 0)
						      ->at_destroy);
	CHECK(vt_rep_slab_find(&p, 0, "tcp_buffers")->destroyed);
	CHECK_EQ_U64(p.nleaks, 5);
	vt_rep_proc_free(&p);
	vt_report_free(r);
	vt_state_free(s);
}

static struct vt_rep_doc doc_of(struct vt_rep_proc p)
{
	struct vt_rep_doc d = { .exit_status = 0, .nprocs = 1 };

	d.procs = calloc(1, sizeof(*d.procs));
	d.procs[0] = p;
	d.procs[0].pid = 42;
	snprintf(d.procs[0].argv, sizeof(d.procs[0].argv), "valk-sim -w leak");
	snprintf(d.command, sizeof(d.command), "make check");
	return d;
}

static const struct vt_verdict *judged(const struct vt_rep_doc *d, size_t i)
{
	return &d->judged[i].v;
}

static void test_verdicts(void)
{
	struct vt_report_opts o = { 0 };
	struct vt_rep_doc d = doc_of(build(&o));
	struct vt_cond c[VT_VERDICT_MAX];
	size_t n = 0;
	char err[256];

	CHECK(vt_cond_parse("leak,leak>5,leak>4,hwm:handles>30%,"
			    "hwm:handles>40%,peak:handles>5,used:handles>4,"
			    "overflow,drops,arena-overflow", c, &n,
			    VT_VERDICT_MAX, err, sizeof(err)) == 0);
	CHECK_EQ_U64(n, 10);
	CHECK(vt_verdict_judge(&d, c, n, NULL) == 0);
	CHECK(judged(&d, 0)->failed);		/* leak */
	CHECK(!judged(&d, 1)->failed);		/* 5 > 5 */
	CHECK(judged(&d, 2)->failed);		/* 5 > 4 */
	CHECK(judged(&d, 3)->failed);		/* 31.25% > 30% */
	CHECK(!judged(&d, 4)->failed);
	CHECK(!judged(&d, 5)->failed);		/* peak 5 */
	CHECK(judged(&d, 6)->failed);		/* 5 used at the end */
	CHECK(!judged(&d, 7)->failed && !judged(&d, 8)->failed &&
	      !judged(&d, 9)->failed);
	CHECK(strstr(judged(&d, 0)->message, "5 slots leaked; 3 handles") !=
	      NULL);
	CHECK_EQ_U64(vt_verdict_exit(&d, 0), 1);
	d.procs[0].lost_events = 3;
	CHECK(vt_verdict_judge(&d, c, n, NULL) == 0);
	CHECK_EQ_U64(vt_verdict_exit(&d, 0), 3);	/* drops first */
	CHECK(vt_verdict_judge(&d, c + 1, 1, NULL) == 0);
	CHECK_EQ_U64(vt_verdict_exit(&d, 7), 7);	/* CMD's own */
	CHECK(vt_verdict_judge(&d, c + 2, 1, NULL) == 0);
	CHECK_EQ_U64(vt_verdict_exit(&d, 7), 1);	/* a condition first */

	n = 0;
	CHECK(vt_cond_parse("hwm:handles>30", c, &n, 4, err, sizeof(err)));
	CHECK(strstr(err, "hwm:handles>30") != NULL);
	CHECK(vt_cond_parse("peak:handles>3%", c, &n, 4, err, sizeof(err)));
	CHECK(vt_cond_parse("leak>", c, &n, 4, err, sizeof(err)));
	CHECK(vt_cond_parse("peak>4", c, &n, 4, err, sizeof(err)));
	CHECK(vt_cond_parse("used:handles", c, &n, 4, err, sizeof(err)));
	CHECK(vt_cond_parse("bogus", c, &n, 4, err, sizeof(err)));
	CHECK(vt_cond_parse("leak,leak,leak,leak,leak", c, &n, 4, err,
			    sizeof(err)));
	vt_rep_doc_free(&d);
}

static void test_diff(void)
{
	struct vt_report_opts o = { 0 };
	struct vt_rep_doc base = doc_of(build(&o));
	struct vt_rep_doc d = doc_of(build(&o));
	struct vt_cond c[8];
	size_t n = 0;
	char err[256];

	CHECK(vt_cond_parse("leak>+0,peak:handles>+10%,peak:handles>+1,"
			    "overflow", c, &n, 8, err, sizeof(err)) == 0);
	CHECK(vt_verdict_judge(&d, c, n, &base) == 0);
	for (size_t i = 0; i < n; i++)
		CHECK(!judged(&d, i)->failed);	/* nothing grew */
	d.procs[0].nleaks++;
	struct vt_rep_slab *h = (struct vt_rep_slab *)
		vt_rep_slab_find(&d.procs[0], 0, "handles");

	h->peak = 6;				/* +20%, +1 */
	h->overflow = 1;
	CHECK(vt_verdict_judge(&d, c, n, &base) == 0);
	CHECK(judged(&d, 0)->failed);
	CHECK(judged(&d, 1)->failed);
	CHECK(!judged(&d, 2)->failed);		/* +1 is not above +1 */
	CHECK(judged(&d, 3)->failed);
	CHECK(strstr(judged(&d, 1)->message, "peak 6, 5 in the base") != NULL);
	/* a process the base lacks grows from nothing */
	snprintf(d.procs[0].argv, sizeof(d.procs[0].argv), "other");
	CHECK(vt_verdict_judge(&d, c, n, &base) == 0);
	CHECK(judged(&d, 0)->failed);
	vt_rep_doc_free(&d);
	vt_rep_doc_free(&base);
}

static void test_formats(void)
{
	struct vt_report_opts o = { 0 };
	struct vt_rep_doc d = doc_of(build(&o)), back;
	struct vt_rep_group *g = &d.procs[0].groups[0];
	struct vt_cond c[2];
	size_t n = 0;
	char err[256], *a, *b, *x, *md;

	g->nframes = 2;
	g->frames[0] = (struct vt_rep_frame){ .pc = 0x401000, .symbolized = true,
		.func = "main_acquire", .file = "sim_churn.c", .line = 96,
		.module = "valk-sim" };
	g->frames[1] = (struct vt_rep_frame){ .pc = 0x402000,
		.module = "valk-sim" };
	CHECK(vt_cond_parse("leak,drops", c, &n, 2, err, sizeof(err)) == 0);
	CHECK(vt_verdict_judge(&d, c, n, NULL) == 0);
	CHECK(strstr(judged(&d, 0)->message,
		     "3 handles slots from main_acquire (sim_churn.c:96)"));
	a = vt_rfmt_json(&d);
	CHECK(a && vt_rfmt_json_parse(a, &back, err, sizeof(err)) == 0);
	/* verdicts are judged again from the figures, not read back */
	CHECK(vt_verdict_judge(&back, c, n, NULL) == 0);
	b = vt_rfmt_json(&back);
	CHECK(a && b && !strcmp(a, b));
	x = vt_rfmt_junit(&d);
	CHECK(x && strstr(x, "<testsuite name=\"valk-trace pid 42: valk-sim -w "
			     "leak\" tests=\"2\" failures=\"1\""));
	CHECK(x && strstr(x, "<testcase classname=\"valk-trace.pid42\" "
			     "name=\"drops\"/>"));
	md = vt_rfmt_markdown(&d, 3);
	CHECK(md && strstr(md, "| 0 | handles | 16 | 5 | 5 |"));
	free(a);
	free(b);
	free(x);
	free(md);
	vt_rep_doc_free(&back);

	/* groups of one stack by their frames merge, leaks follow */
	d.procs[0].groups[1].nframes = 2;
	memcpy(d.procs[0].groups[1].frames, g->frames, sizeof(g->frames[0]) * 2);
	snprintf(d.procs[0].groups[1].slab, sizeof(g->slab), "handles");
	d.procs[0].groups[1].stack_id = 99;
	CHECK(vt_rep_group_same(&d.procs[0].groups[0], &d.procs[0].groups[1]));
	vt_rep_groups_merge(&d.procs[0]);
	CHECK_EQ_U64(d.procs[0].ngroups, 2);
	CHECK_EQ_U64(d.procs[0].groups[0].count, 4);
	for (size_t i = 0; i < d.procs[0].nlisted; i++)
		CHECK(d.procs[0].leaks[i].stack < d.procs[0].ngroups);
	CHECK(!strcmp(d.procs[0].leaks[0].slab,
		      d.procs[0].groups[d.procs[0].leaks[0].stack].slab));

	CHECK(vt_rfmt_json_parse("{\"schema\":\"valk-trace/report\","
				 "\"version\":99,\"processes\":[]}", &back,
				 err, sizeof(err)) < 0);
	CHECK(strstr(err, "newer") != NULL);
	vt_rep_doc_free(&back);
	CHECK(vt_rfmt_json_parse("[1,2", &back, err, sizeof(err)) < 0);
	vt_rep_doc_free(&back);
	CHECK(vt_rfmt_json_parse("{\"schema\":\"x\"}", &back, err,
				 sizeof(err)) < 0);
	vt_rep_doc_free(&back);
	vt_rep_doc_free(&d);
}

/* Group 0 (stack 7) acquired through the runtime's listen, the others
 * through main_acquire: one frame each. */
static void one_frame_each(struct vt_rep_proc *p)
{
	for (size_t i = 0; i < p->ngroups; i++) {
		struct vt_rep_frame *f = &p->groups[i].frames[0];

		*f = (struct vt_rep_frame){ .symbolized = true };
		snprintf(f->func, sizeof(f->func), "%s", i ? "main_acquire"
			 : "valk_aio_http2_listen_with_config");
		p->groups[i].nframes = 1;
	}
}

/* Suppression: a group with a frame in a suppressed function (yours or
 * the built-in listen task's) leaves the count, its slots marked, counted
 * groups first; the FAIL line names a counted group; the JSON keeps it. */
static void test_suppress(void)
{
	struct vt_report_opts o = { 0 };
	struct vt_rep_doc d = doc_of(build(&o)), back;
	struct vt_rep_proc *p = &d.procs[0];
	uint64_t all = p->nleaks;
	struct vt_cond c[1];
	size_t n = 0, marked = 0;
	char err[256], *a;

	CHECK(p->ngroups >= 2 && p->groups[0].count == 3);	/* stack 7 */
	one_frame_each(p);
	CHECK(vt_report_suppress_add(&o, "") < 0);
	CHECK(vt_report_suppress_add(&o, "nothing_here") == 0);
	vt_rep_suppress(p, &o);
	CHECK_EQ_U64(p->nsuppressed, 3);
	CHECK_EQ_U64(p->nleaks, all - 3);
	CHECK_STR(p->groups[p->ngroups - 1].suppressed_by,
		  "valk_aio_http2_listen_with_config");
	CHECK_STR(p->groups[0].suppressed_by, "");
	for (size_t i = 0; i < p->nlisted; i++) {
		const struct vt_rep_leak *l = &p->leaks[i];

		CHECK(l->suppressed == (l->stack == p->ngroups - 1));
		marked += l->suppressed;
	}
	CHECK_EQ_U64(marked, 3);
	vt_rep_suppress(p, &o);		/* twice: nothing more */
	CHECK_EQ_U64(p->nsuppressed, 3);
	CHECK(vt_cond_parse("leak", c, &n, 1, err, sizeof(err)) == 0);
	CHECK(vt_verdict_judge(&d, c, n, NULL) == 0);
	CHECK(judged(&d, 0)->failed);
	CHECK(strstr(judged(&d, 0)->message, "from main_acquire") != NULL);
	a = vt_rfmt_json(&d);
	CHECK(a && vt_rfmt_json_parse(a, &back, err, sizeof(err)) == 0);
	CHECK_EQ_U64(back.procs[0].nsuppressed, 3);
	CHECK_STR(back.procs[0].groups[p->ngroups - 1].suppressed_by,
		  "valk_aio_http2_listen_with_config");
	free(a);
	vt_rep_doc_free(&back);

	/* your function too; without the built-in list the listen task counts */
	o.no_default_suppress = true;
	CHECK(vt_report_suppress_add(&o, "main_acquire") == 0);
	vt_rep_doc_free(&d);
	d = doc_of(build(&o));
	p = &d.procs[0];
	one_frame_each(p);
	vt_rep_suppress(p, &o);
	CHECK_EQ_U64(p->nleaks, 3);	/* the listen task's group only */
	CHECK_EQ_U64(p->nsuppressed, all - 3);
	CHECK_STR(p->groups[p->ngroups - 1].suppressed_by, "main_acquire");
	CHECK_STR(p->groups[0].suppressed_by, "");
	while (o.nsuppress < VT_REP_MAX_SUPPRESS)
		CHECK(vt_report_suppress_add(&o, "f") == 0);
	CHECK(vt_report_suppress_add(&o, "f") < 0);	/* full */
	vt_rep_doc_free(&d);
}

int main(void)
{
	test_figures();
	test_leaks();
	test_destroyed();
	test_verdicts();
	test_diff();
	test_formats();
	test_suppress();
	return vt_test_done("test_report");
}
