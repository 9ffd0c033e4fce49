/* SPDX-License-Identifier: MIT
 * fsck-store.c - mailmesh-fsck's I/O on this store (see fsck-store.h):
 * the journal pass and the repairs. What is wrong is decided in
 * fsck-core.c; this file only reads and moves. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>
#include "buf.h"
#include "ctl.h"
#include "fsck-store.h"
#include "journal-file.h"
#include "mem.h"

static __thread char err[1024];

static const char *fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static const char *fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, sizeof(err), fmt, ap);
	va_end(ap);
	return err;
}

/* The lowest LSN every configured peer has acknowledged (0 when one
   never did): records after it may still be needed for shipping. */
static uint64_t acked_by_all(const struct mm_cfg *cfg)
{
	uint64_t min = UINT64_MAX;

	for (size_t i = 0; i < cfg->n_peers; i++) {
		char *path, buf[64];
		FILE *f;
		uint64_t v = 0;

		if (strcmp(cfg->peers[i].name, cfg->node_name) == 0)
			continue;
		path = mm_strdup_printf("%s/replication/to-%s.acked", cfg->state,
					cfg->peers[i].name);
		f = fopen(path, "r");
		if (f != NULL) {
			if (fgets(buf, sizeof(buf), f) != NULL)
				v = strtoull(buf, NULL, 10);
			fclose(f);
		}
		free(path);
		if (v < min)
			min = v;
	}
	return min;
}

static void read_records(struct fsck_journal *j, struct fsck_report *r, bool first_pass)
{
	struct mm_journal_rec rec;
	const char *error;
	int n;

	bool after_corrupt = false;

	while ((n = mm_journal_reader_next(j->r, &rec, &error)) != 0) {
		if (n < 0) {
			uint64_t seg, off, len;
			bool bad = mm_journal_reader_bad(j->r, &seg, &off, &len);
			struct fsck_problem *p;

			after_corrupt = true;
			/* "segment X: corrupt record at offset N ..." */
			j->corrupt++;
			p = fsck_report_add(r, FSCK_JOURNAL_CORRUPT,
					    bad ? FSCK_FIX_FILL : FSCK_FIX_NONE, "", "", "",
					    "journal", "%s", error);
			if (bad) {
				p->segment = seg;
				p->offset = off;
				p->length = len;
			}
			continue;
		}
		if (rec.rflags & MM_RECF_FILLER) {
			/* bytes an earlier --repair saved to lost+found: what they
			   held is lost, so LSNs may be missing after them */
			j->filled++;
			after_corrupt = true;
			continue;
		}
		j->records++;
		if (!j->any) {
			j->any = true;
			j->first_lsn = rec.lsn;
			j->first_ns = (int64_t)rec.time_ns;
		} else if (rec.lsn != j->last_lsn + 1 &&
			   !(after_corrupt && rec.lsn > j->last_lsn)) {
			/* (after a corrupt record: the skipped bytes held the LSNs) */
			fsck_report_add(r, FSCK_JOURNAL_ORDER, FSCK_FIX_NONE, "", "", "", "journal",
					"LSN %" PRIu64 " follows LSN %" PRIu64 "%s", rec.lsn,
					j->last_lsn, rec.lsn <= j->last_lsn ? " (out of order)" :
					" (records missing)");
		}
		after_corrupt = false;
		if (rec.lsn > j->last_lsn)
			j->last_lsn = rec.lsn;
		if (rec.status == MM_REC_ABORTED)
			continue;
		if (rec.status == MM_REC_PENDING) {
			/* in flight: treated as made during the check */
			rec.lsn = UINT64_MAX;
		}
		if (first_pass && rec.status == MM_REC_COMMITTED && rec.op == MM_OP_DELIVER &&
		    rec.lsn > j->acked && !(rec.rflags & MM_RECF_CRASH)) {
			int fd = mm_journal_reader_content_open(j->r);

			if (fd >= 0)
				close(fd);
			else if (fd == -ENOENT)
				fsck_report_add(r, FSCK_CONTENT_LOST, FSCK_FIX_NONE, "", rec.account,
						rec.folder, rec.name, "delivery LSN %" PRIu64 " is not "
						"acknowledged by every peer and its content link in "
						"STATE/content is gone", rec.lsn);
		}
		fsck_jstate_apply(j->js, &rec);
	}
}

int fsck_journal_read(const struct mm_cfg *cfg, struct fsck_journal *j,
		      struct fsck_report *r, const char **error_r)
{
	uint64_t first = mm_journal_first_lsn(cfg->state);

