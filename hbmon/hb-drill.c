/* SPDX-License-Identifier: MIT
 * hb-drill.c - mailmeshctl drill (see hb-drill.h): asks the holders of an
 * account for its role over TLS, promotes it through mailmesh-hbmon, polls,
 * and puts it back. Choosing and measuring are hb-drill-core.c's. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <jansson.h>
#include "acct.h"
#include "buf.h"
#include "ctl.h"
#include "ctl-json.h"
#include "hb-cmd.h"
#include "hb-drill-core.h"
#include "hb-drill.h"
#include "hb-placement.h"
#include "log.h"
#include "mem.h"
#include "peer-query.h"
#include "repl-role.h"
#include "repl-tls.h"

#define DRILL_USAGE "usage: mailmeshctl -c FILE drill ACCOUNT [--to STORE] " \
	"[--hold SECONDS] [--timeout SECONDS] [--dry-run] [--json]\n"
/* --dry-run asks each holder this often and shows its quickest answer */
#define DRILL_DRY_TRIES 5
/* a failed drill waits this long at least for the account to settle */
#define DRILL_SETTLE_MS 10000
/* a holder's answer to one ROLE question, or to the connection */
#define DRILL_ASK_TIMEOUT_MS 2000

struct holder {
	const char *name;		/* borrowed from the placement */
	const struct mm_peer_cfg *peer;	/* NULL: this store, its own files */
	struct pq_conn c;
	bool up;			/* c is connected */
};

struct drill {
	const struct mm_cfg *cfg;
	const char *account, *to;
	bool json, dry_run;
	uint64_t hold_ms, timeout_ms;
	SSL_CTX *ctx;
	struct hb_placement *pl;
	struct hb_placement_list l;
	struct holder *h;
	const char **names;
	size_t n;
	char *hb_sock;
	char *err;		/* the last error's text (drill_err) */
};

static volatile sig_atomic_t drill_stop;

/* Sets d->err; the arguments may point into the old text. */
static void __attribute__((format(printf, 2, 3))) drill_err(struct drill *d, const char *fmt, ...)
{
	char *old = d->err;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&d->err, fmt, ap) < 0)
		mm_panic("vasprintf failed");
	va_end(ap);
	free(old);
}

static void on_signal(int sig)
{
	(void)sig;
	drill_stop = 1;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Sleeps until the monotonic time at_ms (a signal ends it early). */
static void sleep_until(uint64_t at_ms)
{
	struct timespec ts = { .tv_sec = (time_t)(at_ms / 1000),
			       .tv_nsec = (long)(at_ms % 1000) * 1000000 };

	(void)clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
}

static int parse_seconds(const char *opt, const char *s, uint64_t *ms_r)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (*s == '\0' || *end != '\0' || errno != 0 || !(v >= 0) || v > 86400) {
		fprintf(stderr, "mailmeshctl: drill: --%s needs seconds (0..86400), not '%s'\n",
			opt, s);
		return -1;
	}
	*ms_r = (uint64_t)(v * 1000 + 0.5);
	return 0;
}

/* 0, or 2 (usage, message printed). */
static int parse_opts(struct drill *d, int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "to", required_argument, NULL, 't' },
		{ "hold", required_argument, NULL, 'H' },
		{ "timeout", required_argument, NULL, 'T' },
		{ "json", no_argument, NULL, 'j' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 },
	};
	const char *error;
	int c;

	d->timeout_ms = 30000;
	/* 0: glibc starts afresh and permutes, so ACCOUNT may come first */
	optind = 0;
	while ((c = getopt_long(argc, argv, "", lopts, NULL)) != -1) {
		switch (c) {
		case 't': d->to = optarg; break;
		case 'j': d->json = true; break;
		case 'n': d->dry_run = true; break;
		case 'H':
			if (parse_seconds("hold", optarg, &d->hold_ms) < 0)
				return 2;
			break;
		case 'T':
			if (parse_seconds("timeout", optarg, &d->timeout_ms) < 0)
				return 2;
			if (d->timeout_ms == 0) {
				fprintf(stderr, "mailmeshctl: drill: --timeout must be above 0\n");
				return 2;
			}
			break;
		default:
			fputs(DRILL_USAGE, stderr);
			return 2;
		}
	}
	if (optind + 1 != argc) {
		fputs(DRILL_USAGE, stderr);
		return 2;
	}
	d->account = argv[optind];
	if (mm_acct_check(d->account, d->cfg->account_depth, &error) < 0) {
		fprintf(stderr, "mailmeshctl: drill: %s\n", error);
		return 2;
	}
	if (strchr(d->account, ' ') != NULL) {
		/* "promote ACCOUNT STORE" is split at spaces */
		fprintf(stderr, "mailmeshctl: drill: an account with a space in its name "
			"cannot be promoted\n");
		return 2;
	}
	return 0;
}

