/* vt_probe: the order probes go on. A release seen around a slab's
 * bootstrap read is undone by its slot's re-acquire when both are in the
 * image (model/vt_state.c), so no release probe may be live while an
 * acquire probe is not yet: every acquire probe is attached first. */
#include "vt_test.h"
#include "probe/vt_probe.h"

static const enum vt_probe_id acquires[] = {
	VT_P_ACQUIRE_ENTRY, VT_P_ACQUIRE_RET, VT_P_ACQUIRE_POP,
};
static const enum vt_probe_id releases[] = {
	VT_P_RELEASE, VT_P_RELEASE_PTR, VT_P_RELEASE_PUSH,
	VT_P_RELEASE_PTR_PUSH,
};

static void test_order(void)
{
	enum vt_probe_id order[VT_P_COUNT];
	int at[VT_P_COUNT];

	for (int i = 0; i < VT_P_COUNT; i++)
		at[i] = -1;
	vt_probe_order(order);
	for (int k = 0; k < VT_P_COUNT; k++) {	/* each id once */
		CHECK(order[k] < VT_P_COUNT && at[order[k]] < 0);
		if (order[k] < VT_P_COUNT)
			at[order[k]] = k;
	}
	for (size_t a = 0; a < sizeof(acquires) / sizeof(*acquires); a++)
		for (size_t r = 0; r < sizeof(releases) / sizeof(*releases); r++)
			CHECK(at[acquires[a]] < at[releases[r]]);
}

int main(void)
{
	test_order();
	return vt_test_done("test_probe");
}
