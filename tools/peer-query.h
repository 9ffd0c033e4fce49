/* SPDX-License-Identifier: MIT
 * peer-query.h - one blocking TLS connection to a peer's replicator that
 * asks QUERY questions and reads their ANSWERs (peer-query.c), for
 * mailmesh-fsck and mailmeshctl undelete. What to ask is theirs. */
#ifndef PEER_QUERY_H
#define PEER_QUERY_H
#include <stdbool.h>
#include <stdint.h>
#include <openssl/ssl.h>
#include "buf.h"
#include "cfg.h"
#include "wire.h"

/* the protocol the replicator speaks (replicator/repl.h) */
#define PQ_PROTO_VERSION 2
/* a peer that says nothing for this long is given up */
#define PQ_TIMEOUT_MS 600000

struct pq_conn {
	SSL *ssl;		/* NULL: not connected */
	int fd;
	struct mm_wire_decoder *dec;
	uint64_t bytes;		/* of sessions closed: see pq_bytes() */
	bool used;		/* pq_connect() was called */
	unsigned int timeout_ms; /* set before pq_connect(): its connect and TLS
				   handshake and every answer wait this long at
				   most; 0: PQ_TIMEOUT_MS (pq_close keeps it) */
};

/* Connects to peer (TLS with ctx, its certificate checked for its name)
   and opens a query session as store self. 0, or -1 with *error_r
   (static, this thread); pq_close() it either way. */
int pq_connect(struct pq_conn *c, SSL_CTX *ctx, const struct mm_peer_cfg *peer,
	       const char *self, const char **error_r);
/* 0, or -1 when it cannot be sent. */
int pq_send(struct pq_conn *c, uint32_t code, const char *text, const struct mm_buf *args);
/* The next ANSWER: 0 with *m_r (borrowed until the next call), -1 with
   *error_r (an ERROR frame, another frame, a bad frame, a timeout). */
int pq_recv(struct pq_conn *c, struct mm_wire_msg *m_r, const char **error_r);
/* pq_send, then pq_recv. */
int pq_ask(struct pq_conn *c, uint32_t code, const char *text, const struct mm_buf *args,
	   struct mm_wire_msg *m_r, const char **error_r);
/* Closes (with a TLS shutdown when polite) and zeroes c but its bytes. */
void pq_close(struct pq_conn *c, bool polite);
/* Bytes sent and received on the socket, TLS handshake and records
   included, over every session c had. */
uint64_t pq_bytes(const struct pq_conn *c);

#endif
