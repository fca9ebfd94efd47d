/* vt-poke: writes a value into a running runtime's structure through
 * /proc/PID/mem, to test the tracer against hostile memory. Locates the
 * structure the way the tracer does (DWARF layout, valk_sys, AIO system 0)
 * and prints the old value, so a second call with it repairs.
 *
 *   vt-poke PID WHAT VALUE
 *
 * WHAT: slab.KIND.FIELD (KIND tcp_buffers|handles|stream_arenas|
 * http_servers|http_clients; FIELD numItems|itemSize|usage_bitmap|
 * numFree|peakUsed|overflowCount|bitmap_version|total_acquires|
 * total_releases), sys.SLAB (the slab pointer of that kind in the system),
 * owners.count, owners.name.I.Q (bytes 8Q..8Q+7 of entry I's name),
 * vsys.subsystem_count, vsys.subsystem.I.ctx|stop (entry I of the
 * subsystem list), vsys.heap. A field is written with its own width (a
 * VALUE wider is cut to it).
 * VALUE: a number (0x… for hex), `zeros` (the address of zeroed memory of
 * the target as large as WHAT's slab bitmap), `unmapped`, `add:N` (the
 * field plus N, modulo 2^64: a repair of a counter the runtime went on
 * bumping) or `consistent` (for bitmap_version, total_acquires or
 * total_releases of a quiescent slab: the value that makes version equal
 * acquires plus releases again). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "target/vt_layout.h"
#include "target/vt_mem.h"
#include "target/vt_snap.h"
#include "target/vt_target.h"
#include "model/vt_state.h"

#define UNMAPPED 0x10000000000ULL	/* no mapping of a test target here */

static const struct {
	const char *name;
	enum vt_layout_id id;
	size_t width;
} fields[] = {
	{ "numItems", VT_L_SLAB_NUM_ITEMS, 8 },
	{ "itemSize", VT_L_SLAB_ITEM_SIZE, 8 },
	{ "usage_bitmap", VT_L_SLAB_BITMAP, 8 },
	{ "numFree", VT_L_SLAB_NUM_FREE, 8 },
	{ "peakUsed", VT_L_SLAB_PEAK, 8 },
	{ "overflowCount", VT_L_SLAB_OVERFLOW, 8 },
	{ "bitmap_version", VT_L_SLAB_VERSION, 8 },
	{ "total_acquires", VT_L_SLAB_ACQUIRES, 8 },
	{ "total_releases", VT_L_SLAB_RELEASES, 8 },
};

static int die(const char *msg)
{
	fprintf(stderr, "vt-poke: %s\n", msg);
	return 2;
}

static int kind_of(const char *s)
{
	for (int k = 0; k < VT_SLAB_KINDS; k++)
		if (!strcmp(s, vt_slab_kind_name(k)))
			return k;
	return -1;
}

/* Address and width of WHAT in the target (and of its slab, for a slab
 * field); 0 when it names nothing. */
static uint64_t locate(struct vt_snap *s, const struct vt_mem *m,
		       const struct vt_layout *l,
		       uint64_t vsys, const char *what, size_t *width,
		       uint64_t *bitmap_len, uint64_t *slab)
{
	static const enum vt_layout_id slab_ptr[VT_SLAB_KINDS] = {
		VT_L_SYS_TCP_BUFFERS, VT_L_SYS_HANDLES, VT_L_SYS_STREAM_ARENAS,
		VT_L_SYS_HTTP_SERVERS, VT_L_SYS_HTTP_CLIENTS,
	};
	uint64_t slabs[VT_SLAB_KINDS], total, sys;
	char kind[32], field[32];
	unsigned i, q;
	int k;

	*width = 8;
	if (!strcmp(what, "vsys.subsystem_count")) {
		*width = 4;
		return vsys + l->off[VT_L_VSYS_SUBSYSTEM_COUNT];
	}
	if (sscanf(what, "vsys.subsystem.%u.%31s", &i, field) == 2 &&
	    i < l->count[VT_LC_N_SUBSYSTEMS] &&
	    (!strcmp(field, "ctx") || !strcmp(field, "stop")))
		return vsys + l->off[VT_L_VSYS_SUBSYSTEMS] +
		       i * l->off[VT_L_SUBSYS_SIZEOF] +
		       l->off[strcmp(field, "ctx") ? VT_L_SUBSYS_STOP
						  : VT_L_SUBSYS_CTX];
	if (!strcmp(what, "vsys.heap"))
		return vsys + l->off[VT_L_VSYS_HEAP];
	if (vt_snap_systems(s, &sys, 1) < 1)
		return 0;
	if (!strcmp(what, "owners.count")) {
		*width = 2;
		return sys + l->off[VT_L_SYS_OWNERS] + l->off[VT_L_OWNERS_COUNT];
	}
	if (sscanf(what, "owners.name.%u.%u", &i, &q) == 2 &&
	    i < l->count[VT_LC_N_OWNERS] &&
	    8 * (uint64_t)q + 8 <= l->count[VT_LC_OWNER_NAME_LEN])
		return sys + l->off[VT_L_SYS_OWNERS] +
		       l->off[VT_L_OWNERS_ENTRIES] +
		       i * l->off[VT_L_OWNER_SIZEOF] + l->off[VT_L_OWNER_NAME] +
		       8 * q;
	if (vt_snap_system_slabs(s, sys, slabs))
		return 0;
	if (sscanf(what, "sys.%31s", kind) == 1 && (k = kind_of(kind)) >= 0)
		return sys + l->off[slab_ptr[k]];
	if (sscanf(what, "slab.%31[^.].%31s", kind, field) != 2 ||
	    (k = kind_of(kind)) < 0 || !slabs[k])
		return 0;
	if (vt_mem_u64(m, slabs[k] + l->off[VT_L_SLAB_NUM_ITEMS], &total))
		return 0;
	*bitmap_len = (total + 7) / 8;
	*slab = slabs[k];
	for (size_t i = 0; i < sizeof(fields) / sizeof(*fields); i++)
		if (!strcmp(field, fields[i].name)) {
			*width = fields[i].width;
			return slabs[k] + l->off[fields[i].id];
		}
	return 0;
}

