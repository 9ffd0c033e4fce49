/* SPDX-License-Identifier: MIT
 * hb-view.c - a voter's view: wanted exclusions become view changes whose
 * transitions outlast the losers' leases; prefs for failed members. */
#include <stdlib.h>
#include <string.h>
#include "hb-view.h"
#include "log.h"
#include "mem.h"

struct hb_voter {
	struct hb_voter_settings set;
	uint64_t all;			/* bit of every member */
	uint64_t lease_us;
	uint64_t quiet_until;		/* start-up: lease = 0 until then */
	struct hb_endorsement view;	/* lease unused */
	uint64_t transition_end;
	uint64_t wanted;
	uint64_t heard;			/* bit m: m heard at the last tick */
	uint64_t last_renewal[HB_VIEW_MAX];
	uint64_t *applied;		/* [m * n + p] as m last reported */
	/* failback after a stable period */
	uint64_t included;		/* bit m: included in a view of ours once */
	uint64_t returning;		/* bit m: failed since; held until stable */
	uint64_t fine_since[HB_VIEW_MAX];	/* 0: not fine now */
};

static bool excluded(uint64_t excl, unsigned int m)
{
	return (excl & (1ULL << m)) != 0;
}

static const struct hb_pref *find_pref(const struct hb_pref *prefs, size_t n,
				       unsigned int p)
{
	for (size_t i = 0; i < n; i++)
		if (prefs[i].member == p)
			return &prefs[i];
	return NULL;
}

int hb_view_active(const struct hb_placement_list *l, uint64_t excl,
		   const struct hb_pref *prefs, size_t n_prefs)
{
	bool down[HB_VIEW_MAX] = { false };
	unsigned int hold[HB_VIEW_MAX], c[HB_VIEW_MAX];
	size_t nh, nc = 0;
	const struct hb_pref *pf;

	if (l->n == 0)
		return -1;
	for (size_t i = 0; i < l->n; i++)
		down[l->rank[i]] = excluded(excl, l->rank[i]);
	nh = hb_placement_hold(l, down, hold);
	if (nh == 0)
		return -1;
	if (!down[l->rank[0]])
		return (int)l->rank[0];
	/* C: the original holders still up, in ranking order, else H */
	for (size_t i = 0; i < nh; i++)
		for (size_t j = 0; j < l->want; j++)
			if (hold[i] == l->rank[j])
				c[nc++] = hold[i];
	if (nc == 0) {
		memcpy(c, hold, nh * sizeof(*hold));
		nc = nh;
	}
	if ((pf = find_pref(prefs, n_prefs, l->rank[0])) != NULL)
		for (size_t i = 0; i < pf->n; i++)
			for (size_t j = 0; j < nc; j++)
				if (pf->order[i] == c[j])
					return (int)c[j];
	return (int)c[0];
}

bool hb_view_endorses(const struct hb_endorsement *e, const struct hb_placement_list *l,
		      unsigned int s)
{
	return e->lease &&
	       hb_view_active(l, e->excl, e->prefs, e->n_prefs) == (int)s &&
	       hb_view_active(l, e->prev_excl, e->prefs, e->n_prefs) == (int)s;
}

struct hb_voter *hb_voter_new(const struct hb_voter_settings *set, uint64_t now_us)
{
	struct hb_voter *v = mm_calloc(1, sizeof(*v));

	mm_assert(set->n_members >= 1 && set->n_members <= HB_VIEW_MAX);
	v->set = *set;
	v->all = set->n_members == 64 ? ~0ULL : (1ULL << set->n_members) - 1;
	v->lease_us = (uint64_t)set->lease_ms * 1000;
	v->quiet_until = now_us + v->lease_us;
	/* nobody is known to be up yet: start with everyone excluded, so the
	   first view that includes a member is a return (conservative) */
	v->view.excl = v->view.prev_excl = v->wanted = v->all;
	v->applied = mm_calloc(set->n_members * set->n_members, sizeof(*v->applied));
	return v;
}

void hb_voter_free(struct hb_voter **vp)
{
	struct hb_voter *v = *vp;

	if (v == NULL)
		return;
	free(v->applied);
	free(v);
	*vp = NULL;
}

void hb_voter_applied(struct hb_voter *v, size_t m, size_t p, uint64_t lsn)
{
	mm_assert(m < v->set.n_members && p < v->set.n_members);
	v->applied[m * v->set.n_members + p] = lsn;
}

/* prefs[p]: every other member by the applied[p] it last reported to us,
   highest first, ties by member index. */
static void make_pref(const struct hb_voter *v, unsigned int p, struct hb_pref *pf)
{
	size_t n = v->set.n_members;

	pf->member = (uint8_t)p;
	pf->n = 0;
	for (unsigned int m = 0; m < n; m++) {
		uint64_t a = v->applied[m * n + p];
		size_t k;

		if (m == p)
			continue;
		for (k = pf->n; k > 0 && v->applied[pf->order[k - 1] * n + p] < a; k--)
			pf->order[k] = pf->order[k - 1];
		pf->order[k] = (uint8_t)m;
		pf->n++;
	}
}

