/* SPDX-License-Identifier: MIT
 * repl-query.c - answers a peer's mailmesh-fsck (see repl-query.h): one
 * question at a time, in order, each worked on in a thread of its own
 * (walking and hashing an account takes seconds), the answer sent from
 * the event loop once a byte on a pipe says it is ready. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include "acct.h"
#include "buf.h"
#include "classify.h"
#include "inventory.h"
#include "journal-file.h"
#include "log.h"
#include "mem.h"
#include "repl-expunged.h"
#include "repl-query.h"
#include "repl-role.h"
#include "repl.h"

/* questions queued at most: the asker waits for each answer */
#define QUERY_QUEUE_MAX 64
/* a file fetched whole: within one frame */
#define QUERY_FETCH_MAX (MM_WIRE_INVENTORY_MAX - 64)

struct question {
	uint32_t code;
	char *account;
	unsigned char *args;
	size_t args_len;
};

struct repl_query {
	struct repl_daemon *d;
	struct bufferevent *bev;
	char peer[64];
	struct mm_rules *rules;
	struct question q[QUERY_QUEUE_MAX];
	size_t head, n;
	bool busy;
	pthread_t thread;
	int pipe[2];
	struct event *done_ev;
	/* the worker's result */
	uint32_t a_code;
	char *a_text;
	struct mm_buf a_body;
	/* the last account walked, for the LIST questions after FOLDERS */
	struct mm_inv *inv;
	bool inv_content;
};

static void question_free(struct question *q)
{
	free(q->account);
	free(q->args);
	memset(q, 0, sizeof(*q));
}

static bool account_ok(struct repl_query *q, const char *account)
{
	const char *error;

	return mm_acct_check(account, q->d->cfg->account_depth, &error) == 0;
}

static int walk(struct repl_query *q, const char *account, bool content)
{
	const char *error;

	if (q->inv != NULL && q->inv_content == content && strcmp(q->inv->account, account) == 0)
		return 0;
	mm_inv_free(&q->inv);
	if (mm_inv_scan(q->d->cfg->store, account, q->rules, content, NULL, &q->inv, &error) < 0) {
		q->a_code = MM_WIRE_A_FAILED;
		q->a_text = mm_strdup(error);
		return -1;
	}
	q->inv_content = content;
	if (q->inv->missing) {
		q->a_code = MM_WIRE_A_NO_ACCOUNT;
		return -1;
	}
	return 0;
}

static void answer_folders(struct repl_query *q, const struct question *qu)
{
	struct mm_rbuf r = { .p = qu->args, .end = qu->args + qu->args_len };
	uint8_t flags = 0;
	char **ro = NULL;
	size_t n_ro = 0;
	const char *error;
	bool rw;

	if (!mm_rbuf_u8(&r, &flags) || r.p != r.end) {
		q->a_code = MM_WIRE_A_FAILED;
		q->a_text = mm_strdup("malformed FOLDERS question");
		return;
	}
	/* a fresh answer for every FOLDERS: the LISTs after it reuse it */
	mm_inv_free(&q->inv);
	if (walk(q, qu->account, flags & MM_WIRE_QF_CONTENT) < 0)
		return;
	rw = true;
	if (mm_acct_load(q->d->cfg->state, &ro, &n_ro, &error) == 0) {
		rw = !mm_acct_in(ro, n_ro, qu->account, strlen(qu->account));
		mm_acct_list_free(&ro, n_ro);
	}
	mm_buf_put_u8(&q->a_body, rw ? MM_WIRE_A_MODE_RW : MM_WIRE_A_MODE_RO);
	for (size_t i = 0; i < q->inv->n; i++) {
		const struct mm_inv_folder *f = &q->inv->f[i];
		struct mm_wire_qfolder wf = { .name = f->name, .name_len = strlen(f->name),
					      .subs = (uint8_t)f->subs, .count = f->count };

		if (wf.name_len > MM_WIRE_TEXT_MAX)
			continue;
		memcpy(wf.digest, f->digest, 16);
		mm_wire_qfolder_put(&q->a_body, &wf);
	}
}

static bool get_str(struct mm_rbuf *r, char **s_r)
{
	const unsigned char *p;
	uint16_t n;

	if (!mm_rbuf_u16(r, &n) || n > MM_WIRE_TEXT_MAX || !mm_rbuf_bytes(r, n, &p) ||
	    memchr(p, '\0', n) != NULL)
		return false;
	*s_r = mm_strndup((const char *)p, n);
	return true;
}

