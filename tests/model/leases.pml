/* SPDX-License-Identifier: MIT
 * leases.pml - Promela model of mailmesh-hbmon's leases, views, epochs and
 * promotion (the leases spec of issue 4). C: hbmon/hb-view.c,
 * hbmon/hb-lease.c. Same names as the spec and the C code; README.md in this
 * directory maps every rule of the spec to the lines below.
 *
 * One account A, ranking L = <0, 1, 2>, want = 3 (replicas = 2).
 * Voters 0..NV-1. Without WITNESS the three voters are the three stores;
 * with -DWITNESS the stores are 0 and 1 (L = <0, 1>, want = 2) and voter 2
 * is the witness (a voter that holds no mail and is never active).
 *
 * TIME. A single global clock advances by `tick`. Every duration of the
 * spec is kept as "ticks left" (a bounded countdown) instead of an absolute
 * monotonic time, so the state space stays finite: x_until - now becomes a
 * counter that tick decrements down to 0 ("now >= x_until" <=> counter == 0).
 * Clock rates: a voter's promise (last_renewal[s] + lease) is LEASE ticks of
 * the global clock; the holder counts the same endorsement for
 * LEASE - MARGIN ticks (the spec's lease x (1 - LEASE_MARGIN)), starting no
 * earlier than the voter's send (the spec starts it at the holder's own
 * earlier send of the echoed heartbeat: starting later only lengthens the
 * holder's validity, so the model is on the unsafe side of the real code).
 * With -DDRIFT a holder's clock may run slow: each of its validity counters
 * may miss up to DRIFT ticks of the global clock during its life (a clock
 * running slower than the voter's; the spec's 5 % within a margin of 10 %).
 *
 * NETWORK. One heartbeat slot per directed pair of voters: a send either
 * goes into the slot (replacing, i.e. losing, the message there) or is
 * lost; a message stays in its slot for any number of steps and ticks
 * (delay). Capacity 1: there is no reordering beyond "the older one is
 * delivered, the newer one lost" (README.md: a known gap). Partitions,
 * symmetric or not, are losses.
 * Messages age while in flight: the validity they carry runs down in the
 * slot (the spec counts validity from the holder's send time).
 *
 * FAULTS. A process may stop taking steps for any time while the clock and
 * the others advance (a freeze: spin's interleaving has no fairness). A
 * store may crash (its processes die: its mount is gone) and restart: it
 * forgets its view, last_renewal, heard, valid_until and role; it keeps its
 * journal (head, applied: durable) and the epochs it wrote.
 */

#ifndef LEASE
#define LEASE    3	/* lease, in ticks (lease <= timeout) */
#endif
#ifndef MARGIN
#define MARGIN   1	/* LEASE_MARGIN, in ticks */
#endif
#ifndef TIMEOUT
#define TIMEOUT  4	/* timeout: a member unheard this long is failed */
#endif
#ifndef CATCHUP
#define CATCHUP  4	/* catchup: how long a pending store waits for P's records */
#endif
#ifndef MAXLSN
#define MAXLSN   2	/* records a journal may hold (bounds the search) */
#endif
#ifndef MAXEPOCH
#define MAXEPOCH 4	/* activations the search follows */
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
#define NONE 3		/* "no active" (-1 in C) */

/* roles of the account at a store */
#define HB_ROLE_REPLICA 0	/* "replica": read-only (C: enum hb_role) */
#define HB_ROLE_PENDING 1	/* "pending": endorsed, catching up */
#define HB_ROLE_ACTIVE  2	/* "active": writable */

#define ix(a, b) ((a) * NV + (b))

#ifdef SCENARIO
#define MAYBE_ACTIVE	/* a scripted run (scenarios.pml): no free clock or faults */
#else
#define MAYBE_ACTIVE active
#endif

/* ---- a voter's view and what it knows of the others (index: voter) */
byte excl[NV];		/* bitmask of excluded members */
byte prev_excl[NV];
byte prefs[NV];		/* prefs[L[0]] at this voter: 0 none, 1 = <1,2>, 2 = <2,1> */
hidden byte view_id[NV];	/* no rule reads it: kept out of the state */
byte transition_end[NV];	/* ticks left until transition_end */
byte last_renewal[NV * NV];	/* [V,s]: ticks left of last_renewal[s] + lease */
bit  heard[NV * NV];	/* [V,s]: V hears s (0: failed or unknown). The failure
			 * detector (timeout) is abstracted: V may stop hearing s at
			 * any time after s's last heartbeat reached it (any timeout) */
