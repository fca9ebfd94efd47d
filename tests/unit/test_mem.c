/* vt_mem against a forked child whose memory differs from ours: the child
 * rewrites a buffer after the fork, so only a read of the child's memory
 * sees the new pattern. As root, a handle opened before giving root up
 * still reads it after, as the collector's does. */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "target/vt_mem.h"
#include "vt_test.h"

#define NWORDS 4096
#define HOLE 1500 /* span index that points into an unmapped page */

static uint64_t pattern(size_t i)
{
	return 0x9e3779b97f4a7c15ull * (i + 1);
}

/* The child fills words[], unmaps the page `hole`, tells the parent and
 * waits to be killed. */
static pid_t spawn_child(uint64_t *words, void *hole)
{
	int p[2];
	pid_t pid;
	char c = 0;

	if (pipe(p))
		return -1;
	pid = fork();
	if (pid == 0) {
		for (size_t i = 0; i < NWORDS; i++)
			words[i] = pattern(i);
		munmap(hole, 4096);
		if (write(p[1], &c, 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	close(p[1]);
	if (pid < 0 || read(p[0], &c, 1) != 1)
		pid = -1;
	close(p[0]);
	return pid;
}

static void test_single_reads(const struct vt_mem *m, const uint64_t *words)
{
	uint64_t buf[16], v64 = 0;
	uint32_t v32 = 0;
	uint16_t v16 = 0;
	size_t i;

	CHECK(vt_mem_read(m, (uintptr_t)words, buf, sizeof(buf)) == 0);
	for (i = 0; i < 16; i++)
		CHECK_EQ_U64(buf[i], pattern(i));
	CHECK(vt_mem_u64(m, (uintptr_t)&words[7], &v64) == 0);
	CHECK_EQ_U64(v64, pattern(7));
	CHECK(vt_mem_u32(m, (uintptr_t)&words[9], &v32) == 0);
	CHECK_EQ_U64(v32, (uint32_t)pattern(9));
	CHECK(vt_mem_u16(m, (uintptr_t)&words[11] + 2, &v16) == 0);
	CHECK_EQ_U64(v16, (uint16_t)(pattern(11) >> 16));
	/* Our own copy was never written. */
	CHECK_EQ_U64(words[7], 0);

	errno = 0;
	CHECK(vt_mem_u64(m, 0, &v64) == -1);
	CHECK(errno == EFAULT);
}

/* 3000 spans in one call. */
static void test_batched(const struct vt_mem *m, const uint64_t *words,
			 const char *hole)
{
	enum { N = 3000 };
	static struct vt_mem_span s[N];
	static uint64_t out[N];
	size_t i, done = 0, bad = 0;

	for (i = 0; i < N; i++)
		s[i] = (struct vt_mem_span){ (uintptr_t)&words[(i * 7) % NWORDS],
					     &out[i], sizeof(out[i]) };
	CHECK(vt_mem_readv(m, s, N, &done) == 0);
	CHECK_EQ_U64(done, N);
	for (i = 0; i < N; i++)
		bad += out[i] != pattern((i * 7) % NWORDS);
	CHECK_EQ_U64(bad, 0);

	/* A span into the child's unmapped page: the spans before it are
	 * read, the call fails with EFAULT and says where it stopped. */
	s[HOLE].addr = (uintptr_t)hole;
	errno = 0;
	CHECK(vt_mem_readv(m, s, N, &done) == -1);
	CHECK(errno == EFAULT);
	CHECK_EQ_U64(done, HOLE);

	/* A span that starts mapped and runs into the hole is a failure too,
	 * not a short success. */
	s[HOLE].addr = (uintptr_t)hole - 4;
	errno = 0;
	CHECK(vt_mem_readv(m, s, N, &done) == -1);
	CHECK(errno == EFAULT);
	CHECK_EQ_U64(done, HOLE);
	CHECK(vt_mem_read(m, (uintptr_t)hole - 4, out, 8) == -1);
}

/* In a child that became nobody: the handle still reads root's child,
 * a new one cannot be opened. 0 when both hold. */
static int read_unprivileged(const struct vt_mem *m, pid_t pid,
			     const uint64_t *words)
{
	pid_t c = fork();
	int st;

	if (c == 0) {
		struct vt_mem again;
		uint64_t v = 0;

		if (setresgid(65534, 65534, 65534) ||
		    setresuid(65534, 65534, 65534))
			_exit(1);
		if (vt_mem_u64(m, (uintptr_t)&words[5], &v) || v != pattern(5))
			_exit(2);
		_exit(vt_mem_open(&again, pid) == 0 ? 3 : 0);
	}
	if (c < 0 || waitpid(c, &st, 0) != c || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

int main(void)
{
	struct vt_mem m;
	uint64_t *words = calloc(NWORDS, sizeof(*words));
	/* Two pages: the child unmaps the second, the first stays mapped. */
	char *pages = mmap(NULL, 8192, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint64_t v;
	pid_t pid;

	if (!words || pages == MAP_FAILED)
		return 1;
	pid = spawn_child(words, pages + 4096);
	CHECK(pid > 0);
	if (pid <= 0)
		return vt_test_done("test_mem");
	CHECK(vt_mem_open(&m, pid) == 0);
	test_single_reads(&m, words);
	test_batched(&m, words, pages + 4096);
	if (geteuid() == 0)
		CHECK(read_unprivileged(&m, pid, words) == 0);

	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	errno = 0;
	CHECK(vt_mem_u64(&m, (uintptr_t)words, &v) == -1);
	CHECK(errno == ESRCH);
	vt_mem_close(&m);
	return vt_test_done("test_mem");
}
