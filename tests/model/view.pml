/* SPDX-License-Identifier: MIT
 * view.pml - a voter's view (hbmon/hb-view.c) for one account A, shared by
 * leases.pml (the whole cluster) and voter.pml (one voter, the P1 lemma).
 *
 * The includer defines, before including this file:
 *   inline hb_make_prefs(V) sets prefs[V] for L[0] = member 0 (failed)
 * and the locals the inlines use: wanted, failed, added, removed, losers,
 * late, m, a_new, a_old. hb_voter_tick takes `wanted` and `failed`
 * (bitmasks of members) and `pin_tab` as its caller chose them. Nondeterministic
 * choices are made before a d_step (a d_step takes the first open branch).
 *
 * Account A: ranking L = <0, 1, 2>, want = 3 (every store holds A); with
 * -DWITNESS the stores are 0 and 1 (L = <0, 1>, want = 2) and voter 2 is
 * the witness. Names are those of the C code and docs/hbmon.md.
 */

#ifndef LEASE
#define LEASE    2	/* lease, in ticks */
#endif
#ifndef MARGIN
#define MARGIN   1	/* LEASE_MARGIN, in ticks */
#endif

#define NV 3		/* voters */
#ifdef WITNESS
#define NM 2		/* members (stores); voter 2 is the witness */
#define ALLM 3
#else
#define NM 3
#define ALLM 7
#endif
#define quorum (NV / 2 + 1)
#define NONE 3		/* "no store" (-1 in C; 0xff on the wire for pins) */

#define ix(a, b) ((a) * NV + (b))
#define is_member(m) ((m) < NM)

/* ---- a voter's view (index: voter) */
byte excl[NV];		/* bitmask of excluded members */
byte prev_excl[NV];
byte prefs[NV];		/* prefs[L[0]]: 0 none, 1 = <1,2>, 2 = <2,1> */
byte prev_prefs[NV];	/* ... of the previous view (README: flaw 4; C today
			 * reads prefs for both views: -DC_SHARED_PREFS) */
/* pin_tab: the voter's pin table entry for A (NONE or the pinned member).
 * The operator sets or clears the pin at any time and each voter learns it
 * by gossip at its own time, so the entry a voter holds when its tick reads
 * it is any value: the caller chooses it (a local, pin_tab) with wanted. */
byte pins[NV];		/* the pin of A in the view (NONE: not pinned) */
byte prev_pins[NV];	/* ... in the previous view */
/* view_id: no rule reads it; not kept (the state stays finite) */
#ifndef UNTIMED
byte transition_end[NV];	/* ticks left until transition_end */
byte last_renewal[NV * NV];	/* [V,s]: ticks left of last_renewal[s] + lease */
byte boot[NV];		/* ticks left of the start-up period (lease = 0 to all) */
#endif
bit  up[NV];		/* the voter's host is running */

/* hb_view_active(A, ex, prefs, pins): the pin first (the view pins A to
 * s and s is not excluded: s), else the plain rule: 1. L = <0,1,2>,
 * want = 3; 2. H = the members of L not excluded; 3. L[0] if not excluded;
 * 4. else the first of prefs[L[0]] in C (C = H: every member is in
 * L[0..want)), else the first of C in ranking order. */
inline hb_view_active(ex, pf, pn, res) {
	if
	:: pn != NONE && !(ex & (1 << pn)) -> res = pn
	:: else ->
#ifdef WITNESS
		if
		:: !(ex & 1) -> res = 0
		:: (ex & 1) && !(ex & 2) -> res = 1
		:: else -> res = NONE
		fi
#else
		if
		:: !(ex & 1) -> res = 0
		:: (ex & 1) && (ex & 6) == 6 -> res = NONE
		:: (ex & 1) && (ex & 6) == 4 -> res = 1
		:: (ex & 1) && (ex & 6) == 2 -> res = 2
#ifdef MUT_NO_PREFS
		:: (ex & 1) && (ex & 6) == 0 -> res = 1
#else
		:: (ex & 1) && (ex & 6) == 0 -> res = (pf == 2 -> 2 : 1)
#endif
		fi
#endif
	fi
}

