/* SPDX-License-Identifier: MIT
 * test-journal.c - journal record encode/decode: round trips and corruption. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>
#include "journal.h"

static struct mm_buf buf;

static void setup(void)
{
	memset(&buf, 0, sizeof(buf));
}

static void teardown(void)
{
	mm_buf_free(&buf);
}

TestSuite(journal, .init = setup, .fini = teardown);

static const unsigned char meta_data[] =
	"3 V1700000000 N42 G1234\n1 :1700000000.M1P2.host,S=5\n\0binary\xff";

/* A record with every field set to something distinctive. */
static void full_rec(struct mm_journal_rec *r)
{
	memset(r, 0, sizeof(*r));
	r->lsn = 0x0102030405060708ULL;
	r->time_ns = 1700000000123456789ULL;
	r->epoch = 0x1a2b3c4d5e6f7081ULL;
	r->op = MM_OP_COPY;
	r->status = MM_REC_COMMITTED;
	r->sub = 2;		/* MM_SUB_CUR */
	r->new_sub = 1;		/* MM_SUB_NEW */
	r->rflags = MM_RECF_DELETED | MM_RECF_CRASH | 0x80000000U;
	r->account = "example.org/alice";
	r->folder = "Maildir/.Sent";
	r->name = "1.M2P3.h\xc3\xa9,S=5:2,S";
	r->new_folder = "";
	r->new_name = "1.M2P3.h,S=5:2,RS";
	r->size = 0xfedcba9876543210ULL;
	for (int i = 0; i < 16; i++)
		r->hash[i] = (uint8_t)(0xf0 - i * 7);
	r->mtime_ns = -1234567890123LL;
	r->mode = 0100640;
	r->uid = 5000;
	r->gid = 0xfffffffeU;
	r->data = meta_data;
	r->data_len = sizeof(meta_data);
}

static void expect_same(const struct mm_journal_rec *a, const struct mm_journal_rec *b)
{
	cr_expect_eq(a->lsn, b->lsn);
	cr_expect_eq(a->time_ns, b->time_ns);
	cr_expect_eq(a->epoch, b->epoch);
	cr_expect_eq(a->op, b->op);
	cr_expect_eq(a->status, b->status);
	cr_expect_eq(a->sub, b->sub);
	cr_expect_eq(a->new_sub, b->new_sub);
	cr_expect_eq(a->rflags, b->rflags);
	cr_expect_str_eq(a->account, b->account);
	cr_expect_str_eq(a->folder, b->folder);
	cr_expect_str_eq(a->name, b->name);
	cr_expect_str_eq(a->new_folder, b->new_folder);
	cr_expect_str_eq(a->new_name, b->new_name);
	cr_expect_eq(a->size, b->size);
	cr_expect_arr_eq(a->hash, b->hash, 16);
	cr_expect_eq(a->mtime_ns, b->mtime_ns);
	cr_expect_eq(a->mode, b->mode);
	cr_expect_eq(a->uid, b->uid);
	cr_expect_eq(a->gid, b->gid);
	cr_expect_eq(a->data_len, b->data_len);
	if (a->data_len > 0 && a->data_len == b->data_len)
		cr_expect_arr_eq(a->data, b->data, a->data_len);
}

/* Recomputes the checksum after a test edits covered bytes, so that the
   decoder's later checks can be reached (layout from journal.c). */
static void reseal(unsigned char *p)
{
	uint32_t len = mm_get_u32(p + 4);
	XXH3_state_t *st = XXH3_createState();

	XXH3_64bits_reset(st);
	XXH3_64bits_update(st, p, MM_JOURNAL_STATUS_OFF);
	XXH3_64bits_update(st, p + MM_JOURNAL_STATUS_OFF + 1,
			   16 - MM_JOURNAL_STATUS_OFF - 1);
	XXH3_64bits_update(st, p + MM_JOURNAL_HDR_SIZE, len - MM_JOURNAL_HDR_SIZE);
	mm_set_u64(p + 16, XXH3_64bits_digest(st));
	XXH3_freeState(st);
}

static void encode_full(void)
{
	struct mm_journal_rec in;

	full_rec(&in);
	cr_assert_eq(mm_journal_encode(&in, &buf), 0);
}

