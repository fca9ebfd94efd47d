/* valk-trace: an external memory tracer for the Valkyria runtime. */
#include <argp.h>
#include <stdio.h>
#include <string.h>

#include "cli/vt_cmd.h"

#define VERSION "0.1.0"

const char *argp_program_version = "valk-trace " VERSION;

static const char usage[] =
	"usage: valk-trace COMMAND [OPTION...]\n"
	"\n"
	"commands:\n"
	"  attach <pid>     trace a running valk process until Ctrl-C\n"
	"  snapshot <pid>   print one memory-dialect JSON document and exit\n"
	"  ps               list processes running a valk runtime\n"
	"  layout <binary>  print the struct layout resolved from DWARF\n"
	"  demo             run the bundled stand-in runtime under load, "
	"traced, with the dashboard\n"
	"\n"
	"`valk-trace COMMAND --help` describes each command's options.\n";

static const struct command {
	const char *name;
	int (*run)(int argc, char **argv);
} commands[] = {
	{ "attach", vt_cmd_attach },
	{ "snapshot", vt_cmd_snapshot },
	{ "ps", vt_cmd_ps },
	{ "layout", vt_cmd_layout },
	{ "demo", vt_cmd_demo },
};

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : "";

	argp_err_exit_status = VT_EXIT_USAGE;
	for (size_t i = 0; i < sizeof(commands) / sizeof(*commands); i++)
		if (!strcmp(cmd, commands[i].name))
			return commands[i].run(argc - 1, argv + 1);
	if (!strcmp(cmd, "--version")) {
		puts(argp_program_version);
		return VT_EXIT_OK;
	}
	if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
		fputs(usage, stdout);
		return VT_EXIT_OK;
	}
	if (*cmd)
		fprintf(stderr, "valk-trace: unknown command '%s' (see "
				"`valk-trace --help`)\n", cmd);
	else
		fputs(usage, stderr);
	return VT_EXIT_USAGE;
}