/* The holders of the account in placement order, their connections not
   open yet. 0, or -1 (message printed). */
static int holders_init(struct drill *d)
{
	const char *error;

	d->pl = hb_placement_from_cfg(d->cfg);
	hb_placement_list_init(&d->l, d->pl, 0);
	hb_placement_get(d->pl, d->account, &d->l);
	d->n = d->l.want;
	d->h = mm_calloc(d->n + 1, sizeof(*d->h));
	d->names = mm_calloc(d->n + 1, sizeof(*d->names));
	for (size_t i = 0; i < d->n; i++) {
		struct holder *h = &d->h[i];

		h->name = d->names[i] = hb_placement_store(d->pl, d->l.rank[i]);
		if (strcmp(h->name, d->cfg->node_name) == 0)
			continue;
		h->peer = mm_cfg_peer(d->cfg, h->name);
		if (h->peer == NULL) {
			fprintf(stderr, "mailmeshctl: drill: holder %s is not a [peer]\n", h->name);
			return -1;
		}
		if (d->ctx == NULL &&
		    (d->ctx = repl_tls_ctx_new(d->cfg->tls_ca, d->cfg->tls_cert, d->cfg->tls_key,
					       &error)) == NULL) {
			fprintf(stderr, "mailmeshctl: drill: tls: %s\n", error);
			return -1;
		}
	}
	return 0;
}

static void drill_deinit(struct drill *d)
{
	for (size_t i = 0; i < d->n; i++)
		pq_close(&d->h[i].c, d->h[i].up);
	free(d->h);
	free(d->names);
	if (d->pl != NULL) {
		hb_placement_list_deinit(&d->l);
		hb_placement_free(&d->pl);
	}
	if (d->ctx != NULL)
		SSL_CTX_free(d->ctx);
	free(d->hb_sock);
	free(d->err);
}

/* Holder i's answer to ROLE: 0 with *r (repl_role_free it), or -1 with
   *error_r. A broken connection is closed and dialed again next time. */
static int ask(struct drill *d, size_t i, struct repl_role *r, const char **error_r)
{
	struct holder *h = &d->h[i];
	struct mm_wire_msg m;

	if (h->peer == NULL)
		return repl_role_read(d->cfg, d->account, r, error_r);
	if (!h->up) {
		h->c.timeout_ms = DRILL_ASK_TIMEOUT_MS;
		if (pq_connect(&h->c, d->ctx, h->peer, d->cfg->node_name, error_r) < 0) {
			pq_close(&h->c, false);
			return -1;
		}
		h->up = true;
	}
	if (pq_ask(&h->c, MM_WIRE_Q_ROLE, d->account, NULL, &m, error_r) < 0) {
		pq_close(&h->c, false);
		h->up = false;
		return -1;
	}
	if (m.code != MM_WIRE_A_OK) {
		drill_err(d, "its replicator answered ROLE with: %.*s", (int)m.text_len, m.text);
		*error_r = d->err;
		return -1;
	}
	if (repl_role_parse(m.blob, m.blob_len, r, error_r) < 0) {
		repl_role_free(r);
		return -1;
	}
	if (strcmp(r->store, h->name) != 0) {
		drill_err(d, "the answer comes from %s", r->store);
		repl_role_free(r);
		*error_r = d->err;
		return -1;
	}
	return 0;
}

/* One sample of holder i, with its cursor for holder other. 0 or -1. */
static int sample(struct drill *d, size_t i, size_t other, uint64_t t0,
		  struct hb_drill_sample *s, char *last_error, size_t size)
{
	struct repl_role r;
	const char *error;

