/* SPDX-License-Identifier: MIT
 * inventory.c - walks one account of a store directory into folders and
 * their files (see inventory.h). Owns the walk and the hashing; what is
 * wrong with what it finds is for the caller to say. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "buf.h"
#include "classify.h"
#include "digest.h"
#include "inventory.h"
#include "journal-file.h"
#include "mem.h"

struct walk {
	const char *store;
	const struct mm_rules *rules;
	bool content;
	const struct mm_inv_progress *progress;
	struct mm_inv *inv;
	size_t cap;
	struct mm_buf rel;	/* store-relative path of the directory walked */
};

static struct mm_inv_folder *folder_get(struct walk *w, const char *name, size_t len)
{
	struct mm_inv *inv = w->inv;

	/* the walk meets a folder's files together: the last one is it */
	for (size_t i = inv->n; i-- > 0 && i + 8 >= inv->n;) {
		if (strlen(inv->f[i].name) == len && memcmp(inv->f[i].name, name, len) == 0)
			return &inv->f[i];
	}
	for (size_t i = 0; i + 8 < inv->n; i++) {
		if (strlen(inv->f[i].name) == len && memcmp(inv->f[i].name, name, len) == 0)
			return &inv->f[i];
	}
	if (inv->n == w->cap) {
		w->cap = w->cap ? w->cap * 2 : 16;
		inv->f = mm_realloc(inv->f, w->cap * sizeof(*inv->f));
	}
	memset(&inv->f[inv->n], 0, sizeof(inv->f[0]));
	inv->f[inv->n].name = mm_strndup(name, len);
	return &inv->f[inv->n++];
}

static struct mm_inv_entry *entry_add(struct mm_inv_folder *f, char kind, uint8_t sub,
				      const char *name, size_t len, const struct stat *st)
{
	struct mm_inv_entry *e;

	/* grows by doubling: n is a power of two whenever it is full */
	if (f->n == 0 || (f->n & (f->n - 1)) == 0)
		f->e = mm_realloc(f->e, (f->n ? f->n * 2 : 1) * sizeof(*f->e));
	e = &f->e[f->n++];
	memset(e, 0, sizeof(*e));
	e->kind = kind;
	e->sub = sub;
	e->name = mm_strndup(name, len);
	e->size = (uint64_t)st->st_size;
	e->mtime_ns = (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
	e->ctime_ns = (int64_t)st->st_ctim.tv_sec * 1000000000 + st->st_ctim.tv_nsec;
	e->mode = st->st_mode;
	e->uid = st->st_uid;
	e->gid = st->st_gid;
	return e;
}

static void hash_entry(struct walk *w, int dirfd, const char *name, struct mm_inv_entry *e)
{
	int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOATIME);
	uint64_t size;
	int r;

	if (fd < 0 && errno == EPERM)
		fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		e->read_errno = errno;
		return;
	}
	r = mm_content_hash(fd, &size, e->hash);
	if (r < 0) {
		e->read_errno = -r;
	} else {
		e->hashed = true;
		e->size = size;
		w->inv->bytes += size;
	}
	close(fd);
}

static void tick(struct walk *w)
{
	if (++w->inv->files % 512 == 0 && w->progress != NULL && w->progress->tick != NULL)
		w->progress->tick(w->progress->ctx, w->inv->files, w->inv->bytes);
}

