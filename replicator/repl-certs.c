/* SPDX-License-Identifier: MIT
 * repl-certs.c - makes the cluster CA and node certificates: keys,
 * X.509v3 extensions, signing and writing the files without clobbering a
 * key. Loading them for connections is repl-tls's job; this file needs
 * only libcrypto, so mailmeshctl links it without repl-tls. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include "log.h"
#include "mem.h"
#include "buf.h"
#include "repl-certs.h"

/* The error text lives in a thread-specific slot freed with its thread. */
static pthread_key_t err_key;
static pthread_once_t err_once = PTHREAD_ONCE_INIT;

static void err_key_init(void)
{
	if (pthread_key_create(&err_key, free) != 0)
		mm_panic("pthread_key_create() failed");
}

/* Takes s (allocated) as this thread's error text; returns -1. */
static int fail(const char **error_r, char *s)
{
	pthread_once(&err_once, err_key_init);
	free(pthread_getspecific(err_key));
	if (pthread_setspecific(err_key, s) != 0)
		mm_panic("pthread_setspecific() failed");
	*error_r = s;
	return -1;
}

/* Unlike isalnum(), independent of the locale */
static bool is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		(c >= '0' && c <= '9');
}

static int check_name(const char *name, const char **error_r)
{
	size_t len = strlen(name);

	if (len == 0 || len > REPL_CERTS_NAME_MAX || !is_alnum(name[0]))
		goto bad;
	for (size_t i = 0; i < len; i++) {
		if (!is_alnum(name[i]) && name[i] != '.' && name[i] != '-')
			goto bad;
	}
	return 0;
bad:
	return fail(error_r, mm_strdup_printf(
		"node name '%.80s': must be 1-%d characters of A-Z a-z 0-9 . - "
		"starting with a letter or digit", name, REPL_CERTS_NAME_MAX));
}

static int check_args(const char *cert_path, const char *key_path, int days,
		      const char **error_r)
{
	if (days < 1 || days > REPL_CERTS_DAYS_MAX)
		return fail(error_r, mm_strdup_printf(
			"validity of %d days: must be 1-%d", days, REPL_CERTS_DAYS_MAX));
	/* the certificate's rename would replace the key just written */
	if (strcmp(cert_path, key_path) == 0)
		return fail(error_r, mm_strdup_printf(
			"certificate and key are both %s", cert_path));
	return 0;
}

/* OpenSSL must never prompt on a terminal for a CA key's passphrase. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf; (void)size; (void)rwflag; (void)u;
	return -1;
}

char *repl_ossl_errors(void)
{
	struct mm_buf b = { 0 };
	const char *data;
	unsigned long e;
	int flags;
	char *s;

	OPENSSL_init_crypto(OPENSSL_INIT_LOAD_CRYPTO_STRINGS, NULL);
	while ((e = ERR_get_error_all(NULL, NULL, NULL, &data, &flags)) != 0) {
		const char *lib = ERR_lib_error_string(e);
		const char *reason;
		char sysbuf[128];

		if (ERR_SYSTEM_ERROR(e))
			reason = strerror_r(ERR_GET_REASON(e), sysbuf, sizeof(sysbuf));
		else
			reason = ERR_reason_error_string(e);
		if (b.len > 0)
			mm_buf_puts(&b, "; ");
		if (lib != NULL)
			mm_buf_printf(&b, "%s: ", lib);
		if (reason != NULL)
			mm_buf_puts(&b, reason);
		else
			mm_buf_printf(&b, "error %#lx", e);
		if ((flags & ERR_TXT_STRING) != 0 && data != NULL && *data != '\0')
			mm_buf_printf(&b, " (%s)", data);
	}
	s = mm_strdup(b.len > 0 ? mm_buf_str(&b) : "no OpenSSL error queued");
	mm_buf_free(&b);
	return s;
}

/* "<what> <path>: <OpenSSL's reasons>"; returns -1 */
static int ossl_fail(const char **error_r, const char *what, const char *path)
{
	char *reason = repl_ossl_errors();
	int ret;

	ret = fail(error_r, mm_strdup_printf("%s %s: %s", what, path, reason));
	free(reason);
	return ret;
}

/* A random positive 128-bit serial: unique without a serial file. */
static bool set_serial(X509 *x)
{
	unsigned char rnd[16];
	BIGNUM *bn;
	bool ok;

	if (RAND_bytes(rnd, sizeof(rnd)) != 1 ||
	    (bn = BN_bin2bn(rnd, sizeof(rnd), NULL)) == NULL)
		return false;
	ok = (!BN_is_zero(bn) || BN_set_word(bn, 1) == 1) &&
		BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL;
	BN_free(bn);
	return ok;
}

struct ext {
	int nid;
	const char *value;
};

/* Builds and signs a certificate for key named cn, issued by issuer with
   issuer_key; issuer NULL makes it self-signed. NULL on failure, with the
   reason in OpenSSL's error queue. */
