/* SPDX-License-Identifier: MIT
 * hb-roles.c - leases in the daemon: feeds heartbeats and states to the
 * voter (hb-view.c) and the holder (hb-lease.c), logs and records their
 * role changes, runs on_role_change, hands the mount its deadline. */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <jansson.h>
#include <xxhash.h>
#include "acct.h"
#include "buf.h"
#include "hb.h"
#include "log.h"
#include "mem.h"
#include "repl-epoch.h"

extern char **environ;

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The members: the stores of the cluster ([node] name unless a witness,
   every [peer]), sorted, once each. */
static void make_members(struct hb_daemon *d)
{
	const struct mm_cfg *cfg = d->cfg;
	struct mm_buf h = { 0 };
	size_t n = 0;

	d->lm_names = mm_calloc(cfg->n_peers + 1, sizeof(*d->lm_names));
	if (!d->witness_mode)
		d->lm_names[n++] = mm_strdup(cfg->node_name);
	for (size_t i = 0; i < cfg->n_peers; i++) {
		bool dup = false;

		for (size_t j = 0; j < n; j++)
			dup = dup || strcmp(d->lm_names[j], cfg->peers[i].name) == 0;
		if (!dup && !(d->witness_mode && strcmp(cfg->peers[i].name, cfg->node_name) == 0))
			d->lm_names[n++] = mm_strdup(cfg->peers[i].name);
	}
	qsort(d->lm_names, n, sizeof(*d->lm_names), name_cmp);
	d->n_lm = n;
	for (size_t i = 0; i < n; i++) {
		mm_buf_puts(&h, d->lm_names[i]);
		mm_buf_puts(&h, "\n");
	}
	d->members_hash = XXH3_64bits(h.data, h.len);
	mm_buf_free(&h);
}

static void on_child(evutil_socket_t sig, short what, void *arg)
{
	int status;
	pid_t pid;

	(void)sig;
	(void)what;
	(void)arg;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
			continue;
		if (WIFEXITED(status))
			mm_log_error("on_role_change (pid %d) exited with status %d", (int)pid,
				     WEXITSTATUS(status));
		else
			mm_log_error("on_role_change (pid %d) killed by signal %d", (int)pid,
				     WIFSIGNALED(status) ? WTERMSIG(status) : 0);
	}
}

/* The epochs this store gave its accounts before a restart (STATE/roles),
   so that a new one is higher even if the wall clock stepped back. */
static void seed_epochs(struct hb_daemon *d)
{
	char **list;
	uint64_t *epochs, gen;
	size_t n;
	const char *error;

	if (mm_roles_load(d->cfg->state, &gen, &list, &epochs, &n, &error) < 0)
		return;	/* none yet */
	for (size_t i = 0; i < n; i++)
		hb_lease_set_epoch(d->lease, list[i], epochs[i]);
	mm_acct_list_free(&list, n);
	free(epochs);
}

