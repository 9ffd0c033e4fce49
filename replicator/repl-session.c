/* SPDX-License-Identifier: MIT
 * repl-session.c - inbound replication: accepts peers over TLS, applies
 * their records to this store (repl-apply.c), and acknowledges each batch
 * once it is durable, with the cursor that lets a peer resume. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/listener.h>
#include <openssl/err.h>
#include "acct.h"
#include "ctl.h"
#include "journal.h"
#include "journal-file.h"
#include "log.h"
#include "maildir.h"
#include "mem.h"
#include "repl-apply.h"
#include "repl-tls.h"
#include "repl-cursor.h"
#include "repl-late.h"
#include "repl-query.h"
#include "repl-expunged.h"
#include "refused.h"
#include "repl.h"
#include "wire.h"

/* a message bigger than this is refused as hostile */
#define CONTENT_MAX (1ULL << 31)

/* ---- the cursor: last LSN of a peer applied durably here ---- */

static char *cursor_path(struct repl_daemon *d, const char *peer)
{
	return mm_strdup_printf("%s/from-%s.lsn", d->cursor_dir, peer);
}

static uint64_t cursor_load(struct repl_daemon *d, const char *peer)
{
	char *path = cursor_path(d, peer), buf[2 * REPL_CURSOR_SLOT_OFF];
	uint64_t lsn = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC), valid;

	if (fd >= 0) {
		ssize_t n = pread(fd, buf, sizeof(buf), 0);

		lsn = repl_cursor_parse(buf, n > 0 ? (size_t)n : 0, &valid);
		if (!valid && n > 0)
			mm_log_error("replication: %s holds no valid LSN; %s resumes from "
				     "the start of its journal", path, peer);
		close(fd);
	}
	free(path);
	return lsn;
}

/* Rewrites one slot in place (repl-cursor.h) and fdatasyncs it. */
static int cursor_save(struct repl_daemon *d, const char *peer, uint64_t lsn,
		       const char **error_r)
{
	static __thread char err[512];
	char *path = cursor_path(d, peer), slot[REPL_CURSOR_SLOT_LEN];
	unsigned int i = repl_cursor_format(lsn, slot);
	bool created = false;
	int fd, ret = -1;

	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT) {
		fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		created = fd >= 0;
	}
	if (fd < 0 || pwrite(fd, slot, sizeof(slot), (off_t)i * REPL_CURSOR_SLOT_OFF) !=
	    (ssize_t)sizeof(slot) || fdatasync(fd) < 0) {
		snprintf(err, sizeof(err), "cursor %s: %s", path, strerror(errno));
		*error_r = err;
	} else {
		ret = 0;
	}
	if (fd >= 0)
		close(fd);
	if (ret == 0 && created) {
		/* the new name must last too */
		int dfd = open(d->cursor_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		if (dfd < 0 || fsync(dfd) < 0) {
			snprintf(err, sizeof(err), "fsync(%s): %s", d->cursor_dir, strerror(errno));
			*error_r = err;
			ret = -1;
		}
		if (dfd >= 0)
			close(dfd);
	}
	free(path);
	return ret;
}

/* ---- accounts held as replicas ---- */

