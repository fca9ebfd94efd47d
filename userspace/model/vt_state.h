/* vt_state: the pure memory-state model of one traced process.
 *
 * Bootstrap images and events in, per-slot state out. Knows nothing of BPF,
 * sockets or /proc: everything it learns arrives through these calls, so a
 * recorded event stream replays to the same state. Times are CLOCK_MONOTONIC
 * milliseconds, the clock the runtime's diag timestamps use. */
#ifndef VT_STATE_H
#define VT_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/types.h>

#include "bpf/valk_trace.h"

enum vt_slab_kind {
	VT_SLAB_TCP_BUFFERS,
	VT_SLAB_HANDLES,
	VT_SLAB_STREAM_ARENAS,
	VT_SLAB_HTTP_SERVERS,
	VT_SLAB_HTTP_CLIENTS,
	VT_SLAB_KINDS,
};

/* Handle kinds (the runtime's handle_kind_t) and diag states. */
enum { VT_HK_EMPTY, VT_HK_TCP, VT_HK_TASK, VT_HK_TIMER, VT_HK_HTTP_CONN };
enum { VT_DIAG_FREE, VT_DIAG_CONNECTING, VT_DIAG_ACTIVE, VT_DIAG_IDLE,
       VT_DIAG_CLOSING };

/* The runtime's slot geometry and bitmap, one rule each: items are
 * rounded up to 64 bytes (valk_slab_item_stride); bit i of the bitmap, LSB
 * first, is slot i, set when in use. */
static inline uint64_t vt_slab_stride(uint64_t data_off, uint64_t item_size)
{
	return (data_off + item_size + 63) & ~63ULL;
}

static inline bool vt_slab_bit(const uint8_t *bm, uint64_t i)
{
	return bm[i / 8] >> (i % 8) & 1;
}

#define VT_OWNER_NONE 0xffff
#define VT_MAX_SYSTEMS 16	/* valk_system_t.subsystems[] */
#define VT_MAX_OWNERS 16	/* VALK_MAX_OWNERS */
/* Bounds of a plausible slab: far above any configured one. */
#define VT_MAX_SLOTS (1ULL << 24)
#define VT_MAX_ITEM (1ULL << 32)
/* ... and of all slabs together: the model's memory (about 25 bytes a
 * slot) stays bounded whatever the slab count (VT_MAX_SYSTEMS systems of
 * VT_SLAB_KINDS slabs). */
#define VT_MAX_TOTAL_SLOTS (1ULL << 25)

/* The state letter of a used handle slot from its kind and diag words:
 * T listener, K task, M timer, N/A/I/C connection by diag (a connection
 * whose diag fell back to FREE is closing: 'C'), U anything else. */
char vt_state_letter(uint32_t kind, uint32_t diag);
const char *vt_slab_kind_name(enum vt_slab_kind k);

/* A slab as read from the target's memory (bootstrap or reconciliation). */
struct vt_slab_image {
	uint64_t addr;		/* valk_slab_t * in the target */
	int system;		/* AIO system index */
	enum vt_slab_kind kind;
	uint64_t item_size, total;
	uint64_t bitmap_addr;	/* usage_bitmap: fixed for the slab's life */
	uint64_t heap_off;	/* offsetof(valk_slab_t, heap) */
	uint64_t data_off;	/* offsetof(valk_slab_item_t, data) */
	uint64_t used, hwm, overflow, acquires, releases, version;
	uint64_t read_ns;	/* when the read began (event clock) */
	bool settled;		/* read between two equal, consistent versions */
	const uint8_t *bitmap;	/* (total+7)/8 bytes, LSB = lowest slot */
	const uint32_t *kinds;	/* handles: kind word per slot, else NULL */
	const uint32_t *diags;	/* handles: diag state per slot */
	const uint16_t *owners;	/* handles: diag owner per slot */
};

struct vt_arena {
	char name[48];		/* "scratch", "stream_arena/<slot>" */
	int system;
	uint64_t addr;		/* valk_mem_arena_t * in the target */
	uint64_t capacity, used, hwm, overflow, overflow_bytes;
};

struct vt_gc_class {
	uint64_t size, used, total;	/* slot size, used and total slots */
};

struct vt_gc {
	uint64_t heap_used_bytes, heap_total_bytes;
	size_t nclasses;
	struct vt_gc_class classes[16];
	uint64_t large_object_bytes;
};

/* One metric of the runtime's registry as read: a counter, gauge or
 * histogram with its labels. Histogram buckets are per bucket (not
 * cumulative); buckets[nbounds] is +Inf. */
