/* SPDX-License-Identifier: MIT
 * journal.c - record framing: a 24-byte header (magic, length, version,
 * status, op, checksum) and a body of fixed fields and counted strings.
 * Writes version 2; reads 1 (no epoch) and 2. */
#include <string.h>
#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>
#include "journal.h"

/* header:  0 magic u32 | 4 length u32 | 8 version u8 | 9 status u8 |
 *         10 op u8 | 11 sub u4 new_sub u4 | 12 rflags u32 | 16 xxh3-64 u64
 * The checksum covers every byte but itself and the status byte, so the
 * status can be set in place after the record is written.
 * body: lsn, time, size, mtime u64 | mode, uid, gid, 0 u32 | hash 16 bytes
 *       | (version 2) epoch u64 | 5 strings | data */
#define BODY_FIXED_V1 64
#define BODY_FIXED 72

static uint64_t rec_checksum(const unsigned char *p, size_t len)
{
	XXH3_state_t st;
	uint64_t h;

	XXH3_64bits_reset(&st);
	XXH3_64bits_update(&st, p, MM_JOURNAL_STATUS_OFF);
	XXH3_64bits_update(&st, p + MM_JOURNAL_STATUS_OFF + 1, 16 - MM_JOURNAL_STATUS_OFF - 1);
	XXH3_64bits_update(&st, p + MM_JOURNAL_HDR_SIZE, len - MM_JOURNAL_HDR_SIZE);
	h = XXH3_64bits_digest(&st);
	return h;
}

const char *mm_strerror(int err)
{
	switch (err) {
	case 0: return "no error";
	case MM_ERR_TRUNCATED: return "truncated record";
	case MM_ERR_MAGIC: return "bad record magic";
	case MM_ERR_VERSION: return "unknown record version";
	case MM_ERR_CHECKSUM: return "checksum mismatch";
	case MM_ERR_FORMAT: return "malformed record";
	case MM_ERR_TOOBIG: return "record too large";
	}
	return "unknown error";
}

static const char *const op_names[] = {
	[MM_OP_DELIVER] = "deliver", [MM_OP_MOVE] = "move",
	[MM_OP_FLAGS] = "flags", [MM_OP_EXPUNGE] = "expunge",
	[MM_OP_COPY] = "copy", [MM_OP_FOLDER_CREATE] = "folder_create",
	[MM_OP_FOLDER_RENAME] = "folder_rename",
	[MM_OP_FOLDER_DELETE] = "folder_delete", [MM_OP_META] = "meta",
};

const char *mm_op_str(enum mm_op op)
{
	if (op < MM_OP_DELIVER || op > MM_OP_LAST)
		return "unknown";
	return op_names[op];
}

enum mm_op mm_op_parse(const char *s)
{
	for (int op = MM_OP_DELIVER; op <= MM_OP_LAST; op++)
		if (strcmp(op_names[op], s) == 0)
			return (enum mm_op)op;
	return 0;
}

static void put_str(struct mm_buf *b, const char *s)
{
	size_t n = s != NULL ? strlen(s) : 0;

	mm_buf_put_u16(b, (uint16_t)n);
	mm_buf_append(b, s != NULL ? s : "", n);
	mm_buf_put_u8(b, 0);
}

int mm_journal_encode(const struct mm_journal_rec *rec, struct mm_buf *out)
{
	return mm_journal_encode_as(rec, MM_JOURNAL_VERSION, out);
}

int mm_journal_encode_as(const struct mm_journal_rec *rec, unsigned int version,
			 struct mm_buf *out)
{
	const char *strs[5] = { rec->account, rec->folder, rec->name,
				rec->new_folder, rec->new_name };
	size_t start = out->len, len;

	if (version < MM_JOURNAL_VERSION_MIN || version > MM_JOURNAL_VERSION)
		return MM_ERR_VERSION;
	for (int i = 0; i < 5; i++)
		if (strs[i] != NULL && strlen(strs[i]) > 4095)
			return MM_ERR_TOOBIG;
	if (rec->data_len > MM_JOURNAL_DATA_MAX)
		return MM_ERR_TOOBIG;
	mm_buf_put_u32(out, MM_JOURNAL_REC_MAGIC);
	mm_buf_put_u32(out, 0);		/* length, below */
	mm_buf_put_u8(out, (uint8_t)version);
	mm_buf_put_u8(out, rec->status != 0 ? rec->status : MM_REC_PENDING);
	mm_buf_put_u8(out, (uint8_t)rec->op);
	mm_buf_put_u8(out, (uint8_t)((rec->sub & 0xf) | (rec->new_sub & 0xf) << 4));
	mm_buf_put_u32(out, rec->rflags);
	mm_buf_put_u64(out, 0);		/* checksum, below */
	mm_buf_put_u64(out, rec->lsn);
	mm_buf_put_u64(out, rec->time_ns);
	mm_buf_put_u64(out, rec->size);
	mm_buf_put_u64(out, (uint64_t)rec->mtime_ns);
	mm_buf_put_u32(out, rec->mode);
	mm_buf_put_u32(out, rec->uid);
	mm_buf_put_u32(out, rec->gid);
	mm_buf_put_u32(out, 0);
	mm_buf_append(out, rec->hash, 16);
	if (version >= 2)
		mm_buf_put_u64(out, rec->epoch);
	for (int i = 0; i < 5; i++)
		put_str(out, strs[i]);
	mm_buf_put_u32(out, rec->data_len);
	mm_buf_append(out, rec->data, rec->data_len);
	len = out->len - start;
	mm_set_u32(out->data + start + 4, (uint32_t)len);
	mm_set_u64(out->data + start + 16, rec_checksum(out->data + start, len));
	return 0;
}

