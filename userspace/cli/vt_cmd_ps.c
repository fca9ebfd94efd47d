/* valk-trace ps: the processes running a valk runtime, with how many AIO
 * systems each has. */
#include "cli/vt_cmd.h"

#include <stdio.h>

#include "target/vt_layout.h"
#include "target/vt_snap.h"
#include "target/vt_target.h"

static void print_row(const struct vt_target *t, void *ctx)
{
	struct vt_layout l;
	struct vt_snap *s;
	char err[256], aio[16] = "?";
	uint64_t sys[VT_SNAP_MAX_SYSTEMS];

	(void)ctx;
	if (vt_layout_from_elf(t->open_path, &l, err, sizeof(err)) == 0 &&
	    (s = vt_snap_new(t->pid, &l, t->bias,
			     vt_target_addr(t, "valk_sys",
					    l.sym[VT_LS_VALK_SYS])))) {
		int n = vt_snap_systems(s, sys, VT_SNAP_MAX_SYSTEMS);

		if (n >= 0)
			snprintf(aio, sizeof(aio), "%d", n);
		vt_snap_free(s);
	}
	printf("%-8d %-4s %-20.20s %s%s\n", t->pid, aio,
	       *t->build_id ? t->build_id : "-", t->object,
	       t->deleted ? " (deleted)" : "");
}

int vt_cmd_ps(int argc, char **argv)
{
	(void)argv;
	if (argc > 1) {
		fprintf(stderr, "valk-trace: ps takes no arguments\n");
		return VT_EXIT_USAGE;
	}
	printf("%-8s %-4s %-20s %s\n", "PID", "AIO", "BUILD-ID", "OBJECT");
	if (vt_target_scan(print_row, NULL) == 0)
		fprintf(stderr, "valk-trace: no valk process found\n");
	return VT_EXIT_OK;
}
