/* SPDX-License-Identifier: MIT
 * test-digest.c - per-folder digest lines and digests (lib/digest.c). */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>
#include "buf.h"
#include "digest.h"

TestSuite(digest);

Test(digest, line_formats)
{
	uint8_t h[16];
	char *l;

	for (int i = 0; i < 16; i++)
		h[i] = (uint8_t)i;
	l = mm_digest_line_msg(MM_SUB_CUR, "1.M2.h,S=5:2,SXX", 14, 5, NULL);
	cr_expect_str_eq(l, "M cur/1.M2.h,S=5:2,S 5");
	free(l);
	l = mm_digest_line_msg(MM_SUB_NEW, "1.M2.h", 6, 5, h);
	cr_expect_str_eq(l, "M new/1.M2.h 5 000102030405060708090a0b0c0d0e0f");
	free(l);
	l = mm_digest_line_meta("dovecot-uidlist", 15, 42, h);
	cr_expect_str_eq(l, "X dovecot-uidlist 42 000102030405060708090a0b0c0d0e0f");
	free(l);
	l = mm_digest_line_folder();
	cr_expect_str_eq(l, "F");
	free(l);
}

/* The digest the resync has always sent: XXH3-128 (canonical) over the
   sorted lines, each with its NUL. Peers of an older build compare it. */
Test(digest, order_free_and_unchanged)
{
	char *a[] = { strdup("M new/b 2"), strdup("F"), strdup("M cur/a 1") };
	char *b[] = { strdup("F"), strdup("M cur/a 1"), strdup("M new/b 2") };
	uint8_t da[16], db[16];
	XXH3_state_t *st = XXH3_createState();
	XXH128_canonical_t c;

	mm_digest_lines(a, 3, da);
	mm_digest_lines(b, 3, db);
	cr_expect_eq(memcmp(da, db, 16), 0);
	XXH3_128bits_reset(st);
	XXH3_128bits_update(st, "F", 2);
	XXH3_128bits_update(st, "M cur/a 1", 10);
	XXH3_128bits_update(st, "M new/b 2", 10);
	XXH128_canonicalFromHash(&c, XXH3_128bits_digest(st));
	XXH3_freeState(st);
	cr_expect_eq(memcmp(da, c.digest, 16), 0);
	free(b[2]);
	b[2] = strdup("M new/b 3");
	mm_digest_lines(b, 3, db);
	cr_expect_neq(memcmp(da, db, 16), 0);
	for (int i = 0; i < 3; i++) {
		free(a[i]);
		free(b[i]);
	}
}

/* Lines back to back in one buffer give the digest mm_digest_lines gives,
   whether they lie in order (hashed as they lie) or not (sorted first). */
Test(digest, buffer_of_lines_is_the_same_digest)
{
	uint8_t h[16], d1[16], d2[16], d3[16];
	struct mm_buf in_order = { 0 }, shuffled = { 0 };
	char *v[4];

	memset(h, 0xab, 16);
	v[0] = mm_digest_line_folder();
	v[1] = mm_digest_line_msg(MM_SUB_CUR, "1.a:2,S", 7, 10, h);
	v[2] = mm_digest_line_msg(MM_SUB_NEW, "2.b", 3, 1234567890123ULL, NULL);
	v[3] = mm_digest_line_meta("dovecot-uidlist", 15, 0, h);
	mm_buf_append(&in_order, "F", 2);
	mm_digest_put_msg(&in_order, MM_SUB_CUR, "1.a:2,S", 7, 10, h);
	mm_digest_put_msg(&in_order, MM_SUB_NEW, "2.b", 3, 1234567890123ULL, NULL);
	mm_digest_put_meta(&in_order, "dovecot-uidlist", 15, 0, h);
	mm_digest_put_meta(&shuffled, "dovecot-uidlist", 15, 0, h);
	mm_digest_put_msg(&shuffled, MM_SUB_NEW, "2.b", 3, 1234567890123ULL, NULL);
	mm_buf_append(&shuffled, "F", 2);
	mm_digest_put_msg(&shuffled, MM_SUB_CUR, "1.a:2,S", 7, 10, h);
	cr_expect_str_eq((char *)in_order.data + 2, v[1]);
	mm_digest_lines(v, 4, d1);
	mm_digest_buf(&in_order, 4, d2);
	mm_digest_buf(&shuffled, 4, d3);
	cr_expect_eq(memcmp(d1, d2, 16), 0);
	cr_expect_eq(memcmp(d1, d3, 16), 0);
	mm_digest_lines(v, 0, d1);
	mm_digest_buf(&(struct mm_buf){ 0 }, 0, d2);
	cr_expect_eq(memcmp(d1, d2, 16), 0, "no lines");
	for (int i = 0; i < 4; i++)
		free(v[i]);
	mm_buf_free(&in_order);
	mm_buf_free(&shuffled);
}
