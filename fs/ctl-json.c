/* SPDX-License-Identifier: MIT
 * ctl-json.c - mailmeshctl's JSON helpers (jansson), shared by its
 * commands; what each command prints is its own. */
#include <jansson.h>
#include <stdlib.h>
#include "buf.h"
#include "ctl-json.h"
#include "mem.h"

void ctl_json_set_str(json_t *o, const char *key, const char *s)
{
	json_t *v = json_string(s);
	struct mm_buf fixed = { 0 }, hex = { 0 };
	char *hkey;

	if (v != NULL) {
		json_object_set_new(o, key, v);
		return;
	}
	for (const unsigned char *p = (const unsigned char *)s; *p != '\0';) {
		size_t n = *p < 0x80 ? 1 : (*p >> 5) == 6 ? 2 : (*p >> 4) == 14 ? 3 :
			(*p >> 3) == 30 ? 4 : 0;
		json_t *ok = n > 1 ? json_stringn((const char *)p, n) : NULL;

		if (n == 1 || ok != NULL) {
			mm_buf_append(&fixed, p, n);
			p += n;
		} else {
			mm_buf_puts(&fixed, "\xef\xbf\xbd");
			p++;
		}
		json_decref(ok);
	}
	for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++)
		mm_buf_printf(&hex, "%02x", *p);
	json_object_set_new(o, key, json_string(mm_buf_str(&fixed)));
	hkey = mm_strdup_printf("%s_hex", key);
	json_object_set_new(o, hkey, json_string(mm_buf_str(&hex)));
	free(hkey);
	mm_buf_free(&fixed);
	mm_buf_free(&hex);
}
