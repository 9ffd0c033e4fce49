/* SPDX-License-Identifier: MIT
 * repl.h - the replicator daemon's shared state: outbound links (one per
 * peer, repl-link.c), inbound sessions (repl-session.c), the status socket. */
#ifndef REPL_H
#define REPL_H
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <openssl/ssl.h>
#include <event2/event.h>
#include <xxhash.h>
#include <zstd.h>
#include "buf.h"
#include "cfg.h"
#include "classify.h"
#include "journal.h"
#include "repl-apply.h"
#include "wire.h"

struct bufferevent;
struct evconnlistener;
struct mm_journal_reader;
struct mm_wire_decoder;
struct repl_store;
struct repl_daemon;

#define REPL_PROTO_VERSION 3	/* 2: folder digests in a resync; 3: records
				   carry their epoch (journal version 2), and
				   REFUSED tells a sender its stale records */
/* QUERY OPEN (mailmesh-fsck, mailmeshctl undelete) is answered from this
   version on: its questions did not change with version 3 */
#define REPL_QUERY_VERSION_MIN 2
/* After WELCOME the dialer's bytes are one zstd stream (level 3, 8 MiB
   window), flushed at the end of every burst: later messages compress
   against earlier ones (headers, common words), which per-message
   compression cannot do. */
#define REPL_STREAM_WINDOW_LOG 23
/* stop reading the journal for a peer while this much is queued for it */
#define REPL_OUT_HIGH (8u << 20)
#define REPL_ZSTD_LEVEL 3
/* A resync reads a message up to this size once, to hash and send it; a
   bigger one is read twice (hashed, then sent). */
#define REPL_RESYNC_READ_MAX (1u << 20)
/* Resync records alone are synced at most this often (the end's RESYNCED
   waits for a sync of everything before it). */
#define REPL_RESYNC_SYNC_NS 1000000000ULL
/* keepalive: a streaming link pings every REPL_PING_S; a link that hears
   nothing for REPL_SILENT_S (no ACK, no PONG, no handshake) is dropped and
   dialed again, so a cut link or a frozen peer is noticed in seconds, not
   after TCP's retransmission timeout; a session silent for
   REPL_SESSION_SILENT_S is closed */
/* Content dedup: a delivery whose content this link sent within
   REPL_DEDUP_SEND_S goes without it; the receiver keeps what it received
   for REPL_DEDUP_KEEP_S in STATE/replication/content/<hash> */
#define REPL_DEDUP_SLOTS 65536
#define REPL_DEDUP_SEND_S 1800
#define REPL_DEDUP_KEEP_S 3600
/* A batch (made durable, then acknowledged) is what arrives within
   REPL_COMMIT_US of its first bytes, plus what arrives while the previous
   one syncs: a sender streams small TLS records, and a syncfs per read
   made the receiver apply ~3 records per sync and fall behind */
#define REPL_COMMIT_US 1000
#define REPL_PING_S 2
#define REPL_SILENT_S 10
#define REPL_SESSION_SILENT_S 30
/* the LSNs a peer refused lately (REFUSED), per link: a sync-mode wait
   for one of them does not count that peer's acknowledgement */
#define REPL_REFUSED_RING 64

enum repl_link_state {
	REPL_LINK_DOWN,		/* waiting to reconnect */
	REPL_LINK_CONNECTING,	/* TCP and TLS handshake */
	REPL_LINK_HELLO,	/* HELLO sent, waiting for WELCOME */
	REPL_LINK_STREAMING,
};

/* A sent record not acknowledged yet, for the lag in ms. */
struct repl_inflight {
	uint64_t lsn;
	uint64_t time_ns;	/* when it was journaled */
};

