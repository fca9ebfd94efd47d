// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Uprobes on the valk runtime's slab and connection-state functions.
 * Each hit becomes one record in a ring buffer (struct vt_event, or the
 * shorter struct vt_event_op for a slab operation); the collector
 * polls it on a timer, so records are submitted without wakeups. */
/* The kernel has its own struct vt_event (virtual terminals): rename it
 * out of the way of ours. */
#define vt_event kernel_vt_event
#include "vmlinux.h"
#undef vt_event
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "valk_trace.h"

/* BPF_KPROBE's inner function always receives ctx, used or not. */
#pragma clang diagnostic ignored "-Wunused-parameter"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

const volatile __u32 target_tgid = 0;
const volatile struct vt_bpf_offsets off = {};
/* run: a target traced from its first instruction is held (SIGSTOP to the
 * thread, which its ptrace tracer swallows) where memory must be read at
 * once — a started AIO system before it runs, a slab before it is freed. */
const volatile bool hold = false;
/* A report wants each acquire's call stack: walked by frame pointers, and
 * for code without them also copied (want_ustacks). */
const volatile bool want_stacks = false;
const volatile bool want_ustacks = false;
/* The one-trap sites after the head CAS (VT_P_ACQUIRE_POP, _RELEASE_PUSH,
 * _RELEASE_PTR_PUSH), in that order. */
const volatile struct vt_bpf_cas cas[3] = {};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 22);	/* resized by the collector */
} events SEC(".maps");

/* Reserve failures, per CPU: reported as lost events. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} lost SEC(".maps");

/* User call stacks of acquires (frame-pointer walks), by id. */
struct {
	__uint(type, BPF_MAP_TYPE_STACK_TRACE);
	__uint(max_entries, VT_STACK_MAP_ENTRIES);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, VT_STACK_DEPTH * sizeof(__u64));
} stacks SEC(".maps");

/* User stacks copied at acquires (const want_ustacks). */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, VT_USTACK_RING);
} ustacks SEC(".maps");

/* Where each thread's outermost frame ends, learned by the collector. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, VT_USTACK_TOPS);
	__type(key, __u32);
	__type(value, __u64);
} ustack_tops SEC(".maps");

/* A copy is made here, then output as long as it is. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct vt_ustack);
} ustack_buf SEC(".maps");

/* The sequence numbers of copied stacks, per CPU. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} ustack_seq SEC(".maps");

/* Holds sent, per CPU: the tracer tells its own SIGSTOPs by this count. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} holds SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, VT_P_COUNT);
	__type(key, __u32);
	__type(value, __u64);
} hits SEC(".maps");

/* Arguments stashed at function entry for the matching return probe:
 * argument registers are clobbered by the time the function returns. */
struct stash_key {
	__u32 tid;
	__u32 fn;
};

struct stash_val {
	__u64 a0, a1;
	char name[VT_NAME_LEN];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8192);
	__type(key, struct stash_key);
	__type(value, struct stash_val);
} stash SEC(".maps");

#define SIGSTOP_NR 19

static __always_inline void hold_thread(void)
{
	__u32 zero = 0;
	__u64 *n;

	if (!hold)
		return;
	n = bpf_map_lookup_elem(&holds, &zero);
	if (n)
		(*n)++;
	bpf_send_signal_thread(SIGSTOP_NR);
}

static __always_inline bool is_target(void)
{
	return (bpf_get_current_pid_tgid() >> 32) == target_tgid;
}

static __always_inline void count_hit(__u32 probe)
{
	__u64 *n = bpf_map_lookup_elem(&hits, &probe);

	if (n)
		(*n)++;
}

static __always_inline void count_lost(void)
{
	__u32 zero = 0;
	__u64 *n = bpf_map_lookup_elem(&lost, &zero);

	if (n)
		(*n)++;
}

static __always_inline struct vt_event *ev_reserve(__u32 type, __u32 probe)
{
	struct vt_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);

	if (!e) {
		count_lost();
		return NULL;
	}
	__builtin_memset(e, 0, sizeof(*e));
	e->ts_ns = bpf_ktime_get_ns();
	e->tid = (__u32)bpf_get_current_pid_tgid();
	e->type = type;
	e->probe = probe;
	return e;
}