	memset(j, 0, sizeof(*j));
	if (mm_journal_reader_open(cfg->state, first ? first : 1, &j->r, error_r) < 0)
		return -1;
	mm_journal_reader_set_raw(j->r, true);
	j->js = fsck_jstate_new();
	j->acked = acked_by_all(cfg);
	read_records(j, r, true);
	return 0;
}

void fsck_journal_more(struct fsck_journal *j, struct fsck_report *r)
{
	uint64_t last = j->last_lsn;

	read_records(j, r, false);
	/* records from here on are changes made during the walk */
	j->last_lsn = last;
}

void fsck_journal_close(struct fsck_journal *j)
{
	mm_journal_reader_close(&j->r);
	fsck_jstate_free(&j->js);
}

/* ---- repairs ---- */

static char *rel_of(const struct fsck_problem *p, const char *path)
{
	return p->folder[0] ? mm_strdup_printf("%s/%s/%s", p->account, p->folder, path) :
		mm_strdup_printf("%s/%s", p->account, path);
}

static int mkdir_p(const char *path)
{
	char *p = mm_strdup(path);

	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0700) < 0 && errno != EEXIST) {
			free(p);
			return -1;
		}
		*s = '/';
	}
	free(p);
	return mkdir(path, 0700) < 0 && errno != EEXIST ? -1 : 0;
}

static int copy_file(const char *from, const char *to)
{
	int in = open(from, O_RDONLY | O_NOFOLLOW | O_CLOEXEC), out;
	char buf[65536];
	ssize_t n;
	struct stat st;

	if (in < 0 || fstat(in, &st) < 0)
		return -1;
	out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, st.st_mode & 07777);
	if (out < 0) {
		close(in);
		return -1;
	}
	while ((n = read(in, buf, sizeof(buf))) > 0) {
		if (write(out, buf, (size_t)n) != n) {
			n = -1;
			break;
		}
	}
	if (n < 0 || fsync(out) < 0) {
		close(in);
		close(out);
		unlink(to);
		return -1;
	}
	close(in);
	return close(out);
}

int fsck_fill(const struct mm_cfg *cfg, const char *run, const struct fsck_problem *p,
	      char **where_r, const char **error_r)
{
	char *dir = mm_strdup_printf("%s/lost+found/%s/journal", cfg->state, run);
	char *to = mm_strdup_printf("%s/%016" PRIx64 ".mmj@%" PRIu64, dir, p->segment,
				    p->offset);
	char *why = mm_strdup_printf("%s.why", to);
	int fd = -1, ret = -1;
	FILE *f;

	if (mkdir_p(dir) < 0) {
		*error_r = fail("mkdir(%s) failed: %s", dir, strerror(errno));
		goto out;
	}
	fd = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		*error_r = fail("open(%s) failed: %s", to, strerror(errno));
		goto out;
	}
	if (mm_journal_fill(cfg->state, p->segment, p->offset, p->length, fd, error_r) < 0) {
		unlink(to);
		goto out;
	}
	f = fopen(why, "w");
	if (f != NULL) {
		fprintf(f, "from: %s/journal/%016" PRIx64 ".mmj offset %" PRIu64 ", %" PRIu64
			" bytes\nproblem: %s\ndetail: %s\nby: mailmesh-fsck --repair (a filler "
			"record now stands there; the operation these bytes described is lost: "
			"mailmesh-fsck --peers finds what the replicas lack)\n", cfg->state,
			p->segment, p->offset, p->length, fsck_kind_str(p->kind), p->detail);
		fclose(f);
	}
	*where_r = mm_strdup(to);
	ret = 0;
out:
	if (fd >= 0)
		close(fd);
	free(why);
	free(to);
	free(dir);
	return ret;
}

int fsck_quarantine(const struct mm_cfg *cfg, const char *run, const struct fsck_problem *p,
		    char **where_r, const char **error_r)
{
	char *rel = rel_of(p, p->path);
	char *from = mm_strdup_printf("%s/%s", cfg->store, rel);
	char *to = mm_strdup_printf("%s/lost+found/%s/%s", cfg->state, run, rel);
	char *dir = mm_strdup(to), *why;
	char stamp[64];
	time_t now = time(NULL);
	FILE *f;
	int ret = -1;

	*strrchr(dir, '/') = '\0';
	if (mkdir_p(dir) < 0) {
		*error_r = fail("mkdir(%s) failed: %s", dir, strerror(errno));
		goto out;
	}
	if (rename(from, to) < 0) {
		/* state on another filesystem: copy, synced, then unlink */
		if (errno != EXDEV || copy_file(from, to) < 0 || unlink(from) < 0) {
			*error_r = fail("rename(%s, %s) failed: %s", from, to, strerror(errno));
			goto out;
		}
	}
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
	why = mm_strdup_printf("%s.why", to);
	f = fopen(why, "w");
	if (f != NULL) {
		fprintf(f, "from: %s\nstore: %s\nproblem: %s\ndetail: %s\nwhen: %s\n"
			"by: mailmesh-fsck --repair\n", rel, cfg->store, fsck_kind_str(p->kind),
			p->detail, stamp);
		fclose(f);
	}
	free(why);
	fsck_invalidate(cfg, rel);
	*where_r = mm_strdup(to);
	ret = 0;
out:
	free(dir);
	free(from);
	free(rel);
	if (ret < 0)
		free(to);
	else
		free(to);
	return ret;
}

