/* SPDX-License-Identifier: MIT
 * fsck-core.h - mailmesh-fsck's decisions: the journal replayed into what
 * each message should be, a store's inventory judged against it and
 * against the Maildir rules, two stores' folders compared, the problems
 * found and the exit code. Pure: no I/O, no clock, no logging. */
#ifndef FSCK_CORE_H
#define FSCK_CORE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "inventory.h"
#include "journal.h"

/* e2fsck's exit codes */
#define FSCK_EXIT_CLEAN 0
#define FSCK_EXIT_FIXED 1
#define FSCK_EXIT_LEFT 4
#define FSCK_EXIT_OPERATIONAL 8

/* Stale: a tmp/ file older than this was abandoned by its writer. */
#define FSCK_TMP_STALE_NS (36ULL * 3600 * 1000000000)

enum fsck_kind {
	/* the Maildir rules */
	FSCK_NO_SUBDIR = 1,	/* a folder lacks cur/, new/ or tmp/ */
	FSCK_BAD_NAME,		/* a file in new/ or cur/ that is not a message */
	FSCK_DUP_IDENTITY,	/* a message identity twice in one folder */
	FSCK_NEW_FLAGS,		/* a file in new/ with flags */
	FSCK_STALE_TMP,		/* a tmp/ file older than 36 hours */
	FSCK_SIZE_TAG,		/* the S= tag is not the file's size */
	/* the journal */
	FSCK_JOURNAL_CORRUPT,	/* a record fails its checks */
	FSCK_JOURNAL_ORDER,	/* LSNs not dense and increasing */
	FSCK_UNJOURNALED,	/* in the store, no record: made behind the mount */
	FSCK_GONE,		/* the journal has it, the store not: removed behind the mount */
	FSCK_CONTENT_LOST,	/* unshipped delivery whose content link is gone */
	FSCK_CORRUPT,		/* content not its recorded hash (or size) */
	FSCK_UNREADABLE,	/* content could not be read */
	/* against a peer */
	FSCK_PEER_MISSING,	/* message or metadata file on one store only */
	FSCK_PEER_EXTRA,
	FSCK_PEER_CONTENT,	/* same name, other content */
	FSCK_PEER_FLAGS,	/* same identity, other flags or sub */
	FSCK_PEER_META,		/* metadata file differs */
	FSCK_PEER_FOLDER,	/* a folder on one store only */
	FSCK_PEER_ACCOUNT,	/* the peer should hold the account and has none */
	FSCK_PEER_UNREACHABLE,	/* the peer could not be asked */
	FSCK_KIND_LAST = FSCK_PEER_UNREACHABLE,
};

/* What --repair can do about a problem. */
enum fsck_fix {
	FSCK_FIX_NONE = 0,	/* nothing: a human decides */
	FSCK_FIX_QUARANTINE,	/* move the file to lost+found */
	FSCK_FIX_MKDIR,		/* create the missing cur/new/tmp */
	FSCK_FIX_FETCH,		/* quarantine (if there), fetch the active store's copy */
	FSCK_FIX_RENAME,	/* give the file the active store's name */
	FSCK_FIX_RESYNC,	/* have this store's replicator resync the peer */
	FSCK_FIX_FILL,		/* save corrupt journal bytes, write a filler over them */
};

struct fsck_problem {
	enum fsck_kind kind;
	enum fsck_fix fix;
	bool fixed;
	char *store;		/* where the problem is (a peer's name, or ours) */
	char *account, *folder;	/* folder below the account; "" its root */
	char *path;		/* below the folder: "cur/NAME", "dovecot-uidlist"; or
				   the journal segment */
	char *detail;		/* what exactly, for a human */
	char *want;		/* FETCH and RENAME: the active store's sub/name */
	uint64_t offset;	/* JOURNAL_*: byte offset in the segment */
	uint64_t length;	/* JOURNAL_CORRUPT: how many bytes */
	uint64_t segment;	/* JOURNAL_CORRUPT: the segment's first LSN */
};

