/* vt_tls: TLS on the server's connections, OpenSSL over memory BIOs.
 *
 * The server keeps the sockets: the ciphertext it reads is fed in,
 * plaintext comes out for the protocols, what they write is sealed, and
 * the ciphertext waiting (handshake messages, records, alerts) is taken
 * and written. ALPN offers h2, then http/1.1; a client that offers
 * neither gets a fatal no_application_protocol alert, one that offers
 * none speaks whatever it sends (HTTP/1.1, or HTTP/2 by its preface).
 * TLS 1.2 and 1.3 only, no renegotiation. */
#ifndef VT_TLS_H
#define VT_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct vt_tls;		/* a certificate and its key: one per server */
struct vt_tls_conn;	/* one connection's session */

/* Loads a PEM certificate (chain) and the PEM private key it was issued
 * for. On failure writes a one-line reason naming the file to err. */
int vt_tls_new(const char *cert, const char *key, struct vt_tls **out,
	       char *err, size_t errlen);
void vt_tls_free(struct vt_tls *t);

struct vt_tls_conn *vt_tls_conn_new(struct vt_tls *t);
void vt_tls_conn_free(struct vt_tls_conn *c);

/* Ciphertext from the peer (copied). -1 when it cannot be a TLS client:
 * its first byte does not start a handshake record (plain HTTP, say). */
int vt_tls_conn_feed(struct vt_tls_conn *c, const char *data, size_t len);
/* Plaintext, at most cap bytes, advancing the handshake first: the
 * count, 0 when more ciphertext is needed, VT_TLS_FAILED after an error
 * (its alert is waiting to be taken), VT_TLS_CLOSED after the peer's
 * close_notify. */
#define VT_TLS_FAILED (-1)
#define VT_TLS_CLOSED (-2)
ssize_t vt_tls_conn_read(struct vt_tls_conn *c, char *dst, size_t cap);
/* Seals plaintext into records: 0, or -1 once the session failed. */
int vt_tls_conn_write(struct vt_tls_conn *c, const void *src, size_t len);
/* Queues close_notify, unless the session failed. */
void vt_tls_conn_shutdown(struct vt_tls_conn *c);
/* The ciphertext waiting to be sent, malloc'd (*len bytes); NULL with
 * *len 0 when there is none, with *len > 0 when out of memory (the
 * session is then failed). */
char *vt_tls_conn_take(struct vt_tls_conn *c, size_t *len);

#endif /* VT_TLS_H */