static int cmp_dirent(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names in dirfd, sorted (so walks and their output are stable). */
static char **list_dir(int dirfd, size_t *n_r)
{
	int fd = dup(dirfd);
	DIR *dir = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *de;
	char **names = NULL;
	size_t n = 0, cap = 0;

	*n_r = 0;
	if (dir == NULL) {
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	while ((de = readdir(dir)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			names = mm_realloc(names, cap * sizeof(*names));
		}
		names[n++] = mm_strdup(de->d_name);
	}
	closedir(dir);
	if (n > 1)
		qsort(names, n, sizeof(*names), cmp_dirent);
	*n_r = n;
	return names;
}

/* The files of a folder's cur/, new/ or tmp/ (w->rel is that directory). */
static void walk_sub(struct walk *w, int dirfd, struct mm_inv_folder *f, enum mm_sub sub)
{
	size_t n, base = w->rel.len;
	char **names = list_dir(dirfd, &n);

	for (size_t i = 0; i < n; i++) {
		struct stat st;
		struct mm_loc loc;
		struct mm_msgname mn;
		struct mm_inv_entry *e;
		char kind;

		if (fstatat(dirfd, names[i], &st, AT_SYMLINK_NOFOLLOW) < 0)
			goto next;	/* gone since the listing */
		w->rel.len = base;
		mm_buf_printf(&w->rel, "/%s", names[i]);
		mm_classify(w->rules, mm_buf_str(&w->rel), S_ISDIR(st.st_mode), &loc);
		if (loc.cls == MM_CLASS_IGNORE)
			goto next;
		if (sub == MM_SUB_TMP)
			kind = MM_INV_TMP;
		else if (loc.cls == MM_CLASS_MESSAGE && S_ISREG(st.st_mode) &&
			 mm_msgname_parse(names[i], &mn) == 0)
			kind = MM_INV_MESSAGE;
		else
			kind = MM_INV_OTHER;
		e = entry_add(f, kind, (uint8_t)sub, names[i], strlen(names[i]), &st);
		if (kind == MM_INV_MESSAGE && w->content)
			hash_entry(w, dirfd, names[i], e);
		tick(w);
next:
		free(names[i]);
	}
	w->rel.len = base;
	w->rel.data[base] = '\0';
	free(names);
}

/* A directory of the account (w->rel), maybe a folder, and what is below. */
static void walk_dir(struct walk *w, int dirfd)
{
	size_t n, base = w->rel.len;
	char **names = list_dir(dirfd, &n);

	for (size_t i = 0; i < n; i++) {
		struct stat st;
		struct mm_loc loc;
		int fd;

		if (fstatat(dirfd, names[i], &st, AT_SYMLINK_NOFOLLOW) < 0)
			goto next;
		w->rel.len = base;
		mm_buf_printf(&w->rel, "/%s", names[i]);
		if (S_ISDIR(st.st_mode)) {
			mm_classify(w->rules, mm_buf_str(&w->rel), true, &loc);
			if (loc.cls != MM_CLASS_SUBDIR && loc.cls != MM_CLASS_DIR)
				goto next;
			fd = openat(dirfd, names[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
				    O_CLOEXEC);
			if (fd < 0)
				goto next;
			if (loc.cls == MM_CLASS_SUBDIR) {
				struct mm_inv_folder *f = folder_get(w, loc.folder, loc.folder_len);

				f->subs |= loc.sub == MM_SUB_CUR ? MM_INV_HAS_CUR :
					loc.sub == MM_SUB_NEW ? MM_INV_HAS_NEW : MM_INV_HAS_TMP;
				walk_sub(w, fd, f, loc.sub);
			} else {
				walk_dir(w, fd);
			}
			close(fd);
		} else if (S_ISREG(st.st_mode)) {
			mm_classify(w->rules, mm_buf_str(&w->rel), false, &loc);
			if (loc.cls == MM_CLASS_META) {
				struct mm_inv_folder *f = folder_get(w, loc.folder, loc.folder_len);
				struct mm_inv_entry *e = entry_add(f, MM_INV_META, MM_SUB_NONE,
								   loc.name, loc.name_len, &st);

				hash_entry(w, dirfd, names[i], e);
				tick(w);
			}
		}
next:
		free(names[i]);
	}
	w->rel.len = base;
	w->rel.data[base] = '\0';
	free(names);
}

/* The identity part of a name: a message's base before ':'. */
static size_t key_len(char kind, const char *name)
{
	const char *colon = kind == MM_INV_MESSAGE ? strchr(name, ':') : NULL;

	return colon != NULL ? (size_t)(colon - name) : strlen(name);
}

static int cmp_key(char ka, const char *a, char kb, const char *b)
{
	size_t la, lb, l;
	int c;

	if (ka != kb)
		return ka < kb ? -1 : 1;
	la = key_len(ka, a);
	lb = key_len(kb, b);
	l = la < lb ? la : lb;
	c = memcmp(a, b, l);
	return c != 0 ? c : (la > lb) - (la < lb);
}

static int cmp_entry(const void *a, const void *b)
{
	const struct mm_inv_entry *x = a, *y = b;
	int c = cmp_key(x->kind, x->name, y->kind, y->name);

	if (c != 0)
		return c;
	if ((c = strcmp(x->name, y->name)) != 0)
		return c;
	return (x->sub > y->sub) - (x->sub < y->sub);
}

void mm_inv_folder_sort(struct mm_inv_folder *f)
{
	if (f->n > 1)
		qsort(f->e, f->n, sizeof(*f->e), cmp_entry);
}

const struct mm_inv_entry *mm_inv_entry_find(const struct mm_inv_folder *f, char kind,
					     const char *name)
{
	size_t lo = 0, hi = f->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = cmp_key(kind, name, f->e[mid].kind, f->e[mid].name);

		if (c == 0) {
			/* the first of that identity */
			while (mid > 0 && cmp_key(kind, name, f->e[mid - 1].kind,
						  f->e[mid - 1].name) == 0)
				mid--;
			return &f->e[mid];
		}
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

void mm_inv_folder_digest(struct mm_inv_folder *f, bool content)
{
	char **lines = mm_calloc(f->n + 1, sizeof(*lines));
	size_t n = 0;

	if ((f->subs & (MM_INV_HAS_CUR | MM_INV_HAS_NEW | MM_INV_HAS_TMP)) ==
	    (MM_INV_HAS_CUR | MM_INV_HAS_NEW | MM_INV_HAS_TMP))
		lines[n++] = mm_digest_line_folder();
	for (size_t i = 0; i < f->n; i++) {
		const struct mm_inv_entry *e = &f->e[i];
		static const uint8_t unreadable[16] = {
			0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
			0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		};

		if (e->kind == MM_INV_MESSAGE)
			lines[n++] = mm_digest_line_msg(e->sub, e->name, strlen(e->name), e->size,
							!content ? NULL :
							e->hashed ? e->hash : unreadable);
		else if (e->kind == MM_INV_META)
			/* unreadable: a digest no peer can match */
			lines[n++] = mm_digest_line_meta(e->name, strlen(e->name), e->size,
							 e->hashed ? e->hash : unreadable);
	}
	mm_digest_lines(lines, n, f->digest);
	f->count = n;
	for (size_t i = 0; i < n; i++)
		free(lines[i]);
	free(lines);
}

static int cmp_folder(const void *a, const void *b)
{
	return strcmp(((const struct mm_inv_folder *)a)->name,
		      ((const struct mm_inv_folder *)b)->name);
}

const struct mm_inv_folder *mm_inv_folder_find(const struct mm_inv *inv, const char *name)
{
	struct mm_inv_folder key = { .name = (char *)name };

	if (inv->n == 0)
		return NULL;
	return bsearch(&key, inv->f, inv->n, sizeof(key), cmp_folder);
}

int mm_inv_scan(const char *store, const char *account, const struct mm_rules *rules,
		bool content, const struct mm_inv_progress *progress,
		struct mm_inv **inv_r, const char **error_r)
{
	static __thread char err[512];
	struct walk w = { .store = store, .rules = rules, .content = content,
			  .progress = progress };
	char *path = mm_strdup_printf("%s/%s", store, account);
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	w.inv = mm_calloc(1, sizeof(*w.inv));
	w.inv->account = mm_strdup(account);
	w.inv->content = content;
	if (fd < 0) {
		if (errno != ENOENT) {
			snprintf(err, sizeof(err), "open(%s) failed: %s", path, strerror(errno));
			*error_r = err;
			free(path);
			mm_inv_free(&w.inv);
			return -1;
		}
		w.inv->missing = true;
		free(path);
		*inv_r = w.inv;
		return 0;
	}
	free(path);
	mm_buf_puts(&w.rel, account);
	walk_dir(&w, fd);
	close(fd);
	mm_buf_free(&w.rel);
	qsort(w.inv->f, w.inv->n, sizeof(*w.inv->f), cmp_folder);
	for (size_t i = 0; i < w.inv->n; i++) {
		mm_inv_folder_sort(&w.inv->f[i]);
		mm_inv_folder_digest(&w.inv->f[i], content);
	}
	if (progress != NULL && progress->tick != NULL)
		progress->tick(progress->ctx, w.inv->files, w.inv->bytes);
	*inv_r = w.inv;
	return 0;
}

void mm_inv_free(struct mm_inv **invp)
{
	struct mm_inv *inv = *invp;

	if (inv == NULL)
		return;
	for (size_t i = 0; i < inv->n; i++) {
		for (size_t k = 0; k < inv->f[i].n; k++)
			free(inv->f[i].e[k].name);
		free(inv->f[i].e);
		free(inv->f[i].name);
	}
	free(inv->f);
	free(inv->account);
	free(inv);
	*invp = NULL;
}
