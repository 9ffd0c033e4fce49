/* SPDX-License-Identifier: MIT
 * leases.pml - Promela model of mailmesh-hbmon's leases, views, pins and
 * failover for one account A (issue 4), the whole cluster: three voters,
 * their views (view.pml), their holders' roles and catch-up, journals,
 * acks. C: hbmon/hb-view.c, hbmon/hb-lease.c. README.md maps every rule.
 *
 * Two ways to run it (README.md, "Coverage"):
 * - timed (default): one global clock, every duration a countdown; for the
 *   scripted traces (scenarios.pml, -DSCENARIO=N) and the bitstate searches.
 * - -DUNTIMED: the P2 model. Leases are replaced by what the P1 lemma
 *   (voter.pml, L1, proven for every voter) guarantees: a voter endorses a
 *   store only when no other store holds or is sent a valid endorsement of
 *   it; a valid endorsement lapses at any time. No clock, no transitions,
 *   no start-up period: the rest (views, pins, prefs, ready, catch-up,
 *   journals, acks, crashes, losses) is as in the timed model.
 *
 * NETWORK. One heartbeat slot per directed pair of voters: a send either
 * goes into the slot (replacing, i.e. losing, the message there) or is
 * lost; a message stays in its slot for any number of steps (delay). The
 * receiver sees an in-order subsequence of what was sent (C refuses a seq
 * not above the last it accepted), with at most one message in flight per
 * pair. Timed: the validity a message carries runs down while in flight.
 *
 * FAULTS. A process may stop taking steps for any time (no fairness). A
 * store may crash and restart: it forgets its view, what it heard, its
 * holder's state (E, roles, last_other); it keeps its journal and applied
 * cursors (durable) and its pin table. The failure detector (heard = 0)
 * may fire at any time.
 */

#include "view.pml"

#ifndef MAXLSN
#define MAXLSN   1	/* records a journal may hold (bounds the search) */
#endif
#ifndef MAXEPOCH
#define MAXEPOCH 4	/* activations the timed search follows */
#endif
#ifndef WRITERS
#define WRITERS  NM	/* stores 0..WRITERS-1 may write records (bounds the search) */
#endif
#ifndef CATCHUP
#define CATCHUP  2	/* catchup (-DSPEC_CATCHUP only: sync mode has none) */
#endif

#define HB_ROLE_REPLICA 0	/* enum hb_role */
#define HB_ROLE_PENDING 1
#define HB_ROLE_ACTIVE  2

#define ix3(a, b, c) (((a) * NV + (b)) * NV + (c))

#ifdef SCENARIO
#define MAYBE_ACTIVE	/* a scripted run (scenarios.pml) */
#else
#define MAYBE_ACTIVE active
#endif

/* ---- what voter V heard (index [V,m]); the holder of store V reads it too */
bit  heard[NV * NV];	/* V hears m (0: failed or unknown) */
bit  ready[NV];		/* own ready flag */
bit  r_ready[NV * NV];	/* ready flag m last sent V */
byte r_head[NV * NV];	/* head m last sent V (hb_lease_head) */
byte r_applied[NV * NV * NV];	/* [V,m,p]: applied[p] m last sent V
				 * (hb_lease_peer_applied, hb_voter_applied) */

/* ---- a holder (index: store) */
bit  E[NV * NV];	/* [S,V]: S holds a valid endorsement of V for A (UNTIMED),
			 * or V's last endorsement E_V (timed) */
#ifndef UNTIMED
byte valid_until[NV * NV];	/* [S,V]: ticks left of valid_until[V] */
#ifdef DRIFT
byte slow[NV * NV];	/* [S,V]: ticks this count may still miss */
#endif
#endif
byte role[NM];
byte from[NM];		/* the store A moves from (NONE: -1) */
byte target[NM];	/* the LSN of from's journal to reach */
byte last_other[NM];	/* the last other store own view made A's active */
#ifdef SPEC_CATCHUP
byte catchup[NM];	/* ticks left of the catch-up wait */
#endif
#ifndef UNTIMED
byte epoch[NM];		/* the last epoch of A this store knows */
byte rec_epoch[NM];	/* epoch of the last record of the journal */
byte last_epoch;	/* ghost: epoch of the last store made active */
#endif

