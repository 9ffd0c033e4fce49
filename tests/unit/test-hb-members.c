/* SPDX-License-Identifier: MIT
 * test-hb-members.c - replay rule, echo RTT and member states, on a fake
 * clock: three members, seen from mx1. */
#include <criterion/criterion.h>
#include <string.h>
#include "hb-members.h"

#define WALL 1764000000000ULL
#define MS 1000ULL

static struct hb_members *m;
static const struct hb_members_settings set = { .timeout_ms = 1000, .rtt_ms = 500 };

static void setup(void)
{
	const char *names[] = { "mx1", "mx2", "mx3" };	/* shared file: mx1 too */

	m = hb_members_new("mx1", names, 3, false, &set);
}

static void teardown(void)
{
	hb_members_free(&m);
	cr_expect_null(m);
}

TestSuite(hb_members, .init = setup, .fini = teardown);

static struct hb_msg hb(const char *name, uint64_t inc, uint64_t seq, uint64_t time_ms)
{
	struct hb_msg msg;

	memset(&msg, 0, sizeof(msg));
	strcpy(msg.name, name);
	msg.incarnation = inc;
	msg.seq = seq;
	msg.time_ms = time_ms;
	return msg;
}

static enum hb_member_state state(const char *name)
{
	return hb_members_get(m, (size_t)hb_members_find(m, name))->state;
}

Test(hb_members, self_is_counted_once)
{
	cr_expect_eq(hb_members_count(m), 3);
	cr_expect(hb_members_get(m, 0)->self);
	cr_expect_str_eq(hb_members_get(m, 0)->name, "mx1");
}

Test(hb_members, unknown_then_healthy_then_failed)
{
	struct hb_msg msg = hb("mx2", 7, 1, WALL);
	size_t i, idx;
	enum hb_member_state from;

	hb_members_tick(m, 0);
	cr_expect_eq(state("mx2"), HB_MEMBER_UNKNOWN);
	cr_expect_eq(hb_members_recv(m, &msg, 100 * MS, WALL, &idx), HB_RX_OK);
	cr_expect_eq(idx, 1);
	hb_members_tick(m, 100 * MS);
	cr_expect_eq(state("mx2"), HB_MEMBER_HEALTHY);
	/* changes come once each: self and mx2 became healthy */
	cr_assert(hb_members_next_change(m, &i, &from));
	cr_expect_eq(i, 0);
	cr_assert(hb_members_next_change(m, &i, &from));
	cr_expect_eq(i, 1);
	cr_expect_eq(from, HB_MEMBER_UNKNOWN);
	cr_expect_not(hb_members_next_change(m, &i, &from));
	hb_members_tick(m, 1100 * MS);
	cr_expect_eq(state("mx2"), HB_MEMBER_HEALTHY, "at the timeout");
	cr_expect_not(hb_members_next_change(m, &i, &from));
	hb_members_tick(m, 1101 * MS);
	cr_expect_eq(state("mx2"), HB_MEMBER_FAILED);
	cr_expect_str_eq(hb_members_get(m, 1)->reason, "not heard for 1001 ms");
	cr_assert(hb_members_next_change(m, &i, &from));
	cr_expect_eq(from, HB_MEMBER_HEALTHY);
	/* heard again: healthy */
	msg.seq = 2;
	cr_expect_eq(hb_members_recv(m, &msg, 1200 * MS, WALL, &idx), HB_RX_OK);
	hb_members_tick(m, 1200 * MS);
	cr_expect_eq(state("mx2"), HB_MEMBER_HEALTHY);
	cr_expect_eq(state("mx3"), HB_MEMBER_UNKNOWN);
}

Test(hb_members, replays_are_refused)
{
	struct hb_msg msg = hb("mx2", 7, 5, WALL);
	size_t idx;

	cr_expect_eq(hb_members_recv(m, &msg, 0, WALL, &idx), HB_RX_OK);
	cr_expect_eq(hb_members_recv(m, &msg, 1, WALL, &idx), HB_RX_REPLAY, "same seq");
	msg.seq = 4;
	cr_expect_eq(hb_members_recv(m, &msg, 2, WALL, &idx), HB_RX_REPLAY, "older seq");
	msg.seq = 6;
	cr_expect_eq(hb_members_recv(m, &msg, 3, WALL, &idx), HB_RX_OK);
	cr_expect_eq(hb_members_get(m, 1)->n_replays, 2);
	msg = hb("mx9", 7, 7, WALL);
	cr_expect_eq(hb_members_recv(m, &msg, 4, WALL, &idx), HB_RX_UNKNOWN);
	msg = hb("mx1", 7, 7, WALL);
	cr_expect_eq(hb_members_recv(m, &msg, 4, WALL, &idx), HB_RX_UNKNOWN, "our own name");
}

