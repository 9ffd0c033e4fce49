/* SPDX-License-Identifier: MIT
 * test-hb-lease.c - the holder (votes, deadline, roles, catch-up, ready,
 * epochs), and a randomized cluster of voters and holders over a simulated
 * network and clock that must never have two writable stores for one account. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "hb-lease.h"
#include "hb-pins.h"
#include "hb-placement.h"
#include "hb-test.h"
#include "hb-view.h"

#define MS 1000ULL
#define T0 (1000 * MS)
#define LEASE 800
#define TIMEOUT 1000
#define INTERVAL 200

static struct hb_placement *pl;
static struct hb_placement_list l;

static void setup(void)
{
	static const char *const names[] = { "a", "b", "c" };

	pl = hb_test_placement(names, 3, &l);
}

static void teardown(void)
{
	hb_test_placement_free(&pl, &l);
}

TestSuite(hb_lease, .init = setup, .fini = teardown);

/* An account ranked first, then second. */
static const char *account_ranked(unsigned int first, unsigned int second)
{
	return hb_test_account(pl, &l, first, (int)second);
}

static struct hb_lease *holder(unsigned int self)
{
	struct hb_lease_settings set = { .n_members = 3, .self = self, .lease_ms = LEASE,
					 .timeout_ms = TIMEOUT, .catchup_ms = 2 * TIMEOUT };

	return hb_lease_new(&set);
}

static struct hb_endorsement view(uint64_t excl, uint64_t prev, bool lease)
{
	struct hb_endorsement e = { .lease = lease, .view_id = 1, .excl = excl,
				    .prev_excl = prev };
	return e;
}

/* Endorsements lapse at sent + lease x 0.9: the account is lost then. */
Test(hb_lease, lapsed_endorsements_lose_the_account_at_the_deadline)
{
	struct hb_lease *h = holder(0);
	struct hb_endorsement e = view(0, 0, true);
	const struct hb_lease_acct *a;
	const char *acct = account_ranked(0, 1);
	bool changed;

	for (size_t m = 0; m < 3; m++)
		hb_lease_member(h, m, true);
	hb_lease_endorsement(h, 0, &e, true, T0);
	hb_lease_endorsement(h, 1, &e, true, T0 - 100 * MS);
	a = hb_lease_account(h, acct, &l, T0, 5, &changed);
	cr_assert(changed);
	cr_expect_eq(a->role, HB_ROLE_ACTIVE);
	cr_expect_eq(a->epoch, 5);
	cr_expect_eq(a->votes, 2);
	cr_expect_eq(a->deadline_us, T0 - 100 * MS + LEASE * MS * 9 / 10);
	/* only the holder's own vote renews: at the deadline it is lost */
	hb_lease_endorsement(h, 0, &e, true, T0 + 600 * MS);
	a = hb_lease_account(h, acct, &l, a->deadline_us - 1, 6, &changed);
	cr_expect_eq(a->role, HB_ROLE_ACTIVE);
	a = hb_lease_account(h, acct, &l, a->deadline_us, 7, &changed);
	cr_expect(changed);
	cr_expect_eq(a->role, HB_ROLE_REPLICA);
	/* endorsed again: a higher epoch even if the wall clock went back */
	hb_lease_endorsement(h, 2, &e, true, T0 + 700 * MS);
	a = hb_lease_account(h, acct, &l, T0 + 700 * MS, 3, &changed);
	cr_expect_eq(a->role, HB_ROLE_ACTIVE);
	cr_expect_eq(a->epoch, 6);
	hb_lease_free(&h);
}

/* The status's active: what a quorum of the views heard names, not this
   store's own view (a returning store whose own view names itself while
   the others still hold it out). */
