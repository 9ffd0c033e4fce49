/* SPDX-License-Identifier: MIT
 * fuzz-wire.c - libFuzzer target for lib/wire.c: any stream, cut
 * anywhere, decodes or fails cleanly, and every decoded message encodes
 * back to an equal one. Starts from an empty corpus. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>
#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>
#include "wire.h"

/* The first input byte picks a mode, the second how the stream is cut. */
enum {
	MODE_STREAM,	/* the rest, fed as it is */
	MODE_SEALED,	/* the rest, with header fields and checksums fixed
			   up frame by frame so payloads get parsed */
	MODE_ENCODE,	/* the rest describes one message to encode */
	MODE_ZSTD,	/* the rest is a payload, compressed by us, maybe
			   damaged, under a raw_len that may be wrong */
	MODE_COUNT
};

#define check(expr) do { if (!(expr)) __builtin_trap(); } while (0)

static void check_bytes(const void *a, size_t alen, const void *b,
			size_t blen)
{
	check(alen == blen);
	check(alen == 0 || memcmp(a, b, alen) == 0);
}

static void check_same(const struct mm_wire_msg *a,
		       const struct mm_wire_msg *b)
{
	check(a->type == b->type);
	check(a->version == b->version);
	check(a->lsn == b->lsn);
	check(a->offset == b->offset);
	check(a->content_len == b->content_len);
	check(a->nonce == b->nonce);
	check(a->code == b->code);
	check(memcmp(a->digest, b->digest, sizeof(a->digest)) == 0);
	check_bytes(a->name, a->name_len, b->name, b->name_len);
	check_bytes(a->blob, a->blob_len, b->blob, b->blob_len);
	check_bytes(a->text, a->text_len, b->text, b->text_len);
}

/* Decodes the single frame in enc and checks it equals want. */
static void check_decodes_to(const struct mm_buf *enc, size_t cut,
			     const struct mm_wire_msg *want)
{
	struct mm_wire_decoder *d = mm_wire_decoder_new();
	struct mm_wire_msg got;
	size_t off, n;
	int ret = 0;

	for (off = 0; off < enc->len; off += n) {
		n = cut == 0 || enc->len - off < cut ? enc->len - off : cut;
		check(ret == 0);
		mm_wire_decoder_feed(d, enc->data + off, n);
		ret = mm_wire_decoder_next(d, &got);
	}
	check(ret == 1);
	check_same(&got, want);
	check(got.name == NULL || got.name[got.name_len] == '\0');
	check(got.text == NULL || got.text[got.text_len] == '\0');
	check(mm_wire_decoder_next(d, &got) == 0);
	mm_wire_decoder_free(&d);
}

/* What the decoder hands out must encode, and decode back the same. */
static void check_reencodes(const struct mm_wire_msg *m, int level)
{
	struct mm_buf enc = { 0 };

	check(mm_wire_encode(&enc, m, level) == 0);
	check_decodes_to(&enc, 0, m);
	mm_buf_free(&enc);
}

/* An INVENTORY's entries parse, or fail cleanly, and re-encode equal. */
static void check_inventory(const struct mm_wire_msg *m)
{
	struct mm_wire_inv_entry e;
	struct mm_buf again = { 0 };
	size_t pos = 0;
	int ret;

	if (m->type != MM_WIRE_INVENTORY)
		return;
	while ((ret = mm_wire_inventory_next(m->blob, m->blob_len, &pos, &e)) == 1) {
		check(pos <= m->blob_len);
		mm_wire_inventory_put(&again, &e);
	}
	check(ret == 0 || ret == MM_WIRE_ERR_MALFORMED);
	if (ret == 0)
		check_bytes(again.data, again.len, m->blob, m->blob_len);
	mm_buf_free(&again);
}

/* An ANSWER's fsck bodies (folders, entries, a fetched file) parse, or
   fail cleanly, and the lists re-encode equal. */
static void check_answer(const struct mm_wire_msg *m)
{
	struct mm_wire_qfolder f;
	struct mm_wire_qentry e;
	struct mm_wire_qretained t;
	struct mm_wire_qfile q;
	const unsigned char *content;
	struct mm_buf again = { 0 };
	size_t pos = 0;
	int ret;

	if (m->type != MM_WIRE_ANSWER && m->type != MM_WIRE_QUERY)
		return;
	while ((ret = mm_wire_qfolder_next(m->blob, m->blob_len, &pos, &f)) == 1) {
		check(pos <= m->blob_len);
		mm_wire_qfolder_put(&again, &f);
	}
	check(ret == 0 || ret == MM_WIRE_ERR_MALFORMED);
	if (ret == 0)
		check_bytes(again.data, again.len, m->blob, m->blob_len);
	mm_buf_reset(&again);
	pos = 0;
	while ((ret = mm_wire_qentry_next(m->blob, m->blob_len, &pos, &e)) == 1) {
		check(pos <= m->blob_len);
		mm_wire_qentry_put(&again, &e);
	}
	check(ret == 0 || ret == MM_WIRE_ERR_MALFORMED);
	if (ret == 0)
		check_bytes(again.data, again.len, m->blob, m->blob_len);
	mm_buf_reset(&again);
	pos = 0;
	while ((ret = mm_wire_qretained_next(m->blob, m->blob_len, &pos, &t)) == 1) {
		check(pos <= m->blob_len);
		check(memchr(t.name, '/', t.name_len) == NULL);
		mm_wire_qretained_put(&again, &t);
	}
	check(ret == 0 || ret == MM_WIRE_ERR_MALFORMED);
	if (ret == 0)
		check_bytes(again.data, again.len, m->blob, m->blob_len);
	if (mm_wire_qfile_get(m->blob, m->blob_len, &q, &content) == 0)
		check(content + q.size == m->blob + m->blob_len);
	mm_buf_free(&again);
}

