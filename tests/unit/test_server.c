/* vt_server against real clients: curl (HTTP/1.1 and HTTP/2 prior
 * knowledge), h2load, raw sockets for what no polite client sends, and
 * OpenSSL's client for its limits over TLS (test_tls).
 *
 * The server runs on its own libuv loop in a second thread, with shortened
 * deadlines. A producer timer on that loop publishes numbered events on two
 * channels: /sse/a (deltas named "delta", full states "full") and /sse/b
 * (every event a full state named "memory"). Each event's JSON carries its
 * number n, which must equal its SSE id, and the time it was published. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <nghttp2/nghttp2.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "serve/vt_server.h"
#include "tests/lib/vt_test_cert.h"
#include "vt_test.h"

#define IDLE_MS 2000	/* far above a busy loop's stalls: an EOF close is no idle one */
#define STALL_MS 1000
#define KEEPALIVE_MS 300
#define QUEUE_MAX 32
#define H1_BATCH 16		/* events per HTTP/1.1 stream write */
/* How long a client waits for what must come: a bound for a hang on a
 * loaded machine, never a time a test expects. */
#define LIVENESS_MS 60000

static const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000ull + ts.tv_nsec / 1000000;
}

/* ---- the server side: loop thread ---- */

struct harness {
	uv_loop_t loop;
	uv_async_t async;
	uv_timer_t prod;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	void (*call)(struct harness *, void *);
	void *call_arg;
	bool called;

	struct vt_server *srv;
	struct vt_sse_channel *a, *b;
	int port;
	char *pad;		/* padding carried by /sse/a events */
	uint64_t a_id, b_id;	/* last ids published */
	unsigned full_calls;	/* calls of /sse/a's full fn */
	unsigned bad_ids;	/* publishes that returned an unexpected id */
	char *report;		/* query of the browser page's last /report */
};

/* Subscribes to /sse/a until it has the full state and 50 events more,
 * then reports the event ids it saw ("F" marks the full state) by loading
 * /report?ids=... */
static const char page[] =
	"<!doctype html><title>sse</title><script>\n"
	"const es = new EventSource('/sse/a'), ids = [];\n"
	"const seen = id => { ids.push(id); if (ids.length > 50) {\n"
	"  es.close(); location = '/report?ids=' + ids; } };\n"
	"es.addEventListener('full', e => seen('F' + e.lastEventId));\n"
	"es.addEventListener('delta', e => seen(e.lastEventId));\n"
	"</script>";

static void route(void *ctx, const char *path, const char *query,
		  struct vt_http_response *out)
{
	struct harness *h = ctx;

	if (!strcmp(path, "/page")) {
		out->status = 200;
		out->content_type = "text/html; charset=utf-8";
		out->body = strdup(page);
		out->len = strlen(page);
	} else if (!strcmp(path, "/report") && h) {
		free(h->report);
		h->report = strdup(query);
		out->status = 204;
	} else if (!strcmp(path, "/hello")) {
		out->status = 200;
		out->body = strdup("hello world\n");
		out->len = 12;
		out->cache_control = "no-store";
	} else if (!strcmp(path, "/echo")) {
		int n = asprintf(&out->body, "{\"path\":\"%s\",\"query\":\"%s\"}",
				 path, query);

		out->status = 200;
		out->content_type = "application/json";
		out->len = n < 0 ? 0 : n;
	} else if (!strcmp(path, "/big")) {
		out->status = 200;
		out->len = 65536;
		out->body = malloc(out->len);
		memset(out->body, 'x', out->len);
	}
}

static char *full_a(void *ctx, size_t *len)
{
	struct harness *h = ctx;
	char *d;
	int n = asprintf(&d, "{\"full\":%" PRIu64 "}", h->a_id);

	h->full_calls++;
	*len = n < 0 ? 0 : n;
	return n < 0 ? NULL : d;
}

static char *full_b(void *ctx, size_t *len)
{
	struct harness *h = ctx;
	char *d;
	int n;

	if (!h->b_id)	/* no state yet */
		return NULL;
	n = asprintf(&d, "{\"n\":%" PRIu64 ",\"full\":true}", h->b_id);
	*len = n < 0 ? 0 : n;
	return n < 0 ? NULL : d;
}

static void publish(struct harness *h)
{
	uint64_t ts = mono_ms();
	char *d;
	int n;

	n = asprintf(&d, "{\"n\":%" PRIu64 ",\"ts\":%" PRIu64 ",\"pad\":\"%s\"}",
		     h->a_id + 1, ts, h->pad);
	if (vt_sse_publish(h->a, "delta", d, n, false) != h->a_id + 1)
		h->bad_ids++;
	h->a_id++;
	free(d);
	n = asprintf(&d, "{\"n\":%" PRIu64 ",\"ts\":%" PRIu64 "}", h->b_id + 1,
		     ts);
	if (vt_sse_publish(h->b, "memory", d, n, true) != h->b_id + 1)
		h->bad_ids++;
	h->b_id++;
	free(d);
}

static void produce(uv_timer_t *t)
{
	publish(t->data);
}

static void on_async(uv_async_t *a)
{
	struct harness *h = a->data;

	pthread_mutex_lock(&h->mu);
	if (h->call && !h->called) {
		h->call(h, h->call_arg);
		h->called = true;
		pthread_cond_broadcast(&h->cv);
	}
	pthread_mutex_unlock(&h->mu);
}

static void *loop_main(void *arg)
{
	struct harness *h = arg;

	uv_run(&h->loop, UV_RUN_DEFAULT);
	return NULL;
}

/* Runs fn(h, arg) on the loop thread and waits for it. */
static void on_loop(struct harness *h, void (*fn)(struct harness *, void *),
		    void *arg)
{
	pthread_mutex_lock(&h->mu);
	h->call = fn;
	h->call_arg = arg;
	h->called = false;
	uv_async_send(&h->async);
	while (!h->called)
		pthread_cond_wait(&h->cv, &h->mu);
	h->call = NULL;
	pthread_mutex_unlock(&h->mu);
}

struct rate {
	unsigned period_ms;	/* 0 stops the producer */
	size_t pad;
};

static void set_rate(struct harness *h, void *arg)
{
	struct rate *r = arg;

	free(h->pad);
	h->pad = malloc(r->pad + 1);
	memset(h->pad, 'x', r->pad);
	h->pad[r->pad] = '\0';
	uv_timer_stop(&h->prod);
	if (r->period_ms)
		uv_timer_start(&h->prod, produce, r->period_ms, r->period_ms);
}

static void rate(struct harness *h, unsigned period_ms, size_t pad)
{
	struct rate r = { period_ms, pad };

	on_loop(h, set_rate, &r);
}

static void do_publish(struct harness *h, void *arg)
{
	(void)arg;
	publish(h);
}

static void get_stats(struct harness *h, void *arg)
{
	vt_server_stats(h->srv, arg);
}

static struct vt_server_stats stats(struct harness *h)
{
	struct vt_server_stats st;

	on_loop(h, get_stats, &st);
	return st;
}

static void get_ids(struct harness *h, void *arg)
{
	uint64_t *ids = arg;

	ids[0] = h->a_id;
	ids[1] = h->full_calls;
}

static void closed(void *arg)
{
	struct harness *h = arg;

	uv_close((uv_handle_t *)&h->async, NULL);
}

static void do_close(struct harness *h, void *arg)
{
	(void)arg;
	uv_close((uv_handle_t *)&h->prod, NULL);
	vt_server_close(h->srv, closed, h);
}

