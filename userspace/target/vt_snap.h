/* vt_snap: the target's present memory state, read with process_vm_readv
 * and turned into vt_state images: AIO systems, slab headers and bitmaps,
 * handle kinds and diags, owners, arenas, GC heap. Used to bootstrap at
 * attach, to reconcile in hybrid mode and as the whole of sample mode. */
#ifndef VT_SNAP_H
#define VT_SNAP_H

#include "target/vt_layout.h"
#include "target/vt_mem.h"
#include "model/vt_state.h"

#define VT_SNAP_MAX_SYSTEMS 16

struct vt_snap;

/* valk_sys: runtime address of the `valk_sys` pointer (vt_target_addr:
 * a launcher may hold the variable itself through a copy relocation).
 * mem must outlive the reader. */
struct vt_snap *vt_snap_new(const struct vt_mem *mem, const struct vt_layout *l,
			    uint64_t bias, uint64_t valk_sys);
void vt_snap_free(struct vt_snap *s);

/* Calls fail with errno EPROTO when the target's memory holds a structure
 * that cannot be what it claims (a slab of 2^62 items, a bitmap in unmapped
 * memory, a registry count past its array): this names it, in one line. */
const char *vt_snap_problem(const struct vt_snap *s);

/* AIO systems registered in valk_sys->subsystems. Returns how many (0 while
 * the runtime has started none), or -1 with errno when memory is gone. */
int vt_snap_systems(struct vt_snap *s, uint64_t *sys, size_t max);
/* The five slab pointers of a system, in enum vt_slab_kind order. */
int vt_snap_system_slabs(struct vt_snap *s, uint64_t sys,
			 uint64_t slabs[VT_SLAB_KINDS]);

/* One slab: header and bitmap read between two equal bitmap_version reads,
 * then (handles) kind/diag/owner of every used slot. The image's arrays
 * stay valid until the next vt_snap_slab call. 0, or -1 with errno. */
int vt_snap_slab(struct vt_snap *s, uint64_t addr, int system,
		 enum vt_slab_kind kind, struct vt_slab_image *img);

/* The slab's header alone, with the checks of vt_snap_slab: img gets the
 * geometry, hwm, overflow and version, no bitmap. 0, or -1 with errno. */
int vt_snap_slab_header(struct vt_snap *s, uint64_t addr, int system,
			enum vt_slab_kind kind, struct vt_slab_image *img);

/* Kind, diag state and owner of n handle slots (slabs[i], slots[i]), in
 * one batch of reads. 0, or -1 with errno. */
int vt_snap_handles(struct vt_snap *s, const struct vt_slab *const *slabs,
		    const uint64_t *slots, size_t n, uint32_t *kinds,
		    uint32_t *diags, uint16_t *owners);

/* Owner registry names of a system; returns the count (at most max) or
 * -1. */
int vt_snap_owners(struct vt_snap *s, uint64_t sys, char names[][32],
		   size_t max);

/* Scratch arena of system `sys` (unless out[0..n) has it already: systems
 * started by one thread share it) plus one entry per used stream-arena slot
 * of `arenas` (a model slab), appended to out[n..max). Returns the new
 * count, or -1. */
int vt_snap_arenas(struct vt_snap *s, int system, uint64_t sys,
		   const struct vt_slab *arenas, struct vt_arena *out,
		   size_t n, size_t max);

/* The GC heap's counters: 0, 1 while the runtime has no heap yet, or -1
 * with errno. */
int vt_snap_gc(struct vt_snap *s, struct vt_gc *gc);

#endif /* VT_SNAP_H */