Test(hb_lease, quorum_active_is_what_most_views_name)
{
	struct hb_lease *h = holder(0);
	struct hb_endorsement in = view(0, 0, false), out = view(1, 1, true);
	const char *acct = account_ranked(0, 1);
	uint64_t hash = hb_pins_hash(acct);

	hb_placement_get(pl, acct, &l);
	for (size_t m = 0; m < 3; m++)
		hb_lease_member(h, m, true);
	cr_expect_eq(hb_lease_quorum_active(h, &l, hash, T0), -1, "no view yet");
	hb_lease_endorsement(h, 0, &in, true, T0);	/* our own view: a is back */
	hb_lease_endorsement(h, 1, &out, true, T0);	/* b and c: a still out */
	hb_lease_endorsement(h, 2, &out, true, T0);
	cr_expect_eq(hb_view_active_in(&in, &l, hash, false), 0);
	cr_expect_eq(hb_lease_quorum_active(h, &l, hash, T0), 1);
	hb_lease_member(h, 2, false);	/* c not heard: 1 of 2, no quorum */
	cr_expect_eq(hb_lease_quorum_active(h, &l, hash, T0), -1);
	hb_lease_member(h, 2, true);
	hb_lease_endorsement(h, 1, &in, true, T0);	/* b takes a back */
	cr_expect_eq(hb_lease_quorum_active(h, &l, hash, T0), 0);
	hb_lease_free(&h);
}

/* A store that every other voter heard holds out holds itself out too. */
Test(hb_lease, held_out_follows_every_other_voter_heard)
{
	struct hb_lease *h = holder(2);
	struct hb_endorsement in = view(0, 0, true), out = view(1ULL << 2, 1ULL << 2, false);

	cr_expect(!hb_lease_held_out(h, T0), "nobody heard");
	hb_lease_member(h, 0, true);
	hb_lease_member(h, 1, true);
	hb_lease_endorsement(h, 0, &out, true, T0);
	hb_lease_endorsement(h, 1, &in, true, T0);
	cr_expect(!hb_lease_held_out(h, T0), "b includes us");
	hb_lease_endorsement(h, 1, &out, true, T0);
	cr_expect(hb_lease_held_out(h, T0), "a and b hold us out");
	hb_lease_member(h, 1, false);	/* b not heard: a alone decides */
	cr_expect(hb_lease_held_out(h, T0));
	hb_lease_endorsement(h, 0, &in, true, T0);
	cr_expect(!hb_lease_held_out(h, T0), "a takes us back");
	hb_lease_free(&h);
}

/* Replication lag of a member's journal: its head minus the lowest cursor
   of the other stores heard (ours included). */
Test(hb_lease, lag_is_the_most_behind_heard)
{
	struct hb_lease *h = holder(0);
	uint64_t lag = 99;

	cr_expect(!hb_lease_lag(h, 0, 50, &lag), "our journal, nobody else heard: unknown");
	hb_lease_member(h, 1, true);
	hb_lease_member(h, 2, true);
	hb_lease_applied(h, 1, 40);		/* we have b's journal up to 40 */
	hb_lease_peer_applied(h, 2, 1, 45);	/* c has it up to 45 */
	cr_assert(hb_lease_lag(h, 1, 50, &lag));
	cr_expect_eq(lag, 10, "b's journal: 50 - min(40, 45)");
	hb_lease_peer_applied(h, 1, 0, 70);	/* our journal: b at 70, c at 65 */
	hb_lease_peer_applied(h, 2, 0, 65);
	cr_assert(hb_lease_lag(h, 0, 80, &lag));
	cr_expect_eq(lag, 15);
	hb_lease_member(h, 2, false);		/* c not heard: only b counts */
	cr_assert(hb_lease_lag(h, 0, 80, &lag));
	cr_expect_eq(lag, 10);
	cr_assert(hb_lease_lag(h, 0, 60, &lag));
	cr_expect_eq(lag, 0, "a cursor above the head reported: no lag");
	hb_lease_free(&h);
}

