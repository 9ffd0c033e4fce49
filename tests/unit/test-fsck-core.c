/* SPDX-License-Identifier: MIT
 * test-fsck-core.c - mailmesh-fsck's decisions (tools/fsck-core.c): the
 * journal replayed, a store judged, two stores' folders compared, the
 * exit code. No I/O: inventories are built by hand. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "fsck-core.h"
#include "mem.h"

#define NS 1000000000LL

static struct fsck_report r;

static void teardown(void)
{
	fsck_report_free(&r);
}

TestSuite(fsck_core, .fini = teardown);

static struct mm_inv_entry *add(struct mm_inv_folder *f, char kind, uint8_t sub,
				const char *name, uint64_t size, uint8_t hash_byte)
{
	struct mm_inv_entry *e;

	f->e = mm_realloc(f->e, (f->n + 1) * sizeof(*f->e));
	e = &f->e[f->n++];
	memset(e, 0, sizeof(*e));
	e->kind = kind;
	e->sub = sub;
	e->name = mm_strdup(name);
	e->size = size;
	e->mode = 0100600;
	e->hashed = true;
	memset(e->hash, hash_byte, 16);
	e->mtime_ns = e->ctime_ns = 1000 * NS;
	return e;
}

static struct mm_inv *inv_new(const char *account, bool content)
{
	struct mm_inv *inv = mm_calloc(1, sizeof(*inv));

	inv->account = mm_strdup(account);
	inv->content = content;
	inv->n = 1;
	inv->f = mm_calloc(1, sizeof(*inv->f));
	inv->f[0].name = mm_strdup("Maildir");
	inv->f[0].subs = MM_INV_HAS_CUR | MM_INV_HAS_NEW | MM_INV_HAS_TMP;
	return inv;
}

static void done(struct mm_inv *inv)
{
	for (size_t i = 0; i < inv->n; i++)
		mm_inv_folder_sort(&inv->f[i]);
}

static void deliver(struct fsck_jstate *js, uint64_t lsn, const char *name, uint8_t sub,
		    uint64_t size, uint8_t hash_byte)
{
	struct mm_journal_rec rec = { .lsn = lsn, .op = MM_OP_DELIVER, .status = MM_REC_COMMITTED,
				      .sub = sub, .account = "ex.org/al", .folder = "Maildir",
				      .name = name, .new_folder = "", .new_name = "",
				      .size = size };

	memset(rec.hash, hash_byte, 16);
	fsck_jstate_apply(js, &rec);
}

static size_t count(enum fsck_kind kind, const char *path)
{
	size_t n = 0;

	for (size_t i = 0; i < r.n; i++)
		if (r.p[i].kind == kind && (path == NULL || strcmp(r.p[i].path, path) == 0))
			n++;
	return n;
}

static const struct fsck_store_ctx *ctx_for(struct fsck_jstate *js)
{
	static struct fsck_store_ctx ctx;

	ctx = (struct fsck_store_ctx){ .store = "a", .journaled = true, .js = js,
				       .scan_lsn = 100, .journal_since_ns = 0,
				       .now_ns = 1000 * NS + 40LL * 3600 * NS };
	return &ctx;
}

Test(fsck_core, journal_follows_moves_flags_and_expunges)
{
	struct fsck_jstate *js = fsck_jstate_new();
	struct mm_journal_rec mv = { .lsn = 2, .op = MM_OP_MOVE, .status = MM_REC_COMMITTED,
				     .sub = MM_SUB_NEW, .new_sub = MM_SUB_CUR,
				     .account = "ex.org/al", .folder = "Maildir", .name = "1.a",
				     .new_folder = "", .new_name = "1.a:2,S" };
	struct mm_journal_rec ex = { .lsn = 3, .op = MM_OP_EXPUNGE, .status = MM_REC_COMMITTED,
				     .sub = MM_SUB_NEW, .account = "ex.org/al", .folder = "Maildir",
				     .name = "2.b", .new_folder = "", .new_name = "" };
	const struct fsck_jmsg *m;

	deliver(js, 1, "1.a", MM_SUB_NEW, 10, 0x11);
	deliver(js, 1, "2.b", MM_SUB_NEW, 10, 0x22);
	fsck_jstate_apply(js, &mv);
	fsck_jstate_apply(js, &ex);
	m = fsck_jstate_get(js, "ex.org/al", "Maildir", "1.a", 3);
	cr_assert_not_null(m);
	cr_expect_str_eq(m->name, "1.a:2,S");
	cr_expect_eq(m->sub, MM_SUB_CUR);
	cr_expect(m->present && m->has_hash && m->hash[0] == 0x11);
	m = fsck_jstate_get(js, "ex.org/al", "Maildir", "2.b", 3);
	cr_assert_not_null(m);
	cr_expect(!m->present);
	cr_expect_null(fsck_jstate_get(js, "ex.org/al", "Maildir", "3.c", 3));
	fsck_jstate_free(&js);
}

Test(fsck_core, folder_rename_carries_messages)
{
	struct fsck_jstate *js = fsck_jstate_new();
	struct mm_journal_rec rn = { .lsn = 5, .op = MM_OP_FOLDER_RENAME, .status = 'C',
				     .account = "ex.org/al", .folder = "Maildir",
				     .name = "", .new_folder = "Old", .new_name = "" };

	for (int i = 0; i < 3000; i++) {	/* past a few table growths */
		char name[32];

		snprintf(name, sizeof(name), "%d.x", i);
		deliver(js, 1, name, MM_SUB_NEW, 1, 1);
	}
	fsck_jstate_apply(js, &rn);
	cr_expect_null(fsck_jstate_get(js, "ex.org/al", "Maildir", "7.x", 3));
	cr_expect_not_null(fsck_jstate_get(js, "ex.org/al", "Old", "2999.x", 6));
	fsck_jstate_free(&js);
}

