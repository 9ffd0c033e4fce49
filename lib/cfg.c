/* SPDX-License-Identifier: MIT
 * cfg.c - INI configuration through libinih (Debian's libinih-dev: a small,
 * well-kept parser that reports the failing line), plus our key table. */
#include <errno.h>
#include <fnmatch.h>
#include <ini.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cfg.h"
#include "mem.h"

static __thread char cfg_error[1024];

struct cfg_ctx {
	struct mm_cfg *cfg;
	const char *name;
	char reason[512];
	int reason_line;	/* the line reason is about */
	int line;		/* lines handed to inih so far */
	int section_seq;	/* line of the current section header */
	FILE *file;		/* the source: a file, or text */
	const char *text;
};

/* Feeds inih one line at a time (as its own readers do) and counts them,
   so a reason can be matched with the line inih reports. */
static char *cfg_read_line(char *buf, int size, void *stream)
{
	struct cfg_ctx *ctx = stream;
	char *p = buf;

	if (ctx->file != NULL) {
		if (fgets(buf, size, ctx->file) == NULL)
			return NULL;
	} else {
		if (*ctx->text == '\0' || size < 2)
			return NULL;
		while (size > 1 && *ctx->text != '\0') {
			char c = *ctx->text++;

			*p++ = c;
			size--;
			if (c == '\n')
				break;
		}
		*p = '\0';
	}
	ctx->line++;
	/* a section header: what follows belongs to a new section, even
	   one with the same name as the last */
	if (buf[strspn(buf, " \t")] == '[')
		ctx->section_seq = ctx->line;
	return buf;
}

int mm_parse_size(const char *s, uint64_t *v_r)
{
	char *end;
	unsigned long long v;
	unsigned int shift = 0;

	errno = 0;
	if (*s < '0' || *s > '9')
		return -1;
	v = strtoull(s, &end, 10);
	if (errno != 0)
		return -1;
	switch (*end) {
	case '\0': break;
	case 'k': case 'K': shift = 10; end++; break;
	case 'm': case 'M': shift = 20; end++; break;
	case 'g': case 'G': shift = 30; end++; break;
	default: return -1;
	}
	if (v > (UINT64_MAX >> shift))
		return -1;	/* would wrap: 17179869185G is not 1G */
	v <<= shift;
	if (*end == 'i' || *end == 'B')
		end += (end[0] == 'i' && end[1] == 'B') ? 2 : 1;
	if (*end != '\0')
		return -1;
	*v_r = v;
	return 0;
}

int mm_parse_duration_ms(const char *s, uint64_t *v_r)
{
	char *end;
	unsigned long long v, unit;

	errno = 0;
	if (*s < '0' || *s > '9')
		return -1;
	v = strtoull(s, &end, 10);
	if (errno != 0)
		return -1;
	if (strcmp(end, "ms") == 0)
		unit = 1;
	else if (strcmp(end, "") == 0 || strcmp(end, "s") == 0)
		unit = 1000;
	else if (strcmp(end, "m") == 0)
		unit = 60 * 1000;
	else if (strcmp(end, "h") == 0)
		unit = 3600 * 1000;
	else if (strcmp(end, "d") == 0)
		unit = 86400ULL * 1000;
	else
		return -1;
	if (v > UINT64_MAX / unit)
		return -1;
	*v_r = v * unit;
	return 0;
}

const char *mm_fsync_str(enum mm_fsync f)
{
	switch (f) {
	case MM_FSYNC_ALWAYS: return "always";
	case MM_FSYNC_BATCH: return "batch";
	case MM_FSYNC_NEVER: return "never";
	}
	return "?";
}

static void list_add(char ***list, size_t *n, const char *value)
{
	char *copy = mm_strdup(value), *save = NULL, *tok;

	for (tok = strtok_r(copy, " \t,", &save); tok != NULL;
	     tok = strtok_r(NULL, " \t,", &save)) {
		*list = mm_realloc(*list, (*n + 2) * sizeof(**list));
		(*list)[(*n)++] = mm_strdup(tok);
		(*list)[*n] = NULL;
	}
	free(copy);
}

static bool set_string(struct cfg_ctx *ctx, char **dst, const char *value)
{
	if (*value == '\0') {
		snprintf(ctx->reason, sizeof(ctx->reason), "empty value");
		return false;
	}
	free(*dst);
	*dst = mm_strdup(value);
	return true;
}

