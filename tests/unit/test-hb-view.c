/* SPDX-License-Identifier: MIT
 * test-hb-view.c - who is active under a view, and a voter's view changes:
 * transitions outlast the losers' leases, start-up quiet, prefs. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include "hb-placement.h"
#include "hb-test.h"
#include "hb-view.h"

#define MS 1000ULL
#define T0 (1000 * MS)
#define LEASE 800

static struct hb_placement *pl;
static struct hb_placement_list l;

/* members a, b, c, d (indices 0..3), replicas 2: lists of 3 of 4 */
static void setup(void)
{
	static const char *const names[] = { "a", "b", "c", "d" };

	pl = hb_test_placement(names, 4, &l);
}

static void teardown(void)
{
	hb_test_placement_free(&pl, &l);
}

TestSuite(hb_view, .init = setup, .fini = teardown);

static const char *account_led_by(unsigned int first)
{
	return hb_test_account(pl, &l, first, -1);
}

Test(hb_view, active_is_first_not_excluded_holder)
{
	account_led_by(1);
	cr_expect_eq(hb_view_active(&l, 0, NULL, 0), 1);
	/* L[0] excluded: the first original holder up, in ranking order */
	cr_expect_eq(hb_view_active(&l, 1ULL << 1, NULL, 0), (int)l.rank[1]);
	cr_expect_eq(hb_view_active(&l, (1ULL << 1) | (1ULL << l.rank[1]), NULL, 0),
		     (int)l.rank[2]);
	/* every original holder down: the next of the ranking */
	cr_expect_eq(hb_view_active(&l, (1ULL << 1) | (1ULL << l.rank[1]) |
				    (1ULL << l.rank[2]), NULL, 0), (int)l.rank[3]);
	cr_expect_eq(hb_view_active(&l, 0xf, NULL, 0), -1);
}

Test(hb_view, prefs_choose_among_original_holders)
{
	struct hb_pref pf = { .member = 2, .n = 3 };

	account_led_by(2);
	/* prefs: the non-holder first, then the last holder */
	pf.order[0] = (uint8_t)l.rank[3];
	pf.order[1] = (uint8_t)l.rank[2];
	pf.order[2] = (uint8_t)l.rank[1];
	cr_expect_eq(hb_view_active(&l, 1ULL << 2, &pf, 1), (int)l.rank[2]);
	/* prefs of another member change nothing */
	pf.member = 0;
	cr_expect_eq(hb_view_active(&l, 1ULL << 2, &pf, 1), (int)l.rank[1]);
}

static struct hb_voter *voter(int self, uint64_t now)
{
	struct hb_voter_settings set = { .n_members = 4, .self = self, .lease_ms = LEASE };

	return hb_voter_new(&set, now);
}

static enum hb_member_state st[4];
static bool rd[4];

static void all_up(void)
{
	for (int i = 0; i < 4; i++) {
		st[i] = HB_MEMBER_HEALTHY;
		rd[i] = true;
	}
}

/* A restarted voter says lease = 0 to everyone for lease. */
Test(hb_view, restarted_voter_endorses_nothing_for_lease)
{
	struct hb_voter *v = voter(0, T0);
	struct hb_endorsement e;

	all_up();
	for (uint64_t t = T0; t < T0 + LEASE * MS; t += 50 * MS) {
		hb_voter_tick(v, st, rd, t);
		for (size_t s = 0; s < 4; s++) {
			hb_voter_endorse(v, s, t, &e);
			cr_assert(!e.lease, "lease at +%llu ms", (unsigned long long)(t - T0) / MS);
		}
	}
	hb_voter_tick(v, st, rd, T0 + LEASE * MS);
	hb_voter_endorse(v, 1, T0 + LEASE * MS, &e);
	cr_expect(e.lease);
	cr_expect_eq(e.excl, 0);
	hb_voter_free(&v);
}

/* Member b dies: the view excludes it at once, but endorses b's accounts
   to no one until b's last renewal + lease. */
