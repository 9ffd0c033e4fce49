/* SPDX-License-Identifier: MIT
 * repl-fence.c - epochs at the receiving end: the epochs this store knows
 * per account (STATE/replication/epochs, appended as they are learnt,
 * synced before a cursor moves), the stale check with its log and count.
 * The decision and the file's lines are repl-epoch.c's; what a session
 * does with a stale record is repl-session.c's. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "log.h"
#include "mem.h"
#include "repl-epoch.h"
#include "repl.h"

/* (peer, account) pairs whose stale records were logged; past this many
   the set starts again (and logs each pair once more) */
#define LOGGED_MAX 4096

static char *epochs_path(const struct repl_daemon *d)
{
	return mm_strdup_printf("%s/epochs", d->cursor_dir);
}

/* Replaces the file with what t holds: a new file, synced, renamed over
   it, the directory synced. 0 or -1 (logged). */
static int epochs_rewrite(struct repl_daemon *d)
{
	char *path = epochs_path(d), *tmp = mm_strdup_printf("%s.tmp", path);
	struct mm_buf text = { 0 };
	int fd, ret = -1;

	repl_epochs_format(d->epochs, &text);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, text.data, text.len) != (ssize_t)text.len || fsync(fd) < 0) {
		mm_log_error("replication: writing %s failed: %m", tmp);
	} else if (rename(tmp, path) < 0) {
		mm_log_error("replication: rename(%s, %s) failed: %m", tmp, path);
	} else {
		int dfd = open(d->cursor_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		if (dfd < 0 || fsync(dfd) < 0)
			mm_log_error("replication: fsync(%s) failed: %m", d->cursor_dir);
		else
			ret = 0;
		if (dfd >= 0)
			close(dfd);
	}
	if (fd >= 0)
		close(fd);
	if (ret < 0)
		unlink(tmp);
	mm_buf_free(&text);
	free(tmp);
	free(path);
	return ret;
}

void repl_fence_start(struct repl_daemon *d)
{
	char *path = epochs_path(d);
	struct repl_epochs_parsed res = { 0 };
	struct mm_buf data = { 0 };
	char chunk[65536];
	ssize_t n = 0;
	int fd;

	d->epochs = repl_epochs_new();
	d->epochs_fd = -1;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 && errno != ENOENT)
		mm_log_error("replication: open(%s) failed: %m; the epochs learnt before "
			     "are forgotten", path);
	while (fd >= 0 && (n = read(fd, chunk, sizeof(chunk))) > 0)
		mm_buf_append(&data, chunk, (size_t)n);
	if (fd >= 0) {
		if (n < 0)
			mm_log_error("replication: read(%s) failed: %m; what was read is used",
				     path);
		close(fd);
		repl_epochs_parse(d->epochs, (const char *)data.data, data.len, &res);
		if (res.bad > 0)
			mm_log_error("replication: %s: %zu bad line(s) (the first: line %zu) "
				     "skipped; %zu epoch(s) read", path, res.bad, res.first_bad,
				     res.lines);
		if (res.torn)
			mm_log_info("replication: %s: a torn last line (a crash while it was "
				    "written) skipped", path);
	}
	/* a new file, bad or torn lines, or lines superseded by newer epochs:
	   write it whole again */
	if (fd < 0 || !res.header || res.bad > 0 || res.torn ||
	    res.lines > repl_epochs_count(d->epochs) + repl_epochs_count(d->epochs) / 2 + 64)
		epochs_rewrite(d);
	d->epochs_fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
	if (d->epochs_fd < 0)
		mm_log_error("replication: open(%s) failed: %m; epochs learnt from now on are "
			     "not kept across a restart", path);
	mm_log_debug("replication: %zu epoch(s) known from %s", repl_epochs_count(d->epochs),
		     path);
	mm_buf_free(&data);
	free(path);
}