static bool set_path(struct cfg_ctx *ctx, char **dst, const char *value)
{
	if (value[0] != '/') {
		snprintf(ctx->reason, sizeof(ctx->reason),
			 "'%s' is not an absolute path", value);
		return false;
	}
	if (!set_string(ctx, dst, value))
		return false;
	/* drop trailing slashes so paths compose predictably */
	for (size_t n = strlen(*dst); n > 1 && (*dst)[n - 1] == '/'; n--)
		(*dst)[n - 1] = '\0';
	return true;
}

static bool cfg_node(struct cfg_ctx *ctx, const char *key, const char *value)
{
	struct mm_cfg *cfg = ctx->cfg;

	if (strcmp(key, "name") == 0)
		return set_string(ctx, &cfg->node_name, value);
	if (strcmp(key, "store") == 0)
		return set_path(ctx, &cfg->store, value);
	if (strcmp(key, "state") == 0)
		return set_path(ctx, &cfg->state, value);
	if (strcmp(key, "mount") == 0)
		return set_path(ctx, &cfg->mount, value);
	if (strcmp(key, "account_depth") == 0) {
		char *end;
		long v = strtol(value, &end, 10);

		if (*value == '\0' || *end != '\0' || v < 1 || v > 8) {
			snprintf(ctx->reason, sizeof(ctx->reason),
				 "account_depth must be 1..8, not '%s'", value);
			return false;
		}
		cfg->account_depth = (unsigned int)v;
		return true;
	}
	snprintf(ctx->reason, sizeof(ctx->reason), "unknown key '%s' in [node]", key);
	return false;
}

static bool cfg_journal(struct cfg_ctx *ctx, const char *key, const char *value)
{
	struct mm_cfg *cfg = ctx->cfg;
	uint64_t v;

	if (strcmp(key, "fsync") == 0) {
		if (strcmp(value, "always") == 0)
			cfg->fsync = MM_FSYNC_ALWAYS;
		else if (strcmp(value, "batch") == 0)
			cfg->fsync = MM_FSYNC_BATCH;
		else if (strcmp(value, "never") == 0)
			cfg->fsync = MM_FSYNC_NEVER;
		else {
			snprintf(ctx->reason, sizeof(ctx->reason),
				 "fsync must be always, batch or never, not '%s'", value);
			return false;
		}
		return true;
	}
	if (strcmp(key, "segment_size") == 0) {
		if (mm_parse_size(value, &v) < 0 || v < 4096 || v > (1ULL << 32)) {
			snprintf(ctx->reason, sizeof(ctx->reason),
				 "segment_size must be a size from 4K to 4G, not '%s'", value);
			return false;
		}
		cfg->segment_size = v;
		return true;
	}
	if (strcmp(key, "retention") == 0) {
		if (mm_parse_duration_ms(value, &v) < 0) {
			snprintf(ctx->reason, sizeof(ctx->reason),
				 "retention must be a duration such as 7d or 12h, not '%s'", value);
			return false;
		}
		cfg->retention_s = v / 1000;
		return true;
	}
	if (strcmp(key, "retention_size") == 0) {
		if (mm_parse_size(value, &v) < 0) {
			snprintf(ctx->reason, sizeof(ctx->reason),
				 "retention_size must be a size such as 10G, not '%s'", value);
			return false;
		}
		cfg->retention_bytes = v;
		return true;
	}
	if (strcmp(key, "batch_interval") == 0) {
		if (mm_parse_duration_ms(value, &v) < 0 || v < 1 || v > 10000) {
			snprintf(ctx->reason, sizeof(ctx->reason),
				 "batch_interval must be 1ms..10s, not '%s'", value);
			return false;
		}
		cfg->batch_interval_ms = (unsigned int)v;
		return true;
	}
	snprintf(ctx->reason, sizeof(ctx->reason), "unknown key '%s' in [journal]", key);
	return false;
}

static bool cfg_fs(struct cfg_ctx *ctx, const char *key, const char *value)
{
	struct mm_cfg *cfg = ctx->cfg;

	if (strcmp(key, "permissions") == 0) {
		if (strcmp(value, "daemon") == 0)
			cfg->permissions = MM_PERM_DAEMON;
		else if (strcmp(value, "kernel") == 0)
			cfg->permissions = MM_PERM_KERNEL;
		else {
			snprintf(ctx->reason, sizeof(ctx->reason),
				 "permissions must be daemon or kernel, not '%s'", value);
			return false;
		}
		return true;
	}
	snprintf(ctx->reason, sizeof(ctx->reason), "unknown key '%s' in [fs]", key);
	return false;
}

