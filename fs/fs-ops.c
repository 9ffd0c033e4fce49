/* SPDX-License-Identifier: MIT
 * fs-ops.c - the FUSE low-level handlers: a passthrough to the backing
 * store that journals mail operations (via fs-derive.c) around the calls
 * that make them visible, enforces read-only accounts and tunes caching. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>
#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>
#include "acct.h"
#include "buf.h"
#include "ctl.h"
#include "fs-cred.h"
#include "fs-derive.h"
#include "fs.h"
#include "log.h"
#include "mem.h"

/* Per open file. */
struct fs_handle {
	int fd;
	bool written;		/* written since the last journaled flush */
	bool emptied;		/* created or truncated by open, not journaled yet */
};

/* Per open directory: a snapshot taken at opendir (and at each rewind),
   so a listing made while files are renamed neither skips nor repeats. */
struct fs_dirent {
	char *name;
	ino_t ino;
	unsigned char type;
};
struct fs_dir {
	int fd;
	struct fs_dirent *ents;
	size_t n;
};

static struct fs *fs_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

static struct fs_inode *inode_of(struct fs *fs, fuse_ino_t ino)
{
	if (ino == FUSE_ROOT_ID)
		return &fs->root;
	return (struct fs_inode *)(uintptr_t)ino;
}

static fuse_ino_t ino_of(struct fs *fs, struct fs_inode *in)
{
	return in == &fs->root ? FUSE_ROOT_ID : (fuse_ino_t)(uintptr_t)in;
}

/* ---- inode table: backing (dev, ino) -> struct fs_inode ---- */

static size_t itab_slot(struct fs *fs, dev_t dev, ino_t ino)
{
	uint64_t h = (uint64_t)ino * 0x9e3779b97f4a7c15ULL ^ (uint64_t)dev;

	return (size_t)(h % fs->itab_size);
}

static struct fs_inode *itab_find(struct fs *fs, dev_t dev, ino_t ino)
{
	if (dev == fs->root.dev && ino == fs->root.ino)
		return &fs->root;
	for (struct fs_inode *in = fs->itab[itab_slot(fs, dev, ino)]; in != NULL; in = in->hnext)
		if (in->dev == dev && in->ino == ino)
			return in;
	return NULL;
}

static void itab_grow(struct fs *fs)
{
	size_t old_size = fs->itab_size;
	struct fs_inode **old = fs->itab;

	fs->itab_size = old_size * 2;
	fs->itab = mm_calloc(fs->itab_size, sizeof(*fs->itab));
	for (size_t i = 0; i < old_size; i++) {
		struct fs_inode *in = old[i], *next;

		for (; in != NULL; in = next) {
			size_t s = itab_slot(fs, in->dev, in->ino);

			next = in->hnext;
			in->hnext = fs->itab[s];
			fs->itab[s] = in;
		}
	}
	free(old);
}

static void itab_remove(struct fs *fs, struct fs_inode *victim)
{
	struct fs_inode **pp = &fs->itab[itab_slot(fs, victim->dev, victim->ino)];

	for (; *pp != NULL; pp = &(*pp)->hnext) {
		if (*pp == victim) {
			*pp = victim->hnext;
			fs->itab_count--;
			return;
		}
	}
	mm_panic("inode %lu not in table", (unsigned long)victim->ino);
}

/* ---- paths ---- */

/* The store-relative path of an inode ("" for the root), from the kernel's
   own name for its O_PATH fd, so renames behind our back are seen. */
static int inode_relpath(struct fs *fs, struct fs_inode *in, struct mm_buf *out)
{
	char proc[64], path[PATH_MAX + 1];
	ssize_t n;

	mm_buf_reset(out);
	if (in == &fs->root)
		return 0;
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", in->fd);
	n = readlink(proc, path, sizeof(path) - 1);
	if (n < 0)
		return -errno;
	path[n] = '\0';
	if ((size_t)n < fs->root_len + 1 || memcmp(path, fs->root_path, fs->root_len) != 0 ||
	    path[fs->root_len] != '/')
		return -ENOENT;	/* deleted (" (deleted)") or moved out */
	if (n > 10 && strcmp(path + n - 10, " (deleted)") == 0)
		return -ENOENT;
	mm_buf_puts(out, path + fs->root_len + 1);
	return 0;
}

static int child_relpath(struct fs *fs, struct fs_inode *parent, const char *name,
			 struct mm_buf *out)
{
	int ret = inode_relpath(fs, parent, out);

	if (ret < 0)
		return ret;
	if (out->len > 0)
		mm_buf_puts(out, "/");
	mm_buf_puts(out, name);
	return 0;
}

/* ---- permissions ([fs] permissions = daemon) ----
   Without default_permissions the kernel checks nothing on the way to a
   cached entry, and our *at() calls on an inode's O_PATH fd skip the
   directories above it. So every request of an unprivileged caller walks
   the store-relative path as that caller first: the store's kernel then
   applies search permission on every directory, exactly as on the store. */

static bool perm_needed(struct fs *fs, fuse_req_t req)
{
	return req != NULL && fs->cfg->permissions == MM_PERM_DAEMON &&
		fuse_req_ctx(req)->uid != 0;
}

static int perm_walk(struct fs *fs, fuse_req_t req, const char *relpath, int mode)
{
	int ret;

	fs_cred_enter(req);
	ret = faccessat(fs->root_fd, relpath[0] != '\0' ? relpath : ".", mode,
			AT_EACCESS | AT_SYMLINK_NOFOLLOW) < 0 ? -errno : 0;
	fs_cred_leave();
	return ret;
}

/* The caller may reach the entry relpath names: search permission on its
   directory and every one above. */
static int perm_child(struct fs *fs, fuse_req_t req, const char *relpath)
{
	const char *slash;
	char *dir;
	int ret;

	if (!perm_needed(fs, req))
		return 0;
	slash = strrchr(relpath, '/');
	if (slash == NULL)
		return perm_walk(fs, req, "", X_OK);
	dir = mm_strndup(relpath, (size_t)(slash - relpath));
	ret = perm_walk(fs, req, dir, X_OK);
	free(dir);
	return ret;
}

/* The caller may reach inode in (the path to it is searchable) and, with
   mode X_OK, search in it. A rename racing with the walk gives ENOENT:
   look the path up again, a few times. */
static int perm_inode(struct fs *fs, fuse_req_t req, struct fs_inode *in, int mode)
{
	struct mm_buf rel = { 0 };
	int ret = 0;

	if (!perm_needed(fs, req))
		return 0;
	for (int tries = 0; tries < 3; tries++) {
		ret = inode_relpath(fs, in, &rel);
		if (ret == -ENOENT) {
			ret = 0;	/* unlinked but still open: no path to check */
			break;
		}
		if (ret == 0)
			ret = perm_walk(fs, req, mm_buf_str(&rel), mode);
		if (ret != -ENOENT)
			break;
	}
	mm_buf_free(&rel);
	return ret;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	/* CLOCK_MONOTONIC is mailmesh-hbmon's too: its deadlines hold even
	   when it is frozen or dead */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000 + (uint64_t)ts.tv_nsec;
}

static struct fs_claim *claim_find(struct fs *fs, const char *account, size_t len)
{
	for (size_t i = 0; i < fs->n_claims; i++)
		if (strncmp(fs->claims[i].account, account, len) == 0 &&
		    fs->claims[i].account[len] == '\0')
			return &fs->claims[i];
	return NULL;
}

/* Under acct_lock: 0 writable, 1 read-only by hand (STATE/accounts), 2
   fenced (not active here, or past the deadline). */
static int acct_mode(struct fs *fs, const char *account, size_t len)
{
	const struct fs_claim *c;
	uint64_t now;

	if (mm_acct_in(fs->ro_accounts, fs->n_ro_accounts, account, len))
		return 1;
	if (!fs->fenced)
		return 0;
	now = mono_ns();
	if (now < fs->lease_deadline_ns && mm_acct_in(fs->active, fs->n_active, account, len))
		return 0;
	c = claim_find(fs, account, len);
	return c != NULL && now < c->until_ns ? 0 : 2;
}

/* The epoch records for account are stamped with: 0 when the mount is
   not fenced, else the account's epoch from STATE/roles or from
   mailmesh-hbmon's answer when the mount asked (a new account), the
   higher of the two. 0 with
   *epoch_r, or -EROFS when it has none: not active here (any more), so
   nothing may be journaled for it. */
static int acct_epoch(struct fs *fs, const char *account, uint64_t *epoch_r)
{
	size_t lo = 0, hi, len = strlen(account);
	const struct fs_claim *c;
	int ret = -EROFS;

	*epoch_r = 0;
	if (!fs->fenced || len == 0)
		return 0;
	pthread_rwlock_rdlock(&fs->acct_lock);
	hi = fs->n_active;
	while (lo < hi && ret < 0) {
		size_t mid = (lo + hi) / 2;
		int cmp = strcmp(account, fs->active[mid]);

		if (cmp == 0) {
			*epoch_r = fs->active_epochs[mid];
			ret = 0;
		} else if (cmp < 0) {
			hi = mid;
		} else {
			lo = mid + 1;
		}
	}
	/* the newer of the two: hbmon gives an account a higher epoch at
	   every activation here, and STATE/roles may still name the one
	   before a claim's until the next round */
	if ((c = claim_find(fs, account, len)) != NULL && c->epoch > *epoch_r) {
		*epoch_r = c->epoch;
		ret = 0;
	}
	pthread_rwlock_unlock(&fs->acct_lock);
	return ret;
}

static bool acct_readonly(struct fs *fs, const char *account, size_t len)
{
	int mode;

	pthread_rwlock_rdlock(&fs->acct_lock);
	mode = acct_mode(fs, account, len);
	pthread_rwlock_unlock(&fs->acct_lock);
	return mode != 0;
}

#define CLAIM_ASK_NS 1000000000ULL	/* once a second per account */
#define CLAIM_KEEP_NS 60000000000ULL	/* entries unused this long go */
#define CLAIM_TIMEOUT_MS 300

