/* SPDX-License-Identifier: MIT
 * hb-placement.h - which stores hold each account, in order of preference:
 * rendezvous hashing over the members plus the [account] overrides. Pure:
 * health, failures and their timing belong to the callers. */
#ifndef HB_PLACEMENT_H
#define HB_PLACEMENT_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "cfg.h"

enum hb_placement_kind {
	HB_PLACEMENT_DEFAULT,	/* 1 + replicas stores out of every member */
	HB_PLACEMENT_SOLO,	/* one store, no copy: [account] replicate = no */
	HB_PLACEMENT_STORES,	/* exactly the stores named: [account] replicas */
};

/* One account's placement, filled by hb_placement_get(). The caller owns
   it (hb_placement_list_init/deinit) and reuses it from account to account;
   the fields are read-only for the caller. */
struct hb_placement_list {
	unsigned int *rank;	/* candidate store indices, best first */
	size_t n;		/* candidates in rank */
	/* The account's list is rank[0..want): its preferred active, then its
	   replicas. The candidates after it take over, in order, the copies of
	   stores of the list that fail. want <= n. */
	size_t want;
	const char *rule;	/* pattern of the override applied, NULL: none;
				   borrowed from the placement */
	/* private */
	uint64_t *weight;
	size_t cap, extra;
};

struct hb_placement;

/* A placement with no members that gives accounts 1 + replicas stores.
   Free with hb_placement_free(). */
struct hb_placement *hb_placement_new(unsigned int replicas);
/* The members of cfg ([node] name, then every [peer], once each), [hbmon]
   replicas, and one override per [account] section in file order, so the
   section mm_cfg_account() picks for an account is the one applied here:
   replicate = no gives one store, replicas = LIST exactly the stores named.
   When cfg is this store's own file (it is not one of its [peer]s), the
   list names the peers it sends to, and this store is added to it (and is
   the one store of replicate = no). */
struct hb_placement *hb_placement_from_cfg(const struct mm_cfg *cfg);
/* The same with the members added in strcmp order of their names, so
   that store indices are the member indices of the lease protocol. */
struct hb_placement *hb_placement_from_cfg_sorted(const struct mm_cfg *cfg);
void hb_placement_free(struct hb_placement **plp);

/* Adds member store name (copied). Returns its index, which stays valid;
   a name added before keeps the index it has. */
unsigned int hb_placement_add_store(struct hb_placement *pl, const char *name);
/* Accounts matching pattern (fnmatch(3) with FNM_PATHNAME, as [account]
   sections match) are placed by kind; the first override added that matches
   applies. For HB_PLACEMENT_STORES, stores[0..n) are member indices, n >= 1,
   each once; the account is held by all of them, ordered by weight. Other
   kinds ignore stores and n. */
void hb_placement_add_override(struct hb_placement *pl, const char *pattern,
			       enum hb_placement_kind kind,
			       const unsigned int *stores, size_t n);

size_t hb_placement_n_stores(const struct hb_placement *pl);
unsigned int hb_placement_replicas(const struct hb_placement *pl);
/* Name of store i (< hb_placement_n_stores()), borrowed from pl. */
const char *hb_placement_store(const struct hb_placement *pl, unsigned int i);
/* Index of the member called name, or -1. */
int hb_placement_find(const struct hb_placement *pl, const char *name);

/* The rendezvous weight of store for account: XXH3-64 of the account's
   bytes, seeded with XXH3-64 of the store name's bytes. The higher weight
   ranks first; equal weights rank by store name (strcmp). */
uint64_t hb_placement_weight(const char *account, const char *store);

/* Sizes l for pl's members; add no member to pl while l is in use. extra
   is how many candidates to rank after the list: as many as the failures
   to plan for, SIZE_MAX for all (ranking fewer is quicker with many
   members: each account costs members x ranked). */
void hb_placement_list_init(struct hb_placement_list *l, const struct hb_placement *pl,
			    size_t extra);
void hb_placement_list_deinit(struct hb_placement_list *l);
/* Fills l with account's ranking: the members by weight (DEFAULT; want is
   1 + replicas, capped at the members), the first member alone (SOLO), or
   the override's stores by weight (STORES; want is all of them); want + the
   extra of l_init at most. pl is only read: threads may share it, each
   with its own l. */
void hb_placement_get(const struct hb_placement *pl, const char *account,
		      struct hb_placement_list *l);

/* The active store of l's account when down[s] marks store s unavailable
   (down NULL: every store is up): the first store of its list that is up.
   Returns its index, or -1 when every store of the list is down. */
int hb_placement_active(const struct hb_placement_list *l, const bool *down);
/* The stores that are to hold l's account when down[] marks failed stores:
   the first want stores of the ranking that are up, best first, into
   hold_r (room for l->want). Returns how many: fewer than want when too few
   candidates are up (or ranked: more down than extra). hold_r[0] is the active when the returned count is not
   0 and hb_placement_active() is not -1; otherwise no surviving store has a
   copy of the account. */
size_t hb_placement_hold(const struct hb_placement_list *l, const bool *down,
			 unsigned int *hold_r);

#endif
