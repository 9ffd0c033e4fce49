/* SPDX-License-Identifier: MIT
 * test-placement.c - rendezvous placement (hb-placement.c), its config
 * overrides, and the failure simulation (hb-sim.c). */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cfg.h"
#include "hb-placement.h"
#include "hb-sim.h"
#include "mem.h"

#define NODE(name) "[node]\nname = " name "\nstore = /srv/mail\n" \
	"state = /var/lib/mailmesh\nmount = /mnt/mail\n"
#define N_ACCOUNTS 5000

static struct hb_placement *pl;
static struct hb_placement_list l;
static struct mm_cfg *cfg;

static void teardown(void)
{
	hb_placement_list_deinit(&l);
	hb_placement_free(&pl);
	mm_cfg_free(&cfg);
}

TestSuite(placement, .fini = teardown);

static char *account(unsigned int i)
{
	static char buf[64];

	snprintf(buf, sizeof(buf), "example%u.org/user%u", i % 7, i);
	return buf;
}

/* n stores store01..storeNN; skip (1-based, 0: none) is left out. */
static struct hb_placement *stores(unsigned int n, unsigned int replicas, unsigned int skip)
{
	struct hb_placement *p = hb_placement_new(replicas);

	for (unsigned int i = 1; i <= n; i++) {
		char name[16];

		if (i == skip)
			continue;
		snprintf(name, sizeof(name), "store%02u", i);
		hb_placement_add_store(p, name);
	}
	return p;
}

/* The names of l's list (rank[0..want)), space-separated, for comparing
   placements whose store indices differ. */
static char *list_names(const struct hb_placement *p, const struct hb_placement_list *pl_l)
{
	static char buf[512];
	size_t len = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < pl_l->want; i++)
		len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%s%s", i ? " " : "",
					hb_placement_store(p, pl_l->rank[i]));
	return buf;
}

static bool list_has(const struct hb_placement *p, const struct hb_placement_list *pl_l,
		     const char *name)
{
	for (size_t i = 0; i < pl_l->want; i++)
		if (strcmp(hb_placement_store(p, pl_l->rank[i]), name) == 0)
			return true;
	return false;
}

Test(placement, weight_is_xxh3_of_account_seeded_with_store)
{
	/* fixed values: another implementation (a proxy, a script) must
	   compute the same, so they are part of the format */
	cr_expect_eq(hb_placement_weight("example.org/alice", "store01"),
		     hb_placement_weight("example.org/alice", "store01"));
	cr_expect_neq(hb_placement_weight("example.org/alice", "store01"),
		      hb_placement_weight("example.org/alice", "store02"));
	cr_expect_neq(hb_placement_weight("example.org/alice", "store01"),
		      hb_placement_weight("example.org/bob", "store01"));
}

Test(placement, deterministic_whatever_the_member_order)
{
	struct hb_placement *rev = hb_placement_new(2);
	struct hb_placement_list l2;
	char names[20][16];

	pl = stores(20, 2, 0);
	for (int i = 19; i >= 0; i--) {
		snprintf(names[i], sizeof(names[i]), "store%02d", i + 1);
		hb_placement_add_store(rev, names[i]);
	}
	cr_assert_eq(hb_placement_add_store(rev, "store07"), 13, "a name added twice keeps its index");
	cr_assert_eq(hb_placement_n_stores(rev), 20);
	hb_placement_list_init(&l, pl, SIZE_MAX);
	hb_placement_list_init(&l2, rev, SIZE_MAX);
	for (unsigned int i = 0; i < N_ACCOUNTS; i++) {
		char a[512];

		hb_placement_get(pl, account(i), &l);
		strcpy(a, list_names(pl, &l));
		hb_placement_get(rev, account(i), &l2);
		cr_assert_str_eq(list_names(rev, &l2), a, "%s", account(i));
		hb_placement_get(pl, account(i), &l);
		cr_assert_str_eq(list_names(pl, &l), a, "%s: second call", account(i));
	}
	hb_placement_list_deinit(&l2);
	hb_placement_free(&rev);
}

