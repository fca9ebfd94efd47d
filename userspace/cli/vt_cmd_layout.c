/* valk-trace layout <binary>: the runtime's struct layout as resolved from
 * DWARF, as the JSON --layout reads back for a stripped target. */
#include "cli/vt_cmd.h"

#include <stdio.h>

#include "target/vt_layout.h"

int vt_cmd_layout(int argc, char **argv)
{
	const char *binary;
	struct vt_layout l;
	char err[512];

	argv[0] = "valk-trace layout";
	if (vt_cmd_one_arg(argc, argv, "<binary>", "<binary>: the runtime's "
			   "libvalkyria.so or executable", "Print the runtime's "
			   "struct layout, resolved from the binary's DWARF, as "
			   "the JSON that --layout reads.", &binary))
		return VT_EXIT_USAGE;
	if (vt_layout_from_elf(binary, &l, err, sizeof(err))) {
		fprintf(stderr, "valk-trace: %s\n", err);
		return VT_EXIT_USAGE;
	}
	return vt_layout_write_json(&l, stdout) ? VT_EXIT_FAIL : VT_EXIT_OK;
}
