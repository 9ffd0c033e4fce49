/* SPDX-License-Identifier: MIT
 * test-merge.c - the merge rules for late records after a failover
 * (repl-merge.c): per-flag clocks, expunge over flags, folder order,
 * dovecot-uidlist and dovecot-keywords. */
#include <criterion/criterion.h>
#include <string.h>
#include "repl-merge.h"

static const struct repl_merge_clock late = { 100, "a" };

static struct repl_merge_history hist;

static void setup(void)
{
	memset(&hist, 0, sizeof(hist));
}

TestSuite(merge, .init = setup);

/* this store ("b") changed its flags from old to new at time t */
static void here(const char *old, const char *new, uint64_t t)
{
	struct repl_merge_clock c = { t, "b" };

	repl_merge_history_note(&hist, old, new, &c);
}

Test(merge, clock_order_and_ties)
{
	struct repl_merge_clock a100 = { 100, "a" }, b100 = { 100, "b" }, a99 = { 99, "z" },
		none = { 0, NULL };

	cr_expect(repl_merge_after(&b100, &a100), "same time: the greater store name");
	cr_expect(!repl_merge_after(&a100, &b100));
	cr_expect(!repl_merge_after(&a100, &a100));
	cr_expect(repl_merge_after(&a100, &a99), "the time comes first");
	cr_expect(repl_merge_after(&a99, &none));
	cr_expect(!repl_merge_after(&none, &a99));
	cr_expect(!repl_merge_after(&none, &none));
}

Test(merge, disjoint_flags_both_survive)
{
	char out[REPL_MERGE_FLAGS_MAX];

	/* a set \Seen while cut off; b set \Answered after the failover */
	here("", "R", 200);
	cr_expect_eq(repl_merge_flags("", "S", &late, "R", &hist, out), 0);
	cr_expect_str_eq(out, "RS");
	/* and with b's change older than a's */
	setup();
	here("", "R", 50);
	cr_expect_eq(repl_merge_flags("F", "FS", &late, "R", &hist, out), 0);
	cr_expect_str_eq(out, "RS", "F was not changed by a: b's value stays");
}

Test(merge, set_late_but_cleared_here_later_stays_clear)
{
	char out[REPL_MERGE_FLAGS_MAX];

	here("S", "", 200);
	cr_expect_eq(repl_merge_flags("", "S", &late, "", &hist, out), 1);
	cr_expect_str_eq(out, "");
}

Test(merge, cleared_here_earlier_than_late_set_is_set)
{
	char out[REPL_MERGE_FLAGS_MAX];

	here("S", "", 99);
	cr_expect_eq(repl_merge_flags("", "S", &late, "", &hist, out), 0);
	cr_expect_str_eq(out, "S");
	/* cleared late, set here before: cleared */
	setup();
	here("", "FS", 10);
	cr_expect_eq(repl_merge_flags("FS", "S", &late, "FS", &hist, out), 0);
	cr_expect_str_eq(out, "S");
}

Test(merge, ties_are_broken_by_store_name)
{
	char out[REPL_MERGE_FLAGS_MAX];
	struct repl_merge_clock late_z = { 100, "z" };

	here("S", "", 100);	/* "b" at the late record's time */
	cr_expect_eq(repl_merge_flags("", "S", &late, "", &hist, out), 1);
	cr_expect_str_eq(out, "", "b sorts after a: b's clear wins");
	cr_expect_eq(repl_merge_flags("", "S", &late_z, "", &hist, out), 0);
	cr_expect_str_eq(out, "S", "z sorts after b: z's set wins");
}

Test(merge, the_last_change_here_of_each_flag_counts)
{
	char out[REPL_MERGE_FLAGS_MAX];

	here("", "S", 150);
	here("S", "", 120);	/* noted out of order: the later one stays */
	here("S", "RS", 300);	/* R only */
	cr_expect_eq(hist.flag['S'].time_ns, 150);
	cr_expect_eq(hist.flag['R'].time_ns, 300);
	cr_expect_eq(hist.flag['F'].time_ns, 0);
	cr_expect_eq(repl_merge_flags("S", "F", &late, "RS", &hist, out), 1);
	cr_expect_str_eq(out, "FRS", "F taken; S's clear lost to the set here at 150");
}

Test(merge, keywords_and_odd_bytes)
{
	char out[REPL_MERGE_FLAGS_MAX];

	cr_expect_eq(repl_merge_flags("a", "ac", &late, "Sa\xc3", &hist, out), 0);
	cr_expect_str_eq(out, "Sac", "letters in byte order; a non-ASCII byte is not a flag");
	cr_expect_eq(repl_merge_flags(NULL, "T", &late, NULL, &hist, out), 0);
	cr_expect_str_eq(out, "T");
}

