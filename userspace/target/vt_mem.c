/* vt_mem: full-or-error reads of another process's memory. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "target/vt_mem.h"

#define CHUNK (64u << 10)	/* the most one read of many spans covers */
#define GAP 4096		/* the most it reads between two spans */

int vt_mem_open(struct vt_mem *m, int pid)
{
	char path[64];
	int e;

	snprintf(path, sizeof(path), "/proc/%d/mem", pid);
	m->fd = open(path, O_RDONLY | O_CLOEXEC);
	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	m->maps = m->fd < 0 ? -1 : open(path, O_RDONLY | O_CLOEXEC);
	if (m->maps >= 0)
		return 0;
	e = errno;
	vt_mem_close(m);
	errno = e;
	return -1;
}

void vt_mem_close(struct vt_mem *m)
{
	if (m->fd >= 0)
		close(m->fd);
	if (m->maps >= 0)
		close(m->maps);
	m->fd = m->maps = -1;
}

int vt_mem_read(const struct vt_mem *m, uint64_t addr, void *buf, size_t len)
{
	char *p = buf;

	if (addr > INT64_MAX || len > INT64_MAX - addr) {
		errno = EFAULT;
		return -1;
	}
	while (len > 0) {
		ssize_t got = pread(m->fd, p, len, (off_t)addr);

		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0) {
			/* EIO: not mapped; end of file: the memory is gone
			 * (the process exited or exec'd) */
			errno = got == 0 ? ESRCH : errno == EIO ? EFAULT
								 : errno;
			return -1;
		}
		p += got;
		addr += (uint64_t)got;
		len -= (size_t)got;
	}
	return 0;
}

/* How many spans from spans[0] lie in one stretch of at most CHUNK bytes,
 * each at most GAP past the ones before; *len: the stretch's length. */
static size_t stretch(const struct vt_mem_span *spans, size_t n, size_t *len)
{
	uint64_t lo = spans[0].addr, hi = lo + spans[0].len;
	size_t j;

	for (j = 1; j < n; j++) {
		uint64_t a = spans[j].addr;

		if (a < lo || a - lo > CHUNK || spans[j].len > CHUNK - (a - lo) ||
		    (a > hi && a - hi > GAP))
			break;
		if (a + spans[j].len > hi)
			hi = a + spans[j].len;
	}
	*len = (size_t)(hi - lo);
	return j;
}

/* Spans close together (a slab's slots) are read as one stretch: one
 * system call for many. A stretch that fails is read span by span, to
 * tell exactly which span did. */
int vt_mem_readv(const struct vt_mem *m, const struct vt_mem_span *spans,
		 size_t n, size_t *done)
{
	uint8_t *buf = NULL;
	size_t i = 0, j, len;

	while (i < n) {
		uint64_t lo = spans[i].addr;

		j = i + stretch(spans + i, n - i, &len);
		if (j - i > 1 && len <= CHUNK &&
		    (buf || (buf = malloc(CHUNK))) &&
		    vt_mem_read(m, lo, buf, len) == 0) {
			for (; i < j; i++)
				memcpy(spans[i].buf, buf + (spans[i].addr - lo),
				       spans[i].len);
			continue;
		}
		for (; i < j; i++)
			if (vt_mem_read(m, spans[i].addr, spans[i].buf,
					spans[i].len))
				goto out;
	}
out:
	free(buf);
	if (done)
		*done = i;
	return i == n ? 0 : -1;
}

int vt_mem_u64(const struct vt_mem *m, uint64_t addr, uint64_t *out)
{
	return vt_mem_read(m, addr, out, sizeof(*out));
}

int vt_mem_u32(const struct vt_mem *m, uint64_t addr, uint32_t *out)
{
	return vt_mem_read(m, addr, out, sizeof(*out));
}

int vt_mem_u16(const struct vt_mem *m, uint64_t addr, uint16_t *out)
{
	return vt_mem_read(m, addr, out, sizeof(*out));
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

/* A duplicate read from the start: fclose leaves m->maps open. The file
 * is made anew from the process's mappings at each read from 0. */
FILE *vt_mem_maps(const struct vt_mem *m)
{
	int fd = fcntl(m->maps, F_DUPFD_CLOEXEC, 0);
	FILE *f = fd < 0 || lseek(fd, 0, SEEK_SET) ? NULL : fdopen(fd, "r");

	if (!f && fd >= 0)
		close(fd);
	return f;
}

int vt_mem_regions_load(const struct vt_mem *m, struct vt_mem_regions *r)
{
	char perms[8], *line = NULL;
	unsigned long long start, end;
	size_t cap = 0;
	int rc = 0;
	FILE *f = vt_mem_maps(m);

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
