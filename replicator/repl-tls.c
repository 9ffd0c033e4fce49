/* SPDX-License-Identifier: MIT
 * repl-tls.c - the replicator's TLS 1.3 context, the peer certificate name
 * check and OpenSSL error text. Sockets and handshakes belong to repl-link
 * and repl-session. */
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include "buf.h"
#include "log.h"
#include "mem.h"
#include "repl-certs.h"
#include "repl-tls.h"

/* Strings handed out per thread live in thread-specific slots, freed when
   their thread exits: a thread per peer connection must not leak one string
   per reconnect. */
enum { SLOT_ERROR, SLOT_ERRORS, SLOT_COUNT };
static pthread_key_t slot_keys[SLOT_COUNT];
static pthread_once_t slot_once = PTHREAD_ONCE_INIT;

static void slot_init(void)
{
	for (int i = 0; i < SLOT_COUNT; i++) {
		if (pthread_key_create(&slot_keys[i], free) != 0)
			mm_panic("pthread_key_create() failed");
	}
}

/* Takes s (allocated), frees what the slot held and returns s. */
static const char *slot_set(int slot, char *s)
{
	pthread_once(&slot_once, slot_init);
	free(pthread_getspecific(slot_keys[slot]));
	if (pthread_setspecific(slot_keys[slot], s) != 0)
		mm_panic("pthread_setspecific() failed");
	return s;
}

/* Drains this thread's OpenSSL error queue into a new string. Without the
   SSL strings loaded, errors queued before the first SSL_CTX_new() (by
   repl-certs, say) would read as bare codes; loading them is cheap once
   done. */
static char *ossl_errors(void)
{
	OPENSSL_init_ssl(OPENSSL_INIT_LOAD_SSL_STRINGS | OPENSSL_INIT_LOAD_CRYPTO_STRINGS, NULL);
	return repl_ossl_errors();
}

const char *repl_tls_errors(void)
{
	return slot_set(SLOT_ERRORS, ossl_errors());
}

/* Frees ctx, sets *error_r to "<what>: <queued OpenSSL errors>" (what is
   taken and freed) and returns NULL. */
static SSL_CTX *ctx_fail(SSL_CTX *ctx, char *what, const char **error_r)
{
	char *reason = ossl_errors();

	*error_r = slot_set(SLOT_ERROR, mm_strdup_printf("%s: %s", what, reason));
	free(reason);
	free(what);
	SSL_CTX_free(ctx);
	return NULL;
}

/* Encrypted keys are refused: without this callback OpenSSL would prompt
   for a passphrase on the daemon's terminal. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf; (void)size; (void)rwflag; (void)u;
	return -1;
}

SSL_CTX *repl_tls_ctx_new(const char *ca_file, const char *cert_file,
			  const char *key_file, const char **error_r)
{
	SSL_CTX *ctx;
	bool ok;

	ERR_clear_error();
	ctx = SSL_CTX_new(TLS_method());
	if (ctx == NULL)
		return ctx_fail(NULL, mm_strdup("SSL_CTX_new() failed"), error_r);
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) != 1 ||
	    SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) != 1)
		return ctx_fail(ctx, mm_strdup("cannot restrict TLS to version 1.3"), error_r);
	/* A resumed session would skip certificate verification, carrying the
	   result of an earlier handshake past the certificate's expiry. */
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
	if (SSL_CTX_set_num_tickets(ctx, 0) != 1)
		return ctx_fail(ctx, mm_strdup("cannot disable session tickets"), error_r);
	SSL_CTX_set_default_passwd_cb(ctx, no_passphrase);

	if (SSL_CTX_use_certificate_chain_file(ctx, cert_file) != 1)
		return ctx_fail(ctx, mm_strdup_printf("certificate %s", cert_file), error_r);
	/* Also checks the key against the certificate just loaded */
	ok = SSL_CTX_use_PrivateKey_file(ctx, key_file, SSL_FILETYPE_PEM) == 1 &&
		SSL_CTX_check_private_key(ctx) == 1;
	if (!ok)
		return ctx_fail(ctx, mm_strdup_printf("private key %s (for certificate %s)",
						      key_file, cert_file), error_r);
	/* Only ca_file: the system's default trust store is never loaded */
	if (SSL_CTX_load_verify_file(ctx, ca_file) != 1)
		return ctx_fail(ctx, mm_strdup_printf("CA file %s", ca_file), error_r);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	return ctx;
}

/* x's subjectAltNames in *gens_r (caller frees; NULL when it has none).
   -1 when the extension is repeated or does not decode: such a certificate
   must not fall back to its CN. */
