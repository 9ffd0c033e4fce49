/* SPDX-License-Identifier: MIT
 * repl-resync.c - an account as it is in this store (folders, metadata
 * files, messages), walked once, with a digest per folder: the sender's
 * side of a resync, sent as records flagged MM_RECF_RESYNC between the
 * journal's records (repl-link.c) for the folders whose digest the peer
 * does not share, content only for what the peer lacks; and the
 * receiver's picture of its own copy (repl-session.c). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "acct.h"
#include "classify.h"
#include "digest.h"
#include "journal.h"
#include "journal-file.h"
#include "log.h"
#include "maildir.h"
#include "mem.h"
#include "repl.h"
#include "wire.h"

enum entry_kind { ENTRY_FOLDER = 'F', ENTRY_META = 'X', ENTRY_MESSAGE = 'M' };

struct entry {
	char kind;
	char *rel;		/* store-relative path */
	uint64_t size;		/* at the walk */
	uint8_t hash[16];	/* META: XXH3-128 of the content at the walk */
	uint32_t folder;	/* index in folders */
	int fd;			/* opened by read_ahead(), or -1 */
};

/* What the peer has of one message of a folder (its INVENTORY). */
struct have {
	const char *name;	/* into the folder's blob */
	size_t name_len, base_len;
	uint64_t size;
};

struct folder {
	char *name;		/* below the account, "" for its root */
	uint8_t digest[16];
	uint64_t count;		/* entries in the digest */
	size_t first, n;	/* its entries: order[first .. first + n) */
	enum repl_resync_fstate state;
	unsigned char *blob;	/* the INVENTORY entries the haves point into */
	struct have *have;
	size_t nhave;
};

struct repl_resync {
	char *account;
	struct mm_rules *rules;
	struct entry *entries;
	size_t n, cap, next;
	size_t ahead;		/* entries before this one were read ahead */
	struct folder *folders;
	size_t nfolders;
	size_t *order;		/* entry indices grouped by folder */
	unsigned char *buf;	/* the last message read whole (item->data) */
	size_t buf_cap;
	unsigned int folders_sent, metas, messages, skipped, same, have, differ;
};

static void add(struct repl_resync *rs, char kind, const char *rel, const struct stat *st)
{
	struct entry *e;

	if (rs->n == rs->cap) {
		rs->cap = rs->cap ? rs->cap * 2 : 256;
		rs->entries = mm_realloc(rs->entries, rs->cap * sizeof(*rs->entries));
	}
	e = &rs->entries[rs->n++];
	memset(e, 0, sizeof(*e));
	e->kind = kind;
	e->fd = -1;
	e->rel = mm_strdup(rel);
	e->size = kind == ENTRY_FOLDER ? 0 : (uint64_t)st->st_size;
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

	if (n < 0) {
		/* not here (a peer with no copy yet), or gone since */
		free(dir);
		return;
	}
	if (has_subdirs(dir))
		add(rs, ENTRY_FOLDER, rel, NULL);
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
					add(rs, ENTRY_MESSAGE, child, &st);
				else if (loc.cls == MM_CLASS_META)
					add(rs, ENTRY_META, child, &st);
			}
		}
		free(full);
		free(child);
		free(names[i]);
	}
	free(names);
	free(dir);
}

/* ---- per-folder digests ---- */

/* The line an entry adds to its folder's digest (lib/digest.c): what a
   replica must have the same. fsck adds the content hashes. */
static char *digest_line(const struct entry *e, const struct mm_loc *loc)
{
	switch (e->kind) {
	case ENTRY_FOLDER:
		return mm_digest_line_folder();
	case ENTRY_MESSAGE:
		return mm_digest_line_msg(loc->sub, loc->name, loc->name_len, e->size, NULL);
	default:
		return mm_digest_line_meta(loc->name, loc->name_len, e->size, e->hash);
	}
}

struct line {
	uint32_t folder;
	size_t entry;
	char *text;
};

static int cmp_line(const void *a, const void *b)
{
	const struct line *x = a, *y = b;

	if (x->folder != y->folder)
		return x->folder < y->folder ? -1 : 1;
	return strcmp(x->text, y->text);
}

static int cmp_folder_name(const void *a, const void *b)
{
	return strcmp(((const struct folder *)a)->name, ((const struct folder *)b)->name);
}

/* The folder an entry belongs to, below the account. */
static char *entry_folder(const struct repl_resync *rs, const struct entry *e,
			  struct mm_loc *loc)
{
	size_t alen = strlen(rs->account);

