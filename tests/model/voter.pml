/* SPDX-License-Identifier: MIT
 * voter.pml - the P1 lemma: one voter's endorsements of account A over its
 * whole life, against every store as a holder (README.md, "P1: the lemma").
 *
 * L1 (asserted at every endorsement V sends, its own included): when V
 * endorses store j for A, no other store holds a valid endorsement of V
 * for A, and none is on its way to one. P1 follows by quorum intersection:
 * two stores writable at once would each count a quorum of valid
 * endorsements, and two quorums of the NV voters share a voter.
 *
 * Everything outside V is arbitrary: its wanted exclusions and which of
 * them are failures (health, ready, the failure detector), prefs, whom it
 * hears (lease = 1 or 0), its pin table (the operator and gossip), crashes.
 * The network to a store s is kept as the largest validity left among the
 * endorsements of s still in flight (pend[s]): a message may be delayed
 * for any time, lost, duplicated or reordered; delivering it sets the
 * holder's validity (held[s]) to at most that. Clocks: one global tick;
 * -DDRIFT=D: a holder's count of an endorsement may miss up to D ticks of
 * the global clock, at any time while it runs (a clock running slow).
 */

#include "view.pml"

byte me;		/* V: which voter this is (chosen at start) */
byte held[NM];		/* [s]: ticks left of the valid endorsement of V s holds */
byte pend[NM];		/* [s]: the most ticks left among those in flight to s */
#ifdef DRIFT
byte slow[NM];		/* [s]: ticks s's count of held[s] may still miss */
#endif

/* health, ready and the failure detector are arbitrary: any set of
 * members is wanted excluded, any subset of it failed */
inline hb_wanted(V) {
	if
	:: wanted = 0 :: wanted = 1 :: wanted = 2 :: wanted = 3
#ifndef WITNESS
	:: wanted = 4 :: wanted = 5 :: wanted = 6 :: wanted = 7
#endif
	fi;
	/* which of them failed: only L[0]'s failure is read (prefs) */
	if :: failed = 0 :: (wanted & 1) -> failed = 1 fi
}

/* prefs of L[0] from reported applied values: any order (np, chosen
 * before the step) */
inline hb_make_prefs(V) {
	prefs[V] = np
}
inline any_member(j) { if :: j = 0 :: j = 1 :: NM == 3 -> j = NM - 1 fi }

/* L1: nothing of V's is valid at a store other than j */
#define l1(j) \
	((j == 0 || held[0] == 0 && pend[0] == 0) && \
	 (j == 1 || held[1] == 0 && pend[1] == 0) && \
	 (NM < 3 || j == 2 || held[NM - 1] == 0 && pend[NM - 1] == 0))

inline dec(x) { if :: x > 0 -> x-- :: else fi }

inline tick() {
	dec(transition_end[me]); dec(boot[me]);
	m = 0;
	do
	:: m < NM ->
		dec(last_renewal[ix(me, m)]); dec(held[m]); dec(pend[m]);
#ifdef DRIFT
		if :: held[m] == 0 -> slow[m] = 0 :: else fi;	/* not read until set */
#endif
		m++
	:: else -> break
	od;
	m = 0
}

/* hb_voter_endorse(V, j) with lease = 1: last_renewal[j] = now; with the
 * endorsement of j for A, L1 must hold. To itself, the holder counts it
 * at once (hb_lease_endorsement(self), valid for lease x 0.9). */
inline renew(j) {
	last_renewal[ix(me, j)] = LEASE;
	hb_view_endorses(me, j, e);
	if
	:: e ->
		assert(l1(j));
		if
		:: j == me -> held[j] = LEASE - MARGIN
#ifdef DRIFT
			; slow[j] = DRIFT
#endif
		:: else -> pend[j] = LEASE - MARGIN
		fi
	:: else ->
		if :: j == me -> held[j] = 0 :: else fi	/* E_self replaced */
	fi
}

active proctype voter() {
	byte wanted, failed, added, removed, losers, late, m, a_new, a_old, j, np, pin_tab;
	bit e;
	atomic {
		if :: me = 0 :: me = 1 :: me = 2 fi;
		hb_voter_new(me)
	};
	do
	/* the clock */
	:: d_step { tick() }
	/* a tick of V: the view, then (a store) its own endorsement */
	:: atomic { up[me] ->
		if
		:: transition_end[me] > 0 ->
			/* a transition runs: the view does not change, whatever
			 * is wanted */
			wanted = excl[me]; pin_tab = pins[me]; failed = 0
		:: else ->
			hb_wanted(me);
			/* V's pin table for A, as the operator and gossip left it */
			if :: pin_tab = NONE :: pin_tab = 0 :: pin_tab = 1 :: NM == 3 -> pin_tab = 2 fi
		fi;
		/* prefs, when this change makes them (L[0] failed, newly or
		 * late): either order */
		if
		:: NM == 3 && (wanted & failed & 1) && (!(excl[me] & 1) || prefs[me] == 0) ->
			if :: np = 1 :: np = 2 fi
		:: else
		fi;
		/* lease to itself: 1 (j = 1) or 0 (its own verdict: j = 0) */
		if :: j = 1 :: is_member(me) -> j = 0 fi;
		d_step {
		hb_voter_tick(me);
		if
		:: is_member(me) && boot[me] == 0 && j -> renew(me)
		:: is_member(me) && !(boot[me] == 0 && j) -> held[me] = 0	/* E_self replaced */
		:: else
		fi;
		wanted = 0; failed = 0; added = 0; removed = 0; losers = 0; late = 0;
		a_new = 0; a_old = 0; e = 0; m = 0; j = 0; np = 0; pin_tab = 0 } }
	/* a heartbeat to member j with lease = 1 (V hears j) */
	:: atomic { up[me] && boot[me] == 0 ->
		if :: me != 0 -> j = 0 :: me != 1 -> j = 1 :: NM == 3 && me != NM - 1 -> j = NM - 1 fi;
		d_step { renew(j); j = 0; a_new = 0; a_old = 0; e = 0 } }
	/* delivery at store j: the freshest endorsement in flight, or one that
	 * does not endorse j (lease = 0, a view that names another store, or
	 * the holder restarted) */
	:: atomic { any_member(j);
		if
		:: j != me && pend[j] > 0 -> d_step { held[j] = pend[j];
#ifdef DRIFT
			slow[j] = DRIFT;
#endif
			j = 0 }
		:: d_step { held[j] = 0; j = 0 }
		fi }
	/* V crashes; it starts again */
	:: d_step { up[me] -> up[me] = 0; if :: is_member(me) -> held[me] = 0 :: else fi }
	:: d_step { !up[me] -> hb_voter_new(me) }
#ifdef DRIFT
	/* a holder's clock runs slow: its count of held[j] misses a tick */
#define may_miss(j) (slow[j] > 0 && held[j] > 0)
	:: d_step { may_miss(0) -> slow[0]--; held[0]++ }
	:: d_step { may_miss(1) -> slow[1]--; held[1]++ }
	:: d_step { NM == 3 && may_miss(NM - 1) -> slow[NM - 1]--; held[NM - 1]++ }
#endif
	od
}