Test(hb_view, dead_store_accounts_wait_for_its_lease)
{
	struct hb_voter *v = voter(0, T0);
	struct hb_endorsement e;
	uint64_t t = T0, last_b = 0, dead;
	const char *acct = account_led_by(1);
	int next;

	all_up();
	for (; t < T0 + 2000 * MS; t += 200 * MS) {
		hb_voter_tick(v, st, rd, t);
		hb_voter_endorse(v, 1, t, &e);
		if (e.lease)
			last_b = t;
	}
	cr_assert(hb_view_endorses(&e, &l, 1), "%s endorsed to b", acct);
	/* b is failed from now on: no lease to it, and the view changes */
	st[1] = HB_MEMBER_FAILED;
	dead = t;
	hb_voter_tick(v, st, rd, t);
	cr_expect_eq(hb_voter_view(v)->excl, 1ULL << 1);
	cr_expect_eq(hb_voter_transition_end(v), last_b + LEASE * MS);
	for (; t < last_b + LEASE * MS; t += 10 * MS) {
		hb_voter_tick(v, st, rd, t);
		for (size_t s = 0; s < 4; s++) {
			hb_voter_endorse(v, s, t, &e);
			cr_assert(!hb_view_endorses(&e, &l, (unsigned int)s),
				  "%s endorsed to %zu %llu ms after b's last renewal", acct, s,
				  (unsigned long long)(t - last_b) / MS);
		}
	}
	hb_voter_tick(v, st, rd, t);
	next = hb_view_active(&l, 1ULL << 1, hb_voter_view(v)->prefs,
			      hb_voter_view(v)->n_prefs);
	cr_assert(next >= 0 && next != 1);
	hb_voter_endorse(v, (size_t)next, t, &e);
	cr_expect(hb_view_endorses(&e, &l, (unsigned int)next));
	/* prefs were made for b, the failed one */
	cr_expect_eq(hb_voter_view(v)->n_prefs, 1);
	cr_expect_eq(hb_voter_view(v)->prefs[0].member, 1);
	(void)dead;
	hb_voter_free(&v);
}

/* prefs[p] ranks the others by the applied[p] they reported. */
Test(hb_view, prefs_order_by_applied)
{
	struct hb_voter *v = voter(0, T0);
	const struct hb_pref *pf;

	all_up();
	hb_voter_tick(v, st, rd, T0);
	hb_voter_applied(v, 0, 3, 10);
	hb_voter_applied(v, 1, 3, 30);
	hb_voter_applied(v, 2, 3, 30);
	st[3] = HB_MEMBER_FAILED;
	hb_voter_tick(v, st, rd, T0 + 10 * MS);
	cr_assert_eq(hb_voter_view(v)->n_prefs, 1);
	pf = &hb_voter_view(v)->prefs[0];
	cr_expect_eq(pf->member, 3);
	cr_expect_eq(pf->n, 3);
	cr_expect_eq(pf->order[0], 1);
	cr_expect_eq(pf->order[1], 2);
	cr_expect_eq(pf->order[2], 0);
	/* degraded, not failed: no prefs */
	st[3] = HB_MEMBER_HEALTHY;
	hb_voter_tick(v, st, rd, T0 + 5000 * MS);
	cr_expect_eq(hb_voter_view(v)->n_prefs, 0);
	st[2] = HB_MEMBER_DEGRADED;
	hb_voter_tick(v, st, rd, T0 + 10000 * MS);
	cr_expect_eq(hb_voter_view(v)->excl, 1ULL << 2);
	cr_expect_eq(hb_voter_view(v)->n_prefs, 0);
	hb_voter_free(&v);
}

/* A member excluded while still heard (degraded) gets no prefs; when it
   then fails, it gets them in a view change of its own, which waits for
   every lease (the accounts move between stores that are not excluded),
   so its accounts go to the holder with the most of its journal. */
