/* SPDX-License-Identifier: MIT
 * digest.h - the per-folder digest two stores compare to learn whether a
 * folder is the same on both: its lines and their XXH3-128. Pure; walking
 * a store belongs to the replicator's resync and to mailmesh-fsck. */
#ifndef MM_DIGEST_H
#define MM_DIGEST_H
#include <stddef.h>
#include <stdint.h>
#include "maildir.h"

/* The line of each thing a folder holds (new strings, the caller frees):
   "F" the folder exists; "M sub/name size" a message, its content not
   read (Maildir never rewrites a message under its name; the size catches
   a copy cut short); "M sub/name size hash" the same with the XXH3-128 of
   its content (hash non-NULL: fsck's content check); "X name size hash" a
   metadata file (small and rewritten in place: always its hash). */
char *mm_digest_line_folder(void);
char *mm_digest_line_msg(enum mm_sub sub, const char *name, size_t name_len,
			 uint64_t size, const uint8_t *hash);
char *mm_digest_line_meta(const char *name, size_t name_len, uint64_t size,
			  const uint8_t hash[16]);
/* The same lines appended to b, each with its NUL (no allocation per
   line: a folder's lines go back to back into one buffer). */
struct mm_buf;
void mm_digest_put_msg(struct mm_buf *b, enum mm_sub sub, const char *name, size_t name_len,
		       uint64_t size, const uint8_t *hash);
void mm_digest_put_meta(struct mm_buf *b, const char *name, size_t name_len, uint64_t size,
			const uint8_t hash[16]);

/* Sorts lines[0..n) by strcmp and hashes them in that order (each with
   its NUL) into digest_r: equal sets of lines give equal digests. */
void mm_digest_lines(char **lines, size_t n, uint8_t digest_r[16]);

/* The same for n lines held back to back in lines (each with its NUL,
   as mm_digest_put_* leave them), in any order: the digest
   mm_digest_lines gives for them. Lines already in order (the usual
   case: a walk's order) are hashed as they lie, without a sort. */
void mm_digest_buf(const struct mm_buf *lines, size_t n, uint8_t digest_r[16]);

/* The same, incrementally, for lines already in order (an array sorted
   by the caller): _init, _add per line, _final. */
struct mm_digest;
struct mm_digest *mm_digest_init(void);
void mm_digest_add(struct mm_digest *dg, const char *line);
/* Writes the digest and frees dg (NULLs the caller's pointer). */
void mm_digest_final(struct mm_digest **dgp, uint8_t digest_r[16]);

#endif
