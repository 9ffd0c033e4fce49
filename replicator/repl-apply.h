/* SPDX-License-Identifier: MIT
 * repl-apply.h - applies one journal record from a peer to this node's store
 * directory: refuses hostile records, stages incoming content, does the op.
 * Connections, acknowledgements and telling the FUSE mount belong to others. */
#ifndef REPL_APPLY_H
#define REPL_APPLY_H
#include <stddef.h>
#include "buf.h"
#include "journal.h"

/* An open store directory (STORE/<account>/<folder>/{cur,new,tmp}). One
   thread at a time may use a store and the stages opened on it. */
struct repl_store;
/* Content being received for one record, in a file that is never visible
   in new/ or cur/ (see repl_stage_open). */
struct repl_stage;

enum repl_result {
	REPL_APPLIED = 0,	/* the store changed as the record says */
	REPL_ALREADY = 1,	/* nothing to do: the store already agrees */
	REPL_MISSING = 2,	/* what to move/flag/copy is not there: resync */
	REPL_CONFLICT = 3,	/* the store disagrees in a way the record cannot fix */
};

/* The store-relative paths (no leading '/', e.g.
   "example.org/alice/.Sent/cur/NAME") that repl_apply() created, removed,
   renamed (both names) or replaced, in the order it did so: each
   NUL-terminated, back to back in buf; count says how many. A path may
   repeat. Zero-initialise; repl_apply() appends, so one list can gather a
   batch. The daemon passes each to the mount's "inval RELPATH". */
struct repl_changes {
	struct mm_buf buf;
	unsigned int count;
};
/* Returns the path at *pos (start with *pos = 0) and advances *pos, or NULL
   after the last. The string borrows from ch. */
const char *repl_changes_next(const struct repl_changes *ch, size_t *pos);
void repl_changes_reset(struct repl_changes *ch);
void repl_changes_free(struct repl_changes *ch);

/* Opens store_dir, which must exist. account_depth is the number of path
   components of an account (2 for "example.org/alice"). Returns 0 with
   *st_r (free with repl_store_close), or -1 with *error_r (static, this
   thread). */
int repl_store_open(const char *store_dir, unsigned int account_depth,
		    struct repl_store **st_r, const char **error_r);
void repl_store_close(struct repl_store **stp);
/* From now on an expunge keeps the message it removes below dir
   (repl-expunged.c; NULL: not kept), unless it is the second half of a
   move (a copy of the same identity out of the folder just before). */
void repl_store_retain(struct repl_store *st, const char *dir);
/* Messages kept, and expunges applied without keeping theirs. */
void repl_store_retained(const struct repl_store *st, uint64_t *kept_r, uint64_t *failed_r);

/* Starts receiving the content of rec (deliver, copy, or a meta record
   whose content did not fit in it): checks rec as repl_apply() does,
   creates the folder if it is missing (with cur/ new/ tmp/ for deliver and
   copy, where it is new_folder; only the directories for meta), and creates
   an O_EXCL file ".mmrepl.<lsn>.<pid>.<seq>" in the folder's tmp/ (for meta:
   in the directory of the metadata file, so the final rename stays in one
   directory). The directories it makes are reported in the changes of the
   next repl_apply() on st. Returns 0 with *stage_r and *fd_r, an fd open
   for reading and writing that the stage owns (write the bytes to it, never
   close it), or -1 with *error_r (borrows from st until its next call).
   Pass the stage to repl_apply(), which consumes it, or to
   repl_stage_abort(). */
int repl_stage_open(struct repl_store *st, const struct mm_journal_rec *rec,
		    struct repl_stage **stage_r, int *fd_r, const char **error_r);
/* Removes the staged file, closes its fd, frees the stage and NULLs
   *stagep. A NULL *stagep is fine. */
void repl_stage_abort(struct repl_store *st, struct repl_stage **stagep);
/* The caller hashed the bytes it wrote to the stage as they went in (size
   bytes, XXH3-128 canonical): repl_apply() checks that against the record
   instead of reading the file again, when the file has that size. */
void repl_stage_hashed(struct repl_stage *stage, uint64_t size, const uint8_t hash[16]);

/* Applies rec to the store. *stagep (may be NULL, or point to NULL) is the
   content: required for deliver, optional for copy (used when the source
   message is not in the store) and meta (used instead of rec->data, for a
   file over MM_JOURNAL_DATA_MAX); ignored by other ops. The stage is
   consumed in every case (renamed into place or removed) and *stagep is
   NULLed. changes (may be NULL) gets every path changed, also on failure,
   and those of the repl_stage_open() calls since the last repl_apply().
   Returns an enum repl_result (>= 0), or -1 with *error_r (borrows from st
   until its next call) when the record is invalid or hostile (a bad
   account, folder or name, a wrong size or hash: the store is left as it
   was), when a symlink or a non-directory is where a directory should be
   (nothing is done through it), or when a call failed. A message or metadata file
   appears in place whole (rename) with its mode, owner and mtime already
   set; applying a record again gives the same tree and REPL_ALREADY.
   Nothing is synced here (see repl_store_sync): after a power failure
   re-applying the unacknowledged records repairs what was lost (a message
   cut short is replaced, as its size differs from the record's). A crash
   between mkdir(2) and fchown(2) leaves that directory owned by root.
   What each op does is described in repl-apply.c. */
int repl_apply(struct repl_store *st, const struct mm_journal_rec *rec,
	       struct repl_stage **stagep, struct repl_changes *changes,
	       const char **error_r);
/* Makes everything applied so far durable: syncfs(2) on the store, once
   per batch, before the batch is acknowledged. 0, or -1 with *error_r
   (borrows from st). */
int repl_store_sync(struct repl_store *st, const char **error_r);

/* "applied", "already", "missing", "conflict". */
const char *repl_result_str(int result);

#endif
