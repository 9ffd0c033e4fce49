/* SPDX-License-Identifier: MIT
 * repl-merge.c - merge rules for late records after a failover: per-flag
 * clocks, expunge over flags, folder order, the uidlist and keywords
 * merges. Pure: no I/O, no clock, no log (repl-late.c does those). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "mem.h"
#include "repl-merge.h"

bool repl_merge_after(const struct repl_merge_clock *a, const struct repl_merge_clock *b)
{
	if (a->time_ns != b->time_ns)
		return a->time_ns > b->time_ns;
	if (a->time_ns == 0)
		return false;
	return strcmp(a->store != NULL ? a->store : "", b->store != NULL ? b->store : "") > 0;
}

static bool is_flag(unsigned char c)
{
	return c > ' ' && c < REPL_MERGE_FLAGS_MAX - 1;
}

/* has[c]: letter c is in flags */
static void flag_set(const char *flags, bool has[REPL_MERGE_FLAGS_MAX])
{
	memset(has, 0, REPL_MERGE_FLAGS_MAX * sizeof(*has));
	for (const unsigned char *p = (const unsigned char *)(flags != NULL ? flags : "");
	     *p != '\0'; p++)
		if (is_flag(*p))
			has[*p] = true;
}

void repl_merge_history_note(struct repl_merge_history *h, const char *old_flags,
			     const char *new_flags, const struct repl_merge_clock *c)
{
	bool o[REPL_MERGE_FLAGS_MAX], n[REPL_MERGE_FLAGS_MAX];

	flag_set(old_flags, o);
	flag_set(new_flags, n);
	for (unsigned int i = 0; i < REPL_MERGE_FLAGS_MAX; i++)
		if (o[i] != n[i] && repl_merge_after(c, &h->flag[i]))
			h->flag[i] = *c;
}

unsigned int repl_merge_flags(const char *late_old, const char *late_new,
			      const struct repl_merge_clock *late, const char *local_flags,
			      const struct repl_merge_history *local,
			      char out[REPL_MERGE_FLAGS_MAX])
{
	bool o[REPL_MERGE_FLAGS_MAX], n[REPL_MERGE_FLAGS_MAX], here[REPL_MERGE_FLAGS_MAX];
	unsigned int conflicts = 0;
	size_t len = 0;

	flag_set(late_old, o);
	flag_set(late_new, n);
	flag_set(local_flags, here);
	for (unsigned int i = 0; i < REPL_MERGE_FLAGS_MAX; i++) {
		if (o[i] == n[i])
			continue;	/* the late record did not touch it */
		if (repl_merge_after(&local->flag[i], late)) {
			/* set or cleared here after the late change: here wins */
			if (here[i] != n[i])
				conflicts++;
			continue;
		}
		here[i] = n[i];
	}
	for (unsigned int i = 0; i < REPL_MERGE_FLAGS_MAX; i++)
		if (here[i])
			out[len++] = (char)i;
	out[len] = '\0';
	return conflicts;
}

const char *repl_merge_name_flags(const char *name)
{
	const char *info = strstr(name, ":2,");

	return info != NULL ? info + 3 : "";
}

void repl_merge_msgname(const char *local_name, const char *flags, struct mm_buf *out)
{
	size_t id = strcspn(local_name, ":");

	if (local_name[id] == '\0' && flags[0] == '\0') {
		mm_buf_puts(out, local_name);
		return;
	}
	mm_buf_append(out, local_name, id);
	mm_buf_puts(out, ":2,");
	mm_buf_puts(out, flags);
}