/* A write to an account that is fenced here: asks mailmesh-hbmon whether
   the account is active here after all. That is how a new account (its
   first delivery creates it: STATE/roles cannot name it yet) gets its
   lease at once: hbmon adds it to the accounts it weighs, decides, and
   answers "ok active DEADLINE_NS EPOCH" (its lease's own deadline), or
   "ok replica" / "ok pending". A replica's account is asked about at
   most once a second. Returns whether the write may go on. */
static bool fs_claim(struct fs *fs, const char *account, size_t len)
{
	char *name = mm_strndup(account, len), *path, line[600], out[256];
	struct fs_claim *c;
	unsigned long long deadline, epoch = 0;
	const char *error;
	uint64_t now = mono_ns();
	size_t keep = 0;
	int mode;

	pthread_rwlock_wrlock(&fs->acct_lock);
	mode = acct_mode(fs, account, len);
	c = claim_find(fs, account, len);
	if (mode != 2 || (c != NULL && now - c->asked_ns < CLAIM_ASK_NS)) {
		pthread_rwlock_unlock(&fs->acct_lock);
		free(name);
		return mode == 0;
	}
	for (size_t i = 0; i < fs->n_claims; i++) {
		/* drop what nobody asked about for a minute */
		if (&fs->claims[i] != c && now - fs->claims[i].asked_ns > CLAIM_KEEP_NS &&
		    now > fs->claims[i].until_ns) {
			free(fs->claims[i].account);
			continue;
		}
		if (&fs->claims[i] == c)
			c = &fs->claims[keep];
		fs->claims[keep++] = fs->claims[i];
	}
	fs->n_claims = keep;
	if (c == NULL) {
		fs->claims = mm_realloc(fs->claims, (fs->n_claims + 1) * sizeof(*fs->claims));
		c = &fs->claims[fs->n_claims++];
		c->account = mm_strdup(name);
		c->until_ns = 0;
		c->epoch = 0;
	}
	c->asked_ns = now;
	pthread_rwlock_unlock(&fs->acct_lock);

	path = mm_strdup_printf("%s/hbmon.sock", fs->cfg->state);
	snprintf(line, sizeof(line), "account %s", name);
	if (mm_ctl_call_timeout(path, line, out, sizeof(out), CLAIM_TIMEOUT_MS, &error) != 0) {
		mm_log_debug("fs: asking mailmesh-hbmon about %s: %s", name, error);
	} else if (sscanf(out, "ok active %llu %llu", &deadline, &epoch) >= 1) {
		pthread_rwlock_wrlock(&fs->acct_lock);
		if ((c = claim_find(fs, account, len)) != NULL) {
			c->until_ns = deadline;
			c->epoch = epoch;
		}
		mode = acct_mode(fs, account, len);
		pthread_rwlock_unlock(&fs->acct_lock);
		if (mode == 0)
			mm_log_info("fs: %s is active here (mailmesh-hbmon, asked on a write)",
				    name);
	}
	free(path);
	free(name);
	return mode == 0;
}

static bool account_readonly(struct fs *fs, const struct mm_loc *loc)
{
	if (loc->cls == MM_CLASS_OUTSIDE)
		return false;
	return acct_readonly(fs, loc->account, loc->account_len);
}

bool fs_account_writable(struct fs *fs, const char *account)
{
	return !acct_readonly(fs, account, strlen(account));
}

/* A delivery that waited for its peers' acknowledgements (sync mode) is a
   success only if the account is still writable here when they come: a
   store whose lease ran out meanwhile may already have a successor, so it
   undoes the delivery and the sender retries (there). */
static bool lease_lapsed(struct fs *fs, const struct mm_loc *loc)
{
	return fs->fenced && loc->cls != MM_CLASS_OUTSIDE &&
	       acct_readonly(fs, loc->account, loc->account_len);
}

/* Classifies relpath and refuses writes to read-only accounts; a fenced
   mount first asks mailmesh-hbmon whether it may claim the account, unless
   !may_claim (the undo of a sync-mode delivery, which never asks). */
static int classify_w(struct fs *fs, const char *relpath, bool is_dir, bool may_claim,
		      struct mm_loc *loc)
{
	mm_classify(fs->rules, relpath, is_dir, loc);
	if (account_readonly(fs, loc) &&
	    !(fs->fenced && may_claim && fs_claim(fs, loc->account, loc->account_len))) {
		__atomic_add_fetch(&fs->n_refused_ro, 1, __ATOMIC_RELAXED);
		return -EROFS;
	}
	return 0;
}

/* ---- attributes and entries ---- */

static bool name_is_msgdir(struct fs *fs, const char *relpath)
{
	struct mm_loc loc;

	mm_classify(fs->rules, relpath, true, &loc);
	return loc.cls == MM_CLASS_SUBDIR && loc.sub != MM_SUB_TMP;
}

static void entry_timeouts(struct fs *fs, struct fs_inode *parent,
			   const struct stat *st, struct fuse_entry_param *e)
{
	if (S_ISDIR(st->st_mode)) {
		e->entry_timeout = fs->dir_timeout;
		e->attr_timeout = fs->dir_timeout;
	} else if (parent->msgdir && S_ISREG(st->st_mode)) {
		/* a delivered message never changes: cache it as long as the
		   kernel likes; renames and unlinks go through us and update
		   the kernel's dentries themselves */
		e->entry_timeout = fs->msg_timeout;
		e->attr_timeout = fs->msg_timeout;
	} else {
		/* indexes, uidlists, locks: names may be cached, sizes and
		   mtimes never (a stale size under mmap is a SIGBUS) */
		e->entry_timeout = fs->dir_timeout;
		e->attr_timeout = 0;
	}
}

/* Looks name up in parent and fills e, taking one lookup reference. */
static int do_lookup(struct fs *fs, struct fs_inode *parent, const char *name,
		     struct fuse_entry_param *e)
{
	struct fs_inode *in;
	struct stat st;
	int fd;

	memset(e, 0, sizeof(*e));
	fd = openat(parent->fd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstatat(fd, "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0) {
		int ret = -errno;

		close(fd);
		return ret;
	}
	pthread_mutex_lock(&fs->itab_mtx);
	in = itab_find(fs, st.st_dev, st.st_ino);
	if (in != NULL) {
		in->nlookup++;
		pthread_mutex_unlock(&fs->itab_mtx);
		close(fd);
	} else {
		in = mm_calloc(1, sizeof(*in));
		in->fd = fd;
		in->dev = st.st_dev;
		in->ino = st.st_ino;
		in->nlookup = 1;
		in->is_dir = S_ISDIR(st.st_mode);
		in->msgfile = parent->msgdir && S_ISREG(st.st_mode);
		if (fs->itab_count * 2 >= fs->itab_size)
			itab_grow(fs);
		size_t s = itab_slot(fs, in->dev, in->ino);

		in->hnext = fs->itab[s];
		fs->itab[s] = in;
		fs->itab_count++;
		pthread_mutex_unlock(&fs->itab_mtx);
		if (in->is_dir) {
			struct mm_buf rel = { 0 };

			if (inode_relpath(fs, in, &rel) == 0)
				in->msgdir = name_is_msgdir(fs, mm_buf_str(&rel));
			mm_buf_free(&rel);
		}
	}
	e->ino = ino_of(fs, in);
	e->attr = st;
	entry_timeouts(fs, parent, &st, e);
	return 0;
}

static void unref_inode(struct fs *fs, struct fs_inode *in, uint64_t n)
{
	if (in == &fs->root)
		return;
	pthread_mutex_lock(&fs->itab_mtx);
	mm_assert(in->nlookup >= n);
	in->nlookup -= n;
	if (in->nlookup == 0) {
		itab_remove(fs, in);
		pthread_mutex_unlock(&fs->itab_mtx);
		close(in->fd);
		free(in);
		return;
	}
	pthread_mutex_unlock(&fs->itab_mtx);
}

static void reply_entry_or_err(fuse_req_t req, struct fs *fs, struct fs_inode *parent,
			       const char *name, int ret)
{
	struct fuse_entry_param e;

	if (ret == 0)
		ret = do_lookup(fs, parent, name, &e);
	if (ret < 0)
		fuse_reply_err(req, -ret);
	else
		fuse_reply_entry(req, &e);
}

/* ---- journaling ---- */

struct fs_txn {
	struct mm_journal_ref refs[FS_PLAN_MAX];
	enum mm_op ops[FS_PLAN_MAX];	/* of refs[], for the per-op counters */
	unsigned int n;
	bool linked[FS_PLAN_MAX];
	pthread_mutex_t *meta_lock;	/* held from content read to the call */
	bool has_content;		/* content_size/mtime were journaled */
	uint64_t content_size;
	int64_t content_mtime_ns;
};

static void inode_stamp(struct fs *fs, struct fs_inode *in, const struct fs_txn *txn)
{
	pthread_mutex_lock(&fs->itab_mtx);
	in->stamped = txn->has_content;
	in->stamp_size = txn->content_size;
	in->stamp_mtime_ns = txn->content_mtime_ns;
	pthread_mutex_unlock(&fs->itab_mtx);
}

static bool inode_stamp_matches(struct fs *fs, struct fs_inode *in, const struct stat *st)
{
	bool ret;

	pthread_mutex_lock(&fs->itab_mtx);
	ret = in->stamped && in->stamp_size == (uint64_t)st->st_size &&
		in->stamp_mtime_ns == (int64_t)st->st_mtim.tv_sec * 1000000000LL +
		st->st_mtim.tv_nsec;
	pthread_mutex_unlock(&fs->itab_mtx);
	return ret;
}

/* Metadata changes of one account are serialized from reading the file
   to doing the call, so records land in the order their effects did (an
   in-place append to dovecot-uidlist flushed while a new one is renamed
   over it must not leave the older content last). Striped by account. */
#define META_LOCKS 64
static pthread_mutex_t meta_locks[META_LOCKS];
static pthread_once_t meta_locks_once = PTHREAD_ONCE_INIT;

static void meta_locks_init(void)
{
	for (int i = 0; i < META_LOCKS; i++)
		pthread_mutex_init(&meta_locks[i], NULL);
}

static pthread_mutex_t *meta_lock_for(const struct mm_loc *loc)
{
	uint32_t h = 2166136261u;

	pthread_once(&meta_locks_once, meta_locks_init);
	for (size_t i = 0; i < loc->account_len; i++)
		h = (h ^ (unsigned char)loc->account[i]) * 16777619u;
	return &meta_locks[h % META_LOCKS];
}

/* Content facts about the file at dirfd/name (or fd >= 0). */
static int content_facts(int fd, struct mm_journal_rec *rec, bool want_hash,
			 struct mm_buf *data)
{
	XXH3_state_t st;
	struct stat sb;
	char buf[65536];
	off_t off = 0;
	ssize_t n;

