/* vt_wire: the state model as the documents valk-trace serves.
 *
 * Every encoder returns a malloc'd NUL-terminated string (compact JSON
 * without newlines, or Prometheus text), or NULL when out of memory.
 * Encoders only read the state; what they need from outside it (target,
 * clocks, process sizes) comes in a struct vt_wire_meta. */
#ifndef VT_WIRE_H
#define VT_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model/vt_state.h"

#define VT_WIRE_MAX_LEAKS 100

/* Where a probe went in the target and what a hit costs it. */
struct vt_wire_site {
	bool attached;
	const char *function;
	uint64_t offset;	/* from the function's start */
	uint64_t file_offset;	/* of the site in the object's file */
	const char *insn;	/* the instruction it traps on */
	const char *entry;	/* the function's first instruction */
	const char *cls;	/* "nop5", "emulated", "stepped" */
	double cost_us;		/* expected, per call of the function */
};

/* What the probes cost the target (valk-trace attach --max-overhead). */
struct vt_wire_overhead {
	double estimate_pct;	/* of the target's CPU, the last second */
	double projected_pct;	/* were the slab probes on */
	double max_pct;		/* the budget, 0: none */
	bool slabs_read;	/* slab probes off: slabs read every tick */
	double hit_us[3];	/* calibrated: nop5, emulated, stepped */
};

/* The HTTP server's own figures, for /metrics. */
struct vt_wire_serving {
	uint64_t conns, streams;	/* open now */
	uint64_t idled, stalled, evicted;	/* connections closed */
	uint64_t refused, refused_share;	/* connections refused */
	uint64_t tls_failed;
};

struct vt_wire_meta {
	int pid;
	const char *binary;	/* path of the traced object */
	const char *build_id;	/* lower-case hex, "" when unknown */
	const char *mode;	/* "hybrid", "events" or "sample" */
	uint64_t now_ms;	/* CLOCK_MONOTONIC, the state's clock */
	uint64_t wall_ms;	/* CLOCK_REALTIME now: ts_ms, attached_ms */
	uint64_t leak_age_ms;	/* minimum age of a leak suspect */
	double uptime_s;	/* of the target process */
	uint64_t rss, vms, system_total;	/* bytes */
	const struct vt_wire_site *sites; /* VT_P_COUNT, NULL: no probes */
	const struct vt_wire_overhead *overhead;	/* NULL: no probes */
	const struct vt_wire_serving *serving;	/* NULL: not serving */
};

/* "uprobe:valk_slab_aquire" style name of a probe. */
const char *vt_wire_probe_name(enum vt_probe_id id);
bool vt_wire_probe_live(enum vt_probe_id id);

/* The probes as the tracer object lists them: a JSON array of
 * VT_P_COUNT objects (name, hits, and where each attached probe went). */
char *vt_wire_probes(const struct vt_wire_site *sites,
		     const uint64_t hits[VT_P_COUNT]);

/* The memory dialect: one full `event: memory` document. */
char *vt_wire_memory(const struct vt_state *s, const struct vt_wire_meta *m,
		     uint64_t seq);

/* The memory dialect's `memory-delta`: what changed since the stream's
 * previous document `base` (slab counters every time; per-slot runs
 * "off:now" of states, owners and bitmap bytes where they changed; the
 * arenas, gc, owner_maps and leaks sections when they changed; tracer).
 * The first document, and one after the slabs changed shape (a slab
 * appeared, went or was resized), is a full `memory` document instead:
 * *full is set. One context per stream of events. */
struct vt_wire_mdelta;
struct vt_wire_mdelta *vt_wire_mdelta_new(void);
void vt_wire_mdelta_free(struct vt_wire_mdelta *d);
char *vt_wire_memory_delta(const struct vt_state *s,
			   const struct vt_wire_meta *m,
			   struct vt_wire_mdelta *d, uint64_t seq,
			   uint64_t base, bool *full);

/* The valk dialect. It describes one AIO system, the lowest index that has
 * slabs (the runtime's dashboard knows one). `d`, when given, remembers
 * what was sent: vt_wire_valk_delta encodes only what changed since then.
 * One delta context per stream of events. */
struct vt_wire_delta;
struct vt_wire_delta *vt_wire_delta_new(void);
void vt_wire_delta_free(struct vt_wire_delta *d);

char *vt_wire_valk_full(const struct vt_state *s,
			const struct vt_wire_meta *m, struct vt_wire_delta *d);
/* A `diagnostics-delta` document. When the slabs changed shape since the
 * last document (a slab appeared, went or was resized) a delta cannot say
 * it: a full document is returned instead and *full set. */
char *vt_wire_valk_delta(const struct vt_state *s,
			 const struct vt_wire_meta *m, struct vt_wire_delta *d,
			 bool *full);

/* Prometheus text format 0.0.4. */
char *vt_wire_prometheus(const struct vt_state *s,
			 const struct vt_wire_meta *m);

/* /debug/slab/buckets: used/free counts of `buckets` equal slices of slots
 * [start, end) of one slab, the runtime's own bucketing. */
struct vt_wire_buckets_req {
	char slab[32];
	int system;		/* -1: lowest system that has the slab */
	uint64_t start, end;	/* end is clamped to the slab's total */
	uint64_t buckets;	/* 1 .. VT_WIRE_MAX_BUCKETS */
};
#define VT_WIRE_MAX_BUCKETS 4096

/* Parse a query string ("slab=handles&start=0&end=500&buckets=64", without
 * the '?', NULL or "" for the defaults: tcp_buffers, 0..total, 100).
 * Unknown keys are ignored. Returns 0, or -1 with a one-line reason. */
int vt_wire_buckets_parse(const char *query, struct vt_wire_buckets_req *req,
			  char *err, size_t errlen);
/* Returns the document, or NULL with a one-line reason in err. */
char *vt_wire_buckets(const struct vt_state *s,
		      const struct vt_wire_buckets_req *req, char *err,
		      size_t errlen);

#endif /* VT_WIRE_H */
