/* SPDX-License-Identifier: MIT
 * test-wire.c - replication frames: round trips, streaming cuts,
 * corruption, limits and hand-built hostile frames. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>
#include <xxhash.h>
#include "journal.h"
#include "wire.h"

static struct mm_buf buf;
static struct mm_wire_decoder *dec;

static void setup(void)
{
	memset(&buf, 0, sizeof(buf));
	dec = mm_wire_decoder_new();
}

static void teardown(void)
{
	mm_buf_free(&buf);
	mm_wire_decoder_free(&dec);
}

TestSuite(wire, .init = setup, .fini = teardown);

static char name255[MM_WIRE_NAME_MAX + 2];
static char text1024[MM_WIRE_TEXT_MAX + 2];
static unsigned char chunk[MM_WIRE_CHUNK_MAX + 1];	/* compressible */
static const unsigned char small_blob[] = "\x01\x00\xffrecord\0bytes";

static void fill_text(void *p, size_t len)
{
	static const char line[] = "Received: from mx.example.org by node-a; ";
	char *s = p;

	for (size_t i = 0; i < len; i++)
		s[i] = line[i % (sizeof(line) - 1)];
}

/* Every field of type t set to something distinctive; big makes the
   strings and blobs long and compressible. */
static void sample(enum mm_wire_type t, bool big, struct mm_wire_msg *m)
{
	fill_text(name255, MM_WIRE_NAME_MAX);
	fill_text(text1024, MM_WIRE_TEXT_MAX);
	fill_text(chunk, sizeof(chunk));
	memset(m, 0, sizeof(*m));
	m->type = t;
	switch (t) {
	case MM_WIRE_HELLO:
	case MM_WIRE_WELCOME:
		m->version = 0xa55a;
		m->name = big ? name255 : "node-b";
		m->name_len = big ? MM_WIRE_NAME_MAX : 6;
		if (t == MM_WIRE_WELCOME)
			m->lsn = 0x0102030405060708ULL;
		break;
	case MM_WIRE_RECORD:
		m->lsn = UINT64_MAX - 1;
		m->blob = big ? chunk : small_blob;
		m->blob_len = big ? 65536 : sizeof(small_blob);
		m->content_len = 0xfedcba9876543210ULL;
		break;
	case MM_WIRE_DATA:
		m->lsn = 42;
		m->offset = 0x8000000000000001ULL;
		m->blob = big ? chunk : small_blob;
		m->blob_len = big ? MM_WIRE_CHUNK_MAX : 1;
		break;
	case MM_WIRE_ACK:
		m->lsn = 0x1122334455667788ULL;
		break;
	case MM_WIRE_PING:
	case MM_WIRE_PONG:
		m->nonce = 0x8877665544332211ULL ^ t;
		break;
	case MM_WIRE_ERROR:
		m->code = 0xdeadbeefU;
		m->text = big ? text1024 : "lsn gap";
		m->text_len = big ? MM_WIRE_TEXT_MAX : 7;
		break;
	case MM_WIRE_DIGEST:
		m->content_len = 0x0102030405060708ULL;
		memset(m->digest, 0xa5, sizeof(m->digest));
		m->digest[15] = 0x01;
		m->text = big ? text1024 : "Maildir/.Sent";
		m->text_len = big ? MM_WIRE_TEXT_MAX : 13;
		break;
	case MM_WIRE_INVENTORY:
		m->code = MM_WIRE_INV_ALL;
		m->text = big ? text1024 : "Maildir";
		m->text_len = big ? MM_WIRE_TEXT_MAX : 7;
		m->blob = big ? chunk : small_blob;
		m->blob_len = big ? 65536 : sizeof(small_blob);
		break;
	case MM_WIRE_RESYNCED:
		m->code = 1;
		m->content_len = 123456789;
		m->text = big ? text1024 : "example.org/alice";
		m->text_len = big ? MM_WIRE_TEXT_MAX : 17;
		break;
	case MM_WIRE_QUERY:
	case MM_WIRE_ANSWER:
		m->code = t == MM_WIRE_QUERY ? MM_WIRE_Q_FETCH : MM_WIRE_A_FAILED;
		m->text = big ? text1024 : "example.org/alice";
		m->text_len = big ? MM_WIRE_TEXT_MAX : 17;
		m->blob = big ? chunk : small_blob;
		m->blob_len = big ? 65536 : sizeof(small_blob);
		break;
	case MM_WIRE_REFUSED:
		m->lsn = 0x0807060504030201ULL;
		m->code = MM_WIRE_REFUSED_STALE;
		m->text = big ? text1024 : "stale epoch";
		m->text_len = big ? MM_WIRE_TEXT_MAX : 11;
		break;
	default:
		break;
	}
}

static void expect_bytes(const void *a, size_t alen, const void *b, size_t blen)
{
	cr_expect_eq(alen, blen);
	if (alen == blen && alen > 0)
		cr_expect(memcmp(a, b, alen) == 0);
}

/* got was decoded from want: every field equal, unused ones zero,
   strings NUL-terminated. */
static void expect_same(const struct mm_wire_msg *got,
			const struct mm_wire_msg *want)
{
	cr_expect_eq(got->type, want->type);
	cr_expect_eq(got->version, want->version);
	cr_expect_eq(got->lsn, want->lsn);
	cr_expect_eq(got->offset, want->offset);
	cr_expect_eq(got->content_len, want->content_len);
	cr_expect_eq(got->nonce, want->nonce);
	cr_expect_eq(got->code, want->code);
	cr_expect(memcmp(got->digest, want->digest, sizeof(got->digest)) == 0);
	expect_bytes(got->name, got->name_len, want->name, want->name_len);
	expect_bytes(got->blob, got->blob_len, want->blob, want->blob_len);
	expect_bytes(got->text, got->text_len, want->text, want->text_len);
	if (want->type == MM_WIRE_HELLO || want->type == MM_WIRE_WELCOME) {
		cr_assert_not_null(got->name);
		cr_expect_eq(got->name[got->name_len], '\0');
	} else {
		cr_expect_null(got->name);
	}
	if (want->type == MM_WIRE_ERROR || want->type >= MM_WIRE_DIGEST) {
		cr_assert_not_null(got->text);
		cr_expect_eq(got->text[got->text_len], '\0');
	} else {
		cr_expect_null(got->text);
	}
	if (want->type != MM_WIRE_RECORD && want->type != MM_WIRE_DATA &&
	    want->type != MM_WIRE_INVENTORY && want->type != MM_WIRE_QUERY &&
	    want->type != MM_WIRE_ANSWER)
		cr_expect_null(got->blob);
}

/* Appends a frame built by hand around a wire payload, with a correct
   checksum unless the caller edits the header afterwards. */
static void put_frame(struct mm_buf *b, uint8_t type, uint8_t flags,
		      uint8_t reserved, const void *payload, size_t wire_len,
		      size_t raw_len)
{
	unsigned char h[MM_WIRE_HDR_SIZE] = { 'M', 'M', 'W', 'F',
					      MM_WIRE_VERSION, type, flags,
					      reserved };
	XXH3_state_t *st = XXH3_createState();

	mm_set_u32(h + 8, (uint32_t)wire_len);
	mm_set_u32(h + 12, (uint32_t)raw_len);
	XXH3_64bits_reset(st);
	XXH3_64bits_update(st, h, 16);
	XXH3_64bits_update(st, payload, wire_len);
	mm_set_u64(h + 16, XXH3_64bits_digest(st));
	XXH3_freeState(st);
	mm_buf_append(b, h, sizeof(h));
	mm_buf_append(b, payload, wire_len);
}

