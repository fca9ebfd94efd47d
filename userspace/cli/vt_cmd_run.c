/* valk-trace run [OPTION...] -- CMD [ARG...]: CMD's every valk process
 * traced from its first instruction, reported and judged (vt_run). */
#include "cli/vt_cmd.h"
#include "cli/vt_run.h"

int vt_cmd_run(int argc, char **argv)
{
	struct vt_trace_opts o = vt_cmd_trace_defaults();
	struct vt_result_args r = { 0 };
	const char *runtime = NULL;
	char **cmd = NULL;

	o.report = true;
	o.max_overhead_pct = 0;	/* a run is judged on every event: no budget */
	argv[0] = "valk-trace run";
	if (vt_cmd_run_args(argc, argv, "Run CMD with every valk process it "
			    "starts traced from its first instruction; report "
			    "each at its end and judge the report.", &o, &r,
			    &cmd, &runtime))
		return VT_EXIT_USAGE;
	return vt_run(&o, &r.res, cmd, runtime);
}
