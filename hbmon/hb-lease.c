/* SPDX-License-Identifier: MIT
 * hb-lease.c - the holder's side of leases: what each voter endorsed and
 * until when, the roles of the accounts here with the catch-up rule. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "hb-lease.h"
#include "hb-pins.h"
#include "hb-view.h"
#include "log.h"
#include "mem.h"

#define VOTERS_MAX (HB_VIEW_MAX + 1)

/* How many accounts here have one hash. */
struct hash_count {
	uint64_t hash;
	uint32_t count;		/* 0: a free slot */
};

struct hb_lease {
	struct hb_lease_settings set;
	size_t n_voters, quorum;
	uint64_t lease_us;
	struct hb_endorsement e[VOTERS_MAX];
	uint64_t valid_until[VOTERS_MAX];
	bool heard[HB_VIEW_MAX];
	uint64_t head[HB_VIEW_MAX];
	uint64_t applied[HB_VIEW_MAX];
	uint64_t peer_applied[HB_VIEW_MAX][HB_VIEW_MAX];	/* [m][p], as m reported */
	/* ready */
	bool ready;
	uint64_t quorum_since;		/* 0: no quorum heard */
	bool have_target[HB_VIEW_MAX];
	bool owed[HB_VIEW_MAX];		/* member m owes us a resync */
	uint64_t target[HB_VIEW_MAX];
	/* accounts, sorted by name */
	struct hb_lease_acct *acct;
	size_t n_acct, cap_acct;
	/* how many accounts have each hash (open addressing; hashes of 0 are
	   kept apart): a count over 1 is a collision */
	struct hash_count *hashes;
	size_t cap_hashes, n_hashes;
	uint32_t zero_hashes;
};

struct hb_lease *hb_lease_new(const struct hb_lease_settings *set)
{
	struct hb_lease *h = mm_calloc(1, sizeof(*h));

	mm_assert(set->n_members >= 1 && set->n_members <= HB_VIEW_MAX &&
		  set->self < set->n_members);
	h->set = *set;
	h->n_voters = set->n_members + (set->witness ? 1 : 0);
	h->quorum = h->n_voters / 2 + 1;
	h->lease_us = (uint64_t)set->lease_ms * 1000;
	return h;
}

void hb_lease_free(struct hb_lease **hp)
{
	struct hb_lease *h = *hp;

	if (h == NULL)
		return;
	for (size_t i = 0; i < h->n_acct; i++)
		free(h->acct[i].account);
	free(h->acct);
	free(h->hashes);
	free(h);
	*hp = NULL;
}

size_t hb_lease_quorum(const struct hb_lease *h)
{
	return h->quorum;
}

void hb_lease_endorsement(struct hb_lease *h, size_t v, const struct hb_endorsement *e,
			  bool have_sent, uint64_t sent_us)
{
	mm_assert(v < h->n_voters);
	h->e[v] = *e;
	/* counted from our send time, which is before the voter's renewal,
	   and for lease x 0.9 only: the voter's clock may run slower */
	h->valid_until[v] = e->lease && have_sent ?
		sent_us + h->lease_us * (100 - LEASE_MARGIN) / 100 : 0;
}

bool hb_lease_held_out(const struct hb_lease *h, uint64_t now_us)
{
	size_t heard = 0, out = 0;

	for (size_t v = 0; v < h->n_voters; v++) {
		bool recent = v < h->set.n_members ? h->heard[v] : h->valid_until[v] > now_us;

		if (v == h->set.self || !recent || h->e[v].view_id == 0)
			continue;
		heard++;
		if (h->e[v].excl & (1ULL << h->set.self))
			out++;
	}
	return heard > 0 && out == heard;
}

int hb_lease_quorum_active(const struct hb_lease *h, const struct hb_placement_list *l,
			   uint64_t hash, uint64_t now_us)
{
	unsigned int votes[HB_VIEW_MAX] = { 0 };

	for (size_t v = 0; v < h->n_voters; v++) {
		bool recent = v < h->set.n_members ? v == h->set.self || h->heard[v] :
			      h->valid_until[v] > now_us;
		int a;

		if (!recent || h->e[v].view_id == 0)
			continue;
		a = hb_view_active_in(&h->e[v], l, hash, false);
		if (a >= 0 && ++votes[a] >= h->quorum)
			return a;
	}
	return -1;
}

