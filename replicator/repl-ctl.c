/* SPDX-License-Identifier: MIT
 * repl-ctl.c - the replicator's control socket (STATE/replicator.sock):
 * "status" answers "ok" then one JSON object per peer link and session. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <jansson.h>
#include "evctl.h"
#include "log.h"
#include "mem.h"
#include "repl.h"

static const char *const link_states[] = {
	[REPL_LINK_DOWN] = "down",
	[REPL_LINK_CONNECTING] = "connecting",
	[REPL_LINK_HELLO] = "handshake",
	[REPL_LINK_STREAMING] = "streaming",
};

static void put_line(struct mm_buf *out, json_t *obj)
{
	char *s = json_dumps(obj, JSON_COMPACT);

	mm_buf_puts(out, s);
	mm_buf_puts(out, "\n");
	free(s);
	json_decref(obj);
}

void repl_status_json(struct repl_daemon *d, struct mm_buf *out)
{
	uint64_t now = repl_now_ns();

	for (size_t i = 0; i < d->n_links; i++) {
		const struct repl_link *l = &d->links[i];
		uint64_t lag_ms = 0;

		if (l->n_inflight > 0) {
			uint64_t t = l->inflight[l->inflight_head].time_ns;

			lag_ms = now > t ? (now - t) / 1000000 : 0;
		}
		json_t *paused = json_array();

		for (size_t k = 0; k < l->n_pauses; k++)
			json_array_append_new(paused, json_pack("{s:s, s:I, s:b, s:b, s:I}",
				"account", l->pauses[k].account,
				"from_lsn", (json_int_t)l->pauses[k].from_lsn,
				"replaying", l->pauses[k].replaying,
				"guard", l->pauses[k].guard,
				"held", (json_int_t)l->pauses[k].held));
		put_line(out, json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:s, "
					"s:b, s:b, s:I, s:I, s:I, s:I, s:I, s:o}",
			"peer", l->peer->name, "direction", "out",
			"address", l->peer->address, "state", link_states[l->state],
			"sent_lsn", (json_int_t)l->sent_lsn,
			"acked_lsn", (json_int_t)l->acked_lsn,
			"lag_records", (json_int_t)l->n_inflight,
			"lag_ms", (json_int_t)lag_ms,
			"records_sent", (json_int_t)l->records_sent,
			"bytes_sent", (json_int_t)l->bytes_sent,
			"last_error", l->last_error,
			"needs_resync", l->needs_resync,
			"seeding", l->needs_resync && l->lost_to == 0,
			"lost_from", (json_int_t)l->lost_from,
			"lost_to", (json_int_t)l->lost_to,
			"content_bytes", (json_int_t)l->content_bytes,
			"content_deduped", (json_int_t)l->content_deduped,
			"refused_stale", (json_int_t)l->refused_stale,
			"paused", paused));
	}
	for (const struct repl_session *s = d->sessions; s != NULL; s = s->next) {
		if (!s->welcomed)
			continue;
		put_line(out, json_pack("{s:s, s:s, s:I, s:I, s:I}",
			"peer", s->peer, "direction", "in",
			"applied_lsn", (json_int_t)s->applied_lsn,
			"durable_lsn", (json_int_t)s->durable_lsn,
			"stale_epoch", (json_int_t)s->n_stale));
	}
	for (size_t i = 0; i < d->n_trips; i++) {
		const struct repl_trip *t = &d->trips[i];
		uint64_t held = 0;

		for (size_t k = 0; k < d->n_links; k++) {
			const struct repl_pause *p = repl_pause_find(&d->links[k], t->account);

			if (p != NULL && p->held > held)
				held = p->held;
		}
		put_line(out, json_pack("{s:s, s:I, s:I, s:I, s:I, s:I}",
			"expunge_guard", t->account,
			"first_lsn", (json_int_t)t->first_lsn,
			"since_ns", (json_int_t)t->first_ns,
			"trip_lsn", (json_int_t)t->trip_lsn,
			"trip_ns", (json_int_t)t->trip_ns,
			"held", (json_int_t)held));
	}
	uint64_t kept = 0, kept_failed = 0;

	if (d->store != NULL)
		repl_store_retained(d->store, &kept, &kept_failed);
	put_line(out, json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
		"store", d->cfg->node_name, "by_hash", (json_int_t)d->n_by_hash,
		"merged", (json_int_t)d->n_merged, "late_merged", (json_int_t)d->n_late_merged,
		"applied", (json_int_t)d->n_applied, "already", (json_int_t)d->n_already,
		"missing", (json_int_t)d->n_missing, "conflicts", (json_int_t)d->n_conflicts,
		"refused", (json_int_t)d->n_refused,
		"stale_epoch", (json_int_t)d->n_stale,
		"retained", (json_int_t)kept,
		"retain_failed", (json_int_t)kept_failed));
}

/* ---- sync mode: "wait LSN ACKS TIMEOUT_MS" ---- */

/* The peers that acknowledged lsn: not those that refused it (a stale
   epoch), though their later ACKs cover it. */
static unsigned int acked_by(struct repl_daemon *d, uint64_t lsn)
{
	unsigned int n = 0;

	for (size_t i = 0; i < d->n_links; i++)
		if (d->links[i].acked_lsn >= lsn && !repl_link_refused(&d->links[i], lsn))
			n++;
	return n;
}

