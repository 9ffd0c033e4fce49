/* SPDX-License-Identifier: MIT
 * journal-file.c - journal segments: append, group commit, recovery,
 * retention and content links (writer); ordered reading with inotify
 * wake-ups (reader). The record format itself is journal.c's. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>
#include "journal-file.h"
#include "log.h"
#include "mem.h"

struct mm_jseg {
	uint64_t first_lsn;
	int fd;
	unsigned int refs;	/* appended records not yet finished, +1 if current */
	struct mm_jseg *live_next;	/* segments held open, for retention */
};

struct mm_journal {
	char *dir, *content_dir;
	int dirfd, content_dirfd, lockfd;
	struct mm_journal_settings set;

	pthread_mutex_t mtx;
	pthread_cond_t cond;
	struct mm_jseg *cur;
	struct mm_jseg *live;	/* every segment with refs: never pruned */
	off_t cur_size;
	off_t alloc_end;	/* cur is allocated on disk up to here */
	bool no_fallocate;	/* the filesystem cannot preallocate */
	uint64_t next_lsn, durable_lsn;
	uint64_t last_time_ns;	/* hybrid logical clock: of the last record */
	bool syncing;
	struct mm_buf buf;

	struct mm_journal_ref *pending;
	size_t n_pending;

	pthread_t flusher;
	bool flusher_running, stopping;
	bool prune_soon;	/* a segment was started: retention may apply */
	pthread_cond_t flusher_cond;
};

static __thread char jerr[1024];