Test(fsck_core, clean_store_is_clean)
{
	struct fsck_jstate *js = fsck_jstate_new();
	struct mm_inv *inv = inv_new("ex.org/al", true);

	deliver(js, 1, "1.a,S=10", MM_SUB_NEW, 10, 0x11);
	add(&inv->f[0], MM_INV_MESSAGE, MM_SUB_NEW, "1.a,S=10", 10, 0x11);
	done(inv);
	fsck_check_account(ctx_for(js), inv, &r);
	cr_expect_eq(r.n, 0);
	cr_expect_eq(fsck_exit_code(&r), FSCK_EXIT_CLEAN);
	mm_inv_free(&inv);
	fsck_jstate_free(&js);
}

Test(fsck_core, finds_what_is_wrong_in_one_store)
{
	struct fsck_jstate *js = fsck_jstate_new();
	struct mm_inv *inv = inv_new("ex.org/al", true);
	struct mm_inv_entry *e;

	deliver(js, 1, "1.rot", MM_SUB_NEW, 10, 0x11);	/* a byte changed */
	deliver(js, 2, "2.gone", MM_SUB_NEW, 10, 0x22);	/* removed behind the mount */
	deliver(js, 3, "3.dup", MM_SUB_NEW, 10, 0x33);
	deliver(js, 200, "4.late", MM_SUB_NEW, 10, 0x44);	/* after the walk began */
	add(&inv->f[0], MM_INV_MESSAGE, MM_SUB_NEW, "1.rot", 10, 0x99);
	add(&inv->f[0], MM_INV_MESSAGE, MM_SUB_NEW, "3.dup", 10, 0x33);
	add(&inv->f[0], MM_INV_MESSAGE, MM_SUB_CUR, "3.dup:2,S", 10, 0x33);
	add(&inv->f[0], MM_INV_MESSAGE, MM_SUB_CUR, "5.stray:2,S", 10, 0x55);
	add(&inv->f[0], MM_INV_MESSAGE, MM_SUB_NEW, "6.flags:2,S", 10, 0x66);
	add(&inv->f[0], MM_INV_MESSAGE, MM_SUB_NEW, "7.tag,S=99", 10, 0x77);
	add(&inv->f[0], MM_INV_OTHER, MM_SUB_CUR, "sub", 4096, 0)->mode = 040700;
	e = add(&inv->f[0], MM_INV_TMP, MM_SUB_TMP, "old", 1, 0);
	add(&inv->f[0], MM_INV_TMP, MM_SUB_TMP, "fresh", 1, 0)->mtime_ns = 1000 * NS + 39LL * 3600 * NS;
	(void)e;
	inv->n = 2;
	inv->f = mm_realloc(inv->f, 2 * sizeof(*inv->f));
	memset(&inv->f[1], 0, sizeof(inv->f[1]));
	inv->f[1].name = mm_strdup("Maildir/.Sent");
	inv->f[1].subs = MM_INV_HAS_CUR;
	done(inv);
	fsck_check_account(ctx_for(js), inv, &r);
	cr_expect_eq(count(FSCK_CORRUPT, "new/1.rot"), 1);
	cr_expect_eq(count(FSCK_GONE, "new/2.gone"), 1);
	cr_expect_eq(count(FSCK_GONE, NULL), 1, "4.late was delivered during the walk");
	cr_expect_eq(count(FSCK_DUP_IDENTITY, NULL), 1);
	cr_expect_eq(count(FSCK_UNJOURNALED, "cur/5.stray:2,S"), 1);
	cr_expect_eq(count(FSCK_NEW_FLAGS, "new/6.flags:2,S"), 1);
	cr_expect_eq(count(FSCK_SIZE_TAG, "new/7.tag,S=99"), 1);
	cr_expect_eq(count(FSCK_BAD_NAME, "cur/sub"), 1);
	cr_expect_eq(count(FSCK_STALE_TMP, "tmp/old"), 1);
	cr_expect_eq(count(FSCK_STALE_TMP, NULL), 1, "a tmp file 39 hours old is not stale yet");
	cr_expect_eq(count(FSCK_NO_SUBDIR, NULL), 1);
	cr_expect_eq(fsck_exit_code(&r), FSCK_EXIT_LEFT);
	for (size_t i = 0; i < r.n; i++)
		if (r.p[i].kind == FSCK_UNJOURNALED)
			cr_expect_eq(r.p[i].fix, FSCK_FIX_QUARANTINE);
	mm_inv_free(&inv);
	fsck_jstate_free(&js);
}

