/* SPDX-License-Identifier: MIT
 * buf.h - growable byte buffer for building strings and frames
 * [Dovecot str.h, Postfix VSTRING], and a bounds-checked reader. */
#ifndef MM_BUF_H
#define MM_BUF_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mm_buf {
	unsigned char *data;	/* always NUL-terminated past len */
	size_t len, cap;
};

void mm_buf_reserve(struct mm_buf *b, size_t extra);
void mm_buf_append(struct mm_buf *b, const void *p, size_t n);
void mm_buf_puts(struct mm_buf *b, const char *s);
void mm_buf_printf(struct mm_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void mm_buf_put_u8(struct mm_buf *b, uint8_t v);
void mm_buf_put_u16(struct mm_buf *b, uint16_t v);
void mm_buf_put_u32(struct mm_buf *b, uint32_t v);
void mm_buf_put_u64(struct mm_buf *b, uint64_t v);
void mm_buf_reset(struct mm_buf *b);
void mm_buf_free(struct mm_buf *b);
static inline const char *mm_buf_str(const struct mm_buf *b)
{
	return b->data ? (const char *)b->data : "";
}

/* Little-endian loads and stores. */
static inline uint16_t mm_get_u16(const unsigned char *p)
{ return (uint16_t)(p[0] | p[1] << 8); }
static inline uint32_t mm_get_u32(const unsigned char *p)
{ return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }
static inline uint64_t mm_get_u64(const unsigned char *p)
{ return (uint64_t)mm_get_u32(p) | (uint64_t)mm_get_u32(p + 4) << 32; }
static inline void mm_set_u32(unsigned char *p, uint32_t v)
{ p[0] = v; p[1] = v >> 8; p[2] = v >> 16; p[3] = v >> 24; }
static inline void mm_set_u64(unsigned char *p, uint64_t v)
{ mm_set_u32(p, (uint32_t)v); mm_set_u32(p + 4, (uint32_t)(v >> 32)); }

/* A reader over borrowed bytes. Every get fails (returns false and sets
   bad) once the input is exhausted, so decoders check once at the end. */
struct mm_rbuf {
	const unsigned char *p, *end;
	bool bad;
};
bool mm_rbuf_u8(struct mm_rbuf *r, uint8_t *v_r);
bool mm_rbuf_u16(struct mm_rbuf *r, uint16_t *v_r);
bool mm_rbuf_u32(struct mm_rbuf *r, uint32_t *v_r);
bool mm_rbuf_u64(struct mm_rbuf *r, uint64_t *v_r);
/* Borrows n bytes from the input. */
bool mm_rbuf_bytes(struct mm_rbuf *r, size_t n, const unsigned char **p_r);

#endif
