/* SPDX-License-Identifier: MIT
 * hb-wire.c - the heartbeat datagram (docs/hbmon.md, "Heartbeat format"):
 * little-endian fields, then HMAC-SHA256 of everything before it. */
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include "buf.h"
#include "hb-wire.h"
#include "journal.h"
#include "log.h"

static const unsigned char hb_magic[4] = { 'M', 'M', 'H', 'B' };

static void mac(const unsigned char *key, const unsigned char *data, size_t size,
		unsigned char out[HB_WIRE_MAC_LEN])
{
	unsigned int len = HB_WIRE_MAC_LEN;

	HMAC(EVP_sha256(), key, HB_WIRE_KEY_LEN, data, size, out, &len);
}

static void encode_v2(const struct hb_msg *msg, struct mm_buf *out)
{
	const struct hb_endorsement *e = &msg->endorse;

	mm_assert(msg->n_applied < HB_WIRE_MEMBERS_MAX && e->n_prefs <= HB_WIRE_PREFS_MAX);
	mm_buf_put_u64(out, msg->members_hash);
	mm_buf_put_u64(out, msg->head);
	mm_buf_put_u8(out, msg->n_applied);
	for (size_t i = 0; i < msg->n_applied; i++) {
		mm_buf_put_u8(out, msg->applied[i].member);
		mm_buf_put_u64(out, msg->applied[i].lsn);
	}
	mm_buf_put_u8(out, e->lease ? 1 : 0);
	mm_buf_put_u64(out, e->view_id);
	mm_buf_put_u64(out, e->excl);
	mm_buf_put_u64(out, e->prev_excl);
	mm_buf_put_u8(out, e->n_prefs);
	for (size_t i = 0; i < e->n_prefs; i++) {
		mm_assert(e->prefs[i].n < HB_WIRE_MEMBERS_MAX);
		mm_buf_put_u8(out, e->prefs[i].member);
		mm_buf_put_u8(out, e->prefs[i].n);
		mm_buf_append(out, e->prefs[i].order, e->prefs[i].n);
	}
}

/* The version 3 fields: pins in the endorsement, then the pin gossip. */
static void encode_v3(const struct hb_msg *msg, struct mm_buf *out)
{
	const struct hb_endorsement *e = &msg->endorse;

	mm_assert(e->n_pins <= HB_WIRE_PINS_MAX && msg->pins_count <= HB_WIRE_PINS_MAX);
	mm_buf_put_u8(out, e->n_pins);
	for (size_t i = 0; i < e->n_pins; i++) {
		mm_assert(i == 0 || e->pins[i].hash > e->pins[i - 1].hash);
		mm_buf_put_u64(out, e->pins[i].hash);
		mm_buf_put_u8(out, e->pins[i].cur);
		mm_buf_put_u8(out, e->pins[i].prev);
	}
	mm_buf_put_u64(out, msg->pins_hash);
	mm_buf_put_u8(out, msg->pins_count);
	mm_buf_put_u8(out, msg->has_pin ? 1 : 0);
	if (msg->has_pin) {
		size_t n = strlen(msg->pin.account);

		mm_assert(n >= 1 && n <= HB_WIRE_ACCOUNT_MAX);
		mm_buf_put_u8(out, (uint8_t)n);
		mm_buf_append(out, msg->pin.account, n);
		mm_buf_put_u8(out, msg->pin.member);
		mm_buf_put_u64(out, msg->pin.seq);
	}
	mm_buf_put_u64(out, e->prefs_moving);
}

void hb_wire_encode(const struct hb_msg *msg, const unsigned char *key,
		    struct mm_buf *out)
{
	size_t start = out->len, nlen = strlen(msg->name), rlen = strlen(msg->reason);
	unsigned char m[HB_WIRE_MAC_LEN];