Test(fsck_core, damaged_journal_never_quarantines_mail)
{
	struct fsck_jstate *js = fsck_jstate_new();
	struct mm_inv *inv = inv_new("ex.org/al", false);
	struct fsck_store_ctx ctx = *ctx_for(js);

	add(&inv->f[0], MM_INV_MESSAGE, MM_SUB_CUR, "5.lost:2,S", 10, 0x55);
	done(inv);
	ctx.journal_damaged = true;
	fsck_check_account(&ctx, inv, &r);
	cr_assert_eq(count(FSCK_UNJOURNALED, NULL), 1);
	cr_expect_eq(r.p[0].fix, FSCK_FIX_NONE);
	mm_inv_free(&inv);
	fsck_jstate_free(&js);
}

Test(fsck_core, older_than_the_journal_is_not_unjournaled)
{
	struct fsck_jstate *js = fsck_jstate_new();
	struct mm_inv *inv = inv_new("ex.org/al", false);
	struct fsck_store_ctx ctx = *ctx_for(js);

	add(&inv->f[0], MM_INV_MESSAGE, MM_SUB_CUR, "5.old:2,S", 10, 0x55);
	done(inv);
	ctx.journal_since_ns = 2000 * NS;
	fsck_check_account(&ctx, inv, &r);
	cr_expect_eq(r.n, 0);
	cr_expect_eq(r.predating, 1);
	mm_inv_free(&inv);
	fsck_jstate_free(&js);
}

