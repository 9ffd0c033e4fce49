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
#include "hb-members.h"
#include "hb-probe.h"
#include "hb-wire.h"

/* Where one member's heartbeats go. */
struct hb_dest {
	size_t member;			/* index in hb_members */
	struct sockaddr_storage sa;
	socklen_t salen;
};

#define HB_LOGRATE_SLOTS 32
#define HB_LOGRATE_US (10ULL * 1000000)	/* one line per source per 10 s */

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
};

uint64_t hb_now_us(void);
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
void hb_ctl_stop(struct hb_daemon *d);

#endif