static X509 *cert_make(EVP_PKEY *key, const char *cn, X509 *issuer,
		       EVP_PKEY *issuer_key, long not_before_s, int days,
		       const struct ext *exts, size_t n_exts)
{
	X509V3_CTX v3 = { 0 };
	X509 *x = X509_new();
	time_t now = time(NULL);
	bool ok;

	if (x == NULL)
		return NULL;
	ok = X509_set_version(x, X509_VERSION_3) == 1 && set_serial(x) &&
		X509_time_adj_ex(X509_getm_notBefore(x), 0, not_before_s, &now) != NULL &&
		X509_time_adj_ex(X509_getm_notAfter(x), days, not_before_s, &now) != NULL &&
		X509_NAME_add_entry_by_NID(X509_get_subject_name(x), NID_commonName,
			MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0) == 1 &&
		X509_set_issuer_name(x, X509_get_subject_name(issuer != NULL ? issuer : x)) == 1 &&
		X509_set_pubkey(x, key) == 1;
	X509V3_set_ctx(&v3, issuer != NULL ? issuer : x, x, NULL, NULL, 0);
	for (size_t i = 0; ok && i < n_exts; i++) {
		X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &v3, exts[i].nid,
							   exts[i].value);

		ok = ext != NULL && X509_add_ext(x, ext, -1) == 1;
		X509_EXTENSION_free(ext);
	}
	if (!ok || X509_sign(x, issuer_key, EVP_sha256()) <= 0) {
		X509_free(x);
		return NULL;
	}
	return x;
}

/* Writes key as PKCS#8 PEM to a new file at path, mode 0600, fsynced.
   O_EXCL: an existing key (or a symlink planted in its place) is never
   overwritten. */
static int write_key(const char *path, EVP_PKEY *key, const char **error_r)
{
	BIO *bio;
	int fd, ret = 0;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 && errno == EEXIST)
		return fail(error_r, mm_strdup_printf(
			"private key %s already exists: refusing to overwrite it", path));
	if (fd < 0)
		return fail(error_r, mm_strdup_printf(
			"open(%s) failed: %s", path, strerror(errno)));
	/* the umask may have taken bits off the 0600 */
	if (fchmod(fd, 0600) < 0)
		ret = fail(error_r, mm_strdup_printf(
			"fchmod(%s) failed: %s", path, strerror(errno)));
	else if ((bio = BIO_new_fd(fd, BIO_NOCLOSE)) == NULL)
		ret = ossl_fail(error_r, "writing private key", path);
	else {
		if (PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL) != 1 ||
		    BIO_flush(bio) != 1)
			ret = ossl_fail(error_r, "writing private key", path);
		BIO_free(bio);
	}
	if (ret == 0 && fsync(fd) < 0)
		ret = fail(error_r, mm_strdup_printf(
			"fsync(%s) failed: %s", path, strerror(errno)));
	if (close(fd) < 0 && ret == 0)
		ret = fail(error_r, mm_strdup_printf(
			"close(%s) failed: %s", path, strerror(errno)));
	if (ret < 0)
		(void)unlink(path);
	return ret;
}

/* Writes x as PEM to path, mode 0644, through a temporary file renamed
   over it so a reader never sees half a certificate. */
static int write_cert(const char *path, X509 *x, const char **error_r)
{
	char *tmp = mm_strdup_printf("%s.XXXXXX", path);
	BIO *bio;
	int fd, ret = 0;

	if ((fd = mkostemp(tmp, O_CLOEXEC)) < 0) {
		ret = fail(error_r, mm_strdup_printf(
			"mkostemp(%s) failed: %s", tmp, strerror(errno)));
		free(tmp);
		return ret;
	}
	if (fchmod(fd, 0644) < 0)
		ret = fail(error_r, mm_strdup_printf(
			"fchmod(%s) failed: %s", tmp, strerror(errno)));
	else if ((bio = BIO_new_fd(fd, BIO_NOCLOSE)) == NULL)
		ret = ossl_fail(error_r, "writing certificate", tmp);
	else {
		if (PEM_write_bio_X509(bio, x) != 1 || BIO_flush(bio) != 1)
			ret = ossl_fail(error_r, "writing certificate", tmp);
		BIO_free(bio);
	}
	if (ret == 0 && fsync(fd) < 0)
		ret = fail(error_r, mm_strdup_printf(
			"fsync(%s) failed: %s", tmp, strerror(errno)));
	if (close(fd) < 0 && ret == 0)
		ret = fail(error_r, mm_strdup_printf(
			"close(%s) failed: %s", tmp, strerror(errno)));
	if (ret == 0 && rename(tmp, path) < 0)
		ret = fail(error_r, mm_strdup_printf(
			"rename(%s, %s) failed: %s", tmp, path, strerror(errno)));
	if (ret < 0)
		(void)unlink(tmp);
	free(tmp);
	return ret;
}

/* The key first: if it exists nothing is written. A failed certificate
   takes its new key with it, so the command can simply be run again. */
