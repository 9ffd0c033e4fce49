/* SPDX-License-Identifier: MIT
 * test-guard.c - the mass-expunge guard's window and decision
 * (repl-guard.c), on a fake clock. */
#include <criterion/criterion.h>
#include <stdio.h>
#include "repl-guard.h"
#include "repl-moved.h"

#define S 1000000000ULL

static struct repl_guard *g;
static const struct repl_guard_set set = { .pct = 20, .min = 10, .window_ns = 60 * S };

static void setup(void)
{
	g = repl_guard_new(&set);
}

static void teardown(void)
{
	repl_guard_free(&g);
	cr_assert_null(g);
}

TestSuite(guard, .init = setup, .fini = teardown);

/* base: the messages the account has now, given when it is asked for */
static enum repl_guard_verdict note(uint64_t lsn, uint64_t t, uint64_t base)
{
	uint64_t fl = 0, fn = 0;
	bool need = repl_guard_needs_base(g, "example.org/alice", t);

	return repl_guard_note(g, "example.org/alice", lsn, t, need ? base : 0, &fl, &fn);
}

Test(guard, threshold_is_the_larger_of_min_and_percent)
{
	cr_assert_eq(repl_guard_threshold(&set, 3), 10);
	cr_assert_eq(repl_guard_threshold(&set, 50), 10);
	cr_assert_eq(repl_guard_threshold(&set, 51), 11);	/* rounded up */
	cr_assert_eq(repl_guard_threshold(&set, 1000), 200);
}

Test(guard, trips_on_one_more_than_the_threshold_within_a_minute)
{
	uint64_t fl = 0, fn = 0;

	/* below min the count is never asked for: no walk of the account */
	cr_assert(!repl_guard_needs_base(g, "example.org/alice", 5 * S));
	for (uint64_t i = 1; i <= 10; i++)
		cr_assert_eq(note(i, 5 * S + i, 50 - i), REPL_GUARD_PASS, "expunge %lu",
			     (unsigned long)i);
	cr_assert_eq(repl_guard_count(g, "example.org/alice", 6 * S), 10);
	cr_assert(repl_guard_needs_base(g, "example.org/alice", 6 * S));
	/* 39 left now, and the 10 of the window: 49 when it opened */
	cr_assert_eq(repl_guard_note(g, "example.org/alice", 11, 6 * S, 39, &fl, &fn),
		     REPL_GUARD_TRIP);
	cr_assert_eq(fl, 1);
	cr_assert_eq(fn, 5 * S + 1);
}

Test(guard, the_count_is_asked_for_once_a_window)
{
	for (uint64_t i = 1; i <= 10; i++)
		cr_assert_eq(note(i, i, 1000), REPL_GUARD_PASS);
	cr_assert(repl_guard_needs_base(g, "example.org/alice", 11));
	cr_assert_eq(note(11, 11, 1000), REPL_GUARD_PASS);
	cr_assert(!repl_guard_needs_base(g, "example.org/alice", 12));
	/* the window empties: a new one asks again once it reaches min */
	cr_assert(!repl_guard_needs_base(g, "example.org/alice", 100 * S));
	for (uint64_t i = 12; i <= 21; i++)
		cr_assert_eq(note(i, 100 * S + i, 1000), REPL_GUARD_PASS);
	cr_assert(repl_guard_needs_base(g, "example.org/alice", 100 * S + 30));
}

Test(guard, a_small_account_emptying_its_trash_does_not_trip)
{
	for (uint64_t i = 1; i <= 3; i++)
		cr_assert_eq(note(i, i, 3), REPL_GUARD_PASS);
}

Test(guard, expunges_spread_over_minutes_do_not_trip)
{
	/* 11 expunges, one every 7 s: never more than 9 in a minute */
	for (uint64_t i = 1; i <= 30; i++)
		cr_assert_eq(note(i, i * 7 * S, 50), REPL_GUARD_PASS, "expunge %lu",
			     (unsigned long)i);
}

Test(guard, each_lsn_counts_once_whatever_reads_it)
{
	for (uint64_t i = 1; i <= 10; i++) {
		cr_assert_eq(note(i, i, 50 - i), REPL_GUARD_PASS);
		/* a second link reading the same records */
		cr_assert_eq(note(i, i, 50 - i), REPL_GUARD_PASS);
	}
	cr_assert_eq(repl_guard_count(g, "example.org/alice", 20), 10);
	cr_assert_eq(note(11, 11, 39), REPL_GUARD_TRIP);
}

Test(guard, base_counts_the_window_expunges_as_messages)
{
	/* 1000 messages: 200 may go in a minute; asked after 10 went, the
	   account has 990, and the base is 1000 */
	for (uint64_t i = 1; i <= 200; i++)
		cr_assert_eq(note(i, i, 1000 - i + 1), REPL_GUARD_PASS, "expunge %lu",
			     (unsigned long)i);
	cr_assert_eq(note(201, 201, 0), REPL_GUARD_TRIP);
	/* the window starts afresh after a trip */
	cr_assert_eq(repl_guard_count(g, "example.org/alice", 202), 0);
	cr_assert(!repl_guard_needs_base(g, "example.org/alice", 202));
}

