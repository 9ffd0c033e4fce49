/* SPDX-License-Identifier: MIT
 * test-tls.c - repl-certs makes a cluster CA and node certificates, and
 * repl-tls contexts built from them run real TLS 1.3 handshakes over a
 * socketpair: who is accepted, who is refused, and what the errors say. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include "mem.h"
#include "repl-certs.h"
#include "repl-tls.h"

#define CLUSTER "test-cluster"

static char dir[64];		/* the temp dir holding every file */
static char *paths[64];		/* from P(), freed by teardown */
static unsigned int n_paths;

/* dir/name; lives until the end of the test */
static const char *P(const char *name)
{
	cr_assert_lt(n_paths, sizeof(paths) / sizeof(paths[0]));
	return paths[n_paths++] = mm_strdup_printf("%s/%s", dir, name);
}

static void node(const char *name, long not_before_s, int days)
{
	char crt[128], key[128];
	const char *error = NULL;

	snprintf(crt, sizeof(crt), "%s.crt", name);
	snprintf(key, sizeof(key), "%s.key", name);
	cr_assert_eq(repl_certs_node(P("ca.crt"), P("ca.key"), name, P(crt), P(key),
				     not_before_s, days, &error), 0, "%s: %s", name, error);
}

/* The cluster CA and nodes alpha and beta */
static void setup(void)
{
	const char *error = NULL;

	n_paths = 0;
	snprintf(dir, sizeof(dir), "/var/tmp/mm-test-tls.XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	cr_assert_eq(repl_certs_init(P("ca.crt"), P("ca.key"), CLUSTER, 30, &error), 0,
		     "%s", error);
	node("alpha", 0, 30);
	node("beta", 0, 30);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st; (void)flag; (void)ftw;
	return remove(path);
}

static void teardown(void)
{
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	for (unsigned int i = 0; i < n_paths; i++)
		mm_free(&paths[i]);
}

TestSuite(tls, .init = setup, .fini = teardown, .timeout = 60);

/* A context for node name of the cluster CA, from name.crt and name.key */
static SSL_CTX *ctx_for(const char *name)
{
	char crt[128], key[128];
	const char *error = NULL;
	SSL_CTX *ctx;

	snprintf(crt, sizeof(crt), "%s.crt", name);
	snprintf(key, sizeof(key), "%s.key", name);
	ctx = repl_tls_ctx_new(P("ca.crt"), P(crt), P(key), &error);
	cr_assert_not_null(ctx, "%s: %s", name, error);
	return ctx;
}

enum { PENDING, DONE, FAILED };

struct side {
	SSL *ssl;
	int fd;
	int state;
	char errors[1024];	/* OpenSSL's queue when it failed */
};

struct conn {
	struct side client, server;
};

static void step(struct side *s)
{
	int r;

	if (s->state != PENDING)
		return;
	/* SSL_get_error() reads the queue, which both sides share here */
	ERR_clear_error();
	r = SSL_do_handshake(s->ssl);
	if (r == 1) {
		s->state = DONE;
		return;
	}
	switch (SSL_get_error(s->ssl, r)) {
	case SSL_ERROR_WANT_READ:
	case SSL_ERROR_WANT_WRITE:
		return;
	}
	s->state = FAILED;
	snprintf(s->errors, sizeof(s->errors), "%s", repl_tls_errors());
	/* any alert is already written: the other side reads it, then EOF */
	shutdown(s->fd, SHUT_RDWR);
}

/* Dials from cctx to sctx over a non-blocking socketpair, offering sess
   when not NULL, and steps both handshakes in turn until neither is
   pending. In TLS 1.3 the client is done before the server has checked
   the client's certificate, so a refused client can end DONE while the
   server ends FAILED. */