/* ---- data: journals (durable) */
byte head[NM];		/* last LSN of the store's own journal */
byte applied[NM * NV];	/* [r,m]: last LSN of m's journal r has applied */
byte acked[NM];		/* ghost: last LSN of m's journal acknowledged (sync) */
bit  started;		/* ghost: init has run */

/* ---- network: slot [from,to] */
bit  n_full[NV * NV];
bit  n_lease[NV * NV];
bit  n_endorse[NV * NV];
#ifndef UNTIMED
byte n_valid[NV * NV];	/* validity left (the holder's count) */
#endif
byte n_head[NV * NV];
byte n_app[NV * NV * NV];	/* [from,to,p]: applied[p] at the sender */
bit  n_ready[NV * NV];

#define own_app(s, p) (s == p -> head[p] : applied[ix(s, p)])

/* the mount's fence: writable while A is active here and the deadline
 * (the quorum-th largest valid_until among the endorsing voters) is not
 * past. Timed: an endorsement counts while valid_until > 0. */
#ifdef UNTIMED
#define valid(s, v) E[ix(s, v)]
#else
#define valid(s, v) (E[ix(s, v)] && valid_until[ix(s, v)] > 0)
#endif
#define votes_of(s) (valid(s, 0) + valid(s, 1) + valid(s, 2))
#define writable(s) (up[s] && role[s] == HB_ROLE_ACTIVE && votes_of(s) >= quorum)

/* P1: never two stores writable for A at once */
#ifdef WITNESS
#define P1 (!(writable(0) && writable(1)))
#else
#define P1 (!(writable(0) && writable(1)) && !(writable(0) && writable(2)) && \
	!(writable(1) && writable(2)))
#endif

/* P2 (at every activation of s): s has every acknowledged record */
#define P2(s) ((s == 0 || applied[ix(s, 0)] >= acked[0]) && \
	(s == 1 || applied[ix(s, 1)] >= acked[1]) && \
	(NM < 3 || s == NM - 1 || applied[ix(s, NM - 1)] >= acked[NM - 1]))

/* others_have(p): the most of p's journal that a member s hears (not p,
 * not s) reported (hb-lease.c); with 3 stores there is one such member */
#ifdef WITNESS
#define others_have(s, p) 0
#else
#define third(s, p) (3 - (s) - (p))
#define others_have(s, p) (heard[ix(s, third(s, p))] -> r_applied[ix3(s, third(s, p), p)] : 0)
#endif

/* ---------------------------------------------------------------- roles
 * hb_lease_account (sync mode): replica -> pending when endorsed;
 * pending -> active when caught up; -> replica as soon as not endorsed.
 * Run after every step of the store. */
inline activate(s) {
	role[s] = HB_ROLE_ACTIVE;
#ifndef NO_P2
	assert(P2(s));
#endif
#ifndef UNTIMED
	/* epoch = max(wall clock, known + 1): no wall clock here (P3) */
	epoch[s]++;
#ifndef NO_P3
	assert(epoch[s] > last_epoch);	/* P3 */
#endif
	last_epoch = epoch[s];
#endif
	from[s] = NONE
}

inline hb_lease_account(s) {
	hb_view_active(excl[s], prefs[s], pins[s], a_new);
	if
	:: a_new != s -> last_other[s] = a_new
	:: else
	fi;
	if
	:: votes_of(s) < quorum -> role[s] = HB_ROLE_REPLICA; from[s] = NONE
	:: else ->
		if
		:: role[s] == HB_ROLE_REPLICA ->
#ifdef SPEC_CATCHUP
			/* the spec as written: P = the active under own
			 * prev_excl; P failed: active at once; else wait at most
			 * catchup */
			hb_view_active(prev_excl[s], PREV_PREFS(s), prev_pins[s], a_old);
			from[s] = a_old;
			if
			:: from[s] != s && from[s] != NONE && heard[ix(s, from[s])] ->
				role[s] = HB_ROLE_PENDING; target[s] = r_head[ix(s, from[s])];
				catchup[s] = CATCHUP
			:: else -> activate(s)
			fi
#else
			from[s] = last_other[s];
			if
			:: from[s] != NONE && !heard[ix(s, from[s])] &&
			   own_app(s, from[s]) < others_have(s, from[s]) ->
				/* a member heard has more of from: wait (sync) */
				role[s] = HB_ROLE_PENDING; target[s] = others_have(s, from[s])
			:: from[s] != NONE && heard[ix(s, from[s])] ->
				role[s] = HB_ROLE_PENDING; target[s] = r_head[ix(s, from[s])]
			:: else -> activate(s)
			fi
#endif
		:: else
		fi;
		if
		:: role[s] == HB_ROLE_PENDING && own_app(s, from[s]) >= target[s] -> activate(s)
#ifdef SPEC_CATCHUP
		:: role[s] == HB_ROLE_PENDING && own_app(s, from[s]) < target[s] &&
		   (catchup[s] == 0 || !heard[ix(s, from[s])]) -> activate(s)
#else
		:: role[s] == HB_ROLE_PENDING && own_app(s, from[s]) < target[s] &&
		   !heard[ix(s, from[s])] && own_app(s, from[s]) >= others_have(s, from[s]) ->
			activate(s)
		:: role[s] == HB_ROLE_PENDING && own_app(s, from[s]) < target[s] &&
		   !heard[ix(s, from[s])] && own_app(s, from[s]) < others_have(s, from[s]) ->
			target[s] = (others_have(s, from[s]) > target[s] ->
				others_have(s, from[s]) : target[s])
#endif
		:: else
		fi
	fi;
	assert(P1)
}