int mm_parse_hostport(const char *s, char *host_r, size_t hsize, unsigned int *port_r)
{
	const char *colon, *host = s;
	size_t hlen;
	char *end;
	long port;

	if (*s == '[') {
		const char *close = strchr(s, ']');

		if (close == NULL || close[1] != ':')
			return -1;
		host = s + 1;
		hlen = (size_t)(close - host);
		colon = close + 1;
	} else {
		colon = strrchr(s, ':');
		if (colon == NULL || memchr(s, ':', (size_t)(colon - s)) != NULL)
			return -1;
		hlen = (size_t)(colon - s);
	}
	if (hlen == 0 || hlen >= hsize)
		return -1;
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (colon[1] == '\0' || *end != '\0' || errno != 0 || port < 1 || port > 65535)
		return -1;
	memcpy(host_r, host, hlen);
	host_r[hlen] = '\0';
	*port_r = (unsigned int)port;
	return 0;
}

static bool node_name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 63)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '.' || s[i] == '-'))
			return false;
	return true;
}

static bool set_hostport(struct cfg_ctx *ctx, char **dst, const char *key, const char *value)
{
	char host[256];
	unsigned int port;

	if (mm_parse_hostport(value, host, sizeof(host), &port) < 0) {
		snprintf(ctx->reason, sizeof(ctx->reason),
			 "%s must be HOST:PORT, not '%s'", key, value);
		return false;
	}
	return set_string(ctx, dst, value);
}

static bool set_uint(struct cfg_ctx *ctx, unsigned int *dst, const char *key,
		     const char *value, long min, long max);

static bool cfg_replication(struct cfg_ctx *ctx, const char *key, const char *value)
{
	uint64_t v;

	if (strcmp(key, "listen") == 0)
		return set_hostport(ctx, &ctx->cfg->repl_listen, key, value);
	if (strcmp(key, "expunge_retention") == 0) {
		/* "0" turns it off; a bare number is not a duration elsewhere */
		if (strcmp(value, "0") != 0 && mm_parse_duration_ms(value, &v) < 0) {
			snprintf(ctx->reason, sizeof(ctx->reason), "expunge_retention must be "
				 "a duration such as 7d or 12h, or 0, not '%s'", value);
			return false;
		}
		ctx->cfg->expunge_retention_s = strcmp(value, "0") == 0 ? 0 : v / 1000;
		return true;
	}
	if (strcmp(key, "expunge_guard") == 0) {
		char pct[16];
		size_t n = strlen(value);

		/* "20%" or "20" */
		snprintf(pct, sizeof(pct), "%.*s", (int)(n > 0 && value[n - 1] == '%' ? n - 1 : n),
			 value);
		return set_uint(ctx, &ctx->cfg->expunge_guard, key, pct, 0, 100);
	}
	if (strcmp(key, "expunge_guard_min") == 0)
		return set_uint(ctx, &ctx->cfg->expunge_guard_min, key, value, 1, 1000000);
	if (strcmp(key, "resync_level") == 0) {
		char *end;
		long l = strtol(value, &end, 10);

		if (end == value || *end != '\0' || l < -1000 || l > 19) {
			snprintf(ctx->reason, sizeof(ctx->reason), "resync_level must be a zstd "
				 "level, -1000..19, not '%s'", value);
			return false;
		}
		ctx->cfg->resync_level = (int)l;
		return true;
	}
	snprintf(ctx->reason, sizeof(ctx->reason), "unknown key '%s' in [replication]", key);
	return false;
}

/* An integer key in min..max, given as a plain number. */
static bool set_uint(struct cfg_ctx *ctx, unsigned int *dst, const char *key,
		     const char *value, long min, long max)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(value, &end, 10);
	if (*value < '0' || *value > '9' || *end != '\0' || errno != 0 ||
	    n < min || n > max) {
		snprintf(ctx->reason, sizeof(ctx->reason), "%s must be %ld..%ld, not '%s'",
			 key, min, max, value);
		return false;
	}
	*dst = (unsigned int)n;
	return true;
}