int hb_roles_start(struct hb_daemon *d, const char **error_r)
{
	static char err[512];
	const struct mm_cfg *cfg = d->cfg;
	struct hb_voter_settings vs = { 0 };
	uint64_t now = hb_now_us();

	make_members(d);
	if (d->n_lm == 0 || d->n_lm > HB_VIEW_MAX) {
		snprintf(err, sizeof(err), "%s: %zu members; leases need 1 to %d", cfg->path,
			 d->n_lm, HB_VIEW_MAX);
		*error_r = err;
		return -1;
	}
	d->lm_hbm = mm_calloc(d->n_lm, sizeof(*d->lm_hbm));
	d->hbm_lm = mm_calloc(hb_members_count(d->members), sizeof(*d->hbm_lm));
	d->lm_self = -1;
	d->hbm_witness = -1;
	for (size_t i = 0; i < hb_members_count(d->members); i++) {
		const struct hb_member *m = hb_members_get(d->members, i);

		d->hbm_lm[i] = -1;
		if (m->witness) {
			d->hbm_witness = (int)i;
			continue;
		}
		if (m->self && d->witness_mode)
			continue;
		for (size_t k = 0; k < d->n_lm; k++)
			if (strcmp(d->lm_names[k], m->name) == 0)
				d->hbm_lm[i] = (int)k;
	}
	for (size_t k = 0; k < d->n_lm; k++) {
		d->lm_hbm[k] = -1;
		for (size_t i = 0; i < hb_members_count(d->members); i++)
			if (d->hbm_lm[i] == (int)k)
				d->lm_hbm[k] = (int)i;
		if (!d->witness_mode && strcmp(d->lm_names[k], cfg->node_name) == 0)
			d->lm_self = (int)k;
	}
	vs.n_members = d->n_lm;
	vs.self = d->lm_self;
	vs.lease_ms = cfg->hb_lease_ms;
	vs.failback_ms = cfg->hb_failback_ms;
	d->voter = hb_voter_new(&vs, now);
	hb_promote_start(d);
	if (d->witness_mode)
		return 0;

	struct hb_lease_settings ls = { .n_members = d->n_lm, .self = (unsigned int)d->lm_self,
					.witness = cfg->hb_witness != NULL,
					.lease_ms = cfg->hb_lease_ms,
					.timeout_ms = cfg->hb_timeout_ms,
					.catchup_ms = cfg->hb_catchup_ms };
	struct hb_store_settings ss = { .store = cfg->store, .state = cfg->state,
					.depth = cfg->account_depth,
					.interval_ms = cfg->hb_interval_ms,
					.members = (const char *const *)d->lm_names,
					.n_members = d->n_lm, .self = (size_t)d->lm_self };

	d->lease = hb_lease_new(&ls);
	seed_epochs(d);
	d->pl = hb_placement_from_cfg_sorted(cfg);
	mm_assert(hb_placement_n_stores(d->pl) == d->n_lm);
	hb_placement_list_init(&d->pll, d->pl, SIZE_MAX);
	d->chld_ev = evsignal_new(d->base, SIGCHLD, on_child, d);
	event_add(d->chld_ev, NULL);
	return hb_store_start(&ss, &d->store, error_r);
}

void hb_roles_stop(struct hb_daemon *d)
{
	hb_store_stop(&d->store);
	repl_epochs_free(&d->known_epochs);
	if (d->chld_ev != NULL)
		event_free(d->chld_ev);
	d->chld_ev = NULL;
	if (d->pl != NULL) {
		hb_placement_list_deinit(&d->pll);
		hb_placement_free(&d->pl);
	}
	hb_lease_free(&d->lease);
	hb_promote_stop(d);
	hb_voter_free(&d->voter);
	mm_acct_list_free(&d->accounts, d->n_accounts);
	for (size_t i = 0; i < d->n_lm; i++)
		free(d->lm_names[i]);
	mm_free(&d->lm_names);
	mm_free(&d->lm_hbm);
	mm_free(&d->hbm_lm);
	d->n_lm = 0;
}

bool hb_roles_same_members(const struct hb_daemon *d, const struct hb_msg *msg)
{
	return msg->members_hash == d->members_hash;
}

void hb_roles_rx(struct hb_daemon *d, size_t i, const struct hb_msg *msg, uint64_t now_us)
{
	int lm = d->hbm_lm[i];
	size_t voter;
	uint64_t sent = 0;
	bool have;

	if (lm >= 0) {
		for (size_t k = 0; k < msg->n_applied; k++)
			if (msg->applied[k].member < d->n_lm)
				hb_voter_applied(d->voter, (size_t)lm, msg->applied[k].member,
						 msg->applied[k].lsn);
	}
	if (lm >= 0 || (int)i == d->hbm_witness)
		hb_promote_rx(d, i, msg);
	if (d->lease == NULL)
		return;
	if (lm >= 0) {
		hb_lease_head(d->lease, (size_t)lm, msg->head, now_us);
		hb_lease_owed(d->lease, (size_t)lm, msg->owes);
		for (size_t k = 0; k < msg->n_applied; k++)
			if (msg->applied[k].member < d->n_lm)
				hb_lease_peer_applied(d->lease, (size_t)lm, msg->applied[k].member,
						      msg->applied[k].lsn);
		voter = (size_t)lm;
	} else if ((int)i == d->hbm_witness) {
		voter = d->n_lm;
	} else {
		return;
	}
	have = hb_members_sent_at(d->members, msg->echo_seq, &sent);
	hb_lease_endorsement(d->lease, voter, &msg->endorse, have, sent);
}

