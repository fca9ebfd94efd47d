/* libFuzzer target for the server's request path: each input is sent by a
 * real TCP client to a vt_server on a libuv loop in this process, as
 * HTTP/1.1 bytes, or (built with VT_FUZZ_H2) as HTTP/2 frames after the
 * client preface, or (built with VT_FUZZ_TLS) to a server speaking TLS
 * with a certificate made at start: the first byte picks raw bytes (the
 * handshake's records), or a real TLS client's session carrying the rest
 * as HTTP/1.1, as HTTP/2 after the preface, or as raw bytes after the
 * handshake (records out of any session). Routes answer small and large
 * bodies and an SSE stream that gets events while the input is read. Any
 * input must leave the server up, every connection freed
 * (LeakSanitizer), nothing read or written out of bounds. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#ifdef VT_FUZZ_TLS
#include <openssl/ssl.h>

#include "tests/lib/vt_test_cert.h"
#endif

#include "serve/vt_server.h"

#define ROUNDS 64	/* loop iterations an input gets to be answered */

static uv_loop_t loop;
static struct vt_server *srv;
static struct vt_sse_channel *ch;
static struct sockaddr_in addr;
static void *tls;		/* the client's SSL_CTX (VT_FUZZ_TLS) */

/* The client's side of a connection: a socket, and a TLS session on it
 * while one is being spoken. */
struct peer {
	int fd;
	void *ssl;
};

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

#ifdef VT_FUZZ_TLS
/* Starts the server with a certificate made now, removed at once (it is
 * read at start), and the client's context. */
static void tls_opts(struct vt_server_opts *o, char *dir, char *cert,
		     char *key, size_t len)
{
	if (vt_test_cert(dir, cert, key, len))
		abort();
	o->tls_cert = cert;
	o->tls_key = key;
	tls = SSL_CTX_new(TLS_client_method());
	if (!tls)
		abort();
	SSL_CTX_set_mode(tls, SSL_MODE_ENABLE_PARTIAL_WRITE |
			      SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
}
#endif

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct vt_server_opts o = { .idle_ms = 1000, .stall_ms = 1000 };
	char err[256];
#ifdef VT_FUZZ_TLS
	char dir[] = "/tmp/vt-fuzz-tls.XXXXXX", cert[64], key[64];

	tls_opts(&o, dir, cert, key, sizeof(cert));
#endif

	(void)argc;
	(void)argv;
	uv_loop_init(&loop);
	if (vt_server_start(&loop, "127.0.0.1:0", &o, route, NULL, &srv, err,
			    sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		abort();
	}
#ifdef VT_FUZZ_TLS
	unlink(cert);
	unlink(key);
	rmdir(dir);
#endif
	ch = vt_server_channel(srv, "/stream", "memory", full, NULL);
	addr = (struct sockaddr_in){ .sin_family = AF_INET,
				     .sin_port = htons(vt_server_port(srv)) };
	inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
	return 0;
}

/* Sends what it can of [p, p+len) without blocking; returns bytes sent. */
static size_t send_some(struct peer *c, const uint8_t *p, size_t len)
{
	ssize_t n = 0;

	if (!len)
		return 0;
#ifdef VT_FUZZ_TLS
	if (c->ssl)
		n = SSL_write(c->ssl, p, len);
	else
#endif
		n = send(c->fd, p, len, MSG_NOSIGNAL);
	return n > 0 ? (size_t)n : 0;
}

/* Reads what has come: bytes read, 0 once the server closed, -1 when
 * nothing is there yet. */
static ssize_t recv_some(struct peer *c, char *buf, size_t cap)
{
#ifdef VT_FUZZ_TLS
	if (c->ssl) {
		int n = SSL_read(c->ssl, buf, cap);

		if (n > 0)
			return n;
		return SSL_get_error(c->ssl, n) == SSL_ERROR_WANT_READ ? -1 : 0;
	}
#endif
	return recv(c->fd, buf, cap, 0);
}

static const uint8_t h2_preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
				    "\0\0\0\4\0\0\0\0\0";

static void exchange(struct peer *c, const uint8_t *preface, size_t pre,
		     const uint8_t *data, size_t size)
{
	size_t sent_pre = 0, sent = 0;
	char buf[65536];

	for (int i = 0; i < ROUNDS; i++) {
		ssize_t n;

		sent_pre += send_some(c, preface + sent_pre, pre - sent_pre);
		if (sent_pre == pre)
			sent += send_some(c, data + sent, size - sent);
		if (sent_pre == pre && sent == size && i == ROUNDS / 2)
			shutdown(c->fd, SHUT_WR);
		if (i % 8 == 0)
			vt_sse_publish(ch, "memory", "{\"a\":2}", 7, i % 16 == 0);
		uv_run(&loop, UV_RUN_NOWAIT);
		while ((n = recv_some(c, buf, sizeof(buf))) > 0)
			;
		if (n == 0)
			break;		/* the server closed */
	}
}

#ifdef VT_FUZZ_TLS
/* A TLS session with the server, offering h2 or http/1.1; false when the
 * handshake does not complete. */
static bool tls_connect(struct peer *c, bool h2)
{
	SSL *ssl = SSL_new(tls);

	if (!ssl)
		return false;
	c->ssl = ssl;
	SSL_set_fd(ssl, c->fd);
	SSL_set_alpn_protos(ssl, (const unsigned char *)(h2 ? "\2h2"
								: "\10http/1.1"),
			    h2 ? 3 : 9);
	for (int i = 0; i < ROUNDS; i++) {
		if (SSL_connect(ssl) == 1)
			return true;
		uv_run(&loop, UV_RUN_NOWAIT);
	}
	return false;
}

/* The first byte picks: 0 raw bytes, 1 HTTP/1.1 in a session, 2 HTTP/2
 * in one, 3 raw bytes after a handshake. */
static void converse(struct peer *c, const uint8_t *data, size_t size)
{
	unsigned mode = size ? data[0] % 4 : 0;

	data += !!size;
	size -= !!size;
	if (mode && !tls_connect(c, mode == 2))
		return;
	if (mode == 3) {	/* the session's keys are not the client's */
		SSL_free(c->ssl);
		c->ssl = NULL;
	}
	exchange(c, h2_preface, mode == 2 ? sizeof(h2_preface) - 1 : 0, data,
		 size);
	SSL_free(c->ssl);
}
#else
static void converse(struct peer *c, const uint8_t *data, size_t size)
{
#ifdef VT_FUZZ_H2
	/* preface and an empty SETTINGS frame, then the input as frames */
	exchange(c, h2_preface, sizeof(h2_preface) - 1, data, size);
#else
	exchange(c, h2_preface, 0, data, size);
#endif
}
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr))) {
		if (fd >= 0)
			close(fd);
		return 0;
	}
	fcntl(fd, F_SETFL, O_NONBLOCK);
	converse(&(struct peer){ .fd = fd }, data, size);
	close(fd);
	for (int i = 0; i < 8; i++)	/* the server sees the close */
		uv_run(&loop, UV_RUN_NOWAIT);
	return 0;
}
