#include "probe/vt_probe.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "valk_trace.skel.h"

/* Which targets need a program: release_ptr only where release is inlined
 * into it (otherwise each release would count twice), read_start only
 * where libuv is mapped. */
enum need { NEED_ALWAYS, NEED_RELEASE_INLINED, NEED_UV };

struct attach_spec {
	struct bpf_program *prog;
	const char *func;
	bool ret;
	enum need need;
};

struct vt_probe {
	struct valk_trace *skel;
	struct ring_buffer *rb;
	struct attach_spec specs[VT_P_COUNT];	/* by the probe's hit counter */
	struct bpf_link *links[VT_P_COUNT];
	size_t nlinks;
	vt_probe_event_fn fn;
	void *ctx;
	int ncpu;
};

static void specs_init(struct attach_spec *s, const struct valk_trace *k)
{
	const struct attach_spec t[VT_P_COUNT] = {
#define S(id, prog, func, ret, need) \
	[id] = { k->progs.prog, func, ret, need }
	S(VT_P_ACQUIRE_ENTRY, slab_acquire_entry, "valk_slab_aquire", false,
	  NEED_ALWAYS),
	S(VT_P_ACQUIRE_RET, slab_acquire_ret, "valk_slab_aquire", true,
	  NEED_ALWAYS),
	S(VT_P_RELEASE, slab_release, "valk_slab_release", false, NEED_ALWAYS),
	S(VT_P_RELEASE_PTR, slab_release_ptr, "valk_slab_release_ptr", false,
	  NEED_RELEASE_INLINED),
	S(VT_P_SLAB_NEW_ENTRY, slab_new_entry, "valk_slab_new", false,
	  NEED_ALWAYS),
	S(VT_P_SLAB_NEW_RET, slab_new_ret, "valk_slab_new", true, NEED_ALWAYS),
	S(VT_P_SLAB_FREE, slab_free, "valk_slab_free", false, NEED_ALWAYS),
	S(VT_P_AIO_START_RET, aio_start_ret, "valk_aio_start_with_config",
	  true, NEED_ALWAYS),
	S(VT_P_CONN_TRANSITION_ENTRY, conn_transition_entry,
	  "valk_conn_transition", false, NEED_ALWAYS),
	S(VT_P_CONN_TRANSITION_RET, conn_transition_ret,
	  "valk_conn_transition", true, NEED_ALWAYS),
	S(VT_P_CONN_INIT_ENTRY, conn_init_entry, "__valk_conn_set_init_state",
	  false, NEED_ALWAYS),
	S(VT_P_CONN_INIT_RET, conn_init_ret, "__valk_conn_set_init_state",
	  true, NEED_ALWAYS),
	S(VT_P_OWNER_ENTRY, owner_entry, "valk_owner_register", false,
	  NEED_ALWAYS),
	S(VT_P_OWNER_RET, owner_ret, "valk_owner_register", true, NEED_ALWAYS),
	S(VT_P_BEGIN_HEADERS_ENTRY, begin_headers_entry,
	  "valk_http2_on_begin_headers_callback", false, NEED_ALWAYS),
	S(VT_P_BEGIN_HEADERS_RET, begin_headers_ret,
	  "valk_http2_on_begin_headers_callback", true, NEED_ALWAYS),
	S(VT_P_STREAM_CLOSE_ENTRY, stream_close_entry,
	  "valk_http2_server_on_stream_close_callback", false, NEED_ALWAYS),
	S(VT_P_STREAM_CLOSE_RET, stream_close_ret,
	  "valk_http2_server_on_stream_close_callback", true, NEED_ALWAYS),
	S(VT_P_READ_START, read_start, "uv_read_start", false, NEED_UV),
#undef S
	};

	memcpy(s, t, sizeof(t));
}

static int on_sample(void *ctx, void *data, size_t len)
{
	struct vt_probe *p = ctx;

	if (len >= sizeof(struct vt_event))
		p->fn(p->ctx, data);
	return 0;
}

static int libbpf_quiet(enum libbpf_print_level lvl, const char *fmt,
			va_list ap)
{
	if (lvl != LIBBPF_WARN || getenv("VT_LIBBPF_DEBUG") == NULL)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

static bool spec_wanted(const struct attach_spec *s,
			const struct vt_probe_opts *o)
{
	switch (s->need) {
	case NEED_RELEASE_INLINED:
		return o->release_inlined;
	case NEED_UV:
		return o->uv_path && *o->uv_path;
	default:
		return true;
	}
}

static int attach_one(struct vt_probe *p, const struct attach_spec *s,
		      const struct vt_probe_opts *o, char *err, size_t errlen)
{
	LIBBPF_OPTS(bpf_uprobe_opts, uo, .func_name = s->func,
		    .retprobe = s->ret);
	const char *path = s->need == NEED_UV ? o->uv_path : o->obj_path;
	struct bpf_link *l;

	l = bpf_program__attach_uprobe_opts(s->prog, o->pid, path, 0, &uo);
	if (!l) {
		snprintf(err, errlen, "cannot attach %s to %s in %s: %s",
			 s->ret ? "uretprobe" : "uprobe", s->func, path,
			 strerror(errno));
		return -1;
	}
	p->links[p->nlinks++] = l;
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
	specs_init(p->specs, p->skel);
	for (size_t i = 0; i < VT_P_COUNT; i++)
		bpf_program__set_autoload(p->specs[i].prog,
					  spec_wanted(&p->specs[i], o));
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

int vt_probe_open(const struct vt_probe_opts *o, vt_probe_event_fn fn,
		  void *ctx, struct vt_probe **out, char *err, size_t errlen)
{
	struct vt_probe *p = calloc(1, sizeof(*p));

	if (!p) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	libbpf_set_print(libbpf_quiet);
	p->fn = fn;
	p->ctx = ctx;
	p->ncpu = libbpf_num_possible_cpus();
	if (load(p, o, err, errlen))
		goto fail;
	for (size_t i = 0; i < VT_P_COUNT; i++)
		if (spec_wanted(&p->specs[i], o) &&
		    attach_one(p, &p->specs[i], o, err, errlen))
			goto fail;
	p->rb = ring_buffer__new(bpf_map__fd(p->skel->maps.events), on_sample,
				 p, NULL);
	if (!p->rb) {
		snprintf(err, errlen, "cannot open the ring buffer: %s",
			 strerror(errno));
		goto fail;
	}
	*out = p;
	return 0;
fail:
	vt_probe_close(p);
	return -1;
}

int vt_probe_drain(struct vt_probe *p)
{
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

void vt_probe_hits(const struct vt_probe *p, uint64_t hits[VT_P_COUNT])
{
	int fd = bpf_map__fd(p->skel->maps.hits);

	for (uint32_t i = 0; i < VT_P_COUNT; i++)
		hits[i] = percpu_sum(fd, i, p->ncpu);
}

void vt_probe_close(struct vt_probe *p)
{
	if (!p)
		return;
	ring_buffer__free(p->rb);
	for (size_t i = 0; i < p->nlinks; i++)
		bpf_link__destroy(p->links[i]);
	valk_trace__destroy(p->skel);
	free(p);
}