/* A duration key in milliseconds ("200", "200ms", "1s") within min..max ms. */
static bool set_ms(struct cfg_ctx *ctx, unsigned int *dst, const char *key,
		   const char *value, uint64_t min, uint64_t max)
{
	uint64_t v;
	char *end;

	/* a bare number is milliseconds here, unlike mm_parse_duration_ms */
	errno = 0;
	v = strtoull(value, &end, 10);
	if (*value >= '0' && *value <= '9' && *end == '\0' && errno == 0)
		;
	else if (mm_parse_duration_ms(value, &v) < 0)
		v = UINT64_MAX;
	if (v < min || v > max) {
		snprintf(ctx->reason, sizeof(ctx->reason),
			 "%s must be %llu..%llu milliseconds, not '%s'", key,
			 (unsigned long long)min, (unsigned long long)max, value);
		return false;
	}
	*dst = (unsigned int)v;
	return true;
}

static bool cfg_hbmon(struct cfg_ctx *ctx, const char *key, const char *value)
{
	struct mm_cfg *cfg = ctx->cfg;

	if (strcmp(key, "replicas") == 0)
		return set_uint(ctx, &cfg->hb_replicas, key, value, 1, 64);
	if (strcmp(key, "listen") == 0)
		return set_hostport(ctx, &cfg->hb_listen, key, value);
	if (strcmp(key, "key_file") == 0)
		return set_path(ctx, &cfg->hb_key_file, value);
	if (strcmp(key, "interval") == 0)
		return set_ms(ctx, &cfg->hb_interval_ms, key, value, 10, 60000);
	if (strcmp(key, "timeout") == 0)
		return set_ms(ctx, &cfg->hb_timeout_ms, key, value, 50, 600000);
	if (strcmp(key, "rtt_ms") == 0)
		return set_ms(ctx, &cfg->hb_rtt_ms, key, value, 1, 600000);
	if (strcmp(key, "probe_ms") == 0)
		return set_ms(ctx, &cfg->hb_probe_ms, key, value, 1, 600000);
	if (strcmp(key, "probe_delay_ms") == 0)
		return set_ms(ctx, &cfg->hb_probe_delay_ms, key, value, 0, 60000);
	if (strcmp(key, "pressure") == 0)
		return set_uint(ctx, &cfg->hb_pressure, key, value, 1, 100);
	if (strcmp(key, "window") == 0)
		return set_uint(ctx, &cfg->hb_window, key, value, 1, 1000);
	if (strcmp(key, "lease") == 0)
		return set_ms(ctx, &cfg->hb_lease_ms, key, value, 1, 600000);
	if (strcmp(key, "catchup") == 0)
		return set_ms(ctx, &cfg->hb_catchup_ms, key, value, 0, 600000);
	if (strcmp(key, "failback_after") == 0) {
		cfg->hb_failback_given = true;
		return set_ms(ctx, &cfg->hb_failback_ms, key, value, 0, 86400000);
	}
	if (strcmp(key, "witness") == 0)
		return set_hostport(ctx, &cfg->hb_witness, key, value);
	if (strcmp(key, "on_role_change") == 0)
		return set_path(ctx, &cfg->hb_on_role_change, value);
	if (strcmp(key, "min_free") == 0) {
		if (mm_parse_size(value, &cfg->hb_min_free) < 0) {
			snprintf(ctx->reason, sizeof(ctx->reason),
				 "min_free must be a size (e.g. 1G), not '%s'", value);
			return false;
		}
		return true;
	}
	snprintf(ctx->reason, sizeof(ctx->reason), "unknown key '%s' in [hbmon] (replicas, "
		 "listen, key_file, interval, timeout, rtt_ms, probe_ms, pressure, min_free, "
		 "window, probe_delay_ms, lease, catchup, failback_after, witness, on_role_change)",
		 key);
	return false;
}

static bool cfg_tls(struct cfg_ctx *ctx, const char *key, const char *value)
{
	struct mm_cfg *cfg = ctx->cfg;

	if (strcmp(key, "ca") == 0)
		return set_path(ctx, &cfg->tls_ca, value);
	if (strcmp(key, "cert") == 0)
		return set_path(ctx, &cfg->tls_cert, value);
	if (strcmp(key, "key") == 0)
		return set_path(ctx, &cfg->tls_key, value);
	snprintf(ctx->reason, sizeof(ctx->reason), "unknown key '%s' in [tls] (ca, cert, key)", key);
	return false;
}

