/* vt_mem: full-or-error reads of another process's memory. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
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

static int region_add(struct vt_mem_regions *r, uint64_t start, uint64_t end)
{
	if (r->n && r->v[r->n - 1].end == start) {	/* maps is sorted */
		r->v[r->n - 1].end = end;
		return 0;
	}
	if (r->n == r->cap) {
		size_t cap = r->cap ? 2 * r->cap : 64;
		struct vt_mem_region *v = realloc(r->v, cap * sizeof(*v));

		if (!v)
			return -1;
		r->v = v;
		r->cap = cap;
	}
	r->v[r->n++] = (struct vt_mem_region){ start, end };
	return 0;
}

int vt_mem_regions_load(int pid, struct vt_mem_regions *r)
{
	char path[64], perms[8], *line = NULL;
	unsigned long long start, end;
	size_t cap = 0;
	int rc = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	r->n = 0;
	while (rc == 0 && getline(&line, &cap, f) > 0)
		if (sscanf(line, "%llx-%llx %7s", &start, &end, perms) == 3 &&
		    perms[0] == 'r')
			rc = region_add(r, start, end);
	free(line);
	fclose(f);
	return rc;
}

int vt_mem_regions_cover(const struct vt_mem_regions *r, uint64_t addr,
			 uint64_t len)
{
	size_t lo = 0, hi = r->n;

	if (len > UINT64_MAX - addr)
		return 0;
	while (lo < hi) {	/* the region holding addr, if any */
		size_t mid = lo + (hi - lo) / 2;

		if (r->v[mid].end <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < r->n && r->v[lo].start <= addr &&
	       addr + len <= r->v[lo].end;
}

void vt_mem_regions_free(struct vt_mem_regions *r)
{
	free(r->v);
	*r = (struct vt_mem_regions){ 0 };
}
