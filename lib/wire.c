/* SPDX-License-Identifier: MIT
 * wire.c - replication frames: header checks, XXH3 checksum, zstd
 * payloads and message fields. Journal records travel as opaque blobs. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>
#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>
#include "journal.h"
#include "log.h"
#include "mem.h"
#include "wire.h"

/* Payloads below this never shrink enough to pay for a zstd frame. */
#define COMPRESS_MIN 64
/* Decoder buffers larger than this are released once idle, so a peer
   that once sent a 64 MiB record does not pin it for the connection. */
#define KEEP_MAX (4U << 20)

static const unsigned char wire_magic[4] = { 'M', 'M', 'W', 'F' };

struct mm_wire_decoder {
	struct mm_buf in;	/* fed bytes; in.data[pos..len) unconsumed */
	size_t pos;
	int err;		/* sticky, 0 until the first error */
	ZSTD_DCtx *dctx;
	unsigned char *raw;	/* decompressed payload */
	size_t raw_cap;
	struct mm_buf str;	/* NUL-terminated name or text */
};

const char *mm_wire_strerror(int err)
{
	switch (err) {
	case 0: return "no error";
	case MM_WIRE_ERR_MAGIC: return "bad frame magic";
	case MM_WIRE_ERR_VERSION: return "unknown frame version";
	case MM_WIRE_ERR_FLAGS: return "unknown frame flags";
	case MM_WIRE_ERR_TOOBIG: return "frame too large";
	case MM_WIRE_ERR_CHECKSUM: return "frame checksum mismatch";
	case MM_WIRE_ERR_ZSTD: return "bad compressed payload";
	case MM_WIRE_ERR_TYPE: return "unknown message type";
	case MM_WIRE_ERR_MALFORMED: return "malformed message";
	}
	return "unknown error";
}

static const char *const type_names[] = {
	[MM_WIRE_HELLO] = "hello", [MM_WIRE_WELCOME] = "welcome",
	[MM_WIRE_RECORD] = "record", [MM_WIRE_DATA] = "data",
	[MM_WIRE_ACK] = "ack", [MM_WIRE_PING] = "ping",
	[MM_WIRE_PONG] = "pong", [MM_WIRE_ERROR] = "error",
	[MM_WIRE_DIGEST] = "digest", [MM_WIRE_INVENTORY] = "inventory",
	[MM_WIRE_RESYNCED] = "resynced", [MM_WIRE_QUERY] = "query",
	[MM_WIRE_ANSWER] = "answer", [MM_WIRE_REFUSED] = "refused",
};

const char *mm_wire_type_str(enum mm_wire_type type)
{
	if (type < MM_WIRE_HELLO || type > MM_WIRE_TYPE_LAST)
		return "unknown";
	return type_names[type];
}

static uint64_t frame_checksum(const unsigned char *hdr,
			       const unsigned char *payload, size_t len)
{
	XXH3_state_t st;

	XXH3_64bits_reset(&st);
	XXH3_64bits_update(&st, hdr, 16);
	XXH3_64bits_update(&st, payload, len);
	return XXH3_64bits_digest(&st);
}

/* Checks a string against its limits; 0 or an MM_WIRE_ERR_*. */
static int check_str(const char *s, size_t len, size_t min, size_t max)
{
	mm_assert(s != NULL || len == 0);
	if (len > max)
		return MM_WIRE_ERR_TOOBIG;
	if (len < min || (len > 0 && memchr(s, '\0', len) != NULL))
		return MM_WIRE_ERR_MALFORMED;
	return 0;
}

static int check_blob(const unsigned char *p, size_t len, size_t max)
{
	mm_assert(p != NULL || len == 0);
	if (len > max)
		return MM_WIRE_ERR_TOOBIG;
	return len == 0 ? MM_WIRE_ERR_MALFORMED : 0;
}

