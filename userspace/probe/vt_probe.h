/* vt_probe: the BPF side's userspace handle — load, attach the uprobes to
 * one target process, drain the ring buffer, read the loss/hit counters. */
#ifndef VT_PROBE_H
#define VT_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/types.h>

#include "bpf/valk_trace.h"

#define VT_CAS_SITES 3	/* acquire, release, release_ptr */

struct vt_probe_opts {
	int pid;
	const char *obj_path;	/* object defining the valk_* functions */
	const char *uv_path;	/* object defining uv_read_start, or NULL */
	struct vt_bpf_offsets off;
	bool release_inlined;	/* valk_slab_release inlined in release_ptr */
	/* Where each wanted probe goes: its site's offset in the file that
	 * defines the function (the target layer places them). */
	uint64_t offsets[VT_P_COUNT];
	size_t ringbuf_bytes;	/* power of two, >= page size */
	bool stacks;		/* capture each acquire's user call stack */
	bool ustacks;		/* and copy its top for DWARF unwinding (code
				 * without frame pointers; otherwise only
				 * walks the stack map refused are copied) */
	bool hold;		/* SIGSTOP the thread at AIO start and slab free
				 * (a ptrace tracer swallows it, see vt_run) */
	/* Slab operations probed once, on the jump after their head CAS
	 * (acquire, release, release_ptr), instead of at entry (and return):
	 * where the target layer proved the site (vt_cas). */
	bool at_cas[VT_CAS_SITES];
	struct vt_bpf_cas cas[VT_CAS_SITES];
};

/* Which targets need a probe: release_ptr only where release is inlined
 * into it (otherwise each release would count twice), read_start only
 * where libuv is mapped. */
enum vt_probe_need { VT_NEED_ALWAYS, VT_NEED_RELEASE_INLINED, VT_NEED_UV };

struct vt_probe_spec {
	const char *func;	/* in obj_path, or uv_path for VT_NEED_UV */
	bool ret;		/* a return probe */
	unsigned args;		/* bit i: its program reads argument i */
	enum vt_probe_need need;
	int cas;		/* the CAS site that replaces it (or, with
				 * at_cas, that it is), -1: none */
	bool at_cas;		/* attached only where opts.at_cas[cas] */
};

const struct vt_probe_spec *vt_probe_spec(enum vt_probe_id id);
bool vt_probe_wanted(enum vt_probe_id id, const struct vt_probe_opts *o);
/* The order probes are attached in: every acquire probe before any
 * other, then by id. */
void vt_probe_order(enum vt_probe_id order[VT_P_COUNT]);

typedef void (*vt_probe_event_fn)(void *ctx, const struct vt_event *ev);
/* A copied user stack (opts.stacks), handed over before the acquire
 * event that names it by seq; len bytes of data are valid. */
typedef void (*vt_probe_ustack_fn)(void *ctx, const struct vt_ustack *u);

struct vt_probe;

/* Returns 0, or -1 with a one-line reason in err. */
int vt_probe_open(const struct vt_probe_opts *o, vt_probe_event_fn fn,
		  void *ctx, struct vt_probe **out, char *err, size_t errlen);
/* Where copied stacks go (before the first drain). */
void vt_probe_on_ustack(struct vt_probe *p, vt_probe_ustack_fn fn);
/* Thread tid's copies end at top, where its outermost frame does (0:
 * not known any more: copies are VT_USTACK_BYTES again). */
void vt_probe_stack_top(struct vt_probe *p, uint32_t tid, uint64_t top);
/* Hands every copied stack queued so far to the ustack callback. */
int vt_probe_drain_ustacks(struct vt_probe *p);
/* Hands every queued event to fn; returns how many, or -1. */
int vt_probe_drain(struct vt_probe *p);
/* Ring-buffer reserve failures summed over CPUs. */
uint64_t vt_probe_lost(const struct vt_probe *p);
void vt_probe_hits(const struct vt_probe *p, uint64_t hits[VT_P_COUNT]);
/* The return addresses of an acquire's stack (its event's `stack`, 0:
 * none), innermost first; how many, 0 when the id is unknown. */
size_t vt_probe_stack(const struct vt_probe *p, uint32_t stack,
		      uint64_t *pcs, size_t max);
/* SIGSTOPs the probes sent (opts.hold). */
uint64_t vt_probe_holds(const struct vt_probe *p);
/* Removes the probes of mask (bit = enum vt_probe_id), concurrently. */
void vt_probe_detach(struct vt_probe *p, uint32_t mask);
/* Attaches the probes of mask the target wants again; 0, or -1 with a
 * one-line reason. */
int vt_probe_attach(struct vt_probe *p, uint32_t mask, char *err,
		    size_t errlen);
/* What a hit costs here, microseconds, per kind of probed instruction
 * (VT_CALIB_NOP5, _EMULATED, _STEPPED), measured on valk-trace's own
 * functions. 0, or -1. */
#define VT_PROBE_CLASSES 3
int vt_probe_calibrate(struct vt_probe *p, double us[VT_PROBE_CLASSES]);

/* The probes attached now, as a mask. */
uint32_t vt_probe_attached(const struct vt_probe *p);
/* Whether the probes are perf-event uprobes (a kernel before 6.6, with no
 * uprobe_multi links): putting one on needs CAP_PERFMON, and
 * CAP_SYS_PTRACE over another user's process. */
bool vt_probe_perf_events(const struct vt_probe *p);

/* Detaches every probe; the target is left as it was. */
void vt_probe_close(struct vt_probe *p);

#endif /* VT_PROBE_H */
