/* SPDX-License-Identifier: MIT
 * test-retain.c - names and expiry of the expunged messages a replica
 * keeps (repl-retain.c). */
#include <criterion/criterion.h>
#include <stdlib.h>
#include "repl-retain.h"

#define S 1000000000ULL

Test(retain, folder_key_round_trips)
{
	static const char *const folders[] = { "", ".Sent", "a/b", ".Trash.Old", "\xc3\xa9t\xc3\xa9" };

	for (size_t i = 0; i < sizeof(folders) / sizeof(*folders); i++) {
		char *k = repl_retain_folder_key(folders[i]);
		char *f = repl_retain_file(1700000000 * S, MM_SUB_CUR, "1.M2P3.h,S=10:2,FS");
		struct repl_retained r;

		cr_assert_eq(k[0], 'f');
		cr_assert_null(strchr(k, '/'));
		cr_assert_eq(repl_retain_parse(k, f, &r), 0, "%s", folders[i]);
		cr_assert_str_eq(r.folder, folders[i]);
		cr_assert_str_eq(r.name, "1.M2P3.h,S=10:2,FS");
		cr_assert_eq(r.sub, MM_SUB_CUR);
		cr_assert_eq(r.expunged_ns, 1700000000 * S);
		free(r.folder);
		free(k);
		free(f);
	}
}

Test(retain, new_sub_round_trips)
{
	char *f = repl_retain_file(7, MM_SUB_NEW, "x");
	struct repl_retained r;

	cr_assert_str_eq(f, "00000000000000000007.n.x");
	cr_assert_eq(repl_retain_parse("f", f, &r), 0);
	cr_assert_eq(r.sub, MM_SUB_NEW);
	cr_assert_str_eq(r.folder, "");
	free(r.folder);
	free(f);
}

Test(retain, foreign_names_are_not_ours)
{
	struct repl_retained r;

	cr_assert_eq(repl_retain_parse("f", "README", &r), -1);
	cr_assert_eq(repl_retain_parse("f", "00000000000000000007.x.name", &r), -1);
	cr_assert_eq(repl_retain_parse("f", "00000000000000000007.c.", &r), -1);
	cr_assert_eq(repl_retain_parse("f", "0000000000000000007.c.name", &r), -1);
	cr_assert_eq(repl_retain_parse("f", "99999999999999999999.c.name", &r), -1);
	cr_assert_eq(repl_retain_parse("f2", "00000000000000000007.c.n", &r), -1);
	cr_assert_eq(repl_retain_parse("fzz", "00000000000000000007.c.n", &r), -1);
	cr_assert_eq(repl_retain_parse("f00", "00000000000000000007.c.n", &r), -1);
	cr_assert_eq(repl_retain_parse("g", "00000000000000000007.c.n", &r), -1);
	cr_assert_eq(repl_retain_parse("f", "00000000000000000007.c...", &r), -1);
	cr_assert_eq(repl_retain_parse("f", "00000000000000000007.c.1.M1.h:2,", &r), 0);
	free(r.folder);
}

Test(retain, expiry)
{
	cr_assert(!repl_retain_expired(100 * S, 100 * S + 7 * 86400 * S - 1, 7 * 86400));
	cr_assert(repl_retain_expired(100 * S, 100 * S + 7 * 86400 * S, 7 * 86400));
	/* a clock behind the expunge keeps it */
	cr_assert(!repl_retain_expired(100 * S, 50 * S, 60));
	/* 0: nothing is kept */
	cr_assert(repl_retain_expired(100 * S, 100 * S, 0));
}
