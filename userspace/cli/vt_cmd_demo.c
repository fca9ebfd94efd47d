/* valk-trace demo: the bundled stand-in runtime with its HTTP/2 workload
 * and a client load, traced and served on the dashboard. */
#include "cli/vt_cmd.h"

#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/vt_load.h"
#include "cli/vt_priv.h"

#define READY_TIMEOUT_MS 10000

struct demo_args {
	const char *sim;
	const char *listen;
	enum vt_mode mode;
	int clients;
	pid_t pid;		/* the runtime, once launched; -1: it failed */
	struct vt_load *load;
};

static struct argp_option options[] = {
	{ "listen", 'l', "ADDR:PORT", 0,
	  "serve the dashboard here (default " VT_CMD_LISTEN ")", 0 },
	{ "mode", 'm', "MODE", 0, "trace mode: hybrid (default), events, "
				  "sample", 0 },
	{ "clients", 'c', "N", 0, "client connections of the load (default "
				  "12)", 0 },
	{ "sim", 's', "PATH", 0, "the stand-in runtime to run (default: "
				 "fixture/valk-sim beside valk-trace)", 0 },
	{ 0 }
};

static error_t parse(int key, char *arg, struct argp_state *st)
{
	struct demo_args *a = st->input;
	double v;

	switch (key) {
	case 'l':
		a->listen = arg;
		break;
	case 'm':
		return vt_cmd_mode(st, arg, &a->mode);
	case 'c':
		if (vt_cmd_num(arg, 1, 200, &v) || v != (int)v)
			return vt_cmd_bad(st, "--clients wants 1..200");
		a->clients = v;
		break;
	case 's':
		a->sim = arg;
		break;
	case ARGP_KEY_ARG:
		return vt_cmd_bad(st, "demo takes no arguments, got '%s'",
				  arg);
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

/* build/valk-trace runs build/fixture/valk-sim */
static void default_sim(char *out, size_t len)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	self[n > 0 ? n : 0] = '\0';
	snprintf(out, len, "%s/fixture/valk-sim", dirname(self));
}

/* Starts the runtime in its own process group (Ctrl-C reaches only us;
 * we stop it) and waits for its "ready port N" line. */
static pid_t start_sim(const char *sim, int *port)
{
	char line[256] = "";
	size_t got = 0;
	int fds[2];
	pid_t pid;

	if (pipe(fds))
		return -1;
	pid = fork();
	if (pid == 0) {
		setpgid(0, 0);
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		dup2(fds[1], STDOUT_FILENO);
		close(fds[0]);
		execl(sim, sim, "--workload", "http", "--port", "0",
		      (char *)NULL);
		fprintf(stderr, "valk-trace: cannot run %s: %s\n", sim,
			strerror(errno));
		_exit(127);
	}
	close(fds[1]);
	while (pid > 0 && got < sizeof(line) - 1) {
		struct pollfd p = { fds[0], POLLIN, 0 };
		ssize_t n;

		if (poll(&p, 1, READY_TIMEOUT_MS) <= 0 ||
		    (n = read(fds[0], line + got, sizeof(line) - 1 - got)) <= 0)
			break;
		got += n;
		line[got] = '\0';
		if (strchr(line, '\n'))
			break;
	}
	close(fds[0]);
	if (pid > 0 && sscanf(strstr(line, "port ") ? strstr(line, "port ")
						     : "", "port %d", port) == 1)
		return pid;
	if (pid > 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	return -1;
}

/* vt_trace's launch: once the listen address is known to be free, the
 * runtime and its load start. */
static int launch(void *ctx)
{
	struct demo_args *a = ctx;
	int port = 0;

	a->pid = start_sim(a->sim, &port);
	if (a->pid < 0) {
		fprintf(stderr, "valk-trace: %s did not report ready\n", a->sim);
		return 0;
	}
	fprintf(stderr, "valk-trace: demo runtime pid %d serving HTTP/2 on "
			"127.0.0.1:%d\n", a->pid, port);
	a->load = vt_load_start(port, a->clients, (uint32_t)a->pid);
	return a->pid;
}

int vt_cmd_demo(int argc, char **argv)
{
	struct argp argp = { options, parse, NULL,
			     "Run the bundled stand-in runtime with an HTTP/2 "
			     "workload and client load, trace it and serve the "
			     "dashboard until Ctrl-C.", 0, 0, 0 };
	struct demo_args a = { .listen = VT_CMD_LISTEN,
			       .mode = VT_MODE_HYBRID, .clients = 12 };
	struct vt_trace_opts o = vt_cmd_trace_defaults();
	char sim[PATH_MAX];
	int rc;

	argv[0] = "valk-trace demo";
	if (vt_cmd_parse(&argp, argc, argv, &a))
		return VT_EXIT_USAGE;
	if (!a.sim) {
		default_sim(sim, sizeof(sim));
		a.sim = sim;
	}
	if (access(a.sim, X_OK)) {
		fprintf(stderr, "valk-trace: no stand-in runtime at %s; build "
				"it with `make` or pass --sim PATH\n", a.sim);
		return VT_EXIT_USAGE;
	}
	o.mode = a.mode;
	o.serve.listen = a.listen;
	o.launch = launch;
	o.launch_ctx = &a;
	o.priv_needs = VT_PRIV_DEMO;	/* its clients, its runtime stopped */
	rc = vt_trace_run(&o, NULL);
	if (a.pid < 0)
		return VT_EXIT_FAIL;
	if (a.pid) {
		vt_load_stop(a.load);
		kill(a.pid, SIGTERM);
		waitpid(a.pid, NULL, 0);
		fprintf(stderr, "valk-trace: demo runtime pid %d stopped\n",
			a.pid);
	}
	return rc;
}
