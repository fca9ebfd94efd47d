/* vt_sym: a live process's return addresses as function, source file:line
 * and inlined frames, from the DWARF (or the symbol table) of the objects
 * it maps, with libdw. Used while the process still exists. */
#ifndef VT_SYM_H
#define VT_SYM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/types.h>

#include "bpf/valk_trace.h"
#include "model/vt_report.h"
#include "target/vt_mem.h"

struct vt_sym;

/* pid's mappings read from its kept /proc/<pid>/maps (the right to read
 * it was checked at its open). NULL when they cannot be read. */
struct vt_sym *vt_sym_open(int pid, const struct vt_mem *mem);
void vt_sym_close(struct vt_sym *s);

/* The frames of return addresses pcs[0..n), innermost first: each
 * address's inlined calls, then its function. An address in no known
 * object, or without symbols, is one frame with only its address and
 * object. Returns the frames written (at most max); *truncated when more
 * did not fit. */
size_t vt_sym_frames(struct vt_sym *s, const uint64_t *pcs, size_t n,
		     struct vt_rep_frame *out, size_t max, bool *truncated);

/* How far into its copy an unwinding read. */
struct vt_sym_reach {
	uint64_t end;	/* the outermost frame was reached: the end of the
			 * stack words read (the copy need go no farther);
			 * else 0 */
	bool past;	/* a word past the copy's end was wanted */
};

/* Unwinds a stack copied at an acquire's return (struct vt_ustack) with
 * the DWARF call-frame information of the process's objects: the return
 * addresses, innermost first, into pcs; how many. *stopped: the unwinding
 * ended before the outermost frame (the copy was too short, or a frame had
 * no CFI). */
size_t vt_sym_unwind(struct vt_sym *s, const struct vt_ustack *u,
		     uint64_t *pcs, size_t max, bool *stopped,
		     struct vt_sym_reach *reach);

#endif /* VT_SYM_H */
