/* SPDX-License-Identifier: MIT
 * test-expunged.c - the expunged messages a replica keeps on disk
 * (repl-expunged.c): kept, listed for undelete, pruned by age, in a
 * temporary directory. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "mem.h"
#include "repl-expunged.h"
#include "wire.h"

#define S 1000000000ULL

static char dir[64], kept[96], first_name[256];
static int src_fd;

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/var/tmp/mm-test-expunged.XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(kept, sizeof(kept), "%s/expunged", dir);
	src_fd = open(dir, O_RDONLY | O_DIRECTORY);
	cr_assert_geq(src_fd, 0);
}

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static void teardown(void)
{
	close(src_fd);
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

TestSuite(expunged, .init = setup, .fini = teardown);

static void make_msg(const char *name, const char *content)
{
	int fd = openat(src_fd, name, O_CREAT | O_WRONLY | O_TRUNC, 0640);

	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, content, strlen(content)), (ssize_t)strlen(content));
	close(fd);
}

static size_t list(const char *folder, uint64_t since, struct mm_wire_qretained *first_r)
{
	struct mm_buf out = { 0 };
	struct mm_wire_qretained w;
	const char *error;
	size_t pos = 0, n = 0;

	cr_assert_eq(repl_expunged_list(kept, "example.org/alice", folder, since, &out, &error),
		     0);
	while (mm_wire_qretained_next(out.data, out.len, &pos, &w) == 1) {
		if (n == 0 && first_r != NULL) {
			/* the name borrows from out: copied for the caller */
			snprintf(first_name, sizeof(first_name), "%.*s", (int)w.name_len, w.name);
			*first_r = w;
			first_r->name = first_name;
			first_r->folder = "";
		}
		n++;
	}
	cr_assert_eq(pos, out.len);
	mm_buf_free(&out);
	return n;
}

Test(expunged, kept_listed_and_pruned)
{
	const char *error;
	struct mm_wire_qretained w;
	char *path;
	struct stat sb;

	make_msg("m1", "hello");
	make_msg("m2", "world!");
	cr_assert_eq(repl_expunged_keep(kept, src_fd, "m1", "example.org/alice", ".Sent",
					MM_SUB_CUR, "1.x:2,FS", 100 * S, &error), 0, "%s", error);
	cr_assert_eq(repl_expunged_keep(kept, src_fd, "m2", "example.org/alice", "",
					MM_SUB_NEW, "2.y", 200 * S, &error), 0, "%s", error);
	/* the same expunge applied again */
	cr_assert_eq(repl_expunged_keep(kept, src_fd, "m1", "example.org/alice", ".Sent",
					MM_SUB_CUR, "1.x:2,FS", 100 * S, &error), 0, "%s", error);
	path = repl_expunged_path(kept, "example.org/alice", ".Sent", MM_SUB_CUR, "1.x:2,FS",
				  100 * S);
	cr_assert_eq(stat(path, &sb), 0, "%s", path);
	cr_assert_eq(sb.st_nlink, 2, "a hard link, not a copy");
	free(path);

	cr_assert_eq(list(NULL, 0, NULL), 2);
	cr_assert_eq(list(".Sent", 0, &w), 1);
	cr_assert_eq(w.sub, 2);
	cr_assert_eq(w.size, 5);
	cr_assert_eq(w.expunged_ns, 100 * S);
	cr_assert_eq(w.name_len, 8);
	cr_assert_eq(memcmp(w.name, "1.x:2,FS", 8), 0);
	cr_assert_eq(list("", 0, NULL), 1);
	cr_assert_eq(list(NULL, 150 * S, NULL), 1, "--since leaves the older one out");
	cr_assert_eq(list(".Nothing", 0, NULL), 0);

	/* 7 days: the first is 7 days old at 100 s + 7 d, the second not */
	cr_assert_eq(repl_expunged_prune(kept, 7 * 86400, 100 * S + 7 * 86400 * S), 1);
	cr_assert_eq(list(NULL, 0, NULL), 1);
	path = mm_strdup_printf("%s/example.org/alice/f2e53656e74", kept);
	cr_assert_neq(stat(path, &sb), 0, "the empty folder key went too");
	free(path);
	/* 0: nothing is kept */
	cr_assert_eq(repl_expunged_prune(kept, 0, 201 * S), 1);
	cr_assert_eq(list(NULL, 0, NULL), 0);
	/* the messages themselves were never touched */
	cr_assert_eq(fstatat(src_fd, "m1", &sb, 0), 0);
}

Test(expunged, foreign_files_are_left_alone)
{
	char *stray = mm_strdup_printf("%s/example.org/alice/f/README", kept);
	const char *error;
	struct stat sb;
	int fd;

	make_msg("m1", "hello");
	cr_assert_eq(repl_expunged_keep(kept, src_fd, "m1", "example.org/alice", "",
					MM_SUB_CUR, "1.x:2,S", 100 * S, &error), 0, "%s", error);
	fd = open(stray, O_CREAT | O_WRONLY, 0600);
	cr_assert_geq(fd, 0);
	close(fd);
	cr_assert_eq(list(NULL, 0, NULL), 1);
	cr_assert_eq(repl_expunged_prune(kept, 0, 1000 * S), 1);
	cr_assert_eq(stat(stray, &sb), 0, "a file that is not ours stays");
	free(stray);
}

Test(expunged, keeping_fails_cleanly)
{
	const char *error = NULL;

	/* no such message */
	cr_assert_eq(repl_expunged_keep(kept, src_fd, "gone", "example.org/alice", "",
					MM_SUB_CUR, "1.x", 1, &error), -1);
	cr_assert_not_null(error);
	cr_assert_eq(list(NULL, 0, NULL), 0);
}
