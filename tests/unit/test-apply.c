/* SPDX-License-Identifier: MIT
 * test-apply.c - repl_apply() on a temporary store under /var/tmp: every op
 * once and twice, the identity fallbacks, content checks and hostile records. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>
#include "maildir.h"
#include "mem.h"
#include "repl-apply.h"

#define ACCOUNT "example.org/alice"
#define MAIL_UID 8
#define MAIL_GID 8
#define MTIME 1700000000123456789LL

static char dir[64];		/* holds store/ and outside/ */
static char store[96], outside[96];
static struct repl_store *st;
static struct repl_changes changes;

static void setup(void)
{
	const char *error;

	snprintf(dir, sizeof(dir), "/var/tmp/mm-test-apply.XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(store, sizeof(store), "%s/store", dir);
	snprintf(outside, sizeof(outside), "%s/outside", dir);
	cr_assert_eq(mkdir(store, 0755), 0);
	cr_assert_eq(mkdir(outside, 0755), 0);
	memset(&changes, 0, sizeof(changes));
	cr_assert_eq(repl_store_open(store, 2, &st, &error), 0, "%s", error);
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void teardown(void)
{
	repl_store_close(&st);
	repl_changes_free(&changes);
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

TestSuite(apply, .init = setup, .fini = teardown, .timeout = 30);

/* helpers */

static char *sp(const char *rel)
{
	return mm_strdup_printf("%s/%s", store, rel);
}

static void hash_of(const char *content, uint8_t hash[16])
{
	XXH128_canonical_t c;

	XXH128_canonicalFromHash(&c, XXH3_128bits(content, strlen(content)));
	memcpy(hash, c.digest, 16);
}

static struct mm_journal_rec msg_rec(enum mm_op op, const char *folder, uint8_t sub,
				     const char *name, const char *content)
{
	struct mm_journal_rec rec = {
		.lsn = 42, .op = op, .account = ACCOUNT, .folder = folder,
		.sub = sub, .name = name, .new_folder = "", .new_name = "",
		.mtime_ns = MTIME, .mode = 0640, .uid = MAIL_UID, .gid = MAIL_GID,
	};

	if (content != NULL) {
		rec.size = strlen(content);
		hash_of(content, rec.hash);
	}
	return rec;
}

static struct repl_stage *stage(const struct mm_journal_rec *rec, const char *content)
{
	struct repl_stage *sg;
	const char *error;
	int fd;

	cr_assert_eq(repl_stage_open(st, rec, &sg, &fd, &error), 0, "%s", error);
	cr_assert_eq(write(fd, content, strlen(content)), (ssize_t)strlen(content));
	return sg;
}

/* Applies rec (with content staged when given); returns the result. */
static int apply(const struct mm_journal_rec *rec, const char *content)
{
	struct repl_stage *sg = content != NULL ? stage(rec, content) : NULL;
	const char *error = NULL;
	int ret;

	ret = repl_apply(st, rec, &sg, &changes, &error);
	cr_assert_null(sg);
	cr_assert(ret >= 0 || error != NULL);
	return ret;
}

static int apply_err(const struct mm_journal_rec *rec, const char *content,
		     const char **error_r)
{
	struct repl_stage *sg = content != NULL ? stage(rec, content) : NULL;

	return repl_apply(st, rec, &sg, &changes, error_r);
}

static void deliver(const char *folder, uint8_t sub, const char *name, const char *content)
{
	struct mm_journal_rec rec = msg_rec(MM_OP_DELIVER, folder, sub, name, content);

	cr_assert_eq(apply(&rec, content), REPL_APPLIED);
}

static bool exists(const char *rel)
{
	struct stat sb;
	char *p = sp(rel);
	bool ret = lstat(p, &sb) == 0;

	free(p);
	return ret;
}

static void put_file(const char *rel, const char *content)
{
	char *p = sp(rel);
	FILE *f = fopen(p, "w");

	cr_assert_not_null(f, "%s", p);
	fputs(content, f);
	fclose(f);
	free(p);
}

static void make_dirs(const char *rel)
{
	char *p = sp(rel);

	for (char *s = p + strlen(store) + 1; ; s++) {
		if (*s == '/' || *s == '\0') {
			char c = *s;

			*s = '\0';
			cr_assert(mkdir(p, 0700) == 0 || errno == EEXIST, "mkdir %s", p);
			*s = c;
			if (c == '\0')
				break;
		}
	}
	free(p);
}

static void make_folder(const char *folder)
{
	char *f = *folder ? mm_strdup_printf(ACCOUNT "/%s", folder) : mm_strdup(ACCOUNT);
	char *s;

	make_dirs(f);
	for (int i = 0; i < 3; i++) {
		s = mm_strdup_printf("%s/%s", f, (const char *[]){ "cur", "new", "tmp" }[i]);
		make_dirs(s);
		free(s);
	}
	free(f);
}

static void assert_file(const char *rel, const char *content, mode_t mode,
			uid_t uid, gid_t gid, int64_t mtime_ns)
{
	char *p = sp(rel), buf[4096];
	struct stat sb;
	ssize_t n;
	int fd;

	cr_assert_eq(lstat(p, &sb), 0, "%s missing", rel);
	cr_assert(S_ISREG(sb.st_mode), "%s not a file", rel);
	cr_assert_eq(sb.st_mode & 07777, mode, "%s mode %o", rel, sb.st_mode & 07777);
	cr_assert_eq(sb.st_uid, uid);
	cr_assert_eq(sb.st_gid, gid);
	cr_assert_eq((int64_t)sb.st_mtim.tv_sec * 1000000000LL + sb.st_mtim.tv_nsec, mtime_ns,
		     "%s mtime", rel);
	fd = open(p, O_RDONLY);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	cr_assert_geq(n, 0);
	buf[n] = '\0';
	cr_assert_str_eq(buf, content, "%s content", rel);
	free(p);
}

static int dir_count(const char *rel)
{
	char *p = sp(rel);
	struct dirent *de;
	DIR *d = opendir(p);
	int n = 0;

	cr_assert_not_null(d, "%s", p);
	while ((de = readdir(d)) != NULL)
		n += strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0;
	closedir(d);
	free(p);
	return n;
}

/* A sorted description of every entry below a directory: names, types,
   modes, owners, sizes, contents, symlink targets and, for files, mtimes
   (a directory's mtime changes with every rename inside it). */
static struct mm_buf snap_lines;
static size_t snap_root_len;

static int snap_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	char target[256] = "";
	uint64_t h = 0;

	(void)flag;
	(void)ftw;
	if (S_ISLNK(sb->st_mode)) {
		ssize_t n = readlink(path, target, sizeof(target) - 1);

		target[n > 0 ? n : 0] = '\0';
	} else if (S_ISREG(sb->st_mode)) {
		char buf[65536];
		int fd = open(path, O_RDONLY);
		ssize_t n = read(fd, buf, sizeof(buf));

		close(fd);
		h = XXH3_64bits(buf, n > 0 ? (size_t)n : 0);
	}
	mm_buf_printf(&snap_lines, "%s %o %u:%u %lld %lld.%09ld %016llx %s\n",
		      path + snap_root_len, sb->st_mode, sb->st_uid, sb->st_gid,
		      S_ISDIR(sb->st_mode) ? 0LL : (long long)sb->st_size,
		      S_ISDIR(sb->st_mode) ? 0LL : (long long)sb->st_mtim.tv_sec,
		      S_ISDIR(sb->st_mode) ? 0L : sb->st_mtim.tv_nsec,
		      (unsigned long long)h, target);
	return 0;
}

static int line_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The caller frees the result. */
static char *snapshot(const char *root)
{
	struct mm_buf out = { 0 };
	char **lines = NULL, *s, *save = NULL;
	size_t n = 0;

	mm_buf_reset(&snap_lines);
	snap_root_len = strlen(root);
	nftw(root, snap_one, 16, FTW_PHYS);
	for (s = strtok_r((char *)snap_lines.data, "\n", &save); s != NULL;
	     s = strtok_r(NULL, "\n", &save)) {
		lines = mm_realloc(lines, (n + 1) * sizeof(*lines));
		lines[n++] = s;
	}
	if (n > 0)
		qsort(lines, n, sizeof(*lines), line_cmp);
	mm_buf_puts(&out, "");
	for (size_t i = 0; i < n; i++) {
		mm_buf_puts(&out, lines[i]);
		mm_buf_puts(&out, "\n");
	}
	free(lines);
	mm_buf_free(&snap_lines);
	return (char *)out.data;
}

/* Asserts that root still looks as before (which it frees). */
static void assert_same(const char *root, char *before)
{
	char *now = snapshot(root);
	bool same = strcmp(now, before) == 0;

	if (!same)
		fprintf(stderr, "before:\n%s\nnow:\n%s\n", before, now);
	free(now);
	free(before);
	cr_assert(same, "%s changed", root);
}

static bool changed(const char *rel)
{
	size_t pos = 0;
	const char *p;

	while ((p = repl_changes_next(&changes, &pos)) != NULL) {
		if (strcmp(p, rel) == 0)
			return true;
	}
	return false;
}

/* deliver */

Test(apply, deliver_once_and_twice)
{
	struct mm_journal_rec rec = msg_rec(MM_OP_DELIVER, ".Sent", MM_SUB_NEW,
					    "1700.M1P2.host,S=5", "hello");
	char *before;

	cr_assert_eq(apply(&rec, "hello"), REPL_APPLIED);
	assert_file(ACCOUNT "/.Sent/new/1700.M1P2.host,S=5", "hello", 0640,
		    MAIL_UID, MAIL_GID, MTIME);
	cr_assert_eq(dir_count(ACCOUNT "/.Sent/tmp"), 0);
	cr_assert(exists(ACCOUNT "/.Sent/cur"));
	cr_assert(changed(ACCOUNT "/.Sent/new/1700.M1P2.host,S=5"));
	cr_assert(changed(ACCOUNT "/.Sent"));
	cr_assert(changed("example.org"));

	before = snapshot(store);
	cr_assert_eq(apply(&rec, "hello"), REPL_ALREADY);
	cr_assert_eq(dir_count(ACCOUNT "/.Sent/tmp"), 0);
	assert_same(store, before);
}

Test(apply, deliver_makes_dirs_with_owner)
{
	char *p = sp("example.org"), *q = sp(ACCOUNT "/.Sent/new");
	struct stat sb;

	deliver(".Sent", MM_SUB_NEW, "1.x", "x");
	cr_assert_eq(stat(p, &sb), 0);
	cr_assert_eq(sb.st_mode & 07777, 0711);	/* above the account: others live there too */
	cr_assert_eq(sb.st_uid, 0);
	cr_assert_eq(stat(q, &sb), 0);
	cr_assert_eq(sb.st_mode & 07777, 0700);
	cr_assert_eq(sb.st_uid, MAIL_UID);
	cr_assert_eq(sb.st_gid, MAIL_GID);
	free(p);
	free(q);
}

/* A stage whose caller hashed the bytes as it wrote them: the record is
   checked against that hash (the file is not read again), and a hash of
   other bytes is refused like a file of other bytes. */
static int apply_hashed(const struct mm_journal_rec *rec, const char *content,
			const char *hashed, size_t hashed_size, const char **error_r)
{
	struct repl_stage *sg = stage(rec, content);
	uint8_t h[16];

	hash_of(hashed, h);
	repl_stage_hashed(sg, hashed_size, h);
	return repl_apply(st, rec, &sg, &changes, error_r);
}

Test(apply, deliver_hashed_as_received)
{
	struct mm_journal_rec rec = msg_rec(MM_OP_DELIVER, "", MM_SUB_NEW, "1.h", "hello");
	const char *error;

	cr_assert_eq(apply_hashed(&rec, "hello", "jello", 5, &error), -1);
	cr_assert(strstr(error, "content hash") != NULL, "%s", error);
	cr_assert_eq(dir_count(ACCOUNT "/new"), 0);
	/* a hash of another size than the file: the file is read instead */
	cr_assert_eq(apply_hashed(&rec, "hello", "hell", 4, &error), REPL_APPLIED, "%s", error);
	rec.name = "2.h";
	cr_assert_eq(apply_hashed(&rec, "hello", "hello", 5, &error), REPL_APPLIED, "%s", error);
	cr_assert_eq(dir_count(ACCOUNT "/new"), 2);
}

Test(apply, deliver_wrong_hash)
{
	struct mm_journal_rec rec = msg_rec(MM_OP_DELIVER, ".Sent", MM_SUB_NEW,
					    "1700.M1P2.host", "hello");
	const char *error;

	cr_assert_eq(apply_err(&rec, "jello", &error), -1);
	cr_assert(strstr(error, ACCOUNT "/.Sent/new/1700.M1P2.host") != NULL, "%s", error);
	cr_assert(strstr(error, "content hash") != NULL, "%s", error);
	cr_assert_eq(dir_count(ACCOUNT "/.Sent/new"), 0);
	cr_assert_eq(dir_count(ACCOUNT "/.Sent/cur"), 0);
	cr_assert_eq(dir_count(ACCOUNT "/.Sent/tmp"), 0, "the stage is gone");
}

Test(apply, deliver_wrong_size)
{
	struct mm_journal_rec rec = msg_rec(MM_OP_DELIVER, "", MM_SUB_NEW, "1.x", "hello");
	const char *error;

	cr_assert_eq(apply_err(&rec, "hello!", &error), -1);
	cr_assert(strstr(error, "6 bytes received, the record says 5") != NULL, "%s", error);
	cr_assert_eq(dir_count(ACCOUNT "/new"), 0);
	cr_assert_eq(dir_count(ACCOUNT "/tmp"), 0);
}

Test(apply, deliver_without_content)
{
	struct mm_journal_rec rec = msg_rec(MM_OP_DELIVER, "", MM_SUB_NEW, "1.x", "hello");
	const char *error;

	cr_assert_eq(apply_err(&rec, NULL, &error), -1);
	cr_assert(!exists(ACCOUNT "/new/1.x"));
}

Test(apply, deliver_identity_under_other_flags)
{
	struct mm_journal_rec rec = msg_rec(MM_OP_DELIVER, "", MM_SUB_NEW, "1.x", "hello");

	deliver("", MM_SUB_CUR, "1.x:2,S", "hello");
	cr_assert_eq(apply(&rec, "hello"), REPL_ALREADY);
	cr_assert(!exists(ACCOUNT "/new/1.x"));
	cr_assert_eq(dir_count(ACCOUNT "/tmp"), 0);
}

Test(apply, deliver_replaces_a_short_copy)
{
	struct mm_journal_rec rec = msg_rec(MM_OP_DELIVER, "", MM_SUB_NEW, "1.x", "hello");

	make_folder("");
	put_file(ACCOUNT "/cur/1.x:2,S", "");	/* as a power cut before syncfs leaves it */
	cr_assert_eq(apply(&rec, "hello"), REPL_APPLIED);
	assert_file(ACCOUNT "/cur/1.x:2,S", "hello", 0640, MAIL_UID, MAIL_GID, MTIME);
	cr_assert(!exists(ACCOUNT "/new/1.x"));
}

Test(apply, deliver_strips_setid_bits)
{
	struct mm_journal_rec rec = msg_rec(MM_OP_DELIVER, "", MM_SUB_NEW, "1.x", "hello");

	rec.mode = 06755;
	rec.uid = 0;
	cr_assert_eq(apply(&rec, "hello"), REPL_APPLIED);
	assert_file(ACCOUNT "/new/1.x", "hello", 0755, 0, MAIL_GID, MTIME);
}

Test(apply, deliver_negative_mtime)
{
	struct mm_journal_rec rec = msg_rec(MM_OP_DELIVER, "", MM_SUB_NEW, "1.x", "hello");

	rec.mtime_ns = -1500000000LL;	/* 1969-12-31T23:59:58.5 */
	cr_assert_eq(apply(&rec, "hello"), REPL_APPLIED);
	assert_file(ACCOUNT "/new/1.x", "hello", 0640, MAIL_UID, MAIL_GID, -1500000000LL);
}

Test(apply, stage_abort_removes_the_file)
{
	struct mm_journal_rec rec = msg_rec(MM_OP_DELIVER, "", MM_SUB_NEW, "1.x", "hello");
	struct repl_stage *sg = stage(&rec, "hello");

	cr_assert_eq(dir_count(ACCOUNT "/tmp"), 1);
	repl_stage_abort(st, &sg);
	cr_assert_null(sg);
	cr_assert_eq(dir_count(ACCOUNT "/tmp"), 0);
}

/* move, flags */

Test(apply, move_once_and_twice)
{
	struct mm_journal_rec rec = msg_rec(MM_OP_MOVE, ".Sent", MM_SUB_NEW, "1.x", NULL);
	char *before;

	deliver(".Sent", MM_SUB_NEW, "1.x", "hello");
	rec.new_folder = ".Sent";
	rec.new_sub = MM_SUB_CUR;
	rec.new_name = "1.x:2,";
	repl_changes_reset(&changes);
	cr_assert_eq(apply(&rec, NULL), REPL_APPLIED);
	cr_assert(!exists(ACCOUNT "/.Sent/new/1.x"));
	assert_file(ACCOUNT "/.Sent/cur/1.x:2,", "hello", 0640, MAIL_UID, MAIL_GID, MTIME);
	cr_assert_eq(changes.count, 2);
	cr_assert(changed(ACCOUNT "/.Sent/new/1.x"));
	cr_assert(changed(ACCOUNT "/.Sent/cur/1.x:2,"));

	before = snapshot(store);
	cr_assert_eq(apply(&rec, NULL), REPL_ALREADY);
	assert_same(store, before);
}

Test(apply, flags_once_and_twice)
{
	struct mm_journal_rec rec = msg_rec(MM_OP_FLAGS, "", MM_SUB_CUR, "1.x:2,", NULL);

	deliver("", MM_SUB_CUR, "1.x:2,", "hello");
	rec.new_sub = MM_SUB_CUR;
	rec.new_name = "1.x:2,S";
	cr_assert_eq(apply(&rec, NULL), REPL_APPLIED);
	cr_assert(!exists(ACCOUNT "/cur/1.x:2,"));
	assert_file(ACCOUNT "/cur/1.x:2,S", "hello", 0640, MAIL_UID, MAIL_GID, MTIME);
	cr_assert_eq(apply(&rec, NULL), REPL_ALREADY);
	cr_assert_eq(dir_count(ACCOUNT "/cur"), 1);
}

Test(apply, flags_falls_back_to_identity)
{
	struct mm_journal_rec rec = msg_rec(MM_OP_FLAGS, "", MM_SUB_CUR, "1.x:2,", NULL);

	/* the replica missed the change to S: it has 1.x:2,S, the record
	   goes from 1.x:2, to 1.x:2,RS */
	deliver("", MM_SUB_CUR, "1.x:2,S", "hello");
	rec.new_sub = MM_SUB_CUR;
	rec.new_name = "1.x:2,RS";
	cr_assert_eq(apply(&rec, NULL), REPL_APPLIED);
	cr_assert(!exists(ACCOUNT "/cur/1.x:2,S"));
	assert_file(ACCOUNT "/cur/1.x:2,RS", "hello", 0640, MAIL_UID, MAIL_GID, MTIME);
}

Test(apply, move_falls_back_to_identity_in_new)
{
	struct mm_journal_rec rec = msg_rec(MM_OP_FLAGS, "", MM_SUB_CUR, "1.x:2,", NULL);

	deliver("", MM_SUB_NEW, "1.x", "hello");	/* the move to cur/ was lost */
	rec.new_sub = MM_SUB_CUR;
	rec.new_name = "1.x:2,S";
	cr_assert_eq(apply(&rec, NULL), REPL_APPLIED);
	cr_assert_eq(dir_count(ACCOUNT "/new"), 0);
	cr_assert(exists(ACCOUNT "/cur/1.x:2,S"));
}

Test(apply, move_missing)
{
	struct mm_journal_rec rec = msg_rec(MM_OP_MOVE, ".Sent", MM_SUB_NEW, "1.x", NULL);

	rec.new_folder = ".Sent";
	rec.new_sub = MM_SUB_CUR;
	rec.new_name = "1.x:2,";
	cr_assert_eq(apply(&rec, NULL), REPL_MISSING, "no folder");
	deliver(".Sent", MM_SUB_NEW, "2.x", "other");
	cr_assert_eq(apply(&rec, NULL), REPL_MISSING, "no message");
	cr_assert(exists(ACCOUNT "/.Sent/new/2.x"));
}

/* expunge */

Test(apply, expunge_once_and_twice)
{
	struct mm_journal_rec rec = msg_rec(MM_OP_EXPUNGE, "", MM_SUB_CUR, "1.x:2,S", NULL);

	deliver("", MM_SUB_CUR, "1.x:2,S", "hello");
	deliver("", MM_SUB_CUR, "2.x:2,S", "other");
	cr_assert_eq(apply(&rec, NULL), REPL_APPLIED);
	cr_assert(!exists(ACCOUNT "/cur/1.x:2,S"));
	cr_assert(changed(ACCOUNT "/cur/1.x:2,S"));
	cr_assert_eq(apply(&rec, NULL), REPL_ALREADY);
	cr_assert(exists(ACCOUNT "/cur/2.x:2,S"));
}

Test(apply, expunge_by_identity)
{
	struct mm_journal_rec rec = msg_rec(MM_OP_EXPUNGE, "", MM_SUB_CUR, "1.x:2,S", NULL);

	deliver("", MM_SUB_NEW, "1.x", "hello");
	cr_assert_eq(apply(&rec, NULL), REPL_APPLIED);
	cr_assert_eq(dir_count(ACCOUNT "/new"), 0);
}

Test(apply, expunge_keeps_the_message_when_asked)
{
	struct mm_journal_rec rec = msg_rec(MM_OP_EXPUNGE, ".Sent", MM_SUB_CUR, "1.x:2,S", NULL);
	char *kept = mm_strdup_printf("%s/" ACCOUNT "/f2e53656e74/00000000000000000099.c.1.x:2,FS",
				      outside);
	struct stat sb;

	rec.time_ns = 99;
	repl_store_retain(st, outside);
	deliver(".Sent", MM_SUB_CUR, "1.x:2,FS", "hello");
	cr_assert_eq(apply(&rec, NULL), REPL_APPLIED);
	cr_assert(!exists(ACCOUNT "/.Sent/cur/1.x:2,FS"));
	cr_assert_eq(stat(kept, &sb), 0, "%s", kept);
	cr_assert_eq(sb.st_size, 5);
	cr_assert_eq(sb.st_mtim.tv_sec * 1000000000LL + sb.st_mtim.tv_nsec, MTIME);
	cr_assert_eq(apply(&rec, NULL), REPL_ALREADY);
	free(kept);
}

Test(apply, expunge_after_a_copy_is_a_move_and_not_kept)
{
	struct mm_journal_rec copy = msg_rec(MM_OP_COPY, "", MM_SUB_CUR, "1.x,S=5:2,S", "hello");
	struct mm_journal_rec rec = msg_rec(MM_OP_EXPUNGE, "", MM_SUB_CUR, "1.x,S=5:2,S", NULL);
	uint64_t kept, failed;

	repl_store_retain(st, outside);
	deliver("", MM_SUB_CUR, "1.x,S=5:2,S", "hello");
	copy.new_folder = ".Archive";
	copy.new_sub = MM_SUB_CUR;
	copy.new_name = "2.y,S=5:2,S";
	cr_assert_eq(apply(&copy, NULL), REPL_APPLIED);
	cr_assert_eq(apply(&rec, NULL), REPL_APPLIED);
	repl_store_retained(st, &kept, &failed);
	cr_assert_eq(kept, 0);
	cr_assert_eq(failed, 0);
	cr_assert_eq(dir_count("../outside"), 0);
}

Test(apply, a_move_of_many_messages_is_not_kept)
{
	uint64_t kept, failed;
	char name[64], moved[64], content[16];

	repl_store_retain(st, outside);
	/* Dovecot moves 200 messages: each delivered into .Archive under a
	   new name (its hard link renamed out of tmp/), then every expunge */
	for (unsigned int i = 0; i < 200; i++) {
		snprintf(content, sizeof(content), "m%05u", i);
		snprintf(name, sizeof(name), "%u.x,S=6:2,S", i);
		deliver("", MM_SUB_CUR, name, content);
	}
	for (unsigned int i = 0; i < 200; i++) {
		struct mm_journal_rec rec;

		snprintf(content, sizeof(content), "m%05u", i);
		snprintf(moved, sizeof(moved), "%u.y,S=6:2,S", i);
		rec = msg_rec(MM_OP_DELIVER, ".Archive", MM_SUB_CUR, moved, content);
		rec.time_ns = 100000000000ULL;
		cr_assert_eq(apply(&rec, content), REPL_APPLIED);
	}
	for (unsigned int i = 0; i < 200; i++) {
		struct mm_journal_rec rec;

		snprintf(name, sizeof(name), "%u.x,S=6:2,S", i);
		rec = msg_rec(MM_OP_EXPUNGE, "", MM_SUB_CUR, name, NULL);
		rec.time_ns = 100000000000ULL;
		cr_assert_eq(apply(&rec, NULL), REPL_APPLIED);
	}
	repl_store_retained(st, &kept, &failed);
	cr_assert_eq(kept, 0);
	cr_assert_eq(dir_count(ACCOUNT "/.Archive/cur"), 200);
	/* a delete of another size after that is kept */
	deliver("", MM_SUB_CUR, "9.z,S=7:2,S", "other!!");
	struct mm_journal_rec del = msg_rec(MM_OP_EXPUNGE, "", MM_SUB_CUR, "9.z,S=7:2,S", NULL);

	del.time_ns = 100000000000ULL;
	cr_assert_eq(apply(&del, NULL), REPL_APPLIED);
	repl_store_retained(st, &kept, &failed);
	cr_assert_eq(kept, 1, "kept %lu, failed %lu", (unsigned long)kept, (unsigned long)failed);
}

Test(apply, expunge_applies_even_when_it_cannot_keep)
{
	struct mm_journal_rec rec = msg_rec(MM_OP_EXPUNGE, "", MM_SUB_CUR, "1.x:2,S", NULL);
	char *nowhere = mm_strdup_printf("%s/file", outside);
	uint64_t kept, failed;
	int fd = open(nowhere, O_CREAT | O_WRONLY, 0600);

	cr_assert_geq(fd, 0);
	close(fd);
	/* a file where the directory should be: keeping fails */
	repl_store_retain(st, nowhere);
	deliver("", MM_SUB_CUR, "1.x:2,S", "hello");
	cr_assert_eq(apply(&rec, NULL), REPL_APPLIED);
	cr_assert(!exists(ACCOUNT "/cur/1.x:2,S"));
	repl_store_retained(st, &kept, &failed);
	cr_assert_eq(kept, 0);
	cr_assert_eq(failed, 1);
	free(nowhere);
}

Test(apply, expunge_without_folder)
{
	struct mm_journal_rec rec = msg_rec(MM_OP_EXPUNGE, ".Gone", MM_SUB_CUR, "1.x", NULL);

	cr_assert_eq(apply(&rec, NULL), REPL_ALREADY);
	cr_assert(!exists(ACCOUNT));
}

/* copy */

Test(apply, copy_links_the_source)
{
	struct mm_journal_rec rec = msg_rec(MM_OP_COPY, "", MM_SUB_CUR, "1.x:2,S", "hello");
	char *a = sp(ACCOUNT "/cur/1.x:2,S"), *b = sp(ACCOUNT "/.Archive/cur/9.y:2,S");
	struct stat sa, sb;

	deliver("", MM_SUB_CUR, "1.x:2,S", "hello");
	rec.new_folder = ".Archive";
	rec.new_sub = MM_SUB_CUR;
	rec.new_name = "9.y:2,S";
	cr_assert_eq(apply(&rec, NULL), REPL_APPLIED);
	cr_assert_eq(stat(a, &sa), 0);
	cr_assert_eq(stat(b, &sb), 0);
	cr_assert_eq(sa.st_ino, sb.st_ino);
	cr_assert(changed(ACCOUNT "/.Archive/cur/9.y:2,S"));
	cr_assert(exists(ACCOUNT "/.Archive/tmp"));
	cr_assert_eq(apply(&rec, NULL), REPL_ALREADY);
	cr_assert_eq(apply(&rec, "hello"), REPL_ALREADY, "with content too");
	cr_assert_eq(dir_count(ACCOUNT "/.Archive/tmp"), 0);
	free(a);
	free(b);
}

Test(apply, copy_source_by_identity)
{
	struct mm_journal_rec rec = msg_rec(MM_OP_COPY, "", MM_SUB_CUR, "1.x:2,", NULL);

	deliver("", MM_SUB_CUR, "1.x:2,S", "hello");
	rec.new_folder = ".Archive";
	rec.new_sub = MM_SUB_CUR;
	rec.new_name = "9.y:2,";
	cr_assert_eq(apply(&rec, NULL), REPL_APPLIED);
	cr_assert(exists(ACCOUNT "/.Archive/cur/9.y:2,"));
}

Test(apply, copy_with_content_when_source_gone)
{
	struct mm_journal_rec rec = msg_rec(MM_OP_COPY, "", MM_SUB_CUR, "1.x:2,S", "hello");

	rec.new_folder = ".Archive";
	rec.new_sub = MM_SUB_CUR;
	rec.new_name = "9.y:2,S";
	cr_assert_eq(apply(&rec, NULL), REPL_MISSING);
	cr_assert(!exists(ACCOUNT "/.Archive"), "MISSING changes nothing");
	cr_assert_eq(apply(&rec, "hello"), REPL_APPLIED);
	assert_file(ACCOUNT "/.Archive/cur/9.y:2,S", "hello", 0640, MAIL_UID, MAIL_GID, MTIME);
	cr_assert_eq(apply(&rec, "hello"), REPL_ALREADY);
	cr_assert_eq(apply(&rec, NULL), REPL_ALREADY);
}

Test(apply, copy_with_wrong_content)
{
	struct mm_journal_rec rec = msg_rec(MM_OP_COPY, "", MM_SUB_CUR, "1.x:2,S", "hello");
	const char *error;

	rec.new_folder = ".Archive";
	rec.new_sub = MM_SUB_CUR;
	rec.new_name = "9.y:2,S";
	cr_assert_eq(apply_err(&rec, "HELLO", &error), -1);
	cr_assert_eq(dir_count(ACCOUNT "/.Archive/cur"), 0);
	cr_assert_eq(dir_count(ACCOUNT "/.Archive/tmp"), 0);
}

/* folders */

Test(apply, folder_create_once_and_twice)
{
	struct mm_journal_rec rec = msg_rec(MM_OP_FOLDER_CREATE, "Maildir/A/B", 0, "", NULL);
	char *p = sp(ACCOUNT "/Maildir/A/B/tmp");
	struct stat sb;

	make_dirs(ACCOUNT);
	cr_assert_eq(chown(store, 0, 0), 0);
	{
		char *a = sp(ACCOUNT);

		cr_assert_eq(chown(a, MAIL_UID, MAIL_GID), 0);
		free(a);
	}
	cr_assert_eq(apply(&rec, NULL), REPL_APPLIED);
	cr_assert_eq(stat(p, &sb), 0);
	cr_assert(S_ISDIR(sb.st_mode));
	cr_assert_eq(sb.st_mode & 07777, 0700);
	cr_assert_eq(sb.st_uid, MAIL_UID, "owner of the account directory");
	cr_assert(exists(ACCOUNT "/Maildir/A/B/cur"));
	cr_assert(exists(ACCOUNT "/Maildir/A/B/new"));
	cr_assert(!exists(ACCOUNT "/Maildir/A/cur"), "parents are plain directories");
	cr_assert(changed(ACCOUNT "/Maildir/A/B/new"));
	cr_assert_eq(apply(&rec, NULL), REPL_ALREADY);
	free(p);
}

Test(apply, folder_rename)
{
	struct mm_journal_rec rec = msg_rec(MM_OP_FOLDER_RENAME, ".A", 0, "", NULL);

	rec.new_folder = ".B";
	cr_assert_eq(apply(&rec, NULL), REPL_MISSING);
	deliver(".A", MM_SUB_CUR, "1.x:2,", "hello");
	cr_assert_eq(apply(&rec, NULL), REPL_APPLIED);
	cr_assert(!exists(ACCOUNT "/.A"));
	assert_file(ACCOUNT "/.B/cur/1.x:2,", "hello", 0640, MAIL_UID, MAIL_GID, MTIME);
	cr_assert(changed(ACCOUNT "/.A"));
	cr_assert(changed(ACCOUNT "/.B"));
	cr_assert_eq(apply(&rec, NULL), REPL_ALREADY);
	make_folder(".A");
	cr_assert_eq(apply(&rec, NULL), REPL_CONFLICT);
	cr_assert(exists(ACCOUNT "/.B/cur/1.x:2,"));
}

Test(apply, folder_rename_makes_new_parents)
{
	struct mm_journal_rec rec = msg_rec(MM_OP_FOLDER_RENAME, "Maildir/A", 0, "", NULL);

	rec.new_folder = "Maildir/X/Y/A";
	make_folder("Maildir/A");
	cr_assert_eq(apply(&rec, NULL), REPL_APPLIED);
	cr_assert(exists(ACCOUNT "/Maildir/X/Y/A/cur"));
	cr_assert(!exists(ACCOUNT "/Maildir/A"));
}

Test(apply, folder_delete_refuses_with_mail)
{
	struct mm_journal_rec rec = msg_rec(MM_OP_FOLDER_DELETE, ".A", 0, "", NULL);
	char *before;

	deliver(".A", MM_SUB_NEW, "1.x", "hello");
	put_file(ACCOUNT "/.A/dovecot-uidlist", "3 V1 N2\n");
	before = snapshot(store);
	cr_assert_eq(apply(&rec, NULL), REPL_CONFLICT);
	assert_same(store, before);
}

Test(apply, folder_delete_once_and_twice)
{
	struct mm_journal_rec rec = msg_rec(MM_OP_FOLDER_DELETE, ".A", 0, "", NULL);

	make_folder(".A");
	put_file(ACCOUNT "/.A/dovecot-uidlist", "3 V1 N2\n");
	put_file(ACCOUNT "/.A/maildirfolder", "");
	put_file(ACCOUNT "/.A/dovecot.index.log", "x");
	put_file(ACCOUNT "/.A/tmp/1.stale", "x");
	make_dirs(ACCOUNT "/.A/courierimapkeywords");
	put_file(ACCOUNT "/.A/courierimapkeywords/:list", "x");
	make_folder(".B");
	cr_assert_eq(apply(&rec, NULL), REPL_APPLIED);
	cr_assert(!exists(ACCOUNT "/.A"));
	cr_assert(changed(ACCOUNT "/.A"));
	cr_assert(changed(ACCOUNT "/.A/tmp/1.stale"));
	cr_assert(exists(ACCOUNT "/.B/cur"));
	cr_assert_eq(apply(&rec, NULL), REPL_ALREADY);
}

Test(apply, folder_delete_keeps_layout_fs_child)
{
	struct mm_journal_rec rec = msg_rec(MM_OP_FOLDER_DELETE, "Maildir/A", 0, "", NULL);

	make_folder("Maildir/A");
	make_folder("Maildir/A/B");
	put_file(ACCOUNT "/Maildir/A/dovecot-uidlist", "3 V1 N2\n");
	deliver("Maildir/A/B", MM_SUB_CUR, "1.x:2,", "hello");
	cr_assert_eq(apply(&rec, NULL), REPL_APPLIED);
	cr_assert(!exists(ACCOUNT "/Maildir/A/cur"));
	cr_assert(!exists(ACCOUNT "/Maildir/A/new"));
	cr_assert(!exists(ACCOUNT "/Maildir/A/tmp"));
	cr_assert(!exists(ACCOUNT "/Maildir/A/dovecot-uidlist"));
	cr_assert(exists(ACCOUNT "/Maildir/A/B/cur/1.x:2,"));
	cr_assert_eq(apply(&rec, NULL), REPL_ALREADY);
}

Test(apply, folder_delete_account_root_keeps_its_files)
{
	struct mm_journal_rec rec = msg_rec(MM_OP_FOLDER_DELETE, "", 0, "", NULL);

	make_folder("");
	put_file(ACCOUNT "/subscriptions", "Sent\n");
	cr_assert_eq(apply(&rec, NULL), REPL_APPLIED);
	cr_assert(!exists(ACCOUNT "/cur"));
	cr_assert(exists(ACCOUNT "/subscriptions"));
	cr_assert_eq(apply(&rec, NULL), REPL_ALREADY);
}

/* meta */

static struct mm_journal_rec meta_rec(const char *folder, const char *name, const char *data)
{
	struct mm_journal_rec rec = msg_rec(MM_OP_META, folder, 0, name, NULL);

	rec.data = (const unsigned char *)data;
	rec.data_len = (uint32_t)strlen(data);
	rec.size = rec.data_len;
	rec.mode = 0600;
	return rec;
}

Test(apply, meta_write_replace_delete)
{
	struct mm_journal_rec rec = meta_rec("", "subscriptions", "Sent\n");
	char *before;

	cr_assert_eq(apply(&rec, NULL), REPL_APPLIED);
	assert_file(ACCOUNT "/subscriptions", "Sent\n", 0600, MAIL_UID, MAIL_GID, MTIME);
	cr_assert(!exists(ACCOUNT "/cur"), "meta makes no folder");
	cr_assert(changed(ACCOUNT "/subscriptions"));
	before = snapshot(store);
	cr_assert_eq(apply(&rec, NULL), REPL_ALREADY);
	assert_same(store, before);

	rec = meta_rec("", "subscriptions", "Sent\nTrash\n");
	rec.mtime_ns = MTIME + 1;
	cr_assert_eq(apply(&rec, NULL), REPL_APPLIED);
	assert_file(ACCOUNT "/subscriptions", "Sent\nTrash\n", 0600, MAIL_UID, MAIL_GID,
		    MTIME + 1);

	rec.mtime_ns = MTIME + 2;	/* same bytes, another mtime */
	cr_assert_eq(apply(&rec, NULL), REPL_APPLIED);
	assert_file(ACCOUNT "/subscriptions", "Sent\nTrash\n", 0600, MAIL_UID, MAIL_GID,
		    MTIME + 2);

	rec = meta_rec("", "subscriptions", "");
	rec.rflags = MM_RECF_DELETED;
	cr_assert_eq(apply(&rec, NULL), REPL_APPLIED);
	cr_assert(!exists(ACCOUNT "/subscriptions"));
	cr_assert_eq(apply(&rec, NULL), REPL_ALREADY);
	cr_assert_eq(dir_count(ACCOUNT), 0, "no temporary file left");
}

Test(apply, meta_same_bytes_other_owner)
{
	struct mm_journal_rec rec = meta_rec(".A", "dovecot-uidlist", "3 V1 N2\n");

	cr_assert_eq(apply(&rec, NULL), REPL_APPLIED);
	rec.gid = 12;
	cr_assert_eq(apply(&rec, NULL), REPL_APPLIED);
	assert_file(ACCOUNT "/.A/dovecot-uidlist", "3 V1 N2\n", 0600, MAIL_UID, 12, MTIME);
}

Test(apply, meta_in_subdirectory)
{
	struct mm_journal_rec rec = meta_rec(".A", "courierimapkeywords/abc", "x\n");

	cr_assert_eq(apply(&rec, NULL), REPL_APPLIED);
	assert_file(ACCOUNT "/.A/courierimapkeywords/abc", "x\n", 0600, MAIL_UID, MAIL_GID,
		    MTIME);
	cr_assert_eq(apply(&rec, NULL), REPL_ALREADY);
}

Test(apply, meta_with_stage)
{
	struct mm_journal_rec rec = meta_rec("", "dovecot-uidlist", "");
	char *before;

	rec.size = 6;	/* content comes staged, not in the record */
	cr_assert_eq(apply(&rec, "3 V1\n!"), REPL_APPLIED);
	assert_file(ACCOUNT "/dovecot-uidlist", "3 V1\n!", 0600, MAIL_UID, MAIL_GID, MTIME);
	before = snapshot(store);
	cr_assert_eq(apply(&rec, "3 V1\n!"), REPL_ALREADY);
	assert_same(store, before);
}

Test(apply, meta_without_its_content)
{
	struct mm_journal_rec rec = meta_rec("", "dovecot-uidlist", "");
	const char *error;

	rec.size = (uint64_t)MM_JOURNAL_DATA_MAX + 1;	/* journaled without content */
	cr_assert_eq(apply(&rec, NULL), REPL_MISSING);
	rec.size = 3;
	rec.data = (const unsigned char *)"ab";
	rec.data_len = 2;
	cr_assert_eq(apply_err(&rec, NULL, &error), -1);
	cr_assert(!exists(ACCOUNT "/dovecot-uidlist"));
}

Test(apply, meta_too_big)
{
	struct mm_journal_rec rec = meta_rec("", "dovecot-uidlist", "x");
	const char *error;

	rec.data_len = MM_JOURNAL_DATA_MAX + 1;
	rec.size = rec.data_len;
	cr_assert_eq(apply_err(&rec, NULL, &error), -1);
	cr_assert(strstr(error, "limit") != NULL, "%s", error);
	cr_assert(!exists(ACCOUNT));
}

Test(apply, meta_over_a_symlink_replaces_the_link)
{
	struct mm_journal_rec rec = meta_rec("", "dovecot-uidlist", "new\n");
	char *link = sp(ACCOUNT "/dovecot-uidlist");
	char *target = mm_strdup_printf("%s/victim", outside);
	FILE *f = fopen(target, "w");
	struct stat sb;

	fputs("victim\n", f);
	fclose(f);
	make_dirs(ACCOUNT);
	cr_assert_eq(symlink(target, link), 0);
	cr_assert_eq(apply(&rec, NULL), REPL_APPLIED);
	cr_assert_eq(lstat(link, &sb), 0);
	cr_assert(S_ISREG(sb.st_mode));
	cr_assert_eq(stat(target, &sb), 0);
	cr_assert_eq(sb.st_size, 7, "the link's target is untouched");
	free(link);
	free(target);
}

/* hostile records */

/* Arrays, not pointers: Criterion runs each test in a new process. */
struct hostile {
	enum mm_op op;
	char account[32], folder[32], name[32], new_folder[32], new_name[32];
	uint8_t sub, new_sub;
	uint32_t uid;
};

static char long_name[300];

ParameterizedTestParameters(apply, hostile)
{
	static struct hostile h[] = {
		{ MM_OP_DELIVER, ACCOUNT, "..", "1.x", "", "", MM_SUB_NEW, 0, 8 },
		{ MM_OP_DELIVER, ACCOUNT, "a/../../x", "1.x", "", "", MM_SUB_NEW, 0, 8 },
		{ MM_OP_DELIVER, ACCOUNT, "/etc", "1.x", "", "", MM_SUB_NEW, 0, 8 },
		{ MM_OP_DELIVER, ACCOUNT, ".A/", "1.x", "", "", MM_SUB_NEW, 0, 8 },
		{ MM_OP_DELIVER, ACCOUNT, "a//b", "1.x", "", "", MM_SUB_NEW, 0, 8 },
		{ MM_OP_DELIVER, ACCOUNT, ".A/cur", "1.x", "", "", MM_SUB_NEW, 0, 8 },
		{ MM_OP_DELIVER, ACCOUNT, "..DOVECOT-TRASHED", "1.x", "", "", MM_SUB_NEW, 0, 8 },
		{ MM_OP_DELIVER, "example.org", "", "1.x", "", "", MM_SUB_NEW, 0, 8 },
		{ MM_OP_DELIVER, "example.org/alice/x", "", "1.x", "", "", MM_SUB_NEW, 0, 8 },
		{ MM_OP_DELIVER, "../alice", "", "1.x", "", "", MM_SUB_NEW, 0, 8 },
		{ MM_OP_DELIVER, "/example.org/alice", "", "1.x", "", "", MM_SUB_NEW, 0, 8 },
		{ MM_OP_DELIVER, "", "", "1.x", "", "", MM_SUB_NEW, 0, 8 },
		{ MM_OP_DELIVER, ACCOUNT, "", "../1.x", "", "", MM_SUB_NEW, 0, 8 },
		{ MM_OP_DELIVER, ACCOUNT, "", "..", "", "", MM_SUB_NEW, 0, 8 },
		{ MM_OP_DELIVER, ACCOUNT, "", "", "", "", MM_SUB_NEW, 0, 8 },
		{ MM_OP_DELIVER, ACCOUNT, "", "LONG", "", "", MM_SUB_NEW, 0, 8 },
		{ MM_OP_DELIVER, ACCOUNT, "", "1.x", "", "", MM_SUB_TMP, 0, 8 },
		{ MM_OP_DELIVER, ACCOUNT, "", "1.x", "", "", MM_SUB_NONE, 0, 8 },
		{ MM_OP_DELIVER, ACCOUNT, "", "1.x", "", "", 7, 0, 8 },
		{ MM_OP_DELIVER, ACCOUNT, "", "1.x", "", "", MM_SUB_NEW, 0, UINT32_MAX },
		{ 0, ACCOUNT, "", "1.x", "", "", MM_SUB_NEW, 0, 8 },
		{ 99, ACCOUNT, "", "1.x", "", "", MM_SUB_NEW, 0, 8 },
		{ MM_OP_MOVE, ACCOUNT, "", "1.x", "", "../../1.x", MM_SUB_NEW, MM_SUB_CUR, 8 },
		{ MM_OP_MOVE, ACCOUNT, "", "1.x", ".Other", "1.x:2,", MM_SUB_NEW, MM_SUB_CUR, 8 },
		{ MM_OP_FLAGS, ACCOUNT, "", "1.x", "", "1.x:2,", MM_SUB_NEW, MM_SUB_TMP, 8 },
		{ MM_OP_EXPUNGE, ACCOUNT, "", "cur/1.x", "", "", MM_SUB_NEW, 0, 8 },
		{ MM_OP_COPY, ACCOUNT, "", "1.x", "../bob", "1.x", MM_SUB_NEW, MM_SUB_NEW, 8 },
		{ MM_OP_COPY, ACCOUNT, "", "1.x", ".B", "", MM_SUB_NEW, MM_SUB_NEW, 8 },
		{ MM_OP_FOLDER_CREATE, ACCOUNT, "../../..", "", "", "", 0, 0, 8 },
		{ MM_OP_FOLDER_RENAME, ACCOUNT, ".A", "", "", "", 0, 0, 8 },
		{ MM_OP_FOLDER_RENAME, ACCOUNT, "", "", ".B", "", 0, 0, 8 },
		{ MM_OP_FOLDER_RENAME, ACCOUNT, "A", "", "A/B", "", 0, 0, 8 },
		{ MM_OP_FOLDER_RENAME, ACCOUNT, "A", "", "..", "", 0, 0, 8 },
		{ MM_OP_FOLDER_DELETE, ACCOUNT, ".", "", "", "", 0, 0, 8 },
		{ MM_OP_META, ACCOUNT, "", "a/b/c", "", "", 0, 0, 8 },
		{ MM_OP_META, ACCOUNT, "", "../x", "", "", 0, 0, 8 },
		{ MM_OP_META, ACCOUNT, "", "cur/1.x", "", "", 0, 0, 8 },
		{ MM_OP_META, ACCOUNT, "", "new", "", "", 0, 0, 8 },
		{ MM_OP_META, ACCOUNT, "", "/etc/passwd", "", "", 0, 0, 8 },
		{ MM_OP_META, ACCOUNT, "", "x/", "", "", 0, 0, 8 },
	};

	return cr_make_param_array(struct hostile, h, sizeof(h) / sizeof(h[0]));
}

ParameterizedTest(struct hostile *h, apply, hostile)
{
	struct mm_journal_rec rec = msg_rec(h->op, h->folder, h->sub, h->name, "hello");
	struct repl_stage *sg = NULL;
	const char *error = NULL;
	char *before;
	int fd;

	memset(long_name, 'a', 256);
	long_name[256] = '\0';
	if (strcmp(h->name, "LONG") == 0)
		rec.name = long_name;	/* 256 bytes */
	rec.account = h->account;
	rec.new_folder = h->new_folder;
	rec.new_name = h->new_name;
	rec.new_sub = h->new_sub;
	rec.uid = h->uid;
	if (h->op == MM_OP_META) {
		rec.data = (const unsigned char *)"hello";
		rec.data_len = 5;
	}
	deliver("", MM_SUB_CUR, "1.x:2,S", "hello");
	before = snapshot(dir);
	cr_assert_eq(repl_stage_open(st, &rec, &sg, &fd, &error), -1);
	cr_assert_not_null(error);
	error = NULL;
	cr_assert_eq(repl_apply(st, &rec, NULL, &changes, &error), -1);
	cr_assert_not_null(error);
	cr_log_info("refused: %s", error);
	assert_same(dir, before);
}

/* rec is refused because a symlink is on its way */
static void refused_symlink(const struct mm_journal_rec *rec)
{
	const char *error = NULL;

	cr_assert_eq(repl_apply(st, rec, NULL, &changes, &error), -1);
	cr_assert(strstr(error, "symbolic link") != NULL, "%s", error);
}

static void plant_symlink(const char *rel)
{
	char *p = sp(rel);

	cr_assert_eq(symlink(outside, p), 0);
	free(p);
}

Test(apply, symlinked_folder_is_refused)
{
	struct mm_journal_rec rec = msg_rec(MM_OP_DELIVER, ".Evil", MM_SUB_NEW, "1.x", "hello");
	struct repl_stage *sg = NULL;
	const char *error;
	char *before;
	int fd;

	make_folder("");
	plant_symlink(ACCOUNT "/.Evil");
	for (int i = 0; i < 3; i++) {	/* a maildir out there */
		char *p = mm_strdup_printf("%s/%s", outside,
					   (const char *[]){ "cur", "new", "tmp" }[i]);

		cr_assert_eq(mkdir(p, 0700), 0);
		free(p);
	}
	before = snapshot(dir);

	cr_assert_eq(repl_stage_open(st, &rec, &sg, &fd, &error), -1);
	cr_assert(strstr(error, "symbolic link") != NULL, "%s", error);
	cr_assert_eq(repl_apply(st, &rec, NULL, &changes, &error), -1);

	rec = meta_rec(".Evil", "dovecot-uidlist", "x");
	refused_symlink(&rec);
	rec = meta_rec(".Evil", "courierimapkeywords/x", "x");
	refused_symlink(&rec);
	rec = msg_rec(MM_OP_FOLDER_CREATE, ".Evil/sub", 0, "", NULL);
	refused_symlink(&rec);
	rec = msg_rec(MM_OP_FOLDER_CREATE, ".Evil", 0, "", NULL);
	refused_symlink(&rec);
	rec = msg_rec(MM_OP_FOLDER_DELETE, ".Evil", 0, "", NULL);
	refused_symlink(&rec);
	rec = msg_rec(MM_OP_FOLDER_RENAME, ".Evil", 0, "", NULL);
	rec.new_folder = ".Good";
	refused_symlink(&rec);
	rec = msg_rec(MM_OP_EXPUNGE, ".Evil", MM_SUB_NEW, "1.x", NULL);
	refused_symlink(&rec);
	rec = msg_rec(MM_OP_MOVE, ".Evil", MM_SUB_NEW, "1.x", NULL);
	rec.new_folder = ".Evil";
	rec.new_sub = MM_SUB_CUR;
	rec.new_name = "1.x:2,";
	refused_symlink(&rec);
	rec = msg_rec(MM_OP_COPY, "", MM_SUB_CUR, "1.x", "hello");
	rec.new_folder = ".Evil";
	rec.new_sub = MM_SUB_CUR;
	rec.new_name = "1.x";
	put_file(ACCOUNT "/cur/1.x", "hello");
	refused_symlink(&rec);
	{
		char *p = sp(ACCOUNT "/cur/1.x");

		cr_assert_eq(unlink(p), 0);
		free(p);
	}

	assert_same(dir, before);
}

Test(apply, symlinked_account_is_refused)
{
	struct mm_journal_rec rec = msg_rec(MM_OP_DELIVER, "", MM_SUB_NEW, "1.x", "hello");
	struct repl_stage *sg = NULL;
	const char *error;
	char *before;
	int fd;

	plant_symlink("example.org");
	before = snapshot(dir);
	cr_assert_eq(repl_stage_open(st, &rec, &sg, &fd, &error), -1);
	cr_assert(strstr(error, "symbolic link") != NULL, "%s", error);
	rec = meta_rec("", "subscriptions", "x");
	refused_symlink(&rec);
	rec = msg_rec(MM_OP_FOLDER_CREATE, "", 0, "", NULL);
	refused_symlink(&rec);
	assert_same(dir, before);
}

Test(apply, symlinked_cur_is_refused)
{
	struct mm_journal_rec rec = msg_rec(MM_OP_DELIVER, "", MM_SUB_CUR, "1.x:2,", "hello");
	struct repl_stage *sg;
	const char *error;
	char *before;
	int fd;

	make_dirs(ACCOUNT "/new");
	make_dirs(ACCOUNT "/tmp");
	plant_symlink(ACCOUNT "/cur");
	before = snapshot(outside);
	cr_assert_eq(repl_stage_open(st, &rec, &sg, &fd, &error), -1);
	assert_same(outside, before);
}

/* the rest */

Test(apply, changes_list)
{
	struct repl_changes ch = { 0 };
	size_t pos = 0;

	cr_assert_null(repl_changes_next(&ch, &pos));
	deliver("", MM_SUB_NEW, "1.x", "hello");
	cr_assert_gt(changes.count, 1);
	for (unsigned int i = 0; i < changes.count; i++)
		cr_assert_not_null(repl_changes_next(&changes, &pos));
	cr_assert_null(repl_changes_next(&changes, &pos));
	repl_changes_reset(&changes);
	pos = 0;
	cr_assert_null(repl_changes_next(&changes, &pos));
	cr_assert_eq(changes.count, 0);
}

static int open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	while (readdir(d) != NULL)
		n++;
	closedir(d);
	return n;
}

Test(apply, no_fd_left_open)
{
	struct mm_journal_rec rec;
	const char *error;
	int before = open_fds();

	deliver("", MM_SUB_NEW, "1.x", "hello");
	rec = msg_rec(MM_OP_DELIVER, "", MM_SUB_NEW, "1.x", "hello");
	cr_assert_eq(apply(&rec, "hello"), REPL_ALREADY);
	cr_assert_eq(apply_err(&rec, "jello", &error), -1);
	rec = msg_rec(MM_OP_MOVE, "", MM_SUB_NEW, "1.x", NULL);
	rec.new_sub = MM_SUB_CUR;
	rec.new_name = "1.x:2,";
	cr_assert_eq(apply(&rec, NULL), REPL_APPLIED);
	rec = msg_rec(MM_OP_COPY, "", MM_SUB_CUR, "1.x:2,", "hello");
	rec.new_folder = "Maildir/A";
	rec.new_sub = MM_SUB_CUR;
	rec.new_name = "2.x:2,";
	cr_assert_eq(apply(&rec, NULL), REPL_APPLIED);
	cr_assert_eq(apply(&rec, "hello"), REPL_ALREADY);
	rec = msg_rec(MM_OP_EXPUNGE, "", MM_SUB_CUR, "1.x:2,", NULL);
	cr_assert_eq(apply(&rec, NULL), REPL_APPLIED);
	rec = msg_rec(MM_OP_FOLDER_DELETE, "Maildir/A", 0, "", NULL);
	cr_assert_eq(apply(&rec, NULL), REPL_CONFLICT);
	rec = msg_rec(MM_OP_FOLDER_RENAME, "Maildir/A", 0, "", NULL);
	rec.new_folder = "Maildir/B";
	cr_assert_eq(apply(&rec, NULL), REPL_APPLIED);
	rec = msg_rec(MM_OP_EXPUNGE, "Maildir/B", MM_SUB_CUR, "2.x:2,", NULL);
	cr_assert_eq(apply(&rec, NULL), REPL_APPLIED);
	rec = msg_rec(MM_OP_FOLDER_DELETE, "Maildir/B", 0, "", NULL);
	cr_assert_eq(apply(&rec, NULL), REPL_APPLIED);
	rec = meta_rec("", "courierimapkeywords/k", "x");
	cr_assert_eq(apply(&rec, NULL), REPL_APPLIED);
	cr_assert_eq(apply(&rec, NULL), REPL_ALREADY);
	rec.rflags = MM_RECF_DELETED;
	cr_assert_eq(apply(&rec, NULL), REPL_APPLIED);
	plant_symlink(ACCOUNT "/.Evil");
	rec = msg_rec(MM_OP_FOLDER_CREATE, ".Evil/x", 0, "", NULL);
	cr_assert_eq(apply_err(&rec, NULL, &error), -1);
	/* the store keeps at most 8 folders it walked open, no more */
	cr_assert_leq(open_fds(), before + 8);
	for (int i = 0; i < 20; i++) {
		char folder[32];

		snprintf(folder, sizeof(folder), "Maildir/F%d", i);
		rec = msg_rec(MM_OP_FOLDER_CREATE, folder, 0, "", NULL);
		cr_assert_eq(apply(&rec, NULL), REPL_APPLIED);
		deliver(folder, MM_SUB_NEW, "3.x", "hi");
	}
	cr_assert_leq(open_fds(), before + 8);
	/* and closes them with the store (its root fd goes too) */
	repl_store_close(&st);
	cr_assert_eq(open_fds(), before - 1);
	cr_assert_eq(repl_store_open(store, 2, &st, &error), 0, "%s", error);
}

Test(apply, kept_folder_renamed_behind_its_back)
{
	struct mm_journal_rec rec;
	char *a, *b;

	/* walked (and kept open) once, then moved by someone else: the
	   next delivery to that path must not land in the moved folder */
	deliver("Maildir/K", MM_SUB_NEW, "1.k", "one");
	a = mm_strdup_printf("%s/" ACCOUNT "/Maildir/K", store);
	b = mm_strdup_printf("%s/" ACCOUNT "/Maildir/K2", store);
	cr_assert_eq(rename(a, b), 0);
	deliver("Maildir/K", MM_SUB_NEW, "2.k", "two");
	rec = msg_rec(MM_OP_DELIVER, "Maildir/K", MM_SUB_NEW, "2.k", "two");
	cr_assert_eq(apply(&rec, "two"), REPL_ALREADY);
	cr_assert(exists(ACCOUNT "/Maildir/K/new/2.k"));
	cr_assert(!exists(ACCOUNT "/Maildir/K2/new/2.k"));
	free(a);
	free(b);
}

Test(apply, store_sync)
{
	const char *error;

	deliver("", MM_SUB_NEW, "1.x", "hello");
	cr_assert_eq(repl_store_sync(st, &error), 0, "%s", error);
}

Test(apply, store_open_errors)
{
	struct repl_store *s2 = NULL;
	const char *error;

	cr_assert_eq(repl_store_open("/nonexistent/mm-store", 2, &s2, &error), -1);
	cr_assert(strstr(error, "/nonexistent/mm-store") != NULL);
	cr_assert_eq(repl_store_open(store, 0, &s2, &error), -1);
	cr_assert_null(s2);
}

Test(apply, result_names)
{
	cr_assert_str_eq(repl_result_str(REPL_APPLIED), "applied");
	cr_assert_str_eq(repl_result_str(REPL_CONFLICT), "conflict");
}
