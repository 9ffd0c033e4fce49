/* SPDX-License-Identifier: MIT
 * journal-file.h - the journal on disk: segment files in STATE/journal,
 * append with group commit, torn-tail recovery, retention, content links
 * in STATE/content, and a reader that waits for new records (inotify). */
#ifndef MM_JOURNAL_FILE_H
#define MM_JOURNAL_FILE_H
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include "cfg.h"
#include "journal.h"

#define MM_JSEG_MAGIC "MMJSEG01"
#define MM_JSEG_HDR_SIZE 32
/* The segment framing's version: 1 still. Each record carries its own
   format version (journal.h), so a segment begun before an upgrade goes
   on with newer records. */
#define MM_JSEG_VERSION 1
/* Bytes of journal held back on disk for expunges when the disk is full. */
#define MM_JOURNAL_RESERVE (256 * 1024)

struct mm_journal;
struct mm_jseg;

/* Where an appended record lives, so its status byte can be set. */
struct mm_journal_ref {
	struct mm_jseg *seg;
	off_t off;
	uint64_t lsn;
};

struct mm_journal_settings {
	enum mm_fsync fsync;
	uint64_t segment_size;
	uint64_t retention_s, retention_bytes;
	unsigned int batch_interval_ms;
	int store_fd;	/* syncfs()ed before the journal when the store is on
			   another filesystem; -1 when they share one */
};

/* Opens (creating) the journal under state_dir, takes its lock, recovers:
   truncates a torn tail and reports corrupt records (segment, offset) in
   the log, and collects PENDING records for mm_journal_pending(). Returns
   0 or -1 with *error_r (static, this thread). */
int mm_journal_open(const char *state_dir, const struct mm_journal_settings *set,
		    struct mm_journal **j_r, const char **error_r);
/* Starts the batch flusher thread (fsync = batch). Separate from open so a
   daemon can fork after recovery and before threads exist. 0 or -1. */
int mm_journal_start(struct mm_journal *j, const char **error_r);
/* Makes everything durable, stops the flusher, closes and frees. */
void mm_journal_close(struct mm_journal **jp);

/* Records found PENDING at open. The array belongs to j; after resolving
   each with mm_journal_finish(), call mm_journal_pending_done(). */
void mm_journal_pending(struct mm_journal *j, struct mm_journal_ref **refs_r,
			size_t *n_r);
void mm_journal_pending_done(struct mm_journal *j);
/* Reads the record at ref into buf; *rec_r borrows from buf. 0 or -1. */
int mm_journal_read_ref(struct mm_journal *j, const struct mm_journal_ref *ref,
			struct mm_buf *buf, struct mm_journal_rec *rec_r,
			const char **error_r);

/* Appends rec as PENDING, assigning rec->lsn and rec->time_ns (a hybrid
   logical clock: the wall clock, but always above the time of the record
   before it in this journal and of any time observed). The record is
   in the kernel (survives the process) but not yet durable. Returns 0, or a
   negative errno (ENOSPC, EIO, EFBIG) with nothing appended. Thread-safe. */
int mm_journal_append(struct mm_journal *j, struct mm_journal_rec *rec,
		      struct mm_journal_ref *ref_r);
/* Sets the status of an appended record (COMMITTED or ABORTED) and
   releases ref. Thread-safe. */
void mm_journal_finish(struct mm_journal *j, struct mm_journal_ref *ref,
		       enum mm_rec_status status);
/* Returns once every record up to lsn is durable (group commit: one
   fdatasync serves every waiter). 0 or a negative errno. No-op in never. */
int mm_journal_sync(struct mm_journal *j, uint64_t lsn);
/* Whether an op of this kind must be durable before its call returns. */
bool mm_journal_must_sync(const struct mm_journal *j, enum mm_op op);

/* Hard-links (or, across filesystems, copies) the file at dirfd/path as the
   content of ref's record, so it stays readable until shipped. 0 or -errno. */
int mm_journal_content_link(struct mm_journal *j, const struct mm_journal_ref *ref,
			    int dirfd, const char *path);
