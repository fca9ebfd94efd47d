/* A session's recording when the disk falls behind: the writer's queue
 * fills, ticks are dropped and counted — never blocking the caller — and
 * once there is room the file has a gap record, then a keyframe, and
 * replays to the live state, with every stack recorded, those of dropped
 * ticks included. A file that cannot be written stops with a
 * one-line reason. The "disk" is standard output, a pipe nobody reads
 * until the end. */
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/vt_record.h"
#include "vt_img.h"
#include "vt_test.h"
#include "wire/vt_rec.h"

#define HND 0x20000

struct drain {
	int fd;
	struct vt_rec_buf got;
};

static void *drain(void *arg)
{
	struct drain *d = arg;
	uint8_t buf[65536];
	ssize_t n;

	while ((n = read(d->fd, buf, sizeof(buf))) > 0)
		vt_rec_buf_put(&d->got, buf, (size_t)n);
	return NULL;
}

static struct vt_state *state_new(void)
{
	struct vt_state *s = vt_state_new(1);
	struct img m;

	img_init_sys(&m, HND, VT_SLAB_HANDLES, 4096, 0);
	for (int i = 0; i < 4096; i += 2)
		img_use(&m, i, VT_HK_TASK, 0, 0);
	vt_state_system_set(s, 0, 0x9000);
	CHECK(vt_state_slab_load(s, &m.v, 1) == 0);
	img_fini(&m);
	return s;
}

/* A recording to standard output, which is a new pipe while it opens (the
 * writer keeps its own copy): fds[0] reads it. */
static int open_on_pipe(const struct vt_record_opts *o,
			const struct vt_state *s, const struct vt_rec_tick *t,
			struct vt_record **r, int fds[2])
{
	int out = dup(STDOUT_FILENO), rc;
	char err[256];

	if (pipe(fds))
		return -1;
	dup2(fds[1], STDOUT_FILENO);
	rc = vt_record_open(o, "{}", s, t, r, err, sizeof(err));
	dup2(out, STDOUT_FILENO);
	close(out);
	close(fds[1]);
	return rc;
}

/* Ticks of traffic until the queue has dropped some, then more once the
 * reader drains the pipe: the replayed file ends in the live state. */
static void test_gap(void)
{
	int fds[2];
	struct vt_record_opts o = { .path = "-", .keyframe_ms = 1000000,
				    .queue_bytes = 256 << 10 };
	struct vt_state *s = state_new();
	struct vt_rec_tick t = { .now_ms = 1 };
	struct vt_record *r;
	struct drain d = { 0 };
	pthread_t th;
	const char *msg = NULL;
	bool reported = false;
	char err[256];
	struct vt_rec_index ix;
	struct vt_rec_stack st = { .nframes = 1, .frames = { { .pc = 0x1234,
				   .module = "valk" } } }, got;
	size_t found = 0;

	CHECK(open_on_pipe(&o, s, &t, &r, fds) == 0);
	for (uint64_t ms = 2; ms < 400; ms++) {
		struct vt_event ev = img_ev(ms % 2 ? VT_EV_RELEASE : VT_EV_ACQUIRE,
					    HND, 2 * (ms % 2000), ms * 1000000);

		for (int i = 0; i < 300; i++) {
			ev.ts_ns++;
			vt_record_event(r, &ev);
			vt_state_apply(s, &ev);
		}
		t = (struct vt_rec_tick){ .now_ms = ms,
					  .counters = *vt_state_counters(s) };
		st.id = (uint32_t)ms;	/* a new stack each tick */
		vt_record_stack(r, &st);
		msg = vt_record_tick(r, s, &t);
		if (ms == 200) {	/* the disk catches up */
			d.fd = fds[0];
			pthread_create(&th, NULL, drain, &d);
		}
		if (ms > 200 && msg && strstr(msg, "fell behind")) {
			reported = true;
			fprintf(stderr, "%s\n", msg);
		}
	}
	CHECK(reported);
	CHECK(vt_record_close(r, s, &t) == 0);
	pthread_join(th, NULL);
	CHECK(vt_rec_index_build(d.got.p, d.got.len, &ix, err,
				 sizeof(err)) == 0);
	CHECK(ix.ngaps >= 1 && ix.gaps[0].records > 0 && ix.gaps[0].bytes > 0);
	CHECK(ix.keyframes >= 2 && ix.ended && !*ix.err);
	for (uint32_t id = 2; id < 400; id++)
		found += vt_rec_index_stack(d.got.p, &ix, id, &got) == 0 &&
			 got.nframes == 1 && got.frames[0].pc == 0x1234;
	CHECK_EQ_U64(found, 398);
	{
		struct vt_state *re = vt_state_new(1);
		size_t at = SIZE_MAX;

		CHECK(vt_rec_seek(d.got.p, &ix, re, &at, ix.nticks - 1, &t, err,
				  sizeof(err)) == 0);
		CHECK_EQ_U64(t.now_ms, 399);
		CHECK_EQ_U64(vt_state_slab(re, 0)->used,
			     vt_state_slab(s, 0)->used);
		CHECK(!memcmp(vt_state_slab(re, 0)->bitmap,
			      vt_state_slab(s, 0)->bitmap, 4096 / 8));
		vt_state_free(re);
	}
	vt_rec_index_free(&ix);
	vt_rec_buf_free(&d.got);
	close(fds[0]);
	vt_state_free(s);
}

/* A write that fails (here: the pipe's reader is gone) stops the file
 * with its reason; the caller goes on. */
static void test_write_fails(void)
{
	int fds[2];
	struct vt_record_opts o = { .path = "-", .keyframe_ms = 1000,
				    .queue_bytes = 1 << 20 };
	struct vt_state *s = state_new();
	struct vt_rec_tick t = { .now_ms = 1 };
	struct vt_record *r;
	const char *msg = NULL;

	CHECK(open_on_pipe(&o, s, &t, &r, fds) == 0);
	close(fds[0]);
	for (uint64_t ms = 2; ms < 200 && !msg; ms++) {
		t.now_ms = ms;
		msg = vt_record_tick(r, s, &t);
		usleep(1000);
	}
	CHECK(msg && strstr(msg, "stopped: Broken pipe") &&
	      strstr(msg, "tracing goes on"));
	t.now_ms = 300;
	CHECK(vt_record_tick(r, s, &t) == NULL);	/* said once */
	vt_record_close(r, s, &t);
	vt_state_free(s);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	test_gap();
	test_write_fails();
	return vt_test_done("test_record");
}
