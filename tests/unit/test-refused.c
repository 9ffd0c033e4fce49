/* SPDX-License-Identifier: MIT
 * test-refused.c - STATE/replication/refused (lib/refused.c): records
 * appended per peer and read back in order, corrupt bytes stepped over,
 * contents kept by hash, names that are no file names refused. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "journal-file.h"
#include "refused.h"

static char dir[64];

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/mm-test-refused.XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void teardown(void)
{
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

TestSuite(refused, .init = setup, .fini = teardown);

static void keep(const char *peer, uint64_t lsn, uint64_t epoch)
{
	struct mm_journal_rec rec = {
		.lsn = lsn, .time_ns = 1800000000000000000ULL + lsn, .epoch = epoch,
		.op = MM_OP_DELIVER, .status = MM_REC_COMMITTED, .sub = 1,
		.account = "example.org/alice", .folder = "Maildir", .name = "1.M1P1.h,S=3",
		.new_folder = "", .new_name = "", .size = 3,
	};
	struct mm_buf b = { 0 };
	const char *error = NULL;

	cr_assert_eq(mm_journal_encode(&rec, &b), 0);
	cr_assert_eq(mm_refused_append(dir, peer, b.data, b.len, &error), 0, "%s", error);
	mm_buf_free(&b);
}

Test(refused, nothing_kept_reads_empty)
{
	struct mm_refused_iter *it;
	struct mm_journal_rec rec;
	const char *peer, *error = NULL;

	cr_assert_eq(mm_refused_iter_init(dir, &it, &error), 0, "%s", error);
	cr_expect_eq(mm_refused_iter_next(it, &peer, &rec, &error), 0);
	mm_refused_iter_deinit(&it);
	cr_expect_null(it);
	cr_expect_eq(mm_refused_last_lsn(dir, "a"), 0);
}

Test(refused, records_per_peer_in_order)
{
	struct mm_refused_iter *it;
	struct mm_journal_rec rec;
	const char *peer, *error = NULL;
	static const struct { const char *peer; uint64_t lsn; } want[] = {
		{ "a", 5 }, { "a", 9 }, { "c", 7 },
	};

	keep("c", 7, 3);
	keep("a", 5, 1);
	keep("a", 9, 2);
	cr_expect_eq(mm_refused_last_lsn(dir, "a"), 9);
	cr_expect_eq(mm_refused_last_lsn(dir, "c"), 7);
	cr_expect_eq(mm_refused_last_lsn(dir, "b"), 0);
	cr_assert_eq(mm_refused_iter_init(dir, &it, &error), 0, "%s", error);
	for (size_t i = 0; i < 3; i++) {
		cr_assert_eq(mm_refused_iter_next(it, &peer, &rec, &error), 1, "%zu", i);
		cr_expect_str_eq(peer, want[i].peer);
		cr_expect_eq(rec.lsn, want[i].lsn);
		cr_expect_str_eq(rec.account, "example.org/alice");
		cr_expect_eq(rec.time_ns, 1800000000000000000ULL + want[i].lsn);
	}
	cr_expect_eq(mm_refused_iter_next(it, &peer, &rec, &error), 0);
	mm_refused_iter_deinit(&it);
}

Test(refused, corrupt_bytes_are_stepped_over)
{
	struct mm_refused_iter *it;
	struct mm_journal_rec rec;
	const char *peer, *error = NULL;
	char path[128];
	unsigned char b;
	int fd;

	keep("a", 1, 1);
	keep("a", 2, 1);
	keep("a", 3, 1);
	snprintf(path, sizeof(path), "%s/%s/a.mmj", dir, MM_REFUSED_DIR);
	fd = open(path, O_RDWR);
	cr_assert_geq(fd, 0);
	/* a byte of the second record's body, then a torn tail */
	struct stat st;

	cr_assert_eq(fstat(fd, &st), 0);
	off_t one = st.st_size / 3;

	cr_assert_eq(pread(fd, &b, 1, one + 60), 1);
	b ^= 0x10;
	cr_assert_eq(pwrite(fd, &b, 1, one + 60), 1);
	cr_assert_eq(pwrite(fd, "MMJR\x40", 5, st.st_size), 5);
	close(fd);
	cr_expect_eq(mm_refused_last_lsn(dir, "a"), 3);
	cr_assert_eq(mm_refused_iter_init(dir, &it, &error), 0, "%s", error);
	cr_assert_eq(mm_refused_iter_next(it, &peer, &rec, &error), 1);
	cr_expect_eq(rec.lsn, 1);
	cr_assert_eq(mm_refused_iter_next(it, &peer, &rec, &error), -1);
	cr_expect(strstr(error, "a.mmj offset") != NULL, "%s", error);
	cr_assert_eq(mm_refused_iter_next(it, &peer, &rec, &error), 1);
	cr_expect_eq(rec.lsn, 3);
	cr_expect_eq(mm_refused_iter_next(it, &peer, &rec, &error), -1, "the torn tail");
	cr_expect_eq(mm_refused_iter_next(it, &peer, &rec, &error), 0);
	mm_refused_iter_deinit(&it);
	/* appending after damage still works, and reads */
	keep("a", 4, 1);
	cr_expect_eq(mm_refused_last_lsn(dir, "a"), 4);
}

Test(refused, content_by_hash)
{
	const char *error = NULL;
	uint8_t hash[16];
	uint64_t size;
	char *tmp = NULL;
	int fd;

	fd = mm_refused_content_open(dir, "a", 42, &tmp, &error);
	cr_assert_geq(fd, 0, "%s", error);
	cr_assert_eq(write(fd, "hello", 5), 5);
	cr_assert_eq(mm_content_hash(fd, &size, hash), 0);
	cr_expect_eq(size, 5);
	cr_expect_not(mm_refused_content_has(dir, hash));
	cr_assert_eq(mm_refused_content_commit(dir, fd, tmp, hash, &error), 0, "%s", error);
	cr_expect(mm_refused_content_has(dir, hash));
	cr_expect_neq(access(tmp, F_OK), 0, "the temporary name is gone");
	free(tmp);
}

Test(refused, peer_names_that_are_no_file_names)
{
	const char *error = NULL;
	char *tmp = NULL;

	cr_expect_lt(mm_refused_append(dir, "../x", (const unsigned char *)"x", 1, &error), 0);
	cr_expect_lt(mm_refused_append(dir, ".hidden", (const unsigned char *)"x", 1, &error), 0);
	cr_expect_lt(mm_refused_append(dir, "", (const unsigned char *)"x", 1, &error), 0);
	cr_expect_lt(mm_refused_content_open(dir, "a/b", 1, &tmp, &error), 0);
	cr_expect_null(tmp);
	cr_expect_eq(mm_refused_last_lsn(dir, "../x"), 0);
}
