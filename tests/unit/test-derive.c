/* SPDX-License-Identifier: MIT
 * test-derive.c - raw file-system calls to journal operations (fs_derive). */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>
#include "classify.h"
#include "fs-derive.h"

#define A "example.org/alice/"
#define B "example.org/bob/"

static struct mm_rules *rules;

static void setup(void)
{
	rules = mm_rules_new(NULL);
}

static void teardown(void)
{
	mm_rules_free(&rules);
}

TestSuite(derive, .init = setup, .fini = teardown);

/* Classifies src and dst (either may be NULL) as the fs layer does and
   plans the call. The paths must outlive the plans' use of them. */
static int derive(enum fs_raw raw, const char *src, const char *dst,
		  bool is_dir, bool complete, struct fs_plan p[FS_PLAN_MAX])
{
	struct fs_derive_facts facts = { .is_dir = is_dir, .folder_complete = complete };
	struct mm_loc s, d;

	if (src != NULL)
		mm_classify(rules, src, is_dir, &s);
	if (dst != NULL)
		mm_classify(rules, dst, is_dir, &d);
	memset(p, 0x5a, sizeof(*p) * FS_PLAN_MAX);
	return fs_derive(raw, src != NULL ? &s : NULL, dst != NULL ? &d : NULL,
			 &facts, p);
}

static void expect_plan(const struct fs_plan *p, enum mm_op op, enum fs_side main,
			enum fs_side other, enum fs_content content, uint32_t rflags)
{
	cr_expect_eq(p->op, op, "op %s, want %s", mm_op_str(p->op), mm_op_str(op));
	cr_expect_eq(p->main, main, "main side %d, want %d", p->main, main);
	cr_expect_eq(p->other, other, "other side %d, want %d", p->other, other);
	cr_expect_eq(p->content, content, "content %d, want %d", p->content, content);
	cr_expect_eq(p->rflags, rflags, "rflags %#x, want %#x", p->rflags, rflags);
}

static void expect_unused(const struct fs_plan *p)
{
	static const struct fs_plan zero;

	cr_expect(memcmp(p, &zero, sizeof(zero)) == 0, "unused plan slot not zeroed");
}

/* ---- rename of files ---- */

Test(derive, rename_tmp_to_new_delivers)
{
	struct fs_plan p[FS_PLAN_MAX];

	cr_assert_eq(derive(FS_RAW_RENAME, A "Maildir/tmp/1.M2P3.h",
			    A "Maildir/new/1.M2P3.h,S=5", false, false, p), 1);
	expect_plan(&p[0], MM_OP_DELIVER, FS_SIDE_DST, FS_SIDE_NONE, FS_CONTENT_MESSAGE, 0);
	expect_unused(&p[1]);
}

Test(derive, rename_tmp_to_cur_delivers)
{
	struct fs_plan p[FS_PLAN_MAX];

	cr_assert_eq(derive(FS_RAW_RENAME, A "Maildir/.Sent/tmp/1.M2P3.h",
			    A "Maildir/.Sent/cur/1.M2P3.h:2,S", false, false, p), 1);
	expect_plan(&p[0], MM_OP_DELIVER, FS_SIDE_DST, FS_SIDE_NONE, FS_CONTENT_MESSAGE, 0);
}

Test(derive, rename_new_to_cur_moves)
{
	struct fs_plan p[FS_PLAN_MAX];

	cr_assert_eq(derive(FS_RAW_RENAME, A "Maildir/new/1.M2P3.h",
			    A "Maildir/cur/1.M2P3.h:2,", false, false, p), 1);
	expect_plan(&p[0], MM_OP_MOVE, FS_SIDE_SRC, FS_SIDE_DST, FS_CONTENT_NONE, 0);
	expect_unused(&p[1]);
}

Test(derive, rename_in_cur_changes_flags)
{
	struct fs_plan p[FS_PLAN_MAX];

	cr_assert_eq(derive(FS_RAW_RENAME, A "Maildir/cur/1.M2P3.h,S=5:2,S",
			    A "Maildir/cur/1.M2P3.h,S=5:2,RS", false, false, p), 1);
	expect_plan(&p[0], MM_OP_FLAGS, FS_SIDE_SRC, FS_SIDE_DST, FS_CONTENT_NONE, 0);
	/* Postfix layout: the account root is the folder */
	cr_assert_eq(derive(FS_RAW_RENAME, A "cur/1.M2P3.h:2,",
			    A "cur/1.M2P3.h:2,T", false, false, p), 1);
	expect_plan(&p[0], MM_OP_FLAGS, FS_SIDE_SRC, FS_SIDE_DST, FS_CONTENT_NONE, 0);
}