static int check_msg(const struct mm_wire_msg *m)
{
	switch (m->type) {
	case MM_WIRE_HELLO:
	case MM_WIRE_WELCOME:
		return check_str(m->name, m->name_len, 1, MM_WIRE_NAME_MAX);
	case MM_WIRE_RECORD:
		return check_blob(m->blob, m->blob_len, MM_JOURNAL_REC_MAX);
	case MM_WIRE_DATA:
		return check_blob(m->blob, m->blob_len, MM_WIRE_CHUNK_MAX);
	case MM_WIRE_ACK:
	case MM_WIRE_PING:
	case MM_WIRE_PONG:
		return 0;
	case MM_WIRE_ERROR:
	case MM_WIRE_DIGEST:
		return check_str(m->text, m->text_len, 0, MM_WIRE_TEXT_MAX);
	case MM_WIRE_INVENTORY:
		mm_assert(m->blob != NULL || m->blob_len == 0);
		if (m->blob_len > MM_WIRE_INVENTORY_MAX)
			return MM_WIRE_ERR_TOOBIG;
		return m->code > MM_WIRE_INV_ALL ? MM_WIRE_ERR_MALFORMED :
			check_str(m->text, m->text_len, 0, MM_WIRE_TEXT_MAX);
	case MM_WIRE_RESYNCED:
		return check_str(m->text, m->text_len, 1, MM_WIRE_TEXT_MAX);
	case MM_WIRE_REFUSED:
		if (m->lsn == 0 || m->code < MM_WIRE_REFUSED_STALE ||
		    m->code > MM_WIRE_REFUSED_LAST)
			return MM_WIRE_ERR_MALFORMED;
		return check_str(m->text, m->text_len, 0, MM_WIRE_TEXT_MAX);
	case MM_WIRE_QUERY:
	case MM_WIRE_ANSWER:
		mm_assert(m->blob != NULL || m->blob_len == 0);
		if (m->blob_len > MM_WIRE_INVENTORY_MAX)
			return MM_WIRE_ERR_TOOBIG;
		if (m->type == MM_WIRE_QUERY ? m->code < MM_WIRE_Q_OPEN || m->code > MM_WIRE_Q_LAST :
		    m->code > MM_WIRE_A_LAST)
			return MM_WIRE_ERR_MALFORMED;
		return check_str(m->text, m->text_len, 0, MM_WIRE_TEXT_MAX);
	}
	return MM_WIRE_ERR_TYPE;
}

static void put_payload(struct mm_buf *b, const struct mm_wire_msg *m)
{
	switch (m->type) {
	case MM_WIRE_HELLO:
	case MM_WIRE_WELCOME:
		mm_buf_put_u16(b, m->version);
		mm_buf_put_u16(b, (uint16_t)m->name_len);
		mm_buf_append(b, m->name, m->name_len);
		if (m->type == MM_WIRE_WELCOME)
			mm_buf_put_u64(b, m->lsn);
		break;
	case MM_WIRE_RECORD:
		mm_buf_put_u64(b, m->lsn);
		mm_buf_put_u32(b, (uint32_t)m->blob_len);
		mm_buf_append(b, m->blob, m->blob_len);
		mm_buf_put_u64(b, m->content_len);
		break;
	case MM_WIRE_DATA:
		mm_buf_put_u64(b, m->lsn);
		mm_buf_put_u64(b, m->offset);
		mm_buf_put_u32(b, (uint32_t)m->blob_len);
		mm_buf_append(b, m->blob, m->blob_len);
		break;
	case MM_WIRE_ACK:
		mm_buf_put_u64(b, m->lsn);
		break;
	case MM_WIRE_PING:
	case MM_WIRE_PONG:
		mm_buf_put_u64(b, m->nonce);
		break;
	case MM_WIRE_ERROR:
		mm_buf_put_u32(b, m->code);
		mm_buf_put_u16(b, (uint16_t)m->text_len);
		mm_buf_append(b, m->text, m->text_len);
		break;
	case MM_WIRE_DIGEST:
		mm_buf_put_u64(b, m->content_len);
		mm_buf_append(b, m->digest, sizeof(m->digest));
		mm_buf_put_u16(b, (uint16_t)m->text_len);
		mm_buf_append(b, m->text, m->text_len);
		break;
	case MM_WIRE_INVENTORY:
	case MM_WIRE_QUERY:
	case MM_WIRE_ANSWER:
		mm_buf_put_u32(b, m->code);
		mm_buf_put_u16(b, (uint16_t)m->text_len);
		mm_buf_append(b, m->text, m->text_len);
		mm_buf_put_u32(b, (uint32_t)m->blob_len);
		mm_buf_append(b, m->blob, m->blob_len);
		break;
	case MM_WIRE_RESYNCED:
		mm_buf_put_u32(b, m->code);
		mm_buf_put_u64(b, m->content_len);
		mm_buf_put_u16(b, (uint16_t)m->text_len);
		mm_buf_append(b, m->text, m->text_len);
		break;
	case MM_WIRE_REFUSED:
		mm_buf_put_u64(b, m->lsn);
		mm_buf_put_u32(b, m->code);
		mm_buf_put_u16(b, (uint16_t)m->text_len);
		mm_buf_append(b, m->text, m->text_len);
		break;
	}
}

