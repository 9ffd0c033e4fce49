/* SPDX-License-Identifier: MIT
 * refused.c - the files of STATE/replication/refused (refused.h): records
 * appended and synced one by one, contents by hash, and a reader that
 * steps over bytes that do not decode. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "buf.h"
#include "mem.h"
#include "refused.h"

static __thread char rerr[1024];

static const char *fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static const char *fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(rerr, sizeof(rerr), fmt, ap);
	va_end(ap);
	return rerr;
}

static bool plain_name(const char *s)
{
	return s[0] != '\0' && s[0] != '.' && strchr(s, '/') == NULL;
}

static int fsync_dir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC), ret;

	if (fd < 0)
		return -1;
	ret = fsync(fd);
	close(fd);
	return ret;
}

/* mkdir of path (its parent exists), synced into its parent when made. */
static int make_dir(const char *path)
{
	char *parent;
	int ret = 0;

	if (mkdir(path, 0700) < 0)
		return errno == EEXIST ? 0 : -1;
	parent = mm_strdup(path);
	*strrchr(parent, '/') = '\0';
	if (fsync_dir(parent) < 0)
		ret = -1;
	free(parent);
	return ret;
}

/* STATE/replication/refused (and content/ below it with content). */
static char *refused_dir(const char *state_dir, bool content, const char **error_r)
{
	char *repl = mm_strdup_printf("%s/replication", state_dir);
	char *dir = mm_strdup_printf("%s/%s", state_dir, MM_REFUSED_DIR);
	char *cdir = content ? mm_strdup_printf("%s/content", dir) : NULL;

	if (make_dir(repl) < 0 || make_dir(dir) < 0 || (cdir != NULL && make_dir(cdir) < 0)) {
		*error_r = fail("mkdir(%s) failed: %s", cdir != NULL ? cdir : dir,
				strerror(errno));
		free(repl);
		free(dir);
		free(cdir);
		return NULL;
	}
	free(repl);
	if (cdir != NULL) {
		free(dir);
		return cdir;
	}
	return dir;
}

int mm_refused_append(const char *state_dir, const char *peer, const unsigned char *rec,
		      size_t len, const char **error_r)
{
	char *dir, *path;
	size_t off = 0;
	int fd, ret = -1;

	if (!plain_name(peer)) {
		*error_r = fail("'%s' is not a peer name a file can have", peer);
		return -1;
	}
	if ((dir = refused_dir(state_dir, false, error_r)) == NULL)
		return -1;
	path = mm_strdup_printf("%s/%s.mmj", dir, peer);
	fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT) {
		fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd >= 0 && fsync_dir(dir) < 0) {
			*error_r = fail("fsync(%s) failed: %s", dir, strerror(errno));
			goto out;
		}
	}
	if (fd < 0) {
		*error_r = fail("open(%s) failed: %s", path, strerror(errno));
		goto out;
	}
	while (off < len) {
		ssize_t n = write(fd, rec + off, len - off);

		if (n < 0) {
			*error_r = fail("write(%s) failed: %s", path, strerror(errno));
			goto out;
		}
		off += (size_t)n;
	}
	if (fdatasync(fd) < 0) {
		*error_r = fail("fdatasync(%s) failed: %s", path, strerror(errno));
		goto out;
	}
	ret = 0;
out:
	if (fd >= 0)
		close(fd);
	free(path);
	free(dir);
	return ret;
}

/* Reads a whole file; NULL (errno set) when it cannot. */
static unsigned char *read_whole(const char *path, size_t *len_r)
{
	struct mm_buf b = { 0 };
	unsigned char chunk[65536];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return NULL;
	while ((n = read(fd, chunk, sizeof(chunk))) > 0)
		mm_buf_append(&b, chunk, (size_t)n);
	close(fd);
	if (n < 0) {
		mm_buf_free(&b);
		return NULL;
	}
	if (b.data == NULL)
		mm_buf_reserve(&b, 1);
	*len_r = b.len;
	return b.data;
}

/* The next offset >= from where a whole record decodes, or len. */
static size_t next_record(const unsigned char *data, size_t len, size_t from)
{
	struct mm_journal_rec rec;
	size_t used;

	for (size_t off = from; off + MM_JOURNAL_HDR_SIZE <= len; off++)
		if (mm_get_u32(data + off) == MM_JOURNAL_REC_MAGIC &&
		    mm_journal_decode(data + off, len - off, &rec, &used) == 0)
			return off;
	return len;
}

uint64_t mm_refused_last_lsn(const char *state_dir, const char *peer)
{
	char *path = mm_strdup_printf("%s/%s/%s.mmj", state_dir, MM_REFUSED_DIR, peer);
	size_t len = 0, off = 0, used;
	unsigned char *data = plain_name(peer) ? read_whole(path, &len) : NULL;
	struct mm_journal_rec rec;
	uint64_t last = 0;

	while (data != NULL && off < len) {
		if (mm_journal_decode(data + off, len - off, &rec, &used) == 0) {
			if (rec.lsn > last)
				last = rec.lsn;
			off += used;
		} else {
			off = next_record(data, len, off + 1);
		}
	}
	free(data);
	free(path);
	return last;
}