Test(hb_view, prefs_when_an_excluded_member_fails)
{
	struct hb_voter *v = voter(0, T0);
	const struct hb_endorsement *w;
	struct hb_endorsement e;
	uint64_t id;

	all_up();
	hb_voter_tick(v, st, rd, T0);
	hb_voter_applied(v, 1, 3, 10);
	hb_voter_applied(v, 2, 3, 30);
	st[3] = HB_MEMBER_DEGRADED;
	hb_voter_tick(v, st, rd, T0 + 10 * MS);
	w = hb_voter_view(v);
	cr_assert_eq(w->excl, 1ULL << 3);
	cr_expect_eq(w->n_prefs, 0, "degraded, still heard: no prefs");
	hb_voter_endorse(v, 1, T0 + 5000 * MS, &e);	/* b renewed now */
	hb_voter_tick(v, st, rd, T0 + 5000 * MS);
	id = w->view_id;
	st[3] = HB_MEMBER_FAILED;
	hb_voter_tick(v, st, rd, T0 + 5100 * MS);
	w = hb_voter_view(v);
	cr_expect_eq(w->view_id, id + 1, "a view change for the prefs alone");
	cr_expect_eq(w->excl, 1ULL << 3);
	cr_assert_eq(w->n_prefs, 1);
	cr_expect_eq(w->prefs[0].member, 3);
	cr_expect_eq(w->prefs[0].order[0], 2, "c has the most of d's journal");
	cr_expect_geq(hb_voter_transition_end(v), T0 + 5000 * MS + LEASE * MS,
		      "b's lease is waited for: accounts may move from b to c");
	/* once is enough */
	hb_voter_tick(v, st, rd, T0 + 9000 * MS);
	cr_expect_eq(hb_voter_view(v)->view_id, id + 1);
	hb_voter_free(&v);
}

/* Failback after a stable period: a member that failed after this voter
   had included it stays excluded until it has been fine for failback_ms;
   at first (start-up) a member is included at once. */
Test(hb_view, failback_waits_for_a_stable_period)
{
	struct hb_voter_settings set = { .n_members = 4, .self = 0, .lease_ms = LEASE,
					 .failback_ms = 10000 };
	struct hb_voter *v = hb_voter_new(&set, T0);

	all_up();
	hb_voter_tick(v, st, rd, T0);
	cr_expect_eq(hb_voter_view(v)->excl, 0, "start-up: included at once");
	st[3] = HB_MEMBER_FAILED;
	hb_voter_tick(v, st, rd, T0 + 10000 * MS);
	cr_expect_eq(hb_voter_view(v)->excl, 1ULL << 3);
	st[3] = HB_MEMBER_HEALTHY;
	hb_voter_tick(v, st, rd, T0 + 20000 * MS);
	cr_expect_eq(hb_voter_wanted(v), 1ULL << 3, "back, not yet stable");
	st[3] = HB_MEMBER_DEGRADED;	/* a flap restarts the period */
	hb_voter_tick(v, st, rd, T0 + 25000 * MS);
	st[3] = HB_MEMBER_HEALTHY;
	hb_voter_tick(v, st, rd, T0 + 26000 * MS);
	hb_voter_tick(v, st, rd, T0 + 35000 * MS);
	cr_expect_eq(hb_voter_wanted(v), 1ULL << 3, "9 s stable only");
	hb_voter_tick(v, st, rd, T0 + 36000 * MS);
	cr_expect_eq(hb_voter_wanted(v), 0, "10 s stable: failback");
	/* a degraded member (not failed) returns at once */
	st[2] = HB_MEMBER_DEGRADED;
	hb_voter_tick(v, st, rd, T0 + 40000 * MS);
	st[2] = HB_MEMBER_HEALTHY;
	hb_voter_tick(v, st, rd, T0 + 40100 * MS);
	cr_expect_eq(hb_voter_wanted(v) & (1ULL << 2), 0);
	hb_voter_free(&v);
}

/* Changes during a transition wait for its end; a return is conservative. */
Test(hb_view, return_waits_for_every_lease)
{
	struct hb_voter *v = voter(0, T0);
	struct hb_endorsement e;
	uint64_t t = T0 + LEASE * MS;

	all_up();
	rd[2] = false;
	hb_voter_tick(v, st, rd, t);
	for (size_t s = 0; s < 4; s++)
		hb_voter_endorse(v, s, t, &e);
	cr_expect_eq(hb_voter_view(v)->excl, 1ULL << 2);
	rd[2] = true;
	t += 100 * MS;
	cr_expect(hb_voter_tick(v, st, rd, t));
	cr_expect_eq(hb_voter_view(v)->excl, 0);
	cr_expect_eq(hb_voter_view(v)->prev_excl, 1ULL << 2);
	cr_expect_eq(hb_voter_transition_end(v), t - 100 * MS + LEASE * MS);
	/* a new exclusion during it waits */
	st[3] = HB_MEMBER_DEGRADED;
	hb_voter_tick(v, st, rd, t + 10 * MS);
	cr_expect_eq(hb_voter_view(v)->excl, 0);
	hb_voter_tick(v, st, rd, t + LEASE * MS);
	cr_expect_eq(hb_voter_view(v)->excl, 1ULL << 3);
	hb_voter_free(&v);
}

