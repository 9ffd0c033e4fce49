/* SPDX-License-Identifier: MIT
 * repl-idcache.c - the identities of new/ and cur/ directories, listed once
 * and then kept by this process's own renames, links and unlinks. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>
#include "mem.h"
#include "repl-idcache.h"

struct repl_idcache_dir {
	dev_t dev;
	ino_t ino;
	struct timespec mtime, ctime;
	char **slots;		/* names, open addressing by identity */
	size_t cap, count;	/* cap: a power of two */
	unsigned long used;	/* c->tick when last used */
};

struct repl_idcache {
	struct repl_idcache_dir **dirs;
	size_t n, max;
	unsigned long tick, scans, hits;
};

static size_t id_len(const char *name)
{
	return strcspn(name, ":");
}

static size_t slot_of(const struct repl_idcache_dir *d, const char *name, size_t len)
{
	return (size_t)XXH3_64bits(name, len) & (d->cap - 1);
}

/* The slot holding name's identity, or the empty slot where it would go. */
static size_t set_probe(const struct repl_idcache_dir *d, const char *name)
{
	size_t len = id_len(name), i = slot_of(d, name, len);

	while (d->slots[i] != NULL &&
	       !(id_len(d->slots[i]) == len && memcmp(d->slots[i], name, len) == 0))
		i = (i + 1) & (d->cap - 1);
	return i;
}

static void set_grow(struct repl_idcache_dir *d)
{
	char **old = d->slots;
	size_t ocap = d->cap;

	d->cap = ocap == 0 ? 64 : ocap * 2;
	d->slots = mm_calloc(d->cap, sizeof(*d->slots));
	for (size_t i = 0; i < ocap; i++) {
		if (old[i] != NULL)
			d->slots[set_probe(d, old[i])] = old[i];
	}
	free(old);
}

/* Adds name, or renames the entry of its identity to name. */
static void set_put(struct repl_idcache_dir *d, const char *name)
{
	size_t i;

	if ((d->count + 1) * 4 > d->cap * 3)
		set_grow(d);
	i = set_probe(d, name);
	if (d->slots[i] != NULL) {
		free(d->slots[i]);
	} else {
		d->count++;
	}
	d->slots[i] = mm_strdup(name);
}

/* Removes the entry of name's identity; linear probing without tombstones:
   the entries after it that probed past its slot move back. */
static void set_del(struct repl_idcache_dir *d, const char *name)
{
	size_t i = set_probe(d, name), j;

	if (d->slots[i] == NULL)
		return;
	free(d->slots[i]);
	d->slots[i] = NULL;
	d->count--;
	for (j = (i + 1) & (d->cap - 1); d->slots[j] != NULL; j = (j + 1) & (d->cap - 1)) {
		char *n = d->slots[j];
		size_t home = slot_of(d, n, id_len(n));

		/* n stays if its home lies cyclically in (i, j] */
		if (i <= j ? (home > i && home <= j) : (home > i || home <= j))
			continue;
		d->slots[i] = n;
		d->slots[j] = NULL;
		i = j;
	}
}

static void dir_free(struct repl_idcache_dir *d)
{
	for (size_t i = 0; i < d->cap; i++)
		free(d->slots[i]);
	free(d->slots);
	free(d);
}

struct repl_idcache *repl_idcache_new(size_t max_dirs)
{
	struct repl_idcache *c = mm_calloc(1, sizeof(*c));

	c->max = max_dirs > 0 ? max_dirs : 1;
	c->dirs = mm_calloc(c->max, sizeof(*c->dirs));
	return c;
}

void repl_idcache_free(struct repl_idcache **cp)
{
	struct repl_idcache *c = *cp;

	if (c == NULL)
		return;
	for (size_t i = 0; i < c->n; i++)
		dir_free(c->dirs[i]);
	free(c->dirs);
	mm_free(cp);
}

static bool same_times(const struct repl_idcache_dir *d, const struct stat *sb)
{
	return d->mtime.tv_sec == sb->st_mtim.tv_sec && d->mtime.tv_nsec == sb->st_mtim.tv_nsec &&
	       d->ctime.tv_sec == sb->st_ctim.tv_sec && d->ctime.tv_nsec == sb->st_ctim.tv_nsec;
}

static size_t dir_index(const struct repl_idcache *c, const struct stat *sb)
{
	size_t i;

	for (i = 0; i < c->n; i++) {
		if (c->dirs[i]->dev == sb->st_dev && c->dirs[i]->ino == sb->st_ino)
			break;
	}
	return i;
}