/* Lease 0, an unknown echo, or a view in transition count for nothing. */
Test(hb_lease, what_does_not_count)
{
	struct hb_lease *h = holder(1);
	struct hb_endorsement e0 = view(1, 1, false), e1 = view(1, 1, true), et = view(1, 0, true);
	const char *acct = account_ranked(0, 1);	/* moves to b or c when a is out */
	const struct hb_lease_acct *a;
	bool changed;

	hb_lease_endorsement(h, 1, &e1, true, T0);
	hb_lease_endorsement(h, 2, &e0, true, T0);
	a = hb_lease_account(h, acct, &l, T0, 1, &changed);
	cr_expect_eq(a->votes, 1);
	hb_lease_endorsement(h, 2, &e1, false, 0);
	a = hb_lease_account(h, acct, &l, T0, 1, &changed);
	cr_expect_eq(a->votes, 1);
	hb_lease_endorsement(h, 2, &et, true, T0);
	a = hb_lease_account(h, acct, &l, T0, 1, &changed);
	cr_expect_eq(a->votes, 1);
	cr_expect_eq(a->role, HB_ROLE_REPLICA);
	hb_lease_free(&h);
}

/* A graceful move (the old active still heard) waits for the catch-up. */
Test(hb_lease, catch_up_from_a_heard_store)
{
	struct hb_lease *h = holder(1);
	struct hb_endorsement up = view(0, 0, true), moved = view(1, 1, true);
	const struct hb_lease_acct *a;
	const char *acct = account_ranked(0, 1);
	bool changed;

	for (size_t m = 0; m < 3; m++)
		hb_lease_member(h, m, true);
	hb_lease_endorsement(h, 1, &up, true, T0);
	a = hb_lease_account(h, acct, &l, T0, 1, &changed);
	cr_expect_eq(a->last_other, 0);
	hb_lease_head(h, 0, 50, T0);
	hb_lease_applied(h, 0, 40);
	hb_lease_endorsement(h, 1, &moved, true, T0 + 900 * MS);
	hb_lease_endorsement(h, 2, &moved, true, T0 + 900 * MS);
	a = hb_lease_account(h, acct, &l, T0 + 900 * MS, 2, &changed);
	cr_expect(changed);
	cr_expect_eq(a->role, HB_ROLE_PENDING);
	cr_expect_eq(a->from, 0);
	cr_expect_eq(a->target, 50);
	hb_lease_applied(h, 0, 50);
	a = hb_lease_account(h, acct, &l, T0 + 950 * MS, 3, &changed);
	cr_expect(changed);
	cr_expect_eq(a->role, HB_ROLE_ACTIVE);
	hb_lease_free(&h);
}

/* Sync mode (RPO zero): no catch-up deadline while the store it moves
   from is heard; once it is not, the account becomes active here only if
   no member heard has more of that store's journal. Async mode keeps the
   deadline. */
