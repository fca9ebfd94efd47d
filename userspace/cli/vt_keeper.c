#include "cli/vt_keeper.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "cli/vt_file.h"
#include "cli/vt_priv.h"

#define MAX_FILES 64

enum { OP_OPEN = 1, OP_CHECK, OP_PUBLISH, OP_ABORT };

struct req {
	uint32_t op;
	int32_t id;
	char path[PATH_MAX];
};

struct rep {
	int32_t rc;
	int32_t id;
	char err[480];
};

/* ---- the keeper's side --------------------------------------------------- */

struct keeper {
	const char *const *paths;
	size_t npaths;
	struct vt_file files[MAX_FILES];	/* fd -1: a free entry */
};

/* A destination named on the command line, or NAME.N of one. */
static bool allowed(const struct keeper *k, const char *path)
{
	for (size_t i = 0; i < k->npaths; i++) {
		size_t n = k->paths[i] ? strlen(k->paths[i]) : 0;

		if (!n || strncmp(path, k->paths[i], n))
			continue;
		if (!path[n] || (path[n] == '.' && path[n + 1] &&
				 strspn(path + n + 1, "0123456789") ==
					 strlen(path + n + 1)))
			return true;
	}
	return false;
}

static int send_rep(int sock, const struct rep *r, int fd)
{
	char cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
	struct iovec io = { (void *)r, sizeof(*r) };
	struct msghdr m = { .msg_iov = &io, .msg_iovlen = 1 };
	struct cmsghdr *c;

	if (fd >= 0) {
		m.msg_control = cbuf;
		m.msg_controllen = sizeof(cbuf);
		c = CMSG_FIRSTHDR(&m);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	return sendmsg(sock, &m, MSG_NOSIGNAL) == (ssize_t)sizeof(*r) ? 0 : -1;
}

static void handle(struct keeper *k, int sock, struct req *q)
{
	struct rep r = { .rc = -1, .id = -1 };
	struct vt_file *f = NULL;
	int fd = -1;

	q->path[sizeof(q->path) - 1] = '\0';
	if (q->op == OP_CHECK) {
		r.rc = allowed(k, q->path)
			       ? vt_file_check(NULL, q->path, r.err, sizeof(r.err))
			       : -1;
		if (!allowed(k, q->path))
			snprintf(r.err, sizeof(r.err), "%.300s was not named "
				 "on the command line", q->path);
	} else if (q->op != OP_OPEN && (q->id < 0 || q->id >= MAX_FILES ||
				 k->files[q->id].fd < 0)) {
		snprintf(r.err, sizeof(r.err), "no such file");
	} else if (q->op == OP_OPEN) {
		for (int i = 0; i < MAX_FILES && !f; i++)
			if (k->files[i].fd < 0)
				f = &k->files[(r.id = i)];
		if (!allowed(k, q->path))
			snprintf(r.err, sizeof(r.err), "%.300s was not named on the "
				 "command line", q->path);
		else if (!f)
			snprintf(r.err, sizeof(r.err), "too many files open");
		else if (!vt_file_open(NULL, f, q->path, r.err, sizeof(r.err)))
			r.rc = 0, fd = f->fd;
	} else if (q->op == OP_PUBLISH) {
		f = &k->files[q->id];
		r.rc = vt_file_publish(f, r.err, sizeof(r.err));
		if (f->fd >= 0)
			close(f->fd);
		f->fd = -1;
	} else {
		vt_file_abort(&k->files[q->id]);
		r.rc = 0;
	}
	send_rep(sock, &r, fd);
}

static void serve(const char *const *paths, size_t n, int sock)
{
	struct keeper *k = calloc(1, sizeof(*k));
	char err[256];
	struct req q;

	if (!k || vt_priv_keeper(err, sizeof(err)))
		_exit(1);
	k->paths = paths;
	k->npaths = n;
	for (int i = 0; i < MAX_FILES; i++)
		k->files[i].fd = -1;
	while (recv(sock, &q, sizeof(q), 0) == (ssize_t)sizeof(q))
		handle(k, sock, &q);
	for (int i = 0; i < MAX_FILES; i++)	/* never told: not published */
		if (k->files[i].fd >= 0)
			vt_file_abort(&k->files[i]);
	_exit(0);
}

/* The keeper's own world: the socket, no terminal signals (Ctrl-C is
 * the tracer's to handle; the keeper ends with it), nothing else open. */
static void isolate(int sock)
{
	int null = open("/dev/null", O_RDWR);

	signal(SIGINT, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGQUIT, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	if (null < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0 ||
	    dup2(null, 2) < 0 || dup2(sock, 3) < 0)
		_exit(1);
	close_range(4, ~0u, 0);
}

int vt_keeper_start(const char *const *paths, size_t n, char *err,
		    size_t errlen)
{
	int sv[2], st;
	pid_t c;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv)) {
		snprintf(err, errlen, "cannot start the file keeper: %s",
			 strerror(errno));
		return -1;
	}
	fflush(NULL);
	c = fork();
	if (c == 0) {	/* twice: the keeper is nobody's child to wait for */
		if (fork() == 0) {
			isolate(sv[1]);
			serve(paths, n, 3);
		}
		_exit(0);
	}
	close(sv[1]);
	if (c < 0 || waitpid(c, &st, 0) != c) {
		snprintf(err, errlen, "cannot start the file keeper: %s",
			 strerror(errno));
		close(sv[0]);
		return -1;
	}
	return sv[0];
}

