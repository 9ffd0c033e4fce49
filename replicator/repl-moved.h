/* SPDX-License-Identifier: MIT
 * repl-moved.h - which expunges are the second half of a move
 * (repl-moved.c). Dovecot moves a message by hard-linking it into the
 * other folder's tmp/ under a new name and renaming it in (journaled as a
 * delivery; a link straight into cur/ is a copy), then expunging the
 * source: names differ, but the size tags (,S= and ,W=) are the
 * message's own. So each delivery or copy is noted by account and size
 * tags, and an expunge with the same tags within a minute takes one of
 * them: a move. Pure: times are the records' own. */
#ifndef REPL_MOVED_H
#define REPL_MOVED_H
#include <stdbool.h>
#include <stdint.h>

/* a move's copies and expunges are one transaction: a minute is ample */
#define REPL_MOVED_KEEP_NS (60ULL * 1000000000ULL)

struct repl_moved;

struct repl_moved *repl_moved_new(uint64_t keep_ns);
void repl_moved_free(struct repl_moved **mp);
/* A message named name (the new name) delivered or copied into
   account's folder at time_ns. A name without ,S= is not noted. */
void repl_moved_note(struct repl_moved *m, const char *account, const char *folder,
		     const char *name, uint64_t time_ns);
/* Whether an expunge of name from account's folder at time_ns is a
   move's: one noted within keep_ns before with the same size tags, into
   another folder, is taken (so one copy excuses one expunge). false for a
   name without ,S=. */
bool repl_moved_take(struct repl_moved *m, const char *account, const char *folder,
		     const char *name, uint64_t time_ns);
/* Entries held now (for the tests: the table stays bounded). */
uint64_t repl_moved_size(const struct repl_moved *m);

#endif
