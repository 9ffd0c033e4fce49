/* SPDX-License-Identifier: MIT
 * scenarios.pml - scripted runs of leases.pml (spin -DSCENARIO=N): each
 * is a sequence of the model's own steps (the same inlines the voters
 * run), kept as a regression test for a flaw the model showed in the spec.
 * Scenarios 1 and 2: flaw 1 (README.md); check.sh runs each with
 * -DSPEC_CATCHUP (the spec as written: must violate P2) and without (the
 * fix: must not). Scenario 3: the prefs mutation (-DMUT_NO_PREFS) must
 * violate P2 under the spec's catch-up, and P2 holds with prefs. */

inline view(V) { hb_view_tick(V); hb_ready(V); hb_lease_roles(V) }
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
}

/* P1 scenarios: each is a known bug put back (a mutation) that must be
 * caught; the same steps on the real model keep P1.
 * 4: -DMUT_NO_TRANSITION (1 and 2 stop hearing 0; no transition wait).
 * 5: -DMUT_NO_BOOT (voter 1 renews 0, crashes, restarts and endorses
 *    at once; needs the start-up lease = 0 period).
 * 6: -DMARGIN=0 -DDRIFT=1 (0's clock misses a tick; no margin). */
inline p1_scenario() {
#if SCENARIO == 4
	heard[ix(1, 0)] = 0; heard[ix(2, 0)] = 0;
	view(1); view(2); view(1); view(2);
	hb_send(2, 1, 1); hb_recv(1, 2); hb_lease_roles(1);
#elif SCENARIO == 5
	heard[ix(2, 0)] = 0; view(2);
	gtick(); gtick();
	view(2);
	hb_send(1, 0, 1); hb_recv(0, 1); hb_lease_roles(0);
	up[1] = 0; restart(1);
	hb_send(2, 1, 1); hb_recv(1, 2);
	view(1); view(1); view(1);
	hb_send(2, 1, 1); hb_recv(1, 2); hb_lease_roles(1);
#elif SCENARIO == 6
	hb_send(1, 0, 1); hb_recv(0, 1); hb_lease_roles(0);
	heard[ix(1, 0)] = 0; heard[ix(2, 0)] = 0;
	view(1); view(2);
	gtick();
	if	/* the holder's clock misses a tick (the fault step of DRIFT) */
	:: slow[ix(0, 1)] > 0 && valid_until[ix(0, 1)] > 0 &&
	   valid_until[ix(0, 1)] < LEASE - MARGIN -> slow[ix(0, 1)]--; valid_until[ix(0, 1)]++
	:: else
	fi;
	gtick();
	view(1); view(2);
	hb_send(2, 1, 1); hb_recv(1, 2); hb_lease_roles(1);
#elif SCENARIO == 7
	/* P3 (run without -DNO_P3): a failover to 1 (epoch 2), 1 writes
	 * nothing, then A goes back to 0, which only knows epoch 1 */
	heard[ix(1, 0)] = 0; heard[ix(2, 0)] = 0;
	view(1); view(2);
	gtick(); gtick();
	hb_lease_roles(0);		/* 0's endorsements lapsed: replica */
	view(1); view(2);
	hb_send(2, 1, 1); hb_recv(1, 2); hb_lease_roles(1);	/* 1 active, epoch 2 */
	hb_send(0, 1, 1); hb_recv(1, 0); hb_send(0, 2, 1); hb_recv(2, 0);
	view(1); view(2);		/* 0 returns: transition for everyone */
	gtick(); gtick();
	hb_lease_roles(1);		/* 1 demoted */
	view(1); view(2);
	hb_send(2, 0, 1); hb_recv(0, 2); hb_lease_roles(0)	/* 0 active again */
#endif
	printf("SCENARIO %d: roles %d %d %d writable %d %d %d\n", SCENARIO, role[0], role[1], role[2],
		writable(0), writable(1), writable(2))
}

proctype scenario() {
	byte j, m, wanted, added, losers, a_new, a_old, a1, a2, cnt, i, k;
	bit lease, ok;
#if SCENARIO >= 4
	p1_scenario()
#else
	/* store 0 is active: a delivery, applied by store 2 (not 1), acked */
	assert(writable(0)); head[0]++; rec_epoch[0] = epoch[0];
	hb_apply(2, 0);
	assert(writable(0)); acked[0] = 1;
#if SCENARIO == 3
	/* prefs: 2 tells 1 it applied 0's record; then 0 fails (unheard) */
	hb_send(2, 1, 1); hb_recv(1, 2); hb_lease_roles(1);
	heard[ix(1, 0)] = 0; heard[ix(2, 0)] = 0;
	view(1); view(2);
	gtick(); gtick();
	view(1); view(2);
	/* by prefs, A goes to 2 (it has the most of 0); with prefs ignored
	 * (-DMUT_NO_PREFS) to 1, which lacks the record */
	hb_send(2, 1, 1); hb_recv(1, 2); hb_lease_roles(1);
	hb_send(1, 2, 1); hb_recv(2, 1); hb_lease_roles(2);
	printf("SCENARIO 3: roles %d %d, acked[0] = %d\n", role[1], role[2], acked[0])
#else
	/* 0 stops hearing the others (its inbound link is cut): it is no
	 * longer ready; 1 and 2 still hear it and learn ready = 0, head = 1 */
	heard[ix(0, 1)] = 0; heard[ix(0, 2)] = 0; view(0);
	hb_send(0, 1, 1); hb_recv(1, 0); hb_lease_roles(1);
	hb_send(0, 2, 1); hb_recv(2, 0); hb_lease_roles(2);
	/* 1 and 2 exclude 0 while hearing it (no prefs): A moves to 1 by
	 * ranking; the transition runs until their last renewal of 0 + lease */
	view(1); view(2);
	gtick(); gtick();
	view(1); view(2);
#if SCENARIO == 2
	/* ... and then 0 crashes: P is failed */
	up[0] = 0; heard[ix(1, 0)] = 0; heard[ix(2, 0)] = 0;
	view(1); view(2);
#endif
	/* 2 endorses 1; 1 counts 2's vote and its own: endorsed */
	hb_send(2, 1, 1);
	hb_recv(1, 2);
	hb_lease_roles(1);
	printf("SCENARIO %d: role of store 1 = %d (2 = active), applied[1,0] = %d, acked[0] = %d\n",
		SCENARIO, role[1], applied[ix(1, 0)], acked[0])
#endif
#endif
}