/* The members with prefs in view w. */
static uint64_t with_prefs(const struct hb_endorsement *w)
{
	uint64_t mask = 0;

	for (size_t i = 0; i < w->n_prefs; i++)
		mask |= 1ULL << w->prefs[i].member;
	return mask;
}

/* Failed members that stay excluded without prefs: excluded while still
   heard (degraded, not ready), then silent. Their accounts must go to the
   holder that has the most of their journals, so they get prefs now, in a
   view change of their own. */
static uint64_t late_failed(const struct hb_voter *v, uint64_t failed)
{
	const struct hb_endorsement *w = &v->view;

	return w->excl & v->wanted & failed & ~with_prefs(w);
}

static void change_view(struct hb_voter *v, uint64_t failed, uint64_t now_us)
{
	struct hb_endorsement *w = &v->view;
	uint64_t added = v->wanted & ~w->excl, removed = w->excl & ~v->wanted;
	uint64_t late = late_failed(v, failed);
	uint64_t losers = added, end = now_us;
	size_t k = 0;

	/* drop the prefs of members no longer excluded; a member that stays
	   excluded with prefs can have its accounts re-chosen among members
	   that are not losers (a newcomer to H preferred over the current
	   active): then, as on a return, everyone is a loser */
	for (size_t i = 0; i < w->n_prefs; i++) {
		if (!excluded(v->wanted, w->prefs[i].member))
			continue;
		losers = v->all;
		w->prefs[k++] = w->prefs[i];
	}
	w->n_prefs = (uint8_t)k;
	/* prefs for a member already excluded move accounts between members
	   that are not excluded: everyone is a loser */
	if (removed != 0 || late != 0)
		losers = v->all;
	for (unsigned int p = 0; p < v->set.n_members; p++)
		if (excluded((added | late) & failed, p) && w->n_prefs < HB_WIRE_PREFS_MAX)
			make_pref(v, p, &w->prefs[w->n_prefs++]);
	for (unsigned int s = 0; s < v->set.n_members; s++)
		if (excluded(losers, s) && v->last_renewal[s] != 0 &&
		    v->last_renewal[s] + v->lease_us > end)
			end = v->last_renewal[s] + v->lease_us;
	w->prev_excl = w->excl;
	w->excl = v->wanted;
	w->view_id++;
	v->transition_end = end;
	v->included |= v->all & ~w->excl;
}

bool hb_voter_tick(struct hb_voter *v, const enum hb_member_state *state,
		   const bool *ready, uint64_t now_us)
{
	struct hb_endorsement *w = &v->view;
	uint64_t failed = 0, wanted = 0, heard = 0, id = w->view_id, prev = w->prev_excl;

	for (unsigned int m = 0; m < v->set.n_members; m++) {
		bool f = state[m] == HB_MEMBER_FAILED || state[m] == HB_MEMBER_UNKNOWN;

		if (f)
			failed |= 1ULL << m;
		else
			heard |= 1ULL << m;
		if (f || state[m] == HB_MEMBER_DEGRADED || !ready[m]) {
			wanted |= 1ULL << m;
			v->fine_since[m] = 0;
			if (f && (v->included & (1ULL << m)))
				v->returning |= 1ULL << m;
			continue;
		}
		if (v->fine_since[m] == 0)
			v->fine_since[m] = now_us;
		if (v->returning & (1ULL << m)) {
			/* back after a failure: stays excluded until stable */
			if (now_us - v->fine_since[m] < (uint64_t)v->set.failback_ms * 1000)
				wanted |= 1ULL << m;
			else
				v->returning &= ~(1ULL << m);
		}
	}
	v->wanted = wanted;
	v->heard = heard;
	if (now_us >= v->transition_end)
		w->prev_excl = w->excl;
	if ((wanted != w->excl || (late_failed(v, failed) != 0 &&
				   w->n_prefs < HB_WIRE_PREFS_MAX)) &&
	    now_us >= v->transition_end) {
		change_view(v, failed, now_us);
		if (now_us >= v->transition_end)
			w->prev_excl = w->excl;
	}
	return w->view_id != id || w->prev_excl != prev;
}

void hb_voter_endorse(struct hb_voter *v, size_t s, uint64_t now_us,
		      struct hb_endorsement *e_r)
{
	mm_assert(s < v->set.n_members);
	*e_r = v->view;
	e_r->lease = now_us >= v->quiet_until && excluded(v->heard, (unsigned int)s);
	if (e_r->lease)
		v->last_renewal[s] = now_us;
}

const struct hb_endorsement *hb_voter_view(const struct hb_voter *v)
{
	return &v->view;
}

uint64_t hb_voter_transition_end(const struct hb_voter *v)
{
	return v->transition_end;
}

uint64_t hb_voter_wanted(const struct hb_voter *v)
{
	return v->wanted;
}
