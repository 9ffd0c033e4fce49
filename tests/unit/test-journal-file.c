/* SPDX-License-Identifier: MIT
 * test-journal-file.c - the journal on disk: append, reopen, recovery, reader. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "journal-file.h"

#define ACCOUNT "example.org/alice"

static char dir[64];		/* the state directory */
static struct mm_journal *j;
static struct mm_journal_reader *rd;

static void setup(void)
{
	j = NULL;
	rd = NULL;
	snprintf(dir, sizeof(dir), "/tmp/mm-test-jf.XXXXXX");
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
	mm_journal_reader_close(&rd);
	mm_journal_close(&j);
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

TestSuite(journal_file, .init = setup, .fini = teardown, .timeout = 60);

static struct mm_journal_settings settings(uint64_t segment_size)
{
	struct mm_journal_settings set = {
		.fsync = MM_FSYNC_ALWAYS,	/* no flusher thread: deterministic */
		.segment_size = segment_size,
		.retention_s = 0,
		.retention_bytes = 0,
		.batch_interval_ms = 10,
		.store_fd = -1,
	};
	return set;
}

static void jopen(const struct mm_journal_settings *set)
{
	const char *error = NULL;

	cr_assert_eq(mm_journal_open(dir, set, &j, &error), 0, "open: %s", error);
}

static void ropen(uint64_t from)
{
	const char *error = NULL;

	mm_journal_reader_close(&rd);
	cr_assert_eq(mm_journal_reader_open(dir, from, &rd, &error), 0, "%s", error);
}

/* Where a record was written, kept after its ref is released. */
struct where {
	uint64_t lsn, seg;
	off_t off;
};

static void seg_path(uint64_t first, char *out, size_t n)
{
	snprintf(out, n, "%s/journal/%016" PRIx64 ".mmj", dir, first);
}

/* The segment holding lsn: the last one starting at or before it
   (struct mm_jseg is opaque). */
static uint64_t seg_of(uint64_t lsn)
{
	for (uint64_t first = lsn; first > 0; first--) {
		char p[128];

		seg_path(first, p, sizeof(p));
		if (access(p, F_OK) == 0)
			return first;
	}
	cr_assert_fail("no segment holds LSN %" PRIu64, lsn);
	return 0;
}

static char name_buf[64];

static const char *rec_name(uint64_t i)
{
	snprintf(name_buf, sizeof(name_buf), "1700000000.M%" PRIu64 "P1.host,S=5:2,S", i);
	return name_buf;
}

/* Appends a DELIVER whose name encodes i. With finish 0 the record stays
   PENDING and *ref_r (if given) keeps the reference. */
static struct where append_ex(uint64_t i, enum mm_rec_status finish,
			      struct mm_journal_ref *ref_r)
{
	struct mm_journal_rec rec = {
		.op = MM_OP_DELIVER, .sub = 1, .account = ACCOUNT,
		.folder = "Maildir", .size = 5, .mtime_ns = -1,
	};
	struct mm_journal_ref ref;
	struct where w;

	rec.name = rec_name(i);
	cr_assert_eq(mm_journal_append(j, &rec, &ref), 0);
	w.lsn = rec.lsn;
	w.seg = seg_of(rec.lsn);
	w.off = ref.off;
	cr_assert_eq(ref.lsn, rec.lsn);
	if (finish != 0)
		mm_journal_finish(j, &ref, finish);
	else if (ref_r != NULL)
		*ref_r = ref;
	return w;
}

static struct where append(uint64_t i)
{
	return append_ex(i, MM_REC_COMMITTED, NULL);
}

static off_t file_size(const char *path)
{
	struct stat st;

	cr_assert_eq(stat(path, &st), 0, "stat(%s): %s", path, strerror(errno));
	return st.st_size;
}

static unsigned int count_segments(void)
{
	unsigned int n = 0;

	for (uint64_t lsn = 1; lsn < 10000; lsn++) {
		char p[128];

		seg_path(lsn, p, sizeof(p));
		if (access(p, F_OK) == 0)
			n++;
	}
	return n;
}

/* Reads what the reader has now (until it returns 0) into lsns; asserts
   no record is reported corrupt. */
static size_t read_all(uint64_t *lsns, size_t max)
{
	struct mm_journal_rec rec;
	const char *error = NULL;
	size_t n = 0;
	int ret;

	while ((ret = mm_journal_reader_next(rd, &rec, &error)) == 1) {
		cr_assert_lt(n, max, "more records than expected");
		cr_expect_eq(rec.status, MM_REC_COMMITTED);
		lsns[n++] = rec.lsn;
	}
	cr_assert_eq(ret, 0, "reader: %s", ret < 0 ? error : "?");
	return n;
}

static void expect_name(const struct mm_journal_rec *rec, uint64_t i)
{
	cr_expect_str_eq(rec->name, rec_name(i));
	cr_expect_str_eq(rec->account, ACCOUNT);
	cr_expect_str_eq(rec->folder, "Maildir");
	cr_expect_eq(rec->op, MM_OP_DELIVER);
	cr_expect_eq(rec->mtime_ns, -1);
}

static void flip_byte(const char *path, off_t off)
{
	int fd = open(path, O_RDWR);
	unsigned char b;

	cr_assert_geq(fd, 0);
	cr_assert_eq(pread(fd, &b, 1, off), 1);
	b ^= 0x20;
	cr_assert_eq(pwrite(fd, &b, 1, off), 1);
	close(fd);
}

/* stderr capture, to check what recovery logs */
static int saved_stderr = -1;
static char cap_path[128];

static void capture_begin(void)
{
	int fd;

	snprintf(cap_path, sizeof(cap_path), "%s/stderr.log", dir);
	fd = open(cap_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	cr_assert_geq(fd, 0);
	saved_stderr = dup(STDERR_FILENO);
	dup2(fd, STDERR_FILENO);
	close(fd);
}

static char *capture_end(void)
{
	static char text[8192];
	int fd;
	ssize_t n;

	dup2(saved_stderr, STDERR_FILENO);
	close(saved_stderr);
	fd = open(cap_path, O_RDONLY);
	cr_assert_geq(fd, 0);
	n = read(fd, text, sizeof(text) - 1);
	close(fd);
	text[n > 0 ? n : 0] = '\0';
	return text;
}

/* ---- append, reopen, read ---- */

Test(journal_file, append_reopen_lsn_continues)
{
	struct mm_journal_settings set = settings(64 << 20);
	struct mm_journal_rec rec;
	const char *error = NULL;
	char p[128];

	jopen(&set);
	cr_expect_eq(mm_journal_last_lsn(j), 0);
	for (uint64_t i = 1; i <= 10; i++)
		cr_expect_eq(append(i).lsn, i);
	cr_expect_eq(mm_journal_last_lsn(j), 10);
	cr_expect_eq(mm_journal_sync(j, 10), 0);
	mm_journal_close(&j);
	cr_expect_null(j);

	seg_path(1, p, sizeof(p));
	cr_assert_eq(access(p, F_OK), 0, "segment file %s", p);

	jopen(&set);
	cr_expect_eq(mm_journal_last_lsn(j), 10);
	cr_expect_eq(append(11).lsn, 11);

	ropen(1);
	for (uint64_t i = 1; i <= 11; i++) {
		cr_assert_eq(mm_journal_reader_next(rd, &rec, &error), 1, "LSN %" PRIu64, i);
		cr_expect_eq(rec.lsn, i);
		cr_expect_eq(rec.status, MM_REC_COMMITTED);
		cr_expect_neq(rec.time_ns, 0);
		expect_name(&rec, i);
	}
	cr_expect_eq(mm_journal_reader_next(rd, &rec, &error), 0);
}

Test(journal_file, segment_file_format)
{
	struct mm_journal_settings set = settings(64 << 20);
	unsigned char hdr[MM_JSEG_HDR_SIZE + MM_JOURNAL_HDR_SIZE];
	char p[128];
	int fd;

	jopen(&set);
	append(1);
	seg_path(1, p, sizeof(p));
	fd = open(p, O_RDONLY);
	cr_assert_geq(fd, 0);
	cr_assert_eq(read(fd, hdr, sizeof(hdr)), (ssize_t)sizeof(hdr));
	close(fd);
	cr_expect(memcmp(hdr, MM_JSEG_MAGIC, 8) == 0);
	cr_expect_eq(mm_get_u64(hdr + 16), 1, "first LSN in the header");
	cr_expect_eq(mm_get_u32(hdr + MM_JSEG_HDR_SIZE), MM_JOURNAL_REC_MAGIC);
	cr_expect_eq(hdr[MM_JSEG_HDR_SIZE + MM_JOURNAL_STATUS_OFF], MM_REC_COMMITTED);
}

Test(journal_file, second_open_is_refused)
{
	struct mm_journal_settings set = settings(64 << 20);
	struct mm_journal *j2 = NULL;
	const char *error = NULL;

	jopen(&set);
	cr_expect_eq(mm_journal_open(dir, &set, &j2, &error), -1);
	cr_expect_null(j2);
	cr_assert_not_null(error);
	cr_expect_not_null(strstr(error, "in use"), "%s", error);
}

Test(journal_file, read_ref_and_must_sync)
{
	struct mm_journal_settings set = settings(64 << 20);
	struct mm_journal_ref ref;
	struct mm_journal_rec rec;
	struct mm_buf buf = { 0 };
	const char *error = NULL;

	jopen(&set);
	append(1);
	append_ex(2, 0, &ref);
	cr_assert_eq(mm_journal_read_ref(j, &ref, &buf, &rec, &error), 0, "%s", error);
	cr_expect_eq(rec.lsn, 2);
	cr_expect_eq(rec.status, MM_REC_PENDING);
	expect_name(&rec, 2);
	mm_journal_finish(j, &ref, MM_REC_COMMITTED);
	cr_expect_null(ref.seg);
	mm_buf_free(&buf);

	for (int op = MM_OP_DELIVER; op <= MM_OP_LAST; op++)
		cr_expect(mm_journal_must_sync(j, (enum mm_op)op), "always: %d", op);
}

Test(journal_file, batch_mode)
{
	struct mm_journal_settings set = settings(64 << 20);
	uint64_t lsns[8];

	set.fsync = MM_FSYNC_BATCH;
	set.retention_s = 7 * 86400;
	jopen(&set);
	cr_expect(mm_journal_must_sync(j, MM_OP_DELIVER));
	cr_expect(mm_journal_must_sync(j, MM_OP_COPY));
	cr_expect(mm_journal_must_sync(j, MM_OP_META));
	cr_expect(mm_journal_must_sync(j, MM_OP_FOLDER_CREATE));
	cr_expect(mm_journal_must_sync(j, MM_OP_FOLDER_RENAME));
	cr_expect(mm_journal_must_sync(j, MM_OP_FOLDER_DELETE));
	cr_expect_not(mm_journal_must_sync(j, MM_OP_FLAGS));
	cr_expect_not(mm_journal_must_sync(j, MM_OP_MOVE));
	cr_expect_not(mm_journal_must_sync(j, MM_OP_EXPUNGE));
	for (uint64_t i = 1; i <= 5; i++)
		append(i);
	cr_expect_eq(mm_journal_sync(j, 3), 0);
	cr_expect_eq(mm_journal_sync(j, 5), 0);
	usleep(50 * 1000);	/* let the flusher run once */
	mm_journal_close(&j);
	ropen(1);
	cr_expect_eq(read_all(lsns, 8), 5);
}

Test(journal_file, never_mode)
{
	struct mm_journal_settings set = settings(64 << 20);

	set.fsync = MM_FSYNC_NEVER;
	jopen(&set);
	append(1);
	cr_expect_eq(mm_journal_sync(j, 1), 0);
	for (int op = MM_OP_DELIVER; op <= MM_OP_LAST; op++)
		cr_expect_not(mm_journal_must_sync(j, (enum mm_op)op));
}

Test(journal_file, oversize_record_is_efbig)
{
	struct mm_journal_settings set = settings(64 << 20);
	struct mm_journal_rec rec = { .op = MM_OP_DELIVER, .account = ACCOUNT };
	struct mm_journal_ref ref;
	char *name = malloc(5000);

	jopen(&set);
	append(1);
	memset(name, 'x', 4999);
	name[4999] = '\0';
	rec.name = name;
	cr_expect_eq(mm_journal_append(j, &rec, &ref), -EFBIG);
	cr_expect_eq(mm_journal_last_lsn(j), 1, "nothing appended");
	cr_expect_eq(append(2).lsn, 2);
	free(name);
}

/* ---- status: pending, aborted ---- */

Test(journal_file, pending_stops_the_reader)
{
	struct mm_journal_settings set = settings(64 << 20);
	struct mm_journal_ref ref;
	struct mm_journal_rec rec;
	const char *error = NULL;

	jopen(&set);
	append(1);
	append_ex(2, 0, &ref);
	append(3);
	ropen(1);
	cr_assert_eq(mm_journal_reader_next(rd, &rec, &error), 1);
	cr_expect_eq(rec.lsn, 1);
	cr_expect_eq(mm_journal_reader_next(rd, &rec, &error), 0, "LSN 2 is pending");
	cr_expect_eq(mm_journal_reader_next(rd, &rec, &error), 0, "still pending");
	mm_journal_finish(j, &ref, MM_REC_COMMITTED);
	cr_assert_eq(mm_journal_reader_next(rd, &rec, &error), 1);
	cr_expect_eq(rec.lsn, 2);
	expect_name(&rec, 2);
	cr_assert_eq(mm_journal_reader_next(rd, &rec, &error), 1);
	cr_expect_eq(rec.lsn, 3);
	cr_expect_eq(mm_journal_reader_next(rd, &rec, &error), 0);
}

Test(journal_file, aborted_records_are_skipped)
{
	struct mm_journal_settings set = settings(64 << 20);
	struct mm_journal_ref ref;
	uint64_t lsns[8];

	jopen(&set);
	append(1);
	append_ex(2, MM_REC_ABORTED, NULL);
	append(3);
	append_ex(4, 0, &ref);
	ropen(1);
	cr_assert_eq(read_all(lsns, 8), 2);
	cr_expect_eq(lsns[0], 1);
	cr_expect_eq(lsns[1], 3);
	mm_journal_finish(j, &ref, MM_REC_ABORTED);
	append(5);
	cr_assert_eq(read_all(lsns, 8), 1);
	cr_expect_eq(lsns[0], 5);
}

Test(journal_file, pending_records_found_at_open)
{
	struct mm_journal_settings set = settings(64 << 20);
	struct mm_journal_ref *refs;
	struct mm_journal_rec rec;
	struct mm_buf buf = { 0 };
	const char *error = NULL;
	uint64_t lsns[8];
	size_t n;
	pid_t pid;
	int status;

	/* a writer that dies between append and finish */
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		struct mm_journal_ref ref;

		if (mm_journal_open(dir, &set, &j, &error) < 0)
			_exit(1);
		append(1);
		append_ex(2, 0, &ref);
		append_ex(3, MM_REC_ABORTED, NULL);
		append_ex(4, 0, &ref);
		_exit(0);
	}
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);

	jopen(&set);
	cr_expect_eq(mm_journal_last_lsn(j), 4);
	mm_journal_pending(j, &refs, &n);
	cr_assert_eq(n, 2);
	cr_expect_eq(refs[0].lsn, 2);
	cr_expect_eq(refs[1].lsn, 4);
	cr_assert_eq(mm_journal_read_ref(j, &refs[0], &buf, &rec, &error), 0, "%s", error);
	cr_expect_eq(rec.lsn, 2);
	cr_expect_eq(rec.status, MM_REC_PENDING);
	expect_name(&rec, 2);

	ropen(1);
	cr_assert_eq(read_all(lsns, 8), 1, "stops at the pending LSN 2");
	mm_journal_finish(j, &refs[0], MM_REC_COMMITTED);
	mm_journal_finish(j, &refs[1], MM_REC_ABORTED);
	mm_journal_pending_done(j);
	mm_journal_pending(j, &refs, &n);
	cr_expect_eq(n, 0);
	cr_expect_eq(append(5).lsn, 5);
	cr_assert_eq(read_all(lsns, 8), 2);
	cr_expect_eq(lsns[0], 2);
	cr_expect_eq(lsns[1], 5);
	mm_buf_free(&buf);
}

