/* valk-trace attach <pid>: trace until Ctrl-C, --duration or the
 * target's end, serving the state on --listen. */
#include "cli/vt_cmd.h"

int vt_cmd_attach(int argc, char **argv)
{
	struct vt_trace_opts o = vt_cmd_trace_defaults();
	struct vt_result_args r = { 0 };

	o.serve.listen = VT_CMD_LISTEN;
	argv[0] = "valk-trace attach";
	if (vt_cmd_trace_args(argc, argv, "Trace <pid> until Ctrl-C, "
				"--duration or the target's end.",
				VT_CMD_ATTACH, &o, &r))
		return VT_EXIT_USAGE;
	return vt_trace_run(&o, &r.res);
}
