/* SPDX-License-Identifier: MIT
 * scenarios.pml - scripted runs of leases.pml (spin -DSCENARIO=N): each
 * is a sequence of the model's own steps (the same inlines the voters
 * run), kept as a regression test for a flaw the model showed in the spec.
 * check.sh runs each with -DSPEC_CATCHUP (the spec as written: must
 * violate P2) and without (the fix: must not). README.md, "Flaws". */

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

proctype scenario() {
	byte j, m, wanted, added, losers, a_new, a_old, a1, a2, cnt, i;
	bit lease, ok;
	/* store 0 is active: a delivery, applied by store 2 (not 1), acked */
	assert(writable(0)); head[0]++; rec_epoch[0] = epoch[0];
	hb_apply(2, 0);
	assert(writable(0)); acked[0] = 1;
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
}
