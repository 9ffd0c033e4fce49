/* SPDX-License-Identifier: MIT
 * cfg.c - INI configuration through libinih (Debian's libinih-dev: a small,
 * well-kept parser that reports the failing line), plus our key table. */
#include <errno.h>
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
	cfg->batch_interval_ms = 50;
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
	free(cfg);
	*cfgp = NULL;
}
