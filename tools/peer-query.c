/* SPDX-License-Identifier: MIT
 * peer-query.c - a blocking QUERY/ANSWER connection to a peer's
 * replicator (see peer-query.h): TLS, the OPEN handshake, frames. */
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include "peer-query.h"
#include "repl-tls.h"

static __thread char err[1024];

int pq_send(struct pq_conn *c, uint32_t code, const char *text, const struct mm_buf *args)
{
	struct mm_wire_msg m = { .type = MM_WIRE_QUERY, .code = code, .text = text,
				 .text_len = strlen(text),
				 .blob = args ? args->data : NULL, .blob_len = args ? args->len : 0 };
	struct mm_buf out = { 0 };
	size_t off = 0;

	if (mm_wire_encode(&out, &m, 0) < 0) {
		mm_buf_free(&out);
		return -1;
	}
	while (off < out.len) {
		int n = SSL_write(c->ssl, out.data + off, (int)(out.len - off));

		if (n <= 0) {
			mm_buf_free(&out);
			return -1;
		}
		off += (size_t)n;
	}
	mm_buf_free(&out);
	return 0;
}

/* Reads the next frame: 0 with *m_r (borrowed until the next call), -1
   with *error_r. */
int pq_recv(struct pq_conn *c, struct mm_wire_msg *m_r, const char **error_r)
{
	unsigned char buf[65536];
	int r;

	while ((r = mm_wire_decoder_next(c->dec, m_r)) == 0) {
		struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
		int n;

		if (SSL_pending(c->ssl) == 0 &&
		    poll(&pfd, 1, c->timeout_ms > 0 ? (int)c->timeout_ms : PQ_TIMEOUT_MS) == 0) {
			if (c->timeout_ms > 0) {
				snprintf(err, sizeof(err), "no answer in %u ms", c->timeout_ms);
				*error_r = err;
			} else {
				*error_r = "no answer in 10 minutes";
			}
			return -1;
		}
		n = SSL_read(c->ssl, buf, sizeof(buf));
		if (n <= 0) {
			*error_r = "connection closed";
			return -1;
		}
		mm_wire_decoder_feed(c->dec, buf, (size_t)n);
	}
	if (r < 0) {
		snprintf(err, sizeof(err), "bad frame: %s", mm_wire_strerror(r));
		*error_r = err;
		return -1;
	}
	if (m_r->type == MM_WIRE_ERROR) {
		snprintf(err, sizeof(err), "refused: %s", m_r->text);
		*error_r = err;
		return -1;
	}
	if (m_r->type != MM_WIRE_ANSWER) {
		snprintf(err, sizeof(err), "unexpected %s frame", mm_wire_type_str(m_r->type));
		*error_r = err;
		return -1;
	}
	return 0;
}

int pq_connect(struct pq_conn *c, SSL_CTX *ctx, const struct mm_peer_cfg *peer,
	       const char *self, const char **error_r)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV };
	struct addrinfo *res = NULL;
	char host[256], port[8];
	unsigned int port_n;
	struct mm_wire_msg m;
	struct mm_buf args = { 0 };
	int one = 1, r;

	c->used = true;
	c->fd = -1;
	if (mm_parse_hostport(peer->address, host, sizeof(host), &port_n) < 0) {
		*error_r = "its address is not HOST:PORT";
		return -1;
	}
	snprintf(port, sizeof(port), "%u", port_n);
	if ((r = getaddrinfo(host, port, &hints, &res)) != 0 || res == NULL) {
		snprintf(err, sizeof(err), "%s: %s", peer->address, gai_strerror(r));
		*error_r = err;
		return -1;
	}
	c->fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd >= 0 && c->timeout_ms > 0) {
		/* bounds connect() and the blocking TLS handshake too */
		struct timeval tv = { .tv_sec = c->timeout_ms / 1000,
				      .tv_usec = (c->timeout_ms % 1000) * 1000 };

		(void)setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		(void)setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	}
	if (c->fd < 0 || connect(c->fd, res->ai_addr, res->ai_addrlen) < 0) {
		snprintf(err, sizeof(err), "connect(%s) failed: %s", peer->address,
			 strerror(errno));
		*error_r = err;
		freeaddrinfo(res);
		return -1;
	}
	freeaddrinfo(res);
	(void)setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->ssl = SSL_new(ctx);
	SSL_set_fd(c->ssl, c->fd);
	if (SSL_connect(c->ssl) != 1) {
		snprintf(err, sizeof(err), "TLS: %s", repl_tls_errors());
		*error_r = err;
		return -1;
	}
	if (repl_tls_check_peer(c->ssl, peer->name, error_r) < 0)
		return -1;
	c->dec = mm_wire_decoder_new();
	mm_buf_put_u16(&args, PQ_PROTO_VERSION);
	r = pq_send(c, MM_WIRE_Q_OPEN, self, &args);
	mm_buf_free(&args);
	if (r < 0) {
		*error_r = "sending failed";
		return -1;
	}
	if (pq_recv(c, &m, error_r) < 0)
		return -1;
	if (m.code != MM_WIRE_A_OK) {
		*error_r = "it refused the check";
		return -1;
	}
	return 0;
}

int pq_ask(struct pq_conn *c, uint32_t code, const char *text, const struct mm_buf *args,
	   struct mm_wire_msg *m_r, const char **error_r)
{
	if (pq_send(c, code, text, args) < 0) {
		*error_r = "sending failed";
		return -1;
	}
	return pq_recv(c, m_r, error_r);
}

/* What this session's socket carried so far. */
static uint64_t session_bytes(const struct pq_conn *c)
{
	BIO *r, *w;
	uint64_t n;

	if (c->ssl == NULL)
		return 0;
	r = SSL_get_rbio(c->ssl);
	w = SSL_get_wbio(c->ssl);
	n = r != NULL ? BIO_number_read(r) + BIO_number_written(r) : 0;
	if (w != NULL && w != r)
		n += BIO_number_read(w) + BIO_number_written(w);
	return n;
}

uint64_t pq_bytes(const struct pq_conn *c)
{
	return c->bytes + session_bytes(c);
}

void pq_close(struct pq_conn *c, bool polite)
{
	uint64_t bytes;
	unsigned int timeout_ms = c->timeout_ms;

	if (!c->used)
		return;
	if (c->ssl != NULL && polite)
		SSL_shutdown(c->ssl);
	bytes = pq_bytes(c);	/* the close_notify included */
	if (c->ssl != NULL)
		SSL_free(c->ssl);
	if (c->fd >= 0)
		close(c->fd);
	mm_wire_decoder_free(&c->dec);
	memset(c, 0, sizeof(*c));
	c->bytes = bytes;
	c->timeout_ms = timeout_ms;
}
