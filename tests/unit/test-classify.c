/* SPDX-License-Identifier: MIT
 * test-classify.c - the path classifier over realistic store paths. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cfg.h"
#include "classify.h"

/* Which rule table a case runs against. */
enum ruleset {
	RS_DEFAULT,	/* mm_rules_new(NULL): account_depth 2 */
	RS_DEPTH1,	/* mm_cfg_parse: account_depth = 1 */
	RS_DEPTH3,	/* mm_cfg_parse: account_depth = 3 */
	RS_OVERRIDE,	/* mm_cfg_parse: depth 2 with [classify] overrides */
	RS_N
};

#define CFG_NODE "[node]\nname = n1\nstore = /srv/mail\n" \
	"state = /var/lib/mailmesh\nmount = /mnt/mail\n"

static const char *const cfg_text[RS_N] = {
	[RS_DEPTH1] = CFG_NODE "account_depth = 1\n",
	[RS_DEPTH3] = CFG_NODE "account_depth = 3\n",
	[RS_OVERRIDE] = CFG_NODE "[classify]\nignore = *.sieve\n"
		"meta = custom-meta\nplain = dovecot-keywords\n",
};

static struct mm_cfg *cfgs[RS_N];
static struct mm_rules *rules[RS_N];

static void setup(void)
{
	const char *error;

	rules[RS_DEFAULT] = mm_rules_new(NULL);
	for (int i = 0; i < RS_N; i++) {
		if (cfg_text[i] == NULL)
			continue;
		cr_assert_eq(mm_cfg_parse("test.conf", cfg_text[i], &cfgs[i], &error),
			     0, "%s", error);
		rules[i] = mm_rules_new(cfgs[i]);
	}
}

static void teardown(void)
{
	for (int i = 0; i < RS_N; i++) {
		mm_rules_free(&rules[i]);
		mm_cfg_free(&cfgs[i]);
	}
}

TestSuite(classify, .init = setup, .fini = teardown);

struct class_case {
	enum ruleset rs;
	char path[128];
	bool is_dir;
	enum mm_class cls;
	char account[32];
	char folder[64];
	enum mm_sub sub;
	char name[64];
};

#define ACCT "example.org/alice"
#define A ACCT "/"