/* --------------------------------------------------------- heartbeats */
#ifdef UNTIMED
/* L1 (voter.pml), assumed: V endorses j only when no other store holds a
 * valid endorsement of V or has one on its way */
#define others_clear(V, j) \
	((j == 0 || !E[ix(0, V)] && !(V != 0 && n_full[ix(V, 0)] && n_endorse[ix(V, 0)])) && \
	 (j == 1 || !E[ix(1, V)] && !(V != 1 && n_full[ix(V, 1)] && n_endorse[ix(V, 1)])) && \
	 (NM < 3 || j == 2 || !E[ix(2, V)] && !(V != 2 && n_full[ix(V, 2)] && n_endorse[ix(V, 2)])))
#endif

inline hb_send(V, j, deliver) {
#ifdef UNTIMED
	lease = (is_member(j) && heard[ix(V, j)]);
	hb_view_endorses(V, j, e);
	e = (e && lease && others_clear(V, j));
#else
	lease = (boot[V] == 0 && is_member(j) && heard[ix(V, j)]);
	hb_view_endorses(V, j, e);
	e = (e && lease);
	if
	:: lease -> last_renewal[ix(V, j)] = LEASE
	:: else
	fi;
#endif
	if
	:: !deliver -> skip		/* lost */
	:: else ->
		n_full[ix(V, j)] = 1;
		n_lease[ix(V, j)] = lease;
		n_endorse[ix(V, j)] = e;
#ifndef UNTIMED
		n_valid[ix(V, j)] = LEASE - MARGIN;
#endif
		n_ready[ix(V, j)] = ready[V];
		if
		:: is_member(V) ->
			n_head[ix(V, j)] = head[V];
			n_app[ix3(V, j, 0)] = (V == 0 -> 0 : applied[ix(V, 0)]);
			n_app[ix3(V, j, 1)] = (V == 1 -> 0 : applied[ix(V, 1)]);
#ifndef WITNESS
			n_app[ix3(V, j, 2)] = (V == 2 -> 0 : applied[ix(V, 2)]);
#endif
		:: else
		fi
	fi
}

inline hb_recv(V, j) {
	heard[ix(V, j)] = 1;
	r_ready[ix(V, j)] = n_ready[ix(j, V)];
	r_head[ix(V, j)] = n_head[ix(j, V)];
	r_applied[ix3(V, j, 0)] = n_app[ix3(j, V, 0)];
	r_applied[ix3(V, j, 1)] = n_app[ix3(j, V, 1)];
#ifndef WITNESS
	r_applied[ix3(V, j, 2)] = n_app[ix3(j, V, 2)];
#endif
	if
	:: is_member(V) ->
		E[ix(V, j)] = (n_lease[ix(j, V)] && n_endorse[ix(j, V)]);
#ifndef UNTIMED
		valid_until[ix(V, j)] = (n_lease[ix(j, V)] -> n_valid[ix(j, V)] : 0);
#ifdef DRIFT
		slow[ix(V, j)] = DRIFT
#endif
#endif
	:: else
	fi;
	n_full[ix(j, V)] = 0
}

/* ------------------------------------------------------------- the view */
#define excluded_by(V, m) \
	(m == V -> !ready[V] : (!heard[ix(V, m)] || !r_ready[ix(V, m)]))

