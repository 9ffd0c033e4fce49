/* SPDX-License-Identifier: MIT
 * repl-trip.c - the mass-expunge guard's I/O (the arithmetic is
 * repl-guard.c): counting an account's messages, holding its expunges on
 * every link once it trips, the alert, STATE/replication/guard, and the
 * operator's confirm or revert. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "acct.h"
#include "classify.h"
#include "inventory.h"
#include "log.h"
#include "mem.h"
#include "repl-guard.h"
#include "repl-moved.h"
#include "repl.h"

/* "FIRST_LSN FIRST_NS TRIP_LSN TRIP_NS ACCOUNT" per tripped account */
static char *trips_path(const struct repl_daemon *d)
{
	return mm_strdup_printf("%s/guard", d->cursor_dir);
}

static int trips_save(struct repl_daemon *d)
{
	char *path = trips_path(d);
	struct mm_buf text = { 0 };
	int ret;

	for (size_t i = 0; i < d->n_trips; i++) {
		const struct repl_trip *t = &d->trips[i];

		mm_buf_printf(&text, "%" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %s\n",
			      t->first_lsn, t->first_ns, t->trip_lsn, t->trip_ns, t->account);
	}
	ret = repl_state_write(path, &text);
	if (ret < 0)
		mm_log_error("expunge guard: writing %s failed: %m", path);
	mm_buf_free(&text);
	free(path);
	return ret;
}

void repl_trips_start(struct repl_daemon *d)
{
	struct repl_guard_set set = { .pct = d->cfg->expunge_guard,
				      .min = d->cfg->expunge_guard_min,
				      .window_ns = REPL_GUARD_WINDOW_NS };
	char *path = trips_path(d), line[512];
	FILE *f = fopen(path, "r");

	d->guard = repl_guard_new(&set);
	d->moved = repl_moved_new(REPL_MOVED_KEEP_NS);
	if (f == NULL) {
		if (errno != ENOENT)
			mm_log_error("expunge guard: %s: %m", path);
		free(path);
		return;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		struct repl_trip t = { 0 };
		char acct[256];
		const char *error;

		if (sscanf(line, "%" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %255s",
			   &t.first_lsn, &t.first_ns, &t.trip_lsn, &t.trip_ns, acct) != 5 ||
		    mm_acct_check(acct, d->cfg->account_depth, &error) < 0) {
			mm_log_error("expunge guard: %s: a bad line ignored", path);
			continue;
		}
		t.account = mm_strdup(acct);
		d->trips = mm_realloc(d->trips, (d->n_trips + 1) * sizeof(*d->trips));
		d->trips[d->n_trips++] = t;
		mm_log_error("expunge guard: %s is still held since LSN %" PRIu64
			     " (mailmeshctl expunge-guard %s confirm|revert)", acct,
			     t.first_lsn, acct);
	}
	fclose(f);
	free(path);
}

void repl_trips_stop(struct repl_daemon *d)
{
	for (size_t i = 0; i < d->n_trips; i++)
		free(d->trips[i].account);
	mm_free(&d->trips);
	d->n_trips = 0;
	repl_guard_free(&d->guard);
	repl_moved_free(&d->moved);
}

const struct repl_trip *repl_trip_find(const struct repl_daemon *d, const char *account)
{
	for (size_t i = 0; i < d->n_trips; i++)
		if (strcmp(d->trips[i].account, account) == 0)
			return &d->trips[i];
	return NULL;
}

/* The messages the account holds in this store now (new/ and cur/ of
   every folder); a store that cannot be read counts as empty, which
   makes the guard trip sooner, never later. */
static uint64_t count_messages(struct repl_daemon *d, const char *account)
{
	struct mm_rules *rules = mm_rules_new(d->cfg);
	struct mm_inv *inv = NULL;
	const char *error;
	uint64_t n = 0;

	if (mm_inv_scan(d->cfg->store, account, rules, false, NULL, &inv, &error) < 0) {
		mm_log_warn("expunge guard: counting %s: %s", account, error);
	} else {
		for (size_t i = 0; i < inv->n; i++)
			for (size_t k = 0; k < inv->f[i].n; k++)
				if (inv->f[i].e[k].kind == MM_INV_MESSAGE)
					n++;
	}
	mm_inv_free(&inv);
	mm_rules_free(&rules);
	return n;
}

/* Holds account's expunges on every link from first_lsn on (or from
   what a link has not read yet, when it is past that). */
