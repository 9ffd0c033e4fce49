/* SPDX-License-Identifier: MIT
 * inventory.c - walks one account of a store directory into folders and
 * their files (see inventory.h). Owns the walk and the hashing; what is
 * wrong with what it finds is for the caller to say. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#define XXH_STATIC_LINKING_ONLY	/* XXH3_state_t on the stack */
#include <xxhash.h>
#include "buf.h"
#include "classify.h"
#include "digest.h"
#include "inventory.h"
#include "mem.h"

/* a directory's files are shared out to threads in chunks of this many */
#define WALK_CHUNK 256
/* below this many names a directory is done by the calling thread alone */
#define WALK_THREADS_MIN 1024
/* one read() takes a whole message up to this size */
#define WALK_READ_BUF 65536

struct walk {
	const char *store;
	const struct mm_rules *rules;
	bool content;
	unsigned int threads;
	const struct mm_inv_progress *progress;
	struct mm_inv *inv;
	size_t cap;
	struct mm_buf rel;	/* store-relative path of the directory walked */
	unsigned char *buf;	/* WALK_READ_BUF, for the calling thread */
};

/* One directory's names, read whole: NUL-terminated, back to back. */
struct dlist {
	struct mm_buf names;
	struct dname {
		size_t off;
		unsigned char type;	/* d_type: DT_UNKNOWN when the fs does not say */
	} *v;
	size_t n, cap;
};

static void dlist_free(struct dlist *dl)
{
	mm_buf_free(&dl->names);
	free(dl->v);
	memset(dl, 0, sizeof(*dl));
}

static const char *dlist_name(const struct dlist *dl, size_t i)
{
	return (const char *)dl->names.data + dl->v[i].off;
}

/* Reads the names in dirfd (but . and ..) into dl; 0, or -1 with errno. */
static int dlist_read(int dirfd, struct dlist *dl)
{
	int fd = dup(dirfd);
	DIR *dir = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *de;

	mm_buf_reset(&dl->names);
	dl->n = 0;
	if (dir == NULL) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	while ((de = readdir(dir)) != NULL) {
		if (de->d_name[0] == '.' && (de->d_name[1] == '\0' ||
					     (de->d_name[1] == '.' && de->d_name[2] == '\0')))
			continue;
		if (dl->n == dl->cap) {
			dl->cap = dl->cap ? dl->cap * 2 : 64;
			dl->v = mm_realloc(dl->v, dl->cap * sizeof(*dl->v));
		}
		dl->v[dl->n].off = dl->names.len;
		dl->v[dl->n++].type = de->d_type;
		mm_buf_append(&dl->names, de->d_name, strlen(de->d_name) + 1);
	}
	closedir(dir);
	return 0;
}

static int cmp_off(const void *a, const void *b, void *names)
{
	return strcmp((const char *)names + ((const struct dname *)a)->off,
		      (const char *)names + ((const struct dname *)b)->off);
}

/* Sorts dl by name (walks and their output stay stable). */
static void dlist_sort(struct dlist *dl)
{
	if (dl->n > 1)
		qsort_r(dl->v, dl->n, sizeof(*dl->v), cmp_off, dl->names.data);
}

/* Capacity of an entry array holding n: the next power of two. */
static size_t entries_cap(size_t n)
{
	size_t c = 1;

	while (c < n)
		c *= 2;
	return n == 0 ? 0 : c;
}

/* Room in f for k more entries. */
static void entries_reserve(struct mm_inv_folder *f, size_t k)
{
	if (entries_cap(f->n) < f->n + k)
		f->e = mm_realloc(f->e, entries_cap(f->n + k) * sizeof(*f->e));
}

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

static void entry_set(struct mm_inv_entry *e, char kind, uint8_t sub, const char *name,
		      size_t len, const struct stat *st)
{
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
}

/* Reads fd to its end into the hash. The first read takes a message
   whole; a short read at or past the size fstat gave is the file's end
   (a regular file on a local filesystem reads short only there), else
   reading goes on to a read of 0. 0, or a negative errno. */
