/* SPDX-License-Identifier: MIT
 * repl-cursor.c - encodes and checks the two slots of a replication cursor
 * file (repl-cursor.h); the daemon's reads and writes are in repl-session.c. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>
#include "repl-cursor.h"

#define DIGITS 20

unsigned int repl_cursor_format(uint64_t lsn, char out[REPL_CURSOR_SLOT_LEN])
{
	char num[DIGITS + 1];
	int n;

	snprintf(num, sizeof(num), "%020" PRIu64, lsn);
	memset(out, '\n', REPL_CURSOR_SLOT_LEN);
	n = snprintf(out, REPL_CURSOR_SLOT_LEN, "%s %016" PRIx64 "\n", num,
		     (uint64_t)XXH3_64bits(num, DIGITS));
	out[n] = '\n';	/* snprintf's NUL */
	return (unsigned int)(lsn & 1);
}

static int slot_parse(const char *p, size_t len, uint64_t *lsn_r)
{
	char num[DIGITS + 1], *end;
	uint64_t sum;

	if (len < DIGITS + 1 + 16 + 1 || p[DIGITS] != ' ' || p[DIGITS + 17] != '\n')
		return -1;
	for (int i = 0; i < DIGITS; i++)
		if (p[i] < '0' || p[i] > '9')
			return -1;
	for (int i = DIGITS + 1; i < DIGITS + 17; i++)
		if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f')))
			return -1;
	memcpy(num, p, DIGITS);
	num[DIGITS] = '\0';
	sum = strtoull(p + DIGITS + 1, &end, 16);
	if (sum != (uint64_t)XXH3_64bits(num, DIGITS))
		return -1;
	*lsn_r = strtoull(num, NULL, 10);
	return 0;
}

uint64_t repl_cursor_parse(const char *data, size_t len, int *valid_r)
{
	uint64_t best = 0, lsn;
	int valid = 0;

	for (size_t off = 0; off < 2 * REPL_CURSOR_SLOT_OFF; off += REPL_CURSOR_SLOT_OFF) {
		if (off < len && slot_parse(data + off, len - off, &lsn) == 0) {
			if (!valid || lsn > best)
				best = lsn;
			valid = 1;
		}
	}
	if (!valid && len > 0 && len < 32 && data[len - 1] == '\n') {
		/* the old form: digits and a newline, nothing else */
		size_t i;

		for (i = 0; i + 1 < len && data[i] >= '0' && data[i] <= '9'; i++)
			;
		if (i > 0 && i + 1 == len) {
			best = strtoull(data, NULL, 10);
			valid = 1;
		}
	}
	*valid_r = valid;
	return valid ? best : 0;
}
