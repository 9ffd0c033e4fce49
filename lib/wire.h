/* SPDX-License-Identifier: MIT
 * wire.h - the replication wire format: checksummed, optionally zstd
 * compressed frames carrying one message each, their encoder and a
 * streaming decoder. Pure; sockets and TLS belong to the replicator. */
#ifndef MM_WIRE_H
#define MM_WIRE_H
#include <stddef.h>
#include <stdint.h>
#include "buf.h"

/* header:  0 magic "MMWF" | 4 version u8 | 5 type u8 | 6 flags u8 |
 *          7 reserved u8 (0) | 8 wire_len u32 | 12 raw_len u32 |
 *         16 XXH3-64 of bytes 0..15 and then the wire payload
 * Integers are little-endian. raw_len == wire_len unless MM_WIRE_F_ZSTD. */
#define MM_WIRE_VERSION 1
#define MM_WIRE_HDR_SIZE 24
#define MM_WIRE_F_ZSTD 0x1		/* the payload is one zstd frame */
#define MM_WIRE_PAYLOAD_MAX (80U << 20)	/* raw_len; a 64 MiB record fits */
#define MM_WIRE_CHUNK_MAX (1U << 20)	/* DATA chunk */
#define MM_WIRE_NAME_MAX 255
#define MM_WIRE_TEXT_MAX 1024

/* Payloads: str is u16 length + bytes (no NUL), blob is u32 length + bytes.
   Trailing bytes after the fields are an error. */
enum mm_wire_type {
	MM_WIRE_HELLO = 1,	/* u16 version, str name: client, after TLS */
	MM_WIRE_WELCOME,	/* u16 version, str name, u64 lsn: resume here */
	MM_WIRE_RECORD,		/* u64 lsn, blob record, u64 content_len */
	MM_WIRE_DATA,		/* u64 lsn, u64 offset, blob chunk */
	MM_WIRE_ACK,		/* u64 lsn: all <= lsn durably applied */
	MM_WIRE_PING,		/* u64 nonce */
	MM_WIRE_PONG,		/* u64 nonce */
	MM_WIRE_ERROR,		/* u32 code, str text */
	MM_WIRE_DIGEST,		/* u64 count, 16 bytes digest, str text (folder) */
	MM_WIRE_INVENTORY,	/* u32 code, str text (folder), blob0 entries */
	MM_WIRE_RESYNCED,	/* u32 code, u64 count, str text (account) */
	MM_WIRE_QUERY,		/* u32 code, str text, blob0 args: mailmesh-fsck asks */
	MM_WIRE_ANSWER,		/* u32 code, str text, blob0 body: the store answers */
	MM_WIRE_REFUSED,	/* u64 lsn, u32 code, str text: the record at lsn
				   was not applied (code: enum mm_wire_refused);
				   the ACKs that cover it still follow */
	MM_WIRE_TYPE_LAST = MM_WIRE_REFUSED,
};

/* REFUSED codes. */
enum mm_wire_refused {
	MM_WIRE_REFUSED_STALE = 1,	/* a stale epoch: written after a newer epoch
					   of its account began (split brain) */
	MM_WIRE_REFUSED_LAST = MM_WIRE_REFUSED_STALE,
};

enum mm_wire_err {
	MM_WIRE_ERR_MAGIC = -1,
	MM_WIRE_ERR_VERSION = -2,
	MM_WIRE_ERR_FLAGS = -3,		/* unknown flag, nonzero reserved */
	MM_WIRE_ERR_TOOBIG = -4,
	MM_WIRE_ERR_CHECKSUM = -5,
	MM_WIRE_ERR_ZSTD = -6,		/* bad frame, or not raw_len bytes */
	MM_WIRE_ERR_TYPE = -7,
	MM_WIRE_ERR_MALFORMED = -8,	/* payload fields */
};

/* INVENTORY codes: the receiver's answer to a folder's DIGEST. */
enum mm_wire_inv {
	MM_WIRE_INV_DIFFERS = 0,	/* blob lists what the receiver has */
	MM_WIRE_INV_SAME = 1,		/* the same digest: nothing to send */
	MM_WIRE_INV_ALL = 2,		/* differs, list too large: send all */
};
/* blob0: like blob, but may be empty (INVENTORY only). */
#define MM_WIRE_INVENTORY_MAX (64U << 20)

/* QUERY codes: mailmesh-fsck's questions to a peer's replicator, on a
   connection of their own (TLS with the asking store's certificate; the
   first frame is OPEN instead of HELLO). One answer per question, in order.
   text is the account (OPEN: the asking store's name). */
