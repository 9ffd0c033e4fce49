/* SPDX-License-Identifier: MIT
 * hb-sim.c - the placement simulation: place generated accounts on
 * generated stores, fail some, count who serves and holds what. Pure. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "buf.h"
#include "hb-placement.h"
#include "hb-sim.h"
#include "log.h"
#include "mem.h"

static __thread char sim_err[128];

int hb_sim_check(const struct hb_sim_settings *set, const char **error_r)
{
	if (set->stores < 1 || set->stores > 1000)
		snprintf(sim_err, sizeof(sim_err), "stores must be 1..1000, not %u",
			 set->stores);
	else if (set->accounts < 1 || set->accounts > 10000000)
		snprintf(sim_err, sizeof(sim_err), "accounts must be 1..10000000, not %u",
			 set->accounts);
	else if (set->fail >= set->stores)
		snprintf(sim_err, sizeof(sim_err),
			 "fail must leave a store: 0..%u, not %u", set->stores - 1, set->fail);
	else if (set->replicas < 1 || set->replicas > 64)
		snprintf(sim_err, sizeof(sim_err), "replicas must be 1..64, not %u",
			 set->replicas);
	else
		return 0;
	*error_r = sim_err;
	return -1;
}

/* splitmix64: a small, well-mixed generator, so a seed picks the same
   failed stores on every machine. */
static uint64_t next_random(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static int cmp_uint(const void *a, const void *b)
{
	unsigned int x = *(const unsigned int *)a, y = *(const unsigned int *)b;

	return x < y ? -1 : x > y;
}

static void pick_failed(struct hb_sim *sim)
{
	unsigned int n = sim->set.stores, *idx = mm_calloc(n, sizeof(*idx));
	uint64_t x = sim->set.seed;

	/* the first fail entries of a Fisher-Yates shuffle */
	for (unsigned int i = 0; i < n; i++)
		idx[i] = i;
	for (unsigned int i = 0; i < sim->set.fail; i++) {
		unsigned int j = i + (unsigned int)(next_random(&x) % (n - i)), t = idx[i];

		idx[i] = idx[j];
		idx[j] = t;
	}
	qsort(idx, sim->set.fail, sizeof(*idx), cmp_uint);
	sim->failed = mm_calloc(sim->set.fail + 1, sizeof(*sim->failed));
	memcpy(sim->failed, idx, sim->set.fail * sizeof(*idx));
	for (unsigned int i = 0; i < sim->set.fail; i++)
		sim->stores[idx[i]].failed = true;
	free(idx);
}

static bool contains(const unsigned int *v, size_t n, unsigned int x)
{
	for (size_t i = 0; i < n; i++)
		if (v[i] == x)
			return true;
	return false;
}

/* One account: where it is before and after the failures. */
static void place_one(struct hb_sim *sim, const struct hb_placement_list *l,
		      const bool *down, unsigned int *before, unsigned int *after)
{
	size_t nb = hb_placement_hold(l, NULL, before), na;

	sim->stores[before[0]].active[0]++;
	for (size_t i = 1; i < nb; i++)
		sim->stores[before[i]].replicas[0]++;
	if (hb_placement_active(l, down) < 0) {
		sim->lost++;
		return;
	}
	na = hb_placement_hold(l, down, after);
	sim->stores[after[0]].active[1]++;
	if (after[0] != before[0]) {
		sim->moved_active++;
		sim->stores[after[0]].gained_active++;
	}
	for (size_t i = 1; i < na; i++)
		sim->stores[after[i]].replicas[1]++;
	for (size_t i = 0; i < na; i++) {
		if (!contains(before, nb, after[i])) {
			sim->moved_replicas++;
			sim->stores[after[i]].gained_replicas++;
		}
	}
	if (na < l->want)
		sim->short_copies++;
}

static void load_of(const struct hb_sim *sim, int phase, bool survivors_only,
		    bool replicas, struct hb_sim_load *load_r)
{
	size_t sum = 0, n = 0, max = 0;

	for (unsigned int i = 0; i < sim->set.stores; i++) {
		const struct hb_sim_store *st = &sim->stores[i];
		size_t v = replicas ? st->replicas[phase] : st->active[phase];

		if (survivors_only && st->failed)
			continue;
		sum += v;
		n++;
		if (v > max)
			max = v;
	}
	load_r->mean = n > 0 ? (double)sum / (double)n : 0;
	load_r->max = max;
	load_r->max_mean = load_r->mean > 0 ? (double)max / load_r->mean : 0;
}

struct hb_sim *hb_sim_run(const struct hb_sim_settings *set)
{
	struct hb_sim *sim = mm_calloc(1, sizeof(*sim));
	struct hb_placement *pl = hb_placement_new(set->replicas);
	struct hb_placement_list l;
	struct mm_buf name = { 0 };
	unsigned int *before, *after, width = 2;
	bool *down;
	const char *error;

	mm_assert(hb_sim_check(set, &error) == 0);
	sim->set = *set;
	sim->stores = mm_calloc(set->stores, sizeof(*sim->stores));
	for (unsigned int n = set->stores; n >= 100; n /= 10)
		width++;
	for (unsigned int i = 0; i < set->stores; i++) {
		unsigned int idx;

		sim->stores[i].name = mm_strdup_printf("store%0*u", (int)width, i + 1);
		idx = hb_placement_add_store(pl, sim->stores[i].name);
		/* placement indices are the simulation's */
		mm_assert(idx == i);
	}
	pick_failed(sim);
	down = mm_calloc(set->stores, sizeof(*down));
	for (unsigned int i = 0; i < set->stores; i++)
		down[i] = sim->stores[i].failed;
	before = mm_calloc(set->stores, sizeof(*before));
	after = mm_calloc(set->stores, sizeof(*after));
	hb_placement_list_init(&l, pl, set->fail);
	for (unsigned int i = 0; i < set->accounts; i++) {
		mm_buf_reset(&name);
		mm_buf_printf(&name, "seed%llu.example/user%07u",
			      (unsigned long long)set->seed, i + 1);
		hb_placement_get(pl, mm_buf_str(&name), &l);
		place_one(sim, &l, down, before, after);
	}
	for (unsigned int i = 0; i < set->stores; i++) {
		if (sim->stores[i].gained_active > 0)
			sim->receivers_active++;
		if (sim->stores[i].gained_replicas > 0)
			sim->receivers_replicas++;
	}
	load_of(sim, 0, false, false, &sim->active[0]);
	load_of(sim, 1, true, false, &sim->active[1]);
	load_of(sim, 0, false, true, &sim->replicas[0]);
	load_of(sim, 1, true, true, &sim->replicas[1]);
	hb_placement_list_deinit(&l);
	mm_buf_free(&name);
	free(before);
	free(after);
	free(down);
	hb_placement_free(&pl);
	return sim;
}

void hb_sim_free(struct hb_sim **simp)
{
	struct hb_sim *sim = *simp;

	if (sim == NULL)
		return;
	for (unsigned int i = 0; i < sim->set.stores; i++)
		free(sim->stores[i].name);
	free(sim->stores);
	free(sim->failed);
	free(sim);
	*simp = NULL;
}
