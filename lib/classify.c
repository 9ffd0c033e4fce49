/* SPDX-License-Identifier: MIT
 * classify.c - the one table that says which files are mail, which are
 * metadata worth replicating and which are caches; docs/classify.md shows it. */
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>
#include "cfg.h"
#include "classify.h"
#include "mem.h"

struct mm_rule {
	const char *pattern;	/* fnmatch on the base name, or "dir/base" */
	enum mm_class cls;
};

/* Built-in rules, first match wins; [classify] patterns go before them.
   Files in new/ and cur/ are messages and in tmp/ are skipped before this
   table is consulted, unless an override names them. */
static const struct mm_rule builtin_rules[] = {
	/* Dovecot indexes, caches, logs and locks */
	{ "dovecot.index*", MM_CLASS_IGNORE },
	{ "dovecot.list.index*", MM_CLASS_IGNORE },
	{ "dovecot.mailbox.log*", MM_CLASS_IGNORE },
	{ "dovecot-uidlist.lock", MM_CLASS_IGNORE },
	{ "dovecot-keywords.lock", MM_CLASS_IGNORE },
	{ "dovecot-uidvalidity*.lock", MM_CLASS_IGNORE },
	{ "*.lock", MM_CLASS_IGNORE },
	{ "*.tmp", MM_CLASS_IGNORE },
	{ ".nfs*", MM_CLASS_IGNORE },
	{ "maildirsize", MM_CLASS_IGNORE },	/* quota cache, recomputed */
	/* what IMAP clients need to see after a failover */
	{ "dovecot-uidlist", MM_CLASS_META },
	{ "dovecot-keywords", MM_CLASS_META },
	{ "dovecot-uidvalidity*", MM_CLASS_META },
	{ "subscriptions", MM_CLASS_META },
	{ "maildirfolder", MM_CLASS_META },
	{ "courierimapkeywords/*", MM_CLASS_META },
	{ "courierimapuiddb", MM_CLASS_META },
};

struct mm_rules {
	struct mm_rule *rules;
	size_t n;
	unsigned int account_depth;
};

static void rules_add(struct mm_rules *r, char **patterns, size_t n,
		      enum mm_class cls)
{
	for (size_t i = 0; i < n; i++) {
		r->rules[r->n].pattern = patterns[i];
		r->rules[r->n].cls = cls;
		r->n++;
	}
}

struct mm_rules *mm_rules_new(const struct mm_cfg *cfg)
{
	struct mm_rules *r = mm_calloc(1, sizeof(*r));
	size_t n = sizeof(builtin_rules) / sizeof(builtin_rules[0]);

	if (cfg != NULL)
		n += cfg->n_classify_ignore + cfg->n_classify_meta +
			cfg->n_classify_plain;
	r->rules = mm_calloc(n, sizeof(*r->rules));
	r->account_depth = cfg != NULL ? cfg->account_depth : 2;
	if (cfg != NULL) {
		/* borrowed: the cfg outlives the rules */
		rules_add(r, cfg->classify_ignore, cfg->n_classify_ignore, MM_CLASS_IGNORE);
		rules_add(r, cfg->classify_meta, cfg->n_classify_meta, MM_CLASS_META);
		rules_add(r, cfg->classify_plain, cfg->n_classify_plain, MM_CLASS_PLAIN);
	}
	for (size_t i = 0; i < sizeof(builtin_rules) / sizeof(builtin_rules[0]); i++)
		r->rules[r->n++] = builtin_rules[i];
	return r;
}

void mm_rules_free(struct mm_rules **rulesp)
{
	if (*rulesp == NULL)
		return;
	free((*rulesp)->rules);
	mm_free(rulesp);
}

const char *mm_class_str(enum mm_class cls)
{
	static const char *const names[] = {
		[MM_CLASS_OUTSIDE] = "outside", [MM_CLASS_PLAIN] = "plain",
		[MM_CLASS_IGNORE] = "ignore", [MM_CLASS_TMP] = "tmp",
		[MM_CLASS_MESSAGE] = "message", [MM_CLASS_META] = "meta",
		[MM_CLASS_SUBDIR] = "subdir", [MM_CLASS_DIR] = "dir",
	};
	return names[cls];
}

void mm_rules_dump(const struct mm_rules *rules,
		   void (*line)(const char *, const char *, void *), void *ctx)
{
	for (size_t i = 0; i < rules->n; i++)
		line(rules->rules[i].pattern, mm_class_str(rules->rules[i].cls), ctx);
}

/* Finds the first rule matching "base" (patterns without '/') or
   "parent/base" (patterns with one). Returns its index or -1. */
static int rules_find(const struct mm_rules *rules, const char *parent,
		      size_t parent_len, const char *base, size_t base_len)
{
	char one[MM_NAME_MAX + 1], two[2 * MM_NAME_MAX + 2];

	if (base_len > MM_NAME_MAX)
		return -1;
	if (parent_len > MM_NAME_MAX)
		parent_len = 0;
	memcpy(one, base, base_len);
	one[base_len] = '\0';
	memcpy(two, parent, parent_len);
	two[parent_len] = '/';
	memcpy(two + parent_len + 1, base, base_len);
	two[parent_len + 1 + base_len] = '\0';
	for (size_t i = 0; i < rules->n; i++) {
		const char *p = rules->rules[i].pattern;
		const char *subject = strchr(p, '/') != NULL ? two : one;

		if (fnmatch(p, subject, 0) == 0)
			return (int)i;
	}
	return -1;
}

