/* SPDX-License-Identifier: MIT
 * ctl.c - one request on a daemon's control socket (lib/ctl.h); used by
 * mailmeshctl and by the replicator to reach mailmesh-fs. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include "buf.h"
#include "ctl.h"

static __thread char ctl_error[512];

static int write_all(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int ctl_request(const char *path, const char *line, struct mm_buf *reply,
		       unsigned int timeout_ms, bool batch, const char **error_r)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = timeout_ms / 1000,
			      .tv_usec = (timeout_ms % 1000) * 1000 };
	char chunk[4096];
	ssize_t n;
	int fd;

	mm_buf_reset(reply);
	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(ctl_error, sizeof(ctl_error), "%s: socket path too long", path);
		goto fail;
	}
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(ctl_error, sizeof(ctl_error), "socket: %s", strerror(errno));
		goto fail;
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;

		close(fd);
		if (e == ENOENT || e == ECONNREFUSED)
			return 1;
		snprintf(ctl_error, sizeof(ctl_error), "connect(%s): %s", path, strerror(e));
		goto fail;
	}
	/* a daemon that hangs must not hang its caller (a fencing script) */
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if ((batch && write_all(fd, "batch\n", 6) < 0) || write_all(fd, line, strlen(line)) < 0 ||
	    write_all(fd, "\n", 1) < 0 || (batch && shutdown(fd, SHUT_WR) < 0)) {
		snprintf(ctl_error, sizeof(ctl_error), "write(%s): %s", path, strerror(errno));
		close(fd);
		goto fail;
	}
	while ((n = read(fd, chunk, sizeof(chunk))) > 0)
		mm_buf_append(reply, chunk, (size_t)n);
	close(fd);
	if (reply->len < 2 || strncmp(mm_buf_str(reply), "ok", 2) != 0) {
		const char *r = mm_buf_str(reply);

		snprintf(ctl_error, sizeof(ctl_error), "%s: %.*s", path,
			 (int)strcspn(r, "\n"), reply->len > 0 ? r : "no reply");
		goto fail;
	}
	return 0;
fail:
	*error_r = ctl_error;
	return -1;
}

int mm_ctl_request(const char *path, const char *line, struct mm_buf *reply,
		   const char **error_r)
{
	return ctl_request(path, line, reply, 10000, false, error_r);
}

int mm_ctl_batch(const char *path, const char *lines, struct mm_buf *reply,
		 const char **error_r)
{
	return ctl_request(path, lines, reply, 10000, true, error_r);
}

int mm_ctl_call_timeout(const char *path, const char *line, char *out, size_t outsize,
			unsigned int timeout_ms, const char **error_r)
{
	struct mm_buf reply = { 0 };
	int ret = ctl_request(path, line, &reply, timeout_ms, false, error_r);
	const char *r = mm_buf_str(&reply);
	size_t n = strcspn(r, "\n");

	if (n >= outsize)
		n = outsize - 1;
	memcpy(out, r, n);
	out[n] = '\0';
	mm_buf_free(&reply);
	return ret;
}

int mm_ctl_call(const char *path, const char *line, char *out, size_t outsize,
		const char **error_r)
{
	return mm_ctl_call_timeout(path, line, out, outsize, 10000, error_r);
}
