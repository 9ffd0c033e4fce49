/* SPDX-License-Identifier: MIT
 * test-epoch.c - epochs as fencing tokens (repl-epoch.c): the stale
 * decision, the epochs known per account, and their file (round trip,
 * bad, torn and corrupt lines). */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include "repl-epoch.h"

#define S 1000000000ULL		/* a second in ns */
/* epochs are wall-clock ns at activation */
#define E1 (1700000000ULL * S)	/* the old active's */
#define E2 (E1 + 60 * S)	/* the new active's, a minute later */
#define E3 (E2 + 60 * S)

static struct repl_epochs *t;

static void setup(void)
{
	t = repl_epochs_new();
}

static void teardown(void)
{
	repl_epochs_free(&t);
	cr_expect_null(t);
}

TestSuite(epoch, .init = setup, .fini = teardown);

/* stale(epoch, time, known...) */
static bool stale(uint64_t epoch, uint64_t time_ns, const uint64_t *known, size_t n,
		  uint64_t *newer_r)
{
	return repl_epoch_stale(epoch, time_ns, known, n, newer_r);
}

Test(epoch, older_epoch_written_before_the_newer_began_is_late_not_stale)
{
	const uint64_t known[] = { E2 };

	/* the old active wrote it under its valid lease; it comes late
	   (a partition healed): applied, merged at the new active */
	cr_expect_not(stale(E1, E1 + 5 * S, known, 1, NULL));
	cr_expect_not(stale(E1, E2 - 1, known, 1, NULL), "1 ns before the newer epoch");
}

Test(epoch, older_epoch_written_after_the_newer_began_is_stale)
{
	const uint64_t known[] = { E2 };
	uint64_t newer = 0;

	cr_expect(stale(E1, E2, known, 1, &newer), "at the very ns the newer began");
	cr_expect_eq(newer, E2);
	cr_expect(stale(E1, E2 + 3600 * S, known, 1, NULL));
}

Test(epoch, epoch_zero_is_never_stale)
{
	const uint64_t known[] = { E1, E2, E3 };

	/* an unfenced mount, or a version 1 record */
	cr_expect_not(stale(0, E3 + S, known, 3, NULL));
	cr_expect_not(stale(0, 0, known, 3, NULL));
}

Test(epoch, equal_or_newer_epochs_are_not_stale)
{
	const uint64_t known[] = { E1, E2 };

	cr_expect_not(stale(E2, E3, known, 2, NULL), "the newest epoch itself");
	cr_expect_not(stale(E3, E3 + S, known, 2, NULL), "newer than any known");
	cr_expect_not(stale(E1, E1 + S, known, 1, NULL), "only its own epoch known");
}

Test(epoch, nothing_known_nothing_stale)
{
	cr_expect_not(stale(E1, E3, NULL, 0, NULL));
}

/* The epoch that fenced a record is the first newer one: with E1 < E2 <
   E3 known, a record of E1 written between E2 and E3 is stale (E2 had
   begun), which knowing only the newest (E3) would miss. */
Test(epoch, the_first_newer_epoch_decides)
{
	const uint64_t known[] = { E1, E2, E3 };
	uint64_t newer = 0;

	cr_expect(stale(E1, E2 + S, known, 3, &newer));
	cr_expect_eq(newer, E2);
	cr_expect_not(stale(E1, E2 - S, known, 3, NULL));
	cr_expect(stale(E2, E3, known, 3, &newer));
	cr_expect_eq(newer, E3);
	cr_expect_not(stale(E2, E3 - 1, known, 3, NULL));
}

/* The receiver's own epoch, from STATE/roles while the account is active
   there, is one of the known ones like any other. */
Test(epoch, own_epoch_fences_the_deposed_store)
{
	size_t n;
	const uint64_t *k;

	cr_expect(repl_epochs_note(t, "example.org/alice", E2), "own epoch noted");
	k = repl_epochs_get(t, "example.org/alice", &n);
	cr_assert_eq(n, 1);
	cr_expect(stale(E1, E2 + S, k, n, NULL));
	cr_expect_not(stale(E1, E2 - S, k, n, NULL));
	/* another account knows nothing of it */
	k = repl_epochs_get(t, "example.org/bob", &n);
	cr_expect_eq(n, 0);
	cr_expect_not(stale(E1, E2 + S, k, n, NULL));
}

