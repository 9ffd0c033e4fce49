/* SPDX-License-Identifier: MIT
 * mem.c - allocators that abort on out-of-memory, so no caller has to
 * carry an error path for it. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "mem.h"
#include "log.h"

void *mm_malloc(size_t size)
{
	void *p = malloc(size ? size : 1);

	if (p == NULL)
		mm_panic("malloc(%zu) failed: out of memory", size);
	return p;
}

void *mm_calloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (p == NULL)
		mm_panic("calloc(%zu, %zu) failed: out of memory", n, size);
	return p;
}

void *mm_realloc(void *old, size_t size)
{
	void *p = realloc(old, size ? size : 1);

	if (p == NULL)
		mm_panic("realloc(%zu) failed: out of memory", size);
	return p;
}

char *mm_strndup(const char *s, size_t n)
{
	char *p = mm_malloc(n + 1);

	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *mm_strdup(const char *s)
{
	return mm_strndup(s, strlen(s));
}

char *mm_strdup_printf(const char *fmt, ...)
{
	va_list ap;
	char *p;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&p, fmt, ap);
	va_end(ap);
	if (n < 0)
		mm_panic("vasprintf failed: out of memory");
	return p;
}