Test(derive, rename_onto_same_name_is_nothing)
{
	struct fs_plan p[FS_PLAN_MAX];

	cr_expect_eq(derive(FS_RAW_RENAME, A "Maildir/cur/1.M2P3.h:2,S",
			    A "Maildir/cur/1.M2P3.h:2,S", false, false, p), 0);
	expect_unused(&p[0]);
	expect_unused(&p[1]);
}

Test(derive, rename_to_other_folder_copies_and_expunges)
{
	struct fs_plan p[FS_PLAN_MAX];

	cr_assert_eq(derive(FS_RAW_RENAME, A "Maildir/cur/1.M2P3.h:2,S",
			    A "Maildir/.Archive/cur/1.M2P3.h:2,S", false, false, p), 2);
	expect_plan(&p[0], MM_OP_COPY, FS_SIDE_SRC, FS_SIDE_DST, FS_CONTENT_MESSAGE, 0);
	expect_plan(&p[1], MM_OP_EXPUNGE, FS_SIDE_SRC, FS_SIDE_NONE, FS_CONTENT_NONE, 0);

	/* LAYOUT=fs child of the source folder is another folder too */
	cr_assert_eq(derive(FS_RAW_RENAME, A "Maildir/new/1.M2P3.h",
			    A "Maildir/Sub/new/1.M2P3.h", false, false, p), 2);
	expect_plan(&p[0], MM_OP_COPY, FS_SIDE_SRC, FS_SIDE_DST, FS_CONTENT_MESSAGE, 0);
	expect_plan(&p[1], MM_OP_EXPUNGE, FS_SIDE_SRC, FS_SIDE_NONE, FS_CONTENT_NONE, 0);
}

Test(derive, rename_across_accounts_is_exdev)
{
	struct fs_plan p[FS_PLAN_MAX];

	cr_expect_eq(derive(FS_RAW_RENAME, A "Maildir/cur/1.M2P3.h:2,S",
			    B "Maildir/cur/1.M2P3.h:2,S", false, false, p), -EXDEV);
	cr_expect_eq(derive(FS_RAW_RENAME, A "Maildir/tmp/1.M2P3.h",
			    B "Maildir/new/1.M2P3.h", false, false, p), -EXDEV);
	/* into or out of an account from above the accounts */
	cr_expect_eq(derive(FS_RAW_RENAME, "example.org/spool-file",
			    A "Maildir/new/1.M2P3.h", false, false, p), -EXDEV);
	cr_expect_eq(derive(FS_RAW_RENAME, A "Maildir/cur/1.M2P3.h:2,S",
			    "example.org/lost+found", false, false, p), -EXDEV);
	/* directories too */
	cr_expect_eq(derive(FS_RAW_RENAME, A "Maildir/.Sent", B "Maildir/.Sent",
			    true, false, p), -EXDEV);
}

Test(derive, rename_above_accounts_is_nothing)
{
	struct fs_plan p[FS_PLAN_MAX];

	cr_expect_eq(derive(FS_RAW_RENAME, "example.org/a", "example.org/b",
			    false, false, p), 0);
	cr_expect_eq(derive(FS_RAW_RENAME, "example.org/alice", "example.org/alice2",
			    true, false, p), 0);
}

Test(derive, rename_message_into_tmp_expunges)
{
	struct fs_plan p[FS_PLAN_MAX];

	cr_assert_eq(derive(FS_RAW_RENAME, A "Maildir/cur/1.M2P3.h:2,S",
			    A "Maildir/tmp/1.M2P3.h:2,S", false, false, p), 1);
	expect_plan(&p[0], MM_OP_EXPUNGE, FS_SIDE_SRC, FS_SIDE_NONE, FS_CONTENT_NONE, 0);
	expect_unused(&p[1]);
	/* or out of the layout, to a plain file */
	cr_assert_eq(derive(FS_RAW_RENAME, A "Maildir/new/1.M2P3.h",
			    A "Maildir/saved.eml", false, false, p), 1);
	expect_plan(&p[0], MM_OP_EXPUNGE, FS_SIDE_SRC, FS_SIDE_NONE, FS_CONTENT_NONE, 0);
}

