/* SPDX-License-Identifier: MIT
 * test-cursor.c - the two-slot cursor file (repl-cursor.c): round trips,
 * the higher slot wins, a torn or corrupt slot falls back to the other,
 * the old one-line form still reads. */
#include <criterion/criterion.h>
#include <string.h>
#include "repl-cursor.h"

static char file[2 * REPL_CURSOR_SLOT_OFF];

static void put(uint64_t lsn)
{
	char slot[REPL_CURSOR_SLOT_LEN];
	unsigned int i = repl_cursor_format(lsn, slot);

	cr_assert_eq(i, lsn & 1);
	memcpy(file + i * REPL_CURSOR_SLOT_OFF, slot, sizeof(slot));
}

static uint64_t get(size_t len, int *valid)
{
	return repl_cursor_parse(file, len, valid);
}

TestSuite(cursor);

Test(cursor, round_trip_and_higher_slot)
{
	int valid;

	memset(file, 0, sizeof(file));
	put(41);
	cr_assert_eq(get(sizeof(file), &valid), 41);
	cr_assert(valid);
	put(42);
	cr_assert_eq(get(sizeof(file), &valid), 42);
	put(UINT64_MAX);
	cr_assert_eq(get(sizeof(file), &valid), UINT64_MAX);
	/* only slot 0 written so far: a short file reads it */
	memset(file, 0, sizeof(file));
	put(8);
	cr_assert_eq(get(REPL_CURSOR_SLOT_LEN, &valid), 8);
	cr_assert(valid);
}

Test(cursor, torn_slot_falls_back)
{
	char slot[REPL_CURSOR_SLOT_LEN];
	int valid;

	memset(file, 0, sizeof(file));
	put(1000);
	put(99999999999ULL);
	/* the write of 100000000001 into slot 1 tore after 10 bytes: the
	   digits are half new, half old, and the checksum old */
	repl_cursor_format(100000000001ULL, slot);
	memcpy(file + REPL_CURSOR_SLOT_OFF, slot, 10);
	cr_assert_eq(get(sizeof(file), &valid), 1000);
	cr_assert(valid);
	/* a flipped bit in a checksum */
	put(103);
	cr_assert_eq(get(sizeof(file), &valid), 1000 > 103 ? 1000 : 103);
	file[REPL_CURSOR_SLOT_OFF + 25] ^= 1;
	cr_assert_eq(get(sizeof(file), &valid), 1000);
	put(1001);
	file[5] ^= 1;	/* slot 0 bad too: slot 1 */
	cr_assert_eq(get(sizeof(file), &valid), 1001);
}

Test(cursor, nothing_valid)
{
	int valid = 1;

	memset(file, 'x', sizeof(file));
	cr_assert_eq(get(sizeof(file), &valid), 0);
	cr_assert(!valid);
	cr_assert_eq(repl_cursor_parse("", 0, &valid), 0);
	cr_assert(!valid);
	cr_assert_eq(repl_cursor_parse("12a\n", 4, &valid), 0);
	cr_assert(!valid);
}

Test(cursor, old_form)
{
	int valid;

	cr_assert_eq(repl_cursor_parse("1234\n", 5, &valid), 1234);
	cr_assert(valid);
	cr_assert_eq(repl_cursor_parse("0\n", 2, &valid), 0);
	cr_assert(valid);
}