/* ---- segments ---- */

Test(journal_file, rotation_and_reading_across_segments)
{
	struct mm_journal_settings set = settings(4096);
	struct mm_journal_rec rec;
	const char *error = NULL;
	uint64_t lsns[256], segs = 0, last_seg = 0;
	unsigned int nseg;

	jopen(&set);
	for (uint64_t i = 1; i <= 200; i++) {
		struct where w = append(i);

		if (w.seg != last_seg) {
			cr_expect_eq(w.seg, i, "a segment starts at its first LSN");
			cr_expect_eq(w.off, MM_JSEG_HDR_SIZE);
			last_seg = w.seg;
			segs++;
		}
	}
	nseg = count_segments();
	cr_expect_gt(nseg, 3, "%u segments", nseg);
	cr_expect_eq(nseg, segs);
	for (uint64_t lsn = 1; lsn <= 200; lsn++) {
		char p[128];

		seg_path(lsn, p, sizeof(p));
		if (access(p, F_OK) == 0)
			cr_expect_leq(file_size(p), 4096, "%s", p);
	}

	ropen(1);
	cr_assert_eq(read_all(lsns, 256), 200);
	for (uint64_t i = 0; i < 200; i++)
		cr_expect_eq(lsns[i], i + 1);

	/* from the middle of a middle segment */
	ropen(77);
	cr_assert_eq(mm_journal_reader_next(rd, &rec, &error), 1);
	cr_expect_eq(rec.lsn, 77);
	expect_name(&rec, 77);
	cr_assert_eq(read_all(lsns, 256), 123);
	cr_expect_eq(lsns[122], 200);

	/* past the end, then the writer catches up */
	ropen(202);
	cr_expect_eq(read_all(lsns, 256), 0);
	append(201);
	append(202);
	cr_assert_eq(read_all(lsns, 256), 1);
	cr_expect_eq(lsns[0], 202);

	/* reopening keeps the segments and the LSN */
	nseg = count_segments();
	mm_journal_close(&j);
	jopen(&set);
	cr_expect_eq(mm_journal_last_lsn(j), 202);
	cr_expect_eq(count_segments(), nseg);
}