	memset(s, 0, sizeof(*s));
	if (ask(d, i, &r, &error) < 0) {
		snprintf(last_error, size, "%s: %s", d->h[i].name, error);
		return -1;
	}
	s->t_ms = now_ms() - t0;
	s->active = r.active;
	s->epoch = r.epoch;
	s->head_known = r.head_known;
	s->head = r.head;
	s->cursor_known = repl_role_cursor(&r, d->h[other].name, &s->cursor);
	repl_role_free(&r);
	return 0;
}

/* The store an account is pinned to by the status of mailmesh-hbmon, or
   NULL: its "pins" ({account, store}: the pins in force), or the
   account's "pinned" (when this store holds it). Borrowed from st. */
static const char *status_pin(const json_t *st, const char *account)
{
	const json_t *p, *a;
	size_t i;

	json_array_foreach(json_object_get(st, "pins"), i, p) {
		const char *acc = json_string_value(json_object_get(p, "account"));

		if (acc != NULL && strcmp(acc, account) == 0)
			return json_string_value(json_object_get(p, "store"));
	}
	json_array_foreach(json_object_get(st, "accounts"), i, a) {
		const char *acc = json_string_value(json_object_get(a, "account"));

		if (acc != NULL && strcmp(acc, account) == 0)
			return json_string_value(json_object_get(a, "pinned"));
	}
	return NULL;
}

static bool name_in(const json_t *arr, const char *name)
{
	const json_t *v;
	size_t i;

	json_array_foreach(arr, i, v)
		if (json_is_string(v) && strcmp(json_string_value(v), name) == 0)
			return true;
	return false;
}

static bool member_healthy(const json_t *st, const char *name)
{
	const json_t *m;
	size_t i;

	json_array_foreach(json_object_get(st, "members"), i, m) {
		const char *n = json_string_value(json_object_get(m, "name"));
		const char *state = json_string_value(json_object_get(m, "state"));

		if (n != NULL && strcmp(n, name) == 0)
			return state != NULL && strcmp(state, "healthy") == 0;
	}
	return false;
}

/* Sends line to this store's mailmesh-hbmon. 0 ok, or -1 with the reason
   in d->err. */
static int hb_send(struct drill *d, const char *line)
{
	char out[1024] = "";
	const char *error;
	int ret = mm_ctl_call(d->hb_sock, line, out, sizeof(out), &error);

	out[strcspn(out, "\n")] = '\0';
	if (ret == 0)
		return 0;
	if (ret == 1)
		drill_err(d, "'%s': mailmesh-hbmon is not running here", line);
	else if (strncmp(out, "error ", 6) == 0)
		drill_err(d, "mailmesh-hbmon refused '%s': %s%s", line, out + 6,
			  strcmp(out + 6, "unknown command") == 0 ?
			  " (a mailmesh-hbmon without promote)" : "");
	else
		drill_err(d, "'%s': %s", line, error);
	return -1;
}

enum move_result { MOVE_DONE, MOVE_REFUSED, MOVE_FAILED };

/* Sends line (a promote), then samples holder from and holder to every
   HB_DRILL_POLL_MS until the account is active on to with an epoch above
   from_epoch and no longer on from. MOVE_REFUSED: hbmon did not take the
   command (nothing changed); MOVE_FAILED: it did, and the move did not
   complete in time (or was interrupted, when interruptible: the way back
   is not, it only has its timeout); d->err says why either way. */
static enum move_result move(struct drill *d, size_t from, size_t to, const char *line,
			     uint64_t from_epoch, bool interruptible,
			     struct hb_drill_figures *f_r)
{
	struct hb_drill_move mv;
	char last_error[512] = "";
	uint64_t t0 = now_ms(), k = 1;