enum mm_wire_query {
	MM_WIRE_Q_OPEN = 1,	/* args: u16 protocol version */
	MM_WIRE_Q_FOLDERS,	/* args: u8 flags. Answer: u8 mode, then per folder
				   (mm_wire_qfolder_put) its digest */
	MM_WIRE_Q_LIST,		/* args: u8 flags, str folder. Answer: the folder's
				   messages and metadata files (mm_wire_qentry_put) */
	MM_WIRE_Q_FETCH,	/* args: str folder, str path ("cur/NAME", a metadata
				   file's name). Answer: mm_wire_qfile_put, then content */
	MM_WIRE_Q_RETAINED,	/* args: u8 flags, str folder, u64 since_ns. Answer:
				   the expunged messages this store keeps
				   (mm_wire_qretained_put), of that folder with
				   MM_WIRE_QF_FOLDER, expunged at or after since_ns */
	MM_WIRE_Q_FETCH_RETAINED, /* args: one mm_wire_qretained (size, mtime 0).
				   Answer: as FETCH */
	MM_WIRE_Q_ROLE,		/* no args. Answer: the account's role here, epoch,
				   journal head, receive cursors (repl-role.h) */
	MM_WIRE_Q_LAST = MM_WIRE_Q_ROLE,
};
#define MM_WIRE_QF_CONTENT 0x1	/* digests and lists with content hashes */
#define MM_WIRE_QF_FOLDER 0x2	/* RETAINED: of one folder only */
/* ANSWER codes */
enum mm_wire_answer {
	MM_WIRE_A_OK = 0,
	MM_WIRE_A_NO_ACCOUNT,	/* no such account in this store */
	MM_WIRE_A_NOT_FOUND,	/* no such folder or file */
	MM_WIRE_A_FAILED,	/* text says why */
	MM_WIRE_A_LAST = MM_WIRE_A_FAILED,
};
#define MM_WIRE_A_MODE_RW 0	/* the account is read-write here (its active store) */
#define MM_WIRE_A_MODE_RO 1
/* A QUERY's args or an ANSWER's body: up to MM_WIRE_INVENTORY_MAX. */

/* One message. Fields a type does not carry are 0 or NULL.
   name: HELLO, WELCOME (1..MM_WIRE_NAME_MAX bytes, no NUL).
   lsn: WELCOME (resume point), RECORD, DATA, ACK.
   blob: RECORD (one mm_journal_encode() record, 1..MM_JOURNAL_REC_MAX
   bytes, not decoded here), DATA (chunk, 1..MM_WIRE_CHUNK_MAX bytes).
   content_len: RECORD, bytes of content following in DATA frames.
   text: ERROR (0..MM_WIRE_TEXT_MAX bytes, no NUL); DIGEST, INVENTORY
   (a folder below the account, 0..MM_WIRE_TEXT_MAX); RESYNCED (account,
   1..MM_WIRE_TEXT_MAX).
   content_len: DIGEST (entries in the folder), RESYNCED (records applied).
   code: ERROR, INVENTORY (enum mm_wire_inv), RESYNCED (0 complete,
   1 incomplete: nothing was removed), REFUSED (enum mm_wire_refused).
   REFUSED: lsn (1..), code, text (why, 0..MM_WIRE_TEXT_MAX).
   digest: DIGEST. blob: INVENTORY (0..MM_WIRE_INVENTORY_MAX bytes of
   entries, see mm_wire_inventory_put()).
   QUERY: code (enum mm_wire_query), text (0..MM_WIRE_TEXT_MAX), blob (args,
   0..MM_WIRE_INVENTORY_MAX). ANSWER: code (enum mm_wire_answer), text
   (0..MM_WIRE_TEXT_MAX), blob (body, 0..MM_WIRE_INVENTORY_MAX). */
struct mm_wire_msg {
	enum mm_wire_type type;
	uint16_t version;
	const char *name;
	size_t name_len;
	uint64_t lsn;
	uint64_t offset, content_len, nonce;
	const unsigned char *blob;
	size_t blob_len;
	uint32_t code;
	uint8_t digest[16];
	const char *text;
	size_t text_len;
};

const char *mm_wire_strerror(int err);
/* "hello", "welcome", ..., or "unknown". */
const char *mm_wire_type_str(enum mm_wire_type type);

/* Appends msg as one frame to out. Strings are taken as name_len/text_len
   bytes (no NUL needed). level is a zstd level, 0 = never compress; the
   payload goes compressed only when that makes it smaller. Returns 0,
   MM_WIRE_ERR_TOOBIG (a string, record or chunk over its limit),
   MM_WIRE_ERR_MALFORMED (empty name, record or chunk; NUL in a string) or
   MM_WIRE_ERR_TYPE; on error nothing is appended. A NULL pointer with a
   nonzero length is a bug (mm_assert). Any thread. */
int mm_wire_encode(struct mm_buf *out, const struct mm_wire_msg *msg,
		   int level);

