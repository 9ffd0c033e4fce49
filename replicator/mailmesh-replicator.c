/* SPDX-License-Identifier: MIT
 * mailmesh-replicator.c - main(): options, start-up checks, TLS, the event
 * loop that runs the outbound links and inbound sessions, clean stop. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <event2/event.h>
#include "acct.h"
#include "daemon.h"
#include "log.h"
#include "mem.h"
#include "repl-apply.h"
#include "repl-tls.h"
#include "repl.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: mailmesh-replicator -c FILE [-f] [-v]\n"
		"  -c FILE   node configuration (INI): [replication] listen, [tls],\n"
		"            [peer NAME] address, [account PATTERN] policies\n"
		"  -f        stay in the foreground and log to stderr\n"
		"  -v        verbose logging\n");
}

/* What the replicator needs beyond what mailmesh-fs needs. */
static int check_cfg(const struct mm_cfg *cfg, const char **error_r)
{
	static char err[512];

	if (cfg->repl_listen == NULL)
		snprintf(err, sizeof(err), "%s: missing [replication] listen", cfg->path);
	else if (cfg->tls_ca == NULL || cfg->tls_cert == NULL || cfg->tls_key == NULL)
		snprintf(err, sizeof(err), "%s: [tls] needs ca, cert and key", cfg->path);
	else
		return 0;
	*error_r = err;
	return -1;
}

int main(int argc, char **argv)
{
	struct repl_daemon d;
	struct mm_daemon_sigs sigs = { { NULL } };
	const char *cfg_path = NULL, *error;
	bool foreground = false;
	int c, ret = 1;

	while ((c = getopt(argc, argv, "c:fvh")) != -1) {
		switch (c) {
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
	d.epochs_fd = -1;
	mm_log_init("mailmesh-replicator", true);
	if (mm_cfg_load(cfg_path, &d.cfg, &error) < 0 || check_cfg(d.cfg, &error) < 0) {
		mm_log_error("%s", error);
		mm_cfg_free(&d.cfg);
		return 1;
	}
	d.ssl_ctx = repl_tls_ctx_new(d.cfg->tls_ca, d.cfg->tls_cert, d.cfg->tls_key, &error);
	if (d.ssl_ctx == NULL) {
		mm_log_error("tls: %s", error);
		goto out;
	}
	if (repl_store_open(d.cfg->store, d.cfg->account_depth, &d.store, &error) < 0) {
		mm_log_error("store: %s", error);
		goto out;
	}
	d.fs_ctl_path = mm_strdup_printf("%s/control.sock", d.cfg->state);
	d.ctl_path = mm_strdup_printf("%s/replicator.sock", d.cfg->state);
	d.cursor_dir = mm_strdup_printf("%s/replication", d.cfg->state);
	d.content_dir = mm_strdup_printf("%s/replication/content", d.cfg->state);
	d.expunged_dir = mm_strdup_printf("%s/expunged", d.cfg->state);
	if (mm_daemon_mkdir(d.cfg->state) < 0 || mm_daemon_mkdir(d.cursor_dir) < 0 ||
	    mm_daemon_mkdir(d.content_dir) < 0) {
		mm_log_error("state %s: mkdir failed: %m", d.cursor_dir);
		goto out;
	}
	if (mm_acct_load(d.cfg->state, &d.ro, &d.n_ro, &error) < 0) {
		mm_log_error("%s", error);
		goto out;
	}
	repl_fence_start(&d);
	if (mm_daemon_detach("mailmesh-replicator", foreground) < 0) {
		mm_log_error("daemon failed: %m");
		goto out;
	}
	d.base = event_base_new();
	if (repl_ctl_start(&d, &error) < 0 || repl_listen_start(&d, &error) < 0) {
		mm_log_error("%s", error);
		goto out;
	}
	mm_daemon_sigs_add(&sigs, d.base);
	repl_content_start(&d);
	repl_trips_start(&d);
	repl_links_start(&d);
	mm_log_info("store %s: replicating, listening on %s, %zu peer(s)",
		    d.cfg->node_name, d.cfg->repl_listen, d.n_links);
	event_base_dispatch(d.base);
	ret = 0;
out:
	repl_links_stop(&d);
	repl_trips_stop(&d);
	repl_sessions_stop(&d);
	repl_fence_stop(&d);
	repl_ctl_stop(&d);
	if (d.prune_ev != NULL)
		event_free(d.prune_ev);
	mm_daemon_sigs_free(&sigs);
	if (d.base != NULL)
		event_base_free(d.base);
	repl_store_close(&d.store);
	if (d.ssl_ctx != NULL)
		SSL_CTX_free(d.ssl_ctx);
	mm_acct_list_free(&d.ro, d.n_ro);
	mm_acct_list_free(&d.active, d.n_active);
	free(d.active_epochs);
	free(d.fs_ctl_path);
	free(d.ctl_path);
	free(d.cursor_dir);
	free(d.content_dir);
	free(d.expunged_dir);
	mm_cfg_free(&d.cfg);
	return ret;
}
