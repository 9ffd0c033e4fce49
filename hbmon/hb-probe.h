/* SPDX-License-Identifier: MIT
 * hb-probe.h - samples this store's health figures in a thread of its own,
 * so a store stuck in fsync cannot stop the heartbeats. */
#ifndef HB_PROBE_H
#define HB_PROBE_H
#include <pthread.h>
#include <stdint.h>
#include <time.h>
#include "hb-health.h"

struct hb_probe;

/* Starts sampling dir every interval_ms; delay_ms (a test knob, [hbmon]
   probe_delay_ms) is slept inside every probe. Returns 0 with *probe_r,
   or -1 with *error_r. */
int hb_probe_start(const char *dir, unsigned int interval_ms, unsigned int delay_ms,
		   struct hb_probe **probe_r, const char **error_r);
/* TESTS ONLY: changes that delay while it runs (control command
   "probe-delay MS"), to make a running store slow on purpose. */
void hb_probe_set_delay(struct hb_probe *probe, unsigned int delay_ms);
/* Stops the thread and frees; *probe_r is NULLed. */
void hb_probe_stop(struct hb_probe **probe_r);
/* The latest figures, with a probe still running counted at its elapsed
   time so far. *error_r (borrowed until the next call, may be "") is the last
   probe error.
   Returns 1 with a fresh sample since the last call, 0 otherwise.
   Called from the event loop thread only. */
int hb_probe_get(struct hb_probe *probe, struct hb_health_figures *f_r,
		 const char **error_r);

/* For the daemon's threads (this one, hb-store.c): a condition variable
   that times out on CLOCK_MONOTONIC, and that clock ms from now. */
void hb_cond_init_mono(pthread_cond_t *cond);
void hb_mono_in(unsigned int ms, struct timespec *ts_r);

/* One pressure file's "some avg10", x100; -1 when unreadable. */
int hb_probe_pressure(const char *path);

#endif
