/* SPDX-License-Identifier: MIT
 * repl-late.h - late records other than deliveries (a former source's
 * changes it never shipped before a failover), merged into this store
 * through its mount by the rules of repl-merge.h. */
#ifndef REPL_LATE_H
#define REPL_LATE_H
#include <stdbool.h>
#include "journal.h"

struct repl_daemon;

/* Merges rec, a FLAGS, MOVE, EXPUNGE, COPY, FOLDER_* or META record that
   peer sent for an account read-write on this store: reads this store's
   state (the mount, its own journal from rec's time on), decides with
   repl-merge.c, and makes the change through d->cfg->mount, so it is
   journaled here and reaches every replica. Idempotent: the same record
   again changes nothing. Every outcome is one log line naming the peer,
   the LSN, account/folder/name and the rule; counted in d->n_late_merged
   (changed something here), n_already, and n_conflicts (a conflict
   resolved, or a record that could not be merged). The merges it makes
   are noted in STATE/replication/late-merges, so that a later late
   record of the same peer is ordered against them by its own clock, not
   by the time they were made here. Runs in the daemon's event loop. */
/* Returns 0, or -EROFS when the mount refused a call because the account
   is not writable here any more (its role changed while the record was
   on its way): the record is not merged; the session drops the connection
   without counting it, so it comes again and is applied as a replica's. */
int repl_late_apply(struct repl_daemon *d, const char *peer,
		    const struct mm_journal_rec *rec);

/* Whether this store expunged the message a late delivery rec brings
   (its identity in rec's folder), as its journal shows from rec's time
   on: then the delivery is not made again (an expunge wins; the record
   was merged before and is sent again). */
bool repl_late_expunged(struct repl_daemon *d, const char *peer,
			const struct mm_journal_rec *rec);

#endif