/* The ranking is every member by falling weight, the list its first
   1 + replicas, all distinct. */
Test(placement, list_is_one_plus_replicas_distinct_stores_by_weight)
{
	for (unsigned int replicas = 1; replicas <= 4; replicas++) {
		pl = stores(20, replicas, 0);
		hb_placement_list_init(&l, pl, SIZE_MAX);
		for (unsigned int i = 0; i < N_ACCOUNTS; i++) {
			bool seen[20] = { false };

			hb_placement_get(pl, account(i), &l);
			cr_assert_eq(l.n, 20);
			cr_assert_eq(l.want, 1 + replicas);
			cr_assert_null(l.rule);
			for (size_t k = 0; k < l.n; k++) {
				cr_assert_lt(l.rank[k], 20);
				cr_assert(!seen[l.rank[k]], "%s: store %u twice", account(i), l.rank[k]);
				seen[l.rank[k]] = true;
				if (k > 0)
					cr_assert_gt(hb_placement_weight(account(i),
						hb_placement_store(pl, l.rank[k - 1])),
						hb_placement_weight(account(i),
						hb_placement_store(pl, l.rank[k])));
			}
		}
		hb_placement_list_deinit(&l);
		hb_placement_free(&pl);
	}
}

/* Ranking fewer candidates gives the first ones of the full ranking. */
Test(placement, ranking_fewer_is_a_prefix)
{
	struct hb_placement_list part;

	pl = stores(40, 2, 0);
	hb_placement_list_init(&l, pl, SIZE_MAX);
	for (size_t extra = 0; extra <= 38; extra += 19) {
		hb_placement_list_init(&part, pl, extra);
		for (unsigned int i = 0; i < 500; i++) {
			hb_placement_get(pl, account(i), &l);
			hb_placement_get(pl, account(i), &part);
			cr_assert_eq(l.n, 40);
			cr_assert_eq(part.n, extra + 3 > 40 ? 40 : extra + 3);
			cr_assert_eq(part.want, 3);
			cr_assert_arr_eq(part.rank, l.rank, part.n * sizeof(*l.rank));
		}
		hb_placement_list_deinit(&part);
	}
}

Test(placement, fewer_members_than_the_list_wants)
{
	unsigned int hold[4];

	pl = hb_placement_new(2);
	hb_placement_list_init(&l, pl, SIZE_MAX);
	hb_placement_get(pl, "example.org/alice", &l);
	cr_expect_eq(l.n, 0);
	cr_expect_eq(l.want, 0);
	cr_expect_eq(hb_placement_active(&l, NULL), -1);
	cr_expect_eq(hb_placement_hold(&l, NULL, hold), 0);
	hb_placement_list_deinit(&l);

	hb_placement_add_store(pl, "mx1");
	hb_placement_list_init(&l, pl, SIZE_MAX);
	hb_placement_get(pl, "example.org/alice", &l);
	cr_expect_eq(l.n, 1);
	cr_expect_eq(l.want, 1);
	cr_expect_eq(hb_placement_active(&l, NULL), 0);
	hb_placement_list_deinit(&l);

	hb_placement_add_store(pl, "mx2");
	hb_placement_list_init(&l, pl, SIZE_MAX);
	hb_placement_get(pl, "example.org/alice", &l);
	cr_expect_eq(l.n, 2);
	cr_expect_eq(l.want, 2);
	cr_expect_neq(l.rank[0], l.rank[1]);
	cr_expect_eq(hb_placement_hold(&l, NULL, hold), 2);
}

/* The active is the first store of the list that is up; the stores that
   are to hold the account are the first want that are up. */