static __always_inline void ev_submit(struct vt_event *e)
{
	bpf_ringbuf_submit(e, BPF_RB_NO_WAKEUP);
}

/* An acquire or release in its short record (struct vt_event_op). */
static __always_inline void emit_op(__u32 type, __u32 probe, __u64 slab,
				    __u64 slot, __u64 version)
{
	struct vt_event_op *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);

	if (!e) {
		count_lost();
		return;
	}
	e->ts_ns = bpf_ktime_get_ns();
	e->slab = slab;
	e->slot = slot;
	e->version = version;
	e->tid = (__u32)bpf_get_current_pid_tgid();
	e->type = type;
	e->probe = probe;
	bpf_ringbuf_submit(e, BPF_RB_NO_WAKEUP);
}

static __always_inline __u64 read_u64(__u64 addr)
{
	__u64 v = 0;

	bpf_probe_read_user(&v, sizeof(v), (void *)addr);
	return v;
}

static __always_inline void stash_put(__u32 fn, __u64 a0, __u64 a1)
{
	struct stash_key k = { (__u32)bpf_get_current_pid_tgid(), fn };
	struct stash_val v = { .a0 = a0, .a1 = a1 };

	bpf_map_update_elem(&stash, &k, &v, BPF_ANY);
}

/* Copies and deletes the entry's stash; false if the entry was not seen
 * (the probe was attached while the function was running). */
static __always_inline bool stash_take(__u32 fn, struct stash_val *out)
{
	struct stash_key k = { (__u32)bpf_get_current_pid_tgid(), fn };
	struct stash_val *v = bpf_map_lookup_elem(&stash, &k);

	if (!v)
		return false;
	__builtin_memcpy(out, v, sizeof(*out));
	bpf_map_delete_elem(&stash, &k);
	return true;
}

/* The caller's registers and its stack up to the thread's outermost
 * frame (VT_USTACK_BYTES where that is not known yet or farther), in the
 * ustacks ring; returns the record's sequence number (CPU in the top
 * bits), 0 when the ring is full. */
static __always_inline __u32 copy_ustack(struct pt_regs *ctx)
{
	__u32 zero = 0, tid = (__u32)bpf_get_current_pid_tgid();
	__u32 *seq = bpf_map_lookup_elem(&ustack_seq, &zero);
	struct vt_ustack *u = bpf_map_lookup_elem(&ustack_buf, &zero);
	__u64 sp = PT_REGS_SP(ctx), *top, len = VT_USTACK_BYTES;

	if (!seq || !u)
		return 0;
	u->flags = 0;
	top = bpf_map_lookup_elem(&ustack_tops, &tid);
	if (top && *top > sp && *top - sp < VT_USTACK_BYTES) {
		len = *top - sp;
		u->flags = VT_US_TOP;
	}
	barrier_var(len);
	if (len > VT_USTACK_BYTES)
		len = VT_USTACK_BYTES;
	/* the stack may end nearer than the copy, at one of the next page
	 * boundaries: up to the farther, else the nearer */
	if (bpf_probe_read_user(u->data, len, (void *)sp)) {
		len = (sp | 4095) + 1 + 4096 - sp;
		barrier_var(len);
		if (len >= VT_USTACK_BYTES)
			len = VT_USTACK_BYTES - 4096;
		if (bpf_probe_read_user(u->data, len, (void *)sp)) {
			len = (sp | 4095) + 1 - sp;
			barrier_var(len);
			if (len > 4096)
				len = 4096;
			if (bpf_probe_read_user(u->data, len, (void *)sp))
				len = 0;
		}
	}
	*seq = *seq % 0xffffff + 1;	/* 1 .. 2^24-1: never 0 */
	u->seq = (bpf_get_smp_processor_id() & 0xff) << 24 | *seq;
	u->len = len;
	u->tid = tid;
	u->regs[VT_UR_RIP] = PT_REGS_IP(ctx);
	u->regs[VT_UR_RSP] = sp;
	u->regs[VT_UR_RBP] = ctx->bp;
	u->regs[VT_UR_RBX] = ctx->bx;
	u->regs[VT_UR_R12] = ctx->r12;
	u->regs[VT_UR_R13] = ctx->r13;
	u->regs[VT_UR_R14] = ctx->r14;
	u->regs[VT_UR_R15] = ctx->r15;
	if (bpf_ringbuf_output(&ustacks, u,
			       offsetof(struct vt_ustack, data) + len,
			       BPF_RB_NO_WAKEUP))
		return 0;
	return u->seq;
}