Test(derive, rename_onto_meta_name_journals_meta_content)
{
	struct fs_plan p[FS_PLAN_MAX];

	/* Dovecot's uidlist update: write the .lock, rename it over */
	cr_assert_eq(derive(FS_RAW_RENAME, A "Maildir/dovecot-uidlist.lock",
			    A "Maildir/dovecot-uidlist", false, false, p), 1);
	expect_plan(&p[0], MM_OP_META, FS_SIDE_DST, FS_SIDE_NONE, FS_CONTENT_META, 0);
	expect_unused(&p[1]);
	/* from a plain temporary name */
	cr_assert_eq(derive(FS_RAW_RENAME, A "Maildir/subscriptions.new",
			    A "Maildir/subscriptions", false, false, p), 1);
	expect_plan(&p[0], MM_OP_META, FS_SIDE_DST, FS_SIDE_NONE, FS_CONTENT_META, 0);
}

Test(derive, rename_message_onto_meta_name)
{
	struct fs_plan p[FS_PLAN_MAX];

	cr_assert_eq(derive(FS_RAW_RENAME, A "Maildir/cur/1.M2P3.h:2,S",
			    A "Maildir/dovecot-keywords", false, false, p), 2);
	expect_plan(&p[0], MM_OP_META, FS_SIDE_DST, FS_SIDE_NONE, FS_CONTENT_META, 0);
	expect_plan(&p[1], MM_OP_EXPUNGE, FS_SIDE_SRC, FS_SIDE_NONE, FS_CONTENT_NONE, 0);
}

Test(derive, rename_meta_onto_other_meta_removes_the_source)
{
	struct fs_plan p[FS_PLAN_MAX];

	cr_assert_eq(derive(FS_RAW_RENAME, A "Maildir/dovecot-uidvalidity.5f3a",
			    A "Maildir/dovecot-uidvalidity.5f3b", false, false, p), 2);
	expect_plan(&p[0], MM_OP_META, FS_SIDE_DST, FS_SIDE_NONE, FS_CONTENT_META, 0);
	expect_plan(&p[1], MM_OP_META, FS_SIDE_SRC, FS_SIDE_NONE, FS_CONTENT_NONE,
		    MM_RECF_DELETED);
}

/* The same base name in another folder is another file: the source folder
   loses its copy, so the replica must be told. */
Test(derive, rename_meta_to_same_name_in_other_folder_removes_the_source)
{
	struct fs_plan p[FS_PLAN_MAX];

	cr_assert_eq(derive(FS_RAW_RENAME, A "Maildir/.A/dovecot-keywords",
			    A "Maildir/.B/dovecot-keywords", false, false, p), 2);
	expect_plan(&p[0], MM_OP_META, FS_SIDE_DST, FS_SIDE_NONE, FS_CONTENT_META, 0);
	expect_plan(&p[1], MM_OP_META, FS_SIDE_SRC, FS_SIDE_NONE, FS_CONTENT_NONE,
		    MM_RECF_DELETED);
}

Test(derive, rename_meta_away_removes_it)
{
	struct fs_plan p[FS_PLAN_MAX];

	cr_assert_eq(derive(FS_RAW_RENAME, A "Maildir/dovecot-uidlist",
			    A "Maildir/dovecot-uidlist.bak", false, false, p), 1);
	expect_plan(&p[0], MM_OP_META, FS_SIDE_SRC, FS_SIDE_NONE, FS_CONTENT_NONE,
		    MM_RECF_DELETED);
}

Test(derive, rename_meta_onto_message_name)
{
	struct fs_plan p[FS_PLAN_MAX];

	cr_assert_eq(derive(FS_RAW_RENAME, A "Maildir/dovecot-keywords",
			    A "Maildir/new/1.M2P3.h", false, false, p), 2);
	expect_plan(&p[0], MM_OP_DELIVER, FS_SIDE_DST, FS_SIDE_NONE, FS_CONTENT_MESSAGE, 0);
	expect_plan(&p[1], MM_OP_META, FS_SIDE_SRC, FS_SIDE_NONE, FS_CONTENT_NONE,
		    MM_RECF_DELETED);
}

