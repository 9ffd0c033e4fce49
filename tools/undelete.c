/* SPDX-License-Identifier: MIT
 * undelete.c - mailmeshctl undelete and expunge-guard (see undelete.h):
 * asks the peers (peer-query.c) for the copies they keep, and writes
 * each message back through this store's mount (tmp/, then renamed under
 * its name, with its owner, mode and mtime), which journals it. Options
 * and the choice of copies are undelete-core.c's. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <jansson.h>
#include <xxhash.h>
#include "acct.h"
#include "ctl.h"
#include "journal-file.h"
#include "maildir.h"
#include "mem.h"
#include "peer-query.h"
#include "repl-cmd.h"
#include "repl-moved.h"
#include "repl-tls.h"
#include "undelete-core.h"
#include "undelete.h"

struct peers {
	SSL_CTX *ctx;
	struct pq_conn *c;
	const struct mm_peer_cfg **cfg;
	size_t n;
};

/* The identities in a folder's new/ and cur/ as the mount shows them. */
struct present {
	char *folder;
	char **ids;
	size_t n;
};

struct restorer {
	const struct mm_cfg *cfg;
	const char *account;
	struct present pr;
	unsigned int restored, present, failed;
	uint64_t bytes;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void peers_open(const struct mm_cfg *cfg, struct peers *pp)
{
	const char *error;

	memset(pp, 0, sizeof(*pp));
	pp->ctx = repl_tls_ctx_new(cfg->tls_ca, cfg->tls_cert, cfg->tls_key, &error);
	if (pp->ctx == NULL) {
		fprintf(stderr, "mailmeshctl: tls: %s\n", error);
		return;
	}
	pp->c = mm_calloc(cfg->n_peers + 1, sizeof(*pp->c));
	pp->cfg = mm_calloc(cfg->n_peers + 1, sizeof(*pp->cfg));
	for (size_t i = 0; i < cfg->n_peers; i++) {
		if (strcmp(cfg->peers[i].name, cfg->node_name) == 0)
			continue;
		pp->cfg[pp->n] = &cfg->peers[i];
		if (pq_connect(&pp->c[pp->n], pp->ctx, &cfg->peers[i], cfg->node_name,
			       &error) < 0) {
			fprintf(stderr, "mailmeshctl: peer %s: %s\n", cfg->peers[i].name, error);
			pq_close(&pp->c[pp->n], false);
		}
		pp->n++;
	}
}

static void peers_close(struct peers *pp)
{
	for (size_t i = 0; i < pp->n; i++)
		pq_close(&pp->c[i], true);
	free(pp->c);
	free(pp->cfg);
	if (pp->ctx != NULL)
		SSL_CTX_free(pp->ctx);
}

static char *mount_path(const struct restorer *rs, const char *folder, const char *rest)
{
	return mm_strdup_printf("%s/%s%s%s/%s", rs->cfg->mount, rs->account,
				folder[0] != '\0' ? "/" : "", folder, rest);
}

static void present_free(struct present *pr)
{
	for (size_t i = 0; i < pr->n; i++)
		free(pr->ids[i]);
	free(pr->ids);
	free(pr->folder);
	memset(pr, 0, sizeof(*pr));
}

static char *identity(const char *name)
{
	struct mm_msgname mn;

	return mm_msgname_parse(name, &mn) == 0 ? mm_strndup(name, mn.base_len) :
		mm_strdup(name);
}

static void present_add(struct present *pr, const char *name)
{
	pr->ids = mm_realloc(pr->ids, (pr->n + 1) * sizeof(*pr->ids));
	pr->ids[pr->n++] = identity(name);
}

/* Lists folder's new/ and cur/ through the mount (what Dovecot sees). */
static void present_load(struct restorer *rs, const char *folder)
{
	static const char *const subs[] = { "new", "cur" };

	if (rs->pr.folder != NULL && strcmp(rs->pr.folder, folder) == 0)
		return;
	present_free(&rs->pr);
	rs->pr.folder = mm_strdup(folder);
	for (unsigned int i = 0; i < 2; i++) {
		char *path = mount_path(rs, folder, subs[i]);
		DIR *d = opendir(path);
		struct dirent *e;

		while (d != NULL && (e = readdir(d)) != NULL)
			if (e->d_name[0] != '.')
				present_add(&rs->pr, e->d_name);
		if (d != NULL)
			closedir(d);
		free(path);
	}
}

static bool present_has(const struct present *pr, const char *name)
{
	char *id = identity(name);
	bool found = false;

	for (size_t i = 0; i < pr->n && !found; i++)
		found = strcmp(pr->ids[i], id) == 0;
	free(id);
	return found;
}

/* Makes folder (and cur/ new/ tmp/) through the mount when it is gone:
   a folder deleted with the messages is made again, journaled. */
static int folder_make(struct restorer *rs, const char *folder)
{
	static const char *const subs[] = { "cur", "new", "tmp" };
	char *base = mount_path(rs, folder, "");
	int ret = 0;

	for (char *p = base + strlen(rs->cfg->mount) + 1 + strlen(rs->account) + 1;
	     (p = strchr(p, '/')) != NULL; p++) {
		*p = '\0';
		if (mkdir(base, 0700) < 0 && errno != EEXIST)
			ret = -1;
		*p = '/';
	}
	for (unsigned int i = 0; i < 3 && ret == 0; i++) {
		char *path = mount_path(rs, folder, subs[i]);

		if (mkdir(path, 0700) < 0 && errno != EEXIST)
			ret = -1;
		free(path);
	}
	free(base);
	return ret;
}

/* Writes the message into folder's tmp/ through the mount and renames it
   to sub/name: journaled as a delivery with its content, owner, mode and
   mtime (its INTERNALDATE). 0, or -1 with the reason printed. */
static int restore_one(struct restorer *rs, const char *folder, uint8_t sub, const char *name,
		       const struct mm_wire_qfile *f, const unsigned char *content)
{
	char tname[64], *tmp, *dst;
	struct timespec ts[2] = {
		{ .tv_sec = f->mtime_ns / 1000000000, .tv_nsec = f->mtime_ns % 1000000000 },
		{ .tv_sec = f->mtime_ns / 1000000000, .tv_nsec = f->mtime_ns % 1000000000 },
	};
	int fd, ret = -1;

	if (folder_make(rs, folder) < 0) {
		fprintf(stderr, "mailmeshctl: %s/%s: cannot make the folder: %s\n", rs->account,
			folder, strerror(errno));
		return -1;
	}
	snprintf(tname, sizeof(tname), "tmp/.mmundelete.%d.%u", (int)getpid(), rs->restored);
	tmp = mount_path(rs, folder, tname);
	dst = mount_path(rs, folder, sub == 1 ? "new" : "cur");
	{
		char *t = mm_strdup_printf("%s/%s", dst, name);

		free(dst);
		dst = t;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, f->mode & 0777);
	if (fd < 0 || write(fd, content, f->size) != (ssize_t)f->size ||
	    (fchown(fd, f->uid, f->gid) < 0 && errno != EPERM) ||
	    fchmod(fd, f->mode & 0777) < 0 || futimens(fd, ts) < 0 || fsync(fd) < 0) {
		fprintf(stderr, "mailmeshctl: writing %s failed: %s\n", tmp, strerror(errno));
		goto out;
	}
	if (close(fd) < 0) {
		fd = -1;
		fprintf(stderr, "mailmeshctl: writing %s failed: %s\n", tmp, strerror(errno));
		goto out;
	}
	fd = -1;
	/* no other writer makes this identity meanwhile: the account is
	   read-write here only, and we checked its folder just now */
	if (rename(tmp, dst) < 0) {
		fprintf(stderr, "mailmeshctl: rename(%s, %s) failed: %s\n", tmp, dst,
			strerror(errno));
		goto out;
	}
	present_add(&rs->pr, name);
	rs->restored++;
	rs->bytes += f->size;
	printf("restored %s/%s%s%s\n", rs->account, folder, folder[0] ? "/" : "", name);
	ret = 0;
out:
	if (fd >= 0)
		close(fd);
	if (ret < 0)
		unlink(tmp);
	free(tmp);
	free(dst);
	return ret;
}

/* Checks a fetched answer and restores it. 1 restored, 0 not found there,
   -1 failed. */
static int restore_answer(struct restorer *rs, const struct mm_wire_msg *m, const char *folder,
			  uint8_t sub, const char *name)
{
	struct mm_wire_qfile f;
	const unsigned char *content;
	XXH128_canonical_t c;

	if (m->code == MM_WIRE_A_NOT_FOUND)
		return 0;
	if (m->code != MM_WIRE_A_OK || mm_wire_qfile_get(m->blob, m->blob_len, &f, &content) < 0) {
		fprintf(stderr, "mailmeshctl: fetching %s/%s: %s\n", folder, name,
			m->code == MM_WIRE_A_OK ? "a malformed answer" : m->text);
		return -1;
	}
	XXH128_canonicalFromHash(&c, XXH3_128bits(content, f.size));
	if (memcmp(c.digest, f.hash, 16) != 0) {
		fprintf(stderr, "mailmeshctl: fetching %s/%s: content does not match its hash\n",
			folder, name);
		return -1;
	}
	return restore_one(rs, folder, sub, name, &f, content) < 0 ? -1 : 1;
}

/* Whether this is the account's active store: its mount writes it now
   (on a fenced store, [hbmon] listen, only while mailmesh-hbmon made it
   active here: the mount answers "writable"), else it is not read-only
   in STATE/accounts. Prints why not. */
static bool account_here_rw(const struct mm_cfg *cfg, const char *account)
{
	char **ro = NULL, *path, *line, reply[256];
	size_t n_ro = 0;
	const char *error;
	bool rw;

	if (cfg->hb_listen != NULL) {
		path = mm_strdup_printf("%s/control.sock", cfg->state);
		line = mm_strdup_printf("writable %s", account);
		int ret = mm_ctl_call(path, line, reply, sizeof(reply), &error);

		free(path);
		free(line);
		if (ret != 0) {
			fprintf(stderr, "mailmeshctl: mailmesh-fs: %s\n",
				ret == 1 ? "not running" : error);
			return false;
		}
		rw = strncmp(reply, "ok yes", 6) == 0;
	} else {
		if (mm_acct_load(cfg->state, &ro, &n_ro, &error) < 0) {
			fprintf(stderr, "mailmeshctl: %s\n", error);
			return false;
		}
		rw = !mm_acct_in(ro, n_ro, account, strlen(account));
		mm_acct_list_free(&ro, n_ro);
	}
	if (!rw)
		fprintf(stderr, "mailmeshctl: %s is not active on this store: run this on its "
			"active store\n", account);
	return rw;
}

/* The copies every peer keeps of account's expunged messages. */
static size_t gather(struct peers *pp, const struct ud_opts *o, struct ud_item **items_r)
{
	struct ud_item *items = NULL;
	size_t n = 0;

	for (size_t i = 0; i < pp->n; i++) {
		struct mm_buf args = { 0 };
		struct mm_wire_msg m;
		const char *error;
		size_t pos = 0;
		int r;

		if (pp->c[i].ssl == NULL)
			continue;
		mm_buf_put_u8(&args, o->folder != NULL ? MM_WIRE_QF_FOLDER : 0);
		mm_buf_put_u16(&args, (uint16_t)(o->folder != NULL ? strlen(o->folder) : 0));
		if (o->folder != NULL)
			mm_buf_append(&args, o->folder, strlen(o->folder));
		mm_buf_put_u64(&args, o->since_ns);
		r = pq_ask(&pp->c[i], MM_WIRE_Q_RETAINED, o->account, &args, &m, &error);
		mm_buf_free(&args);
		if (r < 0 || m.code != MM_WIRE_A_OK) {
			fprintf(stderr, "mailmeshctl: peer %s: %s\n", pp->cfg[i]->name,
				r < 0 ? error : m.text);
			if (r < 0)
				pq_close(&pp->c[i], false);
			continue;
		}
		struct mm_wire_qretained w;

		while ((r = mm_wire_qretained_next(m.blob, m.blob_len, &pos, &w)) == 1) {
			items = mm_realloc(items, (n + 1) * sizeof(*items));
			items[n++] = (struct ud_item){
				.folder = mm_strndup(w.folder, w.folder_len),
				.name = mm_strndup(w.name, w.name_len), .sub = w.sub,
				.expunged_ns = w.expunged_ns, .size = w.size,
				.mtime_ns = w.mtime_ns, .peer = (unsigned int)i,
			};
		}
		if (r < 0)
			fprintf(stderr, "mailmeshctl: peer %s: a malformed list (the rest of it "
				"ignored)\n", pp->cfg[i]->name);
	}
	*items_r = items;
	return n;
}

static void put_retained(struct mm_buf *args, const char *folder, uint8_t sub, const char *name,
			 uint64_t expunged_ns)
{
	struct mm_wire_qretained w = { .folder = folder, .folder_len = strlen(folder),
				       .sub = sub, .name = name, .name_len = strlen(name),
				       .expunged_ns = expunged_ns };

	mm_wire_qretained_put(args, &w);
}

int ud_cmd_undelete(const struct mm_cfg *cfg, int argc, char **argv)
{
	struct ud_opts o;
	struct restorer rs = { .cfg = cfg };
	struct peers pp;
	struct ud_item *items;
	const char *error;
	size_t n;
	uint64_t t0 = now_ns();

	if (ud_parse(argc, argv, t0, &o, &error) < 0 ||
	    mm_acct_check(o.account, cfg->account_depth, &error) < 0) {
		fprintf(stderr, "mailmeshctl: %s\n", error);
		return 2;
	}
	if (!account_here_rw(cfg, o.account))
		return 1;
	rs.account = o.account;
	peers_open(cfg, &pp);
	n = gather(&pp, &o, &items);
	n = ud_dedupe(items, n);
	for (size_t i = 0; i < n; i++) {
		const struct ud_item *it = &items[i];
		struct mm_buf args = { 0 };
		struct mm_wire_msg m;
		int r;

		present_load(&rs, it->folder);
		if (present_has(&rs.pr, it->name)) {
			rs.present++;
			continue;
		}
		if (o.dry_run) {
			printf("would restore %s/%s%s%s\n", o.account, it->folder,
			       it->folder[0] ? "/" : "", it->name);
			rs.restored++;
			continue;
		}
		put_retained(&args, it->folder, it->sub, it->name, it->expunged_ns);
		r = pp.c[it->peer].ssl == NULL ? -1 :
			pq_ask(&pp.c[it->peer], MM_WIRE_Q_FETCH_RETAINED, o.account, &args, &m,
			       &error);
		mm_buf_free(&args);
		if (r < 0 || restore_answer(&rs, &m, it->folder, it->sub, it->name) <= 0)
			rs.failed++;
	}
	ud_items_free(items, n);
	peers_close(&pp);
	present_free(&rs.pr);
	printf("%s: %u %s, %u already there, %u failed (%.1f s)\n", o.account, rs.restored,
	       o.dry_run ? "to restore" : "restored", rs.present, rs.failed,
	       (double)(now_ns() - t0) / 1e9);
	return rs.failed > 0 ? 1 : 0;
}

/* ---- expunge-guard ACCOUNT confirm | revert ---- */

/* The guard's status line of account: 0 with *first_lsn_r, 1 when the
   guard holds nothing of it, -1 (printed). */
static int guard_state(const struct mm_cfg *cfg, const char *account, uint64_t *first_lsn_r)
{
	json_t *lines, *o;
	const char *error;
	size_t i;
	int ret = 1;

	int r = repl_cmd_status_get(cfg, &lines, &error);

	if (r != 0) {
		fprintf(stderr, "mailmeshctl: mailmesh-replicator: %s\n",
			r == 1 ? "not running" : error);
		return -1;
	}
	json_array_foreach(lines, i, o) {
		const char *a = json_string_value(json_object_get(o, "expunge_guard"));

		if (a != NULL && strcmp(a, account) == 0) {
			*first_lsn_r = (uint64_t)json_integer_value(json_object_get(o, "first_lsn"));
			ret = 0;
		}
	}
	json_decref(lines);
	return ret;
}

struct expunged {
	char *folder, *name;
	uint8_t sub;
	uint64_t time_ns;
};

/* The account's expunges journaled here from first_lsn on, but a
   move's (copied out of the folder just before: the message lives on
   where it went); *upto_r the last LSN read. */
static size_t read_expunges(const struct mm_cfg *cfg, const char *account, uint64_t first_lsn,
			    struct expunged **ex_r, uint64_t *upto_r)
{
	struct repl_moved *moved = repl_moved_new(REPL_MOVED_KEEP_NS);
	struct mm_journal_reader *r;
	struct mm_journal_rec rec;
	struct expunged *ex = NULL;
	const char *error;
	size_t n = 0;
	int k;