/* A path below an account that leaves it, or names a dot file, is hostile. */
static bool path_ok(const char *p)
{
	if (strstr(p, "..") != NULL || p[0] == '/')
		return false;
	return true;
}

static void answer_list(struct repl_query *q, const struct question *qu)
{
	struct mm_rbuf r = { .p = qu->args, .end = qu->args + qu->args_len };
	uint8_t flags = 0;
	char *folder = NULL;
	const struct mm_inv_folder *f;

	if (!mm_rbuf_u8(&r, &flags) || !get_str(&r, &folder) || r.p != r.end) {
		q->a_code = MM_WIRE_A_FAILED;
		q->a_text = mm_strdup("malformed LIST question");
		free(folder);
		return;
	}
	if (walk(q, qu->account, flags & MM_WIRE_QF_CONTENT) < 0)
		goto out;
	f = mm_inv_folder_find(q->inv, folder);
	if (f == NULL) {
		q->a_code = MM_WIRE_A_NOT_FOUND;
		goto out;
	}
	for (size_t i = 0; i < f->n; i++) {
		const struct mm_inv_entry *e = &f->e[i];
		struct mm_wire_qentry we = { .kind = e->kind, .sub = e->sub, .name = e->name,
					     .name_len = strlen(e->name), .size = e->size,
					     .hashed = e->hashed };

		if ((e->kind != MM_INV_MESSAGE && e->kind != MM_INV_META) ||
		    we.name_len > MM_WIRE_NAME_MAX)
			continue;
		if (e->kind == MM_INV_META)
			we.sub = 0;
		memcpy(we.hash, e->hash, 16);
		mm_wire_qentry_put(&q->a_body, &we);
	}
out:
	free(folder);
}

/* Answers with the file at full: attributes, hash and content. */
static void fetch_file(struct repl_query *q, const char *full)
{
	struct mm_wire_qfile wf = { 0 };
	struct mm_buf content = { 0 };
	unsigned char buf[65536];
	struct stat st;
	ssize_t n;
	int fd;

	fd = open(full, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		q->a_code = MM_WIRE_A_NOT_FOUND;
		goto out;
	}
	if ((uint64_t)st.st_size > QUERY_FETCH_MAX) {
		q->a_code = MM_WIRE_A_FAILED;
		q->a_text = mm_strdup("file too large to fetch");
		goto out;
	}
	/* hashed and sent from what one read gives */
	mm_buf_reserve(&q->a_body, 64 + (size_t)st.st_size);
	wf.mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
	wf.mode = st.st_mode;
	wf.uid = st.st_uid;
	wf.gid = st.st_gid;
	while ((n = read(fd, buf, sizeof(buf))) > 0 && content.len <= QUERY_FETCH_MAX)
		mm_buf_append(&content, buf, (size_t)n);
	if (n < 0 || content.len > QUERY_FETCH_MAX) {
		q->a_code = MM_WIRE_A_FAILED;
		q->a_text = mm_strdup(n < 0 ? strerror(errno) : "file too large to fetch");
		goto out;
	}
	wf.size = content.len;
	XXH128_canonical_t c;
	XXH128_canonicalFromHash(&c, XXH3_128bits(content.data, content.len));
	memcpy(wf.hash, c.digest, 16);
	mm_wire_qfile_put(&q->a_body, &wf);
	mm_buf_append(&q->a_body, content.data, content.len);
out:
	mm_buf_free(&content);
	if (fd >= 0)
		close(fd);
}

static void answer_fetch(struct repl_query *q, const struct question *qu)
{
	struct mm_rbuf r = { .p = qu->args, .end = qu->args + qu->args_len };
	char *folder = NULL, *path = NULL, *full = NULL;

	if (!get_str(&r, &folder) || !get_str(&r, &path) || r.p != r.end ||
	    !path_ok(folder) || !path_ok(path) || path[0] == '\0') {
		q->a_code = MM_WIRE_A_FAILED;
		q->a_text = mm_strdup("malformed FETCH question");
		goto out;
	}
	full = folder[0] ? mm_strdup_printf("%s/%s/%s/%s", q->d->cfg->store, qu->account,
					    folder, path) :
		mm_strdup_printf("%s/%s/%s", q->d->cfg->store, qu->account, path);
	fetch_file(q, full);
out:
	free(full);
	free(folder);
	free(path);
}

