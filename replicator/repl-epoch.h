/* SPDX-License-Identifier: MIT
 * repl-epoch.h - epochs as fencing tokens: whether a record of an older
 * epoch is stale, the epochs this store knows per account, and the lines
 * of STATE/replication/epochs. Pure: the file, the log and the counters
 * are repl-fence.c's. */
#ifndef REPL_EPOCH_H
#define REPL_EPOCH_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "buf.h"

/* Epochs kept per account: the newest. Fewer only ever miss a stale
   record (its successor epoch forgotten), never refuse a good one. */
#define REPL_EPOCHS_KEEP 8

/* Whether a record written under epoch at time_ns (its journal's clock)
   is stale given the epochs known for its account (known[0..n),
   ascending): some known e with epoch < e <= time_ns, i.e. it was written
   under an older epoch after a newer one had begun. *newer_r (when not
   NULL) gets the smallest such e. Epoch 0 (an unfenced mount, a version 1
   record) is never stale; nor is an older epoch's record written before
   every newer epoch began (a former active's late record); nor one of
   the same or a newer epoch. */
bool repl_epoch_stale(uint64_t epoch, uint64_t time_ns, const uint64_t *known, size_t n,
		      uint64_t *newer_r);

struct repl_epochs;
struct repl_epochs *repl_epochs_new(void);
void repl_epochs_free(struct repl_epochs **tp);
/* Notes that account has (had) epoch. true when that changed what t
   knows (a new epoch among its REPL_EPOCHS_KEEP newest); 0 is never
   noted. */
bool repl_epochs_note(struct repl_epochs *t, const char *account, uint64_t epoch);
/* The epochs known for account, ascending (*n_r 0: none). Borrowed from
   t until the next note. */
const uint64_t *repl_epochs_get(const struct repl_epochs *t, const char *account,
				size_t *n_r);
/* How many epochs t holds, over every account. */
size_t repl_epochs_count(const struct repl_epochs *t);

/* STATE/replication/epochs: REPL_EPOCHS_HEADER, then one line per epoch
   noted, "EPOCH CHECK ACCOUNT\n" (EPOCH decimal, CHECK the XXH3-64 of
   "EPOCH ACCOUNT" in 16 hex digits). Lines are appended as epochs are
   learnt; the whole file is rewritten at start when it holds bad or
   superseded lines. */
#define REPL_EPOCHS_HEADER "mailmesh-epochs 1\n"
/* Appends the line of one epoch. */
void repl_epochs_line(struct mm_buf *out, const char *account, uint64_t epoch);
/* The whole file for t: the header, then every epoch, accounts sorted. */
void repl_epochs_format(const struct repl_epochs *t, struct mm_buf *out);

struct repl_epochs_parsed {
	size_t lines;		/* epoch lines taken */
	size_t bad;		/* lines refused: format, checksum, account name */
	size_t first_bad;	/* the first of them, a line number from 1; 0: none */
	bool header;		/* the first line is REPL_EPOCHS_HEADER */
	bool torn;		/* the last line has no newline (a crash while it was
				   appended): ignored, and not counted as bad */
};
/* Notes every good line of data (len bytes) into t; says what it found. */
void repl_epochs_parse(struct repl_epochs *t, const char *data, size_t len,
		       struct repl_epochs_parsed *res_r);

#endif
