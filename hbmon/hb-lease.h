/* SPDX-License-Identifier: MIT
 * hb-lease.h - the holder: endorsements received, votes and deadline per
 * account, the roles replica/pending/active, ready, epochs. Pure. */
#ifndef HB_LEASE_H
#define HB_LEASE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "hb-placement.h"
#include "hb-wire.h"

/* A holder counts an endorsement for lease x (100 - LEASE_MARGIN) / 100. */
#define LEASE_MARGIN 10

enum hb_role {
	HB_ROLE_REPLICA,	/* read-only here */
	HB_ROLE_PENDING,	/* endorsed, catching up */
	HB_ROLE_ACTIVE,		/* writable here */
};

struct hb_lease_settings {
	size_t n_members;	/* voters 0..n_members-1 are the members */
	unsigned int self;	/* member index of this store */
	bool witness;		/* voter n_members is the witness */
	unsigned int lease_ms, timeout_ms, catchup_ms;
};

/* One account at this store, as hb_lease_account() left it. */
struct hb_lease_acct {
	char *account;
	enum hb_role role;
	uint64_t epoch;		/* of the last time it became active here */
	uint64_t deadline_us;	/* while pending/active: when endorsement lapses */
	unsigned int votes;
	int from;		/* P: the store it moves from, -1: none */
	int last_other;		/* the last other active under our own view */
	uint64_t target;	/* catch-up: P's head when endorsed here */
	bool sync;		/* a sync-mode account: no catch-up deadline */
	/* it became active here while the store it moved from was not heard:
	   this store may hold records of that store's journal its replicas
	   lack (they come from the origin only): resync them (hb-roles.c) */
	bool from_lost;
	uint64_t pending_since_us;
	uint64_t hash;		/* hb_pins_hash(account) */
	char reason[160];	/* of the last role change */
};

struct hb_lease;

struct hb_lease *hb_lease_new(const struct hb_lease_settings *set);
void hb_lease_free(struct hb_lease **hp);
size_t hb_lease_quorum(const struct hb_lease *h);

/* Voter v (a member index, or n_members for the witness) sent endorsement
   e in a heartbeat echoing one of ours sent at sent_us (have_sent false
   when the echo is unknown: the endorsement then counts for nothing).
   The store's own endorsement (from hb_voter_endorse) is passed with
   v = self and sent_us = now. A later endorsement replaces the earlier
   one and its validity. */
void hb_lease_endorsement(struct hb_lease *h, size_t v, const struct hb_endorsement *e,
			  bool have_sent, uint64_t sent_us);
/* Whether every other voter heard (at least one) holds this store out in
   its last view: then this store's own view holds it out too, so that a
   store returning during the others' failback_after does not endorse
   itself for its accounts while they endorse another (a split vote, no
   quorum for either, until failback_after ends). Only a store's view of
   itself follows the others: nothing else is adopted, so no exclusion can
   sustain itself. */
bool hb_lease_held_out(const struct hb_lease *h, uint64_t now_us);
/* The store a quorum of voters' last views (of voters heard; the witness
   while its endorsement is valid) make the active of l's account, or -1
   when no quorum agrees (during a transition, or too few voters heard).
   For the status: this store's own view may still name itself while the
   others hold it out (a returning store during failback_after). */
int hb_lease_quorum_active(const struct hb_lease *h, const struct hb_placement_list *l,
			   uint64_t hash, uint64_t now_us);
/* Whether member m is heard (not failed or unknown); every tick. */
void hb_lease_member(struct hb_lease *h, size_t m, bool heard);
/* A heartbeat from member m saying head (its journal's last LSN) arrived
   at now_us. */
void hb_lease_head(struct hb_lease *h, size_t m, uint64_t head, uint64_t now_us);
/* This store's durable receive cursor for member m. */
void hb_lease_applied(struct hb_lease *h, size_t m, uint64_t lsn);

/* Member m said (heartbeat flag) whether its replicator owes this store a
   resync; while a heard member does, this store is not ready. */
void hb_lease_owed(struct hb_lease *h, size_t m, bool owed);
/* Whether member m is heard and owes this store a resync. */
bool hb_lease_owed_by(const struct hb_lease *h, size_t m);
/* Ready at now_us given how many voters (this store included) are heard:
   a quorum heard continuously for timeout, then caught up with the head
   of every member heard, as reported after the quorum was reached, and
   owed no resync by any member heard. */
bool hb_lease_ready(struct hb_lease *h, size_t n_heard, uint64_t now_us);

/* Member m reported, in its heartbeat, having applied member p's journal
   up to lsn. */
void hb_lease_peer_applied(struct hb_lease *h, size_t m, size_t p, uint64_t lsn);
/* Replication lag of member p's journal: head (p's last LSN) minus the
   lowest applied[p] among the members heard but p (this store's own
   cursor included), in records. false when no such member is heard. */
bool hb_lease_lag(const struct hb_lease *h, size_t p, uint64_t head, uint64_t *lag_r);
/* The head member m last reported. */
uint64_t hb_lease_head_of(const struct hb_lease *h, size_t m);
/* Whether account is in sync mode (RPO zero): then it becomes active here
   only with every record of the store it moves from that a member this
   store hears has (no catch-up deadline; see hb_lease_account). */
void hb_lease_set_sync(struct hb_lease *h, const char *account, bool sync);

/* The epoch this store last knew for account (e.g. from STATE/roles). */
void hb_lease_set_epoch(struct hb_lease *h, const char *account, uint64_t epoch);
/* Evaluates account (placement l, member indices) at now_us, with each
   voter's pins (hb_view_endorses; when another account known here has the
   same hash, no voter's pin entry for it counts); wall_ns is the wall
   clock for a new epoch. Returns the entry (borrowed from h
   until hb_lease_free) and sets *changed_r when its role changed; the
   entry's reason then says why. */
const struct hb_lease_acct *hb_lease_account(struct hb_lease *h, const char *account,
					     const struct hb_placement_list *l,
					     uint64_t now_us, uint64_t wall_ns,
					     bool *changed_r);
/* The entry of account, or NULL. */
const struct hb_lease_acct *hb_lease_find(const struct hb_lease *h, const char *account);

const char *hb_role_str(enum hb_role r);

#endif