Test(derive, rename_of_unjournaled_files_is_nothing)
{
	struct fs_plan p[FS_PLAN_MAX];

	cr_expect_eq(derive(FS_RAW_RENAME, A "Maildir/tmp/a", A "Maildir/tmp/b",
			    false, false, p), 0);
	cr_expect_eq(derive(FS_RAW_RENAME, A "Maildir/dovecot.index.log",
			    A "Maildir/dovecot.index.log.2", false, false, p), 0);
	cr_expect_eq(derive(FS_RAW_RENAME, A "notes.txt", A "notes.old",
			    false, false, p), 0);
}

/* ---- link, unlink ---- */

Test(derive, link_from_tmp_delivers)
{
	struct fs_plan p[FS_PLAN_MAX];

	cr_assert_eq(derive(FS_RAW_LINK, A "Maildir/tmp/1.M2P3.h",
			    A "Maildir/new/1.M2P3.h", false, false, p), 1);
	expect_plan(&p[0], MM_OP_DELIVER, FS_SIDE_DST, FS_SIDE_NONE, FS_CONTENT_MESSAGE, 0);
	expect_unused(&p[1]);
}

Test(derive, link_message_in_account_copies)
{
	struct fs_plan p[FS_PLAN_MAX];

	cr_assert_eq(derive(FS_RAW_LINK, A "Maildir/cur/1.M2P3.h:2,S",
			    A "Maildir/.Archive/cur/1.M2P3.h:2,S", false, false, p), 1);
	expect_plan(&p[0], MM_OP_COPY, FS_SIDE_SRC, FS_SIDE_DST, FS_CONTENT_MESSAGE, 0);
}

Test(derive, link_message_to_other_account_delivers)
{
	struct fs_plan p[FS_PLAN_MAX];

	/* LMTP delivering one message to several users with hard links */
	cr_assert_eq(derive(FS_RAW_LINK, A "Maildir/new/1.M2P3.h",
			    B "Maildir/new/1.M2P3.h", false, false, p), 1);
	expect_plan(&p[0], MM_OP_DELIVER, FS_SIDE_DST, FS_SIDE_NONE, FS_CONTENT_MESSAGE, 0);
	cr_assert_eq(derive(FS_RAW_LINK, A "Maildir/tmp/1.M2P3.h",
			    B "Maildir/new/1.M2P3.h", false, false, p), 1);
	expect_plan(&p[0], MM_OP_DELIVER, FS_SIDE_DST, FS_SIDE_NONE, FS_CONTENT_MESSAGE, 0);
}

Test(derive, link_onto_meta_journals_meta_content)
{
	struct fs_plan p[FS_PLAN_MAX];

	cr_assert_eq(derive(FS_RAW_LINK, A "Maildir/dovecot-uidlist.lock",
			    A "Maildir/dovecot-uidlist", false, false, p), 1);
	expect_plan(&p[0], MM_OP_META, FS_SIDE_DST, FS_SIDE_NONE, FS_CONTENT_META, 0);
}

Test(derive, link_elsewhere_is_nothing)
{
	struct fs_plan p[FS_PLAN_MAX];

	cr_expect_eq(derive(FS_RAW_LINK, A "Maildir/cur/1.M2P3.h:2,S",
			    A "Maildir/tmp/1.M2P3.h", false, false, p), 0);
	cr_expect_eq(derive(FS_RAW_LINK, A "Maildir/cur/1.M2P3.h:2,S",
			    A "backup.eml", false, false, p), 0);
}

Test(derive, unlink_message_expunges)
{
	struct fs_plan p[FS_PLAN_MAX];

	cr_assert_eq(derive(FS_RAW_UNLINK, A "Maildir/cur/1.M2P3.h:2,ST", NULL,
			    false, false, p), 1);
	expect_plan(&p[0], MM_OP_EXPUNGE, FS_SIDE_SRC, FS_SIDE_NONE, FS_CONTENT_NONE, 0);
	expect_unused(&p[1]);
	cr_assert_eq(derive(FS_RAW_UNLINK, A "new/1.M2P3.h", NULL, false, false, p), 1);
	expect_plan(&p[0], MM_OP_EXPUNGE, FS_SIDE_SRC, FS_SIDE_NONE, FS_CONTENT_NONE, 0);
}