enum vt_metric_type { VT_METRIC_COUNTER, VT_METRIC_GAUGE, VT_METRIC_HISTOGRAM };
#define VT_METRIC_MAX_LABELS 8
#define VT_METRIC_MAX_BOUNDS 32
#define VT_METRIC_NAME_LEN 96

struct vt_metric {
	enum vt_metric_type type;
	char name[VT_METRIC_NAME_LEN];
	unsigned nlabels;
	struct {
		char key[32];
		char value[VT_METRIC_NAME_LEN];
	} labels[VT_METRIC_MAX_LABELS];
	uint64_t counter;	/* counter value */
	int64_t gauge;		/* gauge value */
	uint64_t count, sum_us;	/* histogram */
	unsigned nbounds;
	double bounds[VT_METRIC_MAX_BOUNDS];
	uint64_t buckets[VT_METRIC_MAX_BOUNDS + 1];
};

/* Registry meta-stats of one metric family. */
struct vt_metric_family {
	uint64_t active, hwm, capacity, free;
};
enum { VT_FAM_COUNTERS, VT_FAM_GAUGES, VT_FAM_HISTOGRAMS, VT_FAM_SUMMARIES,
       VT_FAMS };

/* The same metric: type, name and labels, field by field. */
bool vt_metric_same(const struct vt_metric *a, const struct vt_metric *b);

/* What of struct vt_figures was read (the runtime may lack some). */
enum {
	VT_FIG_REGISTRY = 1 << 0,
	VT_FIG_GC = 1 << 1,
	VT_FIG_EVAL = 1 << 2,
	VT_FIG_SSL = 1 << 3,
	VT_FIG_NGHTTP2 = 1 << 4,
	VT_FIG_LIBUV = 1 << 5,
	VT_FIG_AIO = 1 << 6,
};

/* The figures the runtime's own dashboard shows, read from its memory. */
struct vt_figures {
	unsigned have;		/* VT_FIG_* */
	/* the metrics registry: counters, then gauges, then histograms,
	 * active ones in slot order */
	uint64_t start_us;	/* registry start, CLOCK_MONOTONIC */
	size_t nmetrics;
	struct vt_metric *metrics;
	struct vt_metric_family fam[VT_FAMS];
	uint64_t pool_used, pool_capacity;
	uint64_t evictions[VT_FAMS + 1];	/* total, then per family */
	/* GC cycles (the heap's runtime_metrics) */
	struct {
		uint64_t cycles, pause_us_total, pause_us_max, reclaimed,
			allocated, last_before, last_reclaimed;
		uint64_t pause[5];	/* <1, 1-5, 5-10, 10-16, 16+ ms */
		uint64_t survival[4];	/* gen 0, 1-5, 6-20, 21+ */
	} gc;
	struct {
		uint64_t evals, function_calls, builtin_calls, stack_max,
			closures, lookups;
	} eval;
	uint64_t ssl_bytes, nghttp2_bytes, libuv_bytes;
	/* system 0's bundles: the gauges and counter they point to */
	struct {
		int64_t pending_requests, pending_responses, queue_capacity;
		uint64_t connections_failed;
	} aio;
};

#define VT_MAX_WARNINGS 16	/* problems kept for the stream */
#define VT_WARNING_LEN 256	/* bytes of one, NUL included */

/* One slab in the model. Arrays have `total` entries. */
struct vt_slab {
	uint64_t addr;
	int system;
	enum vt_slab_kind kind;
	uint64_t item_size, total, stride, heap_off, data_off, bitmap_addr;
	uint64_t used, hwm, overflow, acquires, releases;
	uint64_t version;	/* newest bitmap_version seen */
	uint8_t *bitmap;
	char *states;		/* handles only: letter per slot, 'F' free */
	uint16_t *owners;	/* handles only */
	uint64_t *since_ms;	/* acquire time per used slot */
	uint8_t *since_attach;	/* 1: in use before attach, age from attach */
	uint32_t *stacks;	/* acquire's stack id per used slot, 0: none */
	uint8_t *pending;	/* handles: kind not yet known ('U' to type) */
	/* reconciliation: a mismatch must be seen twice to be repaired */
	uint64_t suspect_version;
	bool suspect;
	/* The last image adopted: when its read began (an event older than
	 * that is in it) and its bitmap_version (an acquire whose event read
	 * at most this version is in it). */
	uint64_t image_ns;
	uint64_t image_version;
	uint64_t image_ms;	/* when that image was adopted */
	uint8_t *unsure;	/* released per an event that may predate it */
	uint8_t *early;		/* acquired before its last holder's release
				 * event came (a release probed after its
				 * push races the next pop) */
	bool invalid;		/* its memory last read implausible */
	bool unsettled;		/* the image adopted was read while memory
				 * moved: a settled one replaces it */
	char problem[VT_WARNING_LEN];	/* why, while invalid */
};

