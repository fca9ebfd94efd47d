// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* bench_floor's program: nothing but the trap. Attached at each of
 * valk-trace's own probe sites, it is the floor a tracer on those sites
 * cannot go below; bpftrace's empty programs measure the same on the
 * functions' entries, where it can place them. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("uprobe")
int floor_empty(void *ctx __attribute__((unused)))
{
	return 0;
}
