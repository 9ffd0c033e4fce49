/* SPDX-License-Identifier: MIT
 * undelete-core.c - mailmeshctl undelete's options, times and choice of
 * copies (see undelete-core.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "cfg.h"
#include "maildir.h"
#include "undelete-core.h"

int ud_parse_time(const char *s, uint64_t now_ns, uint64_t *ns_r)
{
	struct tm tm = { 0 };
	const char *end;
	uint64_t ms;

	if (s[0] == '@') {
		char *e;
		unsigned long long v = strtoull(s + 1, &e, 10);

		if (s[1] < '0' || s[1] > '9' || *e != '\0' || v > UINT64_MAX / 1000000000ULL)
			return -1;
		*ns_r = v * 1000000000ULL;
		return 0;
	}
	if ((end = strptime(s, "%Y-%m-%d", &tm)) != NULL) {
		if (*end == 'T') {
			const char *e2 = strptime(end + 1, "%H:%M:%S", &tm);

			if (e2 == NULL)
				e2 = strptime(end + 1, "%H:%M", &tm);
			end = e2;
		}
		if (end == NULL || *end != '\0')
			return -1;
		time_t t = timegm(&tm);

		if (t < 0)
			return -1;
		*ns_r = (uint64_t)t * 1000000000ULL;
		return 0;
	}
	if (mm_parse_duration_ms(s, &ms) < 0 || ms > now_ns / 1000000)
		return -1;
	*ns_r = now_ns - ms * 1000000;
	return 0;
}

int ud_parse(int argc, char **argv, uint64_t now_ns, struct ud_opts *o, const char **error_r)
{
	memset(o, 0, sizeof(*o));
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--dry-run") == 0) {
			o->dry_run = true;
		} else if (strcmp(argv[i], "--folder") == 0 && i + 1 < argc) {
			o->folder = argv[++i];
			if (strstr(o->folder, "..") != NULL || o->folder[0] == '/') {
				*error_r = "--folder must name a folder below the account";
				return -1;
			}
		} else if (strcmp(argv[i], "--since") == 0 && i + 1 < argc) {
			if (ud_parse_time(argv[++i], now_ns, &o->since_ns) < 0) {
				*error_r = "--since takes 2h, 7d, YYYY-MM-DD[THH:MM[:SS]] (UTC) "
					   "or @SECONDS";
				return -1;
			}
		} else if (argv[i][0] == '-' || o->account != NULL) {
			*error_r = "usage: undelete ACCOUNT [--folder F] [--since TIME] [--dry-run]";
			return -1;
		} else {
			o->account = argv[i];
		}
	}
	if (o->account == NULL) {
		*error_r = "usage: undelete ACCOUNT [--folder F] [--since TIME] [--dry-run]";
		return -1;
	}
	return 0;
}

static size_t ident_len(const char *name)
{
	struct mm_msgname mn;

	return mm_msgname_parse(name, &mn) == 0 ? mn.base_len : strlen(name);
}

static int cmp_ident(const struct ud_item *a, const struct ud_item *b)
{
	size_t la = ident_len(a->name), lb = ident_len(b->name);
	int c = strcmp(a->folder, b->folder);

	if (c != 0)
		return c;
	c = memcmp(a->name, b->name, la < lb ? la : lb);
	if (c != 0)
		return c;
	return la < lb ? -1 : la > lb;
}

static int cmp_item(const void *x, const void *y)
{
	const struct ud_item *a = x, *b = y;
	int c = cmp_ident(a, b);

	if (c != 0)
		return c;
	if (a->expunged_ns != b->expunged_ns)
		return a->expunged_ns > b->expunged_ns ? -1 : 1;
	return a->peer < b->peer ? -1 : a->peer > b->peer;
}

size_t ud_dedupe(struct ud_item *items, size_t n)
{
	size_t out = 0;

	if (n == 0)
		return 0;
	qsort(items, n, sizeof(*items), cmp_item);
	for (size_t i = 0; i < n; i++) {
		if (out > 0 && cmp_ident(&items[out - 1], &items[i]) == 0) {
			free(items[i].folder);
			free(items[i].name);
			continue;
		}
		items[out++] = items[i];
	}
	return out;
}

void ud_items_free(struct ud_item *items, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(items[i].folder);
		free(items[i].name);
	}
	free(items);
}
