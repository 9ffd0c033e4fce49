/* SPDX-License-Identifier: MIT
 * hb-health.h - this store's health verdict from its measured figures.
 * Pure: the figures come from hb-probe.c; no clock, no I/O, no logging. */
#ifndef HB_HEALTH_H
#define HB_HEALTH_H
#include <stdbool.h>
#include <stdint.h>

/* One sample of this store. */
struct hb_health_figures {
	uint32_t probe_us;	/* create, write 1 byte, fsync, remove */
	bool probe_failed;	/* the probe got an error (counts as over) */
	uint16_t pressure_io;	/* /proc/pressure/io some avg10, x100 */
	uint16_t pressure_cpu, pressure_mem;
	uint64_t free_bytes;	/* statvfs of the store, for unprivileged users */
};

struct hb_health_thresholds {
	unsigned int probe_ms;
	unsigned int pressure;	/* percent, io only */
	uint64_t min_free;
	unsigned int window;	/* consecutive samples to change verdict */
};

/* The verdict over the recent samples; zero-initialise. */
struct hb_health {
	bool degraded;
	unsigned int over, under;	/* consecutive samples over / under */
	char reason[120];		/* of the last sample over a threshold */
};

/* Whether one sample is over a threshold; *reason_r (size rsize) says
   which, e.g. "probe 412 ms > 200 ms", "" when it is not. */
bool hb_health_over(const struct hb_health_figures *f,
		    const struct hb_health_thresholds *t, char *reason_r, size_t rsize);
/* Feeds one sample. A store becomes degraded after window consecutive
   samples over a threshold and healthy again after window consecutive
   samples under them all. Returns h->degraded; h->reason says why. */
bool hb_health_state(struct hb_health *h, const struct hb_health_figures *f,
		     const struct hb_health_thresholds *t);

#endif
