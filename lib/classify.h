/* SPDX-License-Identifier: MIT
 * classify.h - where a store path sits in the Maildir world: outside any
 * account, a message, metadata, tmp, a cache to skip. One rule table, pure. */
#ifndef MM_CLASSIFY_H
#define MM_CLASSIFY_H
#include <stdbool.h>
#include <stddef.h>
#include "maildir.h"

struct mm_cfg;

enum mm_class {
	MM_CLASS_OUTSIDE,	/* the root, or above/at an account directory */
	MM_CLASS_PLAIN,		/* inside an account, not mail: served, not journaled */
	MM_CLASS_IGNORE,	/* index, cache, lock: never journaled */
	MM_CLASS_TMP,		/* inside a folder's tmp/ */
	MM_CLASS_MESSAGE,	/* a file in a folder's new/ or cur/ */
	MM_CLASS_META,		/* small mailbox metadata, journaled whole */
	MM_CLASS_SUBDIR,	/* a folder's cur/, new/ or tmp/ directory itself */
	MM_CLASS_DIR,		/* another directory in an account: a folder or not */
};

/* A classified path. Strings point into the path given to mm_classify()
   and are not NUL-terminated; use the lengths. */
struct mm_loc {
	enum mm_class cls;
	const char *account;	size_t account_len;
	const char *folder;	size_t folder_len;	/* "" is the account root */
	enum mm_sub sub;
	const char *name;	size_t name_len;	/* below the folder (and sub) */
};

struct mm_rules;

/* Builds the table: the config's [classify] patterns first, then the
   built-in ones. Never fails. Free with mm_rules_free(). */
struct mm_rules *mm_rules_new(const struct mm_cfg *cfg);
void mm_rules_free(struct mm_rules **rulesp);
/* Classifies relpath (relative to the store root, no leading '/', "" for
   the root). is_dir says what the path is or will be. */
void mm_classify(const struct mm_rules *rules, const char *relpath, bool is_dir,
		 struct mm_loc *loc_r);
const char *mm_class_str(enum mm_class cls);
/* Appends the built-in table in a human-readable form (for --help/docs). */
void mm_rules_dump(const struct mm_rules *rules, void (*line)(const char *pattern,
		   const char *cls, void *ctx), void *ctx);

#endif
