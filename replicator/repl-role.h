/* SPDX-License-Identifier: MIT
 * repl-role.h - the answer to a ROLE question (docs/replication.md): is an
 * account active on this store, its epoch, the journal head and the
 * receive cursors. Reading the store's files (repl_role_read) and the
 * answer's text (format, parse: pure); the frames are repl-query.c's. */
#ifndef REPL_ROLE_H
#define REPL_ROLE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "buf.h"
#include "cfg.h"

/* A name in an answer: a store ([node] name), 1..63 printable bytes. */
#define REPL_ROLE_NAME_MAX 63
/* how long repl_role_read() waits for mailmesh-fs's journal head */
#define REPL_ROLE_FS_TIMEOUT_MS 200

struct repl_role_cursor {
	char *peer;		/* owned */
	uint64_t lsn;		/* durable: every record of peer up to here is applied */
};

struct repl_role {
	char *store;		/* the answering store, owned */
	bool held;		/* the account's directory is in its store */
	bool active;		/* in STATE/roles (fenced), or read-write (not fenced) */
	uint64_t epoch;		/* when active and fenced, else 0 */
	bool head_known;	/* false: mailmesh-fs did not answer */
	uint64_t head;		/* the last LSN of its journal */
	struct repl_role_cursor *from;	/* per configured peer, owned */
	size_t n_from;
};

/* Frees what r owns and zeroes it. */
void repl_role_free(struct repl_role *r);

/* Fills r for account on the store of cfg (this store): STATE/roles
   (re-read at every call; when [hbmon] listen is not set, STATE/accounts:
   read-write is active), the account's directory, mailmesh-fs's last_lsn
   (STATE/control.sock, REPL_ROLE_FS_TIMEOUT_MS at most: head_known false
   when it does not answer) and STATE/replication/from-PEER.lsn for every
   [peer] but itself (0 when missing). account must have passed
   mm_acct_check(). 0, or -1 with *error_r (static, this thread) when a
   file cannot be read (a missing STATE/roles is not an error: nothing is
   active). Any thread. */
int repl_role_read(const struct mm_cfg *cfg, const char *account, struct repl_role *r_r,
		   const char **error_r);

/* Appends the answer's text: one "KEY VALUE" line each,
     store NAME / held 0|1 / active 0|1 / epoch N / head N (when known) /
     from PEER LSN (one per cursor)
   Pure. */
void repl_role_format(const struct repl_role *r, struct mm_buf *out);
/* Parses an answer's text into r (zeroed first; repl_role_free it either
   way). Keys it does not know are skipped (a newer store may add some);
   store, held and active are required, a name must be 1..63 printable
   bytes without spaces, a number decimal. 0, or -1 with *error_r
   (static). Pure. */
int repl_role_parse(const unsigned char *text, size_t len, struct repl_role *r_r,
		    const char **error_r);
/* The cursor r holds for peer: true with *lsn_r, false when it has none. */
bool repl_role_cursor(const struct repl_role *r, const char *peer, uint64_t *lsn_r);

#endif
