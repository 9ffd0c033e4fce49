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

static const unsigned char hb_magic[4] = { 'M', 'M', 'H', 'B' };

static void mac(const unsigned char *key, const unsigned char *data, size_t size,
		unsigned char out[HB_WIRE_MAC_LEN])
{
	unsigned int len = HB_WIRE_MAC_LEN;

	HMAC(EVP_sha256(), key, HB_WIRE_KEY_LEN, data, size, out, &len);
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
	mm_buf_put_u8(out, msg->degraded ? 1 : 0);
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
	if (r.p != r.end || (flags & ~1u) != 0 || msg.seq == 0 ||
	    msg.pressure_io > 10000 || msg.pressure_cpu > 10000 || msg.pressure_mem > 10000)
		return MM_ERR_FORMAT;
	msg.degraded = (flags & 1) != 0;
	*msg_r = msg;
	return 0;
}
