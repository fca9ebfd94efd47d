/* vt_rec: the recording format (docs/record-format.md), encoded into and
 * decoded from memory. No files here: the writer and the reader of a
 * recording on disk hand this module bytes.
 *
 * A recording is a preamble (magic, format version) and then records, each
 * length-prefixed and checksummed, so a file cut short reads up to its last
 * complete record. Records carry what the state model was fed — events,
 * and the model's state where memory reads changed it — so replaying them
 * into a model rebuilds the recorded states tick by tick. */
#ifndef VT_REC_H
#define VT_REC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model/vt_report.h"
#include "model/vt_state.h"

#define VT_REC_MAGIC "VALKREC\n"	/* 8 bytes */
#define VT_REC_VERSION 3		/* 2: stack records, 3: figures */
#define VT_REC_PREAMBLE 16		/* magic, u32 version, u32 zero */
#define VT_REC_FRAME 9			/* u32 length, u8 type, ..., u32 crc */
#define VT_REC_MAX_PAYLOAD (64u << 20)

enum vt_rec_type {
	VT_REC_HEADER = 1,	/* JSON object: target, layout, mode, start */
	VT_REC_EVENTS = 2,	/* events in the order the model got them */
	VT_REC_SLAB = 3,	/* one slab's whole state after a memory read */
	VT_REC_TYPED = 4,	/* typing reads of pending handle slots */
	VT_REC_SYSTEM = 5,	/* an AIO system's index and address */
	VT_REC_OWNER = 6,	/* an owner registry entry */
	VT_REC_ARENAS = 7,	/* every arena */
	VT_REC_GC = 8,		/* the GC heap */
	VT_REC_TICK = 9,	/* end of a tick: clocks, process, counters */
	VT_REC_KEYFRAME = 10,	/* the whole state, then a tick */
	VT_REC_GAP = 11,	/* records dropped: the writer fell behind */
	VT_REC_END = 12,	/* the recording was closed cleanly */
	VT_REC_STACK = 13,	/* an acquire call stack, symbolized */
	VT_REC_FIGURES = 14,	/* the runtime's own figures, when they changed */
	VT_REC_TYPES
};

/* ---- encoding ------------------------------------------------------------ */

struct vt_rec_buf {
	uint8_t *p;
	size_t len, cap;
	bool oom;		/* an append failed: the contents are void */
};

void vt_rec_buf_free(struct vt_rec_buf *b);
void vt_rec_buf_put(struct vt_rec_buf *b, const void *p, size_t n);
void vt_rec_preamble(struct vt_rec_buf *b);

/* A record is written between begin and end; begin returns its offset. */
size_t vt_rec_begin(struct vt_rec_buf *b, enum vt_rec_type t);
void vt_rec_end(struct vt_rec_buf *b, size_t start);

/* Per-tick facts beside the state: the encoders' clocks and process sizes
 * (struct vt_wire_meta's numbers) and the counters. */
struct vt_rec_tick {
	uint64_t now_ms, wall_ms;
	double uptime_s;
	uint64_t rss, vms, system_total;
	struct vt_state_counters counters;
};

struct vt_rec_gap {
	uint64_t records, bytes;	/* what was dropped */
	uint64_t from_ms, to_ms;	/* the ticks it spanned */
};

void vt_rec_header(struct vt_rec_buf *b, const char *json);
void vt_rec_tick(struct vt_rec_buf *b, const struct vt_rec_tick *t);
void vt_rec_gap(struct vt_rec_buf *b, const struct vt_rec_gap *g);
void vt_rec_end_record(struct vt_rec_buf *b, uint64_t now_ms);

/* Events of one record: an encoder context lives from begin to end. */
struct vt_rec_slabctx {
	uint64_t addr, slot, version, peak;
};
struct vt_rec_events {
	size_t start;
	uint64_t ts;
	uint32_t tid;
	uint16_t probe[16];	/* last probe per event type */
	size_t nslabs;
	struct vt_rec_slabctx slabs[32];
	uint64_t handle;
};
void vt_rec_events_begin(struct vt_rec_buf *b, struct vt_rec_events *e);
void vt_rec_event(struct vt_rec_buf *b, struct vt_rec_events *e,
		  const struct vt_event *ev);