Test(hb_lease, sync_catch_up_waits_for_whoever_has_more)
{
	struct hb_lease *h = holder(1);
	struct hb_endorsement up = view(0, 0, true), moved = view(1, 1, true);
	const struct hb_lease_acct *a;
	const char *acct = account_ranked(0, 1);
	bool changed;

	for (size_t m = 0; m < 3; m++)
		hb_lease_member(h, m, true);
	hb_lease_set_sync(h, acct, true);
	hb_lease_endorsement(h, 1, &up, true, T0);
	a = hb_lease_account(h, acct, &l, T0, 1, &changed);
	hb_lease_head(h, 0, 50, T0);
	hb_lease_applied(h, 0, 40);
	hb_lease_peer_applied(h, 2, 0, 45);	/* c acknowledged up to 45 */
	hb_lease_endorsement(h, 1, &moved, true, T0 + 900 * MS);
	hb_lease_endorsement(h, 2, &moved, true, T0 + 900 * MS);
	a = hb_lease_account(h, acct, &l, T0 + 900 * MS, 2, &changed);
	cr_expect_eq(a->role, HB_ROLE_PENDING);
	/* past the async deadline: still pending */
	hb_lease_endorsement(h, 1, &moved, true, T0 + 3500 * MS);
	hb_lease_endorsement(h, 2, &moved, true, T0 + 3500 * MS);
	a = hb_lease_account(h, acct, &l, T0 + 3500 * MS, 3, &changed);
	cr_expect_eq(a->role, HB_ROLE_PENDING, "no deadline in sync mode");
	/* a dies: c has 45, we have 40: still pending */
	hb_lease_member(h, 0, false);
	a = hb_lease_account(h, acct, &l, T0 + 3600 * MS, 4, &changed);
	cr_expect_eq(a->role, HB_ROLE_PENDING, "c has more of a: %s", a->reason);
	/* we got up to 45 (from c, or a returned record): active */
	hb_lease_applied(h, 0, 45);
	a = hb_lease_account(h, acct, &l, T0 + 3700 * MS, 5, &changed);
	cr_expect_eq(a->role, HB_ROLE_ACTIVE, "%s", a->reason);
	hb_lease_free(&h);

	/* the same in async mode: active at the deadline, with the RPO logged */
	h = holder(1);
	for (size_t m = 0; m < 3; m++)
		hb_lease_member(h, m, true);
	hb_lease_endorsement(h, 1, &up, true, T0);
	a = hb_lease_account(h, acct, &l, T0, 1, &changed);
	hb_lease_head(h, 0, 50, T0);
	hb_lease_applied(h, 0, 40);
	hb_lease_endorsement(h, 1, &moved, true, T0 + 900 * MS);
	hb_lease_endorsement(h, 2, &moved, true, T0 + 900 * MS);
	a = hb_lease_account(h, acct, &l, T0 + 900 * MS, 2, &changed);
	cr_expect_eq(a->role, HB_ROLE_PENDING);
	hb_lease_endorsement(h, 1, &moved, true, T0 + 3500 * MS);
	hb_lease_endorsement(h, 2, &moved, true, T0 + 3500 * MS);
	a = hb_lease_account(h, acct, &l, T0 + 3500 * MS, 3, &changed);
	cr_expect_eq(a->role, HB_ROLE_ACTIVE, "async: the deadline");
	cr_expect_not_null(strstr(a->reason, "missing (RPO)"), "%s", a->reason);
	hb_lease_free(&h);
}

static struct hb_endorsement pinned(uint64_t hash, uint8_t cur, uint8_t prev)
{
	struct hb_endorsement e = view(0, 0, true);

	e.n_pins = 1;
	e.pins[0].hash = hash;
	e.pins[0].cur = cur;
	e.pins[0].prev = prev;
	return e;
}

/* A promote to b of an account active on a (sync mode): a loses it as
   soon as a quorum's views pin it elsewhere; b is pending until it has
   a's head (the store it moves from: last_other, a), with no deadline. */
