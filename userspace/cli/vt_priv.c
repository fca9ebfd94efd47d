#include "cli/vt_priv.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/audit.h>
#include <linux/bpf.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#if defined(__x86_64__)
#define ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define ARCH AUDIT_ARCH_AARCH64
#else
#error "vt_priv: no seccomp architecture for this target"
#endif

#define NOBODY 65534
#define MAX_FILTER 512

/* ---- the system calls each feature makes -------------------------------- */

#define END (-1)

/* Every session: libuv's loop, its sockets and signals, threads, memory,
 * the /proc files read each tick, the files written through descriptors
 * (their names go through vt_file's keeper), time. */
static const int base_calls[] = {
	SYS_read, SYS_write, SYS_readv, SYS_writev, SYS_pread64, SYS_pwrite64,
	SYS_preadv, SYS_pwritev, SYS_lseek, SYS_close, SYS_close_range,
	SYS_openat, SYS_newfstatat, SYS_fstat, SYS_statx, SYS_fcntl, SYS_dup,
	SYS_dup3, SYS_ioctl, SYS_getdents64, SYS_readlinkat, SYS_faccessat,
	SYS_faccessat2, SYS_fsync, SYS_fdatasync, SYS_ftruncate,
	SYS_fallocate, SYS_fadvise64, SYS_pipe2, SYS_eventfd2,
	SYS_epoll_create1, SYS_epoll_ctl, SYS_epoll_pwait, SYS_epoll_pwait2,
	SYS_ppoll, SYS_pselect6, SYS_accept4, SYS_recvfrom, SYS_recvmsg,
	SYS_recvmmsg, SYS_sendto, SYS_sendmsg, SYS_sendmmsg, SYS_shutdown,
	SYS_getsockname, SYS_getpeername, SYS_setsockopt, SYS_getsockopt,
	SYS_socketpair,	/* libdw's debuginfod client, set up unused */
	SYS_mmap, SYS_munmap, SYS_mremap, SYS_mprotect, SYS_madvise, SYS_brk,
	SYS_futex, SYS_set_robust_list, SYS_get_robust_list, SYS_rseq,
	SYS_sched_yield, SYS_sched_getaffinity, SYS_getcpu, SYS_membarrier,
	SYS_exit, SYS_exit_group, SYS_rt_sigaction, SYS_rt_sigprocmask,
	SYS_rt_sigreturn, SYS_sigaltstack, SYS_tgkill, SYS_restart_syscall,
	SYS_clock_gettime, SYS_clock_getres, SYS_clock_nanosleep,
	SYS_nanosleep, SYS_gettimeofday, SYS_getrandom, SYS_uname,
	SYS_getpid, SYS_gettid, SYS_getppid, SYS_getuid, SYS_geteuid,
	SYS_getgid, SYS_getegid, SYS_getresuid, SYS_getresgid, SYS_getrusage,
	SYS_prlimit64, SYS_sysinfo, SYS_capget, SYS_prctl,
#ifdef SYS_open
	SYS_open, SYS_stat, SYS_lstat, SYS_poll, SYS_epoll_wait, SYS_pipe,
	SYS_dup2, SYS_readlink, SYS_access, SYS_time,
#endif
	END
};

/* The file keeper: one request at a time. */
static const int keeper_calls[] = {
	SYS_read, SYS_write, SYS_recvfrom, SYS_recvmsg, SYS_sendto,
	SYS_sendmsg, SYS_openat, SYS_newfstatat, SYS_fstat, SYS_fcntl,
	SYS_fchown, SYS_fchmod, SYS_fsync, SYS_renameat, SYS_renameat2,
	SYS_unlinkat, SYS_close, SYS_getrandom, SYS_clock_gettime,
	SYS_getpid, SYS_geteuid, SYS_getegid, SYS_brk, SYS_mmap, SYS_munmap,
	SYS_mremap, SYS_madvise, SYS_rt_sigreturn, SYS_exit, SYS_exit_group,
#ifdef SYS_open
	SYS_rename, SYS_unlink, SYS_stat, SYS_lstat,
#endif
	END
};

/* The probes' maps and ring, through their descriptors. */
static const int probes_bpf[] = {
	BPF_MAP_LOOKUP_ELEM, BPF_MAP_UPDATE_ELEM, BPF_MAP_DELETE_ELEM,
	BPF_MAP_GET_NEXT_KEY,
	BPF_MAP_LOOKUP_BATCH, BPF_OBJ_GET_INFO_BY_FD, END
};