enum repl_merge_action repl_merge_msg(enum mm_op op, bool present,
				      const struct repl_merge_history *h,
				      const char **rule_r)
{
	if (op == MM_OP_EXPUNGE) {
		*rule_r = present ? "an expunge wins over flag changes" :
			"already expunged here";
		return present ? REPL_MERGE_APPLY : REPL_MERGE_ALREADY;
	}
	if (present) {
		*rule_r = "flags merge per flag, the later change of each wins";
		return REPL_MERGE_APPLY;
	}
	if (h->expunged) {
		*rule_r = "an expunge wins over flag changes: expunged here";
		return REPL_MERGE_KEEP;
	}
	*rule_r = "the message is not here (expunged before the journal "
		"here begins, or never arrived)";
	return REPL_MERGE_MISSING;
}

enum repl_merge_action repl_merge_folder(enum mm_op op, const struct repl_merge_clock *late,
					 const struct repl_merge_folder *f,
					 const char **rule_r)
{
	bool newer = repl_merge_after(&f->changed, late);

	switch (op) {
	case MM_OP_FOLDER_CREATE:
		if (f->exists) {
			*rule_r = "the folder is here";
			return REPL_MERGE_ALREADY;
		}
		if (newer) {
			*rule_r = "folder operations apply in clock order: a later one "
				"here removed the folder";
			return REPL_MERGE_KEEP;
		}
		*rule_r = "folder operations apply in clock order";
		return REPL_MERGE_APPLY;
	case MM_OP_FOLDER_RENAME:
		if (f->new_exists && !f->exists) {
			*rule_r = "the folder is here under its new name";
			return REPL_MERGE_ALREADY;
		}
		if (newer) {
			*rule_r = "folder operations apply in clock order: a later one "
				"here changed the folder";
			return REPL_MERGE_KEEP;
		}
		if (!f->exists) {
			*rule_r = "the folder is not here";
			return REPL_MERGE_MISSING;
		}
		if (f->new_exists) {
			*rule_r = "the new name is taken here";
			return REPL_MERGE_KEEP;
		}
		*rule_r = "folder operations apply in clock order";
		return REPL_MERGE_APPLY;
	case MM_OP_FOLDER_DELETE:
		if (!f->exists) {
			*rule_r = "the folder is not here";
			return REPL_MERGE_ALREADY;
		}
		if (f->holds_mail) {
			*rule_r = "a folder that holds mail here is never deleted "
				"(a delivery is never dropped)";
			return REPL_MERGE_KEEP;
		}
		if (newer) {
			*rule_r = "folder operations apply in clock order: a later one "
				"here made the folder";
			return REPL_MERGE_KEEP;
		}
		*rule_r = "folder operations apply in clock order";
		return REPL_MERGE_APPLY;
	default:
		break;
	}
	*rule_r = "not a folder operation";
	return REPL_MERGE_KEEP;
}

enum repl_merge_action repl_merge_meta(bool deleted, bool exists, bool same,
				       const struct repl_merge_clock *changed,
				       const struct repl_merge_clock *late,
				       const char **rule_r)
{
	bool theirs = changed->time_ns != 0 && changed->store != NULL &&
		late->store != NULL && strcmp(changed->store, late->store) == 0;

	if (same) {
		*rule_r = deleted ? "not here" : "the same file is here";
		return REPL_MERGE_ALREADY;
	}
	if (repl_merge_after(changed, late)) {
		*rule_r = "this store's metadata file is kept: changed here later";
		return REPL_MERGE_KEEP;
	}
	if (!deleted && !exists && changed->time_ns == 0) {
		*rule_r = "this store has no such file";
		return REPL_MERGE_APPLY;
	}
	if (theirs) {
		*rule_r = "what this store has came from the same store's earlier change";
		return REPL_MERGE_APPLY;
	}
	*rule_r = "this store's metadata file is kept";
	return REPL_MERGE_KEEP;
}

/* ---- dovecot-uidlist ---- */

struct ul_entry {
	uint32_t uid;
	const char *line;	/* the whole line, without its '\n' */
	size_t line_len;
	const char *rest;	/* what follows the UID: " [ext ...] :name" */
	size_t rest_len;
	const char *id;		/* the file name's identity (before ':') */
	size_t id_len;
};

