/* SPDX-License-Identifier: MIT
 * repl-epoch.c - the stale-epoch decision, the epochs known per account
 * (a hash table: one entry per account, its newest epochs) and the lines
 * of their file (repl-epoch.h). No I/O. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>
#include "mem.h"
#include "repl-epoch.h"

bool repl_epoch_stale(uint64_t epoch, uint64_t time_ns, const uint64_t *known, size_t n,
		      uint64_t *newer_r)
{
	if (epoch == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		/* ascending: the first newer epoch is the one that fenced it */
		if (known[i] <= epoch)
			continue;
		if (known[i] > time_ns)
			return false;
		if (newer_r != NULL)
			*newer_r = known[i];
		return true;
	}
	return false;
}

struct epoch_ent {
	char *account;		/* NULL: a free slot */
	uint64_t hash;
	uint8_t n;
	uint64_t ep[REPL_EPOCHS_KEEP];	/* ascending */
};

struct repl_epochs {
	struct epoch_ent *slots;
	size_t cap, used, epochs;	/* cap: a power of 2 */
};

struct repl_epochs *repl_epochs_new(void)
{
	struct repl_epochs *t = mm_calloc(1, sizeof(*t));

	t->cap = 64;
	t->slots = mm_calloc(t->cap, sizeof(*t->slots));
	return t;
}

void repl_epochs_free(struct repl_epochs **tp)
{
	struct repl_epochs *t = *tp;

	if (t == NULL)
		return;
	*tp = NULL;
	for (size_t i = 0; i < t->cap; i++)
		free(t->slots[i].account);
	free(t->slots);
	free(t);
}

/* Open addressing, linear probing: the slot of account, or the free slot
   where it would go. */
static struct epoch_ent *find(const struct repl_epochs *t, const char *account,
			      uint64_t hash)
{
	size_t i = (size_t)hash & (t->cap - 1);

	while (t->slots[i].account != NULL &&
	       (t->slots[i].hash != hash || strcmp(t->slots[i].account, account) != 0))
		i = (i + 1) & (t->cap - 1);
	return &t->slots[i];
}

static void grow(struct repl_epochs *t)
{
	struct epoch_ent *old = t->slots;
	size_t old_cap = t->cap;

	t->cap *= 2;
	t->slots = mm_calloc(t->cap, sizeof(*t->slots));
	for (size_t i = 0; i < old_cap; i++)
		if (old[i].account != NULL)
			*find(t, old[i].account, old[i].hash) = old[i];
	free(old);
}

bool repl_epochs_note(struct repl_epochs *t, const char *account, uint64_t epoch)
{
	uint64_t hash = XXH3_64bits(account, strlen(account));
	struct epoch_ent *e;
	size_t pos;

	if (epoch == 0)
		return false;
	e = find(t, account, hash);
	if (e->account == NULL) {
		if ((t->used + 1) * 2 > t->cap) {
			grow(t);
			e = find(t, account, hash);
		}
		e->account = mm_strdup(account);
		e->hash = hash;
		t->used++;
	}
	for (pos = 0; pos < e->n && e->ep[pos] < epoch; pos++)
		;
	if (pos < e->n && e->ep[pos] == epoch)
		return false;
	if (e->n == REPL_EPOCHS_KEEP) {
		if (pos == 0)
			return false;	/* older than every epoch kept */
		/* the oldest goes */
		memmove(e->ep, e->ep + 1, (pos - 1) * sizeof(e->ep[0]));
		e->ep[pos - 1] = epoch;
		return true;
	}
	memmove(e->ep + pos + 1, e->ep + pos, (e->n - pos) * sizeof(e->ep[0]));
	e->ep[pos] = epoch;
	e->n++;
	t->epochs++;
	return true;
}

const uint64_t *repl_epochs_get(const struct repl_epochs *t, const char *account,
				size_t *n_r)
{
	const struct epoch_ent *e = find(t, account, XXH3_64bits(account, strlen(account)));

	*n_r = e->account != NULL ? e->n : 0;
	return e->account != NULL ? e->ep : NULL;
}

