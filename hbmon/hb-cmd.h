/* SPDX-License-Identifier: MIT
 * hb-cmd.h - mailmeshctl's placement command and the hbmon part of its
 * status (hb-cmd.c). */
#ifndef HB_CMD_H
#define HB_CMD_H
#include <jansson.h>
#include "cfg.h"

/* argv[0] is "placement".
   placement [ACCOUNT] [--json]: the configured members' placement of
   ACCOUNT, or of every account in [node] store with the count per store;
   needs cfg.
   placement --simulate [--stores N] [--accounts N] [--fail K]
   [--replicas N] [--seed S] [--json]: the simulation (hb-sim.h); cfg may
   be NULL, and gives the default of --replicas when it is not.
   Returns mailmeshctl's exit status: 0 done, 1 failed, 2 usage. */
int hb_cmd_placement(const struct mm_cfg *cfg, int argc, char **argv);

/* Asks the running mailmesh-hbmon (STATE/hbmon.sock) for its status.
   Returns 0 with *status_r (the daemon's JSON object; the caller
   decrefs), 1 when it is not running, -1 with *error_r (static). */
int hb_cmd_status_get(const struct mm_cfg *cfg, json_t **status_r, const char **error_r);
/* Prints the members of status as a table on stdout. */
void hb_cmd_status_print(const json_t *status);
/* Prints the accounts of a status (its "accounts") as a table. */
void hb_cmd_accounts_print(const json_t *accounts);
/* mailmeshctl events [--json]: the role changes of STATE/events. Returns
   the exit status: 0, 1 when the file cannot be read, 2 usage. */
int hb_cmd_events(const struct mm_cfg *cfg, int argc, char **argv);
/* drain [STORE] [--off] [--timeout S]: planned maintenance: this store's
   mailmesh-hbmon reports it degraded until --off, so its accounts move off
   gracefully; waits until none is active here and every peer acknowledged
   this store's whole journal, and reports. 0 drained, 1 not (timeout,
   a daemon not answering), 2 bad usage. */
int hb_cmd_drain(const struct mm_cfg *cfg, int argc, char **argv);
/* promote ACCOUNT STORE | promote ACCOUNT --clear [--no-wait] [--timeout S]
   (hb-cmd-promote.c): pins the account to STORE, one of its holders, or
   clears its pin, through this store's mailmesh-hbmon; then waits until
   this store's view makes STORE (or, cleared, the placement's choice)
   its active, out of transition (and active here when it is this store),
   and reports. 0 done, 1 refused or not in time, 2 bad usage. */
int hb_cmd_promote(const struct mm_cfg *cfg, int argc, char **argv);

#endif