Test(placement, active_and_holders_with_failures)
{
	bool down[5] = { false };
	unsigned int hold[5];
	unsigned int r0, r1, r2, r3;

	pl = stores(5, 2, 0);
	hb_placement_list_init(&l, pl, SIZE_MAX);
	hb_placement_get(pl, "example.org/alice", &l);
	r0 = l.rank[0], r1 = l.rank[1], r2 = l.rank[2], r3 = l.rank[3];
	cr_expect_eq(hb_placement_active(&l, down), (int)r0);
	cr_expect_eq(hb_placement_active(&l, NULL), (int)r0);

	down[r0] = true;
	cr_expect_eq(hb_placement_active(&l, down), (int)r1);
	cr_assert_eq(hb_placement_hold(&l, down, hold), 3);
	cr_expect(hold[0] == r1 && hold[1] == r2 && hold[2] == r3);

	down[r1] = true;
	cr_expect_eq(hb_placement_active(&l, down), (int)r2);
	cr_assert_eq(hb_placement_hold(&l, down, hold), 3);
	cr_expect_eq(hold[0], r2);

	/* the whole list down: the next stores have no copy */
	down[r2] = true;
	cr_expect_eq(hb_placement_active(&l, down), -1);
	cr_expect_eq(hb_placement_hold(&l, down, hold), 2);

	/* too few survivors for 1 + replicas copies */
	down[r3] = true;
	down[r2] = false;
	cr_expect_eq(hb_placement_active(&l, down), (int)r2);
	cr_expect_eq(hb_placement_hold(&l, down, hold), 2);
}

/* Removing a store changes only the lists it was in: they lose it and
   gain the next store of their ranking; every other list is unchanged. */
Test(placement, removing_a_store_moves_only_its_accounts)
{
	struct hb_placement *less = stores(20, 2, 7);
	struct hb_placement_list l2;
	size_t had = 0;

	pl = stores(20, 2, 0);
	hb_placement_list_init(&l, pl, SIZE_MAX);
	hb_placement_list_init(&l2, less, SIZE_MAX);
	for (unsigned int i = 0; i < N_ACCOUNTS; i++) {
		char a[512], b[512], want[512] = "";
		size_t len = 0;

		hb_placement_get(pl, account(i), &l);
		hb_placement_get(less, account(i), &l2);
		strcpy(a, list_names(pl, &l));
		strcpy(b, list_names(less, &l2));
		if (!list_has(pl, &l, "store07")) {
			cr_assert_str_eq(b, a, "%s did not have store07 and moved", account(i));
			continue;
		}
		had++;
		/* the same order without store07, then the 4th of before */
		for (size_t k = 0; k < 4; k++) {
			const char *s = hb_placement_store(pl, l.rank[k]);

			if (strcmp(s, "store07") != 0)
				len += (size_t)snprintf(want + len, sizeof(want) - len, "%s%s",
							len ? " " : "", s);
		}
		cr_assert_str_eq(b, want, "%s", account(i));
	}
	/* 3 of 20 stores per list: about 15% of the accounts */
	cr_expect(had > N_ACCOUNTS * 12 / 100 && had < N_ACCOUNTS * 18 / 100, "%zu", had);
	hb_placement_list_deinit(&l2);
	hb_placement_free(&less);
}

/* Adding a store changes only the lists it enters, and only by taking a
   place: the others keep their order and the last one drops out. */
Test(placement, adding_a_store_moves_accounts_only_to_it)
{
	struct hb_placement *more = stores(21, 2, 0);
	struct hb_placement_list l2;
	size_t gained = 0, active = 0;

	pl = stores(20, 2, 0);
	hb_placement_list_init(&l, pl, SIZE_MAX);
	hb_placement_list_init(&l2, more, SIZE_MAX);
	for (unsigned int i = 0; i < N_ACCOUNTS; i++) {
		char a[512], b[512], want[512] = "";
		size_t len = 0, k;

		hb_placement_get(pl, account(i), &l);
		hb_placement_get(more, account(i), &l2);
		strcpy(a, list_names(pl, &l));
		strcpy(b, list_names(more, &l2));
		if (!list_has(more, &l2, "store21")) {
			cr_assert_str_eq(b, a, "%s moved, not to store21", account(i));
			continue;
		}
		gained++;
		if (strcmp(hb_placement_store(more, l2.rank[0]), "store21") == 0)
			active++;
		else
			cr_assert_eq(strcmp(hb_placement_store(more, l2.rank[0]),
					    hb_placement_store(pl, l.rank[0])), 0,
				     "%s: active moved, not to store21", account(i));
		/* without store21, the new list is the old one minus its last */
		for (k = 0; k < l2.want; k++) {
			const char *s = hb_placement_store(more, l2.rank[k]);

			if (strcmp(s, "store21") != 0)
				len += (size_t)snprintf(want + len, sizeof(want) - len, "%s%s",
							len ? " " : "", s);
		}
		cr_assert_eq(strncmp(a, want, strlen(want)), 0, "%s: %s -> %s", account(i), a, b);
	}
	/* 3 of 21 lists and 1 of 21 actives */
	cr_expect(gained > N_ACCOUNTS * 11 / 100 && gained < N_ACCOUNTS * 17 / 100, "%zu", gained);
	cr_expect(active > N_ACCOUNTS * 3 / 100 && active < N_ACCOUNTS * 7 / 100, "%zu", active);
	hb_placement_list_deinit(&l2);
	hb_placement_free(&more);
}

