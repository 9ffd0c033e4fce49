/* SPDX-License-Identifier: MIT
 * repl-apply.c - a peer's record made true in this node's store: checks
 * that keep hostile paths inside it (each directory opened O_NOFOLLOW from
 * the root fd), each op's identity rules, whole-file placement by rename.
 * Reading records, fetching content and FUSE invalidation live elsewhere. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "acct.h"
#include "journal-file.h"
#include "log.h"
#include "maildir.h"
#include "mem.h"
#include "repl-apply.h"
#include "repl-expunged.h"
#include "repl-idcache.h"
#include "repl-moved.h"

/* What each op does; a message's identity is its name before ':'.
   deliver   size and XXH3-128 of the stage must match the record. If the
             identity is in new/ or cur/ with the record's size: ALREADY; with
             another size (a copy cut short by a power failure before the
             batch's syncfs) the verified content replaces it under its
             current name; else owner, mode, mtime are set and the stage is
             renamed (never over a file) to sub/name.
   move,     new_sub/new_name there: ALREADY; else sub/name, or failing that
   flags     any file of the same identity in new/ or cur/, is renamed to
             it; else MISSING.
   expunge   sub/name, or failing that the identity, is unlinked; neither
             there: ALREADY.
   copy      the identity of new_name in new_folder: ALREADY; else the
             source (by name, then identity) is hard-linked there; else the
             stage is placed as for deliver; else MISSING.
   folder_create  mkdir -p of the folder and its cur/ new/ tmp/.
   folder_rename  old only: rename(2); new only: ALREADY; both: CONFLICT;
             neither: MISSING.
   folder_delete  mail in new/ or cur/: CONFLICT. Else tmp/'s files,
             cur/ new/ tmp/, courierimapkeywords/ and the folder's other
             files go, then the folder directory if that left it empty (a
             LAYOUT=fs child keeps it). The account root ("") only loses
             cur/ new/ tmp/: its other files belong to the account.
   meta      removed (MM_RECF_DELETED), or written whole to a ".mmrepl."
             file in the same directory and renamed over the name; the same
             bytes, mode, owner and mtime already there: ALREADY.
   Directories made: 0700, owned by the record's uid/gid when it carries
   content, else by the owner of the directory they are made in; those
   above the account (the "example.org" of "example.org/alice") 0711 and
   never the record's owner: accounts of other users live below them.
   Files get the record's mode without set-id and sticky bits. */

#define DIR_OPEN_FLAGS (O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
#define DIR_MODE 0700
#define DIR_MODE_ABOVE 0711
#define FILE_MODE_MASK 0777	/* never set-id or sticky bits from a peer */
#define STAGE_PREFIX ".mmrepl."
#define KEYWORDS_DIR "courierimapkeywords"
#define NS_PER_S 1000000000LL

/* A directory walk() reached component by component (no symlink on the
   way), kept open: while the path still leads to the same inode, the
   next walk to it is a dup() (a delivery walked its folder three times,
   some 20 openat and close calls). Dropped by folder renames and
   deletes, and whenever the path leads elsewhere. */
#define WALKED_MAX 8

struct walked {
	char *path;
	int fd;
	dev_t dev;
	ino_t ino;
	bool maildir;		/* its cur/ new/ tmp/ were there */
	uint64_t used;
};

struct repl_store {
	int root_fd;
	char *dir;
	unsigned int account_depth;
	pid_t pid;
	uint64_t seq;		/* makes staging names unique */
	struct repl_changes pending;	/* made by repl_stage_open() */
	struct repl_idcache *ids;	/* identities in new/ and cur/ */
	struct walked walked[WALKED_MAX];	/* folders walk() opened lately */
	uint64_t walk_tick;
	struct mm_buf err;
	/* expunged messages kept here (STATE/expunged), or NULL */
	char *retain_dir;
	uint64_t retained, retain_failed;
	/* the sources of the copies of the last minute: an expunge of one
	   of them is the second half of a move, and the message lives on
	   where it went */
	struct repl_moved *moved;
};

#define IDCACHE_DIRS 256	/* new/ and cur/ of 128 folders */

struct repl_stage {
	int fd, dir_fd;
	char *name;		/* the staged file in dir_fd */
	char *dir_path;		/* store-relative path of dir_fd */
	bool placed;		/* renamed into place: nothing to remove */
	bool hashed;		/* hash/size: what the caller wrote, hashed */
	uint64_t size;
	uint8_t hash[16];
};

enum mk {
	MK_NONE,		/* open what is there */
	MK_DIRS,		/* make missing directories */
	MK_MAILDIR,		/* ... and the folder's cur/ new/ tmp/ */
};

struct apply {
	struct repl_store *st;
	const struct mm_journal_rec *rec;
	struct repl_changes *changes;
	bool rec_owner;		/* directories made get the record's owner */
	unsigned int nchanged;
	char *fpath, *nfpath;	/* "account/folder", "account/new_folder" */
};

static const char *const msg_subs[2] = { "new", "cur" };

static __thread char open_err[1024];