static bool get_str(struct mm_rbuf *r, const char **s_r)
{
	const unsigned char *p;
	uint16_t n;

	if (!mm_rbuf_u16(r, &n) || !mm_rbuf_bytes(r, (size_t)n + 1, &p))
		return false;
	if (p[n] != '\0' || memchr(p, '\0', n) != NULL) {
		r->bad = true;
		return false;
	}
	*s_r = (const char *)p;
	return true;
}

int mm_journal_decode(const unsigned char *data, size_t size,
		      struct mm_journal_rec *rec, size_t *used_r)
{
	struct mm_rbuf r;
	const unsigned char *p;
	uint32_t len, pad;
	uint64_t mtime;
	uint8_t version;

	if (size < MM_JOURNAL_HDR_SIZE)
		return MM_ERR_TRUNCATED;
	if (mm_get_u32(data) != MM_JOURNAL_REC_MAGIC)
		return MM_ERR_MAGIC;
	len = mm_get_u32(data + 4);
	if (len > MM_JOURNAL_REC_MAX)
		return MM_ERR_TOOBIG;
	if (len < MM_JOURNAL_HDR_SIZE + BODY_FIXED_V1)
		return MM_ERR_FORMAT;
	if (size < len)
		return MM_ERR_TRUNCATED;
	if (mm_get_u64(data + 16) != rec_checksum(data, len))
		return MM_ERR_CHECKSUM;
	version = data[8];
	if (version < MM_JOURNAL_VERSION_MIN || version > MM_JOURNAL_VERSION)
		return MM_ERR_VERSION;
	/* validate before touching rec: never a partial result */
	if (data[10] < MM_OP_DELIVER || data[10] > MM_OP_LAST ||
	    (data[9] != MM_REC_PENDING && data[9] != MM_REC_COMMITTED &&
	     data[9] != MM_REC_ABORTED))
		return MM_ERR_FORMAT;
	memset(rec, 0, sizeof(*rec));
	rec->status = data[9];
	rec->op = data[10];
	rec->sub = data[11] & 0xf;
	rec->new_sub = data[11] >> 4;
	rec->rflags = mm_get_u32(data + 12);
	r.p = data + MM_JOURNAL_HDR_SIZE;
	r.end = data + len;
	r.bad = false;
	mm_rbuf_u64(&r, &rec->lsn);
	mm_rbuf_u64(&r, &rec->time_ns);
	mm_rbuf_u64(&r, &rec->size);
	mm_rbuf_u64(&r, &mtime);
	rec->mtime_ns = (int64_t)mtime;
	mm_rbuf_u32(&r, &rec->mode);
	mm_rbuf_u32(&r, &rec->uid);
	mm_rbuf_u32(&r, &rec->gid);
	mm_rbuf_u32(&r, &pad);
	if (mm_rbuf_bytes(&r, 16, &p))
		memcpy(rec->hash, p, 16);
	if (version >= 2)
		mm_rbuf_u64(&r, &rec->epoch);
	get_str(&r, &rec->account);
	get_str(&r, &rec->folder);
	get_str(&r, &rec->name);
	get_str(&r, &rec->new_folder);
	get_str(&r, &rec->new_name);
	mm_rbuf_u32(&r, &rec->data_len);
	if (!r.bad && mm_rbuf_bytes(&r, rec->data_len, &p))
		rec->data = rec->data_len > 0 ? p : NULL;
	if (r.bad || r.p != r.end) {
		memset(rec, 0, sizeof(*rec));
		return MM_ERR_FORMAT;
	}
	*used_r = len;
	return 0;
}

void mm_hash_hex(const uint8_t hash[16], char out[33])
{
	static const char hex[] = "0123456789abcdef";

	for (int i = 0; i < 16; i++) {
		out[2 * i] = hex[hash[i] >> 4];
		out[2 * i + 1] = hex[hash[i] & 0xf];
	}
	out[32] = '\0';
}
