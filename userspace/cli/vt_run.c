#include "cli/vt_run.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ptrace.h>
#include <sys/wait.h>

#include "cli/vt_cmd.h"
#include "cli/vt_file.h"
#include "cli/vt_priv.h"
#include "cli/vt_signals.h"
#include "cli/vt_trace_follow.h"
#include "target/vt_resolve.h"

#define MAX_TASKS 65536		/* threads and processes followed at once */
#define MAX_REPORTS 256		/* runtime processes reported */
#define PTRACE_OPTS (PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK |	      \
		     PTRACE_O_TRACECLONE | PTRACE_O_TRACEEXEC |		      \
		     PTRACE_O_TRACEEXIT)

/* A thread or process followed; a new one's first stop is ptrace's own
 * SIGSTOP, not a signal to pass on. */
struct task {
	int tid;		/* 0: a free entry */
	bool fresh;		/* its first stop is still to come */
};

/* A traced process running a runtime. */
struct session {
	int pid;
	struct vt_trace_opts o;
	struct vt_trace *t;
	char runtime[PATH_MAX], uv[PATH_MAX];
	char record[PATH_MAX];	/* --record: this process's recording */
};

struct run {
	const struct vt_trace_opts *base;
	const struct vt_result *res;
	const char *runtime;	/* --runtime */
	uv_loop_t loop;
	uv_signal_t sigchld;
	struct vt_signals sig;
	uv_timer_t progress;	/* a line on a terminal while it runs */
	bool progress_on;
	uint64_t start_ms;
	int child;		/* CMD itself */
	int child_status;	/* its exit code, 128+signal when killed */
	bool child_done;
	struct task *tasks;	/* every tid followed */
	size_t ntasks;
	struct session *sessions[MAX_REPORTS];
	struct vt_rep_doc doc;
	bool attach_failed;
	unsigned recordings;	/* --record: files begun */
};

static struct task *task_find(struct run *r, int tid)
{
	for (size_t i = 0; i < r->ntasks; i++)
		if (r->tasks[i].tid == tid)
			return &r->tasks[i];
	return NULL;
}

/* The task of tid, added (fresh) if it is new; NULL when too many. */
static struct task *task_get(struct run *r, int tid)
{
	struct task *t = task_find(r, tid);

	if (t)
		return t;
	t = task_find(r, 0);
	if (!t && r->ntasks < MAX_TASKS)
		t = &r->tasks[r->ntasks++];
	if (t)
		*t = (struct task){ tid, true };
	return t;
}

static bool tasks_left(const struct run *r)
{
	for (size_t i = 0; i < r->ntasks; i++)
		if (r->tasks[i].tid)
			return true;
	return false;
}

/* The session of pid, or with pid 0 a free entry. */
static struct session **session_slot(struct run *r, int pid)
{
	for (size_t i = 0; i < MAX_REPORTS; i++)
		if (r->sessions[i] ? r->sessions[i]->pid == pid : !pid)
			return &r->sessions[i];
	return NULL;
}

/* LD_LIBRARY_PATH from the process's new environment, into buf. */
static const char *env_llp(int pid, char *buf, size_t len)
{
	char path[64], *env = NULL;
	size_t cap = 0;
	ssize_t n;
	FILE *f;
	const char *found = NULL;

	snprintf(path, sizeof(path), "/proc/%d/environ", pid);
	f = fopen(path, "r");
	while (f && (n = getdelim(&env, &cap, '\0', f)) > 0)
		if (!strncmp(env, "LD_LIBRARY_PATH=", 16)) {
			snprintf(buf, len, "%s", env + 16);
			found = buf;
			break;
		}
	if (f)
		fclose(f);
	free(env);
	return found;
}

/* The session's report joins the document when the process did map its
 * runtime; one that never did ran no runtime and is left out. */
