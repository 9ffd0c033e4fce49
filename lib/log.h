/* SPDX-License-Identifier: MIT
 * log.h - the one log sink of a mailmesh process (stderr or syslog),
 * chosen once at start-up [Postfix msg.c]. Thread-safe. */
#ifndef MM_LOG_H
#define MM_LOG_H
#include <stdbool.h>
#include <stddef.h>

extern bool mm_log_verbose;

/* ident names the program; to_stderr selects stderr, else syslog. */
void mm_log_init(const char *ident, bool to_stderr);
/* Now as the log writes it: "2026-11-25T01:33:42.483Z" (UTC, ms), into
   out (at least 25 bytes). Also for STATE/events lines. */
void mm_log_time(char *out, size_t size);
void mm_log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void mm_log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void mm_log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void mm_log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Logs, then exits(1). */
void mm_fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
/* Logs, then abort()s for a core dump: for broken invariants only. */
void mm_panic(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#define mm_assert(expr) do { if (!(expr)) \
	mm_panic("assertion failed: %s (%s:%d)", #expr, __FILE__, __LINE__); } while (0)

#endif
