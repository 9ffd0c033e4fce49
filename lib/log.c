/* SPDX-License-Identifier: MIT
 * log.c - log sink: stderr with a timestamp, or syslog(3). Each message
 * is written with one write so concurrent threads do not interleave. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>
#include "log.h"

bool mm_log_verbose;
static const char *log_ident = "mailmesh";
static bool log_stderr = true;

void mm_log_init(const char *ident, bool to_stderr)
{
	log_ident = ident;
	log_stderr = to_stderr;
	if (!to_stderr)
		openlog(ident, LOG_PID | LOG_NDELAY, LOG_MAIL);
}

static void log_v(int prio, const char *fmt, va_list ap)
{
	static const char *const names[] = {
		[LOG_ERR] = "error", [LOG_WARNING] = "warning",
		[LOG_INFO] = "info", [LOG_DEBUG] = "debug", [LOG_CRIT] = "panic",
	};
	char msg[2048], line[2200], when[32];
	int n;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (!log_stderr) {
		syslog(prio, "%s", msg);
		return;
	}
	mm_log_time(when, sizeof(when));
	n = snprintf(line, sizeof(line), "%s %s[%d]: %s: %s\n", when, log_ident,
		     (int)getpid(), names[prio], msg);
	if (n > (int)sizeof(line) - 1)
		n = sizeof(line) - 1;
	if (write(STDERR_FILENO, line, n) < 0) {
		/* nowhere left to report it */
	}
}

#define LOG_FN(fn, prio, cond) \
void fn(const char *fmt, ...) \
{ \
	va_list ap; \
	if (!(cond)) \
		return; \
	va_start(ap, fmt); \
	log_v(prio, fmt, ap); \
	va_end(ap); \
}
LOG_FN(mm_log_debug, LOG_DEBUG, mm_log_verbose)
LOG_FN(mm_log_info, LOG_INFO, true)
LOG_FN(mm_log_warn, LOG_WARNING, true)
LOG_FN(mm_log_error, LOG_ERR, true)

void mm_fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_v(LOG_ERR, fmt, ap);
	va_end(ap);
	exit(1);
}

void mm_panic(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_v(LOG_CRIT, fmt, ap);
	va_end(ap);
	abort();
}

void mm_log_time(char *out, size_t size)
{
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	snprintf(out, size, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		 ts.tv_nsec / 1000000);
}
