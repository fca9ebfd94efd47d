/* vt_keeper: the process that makes the tracer's files once the tracer
 * gave root up (see vt_file.h): one request at a time over a socket, a
 * temporary's descriptor passed back with SCM_RIGHTS. */
#ifndef VT_KEEPER_H
#define VT_KEEPER_H

#include <stddef.h>

/* Forks the keeper (detached: not this process's child) for these
 * destinations and NAME.N of each. Its socket, or -1 with err. */
int vt_keeper_start(const char *const *paths, size_t n, char *err,
		    size_t errlen);

/* The temporary for path: *fd to write it, *id to name it later. 0, or -1
 * with err. */
int vt_keeper_open(int sock, const char *path, int *fd, int *id, char *err,
		   size_t errlen);
/* vt_file_check, vt_file_publish and vt_file_abort, done by the keeper. */
int vt_keeper_check(int sock, const char *path, char *err, size_t errlen);
int vt_keeper_publish(int sock, int id, char *err, size_t errlen);
void vt_keeper_abort(int sock, int id);

#endif /* VT_KEEPER_H */