static void put_raw_frame(struct mm_buf *b, uint8_t type,
			  const struct mm_buf *payload)
{
	put_frame(b, type, 0, 0, payload->data, payload->len, payload->len);
}

/* Feeds all of buf to a fresh decoder and returns next()'s answer. */
static int decode_buf(struct mm_wire_msg *m)
{
	mm_wire_decoder_free(&dec);
	dec = mm_wire_decoder_new();
	mm_wire_decoder_feed(dec, buf.data, buf.len);
	return mm_wire_decoder_next(dec, m);
}

static void round_trip_all(bool big, int level)
{
	for (int t = MM_WIRE_HELLO; t <= MM_WIRE_TYPE_LAST; t++) {
		struct mm_wire_msg in, out;
		size_t raw_len;

		sample((enum mm_wire_type)t, big, &in);
		mm_buf_reset(&buf);
		cr_assert_eq(mm_wire_encode(&buf, &in, level), 0, "%s",
			     mm_wire_type_str(in.type));
		cr_expect(memcmp(buf.data, "MMWF", 4) == 0);
		cr_expect_eq(buf.data[4], MM_WIRE_VERSION);
		cr_expect_eq(buf.data[5], t);
		cr_expect_eq(buf.data[7], 0);
		cr_expect_eq(mm_get_u32(buf.data + 8), buf.len - MM_WIRE_HDR_SIZE);
		raw_len = mm_get_u32(buf.data + 12);
		if (level == 0 || raw_len < 64)
			cr_expect_eq(buf.data[6], 0, "%s", mm_wire_type_str(t));
		else if (big)
			cr_expect_eq(buf.data[6], MM_WIRE_F_ZSTD, "%s",
				     mm_wire_type_str(t));
		if (buf.data[6] == 0)
			cr_expect_eq(raw_len, buf.len - MM_WIRE_HDR_SIZE);
		else
			cr_expect_lt(buf.len - MM_WIRE_HDR_SIZE, raw_len);
		cr_assert_eq(decode_buf(&out), 1, "%s", mm_wire_type_str(t));
		expect_same(&out, &in);
		cr_expect_eq(mm_wire_decoder_next(dec, &out), 0);
	}
}

Test(wire, round_trip_every_type_raw)
{
	round_trip_all(false, 0);
	round_trip_all(true, 0);
}

Test(wire, round_trip_every_type_compressed)
{
	round_trip_all(true, 3);
	round_trip_all(false, 3);
	round_trip_all(true, -5);	/* zstd's fast levels */
	round_trip_all(true, 19);
}

Test(wire, incompressible_payload_goes_raw)
{
	struct mm_wire_msg in, out;
	unsigned char *noise = malloc(4096);
	uint32_t x = 2463534242U;

	for (size_t i = 0; i < 4096; i++) {
		x ^= x << 13; x ^= x >> 17; x ^= x << 5;	/* xorshift32 */
		noise[i] = (unsigned char)x;
	}
	sample(MM_WIRE_DATA, false, &in);
	in.blob = noise;
	in.blob_len = 4096;
	cr_assert_eq(mm_wire_encode(&buf, &in, 3), 0);
	cr_expect_eq(buf.data[6], 0);
	cr_expect_eq(buf.len, MM_WIRE_HDR_SIZE + 8 + 8 + 4 + 4096);
	cr_assert_eq(decode_buf(&out), 1);
	expect_same(&out, &in);
	free(noise);
}

Test(wire, encode_appends)
{
	struct mm_wire_msg in, out;

	mm_buf_puts(&buf, "prefix");
	sample(MM_WIRE_ERROR, true, &in);
	cr_assert_eq(mm_wire_encode(&buf, &in, 3), 0);
	cr_expect(memcmp(buf.data, "prefixMMWF", 10) == 0);
	mm_wire_decoder_feed(dec, buf.data + 6, buf.len - 6);
	cr_assert_eq(mm_wire_decoder_next(dec, &out), 1);
	expect_same(&out, &in);
}

/* A journal record travels as an opaque blob and decodes at the far end. */
Test(wire, journal_record_travels_intact)
{
	struct mm_journal_rec rec = { .lsn = 77, .op = MM_OP_DELIVER,
				      .account = "example.org/alice",
				      .folder = "", .name = "1.M2P3.h" };
	struct mm_journal_rec got;
	struct mm_buf jr = { 0 };
	struct mm_wire_msg in = { .type = MM_WIRE_RECORD, .lsn = 77,
				  .content_len = 5 }, out;
	size_t used;

	cr_assert_eq(mm_journal_encode(&rec, &jr), 0);
	in.blob = jr.data;
	in.blob_len = jr.len;
	cr_assert_eq(mm_wire_encode(&buf, &in, 3), 0);
	cr_assert_eq(decode_buf(&out), 1);
	expect_same(&out, &in);
	cr_assert_eq(mm_journal_decode(out.blob, out.blob_len, &got, &used), 0);
	cr_expect_eq(used, out.blob_len);
	cr_expect_eq(got.lsn, 77);
	cr_expect_str_eq(got.account, "example.org/alice");
	mm_buf_free(&jr);
}

Test(wire, largest_record_round_trips)
{
	unsigned char *rec = malloc(MM_JOURNAL_REC_MAX);
	struct mm_wire_msg in = { .type = MM_WIRE_RECORD, .lsn = 1 }, out;

	fill_text(rec, MM_JOURNAL_REC_MAX);
	in.blob = rec;
	in.blob_len = MM_JOURNAL_REC_MAX;
	for (int level = 0; level <= 1; level++) {
		mm_buf_reset(&buf);
		cr_assert_eq(mm_wire_encode(&buf, &in, level), 0);
		cr_expect_eq(buf.data[6], level == 0 ? 0 : MM_WIRE_F_ZSTD);
		/* fed in 64 KiB reads, as from a socket */
		mm_wire_decoder_free(&dec);
		dec = mm_wire_decoder_new();
		for (size_t off = 0; off < buf.len; off += 65536) {
			size_t n = buf.len - off < 65536 ? buf.len - off : 65536;

			cr_assert_eq(mm_wire_decoder_next(dec, &out), 0);
			mm_wire_decoder_feed(dec, buf.data + off, n);
		}
		cr_assert_eq(mm_wire_decoder_next(dec, &out), 1);
		expect_same(&out, &in);
	}
	free(rec);
}

/* All sample messages, raw and compressed, back to back in buf. */
static size_t encode_stream(struct mm_wire_msg *msgs, size_t *ends)
{
	size_t n = 0;

	for (int big = 0; big <= 1; big++)
		for (int t = MM_WIRE_HELLO; t <= MM_WIRE_TYPE_LAST; t++) {
			sample((enum mm_wire_type)t, big, &msgs[n]);
			cr_assert_eq(mm_wire_encode(&buf, &msgs[n],
						    big ? 3 : 0), 0);
			ends[n++] = buf.len;
		}
	return n;
}