static int read_hash(int fd, const struct stat *st, unsigned char *buf, uint64_t *size_r,
		     uint8_t hash_r[16])
{
	XXH3_state_t hs;
	XXH128_canonical_t c;
	uint64_t off;
	ssize_t n = read(fd, buf, WALK_READ_BUF);

	if (n < 0)
		return -errno;
	if (n < WALK_READ_BUF && n >= st->st_size) {
		XXH128_canonicalFromHash(&c, XXH3_128bits(buf, (size_t)n));
		memcpy(hash_r, c.digest, 16);
		*size_r = (uint64_t)n;
		return 0;
	}
	XXH3_128bits_reset(&hs);
	XXH3_128bits_update(&hs, buf, (size_t)n);
	off = (uint64_t)n;
	while ((n = read(fd, buf, WALK_READ_BUF)) > 0) {
		XXH3_128bits_update(&hs, buf, (size_t)n);
		off += (uint64_t)n;
	}
	if (n < 0)
		return -errno;
	XXH128_canonicalFromHash(&c, XXH3_128bits_digest(&hs));
	memcpy(hash_r, c.digest, 16);
	*size_r = off;
	return 0;
}

/* Opens a regular file to read it: 0 with *fd_r and *st (fstat), 1 when
   it is not a regular file now (st from fstatat), -1 with errno set (it
   cannot be opened; ENOENT: gone). */
static int open_file(int dirfd, const char *name, int *fd_r, struct stat *st)
{
	int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOATIME);

	if (fd < 0 && errno == EPERM)	/* O_NOATIME: not the owner */
		fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;

		/* a symbolic link (ELOOP) or anything else that is not a file */
		if (e != ENOENT && fstatat(dirfd, name, st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    !S_ISREG(st->st_mode))
			return 1;
		errno = e;
		return -1;
	}
	if (fstat(fd, st) < 0) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	if (!S_ISREG(st->st_mode)) {
		close(fd);
		return 1;
	}
	*fd_r = fd;
	return 0;
}

/* Fills e (a META entry at dirfd/name) and reads it into its hash.
   Returns false when the file went away. */
static bool meta_entry(struct walk *w, int dirfd, const char *name, const char *mname,
		       size_t mlen, struct mm_inv_entry *e)
{
	struct stat st;
	int fd = -1, r = open_file(dirfd, name, &fd, &st);

	if (r < 0 && errno == ENOENT)
		return false;
	if (r < 0) {
		int err = errno;

		/* cannot be opened: its attributes, and why */
		if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			return false;
		entry_set(e, MM_INV_META, MM_SUB_NONE, mname, mlen, &st);
		e->read_errno = err;
		return true;
	}
	entry_set(e, MM_INV_META, MM_SUB_NONE, mname, mlen, &st);
	if (r == 1)
		return true;	/* became something else: the size it has */
	r = read_hash(fd, &st, w->buf, &e->size, e->hash);
	if (r < 0) {
		e->read_errno = -r;
	} else {
		e->hashed = true;
		w->inv->bytes += e->size;
	}
	close(fd);
	return true;
}

/* One folder's cur/, new/ or tmp/, its files shared out to threads. */
struct sub_job {
	const struct mm_rules *rules;
	bool content;
	int dirfd;
	enum mm_sub sub;
	const char *rel;	/* the directory, store-relative */
	size_t rel_len;
	const struct dlist *dl;
	struct mm_inv_entry *out;	/* one per name; kind 0: left out */
	_Atomic size_t next;		/* the next chunk to take */
	_Atomic uint64_t done, bytes;
};

/* The file at index i of the job into j->out[i]. path holds the
   directory's rel and a '/'; buf is WALK_READ_BUF for this thread. */