byte boot[NV];		/* ticks left of the start-up period (lease = 0 to all) */
bit  up[NV];		/* the voter's host is running */
bit  ready[NV];		/* own ready flag */
bit  r_ready[NV * NV];	/* [V,m]: ready flag m last sent V */
byte r_head[NV * NV];	/* [V,m]: head m last sent V */
byte r_applied[NV * NV];	/* [V,r]: applied[L[0]] r last sent V */

/* ---- a holder (index: member) */
byte role[NM];
bit  E[NV * NV];	/* [S,V]: V's last endorsement of S for A (E_V) */
byte valid_until[NV * NV];	/* [S,V]: ticks left of valid_until[V] */
#ifdef DRIFT
byte slow[NV * NV];	/* [S,V]: ticks this counter may still miss */
#endif
byte catch_to[NM];	/* head of P to reach before active (NONE+.. = none) */
byte catchup[NM];	/* ticks left of the catch-up wait */
byte epoch[NM];		/* the last epoch of A this store knows */

/* ---- data: journals (durable) */
byte head[NM];		/* last LSN of the store's own journal */
byte applied[NM * NV];	/* [r,m]: last LSN of m's journal r has applied */
byte acked[NM];		/* ghost: last LSN of m's journal acknowledged (sync) */
byte last_epoch;	/* ghost: epoch of the last store made active */

/* ---- network: slot [from,to] */
bit  n_full[NV * NV];
bit  n_lease[NV * NV];
bit  n_endorse[NV * NV];
byte n_valid[NV * NV];	/* validity left (the holder's count) */
byte n_head[NV * NV];
byte n_applied[NV * NV];
bit  n_ready[NV * NV];

/* hb_view_active(A, ex, prefs): 1. L = <0,1,2>, want = 3; 2. H = the
 * members of L not excluded; 3. L[0] if not excluded; 4. else the first of
 * prefs[L[0]] in C (C = H: every member is in L[0..want)), else the first
 * of C in ranking order. */
inline hb_view_active(ex, pf, res) {
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
}

/* the mount's fence: writable while role active and the deadline (the
 * quorum-th largest valid_until among the endorsing voters; a running
 * store's own endorsement does not expire) is not past */
#define votes_of(s) \
	((E[ix(s,0)] && (s == 0 || valid_until[ix(s,0)] > 0)) + \
	 (E[ix(s,1)] && (s == 1 || valid_until[ix(s,1)] > 0)) + \
	 (E[ix(s,2)] && (s == 2 || valid_until[ix(s,2)] > 0)))
#define writable(s) (up[s] && role[s] == HB_ROLE_ACTIVE && votes_of(s) >= quorum)

/* P1: never two stores writable for A at once (checked in every state) */
#ifdef WITNESS
#define P1 (!(writable(0) && writable(1)))
#else
#define P1 (!(writable(0) && writable(1)) && !(writable(0) && writable(2)) && \
	!(writable(1) && writable(2)))
#endif

/* P1 is asserted after every step of a store that can make it writable
 * (a heartbeat received, a view change, a role change); the clock, a crash
 * and the other steps only take writability away. */

/* the global clock: every countdown runs down by one tick */
inline dec(x) { if :: x > 0 -> x-- :: else fi }

MAYBE_ACTIVE proctype tick() {
	byte i;
	last_epoch > 0;		/* init has run */
	do
	:: d_step {
		i = 0;
		do
		:: i < NV * NV ->
			dec(last_renewal[i]); dec(n_valid[i]);
			dec(valid_until[i]);
			i++
		:: else -> break
		od;
		i = 0;
		do
		:: i < NV -> dec(transition_end[i]); dec(boot[i]); i++
		:: else -> break
		od;
		i = 0;
		do
		:: i < NM -> dec(catchup[i]); i++
		:: else -> break
		od
	}
	od
}

#define is_member(m) ((m) < NM)
#define own_applied0(V) (V == 0 -> head[0] : applied[ix(V, 0)])

