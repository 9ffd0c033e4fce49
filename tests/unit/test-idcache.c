/* SPDX-License-Identifier: MIT
 * test-idcache.c - repl-idcache on real directories under /var/tmp: lookups
 * by identity, listings reused, kept by our own changes, dropped by others'. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "repl-idcache.h"

static char dir[64];
static int dfd = -1;
static struct repl_idcache *c;

static void touch(const char *name)
{
	int fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL, 0600);

	cr_assert_geq(fd, 0, "create %s", name);
	close(fd);
}

/* Gives the directory an mtime no listing can have seen. */
static void retime(long sec)
{
	struct timespec ts[2] = { { sec, 0 }, { sec, 0 } };

	cr_assert_eq(futimens(dfd, ts), 0);
}

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/var/tmp/mm-test-idcache.XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	dfd = open(dir, O_RDONLY | O_DIRECTORY);
	cr_assert_geq(dfd, 0);
	c = repl_idcache_new(4);
}

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb; (void)flag; (void)ftw;
	return remove(p);
}

static void teardown(void)
{
	repl_idcache_free(&c);
	close(dfd);
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void counts(unsigned long scans, unsigned long hits)
{
	unsigned long s, h;

	repl_idcache_stats(c, &s, &h);
	cr_assert_eq(s, scans, "scans: %lu, want %lu", s, scans);
	cr_assert_eq(h, hits, "hits: %lu, want %lu", h, hits);
}

TestSuite(idcache, .init = setup, .fini = teardown);

Test(idcache, finds_by_identity_and_lists_once)
{
	char found[MM_NAME_MAX + 1];

	touch("1700.M1P2.host:2,S");
	touch("1700.M2P2.host");
	cr_assert_eq(repl_idcache_find(c, dfd, "1700.M1P2.host:2,FS", found), 1);
	cr_assert_str_eq(found, "1700.M1P2.host:2,S");
	cr_assert_eq(repl_idcache_find(c, dfd, "1700.M2P2.host:2,", found), 1);
	cr_assert_str_eq(found, "1700.M2P2.host");
	cr_assert_eq(repl_idcache_find(c, dfd, "1700.M3P2.host", found), 0);
	cr_assert_eq(repl_idcache_find(c, dfd, "1700.M1P2.hos", found), 0);
	counts(1, 3);
}

Test(idcache, sees_a_change_made_by_another)
{
	char found[MM_NAME_MAX + 1];

	retime(1000000000);
	cr_assert_eq(repl_idcache_find(c, dfd, "a", found), 0);
	touch("a:2,T");
	retime(1000000001);
	cr_assert_eq(repl_idcache_find(c, dfd, "a", found), 1);
	cr_assert_str_eq(found, "a:2,T");
	counts(2, 0);
}

Test(idcache, kept_by_our_own_changes)
{
	struct repl_idcache_dir *d;
	char found[MM_NAME_MAX + 1];

	touch("m1");
	cr_assert_eq(repl_idcache_find(c, dfd, "m2", found), 0);
	/* a rename and an unlink of ours, each told */
	d = repl_idcache_before(c, dfd);
	cr_assert_not_null(d);
	cr_assert_eq(renameat(dfd, "m1", dfd, "m1:2,S"), 0);
	repl_idcache_after(c, d, dfd, "m1", "m1:2,S");
	d = repl_idcache_before(c, dfd);
	touch("m2");
	repl_idcache_after(c, d, dfd, NULL, "m2");
	cr_assert_eq(repl_idcache_find(c, dfd, "m1", found), 1);
	cr_assert_str_eq(found, "m1:2,S");
	cr_assert_eq(repl_idcache_find(c, dfd, "m2:2,S", found), 1);
	cr_assert_str_eq(found, "m2");
	d = repl_idcache_before(c, dfd);
	cr_assert_eq(unlinkat(dfd, "m2", 0), 0);
	repl_idcache_after(c, d, dfd, "m2", NULL);
	cr_assert_eq(repl_idcache_find(c, dfd, "m2", found), 0);
	counts(1, 3);
}

Test(idcache, before_drops_a_listing_another_changed)
{
	char found[MM_NAME_MAX + 1];

	retime(1000000000);
	cr_assert_eq(repl_idcache_find(c, dfd, "x", found), 0);
	retime(1000000002);
	cr_assert_null(repl_idcache_before(c, dfd));
	cr_assert_eq(repl_idcache_find(c, dfd, "x", found), 0);
	counts(2, 0);
}

Test(idcache, many_names_survive_deletes)
{
	struct repl_idcache_dir *d;
	char name[64], found[MM_NAME_MAX + 1];
	int i;

	for (i = 0; i < 2000; i++) {
		snprintf(name, sizeof(name), "%d.M%dP1.host:2,S", 1700000000 + i, i);
		touch(name);
	}
	cr_assert_eq(repl_idcache_find(c, dfd, "none", found), 0);
	for (i = 0; i < 2000; i += 2) {
		snprintf(name, sizeof(name), "%d.M%dP1.host:2,S", 1700000000 + i, i);
		d = repl_idcache_before(c, dfd);
		cr_assert_not_null(d);
		cr_assert_eq(unlinkat(dfd, name, 0), 0);
		repl_idcache_after(c, d, dfd, name, NULL);
	}
	for (i = 0; i < 2000; i++) {
		snprintf(name, sizeof(name), "%d.M%dP1.host", 1700000000 + i, i);
		cr_assert_eq(repl_idcache_find(c, dfd, name, found), i % 2, "%s", name);
	}
	counts(1, 2000);
}

Test(idcache, keeps_at_most_max_dirs)
{
	char found[MM_NAME_MAX + 1], sub[16];
	int fds[5];

	for (int i = 0; i < 5; i++) {
		snprintf(sub, sizeof(sub), "d%d", i);
		cr_assert_eq(mkdirat(dfd, sub, 0700), 0);
		fds[i] = openat(dfd, sub, O_RDONLY | O_DIRECTORY);
		cr_assert_geq(fds[i], 0);
		cr_assert_eq(repl_idcache_find(c, fds[i], "x", found), 0);
	}
	/* d0 went when d4 came (4 kept); d4 is still there */
	cr_assert_eq(repl_idcache_find(c, fds[4], "x", found), 0);
	cr_assert_eq(repl_idcache_find(c, fds[0], "x", found), 0);
	counts(6, 1);
	for (int i = 0; i < 5; i++)
		close(fds[i]);
}
