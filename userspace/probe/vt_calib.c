/* vt_calib: three probe targets and a timing loop. */
#include <stdint.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#include "probe/vt_calib.h"
#include "probe/vt_ulink.h"
#include "target/vt_target.h"

#define CALLS 400	/* a stepped hit is ~10 us: a few ms in all */

/* The first instruction of each is what is being measured. */
__attribute__((naked, noinline)) static void calib_nop5(void)
{
	__asm__ volatile(".byte 0x0f, 0x1f, 0x44, 0x00, 0x00\n\tret");
}

__attribute__((naked, noinline)) static void calib_push(void)
{
	__asm__ volatile("push %rbp\n\tpop %rbp\n\tret");
}

__attribute__((naked, noinline)) static void calib_mov(void)
{
	__asm__ volatile("mov %rdi, %rax\n\tret");
}

static void (*const volatile fns[VT_CALIB_N])(void) = {
	[VT_CALIB_NOP5] = calib_nop5,
	[VT_CALIB_EMULATED] = calib_push,
	[VT_CALIB_STEPPED] = calib_mov,
};

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

/* Microseconds per call, the fastest of three runs. */
static double per_call(void (*fn)(void))
{
	double best = 1e30;

	for (int r = 0; r < 3; r++) {
		double t0 = now_us();

		for (int i = 0; i < CALLS; i++)
			fn();
		double t = (now_us() - t0) / CALLS;
		best = t < best ? t : best;
	}
	return best;
}

/* Where fn is in the file this process runs. */
static int file_offset(void (*fn)(void), uint64_t *off)
{
	struct stat st;

	if (stat("/proc/self/exe", &st))
		return -1;
	return vt_target_file_offset(getpid(), (uintptr_t)fn, st.st_dev,
				     st.st_ino, off);
}

int vt_calib_measure(struct bpf_program *prog, bool multi,
		     double us[VT_CALIB_N])
{
	uint64_t off[VT_CALIB_N];
	double base[VT_CALIB_N];
	struct bpf_link *links[VT_CALIB_N] = { NULL };
	int fd = -1, rc = 0;

	for (int c = 0; c < VT_CALIB_N; c++) {
		if (file_offset(fns[c], &off[c]))
			return -1;
		base[c] = per_call(fns[c]);
	}
	if (multi) {
		fd = vt_ulink_open(bpf_program__fd(prog), "/proc/self/exe", off,
				   VT_CALIB_N, false, getpid());
		rc = fd < 0 ? -1 : 0;
	}
	for (int c = 0; !multi && c < VT_CALIB_N; c++) {
		links[c] = bpf_program__attach_uprobe(prog, false, getpid(),
						      "/proc/self/exe", off[c]);
		rc |= links[c] ? 0 : -1;
	}
	for (int c = 0; !rc && c < VT_CALIB_N; c++) {
		double t = per_call(fns[c]) - base[c];

		us[c] = t > 0 ? t : 0;
	}
	if (fd >= 0)
		close(fd);
	for (int c = 0; c < VT_CALIB_N; c++)
		bpf_link__destroy(links[c]);
	return rc;
}
