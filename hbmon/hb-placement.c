/* SPDX-License-Identifier: MIT
 * hb-placement.c - rendezvous (highest random weight) placement of accounts
 * on stores, and the [account] overrides. Pure: no I/O, no clock, no log. */
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>
#include "hb-placement.h"
#include "log.h"
#include "mem.h"

struct hb_store {
	char *name;
	uint64_t seed;		/* XXH3-64 of name */
};

struct hb_override {
	char *pattern;
	enum hb_placement_kind kind;
	unsigned int *stores;
	size_t n;
};

struct hb_placement {
	unsigned int replicas;
	struct hb_store *stores;
	size_t n_stores;
	struct hb_override *overrides;
	size_t n_overrides;
};

struct hb_placement *hb_placement_new(unsigned int replicas)
{
	struct hb_placement *pl = mm_calloc(1, sizeof(*pl));

	pl->replicas = replicas;
	return pl;
}

void hb_placement_free(struct hb_placement **plp)
{
	struct hb_placement *pl = *plp;

	if (pl == NULL)
		return;
	for (size_t i = 0; i < pl->n_stores; i++)
		free(pl->stores[i].name);
	for (size_t i = 0; i < pl->n_overrides; i++) {
		free(pl->overrides[i].pattern);
		free(pl->overrides[i].stores);
	}
	free(pl->stores);
	free(pl->overrides);
	free(pl);
	*plp = NULL;
}

int hb_placement_find(const struct hb_placement *pl, const char *name)
{
	for (size_t i = 0; i < pl->n_stores; i++)
		if (strcmp(pl->stores[i].name, name) == 0)
			return (int)i;
	return -1;
}

unsigned int hb_placement_add_store(struct hb_placement *pl, const char *name)
{
	int i = hb_placement_find(pl, name);

	if (i >= 0)
		return (unsigned int)i;
	pl->stores = mm_realloc(pl->stores, (pl->n_stores + 1) * sizeof(*pl->stores));
	pl->stores[pl->n_stores].name = mm_strdup(name);
	pl->stores[pl->n_stores].seed = XXH3_64bits(name, strlen(name));
	return (unsigned int)pl->n_stores++;
}

void hb_placement_add_override(struct hb_placement *pl, const char *pattern,
			       enum hb_placement_kind kind,
			       const unsigned int *stores, size_t n)
{
	struct hb_override *o;

	pl->overrides = mm_realloc(pl->overrides,
				   (pl->n_overrides + 1) * sizeof(*pl->overrides));
	o = &pl->overrides[pl->n_overrides++];
	memset(o, 0, sizeof(*o));
	o->pattern = mm_strdup(pattern);
	o->kind = kind;
	if (kind != HB_PLACEMENT_STORES)
		return;
	mm_assert(n >= 1);
	o->stores = mm_calloc(n, sizeof(*o->stores));
	for (size_t i = 0; i < n; i++) {
		mm_assert(stores[i] < pl->n_stores);
		for (size_t j = 0; j < i; j++)
			mm_assert(stores[j] != stores[i]);
		o->stores[i] = stores[i];
	}
	o->n = n;
}

/* Adds the override of one [account] section. In a file shared by the
   whole cluster the store lists itself as a [peer] (the replicator skips
   it), and a replicas list names every store holding the account. In a
   store's own file it cannot name itself: the list is the peers it sends
   the account to, and the store holds the account too. */