struct uidlist {
	const char *hdr;
	size_t hdr_len;
	uint32_t uidvalidity, next_uid;
	struct ul_entry *e;
	size_t n;
};

static bool parse_u32(const char *p, size_t len, uint32_t *v_r)
{
	uint64_t v = 0;

	if (len == 0 || len > 10)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (p[i] < '0' || p[i] > '9')
			return false;
		v = v * 10 + (uint64_t)(p[i] - '0');
	}
	if (v > UINT32_MAX)
		return false;
	*v_r = (uint32_t)v;
	return true;
}

/* One entry line "UID[ EXT...] :NAME". */
static bool ul_parse_entry(const char *line, size_t len, struct ul_entry *e)
{
	size_t digits = 0, colon;

	while (digits < len && line[digits] >= '0' && line[digits] <= '9')
		digits++;
	if (!parse_u32(line, digits, &e->uid) || e->uid == 0 ||
	    digits == len || line[digits] != ' ')
		return false;
	/* the name follows the first " :" */
	for (colon = digits; colon + 1 < len; colon++)
		if (line[colon] == ' ' && line[colon + 1] == ':')
			break;
	if (colon + 1 >= len || colon + 2 >= len)
		return false;
	e->line = line;
	e->line_len = len;
	e->rest = line + digits;
	e->rest_len = len - digits;
	e->id = line + colon + 2;
	e->id_len = 0;
	while (e->id_len < len - colon - 2 && e->id[e->id_len] != ':')
		e->id_len++;
	return e->id_len > 0 && memchr(e->id, '/', len - colon - 2) == NULL;
}

static bool ul_parse_header(const char *line, size_t len, struct uidlist *ul)
{
	bool have_v = false, have_n = false;
	size_t i = 2;

	if (len < 2 || line[0] != '3' || line[1] != ' ')
		return false;
	while (i < len) {
		size_t end = i;

		while (end < len && line[end] != ' ')
			end++;
		if (end == i)
			return false;	/* two spaces in a row */
		if (line[i] == 'V')
			have_v = parse_u32(line + i + 1, end - i - 1, &ul->uidvalidity);
		else if (line[i] == 'N')
			have_n = parse_u32(line + i + 1, end - i - 1, &ul->next_uid);
		i = end + 1;
	}
	return have_v && have_n && ul->uidvalidity != 0;
}

static int ul_parse(const char *data, size_t len, const char *which, struct uidlist *ul,
		    const char **error_r)
{
	static __thread char err[160];
	const char *p = data, *end = data + len;
	size_t cap = 0, lineno = 1;

	memset(ul, 0, sizeof(*ul));
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t l = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);
		bool ok;

		if (memchr(p, '\0', l) != NULL) {
			ok = false;
		} else if (ul->hdr == NULL) {
			ul->hdr = p;
			ul->hdr_len = l;
			ok = ul_parse_header(p, l, ul);
		} else {
			if (ul->n == cap) {
				cap = cap ? cap * 2 : 64;
				ul->e = mm_realloc(ul->e, cap * sizeof(*ul->e));
			}
			ok = ul_parse_entry(p, l, &ul->e[ul->n]);
			/* UIDs ascend, as Dovecot writes and requires them */
			if (ok && ul->n > 0 && ul->e[ul->n].uid <= ul->e[ul->n - 1].uid)
				ok = false;
			if (ok)
				ul->n++;
		}
		if (!ok) {
			snprintf(err, sizeof(err), "%s dovecot-uidlist: line %zu is not "
				 "what a version 3 uidlist holds", which, lineno);
			*error_r = err;
			free(ul->e);
			ul->e = NULL;
			return -1;
		}
		p += l + 1;
		lineno++;
	}
	if (ul->hdr == NULL) {
		snprintf(err, sizeof(err), "%s dovecot-uidlist: empty", which);
		*error_r = err;
		return -1;
	}
	/* a next UID below a listed one would hand that UID out again */
	if (ul->n > 0 && ul->next_uid <= ul->e[ul->n - 1].uid)
		ul->next_uid = ul->e[ul->n - 1].uid + 1;
	return 0;
}