/* The time of record lsn, read back. */
static uint64_t time_of(uint64_t lsn)
{
	struct mm_journal_rec rec;
	const char *error = NULL;

	ropen(lsn);
	cr_assert_eq(mm_journal_reader_next(rd, &rec, &error), 1, "LSN %" PRIu64, lsn);
	return rec.time_ns;
}

Test(journal_file, clock_only_goes_up)
{
	struct mm_journal_settings set = settings(4096);
	uint64_t prev = 0, future, lsn;

	jopen(&set);
	for (uint64_t i = 1; i <= 100; i++)
		append(i);
	for (uint64_t i = 1; i <= 100; i++) {
		uint64_t t = time_of(i);

		cr_expect_gt(t, prev, "LSN %" PRIu64 " at %" PRIu64 ", the one before at %"
			     PRIu64, i, t, prev);
		prev = t;
	}
	cr_expect_eq(mm_journal_last_time(j), prev);
	/* a time seen from another store, an hour ahead of this clock */
	future = prev + 3600ULL * 1000000000ULL;
	mm_journal_observe(j, future);
	mm_journal_observe(j, prev);	/* never back */
	cr_expect_eq(time_of(append(101).lsn), future + 1);
	/* across a restart the clock is seeded from the journal */
	mm_journal_close(&j);
	jopen(&set);
	cr_expect_eq(mm_journal_last_time(j), future + 1);
	lsn = append(102).lsn;
	cr_expect_eq(time_of(lsn), future + 2);

	/* where to start reading for the records at or after a time */
	cr_expect_eq(mm_journal_lsn_since(dir, 0), 1);
	cr_expect_eq(mm_journal_lsn_since(dir, time_of(1)), 1);
	uint64_t from = mm_journal_lsn_since(dir, time_of(80));

	cr_expect_gt(from, 1, "the segments before LSN 80's are passed over");
	cr_expect_leq(from, 80);
	cr_expect_eq(mm_journal_lsn_since(dir, future + 100), seg_of(102));
}

