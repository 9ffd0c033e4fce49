/* SPDX-License-Identifier: MIT
 * repl-role.c - the answer to a ROLE question (see repl-role.h): the
 * store's small files read afresh at each call, and the answer's text. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "acct.h"
#include "ctl.h"
#include "mem.h"
#include "repl-cursor.h"
#include "repl-role.h"

static __thread char err[512];

void repl_role_free(struct repl_role *r)
{
	free(r->store);
	for (size_t i = 0; i < r->n_from; i++)
		free(r->from[i].peer);
	free(r->from);
	memset(r, 0, sizeof(*r));
}

static void add_cursor(struct repl_role *r, const char *peer, size_t len, uint64_t lsn)
{
	r->from = mm_realloc(r->from, (r->n_from + 1) * sizeof(*r->from));
	r->from[r->n_from].peer = mm_strndup(peer, len);
	r->from[r->n_from++].lsn = lsn;
}

/* 0 with *lsn_r (0 when there is no file or nothing valid in it), -1. */
static int read_cursor(const char *state, const char *peer, uint64_t *lsn_r)
{
	char *path = mm_strdup_printf("%s/replication/from-%s.lsn", state, peer);
	char buf[2 * REPL_CURSOR_SLOT_OFF];
	int fd = open(path, O_RDONLY | O_CLOEXEC), valid = 0;
	ssize_t n = 0;

	*lsn_r = 0;
	if (fd < 0 && errno != ENOENT) {
		snprintf(err, sizeof(err), "open(%s) failed: %s", path, strerror(errno));
		free(path);
		return -1;
	}
	if (fd >= 0 && (n = read(fd, buf, sizeof(buf))) < 0) {
		snprintf(err, sizeof(err), "read(%s) failed: %s", path, strerror(errno));
		close(fd);
		free(path);
		return -1;
	}
	if (n > 0)
		*lsn_r = repl_cursor_parse(buf, (size_t)n, &valid);
	if (fd >= 0)
		close(fd);
	free(path);
	return 0;
}

/* Whether account is active here, and its epoch. 0, or -1 with err. */
static int read_active(const struct mm_cfg *cfg, const char *account, struct repl_role *r)
{
	const char *error;
	char **list = NULL;
	uint64_t *epochs = NULL, gen;
	size_t n = 0;

	if (cfg->hb_listen == NULL) {
		/* not fenced: the account's mode in STATE/accounts says */
		if (mm_acct_load(cfg->state, &list, &n, &error) < 0) {
			snprintf(err, sizeof(err), "%s", error);
			return -1;
		}
		r->active = r->held && !mm_acct_in(list, n, account, strlen(account));
		mm_acct_list_free(&list, n);
		return 0;
	}
	{
		char *path = mm_strdup_printf("%s/roles", cfg->state);
		int missing = access(path, F_OK) < 0 && errno == ENOENT;

		free(path);
		if (missing)
			return 0;	/* mailmesh-hbmon has granted nothing here yet */
	}
	if (mm_roles_load(cfg->state, &gen, &list, &epochs, &n, &error) < 0) {
		snprintf(err, sizeof(err), "%s", error);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		if (strcmp(list[i], account) == 0) {
			r->active = true;
			r->epoch = epochs[i];
			break;
		}
	}
	mm_acct_list_free(&list, n);
	free(epochs);
	return 0;
}

int repl_role_read(const struct mm_cfg *cfg, const char *account, struct repl_role *r_r,
		   const char **error_r)
{
	char *path, out[4200], *p;
	const char *error;
	struct stat st;

	memset(r_r, 0, sizeof(*r_r));
	r_r->store = mm_strdup(cfg->node_name);
	path = mm_strdup_printf("%s/%s", cfg->store, account);
	r_r->held = stat(path, &st) == 0 && S_ISDIR(st.st_mode);
	free(path);
	if (read_active(cfg, account, r_r) < 0)
		goto fail;
	/* the head from the mount itself: the journal's last LSN, pending
	   records included (what a peer must apply for nothing to be lost) */
	path = mm_strdup_printf("%s/control.sock", cfg->state);
	if (mm_ctl_call_timeout(path, "status", out, sizeof(out), REPL_ROLE_FS_TIMEOUT_MS,
				&error) == 0 && (p = strstr(out, " last_lsn=")) != NULL) {
		r_r->head = strtoull(p + 10, NULL, 10);
		r_r->head_known = true;
	}
	free(path);
	for (size_t i = 0; i < cfg->n_peers; i++) {
		uint64_t lsn;

		if (strcmp(cfg->peers[i].name, cfg->node_name) == 0)
			continue;
		if (read_cursor(cfg->state, cfg->peers[i].name, &lsn) < 0)
			goto fail;
		add_cursor(r_r, cfg->peers[i].name, strlen(cfg->peers[i].name), lsn);
	}
	return 0;
fail:
	repl_role_free(r_r);
	*error_r = err;
	return -1;
}