	memset(f_r, 0, sizeof(*f_r));
	if (hb_send(d, line) < 0)
		return MOVE_REFUSED;
	hb_drill_move_init(&mv, from_epoch);
	for (;;) {
		struct hb_drill_sample s;
		uint64_t now;

		if (sample(d, from, to, t0, &s, last_error, sizeof(last_error)) == 0)
			hb_drill_move_from(&mv, &s);
		if (sample(d, to, from, t0, &s, last_error, sizeof(last_error)) == 0)
			hb_drill_move_to(&mv, &s);
		if (hb_drill_move_done(&mv))
			break;
		now = now_ms();
		if ((interruptible && drill_stop) || now - t0 >= d->timeout_ms) {
			drill_err(d, "%s after %.1f s: %s is %sactive, %s is %sactive%s%s",
				  now - t0 < d->timeout_ms ? "interrupted" : "timed out",
				  (now - t0) / 1000.0, d->h[to].name, mv.to_on ? "" : "not ",
				  d->h[from].name, mv.from_off ? "no longer " : "still ",
				  last_error[0] != '\0' ? "; last error: " : "", last_error);
			return MOVE_FAILED;
		}
		/* the next tick; ticks a slow answer overran are skipped */
		if (now - t0 >= k * HB_DRILL_POLL_MS)
			k = (now - t0) / HB_DRILL_POLL_MS + 1;
		sleep_until(t0 + k * HB_DRILL_POLL_MS);
		k++;
	}
	hb_drill_move_figures(&mv, f_r);
	return MOVE_DONE;
}

/* What the account looks like once things settle, for a failed drill:
   polls the holders until the same single holder has had it active with
   the same epoch for a stable period (two leases and two intervals: a
   promote and its undoing can each take the account off its store for
   about a lease), or DRILL_SETTLE_MS (the timeout, when longer) passed;
   then describes that and its pin. The caller frees the text. */
static char *settle(struct drill *d)
{
	struct mm_buf why = { 0 }, out = { 0 };
	int *state = mm_calloc(d->n + 1, sizeof(*state));
	uint64_t *epoch = mm_calloc(d->n + 1, sizeof(*epoch));
	uint64_t t0 = now_ms(), since = 0, last_epoch = 0;
	uint64_t stable_ms = 2 * ((uint64_t)d->cfg->hb_lease_ms + d->cfg->hb_interval_ms);
	uint64_t budget = d->timeout_ms > DRILL_SETTLE_MS ? d->timeout_ms : DRILL_SETTLE_MS;
	const char *error, *pin;
	json_t *st = NULL;
	char *text;
	int x, last = -2;
	bool stable = false;

	for (;;) {
		uint64_t now;

		for (size_t i = 0; i < d->n; i++) {
			struct repl_role r;

			state[i] = ask(d, i, &r, &error) < 0 ? -1 : r.active;
			epoch[i] = state[i] > 0 ? r.epoch : 0;
			if (state[i] >= 0)
				repl_role_free(&r);
		}
		mm_buf_reset(&why);
		x = hb_drill_find_active(d->names, state, d->n, &why);
		now = now_ms();
		if (x != last || (x >= 0 && epoch[x] != last_epoch)) {
			last = x;
			last_epoch = x >= 0 ? epoch[x] : 0;
			since = now;
		}
		if (x >= 0 && now - since >= stable_ms) {
			stable = true;
			break;
		}
		if (now - t0 >= budget)
			break;
		sleep_until(now + 100);
	}
	if (x >= 0)
		mm_buf_printf(&out, "%s is active on %s (epoch %" PRIu64 ")", d->account,
			      d->names[x], epoch[x]);
	else
		mm_buf_printf(&out, "%s: %s", d->account, mm_buf_str(&why));
	if (!stable)
		mm_buf_printf(&out, " (still changing after %.1f s)", (now_ms() - t0) / 1000.0);
	if (hb_cmd_status_get(d->cfg, &st, &error) == 0) {
		pin = status_pin(st, d->account);
		mm_buf_printf(&out, "; %s%s", pin != NULL ? "pinned to " : "not pinned",
			      pin != NULL ? pin : "");
		json_decref(st);
	} else {
		mm_buf_puts(&out, "; its pin is unknown (mailmesh-hbmon does not answer)");
	}
	free(state);
	free(epoch);
	mm_buf_free(&why);
	text = mm_strdup(mm_buf_str(&out));
	mm_buf_free(&out);
	return text;
}

