/* SPDX-License-Identifier: MIT
 * fsck-store.h - mailmesh-fsck's I/O on this store: reading the journal
 * into the replayed state, and the repairs (quarantine into
 * STATE/lost+found, missing cur/new/tmp, installing a fetched copy,
 * renames), each followed by an invalidation of the mount's cache. */
#ifndef FSCK_STORE_H
#define FSCK_STORE_H
#include <stdbool.h>
#include <stdint.h>
#include "cfg.h"
#include "fsck-core.h"

struct mm_journal_reader;

/* The journal of this store, read once to its end and again after the
   walk. */
struct fsck_journal {
	struct mm_journal_reader *r;
	struct fsck_jstate *js;
	uint64_t first_lsn, last_lsn;	/* last: what it held when first read */
	int64_t first_ns;		/* the oldest record's time */
	uint64_t records, corrupt;
	uint64_t filled;	/* filler records of earlier repairs */
	uint64_t acked;			/* the lowest LSN every peer acknowledged */
	bool any;			/* it has records */
};

/* Opens STATE/journal and reads it to its end: corrupt records, LSN
   order and unshipped deliveries whose content is gone go into r.
   0, or -1 with *error_r (static) when it cannot be read at all. */
int fsck_journal_read(const struct mm_cfg *cfg, struct fsck_journal *j,
		      struct fsck_report *r, const char **error_r);
/* Reads what was appended since (changes made during the walk). */
void fsck_journal_more(struct fsck_journal *j, struct fsck_report *r);
void fsck_journal_close(struct fsck_journal *j);

/* Moves STORE/ACCOUNT/FOLDER/PATH into STATE/lost+found/RUN/ACCOUNT/
   FOLDER/PATH with a PATH.why note beside it (kind, detail, where from,
   when); never deletes (a copy, synced, before the unlink when state is
   on another filesystem). 0, or -1 with *error_r (static). */
/* JOURNAL_CORRUPT: saves the corrupt bytes to STATE/lost+found/RUN/journal/
   (with a .why) and writes a filler record over them (mm_journal_fill). */
int fsck_fill(const struct mm_cfg *cfg, const char *run, const struct fsck_problem *p,
	      char **where_r, const char **error_r);
int fsck_quarantine(const struct mm_cfg *cfg, const char *run, const struct fsck_problem *p,
		    char **where_r, const char **error_r);
/* Creates the folder's missing cur/, new/, tmp/. 0 or -1. */
int fsck_mkdirs(const struct mm_cfg *cfg, const struct fsck_problem *p, const char **error_r);
/* Renames the message at p->path to p->want in the same folder; fails
   rather than replace an existing file. 0 or -1. */
int fsck_rename(const struct mm_cfg *cfg, const struct fsck_problem *p, const char **error_r);
/* Installs content (size bytes at fd) as FOLDER/WANT: staged in the
   folder's tmp/, checked against hash, given mode, owner and mtime, and
   renamed into place without replacing anything. 0 or -1. */
struct fsck_meta {
	uint64_t size;
	int64_t mtime_ns;
	uint32_t mode, uid, gid;
	uint8_t hash[16];
};
int fsck_install(const struct mm_cfg *cfg, const char *account, const char *folder,
		 const char *want, const unsigned char *data, const struct fsck_meta *m,
		 const char **error_r);
/* Tells mailmesh-fs (if it runs) to drop its cache of a store-relative
   path and its directory. */
void fsck_invalidate(const struct mm_cfg *cfg, const char *relpath);

#endif
