/* libFuzzer target for the layout reader: any bytes as a --layout file
 * give a layout whose every offset and count passed vt_layout's checks, or
 * a one-line error; never a crash or an out-of-bounds access. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>

#include "target/vt_layout.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int fd = memfd_create("layout", MFD_CLOEXEC);
	char path[64], err[512];
	struct vt_layout l;

	if (fd < 0 || write(fd, data, size) != (ssize_t)size) {
		if (fd >= 0)
			close(fd);
		return 0;
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	if (vt_layout_read_json(path, &l, err, sizeof(err)) != 0 &&
	    (!*err || strchr(err, '\n')))
		__builtin_trap();	/* an error is one line */
	close(fd);
	return 0;
}