	if (fstat(fd, &sb) < 0)
		return -errno;
	rec->size = (uint64_t)sb.st_size;
	rec->mtime_ns = (int64_t)sb.st_mtim.tv_sec * 1000000000LL + sb.st_mtim.tv_nsec;
	rec->mode = sb.st_mode & 07777;
	rec->uid = sb.st_uid;
	rec->gid = sb.st_gid;
	if (data != NULL && (uint64_t)sb.st_size > MM_JOURNAL_DATA_MAX)
		return -EFBIG;
	XXH3_128bits_reset(&st);
	while ((n = pread(fd, buf, sizeof(buf), off)) > 0) {
		if (want_hash)
			XXH3_128bits_update(&st, buf, (size_t)n);
		if (data != NULL)
			mm_buf_append(data, buf, (size_t)n);
		off += n;
	}
	if (n < 0)
		return -errno;
	if (want_hash) {
		XXH128_canonical_t c;

		XXH128_canonicalFromHash(&c, XXH3_128bits_digest(&st));
		memcpy(rec->hash, c.digest, 16);
	}
	return 0;
}

static void loc_fields(const struct mm_loc *loc, char **account, char **folder,
		       uint8_t *sub, char **name)
{
	if (account != NULL)
		*account = mm_strndup(loc->account, loc->account_len);
	*folder = mm_strndup(loc->folder, loc->folder_len);
	*sub = (uint8_t)loc->sub;
	*name = mm_strndup(loc->name, loc->name_len);
}

/* Appends the planned records (PENDING), links delivery content and, when
   an op needs it, waits for durability: all before the call touches the
   store. content_fd is the file the content comes from (or -1), src_dirfd
   and src_name name it for the content link. Returns 0 or -errno with
   nothing left pending. */
static int txn_begin(struct fs *fs, struct fs_txn *txn, const struct fs_plan *plans,
		     int nplans, const struct mm_loc *src, const struct mm_loc *dst,
		     int content_fd, int src_dirfd, const char *src_name)
{
	uint64_t sync_lsn = 0;
	int ret = 0;

	memset(txn, 0, sizeof(*txn));
	for (int i = 0; i < nplans; i++) {
		if (plans[i].op == MM_OP_META) {
			txn->meta_lock = meta_lock_for(plans[i].main == FS_SIDE_SRC ? src : dst);
			pthread_mutex_lock(txn->meta_lock);
			break;
		}
	}
	for (int i = 0; i < nplans; i++) {
		const struct fs_plan *p = &plans[i];
		const struct mm_loc *m = p->main == FS_SIDE_SRC ? src : dst;
		const struct mm_loc *o = p->other == FS_SIDE_SRC ? src :
			p->other == FS_SIDE_DST ? dst : NULL;
		struct mm_journal_rec rec = { .op = p->op, .rflags = p->rflags };
		char *account, *folder, *name, *nfolder = NULL, *nname = NULL;
		struct mm_buf data = { 0 };

		loc_fields(m, &account, &folder, &rec.sub, &name);
		if (o != NULL)
			loc_fields(o, NULL, &nfolder, &rec.new_sub, &nname);
		if (p->op == MM_OP_FOLDER_CREATE || p->op == MM_OP_FOLDER_DELETE ||
		    p->op == MM_OP_FOLDER_RENAME) {
			/* a folder is named by its path alone */
			rec.sub = rec.new_sub = MM_SUB_NONE;
			name[0] = '\0';
			if (nname != NULL)
				nname[0] = '\0';
		}
		rec.account = account;
		rec.folder = folder;
		rec.name = name;
		rec.new_folder = nfolder != NULL ? nfolder : "";
		rec.new_name = nname != NULL ? nname : "";
		ret = acct_epoch(fs, account, &rec.epoch);
		if (ret < 0) {
			/* the account stopped being active here since the call
			   was let in: it journals nothing */
		} else if ((p->op == MM_OP_FOLDER_CREATE) && content_fd >= 0) {
			struct stat sb;

			/* the folder directory's owner and mode: a replica makes
			   the account's directories the same */
			if (fstat(content_fd, &sb) == 0) {
				rec.mode = sb.st_mode & 07777;
				rec.uid = sb.st_uid;
				rec.gid = sb.st_gid;
				rec.mtime_ns = (int64_t)sb.st_mtim.tv_sec * 1000000000LL +
					sb.st_mtim.tv_nsec;
			}
		} else if (p->content != FS_CONTENT_NONE && content_fd >= 0) {
			ret = content_facts(content_fd, &rec, p->content == FS_CONTENT_MESSAGE,
					    p->content == FS_CONTENT_META ? &data : NULL);
			if (ret == -EFBIG) {
				mm_log_error("fs: %s/%s/%s: metadata file over %u bytes is "
					     "journaled without its content",
					     account, folder, name, MM_JOURNAL_DATA_MAX);
				ret = 0;
			} else if (p->content == FS_CONTENT_META) {
				rec.data = data.data;
				rec.data_len = (uint32_t)data.len;
			}
			txn->has_content = true;
			txn->content_size = rec.size;
			txn->content_mtime_ns = rec.mtime_ns;
			if (p->content == FS_CONTENT_MESSAGE && rec.sub != MM_SUB_NONE) {
				struct mm_msgname mn;

				if (mm_msgname_parse(name, &mn) == 0 && mn.has_size &&
				    mn.size != rec.size)
					mm_log_warn("fs: %s/%s/%s/%s: S=%" PRIu64 " in the name but "
						    "the file has %" PRIu64 " bytes",
						    account, folder, mm_sub_str(rec.sub), name,
						    mn.size, rec.size);
			}
		}
		if (ret == 0)
			ret = mm_journal_append(fs->journal, &rec, &txn->refs[txn->n]);
		mm_buf_free(&data);
		free(account);
		free(folder);
		free(name);
		free(nfolder);
		free(nname);
		if (ret < 0)
			break;
		txn->ops[txn->n] = p->op;
		txn->n++;
		if (p->op == MM_OP_DELIVER && src_name != NULL) {
			ret = mm_journal_content_link(fs->journal, &txn->refs[txn->n - 1],
						      src_dirfd, src_name);
			if (ret < 0)
				break;
			txn->linked[txn->n - 1] = true;
		}
		if (mm_journal_must_sync(fs->journal, p->op))
			sync_lsn = txn->refs[txn->n - 1].lsn;
	}
	if (ret == 0 && sync_lsn > 0)
		ret = mm_journal_sync(fs->journal, sync_lsn);
	if (ret == -EROFS) {
		mm_log_info("fs: an account of the call stopped being active here while it "
			    "was let in; the call is refused");
		__atomic_add_fetch(&fs->n_refused_ro, 1, __ATOMIC_RELAXED);
	} else if (ret < 0) {
		mm_log_error("fs: journal append failed: %s; the call is refused",
			     strerror(-ret));
		__atomic_add_fetch(&fs->n_errors, 1, __ATOMIC_RELAXED);
	}
	if (ret < 0) {
		for (unsigned int i = 0; i < txn->n; i++) {
			if (txn->linked[i])
				mm_journal_content_unlink(fs->journal, &txn->refs[i]);
			mm_journal_finish(fs->journal, &txn->refs[i], MM_REC_ABORTED);
		}
		txn->n = 0;
		if (txn->meta_lock != NULL)
			pthread_mutex_unlock(txn->meta_lock);
		txn->meta_lock = NULL;
	}
	return ret;
}

static void txn_end(struct fs *fs, struct fs_txn *txn, int op_ret)
{
	for (unsigned int i = 0; i < txn->n; i++) {
		if (op_ret < 0 && txn->linked[i])
			mm_journal_content_unlink(fs->journal, &txn->refs[i]);
		mm_journal_finish(fs->journal, &txn->refs[i],
				  op_ret < 0 ? MM_REC_ABORTED : MM_REC_COMMITTED);
	}
	if (txn->meta_lock != NULL)
		pthread_mutex_unlock(txn->meta_lock);
	txn->meta_lock = NULL;
	if (op_ret == 0) {
		__atomic_add_fetch(&fs->n_journaled, txn->n, __ATOMIC_RELAXED);
		for (unsigned int i = 0; i < txn->n; i++)
			__atomic_add_fetch(&fs->n_op[txn->ops[i]], 1, __ATOMIC_RELAXED);
	}
}

/* ---- handlers ---- */

static void op_init(void *userdata, struct fuse_conn_info *conn)
{
	(void)userdata;
	/* no writeback cache: the daemon stays the authority for sizes,
	   which Dovecot's mmap'd indexes depend on */
	conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;
	/* no splice reads: see op_read() */
	conn->want &= ~FUSE_CAP_SPLICE_READ;
	if (conn->capable & FUSE_CAP_AUTO_INVAL_DATA)
		conn->want |= FUSE_CAP_AUTO_INVAL_DATA;
	/* fcntl and flock locks are left to the kernel's local lock
	   manager (POSIX_LOCKS/FLOCK_LOCKS not set): one store, one
	   writer, and Dovecot gets working locks rather than ENOSYS */
	conn->want &= ~(FUSE_CAP_POSIX_LOCKS | FUSE_CAP_FLOCK_LOCKS);
}

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fs *fs = fs_of(req);
	struct fuse_entry_param e;
	int ret;

	/* search permission on parent and every directory above it */
	ret = perm_inode(fs, req, inode_of(fs, parent), X_OK);
	if (ret == 0)
		ret = do_lookup(fs, inode_of(fs, parent), name, &e);

