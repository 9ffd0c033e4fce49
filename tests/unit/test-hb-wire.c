/* SPDX-License-Identifier: MIT
 * test-hb-wire.c - the heartbeat datagram: round trip, authentication, and
 * refusal of short, long, garbled and forged input. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include "buf.h"
#include "hb-wire.h"
#include "journal.h"

static const unsigned char key[HB_WIRE_KEY_LEN] = "0123456789abcdef0123456789abcdef";
static struct mm_buf out;
static struct hb_msg msg;

static void setup(void)
{
	memset(&out, 0, sizeof(out));
	memset(&msg, 0, sizeof(msg));
	strcpy(msg.name, "mx1");
	msg.incarnation = 0x1122334455667788ULL;
	msg.seq = 42;
	msg.time_ms = 1764000000000ULL;
	msg.degraded = true;
	msg.probe_us = 412000;
	msg.pressure_io = 5123;
	msg.pressure_cpu = 1;
	msg.pressure_mem = 10000;
	msg.free_bytes = 1ULL << 40;
	msg.echo_seq = 41;
	msg.echo_held_us = 1234;
	strcpy(msg.reason, "probe 412 ms > 200 ms");
}

static void teardown(void)
{
	mm_buf_free(&out);
}

TestSuite(hb_wire, .init = setup, .fini = teardown);

Test(hb_wire, round_trip)
{
	struct hb_msg got;

	hb_wire_encode(&msg, key, &out);
	cr_assert_eq(out.len, HB_WIRE_MIN + strlen("mx1") + strlen(msg.reason));
	cr_assert_eq(hb_wire_decode(out.data, out.len, key, &got), 0);
	cr_expect_eq(memcmp(&got, &msg, sizeof(msg)), 0);
}

Test(hb_wire, wrong_key_is_refused)
{
	unsigned char other[HB_WIRE_KEY_LEN];
	struct hb_msg got;

	memcpy(other, key, sizeof(other));
	other[0] ^= 1;
	hb_wire_encode(&msg, other, &out);
	cr_expect_eq(hb_wire_decode(out.data, out.len, key, &got), MM_ERR_CHECKSUM);
	cr_expect_eq(got.seq, 0, "no partial result");
}

Test(hb_wire, every_flipped_bit_is_refused)
{
	struct hb_msg got;

	hb_wire_encode(&msg, key, &out);
	for (size_t i = 0; i < out.len * 8; i++) {
		out.data[i / 8] ^= 1u << (i % 8);
		cr_expect_lt(hb_wire_decode(out.data, out.len, key, &got), 0, "bit %zu", i);
		out.data[i / 8] ^= 1u << (i % 8);
	}
	cr_expect_eq(hb_wire_decode(out.data, out.len, key, &got), 0);
}

Test(hb_wire, sizes)
{
	unsigned char big[HB_WIRE_MAX + 1] = { 0 };
	struct hb_msg got;

	hb_wire_encode(&msg, key, &out);
	for (size_t n = 0; n < out.len; n++)
		cr_expect_lt(hb_wire_decode(out.data, n, key, &got), 0, "%zu bytes", n);
	cr_expect_eq(hb_wire_decode(out.data, 3, key, &got), MM_ERR_TRUNCATED);
	cr_expect_eq(hb_wire_decode(big, sizeof(big), key, &got), MM_ERR_TOOBIG);
	cr_expect_eq(hb_wire_decode(big, HB_WIRE_MIN, key, &got), MM_ERR_MAGIC);
}

Test(hb_wire, authentic_but_bad_fields)
{
	struct hb_msg got;

	msg.name[0] = '\0';	/* no name */
	hb_wire_encode(&msg, key, &out);
	cr_expect_eq(hb_wire_decode(out.data, out.len, key, &got), MM_ERR_FORMAT);
	mm_buf_reset(&out);
	strcpy(msg.name, "mx\n1");
	hb_wire_encode(&msg, key, &out);
	cr_expect_eq(hb_wire_decode(out.data, out.len, key, &got), MM_ERR_FORMAT);
	mm_buf_reset(&out);
	strcpy(msg.name, "mx1");
	msg.seq = 0;
	hb_wire_encode(&msg, key, &out);
	cr_expect_eq(hb_wire_decode(out.data, out.len, key, &got), MM_ERR_FORMAT);
	mm_buf_reset(&out);
	msg.seq = 1;
	msg.pressure_io = 10001;
	hb_wire_encode(&msg, key, &out);
	cr_expect_eq(hb_wire_decode(out.data, out.len, key, &got), MM_ERR_FORMAT);
}

/* Random bytes, and random bytes behind a valid header: never accepted,
   never a crash (run under the sanitizers). */
Test(hb_wire, garbage)
{
	unsigned char buf[HB_WIRE_MAX + 8];
	struct hb_msg got;

	srand(1);
	hb_wire_encode(&msg, key, &out);
	for (int k = 0; k < 20000; k++) {
		size_t n = (size_t)rand() % sizeof(buf);

		for (size_t i = 0; i < n; i++)
			buf[i] = (unsigned char)rand();
		if (k % 2 == 0 && n >= 5)
			memcpy(buf, out.data, 5);
		cr_assert_lt(hb_wire_decode(buf, n, key, &got), 0);
	}
}