/* Slab probes put back: uprobe_multi links, or perf-event uprobes. */
static const int reattach_bpf[] = { BPF_LINK_CREATE, BPF_LINK_DETACH, END };
static const int reattach_calls[] = { SYS_perf_event_open, END };

/* A new process: its object read, a BPF object loaded and attached. */
static const int targets_calls[] = {
	SYS_perf_event_open, SYS_memfd_create, SYS_mkdirat,
	SYS_unlinkat, END
};

/* run: the command's process tree. */
static const int children_calls[] = {
	SYS_ptrace, SYS_wait4, SYS_waitid, SYS_kill, SYS_tkill, END
};

/* Not root: no keeper, the files are made here (vt_file). */
static const int files_calls[] = {
	SYS_fchmod, SYS_renameat, SYS_renameat2, SYS_unlinkat,
#ifdef SYS_rename
	SYS_rename, SYS_unlink,
#endif
	END
};

/* The demo's client load connects; its runtime is stopped at the end. */
static const int demo_calls[] = {
	SYS_socket, SYS_connect, SYS_kill, SYS_wait4, END
};

/* make test-asan: LeakSanitizer checks at exit from a task of its own
 * that ptraces the threads, which no filter of ours allows: a sanitized
 * build (a test build) switches user and capabilities as any other, stays
 * dumpable for it and installs no filter; the plain suite tests the
 * filter. */
#ifdef __SANITIZE_ADDRESS__
#define SANITIZED 1
#else
#define SANITIZED 0
#endif

/* ---- the filter ---------------------------------------------------------- */

struct filter {
	struct sock_filter v[MAX_FILTER];
	unsigned short n;
};

static void op(struct filter *f, struct sock_filter s)
{
	if (f->n < MAX_FILTER)
		f->v[f->n] = s;
	f->n++;
}

#define NR offsetof(struct seccomp_data, nr)
#define ARG0 offsetof(struct seccomp_data, args[0])

static void allow_calls(struct filter *f, const int *calls)
{
	for (; *calls != END; calls++) {
		op(f, (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
						   (unsigned)*calls, 0, 1));
		op(f, (struct sock_filter)BPF_STMT(BPF_RET | BPF_K,
						   SECCOMP_RET_ALLOW));
	}
}

/* bpf(cmd, ...): only these commands (all when cmds is NULL). The
 * accumulator holds nr again after. */
static void allow_bpf(struct filter *f, const int *const *cmds, size_t n)
{
	unsigned short at;

	op(f, (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_bpf,
					   0, 0));
	at = f->n - 1;
	if (!cmds) {
		op(f, (struct sock_filter)BPF_STMT(BPF_RET | BPF_K,
						   SECCOMP_RET_ALLOW));
	} else {
		op(f, (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
						   ARG0));
		for (size_t i = 0; i < n; i++)
			allow_calls(f, cmds[i]);
		op(f, (struct sock_filter)BPF_STMT(BPF_RET | BPF_K,
						   SECCOMP_RET_TRAP));
	}
	if (f->n <= MAX_FILTER)	/* not bpf: on to the next test */
		f->v[at].jf = (unsigned char)(f->n - at - 1);
}

/* The architecture checked; the call's number in the accumulator. */
static void head(struct filter *f)
{
	f->n = 0;
	op(f, (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
					   offsetof(struct seccomp_data, arch)));
	op(f, (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ARCH, 1, 0));
	op(f, (struct sock_filter)BPF_STMT(BPF_RET | BPF_K,
					   SECCOMP_RET_KILL_PROCESS));
	op(f, (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, NR));
#ifdef __x86_64__	/* x32 numbers are another table */
	op(f, (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K,
					   0x40000000, 0, 1));
	op(f, (struct sock_filter)BPF_STMT(BPF_RET | BPF_K,
					   SECCOMP_RET_KILL_PROCESS));
#endif
}