static void harness_start(struct harness *h)
{
	struct vt_server_opts o = {
		.allow_hosts = "x,local",	/* the Host the raw requests send */
		.idle_ms = IDLE_MS,
		.stall_ms = STALL_MS,
		.keepalive_ms = KEEPALIVE_MS,
		.queue_max = QUEUE_MAX,
	};
	char err[256] = "";
	int rc;

	uv_loop_init(&h->loop);
	pthread_mutex_init(&h->mu, NULL);
	pthread_cond_init(&h->cv, NULL);
	uv_async_init(&h->loop, &h->async, on_async);
	h->async.data = h;
	uv_timer_init(&h->loop, &h->prod);
	h->prod.data = h;
	h->pad = strdup("");
	rc = vt_server_start(&h->loop, "127.0.0.1:0", &o, route, h, &h->srv,
			     err, sizeof(err));
	CHECK_EQ_U64(rc, 0);
	if (rc) {
		fprintf(stderr, "%s\n", err);
		exit(1);
	}
	h->port = vt_server_port(h->srv);
	h->a = vt_server_channel(h->srv, "/sse/a", "full", full_a, h);
	h->b = vt_server_channel(h->srv, "/sse/b", "memory", full_b, h);
	CHECK(h->port > 0 && h->a && h->b);
	pthread_create(&h->thread, NULL, loop_main, h);
}

/* ---- SSE parsing ---- */

struct sse_ev {
	long long id, n, ts;
	char name[16];
};

struct sse_log {
	struct sse_ev *ev;
	size_t nev, cap;
	unsigned comments, retries;
	bool retry_first;	/* "retry: 1000" came before anything else */
	uint64_t max_lat_ms;	/* arrival minus publish time, worst */
};

static long long json_num(const char *d, const char *key)
{
	const char *p = strstr(d, key);

	return p ? strtoll(p + strlen(key), NULL, 10) : -1;
}

/* One event block (the text between blank lines). */
static void sse_block(struct sse_log *l, const char *blk, size_t len)
{
	struct sse_ev e = { .id = -1, .n = -1, .ts = -1 };
	char *s = strndup(blk, len), *save = NULL;
	bool any = false;

	for (char *line = strtok_r(s, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		if (line[0] == ':') {
			l->comments++;
		} else if (!strncmp(line, "retry: ", 7)) {
			l->retry_first |= l->nev == 0 && l->comments == 0 &&
					  !strcmp(line, "retry: 1000");
			l->retries++;
		} else if (!strncmp(line, "event: ", 7)) {
			snprintf(e.name, sizeof(e.name), "%s", line + 7);
			any = true;
		} else if (!strncmp(line, "id: ", 4)) {
			e.id = strtoll(line + 4, NULL, 10);
		} else if (!strncmp(line, "data: ", 6)) {
			e.n = json_num(line, "\"n\":");
			if (e.n < 0)
				e.n = json_num(line, "\"full\":");
			e.ts = json_num(line, "\"ts\":");
		}
	}
	free(s);
	if (!any)
		return;
	if (e.ts >= 0 && mono_ms() - e.ts > l->max_lat_ms)
		l->max_lat_ms = mono_ms() - e.ts;
	if (l->nev == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 64;
		l->ev = realloc(l->ev, l->cap * sizeof(*l->ev));
	}
	l->ev[l->nev++] = e;
}

/* Parses the complete blocks of body[*pos..len), advancing *pos. */
static void sse_parse(struct sse_log *l, const char *body, size_t len,
		      size_t *pos)
{
	for (;;) {
		const char *end = memmem(body + *pos, len - *pos, "\n\n", 2);

		if (!end)
			return;
		sse_block(l, body + *pos, end - (body + *pos));
		*pos = end + 2 - body;
	}
}

/* A stream is right when it opens with "retry: 1000", then a full-state
 * event whose state number is its id, then consecutive events. */
static bool stream_ok(const struct sse_log *l, const char *full,
		      const char *delta, size_t min_after, const char *what)
{
	const struct sse_ev *e = l->ev;

	if (!l->retry_first || l->nev < 1 + min_after) {
		fprintf(stderr, "%s: retry first %d, %zu events (want 1+%zu)\n",
			what, l->retry_first, l->nev, min_after);
		return false;
	}
	if (strcmp(e[0].name, full) || e[0].n != e[0].id) {
		fprintf(stderr, "%s: first event %s id %lld state %lld\n", what,
			e[0].name, e[0].id, e[0].n);
		return false;
	}
	for (size_t i = 1; i < l->nev; i++) {
		if (e[i].id != e[0].id + (long long)i || e[i].n != e[i].id ||
		    strcmp(e[i].name, delta)) {
			fprintf(stderr, "%s: event %zu is %s id %lld n %lld after "
				"id %lld\n", what, i, e[i].name, e[i].id,
				e[i].n, e[i - 1].id);
			return false;
		}
	}
	return true;
}

/* ---- clients ---- */

static char *run(const char *fmt, ...)
{
	char cmd[1024], *out = NULL;
	size_t len = 0, cap = 0, n;
	va_list ap;
	FILE *f;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	f = popen(cmd, "r");
	if (!f)
		return strdup("");
	do {
		if (cap - len < 4096)
			out = realloc(out, cap = cap * 2 + 8192);
		n = fread(out + len, 1, cap - len - 1, f);
		len += n;
	} while (n);
	pclose(f);
	out[len] = '\0';
	return out;
}

/* A connected socket; rcvbuf 0 keeps the default receive buffer (a small
 * one makes a client that stops reading block the server sooner). */
static int dial_rcvbuf(int port, int rcvbuf)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons(port) };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (rcvbuf)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a))) {
		perror("connect");
		exit(1);
	}
	return fd;
}

static int dial(int port)
{
	return dial_rcvbuf(port, 0);
}

static void send_all(int fd, const void *d, size_t n)
{
	while (n) {
		ssize_t k = send(fd, d, n, MSG_NOSIGNAL);

		if (k <= 0)
			return;
		d = (const char *)d + k;
		n -= k;
	}
}

/* Reads until the peer closes (returns true) or timeout_ms pass. */
static bool slurp(int fd, char *buf, size_t cap, size_t *len, int timeout_ms)
{
	uint64_t end = mono_ms() + timeout_ms;

	*len = 0;
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int64_t left = end - mono_ms();
		ssize_t k;

		if (left <= 0 || poll(&p, 1, left) <= 0)
			break;
		k = recv(fd, buf + *len, cap - 1 - *len, 0);
		if (k <= 0) {
			buf[*len] = '\0';
			return true;
		}
		*len += k;
		if (*len == cap - 1)
			break;
	}
	buf[*len] = '\0';
	return false;
}

/* Sends a request on a fresh connection and reads the reply until close. */
static char *exchange(int port, const char *req, size_t len, bool *closed)
{
	static char buf[65536];
	size_t n;
	int fd = dial(port);

	send_all(fd, req, len);
	*closed = slurp(fd, buf, sizeof(buf), &n, LIVENESS_MS);
	close(fd);
	return buf;
}

/* An HTTP/1.1 SSE client reading chunked event streams incrementally. */
struct client {
	int fd;
	bool in_body, closed;
	char head[4096];
	size_t hlen;
	int cstate;		/* 0 size line, 1 data, 2 CRLF */
	size_t cleft;
	char cline[32];
	size_t clen;
	char *body;
	size_t blen, bcap, bpos;
	struct sse_log log;
};

static void body_add(struct client *c, const char *d, size_t n)
{
	if (c->blen + n > c->bcap)
		c->body = realloc(c->body, c->bcap = 2 * (c->blen + n));
	memcpy(c->body + c->blen, d, n);
	c->blen += n;
}

/* Stream bytes: parses the events they complete. */
static void client_body(struct client *c, const char *d, size_t n)
{
	body_add(c, d, n);
	sse_parse(&c->log, c->body, c->blen, &c->bpos);
	memmove(c->body, c->body + c->bpos, c->blen - c->bpos);
	c->blen -= c->bpos;
	c->bpos = 0;
}