/* ---------------------------------------------------------------- roles
 * Holder S: votes(A) counts the voters whose endorsement E_V is valid; A is
 * endorsed when votes >= quorum. replica -> pending when endorsed; pending
 * -> active when caught up; pending/active -> replica as soon as not
 * endorsed. Run after every step of the store ("every tick and every
 * heartbeat received"). */
byte catch_from[NM];	/* P: the account's active under the store's prev_excl */
byte rec_epoch[NM];	/* epoch the last record of the journal was written in */

byte moved_from[NV];	/* the account's active before the view change that
			 * last moved it (NONE: unknown) */

/* s (s != 0) has applied as much of L[0]'s journal as every voter whose
 * endorsement it counts reported */
#define counted(s, v) (v != s && E[ix(s, v)] && valid_until[ix(s, v)] > 0)
#define own_app0(s) (s == 0 -> head[0] : applied[ix(s, 0)])
#define caught_up_with_endorsers(s) \
	((!counted(s, 0) || s == 0 || own_app0(s) >= r_applied[ix(s, 0)]) && \
	 (!counted(s, 1) || s == 0 || own_app0(s) >= r_applied[ix(s, 1)]) && \
	 (!counted(s, 2) || s == 0 || own_app0(s) >= r_applied[ix(s, 2)]))

inline hb_lease_roles(s) {
	hb_view_active(excl[s], prefs[s], a_new);
	hb_view_active(prev_excl[s], prefs[s], a_old);
	E[ix(s, s)] = (boot[s] == 0 && a_new == s && a_old == s);
	if
	:: votes_of(s) < quorum -> role[s] = HB_ROLE_REPLICA
	:: else ->
		if
		:: role[s] == HB_ROLE_REPLICA ->
			role[s] = HB_ROLE_PENDING;
#ifdef SPEC_CATCHUP
			/* the spec as written: P = the active under own prev_excl
			 * (always s itself once s is endorsed: see README, flaw 1) */
			catch_from[s] = a_old;
#else
			/* fix: P = the store A moved from (moved_from, kept from
			 * the view change that moved A) */
			catch_from[s] = moved_from[s];
			a_old = moved_from[s];
#endif
			if
			:: a_old != s && a_old != NONE && heard[ix(s, a_old)] > 0 ->
				/* graceful: wait for the head P reported */
				catch_to[s] = r_head[ix(s, a_old)];
				catchup[s] = CATCHUP
			:: else ->
				/* P failed or unknown: active at once */
				catch_from[s] = NONE
			fi
		:: else
		fi;
		if
#ifdef SPEC_CATCHUP
		:: role[s] == HB_ROLE_PENDING && epoch[s] < MAXEPOCH &&
		   (catch_from[s] == NONE || applied[ix(s, catch_from[s])] >= catch_to[s] ||
		    catchup[s] == 0) ->
#else
		/* fix (sync mode): no time limit on the wait for P's records,
		 * and s also has at least the applied[L[0]] each voter it
		 * counts reported on its endorsing heartbeat (flaw 2) */
		:: role[s] == HB_ROLE_PENDING && epoch[s] < MAXEPOCH &&
		   (catch_from[s] == NONE || applied[ix(s, catch_from[s])] >= catch_to[s]) &&
		   caught_up_with_endorsers(s) ->
#endif
			role[s] = HB_ROLE_ACTIVE;
			/* epoch = max(wall clock, the last epoch of A S knows + 1):
			 * the wall clock is not modeled (see README: P3) */
			epoch[s]++;
#ifndef NO_P3
			assert(epoch[s] > last_epoch);	/* P3 */
#endif
			last_epoch = epoch[s];
			/* P2: every acknowledged record is here */
			assert(s == 0 || applied[ix(s, 0)] >= acked[0]);
			assert(s == 1 || applied[ix(s, 1)] >= acked[1]);
#ifndef WITNESS
			assert(s == 2 || applied[ix(s, 2)] >= acked[2]);
#endif
			catch_from[s] = NONE
		:: else
		fi
	fi;
	assert(P1)
}