Test(journal, round_trip_every_field)
{
	struct mm_journal_rec in, out;
	size_t used = 0;

	full_rec(&in);
	cr_assert_eq(mm_journal_encode(&in, &buf), 0);
	cr_expect_eq(mm_get_u32(buf.data), MM_JOURNAL_REC_MAGIC);
	cr_expect_eq(mm_get_u32(buf.data + 4), buf.len);
	cr_expect_eq(buf.data[MM_JOURNAL_STATUS_OFF], MM_REC_COMMITTED);
	cr_assert_eq(mm_journal_decode(buf.data, buf.len, &out, &used), 0);
	cr_expect_eq(used, buf.len);
	expect_same(&out, &in);
	/* strings and data borrow from the encoded bytes */
	cr_expect(out.account >= (const char *)buf.data &&
		  out.account < (const char *)buf.data + buf.len);
	cr_expect(out.data >= buf.data && out.data < buf.data + buf.len);
}

/* full_rec() as the version 1 encoder (mailmesh before epochs) wrote it:
   the bytes of a journal an upgraded store still reads. */
static const unsigned char v1_full[] = {
	0x4d, 0x4d, 0x4a, 0x52, 0xe9, 0x00, 0x00, 0x00, 0x01, 0x43, 0x05, 0x12,
	0x03, 0x00, 0x00, 0x80, 0x64, 0xc2, 0xf5, 0x6e, 0xbb, 0xdc, 0x7e, 0x4f,
	0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01, 0x15, 0xcd, 0x85, 0x3d,
	0xfe, 0x9c, 0x97, 0x17, 0x10, 0x32, 0x54, 0x76, 0x98, 0xba, 0xdc, 0xfe,
	0x35, 0xfb, 0x04, 0x8e, 0xe0, 0xfe, 0xff, 0xff, 0xa0, 0x81, 0x00, 0x00,
	0x88, 0x13, 0x00, 0x00, 0xfe, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00,
	0xf0, 0xe9, 0xe2, 0xdb, 0xd4, 0xcd, 0xc6, 0xbf, 0xb8, 0xb1, 0xaa, 0xa3,
	0x9c, 0x95, 0x8e, 0x87, 0x11, 0x00, 0x65, 0x78, 0x61, 0x6d, 0x70, 0x6c,
	0x65, 0x2e, 0x6f, 0x72, 0x67, 0x2f, 0x61, 0x6c, 0x69, 0x63, 0x65, 0x00,
	0x0d, 0x00, 0x4d, 0x61, 0x69, 0x6c, 0x64, 0x69, 0x72, 0x2f, 0x2e, 0x53,
	0x65, 0x6e, 0x74, 0x00, 0x12, 0x00, 0x31, 0x2e, 0x4d, 0x32, 0x50, 0x33,
	0x2e, 0x68, 0xc3, 0xa9, 0x2c, 0x53, 0x3d, 0x35, 0x3a, 0x32, 0x2c, 0x53,
	0x00, 0x00, 0x00, 0x00, 0x11, 0x00, 0x31, 0x2e, 0x4d, 0x32, 0x50, 0x33,
	0x2e, 0x68, 0x2c, 0x53, 0x3d, 0x35, 0x3a, 0x32, 0x2c, 0x52, 0x53, 0x00,
	0x3d, 0x00, 0x00, 0x00, 0x33, 0x20, 0x56, 0x31, 0x37, 0x30, 0x30, 0x30,
	0x30, 0x30, 0x30, 0x30, 0x30, 0x20, 0x4e, 0x34, 0x32, 0x20, 0x47, 0x31,
	0x32, 0x33, 0x34, 0x0a, 0x31, 0x20, 0x3a, 0x31, 0x37, 0x30, 0x30, 0x30,
	0x30, 0x30, 0x30, 0x30, 0x30, 0x2e, 0x4d, 0x31, 0x50, 0x32, 0x2e, 0x68,
	0x6f, 0x73, 0x74, 0x2c, 0x53, 0x3d, 0x35, 0x0a, 0x00, 0x62, 0x69, 0x6e,
	0x61, 0x72, 0x79, 0xff, 0x00,
};

