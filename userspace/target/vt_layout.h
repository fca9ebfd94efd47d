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

/*
 * The figures the runtime's own dashboard shows: its metrics registry
 * (g_metrics), GC cycle figures, interpreter counters, and the AIO
 * system's own metric bundles (the pointers of valk_aio_metrics_v2_t and
 * valk_aio_system_stats_v2_t into the registry). Optional: a runtime
 * without one of them is still traced, and what it lacks is left out of the
 * documents (VT_LAYOUT_ABSENT).
 */
#define VT_LAYOUT_FIGURE_FIELDS(X)                                           \
	X(REG_SIZEOF, "valk_metrics_registry_t", "")                         \
	X(REG_COUNTERS, "valk_metrics_registry_t", "counters")               \
	X(REG_COUNTER_COUNT, "valk_metrics_registry_t", "counter_count")     \
	X(REG_COUNTER_FREE, "valk_metrics_registry_t", "counter_free.head")  \
	X(REG_COUNTER_NEXT, "valk_metrics_registry_t", "counter_next_free")  \
	X(REG_GAUGES, "valk_metrics_registry_t", "gauges")                   \
	X(REG_GAUGE_COUNT, "valk_metrics_registry_t", "gauge_count")         \
	X(REG_GAUGE_FREE, "valk_metrics_registry_t", "gauge_free.head")      \
	X(REG_GAUGE_NEXT, "valk_metrics_registry_t", "gauge_next_free")      \
	X(REG_HISTOGRAMS, "valk_metrics_registry_t", "histograms")           \
	X(REG_HISTOGRAM_COUNT, "valk_metrics_registry_t", "histogram_count") \
	X(REG_HISTOGRAM_FREE, "valk_metrics_registry_t", "histogram_free.head") \
	X(REG_HISTOGRAM_NEXT, "valk_metrics_registry_t", "histogram_next_free") \
	X(REG_SUMMARIES, "valk_metrics_registry_t", "summaries")             \
	X(REG_SUMMARY_COUNT, "valk_metrics_registry_t", "summary_count")     \
	X(REG_SUMMARY_FREE, "valk_metrics_registry_t", "summary_free.head")  \
	X(REG_SUMMARY_NEXT, "valk_metrics_registry_t", "summary_next_free")  \
	X(REG_POOL_COUNT, "valk_metrics_registry_t", "string_pool_count")    \
	X(REG_EVICTIONS, "valk_metrics_registry_t", "evictions_total")       \
	X(REG_EVICT_COUNTERS, "valk_metrics_registry_t", "evictions_counters") \
	X(REG_EVICT_GAUGES, "valk_metrics_registry_t", "evictions_gauges")   \
	X(REG_EVICT_HISTOGRAMS, "valk_metrics_registry_t", "evictions_histograms") \
	X(REG_EVICT_SUMMARIES, "valk_metrics_registry_t", "evictions_summaries") \
	X(REG_START, "valk_metrics_registry_t", "start_time_us")             \
	X(COUNTER_SIZEOF, "valk_counter_v2_t", "")                           \
	X(COUNTER_NAME, "valk_counter_v2_t", "name")                         \
	X(COUNTER_LABELS, "valk_counter_v2_t", "labels")                     \
	X(COUNTER_VALUE, "valk_counter_v2_t", "value")                       \
	X(COUNTER_ACTIVE, "valk_counter_v2_t", "active")                     \
	X(GAUGE_SIZEOF, "valk_gauge_v2_t", "")                               \
	X(GAUGE_NAME, "valk_gauge_v2_t", "name")                             \
	X(GAUGE_LABELS, "valk_gauge_v2_t", "labels")                         \
	X(GAUGE_VALUE, "valk_gauge_v2_t", "value")                           \
	X(GAUGE_ACTIVE, "valk_gauge_v2_t", "active")                         \
	X(HIST_SIZEOF, "valk_histogram_v2_t", "")                            \
	X(HIST_NAME, "valk_histogram_v2_t", "name")                          \
	X(HIST_LABELS, "valk_histogram_v2_t", "labels")                      \
	X(HIST_BOUNDS, "valk_histogram_v2_t", "bucket_bounds")               \
	X(HIST_NBOUNDS, "valk_histogram_v2_t", "bucket_count")               \
	X(HIST_BUCKETS, "valk_histogram_v2_t", "buckets")                    \
	X(HIST_COUNT, "valk_histogram_v2_t", "count")                        \
	X(HIST_SUM, "valk_histogram_v2_t", "sum_micros")                     \
	X(HIST_ACTIVE, "valk_histogram_v2_t", "active")                      \
	X(SUMMARY_SIZEOF, "valk_summary_v2_t", "")                           \
	X(SUMMARY_ACTIVE, "valk_summary_v2_t", "active")                     \
	X(LABELSET_LABELS, "valk_label_set_v2_t", "labels")                  \
	X(LABELSET_COUNT, "valk_label_set_v2_t", "count")                    \
	X(LABEL_SIZEOF, "valk_label_v2_t", "")                               \
	X(LABEL_KEY, "valk_label_v2_t", "key")                               \
	X(LABEL_VALUE, "valk_label_v2_t", "value")                           \
	X(GCHEAP_SIZEOF, "valk_gc_heap_t", "")                               \
	X(GC_CYCLES, "valk_gc_heap_t", "runtime_metrics.cycles_total")       \
	X(GC_PAUSE_TOTAL, "valk_gc_heap_t", "runtime_metrics.pause_us_total") \
	X(GC_PAUSE_MAX, "valk_gc_heap_t", "runtime_metrics.pause_us_max")    \
	X(GC_RECLAIMED, "valk_gc_heap_t", "runtime_metrics.reclaimed_bytes_total") \
	X(GC_ALLOCATED, "valk_gc_heap_t", "runtime_metrics.allocated_bytes_total") \
	X(GC_LAST_BEFORE, "valk_gc_heap_t", "runtime_metrics.last_heap_before_gc") \
	X(GC_LAST_RECLAIMED, "valk_gc_heap_t", "runtime_metrics.last_reclaimed") \
	X(GC_SURVIVAL_0, "valk_gc_heap_t", "runtime_metrics.survival_gen_0") \
	X(GC_SURVIVAL_1_5, "valk_gc_heap_t", "runtime_metrics.survival_gen_1_5") \
	X(GC_SURVIVAL_6_20, "valk_gc_heap_t", "runtime_metrics.survival_gen_6_20") \
	X(GC_SURVIVAL_21, "valk_gc_heap_t", "runtime_metrics.survival_gen_21_plus") \
	X(GC_PAUSE_0_1, "valk_gc_heap_t", "runtime_metrics.pause_0_1ms")     \
	X(GC_PAUSE_1_5, "valk_gc_heap_t", "runtime_metrics.pause_1_5ms")     \
	X(GC_PAUSE_5_10, "valk_gc_heap_t", "runtime_metrics.pause_5_10ms")   \
	X(GC_PAUSE_10_16, "valk_gc_heap_t", "runtime_metrics.pause_10_16ms") \
	X(GC_PAUSE_16, "valk_gc_heap_t", "runtime_metrics.pause_16ms_plus")  \
	X(EVAL_SIZEOF, "valk_eval_metrics_t", "")                            \
	X(EVAL_EVALS, "valk_eval_metrics_t", "evals_total")                  \
	X(EVAL_FUNCTION_CALLS, "valk_eval_metrics_t", "function_calls")      \
	X(EVAL_BUILTIN_CALLS, "valk_eval_metrics_t", "builtin_calls")        \
	X(EVAL_STACK_MAX, "valk_eval_metrics_t", "stack_depth_max")          \
	X(EVAL_CLOSURES, "valk_eval_metrics_t", "closures_created")          \
	X(EVAL_LOOKUPS, "valk_eval_metrics_t", "env_lookups")                \
	X(MSTATE_SIZEOF, "valk_aio_metrics_state_t", "")                     \
	X(MSTATE_METRICS, "valk_aio_metrics_state_t", "metrics_v2")          \
	X(MSTATE_STATS, "valk_aio_metrics_state_t", "system_stats_v2")       \
	X(AIOM_SIZEOF, "valk_aio_metrics_v2_t", "")                          \
	X(AIOM_CONN_FAILED, "valk_aio_metrics_v2_t", "connections_failed")   \
	X(STATS_SIZEOF, "valk_aio_system_stats_v2_t", "")                    \
	X(STATS_PENDING_REQ, "valk_aio_system_stats_v2_t", "pending_requests") \
	X(STATS_PENDING_RESP, "valk_aio_system_stats_v2_t", "pending_responses") \
	X(STATS_QUEUE_CAP, "valk_aio_system_stats_v2_t", "queue_capacity")