/* The [peer NAME] being filled: a new entry at the section's first key. */
static struct mm_peer_cfg *peer_section(struct cfg_ctx *ctx, const char *name)
{
	struct mm_cfg *cfg = ctx->cfg;

	if (cfg->n_peers > 0 && strcmp(cfg->peers[cfg->n_peers - 1].name, name) == 0 &&
	    ctx->section_seq == cfg->peers[cfg->n_peers - 1].line)
		return &cfg->peers[cfg->n_peers - 1];
	if (!node_name_ok(name)) {
		snprintf(ctx->reason, sizeof(ctx->reason),
			 "peer name '%s' must be 1-63 letters, digits, '.' or '-'", name);
		return NULL;
	}
	if (mm_cfg_peer(cfg, name) != NULL) {
		snprintf(ctx->reason, sizeof(ctx->reason), "[peer %s] given twice", name);
		return NULL;
	}
	cfg->peers = mm_realloc(cfg->peers, (cfg->n_peers + 1) * sizeof(*cfg->peers));
	memset(&cfg->peers[cfg->n_peers], 0, sizeof(cfg->peers[0]));
	cfg->peers[cfg->n_peers].name = mm_strdup(name);
	cfg->peers[cfg->n_peers].line = ctx->section_seq;
	return &cfg->peers[cfg->n_peers++];
}

static bool cfg_peer(struct cfg_ctx *ctx, const char *name, const char *key, const char *value)
{
	struct mm_peer_cfg *p = peer_section(ctx, name);

	if (p == NULL)
		return false;
	if (strcmp(key, "address") == 0)
		return set_hostport(ctx, &p->address, key, value);
	if (strcmp(key, "hbmon") == 0)
		return set_hostport(ctx, &p->hbmon, key, value);
	if (strcmp(key, "bandwidth") == 0) {
		uint64_t v;

		if (mm_parse_size(value, &v) < 0 || (v != 0 && v < 16384)) {
			snprintf(ctx->reason, sizeof(ctx->reason),
				 "bandwidth must be bytes per second (16K or more, 0 for no "
				 "limit), not '%s'", value);
			return false;
		}
		p->bandwidth = v;
		return true;
	}
	snprintf(ctx->reason, sizeof(ctx->reason), "unknown key '%s' in [peer %s]", key, name);
	return false;
}

static struct mm_account_cfg *account_section(struct cfg_ctx *ctx, const char *pattern)
{
	struct mm_cfg *cfg = ctx->cfg;
	struct mm_account_cfg *a;

	if (cfg->n_accounts > 0 && ctx->section_seq == cfg->accounts[cfg->n_accounts - 1].line)
		return &cfg->accounts[cfg->n_accounts - 1];
	cfg->accounts = mm_realloc(cfg->accounts, (cfg->n_accounts + 1) * sizeof(*cfg->accounts));
	a = &cfg->accounts[cfg->n_accounts++];
	memset(a, 0, sizeof(*a));
	a->pattern = mm_strdup(pattern);
	a->replicate = true;
	a->mode = MM_REPL_ASYNC;
	a->sync_acks = 1;
	a->sync_timeout_ms = 5000;
	a->on_timeout = MM_ON_TIMEOUT_FAIL;
	a->line = ctx->section_seq;
	return a;
}