static void dechunk(struct client *c, const char *d, size_t n)
{
	for (size_t i = 0; i < n;) {
		if (c->cstate == 0) {
			if (c->clen < sizeof(c->cline) - 1)
				c->cline[c->clen++] = d[i];
			if (d[i++] != '\n')
				continue;
			c->cline[c->clen] = '\0';
			c->cleft = strtoul(c->cline, NULL, 16);
			c->clen = 0;
			c->cstate = 1;
		} else if (c->cstate == 1) {
			size_t k = n - i < c->cleft ? n - i : c->cleft;

			client_body(c, d + i, k);
			i += k;
			c->cleft -= k;
			if (!c->cleft) {
				c->cstate = 2;
				c->cleft = 2;
			}
		} else {
			i++;
			if (!--c->cleft)
				c->cstate = 0;
		}
	}
}

static void client_feed(struct client *c, const char *d, size_t n)
{
	while (!c->in_body && n) {
		c->head[c->hlen++] = *d++;
		n--;
		c->in_body = c->hlen >= 4 &&
			     !memcmp(c->head + c->hlen - 4, "\r\n\r\n", 4);
		if (c->hlen == sizeof(c->head) - 1)
			return;
	}
	c->head[c->hlen] = '\0';
	dechunk(c, d, n);
}

static void client_open(struct client *c, int port, const char *path,
			int rcvbuf)
{
	char req[256];
	int n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: x\r\n"
			 "Accept: text/event-stream\r\n\r\n", path);

	memset(c, 0, sizeof(*c));
	c->fd = dial_rcvbuf(port, rcvbuf);
	send_all(c->fd, req, n);
	fcntl(c->fd, F_SETFL, O_NONBLOCK);
}

static void client_free(struct client *c)
{
	close(c->fd);
	free(c->body);
	free(c->log.ev);
}

