/* vt_layout: the target's struct layout, resolved from its own DWARF. */
#ifndef VT_LAYOUT_H
#define VT_LAYOUT_H

#include <limits.h>
#include <stdint.h>
#include <stdio.h>

/*
 * Every offset or size the tracer uses. X(ID, type name, member path):
 * an empty path means sizeof(type); a dotted path walks nested members
 * (anonymous structs/unions included). Type names are typedef or struct
 * names as the runtime spells them.
 */
#define VT_LAYOUT_FIELDS(X)                                                  \
	X(SLAB_SIZEOF, "valk_slab_t", "")                                    \
	X(SLAB_ITEM_SIZE, "valk_slab_t", "itemSize")                         \
	X(SLAB_NUM_ITEMS, "valk_slab_t", "numItems")                         \
	X(SLAB_NUM_FREE, "valk_slab_t", "numFree")                           \
	X(SLAB_PEAK, "valk_slab_t", "peakUsed")                              \
	X(SLAB_OVERFLOW, "valk_slab_t", "overflowCount")                     \
	X(SLAB_ACQUIRES, "valk_slab_t", "total_acquires")                    \
	X(SLAB_RELEASES, "valk_slab_t", "total_releases")                    \
	X(SLAB_VERSION, "valk_slab_t", "bitmap_version")                     \
	X(SLAB_BITMAP, "valk_slab_t", "usage_bitmap")                        \
	X(SLAB_HEAP, "valk_slab_t", "heap")                                  \
	X(ITEM_HANDLE, "valk_slab_item_t", "handle")                         \
	X(ITEM_DATA, "valk_slab_item_t", "data")                             \
	X(HANDLE_SIZEOF, "valk_aio_handle_t", "")                            \
	X(HANDLE_KIND, "valk_aio_handle_t", "kind")                          \
	X(HANDLE_DIAG_STATE, "valk_aio_handle_t", "http.diag.state")         \
	X(HANDLE_DIAG_OWNER, "valk_aio_handle_t", "http.diag.owner_idx")     \
	X(HANDLE_DIAG_TIME, "valk_aio_handle_t", "http.diag.state_change_time") \
	X(HANDLE_ARENA_HEAD, "valk_aio_handle_t", "http.active_arena_head")  \
	X(SYS_TCP_BUFFERS, "valk_aio_system_t", "tcpBufferSlab")             \
	X(SYS_HANDLES, "valk_aio_system_t", "handleSlab")                    \
	X(SYS_STREAM_ARENAS, "valk_aio_system_t", "httpStreamArenas")        \
	X(SYS_HTTP_SERVERS, "valk_aio_system_t", "httpServers")              \
	X(SYS_HTTP_CLIENTS, "valk_aio_system_t", "httpClients")              \
	X(SYS_METRICS_STATE, "valk_aio_system_t", "metrics_state")           \
	X(SYS_OWNERS, "valk_aio_system_t", "owner_registry")                 \
	X(OWNERS_ENTRIES, "valk_owner_registry_t", "entries")                \
	X(OWNERS_COUNT, "valk_owner_registry_t", "count")                    \
	X(OWNER_SIZEOF, "valk_owner_entry_t", "")                            \
	X(OWNER_NAME, "valk_owner_entry_t", "name")                          \
	X(METRICS_SCRATCH, "valk_aio_metrics_state_t", "scratch_arena")      \
	X(VSYS_HEAP, "valk_system_t", "heap")                                \
	X(VSYS_THREADS, "valk_system_t", "threads")                          \
	X(VSYS_SUBSYSTEMS, "valk_system_t", "subsystems")                    \
	X(VSYS_SUBSYSTEM_COUNT, "valk_system_t", "subsystem_count")          \
	X(THREAD_SIZEOF, "valk_gc_thread_info_t", "")                        \
	X(THREAD_CTX, "valk_gc_thread_info_t", "ctx")                        \
	X(THREAD_ACTIVE, "valk_gc_thread_info_t", "active")                  \
	X(SUBSYS_SIZEOF, "valk_subsystem_t", "")                             \
	X(SUBSYS_STOP, "valk_subsystem_t", "stop")                           \
	X(SUBSYS_CTX, "valk_subsystem_t", "ctx")                             \
	X(TCTX_SCRATCH, "valk_thread_context_t", "scratch")                  \
	X(ARENA_CAPACITY, "valk_mem_arena_t", "capacity")                    \
	X(ARENA_OFFSET, "valk_mem_arena_t", "offset")                        \
	X(ARENA_HWM, "valk_mem_arena_t", "stats.high_water_mark")            \
	X(ARENA_OVERFLOWS, "valk_mem_arena_t", "stats.overflow_fallbacks")   \
	X(ARENA_OVERFLOW_BYTES, "valk_mem_arena_t", "stats.overflow_bytes")  \
	X(ARENA_HEAP, "valk_mem_arena_t", "heap")                            \
	X(GCHEAP_CLASSES, "valk_gc_heap_t", "classes")                       \
	X(GCHEAP_LARGE_BYTES, "valk_gc_heap_t", "large_object_bytes")        \
	X(GCHEAP_HARD_LIMIT, "valk_gc_heap_t", "hard_limit")                 \
	X(PAGELIST_SIZEOF, "valk_gc_page_list_t", "")                        \
	X(PAGELIST_TOTAL, "valk_gc_page_list_t", "total_slots")              \
	X(PAGELIST_USED, "valk_gc_page_list_t", "used_slots")                \
	X(PAGELIST_SLOT_SIZE, "valk_gc_page_list_t", "slot_size")

