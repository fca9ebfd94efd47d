#include "target/vt_proc.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/capability.h>

static int read_statm(int pid, uint64_t *vms, uint64_t *rss)
{
	char path[64];
	unsigned long long size, res;
	FILE *f;
	int n;

	snprintf(path, sizeof(path), "/proc/%d/statm", pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	n = fscanf(f, "%llu %llu", &size, &res);
	fclose(f);
	if (n != 2)
		return -1;
	*vms = size * (uint64_t)sysconf(_SC_PAGESIZE);
	*rss = res * (uint64_t)sysconf(_SC_PAGESIZE);
	return 0;
}

/* /proc/<pid>/stat from field 3 on, into buf. The command name (field
 * 2) may hold spaces and parentheses, so the fields start after the last
 * ')'. NULL when the process is gone. */
static const char *stat_fields(int pid, char *buf, size_t len)
{
	char path[64], *p;
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "re");
	if (!f)
		return NULL;
	n = fread(buf, 1, len - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')');
	return p && p[1] ? p + 2 : NULL;
}

/* Field 22: start time in clock ticks since boot. */
uint64_t vt_proc_start_ticks(int pid)
{
	char buf[1024];
	const char *p = stat_fields(pid, buf, sizeof(buf));
	unsigned long long ticks;

	/* fields 3..21 skipped */
	return p && sscanf(p, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u "
			      "%*u %*u %*d %*d %*d %*d %*d %*d %llu",
			   &ticks) == 1 ? ticks : 0;
}

#define PF_EXITING 0x4	/* include/linux/sched.h: do_exit() has begun */

bool vt_proc_running(int pid, uint64_t start_ticks)
{
	char buf[1024];
	const char *p = stat_fields(pid, buf, sizeof(buf));
	char state;
	unsigned flags;

	/* field 3, the state: a zombie (Z) or dead (X) one has exited; field
	 * 9, the flags: one exiting has lost its memory map already but is
	 * no zombie yet (its other threads are still ending), which is no
	 * exec either */
	return p && sscanf(p, "%c %*d %*d %*d %*d %*d %u", &state, &flags) == 2 &&
	       state != 'Z' && state != 'X' && !(flags & PF_EXITING) &&
	       vt_proc_start_ticks(pid) == start_ticks;
}

uint64_t vt_proc_cpu_ns(int pid)
{
	char buf[1024];
	const char *p = stat_fields(pid, buf, sizeof(buf));
	unsigned long long ut, st;

	/* fields 14 and 15: user and system time, clock ticks */
	if (!p || sscanf(p, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u "
			    "%llu %llu", &ut, &st) != 2)
		return 0;
	return (ut + st) * (1000000000ull / (uint64_t)sysconf(_SC_CLK_TCK));
}

int vt_proc_info(int pid, struct vt_proc_info *out)
{
	uint64_t ticks = vt_proc_start_ticks(pid);
	struct timespec up;

	if (read_statm(pid, &out->vms, &out->rss) || !ticks)
		return -1;
	out->system_total = (uint64_t)sysconf(_SC_PHYS_PAGES) *
			    (uint64_t)sysconf(_SC_PAGESIZE);
	clock_gettime(CLOCK_BOOTTIME, &up);
	out->uptime_s = up.tv_sec + up.tv_nsec / 1e9 -
			(double)ticks / sysconf(_SC_CLK_TCK);
	return 0;
}

size_t vt_proc_cmdline(int pid, char *buf, size_t len)
{
	char path[64];
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/cmdline", pid);
	if (!len || !(f = fopen(path, "r")))
		return 0;
	n = fread(buf, 1, len, f);
	fclose(f);
	return n;
}

uint64_t vt_proc_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

uint64_t vt_proc_now_ms(void)
{
	return vt_proc_now_ns() / 1000000;
}

uint64_t vt_proc_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

bool vt_proc_named(int pid, const char *name)
{
	char path[64], buf[4096] = "";
	const char *base;
	FILE *f;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/comm", pid);
	if ((f = fopen(path, "r"))) {
		if (fgets(buf, sizeof(buf), f))
			buf[strcspn(buf, "\n")] = '\0';
		fclose(f);
		/* comm keeps 15 characters of the name */
		if (*buf && !strncmp(buf, name, 15) &&
		    (strlen(name) <= 15 || strlen(buf) == 15) &&
		    (strlen(name) >= 15 || !strcmp(buf, name)))
			return true;
	}
	snprintf(path, sizeof(path), "/proc/%d/exe", pid);
	n = readlink(path, buf, sizeof(buf) - 1);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	if (n > 10 && !strcmp(buf + n - 10, " (deleted)"))
		buf[n - 10] = '\0';
	base = strrchr(buf, '/');
	return !strcmp(base ? base + 1 : buf, name);
}

bool vt_proc_has_cap(int cap)
{
	unsigned long long eff = 0;
	char line[256];
	FILE *f = fopen("/proc/self/status", "r");

	if (!f)
		return false;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "CapEff: %llx", &eff) == 1)
			break;
	fclose(f);
	return cap >= 0 && cap < 64 && (eff >> cap & 1);
}

static bool same_link(const char *a, const char *b)
{
	char x[64] = "", y[64] = "";

	return readlink(a, x, sizeof(x) - 1) > 0 &&
	       readlink(b, y, sizeof(y) - 1) > 0 && !strcmp(x, y);
}

void vt_proc_eperm_reason(int pid, char *out, size_t len)
{
	char ns[64];
	int scope = -1;
	FILE *f = fopen("/proc/sys/kernel/yama/ptrace_scope", "r");

	if (f) {
		if (fscanf(f, "%d", &scope) != 1)
			scope = -1;
		fclose(f);
	}
	snprintf(ns, sizeof(ns), "/proc/%d/ns/user", pid);
	if (geteuid() != 0)
		snprintf(out, len, "permission denied; run valk-trace as root "
			 "(it needs CAP_SYS_PTRACE over the target)");
	else if (!vt_proc_has_cap(CAP_SYS_PTRACE))
		snprintf(out, len, "permission denied: this root has no "
			 "CAP_SYS_PTRACE (a container or the capability "
			 "bounding set dropped it); grant it to valk-trace");
	else if (!same_link("/proc/self/ns/user", ns))
		snprintf(out, len, "permission denied: pid %d is in a user "
			 "namespace where this root has no privilege; run "
			 "valk-trace in that namespace or its parent", pid);
	else
		snprintf(out, len, "permission denied as root with "
			 "CAP_SYS_PTRACE: a security policy forbids it "
			 "(Yama ptrace_scope %d, AppArmor or SELinux)", scope);
}
