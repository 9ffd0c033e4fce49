/* SPDX-License-Identifier: MIT
 * undelete-core.h - mailmeshctl undelete's decisions (undelete-core.c):
 * its options and times, and which of the copies the replicas keep to
 * restore. Pure; the peers and the mount are undelete.c's. */
#ifndef UNDELETE_CORE_H
#define UNDELETE_CORE_H
#include <stdbool.h>
#include <stdint.h>

struct ud_opts {
	const char *account;	/* borrowed from argv */
	const char *folder;	/* NULL: every folder; "" the root (INBOX) */
	uint64_t since_ns;	/* expunged at or after; 0: all kept */
	bool dry_run;
};

/* argv[0] is "undelete": ACCOUNT [--folder F] [--since TIME] [--dry-run].
   0, or -1 with *error_r (static). */
int ud_parse(int argc, char **argv, uint64_t now_ns, struct ud_opts *o, const char **error_r);
/* TIME: a duration back from now ("90m", "2h", "7d"), a UTC date
   "YYYY-MM-DD" or "YYYY-MM-DDTHH:MM[:SS]", or "@SECONDS" since the epoch.
   0 with *ns_r, or -1. */
int ud_parse_time(const char *s, uint64_t now_ns, uint64_t *ns_r);

/* One kept copy a peer listed. */
struct ud_item {
	char *folder, *name;	/* owned */
	uint8_t sub;		/* 1 new, 2 cur */
	uint64_t expunged_ns, size;
	int64_t mtime_ns;
	unsigned int peer;	/* whose */
};
/* Sorts items by folder, then identity, then latest expunge first, and
   keeps one per (folder, identity): the latest expunged (so flags are
   those the message had last). Frees the others; returns how many are
   left at the front. */
size_t ud_dedupe(struct ud_item *items, size_t n);
void ud_items_free(struct ud_item *items, size_t n);

#endif
