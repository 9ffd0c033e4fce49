/* SPDX-License-Identifier: MIT
 * repl-idcache.h - which message identities a store's new/ and cur/ hold,
 * kept between records so applying one costs a lookup, not a directory scan. */
#ifndef REPL_IDCACHE_H
#define REPL_IDCACHE_H
#include <stdbool.h>
#include <stddef.h>
#include "maildir.h"

/* A directory's listing is trusted while its mtime and ctime are what the
   cache last saw, and kept up to date by this process's own changes
   (repl_idcache_before/after around each). A change another process makes
   in the same clock tick as one of ours, between the two, goes unseen
   until the directory changes again: on a replica nobody else writes
   there (the account is read-only). At most max_dirs directories are kept;
   the one used longest ago goes first. */
struct repl_idcache;
/* What repl_idcache_before() saw: pass it to repl_idcache_after(). */
struct repl_idcache_dir;

struct repl_idcache *repl_idcache_new(size_t max_dirs);
void repl_idcache_free(struct repl_idcache **cp);

/* A file in dirfd of name's identity (the part before ':'): 1 with
   found[] set, 0 when there is none, -1 with errno when dirfd cannot be
   listed. Lists dirfd only when the cache holds no valid listing of it. */
int repl_idcache_find(struct repl_idcache *c, int dirfd, const char *name,
		      char found[MM_NAME_MAX + 1]);

/* Before this process changes dirfd: the directory's entry if the cache
   holds a valid one, else NULL. After the change succeeded, tell
   repl_idcache_after() what went (removed) and came (added), either may
   be NULL, and it takes the directory's new times as valid. Between the
   two calls, no other call on c. */
struct repl_idcache_dir *repl_idcache_before(struct repl_idcache *c, int dirfd);
void repl_idcache_after(struct repl_idcache *c, struct repl_idcache_dir *d, int dirfd,
			const char *removed, const char *added);

/* For tests and status: listings made, and lookups answered without one. */
void repl_idcache_stats(const struct repl_idcache *c, unsigned long *scans,
			unsigned long *hits);

#endif