struct id_ref {
	const char *id;
	size_t len;
	uint32_t uid;
};

static int id_cmp(const void *a, const void *b)
{
	const struct id_ref *x = a, *y = b;
	size_t n = x->len < y->len ? x->len : y->len;
	int c = memcmp(x->id, y->id, n);

	return c != 0 ? c : (x->len > y->len) - (x->len < y->len);
}

/* Whether r's entry i has the identity of an entry before it that was
   added (listed twice: the first one counts). */
static bool listed_before(const struct uidlist *r, const uint32_t *uids, size_t i)
{
	for (size_t k = 0; k < i; k++)
		if (uids[k] != 0 && r->e[k].id_len == r->e[i].id_len &&
		    memcmp(r->e[k].id, r->e[i].id, r->e[i].id_len) == 0)
			return true;
	return false;
}

/* Writes the header with N replaced by next. */
static void ul_put_header(const struct uidlist *ul, uint32_t next, struct mm_buf *out)
{
	size_t i = 0;

	while (i < ul->hdr_len) {
		size_t end = i;

		while (end < ul->hdr_len && ul->hdr[end] != ' ')
			end++;
		if (i > 0)
			mm_buf_puts(out, " ");
		if (i > 0 && ul->hdr[i] == 'N')
			mm_buf_printf(out, "N%u", next);
		else
			mm_buf_append(out, ul->hdr + i, end - i);
		i = end + 1;
	}
	mm_buf_puts(out, "\n");
}

int repl_merge_uidlist(const char *local, size_t local_len, const char *late,
		       size_t late_len, struct mm_buf *out,
		       struct repl_merge_stats *stats_r, const char **error_r)
{
	struct uidlist l, r;
	struct id_ref *ids, key;
	uint32_t *uids, next, fresh;
	size_t n_add = 0;

	memset(stats_r, 0, sizeof(*stats_r));
	if (ul_parse(local, local_len, "this store's", &l, error_r) < 0)
		return -1;
	if (ul_parse(late, late_len, "the late", &r, error_r) < 0) {
		free(l.e);
		return -1;
	}
	ids = mm_calloc(l.n + 1, sizeof(*ids));
	for (size_t i = 0; i < l.n; i++)
		ids[i] = (struct id_ref){ l.e[i].id, l.e[i].id_len, l.e[i].uid };
	if (l.n > 1)
		qsort(ids, l.n, sizeof(*ids), id_cmp);
	/* late entries added, with the UID each gets (0: not added) */
	uids = mm_calloc(r.n + 1, sizeof(*uids));
	next = l.next_uid > r.next_uid ? l.next_uid : r.next_uid;
	fresh = next;
	for (size_t i = 0; i < r.n; i++) {
		struct id_ref *hit;

		key = (struct id_ref){ r.e[i].id, r.e[i].id_len, 0 };
		hit = l.n > 0 ? bsearch(&key, ids, l.n, sizeof(*ids), id_cmp) : NULL;
		if (hit != NULL) {
			if (hit->uid != r.e[i].uid)
				stats_r->differ++;
			continue;
		}
		if (listed_before(&r, uids, i))
			continue;
		/* this store never gave a UID at or above its next UID out, and
		   the late entries kept so far are below this one (ascending) */
		if (r.e[i].uid >= l.next_uid) {
			uids[i] = r.e[i].uid;
		} else {
			uids[i] = fresh++;
			stats_r->renumbered++;
		}
		n_add++;
	}
	stats_r->added = (unsigned int)n_add;
	if (fresh > next)
		next = fresh;
	if (n_add == 0 && next == l.next_uid) {
		free(ids);
		free(uids);
		free(l.e);
		free(r.e);
		return 0;
	}
	mm_buf_reset(out);
	ul_put_header(&l, next, out);
	for (size_t i = 0; i < l.n; i++) {
		mm_buf_append(out, l.e[i].line, l.e[i].line_len);
		mm_buf_puts(out, "\n");
	}
	/* kept UIDs (below the late next UID) come before fresh ones (at or
	   above it), each in the late file's order: ascending throughout */
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < r.n; i++) {
			if (uids[i] == 0 || (pass == 0) != (uids[i] == r.e[i].uid))
				continue;
			mm_buf_printf(out, "%u", uids[i]);
			mm_buf_append(out, r.e[i].rest, r.e[i].rest_len);
			mm_buf_puts(out, "\n");
		}
	}
	free(ids);
	free(uids);
	free(l.e);
	free(r.e);
	return 1;
}