/* Outbound: this store's journal to one peer. */
/* repl-resync.c: one account as it is in the store, file by file. */
struct repl_resync;
struct repl_resync_item {
	enum mm_op op;		/* FOLDER_CREATE, META or DELIVER */
	const char *relpath;	/* borrowed from the job */
	const char *folder;	/* the folder directory's path below the account */
	struct mm_loc loc;	/* META and DELIVER: folder, sub, name */
	struct stat st;
	uint8_t hash[16];	/* DELIVER: XXH3-128 of the content */
	int fd;			/* META and DELIVER: open on the file (close it) */
	const unsigned char *data; /* DELIVER: the whole content when it was read
				   at once (REPL_RESYNC_READ_MAX), until the next item */
	bool have;		/* DELIVER: the peer has the content (fd -1) */
};
/* A folder's standing in a resync, once its digest has been offered. */
enum repl_resync_fstate {
	REPL_RS_DIFFERS = 0,	/* send its entries (the default: no digests) */
	REPL_RS_WAIT,		/* offered, no answer yet */
	REPL_RS_SAME,		/* the peer has the same: send nothing */
};
#define REPL_RS_WAITING 2	/* repl_resync_next(): an answer is awaited */
/* Walks the account in the store now; the job owns what it returns. */
struct repl_resync *repl_resync_new(struct repl_daemon *d, const char *account);
void repl_resync_free(struct repl_resync **rsp);
/* 1 with the next item, 0 when all are done (files gone since the walk
   are skipped and counted), REPL_RS_WAITING while the next item's folder
   waits for the peer's INVENTORY. */
int repl_resync_next(struct repl_resync *rs, const struct repl_daemon *d,
		     struct repl_resync_item *item);
size_t repl_resync_total(const struct repl_resync *rs);
/* The i-th file of the walk: its store-relative path, *kind_r 'F' (folder),
   'X' (metadata) or 'M' (message). */
const char *repl_resync_entry(const struct repl_resync *rs, size_t i, char *kind_r);
const struct mm_rules *repl_resync_rules(const struct repl_resync *rs);
size_t repl_resync_done(const struct repl_resync *rs);
const char *repl_resync_account(const struct repl_resync *rs);
void repl_resync_summary(const struct repl_resync *rs, char *out, size_t size);
/* Per-folder digests (XXH3-128 over the sorted lines "F", "M sub/name
   size", "X name size hash" of the folder's entries), folders sorted by
   name below the account. */
size_t repl_resync_folders(const struct repl_resync *rs);
const char *repl_resync_folder(const struct repl_resync *rs, size_t i, uint8_t digest_r[16],
			       uint64_t *count_r);
ssize_t repl_resync_folder_find(const struct repl_resync *rs, const char *name);
/* The indices (for repl_resync_entry) of folder i's entries. */
size_t repl_resync_folder_entries(const struct repl_resync *rs, size_t i, size_t **idx_r);
/* Appends folder i's messages as INVENTORY entries. */
void repl_resync_inventory(const struct repl_resync *rs, size_t i, struct mm_buf *out);
/* The accounts this store serves (read-write here), sorted; 0 or more. */
size_t repl_resync_accounts(struct repl_daemon *d, char ***list_r);
/* Every folder's digest was sent: wait for the answers. */
void repl_resync_offered(struct repl_resync *rs);
/* The peer's INVENTORY of a folder. 0, or -1 with *error_r (static). */
int repl_resync_answer(struct repl_resync *rs, const char *folder, enum mm_wire_inv code,
		       const unsigned char *blob, size_t len, const char **error_r);

struct repl_sent_hash {
	uint8_t hash[16];
	uint64_t time_s;
};

/* An account this link holds back (mailmeshctl pause), repl-pause.c. */
struct repl_pause {
	char *account;
	uint64_t from_lsn;	/* its records from here on wait */
	bool replaying;		/* resumed: those up to the live position go first */
	bool guard;		/* the expunge guard's: only expunges and folder
				   deletes are held (and replayed once confirmed) */
	uint64_t held;		/* records held since the daemon started */
};

/* An account whose expunges the guard holds (repl-trip.c). */
struct repl_trip {
	char *account;
	uint64_t first_lsn, first_ns;	/* the window's first expunge */
	uint64_t trip_lsn, trip_ns;	/* the one too many */
};

