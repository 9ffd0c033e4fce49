/* SPDX-License-Identifier: MIT
 * repl-link.c - outbound replication: one TLS link per peer that streams
 * this store's journal from the peer's cursor, with message content,
 * pipelined, and reconnects with backoff. Applying is repl-session.c. */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>
#include "acct.h"
#include "journal.h"
#include "journal-file.h"
#include "log.h"
#include "mem.h"
#include "repl-tls.h"
#include "repl.h"
#include "wire.h"

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 1000	/* a peer back is dialed within a second: sync
				   deliveries wait on it (failover.sh) */

static void link_connect(struct repl_link *l);
static void link_send(struct repl_link *l, const struct mm_wire_msg *msg);
static void link_flush(struct repl_link *l);
static void link_queue_resyncs(struct repl_link *l);
static void link_queue_free(struct repl_link *l);

uint64_t repl_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

int repl_resolve(const char *hostport, struct sockaddr_storage *sa_r, int *len_r,
		 const char **error_r)
{
	static __thread char err[300];
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV };
	struct addrinfo *res = NULL;
	char host[256], port[8];
	unsigned int p;
	int ret;

	if (mm_parse_hostport(hostport, host, sizeof(host), &p) < 0) {
		snprintf(err, sizeof(err), "'%s' is not HOST:PORT", hostport);
		*error_r = err;
		return -1;
	}
	snprintf(port, sizeof(port), "%u", p);
	ret = getaddrinfo(host, port, &hints, &res);
	if (ret != 0 || res == NULL) {
		snprintf(err, sizeof(err), "%s: %s", hostport, gai_strerror(ret));
		*error_r = err;
		return -1;
	}
	memcpy(sa_r, res->ai_addr, res->ai_addrlen);
	*len_r = (int)res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

/* ---- what a peer has acknowledged, and what it lost ---- */

static char *link_file(struct repl_link *l, const char *suffix)
{
	return mm_strdup_printf("%s/to-%s.%s", l->d->cursor_dir, l->peer->name, suffix);
}

/* Writes "text" to the link's file atomically (write, rename); advisory
   state, so no fsync: a lost update only means an older value. */
static void link_file_put(struct repl_link *l, const char *suffix, const char *text)
{
	char *path = link_file(l, suffix), *tmp = mm_strdup_printf("%s.tmp", path);
	FILE *f = fopen(tmp, "w");

	if (f == NULL || fputs(text, f) < 0 || fclose(f) != 0 || rename(tmp, path) < 0)
		mm_log_warn("replication to %s: writing %s failed: %m", l->peer->name, path);
	free(tmp);
	free(path);
}

static void link_load(struct repl_link *l)
{
	char *path = link_file(l, "acked"), buf[128];
	FILE *f = fopen(path, "r");

	if (f != NULL) {
		if (fgets(buf, sizeof(buf), f) != NULL)
			l->acked_lsn = l->saved_acked = strtoull(buf, NULL, 10);
		fclose(f);
	}
	free(path);
	bool acked_known = f != NULL;

	path = link_file(l, "resync");
	f = fopen(path, "r");
	if (f != NULL) {
		if (fgets(buf, sizeof(buf), f) != NULL &&
		    sscanf(buf, "%" SCNu64 " %" SCNu64, &l->lost_from, &l->lost_to) == 2)
			l->needs_resync = true;
		fclose(f);
	} else if (!acked_known) {
		/* a peer that never acknowledged a record is new (a store added
		   to the cluster, or one replaced with an empty store): it gets
		   every account this store serves by resync, not only what the
		   journal still has; mailmesh-hbmon keeps it from taking an
		   account until then (docs/hbmon.md, "Ready") */
		l->needs_resync = true;
		l->lost_from = l->lost_to = 0;
		link_file_put(l, "resync", "0 0\n");
		mm_log_info("replication to %s: a new peer (it never acknowledged a record): it "
			    "gets every account this store serves by resync", l->peer->name);
	}
	free(path);
}

/* A new peer, being seeded (link_load): its resync mark is "0 0". */
static bool link_seeding(const struct repl_link *l)
{
	return l->needs_resync && l->lost_to == 0;
}

static void link_save_acked(struct repl_link *l)
{
	char buf[32];

	if (l->acked_lsn == l->saved_acked)
		return;
	snprintf(buf, sizeof(buf), "%" PRIu64 "\n", l->acked_lsn);
	link_file_put(l, "acked", buf);
	l->saved_acked = l->acked_lsn;
}

/* Records from..to will never reach this peer from the journal: say so
   once, keep it in to-PEER.resync, and show it in the status. */
static void link_lost(struct repl_link *l, uint64_t from, uint64_t to)
{
	char buf[64];

	if (link_seeding(l) || (l->needs_resync && from >= l->lost_from && to <= l->lost_to))
		return;	/* a seed resyncs everything anyway */
	if (!l->needs_resync || from < l->lost_from)
		l->lost_from = from;
	if (!l->needs_resync || to > l->lost_to)
		l->lost_to = to;
	l->needs_resync = true;
	snprintf(buf, sizeof(buf), "%" PRIu64 " %" PRIu64 "\n", l->lost_from, l->lost_to);
	link_file_put(l, "resync", buf);
	mm_log_error("replication to %s: journal records %" PRIu64 "..%" PRIu64 " were removed "
		     "by retention before %s acknowledged them: %s needs a resync of the "
		     "accounts it holds; it starts by itself (see docs/runbook.md)",
		     l->peer->name, l->lost_from, l->lost_to, l->peer->name, l->peer->name);
	if (l->state == REPL_LINK_STREAMING)
		link_queue_resyncs(l);
}

/* The last queued resync was confirmed: the peer has all it needs. */
static void link_resynced(struct repl_link *l)
{
	char *path = link_file(l, "resync");

	if (unlink(path) < 0 && errno != ENOENT)
		mm_log_warn("replication to %s: unlink(%s) failed: %m", l->peer->name, path);
	free(path);
	if (link_seeding(l)) {
		char buf[32];

		/* no longer new, even if it has acknowledged nothing yet */
		snprintf(buf, sizeof(buf), "%" PRIu64 "\n", l->acked_lsn);
		link_file_put(l, "acked", buf);
		l->saved_acked = l->acked_lsn;
	}
	l->needs_resync = false;
	mm_log_info("replication to %s: resync done; it no longer needs one", l->peer->name);
}