inline hb_wanted(V) {
	wanted = 0; failed = 0;
	m = 0;
	do
	:: m < NM ->
		if :: excluded_by(V, m) -> wanted = wanted | (1 << m) :: else fi;
		if :: m != V && !heard[ix(V, m)] -> failed = failed | (1 << m) :: else fi;
		m++
	:: else -> break
	od
}

/* make_pref for L[0]: the others by the applied[0] they last reported to
 * V (its own for itself), highest first, ties by member index */
inline hb_make_prefs(V) {
	a1 = (V == 1 -> applied[ix(1, 0)] : r_applied[ix3(V, 1, 0)]);
	a2 = (V == 2 -> applied[ix(2, 0)] : r_applied[ix3(V, 2, 0)]);
	prefs[V] = (a2 > a1 -> 2 : 1)
}

#ifdef UNTIMED
/* the view change without its transition (the P1 lemma stands in for
 * it: see others_clear); prev_* = the new view */
inline hb_voter_tick(V) {
#if defined(WITNESS) || defined(SPEC_CATCHUP)
	late = 0;
#else
	late = (excl[V] & wanted & failed & 1) && prefs[V] == 0;
#endif
	if
	:: wanted != excl[V] || pin_tab != pins[V] || late ->
		added = wanted & ~excl[V];
		if
		:: prefs[V] != 0 && !(wanted & 1) -> prefs[V] = 0
		:: else
		fi;
		if
		:: ((added | late) & failed & 1) && NM == 3 -> hb_make_prefs(V)
		:: else
		fi;
		excl[V] = wanted; pins[V] = pin_tab;
		prev_excl[V] = wanted; prev_pins[V] = pin_tab; prev_prefs[V] = prefs[V]
	:: else
	fi
}

inline hb_voter_new(V) {
	up[V] = 1;
	excl[V] = ALLM; prev_excl[V] = ALLM; prefs[V] = 0; prev_prefs[V] = 0;
	pins[V] = NONE; prev_pins[V] = NONE
}
#endif

/* ready: false whenever V stops hearing a quorum (itself included);
 * becomes true when it hears a quorum and has applied the head every
 * member it hears reported. A ready store that falls behind stays ready. */
inline hb_ready(V) {
	cnt = 1 + (V != 0 && heard[ix(V, 0)]) + (V != 1 && heard[ix(V, 1)]) +
		(V != 2 && heard[ix(V, 2)]);
	if
	:: cnt < quorum -> ready[V] = 0
	:: cnt >= quorum && ready[V] -> skip
	:: else ->
		ok = 1;
		m = 0;
		do
		:: m < NM ->
			if
			:: m != V && heard[ix(V, m)] && applied[ix(V, m)] < r_head[ix(V, m)] -> ok = 0
			:: else
			fi;
			m++
		:: else -> break
		od;
		ready[V] = ok
	fi
}

/* the holder's own endorsement, every tick (hb_voter_endorse(self) then
 * hb_lease_endorsement(self)): a lease like any other */
inline renew_self(V) {
#ifdef UNTIMED
	j = V;
	hb_view_endorses(V, j, e);
	E[ix(V, V)] = (e && others_clear(V, j))
#else
	if
	:: boot[V] == 0 ->
		last_renewal[ix(V, V)] = LEASE;
		j = V;
		hb_view_endorses(V, j, e);
		E[ix(V, V)] = e;
		valid_until[ix(V, V)] = LEASE - MARGIN
#ifdef DRIFT
		; slow[ix(V, V)] = DRIFT
#endif
	:: else -> E[ix(V, V)] = 0
	fi
#endif
}

inline hb_apply(V, j) {
	applied[ix(V, j)]++;
#ifndef UNTIMED
	if
	:: applied[ix(V, j)] == head[j] && rec_epoch[j] > epoch[V] -> epoch[V] = rec_epoch[j]
	:: else
	fi
#endif
}

#define clear_locals() \
	j = 0; wanted = 0; failed = 0; added = 0; removed = 0; losers = 0; late = 0; \
	a_new = 0; a_old = 0; a1 = 0; a2 = 0; cnt = 0; ok = 0; lease = 0; e = 0; m = 0; \
	pin_tab = 0