/* Reads whatever arrives on the clients for ms milliseconds. */
static void clients_read(struct client *cs, int n, int ms)
{
	struct pollfd *p = calloc(n, sizeof(*p));
	uint64_t end = mono_ms() + ms;
	char buf[65536];

	for (int64_t left; (left = end - mono_ms()) > 0;) {
		for (int i = 0; i < n; i++)
			p[i] = (struct pollfd){ .fd = cs[i].closed ? -1 : cs[i].fd,
						.events = POLLIN };
		if (poll(p, n, left) <= 0)
			continue;
		for (int i = 0; i < n; i++) {
			ssize_t k;

			if (!(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			while ((k = recv(cs[i].fd, buf, sizeof(buf), 0)) > 0)
				client_feed(&cs[i], buf, k);
			cs[i].closed |= k == 0 || (k < 0 && errno != EAGAIN);
		}
	}
	free(p);
}

/* Reads until each of the clients has at least min events or closed, or
 * LIVENESS_MS pass. */
static void clients_read_until(struct client *cs, int n, size_t min)
{
	uint64_t end = mono_ms() + LIVENESS_MS;

	for (int i = 0; i < n && mono_ms() < end;) {
		if (cs[i].closed || cs[i].log.nev >= min)
			i++;
		else
			clients_read(cs, n, 50);
	}
}

/* ---- tests ---- */

/* No state yet on /sse/b: retry, then keep-alive comments only, read
 * until two came (10 s: a bound for a loaded machine, not a time). */
static void test_no_state_and_keepalive(struct harness *h)
{
	struct client c;

	client_open(&c, h->port, "/sse/b", 0);
	for (int i = 0; i < 100 && c.log.comments < 2 && !c.closed; i++)
		clients_read(&c, 1, 100);
	CHECK(c.log.retry_first);
	CHECK_EQ_U64(c.log.nev, 0);
	CHECK(c.log.comments >= 2);
	CHECK(!c.closed);
	client_free(&c);
}

/* Several subscribers at one id share one call of the full fn. */
static void test_full_cached(struct harness *h)
{
	struct client cs[5];
	uint64_t before[2], after[2];

	on_loop(h, do_publish, NULL);
	on_loop(h, get_ids, before);
	for (int i = 0; i < 5; i++)
		client_open(&cs[i], h->port, "/sse/a", 0);
	clients_read_until(cs, 5, 1);	/* nothing more is published */
	on_loop(h, get_ids, after);
	CHECK_EQ_U64(after[1] - before[1], 1);
	for (int i = 0; i < 5; i++) {
		CHECK(stream_ok(&cs[i].log, "full", "delta", 0, "cached"));
		CHECK_EQ_U64(cs[i].log.nev, 1);
		CHECK_EQ_U64(cs[i].log.ev[0].id, before[0]);
		CHECK(strstr(cs[i].head, "Transfer-Encoding: chunked\r\n"));
		client_free(&cs[i]);
	}
}

static void test_routes(struct harness *h, const char *proto)
{
	char *out;

	out = run("curl -si %s http://127.0.0.1:%d/hello", proto, h->port);
	CHECK(strstr(out, " 200"));
	CHECK(strcasestr(out, "content-length: 12\r\n"));
	CHECK(strcasestr(out, "cache-control: no-store\r\n"));
	CHECK(strstr(out, "\r\n\r\nhello world\n"));
	free(out);
	out = run("curl -s %s 'http://127.0.0.1:%d/echo?x=1&y=2#frag'", proto,
		  h->port);
	CHECK_STR(out, "{\"path\":\"/echo\",\"query\":\"x=1&y=2\"}");
	free(out);
	out = run("curl -si %s http://127.0.0.1:%d/nope", proto, h->port);
	CHECK(strstr(out, " 404"));
	CHECK(strstr(out, "\r\n\r\n404 Not Found\n"));
	free(out);
	out = run("curl -sI %s http://127.0.0.1:%d/hello", proto, h->port);
	CHECK(strstr(out, " 200"));
	CHECK(strcasestr(out, "content-length: 12\r\n"));
	CHECK(!strstr(out, "hello world"));
	free(out);
	out = run("curl -sI %s http://127.0.0.1:%d/sse/a", proto, h->port);
	CHECK(strcasestr(out, "content-type: text/event-stream"));
	CHECK(!strstr(out, "retry"));
	free(out);
	out = run("curl -si -X POST -d x %s http://127.0.0.1:%d/hello", proto,
		  h->port);
	CHECK(strstr(out, " 405"));
	CHECK(strcasestr(out, "allow: GET, HEAD\r\n"));
	free(out);
}

static void test_sse(struct harness *h, const char *proto, const char *path,
		     const char *extra, const char *full, const char *delta)
{
	/* read until the 52nd event starts (30 s: a bound for a loaded
	 * machine, not a time) */
	char *out = run("curl -sNi %s %s --max-time 30 http://127.0.0.1:%d%s | "
			"awk '{ print } /^id: / && ++n == 52 { exit }'",
			proto, extra, h->port, path);
	char *body = strstr(out, "\r\n\r\n");
	struct sse_log l = { 0 };
	size_t pos = 0;
	char what[128];

	snprintf(what, sizeof(what), "%s %s %s", proto, path, extra);
	CHECK(body);
	if (!body) {
		free(out);
		return;
	}
	body[2] = '\0';	/* keep the last header's CRLF */
	CHECK(strstr(out, " 200"));
	CHECK(strcasestr(out, "content-type: text/event-stream; charset=utf-8\r\n"));
	CHECK(strcasestr(out, "cache-control: no-cache\r\n"));
	CHECK(strcasestr(out, "x-accel-buffering: no\r\n"));
	CHECK(!strcasestr(out, "content-length"));
	body += 4;
	sse_parse(&l, body, strlen(body), &pos);
	CHECK(stream_ok(&l, full, delta, 50, what));
	free(out);
	free(l.ev);
}

static void test_sse_all(struct harness *h)
{
	static const char *protos[] = { "--http1.1", "--http2-prior-knowledge" };

	for (int i = 0; i < 2; i++) {
		test_sse(h, protos[i], "/sse/a", "", "full", "delta");
		test_sse(h, protos[i], "/sse/b", "", "memory", "memory");
		test_sse(h, protos[i], "/sse/a", "-H 'Last-Event-ID: 3'", "full",
			 "delta");
		test_sse(h, protos[i], "/sse/a?since=now", "", "full", "delta");
	}
}

static void expect_status(struct harness *h, const char *req,
			  const char *status, bool must_close)
{
	bool closed;
	char *out = exchange(h->port, req, strlen(req), &closed);

	if (strncmp(out, status, strlen(status)))
		fprintf(stderr, "for %.40s: got %.60s\n", req, out);
	CHECK(!strncmp(out, status, strlen(status)));
	if (must_close)
		CHECK(closed);
}

static void test_bad_requests(struct harness *h)
{
	static const char pipelined[] =
		"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n"
		"GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
	size_t big = 20000;
	char *req = malloc(big + 100);
	bool closed;
	char *out;
	int n;

	expect_status(h, "\x01\x02garbage\r\n\r\n", "HTTP/1.1 400 ", true);
	expect_status(h, "BREW /pot HTTP/1.1\r\n\r\n", "HTTP/1.1 400 ",
		      true);
	expect_status(h, "GET /hello HTTP/9x\r\n\r\n", "HTTP/1.1 400 ",
		      true);
	expect_status(h, "DELETE /hello HTTP/1.1\r\n\r\n", "HTTP/1.1 405 ", true);
	n = sprintf(req, "GET /hello HTTP/1.1\r\nX-Big: ");
	memset(req + n, 'a', big);
	n += big;
	n += sprintf(req + n, "\r\n\r\n");
	req[n] = '\0';
	expect_status(h, req, "HTTP/1.1 431 ", true);
	n = sprintf(req, "GET /");
	memset(req + n, 'a', 9000);
	n += 9000;
	n += sprintf(req + n, " HTTP/1.1\r\n\r\n");
	req[n] = '\0';
	expect_status(h, req, "HTTP/1.1 414 ", true);
	expect_status(h, "GET /hello HTTP/1.0\r\n\r\n", "HTTP/1.1 200 ",
		      true);
	/* An h2c upgrade is declined: the answer is HTTP/1.1. */
	expect_status(h, "GET /hello HTTP/1.1\r\nHost: x\r\nConnection: "
		      "Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n"
		      "HTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n",
		      "HTTP/1.1 200 ", false);
	out = exchange(h->port, pipelined, sizeof(pipelined) - 1, &closed);
	CHECK(closed);
	CHECK(strstr(out, "hello world\n") &&
	      strstr(strstr(out, "hello world\n"), "HTTP/1.1 404 "));
	free(req);
}

/* Connections that never complete a request are closed by the idle limit
 * (the server's count of them says which limit closed them). */
static void test_idle(struct harness *h)
{
	static const char *starts[] = { "", "PRI * HTTP/2.0\r\n", "GET / HT" };
	uint64_t idled = stats(h).idled;
	int fd[3];

	for (int i = 0; i < 3; i++) {
		fd[i] = dial(h->port);
		send_all(fd[i], starts[i], strlen(starts[i]));
	}
	for (int i = 0; i < 3; i++) {
		char buf[256];
		size_t n;

		CHECK(slurp(fd[i], buf, sizeof(buf), &n, 10 * IDLE_MS));
		close(fd[i]);
	}
	CHECK_EQ_U64(stats(h).idled - idled, 3);
}

/* A truncated preface followed by close ends the connection at once: not
 * by the idle limit. */
static void test_truncated_preface(struct harness *h)
{
	char buf[256];
	size_t n;
	uint64_t idled = stats(h).idled;
	int fd = dial(h->port);

	send_all(fd, preface, 10);
	shutdown(fd, SHUT_WR);
	CHECK(slurp(fd, buf, sizeof(buf), &n, 10 * IDLE_MS));
	CHECK_EQ_U64(n, 0);
	CHECK_EQ_U64(stats(h).idled, idled);
	close(fd);
}

/* Walks HTTP/2 frames: counts DATA payload on stream 1 and GOAWAYs, and
 * notes whether HEADERS for stream 1 came. */
struct h2_seen {
	size_t data1;
	unsigned goaways, headers1;
	uint32_t goaway_code;
};

static void h2_frames(const unsigned char *d, size_t n, struct h2_seen *s)
{
	while (n >= 9) {
		size_t len = d[0] << 16 | d[1] << 8 | d[2];
		uint32_t sid = (d[5] & 0x7f) << 24 | d[6] << 16 | d[7] << 8 | d[8];

		if (n < 9 + len)
			break;
		if (d[3] == 0 && sid == 1)
			s->data1 += len;
		if (d[3] == 1 && sid == 1)
			s->headers1++;
		if (d[3] == 7 && len >= 8) {
			s->goaways++;
			s->goaway_code = d[13] << 24 | d[14] << 16 | d[15] << 8 |
					 d[16];
		}
		d += 9 + len;
		n -= 9 + len;
	}
}

static void test_h2_errors(struct harness *h)
{
	/* SETTINGS whose length is not a multiple of 6. */
	static const unsigned char bad_settings[] = { 0, 0, 5, 4, 0, 0, 0, 0, 0,
						      1, 2, 3, 4, 5 };
	static const char garbage[] = "this is not an HTTP/2 frame at all!!";
	const void *tails[] = { bad_settings, garbage };
	size_t tail_len[] = { sizeof(bad_settings), sizeof(garbage) - 1 };

	for (int i = 0; i < 2; i++) {
		char buf[4096];
		struct h2_seen s = { 0 };
		size_t n;
		int fd = dial(h->port);

		send_all(fd, preface, 24);
		send_all(fd, tails[i], tail_len[i]);
		CHECK(slurp(fd, buf, sizeof(buf), &n, LIVENESS_MS));
		h2_frames((unsigned char *)buf, n, &s);
		CHECK_EQ_U64(s.goaways, 1);
		CHECK(s.goaway_code != 0);	/* an error, not NO_ERROR */
		close(fd);
	}
}

/* Random bytes, alone, after the HTTP/2 preface, or after a valid request
 * line: every connection ends, and the server goes on serving. */
static void test_garbage(struct harness *h)
{
	enum { N = 300, BATCH = 50 };
	static const char *prefixes[] = { "", preface, "GET /hello HTTP/1.1\r\n" };
	unsigned seed = 42;
	int ended = 0;
	bool closed;

	for (int i = 0; i < N; i += BATCH) {
		int fds[BATCH];

		for (int j = 0; j < BATCH; j++) {
			const char *pre = prefixes[(i + j) % 3];
			unsigned char junk[512];
			size_t len = 1 + rand_r(&seed) % sizeof(junk);

			for (size_t k = 0; k < len; k++)
				junk[k] = rand_r(&seed);
			fds[j] = dial(h->port);
			send_all(fds[j], pre, strlen(pre));
			send_all(fds[j], junk, len);
			shutdown(fds[j], SHUT_WR);
		}
		for (int j = 0; j < BATCH; j++) {
			char buf[4096];
			size_t n;

			ended += slurp(fds[j], buf, sizeof(buf), &n,
				       LIVENESS_MS);
			close(fds[j]);
		}
	}
	CHECK_EQ_U64(ended, N);
	CHECK(strstr(exchange(h->port, "GET /hello HTTP/1.0\r\n\r\n", 23,
			      &closed), "hello world\n"));
}

static long rss_kib(void)
{
	char *s = run("grep VmRSS /proc/%d/status", getpid());
	long k = strtol(s + strcspn(s, "0123456789"), NULL, 10);

	free(s);
	return k;
}

/* RSS growth within a bound: the plain build's bound (make test-asan's
 * build keeps freed memory in quarantine: printed, not judged there). */
static bool rss_within(long grown_kib, long bound_kib)
{
	return getenv("VT_SANITIZED") || grown_kib < bound_kib;
}

/* The "HTTP/1.1 200 " status lines in buf: *carry bytes kept from the
 * last read, then k new ones; the last 12 are kept again for a status
 * line split between reads. */
static size_t count_200s(char *buf, size_t k, size_t *carry)
{
	size_t n = 0;

	k += *carry;
	for (char *q = buf; (q = memmem(q, buf + k - q, "HTTP/1.1 200 ", 13));
	     q += 13)
		n++;
	*carry = k < 12 ? k : 12;
	memmove(buf, buf + k - *carry, *carry);
	return n;
}

/* Pipelined requests for 64 KiB answers, none read for a while: the server
 * stops parsing instead of buffering 2000 answers (125 MiB), and then
 * answers all of them in order once they are read. */
static void test_pipelining_bounded(struct harness *h)
{
	static const char get[] = "GET /big HTTP/1.1\r\nHost: x\r\n\r\n";
	static const char last[] = "GET /big HTTP/1.1\r\nHost: x\r\n"
				   "Connection: close\r\n\r\n";
	enum { N = 2000 };
	size_t reqlen = (N - 1) * (sizeof(get) - 1) + sizeof(last) - 1;
	char *reqs = malloc(reqlen), *p = reqs, buf[65536];
	long rss0 = rss_kib(), grown;
	size_t sent = 0, got = 0, answers = 0, carry = 0;
	int fd = dial(h->port);

	for (int i = 0; i < N - 1; i++)
		p = mempcpy(p, get, sizeof(get) - 1);
	memcpy(p, last, sizeof(last) - 1);
	fcntl(fd, F_SETFL, O_NONBLOCK);
	for (uint64_t end = mono_ms() + 500; mono_ms() < end;) {
		ssize_t k = send(fd, reqs + sent, reqlen - sent, MSG_NOSIGNAL);

		sent += k > 0 ? (size_t)k : 0;
		usleep(10000);
	}
	grown = rss_kib() - rss0;
	printf("pipelining: %zu of %zu request bytes accepted unread, "
	       "RSS grew %ld KiB\n", sent, reqlen, grown);
	CHECK(rss_within(grown, 16 * 1024));
	for (uint64_t end = mono_ms() + LIVENESS_MS; mono_ms() < end;) {
		struct pollfd pf = { .fd = fd, .events = POLLIN |
					       (sent < reqlen ? POLLOUT : 0) };
		ssize_t k;

		poll(&pf, 1, 100);
		if (sent < reqlen && (k = send(fd, reqs + sent, reqlen - sent,
					       MSG_NOSIGNAL)) > 0)
			sent += k;
		k = recv(fd, buf + carry, sizeof(buf) - carry, 0);
		if (k == 0)
			break;
		if (k < 0)
			continue;
		got += k;
		answers += count_200s(buf, k, &carry);
	}
	CHECK_EQ_U64(answers, N);
	printf("pipelining: %zu answers, %zu bytes\n", answers, got);
	close(fd);
	free(reqs);
}

/* A raw HTTP/2 client granting a 100-byte stream window, never more. */
static int h2_stuck_open(int port)
{
	static const unsigned char settings[] = {
		0, 0, 6, 4, 0, 0, 0, 0, 0,	/* SETTINGS */
		0, 4, 0, 0, 0, 100,		/* INITIAL_WINDOW_SIZE 100 */
	};
	static const unsigned char headers[] = {
		0, 0, 17, 1, 5, 0, 0, 0, 1,	/* HEADERS, END_STREAM|END_HEADERS */
		0x82, 0x86,			/* :method GET, :scheme http */
		0x04, 6, '/', 's', 's', 'e', '/', 'a',	/* :path /sse/a */
		0x01, 5, 'l', 'o', 'c', 'a', 'l',	/* :authority local */
	};
	int fd = dial(port);

	send_all(fd, preface, 24);
	send_all(fd, settings, sizeof(settings));
	send_all(fd, headers, sizeof(headers));
	return fd;
}

/* A client that stops reading (HTTP/1.1, tiny receive buffer) and one that
 * gives no flow-control window (HTTP/2) while a third keeps reading:
 * the reader gets every event, the stuck ones are dropped after
 * STALL_MS, and the event memory they pin stays under the queue bound. */
static void test_stuck_clients(struct harness *h)
{
	enum { PAD = 8000, EVENT = PAD + 120 };
	struct vt_server_stats st0 = stats(h), st;
	struct client good;
	struct h2_seen seen = { 0 };
	int stuck = dial_rcvbuf(h->port, 4096), h2;
	char *buf = malloc(1 << 20);
	size_t n, h2len = 0;
	uint64_t bound;
	bool dropped;

	send_all(stuck, "GET /sse/a HTTP/1.1\r\nHost: x\r\n\r\n", 33);
	h2 = h2_stuck_open(h->port);
	client_open(&good, h->port, "/sse/a", 0);
	rate(h, 2, PAD);	/* ~4 MB/s of events */
	/* until both are dropped and the reader has had its events: how long
	 * that takes is the machine's business (30 s: a hang) */
	for (uint64_t t0 = mono_ms(); mono_ms() < t0 + 30000 &&
	     (mono_ms() < t0 + 4 * STALL_MS ||
	      stats(h).stalled - st0.stalled < 2 ||
	      good.log.nev <= STALL_MS / 2);) {
		clients_read(&good, 1, 50);
		slurp(h2, buf + h2len, (1 << 20) - h2len, &n, 1);
		h2len += n;
	}
	rate(h, 10, 100);
	st = stats(h);
	/* Stream window 100: exactly 100 bytes of DATA, then the drop. */
	h2_frames((unsigned char *)buf, h2len, &seen);
	CHECK_EQ_U64(seen.headers1, 1);
	CHECK_EQ_U64(seen.data1, 100);
	CHECK(slurp(h2, buf, 1 << 20, &n, LIVENESS_MS));
	dropped = slurp(stuck, buf, 1 << 20, &n, LIVENESS_MS);
	while (!dropped && n)	/* drain what the kernel held, then EOF */
		dropped = slurp(stuck, buf, 1 << 20, &n, LIVENESS_MS);
	CHECK(dropped);
	CHECK_EQ_U64(st.stalled - st0.stalled, 2);
	CHECK(st.resyncs > st0.resyncs);
	CHECK(st.queue_hwm <= QUEUE_MAX);
	/* Per subscriber: its queue plus one write in flight, all shared. */
	bound = (3 * (QUEUE_MAX + H1_BATCH) + 2) * (uint64_t)EVENT;
	printf("stuck clients: event memory high-water %" PRIu64 " bytes "
	       "(bound %" PRIu64 "), queue high-water %" PRIu64 " of %d, "
	       "%" PRIu64 " resyncs; reader: %zu events, worst latency %"
	       PRIu64 " ms\n", st.event_bytes_hwm, bound, st.queue_hwm,
	       QUEUE_MAX, st.resyncs - st0.resyncs, good.log.nev,
	       good.log.max_lat_ms);
	CHECK(st.event_bytes_hwm <= bound);
	/* The reader gets every event, in order, and stays: its latency is
	 * printed above, not judged (a duration is no verdict on a shared
	 * machine). */
	CHECK(stream_ok(&good.log, "full", "delta", STALL_MS / 2, "reader"));
	CHECK(!good.closed);
	client_free(&good);
	close(stuck);
	close(h2);
	free(buf);
}

/* Resync rule: each event is a full state or the successor of the one
 * before; counts the full states. */
static size_t resync_ok(const struct sse_log *l)
{
	size_t fulls = 0;

	for (size_t i = 0; i < l->nev; i++) {
		const struct sse_ev *e = &l->ev[i];

		if (e->n != e->id || (strcmp(e->name, "full") &&
				      (i == 0 || e->id != e[-1].id + 1))) {
			fprintf(stderr, "slow reader: event %zu is %s id %lld "
				"n %lld\n", i, e->name, e->id, e->n);
			return 0;
		}
		fulls += !strcmp(e->name, "full");
	}
	return fulls;
}

/* A reader that pauses until its queue overflows, then reads on: it skips
 * to a fresh full state and never sees a delta whose base it missed. */
static void test_slow_reader_resyncs(struct harness *h)
{
	struct vt_server_stats st0 = stats(h);
	struct client slow;
	uint64_t end = mono_ms() + LIVENESS_MS;
	size_t fulls = 0;

	client_open(&slow, h->port, "/sse/a", 4096);
	rate(h, 2, 8000);
	while (stats(h).resyncs == st0.resyncs && mono_ms() < end)
		usleep(20000);
	CHECK(stats(h).resyncs > st0.resyncs);
	/* reading on: the first full state, then the fresh one it skipped to */
	while (!slow.closed && mono_ms() < end) {
		clients_read(&slow, 1, 50);
		fulls = 0;
		for (size_t i = 0; i < slow.log.nev; i++)
			fulls += !strcmp(slow.log.ev[i].name, "full");
		if (fulls >= 2)
			break;
	}
	rate(h, 10, 100);
	fulls = resync_ok(&slow.log);
	printf("slow reader: %zu events, %zu full states\n", slow.log.nev,
	       fulls);
	CHECK(fulls >= 2);
	CHECK(!slow.closed);
	CHECK_EQ_U64(stats(h).stalled, st0.stalled);
	client_free(&slow);
}

static void wait_no_streams(struct harness *h)
{
	for (uint64_t end = mono_ms() + LIVENESS_MS;
	     stats(h).streams && mono_ms() < end;)
		usleep(10000);
	CHECK_EQ_U64(stats(h).streams, 0);
}

/* 100 HTTP/1.1 subscribers at once, each receiving every event in order. */
static void test_many(struct harness *h)
{
	enum { N = 100 };
	struct client *cs = calloc(N, sizeof(*cs));
	int ok = 0;

	for (int i = 0; i < N; i++)
		client_open(&cs[i], h->port, "/sse/a", 0);
	clients_read_until(cs, N, 1 + 100);
	for (int i = 0; i < N; i++) {
		ok += stream_ok(&cs[i].log, "full", "delta", 100, "h1 client");
		client_free(&cs[i]);
	}
	CHECK_EQ_U64(ok, N);
	free(cs);
	wait_no_streams(h);
}

/* The test's own HTTP/2 client: nghttp2's client session on a blocking
 * socket, each stream's DATA parsed as SSE. */
static ssize_t h2c_send(nghttp2_session *s, const uint8_t *d, size_t n,
			int flags, void *ud)
{
	(void)s, (void)flags;
	send_all(*(int *)ud, d, n);
	return n;
}

static int h2c_data(nghttp2_session *s, uint8_t flags, int32_t id,
		    const uint8_t *d, size_t n, void *ud)
{
	struct client *c = nghttp2_session_get_stream_user_data(s, id);

	(void)flags, (void)ud;
	if (c)
		client_body(c, (const char *)d, n);
	return 0;
}

#define NV(n, v) { (uint8_t *)(n), (uint8_t *)(v), strlen(n), strlen(v), 0 }

/* 20 SSE streams multiplexed on one connection, each with a 1 KiB window
 * that the client reopens as it consumes: every stream gets every event. */
static void test_h2_multiplex(struct harness *h)
{
	enum { N = 20 };
	static const nghttp2_settings_entry iv[] = {
		{ NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 1024 },
	};
	nghttp2_nv nv[] = { NV(":method", "GET"), NV(":scheme", "http"),
			    NV(":authority", "127.0.0.1"), NV(":path", "/sse/a") };
	struct client *st = calloc(N, sizeof(*st));
	nghttp2_session_callbacks *cb;
	nghttp2_session *s;
	int fd = dial(h->port), ok = 0;
	char buf[16384];

	nghttp2_session_callbacks_new(&cb);
	nghttp2_session_callbacks_set_send_callback(cb, h2c_send);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, h2c_data);
	nghttp2_session_client_new(&s, cb, &fd);
	nghttp2_session_callbacks_del(cb);
	nghttp2_submit_settings(s, NGHTTP2_FLAG_NONE, iv, 1);
	for (int i = 0; i < N; i++)
		nghttp2_submit_request(s, NULL, nv, 4, NULL, &st[i]);
	nghttp2_session_send(s);
	for (uint64_t end = mono_ms() + LIVENESS_MS; mono_ms() < end;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t k;
		int done = 0;

		for (int i = 0; i < N; i++)
			done += st[i].log.nev >= 1 + 100;
		if (done == N)
			break;
		if (poll(&p, 1, 50) <= 0)
			continue;
		k = recv(fd, buf, sizeof(buf), 0);
		if (k <= 0 || nghttp2_session_mem_recv(s, (uint8_t *)buf, k) < 0 ||
		    nghttp2_session_send(s))
			break;
	}
	for (int i = 0; i < N; i++) {
		ok += stream_ok(&st[i].log, "full", "delta", 100, "h2 stream");
		free(st[i].body);
		free(st[i].log.ev);
	}
	CHECK_EQ_U64(ok, N);
	nghttp2_session_del(s);
	close(fd);
	free(st);
	wait_no_streams(h);
}

static void test_h2load(struct harness *h)
{
	char *out = run("h2load -n 2000 -c 4 -m 10 http://127.0.0.1:%d/hello "
			"2>&1", h->port);

	CHECK(strstr(out, "2000 succeeded, 0 failed, 0 errored"));
	free(out);
}

static void test_listen_errors(struct harness *h)
{
	uv_loop_t loop;
	struct vt_server *srv;
	char err[256], addr[64];

	uv_loop_init(&loop);
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", h->port);
	CHECK(vt_server_start(&loop, addr, NULL, route, NULL, &srv, err,
			      sizeof(err)) == UV_EADDRINUSE);
	CHECK(strstr(err, "address already in use"));
	CHECK(!srv);
	CHECK(vt_server_start(&loop, "localhost:80", NULL, route, NULL, &srv,
			      err, sizeof(err)) < 0);
	CHECK(strstr(err, "not a numeric IP address"));
	CHECK(vt_server_start(&loop, "127.0.0.1", NULL, route, NULL, &srv, err,
			      sizeof(err)) < 0);
	CHECK(strstr(err, "expected IP:PORT"));
	uv_run(&loop, UV_RUN_DEFAULT);	/* frees the failed servers */
	CHECK_EQ_U64(uv_loop_close(&loop), 0);
}

static void get_report(struct harness *h, void *arg)
{
	*(char **)arg = h->report;
	h->report = NULL;
}

/* A real browser's EventSource over HTTP/1.1: the full state, then every
 * event in order. */
static void test_browser(struct harness *h)
{
	const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	char dir[256], url[64], profile[300], *report = NULL, *p, *out;
	long long prev;
	pid_t pid;
	size_t n = 0;

	if (system("command -v chromium >/dev/null 2>&1")) {
		printf("chromium is not installed: browser check skipped\n");
		return;
	}
	snprintf(dir, sizeof(dir), "%s/vt_chromium_XXXXXX", tmp);
	CHECK(mkdtemp(dir));
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/page", h->port);
	snprintf(profile, sizeof(profile), "--user-data-dir=%s", dir);
	pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		dup2(null, 1);
		dup2(null, 2);
		execlp("timeout", "timeout", "30", "chromium", "--headless",
		       "--no-sandbox", "--disable-gpu",
		       "--disable-background-networking", profile, url, NULL);
		_exit(127);
	}
	/* 30 s: a bound for a loaded machine, not a time */
	for (uint64_t end = mono_ms() + 30000; !report && mono_ms() < end;
	     usleep(100000))
		on_loop(h, get_report, &report);
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	free(run("rm -rf %s", dir));
	CHECK(report && !strncmp(report, "ids=F", 5));
	if (!report || strncmp(report, "ids=F", 5)) {
		free(report);
		return;
	}
	prev = strtoll(report + 5, &p, 10);
	for (; *p == ','; n++) {
		long long id = strtoll(p + 1, &out, 10);

		if (id != prev + 1)
			break;
		prev = id;
		p = out;
	}
	printf("browser: full state, then %zu events in order\n", n);
	CHECK(*p == '\0');
	CHECK(n >= 50);
	free(report);
}

