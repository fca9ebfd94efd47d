/* libFuzzer target for the memory-image decoder: each input is mapped at a
 * fixed address of this process as "target memory" (its first word the
 * valk_sys pointer) and decoded as the collector does, with the real
 * reads (process_vm_readv and /proc/self/maps on this process): systems,
 * slabs, handle kinds, owners, arenas, GC heap, then the model loads,
 * reconciles and samples what was read. Any bytes must give images or
 * refusals, never a crash, an out-of-bounds access or a balloon. The
 * layout is the stand-in runtime's, resolved from its DWARF. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>

#include "model/vt_state.h"
#include "target/vt_layout.h"
#include "target/vt_snap.h"
#include "tests/fuzz/vt_fuzz_map.h"

#define BASE 0x400000000000ULL	/* tests/fuzz/seed_image.py lays out here */
#define MAX_ARENAS 64
#define BATCH 64

static struct vt_layout layout;
static struct vt_mem self;	/* this process, read as a target */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char exe[PATH_MAX], obj[PATH_MAX + 64], err[512];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	(void)argc;
	(void)argv;
	if (n <= 0)
		abort();
	exe[n] = '\0';
	*strrchr(exe, '/') = '\0';	/* build/fuzz -> build/fixture */
	snprintf(obj, sizeof(obj), "%s/../fixture/libvalkyria.so", exe);
	if (vt_layout_from_elf(obj, &layout, err, sizeof(err))) {
		fprintf(stderr, "fuzz_image: %s\n", err);
		abort();
	}
	if (vt_mem_open(&self, getpid()))
		abort();
	return 0;
}

static const struct vt_slab *slab_of(const struct vt_state *st, int system,
				     enum vt_slab_kind kind)
{
	for (size_t i = 0; i < vt_state_nslabs(st); i++) {
		const struct vt_slab *sl = vt_state_slab(st, i);

		if (sl->system == system && sl->kind == kind)
			return sl;
	}
	return NULL;
}

static void decode_system(struct vt_snap *s, struct vt_state *st, int i,
			  uint64_t sys)
{
	uint64_t slabs[VT_SLAB_KINDS];
	char names[VT_MAX_OWNERS][32];
	struct vt_arena arenas[MAX_ARENAS];
	int n;

	vt_state_system_set(st, i, sys);
	if (vt_snap_system_slabs(s, sys, slabs))
		return;
	for (int k = 0; k < VT_SLAB_KINDS; k++) {
		struct vt_slab_image img;

		if (!slabs[k])
			continue;
		vt_snap_slab_header(s, slabs[k], i, k, &img);
		if (vt_snap_slab(s, slabs[k], i, k, &img))
			continue;
		vt_state_slab_load(st, &img, 0);
		vt_state_slab_reconcile(st, &img, 1);
		vt_state_slab_sample(st, &img, 2);
	}
	n = vt_snap_owners(s, sys, names, VT_MAX_OWNERS);
	for (int j = 0; j < n; j++)
		vt_state_owner_set(st, i, j, names[j]);
	n = vt_snap_arenas(s, i, sys, slab_of(st, i, VT_SLAB_STREAM_ARENAS),
			   arenas, 0, MAX_ARENAS);
	if (n > 0)
		vt_state_arenas_set(st, arenas, n);
}

/* The reads of pending handle slots and connections, as each tick does
 * (one batch). */
static void type_pending(struct vt_snap *s, struct vt_state *st)
{
	uint64_t slab[BATCH], slot[BATCH];
	const struct vt_slab *sl[BATCH];
	uint32_t kind[BATCH], diag[BATCH];
	uint16_t owner[BATCH];
	struct vt_state_cursor cur = { 0, 0 };
	size_t n = vt_state_reads_due(st, true, &cur, slab, slot, BATCH);

	for (size_t i = 0; i < n; i++)
		sl[i] = vt_state_slab_find(st, slab[i]);
	if (n && vt_snap_handles(s, sl, slot, n, kind, diag, owner) == 0)
		for (size_t i = 0; i < n; i++)
			vt_state_slot_typed(st, slab[i], slot[i], kind[i],
					    diag[i], owner[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t len;
	uint64_t sys[VT_SNAP_MAX_SYSTEMS];
	struct vt_snap *s;
	struct vt_state *st;
	struct vt_gc gc;
	void *m;
	int n;

	if (!size)
		return 0;
	m = vt_fuzz_map(BASE, data, size, &len);
	s = vt_snap_new(&self, &layout, 0, BASE);
	st = vt_state_new(0);
	n = vt_snap_systems(s, sys, VT_SNAP_MAX_SYSTEMS);
	for (int i = 0; i < n; i++)
		decode_system(s, st, i, sys[i]);
	type_pending(s, st);
	if (vt_snap_gc(s, &gc) == 0)
		vt_state_gc_set(st, &gc);
	vt_state_free(st);
	vt_snap_free(s);
	munmap(m, len);
	return 0;
}
