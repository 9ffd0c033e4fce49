/* SPDX-License-Identifier: MIT
 * test-acct.c - account names and the accounts found in a store (acct.c). */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "acct.h"
#include "mem.h"

static char store[64];
static char **list;
static size_t n;

static void mkdirs(const char *rel)
{
	char *path = mm_strdup_printf("%s/%s", store, rel);

	cr_assert_eq(mkdir(path, 0755), 0, "mkdir %s", path);
	free(path);
}

static void setup(void)
{
	list = NULL;
	n = 0;
	snprintf(store, sizeof(store), "/tmp/mm-test-acct.XXXXXX");
	cr_assert_not_null(mkdtemp(store));
}

static void teardown(void)
{
	char *cmd = mm_strdup_printf("rm -rf '%s'", store);

	mm_acct_list_free(&list, n);
	cr_expect_eq(system(cmd), 0);
	free(cmd);
}

TestSuite(acct, .init = setup, .fini = teardown);

Test(acct, list_finds_the_directories_at_depth_sorted)
{
	const char *error = NULL;
	char *path;
	int fd;

	mkdirs("example.org");
	mkdirs("example.org/bob");
	mkdirs("example.org/alice");
	mkdirs("example.org/alice/cur");
	mkdirs("example.org/.hidden");
	mkdirs("example-a.org");
	mkdirs("example-a.org/zed");
	mkdirs("example.net");
	mkdirs(".trash");
	mkdirs(".trash/x");
	path = mm_strdup_printf("%s/example.org/notes", store);
	fd = open(path, O_CREAT | O_WRONLY, 0644);
	cr_assert_geq(fd, 0);
	close(fd);
	free(path);
	path = mm_strdup_printf("%s/example.org/link", store);
	cr_assert_eq(symlink("bob", path), 0);
	free(path);

	cr_assert_eq(mm_acct_list(store, 2, &list, &n, &error), 0, "%s", error);
	cr_assert_eq(n, 3);
	cr_expect_str_eq(list[0], "example-a.org/zed");
	cr_expect_str_eq(list[1], "example.org/alice");
	cr_expect_str_eq(list[2], "example.org/bob");
	cr_expect_null(list[3]);
	mm_acct_list_free(&list, n);
	cr_expect_null(list);

	cr_assert_eq(mm_acct_list(store, 1, &list, &n, &error), 0, "%s", error);
	cr_assert_eq(n, 3);
	cr_expect_str_eq(list[0], "example-a.org");
	cr_expect_str_eq(list[2], "example.org");
}

Test(acct, list_of_an_empty_store)
{
	const char *error = NULL;

	cr_assert_eq(mm_acct_list(store, 2, &list, &n, &error), 0, "%s", error);
	cr_expect_eq(n, 0);
	cr_expect_null(list);
}

Test(acct, list_of_a_missing_store)
{
	const char *error = NULL;
	char *missing = mm_strdup_printf("%s/none", store), *want;

	cr_assert_eq(mm_acct_list(missing, 2, &list, &n, &error), -1);
	want = mm_strdup_printf("opendir(%s) failed: No such file or directory", missing);
	cr_expect_str_eq(error, want);
	cr_expect_null(list);
	free(want);
	free(missing);
}