/* Every few seconds: persist the acknowledged LSN, and notice when
   retention has removed records a peer (even one that is down) still
   needed. */
static void on_check(evutil_socket_t fd, short what, void *arg)
{
	struct repl_link *l = arg;
	uint64_t first = mm_journal_first_lsn(l->d->cfg->state);

	(void)fd;
	(void)what;
	link_save_acked(l);
	if (first > l->acked_lsn + 1)
		link_lost(l, l->acked_lsn + 1, first - 1);
	if (l->state == REPL_LINK_STREAMING) {
		struct mm_wire_msg m = { .type = MM_WIRE_PING, .nonce = repl_now_ns() };

		link_send(l, &m);
		link_flush(l);
	}
}

/* Queues one frame: raw before WELCOME, into the zstd stream after it. */
static void link_send(struct repl_link *l, const struct mm_wire_msg *msg)
{
	struct mm_buf frame = { 0 };

	if (mm_wire_encode(&frame, msg, 0) < 0)
		mm_panic("wire: cannot encode a %s frame", mm_wire_type_str(msg->type));
	if (l->zc == NULL) {
		bufferevent_write(l->bev, frame.data, frame.len);
		l->bytes_sent += frame.len;
	} else {
		ZSTD_inBuffer in = { frame.data, frame.len, 0 };
		unsigned char out[65536];

		while (in.pos < in.size) {
			ZSTD_outBuffer o = { out, sizeof(out), 0 };
			size_t r = ZSTD_compressStream2(l->zc, &o, &in, ZSTD_e_continue);

			if (ZSTD_isError(r))
				mm_panic("zstd: %s", ZSTD_getErrorName(r));
			bufferevent_write(l->bev, out, o.pos);
			l->bytes_sent += o.pos;
		}
	}
	mm_buf_free(&frame);
}

static void link_zflush(struct repl_link *l, ZSTD_EndDirective how)
{
	unsigned char out[65536];
	size_t left;

	if (l->zc == NULL)
		return;
	do {
		ZSTD_inBuffer in = { NULL, 0, 0 };
		ZSTD_outBuffer o = { out, sizeof(out), 0 };

		left = ZSTD_compressStream2(l->zc, &o, &in, how);
		if (ZSTD_isError(left))
			mm_panic("zstd: %s", ZSTD_getErrorName(left));
		bufferevent_write(l->bev, out, o.pos);
		l->bytes_sent += o.pos;
	} while (left > 0);
}

/* Pushes out what the zstd stream holds, so the peer can act on it now. */
static void link_flush(struct repl_link *l)
{
	link_zflush(l, ZSTD_e_flush);
}

/* Compresses what follows at level: the frame so far is ended (a level
   applies from a frame's start; the peer reads concatenated frames as
   one stream). A resync's content goes at [replication] resync_level. */
static void link_zlevel(struct repl_link *l, int level)
{
	if (l->zc == NULL || l->zlevel == level)
		return;
	link_zflush(l, ZSTD_e_end);
	ZSTD_CCtx_setParameter(l->zc, ZSTD_c_compressionLevel, level);
	l->zlevel = level;
}

/* Drops the connection; a reconnect follows after the backoff. */
static void link_down(struct repl_link *l, const char *why)
{
	if (why != NULL) {
		snprintf(l->last_error, sizeof(l->last_error), "%s", why);
		if (l->state == REPL_LINK_STREAMING)
			mm_log_warn("replication to %s: link lost: %s", l->peer->name, why);
		else
			mm_log_debug("replication to %s: %s", l->peer->name, why);
	}
	if (l->reader_ev != NULL)
		event_free(l->reader_ev);
	l->reader_ev = NULL;
	mm_journal_reader_close(&l->reader);
	mm_journal_reader_close(&l->replay);
	l->records_replayed = 0;
	if (l->bev != NULL)
		bufferevent_free(l->bev);
	l->bev = NULL;
	mm_wire_decoder_free(&l->dec);
	ZSTD_freeCStream(l->zc);
	l->zc = NULL;
	mm_free(&l->sent);	/* the next session sends contents afresh */
	link_queue_free(l);	/* queued again on reconnect while needs_resync */
	l->rs_awaiting = false;
	if (l->resync != NULL) {
		mm_log_warn("resync of %s to %s: interrupted at file %zu of %zu; run it again",
			    repl_resync_account(l->resync), l->peer->name,
			    repl_resync_done(l->resync), repl_resync_total(l->resync));
		repl_resync_free(&l->resync);
	}
	l->n_inflight = l->inflight_head = 0;
	l->refused_logged = false;
	l->state = REPL_LINK_DOWN;
	if (l->backoff_ms == 0)
		l->backoff_ms = BACKOFF_MIN_MS;
	else if (l->backoff_ms < BACKOFF_MAX_MS)
		l->backoff_ms = l->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS :
			l->backoff_ms * 2;
	struct timeval tv = { .tv_sec = l->backoff_ms / 1000,
			      .tv_usec = (l->backoff_ms % 1000) * 1000 };
	evtimer_add(l->retry_ev, &tv);
}

bool repl_link_refused(const struct repl_link *l, uint64_t lsn)
{
	for (unsigned int i = 0; i < REPL_REFUSED_RING; i++)
		if (l->refused_ring[i] == lsn)
			return lsn != 0;
	return false;
}

/* The peer refused a record for a stale epoch: this store wrote it under
   an epoch the peer knows a newer one of (it was deposed, and its fencing
   failed). Remembered so that a sync-mode wait does not count the peer. */