proctype node(byte V) {
	byte j, m, wanted, failed, added, removed, losers, late, a_new, a_old, a1, a2, cnt, pin_tab;
	bit lease, ok, e;
	do
	/* send a heartbeat to one voter; or it is lost */
	:: d_step { up[V] -> j = (V + 1) % NV; hb_send(V, j, 1);
		if :: is_member(V) -> hb_lease_account(V) :: else fi; clear_locals() }
	:: d_step { up[V] -> j = (V + 2) % NV; hb_send(V, j, 1);
		if :: is_member(V) -> hb_lease_account(V) :: else fi; clear_locals() }
#ifndef UNTIMED
	/* (untimed, a lost send changes nothing: no last_renewal) */
	:: d_step { up[V] -> j = (V + 1) % NV; hb_send(V, j, 0); clear_locals() }
	:: d_step { up[V] -> j = (V + 2) % NV; hb_send(V, j, 0); clear_locals() }
#endif
	/* receive one */
	:: d_step { up[V] && n_full[ix((V + 1) % NV, V)] -> j = (V + 1) % NV; hb_recv(V, j);
		if :: is_member(V) -> hb_lease_account(V) :: else fi; clear_locals() }
	:: d_step { up[V] && n_full[ix((V + 2) % NV, V)] -> j = (V + 2) % NV; hb_recv(V, j);
		if :: is_member(V) -> hb_lease_account(V) :: else fi; clear_locals() }
	/* a tick: ready, the view (with V's pin table for A as the operator
	 * and gossip left it), the holder's own endorsement, the roles */
	:: atomic { up[V] ->
		if
		:: pin_tab = pins[V]		/* unchanged */
		:: pin_tab = NONE :: pin_tab = 0 :: pin_tab = 1 :: NM == 3 -> pin_tab = NM - 1
		fi;
		d_step {
		if :: is_member(V) -> hb_ready(V) :: else fi;
		hb_wanted(V);
		hb_voter_tick(V);
		if :: is_member(V) -> renew_self(V); hb_lease_account(V) :: else fi;
		clear_locals() } }
	/* the failure detector: V stops hearing j (timeout) */
	:: d_step { up[V] && heard[ix(V, (V + 1) % NV)] -> heard[ix(V, (V + 1) % NV)] = 0 }
	:: d_step { up[V] && heard[ix(V, (V + 2) % NV)] -> heard[ix(V, (V + 2) % NV)] = 0 }
	/* the mount: a delivery written at the active (sync mode) */
	:: d_step { is_member(V) && writable(V) && head[V] < MAXLSN && V < WRITERS -> head[V]++
#ifndef UNTIMED
		; rec_epoch[V] = epoch[V]
#endif
		}
	/* ... acknowledged once sync_acks = 1 replica applied it, while the
	 * mount still accepts writes */
	:: d_step { is_member(V) && writable(V) && acked[V] < head[V] &&
		(is_member((V + 1) % NV) && applied[ix((V + 1) % NV, V)] >= head[V] ||
		 is_member((V + 2) % NV) && applied[ix((V + 2) % NV, V)] >= head[V]) ->
		acked[V] = head[V] }
	/* the replicator: apply the next record of member j's journal */
	:: d_step { is_member(V) && up[V] && is_member((V + 1) % NV) && up[(V + 1) % NV] &&
		applied[ix(V, (V + 1) % NV)] < head[(V + 1) % NV] ->
		j = (V + 1) % NV; hb_apply(V, j); j = 0 }
	:: d_step { is_member(V) && up[V] && is_member((V + 2) % NV) && up[(V + 2) % NV] &&
		applied[ix(V, (V + 2) % NV)] < head[(V + 2) % NV] ->
		j = (V + 2) % NV; hb_apply(V, j); j = 0 }
	od
}

/* ---------------------------------------------------------- faults */
inline restart(V) {
	hb_voter_new(V);
	ready[V] = 0;
	k = 0;
	do
	:: k < NV ->
		heard[ix(V, k)] = 0; r_ready[ix(V, k)] = 0; r_head[ix(V, k)] = 0;
		r_applied[ix3(V, k, 0)] = 0; r_applied[ix3(V, k, 1)] = 0; r_applied[ix3(V, k, 2)] = 0;
		E[ix(V, k)] = 0;
#ifndef UNTIMED
		valid_until[ix(V, k)] = 0;
#endif
		k++
	:: else -> break
	od;
	if
	:: is_member(V) -> role[V] = HB_ROLE_REPLICA; from[V] = NONE; target[V] = 0;
		last_other[V] = NONE
	:: else
	fi;
	k = 0
}