	if (ret == -ENOENT) {
		/* negative entry: cached; creates through the mount replace it */
		memset(&e, 0, sizeof(e));
		e.entry_timeout = fs->neg_timeout;
		fuse_reply_entry(req, &e);
	} else if (ret < 0) {
		fuse_reply_err(req, -ret);
	} else {
		fuse_reply_entry(req, &e);
	}
}

static void op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	struct fs *fs = fs_of(req);

	unref_inode(fs, inode_of(fs, ino), nlookup);
	fuse_reply_none(req);
}

static void op_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *f)
{
	struct fs *fs = fs_of(req);

	for (size_t i = 0; i < count; i++)
		unref_inode(fs, inode_of(fs, f[i].ino), f[i].nlookup);
	fuse_reply_none(req);
}

/* While a WRITE that extends a file is served, and until the writing
   thread wakes up from our reply, the kernel keeps the old i_size and
   ignores sizes in getattr replies, but a stat(2) answered then still
   reports the size we give. Dovecot maps an index log by the size fstat
   gives and reads it to the end: the pages past the kernel's i_size are
   a SIGBUS. So a getattr in that window reports no more than the kernel's
   own i_size, read through the mount without a request to us
   (AT_STATX_DONT_SYNC). Outside the window there is no probe. */
static void size_write_begin(struct fs *fs, struct fs_inode *in)
{
	pthread_mutex_lock(&fs->size_mtx);
	in->wr_busy++;
	pthread_mutex_unlock(&fs->size_mtx);
}

static void size_write_end(struct fs *fs, struct fs_inode *in, off_t end)
{
	pthread_mutex_lock(&fs->size_mtx);
	in->wr_busy--;
	if (end > in->wr_end)
		in->wr_end = end;
	pthread_mutex_unlock(&fs->size_mtx);
}

/* The kernel's i_size of in, or -1 when it cannot be read (the name
   in the store no longer leads to this inode through the mount). */
static off_t size_of_kernel(struct fs *fs, struct fs_inode *in, ino_t ino)
{
	struct mm_buf rel = { 0 }, path = { 0 };
	struct statx stx;
	off_t size = -1;

	if (inode_relpath(fs, in, &rel) == 0) {
		mm_buf_printf(&path, "%s/%s", fs->cfg->mount, mm_buf_str(&rel));
		if (statx(AT_FDCWD, mm_buf_str(&path), AT_SYMLINK_NOFOLLOW | AT_STATX_DONT_SYNC,
			  STATX_SIZE | STATX_INO, &stx) == 0 && stx.stx_ino == ino)
			size = (off_t)stx.stx_size;
	}
	mm_buf_free(&path);
	mm_buf_free(&rel);
	return size;
}

static void size_guard(struct fs *fs, struct fs_inode *in, struct stat *st)
{
	off_t ksize;
	bool busy;

	pthread_mutex_lock(&fs->size_mtx);
	busy = in->wr_busy > 0 || in->wr_end > 0;
	pthread_mutex_unlock(&fs->size_mtx);
	if (!busy)
		return;
	ksize = size_of_kernel(fs, in, st->st_ino);
	if (ksize < 0)
		return;
	pthread_mutex_lock(&fs->size_mtx);
	busy = in->wr_busy > 0 || ksize < in->wr_end;
	if (!busy)
		in->wr_end = 0;	/* the writer has applied it: no more probes */
	pthread_mutex_unlock(&fs->size_mtx);
	if (busy && st->st_size > ksize)
		st->st_size = ksize;
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	struct fs_inode *in = inode_of(fs, ino);
	struct stat st;
	int ret;

	/* an open file needs no path; a stat by path does */
	if (fi == NULL && (ret = perm_inode(fs, req, in, F_OK)) < 0) {
		fuse_reply_err(req, -ret);
		return;
	}
	if (fi != NULL)
		ret = fstat(((struct fs_handle *)(uintptr_t)fi->fh)->fd, &st);
	else
		ret = fstatat(in->fd, "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW);
	if (ret < 0) {
		fuse_reply_err(req, errno);
		return;
	}
	if (S_ISREG(st.st_mode))
		size_guard(fs, in, &st);
	fuse_reply_attr(req, &st, in->is_dir ? fs->dir_timeout :
			in->msgfile ? fs->msg_timeout : 0);
}

static int proc_path(const struct fs_inode *in, char out[64])
{
	return snprintf(out, 64, "/proc/self/fd/%d", in->fd);
}

/* Refuses a change to an inode of a read-only account. */
static int inode_writable(struct fs *fs, struct fs_inode *in)
{
	struct mm_buf rel = { 0 };
	struct mm_loc loc;
	int ret = inode_relpath(fs, in, &rel);

	if (ret == 0)
		ret = classify_w(fs, mm_buf_str(&rel), in->is_dir, true, &loc);
	else if (ret == -ENOENT)
		ret = 0;	/* unlinked but open: not part of any account now */
	mm_buf_free(&rel);
	return ret;
}

static void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
		       int valid, struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	struct fs_inode *in = inode_of(fs, ino);
	int fd = fi != NULL ? ((struct fs_handle *)(uintptr_t)fi->fh)->fd : -1;
	char proc[64];
	int ret;

	proc_path(in, proc);
	ret = inode_writable(fs, in);
	if (ret == 0 && fi == NULL)
		ret = perm_inode(fs, req, in, F_OK);
	if (ret < 0)
		goto out;
	/* the store's kernel applies the owner rules of chmod, chown, utimes */
	fs_cred_enter(req);
	if (valid & FUSE_SET_ATTR_MODE) {
		ret = fd >= 0 ? fchmod(fd, attr->st_mode) : chmod(proc, attr->st_mode);
		if (ret < 0)
			goto err;
	}
	if (valid & (FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)) {
		uid_t uid = (valid & FUSE_SET_ATTR_UID) ? attr->st_uid : (uid_t)-1;
		gid_t gid = (valid & FUSE_SET_ATTR_GID) ? attr->st_gid : (gid_t)-1;

		if (fchownat(in->fd, "", uid, gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0)
			goto err;
	}
	if (valid & FUSE_SET_ATTR_SIZE) {
		ret = fd >= 0 ? ftruncate(fd, attr->st_size) : truncate(proc, attr->st_size);
		if (ret < 0)
			goto err;
		if (fi != NULL)
			((struct fs_handle *)(uintptr_t)fi->fh)->written = true;
	}
	if (valid & (FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME)) {
		struct timespec tv[2] = { { .tv_nsec = UTIME_OMIT }, { .tv_nsec = UTIME_OMIT } };

		if (valid & FUSE_SET_ATTR_ATIME_NOW)
			tv[0].tv_nsec = UTIME_NOW;
		else if (valid & FUSE_SET_ATTR_ATIME)
			tv[0] = attr->st_atim;
		if (valid & FUSE_SET_ATTR_MTIME_NOW)
			tv[1].tv_nsec = UTIME_NOW;
		else if (valid & FUSE_SET_ATTR_MTIME)
			tv[1] = attr->st_mtim;
		ret = fd >= 0 ? futimens(fd, tv) : utimensat(AT_FDCWD, proc, tv, 0);
		if (ret < 0)
			goto err;
	}
	ret = 0;
	goto done;
err:
	ret = -errno;
done:
	fs_cred_leave();
out:
	if (ret < 0) {
		fuse_reply_err(req, -ret);
		return;
	}
	op_getattr(req, ino, fi);
}

static void op_readlink(fuse_req_t req, fuse_ino_t ino)
{
	struct fs *fs = fs_of(req);
	char buf[PATH_MAX + 1];
	int ret = perm_inode(fs, req, inode_of(fs, ino), F_OK);
	ssize_t n;

	if (ret < 0) {
		fuse_reply_err(req, -ret);
		return;
	}
	n = readlinkat(inode_of(fs, ino)->fd, "", buf, sizeof(buf) - 1);
	if (n < 0) {
		fuse_reply_err(req, errno);
		return;
	}
	buf[n] = '\0';
	fuse_reply_readlink(req, buf);
}

static bool folder_has(int dirfd, const char *sub)
{
	struct stat st;

	return fstatat(dirfd, sub, &st, 0) == 0 && S_ISDIR(st.st_mode);
}

static void op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	struct fs *fs = fs_of(req);
	struct fs_inode *pin = inode_of(fs, parent);
	struct fs_derive_facts facts = { .is_dir = true };
	struct fs_plan plans[FS_PLAN_MAX];
	struct mm_buf rel = { 0 };
	struct fs_txn txn;
	struct mm_loc loc;
	int ret, n;

	ret = child_relpath(fs, pin, name, &rel);
	if (ret == 0)
		ret = classify_w(fs, mm_buf_str(&rel), true, true, &loc);
	if (ret == 0)
		ret = perm_child(fs, req, mm_buf_str(&rel));
	if (ret < 0)
		goto out;
	if (loc.cls == MM_CLASS_SUBDIR) {
		static const char *const subs[] = { "cur", "new", "tmp" };
		bool complete = true;

		for (int i = 0; i < 3; i++)
			if (strcmp(subs[i], name) != 0 && !folder_has(pin->fd, subs[i]))
				complete = false;
		facts.folder_complete = complete && !folder_has(pin->fd, name);
	}
	n = fs_derive(FS_RAW_MKDIR, NULL, &loc, &facts, plans);
	/* pin is the folder directory when its third subdirectory appears */
	ret = txn_begin(fs, &txn, plans, n, NULL, &loc,
			loc.cls == MM_CLASS_SUBDIR ? pin->fd : -1, -1, NULL);
	if (ret < 0)
		goto out;
	/* created as the caller: its uid/gid, setgid directories, umask */
	fs_cred_enter(req);
	ret = mkdirat(pin->fd, name, mode) < 0 ? -errno : 0;
	fs_cred_leave();
	txn_end(fs, &txn, ret);
out:
	mm_buf_free(&rel);
	reply_entry_or_err(req, fs, pin, name, ret);
}