static bool cfg_account(struct cfg_ctx *ctx, const char *pattern, const char *key,
			const char *value)
{
	struct mm_account_cfg *a = account_section(ctx, pattern);
	uint64_t v;

	if (strcmp(key, "replicate") == 0) {
		if (strcmp(value, "yes") != 0 && strcmp(value, "no") != 0) {
			snprintf(ctx->reason, sizeof(ctx->reason),
				 "replicate must be yes or no, not '%s'", value);
			return false;
		}
		a->replicate = strcmp(value, "yes") == 0;
	} else if (strcmp(key, "mode") == 0) {
		if (strcmp(value, "async") == 0)
			a->mode = MM_REPL_ASYNC;
		else if (strcmp(value, "sync") == 0)
			a->mode = MM_REPL_SYNC;
		else {
			snprintf(ctx->reason, sizeof(ctx->reason),
				 "mode must be async or sync, not '%s'", value);
			return false;
		}
	} else if (strcmp(key, "sync_acks") == 0) {
		char *end;
		long n = strtol(value, &end, 10);

		if (*end != '\0' || n < 1 || n > 64) {
			snprintf(ctx->reason, sizeof(ctx->reason),
				 "sync_acks must be 1..64, not '%s'", value);
			return false;
		}
		a->sync_acks = (unsigned int)n;
	} else if (strcmp(key, "sync_timeout") == 0) {
		if (mm_parse_duration_ms(value, &v) < 0 || v < 1 || v > 600000) {
			snprintf(ctx->reason, sizeof(ctx->reason),
				 "sync_timeout must be 1ms..10m, not '%s'", value);
			return false;
		}
		a->sync_timeout_ms = (unsigned int)v;
	} else if (strcmp(key, "on_timeout") == 0) {
		if (strcmp(value, "fail") == 0)
			a->on_timeout = MM_ON_TIMEOUT_FAIL;
		else if (strcmp(value, "degrade") == 0)
			a->on_timeout = MM_ON_TIMEOUT_DEGRADE;
		else {
			snprintf(ctx->reason, sizeof(ctx->reason),
				 "on_timeout must be fail or degrade, not '%s'", value);
			return false;
		}
	} else if (strcmp(key, "replicas") == 0) {
		char *copy = mm_strdup(value), *save = NULL;

		for (char *t = strtok_r(copy, ", \t", &save); t != NULL;
		     t = strtok_r(NULL, ", \t", &save)) {
			if (!node_name_ok(t)) {
				snprintf(ctx->reason, sizeof(ctx->reason),
					 "replicas: '%s' is not a store name", t);
				free(copy);
				return false;
			}
			list_add(&a->replicas, &a->n_replicas, t);
		}
		free(copy);
	} else {
		snprintf(ctx->reason, sizeof(ctx->reason),
			 "unknown key '%s' in [account %s] (replicate, mode, sync_acks, "
			 "sync_timeout, on_timeout, replicas)", key, pattern);
		return false;
	}
	return true;
}

const struct mm_peer_cfg *mm_cfg_peer(const struct mm_cfg *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->n_peers; i++)
		if (strcmp(cfg->peers[i].name, name) == 0)
			return &cfg->peers[i];
	return NULL;
}

const struct mm_account_cfg *mm_cfg_account(const struct mm_cfg *cfg, const char *account)
{
	static const struct mm_account_cfg dflt = {
		.pattern = (char *)"*", .replicate = true, .mode = MM_REPL_ASYNC,
		.sync_acks = 1, .sync_timeout_ms = 5000, .on_timeout = MM_ON_TIMEOUT_FAIL,
	};

	for (size_t i = 0; i < cfg->n_accounts; i++)
		if (fnmatch(cfg->accounts[i].pattern, account, FNM_PATHNAME) == 0)
			return &cfg->accounts[i];
	return &dflt;
}

bool mm_cfg_account_on(const struct mm_account_cfg *a, const char *peer)
{
	if (!a->replicate)
		return false;
	if (a->n_replicas == 0)
		return true;
	for (size_t i = 0; i < a->n_replicas; i++)
		if (strcmp(a->replicas[i], peer) == 0)
			return true;
	return false;
}

static bool cfg_classify(struct cfg_ctx *ctx, const char *key, const char *value)
{
	struct mm_cfg *cfg = ctx->cfg;

	if (strcmp(key, "ignore") == 0)
		list_add(&cfg->classify_ignore, &cfg->n_classify_ignore, value);
	else if (strcmp(key, "meta") == 0)
		list_add(&cfg->classify_meta, &cfg->n_classify_meta, value);
	else if (strcmp(key, "plain") == 0)
		list_add(&cfg->classify_plain, &cfg->n_classify_plain, value);
	else {
		snprintf(ctx->reason, sizeof(ctx->reason),
			 "unknown key '%s' in [classify] (ignore, meta or plain)", key);
		return false;
	}
	return true;
}