/* ---- recovery ---- */

Test(journal_file, torn_tail_is_truncated)
{
	struct mm_journal_settings set = settings(64 << 20);
	struct where w[6];
	uint64_t lsns[16];
	char p[128];
	off_t full;

	jopen(&set);
	for (int i = 1; i <= 5; i++)
		w[i] = append((uint64_t)i);
	mm_journal_close(&j);
	seg_path(1, p, sizeof(p));
	full = file_size(p);

	/* a record cut in the middle */
	cr_assert_eq(truncate(p, full - 10), 0);
	capture_begin();
	jopen(&set);
	cr_expect_not_null(strstr(capture_end(), "torn tail"));
	cr_expect_eq(file_size(p), w[5].off, "cut back to the end of LSN 4");
	cr_expect_eq(mm_journal_last_lsn(j), 4);
	cr_expect_eq(append(5).lsn, 5);
	ropen(1);
	cr_assert_eq(read_all(lsns, 16), 5);
	for (int i = 0; i < 5; i++)
		cr_expect_eq(lsns[i], (uint64_t)i + 1);
	mm_journal_reader_close(&rd);
	mm_journal_close(&j);
	cr_expect_eq(file_size(p), full, "the new LSN 5 is as long as the old");
}

Test(journal_file, torn_header_of_last_record)
{
	struct mm_journal_settings set = settings(64 << 20);
	struct where w[4];
	char p[128];

	jopen(&set);
	for (int i = 1; i <= 3; i++)
		w[i] = append((uint64_t)i);
	mm_journal_close(&j);
	seg_path(1, p, sizeof(p));
	/* less than a record header of LSN 3 made it */
	cr_assert_eq(truncate(p, w[3].off + 5), 0);
	jopen(&set);
	cr_expect_eq(file_size(p), w[3].off);
	cr_expect_eq(mm_journal_last_lsn(j), 2);
	cr_expect_eq(append(3).lsn, 3);
}

Test(journal_file, garbage_after_the_tail_is_truncated)
{
	static const unsigned char junk[] = "\0\0\0\0 not a record, just junk at the end "
		"of the segment after a crash \xff\xfe";
	struct mm_journal_settings set = settings(64 << 20);
	char p[128];
	off_t full;
	int fd;

	jopen(&set);
	for (int i = 1; i <= 5; i++)
		append((uint64_t)i);
	mm_journal_close(&j);
	seg_path(1, p, sizeof(p));
	full = file_size(p);

	fd = open(p, O_WRONLY | O_APPEND);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, junk, sizeof(junk)), (ssize_t)sizeof(junk));
	close(fd);
	jopen(&set);
	cr_expect_eq(file_size(p), full);
	cr_expect_eq(mm_journal_last_lsn(j), 5);
	cr_expect_eq(append(6).lsn, 6);
	mm_journal_close(&j);

	/* shorter than a record header */
	full = file_size(p);
	fd = open(p, O_WRONLY | O_APPEND);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, "MMJR\x40", 5), 5);
	close(fd);
	jopen(&set);
	cr_expect_eq(file_size(p), full);
	cr_expect_eq(mm_journal_last_lsn(j), 6);
}

Test(journal_file, torn_last_segment_keeps_earlier_ones)
{
	struct mm_journal_settings set = settings(4096);
	struct where last = { 0 };
	uint64_t lsns[128];
	char p[128], first[128];
	off_t first_size;

	jopen(&set);
	for (uint64_t i = 1; i <= 60; i++)
		last = append(i);
	mm_journal_close(&j);
	cr_assert_gt(last.seg, 1);
	seg_path(1, first, sizeof(first));
	first_size = file_size(first);
	seg_path(last.seg, p, sizeof(p));

	/* every record of the last segment torn away */
	cr_assert_eq(truncate(p, MM_JSEG_HDR_SIZE + 10), 0);
	jopen(&set);
	cr_expect_eq(file_size(p), MM_JSEG_HDR_SIZE);
	cr_expect_eq(file_size(first), first_size);
	cr_expect_eq(mm_journal_last_lsn(j), last.seg - 1);
	cr_expect_eq(append(last.seg).lsn, last.seg);
	mm_journal_close(&j);

	/* even the segment header torn */
	cr_assert_eq(truncate(p, 10), 0);
	jopen(&set);
	cr_expect_eq(file_size(p), MM_JSEG_HDR_SIZE);
	cr_expect_eq(mm_journal_last_lsn(j), last.seg - 1);
	cr_expect_eq(append(last.seg).lsn, last.seg);
	ropen(1);
	cr_assert_eq(read_all(lsns, 128), last.seg);
	cr_expect_eq(lsns[last.seg - 1], last.seg);
}

