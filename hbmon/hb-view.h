/* SPDX-License-Identifier: MIT
 * hb-view.h - a voter's view (excl, prev_excl, prefs, pins, transitions)
 * and who is active under one (hb_view_active_in). Pure: callers pass
 * states, pins and time. */
#ifndef HB_VIEW_H
#define HB_VIEW_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "hb-members.h"
#include "hb-pins.h"
#include "hb-placement.h"
#include "hb-wire.h"

#define HB_VIEW_MAX HB_WIRE_MEMBERS_MAX

/* The active member of l's account under excl and prefs (docs/hbmon.md,
   "Who is active"), or -1. l comes from a placement whose store indices are
   the member indices (hb_placement_from_cfg_sorted). prefs[0..n_prefs) as
   in an endorsement. */
int hb_view_active(const struct hb_placement_list *l, uint64_t excl,
		   const struct hb_pref *prefs, size_t n_prefs);
/* The same with a pin (docs/hbmon.md, "Promote"): pin (a member index, -1
   for none) when it is one of the account's holders (l->rank[0..want))
   and not excluded, else hb_view_active(). */
int hb_view_active_pinned(const struct hb_placement_list *l, uint64_t excl,
			  const struct hb_pref *prefs, size_t n_prefs, int pin);
/* The member e pins the account with this hash (hb_pins_hash) to in its
   current view (prev false) or its previous one; -1 when none. */
int hb_view_pin(const struct hb_endorsement *e, uint64_t hash, bool prev);
/* Who is active for l's account (hash) under e's current view (excl, its
   pin) or previous one (prev_excl, its previous pin). The one rule of
   voters, holders and the status. */
int hb_view_active_in(const struct hb_endorsement *e, const struct hb_placement_list *l,
		      uint64_t hash, bool prev);
/* Whether endorsement e endorses member s for l's account (hash): lease,
   and s active under both of e's views. collides: another account of the
   holder has the same hash; then e endorses s only when it pins neither
   (the safe side: e's entry may mean the other account). */
bool hb_view_endorses(const struct hb_endorsement *e, const struct hb_placement_list *l,
		      uint64_t hash, bool collides, unsigned int s);

struct hb_voter_settings {
	size_t n_members;	/* 1..HB_VIEW_MAX */
	int self;		/* member index, -1 for the witness */
	unsigned int lease_ms;
	/* A member that failed after this voter had included it stays
	   excluded until it has been fine (heard, healthy, ready) this long:
	   failback after a stable period. 0: at once. */
	unsigned int failback_ms;
};

struct hb_voter;

/* A voter started at now_us: it sends lease = 0 for lease_ms. */
struct hb_voter *hb_voter_new(const struct hb_voter_settings *set, uint64_t now_us);
void hb_voter_free(struct hb_voter **vp);

/* The pins in force in this voter's table (hb_pins_snapshot: sorted by
   hash, members < n_members): a difference from the view's is a view
   change at the next tick that may make one, with every member a loser. */
void hb_voter_pins(struct hb_voter *v, const struct hb_pin_force *pins, size_t n);
/* Member m reported (or, for m = self, this voter has) applied[p] = lsn. */
void hb_voter_applied(struct hb_voter *v, size_t m, size_t p, uint64_t lsn);
/* Whether this voter hears fewer than a quorum of voters (itself and the
   witness included). A voter that was cut off forgets which members it
   saw fail when it hears a quorum again: it was the one that failed, and
   they do not return after failback_after (docs/hbmon.md, "Failback"). */
void hb_voter_isolated(struct hb_voter *v, bool isolated);
/* Recomputes the view at now_us from each member's state and ready flag
   (for self: its own health verdict and ready). Returns true when the view
   changed (a new view_id, or the end of a transition). */
bool hb_voter_tick(struct hb_voter *v, const enum hb_member_state *state,
		   const bool *ready, uint64_t now_us);
/* The endorsement for member s, sent at now_us: lease = 1 only after the
   start-up period and while s is heard (not failed or unknown at the last
   tick); then last_renewal[s] = now_us. The holder of the store itself
   takes its own endorsement from here every tick, so its own last
   renewal is kept the same way. */
void hb_voter_endorse(struct hb_voter *v, size_t s, uint64_t now_us,
		      struct hb_endorsement *e_r);
/* The current view, borrowed from v until its next tick: view_id, excl,
   prev_excl, prefs, pins (lease is false). */
const struct hb_endorsement *hb_voter_view(const struct hb_voter *v);
uint64_t hb_voter_transition_end(const struct hb_voter *v);
/* Whether view e is in a transition: exclusions or pins differ between
   its current and previous parts. */
bool hb_view_in_transition(const struct hb_endorsement *e);
/* The exclusions wanted at the last tick. */
uint64_t hb_voter_wanted(const struct hb_voter *v);

#endif
