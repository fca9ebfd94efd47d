/* valk-trace layout <binary>: the runtime's struct layout as resolved from
 * DWARF, as the JSON --layout reads back for a stripped target. */
#include "cli/vt_cmd.h"

#include <stdio.h>

#include "target/vt_layout.h"

static error_t parse(int key, char *arg, struct argp_state *st)
{
	const char **binary = st->input;

	switch (key) {
	case ARGP_KEY_ARG:
		if (*binary)
			return vt_cmd_bad(st, "expected one binary, got '%s'",
					  arg);
		*binary = arg;
		break;
	case ARGP_KEY_END:
		if (!*binary)
			return vt_cmd_bad(st, "missing <binary>: the runtime's "
					      "libvalkyria.so or executable");
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

int vt_cmd_layout(int argc, char **argv)
{
	struct argp argp = { NULL, parse, "<binary>",
			     "Print the runtime's struct layout, resolved from "
			     "the binary's DWARF, as the JSON that --layout "
			     "reads.", NULL, NULL, NULL };
	const char *binary = NULL;
	struct vt_layout l;
	char err[512];

	argv[0] = "valk-trace layout";
	if (vt_cmd_parse(&argp, argc, argv, &binary))
		return VT_EXIT_USAGE;
	if (vt_layout_from_elf(binary, &l, err, sizeof(err))) {
		fprintf(stderr, "valk-trace: %s\n", err);
		return VT_EXIT_USAGE;
	}
	return vt_layout_write_json(&l, stdout) ? VT_EXIT_FAIL : VT_EXIT_OK;
}
