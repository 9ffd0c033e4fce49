/* SPDX-License-Identifier: MIT
 * test-hb-wire.c - the heartbeat datagram: round trip, authentication, and
 * refusal of short, long, garbled and forged input. */
#include <criterion/criterion.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
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
	msg.ready = true;
	msg.members_hash = 0xfeedfacecafebeefULL;
	msg.head = 977;
	msg.n_applied = 2;
	msg.applied[0].member = 0;
	msg.applied[0].lsn = 12;
	msg.applied[1].member = 2;
	msg.applied[1].lsn = 970;
	msg.endorse.lease = true;
	msg.endorse.view_id = 7;
	msg.endorse.excl = 1ULL << 1;
	msg.endorse.prev_excl = 0;
	msg.endorse.n_prefs = 1;
	msg.endorse.prefs[0].member = 1;
	msg.endorse.prefs[0].n = 2;
	msg.endorse.prefs[0].order[0] = 2;
	msg.endorse.prefs[0].order[1] = 0;
	msg.endorse.n_pins = 2;
	msg.endorse.pins[0].hash = 0x10;
	msg.endorse.pins[0].cur = 2;
	msg.endorse.pins[0].prev = HB_WIRE_PIN_NONE;
	msg.endorse.pins[1].hash = 0xff00000000000000ULL;
	msg.endorse.pins[1].cur = HB_WIRE_PIN_NONE;
	msg.endorse.pins[1].prev = 0;
	msg.pins_hash = 0x0123456789abcdefULL;
	msg.pins_count = 3;
	msg.has_pin = true;
	strcpy(msg.pin.account, "example.org/alice");
	msg.pin.member = 1;
	msg.pin.seq = 1764000000123456789ULL;
}

/* Offsets of the version 2 fields in out, for the setup() message. */
static size_t v2_off(void)
{
	return 4 + 1 + 1 + 1 + strlen(msg.name) + 8 + 8 + 8 + 4 + 6 + 8 + 8 + 4 + 1 +
	       strlen(msg.reason);
}

/* Recomputes the HMAC after a test changed out, so only the decoder's
   field checks can refuse it. */
static void remac(void)
{
	unsigned int len = HB_WIRE_MAC_LEN;

	HMAC(EVP_sha256(), key, HB_WIRE_KEY_LEN, out.data, out.len - HB_WIRE_MAC_LEN,
	     out.data + out.len - HB_WIRE_MAC_LEN, &len);
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
	cr_assert_eq(out.len, HB_WIRE_MIN + strlen("mx1") + strlen(msg.reason) + 2 * 9 +
		     2 + 2 + 2 * 10 + 1 + strlen(msg.pin.account) + 1 + 8);
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
	mm_buf_reset(&out);
	msg.pressure_io = 1;
	msg.pin.seq = 0;
	hb_wire_encode(&msg, key, &out);
	cr_expect_eq(hb_wire_decode(out.data, out.len, key, &got), MM_ERR_FORMAT, "pin seq 0");
	mm_buf_reset(&out);
	msg.pin.seq = 1;
	strcpy(msg.pin.account, "example.org/a\tb");
	hb_wire_encode(&msg, key, &out);
	cr_expect_eq(hb_wire_decode(out.data, out.len, key, &got), MM_ERR_FORMAT,
		     "a control byte in a pinned account");
}

