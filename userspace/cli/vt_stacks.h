/* vt_stacks: the call stacks of one session's acquires. A stack is an id:
 * the kernel's (frame-pointer walks, in the probe's stack map), or, for
 * code without frame pointers, one of ours for the return addresses
 * unwound with DWARF from a stack the probe copied (VT_STACKS_OWN set). */
#ifndef VT_STACKS_H
#define VT_STACKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/types.h>

#include "bpf/valk_trace.h"
#include "model/vt_report.h"
#include "probe/vt_probe.h"
#include "target/vt_mem.h"

#define VT_STACKS_OWN 0x80000000u
#define VT_STACKS_MAX 16384	/* distinct unwound stacks kept */

struct vt_stacks;

/* mem: the process's, open by the first copy, outliving the stacks. */
struct vt_stacks *vt_stacks_new(int pid, const struct vt_mem *mem);
void vt_stacks_free(struct vt_stacks *st);

/* A copied stack: unwound now (the process's objects are mapped).
 * Returns true when the copies of u->tid are to end at *top from now on
 * (vt_probe_stack_top): where the unwinding of a copy found its
 * outermost frame to end, or 0 when a copy that ended there was too short
 * (another thread with that tid). */
bool vt_stacks_copied(struct vt_stacks *st, const struct vt_ustack *u,
		      uint64_t *top);
/* The id of the stack copied with seq, VT_STACKS_OWN | n; 0 unknown. */
uint32_t vt_stacks_of_copy(struct vt_stacks *st, uint32_t seq);

/* The frames of stack id (an acquire event's `stack`), symbolized,
 * innermost first; how many. */
size_t vt_stacks_frames(struct vt_stacks *st, const struct vt_probe *p,
			uint32_t id, struct vt_rep_frame *out, size_t max,
			bool *truncated);

#endif /* VT_STACKS_H */