static void session_end(struct run *r, struct session **slot, int wstatus)
{
	struct session *s = *slot;
	struct vt_rep_proc rep;

	if (vt_trace_end(s->t, &rep) == 0 && r->doc.nprocs < MAX_REPORTS) {
		rep.exit_code = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1;
		rep.exit_signal = WIFSIGNALED(wstatus) ? WTERMSIG(wstatus) : 0;
		r->doc.procs[r->doc.nprocs++] = rep;
	} else {
		vt_rep_proc_free(&rep);
	}
	free(s);
	*slot = NULL;
}

/* After an exec, before the new program's first instruction: is it a
 * runtime? Then its probes go on now, by path, filtered to it. */
static void on_exec(struct run *r, int pid)
{
	struct session **slot = session_slot(r, pid), *s;
	char exe[PATH_MAX], link[64], llpbuf[4096], err[512];
	struct vt_resolved res;
	ssize_t n;

	if (slot)		/* a runtime that exec'd: its report ends */
		session_end(r, slot, 0);
	snprintf(link, sizeof(link), "/proc/%d/exe", pid);
	n = readlink(link, exe, sizeof(exe) - 1);
	if (n <= 0)
		return;
	exe[n] = '\0';
	if (vt_resolve(exe, env_llp(pid, llpbuf, sizeof(llpbuf)), &res) ||
	    (!*res.runtime && !r->runtime))
		return;		/* no runtime here: only followed */
	slot = session_slot(r, 0);
	s = calloc(1, sizeof(*s));
	if (!slot || !s) {
		free(s);
		return;
	}
	snprintf(s->runtime, sizeof(s->runtime), "%s",
		 *res.runtime ? res.runtime : r->runtime);
	snprintf(s->uv, sizeof(s->uv), "%s", res.uv);
	s->pid = pid;
	s->o = *r->base;
	s->o.pid = pid;
	s->o.runtime_path = s->runtime;
	s->o.uv_path = *s->uv ? s->uv : NULL;
	if (r->base->record_path) {	/* FILE, then FILE.PID for the others */
		snprintf(s->record, sizeof(s->record), r->recordings++
			 ? "%s.%d" : "%s", r->base->record_path, pid);
		s->o.record_path = s->record;
	}
	if (vt_trace_open(&r->loop, &s->o, &s->t, err, sizeof(err))) {
		fprintf(stderr, "valk-trace: pid %d (%s): %s\n", pid, exe, err);
		r->attach_failed = true;
		free(s);
		return;
	}
	*slot = s;
	if (!r->base->quiet)
		fprintf(stderr, "%svalk-trace: tracing pid %d (%s, runtime "
			"%s)\n", r->progress_on ? "\r\033[K" : "", pid, exe,
			s->runtime);
}

static void on_exit_stop(struct run *r, int pid)
{
	struct session **slot = session_slot(r, pid);
	unsigned long status = 0;

	if (!slot)
		return;
	ptrace(PTRACE_GETEVENTMSG, pid, 0, &status);
	session_end(r, slot, (int)status);
}

/* A SIGSTOP some session's probes sent to hold a thread? */
static bool held(struct run *r)
{
	for (size_t i = 0; i < MAX_REPORTS; i++)
		if (r->sessions[i] && vt_trace_follow_held(r->sessions[i]->t))
			return true;
	return false;
}

/* One stop of a tracee: its event handled, it goes on with the signal it
 * stopped for (unless that was ptrace's own SIGSTOP or SIGTRAP). */
static void on_stop(struct run *r, int tid, int wstatus)
{
	int sig = WSTOPSIG(wstatus), event = wstatus >> 16;
	unsigned long msg;
	struct task *t = task_get(r, tid);

	switch (event) {
	case PTRACE_EVENT_FORK:
	case PTRACE_EVENT_VFORK:
	case PTRACE_EVENT_CLONE:
		if (ptrace(PTRACE_GETEVENTMSG, tid, 0, &msg) == 0)
			task_get(r, (int)msg);
		sig = 0;
		break;
	case PTRACE_EVENT_EXEC:
		on_exec(r, tid);
		sig = 0;
		break;
	case PTRACE_EVENT_EXIT:
		on_exit_stop(r, tid);
		sig = 0;
		break;
	default:
		/* a new tracee's first stop, or the child's own raise() */
		if (sig == SIGSTOP && t && t->fresh) {
			if (tid == r->child)
				ptrace(PTRACE_SETOPTIONS, tid, 0, PTRACE_OPTS);
			sig = 0;
		} else if (sig == SIGSTOP && held(r)) {
			sig = 0;
		}
	}
	if (t)
		t->fresh = false;
	ptrace(PTRACE_CONT, tid, 0, sig);
}

