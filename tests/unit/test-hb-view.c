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
	cr_assert(hb_view_endorses(&e, &l, hb_pins_hash(acct), false, 1), "%s endorsed to b", acct);
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
			cr_assert(!hb_view_endorses(&e, &l, hb_pins_hash(acct), false, (unsigned int)s),
				  "%s endorsed to %zu %llu ms after b's last renewal", acct, s,
				  (unsigned long long)(t - last_b) / MS);
		}
	}
	hb_voter_tick(v, st, rd, t);
	next = hb_view_active(&l, 1ULL << 1, hb_voter_view(v)->prefs,
			      hb_voter_view(v)->n_prefs);
	cr_assert(next >= 0 && next != 1);
	hb_voter_endorse(v, (size_t)next, t, &e);
	cr_expect(hb_view_endorses(&e, &l, hb_pins_hash(acct), false, (unsigned int)next));
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
	/* and nobody is endorsed for d's accounts meanwhile: the previous part
	   of the view chose b (ranking), this one c (prefs); with the same
	   prefs for both parts, c would be endorsed at once while b still
	   holds its lease (tests/model, flaw 4) */
	cr_expect_eq(w->prefs_moving, 1ULL << 3);
	cr_expect(hb_view_in_transition(w));
	{
		char name[32];
		uint64_t h;

		for (int i = 0;; i++) {
			snprintf(name, sizeof(name), "u%d", i);
			hb_placement_get(pl, name, &l);
			if (l.rank[0] == 3 && l.rank[1] == 1 && l.rank[2] == 2)
				break;
		}
		h = hb_pins_hash(name);
		for (unsigned int s = 0; s < 4; s++) {
			hb_voter_endorse(v, s, T0 + 5200 * MS, &e);
			cr_expect(!hb_view_endorses(&e, &l, h, false, s),
				  "%s endorsed to %u during the prefs' transition", name, s);
		}
		hb_voter_tick(v, st, rd, hb_voter_transition_end(v));
		w = hb_voter_view(v);
		cr_expect_eq(w->prefs_moving, 0, "the transition is over");
		hb_voter_endorse(v, 2, hb_voter_transition_end(v), &e);
		cr_expect(hb_view_endorses(&e, &l, h, false, 2), "%s at c after it", name);
		hb_voter_endorse(v, 1, hb_voter_transition_end(v), &e);
		cr_expect(!hb_view_endorses(&e, &l, h, false, 1));
	}
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

/* A voter that was cut off (heard fewer than a quorum) does not hold the
   others out as returning when it hears them again: it was the one that
   failed. */
