/* libFuzzer target for the server's request path: each input is sent by a
 * real TCP client to a vt_server on a libuv loop in this process, as
 * HTTP/1.1 bytes, or (built with VT_FUZZ_H2) as HTTP/2 frames after the
 * client preface. Routes answer small and large bodies and an SSE stream
 * that gets events while the input is read. Any input must leave the
 * server up, every connection freed (LeakSanitizer), nothing read or
 * written out of bounds. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include "serve/vt_server.h"

#define ROUNDS 64	/* loop iterations an input gets to be answered */

static uv_loop_t loop;
static struct vt_server *srv;
static struct vt_sse_channel *ch;
static struct sockaddr_in addr;

static void route(void *ctx, const char *path, const char *query,
		  struct vt_http_response *out)
{
	size_t n = !strcmp(path, "/big") ? 256 * 1024 : 3;

	(void)ctx;
	(void)query;
	out->status = 200;
	out->content_type = "text/plain";
	out->body = malloc(n);
	if (!out->body)
		return;
	memset(out->body, 'x', n);
	out->len = n;
}

static char *full(void *ctx, size_t *len)
{
	(void)ctx;
	*len = 7;
	return strdup("{\"a\":1}");
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct vt_server_opts o = { .idle_ms = 1000, .stall_ms = 1000 };
	char err[256];

	(void)argc;
	(void)argv;
	uv_loop_init(&loop);
	if (vt_server_start(&loop, "127.0.0.1:0", &o, route, NULL, &srv, err,
			    sizeof(err)) < 0)
		abort();
	ch = vt_server_channel(srv, "/stream", "memory", full, NULL);
	addr = (struct sockaddr_in){ .sin_family = AF_INET,
				     .sin_port = htons(vt_server_port(srv)) };
	inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
	return 0;
}

/* Sends what it can of [p, p+len) without blocking; returns bytes sent. */
static size_t send_some(int fd, const uint8_t *p, size_t len)
{
	ssize_t n = len ? send(fd, p, len, MSG_NOSIGNAL) : 0;

	return n > 0 ? (size_t)n : 0;
}

static void exchange(int fd, const uint8_t *data, size_t size)
{
#ifdef VT_FUZZ_H2
	/* preface and an empty SETTINGS frame, then the input as frames */
	static const uint8_t preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
					 "\0\0\0\4\0\0\0\0\0";
	size_t pre = sizeof(preface) - 1;
#else
	static const uint8_t preface[1];
	size_t pre = 0;
#endif
	size_t sent_pre = 0, sent = 0;
	char buf[65536];

	for (int i = 0; i < ROUNDS; i++) {
		ssize_t n;

		sent_pre += send_some(fd, preface + sent_pre, pre - sent_pre);
		if (sent_pre == pre)
			sent += send_some(fd, data + sent, size - sent);
		if (sent_pre == pre && sent == size && i == ROUNDS / 2)
			shutdown(fd, SHUT_WR);
		if (i % 8 == 0)
			vt_sse_publish(ch, "memory", "{\"a\":2}", 7, i % 16 == 0);
		uv_run(&loop, UV_RUN_NOWAIT);
		while ((n = recv(fd, buf, sizeof(buf), 0)) > 0)
			;
		if (n == 0)
			break;		/* the server closed */
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr))) {
		if (fd >= 0)
			close(fd);
		return 0;
	}
	fcntl(fd, F_SETFL, O_NONBLOCK);
	exchange(fd, data, size);
	close(fd);
	for (int i = 0; i < 8; i++)	/* the server sees the close */
		uv_run(&loop, UV_RUN_NOWAIT);
	return 0;
}