static int rules_match(const struct mm_rules *rules, const char *parent,
		       size_t parent_len, const char *base, size_t base_len)
{
	int i = rules_find(rules, parent, parent_len, base, base_len);

	return i < 0 ? -1 : (int)rules->rules[i].cls;
}

/* True when the rule that matched is a "dir/base" one. */
static bool rules_two_level(const struct mm_rules *rules, const char *parent,
			    size_t parent_len, const char *base, size_t base_len)
{
	int i = rules_find(rules, parent, parent_len, base, base_len);

	return i >= 0 && strchr(rules->rules[i].pattern, '/') != NULL;
}

void mm_classify(const struct mm_rules *rules, const char *relpath, bool is_dir,
		 struct mm_loc *loc)
{
	const char *comp[128];
	size_t clen[128], n = 0, d = rules->account_depth, last;
	const char *p = relpath;
	enum mm_sub sub;
	int cls;

	memset(loc, 0, sizeof(*loc));
	loc->cls = MM_CLASS_OUTSIDE;
	loc->folder = loc->name = "";
	while (*p != '\0') {
		size_t l = strcspn(p, "/");

		if (l > 0) {
			if (n == 128) {		/* absurdly deep: plain file */
				loc->cls = MM_CLASS_PLAIN;
				return;
			}
			comp[n] = p;
			clen[n++] = l;
		}
		p += l;
		if (*p == '/')
			p++;
	}
	if (n <= d)
		return;
	loc->account = comp[0];
	loc->account_len = (size_t)(comp[d - 1] + clen[d - 1] - comp[0]);
	last = n - 1;

	/* Dovecot renames a deleted mailbox to "..DOVECOT-TRASHED" and then
	   removes it: nothing under a ".." name is mail any more */
	for (size_t i = d; i < n; i++) {
		if (clen[i] >= 2 && comp[i][0] == '.' && comp[i][1] == '.') {
			loc->cls = MM_CLASS_IGNORE;
			return;
		}
	}
	/* overrides and the table may claim anything but the layout itself */
	cls = rules_match(rules, last > d ? comp[last - 1] : "",
			  last > d ? clen[last - 1] : 0, comp[last], clen[last]);

	/* FOLDER/{new,cur,tmp}/... */
	for (size_t i = d; i < n; i++) {
		sub = mm_sub_parse(comp[i], clen[i]);
		if (sub == MM_SUB_NONE)
			continue;
		loc->folder = i > d ? comp[d] : "";
		loc->folder_len = i > d ? (size_t)(comp[i - 1] + clen[i - 1] - comp[d]) : 0;
		loc->sub = sub;
		if (i == last) {
			if (is_dir) {
				loc->cls = MM_CLASS_SUBDIR;
				return;
			}
			break;	/* a file named cur/new/tmp: not layout */
		}
		loc->name = comp[i + 1];
		loc->name_len = (size_t)(comp[last] + clen[last] - comp[i + 1]);
		if (cls >= 0 && cls != MM_CLASS_META)
			loc->cls = (enum mm_class)cls;
		else if (sub == MM_SUB_TMP)
			loc->cls = MM_CLASS_TMP;
		else if (i + 1 == last && !is_dir)
			loc->cls = MM_CLASS_MESSAGE;
		else
			loc->cls = MM_CLASS_PLAIN;
		return;
	}
	loc->sub = MM_SUB_NONE;
	if (cls == MM_CLASS_META && !is_dir) {
		/* "dir/base" metadata (courierimapkeywords/x) belongs to the
		   folder above dir */
		size_t top = last;

		if (last > d &&
		    rules_two_level(rules, comp[last - 1], clen[last - 1], comp[last], clen[last]))
			top = last - 1;
		loc->folder = top > d ? comp[d] : "";
		loc->folder_len = top > d ? (size_t)(comp[top - 1] + clen[top - 1] - comp[d]) : 0;
		loc->name = comp[top];
		loc->name_len = (size_t)(comp[last] + clen[last] - comp[top]);
		loc->cls = MM_CLASS_META;
		return;
	}
	loc->folder = comp[d];
	loc->folder_len = (size_t)(comp[last] + clen[last] - comp[d]);
	if (cls >= 0 && !is_dir)
		loc->cls = (enum mm_class)cls;
	else
		loc->cls = is_dir ? MM_CLASS_DIR : MM_CLASS_PLAIN;
	if (!is_dir) {
		/* a plain or ignored file: folder is its directory */
		loc->folder_len = last > d ? (size_t)(comp[last - 1] + clen[last - 1] - comp[d]) : 0;
		if (last == d)
			loc->folder = "";
		loc->name = comp[last];
		loc->name_len = clen[last];
	}
}
