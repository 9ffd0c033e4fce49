/* SPDX-License-Identifier: MIT
 * inventory.h - one account as it is in a store directory: its folders,
 * messages, metadata files, tmp/ files and files that are not mail, with
 * sizes, times and (optionally) content hashes, and a digest per folder
 * (lib/digest.c). mailmesh-fsck checks it; a replicator serves it to a
 * peer's fsck. Deciding what is wrong belongs to tools/fsck-core.c. */
#ifndef MM_INVENTORY_H
#define MM_INVENTORY_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "maildir.h"

struct mm_rules;

enum mm_inv_kind {
	MM_INV_MESSAGE = 'M',	/* a file in new/ or cur/ */
	MM_INV_META = 'X',	/* dovecot-uidlist and the like */
	MM_INV_TMP = 'T',	/* a file in tmp/ */
	MM_INV_OTHER = 'U',	/* in new/ or cur/ but not a message file
				   (a directory, a device, a name that cannot
				   be a message's) */
};

struct mm_inv_entry {
	char kind;		/* enum mm_inv_kind */
	uint8_t sub;		/* enum mm_sub: MESSAGE, TMP, OTHER */
	char *name;		/* below the folder's sub (META: below the folder) */
	uint64_t size;
	int64_t mtime_ns, ctime_ns;
	uint32_t mode, uid, gid;
	bool hashed;		/* hash holds the content's XXH3-128 */
	int read_errno;		/* content could not be read: why (0: fine) */
	uint8_t hash[16];
};

#define MM_INV_HAS_CUR 1
#define MM_INV_HAS_NEW 2
#define MM_INV_HAS_TMP 4

struct mm_inv_folder {
	char *name;		/* below the account, "" for its root */
	unsigned int subs;	/* MM_INV_HAS_*: which of cur/new/tmp are there */
	struct mm_inv_entry *e;	/* sorted by kind, then name, then sub */
	size_t n;
	uint8_t digest[16];	/* of "F", the messages and metadata files */
	uint64_t count;		/* lines in the digest */
};

struct mm_inv {
	char *account;
	bool content;		/* messages were read and hashed */
	bool missing;		/* the account has no directory here */
	struct mm_inv_folder *f;	/* sorted by name */
	size_t n;
	uint64_t files, bytes;	/* files seen, bytes read */
};

/* Progress: called every few hundred files with what was done so far. */
struct mm_inv_progress {
	void (*tick)(void *ctx, uint64_t files, uint64_t bytes);
	void *ctx;
};

/* Walks STORE/ACCOUNT now (no symbolic link followed; IGNORE and plain
   files skipped). With content, every message and metadata file is read
   and hashed (metadata files always are). A file that goes away during
   the walk is left out. Returns 0 with *inv_r (the caller frees it with
   mm_inv_free), or -1 with *error_r (static, this thread) when the
   account directory cannot be read; an account that is not there is a
   result with missing set. progress may be NULL. */
int mm_inv_scan(const char *store, const char *account, const struct mm_rules *rules,
		bool content, const struct mm_inv_progress *progress,
		struct mm_inv **inv_r, const char **error_r);
/* The same with up to threads threads (the caller's among them) stating
   and reading the files of a large directory; 0 and 1 are the caller's
   thread alone, as mm_inv_scan. The result does not depend on it.
   progress->tick is called from the caller's thread only. */
int mm_inv_scan_threads(const char *store, const char *account, const struct mm_rules *rules,
			bool content, unsigned int threads,
			const struct mm_inv_progress *progress, struct mm_inv **inv_r,
			const char **error_r);
void mm_inv_free(struct mm_inv **invp);
/* Folder named name, or NULL (binary search). */
const struct mm_inv_folder *mm_inv_folder_find(const struct mm_inv *inv, const char *name);
/* Computes f's digest and count from its entries (as mm_inv_scan does):
   with content, message lines carry the hash. */
void mm_inv_folder_digest(struct mm_inv_folder *f, bool content);
/* Sorts f's entries into the order mm_inv_scan gives. */
void mm_inv_folder_sort(struct mm_inv_folder *f);
/* Entry of kind with this name (for MESSAGE: this identity, any flags,
   either sub) in f, or NULL. f must be sorted. */
const struct mm_inv_entry *mm_inv_entry_find(const struct mm_inv_folder *f, char kind,
					     const char *name);

#endif