Test(hb_view, an_isolated_voter_does_not_hold_the_others_out)
{
	struct hb_voter_settings set = { .n_members = 4, .self = 0, .lease_ms = LEASE,
					 .failback_ms = 10000 };
	struct hb_voter *v = hb_voter_new(&set, T0);

	all_up();
	hb_voter_tick(v, st, rd, T0);
	st[1] = st[2] = st[3] = HB_MEMBER_FAILED;	/* a partition cuts a off */
	hb_voter_isolated(v, true);
	hb_voter_tick(v, st, rd, T0 + 2000 * MS);
	cr_expect_eq(hb_voter_wanted(v), 0xe);
	st[1] = st[2] = st[3] = HB_MEMBER_HEALTHY;	/* healed */
	hb_voter_isolated(v, false);
	hb_voter_tick(v, st, rd, T0 + 3000 * MS);
	cr_expect_eq(hb_voter_wanted(v), 0, "a hears a quorum again: nobody is returning");
	/* healed, but d still silent when the quorum came back: heard later,
	   it is not held out either */
	st[3] = HB_MEMBER_FAILED;
	hb_voter_tick(v, st, rd, T0 + 3200 * MS);
	hb_voter_isolated(v, true);
	st[1] = st[2] = HB_MEMBER_FAILED;
	hb_voter_tick(v, st, rd, T0 + 3400 * MS);
	st[1] = st[2] = HB_MEMBER_HEALTHY;	/* b and c back, d not yet */
	hb_voter_tick(v, st, rd, T0 + 3600 * MS);
	hb_voter_isolated(v, false);
	hb_voter_tick(v, st, rd, T0 + 3800 * MS);
	hb_voter_tick(v, st, rd, T0 + 4000 * MS);
	cr_expect_eq(hb_voter_wanted(v), 1ULL << 3, "d is silent: excluded, not returning");
	st[3] = HB_MEMBER_HEALTHY;
	hb_voter_tick(v, st, rd, T0 + 4200 * MS);
	cr_expect_eq(hb_voter_wanted(v), 0, "d heard: back at once");
	/* when a hears a quorum, a member it loses is returning as before */
	st[2] = HB_MEMBER_FAILED;
	hb_voter_tick(v, st, rd, T0 + 5000 * MS);
	st[2] = HB_MEMBER_HEALTHY;
	hb_voter_tick(v, st, rd, T0 + 6000 * MS);
	cr_expect_eq(hb_voter_wanted(v), 1ULL << 2, "c, lost while a heard a quorum, is held");
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
	uint64_t t = T0 + LEASE * MS, renewed, h7;
	const struct hb_endorsement *view;

	pl7 = hb_test_placement(names, 7, &l7);
	h7 = hb_pins_hash(hb_test_account(pl7, &l7, 0, -1));
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
	cr_expect(!hb_view_endorses(&e, &l7, h7, false, u), "u endorsed during w's lease");
	t = renewed + LEASE * MS;
	hb_voter_tick(v, s7, r7, t);
	hb_voter_endorse(v, u, t, &e);
	cr_expect(hb_view_endorses(&e, &l7, h7, false, u), "u not endorsed after w's lease");
	hb_voter_free(&v);
	hb_test_placement_free(&pl7, &l7);
}

/* ---- pins (mailmeshctl promote) ---- */

static struct hb_endorsement pinned_view(uint64_t excl, uint64_t prev_excl, uint64_t hash,
					 uint8_t cur, uint8_t prev)
{
	struct hb_endorsement e = { .lease = true, .view_id = 1, .excl = excl,
				    .prev_excl = prev_excl, .n_pins = 1 };

	e.pins[0].hash = hash;
	e.pins[0].cur = cur;
	e.pins[0].prev = prev;
	return e;
}

/* A pin wins while its store is a holder and not excluded; otherwise the
   placement decides. */
Test(hb_view, pin_rule)
{
	const char *acct = account_led_by(1);
	unsigned int second = l.rank[1], outsider = l.rank[3];

	cr_expect_eq(hb_view_active_pinned(&l, 0, NULL, 0, -1), 1);
	cr_expect_eq(hb_view_active_pinned(&l, 0, NULL, 0, (int)second), (int)second);
	cr_expect_eq(hb_view_active_pinned(&l, 1ULL << second, NULL, 0, (int)second), 1,
		     "the pinned store is excluded: no effect");
	cr_expect_eq(hb_view_active_pinned(&l, 0, NULL, 0, (int)outsider), 1,
		     "a store that does not hold the account is never pinned");
	(void)acct;
}

/* The holder reads a voter's pin entries for its account's hash: the
   current pin with excl, the previous with prev_excl, both must name s. */