ParameterizedTestParameters(classify, table)
{
	static struct class_case cases[] = {
		/* above and at the account */
		{ RS_DEFAULT, "", true, MM_CLASS_OUTSIDE, "", "", MM_SUB_NONE, "" },
		{ RS_DEFAULT, "example.org", true, MM_CLASS_OUTSIDE, "", "", MM_SUB_NONE, "" },
		{ RS_DEFAULT, "example.org/alice", true, MM_CLASS_OUTSIDE, "", "", MM_SUB_NONE, "" },
		{ RS_DEFAULT, "example.org/alice", false, MM_CLASS_OUTSIDE, "", "", MM_SUB_NONE, "" },
		{ RS_DEFAULT, "README", false, MM_CLASS_OUTSIDE, "", "", MM_SUB_NONE, "" },

		/* messages: Maildir++, Postfix home layout, Dovecot LAYOUT=fs */
		{ RS_DEFAULT, A "Maildir/cur/X:2,S", false, MM_CLASS_MESSAGE, ACCT,
		  "Maildir", MM_SUB_CUR, "X:2,S" },
		{ RS_DEFAULT, A "Maildir/new/1.M2P3.h,S=5", false, MM_CLASS_MESSAGE, ACCT,
		  "Maildir", MM_SUB_NEW, "1.M2P3.h,S=5" },
		{ RS_DEFAULT, A "cur/X", false, MM_CLASS_MESSAGE, ACCT, "", MM_SUB_CUR, "X" },
		{ RS_DEFAULT, A "new/X", false, MM_CLASS_MESSAGE, ACCT, "", MM_SUB_NEW, "X" },
		{ RS_DEFAULT, A "Maildir/.Sent/new/X", false, MM_CLASS_MESSAGE, ACCT,
		  "Maildir/.Sent", MM_SUB_NEW, "X" },
		{ RS_DEFAULT, A "Maildir/.Lists.dev/cur/X:2,", false, MM_CLASS_MESSAGE, ACCT,
		  "Maildir/.Lists.dev", MM_SUB_CUR, "X:2," },
		{ RS_DEFAULT, A "Maildir/Sent/Sub/cur/X", false, MM_CLASS_MESSAGE, ACCT,
		  "Maildir/Sent/Sub", MM_SUB_CUR, "X" },
		/* metadata names are only metadata outside new/ and cur/ */
		{ RS_DEFAULT, A "Maildir/cur/dovecot-uidlist", false, MM_CLASS_MESSAGE, ACCT,
		  "Maildir", MM_SUB_CUR, "dovecot-uidlist" },
		/* deeper than a message: not mail */
		{ RS_DEFAULT, A "Maildir/cur/x/y", false, MM_CLASS_PLAIN, ACCT,
		  "Maildir", MM_SUB_CUR, "x/y" },

		/* tmp/ */
		{ RS_DEFAULT, A "Maildir/tmp/1.M2P3.h", false, MM_CLASS_TMP, ACCT,
		  "Maildir", MM_SUB_TMP, "1.M2P3.h" },
		{ RS_DEFAULT, A "tmp/X", false, MM_CLASS_TMP, ACCT, "", MM_SUB_TMP, "X" },
		{ RS_DEFAULT, A "Maildir/.Sent/tmp/X", false, MM_CLASS_TMP, ACCT,
		  "Maildir/.Sent", MM_SUB_TMP, "X" },

		/* the layout directories themselves */
		{ RS_DEFAULT, A "Maildir/tmp", true, MM_CLASS_SUBDIR, ACCT,
		  "Maildir", MM_SUB_TMP, "" },
		{ RS_DEFAULT, A "Maildir/cur", true, MM_CLASS_SUBDIR, ACCT,
		  "Maildir", MM_SUB_CUR, "" },
		{ RS_DEFAULT, A "Maildir/.Sent/new", true, MM_CLASS_SUBDIR, ACCT,
		  "Maildir/.Sent", MM_SUB_NEW, "" },
		{ RS_DEFAULT, A "cur", true, MM_CLASS_SUBDIR, ACCT, "", MM_SUB_CUR, "" },
		/* a file named like one is not layout */
		{ RS_DEFAULT, A "Maildir/cur", false, MM_CLASS_PLAIN, ACCT,
		  "Maildir", MM_SUB_NONE, "cur" },

		/* caches, indexes, logs and locks */
		{ RS_DEFAULT, A "Maildir/dovecot.index", false, MM_CLASS_IGNORE, ACCT,
		  "Maildir", MM_SUB_NONE, "dovecot.index" },
		{ RS_DEFAULT, A "Maildir/dovecot.index.log", false, MM_CLASS_IGNORE, ACCT,
		  "Maildir", MM_SUB_NONE, "dovecot.index.log" },
		{ RS_DEFAULT, A "Maildir/.Sent/dovecot.index.cache", false, MM_CLASS_IGNORE,
		  ACCT, "Maildir/.Sent", MM_SUB_NONE, "dovecot.index.cache" },
		{ RS_DEFAULT, A "Maildir/dovecot.list.index.log", false, MM_CLASS_IGNORE,
		  ACCT, "Maildir", MM_SUB_NONE, "dovecot.list.index.log" },
		{ RS_DEFAULT, A "Maildir/dovecot.mailbox.log", false, MM_CLASS_IGNORE,
		  ACCT, "Maildir", MM_SUB_NONE, "dovecot.mailbox.log" },
		{ RS_DEFAULT, A "Maildir/dovecot-uidlist.lock", false, MM_CLASS_IGNORE,
		  ACCT, "Maildir", MM_SUB_NONE, "dovecot-uidlist.lock" },
		{ RS_DEFAULT, A "Maildir/maildirsize", false, MM_CLASS_IGNORE, ACCT,
		  "Maildir", MM_SUB_NONE, "maildirsize" },
		{ RS_DEFAULT, A "dovecot.index.log", false, MM_CLASS_IGNORE, ACCT,
		  "", MM_SUB_NONE, "dovecot.index.log" },

		/* metadata: folder is the directory holding it */
		{ RS_DEFAULT, A "Maildir/dovecot-uidlist", false, MM_CLASS_META, ACCT,
		  "Maildir", MM_SUB_NONE, "dovecot-uidlist" },
		{ RS_DEFAULT, A "Maildir/.Sent/dovecot-uidlist", false, MM_CLASS_META, ACCT,
		  "Maildir/.Sent", MM_SUB_NONE, "dovecot-uidlist" },
		{ RS_DEFAULT, A "Maildir/dovecot-keywords", false, MM_CLASS_META, ACCT,
		  "Maildir", MM_SUB_NONE, "dovecot-keywords" },
		{ RS_DEFAULT, A "Maildir/subscriptions", false, MM_CLASS_META, ACCT,
		  "Maildir", MM_SUB_NONE, "subscriptions" },
		{ RS_DEFAULT, A "Maildir/.Sent/maildirfolder", false, MM_CLASS_META, ACCT,
		  "Maildir/.Sent", MM_SUB_NONE, "maildirfolder" },
		{ RS_DEFAULT, A "Maildir/dovecot-uidvalidity.5f3a", false, MM_CLASS_META,
		  ACCT, "Maildir", MM_SUB_NONE, "dovecot-uidvalidity.5f3a" },
		{ RS_DEFAULT, A "Maildir/dovecot-uidvalidity", false, MM_CLASS_META,
		  ACCT, "Maildir", MM_SUB_NONE, "dovecot-uidvalidity" },
		{ RS_DEFAULT, A "Maildir/Sent/Sub/dovecot-uidlist", false, MM_CLASS_META,
		  ACCT, "Maildir/Sent/Sub", MM_SUB_NONE, "dovecot-uidlist" },
		{ RS_DEFAULT, A "dovecot-uidlist", false, MM_CLASS_META, ACCT,
		  "", MM_SUB_NONE, "dovecot-uidlist" },
		/* courier keywords: a "dir/base" rule, folder above dir */
		{ RS_DEFAULT, A "Maildir/courierimapkeywords/:list", false, MM_CLASS_META,
		  ACCT, "Maildir", MM_SUB_NONE, "courierimapkeywords/:list" },
		{ RS_DEFAULT, A "Maildir/.Sent/courierimapkeywords/1.M2.h", false,
		  MM_CLASS_META, ACCT, "Maildir/.Sent", MM_SUB_NONE,
		  "courierimapkeywords/1.M2.h" },
		{ RS_DEFAULT, A "courierimapkeywords/:list", false, MM_CLASS_META,
		  ACCT, "", MM_SUB_NONE, "courierimapkeywords/:list" },

		/* a mailbox Dovecot is deleting */
		{ RS_DEFAULT, A "Maildir/..DOVECOT-TRASHED", true, MM_CLASS_IGNORE, ACCT,
		  "", MM_SUB_NONE, "" },
		{ RS_DEFAULT, A "Maildir/..DOVECOT-TRASHED/cur/X:2,S", false,
		  MM_CLASS_IGNORE, ACCT, "", MM_SUB_NONE, "" },
		{ RS_DEFAULT, A "Maildir/..DOVECOT-TRASHED/dovecot-uidlist", false,
		  MM_CLASS_IGNORE, ACCT, "", MM_SUB_NONE, "" },

		/* other files and directories */
		{ RS_DEFAULT, A "Maildir/notes.txt", false, MM_CLASS_PLAIN, ACCT,
		  "Maildir", MM_SUB_NONE, "notes.txt" },
		{ RS_DEFAULT, A ".forward", false, MM_CLASS_PLAIN, ACCT,
		  "", MM_SUB_NONE, ".forward" },
		{ RS_DEFAULT, A "Maildir/x.sieve", false, MM_CLASS_PLAIN, ACCT,
		  "Maildir", MM_SUB_NONE, "x.sieve" },
		{ RS_DEFAULT, A "Maildir/custom-meta", false, MM_CLASS_PLAIN, ACCT,
		  "Maildir", MM_SUB_NONE, "custom-meta" },
		{ RS_DEFAULT, A "Maildir", true, MM_CLASS_DIR, ACCT,
		  "Maildir", MM_SUB_NONE, "" },
		{ RS_DEFAULT, A "Maildir/.Sent", true, MM_CLASS_DIR, ACCT,
		  "Maildir/.Sent", MM_SUB_NONE, "" },
		{ RS_DEFAULT, A "Maildir/Sent/Sub", true, MM_CLASS_DIR, ACCT,
		  "Maildir/Sent/Sub", MM_SUB_NONE, "" },
		{ RS_DEFAULT, A "sieve", true, MM_CLASS_DIR, ACCT, "sieve", MM_SUB_NONE, "" },
		/* a directory is never claimed by a file rule */
		{ RS_DEFAULT, A "Maildir/dovecot-uidlist", true, MM_CLASS_DIR, ACCT,
		  "Maildir/dovecot-uidlist", MM_SUB_NONE, "" },

		/* account_depth 1 */
		{ RS_DEPTH1, "", true, MM_CLASS_OUTSIDE, "", "", MM_SUB_NONE, "" },
		{ RS_DEPTH1, "alice", true, MM_CLASS_OUTSIDE, "", "", MM_SUB_NONE, "" },
		{ RS_DEPTH1, "alice/cur/X", false, MM_CLASS_MESSAGE, "alice",
		  "", MM_SUB_CUR, "X" },
		{ RS_DEPTH1, "alice/Maildir/.Sent/new/X", false, MM_CLASS_MESSAGE, "alice",
		  "Maildir/.Sent", MM_SUB_NEW, "X" },
		{ RS_DEPTH1, "alice/Maildir/tmp", true, MM_CLASS_SUBDIR, "alice",
		  "Maildir", MM_SUB_TMP, "" },
		{ RS_DEPTH1, "alice/Maildir/dovecot-uidlist", false, MM_CLASS_META, "alice",
		  "Maildir", MM_SUB_NONE, "dovecot-uidlist" },
		{ RS_DEPTH1, "alice/Maildir", true, MM_CLASS_DIR, "alice",
		  "Maildir", MM_SUB_NONE, "" },
		{ RS_DEPTH1, "example.org/alice", true, MM_CLASS_DIR, "example.org",
		  "alice", MM_SUB_NONE, "" },

		/* account_depth 3 */
		{ RS_DEPTH3, "srv", true, MM_CLASS_OUTSIDE, "", "", MM_SUB_NONE, "" },
		{ RS_DEPTH3, "srv/example.org", true, MM_CLASS_OUTSIDE, "", "", MM_SUB_NONE, "" },
		{ RS_DEPTH3, "srv/example.org/alice", true, MM_CLASS_OUTSIDE, "", "",
		  MM_SUB_NONE, "" },
		{ RS_DEPTH3, "srv/example.org/alice/Maildir/cur/X:2,S", false,
		  MM_CLASS_MESSAGE, "srv/example.org/alice", "Maildir", MM_SUB_CUR, "X:2,S" },
		{ RS_DEPTH3, "srv/example.org/alice/cur/X", false, MM_CLASS_MESSAGE,
		  "srv/example.org/alice", "", MM_SUB_CUR, "X" },
		{ RS_DEPTH3, "srv/example.org/alice/Maildir/dovecot.index.log", false,
		  MM_CLASS_IGNORE, "srv/example.org/alice", "Maildir", MM_SUB_NONE,
		  "dovecot.index.log" },
		{ RS_DEPTH3, "srv/example.org/alice/Maildir/.Sent", true, MM_CLASS_DIR,
		  "srv/example.org/alice", "Maildir/.Sent", MM_SUB_NONE, "" },
		/* at depth 3, "example.org/alice/cur/X" has "cur" as its account */
		{ RS_DEPTH3, "example.org/alice/cur/X", false, MM_CLASS_PLAIN,
		  "example.org/alice/cur", "", MM_SUB_NONE, "X" },

		/* [classify] overrides come before the built-in table */
		{ RS_OVERRIDE, A "Maildir/x.sieve", false, MM_CLASS_IGNORE, ACCT,
		  "Maildir", MM_SUB_NONE, "x.sieve" },
		{ RS_OVERRIDE, A "Maildir/custom-meta", false, MM_CLASS_META, ACCT,
		  "Maildir", MM_SUB_NONE, "custom-meta" },
		{ RS_OVERRIDE, A "Maildir/dovecot-keywords", false, MM_CLASS_PLAIN, ACCT,
		  "Maildir", MM_SUB_NONE, "dovecot-keywords" },
		{ RS_OVERRIDE, A "Maildir/dovecot-uidlist", false, MM_CLASS_META, ACCT,
		  "Maildir", MM_SUB_NONE, "dovecot-uidlist" },
		{ RS_OVERRIDE, A "Maildir/dovecot.index.log", false, MM_CLASS_IGNORE, ACCT,
		  "Maildir", MM_SUB_NONE, "dovecot.index.log" },
		{ RS_OVERRIDE, A "Maildir/cur/X:2,S", false, MM_CLASS_MESSAGE, ACCT,
		  "Maildir", MM_SUB_CUR, "X:2,S" },
		{ RS_OVERRIDE, A "Maildir/cur/x.sieve", false, MM_CLASS_IGNORE, ACCT,
		  "Maildir", MM_SUB_CUR, "x.sieve" },
	};
	return cr_make_param_array(struct class_case, cases,
				   sizeof(cases) / sizeof(cases[0]));
}

