/* SPDX-License-Identifier: MIT
 * hb-store.c - the thread that does mailmesh-hbmon's store I/O for leases,
 * so a slow disk or a frozen mailmesh-fs never stops the heartbeats: at
 * worst the deadline is not renewed and the mount fences itself. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "acct.h"
#include "buf.h"
#include "ctl.h"
#include "hb-probe.h"
#include "hb-store.h"
#include "log.h"
#include "mem.h"
#include "repl-cursor.h"
#include "repl-epoch.h"

#define ACCOUNTS_EVERY 5	/* list the accounts every 5th round */

struct hb_store {
	struct hb_store_settings set;
	char **members;
	char *ctl_path, *events_path, *repl_path;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stop, kick;
	/* under lock: posted by the loop */
	struct mm_buf roles;		/* "EPOCH ACCOUNT\n" lines */
	bool roles_changed;
	uint64_t deadline_ns;
	struct mm_buf events;
	struct mm_buf resyncs;		/* accounts, one per line */
	/* under lock: read by the thread */
	struct hb_store_figures f;
	char **accounts;
	size_t n_accounts;
	bool accounts_new;
	struct repl_epochs *epochs;	/* read anew, not yet taken */
	/* the thread's own: the epochs file as last read */
	off_t epochs_size;
	struct timespec epochs_mtime;
};

static int write_roles(struct hb_store *s, uint64_t gen, const struct mm_buf *body)
{
	const char *error;

	if (mm_roles_write(s->set.state, gen, body->data, body->len, &error) == 0)
		return 0;
	mm_log_error("roles: %s", error);
	return -1;
}

static void append_events(struct hb_store *s, const struct mm_buf *lines)
{
	int fd = open(s->events_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);

	if (fd < 0 || write(fd, lines->data, lines->len) != (ssize_t)lines->len)
		mm_log_error("events: write(%s) failed: %m", s->events_path);
	if (fd >= 0)
		close(fd);
}

static uint64_t read_cursor(const struct hb_store *s, const char *peer)
{
	char *path = mm_strdup_printf("%s/replication/from-%s.lsn", s->set.state, peer);
	char buf[2 * REPL_CURSOR_SLOT_OFF];
	int fd = open(path, O_RDONLY | O_CLOEXEC), valid = 0;
	ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf));
	uint64_t lsn = 0;

	if (n > 0)
		lsn = repl_cursor_parse(buf, (size_t)n, &valid);
	if (fd >= 0)
		close(fd);
	free(path);
	return lsn;
}

static bool owes_resync(const struct hb_store *s, const char *peer)
{
	char *path = mm_strdup_printf("%s/replication/to-%s.resync", s->set.state, peer);
	bool owes = access(path, F_OK) == 0;

	free(path);
	return owes;
}

/* STATE/replication/epochs, the epochs the replicator learnt from every
   store's records, when it changed since the last read (else NULL): a new
   epoch here must be above them, whatever this host's clock says. */
static struct repl_epochs *read_epochs(struct hb_store *s)
{
	char *path = mm_strdup_printf("%s/replication/epochs", s->set.state);
	struct repl_epochs *t = NULL;
	struct repl_epochs_parsed res;
	struct mm_buf data = { 0 };
	struct stat st;
	char buf[65536];
	size_t n;
	FILE *f;

	if (stat(path, &st) < 0 || (st.st_size == s->epochs_size &&
				    st.st_mtim.tv_sec == s->epochs_mtime.tv_sec &&
				    st.st_mtim.tv_nsec == s->epochs_mtime.tv_nsec) ||
	    (f = fopen(path, "r")) == NULL) {
		free(path);
		return NULL;
	}
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		mm_buf_append(&data, buf, n);
	if (ferror(f))
		mm_log_error("epochs: reading %s failed: %m", path);
	else {
		t = repl_epochs_new();
		repl_epochs_parse(t, (const char *)data.data, data.len, &res);
		s->epochs_size = st.st_size;
		s->epochs_mtime = st.st_mtim;
	}
	fclose(f);
	mm_buf_free(&data);
	free(path);
	return t;
}

/* An account became active here while the store it moved from was not
   heard: this store may have applied records of that store's journal
   that the account's other holders lack, and they can get them only from
   the origin (replication does not relay). A resync of the account from
   here to each of them (digests first: cheap where they match) gives them
   those records, so that a later move to one of them does not leave them
   behind (tests/model, flaw 5). A holder not connected now gets it when
   it is: tried again every RESYNC_RETRY_ROUNDS, for RESYNC_TRIES. */
#define RESYNC_RETRY_ROUNDS 5
#define RESYNC_TRIES 600	/* about 10 min with the default interval */

struct resync_req {
	char *account, *peer;
	unsigned int tries;
};