Test(wire, byte_at_a_time)
{
	struct mm_wire_msg msgs[2 * MM_WIRE_TYPE_LAST], out;
	size_t ends[2 * MM_WIRE_TYPE_LAST], n, k = 0;

	n = encode_stream(msgs, ends);
	cr_assert_eq(mm_wire_decoder_next(dec, &out), 0);
	for (size_t i = 0; i < buf.len; i++) {
		mm_wire_decoder_feed(dec, buf.data + i, 1);
		if (i + 1 < ends[k]) {
			cr_assert_eq(mm_wire_decoder_next(dec, &out), 0,
				     "byte %zu of frame %zu", i, k);
			continue;
		}
		cr_assert_eq(mm_wire_decoder_next(dec, &out), 1, "frame %zu", k);
		expect_same(&out, &msgs[k]);
		cr_assert_eq(mm_wire_decoder_next(dec, &out), 0);
		k++;
	}
	cr_expect_eq(k, n);
}

/* A raw 1 MiB frame a byte at a time: the buffering must stay linear
   (quadratic copying would take minutes here). */
Test(wire, big_frame_byte_at_a_time, .timeout = 20)
{
	struct mm_wire_msg in, out;

	sample(MM_WIRE_DATA, true, &in);
	cr_assert_eq(mm_wire_encode(&buf, &in, 0), 0);
	cr_assert_gt(buf.len, MM_WIRE_CHUNK_MAX);
	for (size_t i = 0; i + 1 < buf.len; i++) {
		mm_wire_decoder_feed(dec, buf.data + i, 1);
		if (mm_wire_decoder_next(dec, &out) != 0)
			cr_assert_fail("byte %zu: frame ended early", i);
	}
	mm_wire_decoder_feed(dec, buf.data + buf.len - 1, 1);
	cr_assert_eq(mm_wire_decoder_next(dec, &out), 1);
	expect_same(&out, &in);
}

/* Pieces of pseudo-random size, some cutting frames, some holding many. */
Test(wire, random_cuts)
{
	struct mm_wire_msg msgs[2 * MM_WIRE_TYPE_LAST], out;
	size_t ends[2 * MM_WIRE_TYPE_LAST], n, k, off;
	uint32_t x = 1;
	int ret;

	n = encode_stream(msgs, ends);
	for (int round = 0; round < 20; round++) {
		mm_wire_decoder_free(&dec);
		dec = mm_wire_decoder_new();
		k = 0;
		for (off = 0; off < buf.len; ) {
			size_t piece;

			x = x * 1103515245U + 12345U;
			piece = (x >> 8) % (round < 10 ? 64 : 300000) + 1;
			if (piece > buf.len - off)
				piece = buf.len - off;
			mm_wire_decoder_feed(dec, buf.data + off, piece);
			off += piece;
			while ((ret = mm_wire_decoder_next(dec, &out)) == 1) {
				cr_assert_lt(k, n);
				cr_assert_leq(ends[k], off);
				expect_same(&out, &msgs[k]);
				k++;
			}
			cr_assert_eq(ret, 0);
		}
		cr_expect_eq(k, n, "round %d", round);
	}
}

Test(wire, two_frames_in_one_feed)
{
	struct mm_wire_msg a, b, out;

	sample(MM_WIRE_HELLO, false, &a);
	sample(MM_WIRE_ACK, false, &b);
	cr_assert_eq(mm_wire_encode(&buf, &a, 0), 0);
	cr_assert_eq(mm_wire_encode(&buf, &b, 0), 0);
	mm_wire_decoder_feed(dec, buf.data, buf.len);
	cr_assert_eq(mm_wire_decoder_next(dec, &out), 1);
	expect_same(&out, &a);
	cr_assert_eq(mm_wire_decoder_next(dec, &out), 1);
	expect_same(&out, &b);
	cr_expect_eq(mm_wire_decoder_next(dec, &out), 0);
}

Test(wire, many_frames_in_one_feed)
{
	struct mm_wire_msg in = { .type = MM_WIRE_PING }, out;
	uint64_t i;

	for (i = 0; i < 100000; i++) {
		in.nonce = i;
		cr_assert_eq(mm_wire_encode(&buf, &in, 0), 0);
	}
	mm_wire_decoder_feed(dec, buf.data, buf.len);
	for (i = 0; mm_wire_decoder_next(dec, &out) == 1; i++)
		cr_assert_eq(out.nonce, i);
	cr_expect_eq(i, 100000);
}

/* The error of every later call, and of feeding more, is the first one. */
static void expect_sticky(int err)
{
	struct mm_wire_msg out;

	cr_assert_lt(err, 0);
	cr_expect_eq(mm_wire_decoder_next(dec, &out), err);
	mm_wire_decoder_feed(dec, buf.data, buf.len);
	cr_expect_eq(mm_wire_decoder_next(dec, &out), err);
}

static void flip_all(int level)
{
	/* room after the frame, so a grown length meets bytes (and the
	   checksum) instead of asking for more */
	static unsigned char pad[65536];
	struct mm_wire_msg in, out;
	size_t len;

	mm_buf_reset(&buf);
	sample(MM_WIRE_ERROR, true, &in);
	cr_assert_eq(mm_wire_encode(&buf, &in, level), 0);
	cr_assert_eq(buf.data[6], level > 0 ? MM_WIRE_F_ZSTD : 0);
	len = buf.len;
	for (size_t i = 0; i < len; i++) {
		for (int bit = 0; bit < 8; bit++) {
			int ret;

			if (i >= MM_WIRE_HDR_SIZE && bit > 0)
				continue;	/* one flip per payload byte */
			buf.data[i] ^= (unsigned char)(1U << bit);
			mm_wire_decoder_free(&dec);
			dec = mm_wire_decoder_new();
			mm_wire_decoder_feed(dec, buf.data, len);
			mm_wire_decoder_feed(dec, pad, sizeof(pad));
			ret = mm_wire_decoder_next(dec, &out);
			cr_assert_lt(ret, 0, "level %d byte %zu bit %d accepted",
				     level, i, bit);
			if (i < 4)
				cr_expect_eq(ret, MM_WIRE_ERR_MAGIC);
			else if (i == 4)
				cr_expect_eq(ret, MM_WIRE_ERR_VERSION);
			else if (i >= 16)
				cr_expect_eq(ret, MM_WIRE_ERR_CHECKSUM,
					     "byte %zu: %s", i,
					     mm_wire_strerror(ret));
			expect_sticky(ret);
			buf.data[i] ^= (unsigned char)(1U << bit);
		}
	}
	cr_expect_eq(decode_buf(&out), 1);
}

Test(wire, every_header_bit_and_payload_byte_flip_is_rejected)
{
	flip_all(0);
	flip_all(3);
}