static void role_changed(struct hb_daemon *d, const struct hb_lease_acct *a)
{
	const char *role = hb_role_str(a->role);
	char when[64], epoch[24], note[128], reason[sizeof(a->reason) + sizeof(note)];
	json_t *o;
	char *line;

	hb_promote_note(d, a->account, note, sizeof(note));
	snprintf(reason, sizeof(reason), "%s%s", a->reason, note);
	mm_log_info("account %s: %s (epoch %" PRIu64 "): %s", a->account, role, a->epoch,
		    reason);
	mm_log_time(when, sizeof(when));
	o = json_pack("{s:s, s:s, s:s, s:I, s:s}", "time", when, "account", a->account,
		      "role", role, "epoch", (json_int_t)a->epoch, "reason", reason);
	line = json_dumps(o, JSON_COMPACT);
	hb_store_post_event(d->store, line);
	free(line);
	json_decref(o);
	if (a->role == HB_ROLE_ACTIVE && a->from_lost) {
		/* every other holder but the lost store (the origin has its
		   own records) may lack what we applied of its journal */
		hb_placement_get(d->pl, a->account, &d->pll);
		for (size_t k = 0; k < d->pll.want && k < d->pll.n; k++)
			if ((int)d->pll.rank[k] != d->lm_self && (int)d->pll.rank[k] != a->from)
				hb_store_post_resync(d->store, a->account,
						     d->lm_names[d->pll.rank[k]]);
	}
	if (d->cfg->hb_on_role_change != NULL) {
		char *argv[] = { d->cfg->hb_on_role_change, a->account, (char *)role, epoch,
				 NULL };
		pid_t pid;
		int e;

		snprintf(epoch, sizeof(epoch), "%" PRIu64, a->epoch);
		/* posix_spawn does not wait for the script; on_child reaps it */
		if ((e = posix_spawn(&pid, argv[0], NULL, NULL, argv, environ)) != 0)
			mm_log_error("on_role_change: posix_spawn(%s) failed: %s", argv[0],
				     strerror(e));
	}
}

/* Evaluates every account of the store and tells the mount. */
static void eval_roles(struct hb_daemon *d, uint64_t now_us)
{
	struct timespec wall;
	char **active = mm_calloc(d->n_accounts + 1, sizeof(*active));
	uint64_t *epochs = mm_calloc(d->n_accounts + 1, sizeof(*epochs));
	uint64_t deadline = UINT64_MAX;
	size_t n = 0;

	clock_gettime(CLOCK_REALTIME, &wall);
	for (size_t i = 0; i < d->n_accounts; i++) {
		const struct hb_lease_acct *a;
		bool changed;

		hb_placement_get(d->pl, d->accounts[i], &d->pll);
		hb_lease_set_sync(d->lease, d->accounts[i],
				  mm_cfg_account(d->cfg, d->accounts[i])->mode == MM_REPL_SYNC);
		a = hb_lease_account(d->lease, d->accounts[i], &d->pll, now_us,
				     (uint64_t)wall.tv_sec * 1000000000 + (uint64_t)wall.tv_nsec,
				     &changed);
		if (changed)
			role_changed(d, a);
		if (a->role != HB_ROLE_ACTIVE)
			continue;
		active[n] = a->account;
		epochs[n++] = a->epoch;
		if (a->deadline_us < deadline)
			deadline = a->deadline_us;
	}
	/* monotonic microseconds to the mount's nanoseconds */
	hb_store_post_roles(d->store, active, epochs, n, n == 0 ? 0 : deadline * 1000);
	free(active);
	free(epochs);
}

/* A listing begun before the mount asked about a new account may lack it:
   an account of the old list whose directory is there stays (the listing
   after it has it). */
static void keep_asked(struct hb_daemon *d, char ***list, size_t *n)
{
	for (size_t i = 0; i < d->n_accounts; i++) {
		bool listed = false;
		struct stat st;
		char *path;

		for (size_t j = 0; j < *n && !listed; j++)
			listed = strcmp((*list)[j], d->accounts[i]) == 0;
		if (listed)
			continue;
		path = mm_strdup_printf("%s/%s", d->cfg->store, d->accounts[i]);
		if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
			*list = mm_realloc(*list, (*n + 2) * sizeof(**list));
			(*list)[(*n)++] = mm_strdup(d->accounts[i]);
			(*list)[*n] = NULL;
		}
		free(path);
	}
}

