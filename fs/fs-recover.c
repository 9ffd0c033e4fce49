/* SPDX-License-Identifier: MIT
 * fs-recover.c - start-up recovery: a record left PENDING by a crash is
 * committed if the store shows its operation happened, aborted if not. */
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

/* Did rec's operation reach the store? */
static bool rec_visible(int root_fd, const struct mm_journal_rec *r)
{
	switch (r->op) {
	case MM_OP_DELIVER:
		return exists(root_fd, r->account, r->folder, r->sub, r->name);
	case MM_OP_COPY:
		return exists(root_fd, r->account, r->new_folder, r->new_sub, r->new_name);
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

int fs_recover(struct fs *fs, const char **error_r)
{
	struct mm_journal_ref *refs;
	struct mm_buf buf = { 0 };
	unsigned int committed = 0, aborted = 0;
	size_t n;

	mm_journal_pending(fs->journal, &refs, &n);
	for (size_t i = 0; i < n; i++) {
		struct mm_journal_rec rec;
		bool vis;

		if (mm_journal_read_ref(fs->journal, &refs[i], &buf, &rec, error_r) < 0) {
			mm_buf_free(&buf);
			return -1;
		}
		vis = rec_visible(fs->root_fd, &rec);
		if (rec.op == MM_OP_DELIVER) {
			if (vis) {
				char *p = store_path(rec.account, rec.folder, rec.sub, rec.name);
				int ret = mm_journal_content_link(fs->journal, &refs[i],
								  fs->root_fd, p);

				if (ret < 0)
					mm_log_warn("recovery: LSN %" PRIu64 ": content link of %s: %s",
						    rec.lsn, p, strerror(-ret));
				free(p);
			} else {
				mm_journal_content_unlink(fs->journal, &refs[i]);
			}
		}
		mm_log_info("recovery: LSN %" PRIu64 " %s %s/%s/%s: %s", rec.lsn,
			    mm_op_str(rec.op), rec.account, rec.folder, rec.name,
			    vis ? "happened, committed" : "did not happen, aborted");
		mm_journal_finish(fs->journal, &refs[i],
				  vis ? MM_REC_COMMITTED : MM_REC_ABORTED);
		if (vis)
			committed++;
		else
			aborted++;
	}
	mm_journal_pending_done(fs->journal);
	mm_buf_free(&buf);
	if (n > 0) {
		mm_log_info("recovery: %zu unfinished records: %u committed, %u aborted",
			    n, committed, aborted);
		if (mm_journal_sync(fs->journal, mm_journal_last_lsn(fs->journal)) < 0) {
			*error_r = "cannot make recovered journal durable";
			return -1;
		}
	}
	return 0;
}