static void dir_drop(struct repl_idcache *c, size_t i)
{
	dir_free(c->dirs[i]);
	c->dirs[i] = c->dirs[--c->n];
}

/* Keeps d, dropping the directory used longest ago when the cache is full. */
static void dir_keep(struct repl_idcache *c, struct repl_idcache_dir *d)
{
	if (c->n == c->max) {
		size_t old = 0;

		for (size_t i = 1; i < c->n; i++) {
			if (c->dirs[i]->used < c->dirs[old]->used)
				old = i;
		}
		dir_drop(c, old);
	}
	c->dirs[c->n++] = d;
}

/* Lists dirfd into a new entry; NULL with errno on failure. */
static struct repl_idcache_dir *dir_scan(int dirfd, const struct stat *sb)
{
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct repl_idcache_dir *d;
	struct dirent *de;
	DIR *dir;
	int err;

	if (fd < 0)
		return NULL;
	if ((dir = fdopendir(fd)) == NULL) {
		err = errno;
		close(fd);
		errno = err;
		return NULL;
	}
	d = mm_calloc(1, sizeof(*d));
	d->dev = sb->st_dev;
	d->ino = sb->st_ino;
	d->mtime = sb->st_mtim;
	d->ctime = sb->st_ctim;
	set_grow(d);
	while ((errno = 0, de = readdir(dir)) != NULL) {
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			set_put(d, de->d_name);
	}
	err = errno;
	closedir(dir);
	if (err != 0) {
		dir_free(d);
		errno = err;
		return NULL;
	}
	return d;
}

static void dir_forget(struct repl_idcache *c, const struct repl_idcache_dir *d)
{
	for (size_t i = 0; i < c->n; i++) {
		if (c->dirs[i] == d) {
			dir_drop(c, i);
			return;
		}
	}
}

int repl_idcache_find(struct repl_idcache *c, int dirfd, const char *name,
		      char found[MM_NAME_MAX + 1])
{
	struct repl_idcache_dir *d;
	struct stat sb, after;
	bool kept, retried = false;
	size_t i;
	int ret;

again:
	if (fstat(dirfd, &sb) < 0)
		return -1;
	c->tick++;
	i = dir_index(c, &sb);
	if (i < c->n && same_times(c->dirs[i], &sb)) {
		d = c->dirs[i];
		kept = true;
		c->hits++;
	} else {
		if (i < c->n)
			dir_drop(c, i);
		if ((d = dir_scan(dirfd, &sb)) == NULL)
			return -1;
		c->scans++;
		/* changed while it was listed: answer from the listing, keep nothing */
		kept = fstat(dirfd, &after) == 0 && same_times(d, &after);
		if (kept)
			dir_keep(c, d);
	}
	d->used = c->tick;
	ret = 0;
	i = set_probe(d, name);
	if (d->slots[i] != NULL) {
		snprintf(found, MM_NAME_MAX + 1, "%s", d->slots[i]);
		ret = 1;
		/* a kept listing that names a file no longer there missed a
		   change made in the same clock tick as ours: list again */
		if (kept && !retried && fstatat(dirfd, found, &after, AT_SYMLINK_NOFOLLOW) < 0 &&
		    errno == ENOENT) {
			dir_forget(c, d);
			retried = true;
			goto again;
		}
	}
	if (!kept)
		dir_free(d);
	return ret;
}

struct repl_idcache_dir *repl_idcache_before(struct repl_idcache *c, int dirfd)
{
	struct stat sb;
	size_t i;

	if (fstat(dirfd, &sb) < 0)
		return NULL;
	i = dir_index(c, &sb);
	if (i == c->n)
		return NULL;
	if (!same_times(c->dirs[i], &sb)) {
		dir_drop(c, i);
		return NULL;
	}
	return c->dirs[i];
}

void repl_idcache_after(struct repl_idcache *c, struct repl_idcache_dir *d, int dirfd,
			const char *removed, const char *added)
{
	struct stat sb;
	size_t i;

	if (d == NULL)
		return;
	for (i = 0; i < c->n && c->dirs[i] != d; i++)
		;
	if (i == c->n)
		return;
	if (fstat(dirfd, &sb) < 0 || sb.st_dev != d->dev || sb.st_ino != d->ino) {
		dir_drop(c, i);
		return;
	}
	if (removed != NULL)
		set_del(d, removed);
	if (added != NULL)
		set_put(d, added);
	d->mtime = sb.st_mtim;
	d->ctime = sb.st_ctim;
}

void repl_idcache_stats(const struct repl_idcache *c, unsigned long *scans,
			unsigned long *hits)
{
	*scans = c->scans;
	*hits = c->hits;
}
