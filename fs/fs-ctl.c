/* SPDX-License-Identifier: MIT
 * fs-ctl.c - the control socket STATE/control.sock: one line in, one line
 * out (or "batch" and many), for mailmeshctl (account modes, status) and
 * the replicator (cache invalidation after it changed the store). Root
 * only (mode 0600). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include "fs.h"
#include "log.h"
#include "mem.h"

static int ctl_listen_fd = -1;
static int ctl_stop_pipe[2] = { -1, -1 };
static pthread_t ctl_thread;
static struct fs *ctl_fs;

static void ctl_handle(struct fs *fs, char *line, char *out, size_t outsize)
{
	const char *error;

	line[strcspn(line, "\r\n")] = '\0';
	if (strcmp(line, "ping") == 0) {
		snprintf(out, outsize, "ok pong\n");
	} else if (strcmp(line, "reload-accounts") == 0) {
		if (fs_accounts_reload(fs, &error) < 0) {
			mm_log_error("ctl: reload-accounts: %s", error);
			snprintf(out, outsize, "error %s\n", error);
		} else {
			mm_log_info("ctl: account modes reloaded: %zu read-only",
				    fs->n_ro_accounts);
			snprintf(out, outsize, "ok %zu read-only\n", fs->n_ro_accounts);
		}
	} else if (strncmp(line, "roles ", 6) == 0) {
		unsigned long long gen, deadline;

		if (sscanf(line + 6, "%llu %llu", &gen, &deadline) != 2)
			snprintf(out, outsize, "error usage: roles GEN DEADLINE_NS\n");
		else if (fs_roles(fs, gen, deadline, &error) < 0) {
			mm_log_error("ctl: roles %llu: %s", gen, error);
			snprintf(out, outsize, "error %s\n", error);
		} else
			snprintf(out, outsize, "ok last_lsn=%" PRIu64 "\n",
				 mm_journal_last_lsn(fs->journal));
	} else if (strncmp(line, "writable ", 9) == 0) {
		snprintf(out, outsize, "ok %s\n",
			 fs_account_writable(fs, line + 9) ? "yes" : "no");
	} else if (strncmp(line, "inval ", 6) == 0) {
		if (fs_invalidate(fs, line + 6, &error) < 0)
			snprintf(out, outsize, "error %s\n", error);
		else
			snprintf(out, outsize, "ok\n");
	} else if (strncmp(line, "reassert ", 9) == 0) {
		if (fs_reassert(fs, line + 9, &error) < 0)
			snprintf(out, outsize, "error %s\n", error);
		else
			snprintf(out, outsize, "ok\n");
	} else if (strcmp(line, "status") == 0) {
		size_t len;

		snprintf(out, outsize,
			 "ok node=%s last_lsn=%" PRIu64 " durable_lsn=%" PRIu64
			 " journaled=%" PRIu64
			 " refused_readonly=%" PRIu64 " errors=%" PRIu64 " readonly_accounts=%zu"
			 " sync_timeouts=%" PRIu64 " fenced=%d active_accounts=%zu\n",
			 fs->cfg->node_name, mm_journal_last_lsn(fs->journal),
			 mm_journal_durable_lsn(fs->journal),
			 __atomic_load_n(&fs->n_journaled, __ATOMIC_RELAXED),
			 __atomic_load_n(&fs->n_refused_ro, __ATOMIC_RELAXED),
			 __atomic_load_n(&fs->n_errors, __ATOMIC_RELAXED),
			 fs->n_ro_accounts,
			 __atomic_load_n(&fs->n_sync_timeouts, __ATOMIC_RELAXED),
			 fs->fenced ? 1 : 0, fs->n_active);
		/* then ops_deliver=N ops_move=N ...: what the mount journaled, per op */
		len = strlen(out);
		if (len > 0 && out[len - 1] == '\n')
			out[--len] = '\0';
		for (int op = 1; op <= MM_OP_LAST && len < outsize; op++) {
			snprintf(out + len, outsize - len, " ops_%s=%" PRIu64, mm_op_str(op),
				 __atomic_load_n(&fs->n_op[op], __ATOMIC_RELAXED));
			len += strlen(out + len);
		}
		if (len + 1 < outsize) {
			out[len++] = '\n';
			out[len] = '\0';
		}
	} else {
		snprintf(out, outsize, "error unknown command\n");
	}
}

/* "batch", then request lines until the client shuts its side: one reply
   line each, in order (the replicator's cache invalidations after a
   batch it applied: one connection instead of one per path). */
#define CTL_BATCH_MAX (4U << 20)

