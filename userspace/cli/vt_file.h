/* vt_file: the files the tracer writes (--json, reports, recordings),
 * safely though it runs as root in directories others may write to.
 *
 * A file is written to a mkstemp temporary in the destination's own
 * directory (O_EXCL, never through a symlink, mode 0600 until done), then
 * renamed over the destination: a reader sees the old file or the whole
 * new one, and a link or file another user planted is never opened. Under
 * sudo the file belongs to the invoking user.
 *
 * Once the collector gives root up (vt_priv), it may no longer create
 * names where it was asked to write: a keeper process forked before, which
 * keeps only the capabilities to make files (CAP_DAC_OVERRIDE, CAP_CHOWN,
 * CAP_FOWNER) under a seccomp filter of its own, creates each temporary
 * and passes its descriptor back, and renames or removes it when told —
 * only for the destinations named on the command line (and NAME.N, run's
 * one recording per process). The collector writes through the
 * descriptor. */
#ifndef VT_FILE_H
#define VT_FILE_H

#include <limits.h>
#include <stddef.h>

/* Who makes the names: this process, or its keeper. */
struct vt_files {
	int sock;		/* the keeper's, or -1: this process */
};

struct vt_file {
	char path[PATH_MAX];	/* the destination */
	char tmp[PATH_MAX];	/* the temporary beside it, "" once gone */
	int fd;
	const struct vt_files *k;	/* NULL or no keeper: made here */
	int id;			/* the keeper's name for it */
};

/* As root, forks the keeper for these destinations (NULLs and "-" are
 * skipped); otherwise, or with none, k->sock = -1 and files are made here.
 * 0, or -1 with a one-line reason. The keeper ends when this process
 * closes k->sock or exits. */
int vt_files_keep(struct vt_files *k, const char *const *paths, size_t n,
		  char *err, size_t errlen);

/* Before attaching: a destination that exists must be a regular file (not
 * a symlink, FIFO, device, socket or directory) and its directory must
 * exist (asked of k's keeper if it has one; k may be NULL). 0, or -1 with
 * a one-line reason in err. */
int vt_file_check(const struct vt_files *k, const char *path, char *err,
		  size_t errlen);

/* Creates the temporary (through k's keeper if it has one; k may be
 * NULL); f->fd is open for writing. 0 or -1 with err. */
int vt_file_open(const struct vt_files *k, struct vt_file *f,
		 const char *path, char *err, size_t errlen);
/* Flushes, makes it 0644 and renames it over the destination; on failure
 * the temporary is removed. Closes f->fd either way. 0 or -1 with err. */
int vt_file_commit(struct vt_file *f, char *err, size_t errlen);
/* The same checks and rename, now, f->fd left open: a file written for
 * long (a recording) is readable under its name all along. */
int vt_file_publish(struct vt_file *f, char *err, size_t errlen);
/* Removes the temporary, closes f->fd. */
void vt_file_abort(struct vt_file *f);

/* The whole of buf[0..len) as path's new content, as above. */
int vt_file_write(const struct vt_files *k, const char *path, const void *buf,
		  size_t len, char *err, size_t errlen);

#endif /* VT_FILE_H */
