/* SPDX-License-Identifier: MIT
 * test-inventory.c - the walk of an account (lib/inventory.c) over a
 * Maildir made in a temporary directory: what it finds, the same with
 * threads as without, digests as the lines define them. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>
#include "classify.h"
#include "digest.h"
#include "inventory.h"
#include "mem.h"

#define ACCT "ex.org/al"
#define NCUR 2600	/* past WALK_THREADS_MIN: the threads share cur/ */

static char dir[] = "/tmp/mm-test-inv.XXXXXX";
static struct mm_rules *rules;

static void put(const char *rel, const void *data, size_t len)
{
	char *path = mm_strdup_printf("%s/%s", dir, rel);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	cr_assert(fd >= 0, "open(%s)", path);
	cr_assert_eq(write(fd, data, len), (ssize_t)len);
	close(fd);
	free(path);
}

static void mk(const char *rel)
{
	char *path = mm_strdup_printf("%s/%s", dir, rel);

	cr_assert(mkdir(path, 0700) == 0, "mkdir(%s)", path);
	free(path);
}

static void setup(void)
{
	static const char *const dirs[] = {
		"ex.org", "ex.org/al", "ex.org/al/Maildir", "ex.org/al/Maildir/cur",
		"ex.org/al/Maildir/new", "ex.org/al/Maildir/tmp", "ex.org/al/Maildir/.Sent",
		"ex.org/al/Maildir/.Sent/cur", "ex.org/al/Maildir/cur/a-dir",
	};
	static char big[200000];
	char name[64];

	cr_assert_not_null(mkdtemp(dir));
	rules = mm_rules_new(NULL);
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++)
		mk(dirs[i]);
	for (int i = 0; i < NCUR; i++) {
		char body[64];

		snprintf(name, sizeof(name), ACCT "/Maildir/cur/%d.M%dP1.h:2,%s", 1000 + i, i,
			 i % 2 ? "S" : "");
		snprintf(body, sizeof(body), "Subject: %d\n\n%*d\n", i, i % 50, i);
		put(name, body, strlen(body));
	}
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (char)(i * 7);
	put(ACCT "/Maildir/new/2.big", big, sizeof(big));	/* more than one read */
	put(ACCT "/Maildir/new/3.empty", "", 0);
	put(ACCT "/Maildir/tmp/4.writing", "x", 1);
	put(ACCT "/Maildir/dovecot-uidlist", "3 V1 N2\n", 8);
	put(ACCT "/Maildir/dovecot.index.log", "ignored", 7);
	put(ACCT "/Maildir/cur/5.x.lock", "ignored", 7);
	put(ACCT "/Maildir/.Sent/cur/6.sent:2,S", "sent\n", 5);
	snprintf(name, sizeof(name), "%s/" ACCT "/Maildir/cur/7.link", dir);
	cr_assert(symlink("/etc/passwd", name) == 0);
	snprintf(name, sizeof(name), "%s/" ACCT "/Maildir/cur/8.fifo", dir);
	cr_assert(mkfifo(name, 0600) == 0);
}

static void teardown(void)
{
	char *cmd = mm_strdup_printf("rm -rf %s", dir);

	(void)system(cmd);
	free(cmd);
	mm_rules_free(&rules);
}

TestSuite(inventory, .init = setup, .fini = teardown, .timeout = 60);

static struct mm_inv *scan(bool content, unsigned int threads)
{
	struct mm_inv *inv;
	const char *error;

	cr_assert_eq(mm_inv_scan_threads(dir, ACCT, rules, content, threads, NULL, &inv, &error),
		     0);
	return inv;
}

static const struct mm_inv_entry *find(const struct mm_inv *inv, const char *folder,
				       const char *name)
{
	const struct mm_inv_folder *f = mm_inv_folder_find(inv, folder);

	for (size_t i = 0; f != NULL && i < f->n; i++)
		if (strcmp(f->e[i].name, name) == 0)
			return &f->e[i];
	return NULL;
}

