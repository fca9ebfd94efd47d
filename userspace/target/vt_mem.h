/* vt_mem: reads of the target's memory through process_vm_readv.
 *
 * Every read is full or an error: a short read is reported as EFAULT, so a
 * caller never sees half a struct. errno tells the caller why: EFAULT (the
 * address is not mapped, e.g. a slab freed meanwhile) or ESRCH (the target
 * is gone). */
#ifndef VT_MEM_H
#define VT_MEM_H

#include <stddef.h>
#include <stdint.h>

/* One span to read: len bytes at addr in the target into buf. */
struct vt_mem_span {
	uint64_t addr;
	void *buf;
	size_t len;
};

/* 0, or -1 with errno set. */
int vt_mem_read(int pid, uint64_t addr, void *buf, size_t len);

/* Reads n spans with as few syscalls as IOV_MAX allows. 0 when every span
 * was read in full; else -1 with errno, and *done (if not NULL) holds how
 * many leading spans were read in full. */
int vt_mem_readv(int pid, const struct vt_mem_span *spans, size_t n,
		 size_t *done);

/* The target's readable mappings, merged where adjacent, to check that a
 * structure read from its memory lies where memory is before trusting its
 * size. */
struct vt_mem_regions {
	struct vt_mem_region {
		uint64_t start, end;
	} *v;
	size_t n, cap;
};

/* (Re)reads /proc/<pid>/maps. 0, or -1 with errno. */
int vt_mem_regions_load(int pid, struct vt_mem_regions *r);
/* Whether [addr, addr+len) lies wholly in readable memory. */
int vt_mem_regions_cover(const struct vt_mem_regions *r, uint64_t addr,
			 uint64_t len);
void vt_mem_regions_free(struct vt_mem_regions *r);

int vt_mem_u64(int pid, uint64_t addr, uint64_t *out);
int vt_mem_u32(int pid, uint64_t addr, uint32_t *out);
int vt_mem_u16(int pid, uint64_t addr, uint16_t *out);

#endif /* VT_MEM_H */