/* The spread of actives, with no failure: 20 stores, 100,000 accounts. */
Test(placement, actives_spread_evenly)
{
	size_t count[20] = { 0 }, max = 0;

	pl = stores(20, 2, 0);
	hb_placement_list_init(&l, pl, SIZE_MAX);
	for (unsigned int i = 0; i < 100000; i++) {
		hb_placement_get(pl, account(i), &l);
		count[l.rank[0]]++;
	}
	for (int i = 0; i < 20; i++)
		if (count[i] > max)
			max = count[i];
	cr_expect_lt((double)max / 5000.0, 1.1, "max %zu", max);
}

/* The target: with 3 of 20 stores failed, 100,000 accounts, no
   survivor carries more than 1.25x the mean active load. */
ParameterizedTestParameters(placement, simulation_target)
{
	static uint64_t seeds[] = { 1, 2, 3, 4, 5 };

	return cr_make_param_array(uint64_t, seeds, sizeof(seeds) / sizeof(seeds[0]));
}

ParameterizedTest(uint64_t *seed, placement, simulation_target)
{
	struct hb_sim_settings set = {
		.stores = 20, .accounts = 100000, .fail = 3, .replicas = 2, .seed = *seed,
	};
	struct hb_sim *sim;
	const char *error = NULL;
	size_t on_failed = 0, copies = 0, sum_active = 0;

	cr_assert_eq(hb_sim_check(&set, &error), 0, "%s", error);
	sim = hb_sim_run(&set);
	cr_log_info("seed %llu: failed %s %s %s: max/mean active %.3f before, %.3f after; "
		    "replicas %.3f after; %zu moved to %zu survivors, %zu lost",
		    (unsigned long long)*seed, sim->stores[sim->failed[0]].name,
		    sim->stores[sim->failed[1]].name, sim->stores[sim->failed[2]].name,
		    sim->active[0].max_mean, sim->active[1].max_mean,
		    sim->replicas[1].max_mean, sim->moved_active, sim->receivers_active,
		    sim->lost);
	cr_expect_leq(sim->active[1].max_mean, 1.25);
	/* exactly the accounts of the failed stores moved, to every survivor */
	for (unsigned int i = 0; i < 3; i++)
		on_failed += sim->stores[sim->failed[i]].active[0];
	cr_expect_eq(sim->moved_active + sim->lost, on_failed);
	cr_expect_eq(sim->receivers_active, 17);
	cr_expect_eq(sim->receivers_replicas, 17);
	/* an account lost only if its 3 stores are the 3 failed:
	   about 100,000 / C(20,3) = 88 */
	cr_expect_lt(sim->lost, 200);
	cr_expect_eq(sim->short_copies, 0);
	for (unsigned int i = 0; i < 20; i++) {
		const struct hb_sim_store *st = &sim->stores[i];

		if (st->failed) {
			cr_expect_eq(st->active[1] + st->replicas[1], 0);
			continue;
		}
		sum_active += st->active[1];
		copies += st->active[1] + st->replicas[1];
		/* a survivor keeps its actives and gains some */
		cr_expect_eq(st->active[1], st->active[0] + st->gained_active);
	}
	cr_expect_eq(sum_active, 100000 - sim->lost);
	cr_expect_eq(copies, 3 * (100000 - sim->lost), "every account has 3 copies again");
	hb_sim_free(&sim);
	cr_expect_null(sim);
}

