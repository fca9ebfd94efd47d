/* vt_ulink: uprobe_multi links (kernel 6.6+) made through the bpf syscall,
 * which Debian's libbpf 1.1 has no helper for. Unlike a perf-event uprobe,
 * removing one does not go through the tracing core's global lock, so many
 * can be removed at once. */
#ifndef VT_ULINK_H
#define VT_ULINK_H

#include <stdbool.h>
#include <stdint.h>

/* The attach type a program must be loaded with (BPF_TRACE_UPROBE_MULTI). */
#define VT_ULINK_ATTACH_TYPE 48

/* A link running prog_fd at n file offsets of path, in process pid only;
 * return probes when ret. The link's fd, or -errno: -EINVAL or -ENOSYS
 * when the kernel has no uprobe_multi links. Closing the fd detaches. */
int vt_ulink_open(int prog_fd, const char *path, const uint64_t *offsets,
		  uint32_t n, bool ret, int pid);

#endif /* VT_ULINK_H */