void hb_roles_ask(struct hb_daemon *d, const char *account, struct mm_buf *out)
{
	const struct hb_lease_acct *a;
	const char *error;
	bool known = false;

	if (d->lease == NULL) {
		mm_buf_puts(out, "error no leases here (a witness)\n");
		return;
	}
	if (mm_acct_check(account, d->cfg->account_depth, &error) < 0) {
		mm_buf_printf(out, "error %s\n", error);
		return;
	}
	for (size_t i = 0; i < d->n_accounts && !known; i++)
		known = strcmp(d->accounts[i], account) == 0;
	if (!known) {
		/* a new account: weighed from now on (and listed with the
		   store's accounts at the next listing, its directory being
		   there) */
		d->accounts = mm_realloc(d->accounts, (d->n_accounts + 2) * sizeof(*d->accounts));
		d->accounts[d->n_accounts++] = mm_strdup(account);
		d->accounts[d->n_accounts] = NULL;
		mm_log_info("account %s: asked about by the mount, weighed from now on", account);
	}
	eval_roles(d, hb_now_us());
	a = hb_lease_find(d->lease, account);
	if (a != NULL && a->role == HB_ROLE_ACTIVE)
		mm_buf_printf(out, "ok active %" PRIu64 " %" PRIu64 "\n", a->deadline_us * 1000,
			      a->epoch);
	else
		mm_buf_printf(out, "ok %s\n", hb_role_str(a != NULL ? a->role : HB_ROLE_REPLICA));
}

void hb_roles_rx_done(struct hb_daemon *d, uint64_t now_us)
{
	if (d->lease != NULL)
		eval_roles(d, now_us);
}

static void log_view(struct hb_daemon *d)
{
	const struct hb_endorsement *v = hb_voter_view(d->voter);
	struct mm_buf b = { 0 };

	for (size_t m = 0; m < d->n_lm; m++)
		if (v->excl & (1ULL << m))
			mm_buf_printf(&b, " %s", d->lm_names[m]);
	if (v->excl == v->prev_excl)
		mm_log_info("view %" PRIu64 ": excluded:%s", v->view_id,
			    b.len > 0 ? mm_buf_str(&b) : " none");
	else
		mm_log_info("view %" PRIu64 ": excluded:%s (transition for %" PRIu64 " ms)",
			    v->view_id, b.len > 0 ? mm_buf_str(&b) : " none",
			    (hb_voter_transition_end(d->voter) - hb_now_us()) / 1000);
	mm_buf_free(&b);
}

/* Logs once when the members that owe this store a resync change. */
static void note_owed(struct hb_daemon *d)
{
	char owed[256] = "";
	size_t len = 0;
	uint64_t mask = 0;

	for (size_t m = 0; m < d->n_lm; m++)
		if (hb_lease_owed_by(d->lease, m)) {
			mask |= 1ULL << m;
			if (len < sizeof(owed))
				len += (size_t)snprintf(owed + len, sizeof(owed) - len, "%s%s",
							len > 0 ? ", " : "", d->lm_names[m]);
		}
	if (mask != d->owed_mask)
		mm_log_info(mask != 0 ? "owed a resync by %s: this store lacks mail they serve "
			    "and is not ready until it is done" :
			    "no resync owed to this store any more%s", owed);
	d->owed_mask = mask;
}