void mm_journal_content_unlink(struct mm_journal *j, const struct mm_journal_ref *ref);
/* Removes segments past retention and their content. Returns how many. */
unsigned int mm_journal_prune(struct mm_journal *j, uint64_t now_s);
uint64_t mm_journal_last_lsn(struct mm_journal *j);
/* Raises the clock: every record appended after this gets a time above
   time_ns (a time this store has seen from another, e.g. what the
   replicator applied, when an account becomes read-write here).
   Thread-safe. */
void mm_journal_observe(struct mm_journal *j, uint64_t time_ns);
/* The time of the last record appended or recovered, or observed. */
uint64_t mm_journal_last_time(struct mm_journal *j);
/* Highest LSN known to be on stable storage. */
uint64_t mm_journal_durable_lsn(struct mm_journal *j);

/* Reader: records in LSN order from from_lsn, COMMITTED only. */
struct mm_journal_reader;
int mm_journal_reader_open(const char *state_dir, uint64_t from_lsn,
			   struct mm_journal_reader **r_r, const char **error_r);
void mm_journal_reader_close(struct mm_journal_reader **rp);
/* Returns 1 with *rec_r (borrowed until the next call), 0 when no further
   committed record is there yet (the next one may be PENDING), or -1 when a
   corrupt record was skipped: *error_r names segment and offset, and the
   next call goes on after it. A corrupt record is never returned. */
int mm_journal_reader_next(struct mm_journal_reader *r, struct mm_journal_rec *rec_r,
			   const char **error_r);
/* Raw mode: also return PENDING and ABORTED records (recovery, forensics)
   instead of stopping at the first PENDING one. */
void mm_journal_reader_set_raw(struct mm_journal_reader *r, bool raw);
/* After mm_journal_reader_next() returned -1 for corrupt bytes: where they
   are (the segment's first LSN, byte offset and length). false if the
   last error was of another kind. */
bool mm_journal_reader_bad(const struct mm_journal_reader *r, uint64_t *seg_first_r,
			   uint64_t *off_r, uint64_t *len_r);
/* Replaces len corrupt bytes at off of segment seg_first with one filler
   record (aborted, MM_RECF_FILLER) of exactly that length, after copying
   them to save_fd (synced). Refuses bytes that decode as a record, and a
   range that does not end at a record or at the end of the segment.
   0, or -1 with *error_r. */
int mm_journal_fill(const char *state_dir, uint64_t seg_first, uint64_t off, uint64_t len,
		    int save_fd, const char **error_r);
/* Blocks until the journal changes or timeout_ms passes (-1: forever).
   1 changed, 0 timed out, -1 error. */
int mm_journal_reader_wait(struct mm_journal_reader *r, int timeout_ms);
/* An fd that becomes readable when the journal changes (for event loops);
   call mm_journal_reader_wait(r, 0) to drain it. */
int mm_journal_reader_fd(const struct mm_journal_reader *r);
/* Whether the reader had to skip records because retention removed their
   segments before it got there: true with the first and last LSN lost. */
bool mm_journal_reader_gap(const struct mm_journal_reader *r, uint64_t *from_r,
			   uint64_t *to_r);
/* An LSN to start reading state_dir's journal at so as to see every
   record with a time at or after time_ns: the first LSN of the newest
   segment whose first record is older than time_ns (the first segment if
   none is; 1 without a journal). Records before it are all older. */
uint64_t mm_journal_lsn_since(const char *state_dir, uint64_t time_ns);
/* The first LSN of the oldest segment in state_dir's journal, 0 if none. */
uint64_t mm_journal_first_lsn(const char *state_dir);
/* XXH3-128 (canonical, as records carry it) of everything fd holds from
   offset 0, and how many bytes that was. 0, or -errno. */
int mm_content_hash(int fd, uint64_t *size_r, uint8_t hash_r[16]);
/* Opens the content kept for the record last returned. fd or -errno. */
int mm_journal_reader_content_open(struct mm_journal_reader *r);

#endif