static void dial(struct conn *c, SSL_CTX *cctx, SSL_CTX *sctx, SSL_SESSION *sess)
{
	int fds[2];

	memset(c, 0, sizeof(*c));
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds), 0);
	c->client.fd = fds[0];
	c->server.fd = fds[1];
	c->client.ssl = SSL_new(cctx);
	c->server.ssl = SSL_new(sctx);
	cr_assert(c->client.ssl != NULL && c->server.ssl != NULL);
	cr_assert_eq(SSL_set_fd(c->client.ssl, fds[0]), 1);
	cr_assert_eq(SSL_set_fd(c->server.ssl, fds[1]), 1);
	if (sess != NULL)
		cr_assert_eq(SSL_set_session(c->client.ssl, sess), 1);
	SSL_set_connect_state(c->client.ssl);
	SSL_set_accept_state(c->server.ssl);
	for (int i = 0; c->client.state == PENDING || c->server.state == PENDING; i++) {
		cr_assert_lt(i, 1000, "handshake stalled");
		step(&c->client);
		step(&c->server);
	}
}

static void handshake(struct conn *c, SSL_CTX *cctx, SSL_CTX *sctx)
{
	dial(c, cctx, sctx, NULL);
}

static void conn_free(struct conn *c)
{
	SSL_free(c->client.ssl);
	SSL_free(c->server.ssl);
	close(c->client.fd);
	close(c->server.fd);
}

/* One message each way over an established connection */
static void exchange(struct conn *c)
{
	char buf[16];

	cr_assert_eq(SSL_write(c->client.ssl, "ping", 4), 4);
	cr_assert_eq(SSL_read(c->server.ssl, buf, sizeof(buf)), 4);
	cr_assert_eq(memcmp(buf, "ping", 4), 0);
	cr_assert_eq(SSL_write(c->server.ssl, "pong", 4), 4);
	cr_assert_eq(SSL_read(c->client.ssl, buf, sizeof(buf)), 4);
	cr_assert_eq(memcmp(buf, "pong", 4), 0);
}

Test(tls, cluster_nodes_connect)
{
	SSL_CTX *a = ctx_for("alpha"), *b = ctx_for("beta");
	const char *error = NULL;
	char name[64];
	struct conn c;

	handshake(&c, a, b);
	cr_assert_eq(c.client.state, DONE, "client: %s", c.client.errors);
	cr_assert_eq(c.server.state, DONE, "server: %s", c.server.errors);
	cr_expect_eq(SSL_version(c.client.ssl), TLS1_3_VERSION);
	cr_expect_eq(repl_tls_check_peer(c.client.ssl, "beta", &error), 0, "%s", error);
	cr_expect_eq(repl_tls_check_peer(c.server.ssl, "alpha", &error), 0, "%s", error);
	cr_expect_str_eq(repl_tls_peer_name(c.client.ssl, name, sizeof(name)), "beta");
	cr_expect_str_eq(repl_tls_peer_name(c.server.ssl, name, sizeof(name)), "alpha");
	exchange(&c);
	cr_expect_not(SSL_session_reused(c.client.ssl));
	conn_free(&c);

	/* the same contexts, the other way round */
	handshake(&c, b, a);
	cr_assert_eq(c.client.state, DONE, "client: %s", c.client.errors);
	cr_assert_eq(c.server.state, DONE, "server: %s", c.server.errors);
	cr_expect_eq(repl_tls_check_peer(c.client.ssl, "alpha", &error), 0, "%s", error);
	cr_expect_eq(repl_tls_check_peer(c.server.ssl, "beta", &error), 0, "%s", error);
	exchange(&c);
	conn_free(&c);
	SSL_CTX_free(a);
	SSL_CTX_free(b);
}

/* A resumed session would skip the certificate check: none is offered */
Test(tls, sessions_never_resume)
{
	SSL_CTX *a = ctx_for("alpha"), *b = ctx_for("beta");
	SSL_SESSION *sess;
	struct conn c;

	handshake(&c, a, b);
	cr_assert_eq(c.server.state, DONE, "server: %s", c.server.errors);
	exchange(&c);	/* the client reads any session ticket here */
	cr_assert_not_null(sess = SSL_get1_session(c.client.ssl));
	cr_expect_not(SSL_SESSION_is_resumable(sess));
	conn_free(&c);

	dial(&c, a, b, sess);
	cr_assert_eq(c.server.state, DONE, "server: %s", c.server.errors);
	cr_expect_not(SSL_session_reused(c.client.ssl));
	cr_expect_not(SSL_session_reused(c.server.ssl));
	conn_free(&c);
	SSL_SESSION_free(sess);
	SSL_CTX_free(a);
	SSL_CTX_free(b);
}