static void feed_stream(const uint8_t *data, size_t size, size_t cut)
{
	struct mm_wire_decoder *d = mm_wire_decoder_new();
	struct mm_wire_msg msg;
	size_t off, n;
	int ret = 0;

	for (off = 0; off < size && ret >= 0; off += n) {
		n = cut == 0 || size - off < cut ? size - off : cut;
		mm_wire_decoder_feed(d, data + off, n);
		while ((ret = mm_wire_decoder_next(d, &msg)) == 1) {
			check_inventory(&msg);
			check_answer(&msg);
			check_reencodes(&msg, (int)(off & 1));
		}
	}
	if (ret < 0) {
		check(mm_wire_decoder_next(d, &msg) == ret);
		mm_wire_decoder_feed(d, data, size);
		check(mm_wire_decoder_next(d, &msg) == ret);
	}
	mm_wire_decoder_free(&d);
}

static void set_checksum(uint8_t *h)
{
	XXH3_state_t st;

	XXH3_64bits_reset(&st);
	XXH3_64bits_update(&st, h, 16);
	XXH3_64bits_update(&st, h + MM_WIRE_HDR_SIZE, mm_get_u32(h + 8));
	mm_set_u64(h + 16, XXH3_64bits_digest(&st));
}

/* Makes each frame in p plausible: right magic and version, lengths that
   fit the input, a raw_len the fuzzer can still steer, a good checksum. */
static void seal(uint8_t *p, size_t size)
{
	size_t off = 0;

	while (size - off >= MM_WIRE_HDR_SIZE) {
		uint8_t *h = p + off;
		size_t room = size - off - MM_WIRE_HDR_SIZE;
		uint32_t wire_len = mm_get_u32(h + 8), raw_len;

		memcpy(h, "MMWF", 4);
		h[4] = MM_WIRE_VERSION;
		h[5] = (uint8_t)(h[5] % (MM_WIRE_TYPE_LAST + 1));
		h[6] &= MM_WIRE_F_ZSTD;
		h[7] = 0;
		if (wire_len > room)
			wire_len = (uint32_t)(room > 0 ? wire_len % (room + 1) : 0);
		raw_len = wire_len;
		if (h[6] & MM_WIRE_F_ZSTD)
			raw_len = mm_get_u32(h + 12) % (4 * MM_WIRE_CHUNK_MAX);
		mm_set_u32(h + 8, wire_len);
		mm_set_u32(h + 12, raw_len);
		set_checksum(h);
		off += MM_WIRE_HDR_SIZE + wire_len;
	}
}

/* A reader that runs out into zeros. */
struct src {
	const uint8_t *p;
	size_t left;
};

static uint64_t take(struct src *s, size_t n)
{
	uint64_t v = 0;

	for (size_t i = 0; i < n && s->left > 0; i++, s->left--)
		v |= (uint64_t)*s->p++ << (8 * i);
	return v;
}

static const void *take_bytes(struct src *s, size_t *len)
{
	const void *p = s->p;

	if (*len > s->left)
		*len = s->left;
	s->p += *len;
	s->left -= *len;
	return p;
}

