/* vt_recfile: a recording on disk. Writing goes through a thread with a
 * bounded queue, so a slow or full disk never stalls the collector: a
 * buffer that does not fit is dropped and counted, and the caller writes a
 * gap and a keyframe when there is room again. Reading maps the file. */
#ifndef VT_RECFILE_H
#define VT_RECFILE_H

#include <stddef.h>
#include <stdint.h>

struct vt_files;

struct vt_recfile;

/* Creates path (replacing a file there; "-": standard output) and starts
 * its writer thread with room for queue_bytes of pending data. 0, or -1
 * with a one-line reason. */
int vt_recfile_create(const struct vt_files *k, const char *path,
		      size_t queue_bytes,
		      struct vt_recfile **out, char *err, size_t errlen);
/* Queues len bytes (copied). 0; 1 when they did not fit and were
 * dropped; -1 once writing has failed. */
int vt_recfile_write(struct vt_recfile *f, const void *p, size_t len);
/* Queues the recording's last records whatever the queue holds (nothing
 * waits on them any more): 0; 1 out of memory; -1 once writing failed. */
int vt_recfile_write_last(struct vt_recfile *f, const void *p, size_t len);
/* Why writing stopped ("No space left on device"), or NULL while it goes
 * on. Bytes written so far in *written. */
const char *vt_recfile_error(struct vt_recfile *f, uint64_t *written);
/* Writes what is queued, stops the thread, closes. 0, or -1 when any
 * write failed. */
int vt_recfile_close(struct vt_recfile *f);

/* The whole file mapped read-only: fd, path opened already (before root
 * was given up; closed here), or -1 to open path now. 0, or -1 with a
 * one-line reason. */
int vt_recfile_map(const char *path, int fd, const uint8_t **p, size_t *len,
		   char *err, size_t errlen);
void vt_recfile_unmap(const uint8_t *p, size_t len);

#endif /* VT_RECFILE_H */
