#include "cli/vt_load.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <nghttp2/nghttp2.h>
#include <uv.h>

/* Each client cycles: connect, a few streams with pauses, then either
 * close or (for "keepers") stay idle a long while, close, wait, again. */
struct client {
	struct vt_load *load;
	uv_tcp_t tcp;
	uv_connect_t req;
	uv_timer_t timer;
	nghttp2_session *h2;
	int streams_left;
	bool keeper, connected, closing;
};

struct vt_load {
	uv_loop_t loop;
	uv_thread_t thread;
	uv_async_t stop;
	struct sockaddr_in addr;
	uint32_t rng;
	int nconns;
	struct client *clients;
};

static uint32_t rnd(struct vt_load *l, uint32_t n)
{
	l->rng = l->rng * 1103515245u + 12345u;
	return (l->rng >> 8) % n;
}

static void on_reconnect(uv_timer_t *t);

static void after_close(uv_handle_t *h)
{
	struct client *c = h->data;

	c->closing = false;
	if (!uv_is_closing((uv_handle_t *)&c->load->stop))
		uv_timer_start(&c->timer, on_reconnect,
			       200 + rnd(c->load, 1500), 0);
}

static void client_close(struct client *c)
{
	if (c->closing || !c->connected)
		return;
	c->closing = true;
	c->connected = false;
	nghttp2_session_del(c->h2);
	c->h2 = NULL;
	uv_close((uv_handle_t *)&c->tcp, after_close);
}

static void on_written(uv_write_t *w, int status)
{
	(void)status;
	free(w);
}

/* Sends whatever nghttp2 has queued. */
static void flush(struct client *c)
{
	const uint8_t *data;
	ssize_t n;

	while (c->h2 && (n = nghttp2_session_mem_send(c->h2, &data)) > 0) {
		uv_write_t *w = malloc(sizeof(*w) + n);
		uv_buf_t b;

		if (!w)
			return;
		memcpy(w + 1, data, n);
		b = uv_buf_init((char *)(w + 1), n);
		if (uv_write(w, (uv_stream_t *)&c->tcp, &b, 1, on_written))
			free(w);
	}
}

static void next_step(uv_timer_t *t);

/* Small pages and larger bodies (up to 1 MiB, past a stream arena's size,
 * so the runtime spills to its GC heap), a few streams at once. */
static void request(struct client *c)
{
	char path[32];
	nghttp2_nv nv[] = {
#define NV(n, v) { (uint8_t *)n, (uint8_t *)v, sizeof(n) - 1, sizeof(v) - 1, 0 }
		NV(":method", "GET"), NV(":scheme", "http"),
		NV(":authority", "127.0.0.1"), NV(":path", "/"),
#undef NV
	};
	int streams = 1 + rnd(c->load, 3);

	for (int i = 0; i < streams; i++) {
		if (rnd(c->load, 2)) {
			snprintf(path, sizeof(path), "/bytes/%u",
				 1024 + rnd(c->load, 1 << 20));
			nv[3].value = (uint8_t *)path;
			nv[3].valuelen = strlen(path);
		}
		nghttp2_submit_request(c->h2, NULL, nv, 4, NULL, c);
	}
	flush(c);
}

static int on_stream_close(nghttp2_session *s, int32_t id, uint32_t err,
			   void *ud)
{
	struct client *c = ud;

	(void)s, (void)id, (void)err;
	/* pause between streams; keepers idle a long while after the last */
	uv_timer_start(&c->timer, next_step,
		       c->streams_left > 0 ? 50 + rnd(c->load, 400)
		       : c->keeper ? 4000 + rnd(c->load, 8000)
				   : 100 + rnd(c->load, 600), 0);
	return 0;
}

static void next_step(uv_timer_t *t)
{
	struct client *c = t->data;

	if (!c->connected)
		return;
	if (c->streams_left-- > 0)
		request(c);
	else
		client_close(c);
}

static void alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
	(void)h;
	b->base = malloc(hint);
	b->len = b->base ? hint : 0;
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
	struct client *c = s->data;

	if (n < 0 || (n > 0 && c->h2 &&
		      nghttp2_session_mem_recv(c->h2, (uint8_t *)b->base, n) < 0))
		client_close(c);
	else
		flush(c);
	free(b->base);
}

static void on_connect(uv_connect_t *req, int status)
{
	struct client *c = req->data;
	nghttp2_session_callbacks *cb;

	if (status) {
		c->connected = true;	/* so client_close runs its course */
		client_close(c);
		return;
	}
	c->connected = true;
	nghttp2_session_callbacks_new(&cb);
	nghttp2_session_callbacks_set_on_stream_close_callback(cb,
							       on_stream_close);
	nghttp2_session_client_new(&c->h2, cb, c);
	nghttp2_session_callbacks_del(cb);
	nghttp2_submit_settings(c->h2, NGHTTP2_FLAG_NONE, NULL, 0);
	c->streams_left = 1 + rnd(c->load, 6);
	uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, on_read);
	next_step(&c->timer);
}

static void client_connect(struct client *c)
{
	uv_tcp_init(&c->load->loop, &c->tcp);
	c->tcp.data = c;
	c->req.data = c;
	c->keeper = rnd(c->load, 3) == 0;
	uv_tcp_connect(&c->req, &c->tcp, (struct sockaddr *)&c->load->addr,
		       on_connect);
}

static void on_reconnect(uv_timer_t *t)
{
	client_connect(t->data);
}

static void close_walk(uv_handle_t *h, void *arg)
{
	(void)arg;
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

static void on_stop(uv_async_t *a)
{
	struct vt_load *l = a->data;

	for (int i = 0; i < l->nconns; i++) {
		nghttp2_session_del(l->clients[i].h2);
		l->clients[i].h2 = NULL;
	}
	uv_walk(&l->loop, close_walk, NULL);
}

static void run(void *arg)
{
	struct vt_load *l = arg;

	uv_run(&l->loop, UV_RUN_DEFAULT);
}

struct vt_load *vt_load_start(int port, int nconns, uint32_t seed)
{
	struct vt_load *l = calloc(1, sizeof(*l));

	if (!l || !(l->clients = calloc(nconns, sizeof(*l->clients))))
		goto fail;
	l->nconns = nconns;
	l->rng = seed;
	uv_ip4_addr("127.0.0.1", port, &l->addr);
	uv_loop_init(&l->loop);
	uv_async_init(&l->loop, &l->stop, on_stop);
	l->stop.data = l;
	for (int i = 0; i < nconns; i++) {
		struct client *c = &l->clients[i];

		c->load = l;
		uv_timer_init(&l->loop, &c->timer);
		c->timer.data = c;
		uv_timer_start(&c->timer, on_reconnect, rnd(l, 1000), 0);
	}
	if (uv_thread_create(&l->thread, run, l) == 0)
		return l;
	uv_loop_close(&l->loop);
fail:
	if (l)
		free(l->clients);
	free(l);
	return NULL;
}

void vt_load_stop(struct vt_load *l)
{
	if (!l)
		return;
	uv_async_send(&l->stop);
	uv_thread_join(&l->thread);
	uv_loop_close(&l->loop);
	free(l->clients);
	free(l);
}