static void expect_part(const char *what, const char *path, const char *p,
			size_t len, const char *want)
{
	cr_assert_not_null(p, "%s: %s is NULL", path, what);
	cr_expect(len == strlen(want) && memcmp(p, want, len) == 0,
		  "%s: %s is '%.*s', want '%s'", path, what, (int)len, p, want);
}

ParameterizedTest(struct class_case *c, classify, table)
{
	struct mm_loc loc;

	mm_classify(rules[c->rs], c->path, c->is_dir, &loc);
	cr_expect_eq(loc.cls, c->cls, "%s (%s): class %s, want %s", c->path,
		     c->is_dir ? "dir" : "file", mm_class_str(loc.cls),
		     mm_class_str(c->cls));
	if (c->cls == MM_CLASS_OUTSIDE)
		return;
	expect_part("account", c->path, loc.account, loc.account_len, c->account);
	if (c->cls == MM_CLASS_IGNORE && c->folder[0] == '\0' && c->name[0] == '\0')
		return;		/* a trashed mailbox: nothing else is promised */
	expect_part("folder", c->path, loc.folder, loc.folder_len, c->folder);
	cr_expect_eq(loc.sub, c->sub, "%s: sub '%s', want '%s'", c->path,
		     mm_sub_str(loc.sub), mm_sub_str(c->sub));
	expect_part("name", c->path, loc.name, loc.name_len, c->name);
}