static void op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
		     mode_t mode, dev_t rdev)
{
	struct fs *fs = fs_of(req);
	struct fs_inode *pin = inode_of(fs, parent);
	struct mm_buf rel = { 0 };
	struct mm_loc loc;
	int ret = child_relpath(fs, pin, name, &rel);

	if (ret == 0)
		ret = classify_w(fs, mm_buf_str(&rel), false, true, &loc);
	if (ret == 0)
		ret = perm_child(fs, req, mm_buf_str(&rel));
	if (ret == 0 && loc.cls == MM_CLASS_MESSAGE && !S_ISREG(mode))
		ret = -EPERM;	/* no devices or fifos in new/ and cur/ */
	if (ret == 0) {
		fs_cred_enter(req);
		ret = mknodat(pin->fd, name, mode, rdev) < 0 ? -errno : 0;
		fs_cred_leave();
	}
	mm_buf_free(&rel);
	reply_entry_or_err(req, fs, pin, name, ret);
}

static void op_symlink(fuse_req_t req, const char *link, fuse_ino_t parent,
		       const char *name)
{
	struct fs *fs = fs_of(req);
	struct fs_inode *pin = inode_of(fs, parent);
	struct mm_buf rel = { 0 };
	struct mm_loc loc;
	int ret = child_relpath(fs, pin, name, &rel);

	if (ret == 0)
		ret = classify_w(fs, mm_buf_str(&rel), false, true, &loc);
	if (ret == 0)
		ret = perm_child(fs, req, mm_buf_str(&rel));
	if (ret == 0 && loc.cls == MM_CLASS_MESSAGE)
		ret = -EPERM;	/* a symlink is not a message */
	if (ret == 0) {
		fs_cred_enter(req);
		ret = symlinkat(link, pin->fd, name) < 0 ? -errno : 0;
		fs_cred_leave();
	}
	mm_buf_free(&rel);
	reply_entry_or_err(req, fs, pin, name, ret);
}

/* [account] mode = sync (RPO zero): a delivery's call returns only once
   sync_acks peers have it durably, asked of the replicator. 0 when done
   (or not asked for, or on_timeout = degrade), -EAGAIN when the caller must
   undo the delivery and fail. */
static int sync_wait(struct fs *fs, fuse_req_t req, const struct mm_loc *dloc,
		     const struct fs_txn *txn, const struct fs_plan *plans, int nplans)
{
	const struct mm_account_cfg *pol;
	char *acct, *path, line[96], reply[256];
	const char *error;
	uint64_t lsn = 0;
	int ret;

	for (int i = 0; i < nplans && (unsigned int)i < txn->n; i++)
		if (plans[i].op == MM_OP_DELIVER)
			lsn = txn->refs[i].lsn;
	if (lsn == 0 || dloc->cls != MM_CLASS_MESSAGE)
		return 0;
	if (req != NULL &&
	    fuse_req_ctx(req)->pid == __atomic_load_n(&fs->repl_pid, __ATOMIC_RELAXED))
		return 0;	/* the replicator merging late records through the
				   mount: it could not answer its own wait (its
				   loop is in this call); the merged record goes
				   to the peers as soon as the call returns */
	acct = mm_strndup(dloc->account, dloc->account_len);
	pol = mm_cfg_account(fs->cfg, acct);
	if (pol->mode != MM_REPL_SYNC || !pol->replicate) {
		free(acct);
		return 0;
	}
	path = mm_strdup_printf("%s/replicator.sock", fs->cfg->state);
	snprintf(line, sizeof(line), "wait %" PRIu64 " %u %u", lsn, pol->sync_acks,
		 pol->sync_timeout_ms);
	ret = mm_ctl_call_timeout(path, line, reply, sizeof(reply),
				  pol->sync_timeout_ms + 5000, &error);
	free(path);
	if (ret == 0) {
		free(acct);
		return 0;
	}
	if (ret == 1)
		error = "mailmesh-replicator is not running";
	__atomic_add_fetch(&fs->n_sync_timeouts, 1, __ATOMIC_RELAXED);
	if (pol->on_timeout == MM_ON_TIMEOUT_DEGRADE) {
		mm_log_warn("fs: %s runs unprotected: delivery LSN %" PRIu64 " not on %u "
			    "peer(s) within %u ms (%s); accepted (on_timeout = degrade)",
			    acct, lsn, pol->sync_acks, pol->sync_timeout_ms, error);
		free(acct);
		return 0;
	}
	mm_log_warn("fs: %s: delivery LSN %" PRIu64 " not on %u peer(s) within %u ms (%s): "
		    "refused with EAGAIN, the sender keeps it", acct, lsn, pol->sync_acks,
		    pol->sync_timeout_ms, error);
	free(acct);
	return -EAGAIN;
}

/* unlink(2) with its journal records; req NULL: as the daemon itself. */
static int do_unlink(struct fs *fs, fuse_req_t req, struct fs_inode *pin, const char *name)
{
	struct fs_derive_facts facts = { .is_dir = false };
	struct fs_plan plans[FS_PLAN_MAX];
	struct mm_buf rel = { 0 };
	struct fs_txn txn;
	struct mm_loc loc;
	int ret, n;

	ret = child_relpath(fs, pin, name, &rel);
	if (ret == 0)
		ret = classify_w(fs, mm_buf_str(&rel), false, req != NULL, &loc);
	if (ret == 0)
		ret = perm_child(fs, req, mm_buf_str(&rel));
	if (ret < 0)
		goto out;
	n = fs_derive(FS_RAW_UNLINK, &loc, NULL, &facts, plans);
	if (n > 0) {
		struct stat st;

		/* journal only what exists, so a failing unlink costs nothing */
		if (fstatat(pin->fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			ret = -errno;
			goto out;
		}
	}
	ret = txn_begin(fs, &txn, plans, n, &loc, NULL, -1, -1, NULL);
	if (ret < 0)
		goto out;
	if (req != NULL)
		fs_cred_enter(req);
	ret = unlinkat(pin->fd, name, 0) < 0 ? -errno : 0;
	if (req != NULL)
		fs_cred_leave();
	txn_end(fs, &txn, ret);
out:
	mm_buf_free(&rel);
	return ret;
}

static void op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fs *fs = fs_of(req);

	fuse_reply_err(req, -do_unlink(fs, req, inode_of(fs, parent), name));
}

static void op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fs *fs = fs_of(req);
	struct fs_inode *pin = inode_of(fs, parent);
	struct fs_derive_facts facts = { .is_dir = true };
	struct fs_plan plans[FS_PLAN_MAX];
	struct mm_buf rel = { 0 };
	struct fs_txn txn;
	struct mm_loc loc;
	int ret, n;

	ret = child_relpath(fs, pin, name, &rel);
	if (ret == 0)
		ret = classify_w(fs, mm_buf_str(&rel), true, true, &loc);
	if (ret == 0)
		ret = perm_child(fs, req, mm_buf_str(&rel));
	if (ret < 0)
		goto out;
	if (loc.cls == MM_CLASS_SUBDIR) {
		int dfd = openat(pin->fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		bool empty = true;

		/* only an empty subdir can go; ask the store before journaling */
		if (dfd >= 0) {
			DIR *d = fdopendir(dfd);
			struct dirent *de;

			while (d != NULL && (de = readdir(d)) != NULL)
				if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, ".."))
					empty = false;
			if (d != NULL)
				closedir(d);
			else
				close(dfd);
		}
		facts.folder_complete = empty && folder_has(pin->fd, "cur") &&
			folder_has(pin->fd, "new") && folder_has(pin->fd, "tmp");
	}
	n = fs_derive(FS_RAW_RMDIR, &loc, NULL, &facts, plans);
	ret = txn_begin(fs, &txn, plans, n, &loc, NULL, -1, -1, NULL);
	if (ret < 0)
		goto out;
	fs_cred_enter(req);
	ret = unlinkat(pin->fd, name, AT_REMOVEDIR) < 0 ? -errno : 0;
	fs_cred_leave();
	txn_end(fs, &txn, ret);
out:
	mm_buf_free(&rel);
	fuse_reply_err(req, -ret);
}

/* Updates what a renamed inode is: a message directory or a message, and
   what content of it was journaled. */
static void fix_moved_inode(struct fs *fs, int dirfd, const char *name,
			    const char *relpath, const struct fs_txn *txn)
{
	struct fs_inode *in;
	struct stat st;

	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return;
	pthread_mutex_lock(&fs->itab_mtx);
	in = itab_find(fs, st.st_dev, st.st_ino);
	if (in != NULL && in->is_dir) {
		in->msgdir = name_is_msgdir(fs, relpath);
	} else if (in != NULL && S_ISREG(st.st_mode)) {
		struct mm_loc loc;

		mm_classify(fs->rules, relpath, false, &loc);
		in->msgfile = loc.cls == MM_CLASS_MESSAGE;
		in->stamped = txn->has_content;
		in->stamp_size = txn->content_size;
		in->stamp_mtime_ns = txn->content_mtime_ns;
	}
	pthread_mutex_unlock(&fs->itab_mtx);
}

/* rename(2) with its journal records; req NULL: as the daemon itself,
   with no sync wait (the undo of a delivery that timed out). */
static int do_rename(struct fs *fs, fuse_req_t req, struct fs_inode *pin, const char *name,
		     struct fs_inode *npin, const char *newname, unsigned int flags)
{
	struct fs_derive_facts facts = { 0 };
	struct fs_plan plans[FS_PLAN_MAX];
	struct mm_buf srel = { 0 }, drel = { 0 };
	struct mm_loc sloc, dloc;
	struct fs_txn txn;
	struct stat st;
	int ret, n, cfd = -1;