/* ---- dovecot-keywords ---- */

#define KW_MAX 26	/* the flag letters a-z */

struct keywords {
	const char *name[KW_MAX];
	size_t len[KW_MAX];
};

static int kw_parse(const char *data, size_t len, const char *which, struct keywords *kw,
		    const char **error_r)
{
	static __thread char err[160];
	const char *p = data, *end = data + len;
	size_t lineno = 1;

	memset(kw, 0, sizeof(*kw));
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t l = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);
		const char *sp = memchr(p, ' ', l);
		uint32_t idx;

		if (l > 0 && (sp == NULL || !parse_u32(p, (size_t)(sp - p), &idx) ||
			      idx >= KW_MAX || kw->name[idx] != NULL ||
			      sp + 1 == p + l || memchr(p, '\0', l) != NULL)) {
			snprintf(err, sizeof(err), "%s dovecot-keywords: line %zu is not "
				 "\"INDEX KEYWORD\"", which, lineno);
			*error_r = err;
			return -1;
		}
		if (l > 0) {
			kw->name[idx] = sp + 1;
			kw->len[idx] = (size_t)(p + l - sp - 1);
		}
		p += l + 1;
		lineno++;
	}
	return 0;
}

/* The index of keyword name in kw, or -1. */
static int kw_find(const struct keywords *kw, const char *name, size_t len)
{
	for (int i = 0; i < KW_MAX; i++)
		if (kw->name[i] != NULL && kw->len[i] == len &&
		    memcmp(kw->name[i], name, len) == 0)
			return i;
	return -1;
}

int repl_merge_keywords(const char *local, size_t local_len, const char *late,
			size_t late_len, struct mm_buf *out,
			struct repl_merge_stats *stats_r, const char **error_r)
{
	struct keywords l, r;

	memset(stats_r, 0, sizeof(*stats_r));
	if (kw_parse(local, local_len, "this store's", &l, error_r) < 0 ||
	    kw_parse(late, late_len, "the late", &r, error_r) < 0)
		return -1;
	for (unsigned int i = 0; i < KW_MAX; i++) {
		unsigned int at = i;
		int here;

		if (r.name[i] == NULL)
			continue;
		if ((here = kw_find(&l, r.name[i], r.len[i])) >= 0) {
			if ((unsigned int)here != i)
				stats_r->differ++;
			continue;
		}
		if (l.name[at] != NULL) {
			for (at = 0; at < KW_MAX && l.name[at] != NULL; at++)
				;
			if (at == KW_MAX) {
				stats_r->dropped++;
				continue;
			}
			stats_r->renumbered++;
		}
		l.name[at] = r.name[i];
		l.len[at] = r.len[i];
		stats_r->added++;
	}
	if (stats_r->added == 0)
		return 0;
	mm_buf_reset(out);
	for (unsigned int i = 0; i < KW_MAX; i++) {
		if (l.name[i] == NULL)
			continue;
		mm_buf_printf(out, "%u ", i);
		mm_buf_append(out, l.name[i], l.len[i]);
		mm_buf_puts(out, "\n");
	}
	return 1;
}
