/* SPDX-License-Identifier: MIT
 * hb-store.h - the store's I/O for leases in a thread of its own: tells
 * mailmesh-fs its roles and deadline, reads the journal head, the
 * replicator's cursors and the account list, appends to STATE/events. */
#ifndef HB_STORE_H
#define HB_STORE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "hb-wire.h"

struct hb_store_settings {
	const char *store, *state;
	unsigned int depth;		/* [node] account_depth */
	unsigned int interval_ms;
	const char *const *members;	/* member names, by member index */
	size_t n_members;
	size_t self;
};

/* What the thread read last. */
struct hb_store_figures {
	bool fs_running;		/* mailmesh-fs answered the last call */
	uint64_t head;			/* its journal's last LSN */
	uint64_t applied[HB_WIRE_MEMBERS_MAX];	/* STATE/replication/from-M.lsn */
	/* STATE/replication/to-M.resync exists: the replicator owes member m
	   a resync (a new peer being seeded, or records retention removed) */
	bool owes[HB_WIRE_MEMBERS_MAX];
};

struct hb_store;

/* Starts the thread. 0 with *store_r, or -1 with *error_r. */
int hb_store_start(const struct hb_store_settings *set, struct hb_store **store_r,
		   const char **error_r);
/* Stops the thread (after its current call) and frees; NULLs *store_r. */
void hb_store_stop(struct hb_store **store_r);

/* The event loop's side; none of these waits for I/O. */
/* The accounts active here (epochs[i] for accounts[i], both copied) and
   the deadline (CLOCK_MONOTONIC ns). The thread writes STATE/roles when
   the set changed and tells mailmesh-fs ("roles GEN DEADLINE") at once. */
void hb_store_post_roles(struct hb_store *s, char *const *accounts, const uint64_t *epochs,
			 size_t n, uint64_t deadline_ns);
/* Queues a resync of account to peer ("resync ACCOUNT PEER" to this
   store's replicator, from the thread; tried again while the peer is not
   connected, for about 10 minutes). */
void hb_store_post_resync(struct hb_store *s, const char *account, const char *peer);
/* Queues one line (no newline) to append to STATE/events. */
void hb_store_post_event(struct hb_store *s, const char *line);
/* Copies the last figures into *f_r. When the account list changed since
   the last call, hands it over in *accounts_r and *n_r (sorted, freed by the
   caller with mm_acct_list_free) and returns 1; else 0 (*accounts_r NULL). */
int hb_store_get(struct hb_store *s, struct hb_store_figures *f_r, char ***accounts_r,
		 size_t *n_r);

struct repl_epochs;
/* The epochs of STATE/replication/epochs when the file changed since the
   last call (checked every round), else NULL; the caller frees it
   (repl_epochs_free). */
struct repl_epochs *hb_store_take_epochs(struct hb_store *s);

#endif
