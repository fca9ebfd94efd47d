/* vt_sites: the probe plan of one target. A slab operation is probed once,
 * on the jump after its head CAS, where its code proves that site
 * (vt_cas) and no call stacks are wanted (a stack is taken at the
 * acquire's return); every other probe goes on the cheapest exact site of
 * its function (vt_site); the probes of one function share one site, so
 * an entry and a return probe cost one trap at the entry, and the site of
 * a function with a return probe keeps the entry's stack pointer. */
#ifndef VT_SITES_H
#define VT_SITES_H

#include <stdbool.h>
#include <stddef.h>

#include "probe/vt_probe.h"
#include "target/vt_layout.h"
#include "target/vt_site.h"
#include "target/vt_target.h"
#include "wire/vt_wire.h"

struct vt_sites {
	bool wanted[VT_P_COUNT];
	struct vt_site site[VT_P_COUNT];
};

/* What the BPF programs read, from the layout. */
struct vt_bpf_offsets vt_sites_offsets(const struct vt_layout *l);

/* Fills out and o->offsets for the probes o wants (o's paths and
 * release_inlined set). 0, or -1 with a one-line reason. */
int vt_sites_plan(struct vt_probe_opts *o, struct vt_sites *out, char *err,
		  size_t errlen);

/* What the probe adds to one call of its function, microseconds: the trap
 * at its site for an entry probe; the return trampoline for a return
 * probe, plus the trap when no entry probe shares the site. Summed over
 * the probes of a function, the call's whole cost. A trap costs
 * class_us[class] (calibrated here), or vt_site's table when NULL. */
double vt_sites_cost_us(const struct vt_sites *s, enum vt_probe_id id,
			const double class_us[VT_SITE_NCLASS]);

/* The plan as the wire reports it; out points into s. */
void vt_sites_wire(const struct vt_sites *s,
		   struct vt_wire_site out[VT_P_COUNT]);

#endif /* VT_SITES_H */