struct repl_link {
	struct repl_daemon *d;
	const struct mm_peer_cfg *peer;
	enum repl_link_state state;
	struct bufferevent *bev;
	struct mm_wire_decoder *dec;
	ZSTD_CStream *zc;	/* set once streaming: compresses what we send */
	int zlevel;		/* its level now */
	struct mm_journal_reader *reader;
	struct event *reader_ev, *retry_ev, *check_ev;
	unsigned int backoff_ms;
	uint64_t sent_lsn;	/* last LSN sent or passed over */
	uint64_t marked_lsn;	/* last position marker sent */
	uint64_t acked_lsn;	/* the peer has everything up to here durably */
	uint64_t records_sent, bytes_sent, content_bytes, content_deduped;
	struct repl_sent_hash *sent;	/* lossy: contents this session sent */
	/* records up to this LSN go with their content, never by hash: the
	   peer refused the session that sent them (it may not keep a content
	   it did not need, e.g. a message it already had: then a copy sent by
	   hash in the next session would be refused again, for ever) */
	uint64_t whole_until;
	struct ev_token_bucket_cfg *rate;	/* [peer] bandwidth, or NULL */
	struct repl_resync *resync;	/* an account being sent whole, or NULL */
	/* accounts to resync next (needs_resync): each waits for the peer's
	   RESYNCED before the next; needs_resync ends with the last */
	char **rs_queue;
	size_t rs_qn;
	bool rs_awaiting;	/* rs_queue[0] was sent; its RESYNCED is awaited */
	uint64_t resync_sent;	/* records that resync sent so far */
	uint64_t saved_acked;	/* acked_lsn as last written to to-PEER.acked */
	/* records this peer never got: retention removed them first */
	bool needs_resync;
	uint64_t lost_from, lost_to;
	struct repl_pause *pauses;
	size_t n_pauses;
	/* replaying a resumed account: its records (from_lsn, replay_to] */
	struct mm_journal_reader *replay;
	uint64_t replay_to, records_replayed;
	struct repl_inflight *inflight;	/* FIFO of sent, unacknowledged */
	size_t n_inflight, inflight_head, inflight_cap;
	/* records the peer refused for a stale epoch (REFUSED): how many,
	   and the last REPL_REFUSED_RING LSNs */
	uint64_t refused_stale;
	uint64_t refused_ring[REPL_REFUSED_RING];
	unsigned int refused_head;
	bool refused_logged;	/* this session logged one already */
	char last_error[256];
};

/* Inbound: one peer's records applied to this store. */
struct repl_session {
	struct repl_daemon *d;
	struct repl_session *next;
	struct bufferevent *bev;
	struct mm_wire_decoder *dec;
	ZSTD_DStream *zd;	/* set after WELCOME: the peer's bytes are zstd */
	char peer[64];		/* from its certificate; "" before HELLO */
	char addr[80];		/* where it connected from, for the log */
	bool welcomed;
	uint64_t resume_lsn;	/* the next LSN we wanted at WELCOME */
	uint64_t applied_lsn;	/* applied, maybe not durable yet */
	uint64_t durable_lsn;	/* synced, cursor written, acknowledged */
	bool resync_dirty;	/* resync records applied since the last sync */
	uint64_t synced_ns;	/* the last syncfs (repl_now_ns) */
	/* the record waiting for its content */
	struct mm_buf rec_bytes;
	bool rec_open;
	bool rec_late;		/* the open record's account is active here */
	uint64_t content_len, content_got;
	XXH3_state_t *content_xxh;	/* of the DATA written to the stage so far */
	struct repl_stage *stage;
	int stage_fd;
	char *late_tmp;		/* a late delivery's file in the mount's tmp/ */
	/* the open record is stale and this store a replica of its account:
	   it is kept (STATE/replication/refused), not applied; its content,
	   if any, goes to refused_tmp */
	bool rec_refused;
	uint64_t rec_newer;	/* the epoch it was written after */
	char *refused_tmp;
	uint64_t kept_lsn;	/* the highest LSN of this peer kept refused */
	uint64_t n_stale;	/* this peer's records refused for a stale epoch */
	/* a resync of one account in progress from this peer: the files its
	   records (and the live ones since it began) name, and its records */
	char *rs_account;
	char **rs_seen;
	size_t rs_n, rs_cap;
	uint64_t rs_items;
	struct repl_resync *rs_mine;	/* this store's copy when it began */
	unsigned int rs_same;		/* folders whose digests matched */
	/* the RESYNCED frame to send once the resync's end is durable */
	char *rs_confirm;
	uint32_t rs_confirm_code;
	uint64_t rs_confirm_count;
	struct repl_changes changes;	/* paths to invalidate in the mount */
	struct event *commit_ev;	/* the batch's commit, REPL_COMMIT_US after its first read */
	uint64_t batch_ns;	/* when the open batch began, 0 if none */
	struct repl_query *q;	/* a peer's mailmesh-fsck asking (repl-query.c) */
};