	mm_classify(rs->rules, e->rel, e->kind == ENTRY_FOLDER, loc);
	if (e->kind == ENTRY_FOLDER)
		return mm_strdup(e->rel[alen] == '/' ? e->rel + alen + 1 : "");
	return mm_strndup(loc->folder, loc->folder_len);
}

static void digest_all(struct repl_resync *rs, const char *store)
{
	struct line *lines = mm_calloc(rs->n ? rs->n : 1, sizeof(*lines));
	char **fnames = mm_calloc(rs->n ? rs->n : 1, sizeof(*fnames));

	/* the folders, sorted by name */
	for (size_t i = 0; i < rs->n; i++) {
		struct mm_loc loc;

		fnames[i] = entry_folder(rs, &rs->entries[i], &loc);
	}
	rs->folders = mm_calloc(rs->n ? rs->n : 1, sizeof(*rs->folders));
	for (size_t i = 0; i < rs->n; i++) {
		struct folder key = { .name = fnames[i] };

		if (rs->nfolders > 0 &&
		    bsearch(&key, rs->folders, rs->nfolders, sizeof(key), cmp_folder_name) != NULL)
			continue;
		rs->folders[rs->nfolders++].name = mm_strdup(fnames[i]);
		qsort(rs->folders, rs->nfolders, sizeof(*rs->folders), cmp_folder_name);
	}
	for (size_t i = 0; i < rs->n; i++) {
		struct entry *e = &rs->entries[i];
		struct folder key = { .name = fnames[i] }, *f;
		struct mm_loc loc;

		f = bsearch(&key, rs->folders, rs->nfolders, sizeof(key), cmp_folder_name);
		e->folder = (uint32_t)(f - rs->folders);
		if (e->kind == ENTRY_META) {
			char *full = mm_strdup_printf("%s/%s", store, e->rel);
			int fd = open(full, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
			uint64_t size;

			/* gone or unreadable: a digest no peer can match */
			if (fd < 0 || mm_content_hash(fd, &size, e->hash) < 0)
				memset(e->hash, 0xff, sizeof(e->hash));
			else
				e->size = size;
			if (fd >= 0)
				close(fd);
			free(full);
		}
		mm_classify(rs->rules, e->rel, e->kind == ENTRY_FOLDER, &loc);
		lines[i] = (struct line){ .folder = e->folder, .entry = i,
					  .text = digest_line(e, &loc) };
		free(fnames[i]);
	}
	free(fnames);
	qsort(lines, rs->n, sizeof(*lines), cmp_line);
	rs->order = mm_calloc(rs->n ? rs->n : 1, sizeof(*rs->order));
	for (size_t i = 0, j; i < rs->n; i = j) {
		struct folder *f = &rs->folders[lines[i].folder];
		struct mm_digest *dg = mm_digest_init();

		f->first = i;
		for (j = i; j < rs->n && lines[j].folder == lines[i].folder; j++) {
			mm_digest_add(dg, lines[j].text);
			rs->order[j] = lines[j].entry;
			free(lines[j].text);
		}
		f->n = j - i;
		f->count = f->n;
		mm_digest_final(&dg, f->digest);
	}
	free(lines);
}

size_t repl_resync_folders(const struct repl_resync *rs)
{
	return rs->nfolders;
}

const char *repl_resync_folder(const struct repl_resync *rs, size_t i, uint8_t digest_r[16],
			       uint64_t *count_r)
{
	memcpy(digest_r, rs->folders[i].digest, 16);
	*count_r = rs->folders[i].count;
	return rs->folders[i].name;
}

ssize_t repl_resync_folder_find(const struct repl_resync *rs, const char *name)
{
	struct folder key = { .name = (char *)name }, *f;

	if (rs->nfolders == 0)
		return -1;
	f = bsearch(&key, rs->folders, rs->nfolders, sizeof(key), cmp_folder_name);
	return f != NULL ? f - rs->folders : -1;
}

size_t repl_resync_folder_entries(const struct repl_resync *rs, size_t i, size_t **idx_r)
{
	*idx_r = rs->order + rs->folders[i].first;
	return rs->folders[i].n;
}

void repl_resync_inventory(const struct repl_resync *rs, size_t i, struct mm_buf *out)
{
	const struct folder *f = &rs->folders[i];

	for (size_t k = f->first; k < f->first + f->n; k++) {
		const struct entry *e = &rs->entries[rs->order[k]];
		struct mm_loc loc;

		if (e->kind != ENTRY_MESSAGE)
			continue;
		mm_classify(rs->rules, e->rel, false, &loc);
		struct mm_wire_inv_entry ie = {
			.sub = loc.sub == MM_SUB_NEW ? 'n' : 'c', .name = loc.name,
			.name_len = loc.name_len, .size = e->size,
		};

		mm_wire_inventory_put(out, &ie);
	}
}

static int cmp_have(const void *a, const void *b)
{
	const struct have *x = a, *y = b;
	size_t n = x->base_len < y->base_len ? x->base_len : y->base_len;
	int c = memcmp(x->name, y->name, n);

	return c != 0 ? c : (x->base_len > y->base_len) - (x->base_len < y->base_len);
}

static size_t base_len(const char *name, size_t len)
{
	const char *colon = memchr(name, ':', len);

	return colon != NULL ? (size_t)(colon - name) : len;
}

int repl_resync_answer(struct repl_resync *rs, const char *folder, enum mm_wire_inv code,
		       const unsigned char *blob, size_t len, const char **error_r)
{
	ssize_t i = repl_resync_folder_find(rs, folder);
	struct mm_wire_inv_entry e;
	struct folder *f;
	size_t pos = 0, cap = 0;
	int r;

	if (i < 0 || rs->folders[i].state != REPL_RS_WAIT) {
		*error_r = i < 0 ? "an inventory of a folder the resync did not offer" :
			"a second inventory of a folder";
		return -1;
	}
	f = &rs->folders[i];
	if (code == MM_WIRE_INV_SAME) {
		f->state = REPL_RS_SAME;
		rs->same++;
		return 0;
	}
	f->state = REPL_RS_DIFFERS;
	rs->differ++;
	if (code == MM_WIRE_INV_ALL || len == 0)
		return 0;
	f->blob = mm_malloc(len);
	memcpy(f->blob, blob, len);
	while ((r = mm_wire_inventory_next(f->blob, len, &pos, &e)) == 1) {
		if (f->nhave == cap) {
			cap = cap ? cap * 2 : 64;
			f->have = mm_realloc(f->have, cap * sizeof(*f->have));
		}
		f->have[f->nhave++] = (struct have){ .name = e.name, .name_len = e.name_len,
			.base_len = base_len(e.name, e.name_len), .size = e.size };
	}
	if (r < 0) {
		*error_r = "a malformed inventory entry";
		return -1;
	}
	if (f->nhave > 0)
		qsort(f->have, f->nhave, sizeof(*f->have), cmp_have);
	return 0;
}

size_t repl_resync_accounts(struct repl_daemon *d, char ***list_r)
{
	const char *error;
	char **all;
	size_t n_all, n = 0;

	*list_r = NULL;
	if (mm_acct_list(d->cfg->store, d->cfg->account_depth, &all, &n_all, &error) < 0) {
		mm_log_error("replication: %s", error);
		return 0;
	}
	/* this store serves what is not read-only here */
	for (size_t i = 0; i < n_all; i++) {
		if (repl_acct_replica(d, all[i])) {
			free(all[i]);
			continue;
		}
		*list_r = mm_realloc(*list_r, (n + 1) * sizeof(**list_r));
		(*list_r)[n++] = all[i];
	}
	free(all);
	return n;
}

const char *repl_resync_entry(const struct repl_resync *rs, size_t i, char *kind_r)
{
	*kind_r = rs->entries[i].kind;
	return rs->entries[i].rel;
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
	digest_all(rs, d->cfg->store);
	return rs;
}

void repl_resync_free(struct repl_resync **rsp)
{
	struct repl_resync *rs = *rsp;

	if (rs == NULL)
		return;
	for (size_t i = 0; i < rs->n; i++) {
		free(rs->entries[i].rel);
		if (rs->entries[i].fd >= 0)
			close(rs->entries[i].fd);
	}
	for (size_t i = 0; i < rs->nfolders; i++) {
		free(rs->folders[i].name);
		free(rs->folders[i].blob);
		free(rs->folders[i].have);
	}
	free(rs->folders);
	free(rs->order);
	free(rs->entries);
	free(rs->buf);
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
		struct entry *e = &rs->entries[rs->ahead];
		char *full;

		if (e->kind == ENTRY_FOLDER || rs->folders[e->folder].state != REPL_RS_DIFFERS)
			continue;
		full = mm_strdup_printf("%s/%s", d->cfg->store, e->rel);
		/* kept open for repl_resync_next(): one open per file */
		e->fd = open(full, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
		if (e->fd >= 0)
			(void)posix_fadvise(e->fd, 0, 0, POSIX_FADV_WILLNEED);
		free(full);
	}
}

/* Whether the peer has this message's identity with this size (under any
   flags): then it gets the record without the content. */
static bool peer_has(const struct folder *f, const struct mm_loc *loc, uint64_t size)
{
	struct have key = { .name = loc->name, .name_len = loc->name_len,
			    .base_len = base_len(loc->name, loc->name_len) };
	const struct have *h;

	if (f->nhave == 0)
		return false;
	h = bsearch(&key, f->have, f->nhave, sizeof(key), cmp_have);
	return h != NULL && h->size == size;
}

/* Reads a message of size bytes into rs->buf and hashes it: item->data.
   -1 when it is not that size any more (changed since the walk). */
static int read_whole(struct repl_resync *rs, int fd, size_t size,
		      struct repl_resync_item *item)
{
	size_t got = 0;
	XXH128_canonical_t c;

	if (rs->buf_cap < size + 1) {
		rs->buf_cap = size + 1;
		rs->buf = mm_realloc(rs->buf, rs->buf_cap);
	}
	/* one byte more than the size: a file that grew is seen */
	while (got < size + 1) {
		ssize_t n = pread(fd, rs->buf + got, size + 1 - got, (off_t)got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	if (got != size)
		return -1;
	XXH128_canonicalFromHash(&c, XXH3_128bits(rs->buf, size));
	memcpy(item->hash, c.digest, 16);
	item->data = rs->buf;
	return 0;
}

void repl_resync_offered(struct repl_resync *rs)
{
	for (size_t i = 0; i < rs->nfolders; i++)
		rs->folders[i].state = REPL_RS_WAIT;
}

int repl_resync_next(struct repl_resync *rs, const struct repl_daemon *d,
		     struct repl_resync_item *item)
{
	while (rs->next < rs->n) {
		struct entry *e = &rs->entries[rs->next];
		const struct folder *f = &rs->folders[e->folder];
		char kind = e->kind;
		const char *rel = e->rel;
		char *full;
		size_t alen = strlen(rs->account);
		struct stat st;
		int fd;

		if (f->state == REPL_RS_WAIT)
			return REPL_RS_WAITING;
		rs->next++;
		if (f->state == REPL_RS_SAME)
			continue;
		read_ahead(rs, d);
		memset(item, 0, sizeof(*item));
		item->fd = -1;
		mm_classify(rs->rules, rel, kind == ENTRY_FOLDER, &item->loc);
		item->relpath = rel;
		/* a folder is named by its path below the account */
		item->folder = rel[alen] == '/' ? rel + alen + 1 : "";
		full = mm_strdup_printf("%s/%s", d->cfg->store, rel);
		if (kind == ENTRY_MESSAGE && f->nhave > 0 && lstat(full, &st) == 0 &&
		    S_ISREG(st.st_mode) && peer_has(f, &item->loc, (uint64_t)st.st_size)) {
			/* the peer has it: its name and attributes, no content */
			free(full);
			if (e->fd >= 0)
				close(e->fd);
			e->fd = -1;
			item->st = st;
			item->op = MM_OP_DELIVER;
			item->have = true;
			rs->have++;
			rs->messages++;
			return 1;
		}
		if (e->fd >= 0) {
			fd = e->fd;	/* read_ahead() opened it */
			e->fd = -1;
		} else {
			fd = open(full, O_RDONLY | O_NOFOLLOW | O_CLOEXEC |
				  (kind == ENTRY_FOLDER ? O_DIRECTORY : 0));
		}
		free(full);
		if (fd < 0 || fstat(fd, &st) < 0 ||
		    (kind != ENTRY_FOLDER && !S_ISREG(st.st_mode))) {
			/* gone (or replaced) since the walk: its own record says so */
			if (fd >= 0)
				close(fd);
			rs->skipped++;
			continue;
		}
		item->st = st;
		if (kind == ENTRY_FOLDER) {
			close(fd);
			item->op = MM_OP_FOLDER_CREATE;
			rs->folders_sent++;
			return 1;
		}
		uint64_t hashed;

		if (kind == ENTRY_MESSAGE && (uint64_t)st.st_size <= REPL_RESYNC_READ_MAX &&
		    st.st_size > 0) {
			/* read once: hashed here, sent from the buffer */
			if (read_whole(rs, fd, (size_t)st.st_size, item) < 0) {
				close(fd);
				rs->skipped++;
				continue;
			}
		} else if (kind == ENTRY_MESSAGE &&
			   (mm_content_hash(fd, &hashed, item->hash) < 0 ||
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
	snprintf(out, size, "%zu folders (%u the same on the peer, %u differed), %u folder "
		 "records, %u metadata files, %u messages (%u the peer had: no content), "
		 "%u gone meanwhile", rs->nfolders, rs->same, rs->differ, rs->folders_sent,
		 rs->metas, rs->messages, rs->have, rs->skipped);
}
