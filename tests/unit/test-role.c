/* SPDX-License-Identifier: MIT
 * test-role.c - the ROLE answer (repl-role.c): its text both ways, hostile
 * text, and reading a store's files (roles, account modes, cursors). */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "acct.h"
#include "buf.h"
#include "cfg.h"
#include "mem.h"
#include "repl-cursor.h"
#include "repl-role.h"

static int parse(const char *text, struct repl_role *r)
{
	const char *error;

	return repl_role_parse((const unsigned char *)text, strlen(text), r, &error);
}

Test(role, round_trip)
{
	struct repl_role_cursor from[2] = { { "a", 17 }, { "c", 18446744073709551615ULL } };
	struct repl_role r = { .store = "b", .held = true, .active = true,
			       .epoch = 1795556559364978166ULL, .head_known = true, .head = 42,
			       .from = from, .n_from = 2 };
	struct mm_buf b = { 0 };
	struct repl_role p;
	const char *error;
	uint64_t lsn;

	repl_role_format(&r, &b);
	cr_assert_str_eq(mm_buf_str(&b), "store b\nheld 1\nactive 1\nepoch 1795556559364978166\n"
			 "head 42\nfrom a 17\nfrom c 18446744073709551615\n");
	cr_assert_eq(repl_role_parse(b.data, b.len, &p, &error), 0, "%s", error);
	cr_assert_str_eq(p.store, "b");
	cr_assert(p.held && p.active && p.head_known);
	cr_assert_eq(p.epoch, 1795556559364978166ULL);
	cr_assert_eq(p.head, 42);
	cr_assert_eq(p.n_from, 2);
	cr_assert(repl_role_cursor(&p, "a", &lsn));
	cr_assert_eq(lsn, 17);
	cr_assert(repl_role_cursor(&p, "c", &lsn));
	cr_assert_eq(lsn, UINT64_MAX);
	cr_assert(!repl_role_cursor(&p, "d", &lsn));
	repl_role_free(&p);
	cr_assert_null(p.store);
	mm_buf_free(&b);
}

Test(role, head_unknown_and_no_cursor)
{
	struct repl_role r = { .store = "a" };
	struct mm_buf b = { 0 };
	struct repl_role p;

	repl_role_format(&r, &b);
	cr_assert_str_eq(mm_buf_str(&b), "store a\nheld 0\nactive 0\nepoch 0\n");
	cr_assert_eq(parse(mm_buf_str(&b), &p), 0);
	cr_assert(!p.head_known && !p.active && !p.held);
	cr_assert_eq(p.n_from, 0);
	repl_role_free(&p);
	mm_buf_free(&b);
}

Test(role, unknown_keys_skipped)
{
	struct repl_role p;

	cr_assert_eq(parse("store a\nlag_ms 12\nheld 1\nactive 0\nfuture x y z\n", &p), 0);
	cr_assert_str_eq(p.store, "a");
	repl_role_free(&p);
}

Test(role, hostile_text)
{
	static const char *const bad[] = {
		"",					/* nothing */
		"store a\nheld 1\n",			/* no active */
		"held 1\nactive 1\n",			/* no store */
		"store a\nheld 1\nactive 1",		/* no final newline */
		"store a\nheld 1\nactive 2\n",
		"store a\nheld yes\nactive 1\n",
		"store a\nheld 1\nactive 1\nepoch -1\n",
		"store a\nheld 1\nactive 1\nepoch 18446744073709551616\n",	/* 2^64 */
		"store a\nheld 1\nactive 1\nepoch 99999999999999999999\n",
		"store a\nheld 1\nactive 1\nhead 1x\n",
		"store a\nheld 1\nactive 1\nhead \n",
		"store a\nheld 1\nactive 1\nfrom b\n",
		"store a\nheld 1\nactive 1\nfrom b x\n",
		"store a\nheld 1\nactive 1\nfrom  5\n",
		"store \nheld 1\nactive 1\n",
		"store a b\nheld 1\nactive 1\n",
		"store a\nstore b\nheld 1\nactive 1\n",	/* twice */
		"store 0123456789012345678901234567890123456789012345678901234567890123\n"
		"held 1\nactive 1\n",			/* 64 bytes */
		"store a\nheld 1\nactive 1\nnospace\n",
	};
	struct repl_role p;

	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		cr_assert_eq(parse(bad[i], &p), -1, "took \"%s\"", bad[i]);
		repl_role_free(&p);
	}
	/* a NUL inside a line */
	static const unsigned char nul[] = "store a\nheld 1\0\nactive 1\n";
	const char *error;

	cr_assert_eq(repl_role_parse(nul, sizeof(nul) - 1, &p, &error), -1);
	repl_role_free(&p);
}

/* Every prefix and every flipped byte of a good answer: refused or parsed,
   never a crash (ASan run). */
Test(role, truncated_and_flipped)
{
	const char *good = "store b\nheld 1\nactive 1\nepoch 5\nhead 9\nfrom a 3\nfrom c 4\n";
	size_t len = strlen(good);
	unsigned char *buf = mm_malloc(len);
	struct repl_role p;
	const char *error;

	for (size_t n = 0; n < len; n++) {
		memcpy(buf, good, n);
		(void)repl_role_parse(buf, n, &p, &error);
		repl_role_free(&p);
	}
	for (size_t i = 0; i < len; i++) {
		for (int bit = 0; bit < 8; bit++) {
			memcpy(buf, good, len);
			buf[i] ^= (unsigned char)(1 << bit);
			if (repl_role_parse(buf, len, &p, &error) == 0)
				cr_assert_not_null(p.store);
			repl_role_free(&p);
		}
	}
	free(buf);
}

