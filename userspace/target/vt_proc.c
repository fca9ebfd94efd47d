#include "target/vt_proc.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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

/* Field 22 of /proc/<pid>/stat: start time in clock ticks since boot.
 * The command name (field 2) may hold spaces and parentheses, so parse
 * from the last ')'. */
static int read_start_ticks(int pid, unsigned long long *ticks)
{
	char path[64], buf[1024], *p;
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')');
	if (!p)
		return -1;
	/* after ") " come fields 3..: skip 19 of them to reach field 22 */
	return sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u "
			     "%*u %*u %*d %*d %*d %*d %*d %*d %llu",
		      ticks) == 1 ? 0 : -1;
}

int vt_proc_info(int pid, struct vt_proc_info *out)
{
	unsigned long long ticks;
	struct timespec up;

	if (read_statm(pid, &out->vms, &out->rss) ||
	    read_start_ticks(pid, &ticks))
		return -1;
	out->system_total = (uint64_t)sysconf(_SC_PHYS_PAGES) *
			    (uint64_t)sysconf(_SC_PAGESIZE);
	clock_gettime(CLOCK_BOOTTIME, &up);
	out->uptime_s = up.tv_sec + up.tv_nsec / 1e9 -
			(double)ticks / sysconf(_SC_CLK_TCK);
	return 0;
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