void hb_roles_tick(struct hb_daemon *d, uint64_t now_us)
{
	enum hb_member_state st[HB_VIEW_MAX];
	bool rd[HB_VIEW_MAX];
	size_t heard = 0;
	const struct hb_member *w;

	if (d->store != NULL) {
		char **list;
		size_t n;

		struct repl_epochs *known = hb_store_take_epochs(d->store);
		bool fresh = false;

		if (hb_store_get(d->store, &d->sf, &list, &n) > 0) {
			keep_asked(d, &list, &n);
			mm_acct_list_free(&d->accounts, d->n_accounts);
			d->accounts = list;
			d->n_accounts = n;
			fresh = true;
		}
		if (known != NULL) {
			repl_epochs_free(&d->known_epochs);
			d->known_epochs = known;
			fresh = true;
		}
		if (fresh && d->known_epochs != NULL && d->lease != NULL)
			for (size_t i = 0; i < d->n_accounts; i++) {
				size_t k;
				const uint64_t *e = repl_epochs_get(d->known_epochs,
								    d->accounts[i], &k);

				/* a new epoch here goes above every one known */
				if (k > 0)
					hb_lease_set_epoch(d->lease, d->accounts[i], e[k - 1]);
			}
	}
	for (size_t m = 0; m < d->n_lm; m++) {
		const struct hb_member *p = d->lm_hbm[m] >= 0 ?
			hb_members_get(d->members, (size_t)d->lm_hbm[m]) : NULL;

		st[m] = p != NULL ? p->state : HB_MEMBER_UNKNOWN;
		rd[m] = p != NULL && (p->self ? d->ready : p->last.ready);
		if (st[m] != HB_MEMBER_FAILED && st[m] != HB_MEMBER_UNKNOWN)
			heard++;
		if (d->lease != NULL) {
			hb_lease_member(d->lease, m, st[m] != HB_MEMBER_FAILED &&
					st[m] != HB_MEMBER_UNKNOWN);
			if ((int)m != d->lm_self) {
				hb_lease_applied(d->lease, m, d->sf.applied[m]);
				hb_voter_applied(d->voter, (size_t)d->lm_self, m, d->sf.applied[m]);
			}
		}
	}
	if (d->hbm_witness >= 0) {
		w = hb_members_get(d->members, (size_t)d->hbm_witness);
		if (w->state != HB_MEMBER_FAILED && w->state != HB_MEMBER_UNKNOWN)
			heard++;
	}
	if (d->lease != NULL) {
		bool was = d->ready, out = hb_lease_held_out(d->lease, now_us);

		d->ready = hb_lease_ready(d->lease, heard, now_us);
		note_owed(d);
		if (d->ready != was)
			mm_log_info("%s: %zu of %zu voters heard", d->ready ? "ready" :
				    "not ready", heard, d->n_lm + (d->hbm_witness >= 0 ? 1 : 0));
		if (out != d->held_out)
			mm_log_info(out ? "every other store heard holds this store out (e.g. "
				    "back from a failure, within their failback_after): so does "
				    "its own view" : "the other stores take this store back");
		d->held_out = out;
		rd[d->lm_self] = d->ready && !out;
	}
	hb_promote_tick(d);
	/* heard: the members heard (this store among them) and the witness;
	   the witness itself is not among the members it hears */
	hb_voter_isolated(d->voter, heard + (d->witness_mode ? 1 : 0) <
			  (d->n_lm + (d->hbm_witness >= 0 || d->witness_mode ? 1 : 0)) / 2 + 1);
	if (hb_voter_tick(d->voter, st, rd, now_us))
		log_view(d);
	if (d->lease != NULL) {
		struct hb_endorsement own;

		hb_voter_endorse(d->voter, (size_t)d->lm_self, now_us, &own);
		hb_lease_endorsement(d->lease, (size_t)d->lm_self, &own, true, now_us);
		eval_roles(d, now_us);
	}
}

void hb_roles_fill(struct hb_daemon *d, size_t i, uint64_t now_us, struct hb_msg *msg)
{
	int lm = d->hbm_lm[i];

	msg->members_hash = d->members_hash;
	hb_promote_fill(d, msg);
	msg->witness = d->witness_mode;
	msg->ready = d->ready;
	msg->head = d->witness_mode ? 0 : d->sf.head;
	msg->owes = lm >= 0 && !d->witness_mode && d->sf.owes[lm];
	msg->n_applied = 0;
	if (!d->witness_mode)
		for (size_t m = 0; m < d->n_lm; m++)
			if ((int)m != d->lm_self) {
				msg->applied[msg->n_applied].member = (uint8_t)m;
				msg->applied[msg->n_applied++].lsn = d->sf.applied[m];
			}
	if (lm >= 0) {
		hb_voter_endorse(d->voter, (size_t)lm, now_us, &msg->endorse);
	} else {
		/* the witness holds nothing: it gets the view, never a lease */
		msg->endorse = *hb_voter_view(d->voter);
		msg->endorse.lease = false;
	}
}