static char dir[] = "/tmp/test-role.XXXXXX";

static struct mm_cfg *cfg_load(bool fenced)
{
	char *path = mm_strdup_printf("%s/node.ini", dir);
	FILE *f = fopen(path, "w");
	struct mm_cfg *cfg;
	const char *error;

	cr_assert_not_null(f);
	fprintf(f, "[node]\nname = b\nstore = %s/store\nstate = %s/state\nmount = %s/mnt\n",
		dir, dir, dir);
	if (fenced)
		fprintf(f, "[hbmon]\nlisten = 127.0.0.1:1\n");
	fprintf(f, "[peer a]\naddress = 127.0.0.1:2\n[peer c]\naddress = 127.0.0.1:3\n");
	fclose(f);
	cr_assert_eq(mm_cfg_load(path, &cfg, &error), 0, "%s", error);
	free(path);
	return cfg;
}

static void put_bytes(const char *rel, const char *text, size_t len)
{
	char *path = mm_strdup_printf("%s/%s", dir, rel);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	cr_assert(fd >= 0, "open(%s)", path);
	cr_assert_eq(write(fd, text, len), (ssize_t)len);
	close(fd);
	free(path);
}

static void put(const char *rel, const char *text)
{
	put_bytes(rel, text, strlen(text));
}

static void setup(void)
{
	char *cmd;

	strcpy(dir, "/tmp/test-role.XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	cmd = mm_strdup_printf("mkdir -p %s/store/example.org/alice %s/store/example.org/bob "
			       "%s/state/replication", dir, dir, dir);
	cr_assert_eq(system(cmd), 0);
	free(cmd);
}

static void teardown(void)
{
	char *cmd = mm_strdup_printf("rm -rf %s", dir);

	cr_assert_eq(system(cmd), 0);
	free(cmd);
}

Test(role, read_fenced, .init = setup, .fini = teardown)
{
	struct mm_cfg *cfg = cfg_load(true);
	char slot[REPL_CURSOR_SLOT_LEN], file[2 * REPL_CURSOR_SLOT_OFF];
	struct repl_role r;
	const char *error;
	uint64_t lsn;

	/* no STATE/roles yet: nothing is active, not an error */
	cr_assert_eq(repl_role_read(cfg, "example.org/alice", &r, &error), 0, "%s", error);
	cr_assert_str_eq(r.store, "b");
	cr_assert(r.held && !r.active);
	cr_assert(!r.head_known);	/* no mailmesh-fs */
	cr_assert_eq(r.n_from, 2);
	cr_assert(repl_role_cursor(&r, "a", &lsn) && lsn == 0);
	repl_role_free(&r);

	put("state/roles", "mailmesh-roles 7\n1795556559364978166 example.org/alice\n");
	memset(file, '\n', sizeof(file));
	memcpy(file + repl_cursor_format(1234, slot) * REPL_CURSOR_SLOT_OFF, slot, sizeof(slot));
	put_bytes("state/replication/from-a.lsn", file, sizeof(file));
	cr_assert_eq(repl_role_read(cfg, "example.org/alice", &r, &error), 0, "%s", error);
	cr_assert(r.active);
	cr_assert_eq(r.epoch, 1795556559364978166ULL);
	cr_assert(repl_role_cursor(&r, "a", &lsn));
	cr_assert_eq(lsn, 1234);
	cr_assert(repl_role_cursor(&r, "c", &lsn) && lsn == 0);
	repl_role_free(&r);
	/* re-read at each question */
	cr_assert_eq(repl_role_read(cfg, "example.org/bob", &r, &error), 0, "%s", error);
	cr_assert(r.held && !r.active && r.epoch == 0);
	repl_role_free(&r);
	put("state/roles", "mailmesh-roles 8\n5 example.org/bob\n");
	cr_assert_eq(repl_role_read(cfg, "example.org/bob", &r, &error), 0, "%s", error);
	cr_assert(r.active && r.epoch == 5);
	repl_role_free(&r);
	/* an account this store does not have */
	cr_assert_eq(repl_role_read(cfg, "example.org/carol", &r, &error), 0, "%s", error);
	cr_assert(!r.held && !r.active);
	repl_role_free(&r);
	/* a broken roles file is an error, not "inactive" */
	put("state/roles", "garbage\n");
	cr_assert_eq(repl_role_read(cfg, "example.org/bob", &r, &error), -1);
	cr_assert_null(r.store);
	mm_cfg_free(&cfg);
}

Test(role, read_not_fenced, .init = setup, .fini = teardown)
{
	struct mm_cfg *cfg = cfg_load(false);
	struct repl_role r;
	const char *error;
	char *state = mm_strdup_printf("%s/state", dir);

	/* read-write (no STATE/accounts entry): active, with no epoch */
	cr_assert_eq(repl_role_read(cfg, "example.org/alice", &r, &error), 0, "%s", error);
	cr_assert(r.active && r.epoch == 0);
	repl_role_free(&r);
	cr_assert_eq(mm_acct_set(state, "example.org/alice", true, &error), 0, "%s", error);
	cr_assert_eq(repl_role_read(cfg, "example.org/alice", &r, &error), 0, "%s", error);
	cr_assert(!r.active);
	repl_role_free(&r);
	/* no directory: not active even though read-write */
	cr_assert_eq(repl_role_read(cfg, "example.org/carol", &r, &error), 0, "%s", error);
	cr_assert(!r.active && !r.held);
	repl_role_free(&r);
	free(state);
	mm_cfg_free(&cfg);
}