Test(journal_file, mid_segment_corruption_is_skipped)
{
	struct mm_journal_settings set = settings(64 << 20);
	struct mm_journal_rec rec;
	const char *error = NULL;
	struct where w[6];
	char p[128], want[160], *log;
	off_t full;
	int ret;

	jopen(&set);
	for (int i = 1; i <= 5; i++)
		w[i] = append((uint64_t)i);
	mm_journal_close(&j);
	seg_path(1, p, sizeof(p));
	full = file_size(p);
	flip_byte(p, w[3].off + MM_JOURNAL_HDR_SIZE + 78);	/* in a string */

	capture_begin();
	jopen(&set);
	log = capture_end();
	cr_expect_eq(file_size(p), full, "later records kept");
	cr_expect_eq(mm_journal_last_lsn(j), 5);
	snprintf(want, sizeof(want), "0000000000000001.mmj offset %lld: corrupt record",
		 (long long)w[3].off);
	cr_expect_not_null(strstr(log, want), "log: %s", log);
	cr_expect_eq(append(6).lsn, 6);

	ropen(1);
	for (uint64_t i = 1; i <= 2; i++) {
		cr_assert_eq(mm_journal_reader_next(rd, &rec, &error), 1);
		cr_expect_eq(rec.lsn, i);
	}
	ret = mm_journal_reader_next(rd, &rec, &error);
	cr_assert_eq(ret, -1, "the corrupt record is reported");
	cr_expect_not_null(strstr(error, "0000000000000001.mmj"), "%s", error);
	snprintf(want, sizeof(want), "offset %lld", (long long)w[3].off);
	cr_expect_not_null(strstr(error, want), "%s", error);
	for (uint64_t i = 4; i <= 6; i++) {
		cr_assert_eq(mm_journal_reader_next(rd, &rec, &error), 1, "LSN %" PRIu64, i);
		cr_expect_eq(rec.lsn, i);
		expect_name(&rec, i);
	}
	cr_expect_eq(mm_journal_reader_next(rd, &rec, &error), 0);
}

/* mailmesh-fsck --repair: the corrupt bytes are saved and a filler of
   the same length stands in their place; readers skip it, raw readers see
   it; a valid record is never overwritten. */
Test(journal_file, corrupt_bytes_are_filled)
{
	struct mm_journal_settings set = settings(64 << 20);
	struct mm_journal_rec rec;
	const char *error = NULL;
	struct where w[6];
	uint64_t seg, off, len, lsns[8];
	char p[128], save[160];
	unsigned char orig[512], got[512];
	int fd;

	jopen(&set);
	for (int i = 1; i <= 5; i++)
		w[i] = append((uint64_t)i);
	seg_path(1, p, sizeof(p));
	flip_byte(p, w[3].off + MM_JOURNAL_HDR_SIZE + 78);
	fd = open(p, O_RDONLY);
	len = (uint64_t)(w[4].off - w[3].off);
	cr_assert_leq(len, sizeof(orig));
	cr_assert_eq(pread(fd, orig, len, w[3].off), (ssize_t)len);
	close(fd);

	ropen(1);
	cr_assert_eq(mm_journal_reader_next(rd, &rec, &error), 1);
	cr_assert_eq(mm_journal_reader_next(rd, &rec, &error), 1);
	cr_assert_eq(mm_journal_reader_next(rd, &rec, &error), -1);
	cr_assert(mm_journal_reader_bad(rd, &seg, &off, &len));
	cr_expect_eq(seg, 1);
	cr_expect_eq(off, (uint64_t)w[3].off);
	cr_expect_eq(len, (uint64_t)(w[4].off - w[3].off));
	cr_assert_eq(mm_journal_reader_next(rd, &rec, &error), 1);
	cr_expect_not(mm_journal_reader_bad(rd, &seg, &off, &len), "cleared by a good read");

	snprintf(save, sizeof(save), "%s/saved", dir);
	fd = open(save, O_RDWR | O_CREAT | O_TRUNC, 0600);
	cr_assert_geq(fd, 0);
	/* a valid record, or a range that ends inside one, is refused */
	cr_expect_lt(mm_journal_fill(dir, 1, (uint64_t)w[2].off,
				     (uint64_t)(w[3].off - w[2].off), fd, &error), 0);
	cr_expect_lt(mm_journal_fill(dir, 1, off, len - 1, fd, &error), 0);
	off_t before = file_size(p);

	cr_assert_eq(mm_journal_fill(dir, 1, off, len, fd, &error), 0, "%s", error);
	cr_assert_eq(pread(fd, got, len, 0), (ssize_t)len);
	cr_expect_eq(memcmp(got, orig, len), 0, "the corrupt bytes are saved as they were");
	close(fd);
	cr_expect_eq(file_size(p), before, "the segment keeps its size");

	mm_journal_reader_close(&rd);
	ropen(1);
	cr_assert_eq(read_all(lsns, 8), 4, "the filler is skipped, no error");
	cr_expect_eq(lsns[2], 4);
	mm_journal_reader_close(&rd);
	ropen(1);
	mm_journal_reader_set_raw(rd, true);
	for (int i = 0; i < 3; i++)
		cr_assert_eq(mm_journal_reader_next(rd, &rec, &error), 1);
	cr_expect(rec.rflags & MM_RECF_FILLER, "a raw reader sees the filler");
	cr_expect_eq(rec.status, MM_REC_ABORTED);
}

