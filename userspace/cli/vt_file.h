/* vt_file: the files the tracer writes (--json, reports, recordings),
 * safely though it runs as root in directories others may write to.
 *
 * A file is written to a mkstemp temporary in the destination's own
 * directory (O_EXCL, never through a symlink, mode 0600 until done), then
 * renamed over the destination: a reader sees the old file or the whole
 * new one, and a link or file another user planted is never opened. Under
 * sudo the file belongs to the invoking user. */
#ifndef VT_FILE_H
#define VT_FILE_H

#include <limits.h>
#include <stddef.h>

struct vt_file {
	char path[PATH_MAX];	/* the destination */
	char tmp[PATH_MAX];	/* the temporary beside it, "" once gone */
	int fd;
};

/* Before attaching: a destination that exists must be a regular file (not
 * a symlink, FIFO, device, socket or directory) and its directory must
 * exist. 0, or -1 with a one-line reason in err. */
int vt_file_check(const char *path, char *err, size_t errlen);

/* Creates the temporary; f->fd is open for writing. 0 or -1 with err. */
int vt_file_open(struct vt_file *f, const char *path, char *err,
		 size_t errlen);
/* Flushes, makes it 0644 and renames it over the destination; on failure
 * the temporary is removed. Closes f->fd either way. 0 or -1 with err. */
int vt_file_commit(struct vt_file *f, char *err, size_t errlen);
/* The same checks and rename, now, f->fd left open: a file written for
 * long (a recording) is readable under its name all along. */
int vt_file_publish(struct vt_file *f, char *err, size_t errlen);
/* Removes the temporary, closes f->fd. */
void vt_file_abort(struct vt_file *f);

/* The whole of buf[0..len) as path's new content, as above. */
int vt_file_write(const char *path, const void *buf, size_t len, char *err,
		  size_t errlen);

#endif /* VT_FILE_H */
