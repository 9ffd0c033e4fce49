/* SPDX-License-Identifier: MIT
 * hb.h - the mailmesh-hbmon daemon's shared state: the heartbeat socket
 * and timer (hb-net.c), the control socket (hb-ctl.c), main() in
 * mailmesh-hbmon.c. All of it runs on the one event loop thread. */
#ifndef HB_H
#define HB_H
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <event2/event.h>
#include "cfg.h"
#include "hb-health.h"
#include "hb-lease.h"
#include "hb-members.h"
#include "hb-pins.h"
#include "hb-placement.h"
#include "hb-probe.h"
#include "hb-store.h"
#include "hb-view.h"
#include "hb-wire.h"

/* Where one member's heartbeats go. */
struct hb_dest {
	size_t member;			/* index in hb_members */
	struct sockaddr_storage sa;
	socklen_t salen;
};

#define HB_LOGRATE_SLOTS 32
#define HB_LOGRATE_US (10ULL * 1000000)	/* one line per source per 10 s */

struct repl_epochs;

struct hb_daemon {
	struct mm_cfg *cfg;
	struct event_base *base;
	unsigned char key[HB_WIRE_KEY_LEN];
	uint64_t incarnation, seq;
	int fd;
	struct event *rx_ev, *tick_ev;
	struct hb_members *members;
	struct hb_dest *dests;
	size_t n_dests;
	struct hb_probe *probe;
	struct hb_health health;
	bool sampled;			/* a first sample came in */
	struct hb_health_figures figures;
	struct hb_health_thresholds thr;
	char probe_error[256];		/* the last one logged */
	uint64_t rx_ok, rx_bad_auth, rx_replay, rx_malformed, rx_unknown, tx_errors;
	struct { char from[64]; uint64_t at_us; } lograte[HB_LOGRATE_SLOTS];
	char *ctl_path;
	struct mm_evctl *ctl;	/* STATE/hbmon.sock */

	/* leases (hb-roles.c): members by member index, names sorted */
	bool witness_mode;		/* --witness: votes, holds nothing */
	bool draining;			/* mailmeshctl drain: degraded on purpose
					   (STATE/hbmon.drain while it lasts) */
	size_t n_lm;
	char **lm_names;
	int *lm_hbm;			/* hb_members index of member m, or -1 */
	int *hbm_lm;			/* member index of hb_members i, or -1 */
	int lm_self;			/* -1 in witness mode */
	int hbm_witness;		/* hb_members index of the witness, or -1 */
	uint64_t members_hash;
	uint64_t rx_members;		/* refused: member lists differ */
	struct hb_placement *pl;
	struct hb_placement_list pll;
	struct hb_voter *voter;
	struct hb_lease *lease;		/* NULL in witness mode */
	struct hb_store *store;		/* NULL in witness mode */
	struct hb_store_figures sf;
	char **accounts;		/* of this store, sorted */
	size_t n_accounts;
	bool ready;
	uint64_t owed_mask;		/* bit m: member m owes us a resync (logged) */
	bool held_out;			/* every other store heard excludes us */
	struct repl_epochs *known_epochs;	/* STATE/replication/epochs, last read */
	struct event *chld_ev;		/* reaps on_role_change scripts */

	/* pins (hb-promote.c) */
	struct hb_pins *pins;
	char *pins_path;		/* STATE/hbmon.pins */
	uint64_t pins_hash;		/* hb_pins_table_hash(pins) */
	bool has_gossip;		/* this tick's definition */
	struct hb_pin_def gossip;
};

uint64_t hb_now_us(void);
/* mailmeshctl drain: on, this store reports itself degraded (reason
   "draining") until turned off, across restarts (STATE/hbmon.drain). */
void hb_drain_set(struct hb_daemon *d, bool on);
uint64_t hb_wall_ms(void);

/* Derives d->key: SHA-256 of [hbmon] key_file, else of [tls] ca. */
int hb_key_load(struct hb_daemon *d, const char **error_r);
/* Builds the members and destinations, binds [hbmon] listen, starts the
   timer. Returns 0 or -1 with *error_r. */