Test(tls, wrong_name_is_refused)
{
	SSL_CTX *a = ctx_for("alpha"), *b = ctx_for("beta");
	const char *error = NULL;
	struct conn c;

	handshake(&c, a, b);
	cr_assert_eq(c.server.state, DONE, "server: %s", c.server.errors);
	cr_assert_eq(repl_tls_check_peer(c.client.ssl, "gamma", &error), -1);
	cr_expect_str_eq(error, "certificate is for 'beta', not 'gamma'");
	cr_assert_eq(repl_tls_check_peer(c.server.ssl, "beta", &error), -1);
	cr_expect_str_eq(error, "certificate is for 'alpha', not 'beta'");
	/* byte-equal: no prefix, suffix or case folding */
	cr_expect_eq(repl_tls_check_peer(c.client.ssl, "bet", &error), -1);
	cr_expect_eq(repl_tls_check_peer(c.client.ssl, "beta.", &error), -1);
	cr_expect_eq(repl_tls_check_peer(c.client.ssl, "BETA", &error), -1);
	cr_expect_eq(repl_tls_check_peer(c.client.ssl, "", &error), -1);
	conn_free(&c);
	SSL_CTX_free(a);
	SSL_CTX_free(b);
}

Test(tls, peer_name_never_truncated)
{
	SSL_CTX *a = ctx_for("alpha"), *b = ctx_for("beta");
	char name[5];
	struct conn c;

	handshake(&c, a, b);
	cr_assert_eq(c.server.state, DONE, "server: %s", c.server.errors);
	cr_expect_null(repl_tls_peer_name(c.client.ssl, name, 4));
	cr_expect_str_eq(repl_tls_peer_name(c.client.ssl, name, 5), "beta");
	cr_expect_null(repl_tls_peer_name(c.client.ssl, name, 0));
	conn_free(&c);
	SSL_CTX_free(a);
	SSL_CTX_free(b);
}

/* A node of another cluster: its own CA signed mallory.crt */
static void other_cluster_node(void)
{
	const char *error = NULL;

	cr_assert_eq(repl_certs_init(P("ca2.crt"), P("ca2.key"), "other", 30, &error), 0,
		     "%s", error);
	cr_assert_eq(repl_certs_node(P("ca2.crt"), P("ca2.key"), "mallory",
				     P("mallory.crt"), P("mallory.key"), 0, 30, &error), 0,
		     "%s", error);
}

Test(tls, other_cluster_client_is_refused)
{
	SSL_CTX *m, *b = ctx_for("beta");
	const char *error = NULL;
	struct conn c;

	other_cluster_node();
	/* even trusting our CA itself, mallory's certificate is not ours */
	m = ctx_for("mallory");
	handshake(&c, m, b);
	cr_assert_eq(c.server.state, FAILED, "beta accepted mallory");
	cr_expect(strstr(c.server.errors, "certificate verify failed") != NULL,
		  "%s", c.server.errors);
	cr_assert_eq(repl_tls_check_peer(c.server.ssl, "mallory", &error), -1);
	cr_expect(strstr(error, "unable to get local issuer certificate") != NULL, "%s", error);
	conn_free(&c);
	SSL_CTX_free(m);
	SSL_CTX_free(b);
}

Test(tls, other_cluster_server_is_refused)
{
	SSL_CTX *a = ctx_for("alpha"), *m;
	const char *error = NULL;
	struct conn c;

	other_cluster_node();
	m = ctx_for("mallory");
	handshake(&c, a, m);
	cr_assert_eq(c.client.state, FAILED, "alpha accepted mallory");
	cr_expect_eq(c.server.state, FAILED);
	cr_assert_eq(repl_tls_check_peer(c.client.ssl, "mallory", &error), -1);
	cr_expect(strstr(error, "unable to get local issuer certificate") != NULL, "%s", error);
	conn_free(&c);
	SSL_CTX_free(a);
	SSL_CTX_free(m);
}

