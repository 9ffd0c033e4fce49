/* SPDX-License-Identifier: MIT
 * digest.c - per-folder digest lines and their XXH3-128 (see digest.h).
 * Owns the line format both stores must agree on; no I/O. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>
#include "digest.h"
#include "journal.h"
#include "log.h"
#include "mem.h"

char *mm_digest_line_folder(void)
{
	return mm_strdup("F");
}

char *mm_digest_line_msg(enum mm_sub sub, const char *name, size_t name_len,
			 uint64_t size, const uint8_t *hash)
{
	char hex[33];

	if (hash == NULL)
		return mm_strdup_printf("M %s/%.*s %" PRIu64, mm_sub_str(sub), (int)name_len,
					name, size);
	mm_hash_hex(hash, hex);
	return mm_strdup_printf("M %s/%.*s %" PRIu64 " %s", mm_sub_str(sub), (int)name_len,
				name, size, hex);
}

char *mm_digest_line_meta(const char *name, size_t name_len, uint64_t size,
			  const uint8_t hash[16])
{
	char hex[33];

	mm_hash_hex(hash, hex);
	return mm_strdup_printf("X %.*s %" PRIu64 " %s", (int)name_len, name, size, hex);
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
