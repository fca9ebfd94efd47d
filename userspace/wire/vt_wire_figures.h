/* vt_wire_figures: the runtime's own dashboard figures (struct vt_figures)
 * in the runtime's JSON shapes: the registry document of metrics.aio and
 * metrics.modular, metrics.registry, metrics.vm, the library bytes of
 * memory.breakdown, and the per-stream registry delta of
 * diagnostics-delta. Parts the figures lack are left out. */
#ifndef VT_WIRE_FIGURES_H
#define VT_WIRE_FIGURES_H

#include <jansson.h>

#include "model/vt_state.h"

/* {"uptime_seconds","counters","gauges","histograms"}; without a registry
 * read the families are empty and uptime is the process's. */
json_t *vt_wire_figures_registry(const struct vt_figures *f, uint64_t now_us,
				 double process_uptime_s);
/* The registry's meta-stats; {} without them. */
json_t *vt_wire_figures_registry_stats(const struct vt_figures *f);
/* metrics.vm: adds the GC cycle figures to vm_gc (its "gc" object, where
 * the caller put the heap's sizes) and "interpreter" to vm. */
void vt_wire_figures_vm(json_t *vm_gc, json_t *vm,
			const struct vt_figures *f);
/* ssl_used, nghttp2_used, libuv_used of memory.breakdown, where read. */
void vt_wire_figures_breakdown(json_t *o, const struct vt_figures *f);

/* System 0's failed connections into connections (metrics.aio.connections)
 * and, with aio, its queue as metrics.aio.queue {pending_requests,
 * pending_responses, capacity}, where read. */
void vt_wire_figures_aio(json_t *aio, json_t *connections,
			 const struct vt_figures *f);

/* What one stream has sent of the registry: the next delta says what
 * changed since. */
struct vt_wire_figures_base;
struct vt_wire_figures_base *vt_wire_figures_base_new(void);
void vt_wire_figures_base_free(struct vt_wire_figures_base *b);
/* Remember f as sent (a full document went out). */
int vt_wire_figures_base_set(struct vt_wire_figures_base *b,
			     const struct vt_figures *f, uint64_t now_us);
/* The runtime's registry delta {"ts","interval_us","changed",
 * "counters_changed","gauges_changed","histograms_changed","deltas"}
 * against b, which then holds f. NULL without a registry read. */
json_t *vt_wire_figures_delta(struct vt_wire_figures_base *b,
			      const struct vt_figures *f, uint64_t now_us);

#endif /* VT_WIRE_FIGURES_H */