Test(merge, names)
{
	struct mm_buf b = { 0 };

	cr_expect_str_eq(repl_merge_name_flags("1.M1P1.a:2,RS"), "RS");
	cr_expect_str_eq(repl_merge_name_flags("1.M1P1.a"), "");
	repl_merge_msgname("1.M1P1.a,S=5", "", &b);
	cr_expect_str_eq(mm_buf_str(&b), "1.M1P1.a,S=5");
	mm_buf_reset(&b);
	repl_merge_msgname("1.M1P1.a,S=5", "S", &b);
	cr_expect_str_eq(mm_buf_str(&b), "1.M1P1.a,S=5:2,S");
	mm_buf_reset(&b);
	repl_merge_msgname("1.M1P1.a:2,R", "RS", &b);
	cr_expect_str_eq(mm_buf_str(&b), "1.M1P1.a:2,RS");
	mm_buf_reset(&b);
	repl_merge_msgname("1.M1P1.a:2,R", "", &b);
	cr_expect_str_eq(mm_buf_str(&b), "1.M1P1.a:2,");
	mm_buf_free(&b);
}

Test(merge, expunge_wins_over_flag_changes)
{
	const char *rule;

	/* a flagged a message b expunged */
	hist.expunged = true;
	cr_expect_eq(repl_merge_msg(MM_OP_FLAGS, false, &hist, &rule), REPL_MERGE_KEEP);
	cr_expect_not_null(strstr(rule, "expunge wins"));
	cr_expect_eq(repl_merge_msg(MM_OP_MOVE, false, &hist, &rule), REPL_MERGE_KEEP);
	/* a expunged a message b flagged later */
	setup();
	here("", "F", 500);
	cr_expect_eq(repl_merge_msg(MM_OP_EXPUNGE, true, &hist, &rule), REPL_MERGE_APPLY);
	cr_expect_not_null(strstr(rule, "expunge wins"));
	cr_expect_eq(repl_merge_msg(MM_OP_EXPUNGE, false, &hist, &rule), REPL_MERGE_ALREADY);
	/* never here, not expunged here */
	cr_expect_eq(repl_merge_msg(MM_OP_FLAGS, false, &hist, &rule), REPL_MERGE_MISSING);
	cr_expect_eq(repl_merge_msg(MM_OP_FLAGS, true, &hist, &rule), REPL_MERGE_APPLY);
}

Test(merge, folders_in_clock_order)
{
	struct repl_merge_folder f = { 0 };
	const char *rule;

	cr_expect_eq(repl_merge_folder(MM_OP_FOLDER_CREATE, &late, &f, &rule), REPL_MERGE_APPLY);
	f.changed = (struct repl_merge_clock){ 200, "b" };	/* deleted here later */
	cr_expect_eq(repl_merge_folder(MM_OP_FOLDER_CREATE, &late, &f, &rule), REPL_MERGE_KEEP);
	f.exists = true;
	cr_expect_eq(repl_merge_folder(MM_OP_FOLDER_CREATE, &late, &f, &rule),
		     REPL_MERGE_ALREADY);

	/* delete: never one that holds mail here, nor one made here later */
	f = (struct repl_merge_folder){ .exists = true };
	cr_expect_eq(repl_merge_folder(MM_OP_FOLDER_DELETE, &late, &f, &rule), REPL_MERGE_APPLY);
	f.holds_mail = true;
	cr_expect_eq(repl_merge_folder(MM_OP_FOLDER_DELETE, &late, &f, &rule), REPL_MERGE_KEEP);
	cr_expect_not_null(strstr(rule, "holds mail"));
	f.holds_mail = false;
	f.changed = (struct repl_merge_clock){ 200, "b" };
	cr_expect_eq(repl_merge_folder(MM_OP_FOLDER_DELETE, &late, &f, &rule), REPL_MERGE_KEEP);
	f.changed = (struct repl_merge_clock){ 50, "b" };
	cr_expect_eq(repl_merge_folder(MM_OP_FOLDER_DELETE, &late, &f, &rule), REPL_MERGE_APPLY);
	f.exists = false;
	cr_expect_eq(repl_merge_folder(MM_OP_FOLDER_DELETE, &late, &f, &rule),
		     REPL_MERGE_ALREADY);

	/* rename */
	f = (struct repl_merge_folder){ .exists = true };
	cr_expect_eq(repl_merge_folder(MM_OP_FOLDER_RENAME, &late, &f, &rule), REPL_MERGE_APPLY);
	f.new_exists = true;
	cr_expect_eq(repl_merge_folder(MM_OP_FOLDER_RENAME, &late, &f, &rule), REPL_MERGE_KEEP);
	f.exists = false;
	cr_expect_eq(repl_merge_folder(MM_OP_FOLDER_RENAME, &late, &f, &rule),
		     REPL_MERGE_ALREADY);
	f.new_exists = false;
	cr_expect_eq(repl_merge_folder(MM_OP_FOLDER_RENAME, &late, &f, &rule),
		     REPL_MERGE_MISSING);
}