Test(hb_view, holder_reads_pin_entries)
{
	const char *acct = account_led_by(1);
	uint64_t h = hb_pins_hash(acct), other = h + 1;
	unsigned int s = l.rank[1];
	struct hb_endorsement e;

	e = pinned_view(0, 0, h, (uint8_t)s, (uint8_t)s);
	cr_expect(hb_view_endorses(&e, &l, h, false, s));
	cr_expect(!hb_view_endorses(&e, &l, h, false, 1));
	cr_expect_eq(hb_view_active_in(&e, &l, h, false), (int)s);
	/* another account's entry: the plain rule */
	cr_expect(hb_view_endorses(&e, &l, other, false, 1));
	cr_expect(!hb_view_endorses(&e, &l, other, false, s));
	/* in transition (just pinned): no one */
	e = pinned_view(0, 0, h, (uint8_t)s, HB_WIRE_PIN_NONE);
	cr_expect(!hb_view_endorses(&e, &l, h, false, s));
	cr_expect(!hb_view_endorses(&e, &l, h, false, 1));
	/* just cleared: no one either */
	e = pinned_view(0, 0, h, HB_WIRE_PIN_NONE, (uint8_t)s);
	cr_expect(!hb_view_endorses(&e, &l, h, false, s));
	cr_expect(!hb_view_endorses(&e, &l, h, false, 1));
	/* pinned to s, s excluded in the current view: the placement's
	   active, but only once s is excluded in both views */
	e = pinned_view(1ULL << s, 0, h, (uint8_t)s, (uint8_t)s);
	cr_expect(!hb_view_endorses(&e, &l, h, false, 1));
	e = pinned_view(1ULL << s, 1ULL << s, h, (uint8_t)s, (uint8_t)s);
	cr_expect(hb_view_endorses(&e, &l, h, false, 1));
	/* a collision among the holder's accounts: an entry for the hash
	   endorses neither; without an entry, the plain rule */
	e = pinned_view(0, 0, h, (uint8_t)s, (uint8_t)s);
	cr_expect(!hb_view_endorses(&e, &l, h, true, s));
	cr_expect(!hb_view_endorses(&e, &l, h, true, 1));
	e.n_pins = 0;
	cr_expect(hb_view_endorses(&e, &l, h, true, 1));
}

static void endorse_all(struct hb_voter *v, uint64_t t)
{
	struct hb_endorsement e;

	for (size_t s = 0; s < 4; s++)
		hb_voter_endorse(v, s, t, &e);
}

/* A pin is a view change: view_id++, prev = the view before, and the
   transition waits for every member's lease (the account moves between
   stores that stay up). During it the account is endorsed to no one;
   after it, to the pinned store. A clear goes back the same way. */
Test(hb_view, pin_change_is_a_conservative_view_change)
{
	struct hb_voter *v = voter(0, T0);
	const char *acct = account_led_by(1);
	uint64_t h = hb_pins_hash(acct), t = T0 + LEASE * MS, last = 0, id;
	unsigned int s = l.rank[1];
	struct hb_pin_force pin = { .hash = h, .member = (uint8_t)s };
	struct hb_endorsement e;

	all_up();
	for (; t < T0 + 3000 * MS; t += 200 * MS) {
		hb_voter_tick(v, st, rd, t);
		endorse_all(v, t);
		last = t;
	}
	hb_voter_endorse(v, 1, t, &e);	/* b's last renewal, the latest */
	last = t;
	cr_assert(hb_view_endorses(&e, &l, h, false, 1), "%s at b before the pin", acct);
	id = hb_voter_view(v)->view_id;
	hb_voter_pins(v, &pin, 1);
	cr_expect(hb_voter_tick(v, st, rd, t));
	cr_expect_eq(hb_voter_view(v)->view_id, id + 1);
	cr_expect_eq(hb_voter_view(v)->excl, 0);
	cr_expect_eq(hb_voter_transition_end(v), last + LEASE * MS,
		     "every member's last renewal + lease");
	cr_assert_eq(hb_voter_view(v)->n_pins, 1);
	cr_expect_eq(hb_voter_view(v)->pins[0].cur, s);
	cr_expect_eq(hb_voter_view(v)->pins[0].prev, HB_WIRE_PIN_NONE);
	cr_expect(hb_view_in_transition(hb_voter_view(v)), "a pin's transition is one");
	/* a change during the transition waits for its end */
	st[3] = HB_MEMBER_DEGRADED;
	for (; t < last + LEASE * MS; t += 50 * MS) {
		hb_voter_tick(v, st, rd, t);
		cr_expect_eq(hb_voter_view(v)->excl, 0);
		for (size_t m = 0; m < 4; m++) {
			hb_voter_endorse(v, m, t, &e);
			cr_assert(!hb_view_endorses(&e, &l, h, false, (unsigned int)m),
				  "%s endorsed to %zu during the pin's transition", acct, m);
		}
	}
	hb_voter_tick(v, st, rd, t);
	hb_voter_endorse(v, s, t, &e);
	cr_expect_eq(e.excl, 1ULL << 3, "the waiting change came after it");
	cr_expect_eq(e.pins[0].prev, s, "the pin is in both views");
	/* d's exclusion only adds one: not conservative, and it does not
	   touch a pin to another store */
	t = hb_voter_transition_end(v);
	hb_voter_tick(v, st, rd, t);
	hb_voter_endorse(v, s, t, &e);
	cr_expect(hb_view_endorses(&e, &l, h, false, s), "%s at the pinned store", acct);
	hb_voter_endorse(v, 1, t, &e);
	cr_expect(!hb_view_endorses(&e, &l, h, false, 1));
	/* the same pin again: no view change */
	id = hb_voter_view(v)->view_id;
	hb_voter_tick(v, st, rd, t + 100 * MS);
	cr_expect_eq(hb_voter_view(v)->view_id, id);
	/* cleared: back to b after a transition */
	endorse_all(v, t + 100 * MS);
	hb_voter_pins(v, NULL, 0);
	hb_voter_tick(v, st, rd, t + 200 * MS);
	cr_expect_eq(hb_voter_view(v)->view_id, id + 1);
	cr_assert_eq(hb_voter_view(v)->n_pins, 1);
	cr_expect_eq(hb_voter_view(v)->pins[0].cur, HB_WIRE_PIN_NONE);
	cr_expect_eq(hb_voter_view(v)->pins[0].prev, s);
	cr_expect_eq(hb_voter_transition_end(v), t + 100 * MS + LEASE * MS);
	hb_voter_endorse(v, 1, t + 300 * MS, &e);
	cr_expect(!hb_view_endorses(&e, &l, h, false, 1));
	hb_voter_tick(v, st, rd, t + 100 * MS + LEASE * MS);
	cr_expect_eq(hb_voter_view(v)->n_pins, 0, "the entry goes with the transition");
	cr_expect(!hb_view_in_transition(hb_voter_view(v)));
	hb_voter_endorse(v, 1, t + 100 * MS + LEASE * MS, &e);
	cr_expect(hb_view_endorses(&e, &l, h, false, 1));
	hb_voter_free(&v);
}