int fsck_mkdirs(const struct mm_cfg *cfg, const struct fsck_problem *p, const char **error_r)
{
	static const char *const subs[] = { "cur", "new", "tmp" };

	for (int i = 0; i < 3; i++) {
		char *rel = rel_of(p, subs[i]);
		char *path = mm_strdup_printf("%s/%s", cfg->store, rel);

		if (mkdir(path, 0700) < 0 && errno != EEXIST) {
			*error_r = fail("mkdir(%s) failed: %s", path, strerror(errno));
			free(path);
			free(rel);
			return -1;
		}
		fsck_invalidate(cfg, rel);
		free(path);
		free(rel);
	}
	return 0;
}

int fsck_rename(const struct mm_cfg *cfg, const struct fsck_problem *p, const char **error_r)
{
	char *rf = rel_of(p, p->path), *rt = rel_of(p, p->want);
	char *from = mm_strdup_printf("%s/%s", cfg->store, rf);
	char *to = mm_strdup_printf("%s/%s", cfg->store, rt);
	int ret = 0;

	/* link + unlink: never replaces a file that is there */
	if (link(from, to) < 0 || unlink(from) < 0) {
		*error_r = fail("rename(%s, %s) failed: %s", from, to, strerror(errno));
		ret = -1;
	} else {
		fsck_invalidate(cfg, rf);
		fsck_invalidate(cfg, rt);
	}
	free(from);
	free(to);
	free(rf);
	free(rt);
	return ret;
}

int fsck_install(const struct mm_cfg *cfg, const char *account, const char *folder,
		 const char *want, const unsigned char *data, const struct fsck_meta *m,
		 const char **error_r)
{
	struct fsck_problem p = { .account = (char *)account, .folder = (char *)folder };
	char *rel = rel_of(&p, want), *trel;
	char *to = mm_strdup_printf("%s/%s", cfg->store, rel);
	char *tmp;
	XXH128_canonical_t c;
	struct timespec ts[2];
	int fd, ret = -1;

	trel = rel_of(&p, "tmp");
	tmp = mm_strdup_printf("%s/%s/.mmfsck.%d", cfg->store, trel, (int)getpid());
	free(trel);
	XXH128_canonicalFromHash(&c, XXH3_128bits(data, m->size));
	if (memcmp(c.digest, m->hash, 16) != 0) {
		*error_r = fail("the copy fetched for %s is not its hash", rel);
		goto out;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		*error_r = fail("open(%s) failed: %s", tmp, strerror(errno));
		goto out;
	}
	ts[0].tv_sec = ts[1].tv_sec = m->mtime_ns / 1000000000;
	ts[0].tv_nsec = ts[1].tv_nsec = m->mtime_ns % 1000000000;
	if ((m->size > 0 && write(fd, data, m->size) != (ssize_t)m->size) ||
	    fchown(fd, m->uid, m->gid) < 0 || fchmod(fd, m->mode & 07777) < 0 ||
	    futimens(fd, ts) < 0 || fsync(fd) < 0) {
		*error_r = fail("writing %s failed: %s", tmp, strerror(errno));
		close(fd);
		unlink(tmp);
		goto out;
	}
	close(fd);
	if (link(tmp, to) < 0) {
		*error_r = fail("link(%s, %s) failed: %s", tmp, to, strerror(errno));
		unlink(tmp);
		goto out;
	}
	unlink(tmp);
	fsck_invalidate(cfg, rel);
	ret = 0;
out:
	free(tmp);
	free(to);
	free(rel);
	return ret;
}

void fsck_invalidate(const struct mm_cfg *cfg, const char *relpath)
{
	char *sock = mm_strdup_printf("%s/control.sock", cfg->state);
	char *line = mm_strdup_printf("inval %s", relpath), reply[256];
	const char *error;

	/* not running (offline check): nothing is cached */
	(void)mm_ctl_call(sock, line, reply, sizeof(reply), &error);
	free(line);
	free(sock);
}
