/* SPDX-License-Identifier: MIT
 * repl-query.h - answers a peer's mailmesh-fsck (QUERY frames on an
 * inbound session that opened with QUERY OPEN instead of HELLO): folder
 * digests, a folder's entries, a file's content; and an account's role
 * (mailmeshctl drill; repl-role.c). The walking and hashing
 * run in a worker thread so replication goes on meanwhile; the session
 * (repl-session.c) owns the connection. */
#ifndef REPL_QUERY_H
#define REPL_QUERY_H
#include "wire.h"

struct bufferevent;
struct repl_daemon;
struct repl_query;

/* For a session whose peer (already checked against its certificate)
   opened with QUERY OPEN; answers on bev. Event loop thread only. */
struct repl_query *repl_query_new(struct repl_daemon *d, struct bufferevent *bev,
				  const char *peer);
/* Waits for a question being worked on, then frees. */
void repl_query_free(struct repl_query **qp);
/* Queues one QUERY frame (copied). 0, or -1 with *error_r (static) when
   it is refused: an OPEN again, too many questions waiting. */
int repl_query_frame(struct repl_query *q, const struct mm_wire_msg *m, const char **error_r);

#endif
