/* SPDX-License-Identifier: MIT
 * hb-health.c - thresholds and the window that turn samples of this store
 * into healthy or degraded. Sampling is hb-probe.c's. */
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include "hb-health.h"

bool hb_health_over(const struct hb_health_figures *f,
		    const struct hb_health_thresholds *t, char *reason_r, size_t rsize)
{
	reason_r[0] = '\0';
	if (f->probe_failed)
		snprintf(reason_r, rsize, "store probe failed");
	else if (f->probe_us > (uint64_t)t->probe_ms * 1000)
		snprintf(reason_r, rsize, "probe %u ms > %u ms", f->probe_us / 1000,
			 t->probe_ms);
	else if (f->pressure_io > t->pressure * 100)
		snprintf(reason_r, rsize, "io pressure %u.%02u%% > %u%%",
			 f->pressure_io / 100, f->pressure_io % 100, t->pressure);
	else if (f->free_bytes < t->min_free)
		snprintf(reason_r, rsize, "free %llu bytes < %llu",
			 (unsigned long long)f->free_bytes, (unsigned long long)t->min_free);
	return reason_r[0] != '\0';
}

bool hb_health_state(struct hb_health *h, const struct hb_health_figures *f,
		     const struct hb_health_thresholds *t)
{
	char reason[sizeof(h->reason)];
	unsigned int window = t->window > 0 ? t->window : 1;

	if (hb_health_over(f, t, reason, sizeof(reason))) {
		h->under = 0;
		if (h->over < window)
			h->over++;
		memcpy(h->reason, reason, sizeof(reason));
		if (h->over >= window)
			h->degraded = true;
	} else {
		h->over = 0;
		if (h->under < window)
			h->under++;
		if (h->under >= window) {
			h->degraded = false;
			h->reason[0] = '\0';
		}
	}
	return h->degraded;
}
