/* SPDX-License-Identifier: MIT
 * journal.h - the journal record: mail operations, their on-disk framing
 * (length, version, XXH3 checksum) and encode/decode. Pure; no I/O. */
#ifndef MM_JOURNAL_H
#define MM_JOURNAL_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "buf.h"

/* Records are written in version 2 (epoch after the content hash);
   version 1 records (no epoch: 0) are still read. */
#define MM_JOURNAL_VERSION 2
#define MM_JOURNAL_VERSION_MIN 1
#define MM_JOURNAL_REC_MAGIC 0x524a4d4dU	/* "MMJR" little-endian */
#define MM_JOURNAL_HDR_SIZE 24
#define MM_JOURNAL_STATUS_OFF 9		/* the one byte updated in place */
#define MM_JOURNAL_REC_MAX (64U << 20)
#define MM_JOURNAL_DATA_MAX (16U << 20)

enum mm_op {
	MM_OP_DELIVER = 1,
	MM_OP_MOVE,		/* new/ <-> cur/ in one folder */
	MM_OP_FLAGS,		/* same identity, other flags */
	MM_OP_EXPUNGE,
	MM_OP_COPY,		/* a message linked or renamed into another folder */
	MM_OP_FOLDER_CREATE,
	MM_OP_FOLDER_RENAME,
	MM_OP_FOLDER_DELETE,
	MM_OP_META,		/* whole-file replacement (or removal) of metadata */
	MM_OP_LAST = MM_OP_META,
};

/* A record's state, the only byte written after the record: it is appended
   PENDING before the store is touched, and set once the operation has
   succeeded or failed. Readers stop at PENDING and skip ABORTED. */
enum mm_rec_status {
	MM_REC_PENDING = 'P',
	MM_REC_COMMITTED = 'C',
	MM_REC_ABORTED = 'A',
};

#define MM_RECF_FILLER 0x80	/* padding mailmesh-fsck --repair wrote over corrupt
				   bytes: skipped by every reader, whatever its status */
#define MM_RECF_DELETED 0x1	/* META: the file was removed */
#define MM_RECF_CRASH 0x2	/* written by crash recovery */
#define MM_RECF_RESYNC 0x4	/* not in any journal: the replicator's picture of
				   a file as it is in the store (lsn 0), sent by a
				   resync; applied to make the replica match it */
#define MM_RECF_RESYNC_BEGIN 0x10	/* on the wire only, with RESYNC: a resync of
					   the account starts (a folder_create of "") */
#define MM_RECF_RESYNC_END 0x20	/* ... it ended; size: the records it sent */
#define MM_RECF_HAVE 0x40	/* on the wire only, with RESYNC on a DELIVER: the
				   peer listed this identity with this size, so no
				   content follows and none is checked */
#define MM_RECF_REPLAY 0x8	/* on the wire only: a journal record sent again
				   after a pause, below the peer's cursor; applied
				   all the same, and it moves no cursor */

/* One operation. Strings are NUL-terminated; after decode they borrow from
   the decoded bytes. Unused strings are "". */
struct mm_journal_rec {
	uint64_t lsn;
	uint64_t time_ns;	/* when journaled: wall clock, above the record before */
	uint64_t epoch;		/* the account's epoch (mailmesh-hbmon) under which
				   the mount wrote it; 0: unfenced, or version 1 */
	enum mm_op op;
	uint8_t status;
	uint8_t sub, new_sub;	/* enum mm_sub */
	uint32_t rflags;
	const char *account, *folder, *name, *new_folder, *new_name;
	uint64_t size;
	uint8_t hash[16];	/* XXH3-128 of the content, big-endian */
	int64_t mtime_ns;
	uint32_t mode, uid, gid;
	const unsigned char *data;	/* META content */
	uint32_t data_len;
};

enum mm_err {
	MM_ERR_TRUNCATED = -1,	/* need more bytes */
	MM_ERR_MAGIC = -2,
	MM_ERR_VERSION = -3,
	MM_ERR_CHECKSUM = -4,
	MM_ERR_FORMAT = -5,
	MM_ERR_TOOBIG = -6,
};
const char *mm_strerror(int err);

const char *mm_op_str(enum mm_op op);
/* Returns the op for a name, or 0. */
enum mm_op mm_op_parse(const char *s);

/* Appends rec's framed encoding (MM_JOURNAL_VERSION) to out. Returns 0,
   or MM_ERR_TOOBIG. */
int mm_journal_encode(const struct mm_journal_rec *rec, struct mm_buf *out);
/* The same in an older version (MM_JOURNAL_VERSION_MIN..): version 1 has
   no epoch and is 8 bytes shorter (mailmesh-fsck's filler over a short
   corrupt range of an old segment). MM_ERR_VERSION for another version. */
int mm_journal_encode_as(const struct mm_journal_rec *rec, unsigned int version,
			 struct mm_buf *out);
/* Decodes one record at data. Returns 0 with *rec_r and *used_r set
   (rec_r borrows from data), MM_ERR_TRUNCATED when more bytes are needed,
   another MM_ERR_* when the bytes are corrupt. Never a partial result. */
int mm_journal_decode(const unsigned char *data, size_t size,
		      struct mm_journal_rec *rec_r, size_t *used_r);
/* Hex of the 16-byte hash into 33 bytes. */
void mm_hash_hex(const uint8_t hash[16], char out[33]);

#endif