/* --------------------------------------------------------- heartbeats */
inline hb_send(V, j, deliver) {
#ifdef ANY_HEALTH
	lease = (boot[V] == 0 && is_member(j));	/* hearing j: arbitrary */
#else
	lease = (boot[V] == 0 && is_member(j) && heard[ix(V, j)] > 0);
#endif
	hb_view_active(excl[V], prefs[V], a_new);
	hb_view_active(prev_excl[V], prefs[V], a_old);
	if
	:: lease -> last_renewal[ix(V, j)] = LEASE
	:: else
	fi;
	if
	:: !deliver -> skip		/* lost */
	:: else ->			/* into the slot (replaces and loses the
					 * one there, if any) */
		n_full[ix(V, j)] = 1;
		n_lease[ix(V, j)] = lease;
		n_endorse[ix(V, j)] = (lease && a_new == j && a_old == j);
		n_valid[ix(V, j)] = LEASE - MARGIN;
#ifndef ANY_HEALTH
		n_ready[ix(V, j)] = ready[V];
#endif
		if
		:: is_member(V) ->
			n_head[ix(V, j)] = head[V];
			n_applied[ix(V, j)] = own_applied0(V)
		:: else -> n_head[ix(V, j)] = 0; n_applied[ix(V, j)] = 0
		fi
	fi
}

inline hb_recv(V, j) {
#ifndef ANY_HEALTH
	heard[ix(V, j)] = 1;
	r_ready[ix(V, j)] = n_ready[ix(j, V)];
#endif
	r_head[ix(V, j)] = n_head[ix(j, V)];
	r_applied[ix(V, j)] = n_applied[ix(j, V)];
	if
	:: is_member(V) && n_lease[ix(j, V)] ->
		E[ix(V, j)] = n_endorse[ix(j, V)];
		valid_until[ix(V, j)] = n_valid[ix(j, V)];
#ifdef DRIFT
		slow[ix(V, j)] = DRIFT
#endif
	:: is_member(V) && !n_lease[ix(j, V)] -> E[ix(V, j)] = 0
	:: else
	fi;
	n_full[ix(j, V)] = 0
}

/* ------------------------------------------------------------- the view */
#define excluded_by(V, m) \
	(m == V -> !ready[V] : (heard[ix(V, m)] == 0 || !r_ready[ix(V, m)]))

inline hb_view_tick(V) {
#ifdef ANY_HEALTH
	/* the wanted exclusions are any set of members: health verdicts,
	 * ready flags and the failure detector are all arbitrary */
	if
	:: wanted = 0 :: wanted = 1 :: wanted = 2 :: wanted = 3
#ifndef WITNESS
	:: wanted = 4 :: wanted = 5 :: wanted = 6 :: wanted = 7
#endif
	fi;
#else
	wanted = 0;
	m = 0;
	do
	:: m < NM -> if :: excluded_by(V, m) -> wanted = wanted | (1 << m) :: else fi; m++
	:: else -> break
	od;
#endif
	if
	:: transition_end[V] == 0 ->
		prev_excl[V] = excl[V];		/* the transition is over */
		if
		:: wanted != excl[V] ->
			added = wanted & ~excl[V];
			prev_excl[V] = excl[V];
			excl[V] = wanted;
			view_id[V]++;
			hb_view_active(prev_excl[V], prefs[V], a_old);
			/* prefs[L[0]]: set when L[0] is newly excluded because it
			 * is failed, frozen while excluded, dropped when back */
			if
			:: !(wanted & 1) -> prefs[V] = 0
#ifdef ANY_HEALTH
			:: (added & 1) && NM == 3 -> if :: prefs[V] = 0 :: prefs[V] = 1 :: prefs[V] = 2 fi
#else
			:: (added & 1) && heard[ix(V, 0)] == 0 && NM == 3 ->
#if MAXLSN == 0
				/* no data (P1 run): any order */
				if :: prefs[V] = 1 :: prefs[V] = 2 fi
#else
				a1 = (V == 1 -> applied[ix(1, 0)] : r_applied[ix(V, 1)]);
				a2 = (V == 2 -> applied[ix(2, 0)] : r_applied[ix(V, 2)]);
				prefs[V] = (a2 > a1 -> 2 : 1)
#endif
#endif
			:: else
			fi;
			hb_view_active(excl[V], prefs[V], a_new);
			if
			:: a_new != a_old -> moved_from[V] = a_old
			:: else
			fi;
			/* transition_end = max over the losers of
			 * last_renewal[s] + lease */
#ifdef MUT_NO_TRANSITION
			transition_end[V] = 0
#else
			losers = ((excl[V] & ~wanted) == 0 && (prev_excl[V] & ~wanted) == 0 -> added : ALLM);
			losers = ((prev_excl[V] & ~excl[V]) == 0 -> added : ALLM);
			transition_end[V] = 0;
			m = 0;
			do
			:: m < NM ->
				if
				:: (losers & (1 << m)) && m != V &&
				   last_renewal[ix(V, m)] > transition_end[V] ->
					transition_end[V] = last_renewal[ix(V, m)]
				:: else
				fi;
				m++
			:: else -> break
			od
#endif
		:: else
		fi
	:: else		/* changes during a transition wait for its end */
	fi
}

