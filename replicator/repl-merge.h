/* SPDX-License-Identifier: MIT
 * repl-merge.h - the rules that merge a late record (one a former source
 * never shipped before a failover) with this store: flags per flag by
 * clock, expunge over flags, folders in clock order, dovecot-uidlist and
 * dovecot-keywords. Pure; finding the state and applying it is repl-late.c's. */
#ifndef REPL_MERGE_H
#define REPL_MERGE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "buf.h"
#include "journal.h"

/* Flag letters are bytes below this; an out buffer for flags holds one of
   each and a NUL. */
#define REPL_MERGE_FLAGS_MAX 128

/* When a change happened: its record's time (a hybrid logical clock,
   lib/journal-file.h) and the store whose journal it is in. */
struct repl_merge_clock {
	uint64_t time_ns;	/* 0: no such change */
	const char *store;
};

/* Whether a happened after b: the later time, or at the same time the
   store whose name sorts after the other's (strcmp). A clock with time 0
   is before every other. */
bool repl_merge_after(const struct repl_merge_clock *a, const struct repl_merge_clock *b);

/* What this store did to one message from a late record's time on. */
struct repl_merge_history {
	/* per flag letter: this store's last set or clear of it */
	struct repl_merge_clock flag[REPL_MERGE_FLAGS_MAX];
	bool expunged;		/* this store expunged the message */
};

/* Notes one change of this store to the message: its flags went from
   old_flags to new_flags (the letters after ":2,"; NULL is none) at c.
   Only the letters that changed are noted; a later note of the same
   letter replaces an earlier one if it is after it (c->store is borrowed
   and must outlive h). */
void repl_merge_history_note(struct repl_merge_history *h, const char *old_flags,
			     const char *new_flags, const struct repl_merge_clock *c);

/* Merges a late flag change (late_old -> late_new at late) into the flags
   the message has here (local_flags): each letter the late record set or
   cleared takes the late value unless this store set or cleared that
   letter after it (local); every other letter keeps its value here. out
   gets the merged letters in byte order (as Maildir names carry them),
   NUL-terminated; letters that are not ASCII graphic characters are kept
   from local_flags only. NULL flags are "". Returns how many letters
   this store's later change won (conflicts resolved its way). */
unsigned int repl_merge_flags(const char *late_old, const char *late_new,
			      const struct repl_merge_clock *late, const char *local_flags,
			      const struct repl_merge_history *local,
			      char out[REPL_MERGE_FLAGS_MAX]);

/* The flags of a message name (after ":2,"), "" when it has none.
   Borrows from name. */
const char *repl_merge_name_flags(const char *name);
/* The name the message named local_name here gets with flags: its
   identity (before ':'), then ":2," and the flags; a name without ':'
   stays as it is while flags is empty. Appends to out (not reset). */
void repl_merge_msgname(const char *local_name, const char *flags, struct mm_buf *out);

enum repl_merge_action {
	REPL_MERGE_APPLY,	/* make the change here (through the mount) */
	REPL_MERGE_ALREADY,	/* this store already agrees: nothing to do */
	REPL_MERGE_KEEP,	/* this store's state wins: nothing done; a conflict */
	REPL_MERGE_MISSING,	/* nothing here to apply it to; a conflict */
};

/* A late flag change or move (MM_OP_FLAGS, MM_OP_MOVE) or expunge
   (MM_OP_EXPUNGE) of a message whose identity present says is in its
   folder here or not; h: what this store did to it. *rule_r: the rule
   applied, for the log (static). An expunge of a present message is
   APPLY whatever h says (an expunge wins over flag changes); a flag
   change of an absent one is KEEP when this store expunged it, else
   MISSING. For a present message APPLY means "merge the flags". */
enum repl_merge_action repl_merge_msg(enum mm_op op, bool present,
				      const struct repl_merge_history *h,
				      const char **rule_r);

/* A folder as this store has it, for a late folder operation. */
struct repl_merge_folder {
	bool exists;		/* the record's folder is here */
	bool new_exists;	/* FOLDER_RENAME: its new name is here */
	bool holds_mail;	/* the folder has messages in new/ or cur/ here */
	/* this store's last folder operation on the folder (or, for a
	   rename, either name) from the late record's time on */
	struct repl_merge_clock changed;
};

/* A late FOLDER_CREATE, FOLDER_RENAME or FOLDER_DELETE at late, against
   the folder here. APPLY when the state here allows it and no operation
   here after it contradicts it; a folder that holds mail here is never
   deleted (KEEP). *rule_r as for repl_merge_msg(). */
enum repl_merge_action repl_merge_folder(enum mm_op op, const struct repl_merge_clock *late,
					 const struct repl_merge_folder *f,
					 const char **rule_r);

/* Any other late metadata file (not dovecot-uidlist or dovecot-keywords),
   written or removed (deleted) whole at late: exists and same (its bytes
   equal the late ones; for a removal, same is !exists) describe it here;
   changed is the last write or removal of it here that this store's
   journal shows, with the late store as its store when it was the merge
   of an earlier late record of that store (time 0: none). This store's
   file is kept (KEEP) unless this store has none and did not remove it,
   or what it has came from the late store's own earlier change: then the
   late record applies (APPLY). A change here after late always wins. */
enum repl_merge_action repl_merge_meta(bool deleted, bool exists, bool same,
				       const struct repl_merge_clock *changed,
				       const struct repl_merge_clock *late,
				       const char **rule_r);

/* What a uidlist or keywords merge did. */
struct repl_merge_stats {
	unsigned int added;	/* entries of the late file added here */
	unsigned int renumbered;	/* ... of those, given a fresh UID (or index) */
	unsigned int differ;	/* the same message (keyword) at another UID
				   (index) here: this store's kept */
	unsigned int dropped;	/* keywords: no free index left */
};

/* Merges a late dovecot-uidlist (version 3: "3 V<uidvalidity> N<next>
   ...", then "<uid> [<ext> ...] :<file name>" lines, UIDs ascending)
   into this store's. The header is this store's (UIDVALIDITY, GUID ...)
   with N the highest of both next UIDs and of any UID given out. An entry
   whose message (identity) this store lists keeps this store's UID; one
   only in the late file keeps its UID when this store never gave that UID
   out (it is at or above the local next UID), else gets a fresh one, in
   the late file's order, from the highest next UID up. UIDs are never
   reused and UIDVALIDITY never changes. Returns 1 with the merged file in
   out (reset first) when it differs from local, 0 when local already
   holds everything (out untouched), -1 with *error_r (static) when either
   input is not such a file: nothing is written to out. */
int repl_merge_uidlist(const char *local, size_t local_len, const char *late,
		       size_t late_len, struct mm_buf *out,
		       struct repl_merge_stats *stats_r, const char **error_r);

/* Merges a late dovecot-keywords ("<index> <keyword>" lines, index 0-25,
   the letter a-z of the flag) into this store's: this store's indexes are
   kept; a keyword only in the late file takes its late index when that is
   free here, else the lowest free one, else it is dropped (stats).
   Returns as repl_merge_uidlist(). */
int repl_merge_keywords(const char *local, size_t local_len, const char *late,
			size_t late_len, struct mm_buf *out,
			struct repl_merge_stats *stats_r, const char **error_r);

#endif