Test(journal, version_1_records_still_decode)
{
	struct mm_journal_rec want, out;
	size_t used = 0;

	full_rec(&want);
	want.epoch = 0;
	cr_assert_eq(v1_full[8], 1);
	cr_assert_eq(mm_journal_decode(v1_full, sizeof(v1_full), &out, &used), 0);
	cr_expect_eq(used, sizeof(v1_full));
	expect_same(&out, &want);
	cr_expect_eq(out.epoch, 0, "a version 1 record has no epoch");
	/* and the version 1 encoder still writes exactly those bytes */
	cr_assert_eq(mm_journal_encode_as(&want, 1, &buf), 0);
	cr_expect_eq(buf.len, sizeof(v1_full));
	cr_expect_arr_eq(buf.data, v1_full, sizeof(v1_full));
	mm_buf_reset(&buf);
	cr_expect_eq(mm_journal_encode_as(&want, 0, &buf), MM_ERR_VERSION);
	cr_expect_eq(mm_journal_encode_as(&want, MM_JOURNAL_VERSION + 1, &buf), MM_ERR_VERSION);
	cr_expect_eq(buf.len, 0, "nothing appended for a version it cannot write");
}

Test(journal, version_2_carries_the_epoch)
{
	struct mm_journal_rec in, out;
	size_t used;

	full_rec(&in);
	cr_assert_eq(mm_journal_encode(&in, &buf), 0);
	cr_expect_eq(buf.data[8], 2);
	cr_expect_eq(buf.len, sizeof(v1_full) + 8, "the epoch is 8 bytes more");
	/* after the fixed fields and the content hash */
	cr_expect_eq(mm_get_u64(buf.data + MM_JOURNAL_HDR_SIZE + 64), in.epoch);
	cr_assert_eq(mm_journal_decode(buf.data, buf.len, &out, &used), 0);
	cr_expect_eq(out.epoch, 0x1a2b3c4d5e6f7081ULL);
	/* every value, and 0 (an unfenced mount) */
	static const uint64_t epochs[] = { 0, 1, 1795556559364978166ULL, UINT64_MAX };

	for (size_t i = 0; i < sizeof(epochs) / sizeof(epochs[0]); i++) {
		in.epoch = epochs[i];
		mm_buf_reset(&buf);
		cr_assert_eq(mm_journal_encode(&in, &buf), 0);
		cr_assert_eq(mm_journal_decode(buf.data, buf.len, &out, &used), 0);
		cr_expect_eq(out.epoch, epochs[i]);
	}
}

Test(journal, flipped_epoch_bytes_fail_the_checksum)
{
	struct mm_journal_rec out;
	size_t used, off = MM_JOURNAL_HDR_SIZE + 64;

	encode_full();
	for (size_t i = off; i < off + 8; i++) {
		for (int bit = 0; bit < 8; bit++) {
			buf.data[i] ^= (unsigned char)(1U << bit);
			cr_expect_eq(mm_journal_decode(buf.data, buf.len, &out, &used),
				     MM_ERR_CHECKSUM, "epoch byte %zu bit %d", i - off, bit);
			buf.data[i] ^= (unsigned char)(1U << bit);
		}
	}
	/* resealed, the changed epoch is what decodes: the checksum is all
	   that guards it */
	buf.data[off] ^= 1;
	reseal(buf.data);
	cr_assert_eq(mm_journal_decode(buf.data, buf.len, &out, &used), 0);
	cr_expect_eq(out.epoch, 0x1a2b3c4d5e6f7081ULL ^ 1);
}

Test(journal, round_trip_minimal_record)
{
	struct mm_journal_rec in = { .op = MM_OP_FOLDER_CREATE }, out;
	size_t used;

	cr_assert_eq(mm_journal_encode(&in, &buf), 0);
	cr_assert_eq(mm_journal_decode(buf.data, buf.len, &out, &used), 0);
	cr_expect_eq(out.status, MM_REC_PENDING, "status 0 is written PENDING");
	cr_expect_eq(out.op, MM_OP_FOLDER_CREATE);
	/* NULL strings come back as "" */
	cr_expect_str_eq(out.account, "");
	cr_expect_str_eq(out.folder, "");
	cr_expect_str_eq(out.name, "");
	cr_expect_str_eq(out.new_folder, "");
	cr_expect_str_eq(out.new_name, "");
	cr_expect_null(out.data);
	cr_expect_eq(out.data_len, 0);
	cr_expect_eq(out.mtime_ns, 0);
}

