/* SPDX-License-Identifier: MIT
 * repl-expunged.h - the expunged messages a replica keeps in
 * STATE/expunged (repl-expunged.c): kept when an expunge is applied,
 * listed and read for mailmeshctl undelete, pruned after
 * expunge_retention. Names and ages are repl-retain.c's. */
#ifndef REPL_EXPUNGED_H
#define REPL_EXPUNGED_H
#include <stdint.h>
#include "buf.h"
#include "maildir.h"

/* Keeps src_name of src_dirfd (the message an expunge is about to
   remove) as account/folder's sub/name expunged at expunged_ns below dir:
   a hard link, or a copy across filesystems (mode and mtime kept). 0, or
   -1 with *error_r (static, this thread): the caller still expunges. */
int repl_expunged_keep(const char *dir, int src_dirfd, const char *src_name,
		       const char *account, const char *folder, enum mm_sub sub,
		       const char *name, uint64_t expunged_ns, const char **error_r);
/* Gives src_name of src_dirfd a second name, path: a hard link, or
   across filesystems a copy written whole (mode and times kept) and
   renamed there. An existing path is success. 0, or -1 with errno. */
int repl_keep_file(int src_dirfd, const char *src_name, const char *path);
/* Removes what is past retention_s at now_ns (and the directories left
   empty); returns how many messages went. */
uint64_t repl_expunged_prune(const char *dir, uint64_t retention_s, uint64_t now_ns);
/* Appends account's kept messages (of folder, or all when NULL;
   expunged at or after since_ns) to out as mm_wire_qretained entries.
   0 (none is fine), or -1 with *error_r (static). */
int repl_expunged_list(const char *dir, const char *account, const char *folder,
		       uint64_t since_ns, struct mm_buf *out, const char **error_r);
/* The path of one kept message; the caller frees it. */
char *repl_expunged_path(const char *dir, const char *account, const char *folder,
			 enum mm_sub sub, const char *name, uint64_t expunged_ns);

#endif