Test(hb_lease, promote_catches_up_from_the_old_active)
{
	struct hb_lease *a = holder(0), *b = holder(1);
	const char *acct = account_ranked(0, 1);
	uint64_t h = hb_pins_hash(acct);
	struct hb_endorsement up = view(0, 0, true), moving = pinned(h, 1, HB_WIRE_PIN_NONE),
			      moved = pinned(h, 1, 1);
	const struct hb_lease_acct *x;
	bool changed;

	for (size_t m = 0; m < 3; m++) {
		hb_lease_member(a, m, true);
		hb_lease_member(b, m, true);
		hb_lease_endorsement(a, m, &up, true, T0);
		hb_lease_endorsement(b, m, &up, true, T0);
	}
	hb_lease_set_sync(b, acct, true);
	x = hb_lease_account(a, acct, &l, T0, 1, &changed);
	cr_expect_eq(x->role, HB_ROLE_ACTIVE);
	x = hb_lease_account(b, acct, &l, T0, 1, &changed);
	cr_expect_eq(x->role, HB_ROLE_REPLICA);
	cr_expect_eq(x->last_other, 0);
	/* b and c took the pin (in transition): a has its own vote only */
	hb_lease_endorsement(a, 1, &moving, true, T0 + 100 * MS);
	hb_lease_endorsement(a, 2, &moving, true, T0 + 100 * MS);
	x = hb_lease_account(a, acct, &l, T0 + 100 * MS, 2, &changed);
	cr_expect(changed);
	cr_expect_eq(x->role, HB_ROLE_REPLICA);
	hb_lease_endorsement(b, 1, &moving, true, T0 + 100 * MS);
	hb_lease_endorsement(b, 2, &moving, true, T0 + 100 * MS);
	x = hb_lease_account(b, acct, &l, T0 + 100 * MS, 2, &changed);
	cr_expect_eq(x->role, HB_ROLE_REPLICA, "no one during the transition");
	cr_expect_eq(x->last_other, 0, "b's own view is in transition, a before it");
	/* after the transitions: b pending, from a, to a's head */
	hb_lease_head(b, 0, 70, T0 + 900 * MS);
	hb_lease_applied(b, 0, 60);
	hb_lease_endorsement(b, 1, &moved, true, T0 + 1000 * MS);
	hb_lease_endorsement(b, 2, &moved, true, T0 + 1000 * MS);
	x = hb_lease_account(b, acct, &l, T0 + 1000 * MS, 3, &changed);
	cr_expect(changed);
	cr_expect_eq(x->role, HB_ROLE_PENDING);
	cr_expect_eq(x->from, 0);
	cr_expect_eq(x->target, 70);
	/* sync: past the catch-up deadline, still pending while a is heard */
	hb_lease_endorsement(b, 1, &moved, true, T0 + 4000 * MS);
	hb_lease_endorsement(b, 2, &moved, true, T0 + 4000 * MS);
	x = hb_lease_account(b, acct, &l, T0 + 4000 * MS, 4, &changed);
	cr_expect_eq(x->role, HB_ROLE_PENDING);
	hb_lease_applied(b, 0, 70);
	x = hb_lease_account(b, acct, &l, T0 + 4100 * MS, 5, &changed);
	cr_expect_eq(x->role, HB_ROLE_ACTIVE, "%s", x->reason);
	hb_lease_free(&a);
	hb_lease_free(&b);
}

Test(hb_lease, ready_needs_quorum_for_timeout_and_catch_up)
{
	struct hb_lease *h = holder(0);

	hb_lease_member(h, 1, true);
	cr_expect(!hb_lease_ready(h, 1, T0));
	cr_expect(!hb_lease_ready(h, 2, T0));
	hb_lease_head(h, 1, 10, T0 + 10 * MS);
	cr_expect(!hb_lease_ready(h, 2, T0 + 999 * MS));
	cr_expect(!hb_lease_ready(h, 2, T0 + TIMEOUT * MS), "not caught up");
	hb_lease_applied(h, 1, 10);
	cr_expect(hb_lease_ready(h, 2, T0 + TIMEOUT * MS));
	cr_expect(!hb_lease_ready(h, 1, T0 + 2000 * MS), "quorum lost");
	hb_lease_free(&h);
}

Test(hb_lease, not_ready_while_a_member_owes_a_resync)
{
	struct hb_lease *h = holder(0);

	hb_lease_member(h, 1, true);
	hb_lease_owed(h, 1, true);	/* a new store: member 1 seeds it */
	cr_expect(!hb_lease_ready(h, 2, T0));
	hb_lease_head(h, 1, 10, T0 + 10 * MS);
	hb_lease_applied(h, 1, 10);
	cr_expect(!hb_lease_ready(h, 2, T0 + TIMEOUT * MS), "caught up by LSN, still owed");
	cr_expect(hb_lease_owed_by(h, 1));
	hb_lease_owed(h, 1, false);
	cr_expect(hb_lease_ready(h, 2, T0 + TIMEOUT * MS + MS), "the seed is done");
	hb_lease_owed(h, 1, true);	/* retention removed records we lacked */
	cr_expect(!hb_lease_ready(h, 2, T0 + TIMEOUT * MS + 2 * MS), "ready no longer");
	hb_lease_member(h, 1, false);	/* a member not heard owes nothing here */
	cr_expect(!hb_lease_owed_by(h, 1));
	hb_lease_owed(h, 1, false);
	hb_lease_member(h, 1, true);
	cr_expect(hb_lease_ready(h, 2, T0 + TIMEOUT * MS + 3 * MS));
	hb_lease_free(&h);
}