int hb_net_start(struct hb_daemon *d, const char **error_r);
void hb_net_stop(struct hb_daemon *d);

/* The "status" answer: one JSON object and a newline, appended to out. */
struct mm_buf;
void hb_status_json(struct hb_daemon *d, struct mm_buf *out);
int hb_ctl_start(struct hb_daemon *d, const char **error_r);

/* hb-roles.c: the lease protocol's I/O shell over hb-view.c and
   hb-lease.c. Start before the first heartbeat; all on the loop. */
int hb_roles_start(struct hb_daemon *d, const char **error_r);
void hb_roles_stop(struct hb_daemon *d);
/* Whether msg's members_hash is ours. */
bool hb_roles_same_members(const struct hb_daemon *d, const struct hb_msg *msg);
/* An accepted heartbeat from hb_members index i. */
void hb_roles_rx(struct hb_daemon *d, size_t i, const struct hb_msg *msg, uint64_t now_us);
/* After a batch of heartbeats: re-evaluates the roles. */
void hb_roles_rx_done(struct hb_daemon *d, uint64_t now_us);
/* The mount asks about an account it refused ("account NAME"): weighs it
   (a new one is added) and answers "ok active DEADLINE_NS EPOCH" or
   "ok ROLE", or "error ...", into out. */
struct mm_buf;
void hb_roles_ask(struct hb_daemon *d, const char *account, struct mm_buf *out);
/* Every tick, before sending: view, ready, roles, the mount's deadline. */
void hb_roles_tick(struct hb_daemon *d, uint64_t now_us);
/* The lease fields of the heartbeat to hb_members index i. */
void hb_roles_fill(struct hb_daemon *d, size_t i, uint64_t now_us, struct hb_msg *msg);
/* "accounts" and "leases" for the status. */
struct json_t;
void hb_roles_json(struct hb_daemon *d, struct json_t *status);
/* Into member i's status object o: "lag_records", how far the most
   behind of the other stores heard is on that member's journal (null
   when unknown). */
void hb_roles_lag_json(struct hb_daemon *d, size_t i, struct json_t *o);
void hb_ctl_stop(struct hb_daemon *d);

/* hb-promote.c: pins (mailmeshctl promote). All on the loop. */
/* Reads STATE/hbmon.pins (a bad file is logged and set aside). */
void hb_promote_start(struct hb_daemon *d);
void hb_promote_stop(struct hb_daemon *d);
/* Every tick, before the voter's: the pins in force to the voter, and
   this tick's pin definition to gossip. */
void hb_promote_tick(struct hb_daemon *d);
/* The pin fields of a heartbeat (the endorsement's come with the view). */
void hb_promote_fill(struct hb_daemon *d, struct hb_msg *msg);
/* The pin gossip of an accepted heartbeat from hb_members index i. */
void hb_promote_rx(struct hb_daemon *d, size_t i, const struct hb_msg *msg);
/* "promote ACCOUNT STORE" / "promote ACCOUNT --clear" (args: what follows
   "promote "): "ok" once recorded in STATE/hbmon.pins, or "error ...". */
void hb_promote_cmd(struct hb_daemon *d, const char *args, struct mm_buf *out);
/* "active ACCOUNT": "ok CUR PREV PIN", the active store under this
   voter's view and its previous one, and the store the view pins it to
   ("-": none), or "error ...". */
void hb_promote_active(struct hb_daemon *d, const char *account, struct mm_buf *out);
/* The store account is pinned to in this voter's table, or NULL. */
const char *hb_promote_pinned(const struct hb_daemon *d, const char *account);
/* What a role change of account owes to a pin, for its reason: "; promoted
   by operator to S", "; pin to S cleared by operator", or "". */
void hb_promote_note(const struct hb_daemon *d, const char *account, char *buf,
		     size_t size);
/* "pins" into status, pins_hash and pins_in_sync into leases. */
void hb_promote_json(struct hb_daemon *d, struct json_t *status, struct json_t *leases);

#endif
