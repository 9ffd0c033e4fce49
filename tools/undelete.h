/* SPDX-License-Identifier: MIT
 * undelete.h - mailmeshctl undelete and expunge-guard (undelete.c): mail
 * expunged by mistake comes back from the replicas through this store's
 * mount, as deliveries that replicate like any other. */
#ifndef UNDELETE_H
#define UNDELETE_H
#include "cfg.h"

/* argv[0] is the command. Each returns mailmeshctl's exit status: 0 done,
   1 failed (some messages could not be restored), 2 usage, 3 the
   replicator is not running. */
/* undelete ACCOUNT [--folder F] [--since TIME] [--dry-run] */
int ud_cmd_undelete(const struct mm_cfg *cfg, int argc, char **argv);
/* expunge-guard ACCOUNT confirm | revert */
int ud_cmd_guard(const struct mm_cfg *cfg, int argc, char **argv);

#endif
