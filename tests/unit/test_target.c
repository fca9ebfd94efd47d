/* vt_target against running stand-in runtimes. The ground truth is the
 * target's own memory: valk_sys found through the computed bias must point
 * at a system whose first subsystem's stop hook is exactly valk_aio_stop as
 * computed through the same bias. */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "target/vt_layout.h"
#include "target/vt_mem.h"
#include "target/vt_proc.h"
#include "target/vt_target.h"
#include "vt_test.h"

static char tmpdir[] = "/tmp/vt-target-XXXXXX";
static char fixture[4096];

static pid_t spawn(char *const argv[])
{
	pid_t pid = fork();

	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);

		dup2(null, 0);
		dup2(null, 1);
		dup2(null, 2);
		execvp(argv[0], argv);
		_exit(127);
	}
	return pid;
}

static void stop(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

static int run(const char *cmd)
{
	int r = system(cmd);

	if (r)
		fprintf(stderr, "command failed (%d): %s\n", r, cmd);
	return r;
}

/* One read of pid's memory through a handle of its own. */
static int peek(int pid, uint64_t addr, void *out, size_t len)
{
	struct vt_mem m;
	int rc;

	if (vt_mem_open(&m, pid))
		return -1;
	rc = vt_mem_read(&m, addr, out, len);
	vt_mem_close(&m);
	return rc;
}

/* Follows valk_sys in the target: 0 and the system's address once the
 * runtime has registered its subsystem. */
static int read_system(const struct vt_target *t, const struct vt_layout *l,
		       uint64_t *sys)
{
	uint64_t at = vt_target_addr(t, "valk_sys", l->sym[VT_LS_VALK_SYS]);
	uint32_t n;

	return peek(t->pid, at, sys, 8) || !*sys ||
			       peek(t->pid,
				    *sys + l->off[VT_L_VSYS_SUBSYSTEM_COUNT],
				    &n, 4) ||
			       n != 1
		       ? -1
		       : 0;
}

/* Opens pid once its runtime is up (the fixture needs a moment). */
static int open_ready(pid_t pid, struct vt_target *t, struct vt_layout *l)
{
	char err[512];
	uint64_t sys;
	int i;

	for (i = 0; i < 500; i++) {
		if (!vt_target_open(pid, t, err, sizeof(err)) &&
		    !vt_layout_from_elf(t->open_path, l, err, sizeof(err)) &&
		    !read_system(t, l, &sys))
			return 0;
		usleep(10000);
	}
	fprintf(stderr, "pid %d never became ready: %s\n", pid, err);
	return -1;
}

/* The exact cross-check: subsystems[0].stop read from memory equals
 * valk_aio_stop's st_value plus the bias. */
static void check_runtime(const struct vt_target *t, const char *build_id)
{
	struct vt_layout l;
	uint64_t sys, heap, fn, st;
	char err[512];

	CHECK(vt_layout_from_elf(t->open_path, &l, err, sizeof(err)) == 0);
	CHECK(vt_target_symbol(t->open_path, "valk_sys", &st) == 0);
	CHECK_EQ_U64(st, l.sym[VT_LS_VALK_SYS]);
	CHECK(read_system(t, &l, &sys) == 0);
	CHECK(peek(t->pid, sys + l.off[VT_L_VSYS_HEAP], &heap, 8) == 0);
	CHECK(heap != 0);
	CHECK(peek(t->pid,
		   sys + l.off[VT_L_VSYS_SUBSYSTEMS] + l.off[VT_L_SUBSYS_STOP],
		   &fn, 8) == 0);
	CHECK(vt_target_symbol(t->open_path, "valk_aio_stop", &st) == 0);
	CHECK_EQ_U64(fn, st + t->bias);
	CHECK_STR(t->build_id, build_id);
	CHECK(vt_target_check(t, NULL) == 0);
}

static void fixture_path(char *out, size_t len, const char *name)
{
	snprintf(out, len, "%s/%s", fixture, name);
}

/* Launches exe --workload idle, checks the target it resolves to. */
static void test_running(const char *exe, const char *object, bool is_exe)
{
	char *argv[] = { (char *)exe, "--workload", "idle", "--port", "0",
			 NULL };
	char id[65], real[PATH_MAX];
	struct vt_target t;
	struct vt_layout l;
	pid_t pid = spawn(argv);
	uint64_t st;

	CHECK(vt_target_build_id(object, id) == 0 && *id);
	CHECK(open_ready(pid, &t, &l) == 0);
	CHECK(realpath(object, real) != NULL);
	CHECK_STR(t.object, real);
	CHECK_STR(t.open_path, real);
	CHECK(t.is_exe == is_exe);
	CHECK(!t.deleted && !t.replaced);
	CHECK_EQ_U64(t.start_time, vt_proc_start_ticks(pid));
	/* libuv: the shared library the loader chose, or linked in. */
	CHECK(*t.uv_path &&
	      vt_target_symbol(t.uv_path, "uv_read_start", &st) == 0);
	if (is_exe)
		CHECK_STR(t.uv_path, real);
	check_runtime(&t, id);
	stop(pid);
	CHECK(vt_target_check(&t, NULL) == VT_TARGET_ENOPID);
}

/* A private copy of the static build, started; its build-id in id. */
static pid_t start_copy(const char *copy, char id[65])
{
	char src[4200], cmd[8500];
	char *argv[] = { (char *)copy, "--workload", "idle", "--port", "0",
			 NULL };

	fixture_path(src, sizeof(src), "valk-sim-static");
	snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", src, copy);
	if (run(cmd) || vt_target_build_id(copy, id))
		return -1;
	return spawn(argv);
}

static bool via_map_files(const struct vt_target *t)
{
	return strncmp(t->open_path, "/proc/", 6) == 0 &&
	       strstr(t->open_path, "/map_files/") != NULL;
}

/* Deleted since start: only map_files still reaches the file. */
static void test_deleted(void)
{
	char copy[256], id[65];
	struct vt_target t;
	struct vt_layout l;
	pid_t pid;

	snprintf(copy, sizeof(copy), "%s/deleted-sim", tmpdir);
	pid = start_copy(copy, id);
	CHECK(pid > 0 && open_ready(pid, &t, &l) == 0);
	CHECK(unlink(copy) == 0);
	CHECK(open_ready(pid, &t, &l) == 0);
	CHECK(t.deleted && !t.replaced);
	CHECK_STR(t.object, copy);
	CHECK(via_map_files(&t));
	check_runtime(&t, id);
	stop(pid);
}

/* Replaced by a rename over it: the path names another ELF file now. */
static void test_renamed_over(void)
{
	char copy[256], other[256], id[65], cmd[9000];
	struct vt_target t;
	struct vt_layout l;
	pid_t pid;

	snprintf(copy, sizeof(copy), "%s/replaced-sim", tmpdir);
	snprintf(other, sizeof(other), "%s/other", tmpdir);
	pid = start_copy(copy, id);
	CHECK(pid > 0 && open_ready(pid, &t, &l) == 0);
	snprintf(cmd, sizeof(cmd), "cp '%s/libvalkyria.so' '%s'", fixture,
		 other);
	CHECK(run(cmd) == 0 && rename(other, copy) == 0);
	CHECK(open_ready(pid, &t, &l) == 0);
	CHECK(t.deleted && t.replaced);
	CHECK(via_map_files(&t));
	check_runtime(&t, id);
	stop(pid);
}

/* The target runs in its own mount namespace from a tmpfs we cannot see;
 * our namespace has a decoy file at the same path. Then a bind mount in the
 * target's namespace replaces the file without deleting it. */
static void test_mount_namespace(void)
{
	char dir[256], exe[300], src[4200], script[9000], decoy[4300],
		cmd[9000], id[65];
	char *argv[] = { "unshare", "-m", "sh", "-c", script, NULL };
	struct vt_target t;
	struct vt_layout l;
	pid_t pid;

	snprintf(dir, sizeof(dir), "%s/ns", tmpdir);
	snprintf(exe, sizeof(exe), "%s/valk-sim-static", dir);
	fixture_path(src, sizeof(src), "valk-sim-static");
	fixture_path(decoy, sizeof(decoy), "libvalkyria.so");
	CHECK(vt_target_build_id(src, id) == 0);
	snprintf(cmd, sizeof(cmd), "mkdir '%s' && cp '%s' '%s'", dir, decoy,
		 exe);
	CHECK(run(cmd) == 0);
	snprintf(script, sizeof(script),
		 "mount -t tmpfs vt '%s' && cp '%s' '%s' && "
		 "exec '%s' --workload idle --port 0", dir, src, exe, exe);
	pid = spawn(argv);
	if (open_ready(pid, &t, &l)) {
		stop(pid);
		printf("note: mount namespace case not run (needs root and "
		       "unshare)\n");
		return;
	}
	CHECK_STR(t.object, exe);
	CHECK(!t.deleted && !t.replaced);
	snprintf(cmd, sizeof(cmd), "/proc/%d/root%s", pid, exe);
	CHECK_STR(t.open_path, cmd);
	check_runtime(&t, id);

	snprintf(cmd, sizeof(cmd), "nsenter -t %d -m mount --bind '%s' '%s'",
		 pid, decoy, exe);
	CHECK(run(cmd) == 0);
	CHECK(open_ready(pid, &t, &l) == 0);
	CHECK(!t.deleted && t.replaced);
	CHECK(via_map_files(&t));
	check_runtime(&t, id);
	stop(pid);
}

/* A process that maps the runtime (dlopen) and then execs `sleep`. */
static void test_exec(void)
{
	char lib[4200], err[512];
	struct vt_target t;
	int go[2], ready[2], i, r = 0;
	pid_t pid;
	char c = 0;

	fixture_path(lib, sizeof(lib), "libvalkyria.so");
	if (pipe(go) || pipe(ready))
		return;
	pid = fork();
	if (pid == 0) {
		if (!dlopen(lib, RTLD_NOW) || write(ready[1], &c, 1) != 1 ||
		    read(go[0], &c, 1) != 1)
			_exit(1);
		execlp("sleep", "sleep", "30", (char *)NULL);
		_exit(127);
	}
	CHECK(read(ready[0], &c, 1) == 1);
	CHECK(vt_target_open(pid, &t, err, sizeof(err)) == 0);
	CHECK(vt_target_check(&t, NULL) == 0);
	CHECK(write(go[1], &c, 1) == 1);
	for (i = 0; i < 200 && (r = vt_target_check(&t, NULL)) == 0; i++)
		usleep(10000);
	CHECK(r == VT_TARGET_EEXEC);
	stop(pid);
	CHECK(vt_target_check(&t, NULL) == VT_TARGET_ENOPID);
	close(go[0]);
	close(go[1]);
	close(ready[0]);
	close(ready[1]);
}

static void test_not_valk(void)
{
	char *argv[] = { "sleep", "30", NULL };
	pid_t pid = spawn(argv);
	struct vt_target t;
	char err[512] = "";
	int r = 0, i;

	/* Until the exec completes the child still maps this test binary. */
	for (i = 0; i < 200; i++) {
		r = vt_target_open(pid, &t, err, sizeof(err));
		if (r == VT_TARGET_ENOTVALK)
			break;
		usleep(10000);
	}
	CHECK(r == VT_TARGET_ENOTVALK);
	CHECK(strstr(err, "not a valk process") != NULL);
	stop(pid);
}

static void test_no_pid(void)
{
	struct vt_target t;
	char err[512] = "";
	int pid = 4194000;

	while (pid > 2 && kill(pid, 0) == 0)
		pid--;
	CHECK(vt_target_open(pid, &t, err, sizeof(err)) == VT_TARGET_ENOPID);
	CHECK(strstr(err, "no such process") != NULL);
	CHECK(vt_target_open(-5, &t, err, sizeof(err)) == VT_TARGET_ENOPID);
}

/* An unprivileged user may not read another user's maps. */
static void test_permission(pid_t target)
{
	struct vt_target t;
	char err[512];
	int status;
	pid_t pid;

	if (geteuid() != 0)
		return;
	pid = fork();
	if (pid == 0) {
		if (setresgid(65534, 65534, 65534) ||
		    setresuid(65534, 65534, 65534))
			_exit(2);
		_exit(vt_target_open(target, &t, err, sizeof(err)) ==
				      VT_TARGET_EPERM
			      ? 0
			      : 1);
	}
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

struct found {
	pid_t want;
	bool seen;
};

static void on_target(const struct vt_target *t, void *ctx)
{
	struct found *f = ctx;

	if (t->pid == f->want)
		f->seen = true;
}

static void test_scan_and_permission(void)
{
	char exe[4200];
	char *argv[] = { exe, "--workload", "idle", "--port", "0", NULL };
	struct found f = { .seen = false };
	struct vt_target t;
	struct vt_layout l;
	int denied;

	fixture_path(exe, sizeof(exe), "valk-sim");
	f.want = spawn(argv);
	CHECK(open_ready(f.want, &t, &l) == 0);
	CHECK(vt_target_scan(on_target, &f, &denied) >= 1);
	CHECK(f.seen);
	test_permission(f.want);
	stop(f.want);
}

int main(void)
{
	const char *build = getenv("VT_BUILD") ? getenv("VT_BUILD") : "build";
	char sim[4200], lib[4200], stat_exe[4200], cmd[PATH_MAX];

	snprintf(cmd, sizeof(cmd), "%s/fixture", build);
	/* Absolute: paths are also used from inside another namespace. */
	if (!realpath(cmd, fixture)) {
		printf("fixture not built (%s): run `make fixture`\n", cmd);
		return 77;
	}
	fixture_path(sim, sizeof(sim), "valk-sim");
	fixture_path(lib, sizeof(lib), "libvalkyria.so");
	fixture_path(stat_exe, sizeof(stat_exe), "valk-sim-static");
	if (access(sim, X_OK) || access(stat_exe, X_OK) || access(lib, R_OK)) {
		printf("fixture not built (%s): run `make fixture`\n", sim);
		return 77;
	}
	if (!mkdtemp(tmpdir))
		return 1;
	test_running(sim, lib, false);
	test_running(stat_exe, stat_exe, true);
	test_deleted();
	test_renamed_over();
	test_mount_namespace();
	test_exec();
	test_not_valk();
	test_no_pid();
	test_scan_and_permission();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	run(cmd);
	return vt_test_done("test_target");
}