/* Appends the drill's line to STATE/events (mailmeshctl events). */
static void event_append(struct drill *d, const struct hb_drill_report *rep)
{
	char when[64], *line, *path = mm_strdup_printf("%s/events", d->cfg->state);
	struct mm_buf b = { 0 };
	int fd;

	mm_log_time(when, sizeof(when));
	line = hb_drill_event_line(rep, when);
	mm_buf_printf(&b, "%s\n", line);
	/* one O_APPEND write, as mailmesh-hbmon's: the lines never mix */
	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, b.data, b.len) != (ssize_t)b.len)
		fprintf(stderr, "mailmeshctl: drill: write(%s) failed: %s\n", path,
			strerror(errno));
	if (fd >= 0)
		close(fd);
	mm_buf_free(&b);
	free(line);
	free(path);
}

static void report(struct drill *d, struct hb_drill_report *rep)
{
	if (d->json) {
		json_t *o = hb_drill_report_json(rep);
		char *s = json_dumps(o, JSON_COMPACT);

		puts(s);
		free(s);
		json_decref(o);
	} else {
		struct mm_buf b = { 0 };

		hb_drill_report_text(rep, &b);
		fputs(mm_buf_str(&b), stdout);
		mm_buf_free(&b);
	}
	fflush(stdout);
	event_append(d, rep);
}

/* What the holders say before a drill, and what it would do. */
struct plan {
	struct repl_role *roles;	/* per holder; store NULL: no answer */
	double *ask_ms;			/* per holder: its quickest answer */
	int x, t;			/* the active holder, the target; -1 */
	char *pin;			/* the store it was pinned to, or NULL */
	char *out_line, *back_line;	/* the promotes */
	char *problem;			/* why no drill can run, or NULL */
};

static void plan_free(struct plan *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p->roles[i].store != NULL)
			repl_role_free(&p->roles[i]);
	free(p->roles);
	free(p->ask_ms);
	free(p->pin);
	free(p->out_line);
	free(p->back_line);
	free(p->problem);
}

/* Asks every holder (tries times each, keeping the last answer and the
   quickest time), then this store's mailmesh-hbmon; fills p. 0 when a
   drill can run, -1 with p->problem. */