Test(journal_file, corrupt_record_header_is_skipped)
{
	struct mm_journal_settings set = settings(64 << 20);
	struct where w[6];
	uint64_t lsns[8];
	struct mm_journal_rec rec;
	const char *error = NULL;
	char p[128];
	int ret;

	jopen(&set);
	for (int i = 1; i <= 5; i++)
		w[i] = append((uint64_t)i);
	seg_path(1, p, sizeof(p));
	flip_byte(p, w[2].off + 1);		/* the magic of LSN 2 */

	ropen(1);
	cr_assert_eq(mm_journal_reader_next(rd, &rec, &error), 1);
	cr_expect_eq(rec.lsn, 1);
	ret = mm_journal_reader_next(rd, &rec, &error);
	cr_assert_eq(ret, -1);
	cr_assert_eq(read_all(lsns, 8), 3);
	cr_expect_eq(lsns[0], 3);
	cr_expect_eq(lsns[2], 5);
}

/* A length field grown past the end of the file by a flipped bit looks
   like a record still being written, but valid records follow it: the
   reader must report it (as recovery does) instead of waiting there. */
Test(journal_file, corrupt_length_mid_segment_is_skipped)
{
	struct mm_journal_settings set = settings(64 << 20);
	struct mm_journal_rec rec;
	const char *error = NULL;
	struct where w[6];
	uint64_t seen = 0;
	char p[128];
	int ret, errors = 0;

	jopen(&set);
	for (int i = 1; i <= 5; i++)
		w[i] = append((uint64_t)i);
	seg_path(1, p, sizeof(p));
	flip_byte(p, w[3].off + 6);	/* length of LSN 3 += 2 MiB */

	ropen(1);
	for (int calls = 0; calls < 20; calls++) {
		ret = mm_journal_reader_next(rd, &rec, &error);
		if (ret == 0)
			break;
		if (ret < 0) {
			errors++;
			continue;
		}
		cr_expect_neq(rec.lsn, 3, "the corrupt record was returned");
		seen = rec.lsn;
	}
	cr_expect_eq(errors, 1);
	cr_expect_eq(seen, 5, "reader stopped after LSN %" PRIu64, seen);

	/* recovery skips it and keeps LSN 4 and 5 */
	mm_journal_reader_close(&rd);
	mm_journal_close(&j);
	jopen(&set);
	cr_expect_eq(mm_journal_last_lsn(j), 5);
}

Test(journal_file, reader_open_without_journal_fails)
{
	const char *error = NULL;

	cr_expect_eq(mm_journal_reader_open(dir, 1, &rd, &error), -1);
	cr_expect_null(rd);
	cr_assert_not_null(error);
	cr_expect_not_null(strstr(error, "/journal"), "%s", error);
}

/* The last record of a segment that is not the last one: nothing follows
   it in its file, yet the next segment holds later records, so the reader
   must report it and go on rather than wait there for ever. */
Test(journal_file, corrupt_end_of_older_segment_is_skipped)
{
	struct mm_journal_settings set = settings(4096);
	struct mm_journal_rec rec;
	const char *error = NULL;
	struct where w[61];
	uint64_t bad = 0, seen = 0;
	char p[128];
	int ret, errors = 0;

	jopen(&set);
	for (uint64_t i = 1; i <= 60; i++)
		w[i] = append(i);
	for (uint64_t i = 1; i < 60; i++)
		if (w[i + 1].seg != w[i].seg) {
			bad = i;		/* last record of the first segment */
			break;
		}
	cr_assert_gt(bad, 1);
	seg_path(1, p, sizeof(p));
	flip_byte(p, w[bad].off + MM_JOURNAL_HDR_SIZE + 78);

	ropen(1);
	for (int calls = 0; calls < 200; calls++) {
		ret = mm_journal_reader_next(rd, &rec, &error);
		if (ret == 0)
			break;
		if (ret < 0) {
			errors++;
			cr_expect_not_null(strstr(error, "0000000000000001.mmj"), "%s", error);
			continue;
		}
		cr_expect_neq(rec.lsn, bad, "the corrupt record was returned");
		seen = rec.lsn;
	}
	cr_expect_eq(errors, 1, "one error for LSN %" PRIu64, bad);
	cr_expect_eq(seen, 60, "reader stopped after LSN %" PRIu64 " (corrupt LSN %"
		     PRIu64 " ends segment 1)", seen, bad);
}

/* ---- reader wake-ups ---- */

static void *late_append(void *arg)
{
	(void)arg;
	usleep(100 * 1000);
	append(2);
	return NULL;
}

Test(journal_file, reader_wait)
{
	struct mm_journal_settings set = settings(64 << 20);
	struct mm_journal_rec rec;
	const char *error = NULL;
	struct timespec t0, t1;
	pthread_t th;
	long ms;

	jopen(&set);
	append(1);
	ropen(1);
	cr_expect_geq(mm_journal_reader_fd(rd), 0);
	cr_assert_eq(mm_journal_reader_next(rd, &rec, &error), 1);
	cr_expect_eq(mm_journal_reader_next(rd, &rec, &error), 0);

	mm_journal_reader_wait(rd, 0);		/* drain */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	cr_expect_eq(mm_journal_reader_wait(rd, 100), 0, "nothing happened");
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	cr_expect_geq(ms, 90, "timed out after %ld ms", ms);

	cr_assert_eq(pthread_create(&th, NULL, late_append, NULL), 0);
	cr_expect_eq(mm_journal_reader_wait(rd, 10000), 1);
	pthread_join(th, NULL);
	cr_assert_eq(mm_journal_reader_next(rd, &rec, &error), 1);
	cr_expect_eq(rec.lsn, 2);
}

/* ---- content ---- */