void repl_fence_stop(struct repl_daemon *d)
{
	const char *error;

	if (repl_fence_sync(d, &error) < 0)
		mm_log_error("replication: %s", error);
	if (d->epochs_fd >= 0)
		close(d->epochs_fd);
	d->epochs_fd = -1;
	repl_epochs_free(&d->epochs);
	for (size_t i = 0; i < d->n_stale_logged; i++)
		free(d->stale_logged[i]);
	mm_free(&d->stale_logged);
	d->n_stale_logged = 0;
}

void repl_fence_learn(struct repl_daemon *d, const char *account, uint64_t epoch)
{
	struct mm_buf line = { 0 };

	if (d->epochs == NULL || !repl_epochs_note(d->epochs, account, epoch))
		return;
	if (d->epochs_fd < 0)
		return;
	repl_epochs_line(&line, account, epoch);
	if (write(d->epochs_fd, line.data, line.len) != (ssize_t)line.len)
		mm_log_error("replication: appending to %s/epochs failed: %m; epoch %" PRIu64
			     " of %s is known until a restart", d->cursor_dir, epoch, account);
	else
		d->epochs_dirty = true;
	mm_buf_free(&line);
}

int repl_fence_sync(struct repl_daemon *d, const char **error_r)
{
	static char err[512];

	if (!d->epochs_dirty)
		return 0;
	if (fdatasync(d->epochs_fd) < 0) {
		snprintf(err, sizeof(err), "fdatasync(%s/epochs) failed: %s", d->cursor_dir,
			 strerror(errno));
		*error_r = err;
		return -1;
	}
	d->epochs_dirty = false;
	return 0;
}

bool repl_fence_stale(struct repl_daemon *d, const struct mm_journal_rec *rec,
		      uint64_t *newer_r)
{
	const uint64_t *known;
	size_t n;

	if (rec->epoch == 0 || d->epochs == NULL)
		return false;
	/* this store's own epoch of the account, when it is active here */
	repl_fence_learn(d, rec->account, repl_acct_epoch(d, rec->account));
	known = repl_epochs_get(d->epochs, rec->account, &n);
	return repl_epoch_stale(rec->epoch, rec->time_ns, known, n, newer_r);
}

/* true the first time for this (peer, account) */
static bool first_of_pair(struct repl_daemon *d, const char *peer, const char *account)
{
	char *key = mm_strdup_printf("%s\n%s", peer, account);
	size_t lo = 0, hi = d->n_stale_logged;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(key, d->stale_logged[mid]);

		if (c == 0) {
			free(key);
			return false;
		}
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	if (d->n_stale_logged == LOGGED_MAX) {
		for (size_t i = 0; i < d->n_stale_logged; i++)
			free(d->stale_logged[i]);
		d->n_stale_logged = 0;
		lo = 0;
	}
	d->stale_logged = mm_realloc(d->stale_logged,
				     (d->n_stale_logged + 1) * sizeof(*d->stale_logged));
	memmove(d->stale_logged + lo + 1, d->stale_logged + lo,
		(d->n_stale_logged - lo) * sizeof(*d->stale_logged));
	d->stale_logged[lo] = key;
	d->n_stale_logged++;
	return true;
}

void repl_fence_refused(struct repl_daemon *d, const char *peer,
			const struct mm_journal_rec *rec, uint64_t newer, const char *outcome)
{
	char what[1024];

	d->n_stale++;
	snprintf(what, sizeof(what), "replication: record LSN %" PRIu64 " of %s for %s (%s) "
		 "written under epoch %" PRIu64 " at time %" PRIu64 ", %.3f s after epoch %"
		 PRIu64 " began: refused (split brain?); %s", rec->lsn, peer, rec->account,
		 mm_op_str(rec->op), rec->epoch, rec->time_ns,
		 (double)(rec->time_ns - newer) / 1e9, newer, outcome);
	if (first_of_pair(d, peer, rec->account))
		mm_log_error("%s; further ones of this peer and account are logged at debug "
			     "level", what);
	else
		mm_log_debug("%s", what);
}
