/* SPDX-License-Identifier: MIT
 * digest.c - per-folder digest lines and their XXH3-128 (see digest.h).
 * Owns the line format both stores must agree on; no I/O. */
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>
#include "buf.h"
#include "digest.h"
#include "journal.h"
#include "log.h"
#include "mem.h"

char *mm_digest_line_folder(void)
{
	return mm_strdup("F");
}

/* Appends v in decimal. */
static void put_u64(struct mm_buf *b, uint64_t v)
{
	char d[20];
	size_t n = 0;

	do {
		d[sizeof(d) - ++n] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	mm_buf_append(b, d + sizeof(d) - n, n);
}

static void put_hash(struct mm_buf *b, const uint8_t hash[16])
{
	char hex[33];

	mm_hash_hex(hash, hex);
	mm_buf_append(b, " ", 1);
	mm_buf_append(b, hex, 32);
}

void mm_digest_put_msg(struct mm_buf *b, enum mm_sub sub, const char *name, size_t name_len,
		       uint64_t size, const uint8_t *hash)
{
	const char *s = mm_sub_str(sub);

	mm_buf_reserve(b, name_len + 64);
	mm_buf_append(b, "M ", 2);
	mm_buf_append(b, s, strlen(s));
	mm_buf_append(b, "/", 1);
	mm_buf_append(b, name, name_len);
	mm_buf_append(b, " ", 1);
	put_u64(b, size);
	if (hash != NULL)
		put_hash(b, hash);
	mm_buf_append(b, "", 1);
}

void mm_digest_put_meta(struct mm_buf *b, const char *name, size_t name_len, uint64_t size,
			const uint8_t hash[16])
{
	mm_buf_reserve(b, name_len + 64);
	mm_buf_append(b, "X ", 2);
	mm_buf_append(b, name, name_len);
	mm_buf_append(b, " ", 1);
	put_u64(b, size);
	put_hash(b, hash);
	mm_buf_append(b, "", 1);
}

char *mm_digest_line_msg(enum mm_sub sub, const char *name, size_t name_len,
			 uint64_t size, const uint8_t *hash)
{
	struct mm_buf b = { 0 };

	mm_digest_put_msg(&b, sub, name, name_len, size, hash);
	return (char *)b.data;
}

char *mm_digest_line_meta(const char *name, size_t name_len, uint64_t size,
			  const uint8_t hash[16])
{
	struct mm_buf b = { 0 };

	mm_digest_put_meta(&b, name, name_len, size, hash);
	return (char *)b.data;
}

struct mm_digest {
	XXH3_state_t *st;
};

struct mm_digest *mm_digest_init(void)
{
	struct mm_digest *dg = mm_calloc(1, sizeof(*dg));

	dg->st = XXH3_createState();
	if (dg->st == NULL)
		mm_panic("xxhash: out of memory");
	XXH3_128bits_reset(dg->st);
	return dg;
}

void mm_digest_add(struct mm_digest *dg, const char *line)
{
	XXH3_128bits_update(dg->st, line, strlen(line) + 1);
}

void mm_digest_final(struct mm_digest **dgp, uint8_t digest_r[16])
{
	struct mm_digest *dg = *dgp;
	XXH128_canonical_t c;

	XXH128_canonicalFromHash(&c, XXH3_128bits_digest(dg->st));
	memcpy(digest_r, c.digest, 16);
	XXH3_freeState(dg->st);
	free(dg);
	*dgp = NULL;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void mm_digest_lines(char **lines, size_t n, uint8_t digest_r[16])
{
	struct mm_digest *dg = mm_digest_init();

	if (n > 1)
		qsort(lines, n, sizeof(*lines), cmp_str);
	for (size_t i = 0; i < n; i++)
		mm_digest_add(dg, lines[i]);
	mm_digest_final(&dg, digest_r);
}

void mm_digest_buf(const struct mm_buf *lines, size_t n, uint8_t digest_r[16])
{
	const char *p = (const char *)lines->data, **v;
	bool sorted = true;
	XXH128_canonical_t c;

	if (n == 0 || lines->len == 0) {
		XXH128_canonicalFromHash(&c, XXH3_128bits("", 0));
		memcpy(digest_r, c.digest, 16);
		return;
	}
	v = mm_malloc(n * sizeof(*v));
	for (size_t i = 0; i < n; i++) {
		v[i] = p;
		p += strlen(p) + 1;
		if (i > 0 && sorted && strcmp(v[i - 1], v[i]) > 0)
			sorted = false;
	}
	mm_assert(p == (const char *)lines->data + lines->len);
	if (sorted) {
		/* in order and back to back: the lines as they lie */
		XXH128_canonicalFromHash(&c, XXH3_128bits(lines->data, lines->len));
		memcpy(digest_r, c.digest, 16);
	} else {
		struct mm_digest *dg = mm_digest_init();

		qsort(v, n, sizeof(*v), cmp_str);
		for (size_t i = 0; i < n; i++)
			XXH3_128bits_update(dg->st, v[i], strlen(v[i]) + 1);
		mm_digest_final(&dg, digest_r);
	}
	free(v);
}