/* Takes the posted "ACCOUNT PEER" lines into reqs. */
static void resyncs_take(const struct mm_buf *posted, struct resync_req **reqs, size_t *n)
{
	char *copy = mm_strndup((const char *)posted->data, posted->len), *save = NULL;

	for (char *l = strtok_r(copy, "\n", &save); l != NULL; l = strtok_r(NULL, "\n", &save)) {
		char *sp = strchr(l, ' ');

		if (sp == NULL)
			continue;
		*sp = '\0';
		*reqs = mm_realloc(*reqs, (*n + 1) * sizeof(**reqs));
		(*reqs)[*n].account = mm_strdup(l);
		(*reqs)[(*n)++].peer = mm_strdup(sp + 1);
		(*reqs)[*n - 1].tries = 0;
	}
	free(copy);
}

static void resyncs_try(struct hb_store *s, struct resync_req **reqs, size_t *n)
{
	size_t k = 0;

	for (size_t i = 0; i < *n; i++) {
		struct resync_req *r = &(*reqs)[i];
		char *line = mm_strdup_printf("resync %s %s", r->account, r->peer), out[256];
		const char *error;
		bool done = mm_ctl_call_timeout(s->repl_path, line, out, sizeof(out),
						5 * s->set.interval_ms, &error) == 0;

		free(line);
		if (done)
			mm_log_info("account %s: active here after its store was lost: resyncing "
				    "it to %s, which may lack that store's records (%s)",
				    r->account, r->peer, out + 3);
		else if (r->tries == 0)
			mm_log_warn("account %s: active here after its store was lost; the resync "
				    "to %s waits (%s): tried again until it connects", r->account,
				    r->peer, error);
		if (!done && ++r->tries >= RESYNC_TRIES)
			mm_log_error("account %s: the resync to %s never started; run "
				     "mailmeshctl resync %s %s", r->account, r->peer, r->account,
				     r->peer);
		if (done || r->tries >= RESYNC_TRIES) {
			free(r->account);
			free(r->peer);
			continue;
		}
		(*reqs)[k++] = *r;
	}
	*n = k;
}

static void *store_thread(void *arg)
{
	struct hb_store *s = arg;
	struct mm_buf roles = { 0 }, events = { 0 }, resyncs = { 0 };
	struct resync_req *reqs = NULL;
	size_t n_reqs = 0;
	struct timespec ts;
	uint64_t gen, round = 0;

	/* a generation mailmesh-fs cannot hold from an earlier run */
	clock_gettime(CLOCK_REALTIME, &ts);
	gen = (uint64_t)ts.tv_sec * 1000000000 + (uint64_t)ts.tv_nsec;
	pthread_mutex_lock(&s->lock);
	while (!s->stop) {
		struct hb_store_figures f;
		bool changed = s->roles_changed, roles_ok = true;
		uint64_t deadline = s->deadline_ns;
		char **list = NULL, line[128], out[256];
		size_t n = 0;
		const char *error;

		s->roles_changed = false;
		s->kick = false;
		mm_buf_reset(&roles);
		mm_buf_append(&roles, s->roles.data, s->roles.len);
		mm_buf_reset(&events);
		mm_buf_append(&events, s->events.data, s->events.len);
		mm_buf_reset(&s->events);
		mm_buf_reset(&resyncs);
		mm_buf_append(&resyncs, s->resyncs.data, s->resyncs.len);
		mm_buf_reset(&s->resyncs);
		f = s->f;
		pthread_mutex_unlock(&s->lock);

		if (changed) {
			gen++;
			roles_ok = write_roles(s, gen, &roles) == 0;
		}
		/* a roles file not written must not be renewed */
		snprintf(line, sizeof(line), "roles %" PRIu64 " %" PRIu64, gen,
			 roles_ok ? deadline : 0);
		f.fs_running = mm_ctl_call_timeout(s->ctl_path, line, out, sizeof(out),
						   s->set.interval_ms, &error) == 0;
		if (f.fs_running)
			sscanf(out, "ok last_lsn=%" SCNu64, &f.head);
		for (size_t m = 0; m < s->set.n_members; m++)
			if (m != s->set.self) {
				f.applied[m] = read_cursor(s, s->members[m]);
				f.owes[m] = owes_resync(s, s->members[m]);
			}
		struct repl_epochs *epochs = NULL;

		/* a stat every round, a read when it changed: known before the
		   transition of a move (one lease) lets an account become active */
		epochs = read_epochs(s);
		if (round++ % ACCOUNTS_EVERY == 0 &&
		    mm_acct_list(s->set.store, s->set.depth, &list, &n, &error) < 0) {
			mm_log_error("accounts: %s", error);
			list = NULL;
		}
		if (events.len > 0)
			append_events(s, &events);
		if (resyncs.len > 0)
			resyncs_take(&resyncs, &reqs, &n_reqs);
		if (n_reqs > 0 && (resyncs.len > 0 || round % RESYNC_RETRY_ROUNDS == 0))
			resyncs_try(s, &reqs, &n_reqs);

		pthread_mutex_lock(&s->lock);
		if (!roles_ok)
			s->roles_changed = true;	/* try again */
		s->f = f;
		if (list != NULL || n > 0) {
			mm_acct_list_free(&s->accounts, s->n_accounts);
			s->accounts = list;
			s->n_accounts = n;
			s->accounts_new = true;
		}
		if (epochs != NULL) {
			repl_epochs_free(&s->epochs);
			s->epochs = epochs;
		}
		if (!s->stop && !s->kick) {
			hb_mono_in(s->set.interval_ms, &ts);
			while (!s->stop && !s->kick &&
			       pthread_cond_timedwait(&s->cond, &s->lock, &ts) != ETIMEDOUT)
				;
		}
	}
	pthread_mutex_unlock(&s->lock);
	mm_buf_free(&roles);
	mm_buf_free(&events);
	mm_buf_free(&resyncs);
	for (size_t i = 0; i < n_reqs; i++) {
		free(reqs[i].account);
		free(reqs[i].peer);
	}
	free(reqs);
	return NULL;
}