static void seg_live_add(struct mm_journal *j, struct mm_jseg *seg)
{
	seg->live_next = j->live;
	j->live = seg;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static int write_full(int fd, const void *p, size_t n, off_t off)
{
	const unsigned char *c = p;

	while (n > 0) {
		ssize_t w = pwrite(fd, c, n, off);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (w == 0)
			return -EIO;
		c += w;
		n -= (size_t)w;
		off += w;
	}
	return 0;
}

static ssize_t read_full(int fd, void *p, size_t n, off_t off)
{
	unsigned char *c = p;
	size_t got = 0;

	while (got < n) {
		ssize_t r = pread(fd, c + got, n - got, off + (off_t)got);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

static int seg_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Lists segment first-LSNs in dir, sorted. Returns count or -1. */
static ssize_t seg_list(int dirfd, uint64_t **lsns_r)
{
	uint64_t *lsns = NULL;
	size_t n = 0;
	struct dirent *de;
	DIR *d;
	int fd = dup(dirfd);

	if (fd < 0 || (d = fdopendir(fd)) == NULL) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	rewinddir(d);
	while ((de = readdir(d)) != NULL) {
		char *end;
		unsigned long long v;

		if (strlen(de->d_name) != 20 || strcmp(de->d_name + 16, ".mmj") != 0)
			continue;
		v = strtoull(de->d_name, &end, 16);
		if (end != de->d_name + 16)
			continue;
		lsns = mm_realloc(lsns, (n + 1) * sizeof(*lsns));
		lsns[n++] = v;
	}
	closedir(d);
	if (n > 1)	/* lsns is NULL in an empty directory: qsort(NULL) is UB */
		qsort(lsns, n, sizeof(*lsns), seg_cmp);
	*lsns_r = lsns;
	return (ssize_t)n;
}

static void seg_name(uint64_t first_lsn, char out[24])
{
	snprintf(out, 24, "%016" PRIx64 ".mmj", first_lsn);
}

static void seg_header(uint64_t first_lsn, unsigned char hdr[MM_JSEG_HDR_SIZE])
{
	memset(hdr, 0, MM_JSEG_HDR_SIZE);
	memcpy(hdr, MM_JSEG_MAGIC, 8);
	mm_set_u32(hdr + 8, MM_JSEG_VERSION);
	mm_set_u64(hdr + 16, first_lsn);
	mm_set_u64(hdr + 24, now_ns());
}

static bool seg_header_ok(const unsigned char *hdr, uint64_t first_lsn)
{
	return memcmp(hdr, MM_JSEG_MAGIC, 8) == 0 &&
		mm_get_u32(hdr + 8) == MM_JSEG_VERSION &&
		mm_get_u64(hdr + 16) == first_lsn;
}

/* Finds the next offset >= from where a whole valid record starts. */
static off_t find_next_record(const unsigned char *map, size_t size, size_t from)
{
	struct mm_journal_rec rec;
	size_t used;

	for (size_t off = from; off + MM_JOURNAL_HDR_SIZE <= size; off++) {
		if (mm_get_u32(map + off) != MM_JOURNAL_REC_MAGIC)
			continue;
		if (mm_journal_decode(map + off, size - off, &rec, &used) == 0)
			return (off_t)off;
	}
	return -1;
}

static void add_pending(struct mm_journal *j, struct mm_jseg *seg, off_t off,
			uint64_t lsn)
{
	j->pending = mm_realloc(j->pending, (j->n_pending + 1) * sizeof(*j->pending));
	j->pending[j->n_pending].seg = seg;
	j->pending[j->n_pending].off = off;
	j->pending[j->n_pending].lsn = lsn;
	j->n_pending++;
	seg->refs++;
}

/* Scans one segment. On the last segment a tail that holds no further
   valid record is torn: it is truncated. Returns 0 or -1. */
static int recover_segment(struct mm_journal *j, struct mm_jseg *seg,
			   bool last, uint64_t *last_lsn, off_t *end_r)
{
	char name[24];
	struct stat st;
	unsigned char *map;
	size_t off = MM_JSEG_HDR_SIZE, size;

	seg_name(seg->first_lsn, name);
	if (fstat(seg->fd, &st) < 0) {
		snprintf(jerr, sizeof(jerr), "fstat(%s/%s) failed: %m", j->dir, name);
		return -1;
	}
	size = (size_t)st.st_size;
	if (size < MM_JSEG_HDR_SIZE) {
		if (!last) {
			mm_log_error("journal: segment %s/%s: shorter than its header (%zu bytes); skipped",
				     j->dir, name, size);
			*end_r = (off_t)size;
			return 0;
		}
		/* created but never written: rewrite the header */
		unsigned char hdr[MM_JSEG_HDR_SIZE];

		mm_log_warn("journal: segment %s/%s: torn header (%zu bytes) rewritten",
			    j->dir, name, size);
		seg_header(seg->first_lsn, hdr);
		if (write_full(seg->fd, hdr, sizeof(hdr), 0) < 0 ||
		    ftruncate(seg->fd, MM_JSEG_HDR_SIZE) < 0) {
			snprintf(jerr, sizeof(jerr), "write(%s/%s) failed: %m", j->dir, name);
			return -1;
		}
		*end_r = MM_JSEG_HDR_SIZE;
		return 0;
	}
	map = mmap(NULL, size, PROT_READ, MAP_SHARED, seg->fd, 0);
	if (map == MAP_FAILED) {
		snprintf(jerr, sizeof(jerr), "mmap(%s/%s) failed: %m", j->dir, name);
		return -1;
	}
	if (!seg_header_ok(map, seg->first_lsn)) {
		munmap(map, size);
		mm_log_error("journal: segment %s/%s: bad header; its records are not used",
			     j->dir, name);
		*end_r = (off_t)size;
		return 0;
	}
	while (off < size) {
		struct mm_journal_rec rec;
		size_t used;
		int ret = mm_journal_decode(map + off, size - off, &rec, &used);
		off_t next;

		if (ret == 0) {
			if (*last_lsn != 0 && rec.lsn != *last_lsn + 1)
				mm_log_error("journal: segment %s/%s offset %zu: LSN %" PRIu64
					     " follows %" PRIu64 " (gap or disorder)",
					     j->dir, name, off, rec.lsn, *last_lsn);
			if (rec.lsn > *last_lsn)
				*last_lsn = rec.lsn;
			if (rec.time_ns > j->last_time_ns)
				j->last_time_ns = rec.time_ns;
			if (rec.status == MM_REC_PENDING)
				add_pending(j, seg, (off_t)off, rec.lsn);
			off += used;
			continue;
		}
		next = find_next_record(map, size, off + 1);
		if (next >= 0) {
			mm_log_error("journal: segment %s/%s offset %zu: corrupt record (%s), "
				     "%zu bytes skipped, never applied",
				     j->dir, name, off, mm_strerror(ret), (size_t)next - off);
			off = (size_t)next;
			continue;
		}
		if (!last) {
			mm_log_error("journal: segment %s/%s offset %zu: corrupt tail (%s), "
				     "%zu bytes not used", j->dir, name, off,
				     mm_strerror(ret), size - off);
			break;
		}
		mm_log_warn("journal: segment %s/%s offset %zu: torn tail (%s, %zu bytes) truncated",
			    j->dir, name, off, mm_strerror(ret), size - off);
		if (ftruncate(seg->fd, (off_t)off) < 0 || fdatasync(seg->fd) < 0) {
			munmap(map, size);
			snprintf(jerr, sizeof(jerr), "ftruncate(%s/%s) failed: %m", j->dir, name);
			return -1;
		}
		size = off;
		break;
	}
	munmap(map, st.st_size);
	*end_r = (off_t)size;
	return 0;
}

static int mkdir_p(const char *path)
{
	char *p = mm_strdup(path);

	for (char *s = p + 1; *s != '\0'; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0700) < 0 && errno != EEXIST) {
			free(p);
			return -1;
		}
		*s = '/';
	}
	if (mkdir(p, 0700) < 0 && errno != EEXIST) {
		free(p);
		return -1;
	}
	free(p);
	return 0;
}

static void *flusher_main(void *arg);

static int journal_recover(struct mm_journal *j)
{
	uint64_t *lsns, last_lsn = 0;
	ssize_t n = seg_list(j->dirfd, &lsns);

	if (n < 0) {
		snprintf(jerr, sizeof(jerr), "opendir(%s) failed: %m", j->dir);
		return -1;
	}
	for (ssize_t i = 0; i < n; i++) {
		struct mm_jseg *seg = mm_calloc(1, sizeof(*seg));
		char name[24];
		off_t end;

		seg->first_lsn = lsns[i];
		seg_name(seg->first_lsn, name);
		seg->fd = openat(j->dirfd, name, O_RDWR | O_CLOEXEC);
		if (seg->fd < 0) {
			snprintf(jerr, sizeof(jerr), "open(%s/%s) failed: %m", j->dir, name);
			free(seg);
			free(lsns);
			return -1;
		}
		if (recover_segment(j, seg, i == n - 1, &last_lsn, &end) < 0) {
			close(seg->fd);
			free(seg);
			free(lsns);
			return -1;
		}
		if (i == n - 1 || seg->refs > 0)
			seg_live_add(j, seg);
		if (i == n - 1) {
			j->cur = seg;
			seg->refs++;
			j->cur_size = end;
			j->alloc_end = end;	/* what lies beyond is found again */
		} else if (seg->refs == 0) {
			close(seg->fd);
			free(seg);
		}
	}
	free(lsns);
	if (j->cur != NULL && last_lsn < j->cur->first_lsn)
		last_lsn = j->cur->first_lsn - 1;
	j->next_lsn = last_lsn + 1;
	j->durable_lsn = last_lsn;
	return 0;
}

int mm_journal_open(const char *state_dir, const struct mm_journal_settings *set,
		    struct mm_journal **j_r, const char **error_r)
{
	struct mm_journal *j = mm_calloc(1, sizeof(*j));

	j->set = *set;
	j->dirfd = j->content_dirfd = j->lockfd = -1;
	j->dir = mm_strdup_printf("%s/journal", state_dir);
	j->content_dir = mm_strdup_printf("%s/content", state_dir);
	pthread_mutex_init(&j->mtx, NULL);
	pthread_cond_init(&j->cond, NULL);
	pthread_cond_init(&j->flusher_cond, NULL);
	if (mkdir_p(j->dir) < 0 || mkdir_p(j->content_dir) < 0) {
		snprintf(jerr, sizeof(jerr), "mkdir(%s) failed: %m", j->dir);
		goto fail;
	}
	j->dirfd = open(j->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	j->content_dirfd = open(j->content_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (j->dirfd < 0 || j->content_dirfd < 0) {
		snprintf(jerr, sizeof(jerr), "open(%s) failed: %m", j->dir);
		goto fail;
	}
	j->lockfd = openat(j->dirfd, "lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (j->lockfd < 0) {
		snprintf(jerr, sizeof(jerr), "open(%s/lock) failed: %m", j->dir);
		goto fail;
	}
	if (flock(j->lockfd, LOCK_EX | LOCK_NB) < 0) {
		snprintf(jerr, sizeof(jerr), "%s is in use by another process (flock: %m)",
			 j->dir);
		goto fail;
	}
	if (journal_recover(j) < 0)
		goto fail;
	*j_r = j;
	return 0;
fail:
	*error_r = jerr;
	mm_journal_close(&j);
	return -1;
}

int mm_journal_start(struct mm_journal *j, const char **error_r)
{
	if (j->set.fsync != MM_FSYNC_BATCH || j->flusher_running)
		return 0;
	if (pthread_create(&j->flusher, NULL, flusher_main, j) != 0) {
		snprintf(jerr, sizeof(jerr), "pthread_create(flusher) failed");
		*error_r = jerr;
		return -1;
	}
	j->flusher_running = true;
	return 0;
}

static void seg_release(struct mm_journal *j, struct mm_jseg *seg)
{
	mm_assert(seg->refs > 0);
	if (--seg->refs == 0) {
		struct mm_jseg **pp;

		mm_assert(seg != j->cur);
		for (pp = &j->live; *pp != seg; pp = &(*pp)->live_next)
			mm_assert(*pp != NULL);
		*pp = seg->live_next;
		close(seg->fd);
		free(seg);
	}
}

void mm_journal_close(struct mm_journal **jp)
{
	struct mm_journal *j = *jp;

	if (j == NULL)
		return;
	if (j->flusher_running) {
		pthread_mutex_lock(&j->mtx);
		j->stopping = true;
		pthread_cond_signal(&j->flusher_cond);
		pthread_mutex_unlock(&j->mtx);
		pthread_join(j->flusher, NULL);
	}
	if (j->cur != NULL) {
		if (fdatasync(j->cur->fd) < 0)
			mm_log_error("journal: fdatasync(%s) failed: %m", j->dir);
		for (size_t i = 0; i < j->n_pending; i++)
			seg_release(j, j->pending[i].seg);
		struct mm_jseg *cur = j->cur;

		j->cur = NULL;
		seg_release(j, cur);
	}
	free(j->pending);
	if (j->lockfd >= 0)
		close(j->lockfd);
	if (j->dirfd >= 0)
		close(j->dirfd);
	if (j->content_dirfd >= 0)
		close(j->content_dirfd);
	mm_buf_free(&j->buf);
	pthread_mutex_destroy(&j->mtx);
	pthread_cond_destroy(&j->cond);
	pthread_cond_destroy(&j->flusher_cond);
	free(j->dir);
	free(j->content_dir);
	free(j);
	*jp = NULL;
}

void mm_journal_pending(struct mm_journal *j, struct mm_journal_ref **refs_r,
			size_t *n_r)
{
	*refs_r = j->pending;
	*n_r = j->n_pending;
}

void mm_journal_pending_done(struct mm_journal *j)
{
	/* each ref was released by mm_journal_finish() */
	mm_free(&j->pending);
	j->n_pending = 0;
}

int mm_journal_read_ref(struct mm_journal *j, const struct mm_journal_ref *ref,
			struct mm_buf *buf, struct mm_journal_rec *rec_r,
			const char **error_r)
{
	unsigned char hdr[MM_JOURNAL_HDR_SIZE];
	uint32_t len;
	size_t used;
	int ret;

	(void)j;
	if (read_full(ref->seg->fd, hdr, sizeof(hdr), ref->off) != sizeof(hdr))
		goto fail;
	len = mm_get_u32(hdr + 4);
	if (len > MM_JOURNAL_REC_MAX || len < MM_JOURNAL_HDR_SIZE)
		goto fail;
	mm_buf_reset(buf);
	mm_buf_reserve(buf, len);
	if (read_full(ref->seg->fd, buf->data, len, ref->off) != (ssize_t)len)
		goto fail;
	buf->len = len;
	ret = mm_journal_decode(buf->data, len, rec_r, &used);
	if (ret < 0) {
		snprintf(jerr, sizeof(jerr), "record at LSN %" PRIu64 ": %s",
			 ref->lsn, mm_strerror(ret));
		*error_r = jerr;
		return -1;
	}
	return 0;
fail:
	snprintf(jerr, sizeof(jerr), "cannot read record at LSN %" PRIu64 ": %m", ref->lsn);
	*error_r = jerr;
	return -1;
}

/* Starts a new segment at first_lsn. Called with mtx held. */
static int journal_rotate(struct mm_journal *j, uint64_t first_lsn)
{
	unsigned char hdr[MM_JSEG_HDR_SIZE];
	struct mm_jseg *seg;
	char name[24];
	int fd, ret;

	if (j->cur != NULL && j->set.fsync != MM_FSYNC_NEVER &&
	    fdatasync(j->cur->fd) < 0)
		return -errno;
	seg_name(first_lsn, name);
	fd = openat(j->dirfd, name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	seg_header(first_lsn, hdr);
	ret = write_full(fd, hdr, sizeof(hdr), 0);
	if (ret == 0 && j->set.fsync != MM_FSYNC_NEVER &&
	    (fdatasync(fd) < 0 || fsync(j->dirfd) < 0))
		ret = -errno;
	if (ret < 0) {
		close(fd);
		unlinkat(j->dirfd, name, 0);
		return ret;
	}
	seg = mm_calloc(1, sizeof(*seg));
	seg->first_lsn = first_lsn;
	seg->fd = fd;
	seg->refs = 1;
	seg_live_add(j, seg);
	if (j->cur != NULL) {
		struct mm_jseg *old = j->cur;

		j->cur = NULL;
		seg_release(j, old);
		j->prune_soon = true;
	}
	j->cur = seg;
	j->cur_size = MM_JSEG_HDR_SIZE;
	j->alloc_end = MM_JSEG_HDR_SIZE;
	if (j->set.fsync != MM_FSYNC_NEVER)
		j->durable_lsn = first_lsn - 1;	/* the old segment was synced */
	return 0;
}

/* Ops that let a user out of a full disk (expunge, flag changes, moves,
   folder and metadata removal) may use the reserve. */
static bool frees_space(const struct mm_journal_rec *rec)
{
	return rec->op == MM_OP_EXPUNGE || rec->op == MM_OP_FLAGS ||
		rec->op == MM_OP_MOVE || rec->op == MM_OP_FOLDER_DELETE ||
		(rec->op == MM_OP_META && (rec->rflags & MM_RECF_DELETED));
}

/* Makes sure len more bytes fit in blocks already allocated to the
   segment, keeping MM_JOURNAL_RESERVE bytes beyond them for ops that free
   space. Called with mtx held. 0 or -ENOSPC (or another -errno). */
static int journal_reserve(struct mm_journal *j, size_t len, bool use_reserve)
{
	off_t need = j->cur_size + (off_t)len;
	off_t want = need + (use_reserve ? 0 : MM_JOURNAL_RESERVE);

	if (j->no_fallocate || want <= j->alloc_end)
		return 0;
	/* grow in steps so most appends cost no fallocate */
	off_t step = want + MM_JOURNAL_RESERVE;

	if (fallocate(j->cur->fd, FALLOC_FL_KEEP_SIZE, j->alloc_end, step - j->alloc_end) == 0) {
		j->alloc_end = step;
		return 0;
	}
	if (errno == EOPNOTSUPP || errno == ENOSYS) {
		j->no_fallocate = true;
		mm_log_warn("journal: %s cannot preallocate: no space is held back "
			    "for expunges on a full disk", j->dir);
		return 0;
	}
	if (errno != ENOSPC)
		return -errno;
	if (fallocate(j->cur->fd, FALLOC_FL_KEEP_SIZE, j->alloc_end, want - j->alloc_end) == 0) {
		j->alloc_end = want;
		return 0;
	}
	if (use_reserve && need <= j->alloc_end)
		return 0;
	return -ENOSPC;
}

int mm_journal_append(struct mm_journal *j, struct mm_journal_rec *rec,
		      struct mm_journal_ref *ref_r)
{
	int ret;

	pthread_mutex_lock(&j->mtx);
	rec->lsn = j->next_lsn;
	/* a hybrid logical clock: the wall clock, but never at or before the
	   record before it (a clock stepped back, two appends in one tick),
	   also across restarts (recovery seeds it): late records after a
	   failover are ordered by it, flag by flag */
	rec->time_ns = now_ns();
	if (rec->time_ns <= j->last_time_ns)
		rec->time_ns = j->last_time_ns + 1;
	j->last_time_ns = rec->time_ns;
	rec->status = MM_REC_PENDING;
	mm_buf_reset(&j->buf);
	ret = mm_journal_encode(rec, &j->buf);
	if (ret < 0) {
		ret = -EFBIG;
		goto out;
	}
	if (j->cur == NULL ||
	    (j->cur_size > MM_JSEG_HDR_SIZE &&
	     (uint64_t)j->cur_size + j->buf.len > j->set.segment_size)) {
		ret = journal_rotate(j, rec->lsn);
		/* on a full disk, an op that frees space may overrun the
		   segment into its reserve rather than fail */
		if (ret == -ENOSPC && j->cur != NULL && frees_space(rec))
			ret = 0;
		if (ret < 0)
			goto out;
	}
	ret = journal_reserve(j, j->buf.len, frees_space(rec));
	if (ret < 0)
		goto out;
	ret = write_full(j->cur->fd, j->buf.data, j->buf.len, j->cur_size);
	if (ret < 0) {
		/* ENOSPC or EIO: cut the partial record so the tail stays clean */
		if (ftruncate(j->cur->fd, j->cur_size) < 0)
			mm_log_error("journal: ftruncate(%s) after failed append: %m", j->dir);
		j->alloc_end = j->cur_size;	/* the truncate freed what lay beyond */
		goto out;
	}
	ref_r->seg = j->cur;
	ref_r->off = j->cur_size;
	ref_r->lsn = rec->lsn;
	j->cur->refs++;
	j->cur_size += (off_t)j->buf.len;
	j->next_lsn++;
out:
	pthread_mutex_unlock(&j->mtx);
	return ret;
}

void mm_journal_finish(struct mm_journal *j, struct mm_journal_ref *ref,
		       enum mm_rec_status status)
{
	unsigned char b = (unsigned char)status;
	int ret = write_full(ref->seg->fd, &b, 1, ref->off + MM_JOURNAL_STATUS_OFF);

	if (ret < 0)
		mm_log_error("journal: cannot set status of LSN %" PRIu64 ": %s "
			     "(recovery will decide it from the store)",
			     ref->lsn, strerror(-ret));
	pthread_mutex_lock(&j->mtx);
	seg_release(j, ref->seg);
	pthread_mutex_unlock(&j->mtx);
	ref->seg = NULL;
}

bool mm_journal_must_sync(const struct mm_journal *j, enum mm_op op)
{
	switch (j->set.fsync) {
	case MM_FSYNC_ALWAYS:
		return true;
	case MM_FSYNC_NEVER:
		return false;
	case MM_FSYNC_BATCH:
		break;
	}
	/* Losing one of these loses mail or a folder; a lost flag change,
	   move or expunge is redone by the client and is flushed within
	   batch_interval anyway. */
	return op == MM_OP_DELIVER || op == MM_OP_COPY || op == MM_OP_META ||
		op == MM_OP_FOLDER_CREATE || op == MM_OP_FOLDER_RENAME ||
		op == MM_OP_FOLDER_DELETE;
}

int mm_journal_sync(struct mm_journal *j, uint64_t lsn)
{
	int ret = 0;

	if (j->set.fsync == MM_FSYNC_NEVER)
		return 0;
	pthread_mutex_lock(&j->mtx);
	while (j->durable_lsn < lsn && ret == 0) {
		struct mm_jseg *seg;
		uint64_t target;

		if (j->syncing) {
			pthread_cond_wait(&j->cond, &j->mtx);
			continue;
		}
		/* lead a group commit covering everything appended so far */
		j->syncing = true;
		seg = j->cur;
		seg->refs++;
		target = j->next_lsn - 1;
		pthread_mutex_unlock(&j->mtx);
		if (j->set.store_fd >= 0 && syncfs(j->set.store_fd) < 0)
			ret = -errno;
		if (ret == 0 && fdatasync(seg->fd) < 0)
			ret = -errno;
		pthread_mutex_lock(&j->mtx);
		seg_release(j, seg);
		if (ret == 0 && target > j->durable_lsn)
			j->durable_lsn = target;
		j->syncing = false;
		pthread_cond_broadcast(&j->cond);
	}
	pthread_mutex_unlock(&j->mtx);
	if (ret < 0)
		mm_log_error("journal: fdatasync(%s) failed: %s", j->dir, strerror(-ret));
	return ret;
}

void mm_journal_observe(struct mm_journal *j, uint64_t time_ns)
{
	pthread_mutex_lock(&j->mtx);
	if (time_ns > j->last_time_ns)
		j->last_time_ns = time_ns;
	pthread_mutex_unlock(&j->mtx);
}

uint64_t mm_journal_last_time(struct mm_journal *j)
{
	uint64_t t;

	pthread_mutex_lock(&j->mtx);
	t = j->last_time_ns;
	pthread_mutex_unlock(&j->mtx);
	return t;
}

uint64_t mm_journal_last_lsn(struct mm_journal *j)
{
	uint64_t lsn;

	pthread_mutex_lock(&j->mtx);
	lsn = j->next_lsn - 1;
	pthread_mutex_unlock(&j->mtx);
	return lsn;
}

uint64_t mm_journal_durable_lsn(struct mm_journal *j)
{
	uint64_t lsn;

	pthread_mutex_lock(&j->mtx);
	lsn = j->set.fsync == MM_FSYNC_NEVER ? 0 : j->durable_lsn;
	pthread_mutex_unlock(&j->mtx);
	return lsn;
}

static void *flusher_main(void *arg)
{
	struct mm_journal *j = arg;
	uint64_t last_prune = 0;

	pthread_mutex_lock(&j->mtx);
	while (!j->stopping) {
		struct timespec ts;
		uint64_t target;

		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += (long)j->set.batch_interval_ms * 1000000L;
		ts.tv_sec += ts.tv_nsec / 1000000000L;
		ts.tv_nsec %= 1000000000L;
		pthread_cond_timedwait(&j->flusher_cond, &j->mtx, &ts);
		target = j->next_lsn - 1;
		/* retention is checked every minute, and when a segment ends */
		bool prune = j->prune_soon || (uint64_t)ts.tv_sec >= last_prune + 60;

		j->prune_soon = false;
		if ((j->stopping || target <= j->durable_lsn) && !prune)
			continue;
		pthread_mutex_unlock(&j->mtx);
		if (target > j->durable_lsn)
			mm_journal_sync(j, target);
		if (prune) {
			last_prune = (uint64_t)ts.tv_sec;
			mm_journal_prune(j, (uint64_t)ts.tv_sec);
		}
		pthread_mutex_lock(&j->mtx);
	}
	pthread_mutex_unlock(&j->mtx);
	return NULL;
}

static void content_name(uint64_t seg_first, uint64_t lsn, char out[48])
{
	snprintf(out, 48, "%016" PRIx64 "/%016" PRIx64, seg_first, lsn);
}

static int copy_file(int src_dirfd, const char *src, int dst_dirfd, const char *dst)
{
	char buf[65536];
	int in, out, ret = 0;
	ssize_t n;
	off_t off = 0;

	in = openat(src_dirfd, src, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return -errno;
	out = openat(dst_dirfd, dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (out < 0) {
		ret = -errno;
		close(in);
		return ret;
	}
	while ((n = read(in, buf, sizeof(buf))) > 0) {
		ret = write_full(out, buf, (size_t)n, off);
		if (ret < 0)
			break;
		off += n;
	}
	if (n < 0)
		ret = -errno;
	close(in);
	close(out);
	if (ret < 0)
		unlinkat(dst_dirfd, dst, 0);
	return ret;
}

int mm_journal_content_link(struct mm_journal *j, const struct mm_journal_ref *ref,
			    int dirfd, const char *path)
{
	char name[48];

	content_name(ref->seg->first_lsn, ref->lsn, name);
	name[16] = '\0';
	if (mkdirat(j->content_dirfd, name, 0700) < 0 && errno != EEXIST)
		return -errno;
	name[16] = '/';
	if (linkat(dirfd, path, j->content_dirfd, name, 0) == 0)
		return 0;
	if (errno == EEXIST) {
		/* a retried record: replace the stale link */
		unlinkat(j->content_dirfd, name, 0);
		if (linkat(dirfd, path, j->content_dirfd, name, 0) == 0)
			return 0;
	}
	if (errno == EXDEV || errno == EMLINK || errno == EPERM)
		return copy_file(dirfd, path, j->content_dirfd, name);
	return -errno;
}

void mm_journal_content_unlink(struct mm_journal *j, const struct mm_journal_ref *ref)
{
	char name[48];

	content_name(ref->seg->first_lsn, ref->lsn, name);
	if (unlinkat(j->content_dirfd, name, 0) < 0 && errno != ENOENT)
		mm_log_warn("journal: unlink(%s/%s) failed: %m", j->content_dir, name);
}

static void content_remove_segment(struct mm_journal *j, uint64_t seg_first)
{
	char name[24];
	struct dirent *de;
	DIR *d;
	int fd;

	snprintf(name, sizeof(name), "%016" PRIx64, seg_first);
	fd = openat(j->content_dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return;
	d = fdopendir(fd);
	if (d == NULL) {
		close(fd);
		return;
	}
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			unlinkat(fd, de->d_name, 0);
	closedir(d);
	if (unlinkat(j->content_dirfd, name, AT_REMOVEDIR) < 0)
		mm_log_warn("journal: rmdir(%s/%s) failed: %m", j->content_dir, name);
}

unsigned int mm_journal_prune(struct mm_journal *j, uint64_t now_s)
{
	uint64_t *lsns, total = 0, cur_first;
	unsigned int removed = 0;
	ssize_t n;

	/* the oldest segment still holding an unfinished record (or the
	   current one) bounds what may go */
	pthread_mutex_lock(&j->mtx);
	cur_first = UINT64_MAX;
	for (struct mm_jseg *s = j->live; s != NULL; s = s->live_next)
		if (s->first_lsn < cur_first)
			cur_first = s->first_lsn;
	pthread_mutex_unlock(&j->mtx);
	n = seg_list(j->dirfd, &lsns);
	if (n < 0)
		return 0;
	struct stat *sts = mm_calloc((size_t)n + 1, sizeof(*sts));

	for (ssize_t i = 0; i < n; i++) {
		char name[24];

		seg_name(lsns[i], name);
		if (fstatat(j->dirfd, name, &sts[i], 0) == 0)
			total += (uint64_t)sts[i].st_size;
	}
	for (ssize_t i = 0; i + 1 < n && lsns[i] < cur_first; i++) {
		const char *why = NULL;
		char name[24];

		if (j->set.retention_s > 0 &&
		    (uint64_t)sts[i + 1].st_mtime + j->set.retention_s < now_s)
			why = "older than retention";
		else if (j->set.retention_bytes > 0 && total > j->set.retention_bytes)
			why = "over retention_size";
		if (why == NULL)
			break;
		seg_name(lsns[i], name);
		if (unlinkat(j->dirfd, name, 0) < 0) {
			mm_log_error("journal: unlink(%s/%s) failed: %m", j->dir, name);
			break;
		}
		content_remove_segment(j, lsns[i]);
		total -= (uint64_t)sts[i].st_size;
		mm_log_info("journal: removed segment %s (LSN %" PRIu64 "..%" PRIu64 "): %s",
			    name, lsns[i], lsns[i + 1] - 1, why);
		removed++;
	}
	free(sts);
	free(lsns);
	return removed;
}

/* ---- reader ---- */

struct mm_journal_reader {
	char *dir, *content_dir;
	int dirfd, inotify_fd;
	uint64_t want_lsn;
	uint64_t seg_first;
	int seg_fd;
	bool seg_final;		/* a later segment exists: nothing more comes here */
	off_t off;
	/* read-ahead: the segment's bytes [ra_off, ra_off + ra.len), read
	   before they are needed (see reader_bytes) */
	struct mm_buf ra;
	off_t ra_off;
	uint64_t last_lsn;	/* of the record last returned */
	uint64_t gap_from, gap_to;	/* records removed before they were read */
	bool raw;
	off_t bad_off, bad_len;	/* the corrupt bytes of the last error, len 0: none */
	uint64_t bad_seg;
	char err[512];
};

int mm_content_hash(int fd, uint64_t *size_r, uint8_t hash_r[16])
{
	unsigned char buf[65536];
	XXH3_state_t st;
	XXH128_canonical_t c;
	off_t off = 0;
	ssize_t n;

	XXH3_128bits_reset(&st);
	while ((n = pread(fd, buf, sizeof(buf), off)) > 0) {
		XXH3_128bits_update(&st, buf, (size_t)n);
		off += n;
	}
	if (n < 0)
		return -errno;
	XXH128_canonicalFromHash(&c, XXH3_128bits_digest(&st));
	memcpy(hash_r, c.digest, 16);
	*size_r = (uint64_t)off;
	return 0;
}

bool mm_journal_reader_gap(const struct mm_journal_reader *r, uint64_t *from_r,
			   uint64_t *to_r)
{
	if (r->gap_from == 0)
		return false;
	*from_r = r->gap_from;
	*to_r = r->gap_to;
	return true;
}

uint64_t mm_journal_first_lsn(const char *state_dir)
{
	char *dir = mm_strdup_printf("%s/journal", state_dir);
	int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	uint64_t *lsns, first = 0;
	ssize_t n;

	free(dir);
	if (dirfd < 0)
		return 0;
	n = seg_list(dirfd, &lsns);
	if (n > 0)
		first = lsns[0];
	if (n >= 0)
		free(lsns);
	close(dirfd);
	return first;
}

/* The time of the first record in segment fd, 0 if it holds none. */
static uint64_t seg_first_time(int fd)
{
	unsigned char hdr[MM_JOURNAL_HDR_SIZE];
	struct mm_journal_rec rec;
	struct mm_buf buf = { 0 };
	uint64_t t = 0;
	uint32_t len;
	size_t used;

	if (read_full(fd, hdr, sizeof(hdr), MM_JSEG_HDR_SIZE) != sizeof(hdr))
		return 0;
	len = mm_get_u32(hdr + 4);
	if (len < MM_JOURNAL_HDR_SIZE || len > MM_JOURNAL_REC_MAX)
		return 0;
	mm_buf_reserve(&buf, len);
	if (read_full(fd, buf.data, len, MM_JSEG_HDR_SIZE) == (ssize_t)len &&
	    mm_journal_decode(buf.data, len, &rec, &used) == 0)
		t = rec.time_ns;
	mm_buf_free(&buf);
	return t;
}

uint64_t mm_journal_lsn_since(const char *state_dir, uint64_t time_ns)
{
	char *dir = mm_strdup_printf("%s/journal", state_dir);
	int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	uint64_t *lsns, from = 1;
	ssize_t n;

	free(dir);
	if (dirfd < 0)
		return 1;
	n = seg_list(dirfd, &lsns);
	if (n > 0)
		from = lsns[0];
	/* the newest segment whose first record is older: every record in
	   the segments before it is older still (the clock only goes up) */
	for (ssize_t i = n - 1; i >= 0; i--) {
		char name[24];
		int fd;
		uint64_t t;

		seg_name(lsns[i], name);
		fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		t = seg_first_time(fd);
		close(fd);
		if (t != 0 && t < time_ns) {
			from = lsns[i];
			break;
		}
	}
	if (n >= 0)
		free(lsns);
	close(dirfd);
	return from > 0 ? from : 1;
}

void mm_journal_reader_set_raw(struct mm_journal_reader *r, bool raw)
{
	r->raw = raw;
}

int mm_journal_reader_open(const char *state_dir, uint64_t from_lsn,
			   struct mm_journal_reader **r_r, const char **error_r)
{
	struct mm_journal_reader *r = mm_calloc(1, sizeof(*r));

	r->dir = mm_strdup_printf("%s/journal", state_dir);
	r->content_dir = mm_strdup_printf("%s/content", state_dir);
	r->seg_fd = -1;
	r->want_lsn = from_lsn > 0 ? from_lsn : 1;
	r->inotify_fd = -1;
	r->dirfd = open(r->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (r->dirfd < 0) {
		snprintf(jerr, sizeof(jerr), "open(%s) failed: %m", r->dir);
		goto fail;
	}
	r->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (r->inotify_fd < 0 ||
	    inotify_add_watch(r->inotify_fd, r->dir,
			      IN_MODIFY | IN_CREATE | IN_MOVED_TO | IN_CLOSE_WRITE) < 0) {
		snprintf(jerr, sizeof(jerr), "inotify(%s) failed: %m", r->dir);
		goto fail;
	}
	*r_r = r;
	return 0;
fail:
	*error_r = jerr;
	mm_journal_reader_close(&r);
	return -1;
}

void mm_journal_reader_close(struct mm_journal_reader **rp)
{
	struct mm_journal_reader *r = *rp;

	if (r == NULL)
		return;
	if (r->seg_fd >= 0)
		close(r->seg_fd);
	if (r->dirfd >= 0)
		close(r->dirfd);
	if (r->inotify_fd >= 0)
		close(r->inotify_fd);
	mm_buf_free(&r->ra);
	free(r->dir);
	free(r->content_dir);
	free(r);
	*rp = NULL;
}

/* Opens the segment holding want_lsn (or the first one after it). Returns
   1 opened, 0 nothing there yet, -1 error. */
static int reader_open_segment(struct mm_journal_reader *r)
{
	uint64_t *lsns, pick = 0;
	ssize_t n = seg_list(r->dirfd, &lsns);
	bool found = false;
	char name[24];

	if (n < 0) {
		snprintf(r->err, sizeof(r->err), "opendir(%s) failed: %m", r->dir);
		return -1;
	}
	/* the last segment starting at or before want_lsn; if retention
	   removed those, the first one (the caller sees the LSN jump) */
	for (ssize_t i = 0; i < n; i++) {
		if (!found || lsns[i] <= r->want_lsn) {
			pick = lsns[i];
			found = true;
		}
	}
	free(lsns);
	if (!found)
		return 0;
	if (pick > r->want_lsn && r->gap_from == 0) {
		/* retention removed the segments holding want_lsn.. */
		r->gap_from = r->want_lsn;
		r->gap_to = pick - 1;
	}
	seg_name(pick, name);
	r->seg_fd = openat(r->dirfd, name, O_RDONLY | O_CLOEXEC);
	if (r->seg_fd < 0) {
		if (errno == ENOENT)	/* pruned under us: list again */
			return 0;
		snprintf(r->err, sizeof(r->err), "open(%s/%s) failed: %m", r->dir, name);
		return -1;
	}
	r->seg_first = pick;
	r->seg_final = false;
	r->off = MM_JSEG_HDR_SIZE;
	r->ra.len = 0;
	return 1;
}

/* Is there a segment after the current one? */
static bool reader_has_next_segment(struct mm_journal_reader *r, uint64_t *next_r)
{
	uint64_t *lsns;
	ssize_t n = seg_list(r->dirfd, &lsns);
	bool ret = false;

	for (ssize_t i = 0; i < n; i++) {
		if (lsns[i] > r->seg_first) {
			*next_r = lsns[i];
			ret = true;
			break;
		}
	}
	if (n >= 0)
		free(lsns);
	return ret;
}

/* Notes that the writer has moved on to a later segment. The caller reads
   the current one once more before leaving it: a record may have been
   appended to it between the caller's read and this listing. */
static bool reader_mark_final(struct mm_journal_reader *r)
{
	uint64_t next;

	if (!reader_has_next_segment(r, &next))
		return false;
	r->seg_final = true;
	return true;
}

static void reader_next_segment(struct mm_journal_reader *r)
{
	uint64_t next;

	if (reader_has_next_segment(r, &next) && r->want_lsn < next)
		r->want_lsn = next;
	close(r->seg_fd);
	r->seg_fd = -1;
	r->ra.len = 0;
}

/* A final segment ends in bytes that are no record: report them once
   and go on with the next segment. */
static int reader_skip_tail(struct mm_journal_reader *r, off_t size, int err,
			    const char **error_r)
{
	snprintf(r->err, sizeof(r->err),
		 "%s/%016" PRIx64 ".mmj offset %lld: corrupt tail (%s), "
		 "%lld bytes skipped", r->dir, r->seg_first, (long long)r->off,
		 mm_strerror(err), (long long)(size - r->off));
	r->bad_off = r->off;
	r->bad_len = size - r->off;
	r->bad_seg = r->seg_first;
	reader_next_segment(r);
	*error_r = r->err;
	return -1;
}

/* how much the reader reads at once: records come from memory, not a
   pread (and an fstat) each */
#define READER_AHEAD (256 * 1024)

/* n bytes of the segment at off: *p_r points at them (valid until the
   next call), from the read-ahead when it holds them all, else from a
   fresh read (then *fresh_r is set, else left as it is). Returns how many there are (fewer than n: the
   segment ends, or a record is still being written: only a fresh read
   says so) or -1. What the read-ahead holds may be older than the file
   (a status rewritten in place, a record read while it was written):
   the caller reads afresh before it judges such bytes. */
static ssize_t reader_bytes(struct mm_journal_reader *r, off_t off, size_t n,
			    const unsigned char **p_r, bool *fresh_r)
{
	size_t want = n > READER_AHEAD ? n : READER_AHEAD;
	ssize_t got;

	if (r->ra.len > 0 && off >= r->ra_off &&
	    (size_t)(off - r->ra_off) + n <= r->ra.len) {
		*p_r = r->ra.data + (off - r->ra_off);
		return (ssize_t)n;
	}
	mm_buf_reset(&r->ra);
	mm_buf_reserve(&r->ra, want);
	got = read_full(r->seg_fd, r->ra.data, want, off);
	if (got < 0)
		return -1;
	r->ra.len = (size_t)got;
	r->ra_off = off;
	*p_r = r->ra.data;
	*fresh_r = true;
	return got < (ssize_t)n ? got : (ssize_t)n;
}

int mm_journal_reader_next(struct mm_journal_reader *r, struct mm_journal_rec *rec,
			   const char **error_r)
{
	for (;;) {
		const unsigned char *hdr, *data;
		struct stat st;
		uint32_t len;
		size_t used;
		ssize_t got;
		bool fresh = false;	/* the bytes judged were read in this round */
		int ret;

		r->bad_len = 0;
		if (r->seg_fd < 0) {
			ret = reader_open_segment(r);
			if (ret <= 0) {
				if (ret < 0)
					*error_r = r->err;
				return ret;
			}
		}
		got = reader_bytes(r, r->off, MM_JOURNAL_HDR_SIZE, &hdr, &fresh);
		if (got < (ssize_t)MM_JOURNAL_HDR_SIZE) {
			/* end of this segment, or a record still being written */
			if (!r->seg_final) {
				if (!reader_mark_final(r))
					return 0;
				continue;	/* look once more: see reader_mark_final() */
			}
			if (got == 0) {
				reader_next_segment(r);
				continue;
			}
			if (fstat(r->seg_fd, &st) < 0) {
				snprintf(r->err, sizeof(r->err), "fstat: %m");
				*error_r = r->err;
				return -1;
			}
			return reader_skip_tail(r, (off_t)st.st_size, MM_ERR_TRUNCATED, error_r);
		}
		len = mm_get_u32(hdr + 4);
		if (mm_get_u32(hdr) == MM_JOURNAL_REC_MAGIC &&
		    len >= MM_JOURNAL_HDR_SIZE && len <= MM_JOURNAL_REC_MAX) {
			got = reader_bytes(r, r->off, len, &data, &fresh);
			/* still being written, or a corrupt length: decided below
			   by whether a valid record follows */
			ret = got < (ssize_t)len ? MM_ERR_TRUNCATED :
				mm_journal_decode(data, len, rec, &used);
		} else {
			ret = MM_ERR_MAGIC;
		}
		if (ret != 0 && !fresh) {
			/* read ahead while it was being written: read it again */
			r->ra.len = 0;
			continue;
		}
		if (ret == 0) {
			if (rec->status == MM_REC_PENDING && !r->raw) {
				r->ra.len = 0;	/* its status is read afresh next time */
				return 0;
			}
			r->off += (off_t)used;
			if (rec->rflags & MM_RECF_FILLER) {
				/* fsck's padding: no operation, no LSN */
				if (!r->raw)
					continue;
				return 1;
			}
			if ((rec->status == MM_REC_ABORTED && !r->raw) || rec->lsn < r->want_lsn)
				continue;
			r->want_lsn = rec->lsn + 1;
			r->last_lsn = rec->lsn;
			return 1;
		}
		/* corrupt or in flight: corrupt only if a valid record follows */
		{
			unsigned char *map;
			off_t next;

			if (fstat(r->seg_fd, &st) < 0) {
				snprintf(r->err, sizeof(r->err), "fstat: %m");
				*error_r = r->err;
				return -1;
			}
			if ((off_t)st.st_size <= r->off)
				return 0;
			map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, r->seg_fd, 0);
			if (map == MAP_FAILED) {
				snprintf(r->err, sizeof(r->err), "mmap: %m");
				*error_r = r->err;
				return -1;
			}
			next = find_next_record(map, (size_t)st.st_size, (size_t)r->off + 1);
			munmap(map, (size_t)st.st_size);
			if (next < 0) {
				/* the tail of the segment: in flight while it is the
				   writer's, corrupt once a later segment exists */
				if (!r->seg_final) {
					if (!reader_mark_final(r))
						return 0;
					continue;
				}
				return reader_skip_tail(r, (off_t)st.st_size, ret, error_r);
			}
			snprintf(r->err, sizeof(r->err),
				 "%s/%016" PRIx64 ".mmj offset %lld: corrupt record (%s), "
				 "%lld bytes skipped", r->dir, r->seg_first,
				 (long long)r->off, mm_strerror(ret),
				 (long long)(next - r->off));
			r->bad_off = r->off;
			r->bad_len = next - r->off;
			r->bad_seg = r->seg_first;
			r->off = next;
			*error_r = r->err;
			return -1;
		}
	}
}

bool mm_journal_reader_bad(const struct mm_journal_reader *r, uint64_t *seg_first_r,
			   uint64_t *off_r, uint64_t *len_r)
{
	if (r->bad_len <= 0)
		return false;
	*seg_first_r = r->bad_seg;
	*off_r = (uint64_t)r->bad_off;
	*len_r = (uint64_t)r->bad_len;
	return true;
}

/* A filler record of exactly len bytes (its data pads it), or -1 when
   len is shorter than the smallest record. A range too short for the
   current version (an old segment's small record) gets a version 1
   filler, which is 8 bytes shorter. */
static int filler_encode(uint64_t len, struct mm_buf *out)
{
	struct mm_journal_rec rec = {
		.status = MM_REC_ABORTED, .op = MM_OP_META, .rflags = MM_RECF_FILLER,
		.account = "", .folder = "", .name = "", .new_folder = "", .new_name = "",
	};
	unsigned int version = MM_JOURNAL_VERSION;
	unsigned char *pad;
	size_t base;

	mm_buf_reset(out);
	if (mm_journal_encode_as(&rec, version, out) < 0)
		return -1;
	base = out->len;
	if (len < base) {
		version = MM_JOURNAL_VERSION_MIN;
		mm_buf_reset(out);
		if (mm_journal_encode_as(&rec, version, out) < 0)
			return -1;
		base = out->len;
	}
	if (len < base || len > MM_JOURNAL_REC_MAX)
		return -1;
	pad = mm_calloc(1, len - base + 1);
	rec.data = pad;
	rec.data_len = (uint32_t)(len - base);
	rec.size = rec.data_len;
	mm_buf_reset(out);
	if (mm_journal_encode_as(&rec, version, out) < 0 || out->len != len) {
		free(pad);
		return -1;
	}
	free(pad);
	return 0;
}

int mm_journal_fill(const char *state_dir, uint64_t seg_first, uint64_t off, uint64_t len,
		    int save_fd, const char **error_r)
{
	static __thread char err[512];
	char *path = mm_strdup_printf("%s/journal/%016" PRIx64 ".mmj", state_dir, seg_first);
	unsigned char *old = mm_malloc(len + MM_JOURNAL_HDR_SIZE);
	struct mm_buf enc = { 0 };
	struct mm_journal_rec rec;
	struct stat st;
	size_t used;
	int fd = open(path, O_RDWR | O_CLOEXEC), ret = -1;

#define FILL_FAIL(...) do { snprintf(err, sizeof(err), __VA_ARGS__); goto out; } while (0)
	if (fd < 0 || fstat(fd, &st) < 0)
		FILL_FAIL("%s: %s", path, strerror(errno));
	if (off < MM_JSEG_HDR_SIZE || len == 0 || off + len > (uint64_t)st.st_size)
		FILL_FAIL("%s: offset %" PRIu64 " +%" PRIu64 " is not inside the records", path,
			  off, len);
	if (read_full(fd, old, len, (off_t)off) != (ssize_t)len)
		FILL_FAIL("%s: reading offset %" PRIu64 ": %s", path, off, strerror(errno));
	if (mm_journal_decode(old, len, &rec, &used) == 0)
		FILL_FAIL("%s offset %" PRIu64 ": a valid record, not corrupt bytes", path, off);
	if (off + len < (uint64_t)st.st_size) {
		unsigned char hdr[MM_JOURNAL_HDR_SIZE];

		if (read_full(fd, hdr, sizeof(hdr), (off_t)(off + len)) != (ssize_t)sizeof(hdr) ||
		    mm_get_u32(hdr) != MM_JOURNAL_REC_MAGIC)
			FILL_FAIL("%s offset %" PRIu64 ": no record follows the %" PRIu64
				  " bytes", path, off, len);
	}
	if (filler_encode(len, &enc) < 0)
		FILL_FAIL("%s offset %" PRIu64 ": %" PRIu64 " bytes are too few (or too many) "
			  "for a filler record", path, off, len);
	if (write_full(save_fd, old, len, 0) < 0 || fsync(save_fd) < 0)
		FILL_FAIL("saving the corrupt bytes: %s", strerror(errno));
	if (write_full(fd, enc.data, enc.len, (off_t)off) < 0 || fsync(fd) < 0)
		FILL_FAIL("%s: writing the filler at offset %" PRIu64 ": %s", path, off,
			  strerror(errno));
	ret = 0;
out:
#undef FILL_FAIL
	if (fd >= 0)
		close(fd);
	mm_buf_free(&enc);
	free(old);
	free(path);
	if (ret < 0)
		*error_r = err;
	return ret;
}

int mm_journal_reader_wait(struct mm_journal_reader *r, int timeout_ms)
{
	struct pollfd pfd = { .fd = r->inotify_fd, .events = POLLIN };
	char buf[4096];
	int ret = poll(&pfd, 1, timeout_ms);

	if (ret < 0)
		return errno == EINTR ? 0 : -1;
	if (ret == 0)
		return 0;
	while (read(r->inotify_fd, buf, sizeof(buf)) > 0)
		;
	return 1;
}

int mm_journal_reader_fd(const struct mm_journal_reader *r)
{
	return r->inotify_fd;
}

int mm_journal_reader_content_open(struct mm_journal_reader *r)
{
	char path[4096];
	int fd;

	snprintf(path, sizeof(path), "%s/%016" PRIx64 "/%016" PRIx64,
		 r->content_dir, r->seg_first, r->last_lsn);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}