struct vt_system {
	uint64_t addr;		/* valk_aio_system_t *, 0: index unused */
	size_t nowners;
	char owners[VT_MAX_OWNERS][32];
};

struct vt_state_counters {
	uint64_t events, lost, resyncs;
	uint64_t ignored;	/* events naming an unknown slab/slot/system */
	uint64_t probe_hits[VT_P_COUNT];
};

struct vt_state;

struct vt_state *vt_state_new(uint64_t attach_ms);
void vt_state_free(struct vt_state *s);

/* The slots the model would hold with a slab of `total` slots at addr in
 * place of the one there, if any: above VT_MAX_TOTAL_SLOTS it is refused. */
uint64_t vt_state_slots_with(const struct vt_state *s, uint64_t addr,
			     uint64_t total);
/* A bound below VT_MAX_TOTAL_SLOTS (tests reach it with small slabs). */
void vt_state_limit_slots(struct vt_state *s, uint64_t max);
/* Bootstrap: add or replace a slab and its whole per-slot state. Slots in
 * use get since_attach and since_ms = now_ms: the time tracing of this slab
 * began (the attach time at bootstrap). Returns 0, or -1 for an image that
 * cannot be a slab (no slots, no bitmap, absurd geometry) or that would
 * take the model above VT_MAX_TOTAL_SLOTS. */
int vt_state_slab_load(struct vt_state *s, const struct vt_slab_image *img,
		       uint64_t now_ms);
/* The slab was freed in the target: forget it. */
void vt_state_slab_drop(struct vt_state *s, uint64_t addr);
/* Compare with memory and repair a drift: at once from a settled image read
 * at the version the model has reached (it holds every event the model
 * applied and no later one), or from a slab marked invalid; otherwise when
 * the mismatch is seen at two consecutive calls with the slab's memory
 * unchanged between them (events may still be in flight). A slab whose
 * adopted image was not settled takes the first settled one. Returns 1
 * when it repaired, else 0; repairs count in resyncs. */
int vt_state_slab_reconcile(struct vt_state *s,
			    const struct vt_slab_image *img, uint64_t now_ms);
/* The slab's high-water mark raised to the image's, and with overflow its
 * overflow count taken as read (the runtime's peakUsed and overflowCount
 * only grow; a count below the model's means the one before was corrupt,
 * which the caller reports):
 * what a probe that sees neither failed acquires nor the acquire's own
 * peak update leaves to memory. Where failed acquires are events, the
 * count is theirs (a header read before some of them are drained would
 * count those twice). Returns 1 when it changed them. */
int vt_state_slab_maxima(struct vt_state *s, const struct vt_slab_image *img,
			 bool overflow);
/* Sample mode: take the image as the truth, no resync counting; loads a
 * slab it does not know yet. */
int vt_state_slab_sample(struct vt_state *s, const struct vt_slab_image *img,
			 uint64_t now_ms);

/* The slab's memory read implausible (a header no slab can have, a bitmap
 * in unmapped memory), for the reason `why`: it keeps its last good state,
 * marked invalid, until a settled image replaces it. */
void vt_state_slab_invalid(struct vt_state *s, uint64_t addr, const char *why);

/* A one-line problem with what the target's memory holds. The last
 * VT_MAX_WARNINGS distinct ones are kept for the stream. Returns 1 when it
 * is new, 0 when it is listed already. */
int vt_state_warn(struct vt_state *s, const char *msg);
/* Warning i, oldest first; NULL past the last. */
const char *vt_state_warning(const struct vt_state *s, size_t i);

int vt_state_system_set(struct vt_state *s, int system, uint64_t addr);
void vt_state_owner_set(struct vt_state *s, int system, unsigned idx,
			const char *name);
void vt_state_arenas_set(struct vt_state *s, const struct vt_arena *a,
			 size_t n);
void vt_state_gc_set(struct vt_state *s, const struct vt_gc *gc);
/* Takes ownership of f (malloc'd, its metrics array too): the figures as
 * of now. */
void vt_state_figures_set(struct vt_state *s, struct vt_figures *f);
/* NULL until figures were set. */
const struct vt_figures *vt_state_figures(const struct vt_state *s);
/* The same, to change in place (a recording's figures record that carries
 * only the values that changed). */
struct vt_figures *vt_state_figures_edit(struct vt_state *s);
void vt_figures_free(struct vt_figures *f);