/* ---- a simulated cluster ---- */
/* Five (or three) voters and holders, links that flap, stores that freeze
   and restart, and (with pins) operators that promote and clear pins at
   random voters, gossiped one definition per heartbeat as the daemon
   does. At no time may two stores write one account. */

#define N 5
#define ACCTS 12
#define LINKDELAY_MAX (30 * MS)

struct pkt {
	bool used;
	size_t from, to;
	uint64_t arrive;
	uint64_t seq, echo;
	struct hb_endorsement e;
	bool has_pin;
	struct hb_pin_def pin;
};

struct node {
	struct hb_voter *v;
	struct hb_lease *h;
	struct hb_pins *pins;
	int64_t skew_ns;		/* of its wall clock */
	bool frozen;
	uint64_t next_tick, seq;
	uint64_t sent_at[64];		/* by seq % 64 */
	uint64_t heard[N], last_seq[N];
	bool link[N];			/* receives from */
};

static struct node nodes[N];
static struct pkt pkts[4096];
static char names[ACCTS][16];
static size_t n_sim;
static bool sim_pins;
static size_t pinned_active;	/* ticks an account was active at its pin */
static size_t pinned_here;	/* ticks a node had an account pinned to itself */

static void node_start(size_t i, uint64_t now)
{
	struct hb_voter_settings vs = { .n_members = n_sim, .self = (int)i, .lease_ms = LEASE };
	struct hb_lease_settings ls = { .n_members = n_sim, .self = (unsigned int)i,
					.lease_ms = LEASE, .timeout_ms = TIMEOUT,
					.catchup_ms = 2 * TIMEOUT };

	hb_voter_free(&nodes[i].v);
	hb_lease_free(&nodes[i].h);
	memset(nodes[i].heard, 0, sizeof(nodes[i].heard));
	memset(nodes[i].last_seq, 0, sizeof(nodes[i].last_seq));
	nodes[i].v = hb_voter_new(&vs, now);
	nodes[i].h = hb_lease_new(&ls);
}

static void node_tick(size_t i, uint64_t now)
{
	struct node *nd = &nodes[i];
	enum hb_member_state st[N];
	bool rd[N];
	struct hb_endorsement own;
	bool changed, has_pin = false;
	struct hb_pin_force snap[HB_PINS_MAX];
	struct hb_pin_def pin;

	hb_voter_pins(nd->v, snap, hb_pins_snapshot(nd->pins, snap));
	has_pin = hb_pins_next(nd->pins, &pin);
	for (size_t m = 0; m < n_sim; m++) {
		rd[m] = true;
		if (m == i)
			st[m] = HB_MEMBER_HEALTHY;
		else if (nd->heard[m] == 0)
			st[m] = HB_MEMBER_UNKNOWN;
		else if (now - nd->heard[m] > TIMEOUT * MS)
			st[m] = HB_MEMBER_FAILED;
		else
			st[m] = HB_MEMBER_HEALTHY;
		hb_lease_member(nd->h, m, st[m] == HB_MEMBER_HEALTHY);
	}
	hb_voter_tick(nd->v, st, rd, now);
	hb_voter_endorse(nd->v, i, now, &own);
	hb_lease_endorsement(nd->h, i, &own, true, now);
	nd->seq++;
	nd->sent_at[nd->seq % 64] = now;
	for (size_t j = 0; j < n_sim; j++) {
		struct pkt *p = NULL;

		if (j == i)
			continue;
		for (size_t k = 0; k < sizeof(pkts) / sizeof(pkts[0]); k++)
			if (!pkts[k].used) {
				p = &pkts[k];
				break;
			}
		cr_assert_not_null(p);
		p->used = true;
		p->from = i;
		p->to = j;
		p->arrive = now + (uint64_t)rand() % LINKDELAY_MAX;
		p->seq = nd->seq;
		p->echo = nd->last_seq[j];
		hb_voter_endorse(nd->v, j, now, &p->e);
		p->has_pin = has_pin;
		p->pin = pin;
	}
	for (size_t a = 0; a < ACCTS; a++) {
		const struct hb_lease_acct *e;

		hb_placement_get(pl, names[a], &l);
		e = hb_lease_account(nd->h, names[a], &l, now, now, &changed);
		if (hb_pins_get(nd->pins, names[a], NULL) == (int)i) {
			pinned_here++;
			pinned_active += e->role == HB_ROLE_ACTIVE;
		}
	}
}

