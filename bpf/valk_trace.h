/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Event records shared by valk_trace.bpf.c and the userspace collector. */
#ifndef VALK_TRACE_H
#define VALK_TRACE_H

#define VT_NAME_LEN 32
#define VT_STACK_DEPTH 32		/* frames kept per acquire stack */
#define VT_STACK_MAP_ENTRIES 16384	/* distinct acquire stacks */
#define VT_USTACK_BYTES 8192	/* user stack copied for DWARF unwinding */
#define VT_USTACK_RING (1 << 25)	/* their own ring: a full one loses a
					 * stack, never an event */
#define VT_USTACK_TOPS 4096	/* threads whose stack's end is known */
#define VT_USTACK_RING_FP (1 << 20)	/* with frame pointers: copies of
					 * the walks the stack map refused */

enum vt_event_type {
	VT_EV_ACQUIRE = 1,	/* .acquire */
	VT_EV_ACQUIRE_FAIL = 2,	/* .acquire_fail: acquire returned NULL */
	VT_EV_RELEASE = 3,	/* .release */
	VT_EV_SLAB_NEW = 4,	/* .slab_new */
	VT_EV_SLAB_FREE = 5,	/* .slab_free */
	VT_EV_AIO_START = 6,	/* .aio_start */
	VT_EV_CONN = 7,		/* .conn */
	VT_EV_OWNER = 8,	/* .owner */
};

/* Every probe, in the order of its id (recordings index hits by id):
 * X(id, kind, function, site), kind uprobe or uretprobe, site "" at the
 * function's entry or return and ":pop"/":push" at its one-trap site
 * inside; R(id, kind) for an id retired, which keeps its place. The enum
 * below, the probe layer's attach table and the probes' names on the wire
 * ("uprobe:valk_slab_aquire:pop") all come from this one list. */
#define VT_PROBES(X, R)                                                        \
	X(ACQUIRE_ENTRY, uprobe, "valk_slab_aquire", "")                       \
	X(ACQUIRE_RET, uretprobe, "valk_slab_aquire", "")                      \
	X(RELEASE, uprobe, "valk_slab_release", "")                            \
	X(SLAB_NEW_ENTRY, uprobe, "valk_slab_new", "")                         \
	X(SLAB_NEW_RET, uretprobe, "valk_slab_new", "")                        \
	X(SLAB_FREE, uprobe, "valk_slab_free", "")                             \
	X(AIO_START_RET, uretprobe, "valk_aio_start_with_config", "")          \
	X(CONN_TRANSITION_ENTRY, uprobe, "valk_conn_transition", "")           \
	X(CONN_TRANSITION_RET, uretprobe, "valk_conn_transition", "")          \
	X(CONN_INIT_ENTRY, uprobe, "__valk_conn_set_init_state", "")           \
	X(CONN_INIT_RET, uretprobe, "__valk_conn_set_init_state", "")          \
	X(OWNER_ENTRY, uprobe, "valk_owner_register", "")                      \
	X(OWNER_RET, uretprobe, "valk_owner_register", "")                     \
	/* the HTTP/2 stream callbacks: their connections are read every      \
	 * tick instead */                                                     \
	R(BEGIN_HEADERS_ENTRY, uprobe)                                         \
	R(BEGIN_HEADERS_RET, uretprobe)                                        \
	R(STREAM_CLOSE_ENTRY, uprobe)                                          \
	R(STREAM_CLOSE_RET, uretprobe)                                         \
	X(RELEASE_PTR, uprobe, "valk_slab_release_ptr", "")                    \
	X(READ_START, uprobe, "uv_read_start", "")                             \
	/* the one-trap sites inside the slab operations (target/vt_cas.h),   \
	 * in place of the entry/return pair and the entry probes above */    \
	X(ACQUIRE_POP, uprobe, "valk_slab_aquire", ":pop")                     \
	X(RELEASE_PUSH, uprobe, "valk_slab_release", ":push")                  \
	X(RELEASE_PTR_PUSH, uprobe, "valk_slab_release_ptr", ":push")

/* Which probe produced an event; also the index of its hit counter. */
#define VT_PROBE_ID(id, ...) VT_P_##id,
enum vt_probe_id {
	VT_PROBES(VT_PROBE_ID, VT_PROBE_ID)
	VT_P_COUNT,
};
#undef VT_PROBE_ID

/* General registers as struct vt_bpf_cas names them. */
enum vt_reg { VT_R_AX, VT_R_BX, VT_R_CX, VT_R_DX, VT_R_SI, VT_R_DI, VT_R_BP,
	      VT_R_SP, VT_R_8, VT_R_9, VT_R_10, VT_R_11, VT_R_12, VT_R_13,
	      VT_R_14, VT_R_15, VT_R_COUNT };

/* What a probe on the jump after a slab's head CAS reads: the slab is
 * register slab_reg + slab_add, the slot the low 32 bits of tag_reg, and
 * the CAS took when the zero flag equals zf_ok. */
struct vt_bpf_cas {
	__s32 slab_add;
	__u8 slab_reg;		/* enum vt_reg */
	__u8 tag_reg;
	__u8 zf_ok;
	__u8 pad;
};

/* Addresses are the target's. A bitmap_version is the slab's change
 * counter as the event saw it: the model uses it to tell an event already
 * in a memory image from one that came after. */