static void link_refused(struct repl_link *l, const struct mm_wire_msg *m)
{
	l->refused_ring[l->refused_head] = m->lsn;
	l->refused_head = (l->refused_head + 1) % REPL_REFUSED_RING;
	l->refused_stale++;
	if (!l->refused_logged)
		mm_log_error("replication to %s: the peer refused record LSN %" PRIu64 ": %.*s; "
			     "this store may be writing an account it is no longer the active "
			     "of (further refusals are counted: mailmeshctl replication)",
			     l->peer->name, m->lsn, (int)m->text_len, m->text);
	else
		mm_log_debug("replication to %s: the peer refused record LSN %" PRIu64 ": %.*s",
			     l->peer->name, m->lsn, (int)m->text_len, m->text);
	l->refused_logged = true;
	repl_waiters_check(l->d);
}

static void inflight_push(struct repl_link *l, uint64_t lsn, uint64_t time_ns)
{
	if (l->n_inflight == l->inflight_cap) {
		size_t cap = l->inflight_cap ? l->inflight_cap * 2 : 256;
		struct repl_inflight *n = mm_calloc(cap, sizeof(*n));

		for (size_t i = 0; i < l->n_inflight; i++)
			n[i] = l->inflight[(l->inflight_head + i) % l->inflight_cap];
		free(l->inflight);
		l->inflight = n;
		l->inflight_cap = cap;
		l->inflight_head = 0;
	}
	l->inflight[(l->inflight_head + l->n_inflight) % l->inflight_cap] =
		(struct repl_inflight){ .lsn = lsn, .time_ns = time_ns };
	l->n_inflight++;
}

static void inflight_ack(struct repl_link *l, uint64_t lsn)
{
	while (l->n_inflight > 0 && l->inflight[l->inflight_head].lsn <= lsn) {
		l->inflight_head = (l->inflight_head + 1) % l->inflight_cap;
		l->n_inflight--;
	}
}

/* Sends the content kept for the record just read, in DATA chunks. */
static int send_content(struct repl_link *l, struct mm_journal_reader *r,
			const struct mm_journal_rec *rec)
{
	int fd = mm_journal_reader_content_open(r);
	unsigned char *chunk;
	uint64_t off = 0;

	if (fd < 0)
		return fd;
	chunk = mm_malloc(MM_WIRE_CHUNK_MAX);
	while (off < rec->size) {
		size_t want = rec->size - off > MM_WIRE_CHUNK_MAX ? MM_WIRE_CHUNK_MAX :
			(size_t)(rec->size - off);
		ssize_t n = pread(fd, chunk, want, (off_t)off);

		if (n <= 0) {
			int ret = n < 0 ? -errno : -EIO;

			free(chunk);
			close(fd);
			return ret;
		}
		struct mm_wire_msg m = { .type = MM_WIRE_DATA, .lsn = rec->lsn, .offset = off,
					 .blob = chunk, .blob_len = (size_t)n };
		link_send(l, &m);
		off += (uint64_t)n;
	}
	l->content_bytes += off;
	free(chunk);
	close(fd);
	return 0;
}

static bool wants_content(const struct mm_journal_rec *rec)
{
	return rec->op == MM_OP_DELIVER && rec->size > 0;
}

static struct repl_sent_hash *sent_slot(struct repl_link *l, const uint8_t hash[16])
{
	uint32_t i;

	if (l->sent == NULL)
		l->sent = mm_calloc(REPL_DEDUP_SLOTS, sizeof(*l->sent));
	memcpy(&i, hash, sizeof(i));
	return &l->sent[i % REPL_DEDUP_SLOTS];
}

/* Whether this session sent the content recently enough that the peer
   still keeps it (a collision just means it is sent again). */
static bool sent_recently(struct repl_link *l, const struct mm_journal_rec *rec)
{
	struct repl_sent_hash *e = sent_slot(l, rec->hash);
	uint64_t now = repl_now_ns() / 1000000000ULL;

	return e->time_s != 0 && memcmp(e->hash, rec->hash, 16) == 0 &&
		now < e->time_s + REPL_DEDUP_SEND_S;
}

static void sent_note(struct repl_link *l, const struct mm_journal_rec *rec)
{
	struct repl_sent_hash *e = sent_slot(l, rec->hash);

	memcpy(e->hash, rec->hash, 16);
	e->time_s = repl_now_ns() / 1000000000ULL;
}

/* Sends one resync item as a record flagged MM_RECF_RESYNC (lsn 0), with
   the message's content. -1 when the link went down. */