static int make_store_file(const char *name, const char *text)
{
	char path[128];
	int fd, dfd;

	snprintf(path, sizeof(path), "%s/store", dir);
	mkdir(path, 0700);
	dfd = open(path, O_RDONLY | O_DIRECTORY);
	cr_assert_geq(dfd, 0);
	fd = openat(dfd, name, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return dfd;
}

Test(journal_file, content_link_is_readable_by_the_reader)
{
	struct mm_journal_settings set = settings(64 << 20);
	struct mm_journal_rec rec = { .op = MM_OP_DELIVER, .account = ACCOUNT,
				      .folder = "Maildir", .name = "msg" };
	struct mm_journal_ref ref;
	const char *error = NULL;
	char got[64] = "";
	int dfd, fd;

	dfd = make_store_file("msg", "Subject: hi\n\nhello\n");
	jopen(&set);
	append(1);
	cr_assert_eq(mm_journal_append(j, &rec, &ref), 0);
	cr_assert_eq(mm_journal_content_link(j, &ref, dfd, "msg"), 0);
	/* a retried record replaces its link */
	cr_assert_eq(mm_journal_content_link(j, &ref, dfd, "msg"), 0);
	mm_journal_finish(j, &ref, MM_REC_COMMITTED);
	unlinkat(dfd, "msg", 0);	/* the store copy goes; the link stays */

	/* a record whose content was dropped again */
	rec.name = "gone";
	close(make_store_file("gone", "x"));
	cr_assert_eq(mm_journal_append(j, &rec, &ref), 0);
	cr_assert_eq(mm_journal_content_link(j, &ref, dfd, "gone"), 0);
	mm_journal_content_unlink(j, &ref);
	mm_journal_finish(j, &ref, MM_REC_COMMITTED);

	ropen(1);
	cr_assert_eq(mm_journal_reader_next(rd, &rec, &error), 1);
	cr_expect_eq(mm_journal_reader_content_open(rd), -ENOENT, "LSN 1 has none");
	cr_assert_eq(mm_journal_reader_next(rd, &rec, &error), 1);
	cr_expect_eq(rec.lsn, 2);
	fd = mm_journal_reader_content_open(rd);
	cr_assert_geq(fd, 0, "content_open: %s", strerror(-fd));
	cr_expect_gt(read(fd, got, sizeof(got) - 1), 0);
	close(fd);
	cr_expect_str_eq(got, "Subject: hi\n\nhello\n");
	cr_assert_eq(mm_journal_reader_next(rd, &rec, &error), 1);
	cr_expect_eq(rec.lsn, 3);
	cr_expect_eq(mm_journal_reader_content_open(rd), -ENOENT);
	close(dfd);
}

/* ---- retention ---- */

static bool content_dir_exists(uint64_t seg)
{
	char p[128];
	struct stat st;

	snprintf(p, sizeof(p), "%s/content/%016" PRIx64, dir, seg);
	return stat(p, &st) == 0;
}

Test(journal_file, prune_by_size_removes_old_segments_and_content)
{
	struct mm_journal_settings set = settings(4096);
	struct mm_journal_rec rec = { .op = MM_OP_DELIVER, .account = ACCOUNT,
				      .folder = "Maildir", .name = "msg" };
	struct mm_journal_ref ref;
	const char *error = NULL;
	uint64_t first_seg_content, cur_seg;
	unsigned int nseg;
	int dfd;

	dfd = make_store_file("msg", "hello\n");
	jopen(&set);
	cr_assert_eq(mm_journal_append(j, &rec, &ref), 0);
	first_seg_content = seg_of(ref.lsn);
	cr_assert_eq(mm_journal_content_link(j, &ref, dfd, "msg"), 0);
	mm_journal_finish(j, &ref, MM_REC_COMMITTED);
	for (uint64_t i = 2; i <= 120; i++)
		append(i);
	cr_assert_eq(mm_journal_append(j, &rec, &ref), 0);
	cur_seg = seg_of(ref.lsn);
	cr_assert_eq(mm_journal_content_link(j, &ref, dfd, "msg"), 0);
	mm_journal_finish(j, &ref, MM_REC_COMMITTED);
	nseg = count_segments();
	cr_assert_gt(nseg, 3);
	cr_assert(content_dir_exists(first_seg_content));
	cr_assert(content_dir_exists(cur_seg));

	/* no limits: nothing goes */
	cr_expect_eq(mm_journal_prune(j, (uint64_t)time(NULL)), 0);
	cr_expect_eq(count_segments(), nseg);
	mm_journal_close(&j);

	set.retention_bytes = 1;
	jopen(&set);
	cr_expect_eq(mm_journal_prune(j, (uint64_t)time(NULL)), nseg - 1);
	cr_expect_eq(count_segments(), 1, "the current segment stays");
	cr_expect_not(content_dir_exists(first_seg_content));
	cr_expect(content_dir_exists(cur_seg));

	/* a reader from the start sees the LSN jump to what is left */
	ropen(1);
	cr_assert_eq(mm_journal_reader_next(rd, &rec, &error), 1);
	cr_expect_eq(rec.lsn, cur_seg);
	close(dfd);
}

Test(journal_file, prune_by_age)
{
	struct mm_journal_settings set = settings(4096);
	unsigned int nseg;
	uint64_t now = (uint64_t)time(NULL);

	set.retention_s = 3600;
	jopen(&set);
	for (uint64_t i = 1; i <= 100; i++)
		append(i);
	nseg = count_segments();
	cr_assert_gt(nseg, 2);
	cr_expect_eq(mm_journal_prune(j, now), 0, "all younger than an hour");
	cr_expect_eq(mm_journal_prune(j, now + 7200), nseg - 1);
	cr_expect_eq(count_segments(), 1);
	cr_expect_eq(append(101).lsn, 101);
}

Test(journal_file, prune_keeps_a_segment_with_an_unfinished_record)
{
	struct mm_journal_settings set = settings(4096);
	struct mm_journal_rec rec = { .op = MM_OP_DELIVER, .account = ACCOUNT,
				      .folder = "Maildir", .name = "msg" };
	struct mm_journal_ref ref;
	uint64_t held_seg;
	unsigned int nseg;

	set.retention_bytes = 1;
	jopen(&set);
	for (uint64_t i = 1; i <= 40; i++)
		append(i);
	/* a call in flight: its record stays PENDING while others rotate */
	cr_assert_eq(mm_journal_append(j, &rec, &ref), 0);
	held_seg = seg_of(ref.lsn);
	for (uint64_t i = 42; i <= 160; i++)
		append(i);
	nseg = count_segments();
	cr_assert_gt(nseg, 3);
	mm_journal_prune(j, (uint64_t)time(NULL));
	{
		char p[128];

		seg_path(held_seg, p, sizeof(p));
		cr_expect_eq(access(p, F_OK), 0, "the segment of a PENDING record was pruned");
	}
	cr_expect_lt(count_segments(), nseg, "older segments do go");
	mm_journal_finish(j, &ref, MM_REC_COMMITTED);
	mm_journal_prune(j, (uint64_t)time(NULL));
	cr_expect_eq(count_segments(), 1, "once finished, it may go too");
}

static void mkdir_journal(void)
{
	char p[128];

	snprintf(p, sizeof(p), "%s/journal", dir);
	cr_assert_eq(mkdir(p, 0700), 0);
}

static int open_saved(void)
{
	char p[128];

	snprintf(p, sizeof(p), "%s/saved", dir);
	return open(p, O_RDWR | O_CREAT | O_TRUNC, 0600);
}

/* A store upgraded to journal version 2: the segment the old mailmesh-fs
   wrote (version 1 records, no epoch) is recovered and read, the new
   records follow it in the same segment with their epochs, and a short
   corrupt range of the old records still gets a (version 1) filler. */
Test(journal_file, version_1_segment_is_read_after_an_upgrade)
{
	struct mm_journal_settings set = settings(64 << 20);
	struct mm_journal_rec rec;
	const char *error = NULL;
	struct mm_journal_ref ref;
	struct mm_buf b = { 0 };
	unsigned char hdr[MM_JSEG_HDR_SIZE] = "MMJSEG01";
	off_t offs[4];
	char p[128];
	int fd;

	mkdir_journal();
	seg_path(1, p, sizeof(p));
	mm_set_u32(hdr + 8, 1);
	mm_set_u64(hdr + 16, 1);
	mm_buf_append(&b, hdr, sizeof(hdr));
	for (uint64_t i = 1; i <= 3; i++) {
		struct mm_journal_rec old = {
			.lsn = i, .time_ns = 1700000000000000000ULL + i, .op = MM_OP_DELIVER,
			.status = MM_REC_COMMITTED, .sub = 1, .account = ACCOUNT,
			.folder = "Maildir", .name = rec_name(i), .size = 5, .mtime_ns = -1,
			.epoch = 77,	/* not written in version 1 */
		};

		offs[i] = (off_t)b.len;
		cr_assert_eq(mm_journal_encode_as(&old, 1, &b), 0);
	}
	offs[0] = (off_t)b.len;
	fd = open(p, O_RDWR | O_CREAT | O_EXCL, 0600);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, b.data, b.len), (ssize_t)b.len);
	close(fd);
	mm_buf_free(&b);

	jopen(&set);
	cr_assert_eq(mm_journal_start(j, &error), 0, "%s", error);
	rec = (struct mm_journal_rec){ .op = MM_OP_DELIVER, .sub = 1, .account = ACCOUNT,
				       .folder = "Maildir", .name = rec_name(4), .size = 5,
				       .mtime_ns = -1, .epoch = 1795556559364978166ULL };
	cr_assert_eq(mm_journal_append(j, &rec, &ref), 0);
	cr_expect_eq(rec.lsn, 4, "LSNs go on after the old records");
	cr_expect_gt(rec.time_ns, 1700000000000000003ULL);
	cr_expect_eq(ref.off, offs[0], "appended to the old segment");
	mm_journal_finish(j, &ref, MM_REC_COMMITTED);

	ropen(1);
	for (uint64_t i = 1; i <= 4; i++) {
		cr_assert_eq(mm_journal_reader_next(rd, &rec, &error), 1, "LSN %" PRIu64 ": %s",
			     i, error);
		cr_expect_eq(rec.lsn, i);
		expect_name(&rec, i);
		cr_expect_eq(rec.epoch, i < 4 ? 0 : 1795556559364978166ULL);
	}
	cr_expect_eq(mm_journal_reader_next(rd, &rec, &error), 0);
	mm_journal_reader_close(&rd);

	/* an old record gone corrupt: fsck's filler takes its exact length */
	flip_byte(p, offs[1] + MM_JOURNAL_HDR_SIZE + 70);
	fd = open_saved();
	cr_assert_geq(fd, 0);
	cr_assert_eq(mm_journal_fill(dir, 1, (uint64_t)offs[1], (uint64_t)(offs[2] - offs[1]),
				     fd, &error), 0, "%s", error);
	close(fd);
	ropen(1);
	for (uint64_t i = 2; i <= 4; i++) {
		cr_assert_eq(mm_journal_reader_next(rd, &rec, &error), 1, "%s", error);
		cr_expect_eq(rec.lsn, i);
	}
}