void hb_roles_lag_json(struct hb_daemon *d, size_t i, json_t *o)
{
	int lm = d->hbm_lm[i];
	uint64_t lag;

	if (d->lease == NULL || lm < 0 ||
	    !hb_lease_lag(d->lease, (size_t)lm, lm == d->lm_self ? d->sf.head :
			  hb_lease_head_of(d->lease, (size_t)lm), &lag))
		json_object_set_new(o, "lag_records", json_null());
	else
		json_object_set_new(o, "lag_records", json_integer((json_int_t)lag));
}

void hb_roles_json(struct hb_daemon *d, json_t *status)
{
	const struct hb_endorsement *v = hb_voter_view(d->voter);
	json_t *accounts = json_array(), *excl = json_array(), *owed = json_array(), *o;
	uint64_t now = hb_now_us();

	for (size_t m = 0; m < d->n_lm; m++) {
		if (v->excl & (1ULL << m))
			json_array_append_new(excl, json_string(d->lm_names[m]));
		if (d->lease != NULL && hb_lease_owed_by(d->lease, m))
			json_array_append_new(owed, json_string(d->lm_names[m]));
	}
	o = json_pack("{s:b, s:I, s:o, s:b, s:I, s:I, s:I}", "ready", d->ready,
		      "view_id", (json_int_t)v->view_id, "excluded", excl,
		      "in_transition", hb_view_in_transition(v),
		      "lease_ms", (json_int_t)d->cfg->hb_lease_ms,
		      "quorum", (json_int_t)(d->lease != NULL ? hb_lease_quorum(d->lease) :
					     (d->n_lm + 1) / 2 + 1),
		      "rx_members", (json_int_t)d->rx_members);
	json_object_set_new(o, "draining", json_boolean(d->draining));
	json_object_set_new(o, "owed_resync_by", owed);
	hb_promote_json(d, status, o);
	json_object_set_new(status, "leases", o);
	for (size_t i = 0; d->lease != NULL && i < d->n_accounts; i++) {
		const struct hb_lease_acct *a = hb_lease_find(d->lease, d->accounts[i]);
		unsigned int hold[HB_VIEW_MAX];
		bool down[HB_VIEW_MAX] = { false };
		json_t *reps = json_array();
		const char *pinned = hb_promote_pinned(d, d->accounts[i]);
		size_t nh;
		int act;

		hb_placement_get(d->pl, d->accounts[i], &d->pll);
		act = a != NULL && a->role == HB_ROLE_ACTIVE ? d->lm_self :
		      hb_lease_quorum_active(d->lease, &d->pll, hb_pins_hash(d->accounts[i]), now);
		for (size_t k = 0; k < d->pll.n; k++)
			down[d->pll.rank[k]] = (v->excl & (1ULL << d->pll.rank[k])) != 0;
		nh = hb_placement_hold(&d->pll, down, hold);
		for (size_t k = 0; k < nh; k++)
			if ((int)hold[k] != act)
				json_array_append_new(reps, json_string(d->lm_names[hold[k]]));
		o = json_pack("{s:s, s:o, s:o, s:o, s:s, s:I}", "account", d->accounts[i],
			      "active", act >= 0 ? json_string(d->lm_names[act]) : json_null(),
			      "epoch", a != NULL && a->role == HB_ROLE_ACTIVE ?
			      json_integer((json_int_t)a->epoch) : json_null(),
			      "replicas", reps,
			      "role", a != NULL ? hb_role_str(a->role) : "replica",
			      "votes", (json_int_t)(a != NULL ? a->votes : 0));
		json_object_set_new(o, "pinned", pinned != NULL ? json_string(pinned) :
				    json_null());
		json_object_set_new(o, "deadline_ms", a != NULL && a->role != HB_ROLE_REPLICA &&
				    a->deadline_us > now ?
				    json_integer((json_int_t)((a->deadline_us - now) / 1000)) :
				    json_null());
		json_array_append_new(accounts, o);
	}
	json_object_set_new(status, "accounts", accounts);
}