static int build(struct filter *f, unsigned needs)
{
	const int *cmds[2];
	size_t ncmds = 0;

	head(f);
	/* threads only: clone3's flags are out of reach, so glibc is told
	 * there is none and falls back to clone, whose flags are checked */
	op(f, (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
					   SYS_clone3, 0, 1));
	op(f, (struct sock_filter)BPF_STMT(BPF_RET | BPF_K,
					   SECCOMP_RET_ERRNO | ENOSYS));
	op(f, (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
					   SYS_clone, 0, 4));
	op(f, (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARG0));
	op(f, (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K,
					   CLONE_THREAD, 0, 1));
	op(f, (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
	op(f, (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRAP));
	allow_calls(f, base_calls);
	if (needs & VT_PRIV_REATTACH)
		allow_calls(f, reattach_calls);
	if (needs & VT_PRIV_TARGETS)
		allow_calls(f, targets_calls);
	if (needs & VT_PRIV_CHILDREN)
		allow_calls(f, children_calls);
	if (geteuid() != 0)
		allow_calls(f, files_calls);
	if (needs & VT_PRIV_DEMO)
		allow_calls(f, demo_calls);
	if (needs & VT_PRIV_PROBES)
		cmds[ncmds++] = probes_bpf;
	if (needs & VT_PRIV_REATTACH)
		cmds[ncmds++] = reattach_bpf;
	if (needs & VT_PRIV_TARGETS)
		allow_bpf(f, NULL, 0);
	else if (ncmds)
		allow_bpf(f, cmds, ncmds);
	op(f, (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRAP));
	return f->n <= MAX_FILTER ? 0 : -1;
}

/* ---- a refused call -------------------------------------------------------- */

static size_t put_num(char *p, long v)
{
	char d[24];
	size_t n = 0, k = 0;

	do
		d[n++] = (char)('0' + v % 10);
	while ((v /= 10) > 0);
	while (n)
		p[k++] = d[--n];
	return k;
}

/* Async-signal-safe: the call's number, how to name it, what to do. */
static void on_sigsys(int sig, siginfo_t *si, void *uc)
{
	static const char a[] = "valk-trace: system call ",
			  b[] = " is outside the seccomp filter (`ausyscall "
				"NUMBER` names it); a bug: please report it "
				"(--no-drop runs without the filter)\n";
	char msg[sizeof(a) + sizeof(b) + 24];
	size_t n = 0;

	(void)sig;
	(void)uc;
	memcpy(msg, a, sizeof(a) - 1);
	n = sizeof(a) - 1;
	n += put_num(msg + n, si->si_syscall);
	memcpy(msg + n, b, sizeof(b) - 1);
	n += sizeof(b) - 1;
	if (write(STDERR_FILENO, msg, n) < 0)
		_exit(1);
	_exit(1);
}

/* ---- the user and its capabilities ------------------------------------------ */

static bool id_of(const char *s, unsigned *out)
{
	char *end;
	unsigned long v;

	if (!s || !*s)
		return false;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v == 0 || v >= (unsigned)-1)
		return false;
	*out = (unsigned)v;
	return true;
}

void vt_priv_user(unsigned *uid, unsigned *gid)
{
	const struct passwd *pw;

	*uid = geteuid();
	*gid = getegid();
	if (*uid != 0)
		return;
	if (id_of(getenv("SUDO_UID"), uid) && id_of(getenv("SUDO_GID"), gid))
		return;
	pw = getpwnam("nobody");
	*uid = pw ? pw->pw_uid : NOBODY;
	*gid = pw ? pw->pw_gid : NOBODY;
}

static uint64_t caps_for(unsigned needs)
{
	uint64_t c = 0;

	if (needs & VT_PRIV_TARGETS)
		c |= 1ull << CAP_BPF | 1ull << CAP_PERFMON |
		     1ull << CAP_SYS_PTRACE | 1ull << CAP_DAC_READ_SEARCH |
		     1ull << CAP_CHECKPOINT_RESTORE;
	if (needs & VT_PRIV_CHILDREN)
		c |= 1ull << CAP_SYS_PTRACE | 1ull << CAP_KILL;
	if (needs & VT_PRIV_DEMO)
		c |= 1ull << CAP_KILL;
	if (needs & VT_PRIV_PERF_EVENTS)
		c |= 1ull << CAP_PERFMON | 1ull << CAP_SYS_PTRACE;
	return c;
}

static int set_caps(uint64_t keep)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2] = { { 0 } };

	for (int i = 0; i < 2; i++)
		d[i].effective = d[i].permitted = (uint32_t)(keep >> (32 * i));
	return (int)syscall(SYS_capset, &h, d);
}

/* The bounding set keeps only what is kept: nothing is gained later. */
static void bound(uint64_t keep)
{
	for (int c = 0; c <= CAP_LAST_CAP; c++)
		if (!(keep & 1ull << c))
			prctl(PR_CAPBSET_DROP, c, 0, 0, 0);
}