Test(wire, oversized_lengths_rejected_after_the_header)
{
	static const struct { uint8_t flags; uint32_t wire, raw; } cases[] = {
		{ 0, MM_WIRE_PAYLOAD_MAX + 1, MM_WIRE_PAYLOAD_MAX + 1 },
		{ 0, UINT32_MAX, UINT32_MAX },
		{ MM_WIRE_F_ZSTD, 100, MM_WIRE_PAYLOAD_MAX + 1 },
		{ MM_WIRE_F_ZSTD, 100, UINT32_MAX },
		{ MM_WIRE_F_ZSTD, UINT32_MAX, MM_WIRE_PAYLOAD_MAX },
		/* more than any zstd frame of 100 bytes can take */
		{ MM_WIRE_F_ZSTD, 100 + 1024, 100 },
	};
	struct mm_wire_msg out;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		mm_buf_reset(&buf);
		put_frame(&buf, MM_WIRE_DATA, cases[i].flags, 0, "", 0, 0);
		mm_set_u32(buf.data + 8, cases[i].wire);
		mm_set_u32(buf.data + 12, cases[i].raw);
		cr_assert_eq(buf.len, MM_WIRE_HDR_SIZE);
		mm_wire_decoder_free(&dec);
		dec = mm_wire_decoder_new();
		for (size_t k = 0; k + 1 < MM_WIRE_HDR_SIZE; k++) {
			mm_wire_decoder_feed(dec, buf.data + k, 1);
			cr_assert_eq(mm_wire_decoder_next(dec, &out), 0);
		}
		mm_wire_decoder_feed(dec, buf.data + MM_WIRE_HDR_SIZE - 1, 1);
		cr_expect_eq(mm_wire_decoder_next(dec, &out), MM_WIRE_ERR_TOOBIG,
			     "case %zu", i);
		expect_sticky(MM_WIRE_ERR_TOOBIG);
	}
	/* the limit itself only waits for its payload */
	mm_buf_reset(&buf);
	put_frame(&buf, MM_WIRE_RECORD, 0, 0, "", 0, 0);
	mm_set_u32(buf.data + 8, MM_WIRE_PAYLOAD_MAX);
	mm_set_u32(buf.data + 12, MM_WIRE_PAYLOAD_MAX);
	cr_expect_eq(decode_buf(&out), 0);
}

/* A PING payload (8 bytes) compressed with or without its size. */
static size_t zstd_frame(void *dst, size_t cap, const void *src, size_t len,
			 bool with_size)
{
	ZSTD_CCtx *cctx = ZSTD_createCCtx();
	size_t n;

	ZSTD_CCtx_setParameter(cctx, ZSTD_c_contentSizeFlag, with_size);
	n = ZSTD_compress2(cctx, dst, cap, src, len);
	ZSTD_freeCCtx(cctx);
	cr_assert(!ZSTD_isError(n));
	return n;
}

Test(wire, zstd_frame_larger_than_raw_len_is_rejected)
{
	unsigned char body[200], z[512];
	struct mm_wire_msg out;
	size_t n;

	fill_text(body, sizeof(body));
	for (int with_size = 0; with_size <= 1; with_size++) {
		/* inflates to 200 bytes where the header says 100 */
		mm_buf_reset(&buf);
		n = zstd_frame(z, sizeof(z), body, sizeof(body), with_size);
		cr_assert_lt(n, 100);
		put_frame(&buf, MM_WIRE_DATA, MM_WIRE_F_ZSTD, 0, z, n, 100);
		cr_expect_eq(decode_buf(&out), MM_WIRE_ERR_ZSTD,
			     "with_size %d", with_size);
		expect_sticky(MM_WIRE_ERR_ZSTD);

		/* or to 50 */
		mm_buf_reset(&buf);
		n = zstd_frame(z, sizeof(z), body, 50, with_size);
		put_frame(&buf, MM_WIRE_DATA, MM_WIRE_F_ZSTD, 0, z, n, 100);
		cr_expect_eq(decode_buf(&out), MM_WIRE_ERR_ZSTD,
			     "with_size %d", with_size);
	}
}

Test(wire, zstd_payload_must_be_one_valid_frame)
{
	unsigned char ping[8] = { 1, 2, 3, 4, 5, 6, 7, 8 }, z[256];
	struct mm_wire_msg out;
	size_t n;

	/* a correct compressed frame, built outside the encoder */
	n = zstd_frame(z, sizeof(z), ping, 8, true);
	put_frame(&buf, MM_WIRE_PING, MM_WIRE_F_ZSTD, 0, z, n, 8);
	cr_assert_eq(decode_buf(&out), 1);
	cr_expect_eq(out.nonce, 0x0807060504030201ULL);

	/* two frames of 4 bytes each, which zstd alone would join */
	for (int with_size = 0; with_size <= 1; with_size++) {
		mm_buf_reset(&buf);
		n = zstd_frame(z, sizeof(z), ping, 4, with_size);
		n += zstd_frame(z + n, sizeof(z) - n, ping + 4, 4, with_size);
		put_frame(&buf, MM_WIRE_PING, MM_WIRE_F_ZSTD, 0, z, n, 8);
		cr_expect_eq(decode_buf(&out), MM_WIRE_ERR_ZSTD);
	}

	/* a frame and a skippable frame, which zstd alone would pass over */
	mm_buf_reset(&buf);
	n = zstd_frame(z, sizeof(z), ping, 8, true);
	mm_set_u32(z + n, 0x184D2A50U);		/* ZSTD_MAGIC_SKIPPABLE_START */
	mm_set_u32(z + n + 4, 3);
	memcpy(z + n + 8, "abc", 3);
	n += 11;
	put_frame(&buf, MM_WIRE_PING, MM_WIRE_F_ZSTD, 0, z, n, 8);
	cr_expect_eq(decode_buf(&out), MM_WIRE_ERR_ZSTD);

	/* a frame and trailing garbage */
	mm_buf_reset(&buf);
	n = zstd_frame(z, sizeof(z), ping, 8, true);
	z[n++] = 0;
	put_frame(&buf, MM_WIRE_PING, MM_WIRE_F_ZSTD, 0, z, n, 8);
	cr_expect_eq(decode_buf(&out), MM_WIRE_ERR_ZSTD);

	/* not zstd at all, and nothing */
	mm_buf_reset(&buf);
	put_frame(&buf, MM_WIRE_PING, MM_WIRE_F_ZSTD, 0, ping, 8, 8);
	cr_expect_eq(decode_buf(&out), MM_WIRE_ERR_ZSTD);
	mm_buf_reset(&buf);
	put_frame(&buf, MM_WIRE_PING, MM_WIRE_F_ZSTD, 0, "", 0, 8);
	cr_expect_eq(decode_buf(&out), MM_WIRE_ERR_ZSTD);
	mm_buf_reset(&buf);
	put_frame(&buf, MM_WIRE_PING, MM_WIRE_F_ZSTD, 0, "", 0, 0);
	cr_expect_eq(decode_buf(&out), MM_WIRE_ERR_ZSTD);
}