static int cert_sans(X509 *x, GENERAL_NAMES **gens_r)
{
	int crit;

	*gens_r = X509_get_ext_d2i(x, NID_subject_alt_name, &crit, NULL);
	return *gens_r == NULL && crit != -1 ? -1 : 0;
}

/* x's last CN as a NUL-free UTF-8 string (OPENSSL_free()), or NULL. */
static char *cert_cn(X509 *x)
{
	const X509_NAME *subj = X509_get_subject_name(x);
	unsigned char *utf8;
	int i = -1, last = -1, len;

	while ((i = X509_NAME_get_index_by_NID(subj, NID_commonName, i)) >= 0)
		last = i;
	if (last < 0)
		return NULL;
	len = ASN1_STRING_to_UTF8(&utf8,
		X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subj, last)));
	if (len < 0)
		return NULL;
	if ((size_t)len != strlen((char *)utf8)) {
		OPENSSL_free(utf8);
		return NULL;
	}
	return (char *)utf8;
}

/* Copies len bytes of name into buf as a string: false when it does not fit
   or holds a byte outside printable ASCII (a NUL included). */
static bool name_copy(const unsigned char *name, size_t len, char *buf, size_t size)
{
	if (len == 0 || len >= size)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (name[i] <= 0x20 || name[i] >= 0x7f)
			return false;
	}
	memcpy(buf, name, len);
	buf[len] = '\0';
	return true;
}

static const char *cert_name(X509 *x, char *buf, size_t size)
{
	GENERAL_NAMES *gens;
	const char *ret = NULL;
	char *cn;

	if (cert_sans(x, &gens) < 0)
		return NULL;
	for (int i = 0; i < sk_GENERAL_NAME_num(gens); i++) {
		const GENERAL_NAME *gen = sk_GENERAL_NAME_value(gens, i);

		if (gen->type != GEN_DNS)
			continue;
		if (name_copy(ASN1_STRING_get0_data(gen->d.dNSName),
			      ASN1_STRING_length(gen->d.dNSName), buf, size))
			ret = buf;
		GENERAL_NAMES_free(gens);
		return ret;
	}
	GENERAL_NAMES_free(gens);
	if ((cn = cert_cn(x)) != NULL) {
		if (name_copy((unsigned char *)cn, strlen(cn), buf, size))
			ret = buf;
		OPENSSL_free(cn);
	}
	return ret;
}

const char *repl_tls_peer_name(SSL *ssl, char *buf, size_t size)
{
	X509 *peer = SSL_get0_peer_certificate(ssl);

	return peer == NULL ? NULL : cert_name(peer, buf, size);
}

static bool cert_names(X509 *x, const char *expected)
{
	size_t len = strlen(expected);
	GENERAL_NAMES *gens;
	bool have_dns = false, match = false;
	char *cn;

	if (len == 0 || cert_sans(x, &gens) < 0)
		return false;
	for (int i = 0; i < sk_GENERAL_NAME_num(gens); i++) {
		const GENERAL_NAME *gen = sk_GENERAL_NAME_value(gens, i);

		if (gen->type != GEN_DNS)
			continue;
		have_dns = true;
		/* byte-equal: no wildcards, no case folding, and a NUL inside
		   the name makes its length differ */
		if ((size_t)ASN1_STRING_length(gen->d.dNSName) == len &&
		    memcmp(ASN1_STRING_get0_data(gen->d.dNSName), expected, len) == 0)
			match = true;
	}
	GENERAL_NAMES_free(gens);
	if (have_dns)
		return match;
	if ((cn = cert_cn(x)) == NULL)
		return false;
	match = strcmp(cn, expected) == 0;
	OPENSSL_free(cn);
	return match;
}

int repl_tls_check_peer(SSL *ssl, const char *expected, const char **error_r)
{
	long verify = SSL_get_verify_result(ssl);
	X509 *peer = SSL_get0_peer_certificate(ssl);
	const char *name;
	char buf[256];

	if (verify != X509_V_OK) {
		*error_r = slot_set(SLOT_ERROR, mm_strdup_printf(
			"certificate verify failed: %s",
			X509_verify_cert_error_string(verify)));
		return -1;
	}
	if (!SSL_is_init_finished(ssl)) {
		*error_r = slot_set(SLOT_ERROR, mm_strdup("TLS handshake not completed"));
		return -1;
	}
	if (peer == NULL) {
		*error_r = slot_set(SLOT_ERROR, mm_strdup("peer sent no certificate"));
		return -1;
	}
	if (!cert_names(peer, expected)) {
		name = cert_name(peer, buf, sizeof(buf));
		*error_r = slot_set(SLOT_ERROR, mm_strdup_printf(
			"certificate is for '%s', not '%s'",
			name != NULL ? name : "(no usable name)", expected));
		return -1;
	}
	return 0;
}
