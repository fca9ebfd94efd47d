/* vt_cas: the one-trap site of a slab operation, found in its code.
 *
 * An acquire pops its slot off the slab's free list with one successful
 * compare-and-swap of the list head, a release pushes it back with one; in
 * an optimised build the conditional jump right after that CAS (its retry
 * loop's branch) is an instruction the kernel emulates. A probe there
 * fires once per attempt and knows everything the operation's event
 * needs: the zero flag says whether the CAS took, the head tag's low 32
 * bits are the slot (the old tag in rax for a pop, the new one in the
 * CAS's source register for a push), and a register holds the slab.
 *
 * The site is proven from the decoded function: a forward data-flow pass
 * over the registers (each either unknown or "the first argument + k")
 * finds the 8-byte `lock cmpxchg` on the slab at an offset that is neither
 * numFree nor peakUsed (the acquire's other two CASes; the head is the
 * only other word the runtime swaps), and the straight run of
 * instructions from it to the first conditional jump is followed for
 * where the tag and the CAS's outcome end up (`sete`/`test` included).
 *
 * Unoptimised code keeps the slab in its frame: while %rbp is the frame
 * base the pass follows the frame's 8-byte slots below the lowest frame
 * address the function lets escape (a pointer to one object may reach
 * the objects above it, never one below), which only a store naming them
 * changes. gcc's -O0 acquire is proven so; clang's -O0 passes a frame
 * address below the slab's slot to a callee, and stays unproven. */
#ifndef VT_CAS_H
#define VT_CAS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/types.h>

#include "bpf/valk_trace.h"
#include "target/vt_site.h"

struct vt_cas_need {
	bool pop;		/* an acquire: the slot is the old tag's */
	uint32_t num_free;	/* valk_slab_t offsets of the other CASes */
	uint32_t peak;
};

struct vt_cas_site {
	struct vt_site site;	/* the jump: offset, class, instruction */
	struct vt_bpf_cas regs;	/* what the probe reads there */
};

/* 0 and *out when a site is proven in code (len bytes of one function at
 * addr); -1 when none is. */
int vt_cas_place(const uint8_t *code, size_t len, uint64_t addr,
		 struct vt_cas_need need, struct vt_cas_site *out);

/* The same for a function of an ELF object (file_off set). */
int vt_cas_find(const char *path, const char *func, struct vt_cas_need need,
		struct vt_cas_site *out);

#endif /* VT_CAS_H */