void mm_wire_inventory_put(struct mm_buf *b, const struct mm_wire_inv_entry *e)
{
	mm_assert(e->name_len > 0 && e->name_len <= MM_WIRE_NAME_MAX);
	mm_buf_put_u8(b, (uint8_t)e->sub);
	mm_buf_put_u16(b, (uint16_t)e->name_len);
	mm_buf_append(b, e->name, e->name_len);
	mm_buf_put_u64(b, e->size);
}

int mm_wire_inventory_next(const unsigned char *blob, size_t len, size_t *pos,
			   struct mm_wire_inv_entry *e_r)
{
	struct mm_rbuf r = { .p = blob + *pos, .end = blob + len };
	const unsigned char *name;
	uint8_t sub;
	uint16_t n;

	if (*pos >= len)
		return 0;
	if (!mm_rbuf_u8(&r, &sub) || (sub != 'n' && sub != 'c') || !mm_rbuf_u16(&r, &n) ||
	    n == 0 || n > MM_WIRE_NAME_MAX || !mm_rbuf_bytes(&r, n, &name) ||
	    memchr(name, '\0', n) != NULL || memchr(name, '/', n) != NULL ||
	    !mm_rbuf_u64(&r, &e_r->size))
		return MM_WIRE_ERR_MALFORMED;
	e_r->sub = (char)sub;
	e_r->name = (const char *)name;
	e_r->name_len = n;
	*pos = (size_t)(r.p - blob);
	return 1;
}

void mm_wire_qfolder_put(struct mm_buf *b, const struct mm_wire_qfolder *f)
{
	mm_assert(f->name_len <= MM_WIRE_TEXT_MAX);
	mm_buf_put_u16(b, (uint16_t)f->name_len);
	mm_buf_append(b, f->name, f->name_len);
	mm_buf_put_u8(b, f->subs);
	mm_buf_put_u64(b, f->count);
	mm_buf_append(b, f->digest, 16);
}

int mm_wire_qfolder_next(const unsigned char *blob, size_t len, size_t *pos,
			 struct mm_wire_qfolder *f_r)
{
	struct mm_rbuf r = { .p = blob + *pos, .end = blob + len };
	const unsigned char *name, *dg;
	uint16_t n;

	if (*pos >= len)
		return 0;
	if (!mm_rbuf_u16(&r, &n) || n > MM_WIRE_TEXT_MAX || !mm_rbuf_bytes(&r, n, &name) ||
	    memchr(name, '\0', n) != NULL || !mm_rbuf_u8(&r, &f_r->subs) || f_r->subs > 7 ||
	    !mm_rbuf_u64(&r, &f_r->count) || !mm_rbuf_bytes(&r, 16, &dg))
		return MM_WIRE_ERR_MALFORMED;
	f_r->name = (const char *)name;
	f_r->name_len = n;
	memcpy(f_r->digest, dg, 16);
	*pos = (size_t)(r.p - blob);
	return 1;
}