static void deliver(struct pkt *p, uint64_t now)
{
	struct node *nd = &nodes[p->to];
	uint64_t sent = nd->sent_at[p->echo % 64];

	p->used = false;
	if (nd->frozen || !nd->link[p->from] || p->seq <= nd->last_seq[p->from])
		return;
	nd->heard[p->from] = now;
	nd->last_seq[p->from] = p->seq;
	if (p->has_pin)
		hb_pins_merge(nd->pins, &p->pin);
	/* the echo is known while it is in the ring and not older */
	hb_lease_endorsement(nd->h, p->from, &p->e, p->echo != 0 && nd->seq - p->echo < 64,
			     sent);
}

/* No two stores with an account pending or active whose deadline is
   still ahead: what the mounts would let write. */
static void check(uint64_t now, unsigned int seed)
{
	for (size_t a = 0; a < ACCTS; a++) {
		int writer = -1;

		for (size_t i = 0; i < n_sim; i++) {
			const struct hb_lease_acct *e = hb_lease_find(nodes[i].h, names[a]);

			if (e == NULL || e->role == HB_ROLE_REPLICA || e->deadline_us <= now)
				continue;
			cr_assert_eq(writer, -1, "seed %u at %llu ms: %s writable at %d and %zu",
				     seed, (unsigned long long)(now / MS), names[a], writer, i);
			writer = (int)i;
		}
	}
}

/* An operator at node i pins a random account to one of its holders, or
   clears its pin (the daemon refuses other stores). */
static void operator(size_t i, uint64_t now)
{
	const char *error;
	size_t a = (size_t)rand() % ACCTS;
	uint8_t m = HB_WIRE_PIN_NONE;

	if (rand() % 3 != 0) {
		hb_placement_get(pl, names[a], &l);
		m = (uint8_t)l.rank[(size_t)rand() % l.want];
	}
	hb_pins_set(nodes[i].pins, names[a], m,
		    (uint64_t)((int64_t)now * 1000 + nodes[i].skew_ns), &error);
}