/* Runs the loop for ms, its last turn at or past the deadline: what is
 * due by then has run, however late this thread was scheduled. */
static void spin(uv_loop_t *loop, int ms)
{
	uint64_t end = mono_ms() + ms;

	for (;;) {
		bool last = mono_ms() >= end;

		uv_run(loop, UV_RUN_NOWAIT);
		if (last)
			return;
		usleep(1000);
	}
}

/* Over max_conns, the oldest idle connection makes room for a new one; a
 * server whose connections all have work refuses it. */
static void test_max_conns(void)
{
	static const char req[] = "GET /hello HTTP/1.1\r\nHost: x\r\n"
				  "Connection: close\r\n\r\n";
	static const char sub[] = "GET /s HTTP/1.1\r\nHost: x\r\n\r\n";
	struct vt_server_opts o = { .max_conns = 1, .per_client = 4,
				    .allow_hosts = "x" };
	struct vt_server_stats st;
	struct vt_server *srv;
	uv_loop_t loop;
	char err[256], buf[1024];
	size_t n;
	int a, b, c;

	uv_loop_init(&loop);
	CHECK_EQ_U64(vt_server_start(&loop, "127.0.0.1:0", &o, route, NULL,
				     &srv, err, sizeof(err)), 0);
	vt_server_channel(srv, "/s", "full", full_a, &(struct harness){ 0 });
	a = dial(vt_server_port(srv));
	spin(&loop, 50);
	b = dial(vt_server_port(srv));		/* a is idle: it goes */
	spin(&loop, 50);
	CHECK(slurp(a, buf, sizeof(buf), &n, 100));
	CHECK_EQ_U64(n, 0);
	send_all(b, sub, sizeof(sub) - 1);	/* b streams: it stays */
	spin(&loop, 100);
	c = dial(vt_server_port(srv));
	spin(&loop, 50);
	send_all(c, req, sizeof(req) - 1);
	spin(&loop, 100);
	CHECK(slurp(c, buf, sizeof(buf), &n, 100));
	CHECK_EQ_U64(n, 0);
	CHECK(!slurp(b, buf, sizeof(buf), &n, 100) && n > 0);
	vt_server_stats(srv, &st);
	CHECK_EQ_U64(st.evicted, 1);
	CHECK_EQ_U64(st.refused, 1);
	close(a);
	close(b);
	close(c);
	vt_server_close(srv, NULL, NULL);
	uv_run(&loop, UV_RUN_DEFAULT);
	CHECK_EQ_U64(uv_loop_close(&loop), 0);
}