Test(journal, round_trip_extremes)
{
	static const int64_t mtimes[] = { -1, INT64_MIN, INT64_MAX, 0 };
	struct mm_journal_rec in, out;
	size_t used;

	for (size_t i = 0; i < sizeof(mtimes) / sizeof(mtimes[0]); i++) {
		full_rec(&in);
		in.mtime_ns = mtimes[i];
		in.sub = 15;
		in.new_sub = 0;
		in.lsn = UINT64_MAX;
		in.rflags = 0;
		in.op = MM_OP_LAST;
		mm_buf_reset(&buf);
		cr_assert_eq(mm_journal_encode(&in, &buf), 0);
		cr_assert_eq(mm_journal_decode(buf.data, buf.len, &out, &used), 0);
		expect_same(&out, &in);
	}
}

Test(journal, every_op_round_trips)
{
	for (int op = MM_OP_DELIVER; op <= MM_OP_LAST; op++) {
		struct mm_journal_rec in, out;
		size_t used;

		full_rec(&in);
		in.op = (enum mm_op)op;
		mm_buf_reset(&buf);
		cr_assert_eq(mm_journal_encode(&in, &buf), 0);
		cr_assert_eq(mm_journal_decode(buf.data, buf.len, &out, &used), 0);
		cr_expect_eq(out.op, op);
	}
}

Test(journal, records_follow_each_other)
{
	struct mm_journal_rec in, out;
	size_t used, first;

	buf.len = 0;
	mm_buf_puts(&buf, "prefix");	/* encode appends */
	full_rec(&in);
	cr_assert_eq(mm_journal_encode(&in, &buf), 0);
	first = buf.len - 6;
	in.lsn++;
	in.name = "second";
	in.data = NULL;
	in.data_len = 0;
	cr_assert_eq(mm_journal_encode(&in, &buf), 0);

	cr_assert_eq(mm_journal_decode(buf.data + 6, buf.len - 6, &out, &used), 0);
	cr_expect_eq(used, first);
	cr_expect_eq(out.lsn, in.lsn - 1);
	cr_assert_eq(mm_journal_decode(buf.data + 6 + used, buf.len - 6 - used,
				       &out, &used), 0);
	cr_expect_str_eq(out.name, "second");
	cr_expect_eq(used, buf.len - 6 - first);
}

Test(journal, every_truncation_is_truncated)
{
	struct mm_journal_rec out;
	size_t used;
	unsigned char *copy;

	encode_full();
	for (size_t n = 0; n < buf.len; n++) {
		/* a fresh allocation per length, so ASan sees any overread */
		copy = malloc(n > 0 ? n : 1);
		memcpy(copy, buf.data, n);
		cr_expect_eq(mm_journal_decode(copy, n, &out, &used), MM_ERR_TRUNCATED,
			     "%zu of %zu bytes", n, buf.len);
		free(copy);
	}
}

Test(journal, every_flipped_bit_is_detected)
{
	/* room for a length with bit 25 flipped, so a grown length is
	   checked against the checksum instead of asking for more bytes */
	size_t room = (1U << 25) + 4096;
	unsigned char *big = calloc(1, room);
	struct mm_journal_rec out;
	size_t used, len;

	cr_assert_not_null(big);
	encode_full();
	len = buf.len;
	memcpy(big, buf.data, len);
	for (size_t i = 0; i < len; i++) {
		if (i == MM_JOURNAL_STATUS_OFF)
			continue;
		for (int bit = 0; bit < 8; bit++) {
			int ret;

			big[i] ^= (unsigned char)(1U << bit);
			ret = mm_journal_decode(big, room, &out, &used);
			big[i] ^= (unsigned char)(1U << bit);
			cr_assert_neq(ret, 0, "byte %zu bit %d accepted", i, bit);
			if (i < 4)
				cr_expect_eq(ret, MM_ERR_MAGIC, "byte %zu bit %d: %s",
					     i, bit, mm_strerror(ret));
			else if (i < 8)
				cr_expect(ret == MM_ERR_CHECKSUM || ret == MM_ERR_FORMAT ||
					  ret == MM_ERR_TOOBIG, "byte %zu bit %d: %s",
					  i, bit, mm_strerror(ret));
			else
				cr_expect_eq(ret, MM_ERR_CHECKSUM, "byte %zu bit %d: %s",
					     i, bit, mm_strerror(ret));
		}
	}
	cr_expect_eq(mm_journal_decode(big, room, &out, &used), 0);
	free(big);
}