void vt_rec_events_end(struct vt_rec_buf *b, struct vt_rec_events *e);

/* One typing read: the slot's kind, diag and owner words. */
struct vt_rec_typed {
	uint64_t slab, slot;
	uint32_t kind, diag;
	uint16_t owner;
};
void vt_rec_typed(struct vt_rec_buf *b, const struct vt_rec_typed *t,
		  size_t n);

void vt_rec_slab(struct vt_rec_buf *b, const struct vt_slab *sl);
void vt_rec_system(struct vt_rec_buf *b, int idx, uint64_t addr);
void vt_rec_owner(struct vt_rec_buf *b, int system, unsigned idx,
		  const char *name);
void vt_rec_arenas(struct vt_rec_buf *b, const struct vt_arena *a, size_t n);
void vt_rec_gc(struct vt_rec_buf *b, const struct vt_gc *gc);
/* An acquire's call stack as reports show it: the id the model's events
 * and slots carry (struct vt_event's acquire.stack), frames innermost
 * first. */
struct vt_rec_stack {
	uint32_t id;
	bool truncated;		/* deeper than it shows */
	size_t nframes;
	struct vt_rep_frame frames[VT_REP_MAX_FRAMES];
};
void vt_rec_stack(struct vt_rec_buf *b, const struct vt_rec_stack *st);
/* The whole state and the tick it ends: replay can start here. The
 * state's figures go with it (a writer keeping a vt_rec_figbase then sets
 * it to them). */
void vt_rec_keyframe(struct vt_rec_buf *b, const struct vt_state *s,
		     const struct vt_rec_tick *t);

/* The runtime's figures (struct vt_figures) as a recording last carried
 * them, in a figures record or a keyframe: what the next figures record
 * is written against. Zeroed: none yet. */
#define VT_REC_MAX_METRICS 4096	/* metrics a record carries, the first */
struct vt_rec_figbase {
	struct vt_figures f;
	size_t cap;		/* of f.metrics */
	bool have;		/* f holds figures */
};
/* A figures record of f when it differs from base: whole, or only the
 * values that changed when the metrics are the same ones as base's.
 * Nothing when they are equal (or both absent). base then holds f. */
void vt_rec_figures(struct vt_rec_buf *b, struct vt_rec_figbase *base,
		    const struct vt_figures *f);
/* base holds f (NULL: none), as a keyframe just carried them. Out of
 * memory base holds none: the next record is whole. */
void vt_rec_figbase_set(struct vt_rec_figbase *base,
			const struct vt_figures *f);
void vt_rec_figbase_free(struct vt_rec_figbase *base);

/* ---- decoding ------------------------------------------------------------ */

struct vt_rec_reader {
	const uint8_t *p;
	size_t len, off;
	uint32_t version;
	char err[192];
};

struct vt_rec {
	enum vt_rec_type type;
	const uint8_t *payload;
	size_t len;
	size_t off;		/* of the record in the recording */
};

/* Checks the preamble: 0, or -1 with a one-line reason in r->err (not a
 * recording, a newer format version, too short). */
int vt_rec_open(struct vt_rec_reader *r, const uint8_t *p, size_t len);
/* The next record: 1; 0 at the end of the data; -1 when what follows is
 * cut short or corrupt (r->err says where; the records before are good).
 * Records of unknown type are returned: callers skip them. */
int vt_rec_next(struct vt_rec_reader *r, struct vt_rec *rec);

/* Applies one record to a model. A tick or keyframe fills *tick (when
 * given) and returns 1, other records 0; -1 for a malformed payload with
 * a reason in err, the model unchanged by the bad part. */
int vt_rec_apply(struct vt_state *s, const struct vt_rec *rec,
		 struct vt_rec_tick *tick, char *err, size_t errlen);