/* HEADERS for GET /big on stream id (END_STREAM|END_HEADERS). */
static void h2_get_big(int fd, uint32_t id)
{
	unsigned char f[] = {
		0, 0, 11, 1, 5, id >> 24, id >> 16, id >> 8, id,
		0x82, 0x86,				/* GET, http */
		0x04, 4, '/', 'b', 'i', 'g',		/* :path /big */
		0x01, 1, 'x',				/* :authority x */
	};

	send_all(fd, f, sizeof(f));
}

static void h2_reset(int fd, uint32_t id)
{
	unsigned char f[] = { 0, 0, 4, 3, 0, id >> 24, id >> 16, id >> 8, id,
			      0, 0, 0, 8 };		/* RST_STREAM CANCEL */

	send_all(fd, f, sizeof(f));
}

/* HTTP/2 with a zero window: response bodies a client will not take are
 * held up to the connection's and the server's caps (streams past them
 * are refused), given back when the connection goes; and resetting and
 * reopening streams does not keep such a client past the stall limit. */
static void test_h2_held(void)
{
	static const unsigned char zero_window[] = {
		0, 0, 6, 4, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0, 0,
	};
	struct vt_server_opts o = { .stall_ms = 400, .idle_ms = 5000,
				    .allow_hosts = "x",
				    .conn_held_max = 4 * 65536,
				    .held_max = 6 * 65536 };
	struct vt_server_stats st;
	struct vt_server *srv;
	uv_loop_t loop;
	char err[256], buf[65536];
	size_t n;
	int a, b;
	bool gone = false;

	uv_loop_init(&loop);
	CHECK_EQ_U64(vt_server_start(&loop, "127.0.0.1:0", &o, route, NULL,
				     &srv, err, sizeof(err)), 0);
	a = dial(vt_server_port(srv));
	b = dial(vt_server_port(srv));
	for (int fd = a; ; fd = b) {
		send_all(fd, preface, 24);
		send_all(fd, zero_window, sizeof(zero_window));
		for (uint32_t id = 1; id < 20; id += 2)	/* 10 x 64 KiB */
			h2_get_big(fd, id);
		spin(&loop, 100);
		if (fd == b)
			break;
	}
	vt_server_stats(srv, &st);
	CHECK_EQ_U64(st.held, 6 * 65536);	/* a: 4, b: the 2 left */
	CHECK_EQ_U64(st.held_refused, 14);
	close(b);
	spin(&loop, 100);
	vt_server_stats(srv, &st);
	CHECK_EQ_U64(st.held, 4 * 65536);	/* b's given back */
	/* a resets and reopens a stream every 100 ms: it still owes what
	 * it never took, and is dropped at the stall limit */
	for (uint32_t id = 21, i = 0; i < 15 && !gone; id += 2, i++) {
		h2_reset(a, id - 20);
		h2_get_big(a, id);
		spin(&loop, 100);
		while (!(gone = slurp(a, buf, sizeof(buf), &n, 20)) && n)
			;
	}
	vt_server_stats(srv, &st);
	CHECK(gone);
	CHECK_EQ_U64(st.stalled, 1);
	CHECK_EQ_U64(st.held, 0);
	close(a);
	vt_server_close(srv, NULL, NULL);
	uv_run(&loop, UV_RUN_DEFAULT);
	CHECK_EQ_U64(uv_loop_close(&loop), 0);
}

