/* vt_mem: full-or-error reads of another process's memory. */
#include <errno.h>
#include <limits.h>
#include <sys/uio.h>

#include "target/vt_mem.h"

int vt_mem_read(int pid, uint64_t addr, void *buf, size_t len)
{
	struct vt_mem_span s = { .addr = addr, .buf = buf, .len = len };

	return vt_mem_readv(pid, &s, 1, NULL);
}

/* One process_vm_readv over at most IOV_MAX spans. Returns how many leading
 * spans arrived in full; sets errno when that is fewer than n. */
static size_t readv_chunk(int pid, const struct vt_mem_span *spans, size_t n)
{
	struct iovec local[IOV_MAX], remote[IOV_MAX];
	size_t i, want = 0;
	ssize_t got;

	for (i = 0; i < n; i++) {
		local[i] = (struct iovec){ spans[i].buf, spans[i].len };
		remote[i] = (struct iovec){ (void *)(uintptr_t)spans[i].addr,
					    spans[i].len };
		want += spans[i].len;
	}
	got = process_vm_readv(pid, local, n, remote, n, 0);
	if (got < 0)
		return 0;
	if ((size_t)got == want)
		return n;
	/* The kernel stops at the first remote fault: count whole spans. */
	for (i = 0; i < n && (size_t)got >= spans[i].len; i++)
		got -= spans[i].len;
	errno = EFAULT;
	return i;
}

int vt_mem_readv(int pid, const struct vt_mem_span *spans, size_t n,
		 size_t *done)
{
	size_t off = 0;

	while (off < n) {
		size_t chunk = n - off < IOV_MAX ? n - off : IOV_MAX;
		size_t ok = readv_chunk(pid, spans + off, chunk);

		off += ok;
		if (ok < chunk)
			break;
	}
	if (done)
		*done = off;
	return off == n ? 0 : -1;
}

int vt_mem_u64(int pid, uint64_t addr, uint64_t *out)
{
	return vt_mem_read(pid, addr, out, sizeof(*out));
}

int vt_mem_u32(int pid, uint64_t addr, uint32_t *out)
{
	return vt_mem_read(pid, addr, out, sizeof(*out));
}

int vt_mem_u16(int pid, uint64_t addr, uint16_t *out)
{
	return vt_mem_read(pid, addr, out, sizeof(*out));
}