/* A slot release; `item` is the slot's header. */
static __always_inline void emit_release(__u64 slab, __u64 item, __u32 probe)
{
	/* probed at entry: the release's own version bump is still ahead */
	emit_op(VT_EV_RELEASE, probe, slab, read_u64(item + off.item_handle),
		read_u64(slab + off.slab_version) + 1);
}

/* The connection record of a handle, read as the probe fires. */
static __always_inline void emit_conn(__u64 conn, __u32 probe)
{
	struct vt_event *e;

	if (!conn)
		return;
	e = ev_reserve(VT_EV_CONN, probe);
	if (!e)
		return;
	e->conn.handle = conn;
	bpf_probe_read_user(&e->conn.kind, sizeof(e->conn.kind),
			    (void *)(conn + off.handle_kind));
	bpf_probe_read_user(&e->conn.diag, sizeof(e->conn.diag),
			    (void *)(conn + off.diag_state));
	bpf_probe_read_user(&e->conn.owner, sizeof(e->conn.owner),
			    (void *)(conn + off.diag_owner));
	ev_submit(e);
}

SEC("uprobe")
int BPF_KPROBE(slab_acquire_entry, __u64 slab)
{
	if (!is_target())
		return 0;
	count_hit(VT_P_ACQUIRE_ENTRY);
	stash_put(VT_P_ACQUIRE_ENTRY, slab, 0);
	return 0;
}

