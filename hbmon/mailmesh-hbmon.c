/* SPDX-License-Identifier: MIT
 * mailmesh-hbmon.c - main(): options, start-up checks, the event loop of
 * heartbeats and health (hb-net.c) and the control socket (hb-ctl.c). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <event2/event.h>
#include "daemon.h"
#include "hb.h"
#include "log.h"
#include "mem.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: mailmesh-hbmon [--witness] -c FILE [-f] [-v]\n"
		"  --witness a voter with no store: votes, never active\n"
		"  -c FILE   node configuration (INI): [hbmon] listen, interval, timeout,\n"
		"            thresholds; [peer NAME] hbmon = HOST:PORT\n"
		"  -f        stay in the foreground and log to stderr\n"
		"  -v        verbose logging\n");
}

static int check_cfg(const struct mm_cfg *cfg, const char **error_r)
{
	static char err[512];

	if (cfg->hb_listen == NULL) {
		snprintf(err, sizeof(err), "%s: missing [hbmon] listen", cfg->path);
		*error_r = err;
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct hb_daemon d;
	struct mm_daemon_sigs sigs = { { NULL } };
	const char *cfg_path = NULL, *error;
	bool foreground = false;
	int c, ret = 1;

	static const struct option longopts[] = {
		{ "witness", no_argument, NULL, 'W' },
		{ NULL, 0, NULL, 0 },
	};
	bool witness = false;

	while ((c = getopt_long(argc, argv, "c:fvh", longopts, NULL)) != -1) {
		switch (c) {
		case 'W': witness = true; break;
		case 'c': cfg_path = optarg; break;
		case 'f': foreground = true; break;
		case 'v': mm_log_verbose = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (cfg_path == NULL || optind != argc) {
		usage(stderr);
		return 2;
	}
	memset(&d, 0, sizeof(d));
	d.fd = -1;
	d.witness_mode = witness;
	mm_log_init("mailmesh-hbmon", true);
	if (mm_cfg_load(cfg_path, &d.cfg, &error) < 0 || check_cfg(d.cfg, &error) < 0 ||
	    hb_key_load(&d, &error) < 0) {
		mm_log_error("%s", error);
		mm_cfg_free(&d.cfg);
		return 1;
	}
	d.thr.probe_ms = d.cfg->hb_probe_ms;
	d.thr.pressure = d.cfg->hb_pressure;
	d.thr.min_free = d.cfg->hb_min_free;
	d.thr.window = d.cfg->hb_window;
	if (getrandom(&d.incarnation, sizeof(d.incarnation), 0) != sizeof(d.incarnation)) {
		mm_log_error("getrandom failed: %m");
		goto out;
	}
	d.ctl_path = mm_strdup_printf("%s/hbmon.sock", d.cfg->state);
	if (mm_daemon_mkdir(d.cfg->state) < 0) {
		mm_log_error("state %s: mkdir failed: %m", d.cfg->state);
		goto out;
	}
	if (mm_daemon_detach("mailmesh-hbmon", foreground) < 0) {
		mm_log_error("daemon failed: %m");
		goto out;
	}
	d.base = event_base_new();
	if (hb_ctl_start(&d, &error) < 0 || hb_net_start(&d, &error) < 0) {
		mm_log_error("%s", error);
		goto out;
	}
	mm_daemon_sigs_add(&sigs, d.base);
	mm_log_info("%s %s: heartbeats on %s every %u ms to %zu member(s), timeout %u ms, "
		    "lease %u ms", d.witness_mode ? "witness" : "store", d.cfg->node_name,
		    d.cfg->hb_listen, d.cfg->hb_interval_ms, d.n_dests, d.cfg->hb_timeout_ms,
		    d.cfg->hb_lease_ms);
	event_base_dispatch(d.base);
	ret = 0;
out:
	hb_net_stop(&d);
	hb_ctl_stop(&d);
	mm_daemon_sigs_free(&sigs);
	if (d.base != NULL)
		event_base_free(d.base);
	free(d.ctl_path);
	mm_cfg_free(&d.cfg);
	return ret;
}