#define VT_LAYOUT_ABSENT UINT64_MAX

enum vt_layout_id {
#define VT_LAYOUT_ENUM(id, type, path) VT_L_##id,
	VT_LAYOUT_FIELDS(VT_LAYOUT_ENUM)
	VT_LAYOUT_FIGURE_FIELDS(VT_LAYOUT_ENUM)
#undef VT_LAYOUT_ENUM
	VT_L_COUNT
};
/* Ids from VT_L_REQUIRED on are optional. */
enum {
#define VT_LAYOUT_ENUM(id, type, path) VT_LR_##id,
	VT_LAYOUT_FIELDS(VT_LAYOUT_ENUM)
#undef VT_LAYOUT_ENUM
	VT_L_REQUIRED
};

/* Array element counts, from DWARF array bounds. */
#define VT_LAYOUT_COUNTS(X)                                                  \
	X(N_THREADS, "valk_system_t", "threads")                             \
	X(N_SUBSYSTEMS, "valk_system_t", "subsystems")                       \
	X(N_OWNERS, "valk_owner_registry_t", "entries")                      \
	X(N_GC_CLASSES, "valk_gc_heap_t", "classes")                         \
	X(OWNER_NAME_LEN, "valk_owner_entry_t", "name")

#define VT_LAYOUT_FIGURE_COUNTS(X)                                           \
	X(N_COUNTERS, "valk_metrics_registry_t", "counters")                 \
	X(N_GAUGES, "valk_metrics_registry_t", "gauges")                     \
	X(N_HISTOGRAMS, "valk_metrics_registry_t", "histograms")             \
	X(N_SUMMARIES, "valk_metrics_registry_t", "summaries")               \
	X(N_STRING_POOL, "valk_metrics_registry_t", "string_pool")           \
	X(N_LABELS, "valk_label_set_v2_t", "labels")                         \
	X(N_HIST_BOUNDS, "valk_histogram_v2_t", "bucket_bounds")