SEC("uretprobe")
int BPF_KRETPROBE(slab_acquire_ret, __u64 item)
{
	struct stash_val s;
	struct vt_event *e;

	if (!is_target())
		return 0;
	count_hit(VT_P_ACQUIRE_RET);
	if (!stash_take(VT_P_ACQUIRE_ENTRY, &s))
		return 0;
	e = ev_reserve(item ? VT_EV_ACQUIRE : VT_EV_ACQUIRE_FAIL,
		       VT_P_ACQUIRE_RET);
	if (!e)
		return 0;
	if (item) {
		e->acquire.slab = s.a0;
		e->acquire.slot = read_u64(item + off.item_handle);
		e->acquire.version = read_u64(s.a0 + off.slab_version);
		e->acquire.peak = read_u64(s.a0 + off.slab_peak);
		if (want_stacks) {
			/* at the return the registers are the caller's */
			long id = bpf_get_stackid(ctx, &stacks, BPF_F_USER_STACK);

			e->acquire.stack = id >= 0 ? (__u32)id + 1 : 0;
			/* a walk the map refused (its hash bucket holds another
			 * stack: -EEXIST) is copied for DWARF unwinding too */
			if (want_ustacks || id < 0)
				e->acquire.ustack = copy_ustack(ctx);
		}
	} else {
		e->acquire_fail.slab = s.a0;
	}
	ev_submit(e);
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(slab_release, __u64 slab, __u64 item)
{
	if (!is_target())
		return 0;
	count_hit(VT_P_RELEASE);
	emit_release(slab, item, VT_P_RELEASE);
	return 0;
}

/* Attached only where valk_slab_release is inlined into release_ptr. */
SEC("uprobe")
int BPF_KPROBE(slab_release_ptr, __u64 slab, __u64 data)
{
	if (!is_target())
		return 0;
	count_hit(VT_P_RELEASE_PTR);
	emit_release(slab, data - off.item_data, VT_P_RELEASE_PTR);
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(slab_new_entry, __u64 item_size, __u64 num_items)
{
	if (!is_target())
		return 0;
	count_hit(VT_P_SLAB_NEW_ENTRY);
	stash_put(VT_P_SLAB_NEW_ENTRY, item_size, num_items);
	return 0;
}

SEC("uretprobe")
int BPF_KRETPROBE(slab_new_ret, __u64 slab)
{
	struct stash_val s;
	struct vt_event *e;

	if (!is_target())
		return 0;
	count_hit(VT_P_SLAB_NEW_RET);
	if (!stash_take(VT_P_SLAB_NEW_ENTRY, &s) || !slab)
		return 0;
	e = ev_reserve(VT_EV_SLAB_NEW, VT_P_SLAB_NEW_RET);
	if (!e)
		return 0;
	e->slab_new.slab = slab;
	e->slab_new.item_size = s.a0;
	e->slab_new.num_items = s.a1;
	ev_submit(e);
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(slab_free, __u64 slab)
{
	struct vt_event *e;

	if (!is_target())
		return 0;
	count_hit(VT_P_SLAB_FREE);
	e = ev_reserve(VT_EV_SLAB_FREE, VT_P_SLAB_FREE);
	if (!e)
		return 0;
	e->slab_free.slab = slab;
	ev_submit(e);
	hold_thread();
	return 0;
}

SEC("uretprobe")
int BPF_KRETPROBE(aio_start_ret, __u64 sys)
{
	struct vt_event *e;

	if (!is_target())
		return 0;
	count_hit(VT_P_AIO_START_RET);
	if (!sys)
		return 0;
	e = ev_reserve(VT_EV_AIO_START, VT_P_AIO_START_RET);
	if (!e)
		return 0;
	e->aio_start.sys = sys;
	ev_submit(e);
	hold_thread();
	return 0;
}

/* Entry/return pairs whose return re-reads a connection's diag record:
 * `conn` is stashed at entry because only then is it in a register. */
#define CONN_PROBE(name, entry_id, ret_id, conn_arg, changed)                 \
	SEC("uprobe")                                                         \
	int BPF_KPROBE(name##_entry, __u64 a1, __u64 a2, __u64 a3, __u64 a4) \
	{                                                                     \
		if (!is_target())                                             \
			return 0;                                             \
		count_hit(entry_id);                                          \
		stash_put(entry_id, conn_arg, 0);                             \
		return 0;                                                     \
	}                                                                     \
	SEC("uretprobe")                                                      \
	int BPF_KRETPROBE(name##_ret, __u64 rc)                               \
	{                                                                     \
		struct stash_val s;                                           \
		if (!is_target())                                             \
			return 0;                                             \
		count_hit(ret_id);                                            \
		if (stash_take(entry_id, &s) && (changed))                    \
			emit_conn(s.a0, ret_id);                              \
		return 0;                                                     \
	}

/* valk_conn_transition returns true only when it changed the state. */
CONN_PROBE(conn_transition, VT_P_CONN_TRANSITION_ENTRY,
	   VT_P_CONN_TRANSITION_RET, a1, (rc & 0xff))
CONN_PROBE(conn_init, VT_P_CONN_INIT_ENTRY, VT_P_CONN_INIT_RET, a1, 1)

/* libuv's uv_read_start: the runtime writes a new connection's ACTIVE diag
 * directly just before it starts reading; stream->data is the handle. */
SEC("uprobe")
int BPF_KPROBE(read_start, __u64 stream)
{
	if (!is_target())
		return 0;
	count_hit(VT_P_READ_START);
	emit_conn(read_u64(stream + off.uv_data), VT_P_READ_START);
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(owner_entry, __u64 sys, __u64 name)
{
	struct stash_key k = { (__u32)bpf_get_current_pid_tgid(),
			       VT_P_OWNER_ENTRY };
	struct stash_val v = { .a0 = sys };

	if (!is_target())
		return 0;
	count_hit(VT_P_OWNER_ENTRY);
	bpf_probe_read_user_str(v.name, sizeof(v.name), (void *)name);
	bpf_map_update_elem(&stash, &k, &v, BPF_ANY);
	return 0;
}

SEC("uretprobe")
int BPF_KRETPROBE(owner_ret, __u64 idx)
{
	struct stash_val s;
	struct vt_event *e;

	if (!is_target())
		return 0;
	count_hit(VT_P_OWNER_RET);
	if (!stash_take(VT_P_OWNER_ENTRY, &s))
		return 0;
	e = ev_reserve(VT_EV_OWNER, VT_P_OWNER_RET);
	if (!e)
		return 0;
	e->owner.sys = s.a0;
	e->owner.index = idx & 0xffff;
	__builtin_memcpy(e->owner.name, s.name, sizeof(e->owner.name));
	ev_submit(e);
	return 0;
}

/* Where a register of enum vt_reg is in struct pt_regs. */
static __always_inline __u32 reg_off(__u8 r)
{
	switch (r) {
	case VT_R_AX: return offsetof(struct pt_regs, ax);
	case VT_R_BX: return offsetof(struct pt_regs, bx);
	case VT_R_CX: return offsetof(struct pt_regs, cx);
	case VT_R_DX: return offsetof(struct pt_regs, dx);
	case VT_R_SI: return offsetof(struct pt_regs, si);
	case VT_R_DI: return offsetof(struct pt_regs, di);
	case VT_R_BP: return offsetof(struct pt_regs, bp);
	case VT_R_SP: return offsetof(struct pt_regs, sp);
	case VT_R_8: return offsetof(struct pt_regs, r8);
	case VT_R_9: return offsetof(struct pt_regs, r9);
	case VT_R_10: return offsetof(struct pt_regs, r10);
	case VT_R_11: return offsetof(struct pt_regs, r11);
	case VT_R_12: return offsetof(struct pt_regs, r12);
	case VT_R_13: return offsetof(struct pt_regs, r13);
	case VT_R_14: return offsetof(struct pt_regs, r14);
	default: return offsetof(struct pt_regs, r15);
	}
}

/* The context cannot be indexed by a variable: a copy on the stack can. */
static __always_inline __u64 reg_of(const struct pt_regs *regs, __u8 r)
{
	__u32 off = reg_off(r);

	if (off > sizeof(*regs) - sizeof(__u64))
		return 0;
	return *(const __u64 *)((const char *)regs + off);
}

#define X86_ZF (1u << 6)

/* On the jump after the head CAS: the slab and slot when the CAS took
 * (every failed attempt passes here too, and retries). */
static __always_inline bool cas_took(struct pt_regs *ctx, __u32 i,
				     __u64 *slab, __u64 *slot)
{
	struct pt_regs r;

	if (!!(ctx->flags & X86_ZF) != cas[i].zf_ok ||
	    bpf_probe_read_kernel(&r, sizeof(r), ctx))
		return false;
	*slab = reg_of(&r, cas[i].slab_reg) + (__s64)cas[i].slab_add;
	*slot = reg_of(&r, cas[i].tag_reg) & 0xffffffff;
	return true;
}

/* The slot is popped; its bitmap bit and version bump are just ahead.
 * peakUsed is not read here (a read less per acquire): where acquires are
 * probed at their CAS the collector reads every slab header each tick. */
SEC("uprobe")
int slab_pop(struct pt_regs *ctx)
{
	__u64 slab, slot;

	if (!is_target())
		return 0;
	count_hit(VT_P_ACQUIRE_POP);
	if (cas_took(ctx, 0, &slab, &slot))
		emit_op(VT_EV_ACQUIRE, VT_P_ACQUIRE_POP, slab, slot,
			read_u64(slab + off.slab_version) + 1);
	return 0;
}

/* The slot is pushed, its bit cleared and the version bumped before:
 * the version read now bounds nothing (0, see struct vt_ev_release). */
static __always_inline void push_event(struct pt_regs *ctx, __u32 probe,
				       __u32 i)
{
	__u64 slab, slot;

	if (!is_target())
		return;
	count_hit(probe);
	if (cas_took(ctx, i, &slab, &slot))
		emit_op(VT_EV_RELEASE, probe, slab, slot, 0);
}

SEC("uprobe")
int slab_push(struct pt_regs *ctx)
{
	push_event(ctx, VT_P_RELEASE_PUSH, 1);
	return 0;
}

SEC("uprobe")
int slab_push_ptr(struct pt_regs *ctx)
{
	push_event(ctx, VT_P_RELEASE_PTR_PUSH, 2);
	return 0;
}

/* Calibration: nothing but the trap, on valk-trace's own functions whose
 * first instruction is of each class (userspace/probe/vt_calib.c). */
SEC("uprobe")
int calib(struct pt_regs *ctx)
{
	return 0;
}
