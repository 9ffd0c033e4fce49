/* SPDX-License-Identifier: MIT
 * repl-tls.h - TLS 1.3 with mutual certificate authentication against the
 * cluster CA. Sockets, handshakes and looking peers up in the configuration
 * belong to repl-link (dialing) and repl-session (accepting). */
#ifndef REPL_TLS_H
#define REPL_TLS_H
#include <stddef.h>
#include <openssl/ssl.h>

/* A TLS 1.3-only context (min and max version TLS1_3_VERSION) that presents
   cert_file (PEM, may carry intermediates after the leaf) with key_file (PEM;
   must match the certificate), trusts only the CAs in ca_file (no system
   store), and on both sides requires and verifies the peer's certificate
   (SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT). The default purpose
   check applies: a certificate needs extendedKeyUsage clientAuth to dial and
   serverAuth to accept. Sessions are never cached or resumed, so every
   connection verifies a certificate afresh. The same context serves accepted
   and dialed connections and may be shared by threads once built.
   Returns a context the caller frees with SSL_CTX_free(), or NULL with
   *error_r naming the file and OpenSSL's reason. */
SSL_CTX *repl_tls_ctx_new(const char *ca_file, const char *cert_file,
			  const char *key_file, const char **error_r);

/* After a completed handshake: 0 if the chain verified (SSL_get_verify_result
   is X509_V_OK) and the peer's certificate names `expected`: a DNS
   subjectAltName byte-equal to it or, only when the certificate has no DNS
   subjectAltName, its (last) CN. -1 with *error_r saying what was wrong: the
   verify error ("certificate verify failed: certificate has expired"), a
   missing certificate, or "certificate is for 'x', not 'y'". Also useful
   after a failed handshake, to log why verification failed. */
int repl_tls_check_peer(SSL *ssl, const char *expected, const char **error_r);

/* The name the peer's certificate carries (its first DNS subjectAltName, else
   its last CN), copied into buf and returned; NULL if there is none, if it
   does not fit in size (never truncated: a prefix could name another peer),
   or if it holds a space or a byte outside printable ASCII. It does not
   look at the verify result: check the name with repl_tls_check_peer()
   before trusting it.
   For a server that must find which configured peer is connecting. */
const char *repl_tls_peer_name(SSL *ssl, char *buf, size_t size);

/* Text of the OpenSSL errors queued in this thread, oldest first, joined by
   "; " (the queue is drained), or "no OpenSSL error queued". For log lines. */
const char *repl_tls_errors(void);

/* All four may be called from any thread (the SSL object by one thread at
   a time, as OpenSSL requires). *error_r and the text of repl_tls_errors()
   belong to the calling thread and stay valid until its next repl_tls_*
   call. */

#endif
