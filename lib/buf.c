/* SPDX-License-Identifier: MIT
 * buf.c - growable byte buffer and bounds-checked little-endian reader. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "buf.h"
#include "mem.h"

void mm_buf_reserve(struct mm_buf *b, size_t extra)
{
	size_t need = b->len + extra + 1;

	if (need <= b->cap)
		return;
	if (b->cap == 0)
		b->cap = 64;
	while (b->cap < need)
		b->cap *= 2;
	b->data = mm_realloc(b->data, b->cap);
}

void mm_buf_append(struct mm_buf *b, const void *p, size_t n)
{
	mm_buf_reserve(b, n);
	if (n > 0)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
}

void mm_buf_puts(struct mm_buf *b, const char *s)
{
	mm_buf_append(b, s, strlen(s));
}

void mm_buf_printf(struct mm_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	mm_buf_reserve(b, (size_t)n);
	va_start(ap, fmt);
	vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

void mm_buf_put_u8(struct mm_buf *b, uint8_t v)
{
	mm_buf_append(b, &v, 1);
}

void mm_buf_put_u16(struct mm_buf *b, uint16_t v)
{
	unsigned char p[2] = { v, v >> 8 };

	mm_buf_append(b, p, 2);
}

void mm_buf_put_u32(struct mm_buf *b, uint32_t v)
{
	unsigned char p[4];

	mm_set_u32(p, v);
	mm_buf_append(b, p, 4);
}

void mm_buf_put_u64(struct mm_buf *b, uint64_t v)
{
	unsigned char p[8];

	mm_set_u64(p, v);
	mm_buf_append(b, p, 8);
}

void mm_buf_reset(struct mm_buf *b)
{
	b->len = 0;
	if (b->data != NULL)
		b->data[0] = '\0';
}

void mm_buf_free(struct mm_buf *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}

bool mm_rbuf_bytes(struct mm_rbuf *r, size_t n, const unsigned char **p_r)
{
	if (r->bad || (size_t)(r->end - r->p) < n) {
		r->bad = true;
		return false;
	}
	*p_r = r->p;
	r->p += n;
	return true;
}

bool mm_rbuf_u8(struct mm_rbuf *r, uint8_t *v_r)
{
	const unsigned char *p;

	if (!mm_rbuf_bytes(r, 1, &p))
		return false;
	*v_r = p[0];
	return true;
}

bool mm_rbuf_u16(struct mm_rbuf *r, uint16_t *v_r)
{
	const unsigned char *p;

	if (!mm_rbuf_bytes(r, 2, &p))
		return false;
	*v_r = mm_get_u16(p);
	return true;
}

bool mm_rbuf_u32(struct mm_rbuf *r, uint32_t *v_r)
{
	const unsigned char *p;

	if (!mm_rbuf_bytes(r, 4, &p))
		return false;
	*v_r = mm_get_u32(p);
	return true;
}

bool mm_rbuf_u64(struct mm_rbuf *r, uint64_t *v_r)
{
	const unsigned char *p;

	if (!mm_rbuf_bytes(r, 8, &p))
		return false;
	*v_r = mm_get_u64(p);
	return true;
}