Test(guard, accounts_count_apart)
{
	uint64_t fl, fn;

	for (uint64_t i = 1; i <= 10; i++)
		cr_assert_eq(note(i, i, 50), REPL_GUARD_PASS);
	cr_assert_eq(repl_guard_note(g, "example.org/bob", 11, 11, 50, &fl, &fn),
		     REPL_GUARD_PASS);
	cr_assert_eq(repl_guard_count(g, "example.org/bob", 12), 1);
}

Test(guard, zero_percent_never_trips)
{
	struct repl_guard_set off = { .pct = 0, .min = 1, .window_ns = 60 * S };
	struct repl_guard *g2 = repl_guard_new(&off);
	uint64_t fl, fn;

	for (uint64_t i = 1; i <= 100; i++)
		cr_assert_eq(repl_guard_note(g2, "a/b", i, i, 100, &fl, &fn), REPL_GUARD_PASS);
	repl_guard_free(&g2);
}

Test(guard, window_slides)
{
	for (uint64_t i = 1; i <= 10; i++)
		cr_assert_eq(note(i, i * S, 50 - i), REPL_GUARD_PASS);
	/* at 61.5 s the expunge of 1 s has left the window */
	cr_assert_eq(note(11, 61 * S + S / 2, 39), REPL_GUARD_PASS);
	/* 38 left and 10 in the window: 48, threshold 10 */
	cr_assert_eq(note(12, 62 * S - 1, 38), REPL_GUARD_TRIP);
}

/* repl-moved.c: the deliveries and copies that make an expunge a move's
   second half */

Test(moved, an_expunge_after_a_delivery_of_its_size_is_a_move)
{
	struct repl_moved *m = repl_moved_new(60 * S);

	/* Dovecot's move: the copy under a new name, then the expunge */
	repl_moved_note(m, "a/b", ".Archive", "1700.M9P9.h,S=500,W=510", 10 * S);
	cr_assert(!repl_moved_take(m, "a/c", "", "1600.M1P1.h,S=500,W=510:2,S", 10 * S),
		  "another account");
	cr_assert(!repl_moved_take(m, "a/b", "", "1600.M1P1.h,S=500,W=511:2,S", 10 * S),
		  "another size");
	cr_assert(!repl_moved_take(m, "a/b", "", "1600.M1P1.h,S=500,W=510", 9 * S),
		  "an expunge before the copy");
	cr_assert(repl_moved_take(m, "a/b", "", "1600.M1P1.h,S=500,W=510:2,S", 11 * S));
	/* one copy excuses one expunge */
	cr_assert(!repl_moved_take(m, "a/b", "", "1601.M1P1.h,S=500,W=510:2,S", 11 * S));
	/* a minute later it is no move */
	repl_moved_note(m, "a/b", ".Archive", "1700.M9P9.h,S=500,W=510", 20 * S);
	cr_assert(!repl_moved_take(m, "a/b", "", "1600.M1P1.h,S=500,W=510", 80 * S));
	/* an expunge of mail just delivered into its own folder is no move */
	repl_moved_note(m, "a/b", "", "1800.M1P1.h,S=42", 30 * S);
	cr_assert(!repl_moved_take(m, "a/b", "", "1800.M1P1.h,S=42:2,S", 31 * S));
	/* but one moved on from there is */
	repl_moved_note(m, "a/b", ".Sent", "1801.M1P1.h,S=42", 31 * S);
	cr_assert(repl_moved_take(m, "a/b", "", "1800.M1P1.h,S=42:2,S", 32 * S));
	cr_assert(!repl_moved_take(m, "a/b", "", "1802.M1P1.h,S=42:2,S", 32 * S));
	/* names without size tags are never moves */
	repl_moved_note(m, "a/b", ".Archive", "1.x:2,S", 30 * S);
	cr_assert(!repl_moved_take(m, "a/b", "", "1.x:2,S", 30 * S));
	repl_moved_free(&m);
	cr_assert_null(m);
}

Test(moved, a_large_move_is_remembered_whole_and_the_table_stays_bounded)
{
	struct repl_moved *m = repl_moved_new(60 * S);
	char name[64];

	/* Dovecot copies all, then expunges all */
	for (unsigned int i = 0; i < 5000; i++) {
		snprintf(name, sizeof(name), "9%u.M%u.h,S=%u,W=%u", i, i, 1000 + i % 700,
			 1010 + i % 700);
		repl_moved_note(m, "a/b", ".Archive", name, 100 * S + i);
	}
	for (unsigned int i = 0; i < 5000; i++) {
		snprintf(name, sizeof(name), "%u.M%u.h,S=%u,W=%u:2,S", i, i, 1000 + i % 700,
			 1010 + i % 700);
		cr_assert(repl_moved_take(m, "a/b", "", name, 101 * S), "%s", name);
	}
	cr_assert(!repl_moved_take(m, "a/b", "", "x.M1.h,S=1000,W=1010", 101 * S),
		  "all taken");
	/* hours of deliveries later: only the last minute's stay */
	for (unsigned int i = 0; i < 100000; i++) {
		snprintf(name, sizeof(name), "x%u.h,S=%u", i, i);
		repl_moved_note(m, "a/b", ".Archive", name, 200 * S + (uint64_t)i * S / 10);
	}
	/* 105,000 noted; the expired are purged as the table fills, and the
	   table is sized by the largest minute */
	cr_assert_leq(repl_moved_size(m), 4800);
	repl_moved_free(&m);
}