/* The progress line: rewritten in place every second. */
static void on_progress(uv_timer_t *h)
{
	struct run *r = h->data;
	size_t live = 0;

	for (size_t i = 0; i < MAX_REPORTS; i++)
		live += r->sessions[i] != NULL;
	fprintf(stderr, "\rvalk-trace: %llu s, %zu runtime process(es) "
		"traced, %zu reported\033[K",
		(unsigned long long)((uv_now(&r->loop) - r->start_ms) / 1000),
		live, r->doc.nprocs);
}

static void finish(struct run *r)
{
	if (r->progress_on) {
		uv_close((uv_handle_t *)&r->progress, NULL);
		fputs("\r\033[K", stderr);
	}
	uv_close((uv_handle_t *)&r->sigchld, NULL);
	vt_signals_close(&r->sig, NULL);
}

static void on_sigchld(uv_signal_t *h, int signum)
{
	struct run *r = h->data;
	int tid, wstatus;

	(void)signum;
	while ((tid = waitpid(-1, &wstatus, __WALL | WNOHANG)) > 0) {
		struct task *t;

		if (WIFSTOPPED(wstatus)) {
			on_stop(r, tid, wstatus);
			continue;
		}
		t = task_find(r, tid);
		if (t)
			t->tid = 0;
		if (session_slot(r, tid))	/* gone without an exit stop */
			session_end(r, session_slot(r, tid), wstatus);
		if (tid == r->child) {
			r->child_done = true;
			r->child_status = WIFEXITED(wstatus)
						  ? WEXITSTATUS(wstatus)
						  : 128 + WTERMSIG(wstatus);
		}
	}
	if (r->child_done && !tasks_left(r))
		finish(r);
}

/* SIGINT/SIGTERM go on to CMD; valk-trace waits for the tree to end. */
static void on_forward(uv_signal_t *h, int signum)
{
	struct run *r = h->data;

	if (!r->child_done)
		kill(r->child, signum);
}

/* The child: traced by its parent, stopped until the parent is ready,
 * then CMD. */
static void child_exec(char *const cmd[])
{
	ptrace(PTRACE_TRACEME, 0, 0, 0);
	raise(SIGSTOP);
	execvp(cmd[0], cmd);
	fprintf(stderr, "valk-trace: cannot run %s: %s\n", cmd[0],
		strerror(errno));
	_exit(127);
}

/* execvp's search, to say so before anything starts. */
static bool runnable(const char *cmd)
{
	const char *path = getenv("PATH");
	char buf[PATH_MAX];

	if (strchr(cmd, '/'))
		return access(cmd, X_OK) == 0;
	path = path ? path : "/usr/local/bin:/usr/bin:/bin";
	while (*path) {
		size_t n = strcspn(path, ":");

		if (snprintf(buf, sizeof(buf), "%.*s/%s", (int)n, path, cmd) <
			    (int)sizeof(buf) && access(buf, X_OK) == 0)
			return true;
		path += n + (path[n] == ':');
	}
	return false;
}

static void join_words(char *const cmd[], char *out, size_t len)
{
	size_t n = 0;

	out[0] = '\0';
	for (size_t i = 0; cmd[i] && n < len; i++)
		n += snprintf(out + n, len - n, "%s%s", i ? " " : "", cmd[i]);
}