static bool dir_empty_or_missing(const char *store, const char *account)
{
	char *path = mm_strdup_printf("%s/%s", store, account);
	DIR *dir = opendir(path);
	struct dirent *de;
	bool empty = true;

	free(path);
	if (dir == NULL)
		return errno == ENOENT;
	while ((de = readdir(dir)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			empty = false;
	closedir(dir);
	return empty;
}

/* Whether STATE/name changed since *ino and *mtime (then updated). */
static bool state_changed(struct repl_daemon *d, const char *name, ino_t *ino,
			  struct timespec *mtime)
{
	char *path = mm_strdup_printf("%s/%s", d->cfg->state, name);
	struct stat st;
	bool changed;

	if (stat(path, &st) < 0)
		memset(&st, 0, sizeof(st));
	free(path);
	changed = st.st_ino != *ino || st.st_mtim.tv_sec != mtime->tv_sec ||
		st.st_mtim.tv_nsec != mtime->tv_nsec;
	*ino = st.st_ino;
	*mtime = st.st_mtim;
	return changed;
}

/* Reads STATE/accounts again if it changed: an operator (or failover)
   may switch an account with mailmeshctl at any time; and STATE/roles,
   which mailmesh-hbmon rewrites when an account becomes active here or
   stops being so. */
static void ro_refresh(struct repl_daemon *d)
{
	const char *error;
	uint64_t gen;

	if (state_changed(d, "accounts", &d->ro_ino, &d->ro_mtime)) {
		mm_acct_list_free(&d->ro, d->n_ro);
		if (mm_acct_load(d->cfg->state, &d->ro, &d->n_ro, &error) < 0)
			mm_log_error("replication: %s", error);
	}
	if (d->cfg->hb_listen != NULL &&
	    state_changed(d, "roles", &d->active_ino, &d->active_mtime)) {
		mm_acct_list_free(&d->active, d->n_active);
		mm_free(&d->active_epochs);
		d->n_active = 0;
		/* no file yet: nothing is active here */
		if (mm_roles_load(d->cfg->state, &gen, &d->active, &d->active_epochs,
				  &d->n_active, &error) < 0 && d->active_ino != 0)
			mm_log_error("replication: %s", error);
		/* this store's own epochs are known epochs of their accounts,
		   also once the accounts have moved on */
		for (size_t i = 0; i < d->n_active; i++)
			repl_fence_learn(d, d->active[i], d->active_epochs[i]);
	}
}

uint64_t repl_acct_epoch(struct repl_daemon *d, const char *account)
{
	size_t lo = 0, hi;

	if (d->cfg->hb_listen == NULL)
		return 0;
	ro_refresh(d);
	hi = d->n_active;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int cmp = strcmp(account, d->active[mid]);

		if (cmp == 0)
			return d->active_epochs[mid];
		if (cmp < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return 0;
}

bool repl_acct_replica(struct repl_daemon *d, const char *account)
{
	size_t len = strlen(account);

	ro_refresh(d);
	return mm_acct_in(d->ro, d->n_ro, account, len) ||
	       (d->cfg->hb_listen != NULL && !mm_acct_in(d->active, d->n_active, account, len));
}

/* Whether records for account may be applied here: it is held read-only,
   or this store has nothing of it yet and now holds it read-only (the
   mount refuses writes before the first record lands). */
/* Tells mailmesh-fs which process merges late records through its mount
   (at most once a second): a sync-mode account's delivery made there must
   not wait for this replicator's own acknowledgement. */
static void fs_hello(struct repl_daemon *d)
{
	static uint64_t last_ns;
	uint64_t now = repl_now_ns();
	const char *error;
	char reply[64];

	if (now - last_ns < 1000000000ULL)
		return;
	last_ns = now;
	if (mm_ctl_call_timeout(d->fs_ctl_path, "replicator", reply, sizeof(reply), 1000,
				&error) != 0)
		mm_log_debug("replication: telling mailmesh-fs our pid: %s", error);
}

static bool hold_replica(struct repl_session *s, const char *account)
{
	struct repl_daemon *d = s->d;
	const char *error;
	char reply[256];

	if (repl_acct_replica(d, account))
		return true;
	if (d->cfg->hb_listen != NULL) {
		char *line = mm_strdup_printf("writable %s", account);
		int ret = mm_ctl_call_timeout(d->fs_ctl_path, line, reply, sizeof(reply), 1000,
					      &error);

		free(line);
		/* STATE/roles may still list an account whose lease lapsed (a
		   store waking from SIGSTOP): only what the mount would write
		   now is active here, and its records are late ones */
		return ret != 0 || strncmp(reply, "ok yes", 6) != 0;
	}
	if (!dir_empty_or_missing(d->cfg->store, account))
		return false;
	if (mm_acct_set(d->cfg->state, account, true, &error) < 0) {
		mm_log_error("replication from %s: holding %s read-only: %s", s->peer,
			     account, error);
		return false;
	}
	if (mm_ctl_call(d->fs_ctl_path, "reload-accounts", reply, sizeof(reply), &error) < 0)
		mm_log_error("replication from %s: mailmesh-fs did not take %s read-only: %s",
			     s->peer, account, error);
	ro_refresh(d);
	mm_log_info("replication from %s: %s is now held read-only here as a replica",
		    s->peer, account);
	return true;
}

/* ---- contents kept by hash, so a copy need not be sent again ---- */

static char *content_path(struct repl_daemon *d, const uint8_t hash[16])
{
	char hex[33];

	mm_hash_hex(hash, hex);
	return mm_strdup_printf("%s/%s", d->content_dir, hex);
}

/* Copies size bytes from the start of in to out. copy_file_range() does
   not cross filesystems: a late delivery's file is in the mount (FUSE),
   the kept content in STATE, and the kernel refuses that with EXDEV;
   then it is read and written. */
static int copy_fd(int in, int out, uint64_t size)
{
	loff_t ioff = 0, ooff = 0;

	while ((uint64_t)ioff < size) {
		ssize_t n = copy_file_range(in, &ioff, out, &ooff, (size_t)(size - (uint64_t)ioff), 0);

		if (n < 0 && ioff == 0 && (errno == EXDEV || errno == EINVAL ||
					   errno == EOPNOTSUPP || errno == ENOSYS))
			break;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;	/* shorter than the record says */
	}
	while ((uint64_t)ioff < size) {
		char buf[65536];
		size_t want = size - (uint64_t)ioff < sizeof(buf) ? (size_t)(size - (uint64_t)ioff) :
			sizeof(buf);
		ssize_t n = pread(in, buf, want, ioff);

		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		for (ssize_t off = 0; off < n;) {
			ssize_t w = pwrite(out, buf + off, (size_t)(n - off), ooff);

			if (w < 0)
				return -errno;
			off += w;
			ooff += w;
		}
		ioff += n;
	}
	return 0;
}

/* Keeps the content of a delivery just applied (a hard link, or a copy
   when state and store are on different filesystems). */
static void content_keep(struct repl_session *s, const struct mm_journal_rec *rec)
{
	struct repl_daemon *d = s->d;
	char *dst = content_path(d, rec->hash);
	char *src = mm_strdup_printf("%s/%s%s%s/%s/%s", d->cfg->store, rec->account,
				     rec->folder[0] != '\0' ? "/" : "", rec->folder,
				     mm_sub_str(rec->sub), rec->name);

	if (repl_keep_file(AT_FDCWD, src, dst) < 0)
		mm_log_debug("replication: keeping %s by hash: %m", src);
	free(src);
	free(dst);
}

/* Removes kept contents older than REPL_DEDUP_KEEP_S (by ctime: when the
   link was made; the mtime is the message's INTERNALDATE). */
static void on_prune(evutil_socket_t fd, short what, void *arg)
{
	struct repl_daemon *d = arg;
	time_t limit = time(NULL) - REPL_DEDUP_KEEP_S;
	DIR *dir = opendir(d->content_dir);
	struct dirent *de;

	(void)fd;
	(void)what;
	if (dir == NULL)
		return;
	while ((de = readdir(dir)) != NULL) {
		struct stat st;

		if (de->d_name[0] == '.')
			continue;
		if (fstatat(dirfd(dir), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    st.st_ctime < limit)
			unlinkat(dirfd(dir), de->d_name, 0);
	}
	closedir(dir);
	/* expunged messages kept past expunge_retention (0: none are kept,
	   and what an earlier setting kept goes now) */
	uint64_t gone = repl_expunged_prune(d->expunged_dir, d->cfg->expunge_retention_s,
					    repl_now_ns());

	if (gone > 0)
		mm_log_info("expunged messages kept longer than expunge_retention: %" PRIu64
			    " removed", gone);
}

void repl_content_start(struct repl_daemon *d)
{
	struct timeval every = { .tv_sec = 60 };

	d->prune_ev = event_new(d->base, -1, EV_PERSIST, on_prune, d);
	evtimer_add(d->prune_ev, &every);
	if (d->cfg->expunge_retention_s > 0)
		repl_store_retain(d->store, d->expunged_dir);
}

static void session_refuse(struct repl_session *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* ---- late deliveries: a peer that was the account's source before a
   failover brings back mail it never shipped. A delivery is never
   dropped: it is delivered again through this store's own mount, so it is
   journaled here and reaches every replica of the new source. ---- */

static char *late_path(struct repl_session *s, const struct mm_journal_rec *rec,
		       const char *sub, const char *name)
{
	return mm_strdup_printf("%s/%s%s%s/%s/%s", s->d->cfg->mount, rec->account,
				rec->folder[0] != '\0' ? "/" : "", rec->folder, sub, name);
}

/* Opens the file the late delivery's content goes to, in the folder's
   tmp/ through the mount. 0, or -errno (logged, but EROFS: the account is
   not active here any more, and the caller has it sent again). */
static int late_open(struct repl_session *s, const struct mm_journal_rec *rec)
{
	char name[128];
	int fd;

	snprintf(name, sizeof(name), ".mmlate.%s.%" PRIu64, s->peer, rec->lsn);
	s->late_tmp = late_path(s, rec, "tmp", name);
	fd = open(s->late_tmp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0 && errno == ENOENT) {
		/* a folder the former source made while cut off: make it here,
		   through the mount (journaled), as the message's owner */
		static const char *const subs[] = { "", "/cur", "/new", "/tmp" };
		char *dir = mm_strdup_printf("%s/%s%s%s", s->d->cfg->mount, rec->account,
					     rec->folder[0] != '\0' ? "/" : "", rec->folder);

		for (char *p = dir + strlen(s->d->cfg->mount) + 1; (p = strchr(p, '/')) != NULL; p++) {
			*p = '\0';
			if (mkdir(dir, 0700) == 0 && chown(dir, rec->uid, rec->gid) < 0)
				mm_log_warn("replication: chown(%s) failed: %m", dir);
			*p = '/';
		}
		for (int i = 0; i < 4; i++) {
			char *d = mm_strdup_printf("%s%s", dir, subs[i]);

			if (mkdir(d, 0700) == 0 && chown(d, rec->uid, rec->gid) < 0)
				mm_log_warn("replication: chown(%s) failed: %m", d);
			free(d);
		}
		free(dir);
		fd = open(s->late_tmp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	}
	if (fd < 0) {
		int err = errno;

		if (err != EROFS)
			mm_log_error("replication from %s: late delivery %" PRIu64 " (%s/%s/%s): "
				     "open(%s) failed: %m", s->peer, rec->lsn, rec->account,
				     rec->folder, rec->name, s->late_tmp);
		mm_free(&s->late_tmp);
		return -err;
	}
	s->stage_fd = fd;
	return 0;
}

/* The late delivery's file in tmp/, as a path in the store directory (the
   mount refuses to remove it once the account is read-only here). */
static char *late_rel_tmp(struct repl_session *s, const struct mm_journal_rec *rec)
{
	const char *mnt = s->d->cfg->mount;
	size_t len = strlen(mnt);

	(void)rec;
	if (s->late_tmp == NULL || strncmp(s->late_tmp, mnt, len) != 0 || s->late_tmp[len] != '/')
		return NULL;
	return mm_strdup_printf("%s%s", s->d->cfg->store, s->late_tmp + len);
}

/* Abandons a late delivery in progress (the fd is ours only then). */
static void late_drop(struct repl_session *s)
{
	if (s->late_tmp == NULL)
		return;
	unlink(s->late_tmp);
	mm_free(&s->late_tmp);
	if (s->stage_fd >= 0)
		close(s->stage_fd);
	s->stage_fd = -1;
}

/* Abandons a refused record's content file in progress. */
static void refused_drop(struct repl_session *s)
{
	if (s->refused_tmp == NULL)
		return;
	unlink(s->refused_tmp);
	mm_free(&s->refused_tmp);
	if (s->stage_fd >= 0)
		close(s->stage_fd);
	s->stage_fd = -1;
}

static bool identity_in(const char *dir, const char *name)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	bool found = false;

	while (d != NULL && !found && (de = readdir(d)) != NULL)
		found = de->d_name[0] != '.' && mm_msgname_same_identity(de->d_name, name);
	if (d != NULL)
		closedir(d);
	return found;
}

/* The late delivery's content is complete: check it like any delivery,
   then rename it into place through the mount (unless it is there). */
/* Resync records (lsn 0) and the records of a resumed account sent again
   (MM_RECF_REPLAY, below the cursor) are applied outside the LSN order. */
static bool moves_cursor(const struct mm_journal_rec *rec)
{
	return !(rec->rflags & (MM_RECF_RESYNC | MM_RECF_REPLAY));
}

static void note_applied(struct repl_session *s, const struct mm_journal_rec *rec)
{
	if (moves_cursor(rec) && rec->lsn > s->applied_lsn)
		s->applied_lsn = rec->lsn;
}

static int late_finish(struct repl_session *s, const struct mm_journal_rec *rec)
{
	struct timespec ts[2];
	uint8_t hash[16];
	uint64_t size;
	char *dst = NULL, *newd, *curd;

	if (mm_content_hash(s->stage_fd, &size, hash) < 0 || size != rec->size ||
	    memcmp(hash, rec->hash, 16) != 0) {
		late_drop(s);
		session_refuse(s, "late delivery %" PRIu64 " (%s/%s/%s): content does not match "
			       "its record", rec->lsn, rec->account, rec->folder, rec->name);
		return -1;
	}
	ts[0].tv_sec = ts[1].tv_sec = rec->mtime_ns / 1000000000LL;
	ts[0].tv_nsec = ts[1].tv_nsec = rec->mtime_ns % 1000000000LL;
	if (fchown(s->stage_fd, rec->uid, rec->gid) < 0 ||
	    fchmod(s->stage_fd, rec->mode & 0777) < 0 || futimens(s->stage_fd, ts) < 0)
		mm_log_warn("replication from %s: late delivery %" PRIu64 ": owner, mode or "
			    "mtime not set: %m", s->peer, rec->lsn);
	close(s->stage_fd);
	s->stage_fd = -1;
	newd = late_path(s, rec, "new", "");
	curd = late_path(s, rec, "cur", "");
	if (identity_in(newd, rec->name) || identity_in(curd, rec->name)) {
		s->d->n_already++;
		unlink(s->late_tmp);
	} else {
		int r;

		dst = late_path(s, rec, mm_sub_str(rec->sub), rec->name);
		r = rename(s->late_tmp, dst) == 0 ? 0 : -errno;
		if (r == -EROFS) {
			/* the account stopped being active here while the record
			   was on its way: not merged, not counted, and the cursor
			   stays; it comes again and is applied as a replica's
			   (the file in tmp/ is never journaled; the mount refuses
			   its removal too, so it goes from the store itself) */
			char *rel = late_rel_tmp(s, rec);

			if (rel != NULL && unlink(rel) < 0)
				mm_log_debug("replication: unlink(%s): %m", rel);
			free(rel);
			free(dst);
			free(newd);
			free(curd);
			mm_free(&s->late_tmp);
			session_refuse(s, "late delivery %" PRIu64 ": %s is not active here any "
				       "more; send it again (applied as a replica's)", rec->lsn,
				       rec->account);
			return -1;
		}
		if (r == 0) {
			s->d->n_merged++;
			/* kept by hash like any delivery: a later copy of it
			   from that peer comes by hash */
			content_keep(s, rec);
			mm_log_info("replication from %s: late delivery %" PRIu64 " merged into "
				    "%s/%s (journaled here, so every replica gets it)", s->peer,
				    rec->lsn, rec->account, rec->folder);
		} else {
			errno = -r;
			s->d->n_conflicts++;
			mm_log_error("replication from %s: late delivery %" PRIu64 ": rename(%s) "
				     "failed: %m; it stays on %s", s->peer, rec->lsn, dst, s->peer);
			unlink(s->late_tmp);
		}
	}
	free(dst);
	free(newd);
	free(curd);
	mm_free(&s->late_tmp);
	note_applied(s, rec);
	return 0;
}

/* ---- the session ---- */

/* ---- a resync's end: what the source does not have goes ---- */

static void rs_reset(struct repl_session *s)
{
	for (size_t i = 0; i < s->rs_n; i++)
		free(s->rs_seen[i]);
	mm_free(&s->rs_seen);
	mm_free(&s->rs_account);
	repl_resync_free(&s->rs_mine);
	s->rs_same = 0;
	s->rs_n = s->rs_cap = 0;
	s->rs_items = 0;
}

/* The resync's end is durable (or it was cut short): tell the sender. */
static void rs_confirm(struct repl_session *s, const char *account, uint32_t code,
		       uint64_t count)
{
	mm_free(&s->rs_confirm);
	s->rs_confirm = mm_strdup(account);
	s->rs_confirm_code = code;
	s->rs_confirm_count = count;
	s->resync_dirty = true;	/* the next commit sends it */
}

/* Notes a store-relative path (owned) as named: it stays at the end. */
static void rs_push(struct repl_session *s, char *rel)
{
	if (s->rs_n == s->rs_cap) {
		s->rs_cap = s->rs_cap ? s->rs_cap * 2 : 1024;
		s->rs_seen = mm_realloc(s->rs_seen, s->rs_cap * sizeof(*s->rs_seen));
	}
	s->rs_seen[s->rs_n++] = rel;
}

static void rs_add(struct repl_session *s, const char *folder, uint8_t sub, const char *name)
{
	rs_push(s, mm_strdup_printf("%s%s%s%s%s/%s", s->rs_account,
		*folder != '\0' ? "/" : "", folder, sub != MM_SUB_NONE ? "/" : "",
		sub != MM_SUB_NONE ? mm_sub_str(sub) : "", name));
}

/* Notes the file a record of the account being resynced leaves in place. */
static void rs_track(struct repl_session *s, const struct mm_journal_rec *rec)
{
	if (s->rs_account == NULL || strcmp(rec->account, s->rs_account) != 0)
		return;
	switch (rec->op) {
	case MM_OP_DELIVER:
		rs_add(s, rec->folder, rec->sub, rec->name);
		break;
	case MM_OP_MOVE:
	case MM_OP_FLAGS:
		rs_add(s, rec->folder, rec->new_sub, rec->new_name);
		break;
	case MM_OP_COPY:
		rs_add(s, rec->new_folder, rec->new_sub, rec->new_name);
		break;
	case MM_OP_META:
		if (!(rec->rflags & MM_RECF_DELETED))
			rs_add(s, rec->folder, MM_SUB_NONE, rec->name);
		break;
	case MM_OP_FOLDER_CREATE:
		rs_add(s, rec->folder, MM_SUB_NONE, "");	/* "ACCOUNT/FOLDER/" */
		break;
	case MM_OP_FOLDER_RENAME:
		rs_add(s, rec->new_folder, MM_SUB_NONE, "");
		break;
	default:
		break;
	}
}

/* A folder's digest from the resync's sender: the same here means every
   file of it stays and nothing of it is sent; otherwise the sender gets
   the list of messages this store has there and sends content only for
   the others. */
static int rs_digest(struct repl_session *s, const struct mm_wire_msg *m)
{
	char *folder = mm_strndup(m->text != NULL ? m->text : "", m->text_len);
	struct mm_wire_msg reply = { .type = MM_WIRE_INVENTORY, .text = folder,
				     .text_len = m->text_len, .code = MM_WIRE_INV_DIFFERS };
	struct mm_buf inv = { 0 };
	ssize_t i = -1;
	int ret = 0;

	if (s->rs_mine == NULL) {
		free(folder);
		session_refuse(s, "a folder digest outside a resync");
		return -1;
	}
	i = repl_resync_folder_find(s->rs_mine, folder);
	if (i >= 0) {
		uint8_t digest[16];
		uint64_t count;

		repl_resync_folder(s->rs_mine, (size_t)i, digest, &count);
		if (count == m->content_len && memcmp(digest, m->digest, 16) == 0) {
			size_t *idx, n = repl_resync_folder_entries(s->rs_mine, (size_t)i, &idx);

			reply.code = MM_WIRE_INV_SAME;
			for (size_t k = 0; k < n; k++) {
				char kind;
				const char *rel = repl_resync_entry(s->rs_mine, idx[k], &kind);

				/* a folder is noted as "ACCOUNT/FOLDER/", as rs_add() does */
				rs_push(s, kind == 'F' ? mm_strdup_printf("%s/", rel) : mm_strdup(rel));
			}
			s->rs_same++;
		} else {
			repl_resync_inventory(s->rs_mine, (size_t)i, &inv);
			if (inv.len > MM_WIRE_INVENTORY_MAX) {
				mm_buf_reset(&inv);
				reply.code = MM_WIRE_INV_ALL;
			}
		}
	}
	reply.blob = inv.data;
	reply.blob_len = inv.len;
	{
		struct mm_buf out = { 0 };

		/* the list compresses well: names share their prefixes */
		if (mm_wire_encode(&out, &reply, 3) < 0)
			mm_panic("wire: cannot encode an inventory of %s", folder);
		bufferevent_write(s->bev, out.data, out.len);
		mm_buf_free(&out);
	}
	mm_buf_free(&inv);
	free(folder);
	return ret;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The end of a resync: every record of it arrived, so a message or
   metadata file of the account that neither the resync nor a record since
   its start named is not on the source: it goes, as an expunge or a
   removal would take it. Folders stay. */
static void rs_end(struct repl_session *s, const struct mm_journal_rec *end)
{
	struct repl_resync *mine;
	unsigned int msgs = 0, metas = 0, folders = 0, failed = 0;

	if (s->rs_account == NULL || strcmp(s->rs_account, end->account) != 0) {
		mm_log_warn("replication from %s: the end of a resync of %s without its "
			    "start; nothing removed", s->peer, end->account);
		return;
	}
	if (s->rs_items != end->size) {
		mm_log_warn("replication from %s: resync of %s: %" PRIu64 " of %" PRIu64
			    " records arrived; nothing removed (run it again)", s->peer,
			    end->account, s->rs_items, end->size);
		rs_confirm(s, end->account, 1, s->rs_items);
		rs_reset(s);
		return;
	}
	rs_confirm(s, end->account, 0, s->rs_items);
	if (!hold_replica(s, end->account)) {
		rs_reset(s);
		return;
	}
	if (s->rs_n > 0)	/* rs_seen is NULL when nothing was seen */
		qsort(s->rs_seen, s->rs_n, sizeof(*s->rs_seen), cmp_str);
	mine = repl_resync_new(s->d, end->account);
	for (size_t i = 0; i < repl_resync_total(mine); i++) {
		char kind, *folder, *name;
		const char *rel = repl_resync_entry(mine, i, &kind), *error;
		struct mm_loc loc;
		int r;

		if (kind == 'F' || (s->rs_n > 0 && bsearch(&rel, s->rs_seen, s->rs_n,
							    sizeof(*s->rs_seen), cmp_str) != NULL))
			continue;
		mm_classify(repl_resync_rules(mine), rel, false, &loc);
		folder = mm_strndup(loc.folder, loc.folder_len);
		name = mm_strndup(loc.name, loc.name_len);
		struct mm_journal_rec rec = {
			.time_ns = repl_now_ns(), .status = MM_REC_COMMITTED,
			.op = kind == 'M' ? MM_OP_EXPUNGE : MM_OP_META,
			.rflags = MM_RECF_RESYNC | (kind == 'M' ? 0 : MM_RECF_DELETED),
			.account = end->account, .folder = folder, .sub = (uint8_t)loc.sub,
			.name = name, .new_folder = "", .new_name = "",
		};

		r = repl_apply(s->d->store, &rec, NULL, &s->changes, &error);
		if (r < 0) {
			failed++;
			mm_log_error("replication from %s: resync of %s: removing %s: %s",
				     s->peer, end->account, rel, error);
		} else if (r == REPL_APPLIED) {
			if (kind == 'M')
				msgs++;
			else
				metas++;
		}
		free(folder);
		free(name);
	}
	/* then the folders nobody named, deepest first; one that still holds
	   mail is left (a delivery is never dropped) */
	for (size_t i = repl_resync_total(mine); i-- > 0;) {
		char kind, *key;
		const char *rel = repl_resync_entry(mine, i, &kind), *error;
		size_t alen = strlen(end->account);
		bool seen;
		int r;

		if (kind != 'F')
			continue;
		key = mm_strdup_printf("%s/", rel);
		seen = s->rs_n > 0 &&
		       bsearch(&key, s->rs_seen, s->rs_n, sizeof(*s->rs_seen), cmp_str) != NULL;
		free(key);
		if (seen)
			continue;
		struct mm_journal_rec rec = {
			.time_ns = repl_now_ns(), .status = MM_REC_COMMITTED,
			.op = MM_OP_FOLDER_DELETE, .rflags = MM_RECF_RESYNC,
			.account = end->account, .folder = rel[alen] == '/' ? rel + alen + 1 : "",
			.name = "", .new_folder = "", .new_name = "",
		};

		r = repl_apply(s->d->store, &rec, NULL, &s->changes, &error);
		if (r < 0) {
			failed++;
			mm_log_error("replication from %s: resync of %s: removing folder %s: %s",
				     s->peer, end->account, rel, error);
		} else if (r == REPL_APPLIED) {
			folders++;
		} else if (r == REPL_CONFLICT) {
			mm_log_warn("replication from %s: resync of %s: folder %s is not on the "
				    "source but holds mail here; left", s->peer, end->account, rel);
		}
	}
	repl_resync_free(&mine);
	mm_log_info("replication from %s: resync of %s: %" PRIu64 " records, %u folders the "
		    "same; removed %u messages, %u metadata files and %u folders the source "
		    "does not have%s", s->peer, end->account, end->size, s->rs_same, msgs, metas,
		    folders, failed > 0 ? " (some failed)" : "");
	s->resync_dirty = true;
	rs_reset(s);
}

static void session_free(struct repl_session *s)
{
	struct repl_session **pp;

	for (pp = &s->d->sessions; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == s) {
			*pp = s->next;
			break;
		}
	}
	if (s->stage != NULL)
		repl_stage_abort(s->d->store, &s->stage);
	repl_query_free(&s->q);
	late_drop(s);
	refused_drop(s);
	if (s->bev != NULL)
		bufferevent_free(s->bev);
	mm_wire_decoder_free(&s->dec);
	ZSTD_freeDStream(s->zd);
	mm_buf_free(&s->rec_bytes);
	repl_changes_free(&s->changes);
	rs_reset(s);
	free(s->rs_confirm);
	XXH3_freeState(s->content_xxh);
	if (s->commit_ev != NULL)
		event_free(s->commit_ev);
	free(s);
}

static void session_send(struct repl_session *s, const struct mm_wire_msg *m)
{
	struct mm_buf out = { 0 };

	if (mm_wire_encode(&out, m, 0) < 0)
		mm_panic("wire: cannot encode a %s frame", mm_wire_type_str(m->type));
	bufferevent_write(s->bev, out.data, out.len);
	mm_buf_free(&out);
}

/* Refuses the peer's stream: one log line, an ERROR frame, and the
   connection goes once the frame is out. Nothing of the failed record
   was applied. */
static void session_refuse(struct repl_session *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void session_refuse(struct repl_session *s, const char *fmt, ...)
{
	char why[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	mm_log_error("replication from %s: %s; connection dropped",
		     s->peer[0] != '\0' ? s->peer : s->addr, why);
	s->d->n_refused++;
	if (s->dec != NULL) {
		struct mm_wire_msg m = { .type = MM_WIRE_ERROR, .code = 1, .text = why,
					 .text_len = strlen(why) };

		session_send(s, &m);
	}
	if (s->stage != NULL)
		repl_stage_abort(s->d->store, &s->stage);
	/* free once the ERROR frame has been written */
	mm_wire_decoder_free(&s->dec);
	bufferevent_disable(s->bev, EV_READ);
	if (evbuffer_get_length(bufferevent_get_output(s->bev)) == 0)
		session_free(s);
}

/* Tells mailmesh-fs to drop its kernel cache of every path the batch
   changed, on one connection (a connection per path cost the receiver
   more than the apply: 3,000 connects for 3,000 messages). */
#define INVAL_BATCH_BYTES (1U << 20)

static void inval_send(struct repl_session *s, struct mm_buf *lines, bool *gone)
{
	struct mm_buf reply = { 0 };
	const char *error;
	int r;

	if (lines->len == 0 || *gone)
		goto out;
	lines->data[lines->len - 1] = '\0';	/* the last newline */
	r = mm_ctl_batch(s->d->fs_ctl_path, (const char *)lines->data, &reply, &error);
	if (r == 1) {
		*gone = true;	/* mailmesh-fs is not running: nothing cached */
	} else if (r < 0) {
		mm_log_warn("replication: invalidating changed paths in the mount: %s", error);
	} else {
		const char *p = mm_buf_str(&reply), *e;

		while ((e = strstr(p, "error ")) != NULL) {
			mm_log_warn("replication: invalidating in the mount: %.*s",
				    (int)strcspn(e, "\n"), e);
			p = e + 6;
		}
	}
out:
	mm_buf_free(&reply);
	mm_buf_reset(lines);
}

static void invalidate(struct repl_session *s)
{
	struct mm_buf lines = { 0 };
	const char *rel;
	size_t pos = 0;
	bool gone = false;

	while ((rel = repl_changes_next(&s->changes, &pos)) != NULL) {
		mm_buf_printf(&lines, "inval %s\n", rel);
		if (lines.len >= INVAL_BATCH_BYTES)
			inval_send(s, &lines, &gone);
	}
	inval_send(s, &lines, &gone);
	mm_buf_free(&lines);
	repl_changes_reset(&s->changes);
}

/* Makes what was applied durable, records the cursor, acknowledges. */
static int session_commit(struct repl_session *s)
{
	const char *error;

	/* the mount shows what the store holds now; durability is separate */
	invalidate(s);
	if (s->applied_lsn <= s->durable_lsn && !s->resync_dirty)
		return 0;
	if (s->applied_lsn <= s->durable_lsn && s->rs_confirm == NULL &&
	    repl_now_ns() - s->synced_ns < REPL_RESYNC_SYNC_NS) {
		/* resync records alone, and no end to confirm: nothing waits
		   for their durability (the end's RESYNCED does), so they are
		   synced once a second, not per batch: a syncfs per 1 ms batch
		   stalled the apply on the disk. The ACK of the same LSN still
		   tells the sender we live. */
		struct mm_wire_msg m = { .type = MM_WIRE_ACK, .lsn = s->durable_lsn };

		session_send(s, &m);
		return 0;
	}
	if (repl_store_sync(s->d->store, &error) < 0) {
		mm_log_error("replication from %s: %s", s->peer, error);
		return -1;
	}
	s->resync_dirty = false;
	s->synced_ns = repl_now_ns();
	if (s->rs_confirm != NULL) {
		struct mm_wire_msg c = { .type = MM_WIRE_RESYNCED, .code = s->rs_confirm_code,
					 .content_len = s->rs_confirm_count,
					 .text = s->rs_confirm, .text_len = strlen(s->rs_confirm) };

		session_send(s, &c);
		mm_free(&s->rs_confirm);
	}
	if (s->applied_lsn <= s->durable_lsn) {
		/* resync records alone: synced, no cursor to move; the ACK of
		   the same LSN tells the sender we live (a resync of 100,000
		   messages takes longer to apply than REPL_SILENT_S) */
		struct mm_wire_msg m = { .type = MM_WIRE_ACK, .lsn = s->durable_lsn };

		session_send(s, &m);
		return 0;
	}
	/* the epochs learnt from the batch last as long as the cursor past it */
	if (repl_fence_sync(s->d, &error) < 0) {
		mm_log_error("replication from %s: %s", s->peer, error);
		return -1;
	}
	if (cursor_save(s->d, s->peer, s->applied_lsn, &error) < 0) {
		mm_log_error("replication from %s: %s", s->peer, error);
		return -1;
	}
	s->durable_lsn = s->applied_lsn;
	struct mm_wire_msg m = { .type = MM_WIRE_ACK, .lsn = s->durable_lsn };

	session_send(s, &m);
	return 0;
}

/* Tells the sender its record at rec's LSN was refused for a stale
   epoch: its sync-mode wait must not count this store, though the ACKs
   that follow cover the LSN (the stream goes on past it). */
static void send_refused(struct repl_session *s, const struct mm_journal_rec *rec)
{
	char why[256];

	if (rec->lsn == 0)
		return;		/* a resync's: nobody waits for it */
	snprintf(why, sizeof(why), "%s of %s written under epoch %" PRIu64 " after epoch %"
		 PRIu64 " began (a stale epoch: split brain?)", mm_op_str(rec->op),
		 rec->account, rec->epoch, s->rec_newer);
	struct mm_wire_msg m = { .type = MM_WIRE_REFUSED, .lsn = rec->lsn,
				 .code = MM_WIRE_REFUSED_STALE, .text = why,
				 .text_len = strlen(why) };

	session_send(s, &m);
}

/* A stale record of an account this store holds as a replica, its
   content (if any) complete: not applied, but kept whole in STATE/
   replication/refused (record, and content checked against it) so that
   nothing is lost; the sender hears it was refused, and the stream goes
   on past it. A resync's stale record is neither applied nor kept (it is
   a picture of the sender's store, which still has the files). */
static int refused_finish(struct repl_session *s, const struct mm_journal_rec *rec)
{
	const char *state = s->d->cfg->state, *error;

	s->rec_open = false;
	if (rec->rflags & MM_RECF_RESYNC)
		return 0;
	if (s->refused_tmp != NULL) {
		uint8_t hash[16];
		uint64_t size;

		if (mm_content_hash(s->stage_fd, &size, hash) < 0 || size != rec->size ||
		    memcmp(hash, rec->hash, 16) != 0) {
			refused_drop(s);
			session_refuse(s, "record %" PRIu64 " (%s/%s/%s): content does not match "
				       "its record", rec->lsn, rec->account, rec->folder, rec->name);
			return -1;
		}
		if (mm_refused_content_commit(state, s->stage_fd, s->refused_tmp, hash,
					      &error) < 0)
			mm_log_error("replication from %s: record %" PRIu64 " refused for a stale "
				     "epoch: its content is not kept: %s", s->peer, rec->lsn,
				     error);
		s->stage_fd = -1;
		mm_free(&s->refused_tmp);
	}
	/* sent again after a reconnect before the cursor was durable: kept
	   already */
	if (!moves_cursor(rec) || rec->lsn > s->kept_lsn) {
		if (mm_refused_append(state, s->peer, s->rec_bytes.data, s->rec_bytes.len,
				      &error) < 0) {
			/* not lost: the cursor stays, and it comes again */
			session_refuse(s, "record %" PRIu64 " refused for a stale epoch cannot be "
				       "kept: %s", rec->lsn, error);
			return -1;
		}
		if (moves_cursor(rec))
			s->kept_lsn = rec->lsn;
	}
	send_refused(s, rec);
	note_applied(s, rec);
	return 0;
}

/* Applies the open record (its content, if any, is complete). */
static int apply_open_record(struct repl_session *s)
{
	struct mm_journal_rec rec;
	const char *error;
	size_t used;
	int r;

	s->rec_open = false;
	if (mm_journal_decode(s->rec_bytes.data, s->rec_bytes.len, &rec, &used) < 0)
		mm_panic("replication: a checked record no longer decodes");
	if (s->rec_refused)
		return refused_finish(s, &rec);
	if (s->late_tmp != NULL)
		return late_finish(s, &rec);
	if (s->stage == NULL && s->content_len > 0) {
		/* skipped: a duplicate, or an account not held here */
		note_applied(s, &rec);
		return 0;
	}
	r = repl_apply(s->d->store, &rec, &s->stage, &s->changes, &error);
	if (r < 0) {
		session_refuse(s, "record %" PRIu64 " (%s %s/%s/%s) refused: %s", rec.lsn,
			       mm_op_str(rec.op), rec.account, rec.folder, rec.name, error);
		return -1;
	}
	switch (r) {
	case REPL_APPLIED:
		s->d->n_applied++;
		/* a resync's contents are not kept: the source does not send
		   later copies of them by hash (repl-link.c) */
		if (rec.op == MM_OP_DELIVER && rec.size > 0 && !(rec.rflags & MM_RECF_RESYNC))
			content_keep(s, &rec);
		break;
	case REPL_ALREADY:
		s->d->n_already++;
		break;
	case REPL_MISSING:
		s->d->n_missing++;
		mm_log_warn("replication from %s: record %" PRIu64 " (%s %s/%s/%s): not in "
			    "this store; the account needs a resync", s->peer, rec.lsn,
			    mm_op_str(rec.op), rec.account, rec.folder, rec.name);
		break;
	default:
		s->d->n_conflicts++;
		mm_log_warn("replication from %s: record %" PRIu64 " (%s %s/%s/%s) conflicts "
			    "with this store; left as it is", s->peer, rec.lsn,
			    mm_op_str(rec.op), rec.account, rec.folder, rec.name);
		break;
	}
	rs_track(s, &rec);
	note_applied(s, &rec);
	if (!moves_cursor(&rec))
		s->resync_dirty = true;	/* synced all the same */
	return 0;
}

static int on_record(struct repl_session *s, const struct mm_wire_msg *m)
{
	struct mm_journal_rec rec;
	const char *error;
	size_t used;
	int ret, fd, lr;

	ret = mm_journal_decode(m->blob, m->blob_len, &rec, &used);
	if (ret < 0 || used != m->blob_len) {
		session_refuse(s, "record %" PRIu64 ": %s", m->lsn,
			       ret < 0 ? mm_strerror(ret) : "trailing bytes");
		return -1;
	}
	bool resync = (rec.rflags & MM_RECF_RESYNC) != 0;

	if (rec.lsn != m->lsn || rec.status != MM_REC_COMMITTED || (resync && rec.lsn != 0) ||
	    (!resync && rec.lsn == 0)) {
		session_refuse(s, "record %" PRIu64 ": frame says LSN %" PRIu64 ", status '%c'",
			       rec.lsn, m->lsn, rec.status);
		return -1;
	}
	if (m->content_len > CONTENT_MAX ||
	    (m->content_len > 0 && (rec.op != MM_OP_DELIVER || m->content_len != rec.size))) {
		session_refuse(s, "record %" PRIu64 ": %" PRIu64 " content bytes for a %s of "
			       "%" PRIu64, rec.lsn, m->content_len, mm_op_str(rec.op), rec.size);
		return -1;
	}
	bool have = (rec.rflags & MM_RECF_HAVE) != 0;

	if (have && (!resync || rec.op != MM_OP_DELIVER || m->content_len != 0)) {
		session_refuse(s, "record %" PRIu64 ": 'peer has it' on a %s%s with %" PRIu64
			       " content bytes", rec.lsn, resync ? "" : "non-resync ",
			       mm_op_str(rec.op), m->content_len);
		return -1;
	}
	if (mm_acct_check(rec.account, s->d->cfg->account_depth, &error) < 0) {
		session_refuse(s, "record %" PRIu64 ": %s", rec.lsn, error);
		return -1;
	}
	/* the placement in our configuration must agree with the sender's:
	   a store never takes an account it is not to hold */
	if (!mm_cfg_account_on(mm_cfg_account(s->d->cfg, rec.account), s->d->cfg->node_name)) {
		session_refuse(s, "record %" PRIu64 " is for %s, which this store does not hold "
			       "([account] replicas or replicate = no here)", rec.lsn, rec.account);
		return -1;
	}
	bool dup = moves_cursor(&rec) && rec.lsn <= s->applied_lsn;
	uint64_t newer = 0;
	bool stale = !dup && repl_fence_stale(s->d, &rec, &newer);

	if (resync && (rec.rflags & (MM_RECF_RESYNC_BEGIN | MM_RECF_RESYNC_END))) {
		if ((rec.rflags & MM_RECF_RESYNC_END) && stale) {
			/* a deposed store's resync removes nothing here */
			repl_fence_refused(s->d, s->peer, &rec, newer, "the end of a resync: "
					   "nothing removed");
			s->n_stale++;
			if (s->rs_account != NULL && strcmp(s->rs_account, rec.account) == 0)
				rs_confirm(s, rec.account, 1, s->rs_items);
			rs_reset(s);
		} else if (rec.rflags & MM_RECF_RESYNC_END) {
			rs_end(s, &rec);
		} else {
			rs_reset(s);
			s->rs_account = mm_strdup(rec.account);
			/* this store's copy, to answer the folder digests */
			s->rs_mine = repl_resync_new(s->d, rec.account);
		}
		return 0;
	}
	/* whether the account is read-write here (the record is late), asked
	   once: on a fenced store that is a question to the mount */
	bool late = !dup && !hold_replica(s, rec.account);
	bool refuse = stale && !late;

	if (stale) {
		char how[200];

		if (!refuse)
			snprintf(how, sizeof(how), "this store is the account's active: merged "
				 "by the late-record rules");
		else if (resync)
			snprintf(how, sizeof(how), "a resync's record: not applied");
		else
			snprintf(how, sizeof(how), "not applied, kept in STATE/%s/%s.mmj",
				 MM_REFUSED_DIR, s->peer);
		repl_fence_refused(s->d, s->peer, &rec, newer, how);
		s->n_stale++;
	} else if (!dup) {
		repl_fence_learn(s->d, rec.account, rec.epoch);
	}
	if (resync && !refuse && s->rs_account != NULL && strcmp(s->rs_account, rec.account) == 0)
		s->rs_items++;
	mm_buf_reset(&s->rec_bytes);
	mm_buf_append(&s->rec_bytes, m->blob, m->blob_len);
	s->rec_open = true;
	s->content_len = m->content_len;
	s->content_got = 0;
	if (s->content_xxh == NULL && (s->content_xxh = XXH3_createState()) == NULL)
		mm_panic("xxhash: out of memory");
	XXH3_128bits_reset(s->content_xxh);
	s->stage = NULL;
	s->stage_fd = -1;
	s->rec_late = false;
	s->rec_refused = refuse;
	s->rec_newer = newer;
	if (dup) {
		/* sent again after a reconnect: applied already; its content
		   is skipped (a resumed account's records come flagged
		   MM_RECF_REPLAY: held back, so never applied) */
	} else if (refuse) {
		if (resync) {
			/* its content, if any, is skipped */
		} else if (m->content_len > 0 || (rec.op == MM_OP_DELIVER && rec.size > 0)) {
			fd = mm_refused_content_open(s->d->cfg->state, s->peer, rec.lsn,
						     &s->refused_tmp, &error);
			if (fd < 0) {
				session_refuse(s, "record %" PRIu64 " refused for a stale epoch: "
					       "its content cannot be kept: %s", rec.lsn, error);
				return -1;
			}
			s->stage_fd = fd;
			if (m->content_len == 0) {
				/* sent before: from what this store keeps by hash */
				char *path = content_path(s->d, rec.hash);
				int in = open(path, O_RDONLY | O_CLOEXEC), cr = -ENOENT;

				free(path);
				if (in >= 0) {
					cr = copy_fd(in, s->stage_fd, rec.size);
					close(in);
				}
				if (cr < 0) {
					refused_drop(s);
					session_refuse(s, "record %" PRIu64 ": content is not kept "
						       "here; send it again", rec.lsn);
					return -1;
				}
			}
		}
	} else if ((s->rec_late = late)) {
		fs_hello(s->d);
		if (stale)
			send_refused(s, &rec);
		if (have) {
			/* a resync to the account's new source: it has the message */
			s->d->n_already++;
		} else if (rec.op != MM_OP_DELIVER) {
			/* the account is read-write here: a former source's
			   change, merged by the rules of repl-merge.h */
			if (repl_late_apply(s->d, s->peer, &rec) < 0) {
				session_refuse(s, "record %" PRIu64 ": %s is not active here any "
					       "more; send it again (applied as a replica's)",
					       rec.lsn, rec.account);
				return -1;
			}
		} else if (repl_late_expunged(s->d, s->peer, &rec)) {
			s->d->n_already++;
			mm_log_info("replication from %s: late delivery %" PRIu64 " (%s/%s/%s): "
				    "expunged here since; not delivered again (rule: an "
				    "expunge wins)", s->peer, rec.lsn, rec.account, rec.folder,
				    rec.name);
		} else if ((lr = late_open(s, &rec)) == -EROFS) {
			session_refuse(s, "late delivery %" PRIu64 ": %s is not active here any "
				       "more; send it again (applied as a replica's)", rec.lsn,
				       rec.account);
			return -1;
		} else if (lr == 0) {
			if (m->content_len == 0 && rec.size > 0) {
				/* sent before: from what this store keeps by hash */
				char *path = content_path(s->d, rec.hash);
				int in = open(path, O_RDONLY | O_CLOEXEC), ret = -ENOENT;

				free(path);
				if (in >= 0) {
					ret = copy_fd(in, s->stage_fd, rec.size);
					close(in);
				}
				if (ret < 0) {
					late_drop(s);
					session_refuse(s, "record %" PRIu64 ": content is not kept "
						       "here; send it again", rec.lsn);
					return -1;
				}
			}
		} else {
			/* late_open() said why */
			s->d->n_conflicts++;
		}
	} else if (have) {
		/* renamed to the source's name if its flags differ; no content */
	} else if (m->content_len == 0 && rec.op == MM_OP_DELIVER && rec.size > 0) {
		/* sent before: take it from what this store keeps by hash */
		char *path = content_path(s->d, rec.hash);
		int in = open(path, O_RDONLY | O_CLOEXEC), ret;

		free(path);
		if (in < 0) {
			char hex[33];

			mm_hash_hex(rec.hash, hex);
			session_refuse(s, "record %" PRIu64 ": content %s is not kept here; "
				       "send it again", rec.lsn, hex);
			return -1;
		}
		if (repl_stage_open(s->d->store, &rec, &s->stage, &fd, &error) < 0) {
			close(in);
			mm_log_error("replication from %s: record %" PRIu64 ": %s", s->peer,
				     rec.lsn, error);
			session_refuse(s, "record %" PRIu64 ": cannot stage its content", rec.lsn);
			return -1;
		}
		s->stage_fd = fd;
		ret = copy_fd(in, fd, rec.size);
		close(in);
		if (ret < 0) {
			session_refuse(s, "record %" PRIu64 ": kept content: %s", rec.lsn,
				       strerror(-ret));
			return -1;
		}
		s->d->n_by_hash++;
	} else if (m->content_len > 0 || rec.op == MM_OP_DELIVER) {
		/* an empty message has an empty stage */
		if (repl_stage_open(s->d->store, &rec, &s->stage, &fd, &error) < 0) {
			mm_log_error("replication from %s: record %" PRIu64 ": %s", s->peer,
				     rec.lsn, error);
			session_refuse(s, "record %" PRIu64 ": cannot stage its content", rec.lsn);
			return -1;
		}
		s->stage_fd = fd;
	}
	if (m->content_len == 0) {
		if (s->stage != NULL || s->late_tmp != NULL || s->rec_refused)
			return apply_open_record(s);
		if (dup || s->rec_late) {
			s->rec_open = false;
			note_applied(s, &rec);
			return 0;
		}
		return apply_open_record(s);
	}
	return 0;
}

static int on_data(struct repl_session *s, const struct mm_wire_msg *m)
{
	struct mm_journal_rec rec;
	size_t used;

	mm_journal_decode(s->rec_bytes.data, s->rec_bytes.len, &rec, &used);
	if (m->lsn != rec.lsn || m->offset != s->content_got ||
	    m->blob_len > s->content_len - s->content_got) {
		session_refuse(s, "content of record %" PRIu64 ": chunk for LSN %" PRIu64
			       " at %" PRIu64 "+%zu does not fit (have %" PRIu64 " of %" PRIu64 ")",
			       rec.lsn, m->lsn, m->offset, m->blob_len, s->content_got,
			       s->content_len);
		return -1;
	}
	if (s->stage != NULL || s->late_tmp != NULL || s->refused_tmp != NULL) {
		size_t off = 0;

		while (off < m->blob_len) {
			ssize_t n = pwrite(s->stage_fd, m->blob + off, m->blob_len - off,
					   (off_t)(s->content_got + off));

			if (n < 0) {
				session_refuse(s, "content of record %" PRIu64 ": write: %s",
					       rec.lsn, strerror(errno));
				return -1;
			}
			off += (size_t)n;
		}
	}
	if (s->stage != NULL)
		XXH3_128bits_update(s->content_xxh, m->blob, m->blob_len);
	s->content_got += m->blob_len;
	if (s->content_got == s->content_len) {
		if (s->stage != NULL) {
			XXH128_canonical_t c;

			/* checked against the record by repl_apply() without
			   reading the file again */
			XXH128_canonicalFromHash(&c, XXH3_128bits_digest(s->content_xxh));
			repl_stage_hashed(s->stage, s->content_got, c.digest);
		}
		return apply_open_record(s);
	}
	return 0;
}

/* A peer's mailmesh-fsck: its first frame is QUERY OPEN (naming the store
   its certificate names) instead of HELLO; then questions, answered in
   order by repl-query.c. Such a session never streams records. */
static int on_query(struct repl_session *s, const struct mm_wire_msg *m)
{
	const char *error;

	if (s->q == NULL) {
		struct mm_rbuf r = { .p = m->blob, .end = m->blob + m->blob_len };
		uint16_t version = 0;

		if (m->code != MM_WIRE_Q_OPEN) {
			session_refuse(s, "a query before QUERY OPEN");
			return -1;
		}
		if ((size_t)m->text_len != strlen(s->peer) ||
		    memcmp(m->text, s->peer, m->text_len) != 0) {
			session_refuse(s, "QUERY OPEN names '%.*s', certificate '%s'",
				       (int)m->text_len, m->text, s->peer);
			return -1;
		}
		if (!mm_rbuf_u16(&r, &version) || version < REPL_QUERY_VERSION_MIN ||
		    version > REPL_PROTO_VERSION) {
			session_refuse(s, "fsck protocol %u, this store speaks %u to %u", version,
				       REPL_QUERY_VERSION_MIN, REPL_PROTO_VERSION);
			return -1;
		}
		s->q = repl_query_new(s->d, s->bev, s->peer);
		/* a walk with content may take longer than the silence allowed */
		bufferevent_set_timeouts(s->bev, NULL, NULL);
		struct mm_wire_msg a = { .type = MM_WIRE_ANSWER, .code = MM_WIRE_A_OK,
					 .text = s->d->cfg->node_name,
					 .text_len = strlen(s->d->cfg->node_name) };

		session_send(s, &a);
		return 0;
	}
	if (repl_query_frame(s->q, m, &error) < 0) {
		session_refuse(s, "fsck query: %s", error);
		return -1;
	}
	return 0;
}

/* Feeds decoded bytes to the frame decoder and handles every complete
   frame. 0, or -1 when the session was refused (stop using it). */
static int session_feed(struct repl_session *s, const void *data, size_t len)
{
	struct mm_wire_msg m;
	int r;

	mm_wire_decoder_feed(s->dec, data, len);
	while ((r = mm_wire_decoder_next(s->dec, &m)) == 1) {
		if (m.type == MM_WIRE_HELLO && !s->welcomed) {
			if ((size_t)m.name_len != strlen(s->peer) ||
			    memcmp(m.name, s->peer, m.name_len) != 0) {
				session_refuse(s, "HELLO names '%.*s', certificate '%s'",
					       (int)m.name_len, m.name, s->peer);
				return -1;
			}
			if (m.version != REPL_PROTO_VERSION) {
				session_refuse(s, "protocol %u, this store speaks %u", m.version,
					       REPL_PROTO_VERSION);
				return -1;
			}
			s->durable_lsn = s->applied_lsn = cursor_load(s->d, s->peer);
			s->resume_lsn = s->applied_lsn + 1;
			s->kept_lsn = mm_refused_last_lsn(s->d->cfg->state, s->peer);
			struct mm_wire_msg w = { .type = MM_WIRE_WELCOME,
						 .version = REPL_PROTO_VERSION,
						 .name = s->d->cfg->node_name,
						 .name_len = strlen(s->d->cfg->node_name),
						 .lsn = s->resume_lsn };

			session_send(s, &w);
			s->welcomed = true;
			/* from now on the peer's bytes are one zstd stream; the
			   window is capped, so a hostile stream cannot ask for
			   more memory than ours would use */
			s->zd = ZSTD_createDStream();
			if (s->zd == NULL)
				mm_panic("zstd: out of memory");
			ZSTD_DCtx_setParameter(s->zd, ZSTD_d_windowLogMax, REPL_STREAM_WINDOW_LOG);
			mm_log_info("replication from %s: connected, resuming at LSN %" PRIu64,
				    s->peer, s->resume_lsn);
			/* the peer sends nothing else before our WELCOME */
			return 0;
		} else if (m.type == MM_WIRE_QUERY && !s->welcomed) {
			if (on_query(s, &m) < 0)
				return -1;
		} else if (m.type == MM_WIRE_RECORD && s->welcomed && !s->rec_open) {
			if (on_record(s, &m) < 0)
				return -1;
		} else if (m.type == MM_WIRE_DATA && s->rec_open) {
			if (on_data(s, &m) < 0)
				return -1;
		} else if (m.type == MM_WIRE_DIGEST && s->welcomed && !s->rec_open) {
			if (rs_digest(s, &m) < 0)
				return -1;
		} else if (m.type == MM_WIRE_ACK && s->welcomed && !s->rec_open) {
			/* position: the peer has nothing more for us up to here */
			if (m.lsn > s->applied_lsn)
				s->applied_lsn = m.lsn;
		} else if (m.type == MM_WIRE_PING) {
			struct mm_wire_msg p = { .type = MM_WIRE_PONG, .nonce = m.nonce };

			session_send(s, &p);
		} else if (m.type == MM_WIRE_PONG) {
		} else {
			session_refuse(s, "unexpected %s frame", mm_wire_type_str(m.type));
			return -1;
		}
	}
	if (r < 0) {
		session_refuse(s, "bad frame: %s", mm_wire_strerror(r));
		return -1;
	}
	return 0;
}

/* Ends the open batch: durable, cursor, ACK (session_commit). */
static void batch_commit(struct repl_session *s)
{
	evtimer_del(s->commit_ev);
	s->batch_ns = 0;
	if (s->dec != NULL && s->welcomed && session_commit(s) < 0)
		session_refuse(s, "cannot make applied records durable");
}

/* After input was handled: opens a batch (the timer ends it when the
   input pauses), or ends one older than REPL_COMMIT_US. A single read of
   well-compressed input can hold minutes of applying, during which the
   loop never runs its timers: without this no ACK would leave, and the
   sender would drop the link as silent. -1 if the session was refused. */
static int batch_tick(struct repl_session *s)
{
	uint64_t now;

	if (s->dec == NULL)
		return -1;
	if (!s->welcomed)
		return 0;
	now = repl_now_ns();
	if (s->batch_ns == 0) {
		struct timeval tv = { .tv_usec = REPL_COMMIT_US };

		s->batch_ns = now;
		evtimer_add(s->commit_ev, &tv);
	} else if (now - s->batch_ns >= (uint64_t)REPL_COMMIT_US * 1000) {
		batch_commit(s);
	}
	return s->dec == NULL ? -1 : 0;
}

static void s_on_read(struct bufferevent *bev, void *arg)
{
	struct repl_session *s = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	static unsigned char out[256 * 1024];
	size_t len;

	while (s->dec != NULL && (len = evbuffer_get_contiguous_space(in)) > 0) {
		const unsigned char *p = evbuffer_pullup(in, (ssize_t)len);
		int ret = 0;

		if (s->zd == NULL) {
			ret = session_feed(s, p, len);
		} else {
			ZSTD_inBuffer zi = { p, len, 0 };
			bool full = true;

			/* decompressed in bounded pieces, each handled before the
			   next: memory stays bounded whatever the input claims */
			while (ret == 0 && (zi.pos < zi.size || full)) {
				ZSTD_outBuffer zo = { out, sizeof(out), 0 };
				size_t z = ZSTD_decompressStream(s->zd, &zo, &zi);

				if (ZSTD_isError(z)) {
					session_refuse(s, "bad compressed stream: %s",
						       ZSTD_getErrorName(z));
					return;
				}
				full = zo.pos == zo.size;
				if (zo.pos > 0)
					ret = session_feed(s, out, zo.pos);
				if (ret == 0)
					ret = batch_tick(s);
			}
		}
		if (ret < 0)
			return;
		evbuffer_drain(in, len);
	}
	batch_tick(s);
}

static void on_commit(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	batch_commit(arg);
}

static void s_on_write(struct bufferevent *bev, void *arg)
{
	struct repl_session *s = arg;

	/* a refused session goes once its ERROR frame is out */
	if (s->dec == NULL && evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		session_free(s);
}

static void s_on_event(struct bufferevent *bev, short what, void *arg)
{
	struct repl_session *s = arg;
	const char *error;
	char name[64];

	if (what & BEV_EVENT_CONNECTED) {
		SSL *ssl = bufferevent_openssl_get_ssl(bev);

		if (repl_tls_peer_name(ssl, name, sizeof(name)) == NULL) {
			session_refuse(s, "certificate names no store");
			return;
		}
		snprintf(s->peer, sizeof(s->peer), "%s", name);
		if (mm_cfg_peer(s->d->cfg, name) == NULL ||
		    strcmp(name, s->d->cfg->node_name) == 0) {
			session_refuse(s, "'%s' is not a peer of this store", name);
			return;
		}
		if (repl_tls_check_peer(ssl, name, &error) < 0) {
			session_refuse(s, "%s", error);
			return;
		}
		s->dec = mm_wire_decoder_new();
		return;
	}
	if (what & BEV_EVENT_ERROR) {
		unsigned long e = bufferevent_get_openssl_error(bev);
		long v = SSL_get_verify_result(bufferevent_openssl_get_ssl(bev));

		/* OpenSSL's own error only says "certificate verify failed" */
		mm_log_warn("replication from %s: %s%s", s->peer[0] ? s->peer : s->addr,
			    e != 0 ? "TLS: " : "",
			    e != 0 ? ERR_reason_error_string(e) :
			    evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
		if (e != 0 && v != X509_V_OK)
			mm_log_warn("replication from %s: certificate refused: %s",
				    s->peer[0] ? s->peer : s->addr,
				    X509_verify_cert_error_string(v));
	} else if (what & BEV_EVENT_TIMEOUT) {
		mm_log_warn("replication from %s: silent for %d s, connection closed",
			    s->peer[0] ? s->peer : s->addr, REPL_SESSION_SILENT_S);
	} else if (s->q != NULL) {
		mm_log_info("fsck query from %s: closed", s->peer);
	} else if (s->peer[0] != '\0') {
		mm_log_info("replication from %s: disconnected at LSN %" PRIu64, s->peer,
			    s->durable_lsn);
	}
	session_free(s);
}

void repl_nodelay(int fd)
{
	int one = 1;

	if (fd >= 0 && setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0)
		mm_log_warn("replication: TCP_NODELAY: %m");
}

static void on_accept(struct evconnlistener *lis, evutil_socket_t fd,
		      struct sockaddr *sa, int salen, void *arg)
{
	struct repl_daemon *d = arg;
	struct repl_session *s = mm_calloc(1, sizeof(*s));

	(void)lis;
	s->d = d;
	s->commit_ev = evtimer_new(d->base, on_commit, s);
	if (sa->sa_family == AF_INET6 && (size_t)salen >= sizeof(struct sockaddr_in6)) {
		char ip[INET6_ADDRSTRLEN] = "?";
		const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *)sa;

		evutil_inet_ntop(AF_INET6, &a6->sin6_addr, ip, sizeof(ip));
		snprintf(s->addr, sizeof(s->addr), "unknown client [%s]:%u", ip,
			 ntohs(a6->sin6_port));
	} else if (sa->sa_family == AF_INET && (size_t)salen >= sizeof(struct sockaddr_in)) {
		char ip[INET_ADDRSTRLEN] = "?";
		const struct sockaddr_in *a4 = (const struct sockaddr_in *)sa;

		evutil_inet_ntop(AF_INET, &a4->sin_addr, ip, sizeof(ip));
		snprintf(s->addr, sizeof(s->addr), "unknown client %s:%u", ip,
			 ntohs(a4->sin_port));
	} else {
		snprintf(s->addr, sizeof(s->addr), "unknown client");
	}
	s->stage_fd = -1;
	repl_nodelay(fd);
	s->bev = bufferevent_openssl_socket_new(d->base, fd, SSL_new(d->ssl_ctx),
						BUFFEREVENT_SSL_ACCEPTING,
						BEV_OPT_CLOSE_ON_FREE);
	bufferevent_openssl_set_allow_dirty_shutdown(s->bev, 1);
	bufferevent_setcb(s->bev, s_on_read, s_on_write, s_on_event, s);
	struct timeval silent = { .tv_sec = REPL_SESSION_SILENT_S };

	bufferevent_set_timeouts(s->bev, &silent, NULL);
	bufferevent_enable(s->bev, EV_READ | EV_WRITE);
	s->next = d->sessions;
	d->sessions = s;
}

int repl_listen_start(struct repl_daemon *d, const char **error_r)
{
	static char err[512];
	struct sockaddr_storage sa;
	int len;

	if (repl_resolve(d->cfg->repl_listen, &sa, &len, error_r) < 0)
		return -1;
	d->listener = evconnlistener_new_bind(d->base, on_accept, d,
					      LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE |
					      LEV_OPT_CLOSE_ON_EXEC, -1,
					      (struct sockaddr *)&sa, len);
	if (d->listener == NULL) {
		snprintf(err, sizeof(err), "listen on %s: %s", d->cfg->repl_listen,
			 strerror(errno));
		*error_r = err;
		return -1;
	}
	return 0;
}

void repl_sessions_stop(struct repl_daemon *d)
{
	while (d->sessions != NULL) {
		struct repl_session *s = d->sessions;

		if (s->welcomed && s->dec != NULL)
			session_commit(s);
		session_free(s);
	}
	if (d->listener != NULL)
		evconnlistener_free(d->listener);
	d->listener = NULL;
}