Test(wire, bad_header_fields)
{
	static const uint8_t bad_types[] = { 0, MM_WIRE_TYPE_LAST + 1, 0xff };
	unsigned char ping[8] = { 0 };
	struct mm_wire_msg out;

	for (size_t i = 0; i < sizeof(bad_types); i++) {
		mm_buf_reset(&buf);
		put_frame(&buf, bad_types[i], 0, 0, ping, 8, 8);
		cr_expect_eq(decode_buf(&out), MM_WIRE_ERR_TYPE, "type %u",
			     bad_types[i]);
	}
	for (int bit = 0; bit < 8; bit++) {
		mm_buf_reset(&buf);
		put_frame(&buf, MM_WIRE_PING, 0, (uint8_t)(1U << bit), ping, 8, 8);
		cr_expect_eq(decode_buf(&out), MM_WIRE_ERR_FLAGS, "reserved bit %d",
			     bit);
		if (bit == 0)
			continue;
		mm_buf_reset(&buf);
		put_frame(&buf, MM_WIRE_PING, (uint8_t)(1U << bit), 0, ping, 8, 8);
		cr_expect_eq(decode_buf(&out), MM_WIRE_ERR_FLAGS, "flag bit %d", bit);
	}
	mm_buf_reset(&buf);
	put_frame(&buf, MM_WIRE_PING, 0, 0, ping, 8, 8);
	buf.data[3] = 'X';
	cr_expect_eq(decode_buf(&out), MM_WIRE_ERR_MAGIC);
	buf.data[3] = 'F';
	buf.data[4] = MM_WIRE_VERSION + 1;
	cr_expect_eq(decode_buf(&out), MM_WIRE_ERR_VERSION);
	buf.data[4] = 0;
	cr_expect_eq(decode_buf(&out), MM_WIRE_ERR_VERSION);
	/* raw frames carry raw_len == wire_len */
	mm_buf_reset(&buf);
	put_frame(&buf, MM_WIRE_PING, 0, 0, ping, 8, 7);
	cr_expect_eq(decode_buf(&out), MM_WIRE_ERR_MALFORMED);
}

/* Payloads built field by field, each wrong in one way. */
static void put_str(struct mm_buf *b, const void *s, size_t len)
{
	mm_buf_put_u16(b, (uint16_t)len);
	mm_buf_append(b, s, len);
}

static void expect_payload(uint8_t type, const struct mm_buf *p, int want,
			   const char *what)
{
	struct mm_wire_msg out;
	int ret;

	mm_buf_reset(&buf);
	put_raw_frame(&buf, type, p);
	ret = decode_buf(&out);
	cr_expect_eq(ret, want, "raw %s: %s", what, mm_wire_strerror(ret));
	if (p->len == 0)
		return;
	/* the same payload, compressed: checked after inflating too */
	{
		size_t cap = ZSTD_compressBound(p->len);
		unsigned char *z = malloc(cap);
		size_t n = ZSTD_compress(z, cap, p->data, p->len, 1);

		cr_assert(!ZSTD_isError(n));
		mm_buf_reset(&buf);
		put_frame(&buf, type, MM_WIRE_F_ZSTD, 0, z, n, p->len);
		cr_expect_eq(decode_buf(&out), want, "zstd %s", what);
		free(z);
	}
}