	if (flags & RENAME_EXCHANGE) {
		ret = -EINVAL;	/* an exchange cannot be journaled as mail ops */
		goto out;
	}
	if (fstatat(pin->fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		ret = -errno;
		goto out;
	}
	facts.is_dir = S_ISDIR(st.st_mode);
	ret = child_relpath(fs, pin, name, &srel);
	if (ret == 0)
		ret = child_relpath(fs, npin, newname, &drel);
	if (ret == 0)
		ret = classify_w(fs, mm_buf_str(&srel), facts.is_dir, req != NULL, &sloc);
	if (ret == 0)
		ret = classify_w(fs, mm_buf_str(&drel), facts.is_dir, req != NULL, &dloc);
	if (ret == 0)
		ret = perm_child(fs, req, mm_buf_str(&srel));
	if (ret == 0)
		ret = perm_child(fs, req, mm_buf_str(&drel));
	if (ret < 0)
		goto out;
	if (!facts.is_dir && !S_ISREG(st.st_mode) && dloc.cls == MM_CLASS_MESSAGE) {
		ret = -EPERM;
		goto out;
	}
	n = fs_derive(FS_RAW_RENAME, &sloc, &dloc, &facts, plans);
	if (n < 0) {
		ret = n;
		goto out;
	}
	for (int i = 0; i < n; i++) {
		if (plans[i].content != FS_CONTENT_NONE) {
			cfd = openat(pin->fd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
			if (cfd < 0) {
				ret = -errno;
				goto out;
			}
			break;
		}
	}
	ret = txn_begin(fs, &txn, plans, n, &sloc, &dloc, cfd, pin->fd, name);
	if (ret < 0)
		goto out;
	if (req != NULL)
		fs_cred_enter(req);
	ret = renameat2(pin->fd, name, npin->fd, newname, flags) < 0 ? -errno : 0;
	if (req != NULL)
		fs_cred_leave();
	txn_end(fs, &txn, ret);
	if (ret == 0)
		fix_moved_inode(fs, npin->fd, newname, mm_buf_str(&drel), &txn);
	if (ret == 0 && req != NULL &&
	    (sync_wait(fs, req, &dloc, &txn, plans, n) < 0 || lease_lapsed(fs, &dloc))) {
		/* not on enough peers in time, or this store's lease ended
		   while it waited: the delivery did not happen, the MDA keeps
		   the message and retries; an expunge record tells the peers
		   that got it */
		int undo = lease_lapsed(fs, &dloc) ? -EROFS :
			do_rename(fs, NULL, npin, newname, pin, name, 0);

		/* without the lease this store must journal nothing for the
		   account: the delivery stays, reaches the active store as a
		   late record and is merged there */
		if (undo < 0)
			mm_log_warn("fs: %s: a delivery not acknowledged in time (or whose lease "
				    "ended) is not undone: %s; the sender retries all the same "
				    "(a duplicate rather than a loss)", mm_buf_str(&drel),
				    strerror(-undo));
		ret = -EAGAIN;
	}
out:
	if (cfd >= 0)
		close(cfd);
	mm_buf_free(&srel);
	mm_buf_free(&drel);
	return ret;
}

static void op_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
		      fuse_ino_t newparent, const char *newname, unsigned int flags)
{
	struct fs *fs = fs_of(req);

	fuse_reply_err(req, -do_rename(fs, req, inode_of(fs, parent), name,
				       inode_of(fs, newparent), newname, flags));
}

static void op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent,
		    const char *newname)
{
	struct fs *fs = fs_of(req);
	struct fs_inode *in = inode_of(fs, ino), *npin = inode_of(fs, newparent);
	struct fs_derive_facts facts = { 0 };
	struct fs_plan plans[FS_PLAN_MAX];
	struct mm_buf srel = { 0 }, drel = { 0 };
	struct mm_loc sloc, dloc;
	struct fs_txn txn;
	char proc[64];
	int ret, n, cfd = -1;

	ret = inode_relpath(fs, in, &srel);
	if (ret == -ENOENT) {
		mm_buf_reset(&srel);	/* an open unlinked file: outside */
		ret = 0;
	}
	if (ret == 0)
		ret = child_relpath(fs, npin, newname, &drel);
	if (ret < 0)
		goto out;
	mm_classify(fs->rules, mm_buf_str(&srel), false, &sloc);
	ret = classify_w(fs, mm_buf_str(&drel), false, true, &dloc);
	if (ret == 0)
		ret = perm_inode(fs, req, in, F_OK);
	if (ret == 0)
		ret = perm_child(fs, req, mm_buf_str(&drel));
	if (ret < 0)
		goto out;
	n = fs_derive(FS_RAW_LINK, &sloc, &dloc, &facts, plans);
	proc_path(in, proc);
	if (n > 0) {
		cfd = open(proc, O_RDONLY | O_CLOEXEC);
		if (cfd < 0) {
			ret = -errno;
			goto out;
		}
	}
	ret = txn_begin(fs, &txn, plans, n, &sloc, &dloc, cfd, AT_FDCWD, proc);
	if (ret < 0)
		goto out;
	fs_cred_enter(req);
	ret = linkat(AT_FDCWD, proc, npin->fd, newname, AT_SYMLINK_FOLLOW) < 0 ? -errno : 0;
	fs_cred_leave();
	txn_end(fs, &txn, ret);
	if (ret == 0 && (sync_wait(fs, req, &dloc, &txn, plans, n) < 0 || lease_lapsed(fs, &dloc))) {
		/* as in do_rename(): Postfix delivers with link() */
		int undo = lease_lapsed(fs, &dloc) ? -EROFS : do_unlink(fs, NULL, npin, newname);

		if (undo < 0)
			mm_log_warn("fs: %s: a delivery not acknowledged in time (or whose lease "
				    "ended) is not undone: %s; the sender retries all the same "
				    "(a duplicate rather than a loss)", mm_buf_str(&drel),
				    strerror(-undo));
		ret = -EAGAIN;
	}
out:
	if (cfd >= 0)
		close(cfd);
	mm_buf_free(&srel);
	mm_buf_free(&drel);
	reply_entry_or_err(req, fs, npin, newname, ret);
}

static struct fs_handle *handle_new(int fd)
{
	struct fs_handle *h = mm_calloc(1, sizeof(*h));

	h->fd = fd;
	return h;
}

static bool wants_write(int flags)
{
	return (flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC);
}

static void op_create(fuse_req_t req, fuse_ino_t parent, const char *name,
		      mode_t mode, struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	struct fs_inode *pin = inode_of(fs, parent);
	struct fuse_entry_param e;
	struct mm_buf rel = { 0 };
	struct mm_loc loc;
	int ret, fd = -1;

	ret = child_relpath(fs, pin, name, &rel);
	if (ret == 0)
		ret = classify_w(fs, mm_buf_str(&rel), false, true, &loc);
	if (ret == 0)
		ret = perm_child(fs, req, mm_buf_str(&rel));
	if (ret < 0)
		goto out;
	fs_cred_enter(req);
	fd = openat(pin->fd, name, (fi->flags | O_CREAT | O_CLOEXEC) & ~O_NOFOLLOW, mode);
	fs_cred_leave();
	if (fd < 0) {
		ret = -errno;
		goto out;
	}
	ret = do_lookup(fs, pin, name, &e);
	if (ret < 0) {
		close(fd);
		goto out;
	}
	fi->fh = (uint64_t)(uintptr_t)handle_new(fd);
	/* a file created empty (maildirfolder, an empty subscriptions) is
	   journaled at release even if nothing is ever written to it */
	((struct fs_handle *)(uintptr_t)fi->fh)->emptied = true;
	if (loc.cls == MM_CLASS_MESSAGE)
		fi->keep_cache = 1;
	if (fuse_reply_create(req, &e, fi) != 0) {
		/* the kernel is gone: undo the lookup and the handle */
		free((struct fs_handle *)(uintptr_t)fi->fh);
		close(fd);
		unref_inode(fs, inode_of(fs, e.ino), 1);
	}
	mm_buf_free(&rel);
	return;
out:
	mm_buf_free(&rel);
	fuse_reply_err(req, -ret);
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	struct fs_inode *in = inode_of(fs, ino);
	struct mm_buf rel = { 0 };
	struct mm_loc loc = { .cls = MM_CLASS_OUTSIDE };
	char proc[64];
	int fd, ret = 0;

	if (wants_write(fi->flags)) {
		ret = inode_relpath(fs, in, &rel);
		if (ret == 0)
			ret = classify_w(fs, mm_buf_str(&rel), false, true, &loc);
		else if (ret == -ENOENT)
			ret = 0;
		/* An existing file of a read-only account opened for writing:
		   EACCES, as its modes would say. Dovecot then opens it
		   read-only (dovecot-uidlist on a replica) where EROFS is an
		   error. Every other change still fails with EROFS. */
		if (ret == -EROFS)
			ret = -EACCES;
		if (ret < 0)
			goto out;
	}
	ret = perm_inode(fs, req, in, F_OK);
	if (ret < 0)
		goto out;
	proc_path(in, proc);
	fs_cred_enter(req);
	fd = open(proc, (fi->flags & ~O_NOFOLLOW) | O_CLOEXEC);
	fs_cred_leave();
	if (fd < 0) {
		ret = -errno;
		goto out;
	}
	fi->fh = (uint64_t)(uintptr_t)handle_new(fd);
	if (fi->flags & O_TRUNC)	/* a change even if never written */
		((struct fs_handle *)(uintptr_t)fi->fh)->emptied = true;
	/* Keep cached pages across opens: writes through the mount update
	   them, AUTO_INVAL_DATA drops them when a getattr shows another
	   mtime or size, and changes made behind the mount come with an
	   explicit invalidation (fs_invalidate). A delivered message never
	   changes, so its warm reads stay in the page cache. */
	fi->keep_cache = 1;
	/* a read-only handle has nothing to journal at close(2): spare the
	   caller the FLUSH round trip */
	fi->noflush = !wants_write(fi->flags);
	fuse_reply_open(req, fi);
	mm_buf_free(&rel);
	return;
out:
	mm_buf_free(&rel);
	fuse_reply_err(req, -ret);
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	struct fs_handle *h = (struct fs_handle *)(uintptr_t)fi->fh;
	char *buf = mm_malloc(size);
	size_t got = 0;

	(void)ino;
	/* A short reply inside the file makes the kernel believe the file
	   shrank: it cuts i_size and every process that has the file mapped
	   (Dovecot's indexes) dies of SIGBUS on the pages beyond. So read
	   until the request is filled or the file really ends; no splice,
	   which may return short when the backing pages were reclaimed. */
	while (got < size) {
		ssize_t n = pread(h->fd, buf + got, size - got, off + (off_t)got);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (got > 0)
				break;
			fuse_reply_err(req, errno);
			free(buf);
			return;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	fuse_reply_buf(req, buf, got);
	free(buf);
}

static void op_write_buf(fuse_req_t req, fuse_ino_t ino, struct fuse_bufvec *in_buf,
			 off_t off, struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	struct fs_handle *h = (struct fs_handle *)(uintptr_t)fi->fh;
	struct fuse_bufvec out = FUSE_BUFVEC_INIT(fuse_buf_size(in_buf));
	struct fs_inode *in;
	ssize_t n;

	/* an account switched to read-only stops open writers too */
	if (fs->n_ro_accounts > 0 || fs->fenced) {
		int ret = inode_writable(fs, inode_of(fs, ino));

		if (ret < 0) {
			fuse_reply_err(req, -ret);
			return;
		}
	}
	out.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
	out.buf[0].fd = h->fd;
	out.buf[0].pos = off;
	in = inode_of(fs, ino);
	size_write_begin(fs, in);
	n = fuse_buf_copy(&out, in_buf, 0);
	/* before the reply: after it the kernel may release and forget in */
	size_write_end(fs, in, n > 0 ? off + (off_t)n : 0);
	if (n < 0) {
		fuse_reply_err(req, (int)-n);
		return;
	}
	h->written = true;
	fuse_reply_write(req, (size_t)n);
}

/* A message or metadata file written through the mount is journaled when
   it is flushed (close(2) waits for this), with its whole content. */
static int journal_written(struct fs *fs, struct fs_inode *in, struct fs_handle *h,
			   bool release)
{
	struct fs_derive_facts facts = { 0 };
	struct fs_plan plans[FS_PLAN_MAX];
	struct mm_buf rel = { 0 };
	struct fs_txn txn;
	struct mm_loc loc;
	struct stat st;
	char proc[64];
	int ret, n, rfd;

	/* an fd dup'd and closed before the write (a shell redirection)
	   flushes before anything was written: wait for the data or for
	   the release, or an empty state would be journaled first. What
	   the file is comes from its name now, not at open: Dovecot renames
	   dovecot-uidlist.lock over dovecot-uidlist and then appends to the
	   same descriptor. */
	if (!(h->written || (release && h->emptied)))
		return 0;
	h->written = h->emptied = false;
	ret = inode_relpath(fs, in, &rel);
	if (ret == -ENOENT) {
		mm_buf_free(&rel);
		return 0;	/* unlinked meanwhile */
	}
	if (ret < 0)
		goto out;
	mm_classify(fs->rules, mm_buf_str(&rel), false, &loc);
	n = fs_derive(FS_RAW_WRITTEN, &loc, NULL, &facts, plans);
	if (n == 0)
		goto out;
	proc_path(in, proc);
	/* the handle may be write-only: read the content through a new fd */
	rfd = open(proc, O_RDONLY | O_CLOEXEC);
	if (rfd < 0) {
		ret = -errno;
		goto out;
	}
	if (fstat(rfd, &st) == 0 && inode_stamp_matches(fs, in, &st)) {
		close(rfd);	/* journaled as it is by the rename that named it */
		goto out;
	}
	ret = txn_begin(fs, &txn, plans, n, &loc, NULL, rfd, AT_FDCWD, proc);
	if (ret == 0) {
		txn_end(fs, &txn, 0);
		inode_stamp(fs, in, &txn);
	}
	close(rfd);
out:
	mm_buf_free(&rel);
	return ret;
}

static void op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	struct fs_handle *h = (struct fs_handle *)(uintptr_t)fi->fh;
	int ret = journal_written(fs, inode_of(fs, ino), h, false);

	fuse_reply_err(req, -ret);
}