void hb_lease_member(struct hb_lease *h, size_t m, bool heard)
{
	mm_assert(m < h->set.n_members);
	h->heard[m] = heard;
}

void hb_lease_head(struct hb_lease *h, size_t m, uint64_t head, uint64_t now_us)
{
	mm_assert(m < h->set.n_members);
	h->head[m] = head;
	if (h->quorum_since != 0 && now_us >= h->quorum_since && !h->have_target[m]) {
		h->have_target[m] = true;
		h->target[m] = head;
	}
}

bool hb_lease_lag(const struct hb_lease *h, size_t p, uint64_t head, uint64_t *lag_r)
{
	uint64_t low = UINT64_MAX;

	mm_assert(p < h->set.n_members);
	for (size_t m = 0; m < h->set.n_members; m++) {
		uint64_t a;

		if (m == p || (m != h->set.self && !h->heard[m]))
			continue;
		a = m == h->set.self ? h->applied[p] : h->peer_applied[m][p];
		if (a < low)
			low = a;
	}
	*lag_r = low == UINT64_MAX || low >= head ? 0 : head - low;
	return low != UINT64_MAX;
}

uint64_t hb_lease_head_of(const struct hb_lease *h, size_t m)
{
	mm_assert(m < h->set.n_members);
	return h->head[m];
}

void hb_lease_peer_applied(struct hb_lease *h, size_t m, size_t p, uint64_t lsn)
{
	mm_assert(m < h->set.n_members && p < h->set.n_members);
	h->peer_applied[m][p] = lsn;
}

/* The most of member p's journal that a member we hear (not p, not us)
   says it has applied. */
static uint64_t others_have(const struct hb_lease *h, int p, int *who_r)
{
	uint64_t best = 0;

	*who_r = -1;
	for (size_t m = 0; m < h->set.n_members; m++) {
		if (m == h->set.self || (int)m == p || !h->heard[m] ||
		    h->peer_applied[m][p] <= best)
			continue;
		best = h->peer_applied[m][p];
		*who_r = (int)m;
	}
	return best;
}

void hb_lease_applied(struct hb_lease *h, size_t m, uint64_t lsn)
{
	mm_assert(m < h->set.n_members);
	h->applied[m] = lsn;
}

void hb_lease_owed(struct hb_lease *h, size_t m, bool owed)
{
	mm_assert(m < h->set.n_members);
	h->owed[m] = owed;
}

bool hb_lease_owed_by(const struct hb_lease *h, size_t m)
{
	return m < h->set.n_members && h->heard[m] && h->owed[m];
}

bool hb_lease_ready(struct hb_lease *h, size_t n_heard, uint64_t now_us)
{
	if (n_heard < h->quorum) {
		h->ready = false;
		h->quorum_since = 0;
		memset(h->have_target, 0, sizeof(h->have_target));
		return false;
	}
	if (h->quorum_since == 0)
		h->quorum_since = now_us;
	/* mail a heard member still has to resync here is mail we lack:
	   not ready (even if we were), whatever the LSNs say */
	for (size_t m = 0; m < h->set.n_members; m++)
		if (m != h->set.self && h->heard[m] && h->owed[m]) {
			h->ready = false;
			return false;
		}
	if (h->ready)
		return true;
	if (now_us - h->quorum_since < (uint64_t)h->set.timeout_ms * 1000)
		return false;
	for (size_t m = 0; m < h->set.n_members; m++) {
		if (m == h->set.self || !h->heard[m])
			continue;
		if (!h->have_target[m] || h->applied[m] < h->target[m])
			return false;
	}
	h->ready = true;
	return true;
}