Test(placement, simulation_is_deterministic)
{
	struct hb_sim_settings set = {
		.stores = 12, .accounts = 3000, .fail = 2, .replicas = 1, .seed = 42,
	};
	struct hb_sim *a = hb_sim_run(&set), *b = hb_sim_run(&set);

	cr_expect_eq(a->failed[0], b->failed[0]);
	cr_expect_eq(a->failed[1], b->failed[1]);
	cr_expect_neq(a->failed[0], a->failed[1]);
	for (unsigned int i = 0; i < 12; i++) {
		cr_expect_eq(a->stores[i].active[1], b->stores[i].active[1]);
		cr_expect_eq(a->stores[i].replicas[1], b->stores[i].replicas[1]);
	}
	cr_expect_str_eq(a->stores[11].name, "store12");
	cr_expect_eq(a->moved_active, b->moved_active);
	hb_sim_free(&a);
	hb_sim_free(&b);
}

/* 3 stores, replicas 2, one failed: two copies are all that is left. */
Test(placement, simulation_with_too_few_survivors)
{
	struct hb_sim_settings set = {
		.stores = 3, .accounts = 1000, .fail = 1, .replicas = 2, .seed = 7,
	};
	struct hb_sim *sim = hb_sim_run(&set);

	cr_expect_eq(sim->lost, 0);
	cr_expect_eq(sim->short_copies, 1000);
	cr_expect_eq(sim->moved_replicas, 0);
	hb_sim_free(&sim);
}

Test(placement, simulation_settings_are_checked)
{
	struct hb_sim_settings set = {
		.stores = 20, .accounts = 100, .fail = 20, .replicas = 2, .seed = 1,
	};
	const char *error = NULL;

	cr_expect_eq(hb_sim_check(&set, &error), -1);
	cr_expect_str_eq(error, "fail must leave a store: 0..19, not 20");
	set.fail = 0;
	set.replicas = 0;
	cr_expect_eq(hb_sim_check(&set, &error), -1);
	cr_expect_str_eq(error, "replicas must be 1..64, not 0");
	set.replicas = 2;
	set.stores = 1001;
	cr_expect_eq(hb_sim_check(&set, &error), -1);
	cr_expect_str_eq(error, "stores must be 1..1000, not 1001");
	set.stores = 20;
	set.accounts = 0;
	cr_expect_eq(hb_sim_check(&set, &error), -1);
	cr_expect_str_eq(error, "accounts must be 1..10000000, not 0");
}

/* ---- overrides from the configuration ---- */

static void load(const char *text)
{
	const char *error = NULL;

	cr_assert_eq(mm_cfg_parse("t.conf", text, &cfg, &error), 0, "%s", error);
	pl = hb_placement_from_cfg(cfg);
	hb_placement_list_init(&l, pl, SIZE_MAX);
}

/* The names of account's list, sorted, for set comparisons. */
static char *set_of(const char *acct)
{
	static char buf[256];
	const char *names[16];
	size_t len = 0;

	hb_placement_get(pl, acct, &l);
	cr_assert_leq(l.want, 16);
	for (size_t i = 0; i < l.want; i++)
		names[i] = hb_placement_store(pl, l.rank[i]);
	for (size_t i = 1; i < l.want; i++)
		for (size_t j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
			const char *t = names[j];

			names[j] = names[j - 1];
			names[j - 1] = t;
		}
	buf[0] = '\0';
	for (size_t i = 0; i < l.want; i++)
		len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%s%s", i ? " " : "",
					names[i]);
	return buf;
}

#define PEERS(...) "[peer mx1]\naddress = h:1\n[peer mx2]\naddress = h:2\n" \
	"[peer mx3]\naddress = h:3\n[peer mx4]\naddress = h:4\n[peer mx5]\naddress = h:5\n"

/* A file the whole cluster shares: every store is a [peer], and a
   replicas list names every store that holds the account. */
