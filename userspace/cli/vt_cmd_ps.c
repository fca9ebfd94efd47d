/* valk-trace ps: the processes running a valk runtime, with how many AIO
 * systems each has. */
#include "cli/vt_cmd.h"

#include <stdio.h>
#include <linux/capability.h>

#include "target/vt_layout.h"
#include "target/vt_proc.h"
#include "target/vt_snap.h"
#include "target/vt_target.h"

struct ps_args {
	bool pids;	/* only the pids, one a line */
	int rows;
};

static struct argp_option options[] = {
	{ "pids", 'p', NULL, 0, "print only the pids, one a line", 0 },
	{ 0 }
};

static error_t parse(int key, char *arg, struct argp_state *st)
{
	struct ps_args *a = st->input;

	switch (key) {
	case 'p':
		a->pids = true;
		break;
	case ARGP_KEY_ARG:
		return vt_cmd_bad(st, "ps takes no arguments, got '%s'", arg);
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static void print_row(const struct vt_target *t, void *ctx)
{
	struct ps_args *a = ctx;
	struct vt_layout l;
	struct vt_mem mem;
	struct vt_snap *s;
	char err[256], aio[16] = "?";
	uint64_t sys[VT_SNAP_MAX_SYSTEMS];

	if (a->pids) {
		printf("%d\n", t->pid);
		return;
	}
	if (!a->rows++)
		printf("%-8s %-4s %-20s %s\n", "PID", "AIO", "BUILD-ID",
		       "OBJECT");
	if (vt_layout_from_elf(t->open_path, &l, err, sizeof(err)) == 0 &&
	    vt_mem_open(&mem, t->pid) == 0) {
		s = vt_snap_new(&mem, &l, t->bias,
				vt_target_addr(t, "valk_sys",
					       l.sym[VT_LS_VALK_SYS]));
		int n = s ? vt_snap_systems(s, sys, VT_SNAP_MAX_SYSTEMS) : -1;

		if (n >= 0)
			snprintf(aio, sizeof(aio), "%d", n);
		vt_snap_free(s);
		vt_mem_close(&mem);
	}
	printf("%-8d %-4s %-20.20s %s%s\n", t->pid, aio,
	       *t->build_id ? t->build_id : "-", t->object,
	       t->deleted ? " (deleted)" : "");
}

int vt_cmd_ps(int argc, char **argv)
{
	struct argp argp = { options, parse, NULL,
			     "List the processes running a valk runtime: pid, "
			     "AIO systems, build-id, runtime object.", NULL,
			     NULL, NULL };
	struct ps_args a = { .pids = false };
	int denied, found;

	argv[0] = "valk-trace ps";
	if (vt_cmd_parse(&argp, argc, argv, &a))
		return VT_EXIT_USAGE;
	found = vt_target_scan(print_row, &a, &denied);
	if (denied && !vt_proc_has_cap(CAP_SYS_PTRACE))
		fprintf(stderr, "valk-trace: %s among the processes this user "
				"may read (%d may not be); run as root, or with "
				"CAP_SYS_PTRACE, to see them all\n",
			found ? "these are the valk processes"
			      : "no valk process", denied);
	else if (!found && !a.pids)
		fprintf(stderr, "valk-trace: no valk process found\n");
	return VT_EXIT_OK;
}
