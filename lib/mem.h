/* SPDX-License-Identifier: MIT
 * mem.h - allocation that cannot fail: every mm_ allocator aborts on OOM
 * [Postfix mymalloc]. Callers never check for NULL. */
#ifndef MM_MEM_H
#define MM_MEM_H
#include <stddef.h>

void *mm_malloc(size_t size);
void *mm_calloc(size_t n, size_t size);
void *mm_realloc(void *p, size_t size);
char *mm_strdup(const char *s);
char *mm_strndup(const char *s, size_t n);
/* printf into a new string; the caller frees it. */
char *mm_strdup_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
#define mm_free(pp) do { free(*(pp)); *(pp) = NULL; } while (0)

#endif
