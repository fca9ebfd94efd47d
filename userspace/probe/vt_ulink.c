/* vt_ulink: BPF_LINK_CREATE for uprobe_multi, laid out as the kernel's
 * union bpf_attr (include/uapi/linux/bpf.h, link_create.uprobe_multi). */
#include <errno.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/bpf.h>

#include "probe/vt_ulink.h"

#define UPROBE_MULTI_RETURN 1u	/* BPF_F_UPROBE_MULTI_RETURN */

struct link_create_uprobe_multi {
	uint32_t prog_fd;
	uint32_t target_fd;
	uint32_t attach_type;
	uint32_t flags;
	uint64_t path;
	uint64_t offsets;
	uint64_t ref_ctr_offsets;
	uint64_t cookies;
	uint32_t cnt;
	uint32_t multi_flags;
	uint32_t pid;
};

int vt_ulink_open(int prog_fd, const char *path, const uint64_t *offsets,
		  uint32_t n, bool ret, int pid)
{
	struct link_create_uprobe_multi a;
	long fd;

	memset(&a, 0, sizeof(a));
	a.prog_fd = (uint32_t)prog_fd;
	a.attach_type = VT_ULINK_ATTACH_TYPE;
	a.path = (uint64_t)(uintptr_t)path;
	a.offsets = (uint64_t)(uintptr_t)offsets;
	a.cnt = n;
	a.multi_flags = ret ? UPROBE_MULTI_RETURN : 0;
	a.pid = (uint32_t)pid;
	fd = syscall(__NR_bpf, BPF_LINK_CREATE, &a, sizeof(a));
	return fd < 0 ? -errno : (int)fd;
}