/* One entry of an INVENTORY blob: a message the receiver has in the
   folder's new/ ('n') or cur/ ('c'), its name and size. */
struct mm_wire_inv_entry {
	char sub;
	const char *name;	/* not NUL-terminated: name_len bytes */
	size_t name_len;	/* 1..MM_WIRE_NAME_MAX, no '/' or NUL */
	uint64_t size;
};
/* Appends an entry (u8 sub, u16 length, name, u64 size). */
void mm_wire_inventory_put(struct mm_buf *b, const struct mm_wire_inv_entry *e);
/* Reads the entry at *pos of blob. 1 with *e_r set (borrowing from blob)
   and *pos advanced, 0 at the end, MM_WIRE_ERR_MALFORMED. */
int mm_wire_inventory_next(const unsigned char *blob, size_t len, size_t *pos,
			   struct mm_wire_inv_entry *e_r);

/* ANSWER bodies for fsck. Each _next() reads the item at *pos of blob
   and returns 1 (item set, borrowing from blob, *pos advanced), 0 at the
   end, or MM_WIRE_ERR_MALFORMED (bad lengths, a NUL, a '/' where none may
   be, an unknown kind). */
struct mm_wire_qfolder {
	const char *name;	/* below the account; "" the root; no NUL */
	size_t name_len;	/* 0..MM_WIRE_TEXT_MAX */
	uint8_t subs;		/* which of cur/new/tmp are there: bits 1, 2, 4 */
	uint64_t count;
	uint8_t digest[16];
};
void mm_wire_qfolder_put(struct mm_buf *b, const struct mm_wire_qfolder *f);
int mm_wire_qfolder_next(const unsigned char *blob, size_t len, size_t *pos,
			 struct mm_wire_qfolder *f_r);
struct mm_wire_qentry {
	char kind;		/* 'M' message, 'X' metadata file */
	uint8_t sub;		/* M: 1 new, 2 cur; X: 0 */
	const char *name;	/* 1..MM_WIRE_NAME_MAX bytes, no NUL; M: no '/' */
	size_t name_len;
	uint64_t size;
	uint8_t hashed;		/* 0 or 1: hash is set */
	uint8_t hash[16];
};
void mm_wire_qentry_put(struct mm_buf *b, const struct mm_wire_qentry *e);
int mm_wire_qentry_next(const unsigned char *blob, size_t len, size_t *pos,
			struct mm_wire_qentry *e_r);
/* An expunged message a replica keeps (STATE/expunged). */
struct mm_wire_qretained {
	const char *folder;	/* below the account, "" the root; no NUL, no ".." */
	size_t folder_len;	/* 0..MM_WIRE_TEXT_MAX */
	uint8_t sub;		/* 1 new, 2 cur */
	const char *name;	/* 1..MM_WIRE_NAME_MAX bytes, no '/' or NUL, not "." or ".." */
	size_t name_len;
	uint64_t expunged_ns;	/* the expunge record's time */
	uint64_t size;
	int64_t mtime_ns;	/* the message's INTERNALDATE */
};
void mm_wire_qretained_put(struct mm_buf *b, const struct mm_wire_qretained *e);
int mm_wire_qretained_next(const unsigned char *blob, size_t len, size_t *pos,
			   struct mm_wire_qretained *e_r);
/* A fetched file: its attributes, then size bytes of content. */
struct mm_wire_qfile {
	uint64_t size;
	int64_t mtime_ns;
	uint32_t mode, uid, gid;
	uint8_t hash[16];
};
void mm_wire_qfile_put(struct mm_buf *b, const struct mm_wire_qfile *f);
/* 0 with *f_r and *content_r (size bytes, borrowed), or MALFORMED. */
int mm_wire_qfile_get(const unsigned char *blob, size_t len, struct mm_wire_qfile *f_r,
		      const unsigned char **content_r);

/* A streaming decoder: feed it bytes as they arrive, then call _next()
   until it returns 0; it then holds at most one partial frame. One
   thread at a time per decoder. */
struct mm_wire_decoder *mm_wire_decoder_new(void);
void mm_wire_decoder_free(struct mm_wire_decoder **dp);
/* Copies len bytes in. After an error they are dropped. */
void mm_wire_decoder_feed(struct mm_wire_decoder *d, const void *data,
			  size_t len);
/* Returns 1 with *msg_r set, 0 when more bytes are needed, or a negative
   MM_WIRE_ERR_*. Header errors (lengths over the limits too) come as soon
   as the 24 header bytes are in, without waiting for the payload. Errors
   are sticky: every later call returns the same one.
   *msg_r is only written on 1; its pointers borrow from d until the next
   _feed(), _next() or _free(); name and text are also NUL-terminated. */
int mm_wire_decoder_next(struct mm_wire_decoder *d,
			 struct mm_wire_msg *msg_r);

#endif