static int cfg_handler(void *user, const char *section, const char *key,
		       const char *value)
{
	struct cfg_ctx *ctx = user;
	bool ok;

	/* inih goes on after an error and returns the first bad line:
	   keep that line's reason by ignoring everything after it */
	if (key == NULL || ctx->reason[0] != '\0')
		return 1;
	if (strcmp(section, "node") == 0)
		ok = cfg_node(ctx, key, value);
	else if (strcmp(section, "journal") == 0)
		ok = cfg_journal(ctx, key, value);
	else if (strcmp(section, "fs") == 0)
		ok = cfg_fs(ctx, key, value);
	else if (strcmp(section, "replication") == 0)
		ok = cfg_replication(ctx, key, value);
	else if (strcmp(section, "tls") == 0)
		ok = cfg_tls(ctx, key, value);
	else if (strcmp(section, "hbmon") == 0)
		ok = cfg_hbmon(ctx, key, value);
	else if (strncmp(section, "peer ", 5) == 0)
		ok = cfg_peer(ctx, section + 5, key, value);
	else if (strncmp(section, "account ", 8) == 0)
		ok = cfg_account(ctx, section + 8, key, value);
	else if (strcmp(section, "classify") == 0)
		ok = cfg_classify(ctx, key, value);
	else if (section[0] == '\0') {
		snprintf(ctx->reason, sizeof(ctx->reason),
			 "key '%s' outside any [section]", key);
		ok = false;
	} else {
		snprintf(ctx->reason, sizeof(ctx->reason),
			 "unknown section [%s]", section);
		ok = false;
	}
	if (!ok)
		ctx->reason_line = ctx->line;
	return ok ? 1 : 0;
}

static int cfg_finish(struct cfg_ctx *ctx, int ret, const char **error_r)
{
	struct mm_cfg *cfg = ctx->cfg;
	const char *missing = NULL;

	if (ret > 0) {
		/* inih reports the first bad line; our reason may be about a
		   later one when the first was a syntax error */
		snprintf(cfg_error, sizeof(cfg_error), "%s:%d: %s", ctx->name, ret,
			 ctx->reason[0] != '\0' && ctx->reason_line == ret ?
			 ctx->reason : "syntax error");
		goto fail;
	}
	if (ret < 0) {
		snprintf(cfg_error, sizeof(cfg_error), "%s: cannot read: %s",
			 ctx->name, strerror(ret == -1 ? errno : ENOMEM));
		goto fail;
	}
	if (cfg->node_name == NULL)
		missing = "name";
	else if (cfg->store == NULL)
		missing = "store";
	else if (cfg->state == NULL)
		missing = "state";
	else if (cfg->mount == NULL)
		missing = "mount";
	if (missing != NULL) {
		snprintf(cfg_error, sizeof(cfg_error),
			 "%s: missing required key '%s' in [node]", ctx->name, missing);
		goto fail;
	}
	for (size_t i = 0; i < cfg->n_peers; i++) {
		if (cfg->peers[i].address == NULL) {
			snprintf(cfg_error, sizeof(cfg_error),
				 "%s:%d: [peer %s] has no address", ctx->name,
				 cfg->peers[i].line, cfg->peers[i].name);
			goto fail;
		}
	}
	for (size_t i = 0; i < cfg->n_accounts; i++) {
		const struct mm_account_cfg *a = &cfg->accounts[i];

		for (size_t j = 0; j < a->n_replicas; j++) {
			if (mm_cfg_peer(cfg, a->replicas[j]) == NULL) {
				snprintf(cfg_error, sizeof(cfg_error),
					 "%s:%d: [account %s] replicas: no [peer %s]",
					 ctx->name, a->line, a->pattern, a->replicas[j]);
				goto fail;
			}
		}
	}
	if (cfg->hb_timeout_ms <= cfg->hb_interval_ms) {
		snprintf(cfg_error, sizeof(cfg_error),
			 "%s: [hbmon] timeout (%u ms) must be longer than interval (%u ms)",
			 ctx->name, cfg->hb_timeout_ms, cfg->hb_interval_ms);
		goto fail;
	}
	if (cfg->hb_lease_ms == 0)
		cfg->hb_lease_ms = cfg->hb_timeout_ms - cfg->hb_interval_ms;
	if (cfg->hb_catchup_ms == 0)
		cfg->hb_catchup_ms = 2 * cfg->hb_timeout_ms;
	if (!cfg->hb_failback_given)
		cfg->hb_failback_ms = 10000;
	if (cfg->hb_lease_ms < 2 * cfg->hb_interval_ms || cfg->hb_lease_ms > cfg->hb_timeout_ms) {
		snprintf(cfg_error, sizeof(cfg_error),
			 "%s: [hbmon] lease (%u ms) must be at least 2 x interval (%u ms) "
			 "and at most timeout (%u ms)", ctx->name, cfg->hb_lease_ms,
			 cfg->hb_interval_ms, cfg->hb_timeout_ms);
		goto fail;
	}
	if (strcmp(cfg->store, cfg->state) == 0 ||
	    strncmp(cfg->state, cfg->store, strlen(cfg->store)) == 0) {
		if (cfg->state[strlen(cfg->store)] == '/' ||
		    cfg->state[strlen(cfg->store)] == '\0') {
			snprintf(cfg_error, sizeof(cfg_error),
				 "%s: state (%s) must not be inside store (%s)",
				 ctx->name, cfg->state, cfg->store);
			goto fail;
		}
	}
	return 0;
fail:
	*error_r = cfg_error;
	mm_cfg_free(&ctx->cfg);
	return -1;
}