Test(tls, expired_client_is_refused)
{
	SSL_CTX *old, *b = ctx_for("beta");
	const char *error = NULL;
	struct conn c;

	node("old", -3 * 86400L, 1);
	old = ctx_for("old");
	handshake(&c, old, b);
	cr_assert_eq(c.server.state, FAILED, "beta accepted an expired certificate");
	cr_assert_eq(repl_tls_check_peer(c.server.ssl, "old", &error), -1);
	cr_expect_str_eq(error, "certificate verify failed: certificate has expired");
	conn_free(&c);
	SSL_CTX_free(old);
	SSL_CTX_free(b);
}

Test(tls, expired_server_is_refused)
{
	SSL_CTX *a = ctx_for("alpha"), *old;
	const char *error = NULL;
	struct conn c;

	node("old", -3 * 86400L, 1);
	old = ctx_for("old");
	handshake(&c, a, old);
	cr_assert_eq(c.client.state, FAILED, "alpha accepted an expired certificate");
	cr_assert_eq(repl_tls_check_peer(c.client.ssl, "old", &error), -1);
	cr_expect(strstr(error, "expired") != NULL, "%s", error);
	conn_free(&c);
	SSL_CTX_free(a);
	SSL_CTX_free(old);
}

Test(tls, client_without_certificate_is_refused)
{
	SSL_CTX *anon = SSL_CTX_new(TLS_client_method()), *b = ctx_for("beta");
	const char *error = NULL;
	struct conn c;

	cr_assert_not_null(anon);
	cr_assert_eq(SSL_CTX_load_verify_file(anon, P("ca.crt")), 1);
	SSL_CTX_set_verify(anon, SSL_VERIFY_PEER, NULL);
	handshake(&c, anon, b);
	cr_assert_eq(c.server.state, FAILED, "beta accepted a client without certificate");
	cr_expect(strstr(c.server.errors, "did not return a certificate") != NULL,
		  "%s", c.server.errors);
	cr_expect_eq(repl_tls_check_peer(c.server.ssl, "alpha", &error), -1);
	conn_free(&c);
	SSL_CTX_free(anon);
	SSL_CTX_free(b);
}

Test(tls, tls12_client_is_refused)
{
	SSL_CTX *old = ctx_for("alpha"), *b = ctx_for("beta");
	struct conn c;

	cr_assert_eq(SSL_CTX_set_min_proto_version(old, TLS1_2_VERSION), 1);
	cr_assert_eq(SSL_CTX_set_max_proto_version(old, TLS1_2_VERSION), 1);
	handshake(&c, old, b);
	cr_expect_eq(c.client.state, FAILED);
	cr_assert_eq(c.server.state, FAILED, "beta accepted TLS 1.2");
	cr_expect(strstr(c.server.errors, "unsupported protocol") != NULL,
		  "%s", c.server.errors);
	conn_free(&c);
	SSL_CTX_free(old);
	SSL_CTX_free(b);
}

/* A certificate from the cluster CA that repl_certs_node() would not make:
   CN=cn and, when san is not NULL, subjectAltName DNS:san. */
static void odd_cert(const char *cn, const char *san, const char *crt, const char *key)
{
	X509V3_CTX v3 = { 0 };
	X509 *ca, *x = X509_new();
	EVP_PKEY *ca_key, *pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	FILE *f;

	cr_assert_not_null(f = fopen(P("ca.crt"), "r"));
	cr_assert_not_null(ca = PEM_read_X509(f, NULL, NULL, NULL));
	fclose(f);
	cr_assert_not_null(f = fopen(P("ca.key"), "r"));
	cr_assert_not_null(ca_key = PEM_read_PrivateKey(f, NULL, NULL, NULL));
	fclose(f);
	cr_assert(x != NULL && pkey != NULL);
	cr_assert_eq(X509_set_version(x, X509_VERSION_3), 1);
	cr_assert_eq(ASN1_INTEGER_set(X509_get_serialNumber(x), 7), 1);
	cr_assert_not_null(X509_gmtime_adj(X509_getm_notBefore(x), 0));
	cr_assert_not_null(X509_gmtime_adj(X509_getm_notAfter(x), 86400));
	cr_assert_eq(X509_NAME_add_entry_by_NID(X509_get_subject_name(x), NID_commonName,
			MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0), 1);
	cr_assert_eq(X509_set_issuer_name(x, X509_get_subject_name(ca)), 1);
	cr_assert_eq(X509_set_pubkey(x, pkey), 1);
	X509V3_set_ctx(&v3, ca, x, NULL, NULL, 0);
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &v3, NID_ext_key_usage,
						   "serverAuth,clientAuth");
	cr_assert_not_null(ext);
	cr_assert_eq(X509_add_ext(x, ext, -1), 1);
	X509_EXTENSION_free(ext);
	if (san != NULL) {
		char *value = mm_strdup_printf("DNS:%s", san);

		cr_assert_not_null(ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, value));
		cr_assert_eq(X509_add_ext(x, ext, -1), 1);
		X509_EXTENSION_free(ext);
		free(value);
	}
	cr_assert_gt(X509_sign(x, ca_key, EVP_sha256()), 0);
	cr_assert_not_null(f = fopen(P(crt), "w"));
	cr_assert_eq(PEM_write_X509(f, x), 1);
	fclose(f);
	cr_assert_not_null(f = fopen(P(key), "w"));
	cr_assert_eq(PEM_write_PrivateKey(f, pkey, NULL, NULL, 0, NULL, NULL), 1);
	fclose(f);
	X509_free(x);
	X509_free(ca);
	EVP_PKEY_free(pkey);
	EVP_PKEY_free(ca_key);
}