Test(fsck_core, replica_against_its_active_store)
{
	struct mm_inv *a = inv_new("ex.org/al", true), *b = inv_new("ex.org/al", true);
	struct fsck_cmp c = { .a_store = "b", .b_store = "a", .account = "ex.org/al",
			      .b_is_ref = true, .content = true };

	/* ours (a: the replica "b") against the active (b: the store "a") */
	add(&b->f[0], MM_INV_MESSAGE, MM_SUB_CUR, "1.missing:2,S", 10, 1);
	add(&a->f[0], MM_INV_MESSAGE, MM_SUB_CUR, "2.flip:2,S", 10, 2);
	add(&b->f[0], MM_INV_MESSAGE, MM_SUB_CUR, "2.flip:2,S", 10, 3);
	add(&a->f[0], MM_INV_MESSAGE, MM_SUB_CUR, "3.flag:2,FS", 10, 4);
	add(&b->f[0], MM_INV_MESSAGE, MM_SUB_CUR, "3.flag:2,S", 10, 4);
	add(&a->f[0], MM_INV_MESSAGE, MM_SUB_CUR, "4.stray:2,", 10, 5);
	add(&a->f[0], MM_INV_META, 0, "dovecot-uidlist", 10, 6);
	add(&b->f[0], MM_INV_META, 0, "dovecot-uidlist", 10, 7);
	add(&a->f[0], MM_INV_MESSAGE, MM_SUB_NEW, "5.same", 10, 8);
	add(&b->f[0], MM_INV_MESSAGE, MM_SUB_NEW, "5.same", 10, 8);
	done(a);
	done(b);
	cr_expect_eq(fsck_compare_folder(&c, &a->f[0], &b->f[0], &r), 5);
	cr_assert_eq(count(FSCK_PEER_MISSING, "cur/1.missing:2,S"), 1);
	cr_assert_eq(count(FSCK_PEER_CONTENT, "cur/2.flip:2,S"), 1);
	cr_assert_eq(count(FSCK_PEER_FLAGS, "cur/3.flag:2,FS"), 1);
	cr_assert_eq(count(FSCK_PEER_EXTRA, "cur/4.stray:2,"), 1);
	cr_assert_eq(count(FSCK_PEER_META, "dovecot-uidlist"), 1);
	for (size_t i = 0; i < r.n; i++) {
		cr_expect_str_eq(r.p[i].store, "b", "%s is ours to fix", r.p[i].path);
		cr_expect_neq(r.p[i].fix, FSCK_FIX_NONE);
		if (r.p[i].kind == FSCK_PEER_FLAGS) {
			cr_expect_eq(r.p[i].fix, FSCK_FIX_RENAME);
			cr_expect_str_eq(r.p[i].want, "cur/3.flag:2,S");
		}
	}
	/* --quick: the same size is the same message */
	fsck_report_free(&r);
	c.content = false;
	fsck_compare_folder(&c, &a->f[0], &b->f[0], &r);
	cr_expect_eq(count(FSCK_PEER_CONTENT, NULL), 0);
	mm_inv_free(&a);
	mm_inv_free(&b);
}

Test(fsck_core, active_against_a_replica)
{
	struct mm_inv *a = inv_new("ex.org/al", true), *b = inv_new("ex.org/al", true);
	struct fsck_cmp c = { .a_store = "a", .b_store = "b", .account = "ex.org/al",
			      .a_is_ref = true, .content = true };

	add(&a->f[0], MM_INV_MESSAGE, MM_SUB_CUR, "1.missing:2,S", 10, 1);
	add(&a->f[0], MM_INV_MESSAGE, MM_SUB_CUR, "2.flip:2,S", 10, 2);
	add(&b->f[0], MM_INV_MESSAGE, MM_SUB_CUR, "2.flip:2,S", 10, 3);
	add(&b->f[0], MM_INV_MESSAGE, MM_SUB_CUR, "4.stray:2,", 10, 5);
	done(a);
	done(b);
	fsck_compare_folder(&c, &a->f[0], &b->f[0], &r);
	cr_assert_eq(r.n, 3);
	for (size_t i = 0; i < r.n; i++)
		cr_expect_str_eq(r.p[i].store, "b");
	/* a resync from us fixes what it lacks; a same-size byte flip and a
	   stray are left to fsck --repair on b (never deleted from here) */
	cr_expect_eq(r.p[0].kind, FSCK_PEER_MISSING);
	cr_expect_eq(r.p[0].fix, FSCK_FIX_RESYNC);
	cr_expect_eq(r.p[1].kind, FSCK_PEER_CONTENT);
	cr_expect_eq(r.p[1].fix, FSCK_FIX_NONE);
	cr_expect_eq(r.p[2].kind, FSCK_PEER_EXTRA);
	cr_expect_eq(r.p[2].fix, FSCK_FIX_NONE);
	mm_inv_free(&a);
	mm_inv_free(&b);
}

