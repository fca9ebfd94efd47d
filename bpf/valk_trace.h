/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Event records shared by valk_trace.bpf.c and the userspace collector. */
#ifndef VALK_TRACE_H
#define VALK_TRACE_H

#define VT_NAME_LEN 32

enum vt_event_type {
	VT_EV_ACQUIRE = 1,	/* slab, slot, ptr=item; a=bitmap_version, b=peakUsed */
	VT_EV_ACQUIRE_FAIL = 2,	/* slab: acquire returned NULL (overflow) */
	VT_EV_RELEASE = 3,	/* slab, slot, ptr=item; a=bitmap_version after it */
	VT_EV_SLAB_NEW = 4,	/* slab; a=itemSize, b=numItems */
	VT_EV_SLAB_FREE = 5,	/* slab */
	VT_EV_AIO_START = 6,	/* ptr=valk_aio_system_t * */
	VT_EV_CONN = 7,		/* ptr=handle payload; slot; kind, diag, owner */
	VT_EV_OWNER = 8,	/* ptr=sys; a=index (65535: registry full); name */
};

/* Which probe produced an event; also the index of its hit counter. */
enum vt_probe_id {
	VT_P_ACQUIRE_ENTRY,
	VT_P_ACQUIRE_RET,
	VT_P_RELEASE,
	VT_P_SLAB_NEW_ENTRY,
	VT_P_SLAB_NEW_RET,
	VT_P_SLAB_FREE,
	VT_P_AIO_START_RET,
	VT_P_CONN_TRANSITION_ENTRY,
	VT_P_CONN_TRANSITION_RET,
	VT_P_CONN_INIT_ENTRY,
	VT_P_CONN_INIT_RET,
	VT_P_OWNER_ENTRY,
	VT_P_OWNER_RET,
	VT_P_BEGIN_HEADERS_ENTRY,
	VT_P_BEGIN_HEADERS_RET,
	VT_P_STREAM_CLOSE_ENTRY,
	VT_P_STREAM_CLOSE_RET,
	VT_P_RELEASE_PTR,
	VT_P_READ_START,
	VT_P_COUNT,
};

struct vt_event {
	__u64 ts_ns;		/* bpf_ktime_get_ns(): CLOCK_MONOTONIC */
	__u64 slab;		/* slab header address in the target */
	__u64 ptr;		/* item, handle payload or system address */
	__u64 slot;		/* slot index (item->handle) when known */
	__u64 a;
	__u64 b;
	__u32 type;		/* enum vt_event_type */
	__u32 tid;
	__u32 kind;		/* handle kind word read at probe time */
	__u32 diag;		/* http.diag.state read at probe time */
	__u16 owner;		/* http.diag.owner_idx read at probe time */
	__u16 probe;		/* enum vt_probe_id */
	char name[VT_NAME_LEN];
};

/* Offsets the BPF side needs, resolved from the target's DWARF and written
 * into .rodata before load. */
struct vt_bpf_offsets {
	__u32 item_handle;	/* valk_slab_item_t.handle */
	__u32 item_data;	/* valk_slab_item_t.data */
	__u32 slab_peak;	/* valk_slab_t.peakUsed */
	__u32 slab_version;	/* valk_slab_t.bitmap_version */
	__u32 handle_kind;	/* valk_aio_handle_t.kind */
	__u32 diag_state;	/* valk_aio_handle_t.http.diag.state */
	__u32 diag_owner;	/* valk_aio_handle_t.http.diag.owner_idx */
	__u32 uv_data;		/* uv_handle_t.data (0 in every libuv) */
};

#endif /* VALK_TRACE_H */