enum vt_layout_count_id {
#define VT_LAYOUT_ENUM(id, type, path) VT_LC_##id,
	VT_LAYOUT_COUNTS(VT_LAYOUT_ENUM)
	VT_LAYOUT_FIGURE_COUNTS(VT_LAYOUT_ENUM)
#undef VT_LAYOUT_ENUM
	VT_LC_COUNT
};
enum {
#define VT_LAYOUT_ENUM(id, type, path) VT_LCR_##id,
	VT_LAYOUT_COUNTS(VT_LAYOUT_ENUM)
#undef VT_LAYOUT_ENUM
	VT_LC_REQUIRED
};

/* Symbols whose addresses (st_value, link-time) the tracer needs. */
#define VT_LAYOUT_SYMBOLS(X)                                                 \
	X(VALK_SYS, "valk_sys")                                              \
	X(AIO_STOP, "valk_aio_stop")

/* The library byte counters are file-static: in .symtab only. */
#define VT_LAYOUT_FIGURE_SYMBOLS(X)                                          \
	X(G_METRICS, "g_metrics")                                            \
	X(G_EVAL_METRICS, "g_eval_metrics")                                  \
	X(SSL_BYTES, "__ssl_bytes_used")                                     \
	X(NGHTTP2_BYTES, "__nghttp2_bytes_used")                             \
	X(LIBUV_BYTES, "__libuv_bytes_used")

enum vt_layout_sym_id {
#define VT_LAYOUT_ENUM(id, name) VT_LS_##id,
	VT_LAYOUT_SYMBOLS(VT_LAYOUT_ENUM)
	VT_LAYOUT_FIGURE_SYMBOLS(VT_LAYOUT_ENUM)
#undef VT_LAYOUT_ENUM
	VT_LS_COUNT
};
enum {
#define VT_LAYOUT_ENUM(id, name) VT_LSR_##id,
	VT_LAYOUT_SYMBOLS(VT_LAYOUT_ENUM)
#undef VT_LAYOUT_ENUM
	VT_LS_REQUIRED
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
	/* VT_LAYOUT_ABSENT for an optional one the runtime lacks */
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
/* The same in two steps, for a parse in another process: the file opened
 * (NULL with a one-line reason), then parsed from f (path for messages). */
FILE *vt_layout_open(const char *path, char *err, size_t errlen);
int vt_layout_parse_json(FILE *f, const char *path, struct vt_layout *out,
			 char *err, size_t errlen);
/* Every check a parse makes of its result: strings terminated, the
 * build-id hex, counts, offsets and widths within their structs. 0, or -1
 * with a one-line reason. */
int vt_layout_valid(const struct vt_layout *l, char *err, size_t errlen);
/* 0 when the layout was made for that build-id; else -1 with a message
 * naming both ids. */
int vt_layout_check_build_id(const struct vt_layout *l, const char *build_id,
			     char *err, size_t errlen);
/* Names for messages and JSON keys: "valk_slab_t.numFree", and
 * "sizeof(valk_slab_t)" for sizes. */
const char *vt_layout_field_name(enum vt_layout_id id, char *buf, size_t len);

#endif /* VT_LAYOUT_H */