static void ctl_batch(int c, const char *first, size_t len)
{
	struct mm_buf in = { 0 }, reply = { 0 };
	char chunk[65536], out[4200];
	ssize_t n;
	size_t pos = 0;

	mm_buf_append(&in, first, len);
	while (in.len < CTL_BATCH_MAX && (n = read(c, chunk, sizeof(chunk))) > 0)
		mm_buf_append(&in, chunk, (size_t)n);
	mm_buf_append(&in, "", 1);
	while (pos < in.len - 1) {
		char *line = (char *)in.data + pos, *nl = strchr(line, '\n');

		if (nl == NULL)
			break;	/* a line cut short: not run */
		*nl = '\0';
		pos = (size_t)(nl - (char *)in.data) + 1;
		ctl_handle(ctl_fs, line, out, sizeof(out));
		mm_buf_puts(&reply, out);
	}
	if (reply.len > 0 && write(c, reply.data, reply.len) < 0)
		mm_log_debug("ctl: batch reply lost: %m");
	mm_buf_free(&in);
	mm_buf_free(&reply);
}

static void *ctl_main(void *arg)
{
	(void)arg;
	for (;;) {
		struct pollfd pfd[2] = {
			{ .fd = ctl_listen_fd, .events = POLLIN },
			{ .fd = ctl_stop_pipe[0], .events = POLLIN },
		};
		char line[4200], out[4200];
		ssize_t n;
		size_t got = 0;
		int c;

		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			mm_log_error("ctl: poll failed: %m");
			return NULL;
		}
		if (pfd[1].revents != 0)
			return NULL;
		c = accept4(ctl_listen_fd, NULL, NULL, SOCK_CLOEXEC);
		if (c < 0)
			continue;
		/* a request is one short line; a client that sends none within
		   two seconds is dropped */
		struct timeval tv = { .tv_sec = 2 };

		setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		while (got < sizeof(line) - 1 &&
		       (n = read(c, line + got, sizeof(line) - 1 - got)) > 0) {
			got += (size_t)n;
			if (memchr(line, '\n', got) != NULL)
				break;
		}
		line[got] = '\0';
		if (strncmp(line, "writable ", 9) == 0 || strncmp(line, "replicator", 10) == 0) {
			struct ucred cred;
			socklen_t clen = sizeof(cred);

			if (getsockopt(c, SOL_SOCKET, SO_PEERCRED, &cred, &clen) == 0 &&
			    __atomic_exchange_n(&ctl_fs->repl_pid, cred.pid, __ATOMIC_RELAXED) !=
			    cred.pid)
				mm_log_info("ctl: mailmesh-replicator is pid %d", (int)cred.pid);
		}
		if (strncmp(line, "replicator", 10) == 0) {
			if (write(c, "ok\n", 3) < 0)
				mm_log_debug("ctl: reply lost: %m");
		} else if (strncmp(line, "batch\n", 6) == 0)
			ctl_batch(c, line + 6, got - 6);
		else {
			ctl_handle(ctl_fs, line, out, sizeof(out));
			if (write(c, out, strlen(out)) < 0)
				mm_log_debug("ctl: reply lost: %m");
		}
		close(c);
	}
}

int fs_ctl_start(struct fs *fs, const char **error_r)
{
	static char err[512];
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	ctl_fs = fs;
	if ((size_t)snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/control.sock",
			     fs->cfg->state) >= sizeof(sa.sun_path)) {
		snprintf(err, sizeof(err), "state path too long for a unix socket");
		goto fail;
	}
	/* the journal lock proves no other daemon owns this state dir */
	unlink(sa.sun_path);
	ctl_listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (ctl_listen_fd < 0 || bind(ctl_listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    chmod(sa.sun_path, 0600) < 0 || listen(ctl_listen_fd, 16) < 0) {
		snprintf(err, sizeof(err), "control socket %s: %m", sa.sun_path);
		goto fail;
	}
	if (pipe2(ctl_stop_pipe, O_CLOEXEC) < 0 ||
	    pthread_create(&ctl_thread, NULL, ctl_main, NULL) != 0) {
		snprintf(err, sizeof(err), "control thread: %m");
		goto fail;
	}
	return 0;
fail:
	*error_r = err;
	return -1;
}

void fs_ctl_stop(void)
{
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];

	if (ctl_stop_pipe[1] < 0)
		return;
	if (write(ctl_stop_pipe[1], "x", 1) < 0)
		mm_log_error("ctl: stop: %m");
	pthread_join(ctl_thread, NULL);
	snprintf(path, sizeof(path), "%s/control.sock", ctl_fs->cfg->state);
	unlink(path);
	close(ctl_listen_fd);
	close(ctl_stop_pipe[0]);
	close(ctl_stop_pipe[1]);
	ctl_stop_pipe[0] = ctl_stop_pipe[1] = ctl_listen_fd = -1;
}