Test(epoch, note_keeps_the_newest_sorted)
{
	size_t n;
	const uint64_t *k;

	cr_expect_not(repl_epochs_note(t, "a/b", 0), "0 is never noted");
	cr_expect(repl_epochs_note(t, "a/b", E2));
	cr_expect(repl_epochs_note(t, "a/b", E1));
	cr_expect_not(repl_epochs_note(t, "a/b", E2), "known already");
	k = repl_epochs_get(t, "a/b", &n);
	cr_assert_eq(n, 2);
	cr_expect_eq(k[0], E1);
	cr_expect_eq(k[1], E2);
	/* 20 more, 10 s apart: the newest REPL_EPOCHS_KEEP stay */
	for (uint64_t i = 1; i <= 20; i++)
		repl_epochs_note(t, "a/b", E3 + i * 10 * S);
	k = repl_epochs_get(t, "a/b", &n);
	cr_assert_eq(n, REPL_EPOCHS_KEEP);
	for (size_t i = 0; i < n; i++)
		cr_expect_eq(k[i], E3 + (20 - REPL_EPOCHS_KEEP + 1 + i) * 10 * S, "slot %zu", i);
	cr_expect_not(repl_epochs_note(t, "a/b", E1), "older than every one kept");
	/* one between the two oldest kept pushes the oldest out */
	uint64_t oldest = k[0], mid = k[0] + 5 * S, second = k[1];

	cr_expect(repl_epochs_note(t, "a/b", mid));
	k = repl_epochs_get(t, "a/b", &n);
	cr_assert_eq(n, REPL_EPOCHS_KEEP);
	cr_expect_eq(k[0], mid);
	cr_expect_eq(k[1], second);
	cr_expect_neq(k[0], oldest);
	for (size_t i = 1; i < n; i++)
		cr_expect_gt(k[i], k[i - 1], "ascending at %zu", i);
	cr_expect_eq(repl_epochs_count(t), REPL_EPOCHS_KEEP);
}

Test(epoch, many_accounts)
{
	char name[64];
	size_t n;

	for (int i = 0; i < 20000; i++) {
		snprintf(name, sizeof(name), "example.org/user%d", i);
		cr_assert(repl_epochs_note(t, name, E1 + (uint64_t)i));
	}
	cr_expect_eq(repl_epochs_count(t), 20000);
	for (int i = 0; i < 20000; i += 997) {
		snprintf(name, sizeof(name), "example.org/user%d", i);
		const uint64_t *k = repl_epochs_get(t, name, &n);

		cr_assert_eq(n, 1, "%s", name);
		cr_expect_eq(k[0], E1 + (uint64_t)i);
	}
}

Test(epoch, file_round_trip)
{
	struct repl_epochs *back = repl_epochs_new();
	struct repl_epochs_parsed res;
	struct mm_buf text = { 0 };
	size_t n;
	const uint64_t *k;

	repl_epochs_note(t, "example.org/alice", E1);
	repl_epochs_note(t, "example.org/alice", E2);
	repl_epochs_note(t, "example.org/with space", E3);
	repl_epochs_note(t, "b/\xc3\xa9t\xc3\xa9", UINT64_MAX);
	repl_epochs_format(t, &text);
	cr_expect_eq(strncmp((char *)text.data, REPL_EPOCHS_HEADER, strlen(REPL_EPOCHS_HEADER)),
		     0);
	repl_epochs_parse(back, (const char *)text.data, text.len, &res);
	cr_expect(res.header);
	cr_expect_eq(res.lines, 4);
	cr_expect_eq(res.bad, 0);
	cr_expect_not(res.torn);
	k = repl_epochs_get(back, "example.org/alice", &n);
	cr_assert_eq(n, 2);
	cr_expect_eq(k[0], E1);
	cr_expect_eq(k[1], E2);
	k = repl_epochs_get(back, "example.org/with space", &n);
	cr_assert_eq(n, 1);
	cr_expect_eq(k[0], E3);
	k = repl_epochs_get(back, "b/\xc3\xa9t\xc3\xa9", &n);
	cr_assert_eq(n, 1);
	cr_expect_eq(k[0], UINT64_MAX);
	/* appended lines (as the daemon appends) read the same way */
	repl_epochs_line(&text, "example.org/alice", E3);
	repl_epochs_parse(back, (const char *)text.data, text.len, &res);
	cr_expect_eq(res.lines, 5);
	k = repl_epochs_get(back, "example.org/alice", &n);
	cr_assert_eq(n, 3);
	cr_expect_eq(k[2], E3);
	mm_buf_free(&text);
	repl_epochs_free(&back);
}

