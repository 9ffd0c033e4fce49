/* SPDX-License-Identifier: MIT
 * hb-members.c - per-member heartbeat bookkeeping: the replay rule, the
 * echo-based RTT (no clock sync needed) and the member states. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "hb-members.h"
#include "mem.h"

#define SENT_RING 64

struct hb_members {
	struct hb_members_settings set;
	struct hb_member *m;
	enum hb_member_state *reported;	/* as last returned by next_change */
	size_t n;
	size_t self;
	struct { uint64_t seq, at_us; } sent[SENT_RING];
	size_t change_pos;
};

struct hb_members *hb_members_new(const char *self, const char *const *names, size_t n,
				  bool witness, const struct hb_members_settings *set)
{
	struct hb_members *m = mm_calloc(1, sizeof(*m));

	m->set = *set;
	m->m = mm_calloc(n + 2, sizeof(*m->m));
	m->reported = mm_calloc(n + 2, sizeof(*m->reported));
	m->m[0].name = mm_strdup(self);
	m->m[0].self = true;
	m->n = 1;
	for (size_t i = 0; i < n; i++) {
		if (hb_members_find(m, names[i]) >= 0)
			continue;
		m->m[m->n].name = mm_strdup(names[i]);
		m->m[m->n].rtt_us = -1;
		m->n++;
	}
	if (witness) {
		m->m[m->n].name = mm_strdup("witness");
		m->m[m->n].witness = true;
		m->m[m->n].rtt_us = -1;
		m->n++;
	}
	m->m[0].rtt_us = 0;
	return m;
}

void hb_members_free(struct hb_members **mp)
{
	struct hb_members *m = *mp;

	if (m == NULL)
		return;
	for (size_t i = 0; i < m->n; i++)
		free(m->m[i].name);
	free(m->m);
	free(m->reported);
	free(m);
	*mp = NULL;
}

size_t hb_members_count(const struct hb_members *m)
{
	return m->n;
}

const struct hb_member *hb_members_get(const struct hb_members *m, size_t i)
{
	return i < m->n ? &m->m[i] : NULL;
}

int hb_members_find(const struct hb_members *m, const char *name)
{
	for (size_t i = 0; i < m->n; i++)
		if (strcmp(m->m[i].name, name) == 0)
			return (int)i;
	return -1;
}

void hb_members_sent(struct hb_members *m, uint64_t seq, uint64_t now_us)
{
	m->sent[seq % SENT_RING].seq = seq;
	m->sent[seq % SENT_RING].at_us = now_us;
}

bool hb_members_sent_at(const struct hb_members *m, uint64_t seq, uint64_t *at_us)
{
	if (seq == 0 || m->sent[seq % SENT_RING].seq != seq)
		return false;
	*at_us = m->sent[seq % SENT_RING].at_us;
	return true;
}

void hb_members_echo(const struct hb_members *m, size_t i, uint64_t now_us,
		     uint64_t *seq_r, uint32_t *held_us_r)
{
	const struct hb_member *p = &m->m[i];
	uint64_t held;

	*seq_r = 0;
	*held_us_r = 0;
	if (p->self || !p->heard || now_us < p->heard_us)
		return;
	held = now_us - p->heard_us;
	if (held > UINT32_MAX)
		return;	/* over an hour: useless as an RTT sample */
	*seq_r = p->seq;
	*held_us_r = (uint32_t)held;
}

static uint64_t absdiff(uint64_t a, uint64_t b)
{
	return a > b ? a - b : b - a;
}