static unsigned int refused_by(struct repl_daemon *d, uint64_t lsn)
{
	unsigned int n = 0;

	for (size_t i = 0; i < d->n_links; i++)
		if (repl_link_refused(&d->links[i], lsn))
			n++;
	return n;
}

/* Enough peers refused w's record that the others cannot make up its
   acknowledgements: it fails now rather than at its timeout. */
static bool too_many_refused(struct repl_daemon *d, const struct repl_waiter *w)
{
	unsigned int refused = refused_by(d, w->lsn);

	return refused > 0 && d->n_links - refused < w->acks;
}

static void reply_and_close(struct bufferevent *bev, const char *text)
{
	mm_evctl_reply(bev, text, strlen(text));
}

enum waiter_end { WAIT_OK, WAIT_TIMEOUT, WAIT_REFUSED };

static void waiter_done(struct repl_waiter *w, enum waiter_end how)
{
	static const char *const words[] = {
		[WAIT_OK] = "ok", [WAIT_TIMEOUT] = "error timeout",
		[WAIT_REFUSED] = "error refused",
	};
	struct repl_waiter **pp;
	char text[128];

	for (pp = &w->d->waiters; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == w) {
			*pp = w->next;
			break;
		}
	}
	snprintf(text, sizeof(text), "%s acked=%u of %u refused=%u\n", words[how],
		 acked_by(w->d, w->lsn), w->acks, refused_by(w->d, w->lsn));
	if (w->bev != NULL)
		reply_and_close(w->bev, text);
	event_free(w->timer);
	free(w);
}

static void on_waiter_timeout(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	waiter_done(arg, WAIT_TIMEOUT);
}

void repl_waiters_check(struct repl_daemon *d)
{
	struct repl_waiter *w = d->waiters, *next;

	for (; w != NULL; w = next) {
		next = w->next;
		if (acked_by(d, w->lsn) >= w->acks)
			waiter_done(w, WAIT_OK);
		else if (too_many_refused(d, w))
			waiter_done(w, WAIT_REFUSED);
	}
}

/* The caller went away before its answer: forget the connection. */
static void c_on_waiter_event(struct bufferevent *bev, short what, void *arg)
{
	struct repl_waiter *w = arg;

	(void)what;
	w->bev = NULL;
	bufferevent_free(bev);
}

static void wait_start(struct repl_daemon *d, struct bufferevent *bev, const char *args)
{
	unsigned long long lsn;
	unsigned int acks, ms;
	struct repl_waiter *w;

	if (sscanf(args, "%llu %u %u", &lsn, &acks, &ms) != 3 || acks == 0) {
		reply_and_close(bev, "error usage: wait LSN ACKS TIMEOUT_MS\n");
		return;
	}
	w = mm_calloc(1, sizeof(*w));
	w->d = d;
	w->bev = bev;
	w->lsn = lsn;
	w->acks = acks;
	w->timer = evtimer_new(d->base, on_waiter_timeout, w);
	w->next = d->waiters;
	d->waiters = w;
	bufferevent_setcb(bev, NULL, NULL, c_on_waiter_event, w);
	if (acked_by(d, w->lsn) >= w->acks || too_many_refused(d, w)) {
		waiter_done(w, too_many_refused(d, w) ? WAIT_REFUSED : WAIT_OK);
		return;
	}
	struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };

	evtimer_add(w->timer, &tv);
}

static void c_on_line(struct bufferevent *bev, const char *line, void *arg)
{
	struct repl_daemon *d = arg;
	struct mm_buf out = { 0 };

	if (strncmp(line, "wait ", 5) == 0) {
		wait_start(d, bev, line + 5);
		return;
	}
	if (strncmp(line, "resync ", 7) == 0) {
		char acct[512], peer[128];
		const char *error = "bad arguments";
		size_t files = 0;
		int k = sscanf(line + 7, "%511s %127s", acct, peer);
		int n = k >= 1 ? repl_resync_start(d, acct, k == 2 ? peer : NULL, &files, &error) : -1;

		if (n > 0)
			mm_buf_printf(&out, "ok resync of %s: %zu files to %d peer(s)\n", acct,
				      files, n);
		else
			mm_buf_printf(&out, "error %s\n", error);
	} else if (strncmp(line, "pause ", 6) == 0) {
		repl_pause_set(d, line + 6, true, &out);
	} else if (strncmp(line, "resume ", 7) == 0) {
		repl_pause_set(d, line + 7, false, &out);
	} else if (strncmp(line, "guard ", 6) == 0) {
		repl_trip_decide(d, line + 6, &out);
	} else if (strcmp(line, "status") == 0) {
		mm_buf_puts(&out, "ok\n");
		repl_status_json(d, &out);
	} else {
		mm_buf_puts(&out, "error unknown command\n");
	}
	mm_evctl_reply(bev, out.data, out.len);
	mm_buf_free(&out);
}

int repl_ctl_start(struct repl_daemon *d, const char **error_r)
{
	d->ctl = mm_evctl_listen(d->base, d->ctl_path, c_on_line, d, error_r);
	return d->ctl != NULL ? 0 : -1;
}

void repl_ctl_stop(struct repl_daemon *d)
{
	/* stopping: the loop is gone, so no reply could be written out; the
	   callers see the connection close and fail their delivery */
	while (d->waiters != NULL) {
		if (d->waiters->bev != NULL)
			bufferevent_free(d->waiters->bev);
		d->waiters->bev = NULL;
		waiter_done(d->waiters, WAIT_TIMEOUT);
	}
	mm_evctl_close(&d->ctl);
}
