/* SPDX-License-Identifier: MIT
 * hb-wire.h - the heartbeat datagram: encoding, decoding and its HMAC.
 * Pure: no sockets, no clocks; the daemon (hb-net.c) sends and receives. */
#ifndef HB_WIRE_H
#define HB_WIRE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mm_buf;

#define HB_WIRE_VERSION 3
#define HB_WIRE_NAME_MAX 63	/* as a [peer] name */
#define HB_WIRE_REASON_MAX 120
#define HB_WIRE_MAC_LEN 32	/* HMAC-SHA256 */
#define HB_WIRE_KEY_LEN 32
#define HB_WIRE_MEMBERS_MAX 64	/* member indices 0..63, bits of excl */
#define HB_WIRE_PREFS_MAX 8	/* prefs entries in one endorsement */
#define HB_WIRE_PINS_MAX 32	/* pin entries in one endorsement (pins and
				   prev_pins, 16 each), entries of a pin table */
#define HB_WIRE_ACCOUNT_MAX 255	/* an account name in a pin definition */
#define HB_WIRE_PIN_NONE 0xff	/* no member: not pinned, or a cleared pin */
#define HB_WIRE_MIN 156		/* with an empty name, reason, applied, prefs,
				   no pin entry and no pin definition */
#define HB_WIRE_MAX 2048	/* anything longer is refused unread; the
				   longest valid one is 2 011 bytes */

/* prefs[p]: the order in which the other members take over excluded
   member p's accounts (docs/hbmon.md, "Leases, views and failover"). */
struct hb_pref {
	uint8_t member;			/* p */
	uint8_t n;			/* 0..HB_WIRE_MEMBERS_MAX - 1 */
	uint8_t order[HB_WIRE_MEMBERS_MAX - 1];	/* member indices, none = p */
};

/* A pinned account in a voter's view (docs/hbmon.md, "Promote"): the
   member it is pinned to in the current view and in the previous one. */
struct hb_pin_entry {
	uint64_t hash;		/* XXH3-64 of the account name (hb_pins_hash) */
	uint8_t cur, prev;	/* member index, or HB_WIRE_PIN_NONE; not both */
};

/* A voter's view as sent to one receiver: the endorsement. */
struct hb_endorsement {
	bool lease;		/* this heartbeat renews the receiver's lease */
	uint64_t view_id;
	uint64_t excl, prev_excl;	/* bit m: member m excluded */
	uint8_t n_prefs;
	struct hb_pref prefs[HB_WIRE_PREFS_MAX];
	/* version 3: the accounts pinned in the view or the previous one,
	   hashes strictly increasing */
	uint8_t n_pins;
	struct hb_pin_entry pins[HB_WIRE_PINS_MAX];
	/* bit p: prefs[p] were set in this view for a member p that stays
	   excluded (it failed after it was excluded while heard), so the
	   previous part of the view had other prefs (or none) for it; while
	   the transition lasts, no account whose ranking starts with p is
	   endorsed (tests/model: flaw 4). Sent last, after the gossip. */
	uint64_t prefs_moving;
};

/* One entry of a voter's pin table, as gossiped (last writer wins). */
struct hb_pin_def {
	char account[HB_WIRE_ACCOUNT_MAX + 1];	/* 1..255 bytes, no control byte */
	uint8_t member;		/* member index, or HB_WIRE_PIN_NONE: cleared */
	uint64_t seq;		/* wall-clock ns of the promote; never 0 */
};

struct hb_applied {
	uint8_t member;
	uint64_t lsn;
};

/* One heartbeat from name to one receiver. Pressures are in hundredths of
   a percent (kernel "some avg10" x 100). */
struct hb_msg {
	char name[HB_WIRE_NAME_MAX + 1];
	uint64_t incarnation;	/* random per boot of the sender */
	uint64_t seq;		/* per incarnation, from 1 */
	uint64_t time_ms;	/* sender's wall clock (ms since the epoch) */
	bool degraded;		/* the sender's own health verdict */
	uint32_t probe_us;
	uint16_t pressure_io, pressure_cpu, pressure_mem;
	uint64_t free_bytes;
	/* For the receiver: the last seq the sender got from it (0: none)
	   and how long it held it before this send, for an RTT. */
	uint64_t echo_seq;
	uint32_t echo_held_us;
	char reason[HB_WIRE_REASON_MAX + 1];	/* why degraded; may be "" */
	/* version 2 */
	bool ready;		/* rejoined a majority and caught up */
	bool witness;		/* a voter with no store, never active */
	/* version 3: the sender's replicator owes the receiver a resync (a
	   new store being seeded, or records retention removed first): the
	   receiver lacks mail and is not ready until it is done */
	bool owes;
	uint64_t members_hash;	/* XXH3-64 of the sorted names, each + "\n" */
	uint64_t head;		/* last LSN of the sender's journal */
	/* the sender's durable receive cursor per other member: member
	   indices strictly increasing, never the sender's own */
	uint8_t n_applied;
	struct hb_applied applied[HB_WIRE_MEMBERS_MAX];
	struct hb_endorsement endorse;	/* for the receiver */
	/* version 3: the sender's pin table, its XXH3-64 and number of
	   entries, and at most one of its entries (round-robin) */
	uint64_t pins_hash;
	uint8_t pins_count;	/* 0..HB_WIRE_PINS_MAX */
	bool has_pin;
	struct hb_pin_def pin;
};

/* Appends msg, authenticated with key (HB_WIRE_KEY_LEN bytes), to out.
   msg->name must be 1..HB_WIRE_NAME_MAX bytes; a longer reason is cut;
   n_applied, n_prefs, each prefs[].n, n_pins (entries with strictly
   increasing hashes) and the pin definition's account (1..255 bytes) must
   be within their bounds (broken invariants abort). */
void hb_wire_encode(const struct hb_msg *msg, const unsigned char *key,
		    struct mm_buf *out);
/* Decodes one datagram. Returns 0 with *msg_r filled, MM_ERR_TRUNCATED or
   MM_ERR_TOOBIG for a bad size, MM_ERR_MAGIC / MM_ERR_VERSION for another
   protocol, MM_ERR_CHECKSUM when the HMAC does not match (a wrong key or
   a forgery), MM_ERR_FORMAT for bad fields (a member index over 63, an
   applied list not strictly increasing, a prefs entry naming p or a
   member twice, unknown flag bits, lease not 0 or 1, pin entries whose
   hashes do not strictly increase or that name no member in either view,
   more than HB_WIRE_PINS_MAX pins, a pin definition with an empty name,
   a control byte, seq 0 or a member over 63 other than 0xff). Never a
   partial result: on error *msg_r is zeroed. */
int hb_wire_decode(const unsigned char *data, size_t size, const unsigned char *key,
		   struct hb_msg *msg_r);

#endif