static struct hb_lease_acct *lookup(const struct hb_lease *h, const char *account,
				    size_t *pos_r)
{
	size_t lo = 0, hi = h->n_acct;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(h->acct[mid].account, account);

		if (c == 0)
			return &h->acct[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*pos_r = lo;
	return NULL;
}

/* The slot of hash in the table (its count 0 when absent). */
static size_t hash_slot(const struct hb_lease *h, uint64_t hash)
{
	size_t i = (size_t)(hash ^ (hash >> 29)) & (h->cap_hashes - 1);

	while (h->hashes[i].count != 0 && h->hashes[i].hash != hash)
		i = (i + 1) & (h->cap_hashes - 1);
	return i;
}

static void hash_add(struct hb_lease *h, uint64_t hash)
{
	size_t i;

	if (hash == 0) {
		h->zero_hashes++;
		return;
	}
	if (2 * (h->n_hashes + 1) > h->cap_hashes) {
		size_t old = h->cap_hashes;
		struct hash_count *was = h->hashes;

		h->cap_hashes = old == 0 ? 64 : old * 2;
		h->hashes = mm_calloc(h->cap_hashes, sizeof(*h->hashes));
		for (size_t k = 0; k < old; k++)
			if (was[k].count != 0)
				h->hashes[hash_slot(h, was[k].hash)] = was[k];
		free(was);
	}
	i = hash_slot(h, hash);
	if (h->hashes[i].count == 0) {
		h->hashes[i].hash = hash;
		h->n_hashes++;
	}
	h->hashes[i].count++;
}

static bool collides(const struct hb_lease *h, uint64_t hash)
{
	if (hash == 0)
		return h->zero_hashes > 1;
	return h->cap_hashes > 0 && h->hashes[hash_slot(h, hash)].count > 1;
}

static struct hb_lease_acct *get(struct hb_lease *h, const char *account)
{
	size_t pos;
	struct hb_lease_acct *a = lookup(h, account, &pos);

	if (a != NULL)
		return a;
	if (h->n_acct == h->cap_acct) {
		h->cap_acct = h->cap_acct == 0 ? 16 : h->cap_acct * 2;
		h->acct = mm_realloc(h->acct, h->cap_acct * sizeof(*h->acct));
	}
	memmove(&h->acct[pos + 1], &h->acct[pos], (h->n_acct - pos) * sizeof(*h->acct));
	h->n_acct++;
	a = &h->acct[pos];
	memset(a, 0, sizeof(*a));
	a->account = mm_strdup(account);
	a->from = a->last_other = -1;
	a->hash = hb_pins_hash(account);
	hash_add(h, a->hash);
	return a;
}

const struct hb_lease_acct *hb_lease_find(const struct hb_lease *h, const char *account)
{
	size_t pos;

	return lookup(h, account, &pos);
}

void hb_lease_set_epoch(struct hb_lease *h, const char *account, uint64_t epoch)
{
	struct hb_lease_acct *a = get(h, account);

	if (epoch > a->epoch)
		a->epoch = epoch;
}

static void set_role(struct hb_lease_acct *a, enum hb_role role, uint64_t wall_ns,
		     bool *changed_r)
{
	if (role == HB_ROLE_ACTIVE)
		a->epoch = wall_ns > a->epoch ? wall_ns : a->epoch + 1;
	a->from_lost = false;
	a->role = role;
	*changed_r = true;
}

const struct hb_lease_acct *hb_lease_account(struct hb_lease *h, const char *account,
					     const struct hb_placement_list *l,
					     uint64_t now_us, uint64_t wall_ns,
					     bool *changed_r)
{
	struct hb_lease_acct *a = get(h, account);
	uint64_t until[VOTERS_MAX];
	unsigned int self = h->set.self;
	size_t n = 0;
	bool coll = collides(h, a->hash);
	int own;

	*changed_r = false;
	/* the store the account would move from: the last other active our
	   own view named (prev_excl no longer shows it once the transition
	   that brings the account here is over); with a promote, the store
	   it was active on before the pin */
	own = hb_view_active_in(&h->e[self], l, a->hash, false);
	if (own != (int)self)
		a->last_other = own;
	for (size_t v = 0; v < h->n_voters; v++) {
		size_t k;

		if (h->valid_until[v] <= now_us ||
		    !hb_view_endorses(&h->e[v], l, a->hash, coll, self))
			continue;
		/* insertion, largest first */
		for (k = n; k > 0 && until[k - 1] < h->valid_until[v]; k--)
			until[k] = until[k - 1];
		until[k] = h->valid_until[v];
		n++;
	}
	a->votes = (unsigned int)n;
	a->deadline_us = n >= h->quorum ? until[h->quorum - 1] : 0;
	if (n < h->quorum) {
		if (a->role != HB_ROLE_REPLICA) {
			snprintf(a->reason, sizeof(a->reason),
				 "endorsed by %zu of %zu voters, quorum %zu", n, h->n_voters,
				 h->quorum);
			set_role(a, HB_ROLE_REPLICA, wall_ns, changed_r);
		}
		return a;
	}
	if (a->role == HB_ROLE_REPLICA) {
		int who;

		a->from = a->last_other;
		a->pending_since_us = now_us;
		if (a->sync && a->from >= 0 && !h->heard[a->from] &&
		    h->applied[a->from] < others_have(h, a->from, &who)) {
			/* RPO zero: a member we hear has more of the store this
			   account moves from; the voters' prefs choose it */
			a->target = others_have(h, a->from, &who);
			snprintf(a->reason, sizeof(a->reason),
				 "endorsed by %zu of %zu voters; member %d has more of member %d "
				 "(LSN %llu, here %llu): waiting (sync mode)", n, h->n_voters, who,
				 a->from, (unsigned long long)a->target,
				 (unsigned long long)h->applied[a->from]);
			set_role(a, HB_ROLE_PENDING, wall_ns, changed_r);
		} else if (a->from >= 0 && h->heard[a->from]) {
			a->target = h->head[a->from];
			snprintf(a->reason, sizeof(a->reason),
				 "endorsed by %zu of %zu voters; catching up with member %d "
				 "to LSN %llu", n, h->n_voters, a->from,
				 (unsigned long long)a->target);
			set_role(a, HB_ROLE_PENDING, wall_ns, changed_r);
		} else {
			snprintf(a->reason, sizeof(a->reason),
				 "endorsed by %zu of %zu voters%s", n, h->n_voters,
				 a->from >= 0 ? "; the store it moves from is not heard" : "");
			set_role(a, HB_ROLE_ACTIVE, wall_ns, changed_r);
			a->from_lost = a->from >= 0;
			return a;
		}
	}
	if (a->role == HB_ROLE_PENDING) {
		uint64_t have = h->applied[a->from], more = 0;
		int who;

		if (have >= a->target) {
			snprintf(a->reason, sizeof(a->reason),
				 "caught up with member %d (LSN %llu)", a->from,
				 (unsigned long long)have);
			set_role(a, HB_ROLE_ACTIVE, wall_ns, changed_r);
		} else if (a->sync) {
			/* RPO zero: no deadline. While P is heard, its records
			   come; once it is not, what counts is whether a member we
			   hear has more of it than we do */
			if (!h->heard[a->from] &&
			    have >= (more = others_have(h, a->from, &who))) {
				snprintf(a->reason, sizeof(a->reason),
					 "member %d is not heard and no member heard has more of "
					 "it (LSN %llu here, %llu missing of its last head)",
					 a->from, (unsigned long long)have,
					 (unsigned long long)(a->target - have));
				set_role(a, HB_ROLE_ACTIVE, wall_ns, changed_r);
				a->from_lost = true;
			} else if (!h->heard[a->from] && more > a->target) {
				a->target = more;
			}
		} else if (now_us - a->pending_since_us >= (uint64_t)h->set.catchup_ms * 1000 ||
			   !h->heard[a->from]) {
			snprintf(a->reason, sizeof(a->reason),
				 "catch-up with member %d ended: %llu record(s) missing (RPO)",
				 a->from, (unsigned long long)(a->target - have));
			set_role(a, HB_ROLE_ACTIVE, wall_ns, changed_r);
			a->from_lost = !h->heard[a->from];
		}
	}
	return a;
}

void hb_lease_set_sync(struct hb_lease *h, const char *account, bool sync)
{
	get(h, account)->sync = sync;
}

const char *hb_role_str(enum hb_role r)
{
	switch (r) {
	case HB_ROLE_REPLICA: return "replica";
	case HB_ROLE_PENDING: return "pending";
	case HB_ROLE_ACTIVE: return "active";
	}
	return "?";
}