Test(tls, cn_counts_only_without_dns_san)
{
	SSL_CTX *a = ctx_for("alpha"), *g, *h;
	const char *error = NULL;
	char name[64];
	struct conn c;

	odd_cert("gamma", NULL, "gamma.crt", "gamma.key");
	g = ctx_for("gamma");
	handshake(&c, a, g);
	cr_assert_eq(c.client.state, DONE, "client: %s", c.client.errors);
	cr_expect_eq(repl_tls_check_peer(c.client.ssl, "gamma", &error), 0, "%s", error);
	cr_expect_str_eq(repl_tls_peer_name(c.client.ssl, name, sizeof(name)), "gamma");
	conn_free(&c);

	/* CN=gamma, DNS:delta: only delta */
	odd_cert("gamma", "delta", "delta.crt", "delta.key");
	h = ctx_for("delta");
	handshake(&c, a, h);
	cr_assert_eq(c.client.state, DONE, "client: %s", c.client.errors);
	cr_expect_eq(repl_tls_check_peer(c.client.ssl, "delta", &error), 0, "%s", error);
	cr_assert_eq(repl_tls_check_peer(c.client.ssl, "gamma", &error), -1);
	cr_expect_str_eq(error, "certificate is for 'delta', not 'gamma'");
	cr_expect_str_eq(repl_tls_peer_name(c.client.ssl, name, sizeof(name)), "delta");
	conn_free(&c);
	SSL_CTX_free(a);
	SSL_CTX_free(g);
	SSL_CTX_free(h);
}

Test(tls, check_peer_before_handshake)
{
	SSL_CTX *a = ctx_for("alpha");
	SSL *ssl = SSL_new(a);
	const char *error = NULL;
	char name[64];

	cr_assert_eq(repl_tls_check_peer(ssl, "beta", &error), -1);
	cr_expect_str_eq(error, "TLS handshake not completed");
	cr_expect_null(repl_tls_peer_name(ssl, name, sizeof(name)));
	SSL_free(ssl);
	SSL_CTX_free(a);
}

Test(tls, mismatched_key_is_refused)
{
	const char *error = NULL;

	cr_assert_null(repl_tls_ctx_new(P("ca.crt"), P("alpha.crt"), P("beta.key"), &error));
	cr_expect(strstr(error, P("beta.key")) != NULL, "%s", error);
	cr_expect(strstr(error, "key values mismatch") != NULL, "%s", error);
}

enum { F_CA, F_CERT, F_KEY };
enum { MISSING, GARBAGE, EMPTY, WRONG_KIND };

struct bad_file {
	int which, how;
};

ParameterizedTestParameters(tls, bad_file_is_named)
{
	static struct bad_file cases[] = {
		{ F_CA, MISSING }, { F_CA, GARBAGE }, { F_CA, EMPTY }, { F_CA, WRONG_KIND },
		{ F_CERT, MISSING }, { F_CERT, GARBAGE }, { F_CERT, EMPTY }, { F_CERT, WRONG_KIND },
		{ F_KEY, MISSING }, { F_KEY, GARBAGE }, { F_KEY, EMPTY }, { F_KEY, WRONG_KIND },
	};
	return cr_make_param_array(struct bad_file, cases, sizeof(cases) / sizeof(cases[0]));
}

