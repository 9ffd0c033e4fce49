/* SPDX-License-Identifier: MIT
 * repl-moved.c - deliveries and copies of the last minute by account and
 * size tags, taken by the expunges that complete a move (see
 * repl-moved.h): an open-addressing table, rebuilt without what expired
 * or was taken as it fills. */
#include <stdlib.h>
#include <string.h>
#include "maildir.h"
#include "mem.h"
#include "repl-moved.h"

struct slot {
	uint64_t key;		/* 0: empty */
	uint64_t time_ns;	/* the latest noted */
	uint32_t count;		/* noted and not taken yet */
};

struct repl_moved {
	uint64_t keep_ns;
	struct slot *t;
	size_t cap, n;		/* cap a power of two, n slots used */
	uint64_t newest;	/* the latest time noted */
};

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
	for (size_t k = 0; k < n; k++)
		h = (h ^ ((const unsigned char *)p)[k]) * 0x100000001b3ULL;
	return h;
}

/* FNV-1a over the account and the size tags (*key_r), and the folder too
   (*fkey_r); false when the name has no ,S= (never a move). A collision
   costs one expunge counted, or kept, as a move's. */
static bool keys_of(const char *account, const char *folder, const char *name,
		    uint64_t *key_r, uint64_t *fkey_r)
{
	struct mm_msgname mn;
	uint64_t tags[2], h;

	if (mm_msgname_parse(name, &mn) < 0 || !mn.has_size)
		return false;
	tags[0] = mn.size;
	tags[1] = mn.has_vsize ? mn.vsize + 1 : 0;
	h = fnv(0xcbf29ce484222325ULL, account, strlen(account) + 1);
	h = fnv(h, tags, sizeof(tags));
	*key_r = h | 1;
	*fkey_r = fnv(h, folder, strlen(folder) + 1) | 1;
	if (*fkey_r == *key_r)
		*fkey_r ^= 2;
	return true;
}

struct repl_moved *repl_moved_new(uint64_t keep_ns)
{
	struct repl_moved *m = mm_calloc(1, sizeof(*m));

	m->keep_ns = keep_ns;
	m->cap = 64;
	m->t = mm_calloc(m->cap, sizeof(*m->t));
	return m;
}

void repl_moved_free(struct repl_moved **mp)
{
	if (*mp == NULL)
		return;
	free((*mp)->t);
	mm_free(mp);
}

static struct slot *find(const struct repl_moved *m, uint64_t key)
{
	size_t i = (size_t)(key * 0x9e3779b97f4a7c15ULL) & (m->cap - 1);

	while (m->t[i].key != 0 && m->t[i].key != key)
		i = (i + 1) & (m->cap - 1);
	return &m->t[i];
}

static bool live(const struct repl_moved *m, const struct slot *s)
{
	return s->key != 0 && s->count > 0 && s->time_ns + m->keep_ns > m->newest;
}

/* Keeps what is live, in a table a quarter full at most. */
static void rebuild(struct repl_moved *m)
{
	struct slot *old = m->t;
	size_t old_cap = m->cap, n = 0;

	for (size_t i = 0; i < old_cap; i++)
		if (live(m, &old[i]))
			n++;
	while ((n + 1) * 4 > m->cap)
		m->cap *= 2;
	while (m->cap > 64 && (n + 1) * 16 < m->cap)
		m->cap /= 2;
	m->t = mm_calloc(m->cap, sizeof(*m->t));
	m->n = 0;
	for (size_t i = 0; i < old_cap; i++) {
		if (!live(m, &old[i]))
			continue;
		*find(m, old[i].key) = old[i];
		m->n++;
	}
	free(old);
}

static void bump(struct repl_moved *m, uint64_t key, uint64_t time_ns)
{
	struct slot *s;

	if ((m->n + 1) * 2 > m->cap)
		rebuild(m);
	s = find(m, key);
	if (s->key == 0) {
		m->n++;
		s->key = key;
	} else if (s->time_ns + m->keep_ns <= time_ns) {
		s->count = 0;	/* what was noted before has expired */
	}
	s->count++;
	if (time_ns > s->time_ns)
		s->time_ns = time_ns;
}

void repl_moved_note(struct repl_moved *m, const char *account, const char *folder,
		     const char *name, uint64_t time_ns)
{
	uint64_t key, fkey;

	if (!keys_of(account, folder, name, &key, &fkey))
		return;
	if (time_ns > m->newest)
		m->newest = time_ns;
	bump(m, key, time_ns);
	bump(m, fkey, time_ns);
}

/* What is noted under key within keep_ns before time_ns. */
static uint32_t count_at(const struct repl_moved *m, const struct slot *s, uint64_t time_ns)
{
	if (s->key == 0 || s->time_ns > time_ns || time_ns - s->time_ns >= m->keep_ns)
		return 0;
	return s->count;
}

bool repl_moved_take(struct repl_moved *m, const char *account, const char *folder,
		     const char *name, uint64_t time_ns)
{
	uint64_t key, fkey;
	struct slot *all;
	uint32_t here;

	if (!keys_of(account, folder, name, &key, &fkey))
		return false;
	all = find(m, key);
	here = count_at(m, find(m, fkey), time_ns);
	/* deliveries into this folder are not its move: an expunge of mail
	   that just arrived would take its own delivery */
	if (count_at(m, all, time_ns) <= here)
		return false;
	all->count--;
	return true;
}

uint64_t repl_moved_size(const struct repl_moved *m)
{
	return m->n;
}