Test(merge, other_metadata_keeps_this_stores)
{
	const struct repl_merge_clock none = { 0, NULL }, here_later = { 200, "b" },
		here_before = { 50, "b" }, merged_before = { 50, "a" };
	const char *rule;

	cr_expect_eq(repl_merge_meta(false, true, true, &none, &late, &rule), REPL_MERGE_ALREADY);
	cr_expect_eq(repl_merge_meta(false, true, false, &none, &late, &rule), REPL_MERGE_KEEP);
	cr_expect_eq(repl_merge_meta(false, true, false, &here_before, &late, &rule),
		     REPL_MERGE_KEEP);
	cr_expect_eq(repl_merge_meta(false, false, false, &none, &late, &rule),
		     REPL_MERGE_APPLY);
	cr_expect_eq(repl_merge_meta(false, false, false, &here_later, &late, &rule),
		     REPL_MERGE_KEEP, "removed here since");
	/* a's second write of a file b only has from a's first */
	cr_expect_eq(repl_merge_meta(false, true, false, &merged_before, &late, &rule),
		     REPL_MERGE_APPLY);
	cr_expect_eq(repl_merge_meta(true, true, false, &merged_before, &late, &rule),
		     REPL_MERGE_APPLY);
	cr_expect_eq(repl_merge_meta(true, true, false, &none, &late, &rule), REPL_MERGE_KEEP);
	cr_expect_eq(repl_merge_meta(true, false, true, &none, &late, &rule), REPL_MERGE_ALREADY);
}

/* ---- dovecot-uidlist ---- */

static int merge_ul(const char *local, const char *late, struct mm_buf *out,
		    struct repl_merge_stats *st)
{
	const char *error = NULL;
	int r = repl_merge_uidlist(local, strlen(local), late, strlen(late), out, st, &error);

	if (r < 0)
		cr_expect_not_null(error);
	return r;
}

Test(merge, uidlist_collision_gets_a_fresh_uid)
{
	/* b (here) gave UID 6 to its own message after the failover; a gave
	   6 to another while cut off, and 7 to a third */
	const char *local =
		"3 V1700000000 N7 G0123456789abcdef\n"
		"1 :1700000000.M1P1.a\n"
		"5 :1700000000.M5P1.a\n"
		"6 :1700000001.M1P1.b\n";
	const char *late =
		"3 V1700000000 N8 Gfedcba9876543210\n"
		"1 :1700000000.M1P1.a:2,S\n"
		"5 :1700000000.M5P1.a\n"
		"6 :1700000000.M6P1.a\n"
		"7 W1234 :1700000000.M7P1.a\n";
	struct repl_merge_stats st;
	struct mm_buf out = { 0 };

	cr_assert_eq(merge_ul(local, late, &out, &st), 1);
	cr_expect_str_eq(mm_buf_str(&out),
		"3 V1700000000 N9 G0123456789abcdef\n"
		"1 :1700000000.M1P1.a\n"
		"5 :1700000000.M5P1.a\n"
		"6 :1700000001.M1P1.b\n"
		"7 W1234 :1700000000.M7P1.a\n"
		"8 :1700000000.M6P1.a\n");
	cr_expect_eq(st.added, 2);
	cr_expect_eq(st.renumbered, 1);
	cr_expect_eq(st.differ, 0);

	/* merging the result again adds nothing */
	struct mm_buf again = { 0 };
	char *merged = strdup(mm_buf_str(&out));

	cr_expect_eq(merge_ul(merged, late, &again, &st), 0);
	cr_expect_eq(again.len, 0);
	free(merged);
	mm_buf_free(&again);
	mm_buf_free(&out);
}

