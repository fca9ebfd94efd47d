#include "probe/vt_probe.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "probe/vt_calib.h"
#include "probe/vt_ulink.h"
#include "valk_trace.skel.h"

/* What each probe needs of its target: the function it goes on and
 * whether it is a return probe (from VT_PROBES, bpf/valk_trace.h), then
 * which arguments its program reads, whether this target needs it at all
 * and its CAS site: each row below starts at .args and goes on in the
 * order of struct vt_probe_spec. */
#define RET_uprobe false
#define RET_uretprobe true
#define SPEC(id, kind, fn, ...) [VT_P_##id].func = fn, \
				[VT_P_##id].ret = RET_##kind,
#define RETIRED(id, kind) [VT_P_##id].ret = RET_##kind,
#define A(n) (1u << (n))
#define N -1, false	/* no CAS site */
static const struct vt_probe_spec spec_table[VT_P_COUNT] = {
	VT_PROBES(SPEC, RETIRED)
	[VT_P_ACQUIRE_ENTRY].args = A(0), VT_NEED_ALWAYS, 0, false,
	[VT_P_ACQUIRE_RET].args = 0, VT_NEED_ALWAYS, 0, false,
	[VT_P_RELEASE].args = A(0) | A(1), VT_NEED_ALWAYS, 1, false,
	[VT_P_RELEASE_PTR].args = A(0) | A(1), VT_NEED_RELEASE_INLINED, 2,
		false,
	[VT_P_ACQUIRE_POP].args = 0, VT_NEED_ALWAYS, 0, true,
	[VT_P_RELEASE_PUSH].args = 0, VT_NEED_ALWAYS, 1, true,
	[VT_P_RELEASE_PTR_PUSH].args = 0, VT_NEED_RELEASE_INLINED, 2, true,
	[VT_P_SLAB_NEW_ENTRY].args = A(0) | A(1), VT_NEED_ALWAYS, N,
	[VT_P_SLAB_NEW_RET].args = 0, VT_NEED_ALWAYS, N,
	[VT_P_SLAB_FREE].args = A(0), VT_NEED_ALWAYS, N,
	[VT_P_AIO_START_RET].args = 0, VT_NEED_ALWAYS, N,
	[VT_P_CONN_TRANSITION_ENTRY].args = A(0), VT_NEED_ALWAYS, N,
	[VT_P_CONN_TRANSITION_RET].args = 0, VT_NEED_ALWAYS, N,
	[VT_P_CONN_INIT_ENTRY].args = A(0), VT_NEED_ALWAYS, N,
	[VT_P_CONN_INIT_RET].args = 0, VT_NEED_ALWAYS, N,
	[VT_P_OWNER_ENTRY].args = A(0) | A(1), VT_NEED_ALWAYS, N,
	[VT_P_OWNER_RET].args = 0, VT_NEED_ALWAYS, N,
	[VT_P_BEGIN_HEADERS_ENTRY].args = 0, VT_NEED_ALWAYS, N,
	[VT_P_BEGIN_HEADERS_RET].args = 0, VT_NEED_ALWAYS, N,
	[VT_P_STREAM_CLOSE_ENTRY].args = 0, VT_NEED_ALWAYS, N,
	[VT_P_STREAM_CLOSE_RET].args = 0, VT_NEED_ALWAYS, N,
	[VT_P_READ_START].args = A(0), VT_NEED_UV, N,
};
#undef N
#undef A
#undef RETIRED
#undef SPEC
#undef RET_uretprobe
#undef RET_uprobe

/* How each probe is attached: a uprobe_multi link's fd, or a perf-event
 * uprobe where the kernel has no such links. */
struct vt_probe {
	struct valk_trace *skel;
	struct ring_buffer *rb;
	struct ring_buffer *urb;	/* copied stacks, when asked for */
	vt_probe_ustack_fn ufn;
	struct vt_probe_opts o;	/* paths are the caller's, then pinned */
	int pin[2];		/* the objects, O_PATH: -1 if none */
	char pinned[2][32];	/* their /proc/self/fd names */
	struct bpf_program *progs[VT_P_COUNT];
	bool multi;
	int fds[VT_P_COUNT];	/* by probe id, -1: not attached */
	struct bpf_link *links[VT_P_COUNT];
	vt_probe_event_fn fn;
	void *ctx;
	int ncpu;
};

static void progs_init(struct bpf_program **p, const struct valk_trace *k)
{
	struct bpf_program *const t[VT_P_COUNT] = {
		[VT_P_ACQUIRE_ENTRY] = k->progs.slab_acquire_entry,
		[VT_P_ACQUIRE_RET] = k->progs.slab_acquire_ret,
		[VT_P_RELEASE] = k->progs.slab_release,
		[VT_P_RELEASE_PTR] = k->progs.slab_release_ptr,
		[VT_P_SLAB_NEW_ENTRY] = k->progs.slab_new_entry,
		[VT_P_SLAB_NEW_RET] = k->progs.slab_new_ret,
		[VT_P_SLAB_FREE] = k->progs.slab_free,
		[VT_P_AIO_START_RET] = k->progs.aio_start_ret,
		[VT_P_CONN_TRANSITION_ENTRY] = k->progs.conn_transition_entry,
		[VT_P_CONN_TRANSITION_RET] = k->progs.conn_transition_ret,
		[VT_P_CONN_INIT_ENTRY] = k->progs.conn_init_entry,
		[VT_P_CONN_INIT_RET] = k->progs.conn_init_ret,
		[VT_P_OWNER_ENTRY] = k->progs.owner_entry,
		[VT_P_OWNER_RET] = k->progs.owner_ret,
		[VT_P_READ_START] = k->progs.read_start,
		[VT_P_ACQUIRE_POP] = k->progs.slab_pop,
		[VT_P_RELEASE_PUSH] = k->progs.slab_push,
		[VT_P_RELEASE_PTR_PUSH] = k->progs.slab_push_ptr,
	};

	memcpy(p, t, sizeof(t));
}

const struct vt_probe_spec *vt_probe_spec(enum vt_probe_id id)
{
	return (unsigned)id < VT_P_COUNT ? &spec_table[id] : NULL;
}

_Static_assert(sizeof(struct vt_event_op) == 40 &&
	       sizeof(struct vt_event_op) < sizeof(struct vt_event),
	       "a record's length tells its struct");

/* The struct vt_event a short record stands for; false for a type it
 * cannot hold. */
static bool op_event(const struct vt_event_op *o, struct vt_event *e)
{
	memset(e, 0, sizeof(*e));
	e->ts_ns = o->ts_ns;
	e->type = o->type;
	e->tid = o->tid;
	e->probe = o->probe;
	switch (o->type) {
	case VT_EV_ACQUIRE:
		e->acquire = (struct vt_ev_acquire){ .slab = o->slab,
			.slot = o->slot, .version = o->version };
		return true;
	case VT_EV_RELEASE:
		e->release = (struct vt_ev_release){ o->slab, o->slot,
						     o->version };
		return true;
	default:
		return false;
	}
}

static int on_sample(void *ctx, void *data, size_t len)
{
	struct vt_probe *p = ctx;
	struct vt_event e;

	if (len >= sizeof(struct vt_event))
		p->fn(p->ctx, data);
	else if (len >= sizeof(struct vt_event_op) && op_event(data, &e))
		p->fn(p->ctx, &e);
	return 0;
}

static int on_ustack(void *ctx, void *data, size_t len)
{
	struct vt_probe *p = ctx;

	const struct vt_ustack *u = data;
	size_t head = offsetof(struct vt_ustack, data);

	/* a record is as long as its copy */
	if (len >= head && u->len <= VT_USTACK_BYTES && u->len <= len - head &&
	    p->ufn)
		p->ufn(p->ctx, u);
	return 0;
}

static int libbpf_quiet(enum libbpf_print_level lvl, const char *fmt,
			va_list ap)
{
	if (lvl != LIBBPF_WARN || getenv("VT_LIBBPF_DEBUG") == NULL)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

bool vt_probe_wanted(enum vt_probe_id id, const struct vt_probe_opts *o)
{
	const struct vt_probe_spec *s = &spec_table[id];

	if (!s->func)	/* a retired id */
		return false;
	if (s->cas >= 0 && o->at_cas[s->cas] != s->at_cas)
		return false;
	switch (s->need) {
	case VT_NEED_RELEASE_INLINED:
		return o->release_inlined;
	case VT_NEED_UV:
		return o->uv_path && *o->uv_path;
	default:
		return true;
	}
}

static const char *spec_path(enum vt_probe_id id, const struct vt_probe_opts *o)
{
	return spec_table[id].need == VT_NEED_UV ? o->uv_path : o->obj_path;
}

/* 0, or -errno. */
static int attach_one(struct vt_probe *p, enum vt_probe_id id,
		      const struct vt_probe_opts *o)
{
	const struct vt_probe_spec *s = &spec_table[id];
	LIBBPF_OPTS(bpf_uprobe_opts, uo, .retprobe = s->ret);
	struct bpf_link *l;
	int fd;

	if (p->multi) {
		fd = vt_ulink_open(bpf_program__fd(p->progs[id]),
				   spec_path(id, o), &o->offsets[id], 1, s->ret,
				   o->pid);
		if (fd < 0)
			return fd;
		p->fds[id] = fd;
		return 0;
	}
	l = bpf_program__attach_uprobe_opts(p->progs[id], o->pid,
					    spec_path(id, o), o->offsets[id],
					    &uo);
	if (!l)
		return -errno;
	p->links[id] = l;
	p->fds[id] = bpf_link__fd(l);
	return 0;
}

static int load(struct vt_probe *p, const struct vt_probe_opts *o,
		char *err, size_t errlen)
{
	int rc;

	p->skel = valk_trace__open();
	if (!p->skel) {
		snprintf(err, errlen, "cannot open the BPF object: %s",
			 strerror(errno));
		return -1;
	}
	p->skel->rodata->target_tgid = o->pid;
	p->skel->rodata->off = o->off;
	p->skel->rodata->hold = o->hold;
	p->skel->rodata->want_stacks = o->stacks;
	p->skel->rodata->want_ustacks = o->stacks && o->ustacks;
	memcpy((void *)p->skel->rodata->cas, o->cas, sizeof(o->cas));
	if (!o->stacks)		/* a ring nobody fills: the least */
		bpf_map__set_max_entries(p->skel->maps.ustacks, 4096);
	else if (!o->ustacks)
		bpf_map__set_max_entries(p->skel->maps.ustacks,
					 VT_USTACK_RING_FP);
	progs_init(p->progs, p->skel);
	for (int i = 0; i < VT_P_COUNT; i++) {
		if (!p->progs[i])
			continue;
		bpf_program__set_autoload(p->progs[i], vt_probe_wanted(i, o));
		if (p->multi)
			bpf_program__set_expected_attach_type(
				p->progs[i], VT_ULINK_ATTACH_TYPE);
	}
	if (p->multi)
		bpf_program__set_expected_attach_type(p->skel->progs.calib,
						      VT_ULINK_ATTACH_TYPE);
	bpf_map__set_max_entries(p->skel->maps.events, o->ringbuf_bytes);
	rc = valk_trace__load(p->skel);
	if (rc) {
		snprintf(err, errlen, "cannot load the BPF programs: %s%s",
			 strerror(-rc),
			 rc == -EPERM ? " (run as root or with CAP_BPF and "
					"CAP_PERFMON)" : "");
		return -1;
	}
	return 0;
}

static bool is_acquire(enum vt_probe_id id)
{
	return id == VT_P_ACQUIRE_ENTRY || id == VT_P_ACQUIRE_RET ||
	       id == VT_P_ACQUIRE_POP;
}

/* Acquires first: the model applies a release seen around a slab's
 * bootstrap read onto a slot the image shows in use, and only that slot's
 * next acquire event tells a release already in the image (re-acquired
 * before the read: undone) from one after it. Released while the acquire
 * probes were still going on, the slot's re-acquire would go unseen and
 * the release stay applied. */
void vt_probe_order(enum vt_probe_id order[VT_P_COUNT])
{
	size_t n = 0;

	for (int acquires = 1; acquires >= 0; acquires--)
		for (int i = 0; i < VT_P_COUNT; i++)
			if (is_acquire(i) == acquires)
				order[n++] = i;
}

/* Attaches the wanted probes of mask; -errno of the first that failed
 * (err says which). */
static int attach_mask(struct vt_probe *p, uint32_t mask, char *err,
		       size_t errlen)
{
	enum vt_probe_id order[VT_P_COUNT];

	vt_probe_order(order);
	for (int k = 0; k < VT_P_COUNT; k++) {
		enum vt_probe_id i = order[k];
		int rc = (mask >> i & 1) && p->fds[i] < 0 &&
				 vt_probe_wanted(i, &p->o)
			 ? attach_one(p, i, &p->o)
			 : 0;

		if (rc) {
			snprintf(err, errlen, "cannot attach %s to %s in %s: %s",
				 spec_table[i].ret ? "uretprobe" : "uprobe",
				 spec_table[i].func, spec_path(i, &p->o),
				 strerror(-rc));
			return rc;
		}
	}
	return 0;
}

/* Loads and attaches every wanted probe; -errno of the first attach that
 * failed, or 1 when loading failed. */
static int attach_all(struct vt_probe *p, char *err, size_t errlen)
{
	if (load(p, &p->o, err, errlen))
		return 1;
	return attach_mask(p, UINT32_MAX, err, errlen);
}

static void detach_all(struct vt_probe *p);

/* Probes put on again later (the overhead budget) name the objects by a
 * descriptor opened now: the tracer may have given root up meanwhile, and
 * with it the right to look their paths up (/proc/<pid>/map_files,
 * /proc/<pid>/root, another user's directories). */
static void pin(struct vt_probe *p, int i, const char **path)
{
	if (!*path || !**path ||
	    (p->pin[i] = open(*path, O_PATH | O_CLOEXEC)) < 0)
		return;
	snprintf(p->pinned[i], sizeof(p->pinned[i]), "/proc/self/fd/%d",
		 p->pin[i]);
	*path = p->pinned[i];
}

int vt_probe_open(const struct vt_probe_opts *o, vt_probe_event_fn fn,
		  void *ctx, struct vt_probe **out, char *err, size_t errlen)
{
	struct vt_probe *p = calloc(1, sizeof(*p));
	int rc;

	if (!p) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	libbpf_set_print(libbpf_quiet);
	p->fn = fn;
	p->ctx = ctx;
	p->o = *o;
	p->ncpu = libbpf_num_possible_cpus();
	p->multi = true;
	p->pin[0] = p->pin[1] = -1;
	for (int i = 0; i < VT_P_COUNT; i++)
		p->fds[i] = -1;
	rc = attach_all(p, err, errlen);
	/* a kernel without uprobe_multi links (before 6.6): perf events */
	if (rc == -EINVAL || rc == -ENOSYS || rc == -EOPNOTSUPP) {
		detach_all(p);
		p->multi = false;
		rc = attach_all(p, err, errlen);
	}
	if (rc)
		goto fail;
	p->rb = ring_buffer__new(bpf_map__fd(p->skel->maps.events), on_sample,
				 p, NULL);
	if (p->rb && o->stacks)
		p->urb = ring_buffer__new(bpf_map__fd(p->skel->maps.ustacks),
					  on_ustack, p, NULL);
	if (!p->rb || (o->stacks && !p->urb)) {
		snprintf(err, errlen, "cannot open the ring buffer: %s",
			 strerror(errno));
		goto fail;
	}
	pin(p, 0, &p->o.obj_path);
	pin(p, 1, &p->o.uv_path);
	*out = p;
	return 0;
fail:
	vt_probe_close(p);
	return -1;
}

void vt_probe_on_ustack(struct vt_probe *p, vt_probe_ustack_fn fn)
{
	p->ufn = fn;
}

void vt_probe_stack_top(struct vt_probe *p, uint32_t tid, uint64_t top)
{
	int fd = bpf_map__fd(p->skel->maps.ustack_tops);

	if (top)	/* a full table: that thread's copies stay full */
		bpf_map_update_elem(fd, &tid, &top, BPF_ANY);
	else
		bpf_map_delete_elem(fd, &tid);
}

int vt_probe_drain_ustacks(struct vt_probe *p)
{
	return p->urb ? ring_buffer__consume(p->urb) : 0;
}

/* Stacks first: each is in its ring before the event that names it. */
int vt_probe_drain(struct vt_probe *p)
{
	vt_probe_drain_ustacks(p);
	return ring_buffer__consume(p->rb);
}

static uint64_t percpu_sum(int fd, uint32_t key, int ncpu)
{
	uint64_t vals[ncpu > 0 ? ncpu : 1], sum = 0;

	if (ncpu <= 0 || bpf_map_lookup_elem(fd, &key, vals))
		return 0;
	for (int i = 0; i < ncpu; i++)
		sum += vals[i];
	return sum;
}

uint64_t vt_probe_lost(const struct vt_probe *p)
{
	return percpu_sum(bpf_map__fd(p->skel->maps.lost), 0, p->ncpu);
}

size_t vt_probe_stack(const struct vt_probe *p, uint32_t stack,
		      uint64_t *pcs, size_t max)
{
	uint64_t v[VT_STACK_DEPTH] = { 0 };
	uint32_t id = stack - 1;
	size_t n = 0;

	if (!stack || bpf_map_lookup_elem(bpf_map__fd(p->skel->maps.stacks),
					  &id, v))
		return 0;
	/* a walk that loops (a frame pointer pointing at itself) ends */
	while (n < VT_STACK_DEPTH && n < max && v[n] && (!n || v[n] != v[n - 1])) {
		pcs[n] = v[n];
		n++;
	}
	return n;
}

uint64_t vt_probe_holds(const struct vt_probe *p)
{
	return percpu_sum(bpf_map__fd(p->skel->maps.holds), 0, p->ncpu);
}

void vt_probe_hits(const struct vt_probe *p, uint64_t hits[VT_P_COUNT])
{
	int fd = bpf_map__fd(p->skel->maps.hits);

	for (uint32_t i = 0; i < VT_P_COUNT; i++)
		hits[i] = percpu_sum(fd, i, p->ncpu);
}

static void *link_destroy(void *arg)
{
	struct vt_probe *p = ((void **)arg)[0];
	size_t i = (size_t)((void **)arg)[1];

	if (p->links[i])
		bpf_link__destroy(p->links[i]);
	else
		close(p->fds[i]);
	p->links[i] = NULL;
	p->fds[i] = -1;
	return NULL;
}

/* Removing a uprobe waits for RCU grace periods (tens of milliseconds
 * each): one thread per link lets those waits overlap instead of adding
 * up. A link whose thread cannot start is removed inline. */
static void detach_mask(struct vt_probe *p, uint32_t mask)
{
	pthread_t th[VT_P_COUNT];
	void *args[VT_P_COUNT][2];
	bool started[VT_P_COUNT] = { false };

	for (size_t i = 0; i < VT_P_COUNT; i++) {
		if (!(mask >> i & 1) || p->fds[i] < 0)
			continue;
		args[i][0] = p;
		args[i][1] = (void *)i;
		started[i] = !pthread_create(&th[i], NULL, link_destroy,
					     args[i]);
		if (!started[i])
			link_destroy(args[i]);
	}
	for (size_t i = 0; i < VT_P_COUNT; i++)
		if (started[i])
			pthread_join(th[i], NULL);
}

static void detach_all(struct vt_probe *p)
{
	detach_mask(p, UINT32_MAX);
	valk_trace__destroy(p->skel);
	p->skel = NULL;
}

void vt_probe_detach(struct vt_probe *p, uint32_t mask)
{
	detach_mask(p, mask);
}

int vt_probe_attach(struct vt_probe *p, uint32_t mask, char *err,
		    size_t errlen)
{
	return attach_mask(p, mask, err, errlen) ? -1 : 0;
}

_Static_assert(VT_CALIB_N == VT_PROBE_CLASSES, "calibrated classes");
_Static_assert(sizeof(((struct vt_probe_opts *)0)->cas) ==
	       sizeof(((struct valk_trace *)0)->rodata->cas), "CAS sites");

int vt_probe_calibrate(struct vt_probe *p, double us[VT_CALIB_N])
{
	return vt_calib_measure(p->skel->progs.calib, p->multi, us);
}

bool vt_probe_perf_events(const struct vt_probe *p)
{
	return !p->multi;
}

uint32_t vt_probe_attached(const struct vt_probe *p)
{
	uint32_t m = 0;

	for (int i = 0; i < VT_P_COUNT; i++)
		if (p->fds[i] >= 0)
			m |= 1u << i;
	return m;
}

void vt_probe_close(struct vt_probe *p)
{
	if (!p)
		return;
	ring_buffer__free(p->rb);
	ring_buffer__free(p->urb);
	detach_all(p);
	for (int i = 0; i < 2; i++)
		if (p->pin[i] >= 0)
			close(p->pin[i]);
	free(p);
}
