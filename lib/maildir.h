/* SPDX-License-Identifier: MIT
 * maildir.h - Maildir file-name rules: a message's identity (the base before
 * ':'), its info and flags, and the S=/W= size tags. Pure; no I/O. */
#ifndef MM_MAILDIR_H
#define MM_MAILDIR_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MM_NAME_MAX 255

enum mm_sub { MM_SUB_NONE = 0, MM_SUB_NEW, MM_SUB_CUR, MM_SUB_TMP };

struct mm_msgname {
	size_t base_len;	/* identity: name[0..base_len) */
	const char *flags;	/* letters after ":2,", NULL when there is none */
	size_t flags_len;
	bool has_size, has_vsize;
	uint64_t size, vsize;	/* ,S= and ,W= tags of the base */
};

/* Parses a message file name. Returns 0, or -1 when it cannot be a message
   name (empty, "." or "..", contains '/' or NUL, over MM_NAME_MAX bytes).
   Unknown flags, odd bytes and a missing ":2," are accepted: Maildir
   writers vary, and such files are still mail. r borrows from name. */
int mm_msgname_parse(const char *name, struct mm_msgname *r);
/* True when both names have the same identity (base before ':'). */
bool mm_msgname_same_identity(const char *a, const char *b);
/* Returns "new", "cur", "tmp" or "" for sub. */
const char *mm_sub_str(enum mm_sub sub);
enum mm_sub mm_sub_parse(const char *s, size_t len);

#endif
