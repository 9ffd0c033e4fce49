/* SPDX-License-Identifier: MIT
 * fs-derive.c - the mapping from raw calls to mail operations; the table
 * in docs/journal.md describes the same rules. */
#include <errno.h>
#include <string.h>
#include "fs-derive.h"

static bool in_account(const struct mm_loc *l)
{
	return l != NULL && l->cls != MM_CLASS_OUTSIDE;
}

bool fs_loc_same_account(const struct mm_loc *a, const struct mm_loc *b)
{
	return in_account(a) && in_account(b) && a->account_len == b->account_len &&
		memcmp(a->account, b->account, a->account_len) == 0;
}

bool fs_loc_same_folder(const struct mm_loc *a, const struct mm_loc *b)
{
	return fs_loc_same_account(a, b) && a->folder_len == b->folder_len &&
		memcmp(a->folder, b->folder, a->folder_len) == 0;
}

static bool is(const struct mm_loc *l, enum mm_class cls)
{
	return l != NULL && l->cls == cls;
}

static void plan(struct fs_plan *p, enum mm_op op, enum fs_side main,
		 enum fs_side other, enum fs_content content, uint32_t rflags)
{
	p->op = op;
	p->main = main;
	p->other = other;
	p->content = content;
	p->rflags = rflags;
}

static bool same_name(const struct mm_loc *a, const struct mm_loc *b)
{
	return a->name_len == b->name_len && memcmp(a->name, b->name, a->name_len) == 0;
}

static bool same_identity(const struct mm_loc *a, const struct mm_loc *b)
{
	const char *ca = memchr(a->name, ':', a->name_len);
	const char *cb = memchr(b->name, ':', b->name_len);
	size_t la = ca != NULL ? (size_t)(ca - a->name) : a->name_len;
	size_t lb = cb != NULL ? (size_t)(cb - b->name) : b->name_len;

	return la == lb && memcmp(a->name, b->name, la) == 0;
}

static int derive_rename_file(const struct mm_loc *src, const struct mm_loc *dst,
			      struct fs_plan *p)
{
	int n = 0;

	if (is(src, MM_CLASS_MESSAGE) && is(dst, MM_CLASS_MESSAGE)) {
		if (!fs_loc_same_folder(src, dst)) {
			plan(&p[n++], MM_OP_COPY, FS_SIDE_SRC, FS_SIDE_DST,
			     FS_CONTENT_MESSAGE, 0);
			plan(&p[n++], MM_OP_EXPUNGE, FS_SIDE_SRC, FS_SIDE_NONE,
			     FS_CONTENT_NONE, 0);
		} else if (src->sub != dst->sub || !same_identity(src, dst)) {
			plan(&p[n++], MM_OP_MOVE, FS_SIDE_SRC, FS_SIDE_DST,
			     FS_CONTENT_NONE, 0);
		} else if (!same_name(src, dst)) {
			plan(&p[n++], MM_OP_FLAGS, FS_SIDE_SRC, FS_SIDE_DST,
			     FS_CONTENT_NONE, 0);
		}
		return n;
	}
	if (is(dst, MM_CLASS_MESSAGE)) {
		plan(&p[n++], MM_OP_DELIVER, FS_SIDE_DST, FS_SIDE_NONE,
		     FS_CONTENT_MESSAGE, 0);
		if (is(src, MM_CLASS_META))
			plan(&p[n++], MM_OP_META, FS_SIDE_SRC, FS_SIDE_NONE,
			     FS_CONTENT_NONE, MM_RECF_DELETED);
		return n;
	}
	if (is(dst, MM_CLASS_META)) {
		plan(&p[n++], MM_OP_META, FS_SIDE_DST, FS_SIDE_NONE,
		     FS_CONTENT_META, 0);
		if (is(src, MM_CLASS_MESSAGE))
			plan(&p[n++], MM_OP_EXPUNGE, FS_SIDE_SRC, FS_SIDE_NONE,
			     FS_CONTENT_NONE, 0);
		else if (is(src, MM_CLASS_META) &&
			 !(fs_loc_same_folder(src, dst) && same_name(src, dst)))
			plan(&p[n++], MM_OP_META, FS_SIDE_SRC, FS_SIDE_NONE,
			     FS_CONTENT_NONE, MM_RECF_DELETED);
		return n;
	}
	if (is(src, MM_CLASS_MESSAGE))
		plan(&p[n++], MM_OP_EXPUNGE, FS_SIDE_SRC, FS_SIDE_NONE,
		     FS_CONTENT_NONE, 0);
	else if (is(src, MM_CLASS_META))
		plan(&p[n++], MM_OP_META, FS_SIDE_SRC, FS_SIDE_NONE,
		     FS_CONTENT_NONE, MM_RECF_DELETED);
	return n;
}