int mm_refused_content_open(const char *state_dir, const char *peer, uint64_t lsn,
			    char **tmp_r, const char **error_r)
{
	char *dir, *tmp;
	int fd;

	if (!plain_name(peer)) {
		*error_r = fail("'%s' is not a peer name a file can have", peer);
		return -1;
	}
	if ((dir = refused_dir(state_dir, true, error_r)) == NULL)
		return -1;
	tmp = mm_strdup_printf("%s/.tmp.%s.%" PRIu64 ".%ld", dir, peer, lsn, (long)getpid());
	fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		*error_r = fail("open(%s) failed: %s", tmp, strerror(errno));
		free(tmp);
		tmp = NULL;
	}
	free(dir);
	*tmp_r = tmp;
	return fd;
}

int mm_refused_content_commit(const char *state_dir, int fd, const char *tmp,
			      const uint8_t hash[16], const char **error_r)
{
	char hex[33], *dir = mm_strdup_printf("%s/%s/content", state_dir, MM_REFUSED_DIR);
	char *dst;
	int ret = -1;

	mm_hash_hex(hash, hex);
	dst = mm_strdup_printf("%s/%s", dir, hex);
	if (fsync(fd) < 0)
		*error_r = fail("fsync(%s) failed: %s", tmp, strerror(errno));
	else if (rename(tmp, dst) < 0)
		*error_r = fail("rename(%s, %s) failed: %s", tmp, dst, strerror(errno));
	else if (fsync_dir(dir) < 0)
		*error_r = fail("fsync(%s) failed: %s", dir, strerror(errno));
	else
		ret = 0;
	close(fd);
	if (ret < 0)
		unlink(tmp);
	free(dst);
	free(dir);
	return ret;
}

bool mm_refused_content_has(const char *state_dir, const uint8_t hash[16])
{
	char hex[33], *path;
	bool has;

	mm_hash_hex(hash, hex);
	path = mm_strdup_printf("%s/%s/content/%s", state_dir, MM_REFUSED_DIR, hex);
	has = access(path, F_OK) == 0;
	free(path);
	return has;
}

struct mm_refused_iter {
	char *dir;
	char **peers;		/* sorted */
	size_t n_peers, next_peer;
	char *peer;		/* the file being read */
	unsigned char *data;
	size_t len, off;
};

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int mm_refused_iter_init(const char *state_dir, struct mm_refused_iter **it_r,
			 const char **error_r)
{
	struct mm_refused_iter *it = mm_calloc(1, sizeof(*it));
	size_t cap = 0;
	struct dirent *de;
	DIR *d;

	it->dir = mm_strdup_printf("%s/%s", state_dir, MM_REFUSED_DIR);
	d = opendir(it->dir);
	if (d == NULL && errno != ENOENT) {
		*error_r = fail("opendir(%s) failed: %s", it->dir, strerror(errno));
		free(it->dir);
		free(it);
		return -1;
	}
	while (d != NULL && (de = readdir(d)) != NULL) {
		size_t n = strlen(de->d_name);

		if (de->d_name[0] == '.' || n <= 4 || strcmp(de->d_name + n - 4, ".mmj") != 0)
			continue;
		if (it->n_peers == cap) {
			cap = cap == 0 ? 8 : cap * 2;
			it->peers = mm_realloc(it->peers, cap * sizeof(*it->peers));
		}
		it->peers[it->n_peers++] = mm_strndup(de->d_name, n - 4);
	}
	if (d != NULL)
		closedir(d);
	if (it->n_peers > 1)
		qsort(it->peers, it->n_peers, sizeof(*it->peers), cmp_str);
	*it_r = it;
	return 0;
}

int mm_refused_iter_next(struct mm_refused_iter *it, const char **peer_r,
			 struct mm_journal_rec *rec_r, const char **error_r)
{
	for (;;) {
		if (it->data != NULL && it->off < it->len) {
			size_t used, skip;
			int ret = mm_journal_decode(it->data + it->off, it->len - it->off, rec_r,
						    &used);

			if (ret == 0) {
				it->off += used;
				*peer_r = it->peer;
				return 1;
			}
			skip = next_record(it->data, it->len, it->off + 1);
			*error_r = fail("%s/%s.mmj offset %zu: %s, %zu bytes skipped", it->dir,
					it->peer, it->off, mm_strerror(ret), skip - it->off);
			it->off = skip;
			return -1;
		}
		mm_free(&it->data);
		mm_free(&it->peer);
		if (it->next_peer == it->n_peers)
			return 0;
		it->peer = mm_strdup(it->peers[it->next_peer++]);
		char *path = mm_strdup_printf("%s/%s.mmj", it->dir, it->peer);

		it->off = 0;
		it->data = read_whole(path, &it->len);
		if (it->data == NULL) {
			*error_r = fail("read(%s) failed: %s", path, strerror(errno));
			free(path);
			return -1;
		}
		free(path);
	}
}

void mm_refused_iter_deinit(struct mm_refused_iter **itp)
{
	struct mm_refused_iter *it = *itp;

	if (it == NULL)
		return;
	*itp = NULL;
	for (size_t i = 0; i < it->n_peers; i++)
		free(it->peers[i]);
	free(it->peers);
	free(it->peer);
	free(it->data);
	free(it->dir);
	free(it);
}