void mm_wire_qentry_put(struct mm_buf *b, const struct mm_wire_qentry *e)
{
	mm_assert(e->name_len > 0 && e->name_len <= MM_WIRE_NAME_MAX);
	mm_buf_put_u8(b, (uint8_t)e->kind);
	mm_buf_put_u8(b, e->sub);
	mm_buf_put_u16(b, (uint16_t)e->name_len);
	mm_buf_append(b, e->name, e->name_len);
	mm_buf_put_u64(b, e->size);
	mm_buf_put_u8(b, e->hashed ? 1 : 0);
	mm_buf_append(b, e->hash, 16);
}

int mm_wire_qentry_next(const unsigned char *blob, size_t len, size_t *pos,
			struct mm_wire_qentry *e_r)
{
	struct mm_rbuf r = { .p = blob + *pos, .end = blob + len };
	const unsigned char *name, *h;
	uint8_t kind;
	uint16_t n;

	if (*pos >= len)
		return 0;
	if (!mm_rbuf_u8(&r, &kind) || (kind != 'M' && kind != 'X') ||
	    !mm_rbuf_u8(&r, &e_r->sub) ||
	    (kind == 'M' ? e_r->sub != 1 && e_r->sub != 2 : e_r->sub != 0) ||
	    !mm_rbuf_u16(&r, &n) || n == 0 || n > MM_WIRE_NAME_MAX ||
	    !mm_rbuf_bytes(&r, n, &name) || memchr(name, '\0', n) != NULL ||
	    (kind == 'M' && memchr(name, '/', n) != NULL) || !mm_rbuf_u64(&r, &e_r->size) ||
	    !mm_rbuf_u8(&r, &e_r->hashed) || e_r->hashed > 1 || !mm_rbuf_bytes(&r, 16, &h))
		return MM_WIRE_ERR_MALFORMED;
	e_r->kind = (char)kind;
	e_r->name = (const char *)name;
	e_r->name_len = n;
	memcpy(e_r->hash, h, 16);
	*pos = (size_t)(r.p - blob);
	return 1;
}

void mm_wire_qretained_put(struct mm_buf *b, const struct mm_wire_qretained *e)
{
	mm_assert(e->folder_len <= MM_WIRE_TEXT_MAX);
	mm_assert(e->name_len > 0 && e->name_len <= MM_WIRE_NAME_MAX);
	mm_buf_put_u16(b, (uint16_t)e->folder_len);
	mm_buf_append(b, e->folder, e->folder_len);
	mm_buf_put_u8(b, e->sub);
	mm_buf_put_u16(b, (uint16_t)e->name_len);
	mm_buf_append(b, e->name, e->name_len);
	mm_buf_put_u64(b, e->expunged_ns);
	mm_buf_put_u64(b, e->size);
	mm_buf_put_u64(b, (uint64_t)e->mtime_ns);
}

