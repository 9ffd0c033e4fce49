/* SPDX-License-Identifier: MIT
 * fs.h - the state one mailmesh-fs process shares between its FUSE
 * handlers (fs-ops.c), control socket (fs-ctl.c) and recovery (fs-recover.c). */
#ifndef FS_H
#define FS_H
#define FUSE_USE_VERSION 314
#include <fuse_lowlevel.h>
#include <pthread.h>
#include <stdbool.h>
#include <sys/stat.h>
#include "cfg.h"
#include "classify.h"
#include "journal-file.h"

/* A backing file or directory the kernel knows, kept open as O_PATH. */
struct fs_inode {
	int fd;
	dev_t dev;
	ino_t ino;
	uint64_t nlookup;
	bool is_dir;
	bool msgdir;		/* a folder's new/ or cur/: its files are messages */
	bool msgfile;		/* a message: content never changes, cache it */
	/* size and mtime of the content last journaled for this inode, so
	   a flush after a rename that already journaled it adds nothing */
	bool stamped;
	uint64_t stamp_size;
	int64_t stamp_mtime_ns;
	/* writes being served, and the end of the last one the kernel may
	   not have applied to its i_size yet (fs->size_mtx; size_guard()) */
	unsigned wr_busy;
	off_t wr_end;
	struct fs_inode *hnext;
};

struct fs {
	struct mm_cfg *cfg;
	struct mm_rules *rules;
	struct mm_journal *journal;
	struct fuse_session *se;

	int root_fd;		/* O_PATH of the store */
	char *root_path;	/* realpath of the store */
	size_t root_len;
	struct fs_inode root;

	pthread_mutex_t itab_mtx;
	struct fs_inode **itab;
	size_t itab_size, itab_count;

	pthread_mutex_t size_mtx;

	pthread_rwlock_t acct_lock;
	char **ro_accounts;
	size_t n_ro_accounts;
	/* Fenced ([hbmon] listen set): only the accounts mailmesh-hbmon says
	   are active here (STATE/roles) are writable, and only until
	   lease_deadline_ns (CLOCK_MONOTONIC). Under acct_lock. */
	bool fenced;
	char **active;
	uint64_t *active_epochs;	/* parallel to active: each one's epoch,
					   stamped on the records written for it */
	size_t n_active;
	uint64_t roles_gen, lease_deadline_ns;
	/* Accounts mailmesh-hbmon said are active here when asked (a new
	   account: STATE/roles does not name it yet), each writable until its
	   own deadline. Under acct_lock. */
	struct fs_claim *claims;
	size_t n_claims;
	/* mailmesh-replicator's pid, from its control connections ("writable",
	   "replicator"): its late merges through the mount do not wait for
	   sync-mode acknowledgements, which it would have to give itself */
	pid_t repl_pid;

	/* kernel cache lifetimes, seconds */
	double msg_timeout, dir_timeout, neg_timeout;

	/* counters for the control socket's status */
	uint64_t n_journaled, n_refused_ro, n_errors, n_sync_timeouts;
	uint64_t n_op[MM_OP_LAST + 1];	/* journaled and done, per op */
};

/* One account asked of mailmesh-hbmon (fs_claim() in fs-ops.c). */
struct fs_claim {
	char *account;
	uint64_t until_ns;	/* CLOCK_MONOTONIC; 0: not active here */
	uint64_t epoch;		/* its epoch when hbmon said active; 0 until then */
	uint64_t asked_ns;	/* asked at most once a second per account */
};

extern const struct fuse_lowlevel_ops fs_ops;

int fs_init(struct fs *fs, struct mm_cfg *cfg, const char **error_r);
void fs_deinit(struct fs *fs);
/* Reloads STATE/accounts. 0 or -1 with *error_r. */
int fs_accounts_reload(struct fs *fs, const char **error_r);
/* mailmesh-hbmon's "roles GEN DEADLINE_NS": reloads STATE/roles when its
   generation is not GEN, then sets the deadline, at once for both.
   0 or -1 with *error_r (then every account is fenced). */
int fs_roles(struct fs *fs, uint64_t gen, uint64_t deadline_ns, const char **error_r);
/* Whether a write to account would be accepted now (its mode, and when
   fenced its role and the deadline). Any thread. */
bool fs_account_writable(struct fs *fs, const char *account);
/* Tells the kernel that relpath changed behind the mount (the replicator):
   drops its entry and the attributes of it and its directory. */
int fs_invalidate(struct fs *fs, const char *relpath, const char **error_r);
/* Journals the message or metadata file at relpath (store-relative, in a
   read-write account) as it is here: a message as a flags record from its
   name to the same name, a metadata file whole (or its removal), so that
   every replica takes this store's version (the replicator, when a late
   record lost to a later change here). 0 or -1 with *error_r. */
int fs_reassert(struct fs *fs, const char *relpath, const char **error_r);

/* fs-recover.c: decides each PENDING record found at start-up from what
   the store shows, and relinks missing content. */
int fs_recover(struct fs *fs, const char **error_r);

/* fs-ctl.c: the control socket STATE/control.sock */
int fs_ctl_start(struct fs *fs, const char **error_r);
void fs_ctl_stop(void);

#endif
