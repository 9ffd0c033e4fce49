/* SPDX-License-Identifier: MIT
 * repl-pause.c - the accounts one outbound link holds back (mailmeshctl
 * pause), kept in STATE/replication/to-PEER.paused so a restart keeps them. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "acct.h"
#include "log.h"
#include "mem.h"
#include "repl.h"

/* One line per account: "FROM p|r ACCOUNT": the link skips the account's
   records from LSN FROM on; 'r' once resumed, until they are replayed. */
int repl_pause_parse(const char *line, struct repl_pause *p)
{
	char state, acct[256];
	uint64_t from;

	if (*line < '0' || *line > '9' ||
	    sscanf(line, "%" SCNu64 " %c %255s", &from, &state, acct) != 3 ||
	    (state != 'p' && state != 'r') || from == 0)
		return -1;
	p->from_lsn = from;
	p->replaying = state == 'r';
	p->account = mm_strdup(acct);
	return 0;
}

struct repl_pause *repl_pause_find(struct repl_link *l, const char *account)
{
	for (size_t i = 0; i < l->n_pauses; i++) {
		if (strcmp(l->pauses[i].account, account) == 0)
			return &l->pauses[i];
	}
	return NULL;
}

static char *pause_path(struct repl_link *l)
{
	return mm_strdup_printf("%s/to-%s.paused", l->d->cursor_dir, l->peer->name);
}

void repl_pause_load(struct repl_link *l)
{
	char *path = pause_path(l), line[512];
	FILE *f = fopen(path, "r");
	unsigned int n = 0;

	if (f == NULL) {
		if (errno != ENOENT)
			mm_log_error("replication to %s: %s: %m", l->peer->name, path);
		free(path);
		return;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		struct repl_pause p = { 0 };
		const char *error;

		n++;
		if (repl_pause_parse(line, &p) < 0 ||
		    mm_acct_check(p.account, l->d->cfg->account_depth, &error) < 0) {
			mm_log_error("replication to %s: %s line %u is not \"LSN p|r ACCOUNT\"; "
				     "ignored", l->peer->name, path, n);
			free(p.account);
			continue;
		}
		l->pauses = mm_realloc(l->pauses, (l->n_pauses + 1) * sizeof(*l->pauses));
		l->pauses[l->n_pauses++] = p;
	}
	fclose(f);
	free(path);
}

/* Written whole, fsync'd and renamed: a pause the operator was told about
   survives a crash. */
int repl_pause_save(struct repl_link *l)
{
	char *path = pause_path(l), *tmp = mm_strdup_printf("%s.tmp", path);
	FILE *f;
	int ret = 0;

	if (l->n_pauses == 0) {
		if (unlink(path) < 0 && errno != ENOENT)
			ret = -1;
		goto out;
	}
	f = fopen(tmp, "w");
	if (f == NULL) {
		ret = -1;
		goto out;
	}
	for (size_t i = 0; i < l->n_pauses; i++)
		fprintf(f, "%" PRIu64 " %c %s\n", l->pauses[i].from_lsn,
			l->pauses[i].replaying ? 'r' : 'p', l->pauses[i].account);
	if (fflush(f) != 0 || fsync(fileno(f)) < 0)
		ret = -1;
	if (fclose(f) != 0)
		ret = -1;
	if (ret == 0 && rename(tmp, path) < 0)
		ret = -1;
out:
	if (ret < 0)
		mm_log_error("replication to %s: writing %s failed: %m", l->peer->name, path);
	free(tmp);
	free(path);
	return ret;
}

void repl_pause_remove(struct repl_link *l, struct repl_pause *p)
{
	size_t i = (size_t)(p - l->pauses);

	free(p->account);
	l->pauses[i] = l->pauses[--l->n_pauses];
}

void repl_pause_free_all(struct repl_link *l)
{
	for (size_t i = 0; i < l->n_pauses; i++)
		free(l->pauses[i].account);
	mm_free(&l->pauses);
	l->n_pauses = 0;
}
