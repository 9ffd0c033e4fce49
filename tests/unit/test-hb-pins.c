/* SPDX-License-Identifier: MIT
 * test-hb-pins.c - the pin table: last writer wins, tombstones and their
 * bound, 16 pins in force, gossip order and convergence, the snapshot,
 * the file format. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "buf.h"
#include "hb-pins.h"

#define NONE HB_WIRE_PIN_NONE

static char *const names[] = { "a", "b", "c" };

static struct hb_pin_def def(const char *account, uint8_t member, uint64_t seq)
{
	struct hb_pin_def d = { .member = member, .seq = seq };

	snprintf(d.account, sizeof(d.account), "%s", account);
	return d;
}

Test(hb_pins, set_get_and_idempotence)
{
	struct hb_pins *p = hb_pins_new();
	const char *error;
	uint64_t seq;

	cr_expect_eq(hb_pins_get(p, "x.org/u", &seq), -1);
	cr_expect_eq(seq, 0);
	cr_expect_eq(hb_pins_set(p, "x.org/u", 1, 1000, &error), 1);
	cr_expect_eq(hb_pins_get(p, "x.org/u", &seq), 1);
	cr_expect_eq(seq, 1000);
	cr_expect_eq(hb_pins_set(p, "x.org/u", 1, 2000, &error), 0, "the same pin again");
	cr_expect_eq(hb_pins_get(p, "x.org/u", &seq), 1);
	cr_expect_eq(seq, 1000);
	/* the clock went back: the seq still grows */
	cr_expect_eq(hb_pins_set(p, "x.org/u", 2, 500, &error), 1);
	cr_expect_eq(hb_pins_get(p, "x.org/u", &seq), 2);
	cr_expect_eq(seq, 1001);
	cr_expect_eq(hb_pins_set(p, "x.org/u", NONE, 3000, &error), 1);
	cr_expect_eq(hb_pins_get(p, "x.org/u", &seq), -1);
	cr_expect_eq(seq, 3000, "a tombstone");
	cr_expect_eq(hb_pins_count(p), 1);
	cr_expect_eq(hb_pins_in_force(p), 0);
	cr_expect_eq(hb_pins_set(p, "x.org/u", NONE, 4000, &error), 0, "cleared already");
	cr_expect_eq(hb_pins_set(p, "x.org/v", NONE, 4000, &error), 0, "never pinned");
	cr_expect_eq(hb_pins_count(p), 1);
	hb_pins_free(&p);
	cr_expect_null(p);
}

Test(hb_pins, last_writer_wins)
{
	struct hb_pins *p = hb_pins_new();
	struct hb_pin_def d;

	d = def("x.org/u", 1, 100);
	cr_expect(hb_pins_merge(p, &d));
	cr_expect(!hb_pins_merge(p, &d), "the same again changes nothing");
	d = def("x.org/u", 2, 99);
	cr_expect(!hb_pins_merge(p, &d), "older");
	cr_expect_eq(hb_pins_get(p, "x.org/u", NULL), 1);
	d = def("x.org/u", 2, 101);
	cr_expect(hb_pins_merge(p, &d));
	cr_expect_eq(hb_pins_get(p, "x.org/u", NULL), 2);
	/* the same seq: the higher member byte wins, so a clear beats a pin
	   on every voter whatever the order */
	d = def("x.org/u", 0, 101);
	cr_expect(!hb_pins_merge(p, &d));
	d = def("x.org/u", NONE, 101);
	cr_expect(hb_pins_merge(p, &d));
	cr_expect_eq(hb_pins_get(p, "x.org/u", NULL), -1);
	d = def("x.org/u", 2, 101);
	cr_expect(!hb_pins_merge(p, &d));
	d.seq = 0;
	cr_expect(!hb_pins_merge(p, &d), "seq 0 is no definition");
	hb_pins_free(&p);
}

