/* valk-trace snapshot <pid>: one memory-dialect JSON document on stdout
 * after one tick; never serves. */
#include "cli/vt_cmd.h"

int vt_cmd_snapshot(int argc, char **argv)
{
	struct vt_trace_opts o = vt_cmd_trace_defaults();

	o.snapshot = 1;
	argv[0] = "valk-trace snapshot";
	if (vt_cmd_trace_args(argc, argv, "Print one memory-dialect JSON "
				"document of <pid>'s state and exit.",
				VT_CMD_SNAPSHOT, &o, NULL))
		return VT_EXIT_USAGE;
	o.serve.listen = NULL;
	return vt_trace_run(&o, NULL);
}