Test(journal, status_byte_is_not_checksummed)
{
	static const uint8_t states[] = { MM_REC_PENDING, MM_REC_COMMITTED, MM_REC_ABORTED };
	struct mm_journal_rec out;
	size_t used;

	encode_full();
	for (size_t i = 0; i < sizeof(states); i++) {
		buf.data[MM_JOURNAL_STATUS_OFF] = states[i];
		cr_assert_eq(mm_journal_decode(buf.data, buf.len, &out, &used), 0);
		cr_expect_eq(out.status, states[i]);
		cr_expect_eq(out.lsn, 0x0102030405060708ULL);
	}
	buf.data[MM_JOURNAL_STATUS_OFF] = 'X';
	cr_expect_eq(mm_journal_decode(buf.data, buf.len, &out, &used), MM_ERR_FORMAT);
	buf.data[MM_JOURNAL_STATUS_OFF] = 0;
	cr_expect_eq(mm_journal_decode(buf.data, buf.len, &out, &used), MM_ERR_FORMAT);
}

Test(journal, bad_magic)
{
	struct mm_journal_rec out;
	size_t used;

	encode_full();
	memcpy(buf.data, "MMJX", 4);
	cr_expect_eq(mm_journal_decode(buf.data, buf.len, &out, &used), MM_ERR_MAGIC);
	memset(buf.data, 0, MM_JOURNAL_HDR_SIZE);
	cr_expect_eq(mm_journal_decode(buf.data, buf.len, &out, &used), MM_ERR_MAGIC);
}

Test(journal, bad_version)
{
	struct mm_journal_rec out;
	size_t used;

	encode_full();
	buf.data[8] = MM_JOURNAL_VERSION + 1;
	cr_expect_eq(mm_journal_decode(buf.data, buf.len, &out, &used), MM_ERR_CHECKSUM);
	reseal(buf.data);
	cr_expect_eq(mm_journal_decode(buf.data, buf.len, &out, &used), MM_ERR_VERSION);
	buf.data[8] = 0;
	reseal(buf.data);
	cr_expect_eq(mm_journal_decode(buf.data, buf.len, &out, &used), MM_ERR_VERSION);
}

Test(journal, bad_op)
{
	static const uint8_t ops[] = { 0, MM_OP_LAST + 1, 0xff };
	struct mm_journal_rec out;
	size_t used;

	encode_full();
	for (size_t i = 0; i < sizeof(ops); i++) {
		buf.data[10] = ops[i];
		reseal(buf.data);
		cr_expect_eq(mm_journal_decode(buf.data, buf.len, &out, &used),
			     MM_ERR_FORMAT, "op %u", ops[i]);
	}
}

Test(journal, oversize_and_undersize_length)
{
	struct mm_journal_rec out;
	size_t used;

	encode_full();
	mm_set_u32(buf.data + 4, MM_JOURNAL_REC_MAX + 1);
	cr_expect_eq(mm_journal_decode(buf.data, buf.len, &out, &used), MM_ERR_TOOBIG);
	mm_set_u32(buf.data + 4, UINT32_MAX);
	cr_expect_eq(mm_journal_decode(buf.data, buf.len, &out, &used), MM_ERR_TOOBIG);
	/* shorter than header plus fixed fields */
	mm_set_u32(buf.data + 4, MM_JOURNAL_HDR_SIZE);
	cr_expect_eq(mm_journal_decode(buf.data, buf.len, &out, &used), MM_ERR_FORMAT);
	mm_set_u32(buf.data + 4, 0);
	cr_expect_eq(mm_journal_decode(buf.data, buf.len, &out, &used), MM_ERR_FORMAT);
	/* a plausible length past the end: more bytes are needed */
	mm_set_u32(buf.data + 4, (uint32_t)buf.len + 1);
	cr_expect_eq(mm_journal_decode(buf.data, buf.len, &out, &used), MM_ERR_TRUNCATED);
}