Test(wire, malformed_payloads)
{
	static unsigned char big[MM_WIRE_CHUNK_MAX + 1];
	struct mm_buf p = { 0 };
	char name256[256], text[MM_WIRE_TEXT_MAX + 1];

	memset(name256, 'n', sizeof(name256));
	fill_text(text, sizeof(text));

#define CASE(type, want, what, ...) do { \
	mm_buf_reset(&p); \
	__VA_ARGS__; \
	expect_payload(type, &p, want, what); \
} while (0)

	CASE(MM_WIRE_HELLO, 1, "good hello",
	     mm_buf_put_u16(&p, 1); put_str(&p, "a", 1));
	CASE(MM_WIRE_HELLO, 1, "255-byte name",
	     mm_buf_put_u16(&p, 1); put_str(&p, name256, 255));
	CASE(MM_WIRE_HELLO, MM_WIRE_ERR_MALFORMED, "256-byte name",
	     mm_buf_put_u16(&p, 1); put_str(&p, name256, 256));
	CASE(MM_WIRE_HELLO, MM_WIRE_ERR_MALFORMED, "empty name",
	     mm_buf_put_u16(&p, 1); put_str(&p, "", 0));
	CASE(MM_WIRE_HELLO, MM_WIRE_ERR_MALFORMED, "NUL in name",
	     mm_buf_put_u16(&p, 1); put_str(&p, "a\0b", 3));
	CASE(MM_WIRE_HELLO, MM_WIRE_ERR_MALFORMED, "NUL ending name",
	     mm_buf_put_u16(&p, 1); put_str(&p, "ab\0", 3));
	CASE(MM_WIRE_HELLO, MM_WIRE_ERR_MALFORMED, "trailing byte",
	     mm_buf_put_u16(&p, 1); put_str(&p, "a", 1); mm_buf_put_u8(&p, 0));
	CASE(MM_WIRE_HELLO, MM_WIRE_ERR_MALFORMED, "name past the end",
	     mm_buf_put_u16(&p, 1); mm_buf_put_u16(&p, 5);
	     mm_buf_append(&p, "abcd", 4));
	CASE(MM_WIRE_HELLO, MM_WIRE_ERR_MALFORMED, "empty payload", );
	CASE(MM_WIRE_WELCOME, MM_WIRE_ERR_MALFORMED, "welcome without lsn",
	     mm_buf_put_u16(&p, 1); put_str(&p, "a", 1));
	CASE(MM_WIRE_WELCOME, 1, "good welcome",
	     mm_buf_put_u16(&p, 1); put_str(&p, "a", 1); mm_buf_put_u64(&p, 0));

	CASE(MM_WIRE_RECORD, MM_WIRE_ERR_MALFORMED, "empty record",
	     mm_buf_put_u64(&p, 1); mm_buf_put_u32(&p, 0);
	     mm_buf_put_u64(&p, 0));
	CASE(MM_WIRE_RECORD, MM_WIRE_ERR_MALFORMED, "record over the max",
	     mm_buf_put_u64(&p, 1); mm_buf_put_u32(&p, MM_JOURNAL_REC_MAX + 1);
	     mm_buf_append(&p, big, 64));
	CASE(MM_WIRE_RECORD, MM_WIRE_ERR_MALFORMED, "record past the end",
	     mm_buf_put_u64(&p, 1); mm_buf_put_u32(&p, 100);
	     mm_buf_append(&p, big, 99));
	CASE(MM_WIRE_RECORD, MM_WIRE_ERR_MALFORMED, "record without content_len",
	     mm_buf_put_u64(&p, 1); mm_buf_put_u32(&p, 1); mm_buf_put_u8(&p, 7));
	CASE(MM_WIRE_RECORD, 1, "good record",
	     mm_buf_put_u64(&p, 1); mm_buf_put_u32(&p, 1); mm_buf_put_u8(&p, 7);
	     mm_buf_put_u64(&p, 0));

	CASE(MM_WIRE_DATA, MM_WIRE_ERR_MALFORMED, "chunk over 1 MiB",
	     mm_buf_put_u64(&p, 1); mm_buf_put_u64(&p, 0);
	     mm_buf_put_u32(&p, sizeof(big)); mm_buf_append(&p, big, sizeof(big)));
	CASE(MM_WIRE_DATA, 1, "chunk of 1 MiB",
	     mm_buf_put_u64(&p, 1); mm_buf_put_u64(&p, 0);
	     mm_buf_put_u32(&p, MM_WIRE_CHUNK_MAX);
	     mm_buf_append(&p, big, MM_WIRE_CHUNK_MAX));
	CASE(MM_WIRE_DATA, MM_WIRE_ERR_MALFORMED, "empty chunk",
	     mm_buf_put_u64(&p, 1); mm_buf_put_u64(&p, 0); mm_buf_put_u32(&p, 0));
	CASE(MM_WIRE_DATA, MM_WIRE_ERR_MALFORMED, "chunk with trailing byte",
	     mm_buf_put_u64(&p, 1); mm_buf_put_u64(&p, 0); mm_buf_put_u32(&p, 1);
	     mm_buf_append(&p, "xy", 2));

	CASE(MM_WIRE_ACK, MM_WIRE_ERR_MALFORMED, "short ack",
	     mm_buf_append(&p, big, 7));
	CASE(MM_WIRE_PING, MM_WIRE_ERR_MALFORMED, "long ping",
	     mm_buf_append(&p, big, 9));
	CASE(MM_WIRE_PONG, 1, "good pong", mm_buf_append(&p, big, 8));

	CASE(MM_WIRE_ERROR, 1, "empty text",
	     mm_buf_put_u32(&p, 5); put_str(&p, "", 0));
	CASE(MM_WIRE_ERROR, MM_WIRE_ERR_MALFORMED, "text over 1024",
	     mm_buf_put_u32(&p, 5); put_str(&p, text, MM_WIRE_TEXT_MAX + 1));
	CASE(MM_WIRE_ERROR, MM_WIRE_ERR_MALFORMED, "NUL in text",
	     mm_buf_put_u32(&p, 5); put_str(&p, "a\0", 2));
	CASE(MM_WIRE_ERROR, MM_WIRE_ERR_MALFORMED, "error without text",
	     mm_buf_put_u32(&p, 5));

	CASE(MM_WIRE_DIGEST, 1, "digest of the account root",
	     mm_buf_put_u64(&p, 3); mm_buf_append(&p, big, 16); put_str(&p, "", 0));
	CASE(MM_WIRE_DIGEST, MM_WIRE_ERR_MALFORMED, "digest cut short",
	     mm_buf_put_u64(&p, 3); mm_buf_append(&p, big, 15));
	CASE(MM_WIRE_DIGEST, MM_WIRE_ERR_MALFORMED, "NUL in the folder",
	     mm_buf_put_u64(&p, 3); mm_buf_append(&p, big, 16); put_str(&p, "a\0", 2));
	CASE(MM_WIRE_INVENTORY, 1, "same, no entries",
	     mm_buf_put_u32(&p, MM_WIRE_INV_SAME); put_str(&p, "Maildir", 7);
	     mm_buf_put_u32(&p, 0));
	CASE(MM_WIRE_INVENTORY, MM_WIRE_ERR_MALFORMED, "unknown inventory code",
	     mm_buf_put_u32(&p, 3); put_str(&p, "Maildir", 7); mm_buf_put_u32(&p, 0));
	CASE(MM_WIRE_INVENTORY, MM_WIRE_ERR_MALFORMED, "entries past the end",
	     mm_buf_put_u32(&p, 0); put_str(&p, "Maildir", 7); mm_buf_put_u32(&p, 9);
	     mm_buf_append(&p, big, 8));
	CASE(MM_WIRE_INVENTORY, MM_WIRE_ERR_MALFORMED, "entries over the max",
	     mm_buf_put_u32(&p, 0); put_str(&p, "Maildir", 7);
	     mm_buf_put_u32(&p, MM_WIRE_INVENTORY_MAX + 1); mm_buf_append(&p, big, 8));
	CASE(MM_WIRE_RESYNCED, MM_WIRE_ERR_MALFORMED, "resynced without an account",
	     mm_buf_put_u32(&p, 0); mm_buf_put_u64(&p, 1); put_str(&p, "", 0));
	CASE(MM_WIRE_RESYNCED, 1, "good resynced",
	     mm_buf_put_u32(&p, 0); mm_buf_put_u64(&p, 1); put_str(&p, "a/b", 3));
	CASE(MM_WIRE_REFUSED, 1, "good refused",
	     mm_buf_put_u64(&p, 7); mm_buf_put_u32(&p, MM_WIRE_REFUSED_STALE);
	     put_str(&p, "stale", 5));
	CASE(MM_WIRE_REFUSED, 1, "refused without a reason",
	     mm_buf_put_u64(&p, 7); mm_buf_put_u32(&p, MM_WIRE_REFUSED_STALE);
	     put_str(&p, "", 0));
	CASE(MM_WIRE_REFUSED, MM_WIRE_ERR_MALFORMED, "refused LSN 0",
	     mm_buf_put_u64(&p, 0); mm_buf_put_u32(&p, MM_WIRE_REFUSED_STALE);
	     put_str(&p, "", 0));
	CASE(MM_WIRE_REFUSED, MM_WIRE_ERR_MALFORMED, "unknown refusal code",
	     mm_buf_put_u64(&p, 7); mm_buf_put_u32(&p, MM_WIRE_REFUSED_LAST + 1);
	     put_str(&p, "", 0));
	CASE(MM_WIRE_REFUSED, MM_WIRE_ERR_MALFORMED, "refused code 0",
	     mm_buf_put_u64(&p, 7); mm_buf_put_u32(&p, 0); put_str(&p, "", 0));
	CASE(MM_WIRE_REFUSED, MM_WIRE_ERR_MALFORMED, "refused without its text",
	     mm_buf_put_u64(&p, 7); mm_buf_put_u32(&p, MM_WIRE_REFUSED_STALE));
#undef CASE
	mm_buf_free(&p);
}

Test(wire, results_only_on_success)
{
	struct mm_wire_msg in = { .type = MM_WIRE_ACK, .lsn = 9 }, out, before;

	cr_assert_eq(mm_wire_encode(&buf, &in, 0), 0);
	memset(&out, 0xa5, sizeof(out));
	before = out;
	mm_wire_decoder_feed(dec, buf.data, buf.len - 1);
	cr_assert_eq(mm_wire_decoder_next(dec, &out), 0);
	cr_expect(memcmp(&out, &before, sizeof(out)) == 0);
	buf.data[buf.len - 1] ^= 1;
	mm_wire_decoder_feed(dec, buf.data + buf.len - 1, 1);
	cr_assert_eq(mm_wire_decoder_next(dec, &out), MM_WIRE_ERR_CHECKSUM);
	cr_expect(memcmp(&out, &before, sizeof(out)) == 0);
}

