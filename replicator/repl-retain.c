/* SPDX-License-Identifier: MIT
 * repl-retain.c - the names and expiry of the expunged messages a replica
 * keeps (see repl-retain.h); the files themselves are repl-expunged.c's. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "buf.h"
#include "mem.h"
#include "repl-retain.h"

char *repl_retain_folder_key(const char *folder)
{
	size_t n = strlen(folder);
	char *k = mm_malloc(2 + 2 * n);

	k[0] = 'f';
	for (size_t i = 0; i < n; i++)
		snprintf(k + 1 + 2 * i, 3, "%02x", (unsigned char)folder[i]);
	k[1 + 2 * n] = '\0';
	return k;
}

char *repl_retain_file(uint64_t expunged_ns, enum mm_sub sub, const char *name)
{
	return mm_strdup_printf("%020" PRIu64 ".%c.%s", expunged_ns,
				sub == MM_SUB_NEW ? 'n' : 'c', name);
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int repl_retain_parse(const char *key, const char *file, struct repl_retained *r)
{
	size_t kn = strlen(key);
	struct mm_msgname mn;
	uint64_t ns = 0;
	const char *p = file;
	char *folder;

	if (key[0] != 'f' || kn % 2 != 1)
		return -1;
	for (size_t i = 0; i < 20; i++, p++) {
		if (*p < '0' || *p > '9' || ns > (UINT64_MAX - 9) / 10)
			return -1;
		ns = ns * 10 + (uint64_t)(*p - '0');
	}
	if (p[0] != '.' || (p[1] != 'n' && p[1] != 'c') || p[2] != '.' ||
	    mm_msgname_parse(p + 3, &mn) < 0)
		return -1;
	folder = mm_malloc(kn / 2 + 1);
	for (size_t i = 0; i < kn / 2; i++) {
		int hi = hexval(key[1 + 2 * i]), lo = hexval(key[2 + 2 * i]);

		if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
			free(folder);
			return -1;
		}
		folder[i] = (char)(hi << 4 | lo);
	}
	folder[kn / 2] = '\0';
	r->folder = folder;
	r->sub = p[1] == 'n' ? MM_SUB_NEW : MM_SUB_CUR;
	r->name = p + 3;
	r->expunged_ns = ns;
	return 0;
}

bool repl_retain_expired(uint64_t expunged_ns, uint64_t now_ns, uint64_t retention_s)
{
	uint64_t keep_ns = retention_s * 1000000000ULL;

	return retention_s == 0 || (now_ns > expunged_ns && now_ns - expunged_ns >= keep_ns);
}
