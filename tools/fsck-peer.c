/* SPDX-License-Identifier: MIT
 * fsck-peer.c - mailmesh-fsck's side of the peers (see fsck-peer.h):
 * blocking TLS connections, QUERY/ANSWER frames (lib/wire.c), the
 * digests-first comparison and the repairs that need another store. */
#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include "buf.h"
#include "ctl.h"
#include "fsck-peer.h"
#include "fsck-store.h"
#include "log.h"
#include "mem.h"
#include "peer-query.h"
#include "repl-tls.h"
#include "wire.h"


struct peer {
	const struct mm_peer_cfg *cfg;
	struct pq_conn c;
	bool asked;		/* a FOLDERS answer is due */
	/* the last FOLDERS answer */
	uint32_t code;
	uint8_t mode;
	struct mm_inv *inv;	/* folders with digests, no entries */
};

struct fsck_peers {
	const struct mm_cfg *cfg;
	SSL_CTX *ctx;
	struct peer *p;
	size_t n;
	uint64_t bytes;
	bool content;
	/* per account compared: which peer is its active store (-1: we are,
	   or none answered read-write) */
	char **ref_account;
	int *ref_peer;
	size_t n_ref;
};

static __thread char err[1024];

static void peer_drop(struct peer *p, const char *why, struct fsck_report *r)
{
	if (r != NULL)
		fsck_report_add(r, FSCK_PEER_UNREACHABLE, FSCK_FIX_NONE, p->cfg->name, "", "", "",
				"%s", why);
	if (why[0] != '\0')
		mm_log_warn("peer %s: %s", p->cfg->name, why);
	pq_close(&p->c, false);
	mm_inv_free(&p->inv);
}

int fsck_peers_open(const struct mm_cfg *cfg, struct fsck_peers **pp_r, struct fsck_report *r)
{
	struct fsck_peers *pp = mm_calloc(1, sizeof(*pp));
	const char *error;

	*pp_r = pp;
	pp->cfg = cfg;
	if (cfg->tls_ca == NULL || cfg->tls_cert == NULL || cfg->tls_key == NULL) {
		mm_log_error("--peers needs [tls] ca, cert and key");
		r->operational = true;
		return -1;
	}
	pp->ctx = repl_tls_ctx_new(cfg->tls_ca, cfg->tls_cert, cfg->tls_key, &error);
	if (pp->ctx == NULL) {
		mm_log_error("tls: %s", error);
		r->operational = true;
		return -1;
	}
	pp->p = mm_calloc(cfg->n_peers ? cfg->n_peers : 1, sizeof(*pp->p));
	for (size_t i = 0; i < cfg->n_peers; i++) {
		struct peer *p = &pp->p[pp->n];

		if (strcmp(cfg->peers[i].name, cfg->node_name) == 0)
			continue;
		p->cfg = &cfg->peers[i];
		pp->n++;
		if (pq_connect(&p->c, pp->ctx, p->cfg, cfg->node_name, &error) < 0)
			peer_drop(p, error, r);
	}
	return 0;
}

void fsck_peers_close(struct fsck_peers **ppp)
{
	struct fsck_peers *pp = *ppp;

	if (pp == NULL)
		return;
	for (size_t i = 0; i < pp->n; i++) {
		pq_close(&pp->p[i].c, true);
		peer_drop(&pp->p[i], "", NULL);
	}
	for (size_t i = 0; i < pp->n_ref; i++)
		free(pp->ref_account[i]);
	free(pp->ref_account);
	free(pp->ref_peer);
	free(pp->p);
	if (pp->ctx != NULL)
		SSL_CTX_free(pp->ctx);
	free(pp);
	*ppp = NULL;
}

void fsck_peers_hangup(struct fsck_peers *pp)
{
	for (size_t i = 0; i < pp->n; i++)
		pq_close(&pp->p[i].c, true);
}

uint64_t fsck_peers_bytes(const struct fsck_peers *pp)
{
	uint64_t n = 0;

	for (size_t i = 0; i < pp->n; i++)
		n += pq_bytes(&pp->p[i].c);
	return n;
}

