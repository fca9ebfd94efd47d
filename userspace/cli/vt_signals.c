/* vt_signals: see vt_signals.h. */
#include <signal.h>

#include "cli/vt_signals.h"

void vt_signals_start(uv_loop_t *loop, struct vt_signals *s,
		      uv_signal_cb cb, void *data)
{
	uv_signal_init(loop, &s->sigint);
	uv_signal_init(loop, &s->sigterm);
	s->sigint.data = s->sigterm.data = data;
	uv_signal_start(&s->sigint, cb, SIGINT);
	uv_signal_start(&s->sigterm, cb, SIGTERM);
}

void vt_signals_close(struct vt_signals *s, uv_close_cb cb)
{
	uv_close((uv_handle_t *)&s->sigint, cb);
	uv_close((uv_handle_t *)&s->sigterm, cb);
}

void vt_signals_run(uv_loop_t *loop, struct vt_signals *s, uv_signal_cb cb,
		    void *data)
{
	vt_signals_start(loop, s, cb, data);
	uv_run(loop, UV_RUN_DEFAULT);
	uv_loop_close(loop);
}
