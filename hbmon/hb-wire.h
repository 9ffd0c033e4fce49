/* SPDX-License-Identifier: MIT
 * hb-wire.h - the heartbeat datagram: encoding, decoding and its HMAC.
 * Pure: no sockets, no clocks; the daemon (hb-net.c) sends and receives. */
#ifndef HB_WIRE_H
#define HB_WIRE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mm_buf;

#define HB_WIRE_VERSION 1
#define HB_WIRE_NAME_MAX 63	/* as a [peer] name */
#define HB_WIRE_REASON_MAX 120
#define HB_WIRE_MAC_LEN 32	/* HMAC-SHA256 */
#define HB_WIRE_KEY_LEN 32
#define HB_WIRE_MIN 94		/* with an empty name and reason */
#define HB_WIRE_MAX 1024	/* anything longer is refused unread */

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
};

/* Appends msg, authenticated with key (HB_WIRE_KEY_LEN bytes), to out.
   msg->name must be 1..HB_WIRE_NAME_MAX bytes; a longer reason is cut. */
void hb_wire_encode(const struct hb_msg *msg, const unsigned char *key,
		    struct mm_buf *out);
/* Decodes one datagram. Returns 0 with *msg_r filled, MM_ERR_TRUNCATED or
   MM_ERR_TOOBIG for a bad size, MM_ERR_MAGIC / MM_ERR_VERSION for another
   protocol, MM_ERR_CHECKSUM when the HMAC does not match (a wrong key or
   a forgery), MM_ERR_FORMAT for bad fields. Never a partial result: on
   error *msg_r is zeroed. */
int hb_wire_decode(const unsigned char *data, size_t size, const unsigned char *key,
		   struct hb_msg *msg_r);

#endif