Test(classify, strings_point_into_the_path)
{
	const char *path = A "Maildir/.Sent/cur/X:2,S";
	struct mm_loc loc;

	mm_classify(rules[RS_DEFAULT], path, false, &loc);
	cr_assert_eq(loc.cls, MM_CLASS_MESSAGE);
	cr_expect_eq(loc.account, path);
	cr_expect_eq(loc.folder, path + strlen(A));
	cr_expect_eq(loc.name, path + strlen(path) - strlen("X:2,S"));
}

Test(classify, repeated_slashes_are_one)
{
	struct mm_loc loc;

	mm_classify(rules[RS_DEFAULT], "example.org/alice//Maildir//cur/X", false, &loc);
	cr_expect_eq(loc.cls, MM_CLASS_MESSAGE);
	cr_expect_eq(loc.sub, MM_SUB_CUR);
	expect_part("name", "//", loc.name, loc.name_len, "X");
}

Test(classify, class_names)
{
	cr_expect_str_eq(mm_class_str(MM_CLASS_OUTSIDE), "outside");
	cr_expect_str_eq(mm_class_str(MM_CLASS_PLAIN), "plain");
	cr_expect_str_eq(mm_class_str(MM_CLASS_IGNORE), "ignore");
	cr_expect_str_eq(mm_class_str(MM_CLASS_TMP), "tmp");
	cr_expect_str_eq(mm_class_str(MM_CLASS_MESSAGE), "message");
	cr_expect_str_eq(mm_class_str(MM_CLASS_META), "meta");
	cr_expect_str_eq(mm_class_str(MM_CLASS_SUBDIR), "subdir");
	cr_expect_str_eq(mm_class_str(MM_CLASS_DIR), "dir");
}

