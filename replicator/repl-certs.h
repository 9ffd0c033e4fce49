/* SPDX-License-Identifier: MIT
 * repl-certs.h - creating the cluster CA and node certificates (EC P-256,
 * SHA-256) for the setup commands; repl-tls loads and checks them. */
#ifndef REPL_CERTS_H
#define REPL_CERTS_H

/* A node name: 1..REPL_CERTS_NAME_MAX characters of A-Z a-z 0-9 . -,
   starting with a letter or digit (it becomes a DNS subjectAltName and
   part of file names, so "..", "-x" and "a/b" are refused). */
#define REPL_CERTS_NAME_MAX 63
/* Longest validity accepted, in days */
#define REPL_CERTS_DAYS_MAX 36500

/* Creates a cluster CA: a new EC P-256 key written to key_path (PKCS#8 PEM,
   mode 0600, refusing to overwrite an existing file) and a self-signed
   certificate written to cert_path (mode 0644, replaced atomically) with
   CN=cluster_name (1..64 bytes, no control characters), basicConstraints
   critical CA:TRUE, keyUsage critical keyCertSign+cRLSign,
   subjectKeyIdentifier, a random 128-bit serial, valid from now for days
   (1..REPL_CERTS_DAYS_MAX). Nothing is left behind on failure.
   0 or -1 with *error_r. */
int repl_certs_init(const char *cert_path, const char *key_path,
		    const char *cluster_name, int days, const char **error_r);

/* Creates a node certificate for name, signed by the CA in ca_cert_path and
   ca_key_path (the key must match, the certificate must be a CA): a new EC
   P-256 key at key_path (0600, no overwrite) and at cert_path (0644,
   replaced atomically) a certificate with CN=name, subjectAltName DNS:name,
   basicConstraints critical CA:FALSE, keyUsage critical digitalSignature,
   extendedKeyUsage serverAuth+clientAuth, subject and authority key
   identifiers and a random 128-bit serial, valid from now + not_before_s to
   now + not_before_s + days. not_before_s is 0 normally; tests pass a
   negative offset and a small days to make an expired certificate.
   0 or -1 with *error_r. */
int repl_certs_node(const char *ca_cert_path, const char *ca_key_path,
		    const char *name, const char *cert_path, const char *key_path,
		    long not_before_s, int days, const char **error_r);

/* Both may be called from any thread. *error_r belongs to the calling
   thread and stays valid until its next repl_certs_* call. Only libcrypto
   is needed: this module does not use repl-tls. */

/* Drains this thread's OpenSSL error queue into one new string (free it):
   library, reason and detail of each error, or "no OpenSSL error queued".
   Needs libcrypto only; repl-tls.c uses it too. */
char *repl_ossl_errors(void);

#endif
