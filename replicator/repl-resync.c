/* SPDX-License-Identifier: MIT
 * repl-resync.c - sends a peer an account as it is in this store (folders,
 * metadata files, messages with their content) as records flagged
 * MM_RECF_RESYNC: the initial seed of mail older than the journal, and the
 * repair of a peer that missed records. The link sends them between its
 * journal records (repl-link.c), one file at a time, read when sent. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "classify.h"
#include "journal.h"
#include "journal-file.h"
#include "log.h"
#include "mem.h"
#include "repl.h"

enum entry_kind { ENTRY_FOLDER = 'F', ENTRY_META = 'X', ENTRY_MESSAGE = 'M' };

struct repl_resync {
	char *account;
	struct mm_rules *rules;
	char **entries;		/* kind letter, then the store-relative path */
	size_t n, cap, next;
	size_t ahead;		/* entries before this one were read ahead */
	unsigned int folders, metas, messages, skipped;
};

static void add(struct repl_resync *rs, char kind, const char *rel)
{
	if (rs->n == rs->cap) {
		rs->cap = rs->cap ? rs->cap * 2 : 256;
		rs->entries = mm_realloc(rs->entries, rs->cap * sizeof(*rs->entries));
	}
	rs->entries[rs->n++] = mm_strdup_printf("%c%s", kind, rel);
}

static bool has_subdirs(const char *dir)
{
	static const char *const subs[] = { "cur", "new", "tmp" };
	struct stat st;

	for (int i = 0; i < 3; i++) {
		char *p = mm_strdup_printf("%s/%s", dir, subs[i]);
		bool ok = lstat(p, &st) == 0 && S_ISDIR(st.st_mode);

		free(p);
		if (!ok)
			return false;
	}
	return true;
}

/* Pre-order walk: a folder comes before what is in it. */
static void walk(struct repl_resync *rs, const struct mm_rules *rules, const char *store,
		 const char *rel)
{
	char *dir = mm_strdup_printf("%s/%s", store, rel);
	struct dirent **names;
	int n = scandir(dir, &names, NULL, alphasort);

	if (has_subdirs(dir))
		add(rs, ENTRY_FOLDER, rel);
	for (int i = 0; i < n; i++) {
		const char *name = names[i]->d_name;
		char *child, *full;
		struct stat st;
		struct mm_loc loc;

		if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
			free(names[i]);
			continue;
		}
		child = mm_strdup_printf("%s/%s", rel, name);
		full = mm_strdup_printf("%s/%s", store, child);
		if (lstat(full, &st) == 0) {
			if (S_ISDIR(st.st_mode)) {
				mm_classify(rules, child, true, &loc);
				if (loc.cls != MM_CLASS_IGNORE && loc.sub != MM_SUB_TMP)
					walk(rs, rules, store, child);
			} else if (S_ISREG(st.st_mode)) {
				mm_classify(rules, child, false, &loc);
				if (loc.cls == MM_CLASS_MESSAGE)
					add(rs, ENTRY_MESSAGE, child);
				else if (loc.cls == MM_CLASS_META)
					add(rs, ENTRY_META, child);
			}
		}
		free(full);
		free(child);
		free(names[i]);
	}
	free(names);
	free(dir);
}

const char *repl_resync_entry(const struct repl_resync *rs, size_t i, char *kind_r)
{
	*kind_r = rs->entries[i][0];
	return rs->entries[i] + 1;
}

const struct mm_rules *repl_resync_rules(const struct repl_resync *rs)
{
	return rs->rules;
}

struct repl_resync *repl_resync_new(struct repl_daemon *d, const char *account)
{
	struct repl_resync *rs = mm_calloc(1, sizeof(*rs));

	rs->account = mm_strdup(account);
	rs->rules = mm_rules_new(d->cfg);
	walk(rs, rs->rules, d->cfg->store, account);
	return rs;
}

void repl_resync_free(struct repl_resync **rsp)
{
	struct repl_resync *rs = *rsp;

	if (rs == NULL)
		return;
	for (size_t i = 0; i < rs->n; i++)
		free(rs->entries[i]);
	free(rs->entries);
	free(rs->account);
	mm_rules_free(&rs->rules);
	free(rs);
	*rsp = NULL;
}

size_t repl_resync_total(const struct repl_resync *rs)
{
	return rs->n;
}

size_t repl_resync_done(const struct repl_resync *rs)
{
	return rs->next;
}

const char *repl_resync_account(const struct repl_resync *rs)
{
	return rs->account;
}


/* Asks the kernel to read the next files while this one is hashed and
   sent: on a cold cache the walk otherwise waits for the disk file by file
   with the CPU idle. */
#define READ_AHEAD_FILES 32

static void read_ahead(struct repl_resync *rs, const struct repl_daemon *d)
{
	size_t until = rs->next + READ_AHEAD_FILES;

	if (rs->ahead < rs->next)
		rs->ahead = rs->next;
	for (; rs->ahead < rs->n && rs->ahead < until; rs->ahead++) {
		const char *e = rs->entries[rs->ahead];
		char *full;
		int fd;

		if (e[0] == ENTRY_FOLDER)
			continue;
		full = mm_strdup_printf("%s/%s", d->cfg->store, e + 1);
		fd = open(full, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
		if (fd >= 0) {
			(void)posix_fadvise(fd, 0, 0, POSIX_FADV_WILLNEED);
			close(fd);
		}
		free(full);
	}
}

int repl_resync_next(struct repl_resync *rs, const struct repl_daemon *d,
		     struct repl_resync_item *item)
{
	read_ahead(rs, d);
	while (rs->next < rs->n) {
		const char *e = rs->entries[rs->next++];
		char kind = e[0];
		const char *rel = e + 1;
		char *full = mm_strdup_printf("%s/%s", d->cfg->store, rel);
		size_t alen = strlen(rs->account);
		struct stat st;
		int fd;

		memset(item, 0, sizeof(*item));
		item->fd = -1;
		mm_classify(rs->rules, rel, kind == ENTRY_FOLDER, &item->loc);
		item->relpath = rel;
		/* a folder is named by its path below the account */
		item->folder = rel[alen] == '/' ? rel + alen + 1 : "";
		fd = open(full, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | (kind == ENTRY_FOLDER ? O_DIRECTORY : 0));
		free(full);
		if (fd < 0 || fstat(fd, &st) < 0) {
			/* gone since the walk: its own record says so */
			if (fd >= 0)
				close(fd);
			rs->skipped++;
			continue;
		}
		item->st = st;
		if (kind == ENTRY_FOLDER) {
			close(fd);
			item->op = MM_OP_FOLDER_CREATE;
			rs->folders++;
			return 1;
		}
		uint64_t hashed;

		if (kind == ENTRY_MESSAGE && (mm_content_hash(fd, &hashed, item->hash) < 0 ||
					      hashed != (uint64_t)st.st_size)) {
			close(fd);
			rs->skipped++;
			continue;
		}
		item->fd = fd;
		item->op = kind == ENTRY_META ? MM_OP_META : MM_OP_DELIVER;
		if (kind == ENTRY_META)
			rs->metas++;
		else
			rs->messages++;
		return 1;
	}
	return 0;
}

void repl_resync_summary(const struct repl_resync *rs, char *out, size_t size)
{
	snprintf(out, size, "%u folders, %u metadata files, %u messages (%u gone meanwhile)",
		 rs->folders, rs->metas, rs->messages, rs->skipped);
}
