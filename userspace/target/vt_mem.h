/* vt_mem: reads of the target's memory through /proc/<pid>/mem.
 *
 * The kernel checks the right to read another process's memory when that
 * file is opened, not at each read: a handle opened while privileged keeps
 * reading after the tracer gives its privileges up (process_vm_readv would
 * check at every call). /proc/<pid>/maps is kept open for the same reason.
 *
 * Every read is full or an error: a short read is reported as EFAULT, so a
 * caller never sees half a struct. errno tells the caller why: EFAULT (the
 * address is not mapped, e.g. a slab freed meanwhile) or ESRCH (the target
 * is gone, or exec'd another program). */
#ifndef VT_MEM_H
#define VT_MEM_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* One span to read: len bytes at addr in the target into buf. */
struct vt_mem_span {
	uint64_t addr;
	void *buf;
	size_t len;
};

/* One target's memory and its map. */
struct vt_mem {
	int fd;		/* /proc/<pid>/mem */
	int maps;	/* /proc/<pid>/maps */
};

/* Opens both. 0, or -1 with errno (EACCES/EPERM: not allowed to read it,
 * ENOENT: no such process); m is then closed. */
int vt_mem_open(struct vt_mem *m, int pid);
void vt_mem_close(struct vt_mem *m);

/* 0, or -1 with errno set. */
int vt_mem_read(const struct vt_mem *m, uint64_t addr, void *buf, size_t len);

/* Reads n spans, those close together (up to 64 KiB) with one read each
 * stretch. 0 when every span was read in full; else -1 with errno, and
 * *done (if not NULL) holds how many leading spans were read in full. */
int vt_mem_readv(const struct vt_mem *m, const struct vt_mem_span *spans,
		 size_t n, size_t *done);

/* The target's maps as a stream from their start (fclose it; m->maps
 * stays open), or NULL with errno. */
FILE *vt_mem_maps(const struct vt_mem *m);

/* The target's readable mappings, merged where adjacent, to check that a
 * structure read from its memory lies where memory is before trusting its
 * size. */
struct vt_mem_regions {
	struct vt_mem_region {
		uint64_t start, end;
	} *v;
	size_t n, cap;
};

/* (Re)reads the target's maps. 0, or -1 with errno. */
int vt_mem_regions_load(const struct vt_mem *m, struct vt_mem_regions *r);
/* Whether [addr, addr+len) lies wholly in readable memory. */
int vt_mem_regions_cover(const struct vt_mem_regions *r, uint64_t addr,
			 uint64_t len);
void vt_mem_regions_free(struct vt_mem_regions *r);

int vt_mem_u64(const struct vt_mem *m, uint64_t addr, uint64_t *out);
int vt_mem_u32(const struct vt_mem *m, uint64_t addr, uint32_t *out);
int vt_mem_u16(const struct vt_mem *m, uint64_t addr, uint16_t *out);

#endif /* VT_MEM_H */