	if (nlen > HB_WIRE_NAME_MAX)
		nlen = HB_WIRE_NAME_MAX;
	if (rlen > HB_WIRE_REASON_MAX)
		rlen = HB_WIRE_REASON_MAX;
	mm_buf_append(out, hb_magic, sizeof(hb_magic));
	mm_buf_put_u8(out, HB_WIRE_VERSION);
	mm_buf_put_u8(out, (msg->degraded ? 1 : 0) | (msg->ready ? 2 : 0) |
		      (msg->witness ? 4 : 0) | (msg->owes ? 8 : 0));
	mm_buf_put_u8(out, (uint8_t)nlen);
	mm_buf_append(out, msg->name, nlen);
	mm_buf_put_u64(out, msg->incarnation);
	mm_buf_put_u64(out, msg->seq);
	mm_buf_put_u64(out, msg->time_ms);
	mm_buf_put_u32(out, msg->probe_us);
	mm_buf_put_u16(out, msg->pressure_io);
	mm_buf_put_u16(out, msg->pressure_cpu);
	mm_buf_put_u16(out, msg->pressure_mem);
	mm_buf_put_u64(out, msg->free_bytes);
	mm_buf_put_u64(out, msg->echo_seq);
	mm_buf_put_u32(out, msg->echo_held_us);
	mm_buf_put_u8(out, (uint8_t)rlen);
	mm_buf_append(out, msg->reason, rlen);
	encode_v2(msg, out);
	encode_v3(msg, out);
	mac(key, out->data + start, out->len - start, m);
	mm_buf_append(out, m, sizeof(m));
}

static bool printable(const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] < 0x20 || p[i] == 0x7f)
			return false;
	return true;
}

/* The version 2 fields: 0, or -1 when they are cut short or out of range. */
static int decode_v2(struct mm_rbuf *r, struct hb_msg *msg)
{
	struct hb_endorsement *e = &msg->endorse;
	const unsigned char *p;
	uint8_t lease;

	mm_rbuf_u64(r, &msg->members_hash);
	mm_rbuf_u64(r, &msg->head);
	if (!mm_rbuf_u8(r, &msg->n_applied) || msg->n_applied >= HB_WIRE_MEMBERS_MAX)
		return -1;
	for (size_t i = 0; i < msg->n_applied; i++) {
		mm_rbuf_u8(r, &msg->applied[i].member);
		if (!mm_rbuf_u64(r, &msg->applied[i].lsn) ||
		    msg->applied[i].member >= HB_WIRE_MEMBERS_MAX ||
		    (i > 0 && msg->applied[i].member <= msg->applied[i - 1].member))
			return -1;
	}
	mm_rbuf_u8(r, &lease);
	mm_rbuf_u64(r, &e->view_id);
	mm_rbuf_u64(r, &e->excl);
	mm_rbuf_u64(r, &e->prev_excl);
	if (!mm_rbuf_u8(r, &e->n_prefs) || lease > 1 || e->n_prefs > HB_WIRE_PREFS_MAX)
		return -1;
	e->lease = lease == 1;
	for (size_t i = 0; i < e->n_prefs; i++) {
		struct hb_pref *pf = &e->prefs[i];
		uint64_t seen;

		if (!mm_rbuf_u8(r, &pf->member) || !mm_rbuf_u8(r, &pf->n) ||
		    pf->member >= HB_WIRE_MEMBERS_MAX || pf->n >= HB_WIRE_MEMBERS_MAX ||
		    !mm_rbuf_bytes(r, pf->n, &p))
			return -1;
		for (size_t j = 0; j < i; j++)
			if (e->prefs[j].member == pf->member)
				return -1;
		seen = 1ULL << pf->member;
		for (size_t j = 0; j < pf->n; j++) {
			if (p[j] >= HB_WIRE_MEMBERS_MAX || (seen & (1ULL << p[j])) != 0)
				return -1;
			seen |= 1ULL << p[j];
		}
		memcpy(pf->order, p, pf->n);
	}
	return r->bad ? -1 : 0;
}

static bool member_or_none(uint8_t m)
{
	return m < HB_WIRE_MEMBERS_MAX || m == HB_WIRE_PIN_NONE;
}