Test(fsck_core, exit_codes)
{
	struct fsck_problem *p;

	cr_expect_eq(fsck_exit_code(&r), FSCK_EXIT_CLEAN);
	p = fsck_report_add(&r, FSCK_STALE_TMP, FSCK_FIX_QUARANTINE, "a", "x/y", "F", "tmp/z",
			    "old");
	cr_expect_eq(fsck_exit_code(&r), FSCK_EXIT_LEFT);
	p->fixed = true;
	cr_expect_eq(fsck_exit_code(&r), FSCK_EXIT_FIXED);
	r.operational = true;
	cr_expect_eq(fsck_exit_code(&r), FSCK_EXIT_OPERATIONAL);
	cr_expect_str_eq(fsck_kind_str(FSCK_UNJOURNALED), "unjournaled");
	cr_expect_str_eq(fsck_kind_str(0), "unknown");
}

/* --quick reads no content, but a size that is not the recorded one (a
   file cut short behind the mount, its name without S=) is corrupt */
Test(fsck_core, quick_checks_the_recorded_size)
{
	struct fsck_jstate *js = fsck_jstate_new();
	struct mm_inv *inv = inv_new("ex.org/al", false);

	deliver(js, 1, "1.cut", MM_SUB_NEW, 10, 0x11);
	deliver(js, 2, "2.same", MM_SUB_NEW, 10, 0x22);
	add(&inv->f[0], MM_INV_MESSAGE, MM_SUB_NEW, "1.cut", 4, 0)->hashed = false;
	add(&inv->f[0], MM_INV_MESSAGE, MM_SUB_NEW, "2.same", 10, 0)->hashed = false;
	done(inv);
	fsck_check_account(ctx_for(js), inv, &r);
	cr_assert_eq(r.n, 1);
	cr_expect_eq(count(FSCK_CORRUPT, "new/1.cut"), 1);
	cr_expect_eq(r.p[0].fix, FSCK_FIX_FETCH);
	cr_expect_str_eq(r.p[0].detail, "4 bytes, recorded 10 bytes (content not read)");
	mm_inv_free(&inv);
	fsck_jstate_free(&js);
}

/* Each account sees its own messages only, whatever the order the
   journal named them in, and checking one account after another finds
   what is gone from each (the marks of one do not count for the next). */
Test(fsck_core, many_accounts_each_its_own)
{
	struct fsck_jstate *js = fsck_jstate_new();
	char acct[32], name[32];

	for (int i = 0; i < 3000; i++) {
		struct mm_journal_rec rec = { .lsn = (uint64_t)i + 1, .op = MM_OP_DELIVER,
					      .status = MM_REC_COMMITTED, .sub = MM_SUB_NEW,
					      .folder = "Maildir", .new_folder = "",
					      .new_name = "", .size = 1 };

		snprintf(acct, sizeof(acct), "ex.org/u%d", i % 7);
		snprintf(name, sizeof(name), "%d.m", i);
		rec.account = acct;
		rec.name = name;
		fsck_jstate_apply(js, &rec);
	}
	for (int u = 0; u < 7; u++) {
		struct mm_inv *inv;
		const struct fsck_jmsg *m;
		const char *folder;
		size_t pos = 0, n = 0;

		snprintf(acct, sizeof(acct), "ex.org/u%d", u);
		while ((m = fsck_jstate_next(js, acct, &pos, &folder)) != NULL) {
			cr_expect_eq(atoi(m->name) % 7, u, "%s in %s", m->name, acct);
			cr_expect_str_eq(folder, "Maildir");
			n++;
		}
		cr_expect_eq(n, (size_t)(3000 / 7 + (u < 3000 % 7)), "messages of %s", acct);
		/* the store has all of them but one */
		inv = inv_new(acct, false);
		for (int i = u; i < 3000; i += 7) {
			if (i == u + 7 * 10)
				continue;
			snprintf(name, sizeof(name), "%d.m", i);
			add(&inv->f[0], MM_INV_MESSAGE, MM_SUB_NEW, name, 1, 0);
		}
		done(inv);
		fsck_report_free(&r);
		fsck_check_account(ctx_for(js), inv, &r);
		snprintf(name, sizeof(name), "new/%d.m", u + 7 * 10);
		cr_expect_eq(r.n, 1, "%s: %zu problems", acct, r.n);
		cr_expect_eq(count(FSCK_GONE, name), 1, "%s", name);
		mm_inv_free(&inv);
	}
	cr_expect_null(fsck_jstate_next(js, "ex.org/nobody", &(size_t){ 0 }, &(const char *){ 0 }));
	fsck_jstate_free(&js);
}