Test(wire, encoder_refuses_and_appends_nothing)
{
	static unsigned char big[MM_WIRE_CHUNK_MAX + 1];
	char name[MM_WIRE_NAME_MAX + 1];
	const struct {
		struct mm_wire_msg m;
		int want;
	} cases[] = {
		{ { .type = MM_WIRE_DATA, .blob = big,
		    .blob_len = MM_WIRE_CHUNK_MAX + 1 }, MM_WIRE_ERR_TOOBIG },
		{ { .type = MM_WIRE_DATA }, MM_WIRE_ERR_MALFORMED },
		{ { .type = MM_WIRE_HELLO, .name = name,
		    .name_len = MM_WIRE_NAME_MAX + 1 }, MM_WIRE_ERR_TOOBIG },
		{ { .type = MM_WIRE_WELCOME, .name = name,
		    .name_len = 70000 }, MM_WIRE_ERR_TOOBIG },
		{ { .type = MM_WIRE_HELLO, .name = "" }, MM_WIRE_ERR_MALFORMED },
		{ { .type = MM_WIRE_WELCOME, .name = "a\0b", .name_len = 3 },
		  MM_WIRE_ERR_MALFORMED },
		/* the record's bytes are never read past the limit check */
		{ { .type = MM_WIRE_RECORD, .blob = big,
		    .blob_len = MM_JOURNAL_REC_MAX + 1 }, MM_WIRE_ERR_TOOBIG },
		{ { .type = MM_WIRE_RECORD, .blob = big }, MM_WIRE_ERR_MALFORMED },
		{ { .type = MM_WIRE_ERROR, .text = text1024,
		    .text_len = MM_WIRE_TEXT_MAX + 1 }, MM_WIRE_ERR_TOOBIG },
		{ { .type = MM_WIRE_ERROR, .text = "\0", .text_len = 1 },
		  MM_WIRE_ERR_MALFORMED },
		{ { .type = MM_WIRE_REFUSED, .code = MM_WIRE_REFUSED_STALE },
		  MM_WIRE_ERR_MALFORMED },	/* LSN 0 */
		{ { .type = MM_WIRE_REFUSED, .lsn = 1 }, MM_WIRE_ERR_MALFORMED },
		{ { .type = 0 }, MM_WIRE_ERR_TYPE },
		{ { .type = MM_WIRE_TYPE_LAST + 1 }, MM_WIRE_ERR_TYPE },
	};

	memset(name, 'n', sizeof(name));
	mm_buf_puts(&buf, "prefix");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		for (int level = 0; level <= 3; level += 3) {
			cr_expect_eq(mm_wire_encode(&buf, &cases[i].m, level),
				     cases[i].want, "case %zu", i);
			cr_expect_eq(buf.len, 6, "case %zu appended", i);
			cr_expect_str_eq((char *)buf.data, "prefix");
		}
	}
	/* the limits themselves are fine */
	{
		struct mm_wire_msg ok[] = {
			{ .type = MM_WIRE_DATA, .blob = big,
			  .blob_len = MM_WIRE_CHUNK_MAX },
			{ .type = MM_WIRE_HELLO, .name = name,
			  .name_len = MM_WIRE_NAME_MAX },
			{ .type = MM_WIRE_ERROR },
		};

		for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
			cr_expect_eq(mm_wire_encode(&buf, &ok[i], 3), 0);
	}
}

Test(wire, names_and_errors)
{
	static const char *const names[] = {
		"hello", "welcome", "record", "data", "ack", "ping", "pong", "error",
		"digest", "inventory", "resynced", "query", "answer", "refused",
	};
	static const int errs[] = {
		MM_WIRE_ERR_MAGIC, MM_WIRE_ERR_VERSION, MM_WIRE_ERR_FLAGS,
		MM_WIRE_ERR_TOOBIG, MM_WIRE_ERR_CHECKSUM, MM_WIRE_ERR_ZSTD,
		MM_WIRE_ERR_TYPE, MM_WIRE_ERR_MALFORMED,
	};

	for (int t = MM_WIRE_HELLO; t <= MM_WIRE_TYPE_LAST; t++)
		cr_expect_str_eq(mm_wire_type_str((enum mm_wire_type)t),
				 names[t - 1]);
	cr_expect_str_eq(mm_wire_type_str(0), "unknown");
	cr_expect_str_eq(mm_wire_type_str(MM_WIRE_TYPE_LAST + 1), "unknown");
	cr_expect_str_eq(mm_wire_strerror(0), "no error");
	for (size_t i = 0; i < sizeof(errs) / sizeof(errs[0]); i++) {
		cr_expect_lt(errs[i], 0);
		cr_expect_str_neq(mm_wire_strerror(errs[i]), "unknown error");
		for (size_t k = 0; k < i; k++)
			cr_expect_str_neq(mm_wire_strerror(errs[i]),
					  mm_wire_strerror(errs[k]));
	}
	cr_expect_str_eq(mm_wire_strerror(-99), "unknown error");
}

Test(wire, free_is_idempotent)
{
	mm_wire_decoder_free(&dec);
	cr_expect_null(dec);
	mm_wire_decoder_free(&dec);
}

Test(wire, inventory_entries_round_trip)
{
	struct mm_wire_inv_entry in[3] = {
		{ 'n', "1700000000.M1P1.a", 17, 4096 },
		{ 'c', "1700000000.M2P1.a:2,RS", 22, 0 },
		{ 'c', name255, MM_WIRE_NAME_MAX, UINT64_MAX },
	}, e;
	struct mm_buf b = { 0 };
	size_t pos = 0;

	fill_text(name255, MM_WIRE_NAME_MAX);
	for (int i = 0; i < 3; i++)
		mm_wire_inventory_put(&b, &in[i]);
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(mm_wire_inventory_next(b.data, b.len, &pos, &e), 1);
		cr_expect_eq(e.sub, in[i].sub);
		expect_bytes(e.name, e.name_len, in[i].name, in[i].name_len);
		cr_expect_eq(e.size, in[i].size);
	}
	cr_expect_eq(mm_wire_inventory_next(b.data, b.len, &pos, &e), 0);
	cr_expect_eq(pos, b.len);
	mm_buf_free(&b);
}

Test(wire, inventory_hostile_entries)
{
	static const struct {
		const char *what;
		const char *bytes;
		size_t len;
	} bad[] = {
		/* sub, u16 length (little-endian), name, u64 size; the literals
		   are split so a hex escape never swallows the next letter */
		{ "unknown sub", "x" "\x01\x00" "a" "\0\0\0\0\0\0\0\0", 12 },
		{ "empty name", "n" "\x00\x00" "\0\0\0\0\0\0\0\0", 11 },
		{ "slash in name", "c" "\x03\x00" "a/b" "\0\0\0\0\0\0\0\0", 14 },
		{ "NUL in name", "c" "\x03\x00" "a\0b" "\0\0\0\0\0\0\0\0", 14 },
		{ "name past the end", "c" "\x09\x00" "abc", 6 },
		{ "size cut short", "c" "\x01\x00" "a" "\0\0\0", 7 },
		{ "name over 255", "c\x00\x01", 3 },
	};
	struct mm_wire_inv_entry e;

	static const unsigned char good[] = "c" "\x03\x00" "a:b" "\x05\0\0\0\0\0\0\0";
	size_t gpos = 0;

	/* the well-formed twin of the cases below parses */
	cr_assert_eq(mm_wire_inventory_next(good, 14, &gpos, &e), 1);
	cr_expect_eq(e.name_len, 3);
	cr_expect_eq(e.size, 5);
	cr_expect_eq(gpos, 14);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		size_t pos = 0;

		cr_expect_eq(mm_wire_inventory_next((const unsigned char *)bad[i].bytes,
						    bad[i].len, &pos, &e),
			     MM_WIRE_ERR_MALFORMED, "%s", bad[i].what);
		cr_expect_eq(pos, 0, "%s", bad[i].what);
	}
}