/* ready: false at start and whenever it stops hearing a quorum (itself
 * included); becomes true when it hears a quorum and is caught up with
 * every member it hears. A ready store that falls behind stays ready. */
inline hb_ready(V) {
	cnt = 1 + (V != 0 && heard[ix(V, 0)] > 0) + (V != 1 && heard[ix(V, 1)] > 0) +
		(V != 2 && heard[ix(V, 2)] > 0);
	if
	:: cnt < quorum -> ready[V] = 0
	:: cnt >= quorum && ready[V] -> skip	/* stays ready while it hears a quorum */
	:: else ->
		ok = 1;
		m = 0;
		do
		:: m < NM ->
			if
			:: m != V && heard[ix(V, m)] > 0 && applied[ix(V, m)] < r_head[ix(V, m)] -> ok = 0
			:: else
			fi;
			m++
		:: else -> break
		od;
		ready[V] = ok
	fi
}

/* ------------------------------------------------------------ a voter */
inline hb_apply(V, j) {
	applied[ix(V, j)]++;
	if
	:: applied[ix(V, j)] == head[j] && rec_epoch[j] > epoch[V] -> epoch[V] = rec_epoch[j]
	:: else
	fi
}

/* deterministic steps are d_steps (one transition: a shorter search);
 * the view's step is not deterministic when the health is arbitrary */
#if defined(ANY_HEALTH) || MAXLSN == 0
#define VIEW_STEP atomic
#else
#define VIEW_STEP d_step
#endif