static struct mm_cfg *cfg_new(const char *name)
{
	struct mm_cfg *cfg = mm_calloc(1, sizeof(*cfg));

	cfg->path = mm_strdup(name);
	cfg->account_depth = 2;
	cfg->fsync = MM_FSYNC_BATCH;
	cfg->segment_size = 64ULL << 20;
	cfg->retention_s = 7 * 86400;
	cfg->expunge_retention_s = 7 * 86400;
	cfg->expunge_guard = 20;
	cfg->expunge_guard_min = 10;
	cfg->resync_level = -50;
	cfg->batch_interval_ms = 50;
	cfg->hb_replicas = 2;
	cfg->hb_interval_ms = 200;
	cfg->hb_timeout_ms = 1000;
	cfg->hb_rtt_ms = 500;
	cfg->hb_probe_ms = 200;
	cfg->hb_pressure = 50;
	cfg->hb_min_free = 1ULL << 30;
	cfg->hb_window = 5;
	return cfg;
}

int mm_cfg_load(const char *path, struct mm_cfg **cfg_r, const char **error_r)
{
	struct cfg_ctx ctx = { .name = path };
	int ret;

	ctx.cfg = cfg_new(path);
	errno = 0;
	ctx.file = fopen(path, "r");
	if (ctx.file == NULL) {
		ret = -1;
		if (errno == 0)
			errno = ENOENT;
	} else {
		ret = ini_parse_stream(cfg_read_line, &ctx, cfg_handler, &ctx);
		fclose(ctx.file);
	}
	if (cfg_finish(&ctx, ret, error_r) < 0)
		return -1;
	*cfg_r = ctx.cfg;
	return 0;
}

int mm_cfg_parse(const char *name, const char *text, struct mm_cfg **cfg_r,
		 const char **error_r)
{
	struct cfg_ctx ctx = { .name = name };
	int ret;

	ctx.cfg = cfg_new(name);
	ctx.text = text;
	ret = ini_parse_stream(cfg_read_line, &ctx, cfg_handler, &ctx);
	if (cfg_finish(&ctx, ret, error_r) < 0)
		return -1;
	*cfg_r = ctx.cfg;
	return 0;
}

static void list_free(char ***list, size_t *n)
{
	for (size_t i = 0; i < *n; i++)
		free((*list)[i]);
	mm_free(list);
	*n = 0;
}

void mm_cfg_free(struct mm_cfg **cfgp)
{
	struct mm_cfg *cfg = *cfgp;

	if (cfg == NULL)
		return;
	free(cfg->path);
	free(cfg->node_name);
	free(cfg->store);
	free(cfg->state);
	free(cfg->mount);
	list_free(&cfg->classify_ignore, &cfg->n_classify_ignore);
	list_free(&cfg->classify_meta, &cfg->n_classify_meta);
	list_free(&cfg->classify_plain, &cfg->n_classify_plain);
	free(cfg->repl_listen);
	free(cfg->tls_ca);
	free(cfg->tls_cert);
	free(cfg->tls_key);
	free(cfg->hb_listen);
	free(cfg->hb_key_file);
	free(cfg->hb_witness);
	free(cfg->hb_on_role_change);
	for (size_t i = 0; i < cfg->n_peers; i++) {
		free(cfg->peers[i].name);
		free(cfg->peers[i].address);
		free(cfg->peers[i].hbmon);
	}
	free(cfg->peers);
	for (size_t i = 0; i < cfg->n_accounts; i++) {
		free(cfg->accounts[i].pattern);
		list_free(&cfg->accounts[i].replicas, &cfg->accounts[i].n_replicas);
	}
	free(cfg->accounts);
	free(cfg);
	*cfgp = NULL;
}
