/* SPDX-License-Identifier: MIT
 * cfg.h - the node's INI configuration: parsing, defaults and validation.
 * Every program reads it with mm_cfg_load(); unknown or bad keys are refused. */
#ifndef MM_CFG_H
#define MM_CFG_H
#include <stdint.h>
#include <stddef.h>

enum mm_fsync {
	MM_FSYNC_ALWAYS,	/* every record durable before its call returns */
	MM_FSYNC_BATCH,		/* group commit; see docs/journal.md for which ops wait */
	MM_FSYNC_NEVER,		/* benchmarks only: nothing is durable before a crash */
};

/* Who checks permissions on the mount ([fs] permissions). */
enum mm_perm {
	MM_PERM_DAEMON,		/* the daemon, as the caller, on every request */
	MM_PERM_KERNEL,		/* the kernel too (default_permissions) */
};

struct mm_cfg {
	char *path;
	char *node_name;
	char *store;		/* backing directory of plain Maildir trees */
	char *state;		/* journal, content links, account modes */
	char *mount;
	unsigned int account_depth;

	enum mm_fsync fsync;
	uint64_t segment_size;		/* bytes */
	uint64_t retention_s;		/* segments older than this may go */
	uint64_t retention_bytes;	/* 0: no size limit */
	unsigned int batch_interval_ms;	/* flush delay for non-delivery ops */

	enum mm_perm permissions;

	/* [classify] overrides, tried before the built-in table. */
	char **classify_ignore, **classify_meta, **classify_plain;
	size_t n_classify_ignore, n_classify_meta, n_classify_plain;
};

/* Loads and validates path. Returns 0 with *cfg_r set (free with
   mm_cfg_free), or -1 with *error_r as "FILE:LINE: reason" (valid until
   the next call in this thread). */
int mm_cfg_load(const char *path, struct mm_cfg **cfg_r, const char **error_r);
/* Parses from a string instead of a file; name is used in messages. */
int mm_cfg_parse(const char *name, const char *text, struct mm_cfg **cfg_r,
		 const char **error_r);
void mm_cfg_free(struct mm_cfg **cfgp);

const char *mm_fsync_str(enum mm_fsync f);
/* "64M", "1G", "4096" -> bytes; "30s", "15m", "2h", "7d", "500ms"
   -> milliseconds. Return 0 or -1 on a malformed value. */
int mm_parse_size(const char *s, uint64_t *v_r);
int mm_parse_duration_ms(const char *s, uint64_t *v_r);

#endif