Test(derive, unlink_meta_removes_it)
{
	struct fs_plan p[FS_PLAN_MAX];

	cr_assert_eq(derive(FS_RAW_UNLINK, A "Maildir/.Sent/dovecot-uidlist", NULL,
			    false, false, p), 1);
	expect_plan(&p[0], MM_OP_META, FS_SIDE_SRC, FS_SIDE_NONE, FS_CONTENT_NONE,
		    MM_RECF_DELETED);
	cr_assert_eq(derive(FS_RAW_UNLINK, A "Maildir/courierimapkeywords/:list", NULL,
			    false, false, p), 1);
	expect_plan(&p[0], MM_OP_META, FS_SIDE_SRC, FS_SIDE_NONE, FS_CONTENT_NONE,
		    MM_RECF_DELETED);
}

Test(derive, unlink_other_files_is_nothing)
{
	struct fs_plan p[FS_PLAN_MAX];

	cr_expect_eq(derive(FS_RAW_UNLINK, A "Maildir/tmp/1.M2P3.h", NULL,
			    false, false, p), 0);
	cr_expect_eq(derive(FS_RAW_UNLINK, A "Maildir/dovecot-uidlist.lock", NULL,
			    false, false, p), 0);
	cr_expect_eq(derive(FS_RAW_UNLINK, A "Maildir/notes.txt", NULL,
			    false, false, p), 0);
	cr_expect_eq(derive(FS_RAW_UNLINK, "example.org/x", NULL, false, false, p), 0);
}

/* ---- directories ---- */

Test(derive, mkdir_completing_a_folder_creates_it)
{
	struct fs_plan p[FS_PLAN_MAX];

	cr_assert_eq(derive(FS_RAW_MKDIR, NULL, A "Maildir/.Sent/tmp", true, true, p), 1);
	expect_plan(&p[0], MM_OP_FOLDER_CREATE, FS_SIDE_DST, FS_SIDE_NONE,
		    FS_CONTENT_NONE, 0);
	expect_unused(&p[1]);
	cr_assert_eq(derive(FS_RAW_MKDIR, NULL, A "new", true, true, p), 1);
	expect_plan(&p[0], MM_OP_FOLDER_CREATE, FS_SIDE_DST, FS_SIDE_NONE,
		    FS_CONTENT_NONE, 0);
}

Test(derive, mkdir_not_completing_is_nothing)
{
	struct fs_plan p[FS_PLAN_MAX];

	cr_expect_eq(derive(FS_RAW_MKDIR, NULL, A "Maildir/.Sent/cur", true, false, p), 0);
	cr_expect_eq(derive(FS_RAW_MKDIR, NULL, A "Maildir/.Sent", true, false, p), 0);
	/* the folder directory itself never completes anything */
	cr_expect_eq(derive(FS_RAW_MKDIR, NULL, A "Maildir/.Sent", true, true, p), 0);
	cr_expect_eq(derive(FS_RAW_MKDIR, NULL, "example.org/carol", true, true, p), 0);
}

Test(derive, rmdir_of_a_complete_folder_deletes_it)
{
	struct fs_plan p[FS_PLAN_MAX];

	cr_assert_eq(derive(FS_RAW_RMDIR, A "Maildir/.Sent/cur", NULL, true, true, p), 1);
	expect_plan(&p[0], MM_OP_FOLDER_DELETE, FS_SIDE_SRC, FS_SIDE_NONE,
		    FS_CONTENT_NONE, 0);
	/* the second and third subdirs: no longer complete */
	cr_expect_eq(derive(FS_RAW_RMDIR, A "Maildir/.Sent/new", NULL, true, false, p), 0);
	cr_expect_eq(derive(FS_RAW_RMDIR, A "Maildir/.Sent", NULL, true, false, p), 0);
	cr_expect_eq(derive(FS_RAW_RMDIR, A "Maildir/.Sent", NULL, true, true, p), 0);
}

Test(derive, dir_rename_renames_the_folder)
{
	struct fs_plan p[FS_PLAN_MAX];

	cr_assert_eq(derive(FS_RAW_RENAME, A "Maildir/.Sent", A "Maildir/.Sent Items",
			    true, true, p), 1);
	expect_plan(&p[0], MM_OP_FOLDER_RENAME, FS_SIDE_SRC, FS_SIDE_DST,
		    FS_CONTENT_NONE, 0);
	expect_unused(&p[1]);
	cr_assert_eq(derive(FS_RAW_RENAME, A "Maildir/Lists/dev", A "Maildir/Archive/dev",
			    true, true, p), 1);
	expect_plan(&p[0], MM_OP_FOLDER_RENAME, FS_SIDE_SRC, FS_SIDE_DST,
		    FS_CONTENT_NONE, 0);
}

