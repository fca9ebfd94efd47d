/* vt_proc: what /proc says about the target process as a whole. */
#ifndef VT_PROC_H
#define VT_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vt_proc_info {
	uint64_t rss, vms;	/* bytes */
	uint64_t system_total;	/* physical memory of the machine, bytes */
	double uptime_s;	/* since the process started */
};

/* 0, or -1 when the process is gone. */
int vt_proc_info(int pid, struct vt_proc_info *out);
/* When the process started, in clock ticks since boot (field 22 of
 * /proc/PID/stat): with the pid, it names one process for good. 0 when
 * the process is gone. */
uint64_t vt_proc_start_ticks(int pid);
/* CPU time the process has used (user + system, all its threads), ns,
 * at clock-tick resolution; 0 when it is gone. */
uint64_t vt_proc_cpu_ns(int pid);
/* Whether that process still runs: a zombie keeps its start time but has
 * exited, even while its parent has not reaped it, and one whose exit has
 * begun (its map already gone, its threads still ending) is exiting. */
bool vt_proc_running(int pid, uint64_t start_ticks);
/* The process's argv from /proc/<pid>/cmdline, NUL-separated, into buf:
 * the bytes used, 0 when it cannot be read. */
size_t vt_proc_cmdline(int pid, char *buf, size_t len);
/* CLOCK_MONOTONIC in ns and ms, the clock of bpf_ktime_get_ns(). */
uint64_t vt_proc_now_ns(void);
uint64_t vt_proc_now_ms(void);
uint64_t vt_proc_wall_ms(void);
/* Whether pid's command name (comm) or its executable's file name is
 * name: how `attach --follow NAME` recognizes a service's process. */
bool vt_proc_named(int pid, const char *name);
/* Whether this process has capability cap (CAP_*, <linux/capability.h>)
 * in its effective set. */
bool vt_proc_has_cap(int cap);
/* Why reading pid's /proc entries was refused, with the fix, in one line:
 * not root; root without CAP_SYS_PTRACE; the target in another user
 * namespace; else a security policy (Yama ptrace_scope). */
void vt_proc_eperm_reason(int pid, char *out, size_t len);

#endif /* VT_PROC_H */