static int plan_make(struct drill *d, struct plan *p, unsigned int tries)
{
	bool *healthy = mm_calloc(d->n + 1, sizeof(*healthy));
	bool *excluded = mm_calloc(d->n + 1, sizeof(*excluded));
	int *state = mm_calloc(d->n + 1, sizeof(*state));
	struct mm_buf why = { 0 };
	const char *error = NULL;
	json_t *st = NULL;
	int r, ret = -1;

	memset(p, 0, sizeof(*p));
	p->x = p->t = -1;
	p->roles = mm_calloc(d->n + 1, sizeof(*p->roles));
	p->ask_ms = mm_calloc(d->n + 1, sizeof(*p->ask_ms));
	/* a --to that is no holder is refused before anything is asked */
	if (d->to != NULL && hb_drill_target(d->names, d->n, d->n, NULL, d->to, &error) < 0) {
		p->problem = mm_strdup(error);
		goto out;
	}
	if (d->n < 2) {
		p->problem = mm_strdup_printf("it has %zu holder%s: nowhere to move it", d->n,
					      d->n == 1 ? "" : "s");
		goto out;
	}
	for (size_t i = 0; i < d->n; i++) {
		state[i] = -1;
		for (unsigned int k = 0; k < tries; k++) {
			struct timespec t0, t1;
			double ms;

			if (p->roles[i].store != NULL)
				repl_role_free(&p->roles[i]);
			clock_gettime(CLOCK_MONOTONIC, &t0);
			if (ask(d, i, &p->roles[i], &error) < 0) {
				fprintf(stderr, "mailmeshctl: drill: %s: %s\n", d->names[i], error);
				state[i] = -1;
				break;
			}
			clock_gettime(CLOCK_MONOTONIC, &t1);
			ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 +
				(double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
			if (k == 0 || ms < p->ask_ms[i])
				p->ask_ms[i] = ms;
			state[i] = p->roles[i].active;
		}
	}
	if ((p->x = hb_drill_find_active(d->names, state, d->n, &why)) < 0) {
		p->problem = mm_strdup_printf("it is not active on exactly one of its holders: %s",
					      mm_buf_str(&why));
		goto out;
	}
	if ((r = hb_cmd_status_get(d->cfg, &st, &error)) != 0) {
		p->problem = mm_strdup_printf("mailmesh-hbmon: %s",
					      r > 0 ? "not running here" : error);
		st = NULL;
		goto out;
	}
	for (size_t i = 0; i < d->n; i++) {
		healthy[i] = member_healthy(st, d->names[i]);
		excluded[i] = name_in(json_object_get(json_object_get(st, "leases"), "excluded"),
				      d->names[i]);
	}
	if (status_pin(st, d->account) != NULL)
		p->pin = mm_strdup(status_pin(st, d->account));
	if ((p->t = hb_drill_target(d->names, d->n, (size_t)p->x, healthy, d->to, &error)) < 0) {
		p->problem = mm_strdup(error);
		goto out;
	}
	if (!p->roles[p->t].held) {
		p->problem = mm_strdup_printf("%s has no copy of it (not in its store)",
					      d->names[p->t]);
		goto out;
	}
	p->out_line = mm_strdup_printf("promote %s %s", d->account, d->names[p->t]);
	p->back_line = hb_drill_back_clears(p->pin, d->names, d->n, excluded, (size_t)p->x) ?
		mm_strdup_printf("promote %s --clear", d->account) :
		mm_strdup_printf("promote %s %s", d->account, d->names[p->x]);
	ret = 0;
out:
	json_decref(st);
	mm_buf_free(&why);
	free(state);
	free(healthy);
	free(excluded);
	return ret;
}

/* --dry-run: what every holder answered and what a drill would do. */
static void plan_print(struct drill *d, const struct plan *p)
{
	if (d->json) {
		json_t *o = json_object(), *hs = json_array();
		char *s;

		ctl_json_set_str(o, "account", d->account);
		for (size_t i = 0; i < d->n; i++) {
			const struct repl_role *r = &p->roles[i];
			json_t *h = json_object(), *from = json_object();

			json_object_set_new(h, "store", json_string(d->names[i]));
			json_object_set_new(h, "answered", json_boolean(r->store != NULL));
			if (r->store != NULL) {
				json_object_set_new(h, "held", json_boolean(r->held));
				json_object_set_new(h, "active", json_boolean(r->active));
				json_object_set_new(h, "epoch", json_integer((json_int_t)r->epoch));
				json_object_set_new(h, "head", r->head_known ?
						    json_integer((json_int_t)r->head) : json_null());
				for (size_t k = 0; k < r->n_from; k++)
					json_object_set_new(from, r->from[k].peer,
							    json_integer((json_int_t)r->from[k].lsn));
				json_object_set_new(h, "ask_ms", json_real(p->ask_ms[i]));
			}
			json_object_set_new(h, "from", from);
			json_array_append_new(hs, h);
		}
		json_object_set_new(o, "holders", hs);
		json_object_set_new(o, "active", p->x >= 0 ? json_string(d->names[p->x]) :
				    json_null());
		json_object_set_new(o, "to", p->t >= 0 ? json_string(d->names[p->t]) : json_null());
		json_object_set_new(o, "pinned", p->pin != NULL ? json_string(p->pin) : json_null());
		json_object_set_new(o, "out", p->out_line ? json_string(p->out_line) : json_null());
		json_object_set_new(o, "back", p->back_line ? json_string(p->back_line) :
				    json_null());
		if (p->problem != NULL)
			json_object_set_new(o, "error", json_string(p->problem));
		s = json_dumps(o, JSON_COMPACT);
		puts(s);
		free(s);
		json_decref(o);
		return;
	}
	printf("%s: its holders, in placement order:\n", d->account);
	for (size_t i = 0; i < d->n; i++) {
		const struct repl_role *r = &p->roles[i];

		if (r->store == NULL) {
			printf("  %-12s no answer\n", d->names[i]);
			continue;
		}
		printf("  %-12s %-8s epoch %-20" PRIu64 " head ", d->names[i],
		       !r->held ? "no copy" : r->active ? "active" : "-", r->epoch);
		if (r->head_known)
			printf("%-10" PRIu64, r->head);
		else
			printf("%-10s", "?");
		printf(" cursors");
		for (size_t k = 0; k < r->n_from; k++)
			printf(" %s=%" PRIu64, r->from[k].peer, r->from[k].lsn);
		printf("  (answered in %.2f ms)\n", p->ask_ms[i]);
	}
	if (p->problem != NULL)
		printf("no drill: %s\n", p->problem);
	else
		printf("a drill would run '%s', then '%s'\n", p->out_line, p->back_line);
}

/* The drill as planned. The exit status. */
static int drill_run(struct drill *d, const struct plan *p)
{
	struct hb_drill_report rep = { .account = d->account, .poll_ms = HB_DRILL_POLL_MS };
	char *left = NULL, *error_text = NULL;
	size_t x = (size_t)p->x, t = (size_t)p->t;
	enum move_result mr;
	int ret = 1;

	rep.from = d->names[x];
	rep.to = d->names[t];
	if (!d->json)
		printf("%s is active on %s (epoch %" PRIu64 ")%s%s; moving it to %s, then back "
		       "with '%s'\n", d->account, d->names[x], p->roles[x].epoch,
		       p->pin != NULL ? ", pinned to " : "", p->pin != NULL ? p->pin : "",
		       d->names[t], p->back_line);
	fflush(stdout);
	mr = move(d, x, t, p->out_line, p->roles[x].epoch, true, &rep.out);
	if (mr == MOVE_REFUSED) {
		error_text = mm_strdup(d->err);
		left = mm_strdup_printf("nothing changed: %s is active on %s", d->account,
					d->names[x]);
		goto report;
	}
	if (mr == MOVE_FAILED) {
		error_text = mm_strdup_printf("the move to %s: %s", d->names[t], d->err);
		rep.back_tried = true;
		if (hb_send(d, p->back_line) < 0) {
			char *e = mm_strdup_printf("%s; putting it back failed too: %s", error_text,
						   d->err);

			free(error_text);
			error_text = e;
		}
		left = settle(d);
		goto report;
	}
	if (d->hold_ms > 0 && !d->json)
		printf("holding %s on %s for %.1f s\n", d->account, d->names[t], d->hold_ms / 1000.0);
	for (uint64_t end = now_ms() + d->hold_ms; !drill_stop && now_ms() < end;)
		sleep_until(now_ms() + 100 < end ? now_ms() + 100 : end);
	rep.back_tried = true;
	mr = move(d, t, x, p->back_line, rep.out.epoch, false, &rep.back);
	if (mr != MOVE_DONE) {
		error_text = mm_strdup_printf("the way back to %s: %s", d->names[x], d->err);
		left = settle(d);
		goto report;
	}
	rep.ok = !drill_stop;
	if (drill_stop)
		error_text = mm_strdup_printf("interrupted (it is back on %s)", d->names[x]);
	ret = rep.ok ? 0 : 1;
report:
	rep.error = error_text;
	rep.left = left;
	report(d, &rep);
	free(left);
	free(error_text);
	return ret;
}

int hb_cmd_drill(const struct mm_cfg *cfg, int argc, char **argv)
{
	struct drill d = { .cfg = cfg };
	struct sigaction sa = { .sa_handler = on_signal }, old_int, old_term;
	struct plan p = { 0 };
	int ret;

	if ((ret = parse_opts(&d, argc, argv)) != 0)
		return ret;
	d.hb_sock = mm_strdup_printf("%s/hbmon.sock", cfg->state);
	if (holders_init(&d) < 0) {
		drill_deinit(&d);
		return 1;
	}
	if (plan_make(&d, &p, d.dry_run ? DRILL_DRY_TRIES : 1) < 0 || d.dry_run) {
		if (d.dry_run)
			plan_print(&d, &p);
		else
			fprintf(stderr, "mailmeshctl: drill: %s: %s; nothing changed\n", d.account,
				p.problem);
		ret = p.problem != NULL ? 1 : 0;
	} else {
		/* Ctrl-C in the middle puts the account back before leaving */
		sigemptyset(&sa.sa_mask);
		sigaction(SIGINT, &sa, &old_int);
		sigaction(SIGTERM, &sa, &old_term);
		drill_stop = 0;
		ret = drill_run(&d, &p);
		sigaction(SIGINT, &old_int, NULL);
		sigaction(SIGTERM, &old_term, NULL);
	}
	plan_free(&p, d.n);
	drill_deinit(&d);
	return ret;
}