static void op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	struct fs_handle *h = (struct fs_handle *)(uintptr_t)fi->fh;

	/* writes after the last flush (mmap writeback) still get their record */
	if (journal_written(fs, inode_of(fs, ino), h, true) < 0)
		mm_log_error("fs: journaling a written file at release failed");
	close(h->fd);
	free(h);
	fuse_reply_err(req, 0);
}

static void op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
		     struct fuse_file_info *fi)
{
	struct fs_handle *h = (struct fs_handle *)(uintptr_t)fi->fh;
	int ret;

	(void)ino;
	ret = datasync ? fdatasync(h->fd) : fsync(h->fd);
	fuse_reply_err(req, ret < 0 ? errno : 0);
}

static void op_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t offset,
			 off_t length, struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	struct fs_handle *h = (struct fs_handle *)(uintptr_t)fi->fh;
	int ret = inode_writable(fs, inode_of(fs, ino));

	if (ret == 0)
		ret = fallocate(h->fd, mode, offset, length) < 0 ? -errno : 0;
	if (ret == 0)
		h->written = true;
	fuse_reply_err(req, -ret);
}

static void dir_free(struct fs_dir *d)
{
	for (size_t i = 0; i < d->n; i++)
		free(d->ents[i].name);
	free(d->ents);
	d->ents = NULL;
	d->n = 0;
}

static int dir_snapshot(struct fs_dir *d)
{
	int fd = dup(d->fd);
	struct dirent *de;
	size_t cap = 0;
	DIR *dp;

	dir_free(d);
	if (fd < 0)
		return -errno;
	dp = fdopendir(fd);
	if (dp == NULL) {
		int ret = -errno;

		close(fd);
		return ret;
	}
	rewinddir(dp);
	errno = 0;
	while ((de = readdir(dp)) != NULL) {
		if (d->n == cap) {
			cap = cap ? cap * 2 : 64;
			d->ents = mm_realloc(d->ents, cap * sizeof(*d->ents));
		}
		d->ents[d->n].name = mm_strdup(de->d_name);
		d->ents[d->n].ino = de->d_ino;
		d->ents[d->n].type = de->d_type;
		d->n++;
	}
	closedir(dp);
	return 0;
}

static void op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	struct fs_dir *d;
	int ret = perm_inode(fs, req, inode_of(fs, ino), F_OK);

	if (ret < 0) {
		fuse_reply_err(req, -ret);
		return;
	}
	d = mm_calloc(1, sizeof(*d));
	fs_cred_enter(req);
	d->fd = openat(inode_of(fs, ino)->fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	fs_cred_leave();
	if (d->fd < 0) {
		ret = errno;
		free(d);
		fuse_reply_err(req, ret);
		return;
	}
	/* the snapshot is taken by the first READDIR: the kernel holds the
	   directory lock there, so no rename through the mount is half done */
	fi->fh = (uint64_t)(uintptr_t)d;
	if (fuse_reply_open(req, fi) != 0) {
		dir_free(d);
		close(d->fd);
		free(d);
	}
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	struct fs_dir *d = (struct fs_dir *)(uintptr_t)fi->fh;
	char *buf = mm_malloc(size);
	size_t pos = 0;

	(void)ino;
	/* every listing (and every rewind) starts with a fresh snapshot */
	if (off == 0) {
		int ret = dir_snapshot(d);

		if (ret < 0) {
			free(buf);
			fuse_reply_err(req, -ret);
			return;
		}
	}
	for (size_t i = (size_t)off; i < d->n; i++) {
		struct stat st = { .st_ino = d->ents[i].ino,
				   .st_mode = (mode_t)d->ents[i].type << 12 };
		size_t len = fuse_add_direntry(req, buf + pos, size - pos,
					       d->ents[i].name, &st, (off_t)i + 1);

		if (len > size - pos)
			break;
		pos += len;
	}
	fuse_reply_buf(req, buf, pos);
	free(buf);
}

static void op_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs_dir *d = (struct fs_dir *)(uintptr_t)fi->fh;

	(void)ino;
	dir_free(d);
	close(d->fd);
	free(d);
	fuse_reply_err(req, 0);
}

static void op_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync,
			struct fuse_file_info *fi)
{
	struct fs_dir *d = (struct fs_dir *)(uintptr_t)fi->fh;
	int ret;

	(void)ino;
	ret = datasync ? fdatasync(d->fd) : fsync(d->fd);
	fuse_reply_err(req, ret < 0 ? errno : 0);
}

static void op_access(fuse_req_t req, fuse_ino_t ino, int mask)
{
	struct fs *fs = fs_of(req);
	char proc[64];
	int ret;

	ret = perm_inode(fs, req, inode_of(fs, ino), F_OK);
	/* write access to a read-only account (a replica): EACCES, which is
	   what Dovecot checks (on cur/) to open a mailbox read-only and leave
	   its dovecot-uidlist alone, rather than fail on EROFS later */
	if (ret == 0 && (mask & W_OK) && inode_writable(fs, inode_of(fs, ino)) == -EROFS)
		ret = -EACCES;
	if (ret < 0) {
		fuse_reply_err(req, -ret);
		return;
	}
	proc_path(inode_of(fs, ino), proc);
	fs_cred_enter(req);
	ret = faccessat(AT_FDCWD, proc, mask, AT_EACCESS) < 0 ? errno : 0;
	fs_cred_leave();
	fuse_reply_err(req, ret);
}

static void op_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct fs *fs = fs_of(req);
	struct statvfs sv;

	if (fstatvfs(inode_of(fs, ino)->fd, &sv) < 0)
		fuse_reply_err(req, errno);
	else
		fuse_reply_statfs(req, &sv);
}

const struct fuse_lowlevel_ops fs_ops = {
	.init = op_init,
	.lookup = op_lookup,
	.forget = op_forget,
	.forget_multi = op_forget_multi,
	.getattr = op_getattr,
	.setattr = op_setattr,
	.readlink = op_readlink,
	.mknod = op_mknod,
	.mkdir = op_mkdir,
	.symlink = op_symlink,
	.unlink = op_unlink,
	.rmdir = op_rmdir,
	.rename = op_rename,
	.link = op_link,
	.create = op_create,
	.open = op_open,
	.read = op_read,
	.write_buf = op_write_buf,
	.flush = op_flush,
	.release = op_release,
	.fsync = op_fsync,
	.fallocate = op_fallocate,
	.opendir = op_opendir,
	.readdir = op_readdir,
	.releasedir = op_releasedir,
	.fsyncdir = op_fsyncdir,
	.statfs = op_statfs,
	.access = op_access,
};

