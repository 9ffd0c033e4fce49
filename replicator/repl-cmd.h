/* SPDX-License-Identifier: MIT
 * repl-cmd.h - mailmeshctl's replication commands (repl-cmd.c). */
#ifndef REPL_CMD_H
#define REPL_CMD_H
#include <jansson.h>
#include "cfg.h"

/* argv[0] is the command name. Each returns mailmeshctl's exit status:
   0 done, 1 failed, 2 usage, 3 (replication) the replicator is not running. */
int repl_cmd_certs(const struct mm_cfg *cfg, int argc, char **argv);
int repl_cmd_replication(const struct mm_cfg *cfg, int argc, char **argv);
/* The running replicator's status lines, as an array of objects. 0, 1 when
   it is not running (no socket), -1 with *error_r. */
int repl_cmd_status_get(const struct mm_cfg *cfg, json_t **lines_r, const char **error_r);
/* Sends line to the running replicator and prints its answer (without
   "ok "); errors go to stderr. The exit status as above. */
int repl_cmd_call(const struct mm_cfg *cfg, const char *line);
/* resync ACCOUNT [PEER]: the running replicator sends the account whole. */
int repl_cmd_resync(const struct mm_cfg *cfg, int argc, char **argv);
/* pause|resume ACCOUNT: the running replicator holds back, or sends again,
   the account's records to every peer (argv[0] says which). */
int repl_cmd_pause(const struct mm_cfg *cfg, int argc, char **argv);

#endif
