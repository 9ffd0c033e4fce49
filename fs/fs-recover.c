/* SPDX-License-Identifier: MIT
 * fs-recover.c - start-up recovery: a record left PENDING by a crash is
 * committed if the store shows its operation happened, aborted if not. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "fs.h"
#include "log.h"
#include "mem.h"

static char *store_path(const char *account, const char *folder, uint8_t sub,
			const char *name)
{
	struct mm_buf b = { 0 };

	mm_buf_puts(&b, account);
	if (*folder != '\0')
		mm_buf_printf(&b, "/%s", folder);
	if (sub != MM_SUB_NONE)
		mm_buf_printf(&b, "/%s", mm_sub_str(sub));
	if (name != NULL && *name != '\0')
		mm_buf_printf(&b, "/%s", name);
	return (char *)b.data;
}

static bool exists_at(int root_fd, const char *path)
{
	struct stat st;

	return fstatat(root_fd, path, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

static bool exists(int root_fd, const char *account, const char *folder,
		   uint8_t sub, const char *name)
{
	char *p = store_path(account, folder, sub, name);
	bool ret = exists_at(root_fd, p);

	free(p);
	return ret;
}

static bool folder_complete(int root_fd, const char *account, const char *folder)
{
	return exists(root_fd, account, folder, MM_SUB_CUR, NULL) &&
		exists(root_fd, account, folder, MM_SUB_NEW, NULL) &&
		exists(root_fd, account, folder, MM_SUB_TMP, NULL);
}

static bool meta_matches(int root_fd, const struct mm_journal_rec *rec)
{
	char *p = store_path(rec->account, rec->folder, MM_SUB_NONE, rec->name);
	int fd = openat(root_fd, p, O_RDONLY | O_CLOEXEC);
	unsigned char *buf;
	bool ret = false;
	ssize_t n;

	free(p);
	if (fd < 0)
		return false;
	buf = mm_malloc(rec->data_len + 1);
	n = pread(fd, buf, rec->data_len + 1, 0);
	ret = n == (ssize_t)rec->data_len &&
		(rec->data_len == 0 || memcmp(buf, rec->data, rec->data_len) == 0);
	free(buf);
	close(fd);
	return ret;
}

/* Is a message with name's identity in account/folder (new/ or cur/)? */
static bool identity_in_folder(int root_fd, const char *account, const char *folder,
			       const char *name)
{
	static const uint8_t subs[] = { MM_SUB_NEW, MM_SUB_CUR };
	size_t base = strcspn(name, ":");
	bool found = false;

	for (size_t i = 0; i < 2 && !found; i++) {
		char *p = store_path(account, folder, subs[i], NULL);
		int fd = openat(root_fd, p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		struct dirent *de;
		DIR *d;

		free(p);
		if (fd < 0 || (d = fdopendir(fd)) == NULL) {
			if (fd >= 0)
				close(fd);
			continue;
		}
		while (!found && (de = readdir(d)) != NULL)
			found = strcspn(de->d_name, ":") == base &&
				strncmp(de->d_name, name, base) == 0;
		closedir(d);
	}
	return found;
}

/* A record of the journal's tail, with its status once decided. */
struct tail_rec {
	uint64_t lsn;
	enum mm_op op;
	uint8_t status;
	char *account, *folder, *name;	/* the message it starts from */
	struct mm_journal_ref *pending;	/* NULL when it was not pending */
};

/* Does a later record that happened start from this message? (Then the
   message existed: a move, flag change, copy or expunge of it happened.) */
static bool later_use(const struct tail_rec *tail, size_t n, size_t i,
		      const char *account, const char *folder, const char *name)
{
	size_t base = strcspn(name, ":");

	for (size_t k = i + 1; k < n; k++) {
		const struct tail_rec *t = &tail[k];

		if (t->status != MM_REC_COMMITTED)
			continue;
		if (t->op != MM_OP_MOVE && t->op != MM_OP_FLAGS &&
		    t->op != MM_OP_EXPUNGE && t->op != MM_OP_COPY)
			continue;
		if (strcmp(t->account, account) == 0 && strcmp(t->folder, folder) == 0 &&
		    strcspn(t->name, ":") == base && strncmp(t->name, name, base) == 0)
			return true;
	}
	return false;
}

/* Did rec's operation reach the store? */
static bool rec_visible(int root_fd, const struct mm_journal_rec *r,
			const struct tail_rec *tail, size_t n, size_t i)
{
	switch (r->op) {
	case MM_OP_DELIVER:
		return exists(root_fd, r->account, r->folder, r->sub, r->name) ||
			identity_in_folder(root_fd, r->account, r->folder, r->name) ||
			later_use(tail, n, i, r->account, r->folder, r->name);
	case MM_OP_COPY:
		return exists(root_fd, r->account, r->new_folder, r->new_sub, r->new_name) ||
			identity_in_folder(root_fd, r->account, r->new_folder, r->new_name) ||
			later_use(tail, n, i, r->account, r->new_folder, r->new_name);
	case MM_OP_MOVE:
	case MM_OP_FLAGS:
	case MM_OP_EXPUNGE:
		/* the old name is gone: the rename (or unlink) happened */
		return !exists(root_fd, r->account, r->folder, r->sub, r->name);
	case MM_OP_FOLDER_CREATE:
		return folder_complete(root_fd, r->account, r->folder);
	case MM_OP_FOLDER_DELETE:
		return !folder_complete(root_fd, r->account, r->folder);
	case MM_OP_FOLDER_RENAME:
		return !exists(root_fd, r->account, r->folder, MM_SUB_NONE, NULL) &&
			exists(root_fd, r->account, r->new_folder, MM_SUB_NONE, NULL);
	case MM_OP_META:
		if (r->rflags & MM_RECF_DELETED)
			return !exists(root_fd, r->account, r->folder, MM_SUB_NONE, r->name);
		return meta_matches(root_fd, r);
	}
	return false;
}

/* Reads every record from the first pending one to the end (raw: pending
   and aborted too) and ties each pending ref to its record. */
static int load_tail(struct fs *fs, struct mm_journal_ref *refs, size_t nrefs,
		     struct tail_rec **tail_r, size_t *n_r, const char **error_r)
{
	struct mm_journal_reader *r;
	struct mm_journal_rec rec;
	struct tail_rec *tail = NULL;
	size_t n = 0, k = 0;
	int ret;

	if (mm_journal_reader_open(fs->cfg->state, refs[0].lsn, &r, error_r) < 0)
		return -1;
	mm_journal_reader_set_raw(r, true);
	while ((ret = mm_journal_reader_next(r, &rec, error_r)) != 0) {
		if (ret < 0) {
			mm_log_error("recovery: %s", *error_r);
			continue;
		}
		tail = mm_realloc(tail, (n + 1) * sizeof(*tail));
		memset(&tail[n], 0, sizeof(tail[n]));
		tail[n].lsn = rec.lsn;
		tail[n].op = rec.op;
		tail[n].status = rec.status;
		tail[n].account = mm_strdup(rec.account);
		tail[n].folder = mm_strdup(rec.folder);
		tail[n].name = mm_strdup(rec.name);
		while (k < nrefs && refs[k].lsn < rec.lsn)
			k++;
		if (k < nrefs && refs[k].lsn == rec.lsn)
			tail[n].pending = &refs[k];
		n++;
	}
	mm_journal_reader_close(&r);
	*tail_r = tail;
	*n_r = n;
	return 0;
}

static void tail_free(struct tail_rec *tail, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(tail[i].account);
		free(tail[i].folder);
		free(tail[i].name);
	}
	free(tail);
}

