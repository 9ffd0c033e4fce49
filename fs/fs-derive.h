/* SPDX-License-Identifier: MIT
 * fs-derive.h - turns a raw file-system call on classified paths into the
 * mail operations to journal (deliver, move, flags, ...). Pure; no I/O. */
#ifndef FS_DERIVE_H
#define FS_DERIVE_H
#include <stdbool.h>
#include "classify.h"
#include "journal.h"

enum fs_raw {
	FS_RAW_RENAME,		/* src -> dst */
	FS_RAW_LINK,		/* src (existing) -> dst (new name) */
	FS_RAW_UNLINK,		/* src */
	FS_RAW_MKDIR,		/* dst */
	FS_RAW_RMDIR,		/* src */
	FS_RAW_WRITTEN,		/* src: a file written through the mount, now flushed */
};

/* Facts about the store the caller looked up before the call. */
struct fs_derive_facts {
	bool is_dir;		/* the object is a directory */
	bool folder_complete;	/* MKDIR: the folder will have cur, new and tmp;
				   RMDIR: it has all three now */
};

/* What content a planned record carries. */
enum fs_content {
	FS_CONTENT_NONE,
	FS_CONTENT_MESSAGE,	/* size, hash, mtime, mode: from the file at src */
	FS_CONTENT_META,	/* the whole file's bytes (from src) */
};

/* Which location fills the record's (account, folder, sub, name) and
   (new_folder, new_sub, new_name) fields. */
enum fs_side { FS_SIDE_NONE, FS_SIDE_SRC, FS_SIDE_DST };

struct fs_plan {
	enum mm_op op;
	enum fs_side main, other;
	enum fs_content content;
	uint32_t rflags;
};

#define FS_PLAN_MAX 2

/* Plans the records for one call. Returns how many (0..FS_PLAN_MAX) were
   written to plans, or -EXDEV when the call crosses accounts in a way the
   journal cannot express (a rename between accounts); the caller refuses
   it with that errno. src or dst is NULL where the call has none. */
int fs_derive(enum fs_raw raw, const struct mm_loc *src, const struct mm_loc *dst,
	      const struct fs_derive_facts *facts, struct fs_plan plans[FS_PLAN_MAX]);

/* True when both locations are in the same account. */
bool fs_loc_same_account(const struct mm_loc *a, const struct mm_loc *b);
bool fs_loc_same_folder(const struct mm_loc *a, const struct mm_loc *b);

#endif