/* A pin to a store that fails has no effect while it is excluded; when it
   returns, after failback_after, the pin applies again. drain (degraded)
   beats a pin. */
Test(hb_view, pin_to_an_excluded_store_waits_for_its_return)
{
	struct hb_voter_settings set = { .n_members = 4, .self = 0, .lease_ms = LEASE,
					 .failback_ms = 5000 };
	struct hb_voter *v = hb_voter_new(&set, T0);
	const char *acct = account_led_by(1);
	uint64_t h = hb_pins_hash(acct), t = T0 + LEASE * MS;
	unsigned int s = l.rank[1];
	struct hb_pin_force pin = { .hash = h, .member = (uint8_t)s };
	const struct hb_endorsement *w;

	all_up();
	hb_voter_pins(v, &pin, 1);
	hb_voter_tick(v, st, rd, t);
	w = hb_voter_view(v);
	cr_expect_eq(hb_view_active_in(w, &l, h, false), (int)s);
	st[s] = HB_MEMBER_DEGRADED;	/* drained */
	t += 2000 * MS;
	hb_voter_tick(v, st, rd, t);
	cr_expect_eq(hb_view_active_in(w, &l, h, false), 1, "drain beats the pin");
	st[s] = HB_MEMBER_FAILED;
	t += 2000 * MS;
	hb_voter_tick(v, st, rd, t);
	cr_expect_eq(hb_view_active_in(w, &l, h, false), 1);
	st[s] = HB_MEMBER_HEALTHY;
	t += 2000 * MS;
	hb_voter_tick(v, st, rd, t);
	cr_expect_eq(hb_view_active_in(w, &l, h, false), 1, "returning: not yet stable");
	t += 5000 * MS;
	hb_voter_tick(v, st, rd, t);
	cr_expect_eq(hb_view_active_in(w, &l, h, false), (int)s, "after failback_after");
	hb_voter_free(&v);
}
