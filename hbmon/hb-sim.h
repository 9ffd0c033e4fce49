/* SPDX-License-Identifier: MIT
 * hb-sim.h - what-if for placement: generated stores and accounts, some
 * stores failed, and how actives and replicas spread before and after.
 * Pure (hb-placement.c does the placing); printing is mailmeshctl's. */
#ifndef HB_SIM_H
#define HB_SIM_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct hb_sim_settings {
	unsigned int stores;	/* 1..1000, named store01..storeNN */
	unsigned int accounts;	/* 1..10000000, seedS.example/userN */
	unsigned int fail;	/* 0..stores-1, chosen by seed */
	unsigned int replicas;	/* 1..64 */
	uint64_t seed;
};

/* Per store; [0] before the failures, [1] after. */
struct hb_sim_store {
	char *name;
	bool failed;
	size_t active[2], replicas[2];
	size_t gained_active;	/* accounts it became the active of */
	size_t gained_replicas;	/* copies it is to receive */
};

/* Load over stores: all of them before, the survivors after. */
struct hb_sim_load {
	double mean;
	size_t max;
	double max_mean;	/* max / mean; 0 when mean is 0 */
};

struct hb_sim {
	struct hb_sim_settings set;
	struct hb_sim_store *stores;	/* set.stores of them */
	unsigned int *failed;		/* set.fail store indices, ascending */
	struct hb_sim_load active[2], replicas[2];
	size_t moved_active;		/* accounts whose active changed */
	size_t receivers_active;	/* survivors that became an active */
	size_t moved_replicas;		/* copies placed on a new store */
	size_t receivers_replicas;	/* survivors that receive copies */
	size_t lost;		/* accounts with no copy left on a survivor */
	size_t short_copies;	/* accounts left with fewer than 1 + replicas
				   copies (not counting lost ones) */
};

/* Checks set. Returns 0, or -1 with *error_r (static) naming the bad
   setting. */
int hb_sim_check(const struct hb_sim_settings *set, const char **error_r);
/* Runs the simulation of a valid set (hb_sim_check); the result is owned
   by the caller (hb_sim_free). Deterministic: the same settings give the
   same result. */
struct hb_sim *hb_sim_run(const struct hb_sim_settings *set);
void hb_sim_free(struct hb_sim **simp);

#endif