struct vt_ev_acquire {
	__u64 slab;		/* valk_slab_t * */
	__u64 slot;		/* item->handle */
	__u64 version;		/* bitmap_version after the acquire's bump:
				 * read after it (return probe), or before
				 * it + 1 (VT_P_ACQUIRE_POP) */
	__u64 peak;		/* peakUsed; 0 from VT_P_ACQUIRE_POP, whose
				 * slab headers are read each tick */
	__u32 stack;		/* 1 + its call stack's id, 0: none captured */
	__u32 ustack;		/* its struct vt_ustack's seq, 0: none */
};

/* The caller's registers and the top of its stack at an acquire's return,
 * for code without frame pointers: unwound in userspace with the DWARF
 * call-frame information, as `perf --call-graph dwarf` does. */
enum { VT_UR_RIP, VT_UR_RSP, VT_UR_RBP, VT_UR_RBX, VT_UR_R12, VT_UR_R13,
       VT_UR_R14, VT_UR_R15, VT_UR_COUNT };

/* The copy ends at the thread's outermost frame once the collector has
 * unwound one of its stacks to there (ustack_tops: tid -> that address,
 * VT_US_TOP set), else it is VT_USTACK_BYTES long. A record is as long
 * as its copy: offsetof(struct vt_ustack, data) + len bytes. */
enum { VT_US_TOP = 1 };

struct vt_ustack {
	__u32 seq;		/* the acquire event's `ustack` */
	__u32 len;		/* bytes of data copied from rsp up */
	__u32 tid;		/* the acquiring thread */
	__u32 flags;		/* VT_US_* */
	__u64 regs[VT_UR_COUNT];
	__u8 data[VT_USTACK_BYTES];
};

struct vt_ev_acquire_fail {
	__u64 slab;
};

struct vt_ev_release {
	__u64 slab;
	__u64 slot;
	__u64 version;		/* bitmap_version after the release's bump, at
				 * most: read before it, + 1; 0 where read
				 * after it (no lower bound) */
};

struct vt_ev_slab_new {
	__u64 slab;
	__u64 item_size;
	__u64 num_items;
};

struct vt_ev_slab_free {
	__u64 slab;
};

struct vt_ev_aio_start {
	__u64 sys;		/* valk_aio_system_t * */
};

/* A handle's connection record, read as the probe fired; or, with diag
 * VT_DIAG_UNREAD (in recordings of the retired stream-callback probes), a
 * handle a function was about to change: read from memory at the next
 * drains. */
#define VT_DIAG_UNREAD 0xffffffffu

struct vt_ev_conn {
	__u64 handle;		/* valk_aio_handle_t * (the slot's payload) */
	__u32 kind;		/* handle kind word */
	__u32 diag;		/* http.diag.state, or VT_DIAG_UNREAD */
	__u16 owner;		/* http.diag.owner_idx */
};

struct vt_ev_owner {
	__u64 sys;		/* valk_aio_system_t * */
	__u32 index;		/* 65535: the registry was full */
	char name[VT_NAME_LEN];
};

struct vt_event {
	__u64 ts_ns;		/* bpf_ktime_get_ns(): CLOCK_MONOTONIC */
	__u32 type;		/* enum vt_event_type: which member is set */
	__u32 tid;
	__u16 probe;		/* enum vt_probe_id */
	union {
		struct vt_ev_acquire acquire;
		struct vt_ev_acquire_fail acquire_fail;
		struct vt_ev_release release;
		struct vt_ev_slab_new slab_new;
		struct vt_ev_slab_free slab_free;
		struct vt_ev_aio_start aio_start;
		struct vt_ev_conn conn;
		struct vt_ev_owner owner;
	};
};

/* The record of the slab operations probed by one trap (the sites after
 * the head CAS and the release entries), the most frequent events by far:
 * the fields of struct vt_ev_acquire or vt_ev_release those sites fill, in
 * 40 bytes instead of struct vt_event's 72, so the ring holds 1.7 times as
 * many of them. The collector reads it as the struct vt_event it stands
 * for (a record's length tells which). */
struct vt_event_op {
	__u64 ts_ns;
	__u64 slab;
	__u64 slot;
	__u64 version;
	__u32 tid;
	__u16 type;		/* VT_EV_ACQUIRE or VT_EV_RELEASE */
	__u16 probe;
};

/* Offsets the BPF side needs, resolved from the target's DWARF and written
 * into .rodata before load. */
struct vt_bpf_offsets {
	__u32 item_handle;	/* valk_slab_item_t.handle */
	__u32 item_data;	/* valk_slab_item_t.data */
	__u32 slab_peak;	/* valk_slab_t.peakUsed */
	__u32 slab_version;	/* valk_slab_t.bitmap_version */
	__u32 slab_num_free;	/* valk_slab_t.numFree */
	__u32 handle_kind;	/* valk_aio_handle_t.kind */
	__u32 diag_state;	/* valk_aio_handle_t.http.diag.state */
	__u32 diag_owner;	/* valk_aio_handle_t.http.diag.owner_idx */
	__u32 uv_data;		/* uv_handle_t.data (0 in every libuv) */
};

#endif /* VALK_TRACE_H */
