/* SPDX-License-Identifier: MIT
 * hb-pins.h - a voter's pin table (mailmeshctl promote): accounts pinned to
 * a member, last writer wins, bounded tombstones, its gossip and its file
 * format. Pure: the daemon (hb-promote.c) reads clocks, files and sockets. */
#ifndef HB_PINS_H
#define HB_PINS_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "hb-wire.h"

#define HB_PINS_MAX 16		/* pins in force, cluster-wide */
#define HB_PINS_TOMBS_MAX 16	/* cleared pins kept (the oldest go first) */
#define HB_PINS_ENTRIES_MAX (HB_PINS_MAX + HB_PINS_TOMBS_MAX)

struct mm_buf;
struct hb_pins;

/* A pin in force, as a view holds it: the account's hash and its member. */
struct hb_pin_force {
	uint64_t hash;
	uint8_t member;
};

/* The key of an account in pins and on the wire: XXH3-64 of its bytes. */
uint64_t hb_pins_hash(const char *account);

struct hb_pins *hb_pins_new(void);
/* A copy of p (the caller frees it). */
struct hb_pins *hb_pins_dup(const struct hb_pins *p);
void hb_pins_free(struct hb_pins **pp);

/* The operator pins account (1..HB_WIRE_ACCOUNT_MAX bytes) to member, or
   clears its pin (member HB_WIRE_PIN_NONE), at wall clock now_ns. The
   entry's seq is max(now_ns, the account's last seq + 1, the floor + 1).
   Returns 1 when the table changed, 0 when it was already so (a pin to
   the same member, a clear of an account not pinned), -1 with *error_r
   (static) when HB_PINS_MAX other accounts are pinned. */
int hb_pins_set(struct hb_pins *p, const char *account, uint8_t member, uint64_t now_ns,
		const char **error_r);
/* A definition gossiped by another voter: the higher seq wins for its
   account (at an equal seq, the higher member byte, so a clear wins).
   Refused: seq at or under the floor for an account not in the table (an
   evicted tombstone's). When more than HB_PINS_MAX pins are then in force,
   the oldest (lowest seq) becomes a tombstone of the same seq, so every
   voter keeps the same 16. Returns true when the table changed. */
bool hb_pins_merge(struct hb_pins *p, const struct hb_pin_def *def);

/* The member account is pinned to, or -1 (none, or cleared); *seq_r (when
   not NULL) the entry's seq, 0 when there is none. */
int hb_pins_get(const struct hb_pins *p, const char *account, uint64_t *seq_r);
/* Entries (pins and tombstones), sorted by account name; i < count. */
size_t hb_pins_count(const struct hb_pins *p);
size_t hb_pins_in_force(const struct hb_pins *p);
const struct hb_pin_def *hb_pins_at(const struct hb_pins *p, size_t i);
/* Under it, a definition of an account not in the table is refused. */
uint64_t hb_pins_floor(const struct hb_pins *p);
/* XXH3-64 of the entries in order (account, NUL, member, seq): equal
   tables have equal hashes. */
uint64_t hb_pins_table_hash(const struct hb_pins *p);

/* The definition to gossip in the next heartbeats (round-robin over the
   table; one set or changed by hb_pins_set goes first). false when the
   table is empty. */
bool hb_pins_next(struct hb_pins *p, struct hb_pin_def *def_r);

/* The pins in force for a view, sorted by hash, into out (room for
   HB_PINS_MAX). Two accounts with the same hash (a collision) are both
   left out. Returns how many. */
size_t hb_pins_snapshot(const struct hb_pins *p, struct hb_pin_force *out);

/* STATE/hbmon.pins: "mailmesh-pins 1", "floor SEQ", then "SEQ MEMBER
   ACCOUNT" lines (MEMBER a name from names[], "-" for a cleared pin). */
void hb_pins_format(const struct hb_pins *p, char *const *names, size_t n_names,
		    struct mm_buf *out);
/* Parses that text. Entries naming a member not in names[] are left out
   and counted in *dropped_r. Returns 0 with *p_r (the caller frees it), or
   -1 with *error_r (static; names the line) on anything malformed. */
int hb_pins_parse(const char *text, size_t len, char *const *names, size_t n_names,
		  struct hb_pins **p_r, size_t *dropped_r, const char **error_r);

#endif