static int ref_cmp(const void *a, const void *b)
{
	const struct mm_journal_ref *x = a, *y = b;

	return x->lsn < y->lsn ? -1 : x->lsn > y->lsn;
}

int fs_recover(struct fs *fs, const char **error_r)
{
	struct mm_journal_ref *refs;
	struct mm_buf buf = { 0 };
	struct tail_rec *tail = NULL;
	unsigned int committed = 0, aborted = 0;
	size_t n, ntail = 0;

	mm_journal_pending(fs->journal, &refs, &n);
	if (n == 0)
		return 0;
	qsort(refs, n, sizeof(*refs), ref_cmp);
	if (load_tail(fs, refs, n, &tail, &ntail, error_r) < 0)
		return -1;
	/* latest first: whether a delivery happened can depend on whether a
	   later move or expunge of the same message did */
	for (size_t i = ntail; i-- > 0;) {
		struct mm_journal_ref *ref = tail[i].pending;
		struct mm_journal_rec rec;
		bool vis;

		if (ref == NULL)
			continue;
		if (mm_journal_read_ref(fs->journal, ref, &buf, &rec, error_r) < 0)
			goto fail;
		vis = rec_visible(fs->root_fd, &rec, tail, ntail, i);
		tail[i].status = vis ? MM_REC_COMMITTED : MM_REC_ABORTED;
		if (rec.op == MM_OP_DELIVER) {
			char *p = store_path(rec.account, rec.folder, rec.sub, rec.name);
			int ret = vis ? mm_journal_content_link(fs->journal, ref, fs->root_fd, p) : 0;

			if (!vis)
				mm_journal_content_unlink(fs->journal, ref);
			else if (ret < 0 && ret != -ENOENT)
				mm_log_warn("recovery: LSN %" PRIu64 ": content link of %s: %s",
					    rec.lsn, p, strerror(-ret));
			free(p);
		}
		mm_log_info("recovery: LSN %" PRIu64 " %s %s/%s/%s: %s", rec.lsn,
			    mm_op_str(rec.op), rec.account, rec.folder, rec.name,
			    vis ? "happened, committed" : "did not happen, aborted");
		mm_journal_finish(fs->journal, ref, tail[i].status);
		if (vis)
			committed++;
		else
			aborted++;
	}
	mm_log_info("recovery: %zu unfinished records: %u committed, %u aborted",
		    n, committed, aborted);
	if (committed + aborted != n) {
		*error_r = "pending records missing from the journal scan";
		goto fail;
	}
	mm_journal_pending_done(fs->journal);
	tail_free(tail, ntail);
	mm_buf_free(&buf);
	if (mm_journal_sync(fs->journal, mm_journal_last_lsn(fs->journal)) < 0) {
		*error_r = "cannot make recovered journal durable";
		return -1;
	}
	return 0;
fail:
	tail_free(tail, ntail);
	mm_buf_free(&buf);
	return -1;
}