Test(journal, malformed_body_under_a_valid_checksum)
{
	struct mm_journal_rec in, out;
	size_t used, name_off;

	full_rec(&in);
	in.data = NULL;
	in.data_len = 0;
	cr_assert_eq(mm_journal_encode(&in, &buf), 0);
	/* trailing bytes the body does not account for */
	mm_buf_append(&buf, "xx", 2);
	mm_set_u32(buf.data + 4, (uint32_t)buf.len);
	reseal(buf.data);
	cr_expect_eq(mm_journal_decode(buf.data, buf.len, &out, &used), MM_ERR_FORMAT);

	/* a string without its NUL */
	mm_buf_reset(&buf);
	cr_assert_eq(mm_journal_encode(&in, &buf), 0);
	name_off = MM_JOURNAL_HDR_SIZE + 72 + 2 + strlen(in.account) + 1;
	cr_assert_eq(mm_get_u16(buf.data + name_off), strlen(in.folder));
	buf.data[name_off + 2 + strlen(in.folder)] = 'x';
	reseal(buf.data);
	cr_expect_eq(mm_journal_decode(buf.data, buf.len, &out, &used), MM_ERR_FORMAT);

	/* a NUL inside a string */
	mm_buf_reset(&buf);
	cr_assert_eq(mm_journal_encode(&in, &buf), 0);
	buf.data[name_off + 2 + 1] = '\0';
	reseal(buf.data);
	cr_expect_eq(mm_journal_decode(buf.data, buf.len, &out, &used), MM_ERR_FORMAT);

	/* a string length running past the record */
	mm_buf_reset(&buf);
	cr_assert_eq(mm_journal_encode(&in, &buf), 0);
	buf.data[name_off] = 0xff;
	buf.data[name_off + 1] = 0x0f;
	reseal(buf.data);
	cr_expect_eq(mm_journal_decode(buf.data, buf.len, &out, &used), MM_ERR_FORMAT);

	/* a data length running past the record */
	mm_buf_reset(&buf);
	cr_assert_eq(mm_journal_encode(&in, &buf), 0);
	mm_set_u32(buf.data + buf.len - 4, 1);
	reseal(buf.data);
	cr_expect_eq(mm_journal_decode(buf.data, buf.len, &out, &used), MM_ERR_FORMAT);
}

/* "never a partial result" (journal.h, STYLE.md): a failed decode leaves
   *rec_r as it was or zeroed, never half filled. */
Test(journal, failed_decode_leaves_no_partial_result)
{
	static const struct mm_journal_rec zero;
	struct mm_journal_rec in, out, before;
	size_t used;

	full_rec(&in);
	cr_assert_eq(mm_journal_encode(&in, &buf), 0);

	buf.data[MM_JOURNAL_STATUS_OFF] = 'X';	/* bad status */
	memset(&out, 0xa5, sizeof(out));
	before = out;
	cr_assert_eq(mm_journal_decode(buf.data, buf.len, &out, &used), MM_ERR_FORMAT);
	cr_expect(memcmp(&out, &before, sizeof(out)) == 0 ||
		  memcmp(&out, &zero, sizeof(out)) == 0,
		  "bad status: rec half filled (op %d, status %#x)", out.op, out.status);

	buf.data[MM_JOURNAL_STATUS_OFF] = MM_REC_COMMITTED;
	buf.data[10] = 0;			/* bad op */
	reseal(buf.data);
	memset(&out, 0xa5, sizeof(out));
	cr_assert_eq(mm_journal_decode(buf.data, buf.len, &out, &used), MM_ERR_FORMAT);
	cr_expect(memcmp(&out, &before, sizeof(out)) == 0 ||
		  memcmp(&out, &zero, sizeof(out)) == 0,
		  "bad op: rec half filled (op %d, status %#x)", out.op, out.status);
}

Test(journal, long_strings_are_too_big)
{
	char *s = malloc(4097);
	struct mm_journal_rec in, out;
	size_t used;

	memset(s, 'a', 4096);
	s[4096] = '\0';
	for (int field = 0; field < 5; field++) {
		full_rec(&in);
		const char **f[5] = { &in.account, &in.folder, &in.name,
				      &in.new_folder, &in.new_name };
		*f[field] = s;
		mm_buf_reset(&buf);
		cr_expect_eq(mm_journal_encode(&in, &buf), MM_ERR_TOOBIG, "field %d", field);
		cr_expect_eq(buf.len, 0, "field %d: nothing appended", field);
	}
	/* 4095 bytes is the limit itself */
	s[4095] = '\0';
	full_rec(&in);
	in.name = s;
	in.new_name = s;
	mm_buf_reset(&buf);
	cr_assert_eq(mm_journal_encode(&in, &buf), 0);
	cr_assert_eq(mm_journal_decode(buf.data, buf.len, &out, &used), 0);
	cr_expect_eq(strlen(out.name), 4095);
	cr_expect_str_eq(out.new_name, s);
	free(s);
}