/* Told of each event before the model gets it (a report watching slabs
 * freed, as the live session's does) and after (a slot's history, at the
 * event's time). Either may be NULL. */
struct vt_rec_hook {
	void (*before)(void *ctx, const struct vt_state *s,
		       const struct vt_event *ev);
	void (*after)(void *ctx, const struct vt_state *s,
		      const struct vt_event *ev);
	void *ctx;
};
int vt_rec_apply_hooked(struct vt_state *s, const struct vt_rec *rec,
			struct vt_rec_tick *tick, const struct vt_rec_hook *h,
			char *err, size_t errlen);
int vt_rec_tick_decode(const struct vt_rec *rec, struct vt_rec_tick *t);
int vt_rec_gap_decode(const struct vt_rec *rec, struct vt_rec_gap *g);
/* A stack record: 0, or -1 when malformed. */
int vt_rec_stack_decode(const struct vt_rec *rec, struct vt_rec_stack *st);
/* A keyframe's tick time, without inflating it: 0, or -1. */
int vt_rec_keyframe_ms(const struct vt_rec *rec, uint64_t *now_ms);
/* The header's JSON text (NUL-terminated copy), or NULL. */
char *vt_rec_header_json(const struct vt_rec *rec);
/* Events in an events record, or -1 when malformed. */
long vt_rec_events_count(const struct vt_rec *rec);

/* ---- an index of a recording ------------------------------------------- */

struct vt_rec_tickref {
	size_t off;		/* of the tick's first record */
	size_t end;		/* just past its tick or keyframe record */
	uint64_t now_ms;
	size_t keyframe;	/* the tick to start from to reach this one */
};

struct vt_rec_stackref {
	uint32_t id;
	size_t off;		/* of its stack record */
};

#define VT_REC_MAX_STACKS 65536	/* stack records indexed */

struct vt_rec_index {
	char *header;		/* the header's JSON, NULL when missing */
	struct vt_rec_tickref *ticks;
	size_t nticks;
	uint64_t events, event_bytes, keyframes, records;
	uint64_t figures;	/* figures records (version 3) */
	size_t ngaps;
	struct vt_rec_gap *gaps;
	size_t nstacks;		/* distinct stack records, by id */
	struct vt_rec_stackref *stacks;
	uint32_t version;	/* the file's format version */
	size_t good_len;	/* the readable prefix, preamble included */
	bool ended;		/* an end record: closed cleanly */
	char err[192];		/* why reading stopped early, "" */
};

/* Reads a whole recording once. 0 with *ix filled (also for a file cut
 * short: ix->err says where); -1 when it is no recording at all (err). */
int vt_rec_index_build(const uint8_t *p, size_t len, struct vt_rec_index *ix,
		       char *err, size_t errlen);
void vt_rec_index_free(struct vt_rec_index *ix);
/* The stack of id from its record: 0, or -1 when the recording has none
 * (or only a malformed one). */
int vt_rec_index_stack(const uint8_t *p, const struct vt_rec_index *ix,
		       uint32_t id, struct vt_rec_stack *st);
/* The last tick at or before now_ms (0 when none is). */
size_t vt_rec_index_find(const struct vt_rec_index *ix, uint64_t now_ms);

/* Brings s to tick i. *at is the tick s holds (SIZE_MAX: none): when it
 * is between i's keyframe and i, replay goes on from there, else starts
 * over at the keyframe. Fills *t with tick i's facts (unless s held tick
 * i already). 0, or -1 with a reason in err (*at is then SIZE_MAX). */
int vt_rec_seek(const uint8_t *p, const struct vt_rec_index *ix,
		struct vt_state *s, size_t *at, size_t i,
		struct vt_rec_tick *t, char *err, size_t errlen);
int vt_rec_seek_hooked(const uint8_t *p, const struct vt_rec_index *ix,
		       struct vt_state *s, size_t *at, size_t i,
		       struct vt_rec_tick *t, const struct vt_rec_hook *h,
		       char *err, size_t errlen);

#endif /* VT_REC_H */
