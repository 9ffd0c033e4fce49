/* SPDX-License-Identifier: MIT
 * acct.h - account names, the accounts a store holds, and their mode
 * (read-write or read-only), persisted in STATE/accounts so it survives
 * restarts; the fs daemon enforces it. */
#ifndef MM_ACCT_H
#define MM_ACCT_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Validates an account name for a store with this depth: exactly depth
   non-empty components, no "." or "..", no NUL or control bytes.
   Returns 0 or -1 with *error_r (static). */
int mm_acct_check(const char *account, unsigned int depth, const char **error_r);
/* Loads the read-only accounts, sorted. *ro_r is a NULL-terminated array
   owned by the caller (mm_acct_list_free). A missing file is an empty list.
   0 or -1 with *error_r. */
int mm_acct_load(const char *state_dir, char ***ro_r, size_t *n_r,
		 const char **error_r);
/* Sets one account's mode in the file (locked, atomic replace). */
int mm_acct_set(const char *state_dir, const char *account, bool readonly,
		const char **error_r);
/* The accounts of a store directory: the directories depth levels below
   it (symbolic links and names starting with '.' are not followed) whose
   names pass mm_acct_check(), sorted by strcmp. *list_r is NULL-terminated
   (NULL when there is none) and owned by the caller (mm_acct_list_free).
   0, or -1 with *error_r (static) naming the call and the directory. */
int mm_acct_list(const char *store, unsigned int depth, char ***list_r, size_t *n_r,
		 const char **error_r);
void mm_acct_list_free(char ***listp, size_t n);
/* STATE/roles, written by mailmesh-hbmon (fenced stores): the accounts
   active here. "mailmesh-roles GEN" then one "EPOCH ACCOUNT" line each.
   mm_roles_load: 0 with *gen_r and *list_r (sorted, NULL-terminated,
   owned by the caller: mm_acct_list_free) and *epochs_r (when not NULL;
   parallel to the list, freed by the caller), or -1 with *error_r (a
   missing file is an error: nothing is active). Any thread. */
int mm_roles_load(const char *state_dir, uint64_t *gen_r, char ***list_r,
		  uint64_t **epochs_r, size_t *n_r, const char **error_r);
/* Replaces STATE/roles atomically (a new file renamed over it) with
   generation gen and body (the "EPOCH ACCOUNT\n" lines). 0 or -1 with
   *error_r. */
int mm_roles_write(const char *state_dir, uint64_t gen, const void *body, size_t len,
		   const char **error_r);
/* Binary search in a sorted list for an account given by prefix/len. */
bool mm_acct_in(char *const *list, size_t n, const char *account, size_t len);

#endif
