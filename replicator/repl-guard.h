/* SPDX-License-Identifier: MIT
 * repl-guard.h - the mass-expunge guard's arithmetic (repl-guard.c): per
 * account, the expunges of the last minute by journal time, against the
 * account's message count. Pure: no clock, no I/O, no logging. */
#ifndef REPL_GUARD_H
#define REPL_GUARD_H
#include <stdbool.h>
#include <stdint.h>

#define REPL_GUARD_WINDOW_NS (60ULL * 1000000000ULL)

struct repl_guard_set {
	unsigned int pct;	/* [replication] expunge_guard; 0: never trips */
	unsigned int min;	/* expunge_guard_min: this many never trip it */
	uint64_t window_ns;	/* REPL_GUARD_WINDOW_NS */
};

enum repl_guard_verdict {
	REPL_GUARD_PASS,	/* ship it */
	REPL_GUARD_TRIP,	/* this expunge is one too many: hold from here */
};

struct repl_guard;

struct repl_guard *repl_guard_new(const struct repl_guard_set *set);
void repl_guard_free(struct repl_guard **gp);
/* How many expunges of an account holding base messages a window may
   have without tripping: max(min, pct% of base, rounded up). */
uint64_t repl_guard_threshold(const struct repl_guard_set *set, uint64_t base);
/* Whether the account's message count is needed to note an expunge of
   it journaled at time_ns: only once the window holds min expunges (below
   that it cannot trip), once per window. The caller then counts the
   messages the account has now, this expunge's included, and passes
   them to repl_guard_note() as base (0 otherwise). */
bool repl_guard_needs_base(const struct repl_guard *g, const char *account,
			   uint64_t time_ns);
/* Notes an expunge (or folder delete) of account at lsn, journaled at
   time_ns; base as repl_guard_needs_base() says (the window's earlier
   expunges are added to it: they were messages when it opened). Each
   LSN counts once, however many links read it: an LSN at or below the
   last noted is PASS. TRIP once the window holds more than the
   threshold; the window then starts afresh. *first_lsn_r and
   *first_ns_r (on TRIP) are the window's first expunge. */
enum repl_guard_verdict repl_guard_note(struct repl_guard *g, const char *account,
					uint64_t lsn, uint64_t time_ns, uint64_t base,
					uint64_t *first_lsn_r, uint64_t *first_ns_r);
/* Expunges of account in its window as of time_ns (for the status). */
uint64_t repl_guard_count(const struct repl_guard *g, const char *account, uint64_t time_ns);

#endif