static void sub_one(struct sub_job *j, size_t i, char *path, unsigned char *buf)
{
	const char *name = dlist_name(j->dl, i);
	size_t len = strlen(name);
	unsigned char type = j->dl->v[i].type;
	struct mm_inv_entry *e = &j->out[i];
	struct stat st;
	struct mm_loc loc;
	struct mm_msgname mn;
	bool have_st = false;
	int fd = -1, r;
	char kind;

	e->kind = 0;
	if (type == DT_UNKNOWN) {
		if (fstatat(j->dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			return;		/* gone since the listing */
		have_st = true;
		type = IFTODT(st.st_mode);
	}
	memcpy(path + j->rel_len + 1, name, len + 1);
	/* what the rules ignore is not even stated */
	mm_classify(j->rules, path, type == DT_DIR, &loc);
	if (loc.cls == MM_CLASS_IGNORE)
		return;
	if (j->sub != MM_SUB_TMP && j->content && type == DT_REG && loc.cls == MM_CLASS_MESSAGE &&
	    mm_msgname_parse(name, &mn) == 0) {
		/* a message to read: open, fstat, read, close */
		r = open_file(j->dirfd, name, &fd, &st);
		if (r < 0 && errno == ENOENT)
			return;
		if (r < 0) {
			int err = errno;

			if (fstatat(j->dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
				return;
			entry_set(e, MM_INV_MESSAGE, (uint8_t)j->sub, name, len, &st);
			e->read_errno = err;
			return;
		}
		if (r == 0) {
			entry_set(e, MM_INV_MESSAGE, (uint8_t)j->sub, name, len, &st);
			r = read_hash(fd, &st, buf, &e->size, e->hash);
			close(fd);
			if (r < 0) {
				e->read_errno = -r;
			} else {
				e->hashed = true;
				atomic_fetch_add_explicit(&j->bytes, e->size, memory_order_relaxed);
			}
			return;
		}
		have_st = true;	/* no longer a regular file: st says what */
	}
	if (!have_st && fstatat(j->dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return;		/* gone since the listing */
	if (j->sub == MM_SUB_TMP)
		kind = MM_INV_TMP;
	else if (loc.cls == MM_CLASS_MESSAGE && S_ISREG(st.st_mode) &&
		 mm_msgname_parse(name, &mn) == 0)
		kind = MM_INV_MESSAGE;
	else
		kind = MM_INV_OTHER;
	entry_set(e, kind, (uint8_t)j->sub, name, len, &st);
}

/* Takes chunks of j until none is left; the calling thread ticks. */
static void sub_run(struct sub_job *j, struct walk *w, unsigned char *buf)
{
	char *path = mm_malloc(j->rel_len + MM_NAME_MAX + 2);
	uint64_t files0 = w != NULL ? w->inv->files : 0, bytes0 = w != NULL ? w->inv->bytes : 0;
	size_t i;

	memcpy(path, j->rel, j->rel_len);
	path[j->rel_len] = '/';
	while ((i = atomic_fetch_add(&j->next, WALK_CHUNK)) < j->dl->n) {
		size_t end = i + WALK_CHUNK < j->dl->n ? i + WALK_CHUNK : j->dl->n;

		for (size_t k = i; k < end; k++)
			sub_one(j, k, path, buf);
		atomic_fetch_add(&j->done, end - i);
		if (w != NULL && w->progress != NULL && w->progress->tick != NULL)
			w->progress->tick(w->progress->ctx, files0 + atomic_load(&j->done),
					  bytes0 + atomic_load(&j->bytes));
	}
	free(path);
}

static void *sub_thread(void *arg)
{
	struct sub_job *j = arg;
	unsigned char *buf = j->content ? mm_malloc(WALK_READ_BUF) : NULL;

	sub_run(j, NULL, buf);
	free(buf);
	return NULL;
}

/* The files of a folder's cur/, new/ or tmp/ (w->rel is that directory). */
static void walk_sub(struct walk *w, int dirfd, struct mm_inv_folder *f, enum mm_sub sub)
{
	struct dlist dl = { 0 };
	struct sub_job j = { .rules = w->rules, .content = w->content, .dirfd = dirfd,
			     .sub = sub, .rel = mm_buf_str(&w->rel), .rel_len = w->rel.len,
			     .dl = &dl };
	pthread_t th[15];
	unsigned int nth = 0, want;
	size_t kept = 0;

	if (dlist_read(dirfd, &dl) < 0 || dl.n == 0)
		goto out;
	j.out = mm_malloc(dl.n * sizeof(*j.out));
	want = dl.n < WALK_THREADS_MIN ? 1 : w->threads;
	if (want > dl.n / WALK_CHUNK)
		want = (unsigned int)(dl.n / WALK_CHUNK);
	if (want > sizeof(th) / sizeof(th[0]) + 1)
		want = sizeof(th) / sizeof(th[0]) + 1;
	for (; nth + 1 < want; nth++) {
		if (pthread_create(&th[nth], NULL, sub_thread, &j) != 0)
			break;	/* fewer threads: the work is the same */
	}
	sub_run(&j, w, w->buf);
	for (unsigned int t = 0; t < nth; t++)
		pthread_join(th[t], NULL);
	for (size_t i = 0; i < dl.n; i++)
		kept += j.out[i].kind != 0;
	entries_reserve(f, kept);
	for (size_t i = 0; i < dl.n; i++) {
		if (j.out[i].kind != 0)
			f->e[f->n++] = j.out[i];
	}
	w->inv->files += kept;
	w->inv->bytes += atomic_load(&j.bytes);
	free(j.out);
out:
	dlist_free(&dl);
}

/* A directory of the account (w->rel), maybe a folder, and what is below. */
static void walk_dir(struct walk *w, int dirfd)
{
	size_t base = w->rel.len;
	struct dlist dl = { 0 };

	if (dlist_read(dirfd, &dl) < 0)
		goto out;
	dlist_sort(&dl);
	for (size_t i = 0; i < dl.n; i++) {
		const char *name = dlist_name(&dl, i);
		unsigned char type = dl.v[i].type;
		struct stat st;
		struct mm_loc loc;
		int fd;

		if (type == DT_UNKNOWN) {
			if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
				continue;
			type = IFTODT(st.st_mode);
		}
		w->rel.len = base;
		mm_buf_append(&w->rel, "/", 1);
		mm_buf_puts(&w->rel, name);
		if (type == DT_DIR) {
			mm_classify(w->rules, mm_buf_str(&w->rel), true, &loc);
			if (loc.cls != MM_CLASS_SUBDIR && loc.cls != MM_CLASS_DIR)
				continue;
			fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (fd < 0)
				continue;
			if (loc.cls == MM_CLASS_SUBDIR) {
				struct mm_inv_folder *f = folder_get(w, loc.folder, loc.folder_len);

				f->subs |= loc.sub == MM_SUB_CUR ? MM_INV_HAS_CUR :
					loc.sub == MM_SUB_NEW ? MM_INV_HAS_NEW : MM_INV_HAS_TMP;
				walk_sub(w, fd, f, loc.sub);
			} else {
				walk_dir(w, fd);
			}
			close(fd);
		} else if (type == DT_REG) {
			mm_classify(w->rules, mm_buf_str(&w->rel), false, &loc);
			if (loc.cls == MM_CLASS_META) {
				struct mm_inv_folder *f = folder_get(w, loc.folder, loc.folder_len);

				entries_reserve(f, 1);
				if (meta_entry(w, dirfd, name, loc.name, loc.name_len, &f->e[f->n])) {
					f->n++;
					w->inv->files++;
				}
			}
		}
	}
out:
	w->rel.len = base;
	if (w->rel.data != NULL)
		w->rel.data[base] = '\0';
	dlist_free(&dl);
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

/* An entry's sort key, its identity's length worked out once. */
struct skey {
	const struct mm_inv_entry *e;
	size_t klen;
};

static int cmp_skey(const void *a, const void *b)
{
	const struct skey *x = a, *y = b;
	size_t l = x->klen < y->klen ? x->klen : y->klen;
	int c;

	if (x->e->kind != y->e->kind)
		return x->e->kind < y->e->kind ? -1 : 1;
	if ((c = memcmp(x->e->name, y->e->name, l)) != 0)
		return c;
	if (x->klen != y->klen)
		return x->klen < y->klen ? -1 : 1;
	if ((c = strcmp(x->e->name, y->e->name)) != 0)
		return c;
	return (x->e->sub > y->e->sub) - (x->e->sub < y->e->sub);
}

void mm_inv_folder_sort(struct mm_inv_folder *f)
{
	struct skey *k;
	struct mm_inv_entry *e;
	bool sorted = true;

	if (f->n < 2)
		return;
	k = mm_malloc(f->n * sizeof(*k));
	for (size_t i = 0; i < f->n; i++) {
		k[i].e = &f->e[i];
		k[i].klen = key_len(f->e[i].kind, f->e[i].name);
		if (i > 0 && sorted && cmp_skey(&k[i - 1], &k[i]) > 0)
			sorted = false;
	}
	if (!sorted) {
		qsort(k, f->n, sizeof(*k), cmp_skey);
		e = mm_malloc(entries_cap(f->n) * sizeof(*e));
		for (size_t i = 0; i < f->n; i++)
			e[i] = *k[i].e;
		free(f->e);
		f->e = e;
	}
	free(k);
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
	static const uint8_t unreadable[16] = {
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	};
	static const uint8_t subs[] = { MM_SUB_CUR, MM_SUB_NEW };
	struct mm_buf lines = { 0 };
	size_t n = 0;

	/* the lines in the order they sort in ("F" < "M cur/" < "M new/" <
	   "X "): usually in order already, so hashed as they lie */
	if ((f->subs & (MM_INV_HAS_CUR | MM_INV_HAS_NEW | MM_INV_HAS_TMP)) ==
	    (MM_INV_HAS_CUR | MM_INV_HAS_NEW | MM_INV_HAS_TMP)) {
		mm_buf_append(&lines, "F", 2);
		n++;
	}
	for (size_t s = 0; s < sizeof(subs); s++) {
		for (size_t i = 0; i < f->n; i++) {
			const struct mm_inv_entry *e = &f->e[i];

			if (e->kind != MM_INV_MESSAGE || e->sub != subs[s])
				continue;
			mm_digest_put_msg(&lines, e->sub, e->name, strlen(e->name), e->size,
					  !content ? NULL : e->hashed ? e->hash : unreadable);
			n++;
		}
	}
	for (size_t i = 0; i < f->n; i++) {
		const struct mm_inv_entry *e = &f->e[i];

		if (e->kind == MM_INV_MESSAGE && e->sub != MM_SUB_CUR && e->sub != MM_SUB_NEW) {
			mm_digest_put_msg(&lines, e->sub, e->name, strlen(e->name), e->size,
					  !content ? NULL : e->hashed ? e->hash : unreadable);
			n++;
		} else if (e->kind == MM_INV_META) {
			/* unreadable: a digest no peer can match */
			mm_digest_put_meta(&lines, e->name, strlen(e->name), e->size,
					   e->hashed ? e->hash : unreadable);
			n++;
		}
	}
	mm_digest_buf(&lines, n, f->digest);
	f->count = n;
	mm_buf_free(&lines);
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

int mm_inv_scan_threads(const char *store, const char *account, const struct mm_rules *rules,
			bool content, unsigned int threads,
			const struct mm_inv_progress *progress, struct mm_inv **inv_r,
			const char **error_r)
{
	static __thread char err[512];
	struct walk w = { .store = store, .rules = rules, .content = content,
			  .threads = threads ? threads : 1, .progress = progress };
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
	w.buf = mm_malloc(WALK_READ_BUF);
	mm_buf_puts(&w.rel, account);
	walk_dir(&w, fd);
	close(fd);
	free(w.buf);
	mm_buf_free(&w.rel);
	if (w.inv->n > 1)
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

int mm_inv_scan(const char *store, const char *account, const struct mm_rules *rules,
		bool content, const struct mm_inv_progress *progress,
		struct mm_inv **inv_r, const char **error_r)
{
	return mm_inv_scan_threads(store, account, rules, content, 1, progress, inv_r, error_r);
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