static int conclude(struct run *r)
{
	int code;

	if (!r->doc.nprocs) {
		fprintf(stderr, "valk-trace: no process of `%s` ran a valk "
				"runtime (no program or library it loaded "
				"defines valk_slab_aquire); name the runtime "
				"with --runtime PATH if it is loaded another "
				"way\n", r->doc.command);
		return VT_EXIT_USAGE;
	}
	r->doc.exit_status = r->child_status;
	code = vt_result_emit(r->res, &r->doc, NULL, r->child_status);
	return r->attach_failed && code == 0 ? VT_EXIT_USAGE : code;
}

/* Once CMD is forked: its files made by a keeper, root given up but for
 * what attaching to the processes it starts and following its tree
 * need (vt_priv). */
static int drop(struct run *r, struct vt_trace_opts *o, struct vt_result *res,
		struct vt_files *files)
{
	const char *outs[] = { o->record_path, res->json_path,
			       res->junit_path, res->md_path };
	unsigned needs = VT_PRIV_TARGETS | VT_PRIV_CHILDREN | VT_PRIV_PROBES |
			 VT_PRIV_REATTACH;

	if (vt_cmd_drop(o->no_drop, needs, files, outs,
			sizeof(outs) / sizeof(*outs)))
		return -1;
	o->files = res->files = files;
	r->base = o;
	r->res = res;
	return 0;
}

int vt_run(const struct vt_trace_opts *base_in,
	   const struct vt_result *res_in, char *const cmd[],
	   const char *runtime)
{
	struct vt_trace_opts base = *base_in;
	struct vt_result res = *res_in;
	struct run r = { .base = &base, .res = &res, .runtime = runtime };
	struct vt_files files = { -1 };
	int code;

	char err[512];

	/* refused before CMD runs: a run that cannot be traced is not run */
	if (vt_trace_check_env(base.mode, err, sizeof(err))) {
		fprintf(stderr, "valk-trace: %s\n", err);
		return VT_EXIT_USAGE;
	}
	if (!runnable(cmd[0])) {
		fprintf(stderr, "valk-trace: cannot run %s: not found or not "
				"executable (check the command and PATH)\n",
			cmd[0]);
		return VT_EXIT_USAGE;
	}
	join_words(cmd, r.doc.command, sizeof(r.doc.command));
	r.doc.procs = calloc(MAX_REPORTS, sizeof(*r.doc.procs));
	r.tasks = calloc(MAX_TASKS, sizeof(*r.tasks));
	if (!r.doc.procs || !r.tasks) {
		fprintf(stderr, "valk-trace: out of memory\n");
		return VT_EXIT_FAIL;
	}
	uv_loop_init(&r.loop);
	uv_signal_init(&r.loop, &r.sigchld);
	r.sigchld.data = &r;
	uv_signal_start(&r.sigchld, on_sigchld, SIGCHLD);
	vt_signals_start(&r.loop, &r.sig, on_forward, &r);
	if (!base.quiet && isatty(STDERR_FILENO)) {
		r.progress_on = true;
		r.start_ms = uv_now(&r.loop);
		uv_timer_init(&r.loop, &r.progress);
		r.progress.data = &r;
		uv_timer_start(&r.progress, on_progress, 1000, 1000);
	}
	r.child = fork();
	if (r.child == 0)
		child_exec(cmd);
	if (r.child < 0) {
		fprintf(stderr, "valk-trace: cannot fork: %s\n", strerror(errno));
		return VT_EXIT_FAIL;
	}
	if (drop(&r, &base, &res, &files)) {
		kill(r.child, SIGKILL);
		return VT_EXIT_USAGE;
	}
	on_sigchld(&r.sigchld, SIGCHLD);	/* it may have stopped already */
	uv_run(&r.loop, UV_RUN_DEFAULT);
	uv_loop_close(&r.loop);
	code = conclude(&r);
	vt_rep_doc_free(&r.doc);
	free(r.tasks);
	if (files.sock >= 0)
		close(files.sock);
	return code;
}
