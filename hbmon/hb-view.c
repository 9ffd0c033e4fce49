/* SPDX-License-Identifier: MIT
 * hb-view.c - a voter's view: wanted exclusions and pins become view
 * changes whose transitions outlast the losers' leases; prefs for failed
 * members; who is active under a view. */
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
	bool isolated;			/* heard fewer than a quorum (hb_voter_isolated) */
	uint64_t exempt;		/* bit m: not heard when we were last cut off:
					   not returning when heard again */
	uint64_t fine_since[HB_VIEW_MAX];	/* 0: not fine now */
	/* pins in force in the voter's table, sorted by hash */
	struct hb_pin_force pins[HB_PINS_MAX];
	size_t n_pins;
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

int hb_view_active_pinned(const struct hb_placement_list *l, uint64_t excl,
			  const struct hb_pref *prefs, size_t n_prefs, int pin)
{
	/* only a store that holds the account's data, and only while it is
	   not excluded (failed, degraded, draining, not ready, returning) */
	if (pin >= 0 && pin < HB_VIEW_MAX && !excluded(excl, (unsigned int)pin))
		for (size_t i = 0; i < l->want; i++)
			if (l->rank[i] == (unsigned int)pin)
				return pin;
	return hb_view_active(l, excl, prefs, n_prefs);
}