/* ---- set-up and the control hooks ---- */

int fs_init(struct fs *fs, struct mm_cfg *cfg, const char **error_r)
{
	static char err[1024];
	struct stat st;
	char *real;

	memset(fs, 0, sizeof(*fs));
	fs->cfg = cfg;
	/* with mailmesh-hbmon, nothing is writable until it grants a lease */
	fs->fenced = cfg->hb_listen != NULL;
	fs->root_fd = -1;
	real = realpath(cfg->store, NULL);
	if (real == NULL) {
		snprintf(err, sizeof(err), "store %s: %m", cfg->store);
		goto fail;
	}
	fs->root_path = real;
	fs->root_len = strlen(real);
	fs->root_fd = open(real, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fs->root_fd < 0 || fstat(fs->root_fd, &st) < 0) {
		snprintf(err, sizeof(err), "store %s: %m", cfg->store);
		goto fail;
	}
	if (faccessat(fs->root_fd, ".", R_OK | W_OK | X_OK, AT_EACCESS) < 0) {
		snprintf(err, sizeof(err), "store %s: not readable and writable: %m", cfg->store);
		goto fail;
	}
	fs->root.fd = fs->root_fd;
	fs->root.dev = st.st_dev;
	fs->root.ino = st.st_ino;
	fs->root.is_dir = true;
	fs->root.nlookup = 2;
	fs->rules = mm_rules_new(cfg);
	fs->itab_size = 4096;
	fs->itab = mm_calloc(fs->itab_size, sizeof(*fs->itab));
	pthread_mutex_init(&fs->itab_mtx, NULL);
	pthread_mutex_init(&fs->size_mtx, NULL);
	pthread_rwlock_init(&fs->acct_lock, NULL);
	fs->msg_timeout = 86400.0;
	fs->dir_timeout = 60.0;
	fs->neg_timeout = 60.0;
	if (fs_accounts_reload(fs, error_r) < 0)
		return -1;
	return 0;
fail:
	*error_r = err;
	return -1;
}

/* Also after a failed fs_init(): every field is NULL, -1 or set. */
void fs_deinit(struct fs *fs)
{
	if (fs->itab != NULL) {
		for (size_t i = 0; i < fs->itab_size; i++) {
			struct fs_inode *in = fs->itab[i], *next;

			for (; in != NULL; in = next) {
				next = in->hnext;
				close(in->fd);
				free(in);
			}
		}
		free(fs->itab);
	}
	mm_acct_list_free(&fs->ro_accounts, fs->n_ro_accounts);
	mm_acct_list_free(&fs->active, fs->n_active);
	mm_free(&fs->active_epochs);
	for (size_t i = 0; i < fs->n_claims; i++)
		free(fs->claims[i].account);
	free(fs->claims);
	mm_rules_free(&fs->rules);
	if (fs->root_fd >= 0)
		close(fs->root_fd);
	free(fs->root_path);
}

int fs_accounts_reload(struct fs *fs, const char **error_r)
{
	char **list, **old;
	size_t n, old_n;

	if (mm_acct_load(fs->cfg->state, &list, &n, error_r) < 0)
		return -1;
	pthread_rwlock_wrlock(&fs->acct_lock);
	old = fs->ro_accounts;
	old_n = fs->n_ro_accounts;
	fs->ro_accounts = list;
	fs->n_ro_accounts = n;
	pthread_rwlock_unlock(&fs->acct_lock);
	mm_acct_list_free(&old, old_n);
	return 0;
}

int fs_roles(struct fs *fs, uint64_t gen, uint64_t deadline_ns, const char **error_r)
{
	char **list = NULL, **old = NULL;
	uint64_t *epochs = NULL, *old_epochs = NULL;
	size_t n = 0, old_n = 0;
	uint64_t got = 0;
	bool reload;

	pthread_rwlock_rdlock(&fs->acct_lock);
	reload = gen != fs->roles_gen;
	pthread_rwlock_unlock(&fs->acct_lock);
	if (reload && (mm_roles_load(fs->cfg->state, &got, &list, &epochs, &n, error_r) < 0 ||
		       got != gen)) {
		if (list != NULL && got != gen) {
			mm_acct_list_free(&list, n);
			free(epochs);
			*error_r = "STATE/roles is not the generation announced";
		}
		pthread_rwlock_wrlock(&fs->acct_lock);
		fs->lease_deadline_ns = 0;
		pthread_rwlock_unlock(&fs->acct_lock);
		return -1;
	}
	pthread_rwlock_wrlock(&fs->acct_lock);
	if (reload) {
		old = fs->active;
		old_epochs = fs->active_epochs;
		old_n = fs->n_active;
		fs->active = list;
		fs->active_epochs = epochs;
		fs->n_active = n;
		fs->roles_gen = gen;
	}
	fs->lease_deadline_ns = deadline_ns;
	pthread_rwlock_unlock(&fs->acct_lock);
	mm_acct_list_free(&old, old_n);
	free(old_epochs);
	return 0;
}

int fs_invalidate(struct fs *fs, const char *relpath, const char **error_r)
{
	static __thread char err[512];
	char *dir = mm_strdup(relpath), *slash = strrchr(dir, '/');
	const char *name = relpath;
	struct fs_inode *pin, *in;
	struct stat st;
	fuse_ino_t pino = 0, cino = 0;

	if (slash != NULL) {
		*slash = '\0';
		name = relpath + (slash - dir) + 1;
	} else {
		dir[0] = '\0';
	}
	if (fstatat(fs->root_fd, dir[0] != '\0' ? dir : ".", &st, AT_SYMLINK_NOFOLLOW) == 0) {
		pthread_mutex_lock(&fs->itab_mtx);
		pin = itab_find(fs, st.st_dev, st.st_ino);
		if (pin != NULL)
			pino = ino_of(fs, pin);
		pthread_mutex_unlock(&fs->itab_mtx);
	}
	if (fstatat(fs->root_fd, relpath, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		pthread_mutex_lock(&fs->itab_mtx);
		in = itab_find(fs, st.st_dev, st.st_ino);
		if (in != NULL)
			cino = ino_of(fs, in);
		pthread_mutex_unlock(&fs->itab_mtx);
	}
	free(dir);
	/* ENOENT from the kernel means it had nothing cached: fine */
	if (pino != 0) {
		int ret = fuse_lowlevel_notify_inval_entry(fs->se, pino, name, strlen(name));

		if (ret < 0 && ret != -ENOENT) {
			snprintf(err, sizeof(err), "inval_entry(%s): %s", relpath, strerror(-ret));
			*error_r = err;
			return -1;
		}
		fuse_lowlevel_notify_inval_inode(fs->se, pino, -1, 0);
	}
	if (cino != 0)
		fuse_lowlevel_notify_inval_inode(fs->se, cino, 0, 0);
	return 0;
}

int fs_reassert(struct fs *fs, const char *relpath, const char **error_r)
{
	static __thread char err[512];
	struct mm_journal_rec rec = { .op = MM_OP_FLAGS };
	struct mm_journal_ref ref;
	struct mm_buf data = { 0 };
	pthread_mutex_t *lock = NULL;
	char *account = NULL, *folder = NULL, *name = NULL;
	struct mm_loc loc;
	int ret = 0, fd;

	mm_classify(fs->rules, relpath, false, &loc);
	if ((loc.cls != MM_CLASS_MESSAGE && loc.cls != MM_CLASS_META) ||
	    loc.sub == MM_SUB_TMP) {
		snprintf(err, sizeof(err), "%s: neither a message nor a metadata file", relpath);
		*error_r = err;
		return -1;
	}
	if (account_readonly(fs, &loc)) {
		snprintf(err, sizeof(err), "%s: the account is read-only here", relpath);
		*error_r = err;
		return -1;
	}
	if (loc.cls == MM_CLASS_META) {
		/* read and journaled under the lock the mount's own metadata
		   changes take, so no newer content lands before it */
		lock = meta_lock_for(&loc);
		pthread_mutex_lock(lock);
	}
	fd = openat(fs->root_fd, relpath, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0 && !(errno == ENOENT && loc.cls == MM_CLASS_META)) {
		ret = -errno;
	} else if (loc.cls == MM_CLASS_META) {
		/* the file as it is here, or its removal */
		rec.op = MM_OP_META;
		if (fd < 0)
			rec.rflags = MM_RECF_DELETED;
		else if ((ret = content_facts(fd, &rec, false, &data)) == 0)
			rec.data = data.data, rec.data_len = (uint32_t)data.len;
	}
	if (fd >= 0)
		close(fd);
	if (ret == 0) {
		/* a message from its name to the same name: a replica that has
		   it under other flags takes this name (repl-apply.c) */
		loc_fields(&loc, &account, &folder, &rec.sub, &name);
		rec.new_sub = loc.cls == MM_CLASS_MESSAGE ? rec.sub : MM_SUB_NONE;
		rec.account = account;
		rec.folder = folder;
		rec.name = name;
		rec.new_name = loc.cls == MM_CLASS_MESSAGE ? name : "";
		rec.new_folder = loc.cls == MM_CLASS_MESSAGE ? folder : "";
		ret = acct_epoch(fs, account, &rec.epoch);
		if (ret == 0)
			ret = mm_journal_append(fs->journal, &rec, &ref);
	}
	if (ret == 0) {
		if (mm_journal_must_sync(fs->journal, rec.op))
			mm_journal_sync(fs->journal, ref.lsn);
		mm_journal_finish(fs->journal, &ref, MM_REC_COMMITTED);
		__atomic_add_fetch(&fs->n_journaled, 1, __ATOMIC_RELAXED);
		__atomic_add_fetch(&fs->n_op[rec.op], 1, __ATOMIC_RELAXED);
	} else {
		snprintf(err, sizeof(err), "%s: %s", relpath, strerror(-ret));
		*error_r = err;
	}
	if (lock != NULL)
		pthread_mutex_unlock(lock);
	mm_buf_free(&data);
	free(account);
	free(folder);
	free(name);
	return ret == 0 ? 0 : -1;
}
