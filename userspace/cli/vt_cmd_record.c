/* valk-trace record <pid> -o FILE: trace into a recording until Ctrl-C,
 * --duration or the target's end; nothing is served unless --listen. */
#include <stdio.h>

#include "cli/vt_cmd.h"

int vt_cmd_record(int argc, char **argv)
{
	struct vt_trace_opts o = vt_cmd_trace_defaults();
	struct vt_result_args r = { 0 };

	argv[0] = "valk-trace record";
	if (vt_cmd_trace_args(argc, argv, "Record a trace of <pid> into -o "
				"FILE until Ctrl-C, --duration or the target's "
				"end.", VT_CMD_RECORD, &o, &r))
		return VT_EXIT_USAGE;
	if (!o.record_path) {
		fprintf(stderr, "valk-trace: record needs -o FILE, the "
				"recording to write (see `valk-trace record "
				"--help`)\n");
		return VT_EXIT_USAGE;
	}
	return vt_trace_run(&o, &r.res);
}
