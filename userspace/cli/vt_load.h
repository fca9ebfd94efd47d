/* vt_load: a steady HTTP/2 client load for the demo — connections that
 * open, make streams, sit idle and close, so every dashboard panel moves.
 * Runs on its own thread and loop; loopback only. */
#ifndef VT_LOAD_H
#define VT_LOAD_H

#include <stdint.h>

struct vt_load;

/* Starts nconns client connections to 127.0.0.1:port. NULL on failure. */
struct vt_load *vt_load_start(int port, int nconns, uint32_t seed);
/* Stops the load, closes every connection and joins the thread. */
void vt_load_stop(struct vt_load *l);

#endif /* VT_LOAD_H */
