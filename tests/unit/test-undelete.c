/* SPDX-License-Identifier: MIT
 * test-undelete.c - mailmeshctl undelete's options, times and choice of
 * the copies to restore (undelete-core.c). */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include "mem.h"
#include "undelete-core.h"

#define S 1000000000ULL
#define NOW (1800000000ULL * S)

Test(undelete, times)
{
	uint64_t ns;

	cr_assert_eq(ud_parse_time("2h", NOW, &ns), 0);
	cr_assert_eq(ns, NOW - 7200 * S);
	cr_assert_eq(ud_parse_time("7d", NOW, &ns), 0);
	cr_assert_eq(ns, NOW - 7 * 86400 * S);
	cr_assert_eq(ud_parse_time("@1700000000", NOW, &ns), 0);
	cr_assert_eq(ns, 1700000000ULL * S);
	cr_assert_eq(ud_parse_time("2023-11-14", NOW, &ns), 0);
	cr_assert_eq(ns, 1699920000ULL * S);
	cr_assert_eq(ud_parse_time("2023-11-14T22:13:20", NOW, &ns), 0);
	cr_assert_eq(ns, 1700000000ULL * S);
	cr_assert_eq(ud_parse_time("2023-11-14T22:13", NOW, &ns), 0);
	cr_assert_eq(ns, 1699999980ULL * S);
	static const char *const bad[] = { "", "yesterday", "@", "@x", "2023-13-40",
					   "2023-11-14T", "2023-11-14x", "-2h" };

	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
		cr_assert_eq(ud_parse_time(bad[i], NOW, &ns), -1, "took \"%s\"", bad[i]);
}

Test(undelete, options)
{
	char *argv[] = { "undelete", "example.org/alice", "--folder", ".Sent", "--since", "1h",
			 "--dry-run", NULL };
	struct ud_opts o;
	const char *error;

	cr_assert_eq(ud_parse(7, argv, NOW, &o, &error), 0);
	cr_assert_str_eq(o.account, "example.org/alice");
	cr_assert_str_eq(o.folder, ".Sent");
	cr_assert_eq(o.since_ns, NOW - 3600 * S);
	cr_assert(o.dry_run);
	char *plain[] = { "undelete", "a/b", NULL };

	cr_assert_eq(ud_parse(2, plain, NOW, &o, &error), 0);
	cr_assert_null(o.folder);
	cr_assert_eq(o.since_ns, 0);
	cr_assert(!o.dry_run);
	char *none[] = { "undelete", NULL };
	char *two[] = { "undelete", "a/b", "c/d", NULL };
	char *unknown[] = { "undelete", "a/b", "--all", NULL };
	char *dangling[] = { "undelete", "a/b", "--since", NULL };
	char *escape[] = { "undelete", "a/b", "--folder", "../x", NULL };
	char *badtime[] = { "undelete", "a/b", "--since", "soon", NULL };

	cr_assert_eq(ud_parse(1, none, NOW, &o, &error), -1);
	cr_assert_eq(ud_parse(3, two, NOW, &o, &error), -1);
	cr_assert_eq(ud_parse(3, unknown, NOW, &o, &error), -1);
	cr_assert_eq(ud_parse(3, dangling, NOW, &o, &error), -1);
	cr_assert_eq(ud_parse(4, escape, NOW, &o, &error), -1);
	cr_assert_eq(ud_parse(4, badtime, NOW, &o, &error), -1);
}

static struct ud_item item(const char *folder, const char *name, uint64_t t, unsigned int peer)
{
	return (struct ud_item){ .folder = mm_strdup(folder), .name = mm_strdup(name),
				 .sub = 2, .expunged_ns = t, .peer = peer };
}

Test(undelete, one_copy_per_identity_the_latest)
{
	struct ud_item *it = mm_calloc(6, sizeof(*it));
	size_t n;

	/* two replicas keep the same expunge; one message expunged twice
	   (restored in between) with other flags; another folder's same name */
	it[0] = item("", "1.M1.h:2,S", 10, 1);
	it[1] = item("", "1.M1.h:2,S", 10, 0);
	it[2] = item("", "1.M1.h:2,FS", 20, 1);
	it[3] = item(".Sent", "1.M1.h:2,S", 10, 1);
	it[4] = item("", "2.M2.h", 5, 0);
	it[5] = item("", "10.M1.h:2,", 5, 0);
	n = ud_dedupe(it, 6);
	cr_assert_eq(n, 4);
	cr_assert_str_eq(it[0].folder, "");
	cr_assert_str_eq(it[0].name, "1.M1.h:2,FS");
	cr_assert_eq(it[0].expunged_ns, 20);
	cr_assert_str_eq(it[1].name, "10.M1.h:2,");
	cr_assert_str_eq(it[2].name, "2.M2.h");
	cr_assert_str_eq(it[3].folder, ".Sent");
	ud_items_free(it, n);
}

Test(undelete, dedupe_of_nothing)
{
	cr_assert_eq(ud_dedupe(NULL, 0), 0);
}