/* A delivery in sync mode waiting for acknowledgements (repl-ctl.c). */
struct repl_waiter {
	struct repl_waiter *next;
	struct repl_daemon *d;
	struct bufferevent *bev;	/* the caller (mailmesh-fs), answered once */
	struct event *timer;
	uint64_t lsn;
	unsigned int acks;
};

struct repl_daemon {
	struct mm_cfg *cfg;
	struct event_base *base;
	SSL_CTX *ssl_ctx;
	struct repl_store *store;
	struct evconnlistener *listener;
	struct mm_evctl *ctl;	/* STATE/replicator.sock */
	struct repl_link *links;
	size_t n_links;
	struct repl_session *sessions;
	struct repl_waiter *waiters;
	char *fs_ctl_path;	/* STATE/control.sock of mailmesh-fs */
	char *ctl_path;		/* STATE/replicator.sock: our status */
	char *cursor_dir;	/* STATE/replication */
	char *content_dir;	/* STATE/replication/content: received, by hash */
	char *expunged_dir;	/* STATE/expunged: expunged messages kept */
	struct event *prune_ev;
	char **ro;		/* read-only accounts here (sorted) */
	size_t n_ro;
	struct timespec ro_mtime;	/* of STATE/accounts when ro was read */
	ino_t ro_ino;
	/* fenced ([hbmon] listen): the accounts active here (STATE/roles,
	   written by mailmesh-hbmon); every other one is a replica here */
	char **active;
	uint64_t *active_epochs;	/* each one's epoch, parallel to active */
	size_t n_active;
	struct timespec active_mtime;
	ino_t active_ino;
	uint64_t n_applied, n_already, n_missing, n_conflicts, n_refused;
	uint64_t n_by_hash;	/* deliveries applied from content kept here */
	uint64_t n_merged;	/* late deliveries merged into a read-write account */
	uint64_t n_late_merged;	/* other late records that changed something here */
	/* epochs (repl-fence.c): those known per account, STATE/replication/
	   epochs open for appends (synced before a cursor moves), records
	   refused for a stale epoch, and the (peer, account) pairs logged */
	struct repl_epochs *epochs;
	int epochs_fd;
	bool epochs_dirty;
	uint64_t n_stale;
	char **stale_logged;
	size_t n_stale_logged;
	struct repl_guard *guard;	/* the expunges of the last minute */
	struct repl_moved *moved;	/* and the copies (moves are not deletes) */
	uint64_t trip_seen_lsn;		/* the last record the guard looked at */
	struct repl_trip *trips;	/* accounts held by the guard */
	size_t n_trips;
};

/* repl-link.c */
void repl_links_start(struct repl_daemon *d);
void repl_links_stop(struct repl_daemon *d);
/* Starts sending account whole to peer (NULL: every streaming peer that
   holds it). Returns how many links took it; *files_r the files found. */
int repl_resync_start(struct repl_daemon *d, const char *account, const char *peer,
		      size_t *files_r, const char **error_r);
/* Pauses (pause) or resumes one account on every link; out gets the
   answer line. 0, or -1 when nothing was done (out says why). */
int repl_pause_set(struct repl_daemon *d, const char *account, bool pause,
		   struct mm_buf *out);
/* Pumps every streaming link (after a change of what they hold). */
void repl_links_pump(struct repl_daemon *d);
/* repl-trip.c: the mass-expunge guard's I/O. */
void repl_trips_start(struct repl_daemon *d);
void repl_trips_stop(struct repl_daemon *d);
const struct repl_trip *repl_trip_find(const struct repl_daemon *d, const char *account);
/* Notes rec if it is a copy out of its folder; counts it if it is an
   expunge (not a move's) or a folder delete; true when it tripped
   the guard (rec and the account's later expunges are now held on every
   link, the alert logged). Event loop only. */
bool repl_trip_check(struct repl_link *l, const struct mm_journal_rec *rec);
/* "ACCOUNT confirm" or "ACCOUNT revert UPTO_LSN" (mailmeshctl
   expunge-guard): out gets the answer line. 0, or -1 (out says why). */