static int send_resync_item(struct repl_link *l, struct repl_resync_item *it)
{
	const char *account = repl_resync_account(l->resync);
	/* stamped with this store's epoch of the account, as the mount stamps
	   its records: a deposed store's resync is stale at its peers */
	struct mm_journal_rec rec = {
		.lsn = 0, .time_ns = repl_now_ns(), .epoch = repl_acct_epoch(l->d, account),
		.op = it->op, .status = MM_REC_COMMITTED, .rflags = MM_RECF_RESYNC,
		.account = account, .folder = it->folder, .name = "",
		.new_folder = "", .new_name = "",
		.size = (uint64_t)it->st.st_size,
		.mtime_ns = (int64_t)it->st.st_mtim.tv_sec * 1000000000LL + it->st.st_mtim.tv_nsec,
		.mode = it->st.st_mode & 07777, .uid = it->st.st_uid, .gid = it->st.st_gid,
	};
	struct mm_buf enc = { 0 }, data = { 0 };
	char *folder = NULL, *name = NULL;
	uint64_t clen = 0;
	bool by_hash = false;
	int ret = 0;

	if (it->op != MM_OP_FOLDER_CREATE) {
		folder = mm_strndup(it->loc.folder, it->loc.folder_len);
		name = mm_strndup(it->loc.name, it->loc.name_len);
		rec.folder = folder;
		rec.name = name;
		rec.sub = (uint8_t)it->loc.sub;
	}
	if (it->op == MM_OP_META) {
		unsigned char buf[65536];
		ssize_t n;
		off_t off = 0;

		if (rec.size > MM_JOURNAL_DATA_MAX) {
			mm_log_error("resync of %s to %s: %s is over %u bytes; not sent", account,
				     l->peer->name, it->relpath, MM_JOURNAL_DATA_MAX);
			goto out;
		}
		while ((n = pread(it->fd, buf, sizeof(buf), off)) > 0) {
			mm_buf_append(&data, buf, (size_t)n);
			off += n;
		}
		rec.data = data.data;
		rec.data_len = (uint32_t)data.len;
		rec.size = data.len;
	} else if (it->op == MM_OP_DELIVER && it->have) {
		rec.rflags |= MM_RECF_HAVE;
	} else if (it->op == MM_OP_DELIVER) {
		memcpy(rec.hash, it->hash, 16);
		by_hash = rec.size > 0 && sent_recently(l, &rec);
		clen = by_hash ? 0 : rec.size;
	}
	if (mm_journal_encode(&rec, &enc) < 0)
		mm_panic("journal: encoding a resync record of %s failed", it->relpath);
	struct mm_wire_msg m = { .type = MM_WIRE_RECORD, .lsn = 0, .blob = enc.data,
				 .blob_len = enc.len, .content_len = clen };

	link_send(l, &m);
	l->resync_sent++;
	if (clen > 0) {
		unsigned char *chunk = it->data == NULL ? mm_malloc(MM_WIRE_CHUNK_MAX) : NULL;
		uint64_t off = 0;

		while (off < clen) {
			size_t want = clen - off > MM_WIRE_CHUNK_MAX ? MM_WIRE_CHUNK_MAX :
				(size_t)(clen - off);
			ssize_t n;

			if (it->data != NULL) {
				/* read once, hashed: send what was hashed */
				struct mm_wire_msg dm = { .type = MM_WIRE_DATA, .lsn = 0,
							  .offset = off, .blob = it->data + off,
							  .blob_len = want };

				link_send(l, &dm);
				off += want;
				continue;
			}
			n = pread(it->fd, chunk, want, (off_t)off);
			if (n <= 0) {
				free(chunk);
				link_down(l, "a resync file shrank while being sent");
				ret = -1;
				goto out;
			}
			struct mm_wire_msg dm = { .type = MM_WIRE_DATA, .lsn = 0, .offset = off,
						  .blob = chunk, .blob_len = (size_t)n };

			link_send(l, &dm);
			off += (uint64_t)n;
		}
		free(chunk);
		/* not noted as sent by hash: the peer does not keep a resync's
		   contents by hash (10,000 links and their removal an hour
		   later, for copies that seldom follow a resync) */
		l->content_bytes += clen;
	}
	if (by_hash)
		l->content_deduped++;
out:
	mm_buf_free(&enc);
	mm_buf_free(&data);
	free(folder);
	free(name);
	return ret;
}

/* Sends rec (and its content unless the peer has it), read by r; a replay
   goes flagged MM_RECF_REPLAY. -1 when the link went down. */
static int send_record(struct repl_link *l, struct mm_journal_reader *r,
		       struct mm_journal_rec *rec, bool replay)
{
	struct mm_buf enc = { 0 };

	if (replay)
		rec->rflags |= MM_RECF_REPLAY;
	if (mm_journal_encode(rec, &enc) < 0)
		mm_panic("journal: re-encoding record %" PRIu64 " failed", rec->lsn);
	/* a copy of content sent before (one message to many accounts,
	   Dovecot's COPY journaled as a delivery) goes without it: the
	   peer takes it from what it keeps by hash */
	bool by_hash = wants_content(rec) && rec->lsn > l->whole_until && sent_recently(l, rec);
	uint64_t clen = wants_content(rec) && !by_hash ? rec->size : 0;
	struct mm_wire_msg m = { .type = MM_WIRE_RECORD, .lsn = rec->lsn,
				 .blob = enc.data, .blob_len = enc.len,
				 .content_len = clen };

	link_send(l, &m);
	mm_buf_free(&enc);
	if (clen > 0) {
		int ret = send_content(l, r, rec);

		if (ret < 0) {
			char why[200];

			/* the peer refuses a record whose content does not
			   arrive: it needs a resync of this account */
			mm_log_error("replication to %s: content of record %" PRIu64
				     " (%s/%s/%s) unavailable: %s", l->peer->name,
				     rec->lsn, rec->account, rec->folder, rec->name,
				     strerror(-ret));
			snprintf(why, sizeof(why), "content of %" PRIu64 " unavailable",
				 rec->lsn);
			link_down(l, why);
			return -1;
		}
		sent_note(l, rec);
	}
	if (by_hash)
		l->content_deduped++;
	l->records_sent++;
	return 0;
}

/* A record this link passes over: its account is not placed on the peer,
   or is paused (from the LSN the pause began at). */
static bool link_held(struct repl_link *l, const struct mm_journal_rec *rec)
{
	struct repl_pause *p;

	if (!mm_cfg_account_on(mm_cfg_account(l->d->cfg, rec->account), l->peer->name))
		return true;
	p = l->n_pauses > 0 ? repl_pause_find(l, rec->account) : NULL;
	if (p != NULL && repl_pause_holds(p, rec)) {
		p->held++;
		return true;
	}
	return false;
}

/* A resumed account's held records, (from_lsn, replay_to], before any
   live record: returns true when there is nothing (more) to replay. The
   live reader waits meanwhile, so the peer sees the account's changes in
   journal order. */