Test(merge, uidlist_keeps_uidvalidity_and_this_stores_uids)
{
	const char *local = "3 V42 N3\n1 :x.1\n2 :x.2\n";
	const char *late = "3 V99 N20\n1 :x.1\n7 :x.2\n19 :x.19\n";
	struct repl_merge_stats st;
	struct mm_buf out = { 0 };

	cr_assert_eq(merge_ul(local, late, &out, &st), 1);
	cr_expect_str_eq(mm_buf_str(&out), "3 V42 N20\n1 :x.1\n2 :x.2\n19 :x.19\n");
	cr_expect_eq(st.differ, 1, "x.2 is 2 here and 7 there: 2 stays");
	cr_expect_eq(st.renumbered, 0, "19 was never given out here");
	mm_buf_free(&out);
}

Test(merge, uidlist_below_the_next_uid_here_is_never_reused)
{
	/* b gave out 4 and 5 (expunged since); a's 4 gets a fresh UID */
	const char *local = "3 V42 N6\n1 :x.1\n";
	const char *late = "3 V42 N5\n1 :x.1\n4 :x.4\n";
	struct repl_merge_stats st;
	struct mm_buf out = { 0 };

	cr_assert_eq(merge_ul(local, late, &out, &st), 1);
	cr_expect_str_eq(mm_buf_str(&out), "3 V42 N7\n1 :x.1\n6 :x.4\n");
	cr_expect_eq(st.renumbered, 1);
	mm_buf_free(&out);
}

Test(merge, uidlist_malformed_is_refused_and_nothing_written)
{
	static const char *const bad[] = {
		"", "garbage\n", "3 N5\n1 :x\n", "3 V0 N5\n", "1 42 5\n1 x\n",
		"3 V1 N5\n1 x.1\n", "3 V1 N5\n2 :x.2\n1 :x.1\n", "3 V1 N5\nx :x.1\n",
		"3 V1 N5\n\n1 :x.1\n", "3 V1 N5\n1 :\n", "3 V1  N5\n",
		"3 V1 N5\n99999999999 :x\n",
	};
	const char *good = "3 V1 N5\n1 :x.1\n";
	struct repl_merge_stats st;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct mm_buf out = { 0 };

		mm_buf_puts(&out, "untouched");
		cr_expect_eq(merge_ul(good, bad[i], &out, &st), -1, "late \"%s\"", bad[i]);
		cr_expect_eq(merge_ul(bad[i], good, &out, &st), -1, "local \"%s\"", bad[i]);
		cr_expect_str_eq(mm_buf_str(&out), "untouched");
		mm_buf_free(&out);
	}
}

Test(merge, uidlist_without_trailing_newline)
{
	struct repl_merge_stats st;
	struct mm_buf out = { 0 };

	cr_assert_eq(merge_ul("3 V1 N2\n1 :x.1", "3 V1 N3\n1 :x.1\n2 :x.2", &out, &st), 1);
	cr_expect_str_eq(mm_buf_str(&out), "3 V1 N3\n1 :x.1\n2 :x.2\n");
	mm_buf_free(&out);
}

/* ---- dovecot-keywords ---- */

Test(merge, keywords_keep_local_indexes)
{
	const char *local = "0 $Junk\n1 work\n";
	const char *late = "0 $Junk\n1 home\n3 work\n4 later\n";
	struct repl_merge_stats st;
	struct mm_buf out = { 0 };
	const char *error = NULL;

	cr_assert_eq(repl_merge_keywords(local, strlen(local), late, strlen(late), &out, &st,
					 &error), 1);
	cr_expect_str_eq(mm_buf_str(&out), "0 $Junk\n1 work\n2 home\n4 later\n");
	cr_expect_eq(st.added, 2);
	cr_expect_eq(st.renumbered, 1, "home: 1 is taken here");
	cr_expect_eq(st.differ, 1, "work: 1 here, 3 there");
	mm_buf_free(&out);

	cr_expect_eq(repl_merge_keywords(local, strlen(local), local, strlen(local), &out, &st,
					 &error), 0);
	cr_expect_eq(repl_merge_keywords(local, strlen(local), "x y\n", 4, &out, &st, &error),
		     -1);
	cr_expect_eq(repl_merge_keywords(local, strlen(local), "26 y\n", 5, &out, &st, &error),
		     -1);
	cr_expect_eq(out.len, 0);
}

Test(merge, keywords_full_drops_and_counts)
{
	struct mm_buf local = { 0 }, out = { 0 };
	struct repl_merge_stats st;
	const char *error = NULL;

	for (int i = 0; i < 26; i++)
		mm_buf_printf(&local, "%d k%d\n", i, i);
	cr_expect_eq(repl_merge_keywords(mm_buf_str(&local), local.len, "0 new\n", 6, &out,
					 &st, &error), 0);
	cr_expect_eq(st.dropped, 1);
	cr_expect_eq(st.added, 0);
	mm_buf_free(&local);
	mm_buf_free(&out);
}