/* A TLS session offering alpn (in wire format), its handshake driven by
 * spinning the loop; NULL (and fd closed) when the server refused it. */
static SSL *tls_dial(SSL_CTX *ctx, uv_loop_t *loop, int port, int rcvbuf,
		     const char *alpn, int *fd)
{
	SSL *ssl = SSL_new(ctx);

	*fd = dial_rcvbuf(port, rcvbuf);
	fcntl(*fd, F_SETFL, O_NONBLOCK);
	SSL_set_fd(ssl, *fd);
	SSL_set_alpn_protos(ssl, (const unsigned char *)alpn, strlen(alpn));
	for (int i = 0; i < 200; i++) {
		int rc = SSL_connect(ssl);

		if (rc == 1)
			return ssl;
		if (SSL_get_error(ssl, rc) != SSL_ERROR_WANT_READ)
			break;
		spin(loop, 5);
	}
	SSL_free(ssl);
	close(*fd);
	return NULL;
}

/* Reads the session until the server's close_notify (true) or ms pass. */
static bool tls_slurp(SSL *ssl, uv_loop_t *loop, char *buf, size_t cap,
		      int ms)
{
	size_t len = 0;

	for (uint64_t end = mono_ms() + ms; mono_ms() < end;) {
		int n = SSL_read(ssl, buf + len, cap - 1 - len);

		if (n > 0)
			len += n;
		else if (SSL_get_error(ssl, n) != SSL_ERROR_WANT_READ)
			break;
		else
			spin(loop, 5);
		buf[len] = '\0';
	}
	return SSL_get_shutdown(ssl) & SSL_RECEIVED_SHUTDOWN;
}

