/* SPDX-License-Identifier: MIT
 * scenarios.pml - scripted runs of leases.pml (timed; spin -DSCENARIO=N):
 * each is a sequence of the model's own steps (the inlines the voters
 * run), kept as a regression test: with a known bug put back (a mutation)
 * the trace must violate its property, on the real model keep it.
 * check.sh runs them; README.md lists them. */

/* one tick of voter V as node() runs it; pt: its pin table entry for A */
inline view_pin(V, pt) {
	pin_tab = pt;
	if :: is_member(V) -> hb_ready(V) :: else fi;
	hb_wanted(V);
	hb_voter_tick(V);
	if :: is_member(V) -> renew_self(V); hb_lease_account(V) :: else fi
}
inline view(V) { view_pin(V, pins[V]) }
inline hb(V, S) { hb_send(V, S, 1); hb_recv(S, V); hb_lease_account(S) }
inline gtick() {
	i = 0;
	do
	:: i < NV * NV -> dec(last_renewal[i]); dec(n_valid[i]); dec(valid_until[i]); i++
	:: else -> break
	od;
	i = 0;
	do
	:: i < NV -> dec(transition_end[i]); dec(boot[i]); i++
	:: else -> break
	od
#ifdef SPEC_CATCHUP
	; i = 0;
	do
	:: i < NM -> dec(catchup[i]); i++
	:: else -> break
	od
#endif
}
/* store 0 (active) writes a record; 2 applies it (1 does not); acked */
inline record_at_0_and_2() {
	assert(writable(0)); head[0]++; rec_epoch[0] = epoch[0];
	hb_apply(2, 0);
	assert(writable(0)); acked[0] = 1
}

proctype scenario() {
	byte j, m, wanted, failed, added, removed, losers, late, a_new, a_old, a1, a2, cnt, pin_tab, i, k;
	bit lease, ok, e;
#if SCENARIO == 1 || SCENARIO == 2
	/* flaw 1: 0 stops hearing the others (its inbound link is cut): not
	 * ready; 1 and 2 still hear it and learn ready = 0, head = 1; they
	 * exclude it while hearing it (no prefs): A moves to 1 by ranking */
	record_at_0_and_2();
	heard[ix(0, 1)] = 0; heard[ix(0, 2)] = 0; view(0);
	hb(0, 1); hb(0, 2);
	view(1); view(2);
	gtick(); gtick();
	view(1); view(2);
#if SCENARIO == 2
	/* ... and then 0 crashes: P is failed (late prefs in the C rule) */
	up[0] = 0; heard[ix(1, 0)] = 0; heard[ix(2, 0)] = 0;
	view(1); view(2);
#endif
	hb(2, 1);
	printf("SCENARIO %d: role of store 1 = %d (2 = active), applied[1,0] = %d, acked[0] = %d\n",
		SCENARIO, role[1], applied[ix(1, 0)], acked[0])
#elif SCENARIO == 3
	/* prefs: 2 tells 1 it applied 0's record; then 0 fails (unheard) */
	record_at_0_and_2();
	hb(2, 1);
	heard[ix(1, 0)] = 0; heard[ix(2, 0)] = 0;
	view(1); view(2);
	gtick(); gtick();
	view(1); view(2);
	/* by prefs A goes to 2 (it has the most of 0); with prefs ignored
	 * (-DMUT_NO_PREFS) to 1, which lacks the record */
	hb(2, 1); hb(1, 2);
	printf("SCENARIO 3: roles %d %d, acked[0] = %d\n", role[1], role[2], acked[0])
#elif SCENARIO == 4
	/* -DMUT_NO_TRANSITION: 1 and 2 stop hearing 0 and move A to 1 at once */
	heard[ix(1, 0)] = 0; heard[ix(2, 0)] = 0;
	view(1); view(2);
	hb(2, 1)
#elif SCENARIO == 5
	/* -DMUT_NO_BOOT: voter 1 renews 0, crashes, restarts, endorses 1 */
	heard[ix(2, 0)] = 0; view(2);
	gtick(); gtick();
	view(0); view(2);
	hb(1, 0);
	up[1] = 0; restart(1);
	hb(2, 1);
	view(1); view(1)
#elif SCENARIO == 6
	/* -DMARGIN=0 -DDRIFT=1: 0's clock misses a tick of 1's endorsement */
	hb(1, 0);
	heard[ix(1, 0)] = 0; heard[ix(2, 0)] = 0;
	view(1); view(2);
	if	/* the holder's clock misses a tick (faults(): MISS) */
	:: slow[ix(0, 1)] > 0 && valid_until[ix(0, 1)] > 0 -> slow[ix(0, 1)]--; valid_until[ix(0, 1)]++
	:: else
	fi;
	gtick(); gtick();
	view(0); view(1); view(2);
	hb(2, 1)
#elif SCENARIO == 7
	/* P3 (run without -DNO_P3): a failover to 1 (epoch 2), 1 writes
	 * nothing, then A goes back to 0, which only knows epoch 1 */
	heard[ix(1, 0)] = 0; heard[ix(2, 0)] = 0;
	view(1); view(2);
	gtick(); gtick();
	hb_lease_account(0);		/* 0's endorsements lapsed: replica */
	view(1); view(2);
	hb(2, 1);			/* 1 active, epoch 2 */
	hb(0, 1); hb(0, 2);
	view(1); view(2);		/* 0 returns: transition for everyone */
	gtick(); gtick();
	hb_lease_account(1);		/* 1 demoted */
	view(0); view(1); view(2);
	hb(2, 0)			/* 0 active again */
#elif SCENARIO == 8
	/* -DMUT_PIN_NO_TRANSITION: the operator pins A to 1; voters 1 and 2
	 * learn it and apply it without a transition */
	view_pin(1, 1); view_pin(2, 1);
	hb(2, 1)
#elif SCENARIO == 9
	/* flaw 5 (C's catch-up): 0's record is acked (at 0 and 2); the
	 * operator pins A to 2, then to 1 before 2 takes it; 1 catches up with
	 * 2's journal only (last_other = 2) and lacks 0's record */
	record_at_0_and_2();
	view_pin(1, 2); view_pin(2, 2);
	gtick(); gtick();
	view_pin(1, 1); view_pin(2, 1);
	gtick(); gtick();
	view(1); view(2);
	hb(2, 1)
#endif
	;
	printf("SCENARIO %d: roles %d %d %d writable %d %d %d\n", SCENARIO, role[0], role[1], role[2],
		writable(0), writable(1), writable(2))
}