static bool link_replay(struct repl_link *l, struct evbuffer *out)
{
	struct repl_pause *p = NULL;
	const char *error;

	for (size_t i = 0; i < l->n_pauses && p == NULL; i++)
		if (l->pauses[i].replaying)
			p = &l->pauses[i];
	if (p == NULL)
		return true;
	if (l->replay == NULL) {
		if (p->from_lsn > l->sent_lsn) {
			/* nothing was held back from this peer */
			repl_pause_remove(l, p);
			repl_pause_save(l);
			return link_replay(l, out);
		}
		if (mm_journal_reader_open(l->d->cfg->state, p->from_lsn, &l->replay,
					   &error) < 0) {
			mm_log_error("replication to %s: replaying %s: %s", l->peer->name,
				     p->account, error);
			link_down(l, "cannot replay a resumed account");
			return false;
		}
		l->replay_to = l->sent_lsn;
		mm_log_info("replication to %s: %s resumed: sending LSN %" PRIu64 "..%" PRIu64
			    " held back", l->peer->name, p->account, p->from_lsn, l->replay_to);
	}
	while (evbuffer_get_length(out) < REPL_OUT_HIGH) {
		struct mm_journal_rec rec;
		uint64_t gfrom, gto;
		int r = mm_journal_reader_next(l->replay, &rec, &error);

		if (r < 0) {
			mm_log_error("replication to %s: replaying %s: %s", l->peer->name,
				     p->account, error);
			continue;
		}
		if (mm_journal_reader_gap(l->replay, &gfrom, &gto))
			link_lost(l, gfrom, gto);
		if (r == 0 || rec.lsn > l->replay_to) {
			mm_log_info("replication to %s: %s: %" PRIu64 " held records sent",
				    l->peer->name, p->account, l->records_replayed);
			mm_journal_reader_close(&l->replay);
			l->records_replayed = 0;
			repl_pause_remove(l, p);
			repl_pause_save(l);
			return link_replay(l, out);
		}
		if (strcmp(rec.account, p->account) != 0 || !repl_pause_holds(p, &rec) ||
		    !mm_cfg_account_on(mm_cfg_account(l->d->cfg, rec.account), l->peer->name))
			continue;
		if (send_record(l, l->replay, &rec, true) < 0)
			return false;
		l->records_replayed++;
	}
	return false;
}

/* Tells the peer a resync of account begins, or ended after sent records:
   at the end it removes what the resync and the records since its start
   did not name (repl-session.c). */
static void send_resync_mark(struct repl_link *l, const char *account, bool end,
			     uint64_t sent)
{
	struct mm_journal_rec rec = {
		.lsn = 0, .time_ns = repl_now_ns(), .epoch = repl_acct_epoch(l->d, account),
		.op = MM_OP_FOLDER_CREATE, .status = MM_REC_COMMITTED,
		.rflags = MM_RECF_RESYNC | (end ? MM_RECF_RESYNC_END : MM_RECF_RESYNC_BEGIN),
		.account = account, .folder = "", .name = "", .new_folder = "", .new_name = "",
		.size = sent, .mode = 0700,
	};
	struct mm_buf enc = { 0 };

	if (mm_journal_encode(&rec, &enc) < 0)
		mm_panic("journal: encoding a resync mark of %s failed", account);
	struct mm_wire_msg m = { .type = MM_WIRE_RECORD, .lsn = 0, .blob = enc.data,
				 .blob_len = enc.len };

	link_send(l, &m);
	mm_buf_free(&enc);
}

/* Walks account and offers the peer its folders' digests; the files
   follow for the folders it answers it does not have the same. */
static size_t link_resync_begin(struct repl_link *l, const char *account)
{
	size_t files;

	l->resync = repl_resync_new(l->d, account);
	l->resync_sent = 0;
	link_zlevel(l, l->d->cfg->resync_level);
	/* before any record journaled after the walk */
	send_resync_mark(l, account, false, 0);
	for (size_t i = 0; i < repl_resync_folders(l->resync); i++) {
		struct mm_wire_msg m = { .type = MM_WIRE_DIGEST };
		const char *folder = repl_resync_folder(l->resync, i, m.digest, &m.content_len);

		m.text = folder;
		m.text_len = strlen(folder);
		link_send(l, &m);
	}
	repl_resync_offered(l->resync);
	files = repl_resync_total(l->resync);
	mm_log_info("resync of %s to %s: %zu files in %zu folders; digests offered", account,
		    l->peer->name, files, repl_resync_folders(l->resync));
	return files;
}

/* needs_resync: every account this store serves and the peer holds is
   resynced in turn (digests first, so what the peer has costs little). */
static void link_queue_resyncs(struct repl_link *l)
{
	char **accounts;
	size_t n;

	if (l->rs_qn > 0 || l->resync != NULL)
		return;
	n = repl_resync_accounts(l->d, &accounts);
	for (size_t i = 0; i < n; i++) {
		if (mm_cfg_account_on(mm_cfg_account(l->d->cfg, accounts[i]), l->peer->name)) {
			l->rs_queue = mm_realloc(l->rs_queue, (l->rs_qn + 1) * sizeof(*l->rs_queue));
			l->rs_queue[l->rs_qn++] = accounts[i];
		} else {
			free(accounts[i]);
		}
	}
	free(accounts);
	mm_log_warn("replication to %s: resyncing the %zu accounts it holds that this store "
		    "serves (%s)", l->peer->name, l->rs_qn, link_seeding(l) ?
		    "a new peer, seeded" : "records it needed were removed by retention");
	if (l->rs_qn == 0)
		link_resynced(l);
}

static void link_queue_free(struct repl_link *l)
{
	for (size_t i = 0; i < l->rs_qn; i++)
		free(l->rs_queue[i]);
	mm_free(&l->rs_queue);
	l->rs_qn = 0;
}