static bool dots(const unsigned char *p, size_t n)
{
	return (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.');
}

int mm_wire_qretained_next(const unsigned char *blob, size_t len, size_t *pos,
			   struct mm_wire_qretained *e_r)
{
	struct mm_rbuf r = { .p = blob + *pos, .end = blob + len };
	const unsigned char *folder, *name;
	uint16_t fn, n;
	uint64_t mt;

	if (*pos >= len)
		return 0;
	if (!mm_rbuf_u16(&r, &fn) || fn > MM_WIRE_TEXT_MAX || !mm_rbuf_bytes(&r, fn, &folder) ||
	    memchr(folder, '\0', fn) != NULL || memmem(folder, fn, "..", 2) != NULL ||
	    (fn > 0 && folder[0] == '/') ||
	    !mm_rbuf_u8(&r, &e_r->sub) || (e_r->sub != 1 && e_r->sub != 2) ||
	    !mm_rbuf_u16(&r, &n) || n == 0 || n > MM_WIRE_NAME_MAX ||
	    !mm_rbuf_bytes(&r, n, &name) || memchr(name, '\0', n) != NULL ||
	    memchr(name, '/', n) != NULL || dots(name, n) ||
	    !mm_rbuf_u64(&r, &e_r->expunged_ns) || !mm_rbuf_u64(&r, &e_r->size) ||
	    !mm_rbuf_u64(&r, &mt))
		return MM_WIRE_ERR_MALFORMED;
	e_r->folder = (const char *)folder;
	e_r->folder_len = fn;
	e_r->name = (const char *)name;
	e_r->name_len = n;
	e_r->mtime_ns = (int64_t)mt;
	*pos = (size_t)(r.p - blob);
	return 1;
}

void mm_wire_qfile_put(struct mm_buf *b, const struct mm_wire_qfile *f)
{
	mm_buf_put_u64(b, f->size);
	mm_buf_put_u64(b, (uint64_t)f->mtime_ns);
	mm_buf_put_u32(b, f->mode);
	mm_buf_put_u32(b, f->uid);
	mm_buf_put_u32(b, f->gid);
	mm_buf_append(b, f->hash, 16);
}

int mm_wire_qfile_get(const unsigned char *blob, size_t len, struct mm_wire_qfile *f_r,
		      const unsigned char **content_r)
{
	struct mm_rbuf r = { .p = blob, .end = blob + len };
	const unsigned char *h;
	uint64_t mt;

	if (!mm_rbuf_u64(&r, &f_r->size) || !mm_rbuf_u64(&r, &mt) ||
	    !mm_rbuf_u32(&r, &f_r->mode) || !mm_rbuf_u32(&r, &f_r->uid) ||
	    !mm_rbuf_u32(&r, &f_r->gid) || !mm_rbuf_bytes(&r, 16, &h) ||
	    f_r->size != (uint64_t)(r.end - r.p))
		return MM_WIRE_ERR_MALFORMED;
	f_r->mtime_ns = (int64_t)mt;
	memcpy(f_r->hash, h, 16);
	*content_r = r.p;
	return 0;
}

/* Compresses len bytes at p in place when zstd makes them smaller.
   Returns the compressed size, or 0 to send them raw. */
static size_t compress_payload(unsigned char *p, size_t len, int level)
{
	ZSTD_CCtx *cctx;
	unsigned char *tmp;
	size_t n;

	if (level == 0 || len < COMPRESS_MIN)
		return 0;
	/* a destination one byte short of raw makes zstd give up as soon
	   as the frame would not be smaller */
	tmp = mm_malloc(len - 1);
	cctx = ZSTD_createCCtx();
	if (cctx == NULL)
		mm_panic("ZSTD_createCCtx() failed: out of memory");
	n = ZSTD_compressCCtx(cctx, tmp, len - 1, p, len, level);
	ZSTD_freeCCtx(cctx);
	if (ZSTD_isError(n))
		n = 0;
	else
		memcpy(p, tmp, n);
	free(tmp);
	return n;
}

int mm_wire_encode(struct mm_buf *out, const struct mm_wire_msg *msg,
		   int level)
{
	size_t start = out->len, raw_len, wire_len;
	unsigned char *hdr;
	uint8_t flags = 0;
	int ret;

	if ((ret = check_msg(msg)) < 0)
		return ret;
	mm_buf_append(out, wire_magic, sizeof(wire_magic));
	mm_buf_put_u8(out, MM_WIRE_VERSION);
	mm_buf_put_u8(out, (uint8_t)msg->type);
	mm_buf_put_u8(out, 0);		/* flags, below */
	mm_buf_put_u8(out, 0);		/* reserved */
	mm_buf_put_u32(out, 0);		/* wire_len, below */
	mm_buf_put_u32(out, 0);		/* raw_len, below */
	mm_buf_put_u64(out, 0);		/* checksum, below */
	put_payload(out, msg);
	raw_len = out->len - start - MM_WIRE_HDR_SIZE;
	/* check_msg() keeps every payload within the limit */
	mm_assert(raw_len <= MM_WIRE_PAYLOAD_MAX);
	wire_len = compress_payload(out->data + start + MM_WIRE_HDR_SIZE,
				    raw_len, level);
	if (wire_len > 0) {
		flags |= MM_WIRE_F_ZSTD;
		out->len = start + MM_WIRE_HDR_SIZE + wire_len;
		out->data[out->len] = '\0';
	} else {
		wire_len = raw_len;
	}
	hdr = out->data + start;
	hdr[6] = flags;
	mm_set_u32(hdr + 8, (uint32_t)wire_len);
	mm_set_u32(hdr + 12, (uint32_t)raw_len);
	mm_set_u64(hdr + 16, frame_checksum(hdr, hdr + MM_WIRE_HDR_SIZE,
					    wire_len));
	return 0;
}

struct mm_wire_decoder *mm_wire_decoder_new(void)
{
	struct mm_wire_decoder *d = mm_calloc(1, sizeof(*d));

	d->dctx = ZSTD_createDCtx();
	if (d->dctx == NULL)
		mm_panic("ZSTD_createDCtx() failed: out of memory");
	return d;
}

void mm_wire_decoder_free(struct mm_wire_decoder **dp)
{
	struct mm_wire_decoder *d = *dp;

	if (d == NULL)
		return;
	*dp = NULL;
	mm_buf_free(&d->in);
	mm_buf_free(&d->str);
	ZSTD_freeDCtx(d->dctx);
	free(d->raw);
	free(d);
}

/* Drops consumed bytes. Moving only once at least half the buffer is
   consumed keeps the copying linear in the bytes fed, however the stream
   is cut. Invalidates any message handed out. */
static void compact(struct mm_wire_decoder *d)
{
	size_t left = d->in.len - d->pos;

	if (left == 0 && d->in.cap > KEEP_MAX) {
		mm_buf_free(&d->in);
	} else if (d->pos > 0 && d->pos >= left) {
		memmove(d->in.data, d->in.data + d->pos, left);
		d->in.len = left;
		d->in.data[left] = '\0';
	} else {
		return;
	}
	d->pos = 0;
}

void mm_wire_decoder_feed(struct mm_wire_decoder *d, const void *data,
			  size_t len)
{
	if (d->err != 0 || len == 0)
		return;
	compact(d);
	mm_buf_append(&d->in, data, len);
}

/* The header checks that need no payload. Returns 0 or MM_WIRE_ERR_*. */
static int check_header(const unsigned char *h)
{
	uint32_t wire_len = mm_get_u32(h + 8), raw_len = mm_get_u32(h + 12);

	if (memcmp(h, wire_magic, sizeof(wire_magic)) != 0)
		return MM_WIRE_ERR_MAGIC;
	if (h[4] != MM_WIRE_VERSION)
		return MM_WIRE_ERR_VERSION;
	if ((h[6] & ~MM_WIRE_F_ZSTD) != 0 || h[7] != 0)
		return MM_WIRE_ERR_FLAGS;
	if (h[5] < MM_WIRE_HELLO || h[5] > MM_WIRE_TYPE_LAST)
		return MM_WIRE_ERR_TYPE;
	if (raw_len > MM_WIRE_PAYLOAD_MAX)
		return MM_WIRE_ERR_TOOBIG;
	if ((h[6] & MM_WIRE_F_ZSTD) == 0)
		return wire_len == raw_len ? 0 : MM_WIRE_ERR_MALFORMED;
	/* no zstd frame of raw_len bytes is larger than its bound, so
	   nothing bigger is ever buffered */
	return wire_len <= ZSTD_compressBound(raw_len) ? 0 : MM_WIRE_ERR_TOOBIG;
}

/* Decompresses into d->raw, which never grows past raw_len: a frame that
   holds more fails in zstd instead of allocating. */
static int decompress(struct mm_wire_decoder *d, const unsigned char *p,
		      size_t len, size_t raw_len)
{
	unsigned long long size;
	size_t n;

	/* exactly one frame: zstd would go on into a second one */
	if (ZSTD_findFrameCompressedSize(p, len) != len)
		return MM_WIRE_ERR_ZSTD;
	size = ZSTD_getFrameContentSize(p, len);
	if (size == ZSTD_CONTENTSIZE_ERROR ||
	    (size != ZSTD_CONTENTSIZE_UNKNOWN && size != raw_len))
		return MM_WIRE_ERR_ZSTD;
	if (d->raw == NULL || d->raw_cap < raw_len) {
		/* nothing to keep: free first rather than realloc's copy */
		free(d->raw);
		d->raw = mm_malloc(raw_len);
		d->raw_cap = raw_len;
	}
	n = ZSTD_decompressDCtx(d->dctx, d->raw, raw_len, p, len);
	if (ZSTD_isError(n) || n != raw_len)
		return MM_WIRE_ERR_ZSTD;
	return 0;
}

static bool get_str(struct mm_rbuf *r, struct mm_buf *str, size_t min,
		    size_t max, const char **s_r, size_t *len_r)
{
	const unsigned char *p;
	uint16_t n;

	if (!mm_rbuf_u16(r, &n) || !mm_rbuf_bytes(r, n, &p))
		return false;
	if (n < min || n > max || memchr(p, '\0', n) != NULL) {
		r->bad = true;
		return false;
	}
	mm_buf_reset(str);
	mm_buf_append(str, p, n);
	*s_r = (const char *)str->data;
	*len_r = n;
	return true;
}

static bool get_blob(struct mm_rbuf *r, size_t max,
		     const unsigned char **p_r, size_t *len_r)
{
	uint32_t n;

	if (!mm_rbuf_u32(r, &n))
		return false;
	if (n == 0 || n > max) {
		r->bad = true;
		return false;
	}
	if (!mm_rbuf_bytes(r, n, p_r))
		return false;
	*len_r = n;
	return true;
}

/* Decodes a payload into m. Returns 0 or MM_WIRE_ERR_MALFORMED. */
static int parse_payload(struct mm_wire_decoder *d, enum mm_wire_type type,
			 const unsigned char *p, size_t len,
			 struct mm_wire_msg *m)
{
	struct mm_rbuf r = { .p = p, .end = p + len };

	memset(m, 0, sizeof(*m));
	m->type = type;
	switch (type) {
	case MM_WIRE_HELLO:
	case MM_WIRE_WELCOME:
		mm_rbuf_u16(&r, &m->version);
		get_str(&r, &d->str, 1, MM_WIRE_NAME_MAX, &m->name,
			&m->name_len);
		if (type == MM_WIRE_WELCOME)
			mm_rbuf_u64(&r, &m->lsn);
		break;
	case MM_WIRE_RECORD:
		mm_rbuf_u64(&r, &m->lsn);
		get_blob(&r, MM_JOURNAL_REC_MAX, &m->blob, &m->blob_len);
		mm_rbuf_u64(&r, &m->content_len);
		break;
	case MM_WIRE_DATA:
		mm_rbuf_u64(&r, &m->lsn);
		mm_rbuf_u64(&r, &m->offset);
		get_blob(&r, MM_WIRE_CHUNK_MAX, &m->blob, &m->blob_len);
		break;
	case MM_WIRE_ACK:
		mm_rbuf_u64(&r, &m->lsn);
		break;
	case MM_WIRE_PING:
	case MM_WIRE_PONG:
		mm_rbuf_u64(&r, &m->nonce);
		break;
	case MM_WIRE_ERROR:
		mm_rbuf_u32(&r, &m->code);
		get_str(&r, &d->str, 0, MM_WIRE_TEXT_MAX, &m->text,
			&m->text_len);
		break;
	case MM_WIRE_DIGEST: {
		const unsigned char *dg;

		mm_rbuf_u64(&r, &m->content_len);
		if (mm_rbuf_bytes(&r, sizeof(m->digest), &dg))
			memcpy(m->digest, dg, sizeof(m->digest));
		get_str(&r, &d->str, 0, MM_WIRE_TEXT_MAX, &m->text, &m->text_len);
		break;
	}
	case MM_WIRE_INVENTORY:
	case MM_WIRE_QUERY:
	case MM_WIRE_ANSWER: {
		uint32_t n;

		mm_rbuf_u32(&r, &m->code);
		if (m->type == MM_WIRE_INVENTORY ? m->code > MM_WIRE_INV_ALL :
		    m->type == MM_WIRE_QUERY ? m->code < MM_WIRE_Q_OPEN || m->code > MM_WIRE_Q_LAST :
		    m->code > MM_WIRE_A_LAST)
			r.bad = true;
		get_str(&r, &d->str, 0, MM_WIRE_TEXT_MAX, &m->text, &m->text_len);
		if (mm_rbuf_u32(&r, &n)) {
			if (n > MM_WIRE_INVENTORY_MAX)
				r.bad = true;
			else if (mm_rbuf_bytes(&r, n, &m->blob))
				m->blob_len = n;
		}
		break;
	}
	case MM_WIRE_RESYNCED:
		mm_rbuf_u32(&r, &m->code);
		mm_rbuf_u64(&r, &m->content_len);
		get_str(&r, &d->str, 1, MM_WIRE_TEXT_MAX, &m->text, &m->text_len);
		break;
	case MM_WIRE_REFUSED:
		mm_rbuf_u64(&r, &m->lsn);
		mm_rbuf_u32(&r, &m->code);
		if (!r.bad && (m->lsn == 0 || m->code < MM_WIRE_REFUSED_STALE ||
			       m->code > MM_WIRE_REFUSED_LAST))
			r.bad = true;
		get_str(&r, &d->str, 0, MM_WIRE_TEXT_MAX, &m->text, &m->text_len);
		break;
	}
	return r.bad || r.p != r.end ? MM_WIRE_ERR_MALFORMED : 0;
}

static int decode_frame(struct mm_wire_decoder *d, struct mm_wire_msg *msg_r)
{
	size_t avail = d->in.len - d->pos, wire_len, raw_len;
	const unsigned char *h, *payload;
	struct mm_wire_msg msg;
	int ret;

	if (avail < MM_WIRE_HDR_SIZE)
		return 0;
	h = d->in.data + d->pos;
	if ((ret = check_header(h)) < 0)
		return ret;
	wire_len = mm_get_u32(h + 8);
	raw_len = mm_get_u32(h + 12);
	if (avail - MM_WIRE_HDR_SIZE < wire_len)
		return 0;
	payload = h + MM_WIRE_HDR_SIZE;
	if (mm_get_u64(h + 16) != frame_checksum(h, payload, wire_len))
		return MM_WIRE_ERR_CHECKSUM;
	if ((h[6] & MM_WIRE_F_ZSTD) != 0) {
		if ((ret = decompress(d, payload, wire_len, raw_len)) < 0)
			return ret;
		payload = d->raw;
	}
	if ((ret = parse_payload(d, h[5], payload, raw_len, &msg)) < 0)
		return ret;
	d->pos += MM_WIRE_HDR_SIZE + wire_len;
	*msg_r = msg;
	return 1;
}

int mm_wire_decoder_next(struct mm_wire_decoder *d, struct mm_wire_msg *msg_r)
{
	int ret;

	if (d->err != 0)
		return d->err;
	compact(d);
	if (d->raw_cap > KEEP_MAX) {
		free(d->raw);
		d->raw = NULL;
		d->raw_cap = 0;
	}
	ret = decode_frame(d, msg_r);
	if (ret < 0) {
		d->err = ret;
		mm_buf_free(&d->in);
		d->pos = 0;
	}
	return ret;
}