/* Every flipped bit of an epoch line (but its newline) makes it bad:
   never a wrong epoch for an account, nor one for another account. */
Test(epoch, corrupt_lines_are_refused)
{
	struct mm_buf line = { 0 };
	struct repl_epochs_parsed res;

	repl_epochs_line(&line, "example.org/alice", E2);
	for (size_t i = 0; i + 1 < line.len; i++) {
		for (int bit = 0; bit < 8; bit++) {
			struct repl_epochs *u = repl_epochs_new();

			line.data[i] ^= (unsigned char)(1U << bit);
			repl_epochs_parse(u, (const char *)line.data, line.len, &res);
			line.data[i] ^= (unsigned char)(1U << bit);
			cr_expect_eq(res.lines, 0, "byte %zu bit %d: a corrupt line was taken",
				     i, bit);
			cr_expect_geq(res.bad, 1, "byte %zu bit %d", i, bit);
			cr_expect_eq(repl_epochs_count(u), 0, "byte %zu bit %d", i, bit);
			repl_epochs_free(&u);
		}
	}
	mm_buf_free(&line);
}

Test(epoch, bad_torn_and_foreign_lines)
{
	struct repl_epochs_parsed res;
	struct mm_buf text = { 0 };
	size_t n;
	const uint64_t *k;

	mm_buf_puts(&text, "not the header\n");			/* 1: bad */
	repl_epochs_line(&text, "a/one", E1);			/* 2 */
	mm_buf_puts(&text, "\n");					/* 3: bad */
	mm_buf_puts(&text, "0 0000000000000000 a/zero\n");	/* 4: bad, epoch 0 */
	mm_buf_puts(&text, "18446744073709551616 0000000000000000 a/big\n");	/* 5: bad */
	mm_buf_puts(&text, "12 zz a/short\n");			/* 6: bad */
	repl_epochs_line(&text, "a/two", E2);			/* 7 */
	text.data[text.len - 2] = '\t';				/* 7: a control byte, bad */
	repl_epochs_line(&text, "a/three", E3);			/* 8 */
	text.len--;						/* 8: torn */
	repl_epochs_parse(t, (const char *)text.data, text.len, &res);
	cr_expect_not(res.header);
	cr_expect_eq(res.lines, 1);
	cr_expect_eq(res.bad, 6);
	cr_expect_eq(res.first_bad, 1);
	cr_expect(res.torn);
	k = repl_epochs_get(t, "a/one", &n);
	cr_assert_eq(n, 1);
	cr_expect_eq(k[0], E1);
	cr_expect_null(repl_epochs_get(t, "a/two", &n));
	cr_expect_null(repl_epochs_get(t, "a/three", &n));
	/* an empty file, and one with the header alone */
	repl_epochs_parse(t, "", 0, &res);
	cr_expect_eq(res.lines + res.bad, 0);
	repl_epochs_parse(t, REPL_EPOCHS_HEADER, strlen(REPL_EPOCHS_HEADER), &res);
	cr_expect(res.header);
	cr_expect_eq(res.lines + res.bad, 0);
	mm_buf_free(&text);
}