struct fsck_report {
	struct fsck_problem *p;
	size_t n, cap;
	bool operational;	/* something could not be checked at all */
	uint64_t messages, bytes, predating;	/* predating: older than the journal */
};

/* Adds a problem (strings copied; NULL is ""); returns it to set more. */
struct fsck_problem *fsck_report_add(struct fsck_report *r, enum fsck_kind kind,
				     enum fsck_fix fix, const char *store,
				     const char *account, const char *folder,
				     const char *path, const char *fmt, ...)
	__attribute__((format(printf, 8, 9)));
void fsck_report_free(struct fsck_report *r);
/* 0 none, 1 every problem fixed, 4 some left, 8 operational (wins). */
int fsck_exit_code(const struct fsck_report *r);
/* "unjournaled", "corrupt", "peer-missing", ... (stable: --json uses it). */
const char *fsck_kind_str(enum fsck_kind kind);
const char *fsck_fix_str(enum fsck_fix fix);

/* ---- the journal, replayed ---- */

/* What the journal says of one message identity in a folder. */
struct fsck_jmsg {
	char *name;		/* its last journaled name */
	uint8_t sub;
	bool present;		/* false once expunged */
	bool has_hash;
	uint8_t hash[16];
	uint64_t size;
	uint64_t lsn;		/* of its last record */
};

struct fsck_jstate;
struct fsck_jstate *fsck_jstate_new(void);
void fsck_jstate_free(struct fsck_jstate **jsp);
/* Applies one committed record (a copy of what is needed is kept). */
void fsck_jstate_apply(struct fsck_jstate *js, const struct mm_journal_rec *rec);
/* The state of account/folder/identity (identity: base before ':'), or
   NULL when the journal never named it. Borrowed from js. */
const struct fsck_jmsg *fsck_jstate_get(const struct fsck_jstate *js, const char *account,
					const char *folder, const char *identity,
					size_t identity_len);
/* Iterates the messages the journal has present in account:
   *folder_r and the result borrow from js; returns NULL at the end.
   *pos starts at 0. */
const struct fsck_jmsg *fsck_jstate_next(const struct fsck_jstate *js, const char *account,
					 size_t *pos, const char **folder_r);

/* ---- judging a store ---- */

struct fsck_store_ctx {
	const char *store;	/* this store's name, for problems */
	bool journaled;		/* the account is read-write here: its changes
				   are journaled here (false on a replica) */
	struct fsck_jstate *js;	/* NULL: no journal check (marks what the
				   walk met: one fsck_check_account at a time) */
	uint64_t scan_lsn;	/* the journal's last LSN when the walk began:
				   records after it are changes made meanwhile */
	int64_t journal_since_ns;	/* the oldest record's time; a file whose
				   ctime is before it may predate the journal */
	bool journal_damaged;	/* corrupt records: an unjournaled message may
				   be one whose record was lost, never quarantined */
	int64_t now_ns;
};

/* Checks one account's inventory by the Maildir rules and, when
   ctx->js is set and ctx->journaled, against the journal and the
   recorded hashes (with inv->content). Adds to r. */
void fsck_check_account(const struct fsck_store_ctx *ctx, const struct mm_inv *inv,
			struct fsck_report *r);

/* ---- two stores ---- */

/* Compares one folder of ours (a) with the peer's (b, NULL when it has
   no such folder; a NULL when we do not). Problems name the peer's store
   when b_is_ref is false (the peer differs from us, we are the
   reference), else ours. With content, equal names with other hashes are
   FSCK_PEER_CONTENT. Adds to r; returns how many differences. */
struct fsck_cmp {
	const char *a_store, *b_store, *account;
	bool b_is_ref;		/* b is the account's active store */
	bool a_is_ref;		/* a is; when neither, problems are only reported */
	bool content;
};
size_t fsck_compare_folder(const struct fsck_cmp *c, const struct mm_inv_folder *a,
			   const struct mm_inv_folder *b, struct fsck_report *r);

#endif
