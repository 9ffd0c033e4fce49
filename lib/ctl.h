/* SPDX-License-Identifier: MIT
 * ctl.h - the client side of a daemon's control socket: one request line,
 * one reply line ("ok ..." or "error ..."), one connection per request
 * (or a batch of them, mailmesh-fs only). */
#ifndef MM_CTL_H
#define MM_CTL_H
#include <stddef.h>

struct mm_buf;

/* Sends line (no newline) to the unix socket at path and reads the reply
   into out (NUL-terminated, first line only). Returns 0 when the reply
   starts with "ok", 1 when no daemon listens there (no socket, or refused),
   -1 otherwise with *error_r: a failed call, no reply, or the daemon's
   "error ..." line (also left in out). */
int mm_ctl_call(const char *path, const char *line, char *out, size_t outsize,
		const char **error_r);

/* mm_ctl_call() waiting up to timeout_ms for the reply (not 10 s). */
int mm_ctl_call_timeout(const char *path, const char *line, char *out, size_t outsize,
			unsigned int timeout_ms, const char **error_r);
/* The same, with the whole reply (all lines) in reply. */
int mm_ctl_request(const char *path, const char *line, struct mm_buf *reply,
		   const char **error_r);
/* Many requests on one connection: lines (newline-separated, no final
   newline) after a "batch" line; reply holds one reply line per request,
   in order. Returns as mm_ctl_request() for the first reply line; the
   caller checks the others. mailmesh-fs only. */
int mm_ctl_batch(const char *path, const char *lines, struct mm_buf *reply,
		 const char **error_r);

#endif