static int __attribute__((format(printf, 2, 3)))
fail(struct apply *a, const char *fmt, ...)
{
	struct mm_buf *b = &a->st->err;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	mm_buf_reset(b);
	mm_buf_reserve(b, (size_t)n);
	va_start(ap, fmt);
	vsnprintf((char *)b->data, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len = (size_t)n;
	return -1;
}

const char *repl_result_str(int result)
{
	switch (result) {
	case REPL_APPLIED: return "applied";
	case REPL_ALREADY: return "already";
	case REPL_MISSING: return "missing";
	case REPL_CONFLICT: return "conflict";
	}
	return "error";
}

/* changes */

const char *repl_changes_next(const struct repl_changes *ch, size_t *pos)
{
	const char *s;

	if (*pos >= ch->buf.len)
		return NULL;
	s = (const char *)ch->buf.data + *pos;
	*pos += strlen(s) + 1;
	return s;
}

void repl_changes_reset(struct repl_changes *ch)
{
	mm_buf_reset(&ch->buf);
	ch->count = 0;
}

void repl_changes_free(struct repl_changes *ch)
{
	mm_buf_free(&ch->buf);
	ch->count = 0;
}

/* Records dir[/sub][/name] (dir given by its first len bytes) as changed. */
static void note_len(struct apply *a, const char *dir, size_t len,
		     const char *sub, const char *name)
{
	struct mm_buf *b;

	a->nchanged++;
	if (a->changes == NULL)
		return;
	b = &a->changes->buf;
	mm_buf_append(b, dir, len);
	if (sub != NULL && *sub != '\0') {
		mm_buf_puts(b, "/");
		mm_buf_puts(b, sub);
	}
	if (name != NULL && *name != '\0') {
		mm_buf_puts(b, "/");
		mm_buf_puts(b, name);
	}
	mm_buf_append(b, "", 1);
	a->changes->count++;
}

static void note(struct apply *a, const char *dir, const char *sub, const char *name)
{
	note_len(a, dir, strlen(dir), sub, name);
}

/* checks: everything a peer sends is refused before the store is touched */

/* Why a path component is refused, or NULL. */
static const char *comp_problem(const char *p, size_t len)
{
	if (len == 0)
		return "is empty";
	if (len > MM_NAME_MAX)
		return "is over 255 bytes";
	if ((len == 1 && p[0] == '.') || (len == 2 && p[0] == '.' && p[1] == '.'))
		return "is '.' or '..'";
	return NULL;
}

/* A folder component may also not be cur/new/tmp (that would put a
   directory among another folder's messages) nor start with ".." (Dovecot's
   trash names, never journaled). */
static const char *folder_comp_problem(const char *p, size_t len)
{
	const char *why = comp_problem(p, len);

	if (why == NULL && p[0] == '.' && p[1] == '.')
		why = "starts with '..'";
	if (why == NULL && mm_sub_parse(p, len) != MM_SUB_NONE)
		why = "is cur, new or tmp";
	return why;
}

static int check_folder(struct apply *a, const char *what, const char *folder)
{
	const char *p = folder, *why;

	if (*p == '\0')
		return 0;
	for (;;) {
		size_t l = strcspn(p, "/");

		if ((why = folder_comp_problem(p, l)) != NULL)
			return fail(a, "%s: %s '%s': component '%.*s' %s", a->rec->account,
				    what, folder, (int)l, p, why);
		if (p[l] == '\0')
			return 0;
		p += l + 1;
	}
}

static int check_account(struct apply *a)
{
	const char *p = a->rec->account, *error;

	if (mm_acct_check(p, a->st->account_depth, &error) < 0)
		return fail(a, "%s", error);
	for (;;) {
		size_t l = strcspn(p, "/");

		if (l > MM_NAME_MAX)
			return fail(a, "account '%s': component over %d bytes",
				    a->rec->account, MM_NAME_MAX);
		if (p[l] == '\0')
			return 0;
		p += l + 1;
	}
}

static int check_msg(struct apply *a, const char *what, uint8_t sub, const char *name)
{
	struct mm_msgname mn;

	if (sub != MM_SUB_NEW && sub != MM_SUB_CUR)
		return fail(a, "%s: %s '%s': sub %u is not new or cur", a->fpath,
			    what, name, sub);
	if (mm_msgname_parse(name, &mn) < 0)
		return fail(a, "%s: %s '%s' is not a message name (empty, '.', '..', "
			    "with '/' or over 255 bytes)", a->fpath, what, name);
	return 0;
}

/* "NAME" or "DIR/NAME" (one level, as courierimapkeywords/NAME). */
static int check_meta_name(struct apply *a, const char *name)
{
	const char *slash = strchr(name, '/'), *base = slash != NULL ? slash + 1 : name;
	const char *why = NULL;

	if (slash != NULL)
		why = folder_comp_problem(name, (size_t)(slash - name));
	if (why == NULL && strchr(base, '/') != NULL)
		why = "has more than one directory level";
	if (why == NULL)
		why = comp_problem(base, strlen(base));
	if (why == NULL && slash == NULL && mm_sub_parse(base, strlen(base)) != MM_SUB_NONE)
		why = "is cur, new or tmp";
	if (why != NULL)
		return fail(a, "%s: metadata name '%s' %s", a->fpath, name, why);
	return 0;
}

static bool folder_within(const char *inner, const char *outer)
{
	size_t l = strlen(outer);

	return strncmp(inner, outer, l) == 0 && (inner[l] == '\0' || inner[l] == '/');
}

/* Everything a peer sends is checked before the store is touched. */
static int check_rec(struct apply *a)
{
	const struct mm_journal_rec *rec = a->rec;

	if ((int)rec->op < MM_OP_DELIVER || (int)rec->op > MM_OP_LAST)
		return fail(a, "%s: op %d is out of range", a->fpath, (int)rec->op);
	if (check_account(a) < 0 || check_folder(a, "folder", rec->folder) < 0)
		return -1;
	switch (rec->op) {
	case MM_OP_DELIVER:
	case MM_OP_EXPUNGE:
		return check_msg(a, "name", rec->sub, rec->name);
	case MM_OP_MOVE:
	case MM_OP_FLAGS:
		if (strcmp(rec->new_folder, rec->folder) != 0)
			return fail(a, "%s: %s to another folder '%s'", a->fpath,
				    mm_op_str(rec->op), rec->new_folder);
		if (check_msg(a, "name", rec->sub, rec->name) < 0)
			return -1;
		return check_msg(a, "new name", rec->new_sub, rec->new_name);
	case MM_OP_COPY:
		if (check_folder(a, "new folder", rec->new_folder) < 0 ||
		    check_msg(a, "name", rec->sub, rec->name) < 0)
			return -1;
		return check_msg(a, "new name", rec->new_sub, rec->new_name);
	case MM_OP_FOLDER_CREATE:
	case MM_OP_FOLDER_DELETE:
		return 0;
	case MM_OP_FOLDER_RENAME:
		if (check_folder(a, "new folder", rec->new_folder) < 0)
			return -1;
		if (*rec->folder == '\0' || *rec->new_folder == '\0')
			return fail(a, "%s: folder_rename of the account root ('%s' to '%s')",
				    rec->account, rec->folder, rec->new_folder);
		if (folder_within(rec->new_folder, rec->folder))
			return fail(a, "%s: folder_rename into itself ('%s')", a->fpath,
				    rec->new_folder);
		return 0;
	case MM_OP_META:
		if (check_meta_name(a, rec->name) < 0)
			return -1;
		if (rec->data_len > MM_JOURNAL_DATA_MAX || (rec->data_len > 0 && rec->data == NULL))
			return fail(a, "%s/%s: metadata of %" PRIu32 " bytes (the limit is %u)",
				    a->fpath, rec->name, rec->data_len, MM_JOURNAL_DATA_MAX);
		return 0;
	}
	return 0;
}

/* Content records set owners; (uid_t)-1 would mean "leave it root's". */
static int check_owner(struct apply *a)
{
	if (a->rec->uid == UINT32_MAX || a->rec->gid == UINT32_MAX)
		return fail(a, "%s/%s: owner %" PRIu32 ":%" PRIu32 " is not a real one",
			    a->fpath, a->rec->name, a->rec->uid, a->rec->gid);
	return 0;
}

/* directories, step by step from the root fd */

static int open_failed(struct apply *a, int parent, const char *name,
		       const char *path, size_t len)
{
	int err = errno;
	struct stat sb;

	/* open(O_DIRECTORY | O_NOFOLLOW) of a symlink fails with ENOTDIR */
	if ((err == ENOTDIR || err == ELOOP) &&
	    fstatat(parent, name, &sb, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(sb.st_mode))
		return fail(a, "%.*s: is a symbolic link (refused)", (int)len, path);
	if (err == ENOTDIR)
		return fail(a, "%.*s: not a directory", (int)len, path);
	return fail(a, "open(%.*s) failed: %s", (int)len, path, strerror(err));
}

/* Makes name in parent (path: its first len bytes) and opens it. */
static int make_dir(struct apply *a, int parent, const char *name, mode_t mode,
		    bool rec_owner, const char *path, size_t len, int *fd_r)
{
	struct stat sb;
	bool made = true;
	uid_t uid;
	gid_t gid;
	int fd;

	*fd_r = -1;
	if (rec_owner) {
		uid = a->rec->uid;
		gid = a->rec->gid;
	} else if (fstat(parent, &sb) < 0) {
		return fail(a, "fstat(parent of %.*s) failed: %s", (int)len, path,
			    strerror(errno));
	} else {
		uid = sb.st_uid;
		gid = sb.st_gid;
	}
	if (mkdirat(parent, name, mode) < 0) {
		if (errno != EEXIST)
			return fail(a, "mkdir(%.*s) failed: %s", (int)len, path, strerror(errno));
		made = false;	/* made meanwhile: use it as it is */
	}
	if ((fd = openat(parent, name, DIR_OPEN_FLAGS)) < 0)
		return open_failed(a, parent, name, path, len);
	/* fchmod after fchown: the mode is then exactly mode, whatever the
	   umask, a setgid parent or chown did. A crash between mkdir and here
	   leaves a root-owned directory: a window this accepts. */
	if (made && (fchown(fd, uid, gid) < 0 || fchmod(fd, mode) < 0)) {
		int err = errno;

		close(fd);
		return fail(a, "chown/chmod(%.*s) failed: %s", (int)len, path, strerror(err));
	}
	if (made)
		note_len(a, path, len, NULL, NULL);
	*fd_r = fd;
	return 0;
}

/* Opens (or with create makes) dirpath/name. Returns 1 with *fd_r, 0 when
   it is missing (and !create), -1 on error. */
static int open_child(struct apply *a, int dirfd, const char *dirpath,
		      const char *name, bool create, int *fd_r)
{
	char *path = mm_strdup_printf("%s/%s", dirpath, name);
	int ret = 1;

	*fd_r = openat(dirfd, name, DIR_OPEN_FLAGS);
	if (*fd_r < 0 && errno == ENOENT && create)
		ret = make_dir(a, dirfd, name, DIR_MODE, a->rec_owner, path,
			       strlen(path), fd_r) < 0 ? -1 : 1;
	else if (*fd_r < 0 && errno == ENOENT)
		ret = 0;
	else if (*fd_r < 0)
		ret = open_failed(a, dirfd, name, path, strlen(path));
	free(path);
	return ret;
}

/* Opens the directory at the store-relative path (account[/folder...]),
   never through a symlink. Returns 1 with *fd_r, 0 when a component is
   missing and mk is MK_NONE, -1 on error. */
static void walked_drop(struct walked *w)
{
	if (w->path == NULL)
		return;
	close(w->fd);
	mm_free(&w->path);
}

static void walked_clear(struct repl_store *st)
{
	for (unsigned int i = 0; i < WALKED_MAX; i++)
		walked_drop(&st->walked[i]);
}

/* 1 with *fd_r a dup of the kept directory, 0 when it is not kept (or
   the path no longer leads to it, or it cannot be reused for mk). */
static int walked_get(struct repl_store *st, const char *path, enum mk mk, int *fd_r)
{
	struct stat sb;

	for (unsigned int i = 0; i < WALKED_MAX; i++) {
		struct walked *w = &st->walked[i];

		if (w->path == NULL || strcmp(w->path, path) != 0)
			continue;
		/* the same inode by this path now: even through a symlink it
		   is the directory the walk reached without one */
		if (fstatat(st->root_fd, path, &sb, AT_SYMLINK_NOFOLLOW) < 0 ||
		    sb.st_dev != w->dev || sb.st_ino != w->ino || (mk == MK_MAILDIR && !w->maildir)) {
			walked_drop(w);
			return 0;
		}
		*fd_r = fcntl(w->fd, F_DUPFD_CLOEXEC, 0);
		if (*fd_r < 0)
			return 0;
		w->used = ++st->walk_tick;
		return 1;
	}
	return 0;
}

static void walked_put(struct repl_store *st, const char *path, int fd, bool maildir)
{
	struct walked *w = &st->walked[0];
	struct stat sb;

	if (fstat(fd, &sb) < 0)
		return;
	for (unsigned int i = 0; i < WALKED_MAX; i++) {
		if (st->walked[i].path != NULL && strcmp(st->walked[i].path, path) == 0) {
			w = &st->walked[i];
			break;
		}
		if (st->walked[i].path == NULL || st->walked[i].used < w->used)
			w = &st->walked[i];
	}
	walked_drop(w);
	w->fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (w->fd < 0)
		return;
	w->path = mm_strdup(path);
	w->dev = sb.st_dev;
	w->ino = sb.st_ino;
	w->maildir = maildir;
	w->used = ++st->walk_tick;
}

static int walk(struct apply *a, const char *path, enum mk mk, int *fd_r)
{
	unsigned int level = 0, acct_level = a->st->account_depth - 1;
	int dirfd = a->st->root_fd, fd, ret = 1;
	const char *p = path;
	char name[MM_NAME_MAX + 1];

	*fd_r = -1;
	if (walked_get(a->st, path, mk, fd_r))
		return 1;
	for (;;) {
		size_t l = strcspn(p, "/"), len = (size_t)(p - path) + l;

		mm_assert(l > 0 && l <= MM_NAME_MAX);
		memcpy(name, p, l);
		name[l] = '\0';
		fd = openat(dirfd, name, DIR_OPEN_FLAGS);
		if (fd < 0 && errno == ENOENT && mk != MK_NONE) {
			if (make_dir(a, dirfd, name,
				     level < acct_level ? DIR_MODE_ABOVE : DIR_MODE,
				     level >= acct_level && a->rec_owner, path, len, &fd) < 0)
				ret = -1;
		} else if (fd < 0) {
			ret = errno == ENOENT ? 0 : open_failed(a, dirfd, name, path, len);
		}
		if (dirfd != a->st->root_fd)
			close(dirfd);
		if (fd < 0)
			return ret;
		dirfd = fd;
		level++;
		p += l;
		if (*p == '\0')
			break;
		p++;
	}
	if (mk == MK_MAILDIR) {
		static const char *const subs[] = { "cur", "new", "tmp" };

		for (unsigned int i = 0; i < 3; i++) {
			if (open_child(a, dirfd, path, subs[i], true, &fd) < 0) {
				close(dirfd);
				return -1;
			}
			close(fd);
		}
	}
	walked_put(a->st, path, dirfd, mk == MK_MAILDIR);
	*fd_r = dirfd;
	return 1;
}

/* Opens the folder's new/ and cur/ (fds[0], fds[1]), -1 for a missing one. */
static int open_msg_subs(struct apply *a, int ffd, const char *fpath, int fds[2])
{
	for (unsigned int i = 0; i < 2; i++) {
		if (open_child(a, ffd, fpath, msg_subs[i], false, &fds[i]) < 0) {
			if (i == 1 && fds[0] >= 0)
				close(fds[0]);
			fds[0] = fds[1] = -1;
			return -1;
		}
	}
	return 0;
}

static void close_fds(int *fds, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++) {
		if (fds[i] >= 0)
			close(fds[i]);
		fds[i] = -1;
	}
}

static int sub_idx(uint8_t sub)
{
	return sub == MM_SUB_NEW ? 0 : 1;
}

/* Lists dirfd's entries but "." and "..", NUL-terminated into names. */
static int list_dir(struct apply *a, int dirfd, const char *path, struct mm_buf *names)
{
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct dirent *de;
	DIR *d;
	int err;

	if (fd < 0 || (d = fdopendir(fd)) == NULL) {
		err = errno;
		if (fd >= 0)
			close(fd);
		return fail(a, "opendir(%s) failed: %s", path, strerror(err));
	}
	while ((errno = 0, de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			mm_buf_append(names, de->d_name, strlen(de->d_name) + 1);
	}
	err = errno;
	closedir(d);
	if (err != 0)
		return fail(a, "readdir(%s) failed: %s", path, strerror(err));
	return 0;
}

/* A file of name's identity in dirfd: 1 with found[] set, 0, -1. */
static int find_identity(struct apply *a, int dirfd, const char *path,
			 const char *name, char found[MM_NAME_MAX + 1])
{
	int ret = repl_idcache_find(a->st->ids, dirfd, name, found);

	if (ret < 0)
		return fail(a, "listing %s failed: %s", path, strerror(errno));
	return ret;
}

static int exists_at(int dirfd, const char *name, struct stat *sb)
{
	if (fstatat(dirfd, name, sb, AT_SYMLINK_NOFOLLOW) == 0)
		return 1;
	return errno == ENOENT ? 0 : -1;
}

/* The message sub/name, or failing that one of its identity in new/ or
   cur/: 1 with *idx_r (0 new, 1 cur) and found[], 0 when there is none. */
static int find_msg(struct apply *a, const int fds[2], const char *fpath,
		    uint8_t sub, const char *name, int *idx_r,
		    char found[MM_NAME_MAX + 1])
{
	struct stat sb;
	int i = sub_idx(sub), ret;

	*idx_r = 0;
	found[0] = '\0';
	if (fds[i] >= 0) {
		if ((ret = exists_at(fds[i], name, &sb)) < 0)
			return fail(a, "stat(%s/%s/%s) failed: %s", fpath,
				    msg_subs[i], name, strerror(errno));
		if (ret > 0) {
			*idx_r = i;
			memcpy(found, name, strlen(name) + 1);
			return 1;
		}
	}
	for (i = 0; i < 2; i++) {
		char *path;

		if (fds[i] < 0)
			continue;
		path = mm_strdup_printf("%s/%s", fpath, msg_subs[i]);
		ret = find_identity(a, fds[i], path, name, found);
		free(path);
		if (ret != 0) {
			*idx_r = i;
			return ret;
		}
	}
	return 0;
}

/* rename(2) that never replaces: EEXIST when newname is there. Filesystems
   without RENAME_NOREPLACE get link+unlink for files, a check for dirs. */
static int rename_noreplace(int olddir, const char *oldname, int newdir,
			    const char *newname, bool is_dir)
{
	struct stat sb;

	if (renameat2(olddir, oldname, newdir, newname, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return -1;
	if (!is_dir) {
		if (linkat(olddir, oldname, newdir, newname, 0) < 0)
			return -1;
		return unlinkat(olddir, oldname, 0);
	}
	if (fstatat(newdir, newname, &sb, AT_SYMLINK_NOFOLLOW) == 0) {
		errno = EEXIST;
		return -1;
	}
	return renameat(olddir, oldname, newdir, newname);
}

/* The changes made in new/ and cur/, with the identity cache told. Each
   returns what the call it wraps returns, with its errno. */
static int msg_rename(struct apply *a, int from, const char *oldname, int to,
		      const char *newname, bool replace)
{
	struct repl_idcache_dir *d0 = repl_idcache_before(a->st->ids, from);
	struct repl_idcache_dir *d1 = from == to ? NULL : repl_idcache_before(a->st->ids, to);
	int ret = replace ? renameat(from, oldname, to, newname) :
		rename_noreplace(from, oldname, to, newname, false);

	if (ret < 0)
		return ret;
	if (from == to) {
		repl_idcache_after(a->st->ids, d0, from, oldname, newname);
	} else {
		repl_idcache_after(a->st->ids, d0, from, oldname, NULL);
		repl_idcache_after(a->st->ids, d1, to, NULL, newname);
	}
	return 0;
}

static int msg_link(struct apply *a, int from, const char *oldname, int to, const char *newname)
{
	struct repl_idcache_dir *d = repl_idcache_before(a->st->ids, to);

	if (linkat(from, oldname, to, newname, 0) < 0)
		return -1;
	repl_idcache_after(a->st->ids, d, to, NULL, newname);
	return 0;
}

static int msg_unlink(struct apply *a, int dirfd, const char *name)
{
	struct repl_idcache_dir *d = repl_idcache_before(a->st->ids, dirfd);

	if (unlinkat(dirfd, name, 0) < 0)
		return -1;
	repl_idcache_after(a->st->ids, d, dirfd, name, NULL);
	return 0;
}

/* content */

static bool hash_is_zero(const uint8_t hash[16])
{
	for (unsigned int i = 0; i < 16; i++) {
		if (hash[i] != 0)
			return false;
	}
	return true;
}

/* The stage holds rec's content: size, then hash (meta records carry no
   hash: checked when they have one). hash_r gets the stage's hash. */
static int stage_check(struct apply *a, const struct repl_stage *sg,
		       const char *target, uint8_t hash_r[16])
{
	const struct mm_journal_rec *rec = a->rec;
	char have[33], want[33];
	struct stat sb;
	uint64_t size;
	int ret;

	if (fstat(sg->fd, &sb) < 0)
		return fail(a, "fstat(%s/%s) failed: %s", sg->dir_path, sg->name, strerror(errno));
	if ((uint64_t)sb.st_size != rec->size)
		return fail(a, "%s: %" PRIu64 " bytes received, the record says %" PRIu64,
			    target, (uint64_t)sb.st_size, rec->size);
	if (sg->hashed && sg->size == (uint64_t)sb.st_size) {
		/* hashed as received (repl_stage_hashed()) */
		memcpy(hash_r, sg->hash, 16);
		size = sg->size;
	} else if ((ret = mm_content_hash(sg->fd, &size, hash_r)) < 0) {
		return fail(a, "read(%s/%s) failed: %s", sg->dir_path, sg->name, strerror(-ret));
	}
	if (size != rec->size)
		return fail(a, "%s: %" PRIu64 " bytes read, the record says %" PRIu64,
			    target, size, rec->size);
	if (rec->op == MM_OP_META && hash_is_zero(rec->hash))
		return 0;
	if (memcmp(hash_r, rec->hash, 16) != 0) {
		mm_hash_hex(hash_r, have);
		mm_hash_hex(rec->hash, want);
		return fail(a, "%s: content hash %s, the record says %s", target, have, want);
	}
	return 0;
}

static int stage_dir_check(struct apply *a, const struct repl_stage *sg, const char *dir)
{
	if (strcmp(sg->dir_path, dir) != 0)
		return fail(a, "%s/%s: stage is in %s, this record's belongs in %s",
			    sg->dir_path, sg->name, sg->dir_path, dir);
	return 0;
}

/* Owner, then mode (chown clears set-id bits), then mtime (atime = mtime). */
static int set_attrs(struct apply *a, int fd, const char *target)
{
	const struct mm_journal_rec *rec = a->rec;
	struct timespec ts[2];

	ts[1].tv_sec = (time_t)(rec->mtime_ns / NS_PER_S);
	ts[1].tv_nsec = (long)(rec->mtime_ns % NS_PER_S);
	if (ts[1].tv_nsec < 0) {
		ts[1].tv_nsec += NS_PER_S;
		ts[1].tv_sec--;
	}
	ts[0] = ts[1];
	if (fchown(fd, rec->uid, rec->gid) < 0)
		return fail(a, "fchown(%s, %" PRIu32 ", %" PRIu32 ") failed: %s",
			    target, rec->uid, rec->gid, strerror(errno));
	if (fchmod(fd, rec->mode & FILE_MODE_MASK) < 0)
		return fail(a, "fchmod(%s, %o) failed: %s", target,
			    rec->mode & FILE_MODE_MASK, strerror(errno));
	if (futimens(fd, ts) < 0)
		return fail(a, "futimens(%s) failed: %s", target, strerror(errno));
	return 0;
}

static void stage_free(struct repl_store *st, struct repl_stage **sgp)
{
	struct repl_stage *sg = *sgp;

	if (sg == NULL)
		return;
	if (!sg->placed && unlinkat(sg->dir_fd, sg->name, 0) < 0 && errno != ENOENT)
		mm_log_warn("replicator: unlink(%s/%s/%s) failed: %m", st->dir,
			    sg->dir_path, sg->name);
	close(sg->fd);
	close(sg->dir_fd);
	free(sg->name);
	free(sg->dir_path);
	mm_free(sgp);
}

/* Puts the stage at fpath/sub/name (folder fd ffd) as deliver does. */
static int place(struct apply *a, struct repl_stage *sg, const char *fpath,
		 int ffd, uint8_t sub, const char *name)
{
	const struct mm_journal_rec *rec = a->rec;
	char *target = mm_strdup_printf("%s/%s/%s", fpath, mm_sub_str(sub), name);
	char found[MM_NAME_MAX + 1];
	int fds[2] = { -1, -1 }, idx, ret;
	uint8_t hash[16];
	struct stat sb;

	if (stage_check(a, sg, target, hash) < 0 ||
	    open_msg_subs(a, ffd, fpath, fds) < 0) {
		ret = -1;
		goto out;
	}
	if (fds[0] < 0 || fds[1] < 0) {
		ret = fail(a, "%s: new/ or cur/ is missing", fpath);
		goto out;
	}
	if ((ret = find_msg(a, fds, fpath, sub, name, &idx, found)) < 0)
		goto out;
	if (ret > 0) {
		if (exists_at(fds[idx], found, &sb) <= 0) {
			ret = fail(a, "stat(%s/%s/%s) failed: %s", fpath, msg_subs[idx],
				   found, strerror(errno));
		} else if (!S_ISREG(sb.st_mode)) {
			ret = REPL_CONFLICT;
		} else if ((uint64_t)sb.st_size == rec->size) {
			ret = REPL_ALREADY;
		} else if (set_attrs(a, sg->fd, target) < 0) {
			ret = -1;
		} else if (msg_rename(a, sg->dir_fd, sg->name, fds[idx], found, true) < 0) {
			/* another size: a copy cut short (a power failure before
			   the batch's syncfs) is replaced by the verified
			   content, under the name later records gave it */
			ret = fail(a, "rename(%s/%s, %s/%s/%s) failed: %s", sg->dir_path,
				   sg->name, fpath, msg_subs[idx], found, strerror(errno));
		} else {
			sg->placed = true;
			note(a, fpath, msg_subs[idx], found);
			ret = REPL_APPLIED;
		}
		goto out;
	}
	if (set_attrs(a, sg->fd, target) < 0) {
		ret = -1;
	} else if (msg_rename(a, sg->dir_fd, sg->name, fds[sub_idx(sub)], name, false) < 0) {
		ret = errno == EEXIST ? REPL_ALREADY :
			fail(a, "rename(%s/%s, %s) failed: %s", sg->dir_path, sg->name,
			     target, strerror(errno));
	} else {
		sg->placed = true;
		note(a, target, NULL, NULL);
		ret = REPL_APPLIED;
	}
out:
	close_fds(fds, 2);
	free(target);
	return ret;
}

/* ops */

static int op_deliver(struct apply *a, struct repl_stage *sg)
{
	const struct mm_journal_rec *rec = a->rec;
	char *tmp;
	int ffd, ret;

	if (sg == NULL)
		return fail(a, "%s/%s/%s: deliver without its content", a->fpath,
			    mm_sub_str(rec->sub), rec->name);
	tmp = mm_strdup_printf("%s/tmp", a->fpath);
	ret = stage_dir_check(a, sg, tmp);
	free(tmp);
	if (ret < 0 || walk(a, a->fpath, MK_MAILDIR, &ffd) < 0)
		return -1;
	ret = place(a, sg, a->fpath, ffd, rec->sub, rec->name);
	close(ffd);
	return ret;
}

static int op_move(struct apply *a)
{
	const struct mm_journal_rec *rec = a->rec;
	char found[MM_NAME_MAX + 1];
	int fds[2] = { -1, -1 }, ffd, idx, tfd, ret;
	struct stat sb;

	if ((ret = walk(a, a->fpath, MK_NONE, &ffd)) <= 0)
		return ret < 0 ? -1 : REPL_MISSING;
	ret = open_msg_subs(a, ffd, a->fpath, fds);
	close(ffd);
	if (ret < 0)
		return -1;
	tfd = fds[sub_idx(rec->new_sub)];
	if (tfd < 0) {
		ret = REPL_MISSING;
	} else if ((ret = exists_at(tfd, rec->new_name, &sb)) != 0) {
		ret = ret > 0 ? REPL_ALREADY :
			fail(a, "stat(%s/%s/%s) failed: %s", a->fpath,
			     mm_sub_str(rec->new_sub), rec->new_name, strerror(errno));
	} else if ((ret = find_msg(a, fds, a->fpath, rec->sub, rec->name, &idx, found)) <= 0) {
		ret = ret < 0 ? -1 : REPL_MISSING;
	} else if (msg_rename(a, fds[idx], found, tfd, rec->new_name, false) < 0) {
		ret = errno == EEXIST ? REPL_ALREADY :
			fail(a, "rename(%s/%s/%s, %s/%s/%s) failed: %s", a->fpath,
			     msg_subs[idx], found, a->fpath, mm_sub_str(rec->new_sub),
			     rec->new_name, strerror(errno));
	} else {
		note(a, a->fpath, msg_subs[idx], found);
		note(a, a->fpath, mm_sub_str(rec->new_sub), rec->new_name);
		ret = REPL_APPLIED;
	}
	close_fds(fds, 2);
	return ret;
}

/* Keeps the message an expunge removes (repl-expunged.c) unless it was
   moved: never stops the expunge, so a full disk costs the kept copy,
   not the replica's agreement with its source. */
static void retain(struct apply *a, int dirfd, const char *found, int idx)
{
	const struct mm_journal_rec *rec = a->rec;
	const char *error;

	if (a->st->retain_dir == NULL ||
	    repl_moved_take(a->st->moved, rec->account, rec->folder, rec->name,
			    rec->time_ns))
		return;
	if (repl_expunged_keep(a->st->retain_dir, dirfd, found, rec->account, rec->folder,
			       idx == 0 ? MM_SUB_NEW : MM_SUB_CUR, found, rec->time_ns,
			       &error) < 0) {
		a->st->retain_failed++;
		mm_log_error("replicator: expunge of %s/%s/%s applied, but not retained: %s",
			     a->fpath, msg_subs[idx], found, error);
		return;
	}
	a->st->retained++;
}

static int op_expunge(struct apply *a)
{
	const struct mm_journal_rec *rec = a->rec;
	char found[MM_NAME_MAX + 1];
	int fds[2] = { -1, -1 }, ffd, idx, ret;

	if ((ret = walk(a, a->fpath, MK_NONE, &ffd)) <= 0)
		return ret < 0 ? -1 : REPL_ALREADY;
	ret = open_msg_subs(a, ffd, a->fpath, fds);
	close(ffd);
	if (ret < 0)
		return -1;
	if ((ret = find_msg(a, fds, a->fpath, rec->sub, rec->name, &idx, found)) <= 0) {
		ret = ret < 0 ? -1 : REPL_ALREADY;
	} else {
		retain(a, fds[idx], found, idx);
		if (msg_unlink(a, fds[idx], found) < 0) {
			ret = errno == ENOENT ? REPL_ALREADY :
				fail(a, "unlink(%s/%s/%s) failed: %s", a->fpath,
				     msg_subs[idx], found, strerror(errno));
		} else {
			note(a, a->fpath, msg_subs[idx], found);
			ret = REPL_APPLIED;
		}
	}
	close_fds(fds, 2);
	return ret;
}

static int op_copy(struct apply *a, struct repl_stage *sg)
{
	const struct mm_journal_rec *rec = a->rec;
	char found[MM_NAME_MAX + 1], tfound[MM_NAME_MAX + 1], *tmp;
	int sfds[2] = { -1, -1 }, tfds[2] = { -1, -1 }, ffd = -1, tffd = -1;
	int idx = 0, tidx, ret;
	bool have_src = false;

	if ((ret = walk(a, a->fpath, MK_NONE, &ffd)) < 0)
		return -1;
	if (ret > 0) {
		ret = open_msg_subs(a, ffd, a->fpath, sfds);
		close(ffd);
		if (ret < 0 ||
		    (ret = find_msg(a, sfds, a->fpath, rec->sub, rec->name, &idx, found)) < 0)
			goto out;
		have_src = ret > 0;
	}
	if (!have_src && sg != NULL) {
		/* not here (expunged since, or never received): the content came along */
		tmp = mm_strdup_printf("%s/tmp", a->nfpath);
		ret = stage_dir_check(a, sg, tmp);
		free(tmp);
		if (ret < 0 || walk(a, a->nfpath, MK_MAILDIR, &tffd) < 0) {
			ret = -1;
			goto out;
		}
		ret = place(a, sg, a->nfpath, tffd, rec->new_sub, rec->new_name);
		goto out;
	}
	if ((ret = walk(a, a->nfpath, MK_NONE, &tffd)) < 0)
		goto out;
	if (ret > 0) {
		if (open_msg_subs(a, tffd, a->nfpath, tfds) < 0 ||
		    (ret = find_msg(a, tfds, a->nfpath, rec->new_sub, rec->new_name,
				    &tidx, tfound)) < 0) {
			ret = -1;
			goto out;
		}
		if (ret > 0) {
			ret = REPL_ALREADY;
			goto out;
		}
		close_fds(tfds, 2);
		close(tffd);
		tffd = -1;
	}
	if (!have_src) {
		ret = REPL_MISSING;
		goto out;
	}
	if (walk(a, a->nfpath, MK_MAILDIR, &tffd) < 0 ||
	    open_msg_subs(a, tffd, a->nfpath, tfds) < 0) {
		ret = -1;
		goto out;
	}
	/* one file in two folders, as a link(2) or rename(2) on the source made it */
	if (msg_link(a, sfds[idx], found, tfds[sub_idx(rec->new_sub)], rec->new_name) == 0) {
		note(a, a->nfpath, mm_sub_str(rec->new_sub), rec->new_name);
		ret = REPL_APPLIED;
	} else if (errno == EEXIST) {
		ret = REPL_ALREADY;
	} else if (errno == EXDEV && sg != NULL) {
		tmp = mm_strdup_printf("%s/tmp", a->nfpath);
		ret = stage_dir_check(a, sg, tmp);
		free(tmp);
		if (ret == 0)
			ret = place(a, sg, a->nfpath, tffd, rec->new_sub, rec->new_name);
	} else {
		ret = fail(a, "link(%s/%s/%s, %s/%s/%s) failed: %s", a->fpath,
			   msg_subs[idx], found, a->nfpath, mm_sub_str(rec->new_sub),
			   rec->new_name, strerror(errno));
	}
out:
	close_fds(sfds, 2);
	close_fds(tfds, 2);
	if (tffd >= 0)
		close(tffd);
	return ret;
}

static int op_folder_create(struct apply *a)
{
	unsigned int before = a->nchanged;
	int fd;

	if (walk(a, a->fpath, MK_MAILDIR, &fd) < 0)
		return -1;
	close(fd);
	return a->nchanged > before ? REPL_APPLIED : REPL_ALREADY;
}

/* Opens path's parent (*pfd_r, -1 when missing) and says whether path is a
   directory in it: 1 yes, 0 no, -1 error (a symlink or a file is one). */
static int folder_exists(struct apply *a, const char *path, int *pfd_r)
{
	const char *slash = strrchr(path, '/');
	char *parent = mm_strndup(path, (size_t)(slash - path));
	struct stat sb;
	int ret;

	*pfd_r = -1;
	ret = walk(a, parent, MK_NONE, pfd_r);
	free(parent);
	if (ret <= 0)
		return ret;
	if ((ret = exists_at(*pfd_r, slash + 1, &sb)) < 0)
		return fail(a, "stat(%s) failed: %s", path, strerror(errno));
	if (ret > 0 && S_ISLNK(sb.st_mode))
		return fail(a, "%s: is a symbolic link (refused)", path);
	if (ret > 0 && !S_ISDIR(sb.st_mode))
		return fail(a, "%s: not a directory", path);
	return ret;
}

static int op_folder_rename(struct apply *a)
{
	int opfd = -1, npfd = -1, old, new, ret;

	if ((old = folder_exists(a, a->fpath, &opfd)) < 0 ||
	    (new = folder_exists(a, a->nfpath, &npfd)) < 0) {
		ret = -1;
	} else if (old > 0 && new > 0) {
		ret = REPL_CONFLICT;
	} else if (new > 0) {
		ret = REPL_ALREADY;
	} else if (old == 0) {
		ret = REPL_MISSING;
	} else {
		const char *nslash = strrchr(a->nfpath, '/');
		char *nparent = mm_strndup(a->nfpath, (size_t)(nslash - a->nfpath));

		/* LAYOUT=fs: the new parent may not be there yet */
		if (npfd < 0 && walk(a, nparent, MK_DIRS, &npfd) < 0) {
			ret = -1;
		} else if (rename_noreplace(opfd, strrchr(a->fpath, '/') + 1, npfd,
					    nslash + 1, true) < 0) {
			ret = errno == EEXIST || errno == ENOTEMPTY ? REPL_CONFLICT :
				fail(a, "rename(%s, %s) failed: %s", a->fpath, a->nfpath,
				     strerror(errno));
		} else {
			note(a, a->fpath, NULL, NULL);
			note(a, a->nfpath, NULL, NULL);
			ret = REPL_APPLIED;
		}
		free(nparent);
	}
	if (opfd >= 0)
		close(opfd);
	if (npfd >= 0)
		close(npfd);
	return ret;
}

/* Removes dirfd's entries: every file, and with dirs_too empty directories
   (a non-empty one is an error); without, directories stay. */
static int remove_entries(struct apply *a, int dirfd, const char *path, bool dirs_too)
{
	struct mm_buf names = { 0 };
	struct stat sb;
	int ret = 0;

	if (list_dir(a, dirfd, path, &names) < 0)
		return -1;
	for (size_t pos = 0; pos < names.len && ret == 0; ) {
		const char *n = (const char *)names.data + pos;
		int flags = 0;

		pos += strlen(n) + 1;
		if (exists_at(dirfd, n, &sb) <= 0)
			continue;
		if (S_ISDIR(sb.st_mode)) {
			if (!dirs_too)
				continue;
			flags = AT_REMOVEDIR;
		}
		if (unlinkat(dirfd, n, flags) < 0 && errno != ENOENT)
			ret = fail(a, "%s(%s/%s) failed: %s", flags ? "rmdir" : "unlink",
				   path, n, strerror(errno));
		else
			note(a, path, n, NULL);
	}
	mm_buf_free(&names);
	return ret;
}

static int dir_is_empty(struct apply *a, int dirfd, const char *path)
{
	struct mm_buf names = { 0 };
	int ret;

	if (list_dir(a, dirfd, path, &names) < 0)
		return -1;
	ret = names.len == 0 ? 1 : 0;
	mm_buf_free(&names);
	return ret;
}

static int op_folder_delete(struct apply *a)
{
	static const char *const subs[] = { "new", "cur", "tmp" };
	bool root = *a->rec->folder == '\0';
	unsigned int before = a->nchanged;
	int ffd, fds[3] = { -1, -1, -1 }, kfd, pfd = -1, ret;
	char *path;

	if ((ret = walk(a, a->fpath, MK_NONE, &ffd)) <= 0)
		return ret < 0 ? -1 : REPL_ALREADY;
	/* look at all three before removing anything: mail is never deleted */
	for (unsigned int i = 0; i < 3; i++) {
		if (open_child(a, ffd, a->fpath, subs[i], false, &fds[i]) < 0)
			goto fail;
	}
	for (unsigned int i = 0; i < 2; i++) {
		if (fds[i] < 0)
			continue;
		path = mm_strdup_printf("%s/%s", a->fpath, subs[i]);
		ret = dir_is_empty(a, fds[i], path);
		free(path);
		if (ret < 0)
			goto fail;
		if (ret == 0) {
			ret = REPL_CONFLICT;
			goto out;
		}
	}
	if (fds[2] >= 0) {
		path = mm_strdup_printf("%s/tmp", a->fpath);
		ret = remove_entries(a, fds[2], path, true);
		free(path);
		if (ret < 0)
			goto fail;
	}
	for (unsigned int i = 0; i < 3; i++) {
		if (fds[i] < 0)
			continue;
		if (unlinkat(ffd, subs[i], AT_REMOVEDIR) < 0 && errno != ENOENT) {
			fail(a, "rmdir(%s/%s) failed: %s", a->fpath, subs[i], strerror(errno));
			goto fail;
		}
		note(a, a->fpath, subs[i], NULL);
	}
	if (root)
		goto done;
	if ((ret = open_child(a, ffd, a->fpath, KEYWORDS_DIR, false, &kfd)) < 0)
		goto fail;
	if (ret > 0) {
		path = mm_strdup_printf("%s/" KEYWORDS_DIR, a->fpath);
		ret = remove_entries(a, kfd, path, false);
		free(path);
		close(kfd);
		if (ret < 0)
			goto fail;
		if (unlinkat(ffd, KEYWORDS_DIR, AT_REMOVEDIR) == 0)
			note(a, a->fpath, KEYWORDS_DIR, NULL);
	}
	if (remove_entries(a, ffd, a->fpath, false) < 0 ||
	    (ret = folder_exists(a, a->fpath, &pfd)) < 0)
		goto fail;
	if (ret > 0) {
		/* a LAYOUT=fs child folder keeps its parent's directory */
		if (unlinkat(pfd, strrchr(a->fpath, '/') + 1, AT_REMOVEDIR) == 0)
			note(a, a->fpath, NULL, NULL);
		else if (errno != ENOTEMPTY && errno != EEXIST && errno != ENOENT)
			ret = fail(a, "rmdir(%s) failed: %s", a->fpath, strerror(errno));
	}
	if (ret < 0)
		goto fail;
done:
	ret = a->nchanged > before ? REPL_APPLIED : REPL_ALREADY;
	goto out;
fail:
	ret = -1;
out:
	close_fds(fds, 3);
	if (pfd >= 0)
		close(pfd);
	close(ffd);
	return ret;
}

/* The metadata file's directory (fpath or fpath/DIR) and base name. */
static char *meta_dir(struct apply *a, const char **base_r)
{
	const char *name = a->rec->name, *slash = strchr(name, '/');

	if (slash == NULL) {
		*base_r = name;
		return mm_strdup(a->fpath);
	}
	*base_r = slash + 1;
	return mm_strdup_printf("%s/%.*s", a->fpath, (int)(slash - name), name);
}

/* 1 when dirfd/base already is the record's file: bytes (or, given hash,
   its hash), mode, owner, mtime. */
static int meta_same(struct apply *a, int dirfd, const char *base, const uint8_t *hash)
{
	const struct mm_journal_rec *rec = a->rec;
	struct stat sb, fsb;
	unsigned char buf[65536];
	uint8_t fhash[16];
	uint64_t size, off = 0;
	int fd, same = 0;

	if (exists_at(dirfd, base, &sb) <= 0 || !S_ISREG(sb.st_mode) ||
	    (uint64_t)sb.st_size != rec->size ||
	    (sb.st_mode & 07777) != (rec->mode & FILE_MODE_MASK) ||
	    sb.st_uid != rec->uid || sb.st_gid != rec->gid ||
	    (int64_t)sb.st_mtim.tv_sec * NS_PER_S + sb.st_mtim.tv_nsec != rec->mtime_ns)
		return 0;
	/* O_NONBLOCK: whatever is there may be a FIFO */
	fd = openat(dirfd, base, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return 0;
	if (fstat(fd, &fsb) < 0 || fsb.st_ino != sb.st_ino || fsb.st_dev != sb.st_dev) {
		close(fd);
		return 0;
	}
	if (hash != NULL) {
		same = mm_content_hash(fd, &size, fhash) == 0 && size == rec->size &&
			memcmp(fhash, hash, 16) == 0;
	} else {
		ssize_t n;

		same = 1;
		while (same && off < rec->data_len &&
		       (n = pread(fd, buf, sizeof(buf), (off_t)off)) > 0) {
			if ((uint64_t)n > rec->data_len - off ||
			    memcmp(buf, rec->data + off, (size_t)n) != 0)
				same = 0;
			off += (uint64_t)n;
		}
		if (off != rec->data_len)
			same = 0;
	}
	close(fd);
	return same;
}

static int write_all(int fd, const unsigned char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Writes rec->data to a new ".mmrepl." file in dirfd and renames it over
   base, so readers see the old file or the new one, never a mix. */
static int meta_write(struct apply *a, int dirfd, const char *dir, const char *base,
		      const char *target)
{
	const struct mm_journal_rec *rec = a->rec;
	char *tmp = mm_strdup_printf(STAGE_PREFIX "%" PRIu64 ".%ld.%" PRIu64, rec->lsn,
				     (long)a->st->pid, ++a->st->seq);
	int fd, ret = 0;

	fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		ret = fail(a, "open(%s/%s) failed: %s", dir, tmp, strerror(errno));
		free(tmp);
		return ret;
	}
	if (write_all(fd, rec->data, rec->data_len) < 0)
		ret = fail(a, "write(%s/%s) failed: %s", dir, tmp, strerror(errno));
	else if (set_attrs(a, fd, target) < 0)
		ret = -1;
	if (close(fd) < 0 && ret == 0)
		ret = fail(a, "close(%s/%s) failed: %s", dir, tmp, strerror(errno));
	if (ret == 0 && renameat(dirfd, tmp, dirfd, base) < 0)
		ret = fail(a, "rename(%s/%s, %s) failed: %s", dir, tmp, target, strerror(errno));
	if (ret < 0)
		unlinkat(dirfd, tmp, 0);
	free(tmp);
	return ret;
}

static int op_meta(struct apply *a, struct repl_stage *sg)
{
	const struct mm_journal_rec *rec = a->rec;
	const char *base;
	char *dir = meta_dir(a, &base);
	char *target = mm_strdup_printf("%s/%s", dir, base);
	uint8_t hash[16];
	struct stat sb;
	int dfd = -1, ret;

	if (rec->rflags & MM_RECF_DELETED) {
		if ((ret = walk(a, dir, MK_NONE, &dfd)) <= 0) {
			ret = ret < 0 ? -1 : REPL_ALREADY;
		} else if ((ret = exists_at(dfd, base, &sb)) <= 0) {
			ret = ret < 0 ? fail(a, "stat(%s) failed: %s", target, strerror(errno)) :
				REPL_ALREADY;
		} else if (S_ISDIR(sb.st_mode)) {
			ret = fail(a, "%s: is a directory", target);
		} else if (unlinkat(dfd, base, 0) < 0) {
			ret = fail(a, "unlink(%s) failed: %s", target, strerror(errno));
		} else {
			note(a, target, NULL, NULL);
			ret = REPL_APPLIED;
		}
		goto out;
	}
	if (sg != NULL) {
		if (stage_dir_check(a, sg, dir) < 0 || stage_check(a, sg, target, hash) < 0) {
			ret = -1;
			goto out;
		}
	} else if (rec->data_len != rec->size) {
		/* the source journals a file over the limit without its bytes */
		ret = rec->data_len == 0 && rec->size > MM_JOURNAL_DATA_MAX ? REPL_MISSING :
			fail(a, "%s: %" PRIu32 " bytes of data, the record says %" PRIu64,
			     target, rec->data_len, rec->size);
		goto out;
	}
	if (walk(a, dir, MK_DIRS, &dfd) < 0) {
		ret = -1;
	} else if (meta_same(a, dfd, base, sg != NULL ? hash : NULL)) {
		ret = REPL_ALREADY;
	} else if (sg == NULL) {
		ret = meta_write(a, dfd, dir, base, target);
	} else if (set_attrs(a, sg->fd, target) < 0) {
		ret = -1;
	} else if (renameat(sg->dir_fd, sg->name, dfd, base) < 0) {
		ret = fail(a, "rename(%s/%s, %s) failed: %s", sg->dir_path, sg->name,
			   target, strerror(errno));
	} else {
		sg->placed = true;
		ret = 0;
	}
	if (ret == 0) {
		note(a, target, NULL, NULL);
		ret = REPL_APPLIED;
	}
out:
	if (dfd >= 0)
		close(dfd);
	free(dir);
	free(target);
	return ret;
}

/* the store */

int repl_store_open(const char *store_dir, unsigned int account_depth,
		    struct repl_store **st_r, const char **error_r)
{
	struct repl_store *st;
	int fd;

	if (account_depth == 0 || account_depth > 16) {
		snprintf(open_err, sizeof(open_err), "account_depth %u is not 1..16",
			 account_depth);
		*error_r = open_err;
		return -1;
	}
	if ((fd = open(store_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		snprintf(open_err, sizeof(open_err), "open(%s) failed: %s", store_dir,
			 strerror(errno));
		*error_r = open_err;
		return -1;
	}
	st = mm_calloc(1, sizeof(*st));
	st->root_fd = fd;
	st->dir = mm_strdup(store_dir);
	st->account_depth = account_depth;
	st->pid = getpid();
	st->ids = repl_idcache_new(IDCACHE_DIRS);
	st->moved = repl_moved_new(REPL_MOVED_KEEP_NS);
	*st_r = st;
	return 0;
}

void repl_store_retain(struct repl_store *st, const char *dir)
{
	free(st->retain_dir);
	st->retain_dir = dir != NULL ? mm_strdup(dir) : NULL;
}

void repl_store_retained(const struct repl_store *st, uint64_t *kept_r, uint64_t *failed_r)
{
	*kept_r = st->retained;
	*failed_r = st->retain_failed;
}

void repl_store_close(struct repl_store **stp)
{
	struct repl_store *st = *stp;

	if (st == NULL)
		return;
	walked_clear(st);
	close(st->root_fd);
	free(st->dir);
	free(st->retain_dir);
	repl_moved_free(&st->moved);
	repl_idcache_free(&st->ids);
	repl_changes_free(&st->pending);
	mm_buf_free(&st->err);
	mm_free(stp);
}

int repl_store_sync(struct repl_store *st, const char **error_r)
{
	struct apply a = { .st = st };

	if (syncfs(st->root_fd) < 0) {
		fail(&a, "syncfs(%s) failed: %s", st->dir, strerror(errno));
		*error_r = mm_buf_str(&st->err);
		return -1;
	}
	return 0;
}

/* Unused strings may come as NULL from a caller that built rec itself. */
static void rec_normalize(const struct mm_journal_rec *rec, struct mm_journal_rec *r)
{
	*r = *rec;
	if (r->account == NULL)
		r->account = "";
	if (r->folder == NULL)
		r->folder = "";
	if (r->name == NULL)
		r->name = "";
	if (r->new_folder == NULL)
		r->new_folder = "";
	if (r->new_name == NULL)
		r->new_name = "";
}

static void apply_paths(struct apply *a)
{
	const struct mm_journal_rec *rec = a->rec;

	a->fpath = *rec->folder == '\0' ? mm_strdup(rec->account) :
		mm_strdup_printf("%s/%s", rec->account, rec->folder);
	a->nfpath = *rec->new_folder == '\0' ? mm_strdup(rec->account) :
		mm_strdup_printf("%s/%s", rec->account, rec->new_folder);
}

int repl_stage_open(struct repl_store *st, const struct mm_journal_rec *rec,
		    struct repl_stage **stage_r, int *fd_r, const char **error_r)
{
	struct mm_journal_rec r;
	struct apply a = { .st = st, .rec = &r, .changes = &st->pending, .rec_owner = true };
	struct repl_stage *sg;
	const char *base;
	char *dir = NULL, *name;
	int dfd = -1, tfd, fd, ret = -1;

	rec_normalize(rec, &r);
	apply_paths(&a);
	if (check_rec(&a) < 0 || check_owner(&a) < 0)
		goto out;
	switch (r.op) {
	case MM_OP_DELIVER:
	case MM_OP_COPY:
		dir = mm_strdup(r.op == MM_OP_DELIVER ? a.fpath : a.nfpath);
		if (walk(&a, dir, MK_MAILDIR, &fd) < 0)
			goto out;
		ret = open_child(&a, fd, dir, "tmp", true, &tfd);
		close(fd);
		if (ret < 0)
			goto out;
		dfd = tfd;
		free(dir);
		dir = mm_strdup_printf("%s/tmp", r.op == MM_OP_DELIVER ? a.fpath : a.nfpath);
		break;
	case MM_OP_META:
		if (r.rflags & MM_RECF_DELETED) {
			fail(&a, "%s/%s: a removed metadata file has no content", a.fpath, r.name);
			goto out;
		}
		dir = meta_dir(&a, &base);
		if (walk(&a, dir, MK_DIRS, &dfd) < 0)
			goto out;
		break;
	default:
		fail(&a, "%s/%s: %s records carry no content", a.fpath, r.name, mm_op_str(r.op));
		goto out;
	}
	name = mm_strdup_printf(STAGE_PREFIX "%" PRIu64 ".%ld.%" PRIu64, r.lsn,
				(long)st->pid, ++st->seq);
	fd = openat(dfd, name, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		fail(&a, "open(%s/%s) failed: %s", dir, name, strerror(errno));
		free(name);
		ret = -1;
		goto out;
	}
	sg = mm_calloc(1, sizeof(*sg));
	sg->fd = fd;
	sg->dir_fd = dfd;
	sg->name = name;
	sg->dir_path = dir;
	dfd = -1;
	dir = NULL;
	*stage_r = sg;
	*fd_r = fd;
	ret = 0;
out:
	if (dfd >= 0)
		close(dfd);
	free(dir);
	free(a.fpath);
	free(a.nfpath);
	if (ret < 0)
		*error_r = mm_buf_str(&st->err);
	return ret < 0 ? -1 : 0;
}

void repl_stage_hashed(struct repl_stage *sg, uint64_t size, const uint8_t hash[16])
{
	sg->hashed = true;
	sg->size = size;
	memcpy(sg->hash, hash, 16);
}

void repl_stage_abort(struct repl_store *st, struct repl_stage **stagep)
{
	stage_free(st, stagep);
}

int repl_apply(struct repl_store *st, const struct mm_journal_rec *rec,
	       struct repl_stage **stagep, struct repl_changes *changes,
	       const char **error_r)
{
	struct mm_journal_rec r;
	struct apply a = { .st = st, .rec = &r, .changes = changes };
	struct repl_stage *sg = stagep != NULL ? *stagep : NULL;
	int ret;

	if (changes != NULL && st->pending.count > 0) {
		mm_buf_append(&changes->buf, st->pending.buf.data, st->pending.buf.len);
		changes->count += st->pending.count;
	}
	repl_changes_reset(&st->pending);
	rec_normalize(rec, &r);
	apply_paths(&a);
	if (check_rec(&a) < 0) {
		ret = -1;
		goto out;
	}
	switch (r.op) {
	case MM_OP_DELIVER:
		/* maybe a move's first half (Dovecot links into tmp/, renames) */
		repl_moved_note(st->moved, r.account, r.folder, r.name, r.time_ns);
		a.rec_owner = true;
		if (check_owner(&a) < 0) {
			ret = -1;
		} else if (r.rflags & MM_RECF_RESYNC) {
			/* a resync says what the file is called now: the message
			   under another name (other flags) is renamed to it, and
			   only a missing one is placed */
			r.new_folder = r.folder;
			r.new_sub = r.sub;
			r.new_name = r.name;
			ret = op_move(&a);
			/* MM_RECF_HAVE: the peer listed it, no content came; gone
			   since then, it stays missing until the next resync */
			if (ret == REPL_MISSING && !(r.rflags & MM_RECF_HAVE))
				ret = op_deliver(&a, sg);
		} else {
			ret = op_deliver(&a, sg);
		}
		break;
	case MM_OP_MOVE:
	case MM_OP_FLAGS:
		ret = op_move(&a);
		break;
	case MM_OP_EXPUNGE:
		ret = op_expunge(&a);
		break;
	case MM_OP_COPY:
		/* a move's first half: an expunge of the source follows */
		repl_moved_note(st->moved, r.account, r.new_folder, r.new_name, r.time_ns);
		/* only content makes the record's owner that of new directories */
		a.rec_owner = sg != NULL;
		ret = check_owner(&a) < 0 ? -1 : op_copy(&a, sg);
		break;
	case MM_OP_FOLDER_CREATE:
		/* mailmesh-fs records the folder directory's mode and owner;
		   a record without them (mode 0) leaves the parent's owner */
		a.rec_owner = r.mode != 0;
		ret = a.rec_owner && check_owner(&a) < 0 ? -1 : op_folder_create(&a);
		break;
	case MM_OP_FOLDER_RENAME:
		walked_clear(st);
		ret = op_folder_rename(&a);
		walked_clear(st);
		break;
	case MM_OP_FOLDER_DELETE:
		walked_clear(st);
		ret = op_folder_delete(&a);
		walked_clear(st);
		break;
	case MM_OP_META:
		a.rec_owner = !(r.rflags & MM_RECF_DELETED);
		ret = a.rec_owner && check_owner(&a) < 0 ? -1 : op_meta(&a, sg);
		break;
	default:
		mm_panic("repl_apply: op %d passed check_rec", (int)r.op);
	}
out:
	if (stagep != NULL)
		stage_free(st, stagep);
	free(a.fpath);
	free(a.nfpath);
	if (ret < 0)
		*error_r = mm_buf_str(&st->err);
	return ret;
}