Test(hb_pins, at_most_16_in_force)
{
	struct hb_pins *p = hb_pins_new();
	const char *error = NULL;
	char acct[32];

	for (int i = 0; i < HB_PINS_MAX; i++) {
		snprintf(acct, sizeof(acct), "x.org/u%02d", i);
		cr_assert_eq(hb_pins_set(p, acct, (uint8_t)(i % 3), 1000 + (uint64_t)i, &error), 1);
	}
	cr_expect_eq(hb_pins_set(p, "x.org/one-more", 0, 5000, &error), -1);
	cr_expect_not_null(strstr(error, "16 pins"), "%s", error);
	cr_expect_eq(hb_pins_set(p, "x.org/u03", 2, 5000, &error), 1, "moving a pin is fine");
	cr_expect_eq(hb_pins_set(p, "x.org/u04", NONE, 5001, &error), 1);
	cr_expect_eq(hb_pins_set(p, "x.org/one-more", 0, 5002, &error), 1, "after a clear");
	cr_expect_eq(hb_pins_in_force(p), HB_PINS_MAX);
	hb_pins_free(&p);
}

/* Two operators pinned on two voters at once, 17 in all: every voter
   keeps the 16 newest, whatever order the gossip came in. */
Test(hb_pins, over_16_from_gossip_the_oldest_goes)
{
	struct hb_pins *p = hb_pins_new(), *q = hb_pins_new();
	struct hb_pin_def d[HB_PINS_MAX + 1];

	for (int i = 0; i <= HB_PINS_MAX; i++) {
		char acct[32];

		snprintf(acct, sizeof(acct), "x.org/u%02d", i);
		d[i] = def(acct, 1, 1000 + (uint64_t)(i * 7 % 17));
	}
	for (int i = 0; i <= HB_PINS_MAX; i++) {
		hb_pins_merge(p, &d[i]);
		hb_pins_merge(q, &d[HB_PINS_MAX - i]);
	}
	cr_expect_eq(hb_pins_in_force(p), HB_PINS_MAX);
	cr_expect_eq(hb_pins_table_hash(p), hb_pins_table_hash(q));
	/* seq 1000 is u00's: cleared, with its own seq */
	cr_expect_eq(hb_pins_get(p, "x.org/u00", NULL), -1);
	cr_expect_eq(hb_pins_get(q, "x.org/u00", NULL), -1);
	/* the voter that still has u00 pinned takes the tombstone */
	struct hb_pins *r = hb_pins_new();
	struct hb_pin_def t;

	hb_pins_merge(r, &d[0]);
	for (size_t i = 0; i < hb_pins_count(p); i++) {
		t = *hb_pins_at(p, i);
		hb_pins_merge(r, &t);
	}
	cr_expect_eq(hb_pins_table_hash(r), hb_pins_table_hash(p));
	hb_pins_free(&p);
	hb_pins_free(&q);
	hb_pins_free(&r);
}

Test(hb_pins, tombstones_are_bounded_with_a_floor)
{
	struct hb_pins *p = hb_pins_new();
	const char *error;
	struct hb_pin_def d;
	uint64_t seq;
	char acct[32];

	/* 17 accounts pinned, then cleared one after another */
	for (int i = 0; i <= HB_PINS_TOMBS_MAX; i++) {
		snprintf(acct, sizeof(acct), "x.org/u%02d", i);
		cr_assert_eq(hb_pins_set(p, acct, 0, 1000 + (uint64_t)i, &error), 1);
		cr_assert_eq(hb_pins_set(p, acct, NONE, 2000 + (uint64_t)i, &error), 1);
	}
	cr_expect_eq(hb_pins_count(p), HB_PINS_TOMBS_MAX, "the oldest tombstone went");
	cr_expect_eq(hb_pins_floor(p), 2000);
	hb_pins_get(p, "x.org/u00", &seq);
	cr_expect_eq(seq, 0, "u00's tombstone is gone");
	/* its old pin, gossiped by a voter that was away, does not come back */
	d = def("x.org/u00", 0, 1000);
	cr_expect(!hb_pins_merge(p, &d));
	d = def("x.org/new", 0, 2000);
	cr_expect(!hb_pins_merge(p, &d), "at the floor");
	d = def("x.org/new", 0, 2001);
	cr_expect(hb_pins_merge(p, &d), "newer than the floor");
	/* a new pin of u00 gets a seq over the floor */
	cr_expect_eq(hb_pins_set(p, "x.org/u00", 1, 5, &error), 1);
	hb_pins_get(p, "x.org/u00", &seq);
	cr_expect_eq(seq, 2001);
	hb_pins_free(&p);
}