Test(hb_members, new_incarnation_needs_a_fresh_clock)
{
	struct hb_msg old = hb("mx2", 7, 100, WALL), msg;
	size_t idx;

	/* the first heartbeat too */
	msg = hb("mx2", 7, 1, WALL - HB_INCARNATION_WINDOW_MS - 1);
	cr_expect_eq(hb_members_recv(m, &msg, 0, WALL, &idx), HB_RX_CLOCK);
	cr_expect_eq(hb_members_recv(m, &old, 0, WALL, &idx), HB_RX_OK);
	/* restarted: new incarnation, seq from 1 */
	msg = hb("mx2", 8, 1, WALL + 5000);
	cr_expect_eq(hb_members_recv(m, &msg, 5000 * MS, WALL + 5000, &idx), HB_RX_OK);
	/* the old incarnation, replayed within the window: older time */
	old.seq = 101;
	old.time_ms = WALL + 100;
	cr_expect_eq(hb_members_recv(m, &old, 5001 * MS, WALL + 5001, &idx), HB_RX_REPLAY);
	/* a new incarnation far from our clock */
	msg = hb("mx2", 9, 1, WALL + 5000 + HB_INCARNATION_WINDOW_MS + 2);
	cr_expect_eq(hb_members_recv(m, &msg, 5002 * MS, WALL + 5001, &idx), HB_RX_CLOCK);
	cr_expect_eq(hb_members_get(m, 1)->incarnation, 8);
}

Test(hb_members, echo_rtt)
{
	struct hb_msg msg = hb("mx2", 7, 1, WALL);
	uint64_t seq;
	uint32_t held;
	size_t idx;

	hb_members_echo(m, 1, 0, &seq, &held);
	cr_expect_eq(seq, 0, "nothing heard yet");
	hb_members_sent(m, 10, 1000 * MS);
	/* mx2 got our 10, held it 30 ms, its reply arrives 100 ms after we
	   sent: RTT 70 ms whatever the clocks say */
	msg.echo_seq = 10;
	msg.echo_held_us = 30 * MS;
	cr_expect_eq(hb_members_recv(m, &msg, 1100 * MS, WALL + 9999, &idx), HB_RX_OK);
	cr_expect_eq(hb_members_get(m, 1)->rtt_us, 70 * MS);
	hb_members_tick(m, 1100 * MS);
	cr_expect_eq(state("mx2"), HB_MEMBER_HEALTHY);
	/* what we echo back to it */
	hb_members_echo(m, 1, 1150 * MS, &seq, &held);
	cr_expect_eq(seq, 1);
	cr_expect_eq(held, 50 * MS);
	/* a slow link */
	hb_members_sent(m, 11, 2000 * MS);
	msg.seq = 2;
	msg.echo_seq = 11;
	msg.echo_held_us = 0;
	cr_expect_eq(hb_members_recv(m, &msg, 2600 * MS, WALL, &idx), HB_RX_OK);
	hb_members_tick(m, 2600 * MS);
	cr_expect_eq(state("mx2"), HB_MEMBER_DEGRADED);
	cr_expect_str_eq(hb_members_get(m, 1)->reason, "rtt 600 ms > 500 ms");
	/* an echo of a seq we no longer remember gives no sample */
	msg.seq = 3;
	msg.echo_seq = 11 + 64;
	cr_expect_eq(hb_members_recv(m, &msg, 2700 * MS, WALL, &idx), HB_RX_OK);
	cr_expect_eq(hb_members_get(m, 1)->rtt_us, 600 * MS);
}

Test(hb_members, degraded_by_its_own_word_and_self)
{
	struct hb_msg msg = hb("mx3", 1, 1, WALL);
	struct hb_health h = { .degraded = true, .reason = "probe 412 ms > 200 ms" };
	struct hb_health_figures f = { .probe_us = 412000 };
	size_t idx;

	msg.degraded = true;
	strcpy(msg.reason, "io pressure 80.00% > 50%");
	cr_expect_eq(hb_members_recv(m, &msg, 0, WALL, &idx), HB_RX_OK);
	hb_members_self(m, &h, &f);
	hb_members_tick(m, 0);
	cr_expect_eq(state("mx3"), HB_MEMBER_DEGRADED);
	cr_expect_str_eq(hb_members_get(m, 2)->reason,
			 "reports degraded: io pressure 80.00% > 50%");
	cr_expect_eq(state("mx1"), HB_MEMBER_DEGRADED);
	cr_expect_str_eq(hb_members_get(m, 0)->reason, "probe 412 ms > 200 ms");
	cr_expect_eq(hb_members_get(m, 0)->last.probe_us, 412000);
}