/* ---- the tracer's side --------------------------------------------------- */

static int ask(int sock, const struct req *q, struct rep *r, int *fd)
{
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec io = { r, sizeof(*r) };
	struct msghdr m = { .msg_iov = &io, .msg_iovlen = 1,
			    .msg_control = cbuf,
			    .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *c;

	*r = (struct rep){ .rc = -1 };
	if (send(sock, q, sizeof(*q), MSG_NOSIGNAL) != (ssize_t)sizeof(*q) ||
	    recvmsg(sock, &m, MSG_CMSG_CLOEXEC) != (ssize_t)sizeof(*r)) {
		snprintf(r->err, sizeof(r->err), "the file keeper is gone");
		return -1;
	}
	r->err[sizeof(r->err) - 1] = '\0';
	c = CMSG_FIRSTHDR(&m);
	if (fd && c && c->cmsg_type == SCM_RIGHTS)
		memcpy(fd, CMSG_DATA(c), sizeof(int));
	return r->rc;
}

int vt_keeper_open(int sock, const char *path, int *fd, int *id, char *err,
		   size_t errlen)
{
	struct req q = { .op = OP_OPEN };
	struct rep r;

	*fd = -1;
	snprintf(q.path, sizeof(q.path), "%s", path);
	if (ask(sock, &q, &r, fd) || *fd < 0) {
		snprintf(err, errlen, "%s", r.err);
		return -1;
	}
	*id = r.id;
	return 0;
}

int vt_keeper_check(int sock, const char *path, char *err, size_t errlen)
{
	struct req q = { .op = OP_CHECK };
	struct rep r;

	snprintf(q.path, sizeof(q.path), "%s", path);
	if (ask(sock, &q, &r, NULL)) {
		snprintf(err, errlen, "%s", r.err);
		return -1;
	}
	return 0;
}

int vt_keeper_publish(int sock, int id, char *err, size_t errlen)
{
	struct req q = { .op = OP_PUBLISH, .id = id };
	struct rep r;

	if (ask(sock, &q, &r, NULL)) {
		snprintf(err, errlen, "%s", r.err);
		return -1;
	}
	return 0;
}

void vt_keeper_abort(int sock, int id)
{
	struct req q = { .op = OP_ABORT, .id = id };
	struct rep r;

	ask(sock, &q, &r, NULL);
}