void fsck_peers_ask(struct fsck_peers *pp, const char *account, bool content)
{
	struct mm_buf args = { 0 };

	pp->content = content;
	mm_buf_put_u8(&args, content ? MM_WIRE_QF_CONTENT : 0);
	for (size_t i = 0; i < pp->n; i++) {
		struct peer *p = &pp->p[i];

		p->asked = false;
		if (p->c.ssl == NULL)
			continue;
		if (pq_send(&p->c, MM_WIRE_Q_FOLDERS, account, &args) < 0)
			peer_drop(p, "sending failed", NULL);
		else
			p->asked = true;
	}
	mm_buf_free(&args);
}

/* Reads p's FOLDERS answer into p->inv (folders and digests only). */
static int read_folders(struct fsck_peers *pp, struct peer *p, const char *account,
			const char **error_r)
{
	struct mm_wire_msg m;
	struct mm_wire_qfolder wf;
	size_t pos = 1;
	int r;

	p->asked = false;
	if (pq_recv(&p->c, &m, error_r) < 0)
		return -1;
	p->code = m.code;
	mm_inv_free(&p->inv);
	if (m.code != MM_WIRE_A_OK) {
		if (m.code == MM_WIRE_A_FAILED) {
			snprintf(err, sizeof(err), "it could not walk %s: %s", account, m.text);
			*error_r = err;
			return -1;
		}
		return 0;
	}
	if (m.blob_len < 1) {
		*error_r = "a FOLDERS answer without its mode";
		return -1;
	}
	p->mode = m.blob[0];
	p->inv = mm_calloc(1, sizeof(*p->inv));
	p->inv->account = mm_strdup(account);
	p->inv->content = pp->content;
	while ((r = mm_wire_qfolder_next(m.blob, m.blob_len, &pos, &wf)) == 1) {
		struct mm_inv_folder *f;

		p->inv->f = mm_realloc(p->inv->f, (p->inv->n + 1) * sizeof(*p->inv->f));
		f = &p->inv->f[p->inv->n++];
		memset(f, 0, sizeof(*f));
		f->name = mm_strndup(wf.name, wf.name_len);
		f->subs = wf.subs;
		f->count = wf.count;
		memcpy(f->digest, wf.digest, 16);
	}
	if (r < 0) {
		*error_r = "a malformed FOLDERS answer";
		return -1;
	}
	for (size_t i = 1; i < p->inv->n; i++) {
		if (strcmp(p->inv->f[i - 1].name, p->inv->f[i].name) >= 0) {
			*error_r = "a FOLDERS answer out of order";
			return -1;
		}
	}
	return 0;
}

/* Fills f (named already) with the peer's entries of that folder. */
static int read_list(struct fsck_peers *pp, struct peer *p, const char *account,
		     struct mm_inv_folder *f, const char **error_r)
{
	struct mm_buf args = { 0 };
	struct mm_wire_msg m;
	struct mm_wire_qentry we;
	size_t pos = 0, cap = 0;
	int r;

	mm_buf_put_u8(&args, pp->content ? MM_WIRE_QF_CONTENT : 0);
	mm_buf_put_u16(&args, (uint16_t)strlen(f->name));
	mm_buf_puts(&args, f->name);
	r = pq_send(&p->c, MM_WIRE_Q_LIST, account, &args);
	mm_buf_free(&args);
	if (r < 0) {
		*error_r = "sending failed";
		return -1;
	}
	if (pq_recv(&p->c, &m, error_r) < 0)
		return -1;
	if (m.code == MM_WIRE_A_NOT_FOUND || m.code == MM_WIRE_A_NO_ACCOUNT)
		return 0;
	if (m.code != MM_WIRE_A_OK) {
		snprintf(err, sizeof(err), "LIST failed: %s", m.text);
		*error_r = err;
		return -1;
	}
	while ((r = mm_wire_qentry_next(m.blob, m.blob_len, &pos, &we)) == 1) {
		struct mm_inv_entry *e;

		if (f->n == cap) {
			cap = cap ? cap * 2 : 64;
			f->e = mm_realloc(f->e, cap * sizeof(*f->e));
		}
		e = &f->e[f->n++];
		memset(e, 0, sizeof(*e));
		e->kind = we.kind;
		e->sub = we.sub;
		e->name = mm_strndup(we.name, we.name_len);
		e->size = we.size;
		e->hashed = we.hashed;
		memcpy(e->hash, we.hash, 16);
	}
	if (r < 0) {
		*error_r = "a malformed LIST answer";
		return -1;
	}
	mm_inv_folder_sort(f);
	return 0;
}

