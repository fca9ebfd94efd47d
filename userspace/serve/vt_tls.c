/* vt_tls: TLS on the server's connections (see vt_tls.h).
 *
 * Each session reads from one memory BIO and writes to another, so
 * OpenSSL never touches a socket: libuv stays the only one reading and
 * writing, and every limit the server puts on a connection (idle, stall,
 * held bytes, per-client share) holds whatever TLS is doing. Input is
 * fed a read at a time and only while the protocol takes plaintext, so
 * neither BIO grows past a read and a record, or a response being sealed;
 * and an emptied BIO that grew past VT_TLS_KEEP is replaced, so an idle
 * connection does not keep the capacity of its largest burst. */
#include <errno.h>
#include <limits.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serve/vt_tls.h"

#define VT_TLS_SESSIONS 256	/* TLS 1.2 sessions kept for resumption */
#define VT_TLS_KEEP (20 * 1024)	/* a BIO's buffer kept between uses */

struct vt_tls {
	SSL_CTX *ctx;
};

struct vt_tls_conn {
	SSL *ssl;
	BIO *rbio, *wbio;
	bool fed;		/* the first byte was looked at */
	bool failed;		/* no more SSL calls but freeing */
};

/* A fresh memory BIO to replace b with, when b is empty but holds a
 * buffer over VT_TLS_KEEP; else NULL. */
static BIO *fresh(BIO *b)
{
	BUF_MEM *bm;

	if (BIO_ctrl_pending(b) || BIO_get_mem_ptr(b, &bm) != 1 ||
	    bm->max <= VT_TLS_KEEP)
		return NULL;
	return BIO_new(BIO_s_mem());
}

/* h2 first: a browser that offers both gets HTTP/2. */
static const unsigned char alpn_ours[] = "\x02h2\x08http/1.1";

static int alpn_select(SSL *ssl, const unsigned char **out,
		       unsigned char *outlen, const unsigned char *in,
		       unsigned int inlen, void *arg)
{
	(void)ssl, (void)arg;
	if (SSL_select_next_proto((unsigned char **)out, outlen, alpn_ours,
				  sizeof(alpn_ours) - 1, in, inlen) ==
	    OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_OK;
	return SSL_TLSEXT_ERR_ALERT_FATAL;	/* no_application_protocol */
}

/* A key with a passphrase is refused rather than asked about: the
 * tracer may have no terminal. */
static int no_passphrase(char *buf, int size, int rw, void *asked)
{
	(void)buf, (void)size, (void)rw;
	*(bool *)asked = true;
	return -1;
}

/* OpenSSL's reason for a failure (the first it noted: where it began),
 * and its queue emptied. */
static const char *ssl_reason(void)
{
	unsigned long e = ERR_peek_error();
	const char *r = e ? ERR_reason_error_string(e) : NULL;

	ERR_clear_error();
	return r ? r : "unknown error";
}

/* The file can be opened: errno's word for why not, else NULL. */
static const char *unreadable(const char *path)
{
	FILE *f = fopen(path, "r");

	if (!f)
		return strerror(errno);
	fclose(f);
	return NULL;
}

static int load_key(SSL_CTX *ctx, const char *cert, const char *key,
		    char *err, size_t errlen)
{
	bool asked = false;
	const char *why = unreadable(key);
	FILE *f = why ? NULL : fopen(key, "r");
	EVP_PKEY *pk = f ? PEM_read_PrivateKey(f, NULL, no_passphrase, &asked)
			 : NULL;
	int rc = -1;

	if (f)
		fclose(f);
	if (why)
		snprintf(err, errlen, "cannot read TLS key %s: %s; give "
			 "--tls-key the certificate's PEM private key", key,
			 why);
	else if (!pk && asked)
		snprintf(err, errlen, "TLS key %s has a passphrase: give "
			 "--tls-key one without (openssl pkey -in %s -out "
			 "NEW.pem)", key, key);
	else if (!pk)	/* OpenSSL's reason reads "unsupported" */
		snprintf(err, errlen, "TLS key %s holds no PEM private key; "
			 "give --tls-key the certificate's key", key);
	else if (!X509_check_private_key(SSL_CTX_get0_certificate(ctx), pk))
		snprintf(err, errlen, "TLS key %s does not match the "
			 "certificate %s; give --tls-key the key the "
			 "certificate was issued for", key, cert);
	else if (SSL_CTX_use_PrivateKey(ctx, pk) != 1)
		snprintf(err, errlen, "TLS key %s cannot be used: %s", key,
			 ssl_reason());
	else
		rc = 0;
	EVP_PKEY_free(pk);
	ERR_clear_error();
	return rc;
}

static int load_cert(SSL_CTX *ctx, const char *cert, char *err,
		     size_t errlen)
{
	const char *why = unreadable(cert);

	if (why) {
		snprintf(err, errlen, "cannot read TLS certificate %s: %s; "
			 "give --tls-cert a PEM certificate (chain) file",
			 cert, why);
		return -1;
	}
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
		snprintf(err, errlen, "TLS certificate %s holds no PEM "
			 "certificate (%s); give --tls-cert the certificate, "
			 "then its chain", cert, ssl_reason());
		return -1;
	}
	return 0;
}