/* no-new-privs, then the filter, for every thread. */
static int install(const struct filter *f, char *err, size_t errlen)
{
	struct sigaction sa = { .sa_sigaction = on_sigsys,
				.sa_flags = SA_SIGINFO };
	struct sock_fprog prog = { .len = f->n,
				   .filter = (struct sock_filter *)f->v };

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) ||
	    (!SANITIZED &&
	     (sigaction(SIGSYS, &sa, NULL) ||
	      syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
		      SECCOMP_FILTER_FLAG_TSYNC, &prog)))) {
		snprintf(err, errlen, "cannot install the seccomp filter: %s",
			 strerror(errno));
		return -1;
	}
	return 0;
}

static int become(unsigned uid, unsigned gid, uint64_t keep)
{
	bound(keep);
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) && errno != EINVAL)
		return -1;
	if (geteuid() == 0 &&
	    (setgroups(0, NULL) || setresgid(gid, gid, gid) ||
	     (keep && prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0)) ||
	     setresuid(uid, uid, uid)))
		return -1;
	if (SANITIZED)
		prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
	return set_caps(keep);
}

int vt_priv_drop(unsigned needs, char *err, size_t errlen)
{
	struct filter *f = malloc(sizeof(*f));
	unsigned uid, gid;
	uint64_t keep = caps_for(needs);
	int rc = -1;

	vt_priv_user(&uid, &gid);
	if (!f || build(f, needs))
		snprintf(err, errlen, "cannot make the seccomp filter");
	else if (become(uid, gid, keep))
		snprintf(err, errlen, "cannot become uid %u gid %u: %s", uid,
			 gid, strerror(errno));
	else
		rc = install(f, err, errlen);
	free(f);
	return rc;
}

int vt_priv_keeper(char *err, size_t errlen)
{
	struct filter *f = malloc(sizeof(*f));
	uint64_t keep = 1ull << CAP_DAC_OVERRIDE | 1ull << CAP_CHOWN |
			1ull << CAP_FOWNER;
	int rc = -1;

	if (!f) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	head(f);
	allow_calls(f, keeper_calls);
	op(f, (struct sock_filter)BPF_STMT(BPF_RET | BPF_K,
					   SECCOMP_RET_KILL_PROCESS));
	bound(keep);
	/* root's own uid and gid, none of its supplementary groups: with
	 * CAP_DAC_OVERRIDE they grant nothing the keeper needs */
	if ((prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) &&
	     errno != EINVAL) ||
	    setgroups(0, NULL) || set_caps(keep))
		snprintf(err, errlen, "cannot drop capabilities: %s",
			 strerror(errno));
	else
		rc = install(f, err, errlen);
	free(f);
	return rc;
}

/* ---- a confined child ---------------------------------------------------- */

struct confined_head {
	int rc;
	char err[512];
};

static int pipe_io(int fd, void *p, size_t len, bool out)
{
	for (size_t done = 0; done < len;) {
		ssize_t n = out ? write(fd, (char *)p + done, len - done)
				: read(fd, (char *)p + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		done += (size_t)n;
	}
	return 0;
}

_Noreturn static void confined_child(int fd, vt_priv_fn fn, void *ctx,
				     void *out, size_t len)
{
	struct confined_head h = { .rc = -1 };

	if (!vt_priv_drop(0, h.err, sizeof(h.err)))
		h.rc = fn(ctx, out, h.err, sizeof(h.err));
	_exit(pipe_io(fd, &h, sizeof(h), true) ||
	      pipe_io(fd, out, len, true) ? 1 : 0);
}

int vt_priv_confined(bool no_drop, vt_priv_fn fn, void *ctx, void *out,
		     size_t len, char *err, size_t errlen)
{
	struct confined_head h;
	int p[2], status = 0;
	bool ok;
	pid_t pid;

	if (no_drop)
		return fn(ctx, out, err, errlen);
	if (pipe2(p, O_CLOEXEC) || (pid = fork()) < 0) {
		snprintf(err, errlen, "cannot start an unprivileged parser: %s",
			 strerror(errno));
		return -1;
	}
	if (pid == 0) {
		close(p[0]);
		confined_child(p[1], fn, ctx, out, len);
	}
	close(p[1]);
	ok = !pipe_io(p[0], &h, sizeof(h), false) &&
	     !pipe_io(p[0], out, len, false);
	close(p[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (!ok || !WIFEXITED(status) || WEXITSTATUS(status)) {
		snprintf(err, errlen, "the unprivileged parser ended without an "
			 "answer (wait status %#x): a bug to report", status);
		return -1;
	}
	h.err[sizeof(h.err) - 1] = '\0';
	if (h.rc)
		snprintf(err, errlen, "%s", h.err);
	return h.rc ? -1 : 0;
}