/* RETAINED: the expunged messages kept here (repl-expunged.c). */
static void answer_retained(struct repl_query *q, const struct question *qu)
{
	struct mm_rbuf r = { .p = qu->args, .end = qu->args + qu->args_len };
	char *folder = NULL;
	uint64_t since = 0;
	uint8_t flags = 0;
	const char *error;

	if (!mm_rbuf_u8(&r, &flags) || !get_str(&r, &folder) || !mm_rbuf_u64(&r, &since) ||
	    r.p != r.end || !path_ok(folder)) {
		q->a_code = MM_WIRE_A_FAILED;
		q->a_text = mm_strdup("malformed RETAINED question");
		goto out;
	}
	if (repl_expunged_list(q->d->expunged_dir, qu->account,
			       (flags & MM_WIRE_QF_FOLDER) ? folder : NULL, since,
			       &q->a_body, &error) < 0) {
		q->a_code = MM_WIRE_A_FAILED;
		q->a_text = mm_strdup(error);
	}
out:
	free(folder);
}

static void answer_fetch_retained(struct repl_query *q, const struct question *qu)
{
	struct mm_wire_qretained w;
	size_t pos = 0;
	char *folder = NULL, *name = NULL, *full;

	if (mm_wire_qretained_next(qu->args, qu->args_len, &pos, &w) != 1 ||
	    pos != qu->args_len) {
		q->a_code = MM_WIRE_A_FAILED;
		q->a_text = mm_strdup("malformed FETCH_RETAINED question");
		return;
	}
	folder = mm_strndup(w.folder, w.folder_len);
	name = mm_strndup(w.name, w.name_len);
	full = repl_expunged_path(q->d->expunged_dir, qu->account, folder,
				  w.sub == 1 ? MM_SUB_NEW : MM_SUB_CUR, name, w.expunged_ns);
	fetch_file(q, full);
	free(full);
	free(folder);
	free(name);
}

/* ROLE: the account's role here, read afresh (mailmeshctl drill polls it). */
static void answer_role(struct repl_query *q, const struct question *qu)
{
	struct repl_role r;
	const char *error;

	if (qu->args_len != 0) {
		q->a_code = MM_WIRE_A_FAILED;
		q->a_text = mm_strdup("malformed ROLE question");
		return;
	}
	if (repl_role_read(q->d->cfg, qu->account, &r, &error) < 0) {
		q->a_code = MM_WIRE_A_FAILED;
		q->a_text = mm_strdup(error);
		return;
	}
	repl_role_format(&r, &q->a_body);
	repl_role_free(&r);
}

static void *worker(void *arg)
{
	struct repl_query *q = arg;
	const struct question *qu = &q->q[q->head];
	char one = 1;

	if (!account_ok(q, qu->account)) {
		q->a_code = MM_WIRE_A_FAILED;
		q->a_text = mm_strdup("not an account name");
	} else if (qu->code == MM_WIRE_Q_FOLDERS) {
		answer_folders(q, qu);
	} else if (qu->code == MM_WIRE_Q_LIST) {
		answer_list(q, qu);
	} else if (qu->code == MM_WIRE_Q_RETAINED) {
		answer_retained(q, qu);
	} else if (qu->code == MM_WIRE_Q_FETCH_RETAINED) {
		answer_fetch_retained(q, qu);
	} else if (qu->code == MM_WIRE_Q_ROLE) {
		answer_role(q, qu);
	} else {
		answer_fetch(q, qu);
	}
	if (write(q->pipe[1], &one, 1) != 1)
		mm_log_error("fsck query: write(pipe) failed: %m");
	return NULL;
}

static void start_next(struct repl_query *q)
{
	if (q->busy || q->n == 0)
		return;
	q->a_code = MM_WIRE_A_OK;
	q->a_text = NULL;
	mm_buf_reset(&q->a_body);
	q->busy = true;
	if (pthread_create(&q->thread, NULL, worker, q) != 0)
		mm_panic("fsck query: pthread_create failed");
}