static void encode_one(const uint8_t *data, size_t size, size_t cut)
{
	struct src s = { data, size };
	struct mm_wire_msg m = { 0 };
	struct mm_buf enc = { 0 };
	int level, ret;
	size_t len;
	const void *p;

	m.type = (enum mm_wire_type)(take(&s, 1) % (MM_WIRE_TYPE_LAST + 2));
	level = (int)(take(&s, 1) % 5) - 1;
	m.version = (uint16_t)take(&s, 2);
	m.lsn = take(&s, 8);
	m.offset = take(&s, 8);
	m.content_len = take(&s, 8);
	m.nonce = take(&s, 8);
	m.code = (uint32_t)take(&s, 4);
	len = (size_t)take(&s, 2);
	p = take_bytes(&s, &len);
	/* the fields a type does not carry stay 0, as decode leaves them */
	switch (m.type) {
	case MM_WIRE_HELLO:
	case MM_WIRE_WELCOME:
		m.name = p;
		m.name_len = len;
		break;
	case MM_WIRE_RECORD:
	case MM_WIRE_DATA:
		m.blob = p;
		m.blob_len = len;
		break;
	case MM_WIRE_ERROR:
	case MM_WIRE_DIGEST:
	case MM_WIRE_RESYNCED:
	case MM_WIRE_REFUSED:
		m.text = p;
		m.text_len = len;
		if (m.type == MM_WIRE_DIGEST)
			memcpy(m.digest, &m.lsn, 8);
		break;
	case MM_WIRE_INVENTORY:
		m.text = p;
		m.text_len = len > 16 ? 16 : len;
		m.blob = p;
		m.blob_len = len;
		break;
	default:
		break;
	}
	if (m.type != MM_WIRE_HELLO && m.type != MM_WIRE_WELCOME)
		m.version = 0;
	if (m.type != MM_WIRE_WELCOME && m.type != MM_WIRE_RECORD &&
	    m.type != MM_WIRE_DATA && m.type != MM_WIRE_ACK && m.type != MM_WIRE_REFUSED)
		m.lsn = 0;
	if (m.type != MM_WIRE_DATA)
		m.offset = 0;
	if (m.type != MM_WIRE_RECORD && m.type != MM_WIRE_DIGEST &&
	    m.type != MM_WIRE_RESYNCED)
		m.content_len = 0;
	if (m.type != MM_WIRE_PING && m.type != MM_WIRE_PONG)
		m.nonce = 0;
	if (m.type != MM_WIRE_ERROR && m.type != MM_WIRE_INVENTORY &&
	    m.type != MM_WIRE_RESYNCED && m.type != MM_WIRE_REFUSED)
		m.code = 0;
	if (m.type == MM_WIRE_INVENTORY)
		m.code %= 4;	/* 3 is refused */
	if (m.type == MM_WIRE_REFUSED)
		m.code %= 3;	/* 0 and 2 are refused, as is LSN 0 */

	mm_buf_puts(&enc, "x");
	ret = mm_wire_encode(&enc, &m, level);
	if (ret < 0) {
		check(enc.len == 1);
	} else {
		struct mm_buf frame = { 0 };

		check(ret == 0);
		mm_buf_append(&frame, enc.data + 1, enc.len - 1);
		check_decodes_to(&frame, cut, &m);
		mm_buf_free(&frame);
	}
	mm_buf_free(&enc);
}

static void zstd_one(const uint8_t *data, size_t size, size_t cut)
{
	struct src s = { data, size };
	uint8_t type = (uint8_t)take(&s, 1), how = (uint8_t)take(&s, 1);
	int8_t delta = (int8_t)take(&s, 1);
	uint16_t damage = (uint16_t)take(&s, 2);
	size_t cap = ZSTD_compressBound(s.left), n, raw_len;
	ZSTD_CCtx *cctx = ZSTD_createCCtx();
	struct mm_buf frame = { 0 };
	uint8_t *h;

	mm_buf_reserve(&frame, MM_WIRE_HDR_SIZE + cap);
	h = frame.data;
	ZSTD_CCtx_setParameter(cctx, ZSTD_c_contentSizeFlag, how & 1);
	ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, (how >> 1) & 1);
	n = ZSTD_compress2(cctx, h + MM_WIRE_HDR_SIZE, cap, s.p, s.left);
	ZSTD_freeCCtx(cctx);
	check(!ZSTD_isError(n));
	if ((how & 4) != 0)
		h[MM_WIRE_HDR_SIZE + damage % n] ^= (uint8_t)((damage >> 8) | 1);
	raw_len = s.left;
	if ((how & 8) != 0)
		raw_len = delta < 0 && (size_t)-delta > raw_len ? 0 :
			  (size_t)((long)raw_len + delta);
	memcpy(h, "MMWF", 4);
	h[4] = MM_WIRE_VERSION;
	h[5] = (uint8_t)(type % (MM_WIRE_TYPE_LAST + 1));
	h[6] = MM_WIRE_F_ZSTD;
	h[7] = 0;
	mm_set_u32(h + 8, (uint32_t)n);
	mm_set_u32(h + 12, (uint32_t)raw_len);
	set_checksum(h);
	frame.len = MM_WIRE_HDR_SIZE + n;
	feed_stream(frame.data, frame.len, cut);
	mm_buf_free(&frame);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *copy;
	size_t cut;
	int mode;

	if (size < 2)
		return 0;
	mode = data[0] % MODE_COUNT;
	cut = data[1] % 64;	/* 0: all at once */
	data += 2;
	size -= 2;
	switch (mode) {
	case MODE_STREAM:
		feed_stream(data, size, cut);
		break;
	case MODE_SEALED:
		copy = malloc(size > 0 ? size : 1);
		memcpy(copy, data, size);
		seal(copy, size);
		feed_stream(copy, size, cut);
		free(copy);
		break;
	case MODE_ENCODE:
		encode_one(data, size, cut);
		break;
	case MODE_ZSTD:
		zstd_one(data, size, cut);
		break;
	}
	return 0;
}