static void copy_file(const char *from, const char *to)
{
	char buf[8192];
	ssize_t n;
	int in = open(from, O_RDONLY), out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	cr_assert(in >= 0 && out >= 0);
	while ((n = read(in, buf, sizeof(buf))) > 0)
		cr_assert_eq(write(out, buf, n), n);
	close(in);
	close(out);
}

ParameterizedTest(struct bad_file *b, tls, bad_file_is_named)
{
	const char *files[3] = { P("ca.crt"), P("alpha.crt"), P("alpha.key") };
	const char *bad = P("bad.pem"), *error = NULL;
	/* WRONG_KIND: a key where a certificate belongs, and the reverse */
	const char *other = b->which == F_KEY ? files[F_CERT] : files[F_KEY];
	FILE *f;

	switch (b->how) {
	case MISSING:
		break;
	case GARBAGE:
		cr_assert_not_null(f = fopen(bad, "w"));
		fputs("-----BEGIN CERTIFICATE-----\nnot base64 at all!\n"
		      "-----END CERTIFICATE-----\n\x01\x02 binary junk\n", f);
		fclose(f);
		break;
	case EMPTY:
		cr_assert_not_null(f = fopen(bad, "w"));
		fclose(f);
		break;
	case WRONG_KIND:
		copy_file(other, bad);
		break;
	}
	files[b->which] = bad;
	cr_assert_null(repl_tls_ctx_new(files[F_CA], files[F_CERT], files[F_KEY], &error),
		       "file %d, case %d accepted", b->which, b->how);
	cr_assert_not_null(error);
	cr_expect(strstr(error, bad) != NULL, "file %d, case %d: %s", b->which, b->how, error);
	if (b->how == MISSING)
		cr_expect(strstr(error, "No such file or directory") != NULL, "%s", error);
}

Test(tls, errors_text)
{
	ERR_clear_error();
	cr_expect_str_eq(repl_tls_errors(), "no OpenSSL error queued");
	ERR_raise(ERR_LIB_SYS, ENOENT);
	ERR_raise(ERR_LIB_SSL, SSL_R_NO_CERTIFICATE_ASSIGNED);
	cr_expect_str_eq(repl_tls_errors(),
			 "system library: No such file or directory; "
			 "SSL routines: no certificate assigned");
	cr_expect_eq(ERR_peek_error(), 0, "queue not drained");
}

static mode_t file_mode(const char *path)
{
	struct stat st;

	cr_assert_eq(stat(path, &st), 0, "%s", path);
	return st.st_mode & 07777;
}

Test(tls, key_files_are_private)
{
	umask(0);
	node("gamma", 0, 30);
	umask(0277);
	node("delta", 0, 30);
	umask(022);
	cr_expect_eq(file_mode(P("ca.key")), 0600);
	cr_expect_eq(file_mode(P("alpha.key")), 0600);
	cr_expect_eq(file_mode(P("gamma.key")), 0600);
	cr_expect_eq(file_mode(P("delta.key")), 0600);
	cr_expect_eq(file_mode(P("ca.crt")), 0644);
	cr_expect_eq(file_mode(P("alpha.crt")), 0644);
	cr_expect_eq(file_mode(P("delta.crt")), 0644);
}

static char *slurp(const char *path)
{
	char *s = mm_malloc(8192);
	int fd = open(path, O_RDONLY);
	ssize_t n;

	cr_assert_geq(fd, 0, "%s", path);
	n = read(fd, s, 8191);
	cr_assert_gt(n, 0);
	s[n] = '\0';
	close(fd);
	return s;
}