Test(hb_pins, gossip_rotates_and_a_change_goes_first)
{
	struct hb_pins *p = hb_pins_new();
	struct hb_pin_def d;
	const char *error;
	int seen[3] = { 0 };

	cr_expect(!hb_pins_next(p, &d), "nothing to gossip");
	hb_pins_set(p, "x.org/a", 0, 10, &error);
	hb_pins_set(p, "x.org/b", 1, 11, &error);
	hb_pins_set(p, "x.org/c", 2, 12, &error);
	cr_expect(hb_pins_next(p, &d));
	cr_expect_str_eq(d.account, "x.org/c", "the last one set first");
	for (int i = 0; i < 6; i++) {
		cr_assert(hb_pins_next(p, &d));
		seen[d.account[6] - 'a']++;
	}
	cr_expect(seen[0] == 2 && seen[1] == 2 && seen[2] == 2, "round-robin: %d %d %d",
		  seen[0], seen[1], seen[2]);
	hb_pins_set(p, "x.org/a", NONE, 20, &error);
	cr_expect(hb_pins_next(p, &d));
	cr_expect_str_eq(d.account, "x.org/a");
	cr_expect_eq(d.member, NONE);
	hb_pins_free(&p);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

Test(hb_pins, snapshot_sorted_by_hash_without_tombstones)
{
	struct hb_pins *p = hb_pins_new();
	struct hb_pin_force f[HB_PINS_MAX];
	uint64_t want[2];
	const char *error;
	size_t n;

	hb_pins_set(p, "x.org/a", 0, 10, &error);
	hb_pins_set(p, "x.org/b", 1, 11, &error);
	hb_pins_set(p, "x.org/c", 2, 12, &error);
	hb_pins_set(p, "x.org/b", NONE, 13, &error);
	n = hb_pins_snapshot(p, f);
	cr_assert_eq(n, 2);
	want[0] = hb_pins_hash("x.org/a");
	want[1] = hb_pins_hash("x.org/c");
	qsort(want, 2, sizeof(want[0]), cmp_u64);
	cr_expect_eq(f[0].hash, want[0]);
	cr_expect_eq(f[1].hash, want[1]);
	cr_expect_eq(f[f[0].hash == hb_pins_hash("x.org/a") ? 0 : 1].member, 0);
	hb_pins_free(&p);
}

/* Random promotes and clears on five voters, gossip in random order with
   losses; once the operators stop, every table is the same within a few
   rounds of (table size) heartbeats. */
Test(hb_pins, gossip_converges)
{
	struct hb_pins *v[5];
	const char *error;

	srand(7);
	for (int i = 0; i < 5; i++)
		v[i] = hb_pins_new();
	for (int step = 0; step < 3000; step++) {
		int i = rand() % 5, j = rand() % 5;
		struct hb_pin_def d;

		if (rand() % 4 == 0) {
			char acct[32];
			uint8_t m = rand() % 3 == 0 ? NONE : (uint8_t)(rand() % 3);

			snprintf(acct, sizeof(acct), "x.org/u%d", rand() % 40);
			hb_pins_set(v[i], acct, m, 1000000 + (uint64_t)step * 10 + (uint64_t)i,
				    &error);
		}
		if (rand() % 3 != 0 && hb_pins_next(v[i], &d))
			hb_pins_merge(v[j], &d);
	}
	for (int round = 0; round < 4 * HB_PINS_ENTRIES_MAX; round++)
		for (int i = 0; i < 5; i++) {
			struct hb_pin_def d;

			if (!hb_pins_next(v[i], &d))
				continue;
			for (int j = 0; j < 5; j++)
				hb_pins_merge(v[j], &d);
		}
	for (int i = 1; i < 5; i++)
		cr_expect_eq(hb_pins_table_hash(v[i]), hb_pins_table_hash(v[0]), "voter %d", i);
	cr_expect_leq(hb_pins_in_force(v[0]), HB_PINS_MAX);
	cr_expect_leq(hb_pins_count(v[0]), HB_PINS_ENTRIES_MAX);
	for (int i = 0; i < 5; i++)
		hb_pins_free(&v[i]);
}

Test(hb_pins, file_round_trip)
{
	struct hb_pins *p = hb_pins_new(), *q = NULL;
	struct mm_buf b = { 0 };
	const char *error;
	size_t dropped;

	hb_pins_set(p, "x.org/with space", 1, 10, &error);
	hb_pins_set(p, "x.org/b", 2, 11, &error);
	hb_pins_set(p, "x.org/b", NONE, 12, &error);
	hb_pins_format(p, names, 3, &b);
	cr_expect_str_eq(mm_buf_str(&b), "mailmesh-pins 1\nfloor 0\n12 - x.org/b\n"
			 "10 b x.org/with space\n");
	cr_assert_eq(hb_pins_parse((const char *)b.data, b.len, names, 3, &q, &dropped,
				   &error), 0, "%s", error);
	cr_expect_eq(dropped, 0);
	cr_expect_eq(hb_pins_table_hash(q), hb_pins_table_hash(p));
	hb_pins_free(&q);
	/* a store that left the cluster: its pins are dropped, not fatal */
	cr_assert_eq(hb_pins_parse((const char *)b.data, b.len, names, 1, &q, &dropped,
				   &error), 0);
	cr_expect_eq(dropped, 1);
	cr_expect_eq(hb_pins_count(q), 1);
	hb_pins_free(&q);
	hb_pins_free(&p);
	mm_buf_free(&b);
}

Test(hb_pins, bad_files_are_refused)
{
	static const char *const bad[] = {
		"",
		"mailmesh-pins 2\nfloor 0\n",
		"mailmesh-pins 1\n",
		"mailmesh-pins 1\nfloor x\n",
		"mailmesh-pins 1\nfloor 0\n12 b x.org/u",	/* no newline */
		"mailmesh-pins 1\nfloor 0\n0 b x.org/u\n",	/* seq 0 */
		"mailmesh-pins 1\nfloor 0\n12 b\n",
		"mailmesh-pins 1\nfloor 0\n12 b \n",
		"mailmesh-pins 1\nfloor 0\n12x b x.org/u\n",
		"mailmesh-pins 1\nfloor 0\n99999999999999999999 b x.org/u\n",
		"mailmesh-pins 1\nfloor 0\n12 b x.org/u\n13 c x.org/u\n",	/* twice */
		"mailmesh-pins 1\nfloor 0\n12 b x.org/\x01u\n",
	};
	struct hb_pins *q = NULL;
	const char *error = NULL;
	size_t dropped;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_expect_eq(hb_pins_parse(bad[i], strlen(bad[i]), names, 3, &q, &dropped,
					   &error), -1, "case %zu", i);
		cr_expect_null(q);
	}
	/* too many entries */
	struct mm_buf b = { 0 };

	mm_buf_puts(&b, "mailmesh-pins 1\nfloor 0\n");
	for (int i = 0; i <= HB_PINS_ENTRIES_MAX; i++)
		mm_buf_printf(&b, "%d - x.org/u%d\n", i + 1, i);
	cr_expect_eq(hb_pins_parse((const char *)b.data, b.len, names, 3, &q, &dropped,
				   &error), -1);
	mm_buf_free(&b);
}