/* hb_view_endorses: V's view names j A's active in both excl (with pins)
 * and prev_excl (with prev_pins); the caller adds `lease` */
#ifdef C_SHARED_PREFS
#define PREV_PREFS(V) prefs[V]
#else
#define PREV_PREFS(V) prev_prefs[V]
#endif
inline hb_view_endorses(V, j, res) {
	hb_view_active(excl[V], prefs[V], pins[V], a_new);
	hb_view_active(prev_excl[V], PREV_PREFS(V), prev_pins[V], a_old);
	res = (a_new == j && a_old == j)
}

#ifndef UNTIMED
/* hb_voter_tick + change_view (hb-view.c), for A. `late`: L[0] excluded
 * without prefs and now failed (late_failed). A change of the pin table is
 * a view change like a change of exclusions, and a conservative one. */
inline hb_voter_tick(V) {
	if
	:: transition_end[V] == 0 ->
		prev_excl[V] = excl[V];		/* the transition is over */
		prev_prefs[V] = prefs[V];
		prev_pins[V] = pins[V]
	:: else
	fi;
#if defined(WITNESS) || defined(SPEC_CATCHUP)
	late = 0;	/* (the spec had no late prefs) */
#else
	late = (excl[V] & wanted & failed & 1) && prefs[V] == 0;
#endif
	if
	:: transition_end[V] == 0 && (wanted != excl[V] || pin_tab != pins[V] || late) ->
		/* change_view */
		prev_prefs[V] = prefs[V];
		added = wanted & ~excl[V];
		removed = excl[V] & ~wanted;
		losers = added;
		if
		:: prefs[V] != 0 && (wanted & 1) -> losers = ALLM	/* kept prefs */
		:: prefs[V] != 0 && !(wanted & 1) -> prefs[V] = 0	/* dropped */
		:: else
		fi;
		if
		:: removed != 0 || late -> losers = ALLM
		:: else
		fi;
#ifdef MUT_PIN_ADDED_LOSERS
		/* mutation: a pin change is not conservative (losers = added) */
#else
		if
		:: pin_tab != pins[V] -> losers = ALLM
		:: else
		fi;
#endif
		if
		:: ((added | (late -> 1 : 0)) & failed & 1) && NM == 3 -> hb_make_prefs(V)
		:: else
		fi;
		transition_end[V] = 0;
		m = 0;
		do
		:: m < NM ->
			if
			:: (losers & (1 << m)) && last_renewal[ix(V, m)] > transition_end[V] ->
				transition_end[V] = last_renewal[ix(V, m)]
			:: else
			fi;
			m++
		:: else -> break
		od;
#ifdef MUT_NO_TRANSITION
		transition_end[V] = 0;
#endif
		prev_excl[V] = excl[V];
		excl[V] = wanted;
		prev_pins[V] = pins[V];
		pins[V] = pin_tab;
#ifdef MUT_PIN_NO_TRANSITION
		/* mutation: the pin table is applied without a transition */
		prev_pins[V] = pins[V];
#endif
		/* view_id++ */
		if
		:: transition_end[V] == 0 ->
			prev_excl[V] = excl[V];
			prev_prefs[V] = prefs[V];
			prev_pins[V] = pins[V]
		:: else
		fi
	:: else		/* changes during a transition wait for its end */
	fi
}

/* the start of a voter (hb_voter_new): everyone excluded (the first view
 * that includes a member is a return), lease = 0 for `lease`; the pin
 * table is kept (STATE/hbmon.pins) */
inline hb_voter_new(V) {
	up[V] = 1;
	excl[V] = ALLM; prev_excl[V] = ALLM; prefs[V] = 0; prev_prefs[V] = 0;
	transition_end[V] = 0;
	pins[V] = NONE; prev_pins[V] = NONE;
#ifdef MUT_NO_BOOT
	boot[V] = 0;
#else
	boot[V] = LEASE;
#endif
	m = 0;
	do
	:: m < NM -> last_renewal[ix(V, m)] = 0; m++
	:: else -> break
	od;
	m = 0
}
#endif