#ifndef UNTIMED
inline dec(x) { if :: x > 0 -> x-- :: else fi }

MAYBE_ACTIVE proctype tick() {
	byte i;
	started;
	do
	:: d_step {
		i = 0;
		do
		:: i < NV * NV ->
			dec(last_renewal[i]); dec(n_valid[i]); dec(valid_until[i]);
#ifdef DRIFT
			if :: valid_until[i] == 0 -> slow[i] = 0 :: else fi;
#endif
			i++
		:: else -> break
		od;
		i = 0;
		do
		:: i < NV -> dec(transition_end[i]); dec(boot[i]); i++
		:: else -> break
		od;
#ifdef SPEC_CATCHUP
		i = 0;
		do
		:: i < NM -> dec(catchup[i]); i++
		:: else -> break
		od;
#endif
		i = 0
	}
	od
}
#endif

MAYBE_ACTIVE proctype faults() {
	byte k, m;
	started;
	do
	/* a crash: the store's processes die (its mount with them) */
	:: d_step { up[0] -> up[0] = 0 }
	:: d_step { up[1] -> up[1] = 0 }
	:: d_step { up[2] -> up[2] = 0 }
	/* a restart */
	:: d_step { !up[0] -> restart(0) }
	:: d_step { !up[1] -> restart(1) }
	:: d_step { !up[2] -> restart(2) }
#ifdef UNTIMED
	/* an endorsement held by S lapses; one in flight lapses */
#define LAPSE(k, m) :: d_step { E[ix(k, m)] -> E[ix(k, m)] = 0 }
#define LAPSE_N(k, m) :: d_step { n_full[ix(k, m)] && n_endorse[ix(k, m)] -> n_endorse[ix(k, m)] = 0 }
	LAPSE(0, 0) LAPSE(0, 1) LAPSE(0, 2) LAPSE(1, 0) LAPSE(1, 1) LAPSE(1, 2)
	LAPSE_N(0, 1) LAPSE_N(0, 2) LAPSE_N(1, 0) LAPSE_N(1, 2) LAPSE_N(2, 0) LAPSE_N(2, 1)
#ifndef WITNESS
	LAPSE(2, 0) LAPSE(2, 1) LAPSE(2, 2)
#endif
#endif
#ifdef DRIFT
	/* a holder's clock runs slow: a validity count misses a tick */
#define MISS(k) :: d_step { slow[k] > 0 && valid_until[k] > 0 -> slow[k]--; valid_until[k]++ }
	MISS(0) MISS(1) MISS(2) MISS(3) MISS(4) MISS(5) MISS(6) MISS(7) MISS(8)
#endif
	od
}

/* a stable start: every voter up, ready, heard; store 0 active (epoch 1),
 * endorsed by everyone */
init {
	byte i, k;
	d_step {
		i = 0;
		do
		:: i < NV ->
			up[i] = 1; ready[i] = 1;
			excl[i] = 0; prev_excl[i] = 0; pins[i] = NONE; prev_pins[i] = NONE;
			k = 0;
			do
			:: k < NV ->
				heard[ix(i, k)] = (k != i); r_ready[ix(i, k)] = (k != i);
#ifndef UNTIMED
				if
				:: is_member(k) -> last_renewal[ix(i, k)] = LEASE
				:: else
				fi;
#endif
				k++
			:: else -> break
			od;
			i++
		:: else -> break
		od;
		i = 0;
		do
		:: i < NM ->
			from[i] = NONE; last_other[i] = NONE;
#ifndef UNTIMED
			epoch[i] = 1; rec_epoch[i] = 1;
#endif
			k = 0;
			do
			:: k < NV ->
				E[ix(i, k)] = (i == 0);
#ifndef UNTIMED
				valid_until[ix(i, k)] = LEASE - MARGIN;
#endif
				k++
			:: else -> break
			od;
			i++
		:: else -> break
		od;
		role[0] = HB_ROLE_ACTIVE;
#ifndef UNTIMED
		last_epoch = 1;
#endif
		started = 1;
		i = 0; k = 0
	};
#ifdef SCENARIO
	run scenario()
#else
	atomic { run node(0); run node(1); run node(2) }
#endif
}

#ifdef SCENARIO
#include "scenarios.pml"
#endif