enum hb_rx hb_members_recv(struct hb_members *m, const struct hb_msg *msg,
			   uint64_t now_us, uint64_t wall_ms, size_t *index_r)
{
	int i = -1;
	struct hb_member *p;

	if (msg->witness) {
		for (size_t k = 0; k < m->n; k++)
			if (m->m[k].witness)
				i = (int)k;
	} else {
		i = hb_members_find(m, msg->name);
		if (i >= 0 && m->m[i].witness)
			i = -1;
	}
	if (i < 0 || m->m[i].self)
		return HB_RX_UNKNOWN;
	p = &m->m[i];
	if (p->heard && msg->incarnation == p->incarnation) {
		if (msg->seq <= p->seq)
			goto replay;
	} else {
		/* a restart (or the first heartbeat): its own clock must be
		   near ours, and later than anything we accepted from it, so
		   an old incarnation's datagrams cannot be replayed */
		if (absdiff(msg->time_ms, wall_ms) > HB_INCARNATION_WINDOW_MS) {
			p->n_replays++;
			return HB_RX_CLOCK;
		}
		if (p->heard && msg->time_ms <= p->time_ms)
			goto replay;
	}
	p->heard = true;
	p->heard_us = now_us;
	p->incarnation = msg->incarnation;
	p->seq = msg->seq;
	p->time_ms = msg->time_ms;
	p->last = *msg;
	if (msg->echo_seq != 0 && m->sent[msg->echo_seq % SENT_RING].seq == msg->echo_seq) {
		uint64_t at = m->sent[msg->echo_seq % SENT_RING].at_us;

		if (now_us >= at + msg->echo_held_us)
			p->rtt_us = (int64_t)(now_us - at - msg->echo_held_us);
	}
	*index_r = (size_t)i;
	return HB_RX_OK;
replay:
	p->n_replays++;
	return HB_RX_REPLAY;
}

void hb_members_self(struct hb_members *m, const struct hb_health *h,
		     const struct hb_health_figures *f)
{
	struct hb_member *s = &m->m[0];

	s->last.degraded = h->degraded;
	snprintf(s->last.reason, sizeof(s->last.reason), "%s", h->reason);
	s->last.probe_us = f->probe_us;
	s->last.pressure_io = f->pressure_io;
	s->last.pressure_cpu = f->pressure_cpu;
	s->last.pressure_mem = f->pressure_mem;
	s->last.free_bytes = f->free_bytes;
	s->heard = true;
}

static void judge(const struct hb_members *m, struct hb_member *p, uint64_t now_us)
{
	uint64_t ago;

	if (p->self) {
		p->state = p->last.degraded ? HB_MEMBER_DEGRADED : HB_MEMBER_HEALTHY;
		snprintf(p->reason, sizeof(p->reason), "%s",
			 p->last.degraded ? p->last.reason : "");
		return;
	}
	if (!p->heard) {
		p->state = HB_MEMBER_UNKNOWN;
		snprintf(p->reason, sizeof(p->reason), "never heard");
		return;
	}
	ago = now_us > p->heard_us ? now_us - p->heard_us : 0;
	if (ago > (uint64_t)m->set.timeout_ms * 1000) {
		p->state = HB_MEMBER_FAILED;
		snprintf(p->reason, sizeof(p->reason), "not heard for %llu ms",
			 (unsigned long long)(ago / 1000));
	} else if (p->last.degraded) {
		p->state = HB_MEMBER_DEGRADED;
		snprintf(p->reason, sizeof(p->reason), "reports degraded: %s",
			 p->last.reason);
	} else if (p->rtt_us > (int64_t)m->set.rtt_ms * 1000) {
		p->state = HB_MEMBER_DEGRADED;
		snprintf(p->reason, sizeof(p->reason), "rtt %lld ms > %u ms",
			 (long long)(p->rtt_us / 1000), m->set.rtt_ms);
	} else {
		p->state = HB_MEMBER_HEALTHY;
		p->reason[0] = '\0';
	}
}

void hb_members_tick(struct hb_members *m, uint64_t now_us)
{
	for (size_t i = 0; i < m->n; i++)
		judge(m, &m->m[i], now_us);
	m->change_pos = 0;
}

bool hb_members_next_change(struct hb_members *m, size_t *index_r,
			    enum hb_member_state *from_r)
{
	for (; m->change_pos < m->n; m->change_pos++) {
		size_t i = m->change_pos;

		if (m->m[i].state != m->reported[i]) {
			*index_r = i;
			*from_r = m->reported[i];
			m->reported[i] = m->m[i].state;
			m->change_pos++;
			return true;
		}
	}
	return false;
}

const char *hb_member_state_str(enum hb_member_state s)
{
	switch (s) {
	case HB_MEMBER_UNKNOWN: return "unknown";
	case HB_MEMBER_HEALTHY: return "healthy";
	case HB_MEMBER_DEGRADED: return "degraded";
	case HB_MEMBER_FAILED: return "failed";
	}
	return "?";
}