proctype node(byte V) {
	byte j, m, wanted, added, losers, a_new, a_old, a1, a2, cnt;
	bit lease, ok;
	do
	/* send a heartbeat to one voter */
	:: d_step { up[V] -> j = (V + 1) % NV; hb_send(V, j, 1);
		if :: is_member(V) -> hb_lease_roles(V) :: else fi;
		j = 0; a_new = 0; a_old = 0; lease = 0 }
	:: d_step { up[V] -> j = (V + 2) % NV; hb_send(V, j, 1);
		if :: is_member(V) -> hb_lease_roles(V) :: else fi;
		j = 0; a_new = 0; a_old = 0; lease = 0 }
	/* ... or the message is lost (the slot is full: the new one is
	 * dropped; or any loss on the way) */
	:: d_step { up[V] -> j = (V + 1) % NV; hb_send(V, j, 0);
		j = 0; a_new = 0; a_old = 0; lease = 0 }
	:: d_step { up[V] -> j = (V + 2) % NV; hb_send(V, j, 0);
		j = 0; a_new = 0; a_old = 0; lease = 0 }
	/* receive one */
	:: d_step { up[V] && n_full[ix((V + 1) % NV, V)] ->
		j = (V + 1) % NV;
		hb_recv(V, j);
		if :: is_member(V) -> hb_lease_roles(V) :: else fi;
		j = 0; a_new = 0; a_old = 0 }
	:: d_step { up[V] && n_full[ix((V + 2) % NV, V)] ->
		j = (V + 2) % NV;
		hb_recv(V, j);
		if :: is_member(V) -> hb_lease_roles(V) :: else fi;
		j = 0; a_new = 0; a_old = 0 }
	/* the view, every tick */
	:: VIEW_STEP { up[V] ->
		hb_view_tick(V);
#ifdef ANY_HEALTH
		if :: is_member(V) -> hb_lease_roles(V) :: else fi;
#else
		if :: is_member(V) -> hb_ready(V); hb_lease_roles(V) :: else fi;
#endif
		m = 0; wanted = 0; added = 0; losers = 0; a_new = 0; a_old = 0; a1 = 0; a2 = 0;
		cnt = 0; ok = 0 }
#ifndef ANY_HEALTH
	/* the failure detector: V stops hearing j (timeout) */
	:: d_step { up[V] && heard[ix(V, (V + 1) % NV)] -> heard[ix(V, (V + 1) % NV)] = 0 }
	:: d_step { up[V] && heard[ix(V, (V + 2) % NV)] -> heard[ix(V, (V + 2) % NV)] = 0 }
#endif
	/* the mount: a delivery written at the active (sync mode) */
	:: d_step { is_member(V) && writable(V) && head[V] < MAXLSN ->
		head[V]++; rec_epoch[V] = epoch[V] }
	/* ... acknowledged once sync_acks = 1 replica applied it, while the
	 * mount still accepts writes */
	:: d_step { is_member(V) && writable(V) && acked[V] < head[V] &&
		(applied[ix((V + 1) % NV, V)] >= head[V] && is_member((V + 1) % NV) ||
		 applied[ix((V + 2) % NV, V)] >= head[V] && is_member((V + 2) % NV)) ->
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
	up[V] = 1;
	excl[V] = ALLM; prev_excl[V] = ALLM; prefs[V] = 0; transition_end[V] = 0;
	moved_from[V] = NONE;
	ready[V] = 0;
#ifdef MUT_NO_BOOT
	boot[V] = 0;
#else
	boot[V] = LEASE;
#endif
	k = 0;
	do
	:: k < NV ->
		last_renewal[ix(V, k)] = 0; heard[ix(V, k)] = 0; r_ready[ix(V, k)] = 0;
		r_head[ix(V, k)] = 0; r_applied[ix(V, k)] = 0;
		E[ix(V, k)] = 0; valid_until[ix(V, k)] = 0;
		k++
	:: else -> break
	od;
	if
	:: is_member(V) -> role[V] = HB_ROLE_REPLICA; catch_from[V] = NONE; catch_to[V] = 0; catchup[V] = 0
	:: else
	fi;
	k = 0
}

MAYBE_ACTIVE proctype faults() {
	byte k, v;
	last_epoch > 0;		/* init has run */
	do
	/* a crash: the store's processes die (its mount with them) */
	:: d_step { up[0] -> up[0] = 0 }
	:: d_step { up[1] -> up[1] = 0 }
	:: d_step { up[2] -> up[2] = 0 }
	/* a restart */
	:: d_step { !up[0] -> restart(0) }
	:: d_step { !up[1] -> restart(1) }
	:: d_step { !up[2] -> restart(2) }
#ifdef DRIFT
	/* a holder's clock runs slow: one of its validity counters misses a
	 * tick of the global clock (at most DRIFT per endorsement) */
	:: d_step { v < NV * NV - 1 -> v++ }
	:: d_step { v > 0 -> v-- }
	:: d_step { slow[v] > 0 && valid_until[v] > 0 && valid_until[v] < LEASE - MARGIN ->
		slow[v]--; valid_until[v]++ }
#endif
	od
}

/* a stable start: every voter up, ready, heard; store 0 active in epoch 1,
 * endorsed by everyone */
init {
	byte i, k;
	d_step {
		i = 0;
		do
		:: i < NV ->
			up[i] = 1; ready[i] = 1;
			k = 0;
			do
			:: k < NV ->
				heard[ix(i, k)] = 1; r_ready[ix(i, k)] = 1;
				if
				:: is_member(k) && k != i -> last_renewal[ix(i, k)] = LEASE
				:: else
				fi;
				k++
			:: else -> break
			od;
			i++
		:: else -> break
		od;
		i = 0;
		do
		:: i < NM ->
			epoch[i] = 1; catch_from[i] = NONE; rec_epoch[i] = 1; moved_from[i] = NONE;
			k = 0;
			do
			:: k < NV ->
				valid_until[ix(i, k)] = LEASE - MARGIN; E[ix(i, k)] = (i == 0);
				k++
			:: else -> break
			od;
			i++
		:: else -> break
		od;
		role[0] = HB_ROLE_ACTIVE;
		last_epoch = 1;
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