/* The version 3 fields: 0, or -1 when they are cut short or out of range. */
static int decode_v3(struct mm_rbuf *r, struct hb_msg *msg)
{
	struct hb_endorsement *e = &msg->endorse;
	const unsigned char *p;
	uint8_t has, len;

	if (!mm_rbuf_u8(r, &e->n_pins) || e->n_pins > HB_WIRE_PINS_MAX)
		return -1;
	for (size_t i = 0; i < e->n_pins; i++) {
		struct hb_pin_entry *pe = &e->pins[i];

		mm_rbuf_u64(r, &pe->hash);
		mm_rbuf_u8(r, &pe->cur);
		if (!mm_rbuf_u8(r, &pe->prev) || !member_or_none(pe->cur) ||
		    !member_or_none(pe->prev) ||
		    (pe->cur == HB_WIRE_PIN_NONE && pe->prev == HB_WIRE_PIN_NONE) ||
		    (i > 0 && pe->hash <= e->pins[i - 1].hash))
			return -1;
	}
	mm_rbuf_u64(r, &msg->pins_hash);
	mm_rbuf_u8(r, &msg->pins_count);
	if (!mm_rbuf_u8(r, &has) || msg->pins_count > HB_WIRE_PINS_MAX || has > 1)
		return -1;
	msg->has_pin = has == 1;
	if (msg->has_pin) {
		if (!mm_rbuf_u8(r, &len) || len == 0 || !mm_rbuf_bytes(r, len, &p) ||
		    !printable(p, len))
			return -1;
		memcpy(msg->pin.account, p, len);
		mm_rbuf_u8(r, &msg->pin.member);
		if (!mm_rbuf_u64(r, &msg->pin.seq) || !member_or_none(msg->pin.member) ||
		    msg->pin.seq == 0)
			return -1;
	}
	if (!mm_rbuf_u64(r, &e->prefs_moving))
		return -1;
	return 0;
}

int hb_wire_decode(const unsigned char *data, size_t size, const unsigned char *key,
		   struct hb_msg *msg_r)
{
	struct mm_rbuf r;
	struct hb_msg msg;
	unsigned char m[HB_WIRE_MAC_LEN];
	const unsigned char *p;
	uint8_t version, flags, nlen, rlen;

	memset(msg_r, 0, sizeof(*msg_r));
	if (size < HB_WIRE_MIN)
		return MM_ERR_TRUNCATED;
	if (size > HB_WIRE_MAX)
		return MM_ERR_TOOBIG;
	if (memcmp(data, hb_magic, sizeof(hb_magic)) != 0)
		return MM_ERR_MAGIC;
	if (data[4] != HB_WIRE_VERSION)
		return MM_ERR_VERSION;
	/* authenticate before parsing anything an attacker chose */
	mac(key, data, size - HB_WIRE_MAC_LEN, m);
	if (CRYPTO_memcmp(m, data + size - HB_WIRE_MAC_LEN, HB_WIRE_MAC_LEN) != 0)
		return MM_ERR_CHECKSUM;

	memset(&msg, 0, sizeof(msg));
	r.p = data + sizeof(hb_magic);
	r.end = data + size - HB_WIRE_MAC_LEN;
	r.bad = false;
	mm_rbuf_u8(&r, &version);
	mm_rbuf_u8(&r, &flags);
	mm_rbuf_u8(&r, &nlen);
	if (nlen == 0 || nlen > HB_WIRE_NAME_MAX || !mm_rbuf_bytes(&r, nlen, &p) ||
	    !printable(p, nlen) || memchr(p, '\0', nlen) != NULL)
		return MM_ERR_FORMAT;
	memcpy(msg.name, p, nlen);
	mm_rbuf_u64(&r, &msg.incarnation);
	mm_rbuf_u64(&r, &msg.seq);
	mm_rbuf_u64(&r, &msg.time_ms);
	mm_rbuf_u32(&r, &msg.probe_us);
	mm_rbuf_u16(&r, &msg.pressure_io);
	mm_rbuf_u16(&r, &msg.pressure_cpu);
	mm_rbuf_u16(&r, &msg.pressure_mem);
	mm_rbuf_u64(&r, &msg.free_bytes);
	mm_rbuf_u64(&r, &msg.echo_seq);
	mm_rbuf_u32(&r, &msg.echo_held_us);
	mm_rbuf_u8(&r, &rlen);
	if (r.bad || rlen > HB_WIRE_REASON_MAX || !mm_rbuf_bytes(&r, rlen, &p) ||
	    !printable(p, rlen))
		return MM_ERR_FORMAT;
	memcpy(msg.reason, p, rlen);
	if (decode_v2(&r, &msg) < 0 || decode_v3(&r, &msg) < 0)
		return MM_ERR_FORMAT;
	if (r.p != r.end || (flags & ~15u) != 0 || msg.seq == 0 ||
	    msg.pressure_io > 10000 || msg.pressure_cpu > 10000 || msg.pressure_mem > 10000)
		return MM_ERR_FORMAT;
	msg.degraded = (flags & 1) != 0;
	msg.ready = (flags & 2) != 0;
	msg.witness = (flags & 4) != 0;
	msg.owes = (flags & 8) != 0;
	*msg_r = msg;
	return 0;
}