/* Pipelined requests for 64 KiB answers in a TLS session, none read for
 * a while: the server stops taking plaintext out of TLS as it stops
 * parsing (no 19 MiB of answers queued), then answers all in order. */
static void tls_pipelining(SSL_CTX *ctx, uv_loop_t *loop, int port)
{
	static const char get[] = "GET /big HTTP/1.1\r\nHost: x\r\n\r\n";
	static const char last[] = "GET /big HTTP/1.1\r\nHost: x\r\n"
				   "Connection: close\r\n\r\n";
	enum { N = 300 };
	size_t reqlen = (N - 1) * (sizeof(get) - 1) + sizeof(last) - 1;
	size_t sent = 0, answers = 0, carry = 0;
	char *reqs = malloc(reqlen), *p = reqs, buf[65536];
	long rss0 = rss_kib(), grown;
	int fd, k;
	SSL *ssl = tls_dial(ctx, loop, port, 0, "\x08http/1.1", &fd);

	for (int i = 0; i < N - 1; i++)
		p = mempcpy(p, get, sizeof(get) - 1);
	memcpy(p, last, sizeof(last) - 1);
	for (uint64_t end = mono_ms() + 300; ssl && mono_ms() < end;) {
		if (sent < reqlen && (k = SSL_write(ssl, reqs + sent,
						    reqlen - sent)) > 0)
			sent += k;
		spin(loop, 5);
	}
	grown = rss_kib() - rss0;
	printf("TLS pipelining: %zu of %zu request bytes sent unread, RSS "
	       "grew %ld KiB\n", sent, reqlen, grown);
	CHECK(ssl && rss_within(grown, 8 * 1024));
	for (uint64_t end = mono_ms() + LIVENESS_MS; ssl && mono_ms() < end;) {
		if (sent < reqlen && (k = SSL_write(ssl, reqs + sent,
						    reqlen - sent)) > 0)
			sent += k;
		k = SSL_read(ssl, buf + carry, sizeof(buf) - carry);
		if (k <= 0 && SSL_get_error(ssl, k) != SSL_ERROR_WANT_READ)
			break;
		if (k <= 0) {
			spin(loop, 1);
			continue;
		}
		answers += count_200s(buf, k, &carry);
	}
	CHECK_EQ_U64(answers, N);
	SSL_free(ssl);
	close(fd);
	free(reqs);
}

/* Over TLS: a request is answered and the session ends with
 * close_notify; pipelining is bounded; plain HTTP and a foreign ALPN are
 * refused; a handshake
 * that stalls is closed at the idle limit, not before, and a client that
 * reads nothing of its stream at the stall limit; all is freed. */
static void test_tls(void)
{
	static const char get[] = "GET /hello HTTP/1.0\r\nHost: x\r\n\r\n";
	static const char sub[] = "GET /s HTTP/1.1\r\nHost: x\r\n\r\n";
	struct vt_server_opts o = { .idle_ms = 300, .stall_ms = 400,
				    .allow_hosts = "x" };
	char dir[] = "/tmp/vt-test-tls.XXXXXX", cert[64], key[64], err[256];
	char buf[8192], *big = calloc(1, 65536);
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	struct vt_sse_channel *ch;
	struct vt_server_stats st;
	struct vt_server *srv;
	uv_loop_t loop;
	SSL *ssl;
	size_t n;
	int fd, port;

	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
			      SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	CHECK_EQ_U64(vt_test_cert(dir, cert, key, sizeof(cert)), 0);
	o.tls_cert = cert;
	o.tls_key = key;
	uv_loop_init(&loop);
	CHECK_EQ_U64(vt_server_start(&loop, "127.0.0.1:0", &o, route, NULL,
				     &srv, err, sizeof(err)), 0);
	unlink(cert);
	unlink(key);
	rmdir(dir);
	CHECK(!strncmp(vt_server_url(srv), "https://127.0.0.1:", 18));
	port = vt_server_port(srv);
	ch = vt_server_channel(srv, "/s", "full", full_a, &(struct harness){ 0 });

	ssl = tls_dial(ctx, &loop, port, 0, "\x08http/1.1", &fd);
	CHECK(ssl && SSL_write(ssl, get, sizeof(get) - 1) > 0);
	CHECK(ssl && tls_slurp(ssl, &loop, buf, sizeof(buf), LIVENESS_MS));
	CHECK(strstr(buf, "HTTP/1.1 200 OK") && strstr(buf, "hello world\n"));
	SSL_free(ssl);
	close(fd);

	tls_pipelining(ctx, &loop, port);
	CHECK(!tls_dial(ctx, &loop, port, 0, "\x06spdy/3", &fd));
	fd = dial(port);
	send_all(fd, get, sizeof(get) - 1);
	spin(&loop, 50);
	CHECK(slurp(fd, buf, sizeof(buf), &n, 100));
	CHECK(!strncmp(buf, "HTTP/1.1 400 ", 13) && strstr(buf, "serves HTTPS"));
	close(fd);
	vt_server_stats(srv, &st);
	CHECK_EQ_U64(st.tls_failed, 2);

	fd = dial(port);		/* a ClientHello that never comes */
	send_all(fd, "\x16\x03\x01\x02\x00\x01", 6);
	spin(&loop, o.idle_ms - 100);
	CHECK(!slurp(fd, buf, sizeof(buf), &n, 0));
	spin(&loop, 300);
	CHECK(slurp(fd, buf, sizeof(buf), &n, 100));
	close(fd);

	ssl = tls_dial(ctx, &loop, port, 4096, "\x08http/1.1", &fd);
	CHECK(ssl && SSL_write(ssl, sub, sizeof(sub) - 1) > 0);
	memset(big, 'x', 65535);
	for (int i = 0; i < 200 && (vt_server_stats(srv, &st), !st.stalled); i++) {
		vt_sse_publish(ch, "delta", big, 65535, false);
		spin(&loop, 10);
	}
	CHECK_EQ_U64(st.stalled, 1);
	SSL_free(ssl);
	close(fd);
	spin(&loop, 50);
	vt_server_stats(srv, &st);
	CHECK_EQ_U64(st.conns, 0);
	vt_server_close(srv, NULL, NULL);
	uv_run(&loop, UV_RUN_DEFAULT);
	CHECK_EQ_U64(uv_loop_close(&loop), 0);
	SSL_CTX_free(ctx);
	free(big);
}

int main(void)
{
	struct harness h = { 0 };
	struct vt_server_stats st;
	uint64_t t0 = mono_ms();

	signal(SIGPIPE, SIG_IGN);
	if (system("curl --version >/dev/null 2>&1")) {
		printf("curl is not installed (apt-get install curl)\n");
		return 77;
	}
	harness_start(&h);
	test_listen_errors(&h);
	test_max_conns();
	test_h2_held();
	test_tls();
	test_no_state_and_keepalive(&h);
	test_full_cached(&h);
	rate(&h, 10, 100);
	test_routes(&h, "--http1.1");
	test_routes(&h, "--http2-prior-knowledge");
	test_sse_all(&h);
	test_browser(&h);
	test_bad_requests(&h);
	test_idle(&h);
	test_truncated_preface(&h);
	test_h2_errors(&h);
	test_garbage(&h);
	test_pipelining_bounded(&h);
	test_stuck_clients(&h);
	test_slow_reader_resyncs(&h);
	test_many(&h);
	test_h2_multiplex(&h);
	if (!system("h2load --version >/dev/null 2>&1"))
		test_h2load(&h);
	st = stats(&h);
	CHECK_EQ_U64(h.bad_ids, 0);
	printf("%" PRIu64 " connections still open, %" PRIu64 " refused; "
	       "took %" PRIu64 " ms\n", st.conns, st.refused, mono_ms() - t0);
	on_loop(&h, do_close, NULL);
	pthread_join(h.thread, NULL);
	CHECK_EQ_U64(uv_loop_close(&h.loop), 0);
	free(h.pad);
	free(h.report);
	return vt_test_done("test_server");
}