/* Start of len zero bytes in the target's writable anonymous memory. */
static uint64_t find_zeros(int pid, int mem, uint64_t len)
{
	char path[64], line[512];
	unsigned long long a, b;
	char perms[8], rest[256];
	uint64_t found = 0;
	static uint8_t buf[1 << 16];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	f = fopen(path, "r");
	while (f && !found && fgets(line, sizeof(line), f)) {
		rest[0] = 0;
		if (sscanf(line, "%llx-%llx %7s %*s %*s %*s %255s", &a, &b,
			   perms, rest) < 3 || strncmp(perms, "rw", 2) || *rest)
			continue;
		for (uint64_t p = a; !found && p + len <= b; p += sizeof(buf) / 2) {
			size_t n = b - p < sizeof(buf) ? b - p : sizeof(buf);
			uint64_t run = 0;

			if (pread(mem, buf, n, p) != (ssize_t)n)
				break;
			for (size_t i = 0; i < n && !found; i++) {
				run = buf[i] ? 0 : run + 1;
				if (run == len)
					found = p + i + 1 - len;
			}
		}
	}
	if (f)
		fclose(f);
	return found;
}

/* The value of the counter at `at` of `slab` that makes bitmap_version
 * equal total_acquires + total_releases; -1 for another field. */
static int consistent(int mem, const struct vt_layout *l, uint64_t slab,
		      uint64_t at, uint64_t *value)
{
	uint64_t v, a, r;

	if (pread(mem, &v, 8, slab + l->off[VT_L_SLAB_VERSION]) != 8 ||
	    pread(mem, &a, 8, slab + l->off[VT_L_SLAB_ACQUIRES]) != 8 ||
	    pread(mem, &r, 8, slab + l->off[VT_L_SLAB_RELEASES]) != 8)
		return -1;
	if (at == slab + l->off[VT_L_SLAB_VERSION])
		*value = a + r;
	else if (at == slab + l->off[VT_L_SLAB_ACQUIRES])
		*value = v - r;
	else if (at == slab + l->off[VT_L_SLAB_RELEASES])
		*value = v - a;
	else
		return -1;
	return 0;
}

int main(int argc, char **argv)
{
	struct vt_target t;
	struct vt_layout l;
	char err[512], path[64];
	uint64_t at, vsys, value = 0, old = 0;
	uint64_t bitmap_len = 1, slab = 0;
	size_t width;
	struct vt_snap *s;
	struct vt_mem m;
	int pid, mem;

	if (argc != 4)
		return die("usage: vt-poke PID WHAT VALUE");
	pid = atoi(argv[1]);
	if (vt_target_open(pid, &t, err, sizeof(err)) ||
	    vt_layout_from_elf(t.open_path, &l, err, sizeof(err)))
		return die(err);
	if (vt_mem_open(&m, pid))
		return die(strerror(errno));
	at = vt_target_addr(&t, "valk_sys", l.sym[VT_LS_VALK_SYS]);
	s = vt_snap_new(&m, &l, t.bias, at);
	if (!s || vt_mem_u64(&m, at, &vsys) || !vsys)
		return die("no runtime system to poke");
	at = locate(s, &m, &l, vsys, argv[2], &width, &bitmap_len, &slab);
	vt_snap_free(s);
	vt_mem_close(&m);
	if (!at)
		return die("unknown WHAT, or no AIO system");
	snprintf(path, sizeof(path), "/proc/%d/mem", pid);
	mem = open(path, O_RDWR);
	if (mem < 0 || pread(mem, &old, width, at) != (ssize_t)width)
		return die(strerror(errno));
	if (!strcmp(argv[3], "unmapped"))
		value = UNMAPPED;
	else if (!strcmp(argv[3], "zeros"))
		value = find_zeros(pid, mem, bitmap_len);
	else if (!strncmp(argv[3], "add:", 4))
		value = old + strtoull(argv[3] + 4, NULL, 0);
	else if (!strcmp(argv[3], "consistent")) {
		if (!slab || consistent(mem, &l, slab, at, &value))
			return die("consistent: for bitmap_version, "
				   "total_acquires or total_releases only");
	} else
		value = strtoull(argv[3], NULL, 0);
	if (!strcmp(argv[3], "zeros") && !value)
		return die("no zeroed memory found");
	if (pwrite(mem, &value, width, at) != (ssize_t)width)
		return die(strerror(errno));
	printf("%#llx\n", (unsigned long long)old);
	return 0;
}