/* Streams journal records while the peer keeps up. */
static void link_pump(struct repl_link *l)
{
	struct evbuffer *out;

	if (l->state != REPL_LINK_STREAMING)
		return;
	out = bufferevent_get_output(l->bev);
	if (!link_replay(l, out)) {
		link_flush(l);
		return;
	}
	while (evbuffer_get_length(out) < REPL_OUT_HIGH) {
		struct mm_journal_rec rec;
		const char *error;
		int r = mm_journal_reader_next(l->reader, &rec, &error);

		if (r < 0) {
			/* lost on this store: never shipped, and the log says so */
			mm_log_error("replication to %s: %s", l->peer->name, error);
			continue;
		}
		if (r == 0) {
			struct repl_resync_item it;
			char sum[160];

			/* the journal is drained: send the next file of a resync */
			if (l->resync == NULL && l->rs_qn > 0 && !l->rs_awaiting) {
				link_resync_begin(l, l->rs_queue[0]);
				continue;
			}
			if (l->resync == NULL)
				break;
			int nr = repl_resync_next(l->resync, l->d, &it);

			if (nr == REPL_RS_WAITING)
				break;	/* on_read() pumps when the answer comes */
			if (nr == 0) {
				repl_resync_summary(l->resync, sum, sizeof(sum));
				send_resync_mark(l, repl_resync_account(l->resync), true,
						 l->resync_sent);
				mm_log_info("resync of %s to %s: sent, %s",
					    repl_resync_account(l->resync), l->peer->name, sum);
				l->rs_awaiting = l->rs_qn > 0 &&
					strcmp(l->rs_queue[0], repl_resync_account(l->resync)) == 0;
				repl_resync_free(&l->resync);
				link_zlevel(l, REPL_ZSTD_LEVEL);
				break;
			}
			int sr = send_resync_item(l, &it);

			if (it.fd >= 0)
				close(it.fd);
			if (sr < 0)
				return;
			continue;
		}
		uint64_t gfrom, gto;

		if (mm_journal_reader_gap(l->reader, &gfrom, &gto))
			link_lost(l, gfrom, gto);
		if (!mm_cfg_account_on(mm_cfg_account(l->d->cfg, rec.account), l->peer->name)) {
			l->sent_lsn = rec.lsn;
			continue;
		}
		if (link_held(l, &rec) || repl_trip_check(l, &rec)) {
			l->sent_lsn = rec.lsn;
			continue;
		}
		if (send_record(l, l->reader, &rec, false) < 0)
			return;
		inflight_push(l, rec.lsn, rec.time_ns);
		l->sent_lsn = rec.lsn;
	}
	/* records this peer does not hold still move its cursor on */
	if (l->sent_lsn > l->marked_lsn && evbuffer_get_length(out) < REPL_OUT_HIGH) {
		struct mm_wire_msg m = { .type = MM_WIRE_ACK, .lsn = l->sent_lsn };

		link_send(l, &m);
		l->marked_lsn = l->sent_lsn;
	}
	link_flush(l);
}

static void on_journal(evutil_socket_t fd, short what, void *arg)
{
	struct repl_link *l = arg;

	(void)fd;
	(void)what;
	mm_journal_reader_wait(l->reader, 0);
	link_pump(l);
}

static int start_stream(struct repl_link *l, uint64_t resume_lsn)
{
	const char *error;

	if (mm_journal_reader_open(l->d->cfg->state, resume_lsn, &l->reader, &error) < 0) {
		mm_log_error("replication to %s: journal: %s", l->peer->name, error);
		return -1;
	}
	l->reader_ev = event_new(l->d->base, mm_journal_reader_fd(l->reader),
				 EV_READ | EV_PERSIST, on_journal, l);
	event_add(l->reader_ev, NULL);
	l->sent_lsn = l->marked_lsn = resume_lsn > 0 ? resume_lsn - 1 : 0;
	if (l->acked_lsn < l->sent_lsn)
		l->acked_lsn = l->sent_lsn;
	l->state = REPL_LINK_STREAMING;
	l->zc = ZSTD_createCStream();
	if (l->zc == NULL)
		mm_panic("zstd: out of memory");
	ZSTD_CCtx_setParameter(l->zc, ZSTD_c_compressionLevel, REPL_ZSTD_LEVEL);
	l->zlevel = REPL_ZSTD_LEVEL;
	ZSTD_CCtx_setParameter(l->zc, ZSTD_c_windowLog, REPL_STREAM_WINDOW_LOG);
	mm_log_info("replication to %s: streaming from LSN %" PRIu64, l->peer->name,
		    resume_lsn);
	if (l->needs_resync)
		link_queue_resyncs(l);
	link_pump(l);
	return 0;
}

