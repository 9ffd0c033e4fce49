/* SPDX-License-Identifier: MIT
 * hb-drill.h - mailmeshctl drill: a timed planned failover of one account
 * and back, through mailmesh-hbmon's promote command (hb-drill.c). */
#ifndef HB_DRILL_H
#define HB_DRILL_H
#include "cfg.h"

/* argv[0] is "drill".
   drill ACCOUNT [--to STORE] [--hold SECONDS] [--timeout SECONDS] [--dry-run]
   [--json]:
   asks every holder of ACCOUNT for its role (ROLE questions, this store's
   own files for itself), promotes ACCOUNT to STORE (default: the next
   healthy holder) on this store's mailmesh-hbmon, measures the move from
   ROLE samples every HB_DRILL_POLL_MS, holds, then restores what was there
   before (promote --clear, or promote back) and measures that; prints the
   report and appends it to STATE/events. --dry-run prints what the holders
   answered and what a drill would do, and changes nothing. Returns
   mailmeshctl's exit status: 0 both moves completed (--dry-run: a drill
   could run), 1 not (what it left is printed), 2 bad usage. */
int hb_cmd_drill(const struct mm_cfg *cfg, int argc, char **argv);

#endif