static void simulate(unsigned int seed, size_t n, uint64_t steps)
{
	uint64_t now = T0;
	size_t actives = 0;

	srand(seed);
	n_sim = n;
	hb_placement_free(&pl);
	hb_placement_list_deinit(&l);
	pl = hb_placement_new(2);
	for (size_t i = 0; i < n; i++) {
		char nm[8];

		snprintf(nm, sizeof(nm), "s%zu", i);
		hb_placement_add_store(pl, nm);
	}
	hb_placement_list_init(&l, pl, SIZE_MAX);
	memset(pkts, 0, sizeof(pkts));
	for (size_t a = 0; a < ACCTS; a++)
		snprintf(names[a], sizeof(names[a]), "acct%zu", a);
	for (size_t i = 0; i < n; i++) {
		memset(&nodes[i], 0, sizeof(nodes[i]));
		nodes[i].pins = hb_pins_new();
		nodes[i].skew_ns = ((int64_t)(rand() % 2001) - 1000) * 1000000;
		node_start(i, now);
		nodes[i].next_tick = now + (uint64_t)rand() % (INTERVAL * MS);
		for (size_t j = 0; j < n; j++)
			nodes[i].link[j] = true;
	}
	for (uint64_t s = 0; s < steps; s++) {
		now += 1 * MS;
		/* faults: links flap (asymmetric views), stores freeze and
		   wake, or restart with no memory */
		if (rand() % 1500 == 0) {
			size_t i = (size_t)rand() % n, j = (size_t)rand() % n;

			nodes[i].link[j] = !nodes[i].link[j];
		}
		if (rand() % 3000 == 0) {
			size_t i = (size_t)rand() % n;

			nodes[i].frozen = !nodes[i].frozen;
		}
		if (rand() % 6000 == 0) {
			size_t i = (size_t)rand() % n;

			/* its pins survive (STATE/hbmon.pins) */
			node_start(i, now);
		}
		if (sim_pins && rand() % 1000 == 0)
			operator((size_t)rand() % n, now);
		if (rand() % 3000 == 0)
			for (size_t i = 0; i < n; i++)
				for (size_t j = 0; j < n; j++)
					nodes[i].link[j] = true;
		for (size_t k = 0; k < sizeof(pkts) / sizeof(pkts[0]); k++)
			if (pkts[k].used && pkts[k].arrive <= now)
				deliver(&pkts[k], now);
		for (size_t i = 0; i < n; i++) {
			if (nodes[i].next_tick > now)
				continue;
			nodes[i].next_tick = now + INTERVAL * MS;
			if (!nodes[i].frozen)
				node_tick(i, now);
		}
		check(now, seed);
		for (size_t i = 0; i < n; i++)
			for (size_t a = 0; a < ACCTS; a++) {
				const struct hb_lease_acct *e = hb_lease_find(nodes[i].h, names[a]);

				actives += e != NULL && e->role == HB_ROLE_ACTIVE;
			}
	}
	/* the run was not vacuous: accounts were active most of the time */
	cr_expect_gt(actives, steps * ACCTS / 6, "seed %u: %zu", seed, actives);
	for (size_t i = 0; i < n; i++) {
		hb_voter_free(&nodes[i].v);
		hb_lease_free(&nodes[i].h);
		hb_pins_free(&nodes[i].pins);
	}
}

Test(hb_lease, random_views_never_two_writers_3, .timeout = 120)
{
	for (unsigned int seed = 1; seed <= 6; seed++)
		simulate(seed, 3, 60000);
}

Test(hb_lease, random_views_never_two_writers_5, .timeout = 120)
{
	for (unsigned int seed = 1; seed <= 4; seed++)
		simulate(seed, 5, 60000);
}

/* The same with operators promoting and clearing pins all the time (one
   every second somewhere, clocks up to 1 s apart): the pins take effect
   (an account pinned to a store is active there half of the time, in
   spite of the faults and transitions), and never two writers. */
Test(hb_lease, random_promotes_never_two_writers_3, .timeout = 120)
{
	sim_pins = true;
	pinned_active = pinned_here = 0;
	for (unsigned int seed = 1; seed <= 6; seed++)
		simulate(seed, 3, 60000);
	cr_expect_gt(pinned_active, pinned_here / 3, "active at its pin %zu times of %zu",
		     pinned_active, pinned_here);
	sim_pins = false;
}

Test(hb_lease, random_promotes_never_two_writers_5, .timeout = 120)
{
	sim_pins = true;
	pinned_active = pinned_here = 0;
	for (unsigned int seed = 1; seed <= 4; seed++)
		simulate(seed, 5, 60000);
	cr_expect_gt(pinned_active, pinned_here / 3, "active at its pin %zu times of %zu",
		     pinned_active, pinned_here);
	sim_pins = false;
}
