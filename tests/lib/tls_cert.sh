#!/bin/sh
# tls_cert.sh DIR: a self-signed test certificate for localhost and
# 127.0.0.1 and its key, made now (no key is committed): DIR/cert.pem,
# DIR/key.pem. Every TLS test makes its own with this.
set -eu
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-days 2 -subj /CN=localhost \
	-addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
	-keyout "$1/key.pem" -out "$1/cert.pem" 2>/dev/null