size_t repl_epochs_count(const struct repl_epochs *t)
{
	return t->epochs;
}

static uint64_t line_check(const char *account, size_t alen, uint64_t epoch)
{
	char num[24];
	XXH3_state_t st;
	int n = snprintf(num, sizeof(num), "%" PRIu64 " ", epoch);

	XXH3_64bits_reset(&st);
	XXH3_64bits_update(&st, num, (size_t)n);
	XXH3_64bits_update(&st, account, alen);
	return XXH3_64bits_digest(&st);
}

void repl_epochs_line(struct mm_buf *out, const char *account, uint64_t epoch)
{
	mm_buf_printf(out, "%" PRIu64 " %016" PRIx64 " %s\n", epoch,
		      line_check(account, strlen(account), epoch), account);
}

static int cmp_ent(const void *a, const void *b)
{
	return strcmp((*(const struct epoch_ent *const *)a)->account,
		      (*(const struct epoch_ent *const *)b)->account);
}

void repl_epochs_format(const struct repl_epochs *t, struct mm_buf *out)
{
	const struct epoch_ent **ents = mm_calloc(t->used + 1, sizeof(*ents));
	size_t n = 0;

	for (size_t i = 0; i < t->cap; i++)
		if (t->slots[i].account != NULL)
			ents[n++] = &t->slots[i];
	if (n > 1)
		qsort(ents, n, sizeof(*ents), cmp_ent);
	mm_buf_puts(out, REPL_EPOCHS_HEADER);
	for (size_t i = 0; i < n; i++)
		for (unsigned int k = 0; k < ents[i]->n; k++)
			repl_epochs_line(out, ents[i]->account, ents[i]->ep[k]);
	free(ents);
}

/* One line without its newline: 0 with the epoch noted, or -1. */
static int parse_line(struct repl_epochs *t, const char *p, size_t len)
{
	uint64_t epoch = 0, check = 0;
	size_t i = 0, digits;
	char *account;

	for (digits = 0; i < len && p[i] >= '0' && p[i] <= '9'; i++, digits++) {
		if (epoch > (UINT64_MAX - (uint64_t)(p[i] - '0')) / 10)
			return -1;
		epoch = epoch * 10 + (uint64_t)(p[i] - '0');
	}
	if (digits == 0 || digits > 20 || (digits > 1 && p[0] == '0') || epoch == 0 ||
	    i + 18 > len || p[i] != ' ')
		return -1;
	i++;
	for (int k = 0; k < 16; k++, i++) {
		char c = p[i];

		if (c >= '0' && c <= '9')
			check = check << 4 | (uint64_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			check = check << 4 | (uint64_t)(c - 'a' + 10);
		else
			return -1;
	}
	if (p[i] != ' ' || ++i >= len)
		return -1;
	for (size_t k = i; k < len; k++)
		if ((unsigned char)p[k] < 0x20 || p[k] == 0x7f)
			return -1;
	if (check != line_check(p + i, len - i, epoch))
		return -1;
	account = mm_strndup(p + i, len - i);
	repl_epochs_note(t, account, epoch);
	free(account);
	return 0;
}

void repl_epochs_parse(struct repl_epochs *t, const char *data, size_t len,
		       struct repl_epochs_parsed *res_r)
{
	size_t off = 0, line = 0;

	memset(res_r, 0, sizeof(*res_r));
	while (off < len) {
		const char *nl = memchr(data + off, '\n', len - off);
		size_t n;

		if (nl == NULL) {
			res_r->torn = true;
			break;
		}
		n = (size_t)(nl - (data + off));
		line++;
		if (line == 1 && n + 1 == strlen(REPL_EPOCHS_HEADER) &&
		    memcmp(data + off, REPL_EPOCHS_HEADER, n) == 0) {
			res_r->header = true;
		} else if (parse_line(t, data + off, n) == 0) {
			res_r->lines++;
		} else {
			if (res_r->bad++ == 0)
				res_r->first_bad = line;
		}
		off += n + 1;
	}
}
