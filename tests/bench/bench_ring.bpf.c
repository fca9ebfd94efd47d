// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* bench_ring's producer: slab events, in the short records the probes
 * make of them (struct vt_event_op), written into a tracer's own ring
 * buffer (its map is reused by fd), `count` per run of the program, which
 * userspace triggers with BPF_PROG_TEST_RUN. Each pair acquires and
 * releases one slot of the slab named in the arguments, with versions
 * past anything the tracer read, so the collector applies every event as
 * it would a probe's. Records are submitted without wakeups, like the
 * probes'. */
#define vt_event kernel_vt_event
#include "vmlinux.h"
#undef vt_event
#include <bpf/bpf_helpers.h>
#include "bpf/valk_trace.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096 * 1024);
} events SEC(".maps");

struct gen_args {
	__u64 slab, first, slots;	/* slots first .. first+slots-1 */
	__u64 seq;			/* events made before this run */
	__u32 count;			/* events to make, even */
	__u32 lost;			/* out: reservations that failed */
};

static long one(__u32 i, struct gen_args *a)
{
	__u64 n = a->seq + i;
	struct vt_event_op *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);

	if (!e) {
		a->lost++;
		return 0;
	}
	e->ts_ns = bpf_ktime_get_ns();
	e->tid = (__u32)bpf_get_current_pid_tgid();
	e->type = n % 2 == 0 ? VT_EV_ACQUIRE : VT_EV_RELEASE;
	e->probe = n % 2 == 0 ? VT_P_ACQUIRE_POP : VT_P_RELEASE;
	e->slab = a->slab;
	e->slot = a->first + n / 2 % a->slots;
	e->version = (1ULL << 40) + n;
	bpf_ringbuf_submit(e, BPF_RB_NO_WAKEUP);
	return 0;
}

SEC("syscall")
int gen(struct gen_args *ctx)
{
	struct gen_args a = *ctx;	/* bpf_loop's context is on the stack */

	if (!a.slots)
		return 1;
	a.lost = 0;
	bpf_loop(a.count, one, &a, 0);
	ctx->lost = a.lost;
	return 0;
}
