/* SPDX-License-Identifier: MIT
 * cfg.h - the node's INI configuration: parsing, defaults and validation.
 * Every program reads it with mm_cfg_load(); unknown or bad keys are refused. */
#ifndef MM_CFG_H
#define MM_CFG_H
#include <stdbool.h>
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

enum mm_repl_mode {
	MM_REPL_ASYNC,		/* the call returns; records follow within the lag */
	MM_REPL_SYNC,		/* a delivery returns once sync_acks peers have it */
};

enum mm_on_timeout {
	MM_ON_TIMEOUT_FAIL,	/* the delivery fails with a temporary error */
	MM_ON_TIMEOUT_DEGRADE,	/* it succeeds; the account runs unprotected */
};

/* [peer NAME]: another store of the cluster. */
struct mm_peer_cfg {
	char *name;
	char *address;		/* HOST:PORT of its replicator */
	uint64_t bandwidth;	/* bytes/s we send it at most; 0: no limit */
	char *hbmon;		/* HOST:PORT of its mailmesh-hbmon, NULL when not set */
	int line;		/* of the section's first key, for messages */
};

/* [account PATTERN]: replication policy of the accounts matching pattern
   (fnmatch(3)); the first matching section in file order applies. */
struct mm_account_cfg {
	char *pattern;
	bool replicate;
	enum mm_repl_mode mode;
	unsigned int sync_acks;
	unsigned int sync_timeout_ms;
	enum mm_on_timeout on_timeout;
	char **replicas;	/* peer names holding a replica; none: all peers */
	size_t n_replicas;
	int line;
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

	/* [replication], [tls], [peer NAME], [account PATTERN] */
	char *repl_listen;		/* HOST:PORT, NULL when not set */
	uint64_t expunge_retention_s;	/* replicas keep expunged mail; 0: not */
	unsigned int expunge_guard;	/* percent of an account's messages
					   expunged within a minute; 0: off */
	unsigned int expunge_guard_min;	/* expunges in a minute that never trip it */
	int resync_level;	/* zstd level of a resync's stream: speed on a LAN by
				   default (-50); 3 or more on a slow link */
	char *tls_ca, *tls_cert, *tls_key;
	struct mm_peer_cfg *peers;
	size_t n_peers;
	struct mm_account_cfg *accounts;
	size_t n_accounts;

	/* [hbmon] */
	unsigned int hb_replicas;	/* stores holding an account besides its active */
	char *hb_listen;		/* HOST:PORT (UDP), NULL when not set */
	char *hb_key_file;		/* NULL: the key is SHA-256 of [tls] ca */
	unsigned int hb_interval_ms;	/* heartbeat and health sample period */
	unsigned int hb_timeout_ms;	/* a member unheard this long is failed */
	unsigned int hb_rtt_ms;		/* a member with a longer RTT is degraded */
	unsigned int hb_probe_ms;	/* store probe threshold */
	unsigned int hb_pressure;	/* percent, io "some avg10" threshold */
	uint64_t hb_min_free;		/* bytes free in the store, at least */
	unsigned int hb_window;		/* samples over a threshold to be degraded */
	unsigned int hb_probe_delay_ms;	/* tests only: added to every probe */
	unsigned int hb_lease_ms;	/* how long an endorsement lasts */
	unsigned int hb_catchup_ms;	/* longest wait for a graceful catch-up */
	unsigned int hb_failback_ms;	/* a failed member stays excluded this long
					   once it is back (default 10 s) */
	bool hb_failback_given;
	char *hb_witness;		/* HOST:PORT of the witness, NULL: none */
	char *hb_on_role_change;	/* script run at every role change, or NULL */

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
/* The policy for account: the first matching [account] section, or the
   defaults (replicate to every peer, async) when none matches. */
const struct mm_account_cfg *mm_cfg_account(const struct mm_cfg *cfg, const char *account);
/* The [peer] section named name, or NULL. */
const struct mm_peer_cfg *mm_cfg_peer(const struct mm_cfg *cfg, const char *name);
/* Whether peer holds a replica of account under policy a. */
bool mm_cfg_account_on(const struct mm_account_cfg *a, const char *peer);
/* Splits "HOST:PORT" or "[V6]:PORT" into host (NUL-terminated, in host_r of
   size hsize) and port. 0, or -1 when malformed. */
int mm_parse_hostport(const char *s, char *host_r, size_t hsize, unsigned int *port_r);
/* "64M", "1G", "4096" -> bytes; "30s", "15m", "2h", "7d", "500ms"
   -> milliseconds. Return 0 or -1 on a malformed value. */
int mm_parse_size(const char *s, uint64_t *v_r);
int mm_parse_duration_ms(const char *s, uint64_t *v_r);

#endif