Test(tls, existing_key_is_never_overwritten)
{
	char *ca_key = slurp(P("ca.key")), *alpha_key = slurp(P("alpha.key")), *now;
	const char *error = NULL;

	cr_assert_eq(repl_certs_init(P("new-ca.crt"), P("ca.key"), CLUSTER, 30, &error), -1);
	cr_expect(strstr(error, P("ca.key")) != NULL && strstr(error, "exists") != NULL,
		  "%s", error);
	cr_expect_eq(access(P("new-ca.crt"), F_OK), -1, "certificate written anyway");
	now = slurp(P("ca.key"));
	cr_expect_str_eq(now, ca_key);
	free(now);

	cr_assert_eq(repl_certs_node(P("ca.crt"), P("ca.key"), "alpha", P("alpha2.crt"),
				     P("alpha.key"), 0, 30, &error), -1);
	cr_expect(strstr(error, "exists") != NULL, "%s", error);
	now = slurp(P("alpha.key"));
	cr_expect_str_eq(now, alpha_key);
	free(now);

	/* nor through a symlink planted where the key goes */
	cr_assert_eq(symlink(P("victim"), P("link.key")), 0);
	cr_assert_eq(repl_certs_node(P("ca.crt"), P("ca.key"), "gamma", P("gamma.crt"),
				     P("link.key"), 0, 30, &error), -1);
	cr_expect_eq(access(P("victim"), F_OK), -1, "written through the symlink");
	free(ca_key);
	free(alpha_key);
}

struct bad_name {
	char name[80];
};

