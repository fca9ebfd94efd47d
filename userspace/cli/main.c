/* valk-trace: an external memory tracer for the Valkyria runtime. */
#include <argp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/vt_cmd.h"

const char *argp_program_version = "valk-trace " VT_TRACE_VERSION;

/* The commands, in the order `valk-trace --help` lists them; the man page
 * and the shell completion are made from that list and from each
 * command's --help. */
static const struct command {
	const char *name, *args, *summary;
	int (*run)(int argc, char **argv);
} commands[] = {
	{ "attach", "<pid>", "trace a running valk process until Ctrl-C",
	  vt_cmd_attach },
	{ "run", "-- CMD", "run CMD with every valk process it starts traced, "
			   "and judge the report", vt_cmd_run },
	{ "diff", "BASE NEW", "what grew between two reports", vt_cmd_diff },
	{ "snapshot", "<pid>", "print one memory-dialect JSON document and exit",
	  vt_cmd_snapshot },
	{ "record", "<pid> -o FILE", "trace into a recording until Ctrl-C",
	  vt_cmd_record },
	{ "replay", "FILE", "serve a recording as the live trace served it",
	  vt_cmd_replay },
	{ "info", "FILE", "what a recording holds", vt_cmd_info },
	{ "ps", "", "list processes running a valk runtime", vt_cmd_ps },
	{ "probes", "<pid>", "where each probe goes and what a hit costs",
	  vt_cmd_probes },
	{ "layout", "<binary>", "print the struct layout resolved from DWARF",
	  vt_cmd_layout },
	{ "demo", "", "run the bundled stand-in runtime, traced, with the "
		      "dashboard", vt_cmd_demo },
};

static const char exit_codes[] =
	"Exit status:\n"
	"  0  success: detached by Ctrl-C/SIGTERM or --duration, or the output\n"
	"     printed\n"
	"  1  an error while tracing (e.g. the final --json could not be written)\n"
	"  2  bad arguments; a file that is no recording (replay, info) or a\n"
	"     recording that cannot be created; or cannot attach: no such pid,\n"
	"     not a valk process,\n"
	"     no permission, no uprobes, no DWARF and no --layout, a layout of\n"
	"     another build, the listen port in use\n"
	"  3  the target exited, was killed or exec'd while traced (the final\n"
	"     state is still written)\n";

static void usage(FILE *f)
{
	fprintf(f, "Usage: valk-trace COMMAND [OPTION...]\n"
		   "An external memory tracer for the Valkyria runtime.\n\n"
		   "Commands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(*commands); i++) {
		char head[64];

		snprintf(head, sizeof(head), "%s %s", commands[i].name,
			 commands[i].args);
		fprintf(f, "  %-20s %s\n", head, commands[i].summary);
	}
	fprintf(f, "\n%s\n`valk-trace COMMAND --help` lists a command's options.\n",
		exit_codes);
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : "";

	argp_err_exit_status = VT_EXIT_USAGE;
	/* symbols come from this machine's files: libdw asks no debuginfod
	 * server (the tracer talks to no network) */
	unsetenv("DEBUGINFOD_URLS");
	for (size_t i = 0; i < sizeof(commands) / sizeof(*commands); i++)
		if (!strcmp(cmd, commands[i].name))
			return commands[i].run(argc - 1, argv + 1);
	if (!strcmp(cmd, "--version") || !strcmp(cmd, "-V")) {
		puts(argp_program_version);
		return VT_EXIT_OK;
	}
	if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
		usage(stdout);
		return VT_EXIT_OK;
	}
	if (*cmd)
		fprintf(stderr, "valk-trace: unknown command '%s' (see "
				"`valk-trace --help`)\n", cmd);
	else
		usage(stderr);
	return VT_EXIT_USAGE;
}
