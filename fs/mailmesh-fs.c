/* SPDX-License-Identifier: MIT
 * mailmesh-fs.c - main(): options, start-up checks, journal recovery,
 * mount, the multithreaded FUSE loop, and a clean unmount on SIGTERM. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include "fs.h"
#include "log.h"
#include "mem.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: mailmesh-fs -c FILE [-f] [-d] [-v] [-o OPT[,OPT...]]\n"
		"  -c FILE   node configuration (INI)\n"
		"  -f        stay in the foreground and log to stderr\n"
		"  -d        FUSE debug output (implies -f)\n"
		"  -v        verbose logging\n"
		"  -o OPTS   FUSE mount options, e.g. allow_other\n"
		"Unmount with fusermount3 -u MOUNT or SIGTERM.\n");
}

static void raise_nofile(void)
{
	struct rlimit rl;

	/* one O_PATH fd per inode the kernel holds */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

int main(int argc, char **argv)
{
	struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
	struct fuse_loop_config *loop;
	struct mm_journal_settings jset;
	const char *cfg_path = NULL, *error;
	bool foreground = false, debug = false;
	struct mm_cfg *cfg;
	struct stat sst, jst;
	struct fs fs;
	char *opts;
	int c, ret = 1;

	while ((c = getopt(argc, argv, "c:fdvo:h")) != -1) {
		switch (c) {
		case 'c': cfg_path = optarg; break;
		case 'f': foreground = true; break;
		case 'd': debug = foreground = true; break;
		case 'v': mm_log_verbose = true; break;
		case 'o':
			fuse_opt_add_arg(&args, "-o");
			fuse_opt_add_arg(&args, optarg);
			break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (cfg_path == NULL || optind != argc) {
		usage(stderr);
		return 2;
	}
	mm_log_init("mailmesh-fs", true);
	if (mm_cfg_load(cfg_path, &cfg, &error) < 0) {
		mm_log_error("%s", error);
		return 1;
	}
	umask(0);	/* the kernel already applied the caller's umask */
	raise_nofile();
	if (fs_init(&fs, cfg, &error) < 0) {
		mm_log_error("%s", error);
		goto out_fs;
	}
	if (mkdir(cfg->state, 0700) < 0 && errno != EEXIST) {
		mm_log_error("state %s: mkdir failed: %m", cfg->state);
		goto out_fs;
	}
	if (mkdir(cfg->mount, 0755) < 0 && errno != EEXIST) {
		mm_log_error("mount %s: mkdir failed: %m", cfg->mount);
		goto out_fs;
	}
	memset(&jset, 0, sizeof(jset));
	jset.fsync = cfg->fsync;
	jset.segment_size = cfg->segment_size;
	jset.retention_s = cfg->retention_s;
	jset.retention_bytes = cfg->retention_bytes;
	jset.batch_interval_ms = cfg->batch_interval_ms;
	jset.store_fd = -1;
	if (stat(cfg->store, &sst) == 0 && stat(cfg->state, &jst) == 0 &&
	    sst.st_dev != jst.st_dev)
		jset.store_fd = fs.root_fd;	/* syncfs the store before the journal */
	if (cfg->fsync == MM_FSYNC_NEVER)
		mm_log_warn("journal fsync = never: for benchmarks only, a crash "
			    "loses records of visible mail");
	if (mm_journal_open(cfg->state, &jset, &fs.journal, &error) < 0) {
		mm_log_error("journal: %s", error);
		goto out_fs;
	}
	if (fs_recover(&fs, &error) < 0) {
		mm_log_error("recovery: %s", error);
		goto out_journal;
	}

	fuse_opt_insert_arg(&args, 0, argv[0]);
	/* [fs] permissions = kernel adds the kernel's own checks on cached
	   entries, at two round trips per rename (docs/architecture.md) */
	opts = mm_strdup_printf("-o%sfsname=mailmesh:%s,subtype=mailmesh",
				cfg->permissions == MM_PERM_KERNEL ? "default_permissions," : "",
				cfg->node_name);
	fuse_opt_add_arg(&args, opts);
	free(opts);
	if (debug)
		fuse_opt_add_arg(&args, "-d");
	fs.se = fuse_session_new(&args, &fs_ops, sizeof(fs_ops), &fs);
	if (fs.se == NULL) {
		mm_log_error("fuse_session_new failed (bad -o option?)");
		goto out_journal;
	}
	if (fuse_set_signal_handlers(fs.se) != 0)
		goto out_session;
	if (fuse_session_mount(fs.se, cfg->mount) != 0) {
		mm_log_error("mount %s failed", cfg->mount);
		goto out_signals;
	}
	if (!foreground)
		mm_log_init("mailmesh-fs", false);
	/* threads only after the fork of fuse_daemonize() */
	if (fuse_daemonize(foreground) != 0)
		goto out_unmount;
	if (mm_journal_start(fs.journal, &error) < 0) {
		mm_log_error("journal: %s", error);
		goto out_unmount;
	}
	if (fs_ctl_start(&fs, &error) < 0) {
		mm_log_error("%s", error);
		goto out_unmount;
	}
	mm_log_info("serving %s on %s (node %s, journal fsync=%s, account_depth=%u)",
		    cfg->store, cfg->mount, cfg->node_name, mm_fsync_str(cfg->fsync),
		    cfg->account_depth);
	loop = fuse_loop_cfg_create();
	/* enough idle workers that a burst of clients never makes libfuse
	   create and destroy threads per request; one /dev/fuse fd each */
	fuse_loop_cfg_set_max_threads(loop, 32);
	fuse_loop_cfg_set_idle_threads(loop, 16);
	fuse_loop_cfg_set_clone_fd(loop, 1);
	/* libfuse returns the number of the signal that ended the loop:
	   SIGTERM, SIGINT and SIGHUP are the normal way to stop */
	c = fuse_session_loop_mt(fs.se, loop);
	ret = c == 0 || c == SIGTERM || c == SIGINT || c == SIGHUP ? 0 : 1;
	if (ret != 0)
		mm_log_error("FUSE loop failed: %s", strerror(c < 0 ? -c : c));
	fuse_loop_cfg_destroy(loop);
	fs_ctl_stop();
	mm_log_info("unmounting %s", cfg->mount);
out_unmount:
	fuse_session_unmount(fs.se);
out_signals:
	fuse_remove_signal_handlers(fs.se);
out_session:
	fuse_session_destroy(fs.se);
out_journal:
	mm_journal_close(&fs.journal);
out_fs:
	fs_deinit(&fs);
	mm_cfg_free(&cfg);
	fuse_opt_free_args(&args);
	return ret;
}
