#include "cli/vt_file.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "cli/vt_keeper.h"

static const char *kind_name(mode_t m)
{
	if (S_ISLNK(m))
		return "a symbolic link";
	if (S_ISFIFO(m))
		return "a FIFO";
	if (S_ISCHR(m) || S_ISBLK(m))
		return "a device";
	if (S_ISSOCK(m))
		return "a socket";
	if (S_ISDIR(m))
		return "a directory";
	return "not a regular file";
}

/* The destination's directory, "." for a bare name. */
static void dir_of(const char *path, char *out, size_t len)
{
	char copy[PATH_MAX];

	snprintf(copy, sizeof(copy), "%s", path);
	snprintf(out, len, "%s", dirname(copy));
}

/* The user who ran the tracer: under sudo the one sudo names. */
static uid_t invoker(gid_t *gid)
{
	const char *u = getenv("SUDO_UID"), *g = getenv("SUDO_GID");

	*gid = getegid();
	if (geteuid() != 0 || !u || !g)
		return geteuid();
	*gid = (gid_t)strtoul(g, NULL, 10);
	return (uid_t)strtoul(u, NULL, 10);
}

/* Root's files go to the invoking user; if that fails they stay root's
 * and are still written. */
static void give_to_invoker(int fd)
{
	gid_t gid;
	uid_t uid = invoker(&gid);
	int rc = uid == geteuid() ? 0 : fchown(fd, uid, gid);

	(void)rc;
}

int vt_file_check(const struct vt_files *k, const char *path, char *err,
		  size_t errlen)
{
	char dir[PATH_MAX];
	struct stat st;
	gid_t gid;

	if (k && k->sock >= 0)
		return vt_keeper_check(k->sock, path, err, errlen);
	if (!*path || strlen(path) + 8 >= PATH_MAX) {
		snprintf(err, errlen, "%s: not a usable file name", path);
		return -1;
	}
	if (lstat(path, &st) == 0) {
		if (S_ISFIFO(st.st_mode)) {
			snprintf(err, errlen, "%s is %s: not opened (it would "
				 "hold the tracer until a reader comes); name a "
				 "regular file, or - and redirect standard "
				 "output to it", path, kind_name(st.st_mode));
			return -1;
		}
		if (!S_ISREG(st.st_mode)) {
			snprintf(err, errlen, "%s is %s: name a regular file "
				 "(or a new one) to write", path,
				 kind_name(st.st_mode));
			return -1;
		}
		if (st.st_uid != invoker(&gid)) {
			snprintf(err, errlen, "%s belongs to uid %u: not "
				 "replaced; remove it or name another file",
				 path, (unsigned)st.st_uid);
			return -1;
		}
	} else if (errno != ENOENT) {
		snprintf(err, errlen, "cannot use %s: %s", path,
			 strerror(errno));
		return -1;
	}
	dir_of(path, dir, sizeof(dir));
	if (stat(dir, &st) || !S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "%s: directory %s does not exist", path,
			 dir);
		return -1;
	}
	return 0;
}

int vt_files_keep(struct vt_files *k, const char *const *paths, size_t n,
		  char *err, size_t errlen)
{
	size_t any = 0;

	k->sock = -1;
	for (size_t i = 0; i < n; i++)
		any += paths[i] && strcmp(paths[i], "-");
	if (geteuid() != 0 || !any)
		return 0;
	k->sock = vt_keeper_start(paths, n, err, errlen);
	return k->sock < 0 ? -1 : 0;
}

static bool kept(const struct vt_file *f)
{
	return f->k && f->k->sock >= 0;
}

int vt_file_open(const struct vt_files *k, struct vt_file *f,
		 const char *path, char *err, size_t errlen)
{
	char dir[PATH_MAX];

	f->k = k;
	f->id = -1;
	snprintf(f->path, sizeof(f->path), "%s", path);
	if (kept(f)) {
		snprintf(f->tmp, sizeof(f->tmp), "(the keeper's)");
		if (vt_keeper_open(k->sock, path, &f->fd, &f->id, err, errlen)) {
			f->tmp[0] = '\0';
			return -1;
		}
		return 0;
	}
	if (vt_file_check(NULL, path, err, errlen))
		return -1;
	dir_of(path, dir, sizeof(dir));
	/* mkstemp opens O_CREAT|O_EXCL with mode 0600: a name that exists,
	 * a symlink included, is never opened but another name is tried */
	if (snprintf(f->tmp, sizeof(f->tmp), "%s/.valk-trace.XXXXXX", dir) >=
	    (int)sizeof(f->tmp) || (f->fd = mkostemp(f->tmp, O_CLOEXEC)) < 0) {
		snprintf(err, errlen, "cannot create a file in %s: %s", dir,
			 strerror(errno));
		f->tmp[0] = '\0';
		f->fd = -1;
		return -1;
	}
	give_to_invoker(f->fd);
	return 0;
}

void vt_file_abort(struct vt_file *f)
{
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
	if (*f->tmp && kept(f))
		vt_keeper_abort(f->k->sock, f->id);
	else if (*f->tmp)
		unlink(f->tmp);
	f->tmp[0] = '\0';
}

int vt_file_publish(struct vt_file *f, char *err, size_t errlen)
{
	struct stat st;

	if (kept(f)) {
		if (vt_keeper_publish(f->k->sock, f->id, err, errlen)) {
			f->tmp[0] = '\0';	/* the keeper removed it */
			vt_file_abort(f);
			return -1;
		}
		f->tmp[0] = '\0';
		return 0;
	}
	/* refuse again: the destination may have been replaced meanwhile
	 * (rename replaces a symlink itself, never what it points to) */
	if (lstat(f->path, &st) == 0 && !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s became %s: not replaced", f->path,
			 kind_name(st.st_mode));
		vt_file_abort(f);
		return -1;
	}
	if (fchmod(f->fd, 0644) || rename(f->tmp, f->path)) {
		snprintf(err, errlen, "cannot write %s: %s", f->path,
			 strerror(errno));
		vt_file_abort(f);
		return -1;
	}
	f->tmp[0] = '\0';
	return 0;
}

int vt_file_commit(struct vt_file *f, char *err, size_t errlen)
{
	if (fsync(f->fd)) {
		snprintf(err, errlen, "cannot write %s: %s", f->path,
			 strerror(errno));
		vt_file_abort(f);
		return -1;
	}
	if (vt_file_publish(f, err, errlen))
		return -1;
	if (close(f->fd)) {
		f->fd = -1;
		snprintf(err, errlen, "cannot write %s: %s", f->path,
			 strerror(errno));
		return -1;
	}
	f->fd = -1;
	return 0;
}

int vt_file_write(const struct vt_files *k, const char *path, const void *buf,
		  size_t len, char *err, size_t errlen)
{
	struct vt_file f;
	const char *p = buf;

	if (vt_file_open(k, &f, path, err, errlen))
		return -1;
	while (len > 0) {
		ssize_t n = write(f.fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			snprintf(err, errlen, "cannot write %s: %s", path,
				 n < 0 ? strerror(errno) : "short write");
			vt_file_abort(&f);
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return vt_file_commit(&f, err, errlen);
}