static const struct hb_pin_entry *find_pin(const struct hb_endorsement *e, uint64_t hash)
{
	size_t lo = 0, hi = e->n_pins;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (e->pins[mid].hash == hash)
			return &e->pins[mid];
		if (e->pins[mid].hash < hash)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

int hb_view_pin(const struct hb_endorsement *e, uint64_t hash, bool prev)
{
	const struct hb_pin_entry *pe = find_pin(e, hash);
	uint8_t m;

	if (pe == NULL)
		return -1;
	m = prev ? pe->prev : pe->cur;
	return m == HB_WIRE_PIN_NONE ? -1 : m;
}

int hb_view_active_in(const struct hb_endorsement *e, const struct hb_placement_list *l,
		      uint64_t hash, bool prev)
{
	return hb_view_active_pinned(l, prev ? e->prev_excl : e->excl, e->prefs, e->n_prefs,
				     hb_view_pin(e, hash, prev));
}

bool hb_view_endorses(const struct hb_endorsement *e, const struct hb_placement_list *l,
		      uint64_t hash, bool collides, unsigned int s)
{
	if (!e->lease || (collides && find_pin(e, hash) != NULL) ||
	    (l->n > 0 && (e->prefs_moving & (1ULL << l->rank[0])) != 0))
		return false;
	return hb_view_active_in(e, l, hash, false) == (int)s &&
	       hb_view_active_in(e, l, hash, true) == (int)s;
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

void hb_voter_pins(struct hb_voter *v, const struct hb_pin_force *pins, size_t n)
{
	mm_assert(n <= HB_PINS_MAX);
	for (size_t i = 0; i < n; i++)
		mm_assert(pins[i].member < v->set.n_members &&
			  (i == 0 || pins[i].hash > pins[i - 1].hash));
	if (n > 0)
		memcpy(v->pins, pins, n * sizeof(*pins));
	v->n_pins = n;
}

/* Whether the table's pins differ from the view's current ones. */
static bool pins_differ(const struct hb_voter *v)
{
	const struct hb_endorsement *w = &v->view;
	size_t k = 0;

	for (size_t i = 0; i < w->n_pins; i++) {
		if (w->pins[i].cur == HB_WIRE_PIN_NONE)
			continue;
		if (k >= v->n_pins || v->pins[k].hash != w->pins[i].hash ||
		    v->pins[k].member != w->pins[i].cur)
			return true;
		k++;
	}
	return k != v->n_pins;
}

/* The view's pins after a change: prev = the current ones, cur = the
   table's; entries pinned in neither go. Both lists are sorted by hash. */
static void change_pins(struct hb_voter *v)
{
	struct hb_endorsement *w = &v->view;
	struct hb_pin_entry out[HB_WIRE_PINS_MAX];
	size_t i = 0, k = 0, n = 0;

	while (i < w->n_pins || k < v->n_pins) {
		struct hb_pin_entry pe = { .cur = HB_WIRE_PIN_NONE, .prev = HB_WIRE_PIN_NONE };

		if (k >= v->n_pins || (i < w->n_pins && w->pins[i].hash < v->pins[k].hash)) {
			pe.hash = w->pins[i].hash;
			pe.prev = w->pins[i++].cur;
		} else if (i >= w->n_pins || v->pins[k].hash < w->pins[i].hash) {
			pe.hash = v->pins[k].hash;
			pe.cur = v->pins[k++].member;
		} else {
			pe.hash = v->pins[k].hash;
			pe.prev = w->pins[i++].cur;
			pe.cur = v->pins[k++].member;
		}
		if (pe.cur != HB_WIRE_PIN_NONE || pe.prev != HB_WIRE_PIN_NONE) {
			mm_assert(n < HB_WIRE_PINS_MAX);
			out[n++] = pe;
		}
	}
	memcpy(w->pins, out, n * sizeof(*out));
	w->n_pins = (uint8_t)n;
}

/* The end of a transition: the previous view is the current one. Returns
   true when that changed anything. */
static bool end_transition(struct hb_endorsement *w)
{
	bool changed = w->prev_excl != w->excl || w->prefs_moving != 0;
	size_t k = 0;

	w->prev_excl = w->excl;
	w->prefs_moving = 0;
	for (size_t i = 0; i < w->n_pins; i++) {
		if (w->pins[i].prev != w->pins[i].cur)
			changed = true;
		if (w->pins[i].cur == HB_WIRE_PIN_NONE)
			continue;
		w->pins[k] = w->pins[i];
		w->pins[k++].prev = w->pins[i].cur;
	}
	w->n_pins = (uint8_t)k;
	return changed;
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
	   that are not excluded: everyone is a loser; so does a pin (set,
	   moved or cleared: the account moves between members up) */
	if (removed != 0 || late != 0 || pins_differ(v))
		losers = v->all;
	change_pins(v);
	for (unsigned int p = 0; p < v->set.n_members; p++)
		if (excluded((added | late) & failed, p) && w->n_prefs < HB_WIRE_PREFS_MAX)
			make_pref(v, p, &w->prefs[w->n_prefs++]);
	for (unsigned int s = 0; s < v->set.n_members; s++)
		if (excluded(losers, s) && v->last_renewal[s] != 0 &&
		    v->last_renewal[s] + v->lease_us > end)
			end = v->last_renewal[s] + v->lease_us;
	w->prev_excl = w->excl;
	w->excl = v->wanted;
	/* a member that was excluded in the previous part too and gets prefs
	   now: the previous part chose its accounts' active without them */
	w->prefs_moving = late & w->prev_excl & w->excl;
	w->view_id++;
	v->transition_end = end;
	v->included |= v->all & ~w->excl;
}

void hb_voter_isolated(struct hb_voter *v, bool isolated)
{
	/* back from being cut off: the others did not fail, this voter did;
	   holding them out as returning would split the votes */
	if (v->isolated && !isolated) {
		v->returning = 0;
		/* those still silent may be on the far side of what cut us
		   off, not failed: not returning either when they come */
		v->exempt = v->all & ~v->heard;
	}
	v->isolated = isolated;
}

bool hb_voter_tick(struct hb_voter *v, const enum hb_member_state *state,
		   const bool *ready, uint64_t now_us)
{
	struct hb_endorsement *w = &v->view;
	uint64_t failed = 0, wanted = 0, heard = 0, id = w->view_id;
	bool ended = false;

	for (unsigned int m = 0; m < v->set.n_members; m++) {
		bool f = state[m] == HB_MEMBER_FAILED || state[m] == HB_MEMBER_UNKNOWN;

		if (f)
			failed |= 1ULL << m;
		else
			heard |= 1ULL << m;
		if (f || state[m] == HB_MEMBER_DEGRADED || !ready[m]) {
			wanted |= 1ULL << m;
			v->fine_since[m] = 0;
			if (f && (v->included & (1ULL << m)) && !(v->exempt & (1ULL << m)))
				v->returning |= 1ULL << m;
			continue;
		}
		v->exempt &= ~(1ULL << m);	/* heard and fine: a later failure counts */
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
		ended = end_transition(w);
	if ((wanted != w->excl || pins_differ(v) ||
	     (late_failed(v, failed) != 0 && w->n_prefs < HB_WIRE_PREFS_MAX)) &&
	    now_us >= v->transition_end) {
		change_view(v, failed, now_us);
		if (now_us >= v->transition_end)
			end_transition(w);
	}
	return w->view_id != id || ended;
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

bool hb_view_in_transition(const struct hb_endorsement *e)
{
	if (e->excl != e->prev_excl || e->prefs_moving != 0)
		return true;
	for (size_t i = 0; i < e->n_pins; i++)
		if (e->pins[i].cur != e->pins[i].prev)
			return true;
	return false;
}

uint64_t hb_voter_transition_end(const struct hb_voter *v)
{
	return v->transition_end;
}

uint64_t hb_voter_wanted(const struct hb_voter *v)
{
	return v->wanted;
}