static int write_pair(const char *cert_path, X509 *x, const char *key_path,
		      EVP_PKEY *key, const char **error_r)
{
	if (write_key(key_path, key, error_r) < 0)
		return -1;
	if (write_cert(cert_path, x, error_r) < 0) {
		(void)unlink(key_path);
		return -1;
	}
	return 0;
}

static EVP_PKEY *new_key(void)
{
	return EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
}

int repl_certs_init(const char *cert_path, const char *key_path,
		    const char *cluster_name, int days, const char **error_r)
{
	static const struct ext exts[] = {
		{ NID_basic_constraints, "critical,CA:TRUE" },
		{ NID_key_usage, "critical,keyCertSign,cRLSign" },
		{ NID_subject_key_identifier, "hash" },
	};
	size_t len = strlen(cluster_name);
	EVP_PKEY *key;
	X509 *x;
	int ret;

	ERR_clear_error();
	if (check_args(cert_path, key_path, days, error_r) < 0)
		return -1;
	if (len == 0 || len > 64)
		return fail(error_r, mm_strdup_printf(
			"cluster name '%.80s': must be 1-64 bytes", cluster_name));
	for (size_t i = 0; i < len; i++) {
		if ((unsigned char)cluster_name[i] < 0x20 || cluster_name[i] == 0x7f)
			return fail(error_r, mm_strdup(
				"cluster name: control character in name"));
	}
	if ((key = new_key()) == NULL)
		return ossl_fail(error_r, "generating EC P-256 key for", key_path);
	x = cert_make(key, cluster_name, NULL, key, 0, days, exts,
		      sizeof(exts) / sizeof(exts[0]));
	if (x == NULL)
		ret = ossl_fail(error_r, "making CA certificate", cert_path);
	else
		ret = write_pair(cert_path, x, key_path, key, error_r);
	X509_free(x);
	EVP_PKEY_free(key);
	return ret;
}

/* Loads the CA certificate and its key, checking they belong together and
   that the certificate is a CA's. */
static int load_ca(const char *cert_path, const char *key_path, X509 **ca_r,
		   EVP_PKEY **key_r, const char **error_r)
{
	X509 *ca = NULL;
	EVP_PKEY *key = NULL;
	BIO *bio;

	if ((bio = BIO_new_file(cert_path, "r")) != NULL) {
		ca = PEM_read_bio_X509(bio, NULL, no_passphrase, NULL);
		BIO_free(bio);
	}
	if (ca == NULL)
		return ossl_fail(error_r, "CA certificate", cert_path);
	if ((bio = BIO_new_file(key_path, "r")) != NULL) {
		key = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL);
		BIO_free(bio);
	}
	if (key == NULL) {
		X509_free(ca);
		return ossl_fail(error_r, "CA private key", key_path);
	}
	if (X509_check_ca(ca) < 1) {
		X509_free(ca);
		EVP_PKEY_free(key);
		return fail(error_r, mm_strdup_printf(
			"CA certificate %s: not a CA certificate", cert_path));
	}
	if (X509_check_private_key(ca, key) != 1) {
		X509_free(ca);
		EVP_PKEY_free(key);
		ERR_clear_error();
		return fail(error_r, mm_strdup_printf(
			"CA private key %s does not match certificate %s",
			key_path, cert_path));
	}
	*ca_r = ca;
	*key_r = key;
	return 0;
}

int repl_certs_node(const char *ca_cert_path, const char *ca_key_path,
		    const char *name, const char *cert_path, const char *key_path,
		    long not_before_s, int days, const char **error_r)
{
	X509 *ca = NULL, *x;
	EVP_PKEY *ca_key = NULL, *key;
	char *san;
	int ret;

	ERR_clear_error();
	if (check_name(name, error_r) < 0 ||
	    check_args(cert_path, key_path, days, error_r) < 0 ||
	    load_ca(ca_cert_path, ca_key_path, &ca, &ca_key, error_r) < 0)
		return -1;
	if ((key = new_key()) == NULL) {
		X509_free(ca);
		EVP_PKEY_free(ca_key);
		return ossl_fail(error_r, "generating EC P-256 key for", key_path);
	}
	/* check_name() keeps ',' and ':' out of this configuration string */
	san = mm_strdup_printf("DNS:%s", name);
	const struct ext exts[] = {
		{ NID_basic_constraints, "critical,CA:FALSE" },
		{ NID_key_usage, "critical,digitalSignature" },
		{ NID_ext_key_usage, "serverAuth,clientAuth" },
		{ NID_subject_alt_name, san },
		{ NID_subject_key_identifier, "hash" },
		{ NID_authority_key_identifier, "keyid:always" },
	};
	x = cert_make(key, name, ca, ca_key, not_before_s, days, exts,
		      sizeof(exts) / sizeof(exts[0]));
	if (x == NULL)
		ret = ossl_fail(error_r, "making certificate", cert_path);
	else
		ret = write_pair(cert_path, x, key_path, key, error_r);
	free(san);
	X509_free(x);
	EVP_PKEY_free(key);
	X509_free(ca);
	EVP_PKEY_free(ca_key);
	return ret;
}
