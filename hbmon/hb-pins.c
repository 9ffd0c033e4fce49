/* SPDX-License-Identifier: MIT
 * hb-pins.c - the pin table: entries sorted by account, last writer wins
 * by seq, pins over 16 and tombstones over 16 dropped the same way on every
 * voter, round-robin gossip, the in-force snapshot and the file format. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>
#include "buf.h"
#include "hb-pins.h"
#include "log.h"
#include "mem.h"

struct hb_pins {
	/* sorted by account (strcmp); one more for an insert before the
	   bounds are enforced */
	struct hb_pin_def e[HB_PINS_ENTRIES_MAX + 1];
	size_t n;
	uint64_t floor;		/* the highest seq of an evicted tombstone */
	size_t cursor;		/* gossip: the next entry */
	bool has_first;		/* gossip this account next */
	char first[HB_WIRE_ACCOUNT_MAX + 1];
};

uint64_t hb_pins_hash(const char *account)
{
	return XXH3_64bits(account, strlen(account));
}

struct hb_pins *hb_pins_new(void)
{
	return mm_calloc(1, sizeof(struct hb_pins));
}

struct hb_pins *hb_pins_dup(const struct hb_pins *p)
{
	struct hb_pins *c = hb_pins_new();

	*c = *p;
	return c;
}

void hb_pins_free(struct hb_pins **pp)
{
	mm_free(pp);
}

/* The index of account, or -1 with *pos_r where it would go. */
static int find(const struct hb_pins *p, const char *account, size_t *pos_r)
{
	size_t lo = 0, hi = p->n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(p->e[mid].account, account);

		if (c == 0)
			return (int)mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (pos_r != NULL)
		*pos_r = lo;
	return -1;
}

static void put(struct hb_pins *p, const char *account, uint8_t member, uint64_t seq)
{
	size_t pos = 0;
	int i = find(p, account, &pos);

	if (i < 0) {
		mm_assert(p->n <= HB_PINS_ENTRIES_MAX);
		memmove(&p->e[pos + 1], &p->e[pos], (p->n - pos) * sizeof(p->e[0]));
		p->n++;
		memset(&p->e[pos], 0, sizeof(p->e[pos]));
		snprintf(p->e[pos].account, sizeof(p->e[pos].account), "%s", account);
		i = (int)pos;
	}
	p->e[i].member = member;
	p->e[i].seq = seq;
}

size_t hb_pins_in_force(const struct hb_pins *p)
{
	size_t n = 0;

	for (size_t i = 0; i < p->n; i++)
		n += p->e[i].member != HB_WIRE_PIN_NONE;
	return n;
}

/* The oldest entry that is a pin (tomb false) or a tombstone: lowest seq,
   then lowest account name, so every voter picks the same. */
static size_t oldest(const struct hb_pins *p, bool tomb)
{
	size_t best = p->n;

	for (size_t i = 0; i < p->n; i++) {
		if ((p->e[i].member == HB_WIRE_PIN_NONE) != tomb)
			continue;
		if (best == p->n || p->e[i].seq < p->e[best].seq)
			best = i;	/* ties: the first, the lowest name */
	}
	return best;
}

/* The bounds, the same way on every voter: the oldest pins over
   HB_PINS_MAX become tombstones of the same seq (which win over them
   wherever they are merged), the oldest tombstones over HB_PINS_TOMBS_MAX
   go, and the floor keeps them from coming back. */
static void enforce(struct hb_pins *p)
{
	while (hb_pins_in_force(p) > HB_PINS_MAX)
		p->e[oldest(p, false)].member = HB_WIRE_PIN_NONE;
	while (p->n - hb_pins_in_force(p) > HB_PINS_TOMBS_MAX) {
		size_t i = oldest(p, true);

		if (p->e[i].seq > p->floor)
			p->floor = p->e[i].seq;
		memmove(&p->e[i], &p->e[i + 1], (p->n - i - 1) * sizeof(p->e[0]));
		p->n--;
	}
}

