/* SPDX-License-Identifier: MIT
 * refused.h - STATE/replication/refused: the records a replicator refused
 * to apply (a stale epoch), kept whole for the operator. Writing is the
 * replicator's; mailmeshctl and mailmesh-fsck read them. */
#ifndef MM_REFUSED_H
#define MM_REFUSED_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "journal.h"

/* Below STATE: PEER.mmj holds the records PEER sent that were refused, in
   the journal's record encoding (journal.h), back to back as received (no
   segment header); content/HEX (HEX: the record's XXH3-128) the content
   of a refused delivery, checked against it. */
#define MM_REFUSED_DIR "replication/refused"

/* Appends one record (len bytes, one mm_journal_encode() record) to
   PEER.mmj and fdatasyncs it (and the directories it made). peer must be
   a plain file name. 0, or -1 with *error_r (static, per thread). */
int mm_refused_append(const char *state_dir, const char *peer, const unsigned char *rec,
		      size_t len, const char **error_r);
/* The highest LSN among PEER.mmj's records (0: none, or no file). */
uint64_t mm_refused_last_lsn(const char *state_dir, const char *peer);

/* A new file in content/ for a refused delivery's content, under a
   temporary name. The fd (read-write) with *tmp_r (the caller frees it),
   or -1 with *error_r. */
int mm_refused_content_open(const char *state_dir, const char *peer, uint64_t lsn,
			    char **tmp_r, const char **error_r);
/* fsyncs it and renames tmp to content/HEX of hash (its directory synced);
   closes fd either way, removes tmp on error. 0 or -1 with *error_r. */
int mm_refused_content_commit(const char *state_dir, int fd, const char *tmp,
			      const uint8_t hash[16], const char **error_r);
/* Whether content/HEX of hash is there. */
bool mm_refused_content_has(const char *state_dir, const uint8_t hash[16]);

/* Every record of every PEER.mmj, peers in name order, records in file
   order. */
struct mm_refused_iter;
/* 0 with *it_r (no directory: an empty iteration), or -1 with *error_r. */
int mm_refused_iter_init(const char *state_dir, struct mm_refused_iter **it_r,
			 const char **error_r);
/* 1 with *peer_r and *rec_r (both borrowed until the next call), 0 at
   the end, -1 when bytes of a file do not decode: *error_r names the
   file, the offset and how many bytes were skipped, and the next call
   goes on after them. */
int mm_refused_iter_next(struct mm_refused_iter *it, const char **peer_r,
			 struct mm_journal_rec *rec_r, const char **error_r);
void mm_refused_iter_deinit(struct mm_refused_iter **itp);

#endif
