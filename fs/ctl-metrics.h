/* SPDX-License-Identifier: MIT
 * ctl-metrics.h - `mailmeshctl metrics`: the daemons' status as Prometheus
 * text. Pure: mailmeshctl.c gathers the inputs; this only formats them. */
#ifndef CTL_METRICS_H
#define CTL_METRICS_H
#include <stdint.h>
#include <jansson.h>

struct mm_buf;

struct ctl_metrics_in {
	const char *store;	/* [node] name: the label every line carries */
	const json_t *fs;	/* mailmesh-fs's status as an object; NULL: not running */
	const json_t *repl;	/* array of mailmesh-replicator's status lines; NULL: not running */
	const json_t *hb;	/* mailmesh-hbmon's status object; NULL: not running */
	const json_t *fsck;	/* STATE/fsck.last (mailmesh-fsck's last run); NULL: none */
	int64_t journal_bytes;	/* the journal's segments; -1: unknown */
};

/* Appends every metric, with # HELP and # TYPE, to out. Figures a daemon
   that is not running would give are left out (mailmesh_up says why). */
void ctl_metrics_render(const struct ctl_metrics_in *in, struct mm_buf *out);

#endif