/* The smallest version 1 record (empty strings) is 8 bytes shorter than
   the smallest version 2 one: a corrupt range that short is still filled. */
Test(journal_file, short_old_range_gets_a_version_1_filler)
{
	struct mm_journal_rec small = {
		.lsn = 1, .op = MM_OP_FOLDER_CREATE, .status = MM_REC_COMMITTED,
		.account = "a", .folder = "", .name = "", .new_folder = "", .new_name = "",
	}, next = small, rec;
	unsigned char hdr[MM_JSEG_HDR_SIZE] = "MMJSEG01";
	struct mm_buf b = { 0 }, v2 = { 0 };
	const char *error = NULL;
	size_t first;
	char p[128];
	int fd;

	mkdir_journal();
	seg_path(1, p, sizeof(p));
	mm_set_u32(hdr + 8, 1);
	mm_set_u64(hdr + 16, 1);
	mm_buf_append(&b, hdr, sizeof(hdr));
	cr_assert_eq(mm_journal_encode_as(&small, 1, &b), 0);
	first = b.len - sizeof(hdr);
	next.lsn = 2;
	cr_assert_eq(mm_journal_encode_as(&next, 1, &b), 0);
	cr_assert_eq(mm_journal_encode(&small, &v2), 0);
	cr_assert_lt(first, v2.len, "a version 2 filler would not fit");
	fd = open(p, O_RDWR | O_CREAT | O_EXCL, 0600);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, b.data, b.len), (ssize_t)b.len);
	close(fd);
	flip_byte(p, MM_JSEG_HDR_SIZE + MM_JOURNAL_HDR_SIZE + 8);
	fd = open_saved();
	cr_assert_geq(fd, 0);
	cr_assert_eq(mm_journal_fill(dir, 1, MM_JSEG_HDR_SIZE, first, fd, &error), 0, "%s",
		     error);
	close(fd);
	ropen(1);
	cr_assert_eq(mm_journal_reader_next(rd, &rec, &error), 1, "%s", error);
	cr_expect_eq(rec.lsn, 2, "the filler is skipped");
	mm_buf_free(&b);
	mm_buf_free(&v2);
}