int hb_pins_set(struct hb_pins *p, const char *account, uint8_t member, uint64_t now_ns,
		const char **error_r)
{
	static char err[128];
	int i = find(p, account, NULL);
	bool pinned = i >= 0 && p->e[i].member != HB_WIRE_PIN_NONE;
	uint64_t seq = now_ns;

	mm_assert(account[0] != '\0' && strlen(account) <= HB_WIRE_ACCOUNT_MAX);
	if (member == HB_WIRE_PIN_NONE ? !pinned : pinned && p->e[i].member == member)
		return 0;
	if (member != HB_WIRE_PIN_NONE && !pinned && hb_pins_in_force(p) >= HB_PINS_MAX) {
		snprintf(err, sizeof(err), "%d pins in force already (the most there can be); "
			 "clear one with 'promote ACCOUNT --clear'", HB_PINS_MAX);
		*error_r = err;
		return -1;
	}
	if (i >= 0 && p->e[i].seq >= seq)
		seq = p->e[i].seq + 1;
	if (p->floor >= seq)
		seq = p->floor + 1;
	put(p, account, member, seq);
	enforce(p);
	p->has_first = true;
	snprintf(p->first, sizeof(p->first), "%s", account);
	return 1;
}

bool hb_pins_merge(struct hb_pins *p, const struct hb_pin_def *def)
{
	int i = find(p, def->account, NULL);
	uint64_t hash, floor = p->floor;

	if (def->seq == 0 || def->account[0] == '\0')
		return false;
	if (i >= 0) {
		const struct hb_pin_def *e = &p->e[i];

		if (def->seq < e->seq || (def->seq == e->seq && def->member <= e->member))
			return false;
	} else if (def->seq <= p->floor) {
		return false;
	}
	hash = hb_pins_table_hash(p);
	put(p, def->account, def->member, def->seq);
	enforce(p);
	return hb_pins_table_hash(p) != hash || p->floor != floor;
}

int hb_pins_get(const struct hb_pins *p, const char *account, uint64_t *seq_r)
{
	int i = find(p, account, NULL);

	if (seq_r != NULL)
		*seq_r = i >= 0 ? p->e[i].seq : 0;
	if (i < 0 || p->e[i].member == HB_WIRE_PIN_NONE)
		return -1;
	return p->e[i].member;
}

size_t hb_pins_count(const struct hb_pins *p)
{
	return p->n;
}

const struct hb_pin_def *hb_pins_at(const struct hb_pins *p, size_t i)
{
	mm_assert(i < p->n);
	return &p->e[i];
}

uint64_t hb_pins_floor(const struct hb_pins *p)
{
	return p->floor;
}

uint64_t hb_pins_table_hash(const struct hb_pins *p)
{
	struct mm_buf b = { 0 };
	uint64_t h;

	for (size_t i = 0; i < p->n; i++) {
		mm_buf_append(&b, p->e[i].account, strlen(p->e[i].account) + 1);
		mm_buf_put_u8(&b, p->e[i].member);
		mm_buf_put_u64(&b, p->e[i].seq);
	}
	h = XXH3_64bits(b.data, b.len);
	mm_buf_free(&b);
	return h;
}

bool hb_pins_next(struct hb_pins *p, struct hb_pin_def *def_r)
{
	size_t i;
	int f;

	if (p->n == 0)
		return false;
	if (p->has_first && (f = find(p, p->first, NULL)) >= 0)
		i = (size_t)f;
	else
		i = p->cursor % p->n;
	p->has_first = false;
	p->cursor = i + 1;
	*def_r = p->e[i];
	return true;
}

static int force_cmp(const void *a, const void *b)
{
	const struct hb_pin_force *x = a, *y = b;

	return x->hash < y->hash ? -1 : x->hash > y->hash;
}

size_t hb_pins_snapshot(const struct hb_pins *p, struct hb_pin_force *out)
{
	struct hb_pin_force all[HB_PINS_ENTRIES_MAX + 1];
	size_t n = 0, k = 0;

	for (size_t i = 0; i < p->n; i++) {
		if (p->e[i].member == HB_WIRE_PIN_NONE)
			continue;
		all[n].hash = hb_pins_hash(p->e[i].account);
		all[n++].member = p->e[i].member;
	}
	qsort(all, n, sizeof(all[0]), force_cmp);
	for (size_t i = 0; i < n; i++) {
		/* a collision: neither account is pinned (no voter can tell
		   which one its entry means) */
		if ((i > 0 && all[i - 1].hash == all[i].hash) ||
		    (i + 1 < n && all[i + 1].hash == all[i].hash))
			continue;
		mm_assert(k < HB_PINS_MAX);
		out[k++] = all[i];
	}
	return k;
}