enum vt_layout_id {
#define VT_LAYOUT_ENUM(id, type, path) VT_L_##id,
	VT_LAYOUT_FIELDS(VT_LAYOUT_ENUM)
#undef VT_LAYOUT_ENUM
	VT_L_COUNT
};

/* Array element counts, from DWARF array bounds. */
#define VT_LAYOUT_COUNTS(X)                                                  \
	X(N_THREADS, "valk_system_t", "threads")                             \
	X(N_SUBSYSTEMS, "valk_system_t", "subsystems")                       \
	X(N_OWNERS, "valk_owner_registry_t", "entries")                      \
	X(N_GC_CLASSES, "valk_gc_heap_t", "classes")                         \
	X(OWNER_NAME_LEN, "valk_owner_entry_t", "name")

enum vt_layout_count_id {
#define VT_LAYOUT_ENUM(id, type, path) VT_LC_##id,
	VT_LAYOUT_COUNTS(VT_LAYOUT_ENUM)
#undef VT_LAYOUT_ENUM
	VT_LC_COUNT
};

/* Symbols whose addresses (st_value, link-time) the tracer needs. */
#define VT_LAYOUT_SYMBOLS(X)                                                 \
	X(VALK_SYS, "valk_sys")                                              \
	X(AIO_STOP, "valk_aio_stop")

enum vt_layout_sym_id {
#define VT_LAYOUT_ENUM(id, name) VT_LS_##id,
	VT_LAYOUT_SYMBOLS(VT_LAYOUT_ENUM)
#undef VT_LAYOUT_ENUM
	VT_LS_COUNT
};

/* The tables the X-macros above describe, in id order. */
struct vt_layout_spec {
	const char *type, *path;
};
extern const struct vt_layout_spec vt_layout_fields[VT_L_COUNT];
extern const struct vt_layout_spec vt_layout_counts[VT_LC_COUNT];
extern const char *const vt_layout_symbols[VT_LS_COUNT];

struct vt_layout {
	char object[PATH_MAX];		/* the file it was resolved from */
	char build_id[65];		/* lower-case hex of NT_GNU_BUILD_ID */
	uint64_t off[VT_L_COUNT];	/* byte offsets / sizes */
	uint64_t count[VT_LC_COUNT];	/* array lengths */
	uint64_t sym[VT_LS_COUNT];	/* symbol st_value in the object */
	/* Whether valk_slab_release_ptr calls valk_slab_release (1) or has
	 * it inlined (0): decides which one is probed for releases. */
	int release_ptr_calls_release;
};

/* Resolve the layout of an ELF object from its DWARF (libdw).
 * Returns 0, or -1 with a one-line reason in err. */
int vt_layout_from_elf(const char *path, struct vt_layout *out,
		       char *err, size_t errlen);
/* JSON form, as printed by `valk-trace layout`. */
int vt_layout_write_json(const struct vt_layout *l, FILE *f);
int vt_layout_read_json(const char *path, struct vt_layout *out,
			char *err, size_t errlen);
/* 0 when the layout was made for that build-id; else -1 with a message
 * naming both ids. */
int vt_layout_check_build_id(const struct vt_layout *l, const char *build_id,
			     char *err, size_t errlen);
/* Names for messages and JSON keys: "valk_slab_t.numFree", and
 * "sizeof(valk_slab_t)" for sizes. */
const char *vt_layout_field_name(enum vt_layout_id id, char *buf, size_t len);

#endif /* VT_LAYOUT_H */