static int derive_rename_dir(const struct mm_loc *src, const struct mm_loc *dst,
			     struct fs_plan *p)
{
	if (!is(src, MM_CLASS_DIR))
		return 0;
	/* Dovecot deletes a mailbox by renaming it to "..DOVECOT-TRASHED"
	   (or another ".." name) and removing that afterwards */
	if (is(dst, MM_CLASS_IGNORE)) {
		plan(&p[0], MM_OP_FOLDER_DELETE, FS_SIDE_SRC, FS_SIDE_NONE,
		     FS_CONTENT_NONE, 0);
		return 1;
	}
	if (is(dst, MM_CLASS_DIR)) {
		plan(&p[0], MM_OP_FOLDER_RENAME, FS_SIDE_SRC, FS_SIDE_DST,
		     FS_CONTENT_NONE, 0);
		return 1;
	}
	/* moved out of the mail layout (into tmp/, outside the account) */
	plan(&p[0], MM_OP_FOLDER_DELETE, FS_SIDE_SRC, FS_SIDE_NONE, FS_CONTENT_NONE, 0);
	return 1;
}

int fs_derive(enum fs_raw raw, const struct mm_loc *src, const struct mm_loc *dst,
	      const struct fs_derive_facts *facts, struct fs_plan p[FS_PLAN_MAX])
{
	memset(p, 0, sizeof(*p) * FS_PLAN_MAX);
	switch (raw) {
	case FS_RAW_RENAME:
		if ((in_account(src) || in_account(dst)) && !fs_loc_same_account(src, dst))
			return -EXDEV;
		if (facts->is_dir)
			return derive_rename_dir(src, dst, p);
		return derive_rename_file(src, dst, p);
	case FS_RAW_LINK:
		if (is(dst, MM_CLASS_MESSAGE)) {
			if (is(src, MM_CLASS_MESSAGE) && fs_loc_same_account(src, dst))
				plan(&p[0], MM_OP_COPY, FS_SIDE_SRC, FS_SIDE_DST,
				     FS_CONTENT_MESSAGE, 0);
			else
				plan(&p[0], MM_OP_DELIVER, FS_SIDE_DST, FS_SIDE_NONE,
				     FS_CONTENT_MESSAGE, 0);
			return 1;
		}
		if (is(dst, MM_CLASS_META)) {
			plan(&p[0], MM_OP_META, FS_SIDE_DST, FS_SIDE_NONE,
			     FS_CONTENT_META, 0);
			return 1;
		}
		return 0;
	case FS_RAW_UNLINK:
		if (is(src, MM_CLASS_MESSAGE)) {
			plan(&p[0], MM_OP_EXPUNGE, FS_SIDE_SRC, FS_SIDE_NONE,
			     FS_CONTENT_NONE, 0);
			return 1;
		}
		if (is(src, MM_CLASS_META)) {
			plan(&p[0], MM_OP_META, FS_SIDE_SRC, FS_SIDE_NONE,
			     FS_CONTENT_NONE, MM_RECF_DELETED);
			return 1;
		}
		return 0;
	case FS_RAW_MKDIR:
		if (is(dst, MM_CLASS_SUBDIR) && facts->folder_complete) {
			plan(&p[0], MM_OP_FOLDER_CREATE, FS_SIDE_DST, FS_SIDE_NONE,
			     FS_CONTENT_NONE, 0);
			return 1;
		}
		return 0;
	case FS_RAW_RMDIR:
		if (is(src, MM_CLASS_SUBDIR) && facts->folder_complete) {
			plan(&p[0], MM_OP_FOLDER_DELETE, FS_SIDE_SRC, FS_SIDE_NONE,
			     FS_CONTENT_NONE, 0);
			return 1;
		}
		return 0;
	case FS_RAW_WRITTEN:
		if (is(src, MM_CLASS_MESSAGE)) {
			plan(&p[0], MM_OP_DELIVER, FS_SIDE_SRC, FS_SIDE_NONE,
			     FS_CONTENT_MESSAGE, 0);
			return 1;
		}
		if (is(src, MM_CLASS_META)) {
			plan(&p[0], MM_OP_META, FS_SIDE_SRC, FS_SIDE_NONE,
			     FS_CONTENT_META, 0);
			return 1;
		}
		return 0;
	}
	return 0;
}