/* mailmesh-fsck's frames: codes out of range are refused both ways */
Test(wire, query_codes)
{
	struct mm_wire_msg m = { .type = MM_WIRE_QUERY, .code = 0, .text = "a", .text_len = 1 };
	struct mm_buf out = { 0 };

	cr_expect_eq(mm_wire_encode(&out, &m, 0), MM_WIRE_ERR_MALFORMED);
	m.code = MM_WIRE_Q_LAST + 1;
	cr_expect_eq(mm_wire_encode(&out, &m, 0), MM_WIRE_ERR_MALFORMED);
	m.type = MM_WIRE_ANSWER;
	m.code = MM_WIRE_A_LAST + 1;
	cr_expect_eq(mm_wire_encode(&out, &m, 0), MM_WIRE_ERR_MALFORMED);
	cr_expect_eq(out.len, 0);
	m.code = MM_WIRE_A_OK;
	cr_assert_eq(mm_wire_encode(&out, &m, 0), 0);
	/* the same frame with its code patched to 9 (and the checksum fixed
	   up) is refused by the decoder */
	out.data[MM_WIRE_HDR_SIZE] = 9;
	uint64_t h = XXH3_64bits_withSeed(out.data, 16, 0);
	XXH3_state_t *st = XXH3_createState();

	XXH3_64bits_reset(st);
	XXH3_64bits_update(st, out.data, 16);
	XXH3_64bits_update(st, out.data + MM_WIRE_HDR_SIZE, out.len - MM_WIRE_HDR_SIZE);
	h = XXH3_64bits_digest(st);
	XXH3_freeState(st);
	mm_set_u64(out.data + 16, h);
	struct mm_wire_decoder *d = mm_wire_decoder_new();
	struct mm_wire_msg got;

	mm_wire_decoder_feed(d, out.data, out.len);
	cr_expect_eq(mm_wire_decoder_next(d, &got), MM_WIRE_ERR_MALFORMED);
	mm_wire_decoder_free(&d);
	mm_buf_free(&out);
}

Test(wire, query_bodies_round_trip)
{
	struct mm_buf b = { 0 };
	struct mm_wire_qfolder f = { .name = ".Sent", .name_len = 5, .subs = 7, .count = 9 }, gf;
	struct mm_wire_qentry e = { .kind = 'M', .sub = 2, .name = "1.M2.h:2,S", .name_len = 10,
				    .size = 77, .hashed = 1 }, ge;
	struct mm_wire_qfile q = { .size = 3, .mtime_ns = -5, .mode = 0100600, .uid = 8,
				   .gid = 12 }, gq;
	const unsigned char *content;
	size_t pos = 0;

	memset(f.digest, 0x5a, 16);
	memset(e.hash, 0xa5, 16);
	mm_wire_qfolder_put(&b, &f);
	cr_assert_eq(mm_wire_qfolder_next(b.data, b.len, &pos, &gf), 1);
	cr_expect_eq(gf.name_len, 5);
	cr_expect_eq(memcmp(gf.name, ".Sent", 5), 0);
	cr_expect_eq(gf.subs, 7);
	cr_expect_eq(gf.count, 9);
	cr_expect_eq(memcmp(gf.digest, f.digest, 16), 0);
	cr_expect_eq(mm_wire_qfolder_next(b.data, b.len, &pos, &gf), 0);
	mm_buf_reset(&b);
	pos = 0;
	mm_wire_qentry_put(&b, &e);
	cr_assert_eq(mm_wire_qentry_next(b.data, b.len, &pos, &ge), 1);
	cr_expect_eq(ge.kind, 'M');
	cr_expect_eq(ge.sub, 2);
	cr_expect_eq(ge.size, 77);
	cr_expect_eq(ge.hashed, 1);
	cr_expect_eq(memcmp(ge.hash, e.hash, 16), 0);
	/* hostile: a '/' in a message name, an unknown kind, cut short */
	b.data[4] = '/';
	pos = 0;
	cr_expect_eq(mm_wire_qentry_next(b.data, b.len, &pos, &ge), MM_WIRE_ERR_MALFORMED);
	b.data[4] = '1';
	b.data[0] = 'Z';
	pos = 0;
	cr_expect_eq(mm_wire_qentry_next(b.data, b.len, &pos, &ge), MM_WIRE_ERR_MALFORMED);
	b.data[0] = 'M';
	pos = 0;
	cr_expect_eq(mm_wire_qentry_next(b.data, b.len - 1, &pos, &ge), MM_WIRE_ERR_MALFORMED);
	mm_buf_reset(&b);
	mm_wire_qfile_put(&b, &q);
	mm_buf_append(&b, "abc", 3);
	cr_assert_eq(mm_wire_qfile_get(b.data, b.len, &gq, &content), 0);
	cr_expect_eq(gq.mtime_ns, -5);
	cr_expect_eq(gq.gid, 12);
	cr_expect_eq(memcmp(content, "abc", 3), 0);
	/* content of another length than the size says */
	cr_expect_eq(mm_wire_qfile_get(b.data, b.len - 1, &gq, &content), MM_WIRE_ERR_MALFORMED);
	mm_buf_free(&b);
}

Test(wire, retained_entries_round_trip_and_refuse_hostile)
{
	struct mm_buf b = { 0 };
	struct mm_wire_qretained e = { .folder = ".Sent", .folder_len = 5, .sub = 2,
				       .name = "1.M2.h:2,FS", .name_len = 11,
				       .expunged_ns = 7, .size = 99, .mtime_ns = -3 }, g;
	size_t pos = 0;

	mm_wire_qretained_put(&b, &e);
	cr_assert_eq(mm_wire_qretained_next(b.data, b.len, &pos, &g), 1);
	cr_expect_eq(pos, b.len);
	cr_expect_eq(memcmp(g.folder, ".Sent", 5), 0);
	cr_expect_eq(g.sub, 2);
	cr_expect_eq(g.name_len, 11);
	cr_expect_eq(g.expunged_ns, 7);
	cr_expect_eq(g.size, 99);
	cr_expect_eq(g.mtime_ns, -3);
	cr_expect_eq(mm_wire_qretained_next(b.data, b.len, &pos, &g), 0);
	/* cut short */
	pos = 0;
	cr_expect_eq(mm_wire_qretained_next(b.data, b.len - 1, &pos, &g), MM_WIRE_ERR_MALFORMED);
	/* a '/' in the name */
	b.data[2 + 5 + 1 + 2] = '/';
	pos = 0;
	cr_expect_eq(mm_wire_qretained_next(b.data, b.len, &pos, &g), MM_WIRE_ERR_MALFORMED);
	mm_buf_reset(&b);
	/* a folder leaving the account, a name "..", a bad sub */
	e.folder = "../x";
	e.folder_len = 4;
	mm_wire_qretained_put(&b, &e);
	pos = 0;
	cr_expect_eq(mm_wire_qretained_next(b.data, b.len, &pos, &g), MM_WIRE_ERR_MALFORMED);
	mm_buf_reset(&b);
	e.folder_len = 0;
	e.name = "..";
	e.name_len = 2;
	mm_wire_qretained_put(&b, &e);
	pos = 0;
	cr_expect_eq(mm_wire_qretained_next(b.data, b.len, &pos, &g), MM_WIRE_ERR_MALFORMED);
	mm_buf_reset(&b);
	e.name = "x";
	e.name_len = 1;
	e.sub = 3;
	mm_wire_qretained_put(&b, &e);
	pos = 0;
	cr_expect_eq(mm_wire_qretained_next(b.data, b.len, &pos, &g), MM_WIRE_ERR_MALFORMED);
	mm_buf_free(&b);
}