static void add_cfg_override(struct hb_placement *pl, const struct mm_account_cfg *a,
			     unsigned int self, bool shared)
{
	unsigned int *idx;
	size_t n = 0;

	if (!a->replicate) {
		if (shared)
			hb_placement_add_override(pl, a->pattern, HB_PLACEMENT_SOLO, NULL, 0);
		else
			hb_placement_add_override(pl, a->pattern, HB_PLACEMENT_STORES, &self, 1);
		return;
	}
	if (a->n_replicas == 0) {
		hb_placement_add_override(pl, a->pattern, HB_PLACEMENT_DEFAULT, NULL, 0);
		return;
	}
	idx = mm_calloc(a->n_replicas + 1, sizeof(*idx));
	if (!shared)
		idx[n++] = self;
	for (size_t i = 0; i < a->n_replicas; i++) {
		int s = hb_placement_find(pl, a->replicas[i]);
		bool dup = false;

		/* mm_cfg_load refuses names that are not a [peer] */
		mm_assert(s >= 0);
		for (size_t j = 0; j < n; j++)
			dup = dup || idx[j] == (unsigned int)s;
		if (!dup)
			idx[n++] = (unsigned int)s;
	}
	hb_placement_add_override(pl, a->pattern, HB_PLACEMENT_STORES, idx, n);
	free(idx);
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static struct hb_placement *from_cfg(const struct mm_cfg *cfg, bool sorted)
{
	struct hb_placement *pl = hb_placement_new(cfg->hb_replicas);
	const char **names = mm_calloc(cfg->n_peers + 1, sizeof(*names));
	bool shared = mm_cfg_peer(cfg, cfg->node_name) != NULL;
	size_t n = 0;

	names[n++] = cfg->node_name;
	for (size_t i = 0; i < cfg->n_peers; i++)
		names[n++] = cfg->peers[i].name;
	if (sorted)
		qsort(names, n, sizeof(*names), name_cmp);
	for (size_t i = 0; i < n; i++)
		hb_placement_add_store(pl, names[i]);
	free(names);
	for (size_t i = 0; i < cfg->n_accounts; i++)
		add_cfg_override(pl, &cfg->accounts[i],
				 (unsigned int)hb_placement_find(pl, cfg->node_name), shared);
	return pl;
}

struct hb_placement *hb_placement_from_cfg(const struct mm_cfg *cfg)
{
	return from_cfg(cfg, false);
}

struct hb_placement *hb_placement_from_cfg_sorted(const struct mm_cfg *cfg)
{
	return from_cfg(cfg, true);
}

size_t hb_placement_n_stores(const struct hb_placement *pl)
{
	return pl->n_stores;
}

unsigned int hb_placement_replicas(const struct hb_placement *pl)
{
	return pl->replicas;
}

const char *hb_placement_store(const struct hb_placement *pl, unsigned int i)
{
	mm_assert(i < pl->n_stores);
	return pl->stores[i].name;
}

static uint64_t weight_seeded(const char *account, size_t len, uint64_t seed)
{
	return XXH3_64bits_withSeed(account, len, seed);
}

uint64_t hb_placement_weight(const char *account, const char *store)
{
	return weight_seeded(account, strlen(account),
			     XXH3_64bits(store, strlen(store)));
}

void hb_placement_list_init(struct hb_placement_list *l, const struct hb_placement *pl,
			    size_t extra)
{
	size_t cap = pl->n_stores > 0 ? pl->n_stores : 1;

	memset(l, 0, sizeof(*l));
	l->rank = mm_calloc(cap, sizeof(*l->rank));
	l->weight = mm_calloc(cap, sizeof(*l->weight));
	l->cap = cap;
	l->extra = extra;
}

void hb_placement_list_deinit(struct hb_placement_list *l)
{
	free(l->rank);
	free(l->weight);
	memset(l, 0, sizeof(*l));
}

/* Whether candidate a ranks before candidate b. */
static bool ranks_before(const struct hb_placement *pl, uint64_t wa, unsigned int a,
			 uint64_t wb, unsigned int b)
{
	if (wa != wb)
		return wa > wb;
	return strcmp(pl->stores[a].name, pl->stores[b].name) < 0;
}

/* Puts candidate s in its place among the best limit so far: an
   insertion sort, members x limit steps per account. */
static void rank_insert(const struct hb_placement *pl, struct hb_placement_list *l,
			size_t limit, unsigned int s, uint64_t w)
{
	size_t i;

	if (l->n == limit) {
		if (!ranks_before(pl, w, s, l->weight[limit - 1], l->rank[limit - 1]))
			return;
		i = limit - 1;
	} else {
		i = l->n++;
	}
	while (i > 0 && ranks_before(pl, w, s, l->weight[i - 1], l->rank[i - 1])) {
		l->rank[i] = l->rank[i - 1];
		l->weight[i] = l->weight[i - 1];
		i--;
	}
	l->rank[i] = s;
	l->weight[i] = w;
}

static const struct hb_override *override_for(const struct hb_placement *pl,
					      const char *account)
{
	for (size_t i = 0; i < pl->n_overrides; i++)
		if (fnmatch(pl->overrides[i].pattern, account, FNM_PATHNAME) == 0)
			return &pl->overrides[i];
	return NULL;
}

void hb_placement_get(const struct hb_placement *pl, const char *account,
		      struct hb_placement_list *l)
{
	const struct hb_override *o = override_for(pl, account);
	size_t len = strlen(account), limit;

	mm_assert(l->cap >= pl->n_stores);
	l->n = 0;
	l->rule = o != NULL ? o->pattern : NULL;
	if (o != NULL && o->kind == HB_PLACEMENT_STORES) {
		for (size_t i = 0; i < o->n; i++)
			rank_insert(pl, l, o->n, o->stores[i],
				    weight_seeded(account, len, pl->stores[o->stores[i]].seed));
		l->want = l->n;
		return;
	}
	if (o != NULL && o->kind == HB_PLACEMENT_SOLO)
		l->want = 1;
	else
		l->want = (size_t)pl->replicas + 1;
	if (l->want > pl->n_stores)
		l->want = pl->n_stores;
	/* SOLO: nothing after the one store, no failure moves the account */
	limit = o != NULL && o->kind == HB_PLACEMENT_SOLO ? l->want :
		l->extra > pl->n_stores - l->want ? pl->n_stores : l->want + l->extra;
	for (size_t i = 0; i < pl->n_stores && limit > 0; i++)
		rank_insert(pl, l, limit, (unsigned int)i,
			    weight_seeded(account, len, pl->stores[i].seed));
}

int hb_placement_active(const struct hb_placement_list *l, const bool *down)
{
	for (size_t i = 0; i < l->want; i++)
		if (down == NULL || !down[l->rank[i]])
			return (int)l->rank[i];
	return -1;
}

size_t hb_placement_hold(const struct hb_placement_list *l, const bool *down,
			 unsigned int *hold_r)
{
	size_t k = 0;

	for (size_t i = 0; i < l->n && k < l->want; i++)
		if (down == NULL || !down[l->rank[i]])
			hold_r[k++] = l->rank[i];
	return k;
}
