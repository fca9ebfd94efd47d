/* valk-trace layout <binary>: the runtime's struct layout as resolved from
 * DWARF, as the JSON --layout reads back for a stripped target. */
#include "cli/vt_cmd.h"

#include <stdio.h>
#include <string.h>

#include "target/vt_layout.h"

int vt_cmd_layout(int argc, char **argv)
{
	struct vt_layout l;
	char err[512];

	if (argc != 2 || argv[1][0] == '-') {
		fprintf(stderr, "usage: valk-trace layout <binary>\n"
				"Print the runtime's struct layout, resolved "
				"from the binary's DWARF, as JSON.\n");
		return argc == 2 && !strcmp(argv[1], "--help") ? VT_EXIT_OK
							     : VT_EXIT_USAGE;
	}
	if (vt_layout_from_elf(argv[1], &l, err, sizeof(err))) {
		fprintf(stderr, "valk-trace: %s\n", err);
		return VT_EXIT_USAGE;
	}
	return vt_layout_write_json(&l, stdout) ? VT_EXIT_FAIL : VT_EXIT_OK;
}