static void on_read(struct bufferevent *bev, void *arg)
{
	struct repl_link *l = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	struct mm_wire_msg m;
	size_t len;
	int r = 0;

	while ((len = evbuffer_get_contiguous_space(in)) > 0) {
		mm_wire_decoder_feed(l->dec, evbuffer_pullup(in, (ssize_t)len), len);
		evbuffer_drain(in, len);
	}
	while (l->dec != NULL && (r = mm_wire_decoder_next(l->dec, &m)) == 1) {
		char why[300];

		if (m.type == MM_WIRE_WELCOME && l->state == REPL_LINK_HELLO) {
			if (m.version != REPL_PROTO_VERSION) {
				snprintf(why, sizeof(why), "peer speaks protocol %u, not %u",
					 m.version, REPL_PROTO_VERSION);
				mm_log_error("replication to %s: %s", l->peer->name, why);
				link_down(l, why);
				return;
			}
			if (start_stream(l, m.lsn) < 0) {
				link_down(l, "cannot read the journal");
				return;
			}
			if (l->state != REPL_LINK_STREAMING)
				return;	/* the first records already failed it */
		} else if (m.type == MM_WIRE_ACK && l->state == REPL_LINK_STREAMING) {
			if (m.lsn > l->sent_lsn) {
				snprintf(why, sizeof(why), "acknowledged LSN %" PRIu64
					 " was never sent (last %" PRIu64 ")", m.lsn, l->sent_lsn);
				mm_log_error("replication to %s: %s", l->peer->name, why);
				link_down(l, why);
				return;
			}
			if (m.lsn > l->acked_lsn)
				l->acked_lsn = m.lsn;
			/* progress: the next failure starts the backoff afresh */
			l->backoff_ms = 0;
			l->last_error[0] = '\0';
			repl_waiters_check(l->d);
			inflight_ack(l, m.lsn);
		} else if (m.type == MM_WIRE_INVENTORY && l->state == REPL_LINK_STREAMING) {
			const char *error;
			char *folder = mm_strndup(m.text != NULL ? m.text : "", m.text_len);
			int ar = l->resync == NULL ? -1 :
				repl_resync_answer(l->resync, folder, (enum mm_wire_inv)m.code,
						   m.blob, m.blob_len, &error);

			free(folder);
			if (ar < 0) {
				snprintf(why, sizeof(why), "%s", l->resync == NULL ?
					 "an inventory without a resync" : error);
				mm_log_error("replication to %s: %s", l->peer->name, why);
				link_down(l, why);
				return;
			}
			link_pump(l);
			if (l->state != REPL_LINK_STREAMING)
				return;
		} else if (m.type == MM_WIRE_RESYNCED && l->state == REPL_LINK_STREAMING) {
			bool queued = l->rs_awaiting && l->rs_qn > 0 &&
				strlen(l->rs_queue[0]) == m.text_len &&
				memcmp(l->rs_queue[0], m.text, m.text_len) == 0;

			if (m.code == 0)
				mm_log_info("resync of %.*s to %s: the peer confirms it, %" PRIu64
					    " records applied and synced", (int)m.text_len, m.text,
					    l->peer->name, m.content_len);
			else
				mm_log_warn("resync of %.*s to %s: the peer got %" PRIu64 " records, "
					    "not all; nothing removed there%s", (int)m.text_len, m.text,
					    l->peer->name, m.content_len,
					    queued ? "; running it again" : "; run it again");
			if (queued) {
				l->rs_awaiting = false;
				if (m.code == 0) {
					free(l->rs_queue[0]);
					memmove(l->rs_queue, l->rs_queue + 1,
						--l->rs_qn * sizeof(*l->rs_queue));
					if (l->rs_qn == 0)
						link_resynced(l);
				}
				link_pump(l);
				if (l->state != REPL_LINK_STREAMING)
					return;
			}
		} else if (m.type == MM_WIRE_REFUSED && l->state == REPL_LINK_STREAMING) {
			if (m.lsn > l->sent_lsn) {
				snprintf(why, sizeof(why), "refused LSN %" PRIu64 " was never sent "
					 "(last %" PRIu64 ")", m.lsn, l->sent_lsn);
				mm_log_error("replication to %s: %s", l->peer->name, why);
				link_down(l, why);
				return;
			}
			link_refused(l, &m);
		} else if (m.type == MM_WIRE_PONG) {
			/* alive: the read timeout has been reset */
		} else if (m.type == MM_WIRE_PING) {
			struct mm_wire_msg pong = { .type = MM_WIRE_PONG, .nonce = m.nonce };

			link_send(l, &pong);
			link_flush(l);
		} else if (m.type == MM_WIRE_ERROR) {
			snprintf(why, sizeof(why), "peer refused: %.*s", (int)m.text_len, m.text);
			mm_log_error("replication to %s: %s", l->peer->name, why);
			l->whole_until = l->sent_lsn;
			link_down(l, why);
			return;
		} else {
			snprintf(why, sizeof(why), "unexpected %s frame", mm_wire_type_str(m.type));
			mm_log_error("replication to %s: %s", l->peer->name, why);
			link_down(l, why);
			return;
		}
	}
	if (r < 0) {
		char why[200];

		snprintf(why, sizeof(why), "bad frame: %s", mm_wire_strerror(r));
		mm_log_error("replication to %s: %s", l->peer->name, why);
		link_down(l, why);
	}
}

static void on_write(struct bufferevent *bev, void *arg)
{
	(void)bev;
	link_pump(arg);
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
	struct repl_link *l = arg;
	const char *error;
	char why[400];

	if (what & BEV_EVENT_CONNECTED) {
		SSL *ssl = bufferevent_openssl_get_ssl(bev);

		if (repl_tls_check_peer(ssl, l->peer->name, &error) < 0) {
			snprintf(why, sizeof(why), "%s: %s", l->peer->address, error);
			mm_log_error("replication to %s: refused: %s", l->peer->name, why);
			link_down(l, why);
			return;
		}
		struct mm_wire_msg m = { .type = MM_WIRE_HELLO, .version = REPL_PROTO_VERSION,
					 .name = l->d->cfg->node_name,
					 .name_len = strlen(l->d->cfg->node_name) };

		l->dec = mm_wire_decoder_new();
		/* the limit applies to replication traffic, once TLS is up */
		if (l->rate != NULL)
			bufferevent_set_rate_limit(bev, l->rate);
		link_send(l, &m);
		l->state = REPL_LINK_HELLO;
		return;
	}
	if (what & BEV_EVENT_ERROR) {
		unsigned long e = bufferevent_get_openssl_error(bev);

		long v = SSL_get_verify_result(bufferevent_openssl_get_ssl(bev));

		if (e != 0 && v != X509_V_OK)
			snprintf(why, sizeof(why), "%s: TLS: certificate refused: %s",
				 l->peer->address, X509_verify_cert_error_string(v));
		else if (e != 0)
			snprintf(why, sizeof(why), "%s: TLS: %s", l->peer->address,
				 ERR_reason_error_string(e) ? ERR_reason_error_string(e) : "error");
		else
			snprintf(why, sizeof(why), "%s: %s", l->peer->address,
				 evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
	} else if (what & BEV_EVENT_TIMEOUT) {
		snprintf(why, sizeof(why), "%s: silent for %d s", l->peer->address, REPL_SILENT_S);
	} else {
		snprintf(why, sizeof(why), "%s: connection closed", l->peer->address);
	}
	link_down(l, why);
}

static void link_connect(struct repl_link *l)
{
	struct sockaddr_storage sa;
	const char *error;
	SSL *ssl;
	int len;

	if (repl_resolve(l->peer->address, &sa, &len, &error) < 0) {
		link_down(l, error);
		return;
	}
	ssl = SSL_new(l->d->ssl_ctx);
	l->bev = bufferevent_openssl_socket_new(l->d->base, -1, ssl,
						BUFFEREVENT_SSL_CONNECTING,
						BEV_OPT_CLOSE_ON_FREE);
	bufferevent_openssl_set_allow_dirty_shutdown(l->bev, 1);
	bufferevent_setcb(l->bev, on_read, on_write, on_event, l);
	/* refill while half the queue is still going out: with the default
	   (call when empty) the socket idled while the pump read the next
	   files from disk, and the peer waited with it */
	bufferevent_setwatermark(l->bev, EV_WRITE, REPL_OUT_HIGH / 2, 0);
	struct timeval silent = { .tv_sec = REPL_SILENT_S };

	bufferevent_set_timeouts(l->bev, &silent, NULL);
	bufferevent_enable(l->bev, EV_READ | EV_WRITE);
	l->state = REPL_LINK_CONNECTING;
	if (bufferevent_socket_connect(l->bev, (struct sockaddr *)&sa, len) < 0)
		link_down(l, "connect failed");
	else if (l->bev != NULL)
		repl_nodelay(bufferevent_getfd(l->bev));
}

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	link_connect(arg);
}

