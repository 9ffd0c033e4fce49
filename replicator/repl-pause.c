/* SPDX-License-Identifier: MIT
 * repl-pause.c - the accounts one outbound link holds back (mailmeshctl
 * pause), kept in STATE/replication/to-PEER.paused so a restart keeps them. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "acct.h"
#include "log.h"
#include "mem.h"
#include "repl.h"

/* One line per account: "FROM p|r|g|c ACCOUNT": the link skips the
   account's records from LSN FROM on; 'r' once resumed, until they are
   replayed. 'g': the expunge guard holds its expunges and folder deletes
   only; 'c' once confirmed, until those are replayed. */
int repl_pause_parse(const char *line, struct repl_pause *p)
{
	char state, acct[256];
	uint64_t from;

	if (*line < '0' || *line > '9' ||
	    sscanf(line, "%" SCNu64 " %c %255s", &from, &state, acct) != 3 ||
	    strchr("prgc", state) == NULL || state == '\0' || from == 0)
		return -1;
	p->from_lsn = from;
	p->replaying = state == 'r' || state == 'c';
	p->guard = state == 'g' || state == 'c';
	p->account = mm_strdup(acct);
	return 0;
}

char repl_pause_state(const struct repl_pause *p)
{
	if (p->guard)
		return p->replaying ? 'c' : 'g';
	return p->replaying ? 'r' : 'p';
}

bool repl_pause_holds(const struct repl_pause *p, const struct mm_journal_rec *rec)
{
	if (rec->lsn < p->from_lsn)
		return false;
	return !p->guard || rec->op == MM_OP_EXPUNGE || rec->op == MM_OP_FOLDER_DELETE;
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
			mm_log_error("replication to %s: %s line %u is not \"LSN p|r|g|c ACCOUNT\"; "
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

int repl_state_write(const char *path, const struct mm_buf *text)
{
	char *tmp;
	int fd, ret = 0;

	if (text->len == 0) {
		if (unlink(path) < 0 && errno != ENOENT)
			return -1;
		return 0;
	}
	tmp = mm_strdup_printf("%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, text->data, text->len) != (ssize_t)text->len ||
	    fsync(fd) < 0)
		ret = -1;
	if (fd >= 0 && close(fd) < 0)
		ret = -1;
	if (ret == 0 && rename(tmp, path) < 0)
		ret = -1;
	free(tmp);
	return ret;
}

/* Written whole, fsync'd and renamed: a pause the operator was told about
   survives a crash. */
int repl_pause_save(struct repl_link *l)
{
	char *path = pause_path(l);
	struct mm_buf text = { 0 };
	int ret;

	for (size_t i = 0; i < l->n_pauses; i++)
		mm_buf_printf(&text, "%" PRIu64 " %c %s\n", l->pauses[i].from_lsn,
			      repl_pause_state(&l->pauses[i]), l->pauses[i].account);
	ret = repl_state_write(path, &text);
	if (ret < 0)
		mm_log_error("replication to %s: writing %s failed: %m", l->peer->name, path);
	mm_buf_free(&text);
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
