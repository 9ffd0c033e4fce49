/* SPDX-License-Identifier: MIT
 * maildir.c - Maildir file-name parsing (identity, flags, size tags), as
 * Dovecot and Courier write them: BASE[,S=n][,W=n][:2,FLAGS]. */
#include <string.h>
#include "maildir.h"

static bool parse_tag(const char *base, size_t len, char tag, uint64_t *v_r)
{
	/* find ",T=digits" followed by ',' or the end of the base */
	for (size_t i = 0; i + 3 <= len; i++) {
		uint64_t v = 0;
		size_t j;

		if (base[i] != ',' || base[i + 1] != tag || base[i + 2] != '=')
			continue;
		for (j = i + 3; j < len && base[j] >= '0' && base[j] <= '9'; j++)
			v = v * 10 + (uint64_t)(base[j] - '0');
		if (j > i + 3 && (j == len || base[j] == ',')) {
			*v_r = v;
			return true;
		}
	}
	return false;
}

int mm_msgname_parse(const char *name, struct mm_msgname *r)
{
	size_t len = strlen(name);
	const char *colon;

	memset(r, 0, sizeof(*r));
	if (len == 0 || len > MM_NAME_MAX || strchr(name, '/') != NULL ||
	    strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return -1;
	colon = strchr(name, ':');
	r->base_len = colon != NULL ? (size_t)(colon - name) : len;
	if (colon != NULL && colon[1] == '2' && colon[2] == ',') {
		r->flags = colon + 3;
		r->flags_len = len - (size_t)(r->flags - name);
	}
	r->has_size = parse_tag(name, r->base_len, 'S', &r->size);
	r->has_vsize = parse_tag(name, r->base_len, 'W', &r->vsize);
	return 0;
}

bool mm_msgname_same_identity(const char *a, const char *b)
{
	size_t la = strcspn(a, ":"), lb = strcspn(b, ":");

	return la == lb && memcmp(a, b, la) == 0;
}

const char *mm_sub_str(enum mm_sub sub)
{
	switch (sub) {
	case MM_SUB_NEW: return "new";
	case MM_SUB_CUR: return "cur";
	case MM_SUB_TMP: return "tmp";
	case MM_SUB_NONE: break;
	}
	return "";
}

enum mm_sub mm_sub_parse(const char *s, size_t len)
{
	if (len != 3)
		return MM_SUB_NONE;
	if (memcmp(s, "new", 3) == 0)
		return MM_SUB_NEW;
	if (memcmp(s, "cur", 3) == 0)
		return MM_SUB_CUR;
	if (memcmp(s, "tmp", 3) == 0)
		return MM_SUB_TMP;
	return MM_SUB_NONE;
}