Test(placement, shared_file_overrides)
{
	load(NODE("mx1") PEERS() "[hbmon]\nreplicas = 1\n"
	     "[account example.org/vip*]\nmode = sync\n"
	     "[account example.org/*]\nreplicas = mx4, mx2, mx5\n"
	     "[account spam.example/*]\nreplicate = no\n");
	cr_assert_eq(hb_placement_n_stores(pl), 5, "[node] and its [peer] are one member");
	cr_expect_eq(hb_placement_replicas(pl), 1);

	/* the first matching section applies, even one without replicas */
	hb_placement_get(pl, "example.org/vipalice", &l);
	cr_expect_eq(l.want, 2);
	cr_expect_str_eq(l.rule, "example.org/vip*");

	cr_expect_str_eq(set_of("example.org/bob"), "mx2 mx4 mx5");
	cr_expect_eq(l.n, 3);
	cr_expect_str_eq(l.rule, "example.org/*");
	/* ordered by weight, not by the order of the list */
	cr_expect_gt(hb_placement_weight("example.org/bob", hb_placement_store(pl, l.rank[0])),
		     hb_placement_weight("example.org/bob", hb_placement_store(pl, l.rank[1])));
	cr_expect_gt(hb_placement_weight("example.org/bob", hb_placement_store(pl, l.rank[1])),
		     hb_placement_weight("example.org/bob", hb_placement_store(pl, l.rank[2])));

	/* replicate = no: one store, which no failure moves */
	hb_placement_get(pl, "spam.example/x", &l);
	cr_expect_eq(l.n, 1);
	cr_expect_eq(l.want, 1);

	/* no section: the default */
	hb_placement_get(pl, "other.net/carol", &l);
	cr_expect_null(l.rule);
	cr_expect_eq(l.n, 5);
	cr_expect_eq(l.want, 2);
	/* FNM_PATHNAME, as mm_cfg_account: '*' does not cross '/' */
	hb_placement_get(pl, "example.org/a/b", &l);
	cr_expect_null(l.rule);
}

/* A store's own file lists only the others as [peer]: its replicas list
   is the peers it sends to, and it holds the account too. */
Test(placement, own_file_overrides)
{
	load(NODE("mx1") "[peer mx2]\naddress = h:2\n[peer mx3]\naddress = h:3\n"
	     "[peer mx4]\naddress = h:4\n"
	     "[account example.org/*]\nreplicas = mx3\n"
	     "[account spam.example/*]\nreplicate = no\n");
	cr_assert_eq(hb_placement_n_stores(pl), 4);
	cr_expect_str_eq(set_of("example.org/bob"), "mx1 mx3");
	cr_expect_str_eq(set_of("spam.example/x"), "mx1");
	cr_expect_eq(hb_placement_replicas(pl), 2);
	cr_expect_eq(set_of("other.net/carol")[0] != '\0', true);
	cr_expect_eq(l.want, 3);
}

/* Placement and the replicator agree on who holds an overridden account:
   a peer is in its list exactly when mm_cfg_account_on() sends it there. */
Test(placement, agrees_with_the_replicator)
{
	static const char *const accts[] = { "example.org/alice", "example.org/vip1",
		"spam.example/x", "example.com/dave" };
	static const char *const peers[] = { "mx1", "mx2", "mx3", "mx4", "mx5" };

	load(NODE("mx3") PEERS()
	     "[account example.org/vip*]\nreplicas = mx1, mx3\n"
	     "[account example.org/*]\nreplicas = mx2,mx3 mx4\n"
	     "[account example.com/*]\nreplicas = mx5\n");
	for (size_t i = 0; i < sizeof(accts) / sizeof(accts[0]); i++) {
		const struct mm_account_cfg *a = mm_cfg_account(cfg, accts[i]);

		hb_placement_get(pl, accts[i], &l);
		if (a->n_replicas == 0)
			continue;
		for (size_t p = 0; p < 5; p++)
			cr_expect_eq(list_has(pl, &l, peers[p]), mm_cfg_account_on(a, peers[p]),
				     "%s on %s", accts[i], peers[p]);
	}
}