Test(derive, dir_rename_to_dovecot_trashed_deletes_the_folder)
{
	struct fs_plan p[FS_PLAN_MAX];

	cr_assert_eq(derive(FS_RAW_RENAME, A "Maildir/.Sent", A "Maildir/..DOVECOT-TRASHED",
			    true, true, p), 1);
	expect_plan(&p[0], MM_OP_FOLDER_DELETE, FS_SIDE_SRC, FS_SIDE_NONE,
		    FS_CONTENT_NONE, 0);
	expect_unused(&p[1]);
}

Test(derive, dir_rename_out_of_the_layout_deletes_the_folder)
{
	struct fs_plan p[FS_PLAN_MAX];

	cr_assert_eq(derive(FS_RAW_RENAME, A "Maildir/.Sent", A "Maildir/tmp/.Sent",
			    true, true, p), 1);
	expect_plan(&p[0], MM_OP_FOLDER_DELETE, FS_SIDE_SRC, FS_SIDE_NONE,
		    FS_CONTENT_NONE, 0);
}

Test(derive, dir_rename_of_non_folders_is_nothing)
{
	struct fs_plan p[FS_PLAN_MAX];

	cr_expect_eq(derive(FS_RAW_RENAME, A "Maildir/..DOVECOT-TRASHED",
			    A "Maildir/..DOVECOT-TRASHED2", true, false, p), 0);
}

/* ---- written through the mount ---- */

Test(derive, written_message_delivers)
{
	struct fs_plan p[FS_PLAN_MAX];

	cr_assert_eq(derive(FS_RAW_WRITTEN, A "Maildir/new/1.M2P3.h", NULL,
			    false, false, p), 1);
	expect_plan(&p[0], MM_OP_DELIVER, FS_SIDE_SRC, FS_SIDE_NONE, FS_CONTENT_MESSAGE, 0);
	expect_unused(&p[1]);
}

Test(derive, written_meta_journals_its_content)
{
	struct fs_plan p[FS_PLAN_MAX];

	cr_assert_eq(derive(FS_RAW_WRITTEN, A "Maildir/subscriptions", NULL,
			    false, false, p), 1);
	expect_plan(&p[0], MM_OP_META, FS_SIDE_SRC, FS_SIDE_NONE, FS_CONTENT_META, 0);
}

Test(derive, written_other_files_is_nothing)
{
	struct fs_plan p[FS_PLAN_MAX];

	cr_expect_eq(derive(FS_RAW_WRITTEN, A "Maildir/notes.txt", NULL, false, false, p), 0);
	cr_expect_eq(derive(FS_RAW_WRITTEN, A "Maildir/tmp/1.M2P3.h", NULL,
			    false, false, p), 0);
	cr_expect_eq(derive(FS_RAW_WRITTEN, A "Maildir/dovecot.index.cache", NULL,
			    false, false, p), 0);
	cr_expect_eq(derive(FS_RAW_WRITTEN, "example.org/x", NULL, false, false, p), 0);
}

/* ---- location helpers ---- */

Test(derive, same_account_and_folder)
{
	struct mm_loc a, b, c, d, out;

	mm_classify(rules, A "Maildir/cur/x", false, &a);
	mm_classify(rules, A "Maildir/new/y", false, &b);
	mm_classify(rules, A "Maildir/.Sent/cur/x", false, &c);
	mm_classify(rules, B "Maildir/cur/x", false, &d);
	mm_classify(rules, "example.org/alice", true, &out);

	cr_expect(fs_loc_same_account(&a, &b));
	cr_expect(fs_loc_same_folder(&a, &b));
	cr_expect(fs_loc_same_account(&a, &c));
	cr_expect_not(fs_loc_same_folder(&a, &c));
	cr_expect_not(fs_loc_same_account(&a, &d));
	cr_expect_not(fs_loc_same_folder(&a, &d));
	cr_expect_not(fs_loc_same_account(&a, &out));
	cr_expect_not(fs_loc_same_account(&out, &out));
	cr_expect_not(fs_loc_same_account(&a, NULL));
	cr_expect_not(fs_loc_same_account(NULL, NULL));
}