void repl_links_start(struct repl_daemon *d)
{
	d->links = mm_calloc(d->cfg->n_peers, sizeof(*d->links));
	for (size_t i = 0; i < d->cfg->n_peers; i++) {
		const struct mm_peer_cfg *p = &d->cfg->peers[i];
		struct repl_link *l;

		if (strcmp(p->name, d->cfg->node_name) == 0)
			continue;	/* a shared cluster file lists us too */
		l = &d->links[d->n_links++];
		l->d = d;
		l->peer = p;
		l->retry_ev = evtimer_new(d->base, on_retry, l);
		if (p->bandwidth > 0) {
			/* tokens every 100 ms, so the limit holds within a second */
			struct timeval tick = { .tv_usec = 100000 };
			size_t per_tick = (size_t)(p->bandwidth / 10);

			/* reading stays unlimited in effect; EV_RATE_LIMIT_MAX
			   would overflow libevent's refill arithmetic */
			l->rate = ev_token_bucket_cfg_new(1U << 30, 1U << 30,
							  per_tick, per_tick, &tick);
		}
		l->check_ev = event_new(d->base, -1, EV_PERSIST, on_check, l);
		struct timeval every = { .tv_sec = REPL_PING_S };

		evtimer_add(l->check_ev, &every);
		link_load(l);
		repl_pause_load(l);
		link_connect(l);
	}
}

void repl_links_stop(struct repl_daemon *d)
{
	for (size_t i = 0; i < d->n_links; i++) {
		struct repl_link *l = &d->links[i];

		if (l->reader_ev != NULL)
			event_free(l->reader_ev);
		mm_journal_reader_close(&l->reader);
		mm_journal_reader_close(&l->replay);
		repl_pause_free_all(l);
		if (l->bev != NULL)
			bufferevent_free(l->bev);
		mm_wire_decoder_free(&l->dec);
		ZSTD_freeCStream(l->zc);
		event_free(l->retry_ev);
		event_free(l->check_ev);
		link_save_acked(l);
		free(l->inflight);
		free(l->sent);
		repl_resync_free(&l->resync);
		link_queue_free(l);
		if (l->rate != NULL)
			ev_token_bucket_cfg_free(l->rate);
	}
	mm_free(&d->links);
	d->n_links = 0;
}

void repl_links_pump(struct repl_daemon *d)
{
	for (size_t i = 0; i < d->n_links; i++)
		link_pump(&d->links[i]);
}

int repl_resync_start(struct repl_daemon *d, const char *account, const char *peer,
		      size_t *files_r, const char **error_r)
{
	const struct mm_account_cfg *pol = mm_cfg_account(d->cfg, account);
	int n = 0;

	*files_r = 0;
	for (size_t i = 0; i < d->n_links; i++) {
		struct repl_link *l = &d->links[i];

		if (peer != NULL && strcmp(peer, l->peer->name) != 0)
			continue;
		if (!mm_cfg_account_on(pol, l->peer->name))
			continue;
		if (l->state != REPL_LINK_STREAMING) {
			*error_r = "a peer is not connected";
			if (peer != NULL)
				return -1;
			continue;
		}
		if (l->resync != NULL) {
			*error_r = "a resync to that peer is running";
			return -1;
		}
		*files_r = link_resync_begin(l, account);
		n++;
		link_pump(l);
	}
	if (n == 0 && peer == NULL)
		*error_r = "no connected peer holds that account";
	return n;
}

int repl_pause_set(struct repl_daemon *d, const char *account, bool pause,
		   struct mm_buf *out)
{
	const char *error;
	unsigned int changed = 0, already = 0;

	if (mm_acct_check(account, d->cfg->account_depth, &error) < 0) {
		mm_buf_printf(out, "error %s\n", error);
		return -1;
	}
	for (size_t i = 0; i < d->n_links; i++) {
		struct repl_link *l = &d->links[i];
		struct repl_pause *p = repl_pause_find(l, account);

		if (p != NULL && p->guard) {
			mm_buf_printf(out, "error %s: the expunge guard holds it; "
				      "mailmeshctl expunge-guard %s confirm|revert first\n",
				      account, account);
			return -1;
		}
		if (pause) {
			if (p != NULL && !p->replaying) {
				already++;
				continue;
			}
			if (p == NULL) {
				l->pauses = mm_realloc(l->pauses, (l->n_pauses + 1) *
						       sizeof(*l->pauses));
				p = &l->pauses[l->n_pauses++];
				memset(p, 0, sizeof(*p));
				p->account = mm_strdup(account);
				/* what this link has not read yet waits */
				p->from_lsn = l->sent_lsn + 1;
			}
			/* paused again while replaying: the rest waits too */
			p->replaying = false;
			if (l->replay != NULL) {
				mm_journal_reader_close(&l->replay);
				l->records_replayed = 0;
			}
		} else {
			if (p == NULL || p->replaying) {
				already++;
				continue;
			}
			p->replaying = true;
		}
		if (repl_pause_save(l) < 0) {
			mm_buf_printf(out, "error %s: cannot save the state for %s\n",
				      account, l->peer->name);
			return -1;
		}
		changed++;
		if (!pause)
			link_pump(l);
	}
	if (changed == 0 && already == 0) {
		mm_buf_printf(out, "error no peer to replicate %s to\n", account);
		return -1;
	}
	mm_log_info("replication of %s %s (%u peer(s))", account,
		    pause ? "paused" : "resumed", changed);
	mm_buf_printf(out, "ok %s: %s\n", account, pause ? "paused" : "resumed");
	return 0;
}