Test(journal, oversize_data_is_too_big)
{
	struct mm_journal_rec in;

	full_rec(&in);
	in.data_len = MM_JOURNAL_DATA_MAX + 1;	/* refused before data is read */
	cr_expect_eq(mm_journal_encode(&in, &buf), MM_ERR_TOOBIG);
	cr_expect_eq(buf.len, 0);
}

Test(journal, largest_data_round_trips)
{
	unsigned char *data = malloc(MM_JOURNAL_DATA_MAX);
	struct mm_journal_rec in, out;
	size_t used;

	for (size_t i = 0; i < MM_JOURNAL_DATA_MAX; i++)
		data[i] = (unsigned char)(i * 31 + 7);
	full_rec(&in);
	in.data = data;
	in.data_len = MM_JOURNAL_DATA_MAX;
	cr_assert_eq(mm_journal_encode(&in, &buf), 0);
	cr_assert_eq(mm_journal_decode(buf.data, buf.len, &out, &used), 0);
	cr_expect_eq(out.data_len, MM_JOURNAL_DATA_MAX);
	cr_expect(memcmp(out.data, data, MM_JOURNAL_DATA_MAX) == 0);
	free(data);
}

Test(journal, op_names_round_trip)
{
	static const char *const names[] = {
		[MM_OP_DELIVER] = "deliver", [MM_OP_MOVE] = "move",
		[MM_OP_FLAGS] = "flags", [MM_OP_EXPUNGE] = "expunge",
		[MM_OP_COPY] = "copy", [MM_OP_FOLDER_CREATE] = "folder_create",
		[MM_OP_FOLDER_RENAME] = "folder_rename",
		[MM_OP_FOLDER_DELETE] = "folder_delete", [MM_OP_META] = "meta",
	};

	for (int op = MM_OP_DELIVER; op <= MM_OP_LAST; op++) {
		cr_expect_str_eq(mm_op_str((enum mm_op)op), names[op]);
		cr_expect_eq(mm_op_parse(mm_op_str((enum mm_op)op)), op);
	}
	cr_expect_str_eq(mm_op_str(0), "unknown");
	cr_expect_str_eq(mm_op_str(MM_OP_LAST + 1), "unknown");
	cr_expect_str_eq(mm_op_str((enum mm_op)-1), "unknown");
	cr_expect_eq(mm_op_parse(""), 0);
	cr_expect_eq(mm_op_parse("unknown"), 0);
	cr_expect_eq(mm_op_parse("Deliver"), 0);
	cr_expect_eq(mm_op_parse("deliver "), 0);
}

Test(journal, error_strings)
{
	static const int errs[] = { MM_ERR_TRUNCATED, MM_ERR_MAGIC, MM_ERR_VERSION,
				    MM_ERR_CHECKSUM, MM_ERR_FORMAT, MM_ERR_TOOBIG };

	cr_expect_str_eq(mm_strerror(0), "no error");
	cr_expect_str_eq(mm_strerror(MM_ERR_CHECKSUM), "checksum mismatch");
	for (size_t i = 0; i < sizeof(errs) / sizeof(errs[0]); i++) {
		cr_expect_str_neq(mm_strerror(errs[i]), "unknown error");
		for (size_t k = 0; k < i; k++)
			cr_expect_str_neq(mm_strerror(errs[i]), mm_strerror(errs[k]));
	}
	cr_expect_str_eq(mm_strerror(-99), "unknown error");
}

Test(journal, hash_hex)
{
	uint8_t h[16];
	char out[33];

	for (int i = 0; i < 16; i++)
		h[i] = (uint8_t)(i * 0x11);
	mm_hash_hex(h, out);
	cr_expect_str_eq(out, "00112233445566778899aabbccddeeff");
}
