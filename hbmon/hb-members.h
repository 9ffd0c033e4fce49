/* SPDX-License-Identifier: MIT
 * hb-members.h - what this store knows of every member from heartbeats:
 * replay checks, RTT, and the healthy/degraded/failed/unknown states.
 * Pure: callers pass the clocks in; hb-net.c does the sockets and logging. */
#ifndef HB_MEMBERS_H
#define HB_MEMBERS_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "hb-health.h"
#include "hb-wire.h"

enum hb_member_state {
	HB_MEMBER_UNKNOWN,	/* never heard */
	HB_MEMBER_HEALTHY,
	HB_MEMBER_DEGRADED,	/* says so, or its RTT is over rtt_ms */
	HB_MEMBER_FAILED,	/* not heard within timeout */
};

enum hb_rx {
	HB_RX_OK,
	HB_RX_UNKNOWN,		/* not a member, or our own name */
	HB_RX_REPLAY,		/* not newer than the last accepted */
	HB_RX_CLOCK,		/* a new incarnation whose send time is more
				   than the window off our clock */
};

/* A new incarnation is accepted only with a send time this close to the
   receiver's wall clock (and later than the last accepted one's). */
#define HB_INCARNATION_WINDOW_MS 30000

struct hb_member {
	char *name;
	bool self;
	bool witness;		/* the witness's slot: its heartbeats say so */
	enum hb_member_state state;
	char reason[160];
	/* the last accepted heartbeat */
	bool heard;
	uint64_t heard_us;		/* receiver's monotonic clock */
	uint64_t incarnation, seq, time_ms;
	struct hb_msg last;
	int64_t rtt_us;			/* -1: no sample yet */
	uint64_t n_replays;
};

struct hb_members_settings {
	unsigned int timeout_ms;
	unsigned int rtt_ms;
};

/* names: every member, self included once (duplicates are skipped);
   witness: one more slot, named "witness", that takes the heartbeats with
   the witness flag whatever name they carry.
   Returns a new set, freed with hb_members_free(). */
struct hb_members *hb_members_new(const char *self, const char *const *names, size_t n,
				  bool witness, const struct hb_members_settings *set);
void hb_members_free(struct hb_members **mp);

size_t hb_members_count(const struct hb_members *m);
/* Borrowed from m; valid until hb_members_free(). */
const struct hb_member *hb_members_get(const struct hb_members *m, size_t i);
/* The index of name, or -1. */
int hb_members_find(const struct hb_members *m, const char *name);

/* Our heartbeat seq went out at now_us (kept for the echo RTT). */
void hb_members_sent(struct hb_members *m, uint64_t seq, uint64_t now_us);
/* When our heartbeat seq went out (monotonic): true with *at_us while it
   is among the last 64 sent. */
bool hb_members_sent_at(const struct hb_members *m, uint64_t seq, uint64_t *at_us);
/* The echo to put in our next heartbeat to member i. */
void hb_members_echo(const struct hb_members *m, size_t i, uint64_t now_us,
		     uint64_t *seq_r, uint32_t *held_us_r);
/* An authenticated heartbeat arrived at now_us (monotonic), wall_ms (wall
   clock). Returns HB_RX_OK when accepted, with *index_r its sender. */
enum hb_rx hb_members_recv(struct hb_members *m, const struct hb_msg *msg,
			   uint64_t now_us, uint64_t wall_ms, size_t *index_r);
/* This store's own verdict and figures. */
void hb_members_self(struct hb_members *m, const struct hb_health *h,
		     const struct hb_health_figures *f);
/* Recomputes every state at now_us. */
void hb_members_tick(struct hb_members *m, uint64_t now_us);
/* Iterates over the members whose state changed since the last call:
   returns true with *index_r and *from_r (the state before), false when
   there are no more. */
bool hb_members_next_change(struct hb_members *m, size_t *index_r,
			    enum hb_member_state *from_r);

const char *hb_member_state_str(enum hb_member_state s);

#endif
