/* vt_signals: SIGINT and SIGTERM on a libuv loop, the way the commands
 * that run until stopped (a session, a replay, run) learn they are asked
 * to. */
#ifndef VT_SIGNALS_H
#define VT_SIGNALS_H

#include <uv.h>

struct vt_signals {
	uv_signal_t sigint, sigterm;
};

/* Both signals call cb on loop, the handles' data set to data. */
void vt_signals_start(uv_loop_t *loop, struct vt_signals *s,
		      uv_signal_cb cb, void *data);
/* Both handles closed, cb (may be NULL) called for each. */
void vt_signals_close(struct vt_signals *s, uv_close_cb cb);
/* vt_signals_start, then the loop run until nothing is left on it and
 * closed. */
void vt_signals_run(uv_loop_t *loop, struct vt_signals *s, uv_signal_cb cb,
		    void *data);

#endif /* VT_SIGNALS_H */