/* The digest by its definition: every line made alone, sorted, hashed. */
static void digest_by_lines(const struct mm_inv_folder *f, bool content, uint8_t d[16])
{
	char **v = mm_calloc(f->n + 1, sizeof(*v));
	size_t n = 0;
	static const uint8_t ff[16] = {
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	};

	if (f->subs == (MM_INV_HAS_CUR | MM_INV_HAS_NEW | MM_INV_HAS_TMP))
		v[n++] = mm_digest_line_folder();
	for (size_t i = 0; i < f->n; i++) {
		const struct mm_inv_entry *e = &f->e[i];

		if (e->kind == MM_INV_MESSAGE)
			v[n++] = mm_digest_line_msg(e->sub, e->name, strlen(e->name), e->size,
						    !content ? NULL : e->hashed ? e->hash : ff);
		else if (e->kind == MM_INV_META)
			v[n++] = mm_digest_line_meta(e->name, strlen(e->name), e->size,
						     e->hashed ? e->hash : ff);
	}
	mm_digest_lines(v, n, d);
	cr_expect_eq(n, f->count, "%s: lines", f->name);
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

Test(inventory, finds_what_is_there)
{
	struct mm_inv *inv = scan(true, 1);
	const struct mm_inv_folder *f = mm_inv_folder_find(inv, "Maildir");
	const struct mm_inv_entry *e;
	size_t messages = 0;

	cr_assert_not_null(f);
	cr_expect_eq(f->subs, MM_INV_HAS_CUR | MM_INV_HAS_NEW | MM_INV_HAS_TMP);
	for (size_t i = 0; i < f->n; i++)
		messages += f->e[i].kind == MM_INV_MESSAGE;
	cr_expect_eq(messages, NCUR + 2);
	e = find(inv, "Maildir", "2.big");
	cr_assert_not_null(e);
	cr_expect_eq(e->size, 200000);
	cr_expect(e->hashed);
	e = find(inv, "Maildir", "3.empty");
	cr_assert_not_null(e);
	cr_expect(e->hashed && e->size == 0);
	cr_expect_eq(find(inv, "Maildir", "4.writing")->kind, MM_INV_TMP);
	cr_expect_eq(find(inv, "Maildir", "dovecot-uidlist")->kind, MM_INV_META);
	cr_expect(find(inv, "Maildir", "dovecot-uidlist")->hashed);
	cr_expect_null(find(inv, "Maildir", "dovecot.index.log"), "ignored by the rules");
	cr_expect_null(find(inv, "Maildir", "5.x.lock"), "ignored by the rules");
	cr_expect_eq(find(inv, "Maildir", "a-dir")->kind, MM_INV_OTHER);
	cr_expect_eq(find(inv, "Maildir", "7.link")->kind, MM_INV_OTHER);
	cr_expect_eq(find(inv, "Maildir", "8.fifo")->kind, MM_INV_OTHER, "not opened, not read");
	cr_expect_eq(find(inv, "Maildir/.Sent", "6.sent:2,S")->size, 5);
	cr_expect_eq(mm_inv_folder_find(inv, "Maildir/.Sent")->subs, MM_INV_HAS_CUR);
	/* every message's hash is its content's */
	for (size_t i = 0; i < f->n; i++) {
		char *path;
		FILE *fp;
		static char buf[300000];
		size_t n;
		XXH128_canonical_t c;

		e = &f->e[i];
		if (e->kind != MM_INV_MESSAGE)
			continue;
		path = mm_strdup_printf("%s/" ACCT "/Maildir/%s/%s", dir, mm_sub_str(e->sub),
					e->name);
		fp = fopen(path, "rb");
		cr_assert_not_null(fp, "%s", path);
		n = fread(buf, 1, sizeof(buf), fp);
		fclose(fp);
		XXH128_canonicalFromHash(&c, XXH3_128bits(buf, n));
		cr_expect_eq(e->size, n, "%s", e->name);
		cr_expect_eq(memcmp(e->hash, c.digest, 16), 0, "%s", e->name);
		free(path);
	}
	cr_expect_eq(inv->files, NCUR + 2 + 1 + 1 + 3 + 1);
	mm_inv_free(&inv);
}

Test(inventory, threads_change_nothing_and_digests_are_the_lines)
{
	for (int content = 0; content < 2; content++) {
		struct mm_inv *one = scan(content, 1), *four = scan(content, 4);

		cr_assert_eq(one->n, four->n);
		cr_expect_eq(one->files, four->files);
		cr_expect_eq(one->bytes, four->bytes);
		for (size_t i = 0; i < one->n; i++) {
			const struct mm_inv_folder *a = &one->f[i], *b = &four->f[i];
			uint8_t d[16];

			cr_assert_str_eq(a->name, b->name);
			cr_assert_eq(a->n, b->n, "%s", a->name);
			for (size_t k = 0; k < a->n; k++) {
				cr_expect_str_eq(a->e[k].name, b->e[k].name);
				cr_expect_eq(a->e[k].kind, b->e[k].kind);
				cr_expect_eq(a->e[k].size, b->e[k].size);
				cr_expect_eq(memcmp(a->e[k].hash, b->e[k].hash, 16), 0);
			}
			cr_expect_eq(memcmp(a->digest, b->digest, 16), 0, "%s", a->name);
			digest_by_lines(a, content, d);
			cr_expect_eq(memcmp(a->digest, d, 16), 0, "%s: digest", a->name);
		}
		mm_inv_free(&one);
		mm_inv_free(&four);
	}
}

/* A byte changed, a file cut short: what the walk reports changes with
   it (nothing is remembered between walks). */
Test(inventory, a_change_behind_its_back_shows)
{
	struct mm_inv *before = scan(true, 2), *after;
	const char *rel = ACCT "/Maildir/cur/1007.M7P1.h:2,S";
	char *path = mm_strdup_printf("%s/%s", dir, rel);
	int fd = open(path, O_WRONLY);

	cr_assert(fd >= 0);
	cr_assert_eq(pwrite(fd, "Z", 1, 3), 1);
	close(fd);
	after = scan(true, 2);
	cr_expect_neq(memcmp(mm_inv_folder_find(before, "Maildir")->digest,
			     mm_inv_folder_find(after, "Maildir")->digest, 16), 0);
	mm_inv_free(&after);
	cr_assert(truncate(path, 2) == 0);
	after = scan(false, 2);
	cr_expect_eq(find(after, "Maildir", "1007.M7P1.h:2,S")->size, 2);
	mm_inv_free(&after);
	mm_inv_free(&before);
	free(path);
}