static void free_folder(struct mm_inv_folder *f)
{
	for (size_t i = 0; i < f->n; i++)
		free(f->e[i].name);
	free(f->e);
	f->e = NULL;
	f->n = 0;
}

static void set_ref(struct fsck_peers *pp, const char *account, int peer)
{
	for (size_t i = 0; i < pp->n_ref; i++) {
		if (strcmp(pp->ref_account[i], account) == 0) {
			pp->ref_peer[i] = peer;
			return;
		}
	}
	pp->ref_account = mm_realloc(pp->ref_account, (pp->n_ref + 1) * sizeof(char *));
	pp->ref_peer = mm_realloc(pp->ref_peer, (pp->n_ref + 1) * sizeof(int));
	pp->ref_account[pp->n_ref] = mm_strdup(account);
	pp->ref_peer[pp->n_ref++] = peer;
}

static int get_ref(const struct fsck_peers *pp, const char *account)
{
	for (size_t i = 0; i < pp->n_ref; i++) {
		if (strcmp(pp->ref_account[i], account) == 0)
			return pp->ref_peer[i];
	}
	return -1;
}

static void compare_peer(struct fsck_peers *pp, struct peer *p, const struct mm_inv *inv,
			 bool ours_rw, bool peer_is_ref, struct fsck_report *r)
{
	struct fsck_cmp c = { .a_store = pp->cfg->node_name, .b_store = p->cfg->name,
			      .account = inv->account, .b_is_ref = peer_is_ref,
			      .a_is_ref = ours_rw, .content = pp->content };
	const char *error;
	size_t i = 0, k = 0;

	/* both folder lists are sorted by name */
	while (i < inv->n || k < p->inv->n) {
		const struct mm_inv_folder *a = i < inv->n ? &inv->f[i] : NULL;
		struct mm_inv_folder *b = k < p->inv->n ? &p->inv->f[k] : NULL;
		int cmp = a == NULL ? 1 : b == NULL ? -1 : strcmp(a->name, b->name);

		if (cmp == 0 && memcmp(a->digest, b->digest, 16) == 0 && a->count == b->count) {
			i++;
			k++;
			continue;
		}
		/* they differ: message by message */
		if (cmp >= 0 && read_list(pp, p, inv->account, b, &error) < 0) {
			peer_drop(p, error, r);
			return;
		}
		fsck_compare_folder(&c, cmp <= 0 ? a : NULL, cmp >= 0 ? b : NULL, r);
		if (cmp >= 0) {
			free_folder(b);
			k++;
		}
		if (cmp <= 0)
			i++;
	}
}

void fsck_peers_compare(struct fsck_peers *pp, const struct mm_inv *inv, bool ours_rw,
			struct fsck_report *r)
{
	const struct mm_account_cfg *pol = mm_cfg_account(pp->cfg, inv->account);
	int ref = -1;
	const char *error;

