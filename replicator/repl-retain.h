/* SPDX-License-Identifier: MIT
 * repl-retain.h - names and age of the expunged messages a replica keeps
 * (STATE/expunged, repl-retain.c). Pure: the linking, listing and pruning
 * are repl-expunged.c's. */
#ifndef REPL_RETAIN_H
#define REPL_RETAIN_H
#include <stdbool.h>
#include <stdint.h>
#include "maildir.h"

#define REPL_RETAIN_DIR "expunged"	/* below STATE */

/* A message kept: STATE/expunged/ACCOUNT/f<HEX>/<EXPUNGED_NS>.<n|c>.<NAME>
   where HEX is the folder's bytes in hex ("f" alone: the account root),
   so any folder name maps to one safe directory name. */
struct repl_retained {
	char *folder;		/* decoded; owned */
	enum mm_sub sub;	/* MM_SUB_NEW or MM_SUB_CUR */
	const char *name;	/* borrows from the file name parsed */
	uint64_t expunged_ns;
};

/* "f<HEX>" for folder; the caller frees it. */
char *repl_retain_folder_key(const char *folder);
/* The file name for a message; the caller frees it. */
char *repl_retain_file(uint64_t expunged_ns, enum mm_sub sub, const char *name);
/* Parses a folder key and a file name in it. 0 with *r (free r->folder),
   -1 when either is not ours (left alone, never removed). */
int repl_retain_parse(const char *key, const char *file, struct repl_retained *r);
/* Whether a message expunged at expunged_ns is past a retention of
   retention_s at now_ns (0 keeps nothing). */
bool repl_retain_expired(uint64_t expunged_ns, uint64_t now_ns, uint64_t retention_s);

#endif
