/* vt_recfile: the recording's writer thread and reader mapping (see
 * vt_recfile.h). */
#include "cli/vt_recfile.h"

#include "cli/vt_file.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/stat.h>

struct chunk {
	struct chunk *next;
	size_t len;
	uint8_t data[];
};

struct vt_recfile {
	int fd;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct chunk *head, *tail;
	size_t queued, cap;
	bool closing;
	int error;		/* errno of the failed write, 0 */
	uint64_t written;
};

static int write_all(int fd, const uint8_t *p, size_t len, uint64_t *done)
{
	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno;
		if (n == 0)
			return EIO;
		p += n;
		len -= (size_t)n;
		*done += (uint64_t)n;
	}
	return 0;
}

static struct chunk *take(struct vt_recfile *f)
{
	struct chunk *c;

	pthread_mutex_lock(&f->lock);
	while (!f->head && !f->closing)
		pthread_cond_wait(&f->cond, &f->lock);
	c = f->head;
	if (c && !(f->head = c->next))
		f->tail = NULL;
	pthread_mutex_unlock(&f->lock);
	return c;
}

/* Writes chunks until closed; after a failed write the rest is dropped
 * (the file ends at its last complete record or inside the one that
 * failed, which the reader reports). */
static void *writer(void *arg)
{
	struct vt_recfile *f = arg;
	struct chunk *c;

	while ((c = take(f))) {
		uint64_t done = 0;
		int err = f->error ? 0 : write_all(f->fd, c->data, c->len,
						   &done);

		pthread_mutex_lock(&f->lock);
		f->written += done;
		if (err && !f->error)
			f->error = err;
		f->queued -= c->len;
		pthread_mutex_unlock(&f->lock);
		free(c);
	}
	return NULL;
}

int vt_recfile_create(const struct vt_files *k, const char *path,
		      size_t queue_bytes,
		      struct vt_recfile **out, char *err, size_t errlen)
{
	struct vt_recfile *f = calloc(1, sizeof(*f));
	struct vt_file vf;

	if (!f) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	/* "-": standard output (a pipe); a file is created aside (never
	 * through a link another user planted) and in place from the start:
	 * cut short, it still reads */
	if (!strcmp(path, "-")) {
		vf.fd = fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3);
		if (vf.fd < 0)
			snprintf(err, errlen, "cannot write the recording to "
				 "standard output: %s", strerror(errno));
	} else if (vt_file_open(k, &vf, path, err, errlen) ||
		   vt_file_publish(&vf, err, errlen)) {
		vf.fd = -1;
	}
	if (vf.fd < 0) {
		free(f);
		return -1;
	}
	f->fd = vf.fd;
	f->cap = queue_bytes;
	pthread_mutex_init(&f->lock, NULL);
	pthread_cond_init(&f->cond, NULL);
	if (pthread_create(&f->thread, NULL, writer, f)) {
		snprintf(err, errlen, "cannot start the recording's writer");
		close(f->fd);
		free(f);
		return -1;
	}
	*out = f;
	return 0;
}

/* bounded: drop what does not fit the queue (while tracing); else queue
 * it whatever is pending (the end of a recording, which nothing waits on). */
static int queue(struct vt_recfile *f, const void *p, size_t len, bool bounded)
{
	struct chunk *c;
	int rc = 0;

	pthread_mutex_lock(&f->lock);
	if (f->error)
		rc = -1;
	else if ((bounded && f->queued + len > f->cap) ||
		 !(c = malloc(sizeof(*c) + len)))
		rc = 1;
	else {
		c->next = NULL;
		c->len = len;
		memcpy(c->data, p, len);
		if (f->tail)
			f->tail->next = c;
		else
			f->head = c;
		f->tail = c;
		f->queued += len;
		pthread_cond_signal(&f->cond);
	}
	pthread_mutex_unlock(&f->lock);
	return rc;
}

int vt_recfile_write(struct vt_recfile *f, const void *p, size_t len)
{
	return queue(f, p, len, true);
}

int vt_recfile_write_last(struct vt_recfile *f, const void *p, size_t len)
{
	return queue(f, p, len, false);
}

const char *vt_recfile_error(struct vt_recfile *f, uint64_t *written)
{
	int e;

	pthread_mutex_lock(&f->lock);
	e = f->error;
	*written = f->written;
	pthread_mutex_unlock(&f->lock);
	return e ? strerror(e) : NULL;
}

int vt_recfile_close(struct vt_recfile *f)
{
	int rc;

	if (!f)
		return 0;
	pthread_mutex_lock(&f->lock);
	f->closing = true;
	pthread_cond_signal(&f->cond);
	pthread_mutex_unlock(&f->lock);
	pthread_join(f->thread, NULL);
	rc = f->error || close(f->fd) ? -1 : 0;
	if (f->error)
		close(f->fd);
	pthread_mutex_destroy(&f->lock);
	pthread_cond_destroy(&f->cond);
	free(f);
	return rc;
}

int vt_recfile_map(const char *path, int fd, const uint8_t **p, size_t *len,
		   char *err, size_t errlen)
{
	struct stat st;
	void *m;

	if (fd < 0)
		fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "cannot read recording %s: %s", path,
			 fd < 0 ? strerror(errno) : "not a regular file");
		if (fd >= 0)
			close(fd);
		return -1;
	}
	*len = (size_t)st.st_size;
	m = *len ? mmap(NULL, *len, PROT_READ, MAP_PRIVATE, fd, 0) : NULL;
	close(fd);
	if (m == MAP_FAILED) {
		snprintf(err, errlen, "cannot map recording %s: %s", path,
			 strerror(errno));
		return -1;
	}
	*p = m ? m : (const uint8_t *)"";
	return 0;
}

void vt_recfile_unmap(const uint8_t *p, size_t len)
{
	if (len)
		munmap((void *)p, len);
}