static void trip(struct repl_daemon *d, const struct mm_journal_rec *rec,
		 uint64_t first_lsn, uint64_t first_ns)
{
	struct repl_trip t = { .account = mm_strdup(rec->account), .first_lsn = first_lsn,
			       .first_ns = first_ns, .trip_lsn = rec->lsn,
			       .trip_ns = rec->time_ns };

	for (size_t i = 0; i < d->n_links; i++) {
		struct repl_link *l = &d->links[i];
		struct repl_pause *p = repl_pause_find(l, rec->account);

		if (p != NULL)
			continue;	/* paused: everything is held already */
		l->pauses = mm_realloc(l->pauses, (l->n_pauses + 1) * sizeof(*l->pauses));
		p = &l->pauses[l->n_pauses++];
		memset(p, 0, sizeof(*p));
		p->account = mm_strdup(rec->account);
		p->guard = true;
		p->from_lsn = l->sent_lsn + 1 > first_lsn ? l->sent_lsn + 1 : first_lsn;
		repl_pause_save(l);
	}
	d->trips = mm_realloc(d->trips, (d->n_trips + 1) * sizeof(*d->trips));
	d->trips[d->n_trips++] = t;
	trips_save(d);
	mm_log_error("expunge guard: %s: more than %u%% of its messages (at least %u) "
		     "expunged within a minute, from LSN %" PRIu64 ": its expunges are held "
		     "for every peer until an operator runs mailmeshctl expunge-guard %s "
		     "confirm|revert", rec->account, d->cfg->expunge_guard,
		     d->cfg->expunge_guard_min + 1, first_lsn, rec->account);
}

bool repl_trip_check(struct repl_link *l, const struct mm_journal_rec *rec)
{
	struct repl_daemon *d = l->d;
	uint64_t base = 0, first_lsn = 0, first_ns = 0;

	if (d->cfg->expunge_guard == 0 || (rec->rflags & MM_RECF_RESYNC))
		return false;
	/* every link reads every record: the first to read it decides */
	if (rec->lsn <= d->trip_seen_lsn)
		return false;
	d->trip_seen_lsn = rec->lsn;
	/* a move is deliveries (or copies) into the other folder, then
	   expunges of the sources: not a delete */
	if (rec->op == MM_OP_DELIVER || rec->op == MM_OP_COPY)
		repl_moved_note(d->moved, rec->account,
				rec->op == MM_OP_COPY ? rec->new_folder : rec->folder,
				rec->op == MM_OP_COPY ? rec->new_name : rec->name, rec->time_ns);
	if ((rec->op != MM_OP_EXPUNGE && rec->op != MM_OP_FOLDER_DELETE) ||
	    (rec->op == MM_OP_EXPUNGE &&
	     repl_moved_take(d->moved, rec->account, rec->folder, rec->name, rec->time_ns)))
		return false;
	/* the message is gone already: it counts in the base (and so may
	   later ones the reader has not reached: the guard trips sooner) */
	if (repl_guard_needs_base(d->guard, rec->account, rec->time_ns))
		base = count_messages(d, rec->account) + 1;
	if (repl_guard_note(d->guard, rec->account, rec->lsn, rec->time_ns, base,
			    &first_lsn, &first_ns) != REPL_GUARD_TRIP)
		return false;
	trip(d, rec, first_lsn, first_ns);
	return true;
}

int repl_trip_decide(struct repl_daemon *d, const char *args, struct mm_buf *out)
{
	char acct[256], what[16];
	uint64_t upto = 0;
	const char *error;
	unsigned int links = 0;
	int n = sscanf(args, "%255s %15s %" SCNu64, acct, what, &upto);

	if (n < 2 || (strcmp(what, "confirm") != 0 && strcmp(what, "revert") != 0) ||
	    (strcmp(what, "revert") == 0 && n != 3)) {
		mm_buf_puts(out, "error usage: guard ACCOUNT confirm | revert UPTO_LSN\n");
		return -1;
	}
	if (mm_acct_check(acct, d->cfg->account_depth, &error) < 0) {
		mm_buf_printf(out, "error %s\n", error);
		return -1;
	}
	const struct repl_trip *t = repl_trip_find(d, acct);

	if (t == NULL) {
		mm_buf_printf(out, "error %s: the expunge guard holds nothing of it\n", acct);
		return -1;
	}
	for (size_t i = 0; i < d->n_links; i++) {
		struct repl_link *l = &d->links[i];
		struct repl_pause *p = repl_pause_find(l, acct);

		if (p == NULL || !p->guard)
			continue;
		/* revert: the expunges up to upto were undone through the
		   mount (their messages delivered again, after them in the
		   journal), so they are dropped; any held after it ship */
		if (strcmp(what, "revert") == 0 && p->from_lsn <= upto)
			p->from_lsn = upto + 1;
		p->replaying = true;
		repl_pause_save(l);
		links++;
	}
	size_t k = (size_t)(t - d->trips);

	free(d->trips[k].account);
	d->trips[k] = d->trips[--d->n_trips];
	if (trips_save(d) < 0) {
		mm_buf_printf(out, "error %s: cannot save the guard's state\n", acct);
		return -1;
	}
	mm_log_info("expunge guard: %s %s by the operator (%u link(s))", acct,
		    strcmp(what, "confirm") == 0 ? "confirmed: its held expunges ship" :
		    "reverted: its held expunges are dropped", links);
	repl_links_pump(d);
	mm_buf_printf(out, "ok %s: %s\n", acct, strcmp(what, "confirm") == 0 ? "confirmed" :
		      "reverted");
	return 0;
}