int vt_tls_new(const char *cert, const char *key, struct vt_tls **out,
	       char *err, size_t errlen)
{
	struct vt_tls *t = calloc(1, sizeof(*t));

	*out = NULL;
	if (!t || !(t->ctx = SSL_CTX_new(TLS_server_method()))) {
		snprintf(err, errlen, "out of memory setting up TLS");
		free(t);
		return -1;
	}
	SSL_CTX_set_min_proto_version(t->ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(t->ctx, SSL_OP_NO_RENEGOTIATION |
				    SSL_OP_CIPHER_SERVER_PREFERENCE);
	/* an idle connection keeps no 16 KiB record buffers */
	SSL_CTX_set_mode(t->ctx, SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_sess_set_cache_size(t->ctx, VT_TLS_SESSIONS);
	SSL_CTX_set_alpn_select_cb(t->ctx, alpn_select, NULL);
	if (load_cert(t->ctx, cert, err, errlen) ||
	    load_key(t->ctx, cert, key, err, errlen)) {
		vt_tls_free(t);
		return -1;
	}
	*out = t;
	return 0;
}

void vt_tls_free(struct vt_tls *t)
{
	if (!t)
		return;
	SSL_CTX_free(t->ctx);
	free(t);
}

struct vt_tls_conn *vt_tls_conn_new(struct vt_tls *t)
{
	struct vt_tls_conn *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->ssl = SSL_new(t->ctx);
	c->rbio = BIO_new(BIO_s_mem());
	c->wbio = BIO_new(BIO_s_mem());
	if (!c->ssl || !c->rbio || !c->wbio) {
		BIO_free(c->rbio);
		BIO_free(c->wbio);
		SSL_free(c->ssl);
		free(c);
		ERR_clear_error();
		return NULL;
	}
	SSL_set_bio(c->ssl, c->rbio, c->wbio);	/* the SSL owns them now */
	SSL_set_accept_state(c->ssl);
	return c;
}

void vt_tls_conn_free(struct vt_tls_conn *c)
{
	if (!c)
		return;
	SSL_free(c->ssl);
	free(c);
}

int vt_tls_conn_feed(struct vt_tls_conn *c, const char *data, size_t len)
{
	if (!len)
		return 0;
	if (!c->fed) {	/* 22: a handshake record, as every session opens */
		c->fed = true;
		if (data[0] != 22)
			c->failed = true;
	}
	if (c->failed || len > INT_MAX ||
	    BIO_write(c->rbio, data, (int)len) != (int)len) {
		c->failed = true;
		return -1;
	}
	return 0;
}

ssize_t vt_tls_conn_read(struct vt_tls_conn *c, char *dst, size_t cap)
{
	BIO *b;
	int n;

	if (c->failed)
		return VT_TLS_FAILED;
	if (!cap)
		return 0;
	n = SSL_read(c->ssl, dst, cap > INT_MAX ? INT_MAX : (int)cap);
	if (n > 0)
		return n;
	switch (SSL_get_error(c->ssl, n)) {
	case SSL_ERROR_WANT_READ:	/* all read */
		if ((b = fresh(c->rbio))) {
			SSL_set0_rbio(c->ssl, b);	/* frees the old one */
			c->rbio = b;
		}
		return 0;
	case SSL_ERROR_ZERO_RETURN:	/* ours may follow */
		return VT_TLS_CLOSED;
	default:
		c->failed = true;
		ERR_clear_error();
		return VT_TLS_FAILED;
	}
}

int vt_tls_conn_write(struct vt_tls_conn *c, const void *src, size_t len)
{
	const char *p = src;

	while (len && !c->failed) {
		int n = SSL_write(c->ssl, p, len > INT_MAX ? INT_MAX : (int)len);

		if (n <= 0) {
			c->failed = true;
			ERR_clear_error();
			break;
		}
		p += n;
		len -= n;
	}
	return c->failed ? -1 : 0;
}

void vt_tls_conn_shutdown(struct vt_tls_conn *c)
{
	if (!c->failed && SSL_is_init_finished(c->ssl))
		SSL_shutdown(c->ssl);
	ERR_clear_error();
}

char *vt_tls_conn_take(struct vt_tls_conn *c, size_t *len)
{
	size_t n = BIO_ctrl_pending(c->wbio);
	char *out = n && n <= INT_MAX ? malloc(n) : NULL;
	BIO *b;

	*len = n;
	if (!out) {
		if (n)
			c->failed = true;
		return NULL;
	}
	BIO_read(c->wbio, out, (int)n);
	if ((b = fresh(c->wbio))) {
		SSL_set0_wbio(c->ssl, b);	/* frees the old one */
		c->wbio = b;
	}
	return out;
}