ParameterizedTestParameters(tls, bad_node_name)
{
	static struct bad_name cases[] = {
		{ "../x" }, { "" }, { "a b" }, { "a/b" }, { ".." }, { "." }, { "-x" },
		{ ".hidden" }, { "a,DNS:evil" }, { "a:b" }, { "al\xc3\xa9" }, { "a\n" },
		{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" },
	};
	return cr_make_param_array(struct bad_name, cases, sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct bad_name *b, tls, bad_node_name)
{
	const char *error = NULL;

	cr_assert_eq(repl_certs_node(P("ca.crt"), P("ca.key"), b->name, P("x.crt"),
				     P("x.key"), 0, 30, &error), -1, "'%s' accepted", b->name);
	cr_expect(strstr(error, "node name") != NULL, "%s", error);
	cr_expect_eq(access(P("x.key"), F_OK), -1);
	cr_expect_eq(access(P("x.crt"), F_OK), -1);
}

Test(tls, longest_node_name)
{
	const char *name = "a23456789.123456789-123456789.123456789.123456789.123456789.123";
	const char *error = NULL;
	char buf[64];
	SSL_CTX *a = ctx_for("alpha"), *l;
	struct conn c;

	cr_assert_eq(strlen(name), REPL_CERTS_NAME_MAX);
	cr_assert_eq(repl_certs_node(P("ca.crt"), P("ca.key"), name, P("long.crt"),
				     P("long.key"), 0, 30, &error), 0, "%s", error);
	l = ctx_for("long");
	handshake(&c, a, l);
	cr_assert_eq(c.server.state, DONE, "server: %s", c.server.errors);
	cr_expect_eq(repl_tls_check_peer(c.client.ssl, name, &error), 0, "%s", error);
	cr_expect_str_eq(repl_tls_peer_name(c.client.ssl, buf, sizeof(buf)), name);
	conn_free(&c);
	SSL_CTX_free(a);
	SSL_CTX_free(l);
}

Test(tls, bad_arguments)
{
	const char *error = NULL;

	cr_expect_eq(repl_certs_node(P("ca.crt"), P("ca.key"), "gamma", P("g.crt"),
				     P("g.key"), 0, 0, &error), -1);
	cr_expect(strstr(error, "days") != NULL, "%s", error);
	cr_expect_eq(repl_certs_node(P("ca.crt"), P("ca.key"), "gamma", P("g.pem"),
				     P("g.pem"), 0, 30, &error), -1);
	cr_expect_eq(repl_certs_init(P("c.crt"), P("c.key"), "", 30, &error), -1);
	cr_expect_eq(repl_certs_init(P("c.crt"), P("c.key"), "a\nb", 30, &error), -1);
	/* a certificate that cannot be written takes its new key with it */
	cr_expect_eq(repl_certs_node(P("ca.crt"), P("ca.key"), "gamma", P("none/g.crt"),
				     P("g.key"), 0, 30, &error), -1);
	cr_expect(strstr(error, P("none/g.crt")) != NULL, "%s", error);
	cr_expect_eq(repl_certs_init(P("none/c.crt"), P("c.key"), CLUSTER, 30, &error), -1);
	cr_expect_eq(access(P("g.key"), F_OK), -1);
	cr_expect_eq(access(P("c.key"), F_OK), -1);
}

Test(tls, ca_must_be_a_matching_ca)
{
	const char *error = NULL;

	/* a node certificate cannot sign */
	cr_assert_eq(repl_certs_node(P("alpha.crt"), P("alpha.key"), "gamma", P("g.crt"),
				     P("g.key"), 0, 30, &error), -1);
	cr_expect(strstr(error, "not a CA") != NULL, "%s", error);
	cr_assert_eq(repl_certs_node(P("ca.crt"), P("alpha.key"), "gamma", P("g.crt"),
				     P("g.key"), 0, 30, &error), -1);
	cr_expect(strstr(error, "does not match") != NULL, "%s", error);
	cr_assert_eq(repl_certs_node(P("nope.crt"), P("ca.key"), "gamma", P("g.crt"),
				     P("g.key"), 0, 30, &error), -1);
	cr_expect(strstr(error, P("nope.crt")) != NULL, "%s", error);
	cr_expect_eq(access(P("g.key"), F_OK), -1);
}

/* What the certificates say, read back with OpenSSL */
Test(tls, certificate_contents)
{
	X509 *ca, *x;
	FILE *f;
	char cn[64];
	ASN1_INTEGER *serial;
	BIGNUM *bn;

	cr_assert_not_null(f = fopen(P("ca.crt"), "r"));
	cr_assert_not_null(ca = PEM_read_X509(f, NULL, NULL, NULL));
	fclose(f);
	cr_assert_not_null(f = fopen(P("alpha.crt"), "r"));
	cr_assert_not_null(x = PEM_read_X509(f, NULL, NULL, NULL));
	fclose(f);

	cr_expect_eq(X509_check_ca(ca), 1);
	cr_expect_eq(X509_get_extension_flags(ca) & (EXFLAG_BCONS | EXFLAG_CA),
		     EXFLAG_BCONS | EXFLAG_CA);
	cr_expect_eq(X509_get_key_usage(ca), KU_KEY_CERT_SIGN | KU_CRL_SIGN);
	cr_expect_not_null(X509_get0_subject_key_id(ca));
	cr_expect_gt(X509_NAME_get_text_by_NID(X509_get_subject_name(ca), NID_commonName,
					       cn, sizeof(cn)), 0);
	cr_expect_str_eq(cn, CLUSTER);
	cr_expect_eq(X509_check_issued(ca, ca), X509_V_OK);

	cr_expect_eq(X509_check_ca(x), 0);
	cr_expect_eq(X509_get_extension_flags(x) & (EXFLAG_BCONS | EXFLAG_CA), EXFLAG_BCONS);
	cr_expect_eq(X509_check_issued(ca, x), X509_V_OK);
	cr_expect_eq(X509_verify(x, X509_get0_pubkey(ca)), 1);
	cr_expect_eq(X509_get_key_usage(x), KU_DIGITAL_SIGNATURE);
	cr_expect_eq(X509_get_extended_key_usage(x), XKU_SSL_SERVER | XKU_SSL_CLIENT);
	cr_expect_eq(X509_check_host(x, "alpha", 0, X509_CHECK_FLAG_NEVER_CHECK_SUBJECT, NULL), 1);
	cr_expect_eq(ASN1_OCTET_STRING_cmp(X509_get0_authority_key_id(x),
					   X509_get0_subject_key_id(ca)), 0);
	cr_expect_eq(EVP_PKEY_get_base_id(X509_get0_pubkey(x)), EVP_PKEY_EC);
	cr_expect_eq(EVP_PKEY_get_bits(X509_get0_pubkey(x)), 256);
	cr_expect_eq(X509_get_signature_nid(x), NID_ecdsa_with_SHA256);

	serial = (ASN1_INTEGER *)X509_get0_serialNumber(x);
	cr_assert_not_null(bn = ASN1_INTEGER_to_BN(serial, NULL));
	cr_expect(!BN_is_negative(bn) && BN_num_bits(bn) > 64 && BN_num_bits(bn) <= 128);
	BN_free(bn);
	X509_free(x);
	X509_free(ca);
}