	*upto_r = first_lsn > 0 ? first_lsn - 1 : 0;
	*ex_r = NULL;
	/* from a little before: the copies of a move begun before it */
	if (mm_journal_reader_open(cfg->state, first_lsn > 10000 ? first_lsn - 10000 : 1, &r,
				   &error) < 0) {
		fprintf(stderr, "mailmeshctl: journal: %s\n", error);
		repl_moved_free(&moved);
		return 0;
	}
	while ((k = mm_journal_reader_next(r, &rec, &error)) != 0) {
		if (k < 0) {
			fprintf(stderr, "mailmeshctl: journal: %s\n", error);
			continue;
		}
		if (strcmp(rec.account, account) != 0)
			goto next;
		if (rec.op == MM_OP_DELIVER || rec.op == MM_OP_COPY)
			repl_moved_note(moved, rec.account,
					rec.op == MM_OP_COPY ? rec.new_folder : rec.folder,
					rec.op == MM_OP_COPY ? rec.new_name : rec.name, rec.time_ns);
		if (rec.op != MM_OP_EXPUNGE ||
		    repl_moved_take(moved, rec.account, rec.folder, rec.name, rec.time_ns) ||
		    rec.lsn < first_lsn)
			goto next;
		ex = mm_realloc(ex, (n + 1) * sizeof(*ex));
		ex[n++] = (struct expunged){ .folder = mm_strdup(rec.folder),
					     .name = mm_strdup(rec.name),
					     .sub = rec.sub == MM_SUB_NEW ? 1 : 2,
					     .time_ns = rec.time_ns };
next:
		if (rec.lsn > *upto_r)
			*upto_r = rec.lsn;
	}
	mm_journal_reader_close(&r);
	repl_moved_free(&moved);
	*ex_r = ex;
	return n;
}

/* One expunged message back from whichever peer has it: still in its
   folder there (held by the guard), or kept (shipped before the guard
   tripped). */
static int revert_one(struct restorer *rs, struct peers *pp, const struct expunged *e)
{
	for (size_t i = 0; i < pp->n; i++) {
		struct mm_buf args = { 0 };
		struct mm_wire_msg m;
		const char *error;
		int r;

		for (unsigned int s = 0; s < 3; s++) {
			/* flags kept, so new/ or cur/ as it was there */
			uint8_t sub = s == 1 ? 3 - e->sub : e->sub;

			if (pp->c[i].ssl == NULL)
				break;
			mm_buf_reset(&args);
			if (s < 2) {				char *path = mm_strdup_printf("%s/%s", sub == 1 ? "new" : "cur",
							      e->name);

				mm_buf_put_u16(&args, (uint16_t)strlen(e->folder));
				mm_buf_append(&args, e->folder, strlen(e->folder));
				mm_buf_put_u16(&args, (uint16_t)strlen(path));
				mm_buf_append(&args, path, strlen(path));
				free(path);
				r = pq_ask(&pp->c[i], MM_WIRE_Q_FETCH, rs->account, &args, &m,
					   &error);
			} else {
				put_retained(&args, e->folder, e->sub, e->name, e->time_ns);
				r = pq_ask(&pp->c[i], MM_WIRE_Q_FETCH_RETAINED, rs->account, &args,
					   &m, &error);
			}
			if (r < 0) {
				fprintf(stderr, "mailmeshctl: peer %s: %s\n", pp->cfg[i]->name,
					error);
				pq_close(&pp->c[i], false);
				break;
			}
			r = restore_answer(rs, &m, e->folder, sub, e->name);
			if (r != 0) {
				mm_buf_free(&args);
				return r > 0 ? 0 : -1;
			}
		}
		mm_buf_free(&args);
	}
	fprintf(stderr, "mailmeshctl: %s/%s: no peer has it\n", e->folder, e->name);
	return -1;
}

int ud_cmd_guard(const struct mm_cfg *cfg, int argc, char **argv)
{
	struct restorer rs = { .cfg = cfg };
	struct expunged *ex;
	struct peers pp;
	uint64_t first_lsn = 0, upto = 0, t0 = now_ns();
	const char *error;
	char *line;
	size_t n;
	int ret;

	if (argc != 3 || (strcmp(argv[2], "confirm") != 0 && strcmp(argv[2], "revert") != 0)) {
		fprintf(stderr, "usage: mailmeshctl -c FILE expunge-guard ACCOUNT confirm|revert\n");
		return 2;
	}
	if (mm_acct_check(argv[1], cfg->account_depth, &error) < 0) {
		fprintf(stderr, "mailmeshctl: %s\n", error);
		return 2;
	}
	if ((ret = guard_state(cfg, argv[1], &first_lsn)) != 0) {
		if (ret > 0)
			fprintf(stderr, "mailmeshctl: the expunge guard holds nothing of %s\n",
				argv[1]);
		return 1;
	}
	if (strcmp(argv[2], "confirm") == 0) {
		line = mm_strdup_printf("guard %s confirm", argv[1]);
		ret = repl_cmd_call(cfg, line);
		free(line);
		return ret;
	}
	if (!account_here_rw(cfg, argv[1]))
		return 1;
	/* every expunge since the window opened comes back, the held ones
	   and those shipped before the guard tripped */
	rs.account = argv[1];
	n = read_expunges(cfg, argv[1], first_lsn, &ex, &upto);
	peers_open(cfg, &pp);
	for (size_t i = 0; i < n; i++) {
		present_load(&rs, ex[i].folder);
		if (present_has(&rs.pr, ex[i].name))
			rs.present++;
		else if (revert_one(&rs, &pp, &ex[i]) < 0)
			rs.failed++;
	}
	for (size_t i = 0; i < n; i++) {
		free(ex[i].folder);
		free(ex[i].name);
	}
	free(ex);
	peers_close(&pp);
	present_free(&rs.pr);
	printf("%s: %u restored, %u already there, %u failed (%.1f s)\n", argv[1], rs.restored,
	       rs.present, rs.failed, (double)(now_ns() - t0) / 1e9);
	if (rs.failed > 0) {
		fprintf(stderr, "mailmeshctl: the guard still holds %s's expunges; run it again "
			"once the peers are reachable\n", argv[1]);
		return 1;
	}
	line = mm_strdup_printf("guard %s revert %" PRIu64, argv[1], upto);
	ret = repl_cmd_call(cfg, line);
	free(line);
	return ret;
}