/* Why a change that keeps a member with prefs excluded waits for every
   member's lease (docs/hbmon.md, "Changes to the spec", 1): with seven
   members, an account whose list (p, x, y) is excluded is held by w, the
   first of H = (z, w, v) in prefs[p]. Excluding z brings u into H, which
   prefs[p] ranks before w: the account moves from w, which is not newly
   excluded, so the transition must outlast w's lease too. */
Test(hb_view, prefs_newcomer_waits_for_the_current_active)
{
	static const char *const names[] = { "m0", "m1", "m2", "m3", "m4", "m5", "m6" };
	struct hb_voter_settings set = { .n_members = 7, .self = -1, .lease_ms = LEASE };
	struct hb_placement *pl7;
	struct hb_placement_list l7;
	struct hb_voter *v;
	struct hb_endorsement e;
	enum hb_member_state s7[7];
	bool r7[7];
	unsigned int p, z, w, u;
	uint64_t t = T0 + LEASE * MS, renewed;
	const struct hb_endorsement *view;

	pl7 = hb_test_placement(names, 7, &l7);
	hb_test_account(pl7, &l7, 0, -1);
	p = l7.rank[0];
	z = l7.rank[3];
	w = l7.rank[4];
	u = l7.rank[6];
	v = hb_voter_new(&set, T0);
	for (int i = 0; i < 7; i++) {
		s7[i] = HB_MEMBER_HEALTHY;
		r7[i] = true;
	}
	/* what the others have of p: u most, then w */
	hb_voter_applied(v, u, p, 100);
	hb_voter_applied(v, w, p, 90);
	hb_voter_tick(v, s7, r7, t);
	for (size_t i = 0; i < 3; i++)
		s7[l7.rank[i]] = HB_MEMBER_FAILED;
	t += 10 * MS;
	hb_voter_tick(v, s7, r7, t);
	view = hb_voter_view(v);
	cr_assert_eq(view->n_prefs, 3, "prefs for p, x and y");
	for (size_t i = 0; i < view->n_prefs; i++) {
		if (view->prefs[i].member != p)
			continue;
		cr_expect_eq(view->prefs[i].order[0], u);
		cr_expect_eq(view->prefs[i].order[1], w);
	}
	t += 2 * LEASE * MS;
	hb_voter_tick(v, s7, r7, t);
	cr_assert_eq(hb_view_active(&l7, view->excl, view->prefs, view->n_prefs), (int)w);
	for (size_t s = 0; s < 7; s++)
		hb_voter_endorse(v, s, t, &e);
	/* w renewed once more, after z's last renewal */
	t += 100 * MS;
	hb_voter_tick(v, s7, r7, t);
	hb_voter_endorse(v, w, t, &e);
	renewed = t;
	/* z is degraded: u enters H and takes the account from w */
	s7[z] = HB_MEMBER_DEGRADED;
	t += 10 * MS;
	hb_voter_tick(v, s7, r7, t);
	view = hb_voter_view(v);
	cr_expect_eq(view->excl & (1ULL << z), 1ULL << z);
	cr_expect_eq(hb_view_active(&l7, view->excl, view->prefs, view->n_prefs), (int)u);
	cr_expect_eq(hb_voter_transition_end(v), renewed + LEASE * MS,
		     "the transition ends with w's lease, not at once");
	/* after z's lease, before w's: still no one */
	t = renewed - 100 * MS + LEASE * MS + 10 * MS;
	hb_voter_tick(v, s7, r7, t);
	hb_voter_endorse(v, u, t, &e);
	cr_expect(!hb_view_endorses(&e, &l7, u), "u endorsed during w's lease");
	t = renewed + LEASE * MS;
	hb_voter_tick(v, s7, r7, t);
	hb_voter_endorse(v, u, t, &e);
	cr_expect(hb_view_endorses(&e, &l7, u), "u not endorsed after w's lease");
	hb_voter_free(&v);
	hb_test_placement_free(&pl7, &l7);
}