void repl_role_format(const struct repl_role *r, struct mm_buf *out)
{
	mm_buf_printf(out, "store %s\nheld %d\nactive %d\nepoch %" PRIu64 "\n", r->store,
		      r->held ? 1 : 0, r->active ? 1 : 0, r->epoch);
	if (r->head_known)
		mm_buf_printf(out, "head %" PRIu64 "\n", r->head);
	for (size_t i = 0; i < r->n_from; i++)
		mm_buf_printf(out, "from %s %" PRIu64 "\n", r->from[i].peer, r->from[i].lsn);
}

static bool name_ok(const char *p, size_t len)
{
	if (len == 0 || len > REPL_ROLE_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if (p[i] <= ' ' || p[i] > '~')
			return false;
	return true;
}

/* A decimal number of exactly len bytes. */
static bool number(const char *p, size_t len, uint64_t *v_r)
{
	uint64_t v = 0;

	if (len == 0 || len > 20)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (p[i] < '0' || p[i] > '9' || v > (UINT64_MAX - (uint64_t)(p[i] - '0')) / 10)
			return false;
		v = v * 10 + (uint64_t)(p[i] - '0');
	}
	*v_r = v;
	return true;
}

static bool flag(const char *p, size_t len, bool *v_r)
{
	if (len != 1 || (p[0] != '0' && p[0] != '1'))
		return false;
	*v_r = p[0] == '1';
	return true;
}

/* One "KEY VALUE" line (without its newline) into r; false when bad. */
static bool parse_line(const char *p, size_t len, struct repl_role *r, unsigned int *seen)
{
	const char *sp = memchr(p, ' ', len), *v;
	size_t klen, vlen;

	if (sp == NULL)
		return false;
	klen = (size_t)(sp - p);
	v = sp + 1;
	vlen = len - klen - 1;
#define KEY(s) (klen == sizeof(s) - 1 && memcmp(p, s, klen) == 0)
	if (KEY("store")) {
		if (!name_ok(v, vlen) || r->store != NULL)
			return false;
		r->store = mm_strndup(v, vlen);
		*seen |= 1;
	} else if (KEY("held")) {
		if (!flag(v, vlen, &r->held))
			return false;
		*seen |= 2;
	} else if (KEY("active")) {
		if (!flag(v, vlen, &r->active))
			return false;
		*seen |= 4;
	} else if (KEY("epoch")) {
		return number(v, vlen, &r->epoch);
	} else if (KEY("head")) {
		r->head_known = true;
		return number(v, vlen, &r->head);
	} else if (KEY("from")) {
		const char *sp2 = memchr(v, ' ', vlen);
		uint64_t lsn;

		if (sp2 == NULL || !name_ok(v, (size_t)(sp2 - v)) ||
		    !number(sp2 + 1, vlen - (size_t)(sp2 - v) - 1, &lsn))
			return false;
		add_cursor(r, v, (size_t)(sp2 - v), lsn);
	}
#undef KEY
	/* another key: a newer store's, skipped */
	return true;
}

int repl_role_parse(const unsigned char *text, size_t len, struct repl_role *r_r,
		    const char **error_r)
{
	const char *p = (const char *)text, *end = p + len;
	unsigned int seen = 0, line = 0;

	memset(r_r, 0, sizeof(*r_r));
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));

		line++;
		if (nl == NULL) {
			snprintf(err, sizeof(err), "ROLE answer: line %u has no newline", line);
			*error_r = err;
			return -1;
		}
		if (memchr(p, '\0', (size_t)(nl - p)) != NULL ||
		    !parse_line(p, (size_t)(nl - p), r_r, &seen)) {
			snprintf(err, sizeof(err), "ROLE answer: line %u is malformed", line);
			*error_r = err;
			return -1;
		}
		p = nl + 1;
	}
	if (seen != 7) {
		*error_r = "ROLE answer: store, held or active missing";
		return -1;
	}
	return 0;
}

bool repl_role_cursor(const struct repl_role *r, const char *peer, uint64_t *lsn_r)
{
	for (size_t i = 0; i < r->n_from; i++) {
		if (strcmp(r->from[i].peer, peer) == 0) {
			*lsn_r = r->from[i].lsn;
			return true;
		}
	}
	return false;
}