struct dump {
	size_t n;
	char first[3][64];
	char first_cls[3][16];
	bool saw_uidlist_meta;
};

static void dump_line(const char *pattern, const char *cls, void *ctx)
{
	struct dump *d = ctx;

	if (d->n < 3) {
		snprintf(d->first[d->n], sizeof(d->first[0]), "%s", pattern);
		snprintf(d->first_cls[d->n], sizeof(d->first_cls[0]), "%s", cls);
	}
	if (strcmp(pattern, "dovecot-uidlist") == 0 && strcmp(cls, "meta") == 0)
		d->saw_uidlist_meta = true;
	d->n++;
}

Test(classify, dump_lists_overrides_first)
{
	struct dump plain = { 0 }, over = { 0 };

	mm_rules_dump(rules[RS_DEFAULT], dump_line, &plain);
	mm_rules_dump(rules[RS_OVERRIDE], dump_line, &over);
	cr_expect(plain.saw_uidlist_meta);
	cr_expect_eq(over.n, plain.n + 3);
	cr_expect_str_eq(over.first[0], "*.sieve");
	cr_expect_str_eq(over.first_cls[0], "ignore");
	cr_expect_str_eq(over.first[1], "custom-meta");
	cr_expect_str_eq(over.first_cls[1], "meta");
	cr_expect_str_eq(over.first[2], "dovecot-keywords");
	cr_expect_str_eq(over.first_cls[2], "plain");
}

Test(classify, free_nulls_the_pointer)
{
	struct mm_rules *r = mm_rules_new(NULL);

	mm_rules_free(&r);
	cr_expect_null(r);
	mm_rules_free(&r);
}