/* A folder renamed onto one holding a message of the same identity: the
   moved message stands, as the journal last said. */
Test(fsck_core, folder_rename_onto_the_same_identity)
{
	struct fsck_jstate *js = fsck_jstate_new();
	struct mm_journal_rec rn = { .lsn = 9, .op = MM_OP_FOLDER_RENAME, .status = 'C',
				     .account = "ex.org/al", .folder = "Maildir/.A",
				     .name = "", .new_folder = "Maildir/.B", .new_name = "" };
	struct mm_journal_rec d = { .lsn = 1, .op = MM_OP_DELIVER, .status = MM_REC_COMMITTED,
				    .sub = MM_SUB_NEW, .account = "ex.org/al",
				    .folder = "Maildir/.B", .name = "1.x", .new_folder = "",
				    .new_name = "", .size = 5 };
	const struct fsck_jmsg *m;
	const char *folder;
	size_t pos = 0, n = 0;

	fsck_jstate_apply(js, &d);
	d.lsn = 2;
	d.folder = "Maildir/.A";
	d.size = 7;
	fsck_jstate_apply(js, &d);
	d.lsn = 3;
	d.name = "2.y";
	fsck_jstate_apply(js, &d);
	fsck_jstate_apply(js, &rn);
	m = fsck_jstate_get(js, "ex.org/al", "Maildir/.B", "1.x", 3);
	cr_assert_not_null(m);
	cr_expect_eq(m->size, 7);
	cr_expect_eq(m->lsn, 2);
	cr_expect_null(fsck_jstate_get(js, "ex.org/al", "Maildir/.A", "1.x", 3));
	cr_expect_not_null(fsck_jstate_get(js, "ex.org/al", "Maildir/.B", "2.y", 3));
	while ((m = fsck_jstate_next(js, "ex.org/al", &pos, &folder)) != NULL) {
		cr_expect_str_eq(folder, "Maildir/.B");
		n++;
	}
	cr_expect_eq(n, 2);
	fsck_jstate_free(&js);
}

/* A move that gave a message another identity: the journal's entry is
   met by the file of its last name, not reported gone. */
Test(fsck_core, renamed_by_a_move_is_not_gone)
{
	struct fsck_jstate *js = fsck_jstate_new();
	struct mm_inv *inv = inv_new("ex.org/al", false);
	struct mm_journal_rec mv = { .lsn = 2, .op = MM_OP_MOVE, .status = MM_REC_COMMITTED,
				     .sub = MM_SUB_NEW, .new_sub = MM_SUB_CUR,
				     .account = "ex.org/al", .folder = "Maildir", .name = "1.a",
				     .new_folder = "", .new_name = "1.b:2,S" };

	deliver(js, 1, "1.a", MM_SUB_NEW, 10, 0x11);
	fsck_jstate_apply(js, &mv);
	add(&inv->f[0], MM_INV_MESSAGE, MM_SUB_CUR, "1.b:2,S", 10, 0);
	done(inv);
	fsck_check_account(ctx_for(js), inv, &r);
	cr_expect_eq(count(FSCK_GONE, NULL), 0);
	mm_inv_free(&inv);
	fsck_jstate_free(&js);
}
