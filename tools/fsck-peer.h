/* SPDX-License-Identifier: MIT
 * fsck-peer.h - mailmesh-fsck's side of the peers: one TLS connection per
 * peer store (the replicator's port, this node's certificate), folder
 * digests asked for before this store is walked (the peers walk at the
 * same time), folder lists only where digests differ, and the repairs
 * that need another store (a copy fetched, a resync asked of our own
 * replicator). */
#ifndef FSCK_PEER_H
#define FSCK_PEER_H
#include <stdbool.h>
#include <stdint.h>
#include "cfg.h"
#include "fsck-core.h"
#include "inventory.h"

struct fsck_peers;

/* Connects to every [peer] (not this store). A peer that cannot be
   reached is a FSCK_PEER_UNREACHABLE problem in r. Returns 0, or -1
   (r->operational set) when TLS cannot even be set up. */
int fsck_peers_open(const struct mm_cfg *cfg, struct fsck_peers **pp_r, struct fsck_report *r);
void fsck_peers_close(struct fsck_peers **pp);
/* Ends every connection (a TLS shutdown) but keeps the counts: after it,
   fsck_peers_bytes() is final. */
void fsck_peers_hangup(struct fsck_peers *pp);
/* Asks every connected peer for account's folder digests (the answers
   are read by fsck_peers_compare). */
void fsck_peers_ask(struct fsck_peers *pp, const char *account, bool content);
/* Compares inv (this store's copy of the account; ours_rw: this store is
   its active store) with each peer's: digests, then lists where they
   differ. Adds the differences to r. */
void fsck_peers_compare(struct fsck_peers *pp, const struct mm_inv *inv, bool ours_rw,
			struct fsck_report *r);
/* FETCH (quarantine ours if there, then install the active store's copy)
   or RESYNC (our replicator resyncs the account to the peer). 0, or -1
   with *error_r (static). */
int fsck_peers_repair(struct fsck_peers *pp, const char *run, struct fsck_problem *p,
		      const char **error_r);
/* Bytes sent to and received from peers on the wire (TLS included). */
uint64_t fsck_peers_bytes(const struct fsck_peers *pp);

#endif
