/* SPDX-License-Identifier: MIT
 * test-hb-health.c - this store's verdict: thresholds and the window. */
#include <criterion/criterion.h>
#include <string.h>
#include "hb-health.h"

static const struct hb_health_thresholds thr = {
	.probe_ms = 200, .pressure = 50, .min_free = 1ULL << 30, .window = 5,
};
static const struct hb_health_figures good = {
	.probe_us = 3000, .pressure_io = 120, .free_bytes = 10ULL << 30,
};

Test(hb_health, thresholds)
{
	struct hb_health_figures f = good;
	char why[120];

	cr_expect_not(hb_health_over(&f, &thr, why, sizeof(why)));
	cr_expect_str_eq(why, "");
	f.probe_us = 200000;
	cr_expect_not(hb_health_over(&f, &thr, why, sizeof(why)), "at the threshold");
	f.probe_us = 412345;
	cr_expect(hb_health_over(&f, &thr, why, sizeof(why)));
	cr_expect_str_eq(why, "probe 412 ms > 200 ms");
	f = good;
	f.pressure_io = 5001;
	cr_expect(hb_health_over(&f, &thr, why, sizeof(why)));
	cr_expect_str_eq(why, "io pressure 50.01% > 50%");
	f = good;
	f.pressure_cpu = f.pressure_mem = 10000;
	cr_expect_not(hb_health_over(&f, &thr, why, sizeof(why)), "io only");
	f = good;
	f.free_bytes = (1ULL << 30) - 1;
	cr_expect(hb_health_over(&f, &thr, why, sizeof(why)));
	cr_expect_str_eq(why, "free 1073741823 bytes < 1073741824");
	f = good;
	f.probe_failed = true;
	cr_expect(hb_health_over(&f, &thr, why, sizeof(why)));
	cr_expect_str_eq(why, "store probe failed");
}

Test(hb_health, degraded_after_window_healthy_after_window)
{
	struct hb_health h;
	struct hb_health_figures slow = good;

	memset(&h, 0, sizeof(h));
	slow.probe_us = 500000;
	for (int i = 0; i < 4; i++)
		cr_expect_not(hb_health_state(&h, &slow, &thr), "sample %d", i);
	cr_expect(hb_health_state(&h, &slow, &thr), "5th sample over");
	cr_expect_str_eq(h.reason, "probe 500 ms > 200 ms");
	/* one good sample does not clear it; window good ones do */
	for (int i = 0; i < 4; i++)
		cr_expect(hb_health_state(&h, &good, &thr), "good sample %d", i);
	cr_expect_not(hb_health_state(&h, &good, &thr));
	cr_expect_str_eq(h.reason, "");
}

Test(hb_health, a_good_sample_restarts_the_count)
{
	struct hb_health h;
	struct hb_health_figures slow = good;

	memset(&h, 0, sizeof(h));
	slow.pressure_io = 9000;
	for (int k = 0; k < 10; k++) {
		for (int i = 0; i < 4; i++)
			cr_expect_not(hb_health_state(&h, &slow, &thr));
		cr_expect_not(hb_health_state(&h, &good, &thr));
	}
}

Test(hb_health, window_of_one)
{
	struct hb_health_thresholds t = thr;
	struct hb_health h;
	struct hb_health_figures full = good;

	memset(&h, 0, sizeof(h));
	t.window = 1;
	full.free_bytes = 0;
	cr_expect(hb_health_state(&h, &full, &t));
	cr_expect_not(hb_health_state(&h, &good, &t));
}