int hb_store_start(const struct hb_store_settings *set, struct hb_store **store_r,
		   const char **error_r)
{
	static char err[256];
	struct hb_store *s = mm_calloc(1, sizeof(*s));
	int e;

	s->set = *set;
	s->members = mm_calloc(set->n_members, sizeof(*s->members));
	for (size_t i = 0; i < set->n_members; i++)
		s->members[i] = mm_strdup(set->members[i]);
	s->set.members = NULL;
	s->ctl_path = mm_strdup_printf("%s/control.sock", set->state);
	s->events_path = mm_strdup_printf("%s/events", set->state);
	s->repl_path = mm_strdup_printf("%s/replicator.sock", set->state);
	s->roles_changed = true;	/* nothing is active after a start */
	pthread_mutex_init(&s->lock, NULL);
	hb_cond_init_mono(&s->cond);
	if ((e = pthread_create(&s->thread, NULL, store_thread, s)) != 0) {
		snprintf(err, sizeof(err), "pthread_create failed: %s", strerror(e));
		*error_r = err;
		s->thread = 0;
		hb_store_stop(&s);
		return -1;
	}
	*store_r = s;
	return 0;
}

void hb_store_stop(struct hb_store **store_r)
{
	struct hb_store *s = *store_r;

	if (s == NULL)
		return;
	if (s->thread != 0) {
		pthread_mutex_lock(&s->lock);
		s->stop = true;
		pthread_cond_signal(&s->cond);
		pthread_mutex_unlock(&s->lock);
		pthread_join(s->thread, NULL);
	}
	pthread_cond_destroy(&s->cond);
	pthread_mutex_destroy(&s->lock);
	for (size_t i = 0; i < s->set.n_members; i++)
		free(s->members[i]);
	free(s->members);
	free(s->ctl_path);
	free(s->events_path);
	free(s->repl_path);
	mm_buf_free(&s->resyncs);
	mm_buf_free(&s->roles);
	mm_buf_free(&s->events);
	mm_acct_list_free(&s->accounts, s->n_accounts);
	repl_epochs_free(&s->epochs);
	free(s);
	*store_r = NULL;
}

void hb_store_post_roles(struct hb_store *s, char *const *accounts, const uint64_t *epochs,
			 size_t n, uint64_t deadline_ns)
{
	struct mm_buf b = { 0 };

	for (size_t i = 0; i < n; i++)
		mm_buf_printf(&b, "%" PRIu64 " %s\n", epochs[i], accounts[i]);
	pthread_mutex_lock(&s->lock);
	if (b.len != s->roles.len || (b.len > 0 && memcmp(b.data, s->roles.data, b.len) != 0)) {
		mm_buf_reset(&s->roles);
		mm_buf_append(&s->roles, b.data, b.len);
		s->roles_changed = true;
		s->kick = true;
		pthread_cond_signal(&s->cond);
	}
	s->deadline_ns = deadline_ns;
	pthread_mutex_unlock(&s->lock);
	mm_buf_free(&b);
}

void hb_store_post_event(struct hb_store *s, const char *line)
{
	pthread_mutex_lock(&s->lock);
	mm_buf_puts(&s->events, line);
	mm_buf_puts(&s->events, "\n");
	pthread_mutex_unlock(&s->lock);
}

int hb_store_get(struct hb_store *s, struct hb_store_figures *f_r, char ***accounts_r,
		 size_t *n_r)
{
	int ret = 0;

	pthread_mutex_lock(&s->lock);
	*f_r = s->f;
	*accounts_r = NULL;
	*n_r = 0;
	if (s->accounts_new) {
		*accounts_r = s->accounts;
		*n_r = s->n_accounts;
		s->accounts = NULL;
		s->n_accounts = 0;
		s->accounts_new = false;
		ret = 1;
	}
	pthread_mutex_unlock(&s->lock);
	return ret;
}

struct repl_epochs *hb_store_take_epochs(struct hb_store *s)
{
	struct repl_epochs *t;

	pthread_mutex_lock(&s->lock);
	t = s->epochs;
	s->epochs = NULL;
	pthread_mutex_unlock(&s->lock);
	return t;
}

void hb_store_post_resync(struct hb_store *s, const char *account, const char *peer)
{
	pthread_mutex_lock(&s->lock);
	mm_buf_printf(&s->resyncs, "%s %s\n", account, peer);
	s->kick = true;
	pthread_cond_signal(&s->cond);
	pthread_mutex_unlock(&s->lock);
}