	for (size_t i = 0; i < pp->n; i++) {
		struct peer *p = &pp->p[i];

		if (p->asked && read_folders(pp, p, inv->account, &error) < 0)
			peer_drop(p, error, r);
		if (p->c.ssl != NULL && p->inv != NULL && p->mode == MM_WIRE_A_MODE_RW && !ours_rw)
			ref = (int)i;
	}
	set_ref(pp, inv->account, ref);
	for (size_t i = 0; i < pp->n; i++) {
		struct peer *p = &pp->p[i];

		if (p->c.ssl == NULL)
			continue;
		if (p->inv == NULL) {
			/* it has no such account: wrong only if it should */
			if (ours_rw && pol->replicate && mm_cfg_account_on(pol, p->cfg->name))
				fsck_report_add(r, FSCK_PEER_ACCOUNT, FSCK_FIX_RESYNC, p->cfg->name,
						inv->account, "", "", "%s holds no copy of the account",
						p->cfg->name);
			continue;
		}
		if (p->mode == MM_WIRE_A_MODE_RW && ours_rw)
			fsck_report_add(r, FSCK_PEER_ACCOUNT, FSCK_FIX_NONE, p->cfg->name,
					inv->account, "", "", "read-write on %s and on %s: two "
					"active stores (split brain)", pp->cfg->node_name,
					p->cfg->name);
		/* a replica answers to its active store: the other replicas
		   are compared with it by their own fsck, or by the active's */
		if (ref < 0 || (int)i == ref)
			compare_peer(pp, p, inv, ours_rw, (int)i == ref, r);
		mm_inv_free(&p->inv);
	}
}

int fsck_peers_repair(struct fsck_peers *pp, const char *run, struct fsck_problem *p,
		      const char **error_r)
{
	if (p->fix == FSCK_FIX_RESYNC) {
		char *sock = mm_strdup_printf("%s/replicator.sock", pp->cfg->state);
		char *line = mm_strdup_printf("resync %s %s", p->account, p->store), reply[512];
		int r = mm_ctl_call(sock, line, reply, sizeof(reply), error_r);

		free(line);
		free(sock);
		if (r == 1)
			*error_r = "mailmesh-replicator is not running here";
		return r == 0 ? 0 : -1;
	}
	/* FETCH: from the account's active store, or for a store-local
	   problem (corrupt, gone) from any peer that answers */
	int ref = get_ref(pp, p->account);
	struct mm_buf args = { 0 };
	struct mm_wire_msg m;
	struct mm_wire_qfile q;
	const unsigned char *content;
	char *where = NULL;
	int ret = -1;

	for (size_t i = 0; i < pp->n && ret < 0; i++) {
		struct peer *peer = &pp->p[i];
		struct fsck_meta meta;

		if (peer->c.ssl == NULL || (ref >= 0 && (int)i != ref))
			continue;
		mm_buf_reset(&args);
		mm_buf_put_u16(&args, (uint16_t)strlen(p->folder));
		mm_buf_puts(&args, p->folder);
		mm_buf_put_u16(&args, (uint16_t)strlen(p->want));
		mm_buf_puts(&args, p->want);
		if (pq_send(&peer->c, MM_WIRE_Q_FETCH, p->account, &args) < 0 ||
		    pq_recv(&peer->c, &m, error_r) < 0) {
			peer_drop(peer, "fetch failed", NULL);
			continue;
		}
		if (m.code != MM_WIRE_A_OK || mm_wire_qfile_get(m.blob, m.blob_len, &q,
								&content) < 0) {
			*error_r = "the peer has no such file";
			continue;
		}
		/* ours aside first (never replaced, never deleted) */
		if (p->kind != FSCK_PEER_MISSING && p->kind != FSCK_GONE && where == NULL &&
		    fsck_quarantine(pp->cfg, run, p, &where, error_r) < 0)
			break;
		meta = (struct fsck_meta){ .size = q.size, .mtime_ns = q.mtime_ns, .mode = q.mode,
					   .uid = q.uid, .gid = q.gid };
		memcpy(meta.hash, q.hash, 16);
		if (fsck_install(pp->cfg, p->account, p->folder, p->want, content, &meta,
				 error_r) == 0)
			ret = 0;
	}
	if (ret < 0 && *error_r == NULL)
		*error_r = "no peer could give a copy";
	mm_buf_free(&args);
	free(where);
	return ret;
}