void hb_pins_format(const struct hb_pins *p, char *const *names, size_t n_names,
		    struct mm_buf *out)
{
	mm_buf_printf(out, "mailmesh-pins 1\nfloor %" PRIu64 "\n", p->floor);
	for (size_t i = 0; i < p->n; i++) {
		const struct hb_pin_def *e = &p->e[i];

		mm_assert(e->member == HB_WIRE_PIN_NONE || e->member < n_names);
		mm_buf_printf(out, "%" PRIu64 " %s %s\n", e->seq,
			      e->member == HB_WIRE_PIN_NONE ? "-" : names[e->member], e->account);
	}
}

/* A decimal u64 at *s, up to a space; advances *s past the space. */
static bool parse_u64(const char **s, const char *end, uint64_t *v_r)
{
	const char *p = *s;
	uint64_t v = 0;

	if (p == end || *p < '0' || *p > '9')
		return false;
	for (; p < end && *p >= '0' && *p <= '9'; p++) {
		if (v > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
			return false;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	if (p != end && *p != ' ')
		return false;
	*s = p == end ? p : p + 1;
	*v_r = v;
	return true;
}

int hb_pins_parse(const char *text, size_t len, char *const *names, size_t n_names,
		  struct hb_pins **p_r, size_t *dropped_r, const char **error_r)
{
	static char err[160];
	struct hb_pins *p = hb_pins_new();
	const char *s = text, *end = text + len;
	unsigned int line = 0;

	*dropped_r = 0;
	while (s < end) {
		const char *nl = memchr(s, '\n', (size_t)(end - s)), *q = s, *sp;
		uint64_t seq;
		size_t alen;
		int member = -1;

		line++;
		if (nl == NULL) {
			snprintf(err, sizeof(err), "line %u: no newline at the end", line);
			goto bad;
		}
		if (line == 1) {
			if ((size_t)(nl - s) != 15 || memcmp(s, "mailmesh-pins 1", 15) != 0) {
				snprintf(err, sizeof(err), "line 1: not 'mailmesh-pins 1'");
				goto bad;
			}
		} else if (line == 2) {
			if (nl - s < 6 || memcmp(s, "floor ", 6) != 0 ||
			    (q = s + 6, !parse_u64(&q, nl, &p->floor)) || q != nl) {
				snprintf(err, sizeof(err), "line 2: not 'floor SEQ'");
				goto bad;
			}
		} else {
			if (!parse_u64(&q, nl, &seq) || seq == 0 || q == nl ||
			    (sp = memchr(q, ' ', (size_t)(nl - q))) == NULL || sp == q) {
				snprintf(err, sizeof(err), "line %u: not 'SEQ MEMBER ACCOUNT'", line);
				goto bad;
			}
			alen = (size_t)(nl - sp - 1);
			if (alen == 0 || alen > HB_WIRE_ACCOUNT_MAX) {
				snprintf(err, sizeof(err), "line %u: account of %zu bytes", line, alen);
				goto bad;
			}
			for (const char *c = sp + 1; c < nl; c++)
				if ((unsigned char)*c < 0x20 || *c == 0x7f) {
					snprintf(err, sizeof(err), "line %u: control byte in the account",
						 line);
					goto bad;
				}
			if (p->n == HB_PINS_ENTRIES_MAX) {
				snprintf(err, sizeof(err), "line %u: more than %d entries", line,
					 HB_PINS_ENTRIES_MAX);
				goto bad;
			}
			if (!(sp - q == 1 && *q == '-')) {
				for (size_t m = 0; m < n_names && member < 0; m++)
					if (strlen(names[m]) == (size_t)(sp - q) &&
					    memcmp(names[m], q, (size_t)(sp - q)) == 0)
						member = (int)m;
				if (member < 0) {
					(*dropped_r)++;
					s = nl + 1;
					continue;
				}
			}
			char account[HB_WIRE_ACCOUNT_MAX + 1];

			memcpy(account, sp + 1, alen);
			account[alen] = '\0';
			if (find(p, account, NULL) >= 0) {
				snprintf(err, sizeof(err), "line %u: a second entry for the account",
					 line);
				goto bad;
			}
			put(p, account, member < 0 ? HB_WIRE_PIN_NONE : (uint8_t)member, seq);
		}
		s = nl + 1;
	}
	if (line < 2) {
		snprintf(err, sizeof(err), "%s", line == 0 ? "empty" : "no floor line");
		goto bad;
	}
	enforce(p);
	*p_r = p;
	return 0;
bad:
	hb_pins_free(&p);
	*error_r = err;
	return -1;
}