/* Apply one event of any type; a freed slab is forgotten. Returns 0;
 * VT_STATE_READ_SYSTEMS when an AIO system started (the caller reads
 * memory to find it: its slabs come with it); or -1 for an event that names
 * no known slab, slot or system, or of no known type (counted in `ignored`,
 * otherwise without effect). */
#define VT_STATE_READ_SYSTEMS 1
int vt_state_apply(struct vt_state *s, const struct vt_event *ev);

/* Where a batch of vt_state_reads_due stopped; zeroed to start. */
struct vt_state_cursor {
	size_t slab;
	uint64_t slot;
};

/* The handle slots to read from memory now: those whose kind is still
 * unknown (acquired, not yet typed) and, with conns, every connection (the
 * runtime flips one between active and idle with inline code in its
 * stream callbacks: no probe sees it, so it is read each tick). Fills up
 * to max (slab addr, slot) pairs from *cur on and advances *cur; returns
 * how many, 0 once every slot is passed. */
size_t vt_state_reads_due(const struct vt_state *s, bool conns,
			  struct vt_state_cursor *cur, uint64_t *slab,
			  uint64_t *slot, size_t max);
/* A read of a slot vt_state_reads_due named. A kind of EMPTY means the
 * runtime has not written it yet: a pending slot stays pending. True when
 * the model changed (letter, owner or what is still to read): what a
 * recording must keep. */
bool vt_state_slot_typed(struct vt_state *s, uint64_t slab, uint64_t slot,
			 uint32_t kind, uint32_t diag, uint16_t owner);

/* Replay of a recording: a slab with the geometry of `geo` (addr, system,
 * kind, item_size, total, heap_off, data_off; NULL when no slab can have
 * it), every slot free, for the caller to fill as struct vt_slab documents
 * — bitmap, per-slot arrays, counters — then put in place of the slab at
 * its address (`used` follows from the bitmap; above VT_MAX_TOTAL_SLOTS
 * in all it is refused). put takes the slab, also
 * when it fails (-1); one never put is discarded. */
struct vt_slab *vt_state_slab_new(const struct vt_slab *geo);
int vt_state_slab_put(struct vt_state *s, struct vt_slab *sl);
void vt_state_slab_discard(struct vt_slab *sl);
/* Replay: forget every slab, system, arena, GC class and counter (a
 * keyframe follows); the attach time stays. */
void vt_state_clear(struct vt_state *s);
/* Replay: the counters as recorded. */
void vt_state_counters_set(struct vt_state *s,
			   const struct vt_state_counters *c);

/* Read access for encoders. Slabs are ordered by system, then kind. */
size_t vt_state_nslabs(const struct vt_state *s);
const struct vt_slab *vt_state_slab(const struct vt_state *s, size_t i);
const struct vt_slab *vt_state_slab_find(const struct vt_state *s,
					 uint64_t addr);
/* Systems by AIO system index, 0 .. nsystems-1 (addr 0: index unused). */
size_t vt_state_nsystems(const struct vt_state *s);
const struct vt_system *vt_state_system(const struct vt_state *s, size_t i);
const struct vt_arena *vt_state_arenas(const struct vt_state *s, size_t *n);
const struct vt_gc *vt_state_gc(const struct vt_state *s);
const struct vt_state_counters *vt_state_counters(const struct vt_state *s);
/* Ring-buffer losses and per-probe hit counts as the kernel counts them. */
void vt_state_tracer_update(struct vt_state *s, uint64_t lost,
			    const uint64_t hits[VT_P_COUNT]);
uint64_t vt_state_attach_ms(const struct vt_state *s);
/* Monotonic change counter: bumped by anything that changes the output. */
uint64_t vt_state_generation(const struct vt_state *s);

/* A leak suspect: slot in use for at least min_age_ms, oldest first. */
struct vt_leak {
	const struct vt_slab *slab;
	uint64_t slot, age_ms;
	bool since_attach;
};
/* How many of sl's slots have been in use for at least min_age_ms. */
uint64_t vt_slab_suspects(const struct vt_slab *sl, uint64_t now_ms,
			  uint64_t min_age_ms);
size_t vt_state_leaks(const struct vt_state *s, uint64_t now_ms,
		      uint64_t min_age_ms, struct vt_leak *out, size_t max);
/* The same, and *until_ms: the first time the list, its ages aside, can
 * change while the generation stays (a slot in use turns suspect), or
 * UINT64_MAX when none can. */
size_t vt_state_leaks_until(const struct vt_state *s, uint64_t now_ms,
			    uint64_t min_age_ms, struct vt_leak *out,
			    size_t max, uint64_t *until_ms);

#endif /* VT_STATE_H */
