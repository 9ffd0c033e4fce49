/* SPDX-License-Identifier: MIT
 * repl-cursor.h - the bytes of STATE/replication/from-PEER.lsn: where a peer
 * resumes. Two checksummed slots, rewritten in place; pure, no I/O. */
#ifndef REPL_CURSOR_H
#define REPL_CURSOR_H
#include <stddef.h>
#include <stdint.h>

/* Slot i (0 or 1) starts at i * REPL_CURSOR_SLOT_OFF and is
   REPL_CURSOR_SLOT_LEN bytes: "%020llu %016llx\n" plus newlines, the second
   number the XXH3-64 of the first. A save writes the slot of lsn & 1 and
   fdatasyncs it, so a torn write leaves the other slot: an older LSN, and
   the peer sends again what follows it (applying twice changes nothing).
   No new inode per save: allocating one per batch dominated the apply. */
#define REPL_CURSOR_SLOT_OFF 512
#define REPL_CURSOR_SLOT_LEN 64

/* Fills out (REPL_CURSOR_SLOT_LEN bytes) for lsn; returns its slot. */
unsigned int repl_cursor_format(uint64_t lsn, char out[REPL_CURSOR_SLOT_LEN]);
/* The LSN the file's bytes hold: the higher of the two valid slots, or a
   file in the old form ("LSN\n", written whole by rename). 0 with *valid_r
   false when nothing in it is valid. */
uint64_t repl_cursor_parse(const char *data, size_t len, int *valid_r);

#endif