static void on_done(evutil_socket_t fd, short what, void *arg)
{
	struct repl_query *q = arg;
	struct question *qu = &q->q[q->head];
	struct mm_buf out = { 0 };
	char c;

	(void)what;
	if (read(fd, &c, 1) != 1)
		return;
	pthread_join(q->thread, NULL);
	q->busy = false;
	struct mm_wire_msg a = { .type = MM_WIRE_ANSWER, .code = q->a_code,
				 .text = q->a_text ? q->a_text : qu->account,
				 .text_len = strlen(q->a_text ? q->a_text : qu->account),
				 .blob = q->a_body.data, .blob_len = q->a_body.len };

	if (a.text_len > MM_WIRE_TEXT_MAX)
		a.text_len = MM_WIRE_TEXT_MAX;
	/* lists of names compress well; content is sent as it is */
	if (mm_wire_encode(&out, &a, qu->code == MM_WIRE_Q_FETCH ||
				     qu->code == MM_WIRE_Q_FETCH_RETAINED ? 0 : 1) < 0)
		mm_panic("fsck query: cannot encode an answer");
	bufferevent_write(q->bev, out.data, out.len);
	mm_buf_free(&out);
	mm_log_debug("fsck query from %s: %s answered (%zu bytes)", q->peer, qu->account,
		     q->a_body.len);
	free(q->a_text);
	q->a_text = NULL;
	question_free(qu);
	q->head = (q->head + 1) % QUERY_QUEUE_MAX;
	q->n--;
	start_next(q);
}

struct repl_query *repl_query_new(struct repl_daemon *d, struct bufferevent *bev,
				  const char *peer)
{
	struct repl_query *q = mm_calloc(1, sizeof(*q));

	q->d = d;
	q->bev = bev;
	snprintf(q->peer, sizeof(q->peer), "%s", peer);
	q->rules = mm_rules_new(d->cfg);
	if (pipe2(q->pipe, O_CLOEXEC | O_NONBLOCK) < 0)
		mm_panic("fsck query: pipe failed: %m");
	q->done_ev = event_new(d->base, q->pipe[0], EV_READ | EV_PERSIST, on_done, q);
	event_add(q->done_ev, NULL);
	mm_log_info("fsck query from %s: connected", peer);
	return q;
}

static void query_destroy(struct repl_query *q)
{
	event_free(q->done_ev);
	close(q->pipe[0]);
	close(q->pipe[1]);
	while (q->n > 0) {
		question_free(&q->q[q->head]);
		q->head = (q->head + 1) % QUERY_QUEUE_MAX;
		q->n--;
	}
	free(q->a_text);
	mm_buf_free(&q->a_body);
	mm_inv_free(&q->inv);
	mm_rules_free(&q->rules);
	free(q);
}

/* The session went while a worker ran: its byte on the pipe says it no
   longer touches q (it returns right after writing it). */
static void on_orphan_done(evutil_socket_t fd, short what, void *arg)
{
	struct repl_query *q = arg;
	char c;

	(void)what;
	if (read(fd, &c, 1) != 1)
		return;
	pthread_join(q->thread, NULL);
	mm_log_debug("fsck query from %s: the walk of a closed query ended", q->peer);
	query_destroy(q);
}

void repl_query_free(struct repl_query **qp)
{
	struct repl_query *q = *qp;

	if (q == NULL)
		return;
	*qp = NULL;
	if (q->busy) {
		/* never wait for a walk on the event loop: q goes when it ends */
		event_free(q->done_ev);
		q->bev = NULL;
		q->done_ev = event_new(q->d->base, q->pipe[0], EV_READ | EV_PERSIST,
				       on_orphan_done, q);
		event_add(q->done_ev, NULL);
		return;
	}
	query_destroy(q);
}

int repl_query_frame(struct repl_query *q, const struct mm_wire_msg *m, const char **error_r)
{
	struct question *qu;

	if (m->code == MM_WIRE_Q_OPEN) {
		*error_r = "a second QUERY OPEN";
		return -1;
	}
	if (q->n == QUERY_QUEUE_MAX) {
		*error_r = "too many questions waiting";
		return -1;
	}
	qu = &q->q[(q->head + q->n) % QUERY_QUEUE_MAX];
	qu->code = m->code;
	qu->account = mm_strndup(m->text, m->text_len);
	qu->args = mm_malloc(m->blob_len + 1);
	if (m->blob_len > 0)
		memcpy(qu->args, m->blob, m->blob_len);
	qu->args_len = m->blob_len;
	q->n++;
	start_next(q);
	return 0;
}
