/* An input mapped at a fixed address of the fuzzer as "target memory",
 * in whole pages (what lies past them is unmapped): *len to unmap. */
#ifndef VT_FUZZ_MAP_H
#define VT_FUZZ_MAP_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

static inline void *vt_fuzz_map(uint64_t base, const uint8_t *data,
				size_t size, size_t *len)
{
	void *m;

	*len = (size + 4095) & ~(size_t)4095;
	m = mmap((void *)(uintptr_t)base, *len, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (m != (void *)(uintptr_t)base)
		abort();
	memcpy(m, data, size);
	return m;
}

#endif /* VT_FUZZ_MAP_H */