/* A cleared pin, no pin definition, no pin entry: all round-trip. */
Test(hb_wire, pins_round_trip)
{
	struct hb_msg got;

	msg.pin.member = HB_WIRE_PIN_NONE;
	hb_wire_encode(&msg, key, &out);
	cr_assert_eq(hb_wire_decode(out.data, out.len, key, &got), 0);
	cr_expect_eq(got.pin.member, HB_WIRE_PIN_NONE);
	cr_expect_str_eq(got.pin.account, "example.org/alice");
	cr_expect_eq(got.pin.seq, msg.pin.seq);
	cr_expect_eq(got.endorse.n_pins, 2);
	cr_expect_eq(got.endorse.pins[1].prev, 0);
	mm_buf_reset(&out);
	msg.has_pin = false;
	memset(&msg.pin, 0, sizeof(msg.pin));
	msg.endorse.n_pins = 0;
	memset(msg.endorse.pins, 0, sizeof(msg.endorse.pins));
	hb_wire_encode(&msg, key, &out);
	cr_assert_eq(hb_wire_decode(out.data, out.len, key, &got), 0);
	cr_expect_eq(memcmp(&got, &msg, sizeof(msg)), 0);
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

Test(hb_wire, longest_fits)
{
	struct hb_msg got;

	memset(msg.name, 'n', HB_WIRE_NAME_MAX);
	memset(msg.reason, 'r', HB_WIRE_REASON_MAX);
	msg.n_applied = HB_WIRE_MEMBERS_MAX - 1;
	for (unsigned int i = 0; i < msg.n_applied; i++) {
		msg.applied[i].member = (uint8_t)(i + 1);
		msg.applied[i].lsn = ~0ULL - i;
	}
	msg.endorse.n_prefs = HB_WIRE_PREFS_MAX;
	for (unsigned int i = 0; i < HB_WIRE_PREFS_MAX; i++) {
		struct hb_pref *pf = &msg.endorse.prefs[i];

		pf->member = (uint8_t)i;
		pf->n = HB_WIRE_MEMBERS_MAX - 1;
		for (unsigned int j = 0, k = 0; j < HB_WIRE_MEMBERS_MAX; j++)
			if (j != i)
				pf->order[k++] = (uint8_t)j;
	}
	/* 16 pins and 16 other accounts pinned in the previous view */
	msg.endorse.n_pins = HB_WIRE_PINS_MAX;
	for (unsigned int i = 0; i < HB_WIRE_PINS_MAX; i++) {
		msg.endorse.pins[i].hash = 1000 + i;
		msg.endorse.pins[i].cur = i < 16 ? (uint8_t)i : HB_WIRE_PIN_NONE;
		msg.endorse.pins[i].prev = i < 16 ? HB_WIRE_PIN_NONE : (uint8_t)i;
	}
	msg.pins_count = HB_WIRE_PINS_MAX;
	memset(msg.pin.account, 'a', HB_WIRE_ACCOUNT_MAX);
	hb_wire_encode(&msg, key, &out);
	cr_assert_eq(out.len, 2011);
	cr_assert_leq(out.len, HB_WIRE_MAX);
	cr_assert_eq(hb_wire_decode(out.data, out.len, key, &got), 0);
	cr_expect_eq(memcmp(&got, &msg, sizeof(msg)), 0);
}

Test(hb_wire, version_1_is_refused)
{
	struct hb_msg got;

	hb_wire_encode(&msg, key, &out);
	out.data[4] = 1;
	remac();
	cr_expect_eq(hb_wire_decode(out.data, out.len, key, &got), MM_ERR_VERSION);
}

Test(hb_wire, witness_flag)
{
	struct hb_msg got;

	msg.witness = true;
	msg.ready = false;
	hb_wire_encode(&msg, key, &out);
	cr_assert_eq(hb_wire_decode(out.data, out.len, key, &got), 0);
	cr_expect(got.witness);
	cr_expect(!got.ready);
	cr_expect(!got.owes);
	msg.owes = true;
	mm_buf_reset(&out);
	hb_wire_encode(&msg, key, &out);
	cr_assert_eq(hb_wire_decode(out.data, out.len, key, &got), 0);
	cr_expect(got.owes && got.witness);
	out.data[5] |= 16;	/* a flag nobody defined */
	remac();
	cr_expect_eq(hb_wire_decode(out.data, out.len, key, &got), MM_ERR_FORMAT);
}

/* Authentic datagrams whose counts or indices are hostile: each byte
   named is set to the value, the HMAC recomputed, and the decoder must
   refuse it without reading past the end. */
struct hostile { const char *what; size_t off; uint8_t value; };

Test(hb_wire, hostile_counts)
{
	/* layout after v2_off(): hash 8, head 8, n_applied 1, 2 x (1 + 8),
	   lease 1, view 8, excl 8, prev 8, n_prefs 1, p 1, k 1, order 2;
	   version 3: n_pins 1, 2 x (hash 8, cur 1, prev 1), pins_hash 8,
	   pins_count 1, has_pin 1, account length 1, account 17, member 1,
	   seq 8, prefs_moving 8 */
	const size_t a = 16, pr = a + 1 + 18 + 1 + 24, v3 = pr + 5, g = v3 + 1 + 20 + 8;
	const struct hostile cases[] = {
		{ "n_applied 64", a, 64 },
		{ "n_applied 255", a, 255 },
		{ "n_applied one too many", a, 3 },
		{ "n_applied one too few", a, 1 },
		{ "applied member 64", a + 1, 64 },
		{ "applied not increasing", a + 10, 0 },
		{ "lease 2", a + 19, 2 },
		{ "n_prefs 9", pr, 9 },
		{ "n_prefs 255", pr, 255 },
		{ "n_prefs one too many", pr, 2 },
		{ "prefs member 64", pr + 1, 64 },
		{ "prefs k 64", pr + 2, 64 },
		{ "prefs k one too many", pr + 2, 3 },
		{ "prefs k one too few", pr + 2, 1 },
		{ "prefs names p", pr + 3, 1 },
		{ "prefs names a member twice", pr + 4, 2 },
		{ "prefs entry 200", pr + 3, 200 },
		{ "n_pins 33", v3, 33 },
		{ "n_pins 255", v3, 255 },
		{ "n_pins one too many", v3, 3 },
		{ "n_pins one too few", v3, 1 },
		{ "pin cur 64", v3 + 1 + 8, 64 },
		{ "pin prev 200", v3 + 1 + 9, 200 },
		{ "pin in neither view", v3 + 1 + 8, HB_WIRE_PIN_NONE },
		{ "pin hashes not increasing", v3 + 11 + 7, 0 },
		{ "pins_count 33", g, 33 },
		{ "has_pin 2", g + 1, 2 },
		{ "pinned account of 0 bytes", g + 2, 0 },
		{ "pinned account one byte too long", g + 2, 18 },
		{ "pinned account one byte too short", g + 2, 16 },
		{ "pinned account with a newline", g + 3, '\n' },
		{ "pinned account with a NUL", g + 3, 0 },
		{ "pin definition member 64", g + 3 + 17, 64 },
		{ "pin definition member 254", g + 3 + 17, 254 },
	};
	struct hb_msg got;

	hb_wire_encode(&msg, key, &out);
	cr_assert_eq(out.len, v2_off() + g + 3 + 17 + 1 + 8 + 8 + HB_WIRE_MAC_LEN);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		unsigned char *b = out.data + v2_off() + cases[i].off, save = *b;

		*b = cases[i].value;
		remac();
		cr_expect_eq(hb_wire_decode(out.data, out.len, key, &got), MM_ERR_FORMAT,
			     "%s", cases[i].what);
		cr_expect_eq(got.seq, 0, "%s: no partial result", cases[i].what);
		*b = save;
	}
	remac();
	cr_expect_eq(hb_wire_decode(out.data, out.len, key, &got), 0);
}

/* Every truncation of an authentic datagram, re-authenticated, so that
   the field decoder (not the HMAC) meets the short input. */
Test(hb_wire, authentic_truncations)
{
	struct hb_msg got;
	struct mm_buf full = { 0 };

	hb_wire_encode(&msg, key, &full);
	for (size_t n = HB_WIRE_MIN; n < full.len; n++) {
		unsigned int len = HB_WIRE_MAC_LEN;

		mm_buf_reset(&out);
		mm_buf_append(&out, full.data, n - HB_WIRE_MAC_LEN);
		mm_buf_append(&out, full.data, HB_WIRE_MAC_LEN);
		HMAC(EVP_sha256(), key, HB_WIRE_KEY_LEN, out.data, out.len - HB_WIRE_MAC_LEN,
		     out.data + out.len - HB_WIRE_MAC_LEN, &len);
		cr_expect_lt(hb_wire_decode(out.data, out.len, key, &got), 0, "%zu bytes", n);
	}
	mm_buf_free(&full);
}
