/* SPDX-License-Identifier: MIT
 * hb-cmd.h - mailmeshctl's placement command (hb-cmd.c). */
#ifndef HB_CMD_H
#define HB_CMD_H
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

#endif