int repl_trip_decide(struct repl_daemon *d, const char *args, struct mm_buf *out);
/* repl-pause.c */
int repl_pause_parse(const char *line, struct repl_pause *p);
/* 'p' paused, 'r' resumed (replaying), 'g' guard holding, 'c' confirmed. */
char repl_pause_state(const struct repl_pause *p);
/* Whether p holds rec back (the replay sends exactly these). */
bool repl_pause_holds(const struct repl_pause *p, const struct mm_journal_rec *rec);
struct repl_pause *repl_pause_find(struct repl_link *l, const char *account);
void repl_pause_load(struct repl_link *l);
int repl_pause_save(struct repl_link *l);
/* Replaces path with text (fsync'd, renamed); empty text removes it.
   0, or -1 with errno. */
int repl_state_write(const char *path, const struct mm_buf *text);
void repl_pause_remove(struct repl_link *l, struct repl_pause *p);
void repl_pause_free_all(struct repl_link *l);
/* repl-session.c */
int repl_listen_start(struct repl_daemon *d, const char **error_r);
void repl_sessions_stop(struct repl_daemon *d);
/* Starts pruning the contents kept by hash (STATE/replication/content)
   and the expunged messages kept (STATE/expunged), and keeping those. */
void repl_content_start(struct repl_daemon *d);
/* Whether l's peer refused the record at lsn lately (REFUSED). */
bool repl_link_refused(const struct repl_link *l, uint64_t lsn);
/* repl-fence.c: epochs, the fencing tokens, at the receiving end (the
   decision is repl-epoch.c's). Event loop only. */
/* Loads STATE/replication/epochs (rewritten whole when it holds bad,
   torn or superseded lines) and keeps it open for appends. Never fails:
   what it cannot read is logged and forgotten (a forgotten epoch misses
   stale records, it never refuses a good one). */
void repl_fence_start(struct repl_daemon *d);
void repl_fence_stop(struct repl_daemon *d);
/* Notes that account has (had) epoch (0: nothing): this store's own when
   the account is active here, or a record's it applied; appended to the
   file when it is new. */
void repl_fence_learn(struct repl_daemon *d, const char *account, uint64_t epoch);
/* Makes what repl_fence_learn() appended durable: before a cursor moves
   past the records it was learnt from. 0, or -1 with *error_r (static). */
int repl_fence_sync(struct repl_daemon *d, const char **error_r);
/* Whether rec is stale here (repl_epoch_stale() against the epochs
   known for its account, this store's own included): *newer_r the epoch
   it was written after. */
bool repl_fence_stale(struct repl_daemon *d, const struct mm_journal_rec *rec,
		      uint64_t *newer_r);
/* Counts a stale record of peer and logs it, as an error the first time
   for this (peer, account), then at debug level; outcome says what
   became of it. */
void repl_fence_refused(struct repl_daemon *d, const char *peer,
			const struct mm_journal_rec *rec, uint64_t newer, const char *outcome);
/* repl-ctl.c: the status socket */
int repl_ctl_start(struct repl_daemon *d, const char **error_r);
void repl_ctl_stop(struct repl_daemon *d);
/* Answers the waiters that enough peers have now acknowledged. */
void repl_waiters_check(struct repl_daemon *d);
/* Prints the status as JSON lines into out (one object per line). */
void repl_status_json(struct repl_daemon *d, struct mm_buf *out);

/* Resolves HOST:PORT (blocking getaddrinfo; config addresses are
   usually literal). 0 or -1 with *error_r. */
int repl_resolve(const char *hostport, struct sockaddr_storage *sa_r, int *len_r,
		 const char **error_r);
uint64_t repl_now_ns(void);
/* Turns Nagle off on a replication socket: records, ACKs and PINGs are
   small writes that must go at once; with Nagle one waited for the ACK
   of the previous segment, which the peer delays up to 40 ms. */
void repl_nodelay(int fd);

/* Whether account is a replica here: read-only in STATE/accounts, or,
   on a fenced store ([hbmon] listen), not active in STATE/roles. Rereads
   both files when they changed. Event loop only. */
bool repl_acct_replica(struct repl_daemon *d, const char *account);
/* This store's epoch of account when it is active here (STATE/roles of a
   fenced store), else 0. Rereads the file when it changed. Event loop
   only. */
uint64_t repl_acct_epoch(struct repl_daemon *d, const char *account);

#endif
