/* A self-signed P-256 test certificate for localhost and its key, made
 * in-process (no key is committed), for the C tests of TLS; the shell and
 * browser tests use tls_cert.sh. */
#ifndef VT_TEST_CERT_H
#define VT_TEST_CERT_H

#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>

/* Makes the directory dir (a mkdtemp template) and writes dir/cert.pem
 * and dir/key.pem, their names into cert and key (len bytes each).
 * 0, or -1. */
static int vt_test_cert(char *dir, char *cert, char *key, size_t len)
{
	EVP_PKEY *pk = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	FILE *f;
	int rc = -1;

	if (!pk || !x || !mkdtemp(dir))
		goto out;
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400);
	X509_set_pubkey(x, pk);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
				   (const unsigned char *)"localhost", -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(x));
	snprintf(cert, len, "%s/cert.pem", dir);
	snprintf(key, len, "%s/key.pem", dir);
	if (!X509_sign(x, pk, EVP_sha256()) || !(f = fopen(cert, "w")))
		goto out;
	rc = PEM_write_X509(f, x) ? 0 : -1;
	if (fclose(f) || rc || !(f = fopen(key, "w")))
		goto out;
	rc = PEM_write_PrivateKey(f, pk, NULL, NULL, 0, NULL, NULL) ? 0 : -1;
	rc |= fclose(f);
out:
	X509_free(x);
	EVP_PKEY_free(pk);
	return rc ? -1 : 0;
}

#endif /* VT_TEST_CERT_H */
