/* SPDX-License-Identifier: MIT
 * mailmeshctl.c - the operator's command: read the journal, switch an
 * account between read-write and read-only, ask a running daemon for status;
 * replication commands are in repl-cmd.c, placement in hb-cmd.c.
 * JSON output through jansson (Debian's libjansson-dev). */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/stat.h>
#include <unistd.h>
#include "acct.h"
#include "cfg.h"
#include "ctl.h"
#include "ctl-json.h"
#include "hb-cmd.h"
#include "hb-drill.h"
#include "journal-file.h"
#include "log.h"
#include "maildir.h"
#include "mem.h"
#include "refused.h"
#include "repl-cmd.h"
#include "undelete.h"
#include "ctl-metrics.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: mailmeshctl -c FILE COMMAND [ARGS]\n"
		"       mailmeshctl placement --simulate [OPTIONS]\n"
		"commands:\n"
		"  journal [--from LSN] [--json] [--follow]\n"
		"                      print journal records, one per line\n"
		"  journal --refused [--json]\n"
		"                      the peers' records refused for a stale epoch\n"
		"  account ACCOUNT readonly|readwrite\n"
		"                      switch one account's mode on this store\n"
		"  status [--json]     the running mailmesh-fs's counters and\n"
		"                      mailmesh-hbmon's members: state, RTT, health;\n"
		"                      the accounts: active store, role here, epoch\n"
		"  events [--json]     the role changes of this store (STATE/events)\n"
		"  drain [STORE] [--off] [--timeout S]\n"
		"                      planned maintenance: move every account off this\n"
		"                      store, wait until its peers have all of its journal\n"
		"  promote ACCOUNT STORE | promote ACCOUNT --clear [--no-wait]\n"
		"                      planned switch of an account's active store to\n"
		"                      another of its holders (a pin), or back\n"
		"  drill ACCOUNT [--to STORE] [--hold S] [--timeout S] [--dry-run] [--json]\n"
		"                      a timed planned failover of the account and back:\n"
		"                      the time it was unwritable, records behind\n"
		"  metrics [--textfile PATH]\n"
		"                      every daemon's figures in Prometheus text format,\n"
		"                      or written atomically to PATH (node_exporter's\n"
		"                      textfile collector)\n"
		"  invalidate RELPATH...\n"
		"                      drop the kernel's cache of paths changed in the\n"
		"                      store behind the mount (relative to the store)\n"
		"  certs init          create the cluster CA ([tls] ca, key beside it)\n"
		"  certs node NAME     create NAME.crt and NAME.key signed by the CA\n"
		"  replication [--json]\n"
		"                      per peer: state, LSNs acknowledged, lag\n"
		"  resync ACCOUNT [PEER]\n"
		"                      send the account as it is in this store to its\n"
		"                      replicas (mail older than the journal, repairs)\n"
		"  pause ACCOUNT | resume ACCOUNT\n"
		"  expunge-guard ACCOUNT confirm|revert\n"
		"                      a mass expunge the guard holds: ship it, or\n"
		"                      bring its messages back from the replicas\n"
		"  undelete ACCOUNT [--folder F] [--since TIME] [--dry-run]\n"
		"                      restore expunged mail the replicas keep\n"
		"                      (TIME: 2h, 7d, YYYY-MM-DD[THH:MM], @SECONDS)\n"
		"  placement [ACCOUNT] [--json]\n"
		"                      each account's stores: its active, then its\n"
		"                      replicas; without ACCOUNT, every account in the\n"
		"                      store and the count per store\n"
		"  placement --simulate [--stores N] [--accounts N] [--fail K]\n"
		"            [--replicas N] [--seed S] [--json]\n"
		"                      how actives and replicas spread before and after\n"
		"                      K of N stores fail (no -c FILE needed)\n");
}

/* Sends one line to mailmesh-fs's control socket. Returns 0 with the reply
   in out, 1 when no daemon listens, -1 on error (message printed). */
static int ctl_call(const struct mm_cfg *cfg, const char *line, char *out, size_t outsize)
{
	char path[4200];
	const char *error;
	int ret;

	snprintf(path, sizeof(path), "%s/control.sock", cfg->state);
	ret = mm_ctl_call(path, line, out, outsize, &error);
	if (ret < 0)
		fprintf(stderr, "mailmeshctl: %s\n", error);
	return ret;
}

static const char *flags_of(const char *name)
{
	struct mm_msgname mn;

	if (mm_msgname_parse(name, &mn) < 0 || mn.flags == NULL)
		return "";
	return mn.flags;
}

/* peer: a refused record's sender (journal --refused), else NULL;
   content: whether a refused delivery's content is kept */
static void print_json(const struct mm_journal_rec *r, const char *peer, bool content)
{
	json_t *o = json_object();
	char hex[33], *s;
	bool msg = r->sub == MM_SUB_NEW || r->sub == MM_SUB_CUR;

	if (peer != NULL)
		json_object_set_new(o, "peer", json_string(peer));
	json_object_set_new(o, "lsn", json_integer((json_int_t)r->lsn));
	json_object_set_new(o, "op", json_string(mm_op_str(r->op)));
	json_object_set_new(o, "time", json_real((double)r->time_ns / 1e9));
	/* exact: an epoch has more digits than a double keeps */
	json_object_set_new(o, "time_ns", json_integer((json_int_t)r->time_ns));
	json_object_set_new(o, "epoch", json_integer((json_int_t)r->epoch));
	ctl_json_set_str(o, "account", r->account);
	ctl_json_set_str(o, "folder", r->folder);
	if (r->sub != MM_SUB_NONE)
		json_object_set_new(o, "sub", json_string(mm_sub_str(r->sub)));
	ctl_json_set_str(o, "name", r->name);
	if (r->new_name[0] != '\0' || r->op == MM_OP_FOLDER_RENAME) {
		ctl_json_set_str(o, "new_folder", r->new_folder);
		if (r->new_sub != MM_SUB_NONE)
			json_object_set_new(o, "new_sub", json_string(mm_sub_str(r->new_sub)));
		if (r->new_name[0] != '\0')
			ctl_json_set_str(o, "new_name", r->new_name);
	}
	if (r->op == MM_OP_FLAGS || r->op == MM_OP_MOVE || r->op == MM_OP_COPY)
		ctl_json_set_str(o, "flags", flags_of(r->new_name));
	else if (msg)
		ctl_json_set_str(o, "flags", flags_of(r->name));
	if (r->op == MM_OP_DELIVER || r->op == MM_OP_COPY || r->op == MM_OP_META) {
		json_object_set_new(o, "size", json_integer((json_int_t)r->size));
		json_object_set_new(o, "mtime", json_real((double)r->mtime_ns / 1e9));
	}
	if (r->op == MM_OP_DELIVER || r->op == MM_OP_COPY) {
		mm_hash_hex(r->hash, hex);
		json_object_set_new(o, "hash", json_string(hex));
	}
	if (peer != NULL && r->op == MM_OP_DELIVER)
		json_object_set_new(o, "content_kept", json_boolean(content));
	if (r->op == MM_OP_META) {
		json_object_set_new(o, "deleted", json_boolean(r->rflags & MM_RECF_DELETED));
		json_object_set_new(o, "data_len", json_integer(r->data_len));
	}
	s = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII);
	puts(s);
	free(s);
	json_decref(o);
}

static void print_path(const char *folder, uint8_t sub, const char *name)
{
	printf("%s%s%s%s%s", folder, *folder != '\0' && (sub || *name) ? "/" : "",
	       sub ? mm_sub_str(sub) : "", sub && *name ? "/" : "", name);
}

static void print_text(const struct mm_journal_rec *r, const char *peer, bool content)
{
	char hex[33];

	if (peer != NULL)
		printf("%s ", peer);
	printf("%" PRIu64 " %s %s ", r->lsn, mm_op_str(r->op), r->account);
	print_path(r->folder, r->sub, r->name);
	if (r->new_name[0] != '\0' || r->op == MM_OP_FOLDER_RENAME) {
		printf(" -> ");
		print_path(r->new_folder, r->new_sub, r->new_name);
	}
	if (r->op == MM_OP_DELIVER || r->op == MM_OP_COPY) {
		mm_hash_hex(r->hash, hex);
		printf(" size=%" PRIu64 " hash=%s", r->size, hex);
	}
	if (r->op == MM_OP_META)
		printf(" %s", (r->rflags & MM_RECF_DELETED) ? "deleted" : "");
	if (r->epoch != 0)
		printf(" epoch=%" PRIu64, r->epoch);
	if (peer != NULL)
		printf(" time=%" PRIu64 "%s", r->time_ns, r->op != MM_OP_DELIVER ? "" :
		       content ? " content=kept" : " content=missing");
	putchar('\n');
}

/* journal --refused: every record kept in STATE/replication/refused,
   with its sender. 0, or 1 when something could not be read. */
static int refused_list(const struct mm_cfg *cfg, bool json)
{
	struct mm_refused_iter *it;
	struct mm_journal_rec rec;
	const char *peer, *error;
	int ret, bad = 0;

	if (mm_refused_iter_init(cfg->state, &it, &error) < 0) {
		fprintf(stderr, "mailmeshctl: journal --refused: %s\n", error);
		return 1;
	}
	while ((ret = mm_refused_iter_next(it, &peer, &rec, &error)) != 0) {
		if (ret < 0) {
			fprintf(stderr, "mailmeshctl: journal --refused: %s\n", error);
			bad = 1;
			continue;
		}
		bool content = rec.op == MM_OP_DELIVER &&
			(rec.size == 0 || mm_refused_content_has(cfg->state, rec.hash));

		if (json)
			print_json(&rec, peer, content);
		else
			print_text(&rec, peer, content);
	}
	mm_refused_iter_deinit(&it);
	return bad;
}

static int cmd_journal(const struct mm_cfg *cfg, int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "from", required_argument, NULL, 'F' },
		{ "json", no_argument, NULL, 'j' },
		{ "follow", no_argument, NULL, 'w' },
		{ "refused", no_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 },
	};
	struct mm_journal_reader *r;
	struct mm_journal_rec rec;
	const char *error;
	uint64_t from = 1;
	bool json = false, follow = false, refused = false;
	int c, ret, bad = 0;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", lopts, NULL)) != -1) {
		switch (c) {
		case 'F': {
			char *end;

			from = strtoull(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0') {
				fprintf(stderr, "mailmeshctl: --from needs an LSN, not '%s'\n", optarg);
				return 2;
			}
			break;
		}
		case 'j': json = true; break;
		case 'w': follow = true; break;
		case 'r': refused = true; break;
		default: return 2;
		}
	}
	if (refused && (follow || from != 1)) {
		fprintf(stderr, "mailmeshctl: journal --refused takes --json only\n");
		return 2;
	}
	if (refused)
		return refused_list(cfg, json);
	if (mm_journal_reader_open(cfg->state, from, &r, &error) < 0) {
		fprintf(stderr, "mailmeshctl: journal: %s\n", error);
		return 1;
	}
	for (;;) {
		ret = mm_journal_reader_next(r, &rec, &error);
		if (ret > 0) {
			if (json)
				print_json(&rec, NULL, false);
			else
				print_text(&rec, NULL, false);
			continue;
		}
		if (ret < 0) {
			fprintf(stderr, "mailmeshctl: journal: %s\n", error);
			bad = 1;
			continue;
		}
		if (!follow)
			break;
		fflush(stdout);
		if (mm_journal_reader_wait(r, -1) < 0)
			break;
	}
	mm_journal_reader_close(&r);
	return bad;
}

static int cmd_account(const struct mm_cfg *cfg, int argc, char **argv)
{
	const char *error;
	char reply[256];
	bool ro;
	int ret;

	if (argc != 3 || (strcmp(argv[2], "readonly") != 0 && strcmp(argv[2], "readwrite") != 0)) {
		fprintf(stderr, "usage: mailmeshctl -c FILE account ACCOUNT readonly|readwrite\n");
		return 2;
	}
	if (mm_acct_check(argv[1], cfg->account_depth, &error) < 0) {
		fprintf(stderr, "mailmeshctl: %s\n", error);
		return 2;
	}
	ro = strcmp(argv[2], "readonly") == 0;
	if (mm_acct_set(cfg->state, argv[1], ro, &error) < 0) {
		fprintf(stderr, "mailmeshctl: %s\n", error);
		return 1;
	}
	/* the daemon applies it before we return, so a fencing caller can
	   rely on it once this command has exited 0 */
	ret = ctl_call(cfg, "reload-accounts", reply, sizeof(reply));
	if (ret < 0)
		return 1;
	printf("%s: %s%s\n", argv[1], argv[2],
	       ret == 1 ? " (mailmesh-fs not running; applies when it starts)" : "");
	return 0;
}

/* mailmesh-fs's "ok key=value ..." as an object (numbers as numbers). */
static json_t *fs_status_json(const char *reply)
{
	json_t *o = json_object();
	char *copy = mm_strdup(reply), *save = NULL, *tok;

	for (tok = strtok_r(copy, " ", &save); tok != NULL; tok = strtok_r(NULL, " ", &save)) {
		char *eq = strchr(tok, '='), *end;
		long long v;

		if (eq == NULL)
			continue;
		*eq = '\0';
		errno = 0;
		v = strtoll(eq + 1, &end, 10);
		json_object_set_new(o, tok, eq[1] != '\0' && *end == '\0' && errno == 0 ?
				    json_integer(v) : json_string(eq + 1));
	}
	free(copy);
	return o;
}

/* The journal's segments, in bytes; -1 when the directory cannot be read. */
static int64_t journal_bytes(const struct mm_cfg *cfg)
{
	char *path = mm_strdup_printf("%s/journal", cfg->state);
	DIR *dir = opendir(path);
	struct dirent *de;
	int64_t total = 0;

	free(path);
	if (dir == NULL)
		return -1;
	while ((de = readdir(dir)) != NULL) {
		struct stat st;
		size_t len = strlen(de->d_name);

		if (len > 4 && strcmp(de->d_name + len - 4, ".mmj") == 0 &&
		    fstatat(dirfd(dir), de->d_name, &st, 0) == 0)
			total += st.st_size;
	}
	closedir(dir);
	return total;
}

/* metrics [--textfile PATH]: Prometheus text of whatever runs. */
static int cmd_metrics(const struct mm_cfg *cfg, int argc, char **argv)
{
	const char *textfile = NULL, *error;
	struct ctl_metrics_in in = { .store = cfg->node_name };
	json_t *fs = NULL, *repl = NULL, *hb = NULL, *fsck = NULL;
	struct mm_buf out = { 0 };
	char reply[4200], *path;
	int ret = 0;

	if (argc == 3 && strcmp(argv[1], "--textfile") == 0) {
		textfile = argv[2];
	} else if (argc != 1) {
		fprintf(stderr, "usage: mailmeshctl -c FILE metrics [--textfile PATH]\n");
		return 2;
	}
	if (ctl_call(cfg, "status", reply, sizeof(reply)) == 0)
		fs = fs_status_json(reply + 2);
	if (repl_cmd_status_get(cfg, &repl, &error) < 0)
		fprintf(stderr, "mailmeshctl: mailmesh-replicator: %s\n", error);
	if (hb_cmd_status_get(cfg, &hb, &error) < 0)
		fprintf(stderr, "mailmeshctl: mailmesh-hbmon: %s\n", error);
	path = mm_strdup_printf("%s/fsck.last", cfg->state);
	fsck = json_load_file(path, 0, NULL);
	free(path);
	in.fs = fs;
	in.repl = repl;
	in.hb = hb;
	in.fsck = json_is_object(fsck) ? fsck : NULL;
	in.journal_bytes = journal_bytes(cfg);
	ctl_metrics_render(&in, &out);
	if (textfile == NULL) {
		fwrite(out.data, 1, out.len, stdout);
	} else {
		/* the collector must never read half a file: write, sync, rename */
		char *tmp = mm_strdup_printf("%s.%d.tmp", textfile, (int)getpid());
		FILE *f = fopen(tmp, "w");
		bool ok = f != NULL && fwrite(out.data, 1, out.len, f) == out.len &&
			fflush(f) == 0 && fsync(fileno(f)) == 0;

		if (f != NULL && fclose(f) != 0)
			ok = false;
		if (!ok || rename(tmp, textfile) < 0) {
			fprintf(stderr, "mailmeshctl: writing %s: %s\n", textfile, strerror(errno));
			unlink(tmp);
			ret = 1;
		}
		free(tmp);
	}
	mm_buf_free(&out);
	json_decref(fs);
	json_decref(repl);
	json_decref(hb);
	json_decref(fsck);
	return ret;
}

/* status [--json]: mailmesh-fs's counters, then mailmesh-hbmon's view of
   the members. Exit 0 when either runs, 3 when neither does. */
static int cmd_status(const struct mm_cfg *cfg, int argc, char **argv)
{
	char reply[1024];
	const char *error;
	json_t *hb = NULL;
	bool json = argc == 2 && strcmp(argv[1], "--json") == 0;
	int fs_ret, hb_ret;

	if (argc > 2 || (argc == 2 && !json)) {
		fprintf(stderr, "usage: mailmeshctl -c FILE status [--json]\n");
		return 2;
	}
	fs_ret = ctl_call(cfg, "status", reply, sizeof(reply));
	hb_ret = hb_cmd_status_get(cfg, &hb, &error);
	if (hb_ret < 0)
		fprintf(stderr, "mailmeshctl: hbmon: %s\n", error);
	if (json) {
		json_t *o = json_object(), *fs = fs_ret == 0 ? fs_status_json(reply + 2) :
			json_object();
		json_t *members = hb != NULL ? json_incref(json_object_get(hb, "members")) :
			json_array();
		json_t *accounts = hb != NULL ? json_incref(json_object_get(hb, "accounts")) :
			NULL;

		json_object_set_new(fs, "running", json_boolean(fs_ret == 0));
		if (fs_ret == 1)
			json_object_set_new(fs, "error", json_string("not running (no control.sock)"));
		if (hb != NULL) {
			json_object_del(hb, "members");
			json_object_del(hb, "accounts");
			json_object_set_new(hb, "running", json_true());
		} else {
			hb = json_pack("{s:b, s:s}", "running", false, "error",
				       hb_ret == 1 ? "mailmesh-hbmon not running (no hbmon.sock)" :
				       error);
		}
		json_object_set_new(o, "members", members ? members : json_array());
		json_object_set_new(o, "accounts", accounts ? accounts : json_array());
		json_object_set_new(o, "hbmon", hb);
		json_object_set_new(o, "fs", fs);
		hb = NULL;
		json_dumpf(o, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(6));
		putchar('\n');
		json_decref(o);
	} else {
		if (fs_ret == 1)
			printf("mailmesh-fs: not running (no %s/control.sock)\n", cfg->state);
		else if (fs_ret == 0)
			printf("mailmesh-fs: running, %s\n", reply + 3);
		if (hb_ret == 1)
			printf("mailmesh-hbmon: not running (no %s/hbmon.sock)\n", cfg->state);
		else if (hb != NULL) {
			printf("mailmesh-hbmon: running, store %s, incarnation %s\n",
			       json_string_value(json_object_get(hb, "store")),
			       json_string_value(json_object_get(hb, "incarnation")));
			hb_cmd_status_print(hb);
			hb_cmd_accounts_print(json_object_get(hb, "accounts"));
		}
	}
	json_decref(hb);
	if (fs_ret < 0 || hb_ret < 0)
		return 1;
	return fs_ret == 1 && hb_ret == 1 ? 3 : 0;
}

static int cmd_invalidate(const struct mm_cfg *cfg, int argc, char **argv)
{
	char reply[512];
	int ret = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: mailmeshctl -c FILE invalidate RELPATH...\n");
		return 2;
	}
	for (int i = 1; i < argc; i++) {
		char *line;
		int r;

		if (argv[i][0] == '/' || strchr(argv[i], '\n') != NULL) {
			fprintf(stderr, "mailmeshctl: '%s': give a path relative to the store\n",
				argv[i]);
			return 2;
		}
		line = mm_strdup_printf("inval %s", argv[i]);
		r = ctl_call(cfg, line, reply, sizeof(reply));
		free(line);
		if (r == 1) {
			fprintf(stderr, "mailmeshctl: mailmesh-fs is not running\n");
			return 3;
		}
		if (r < 0)
			ret = 1;
	}
	return ret;
}

int main(int argc, char **argv)
{
	const char *cfg_path = NULL, *error;
	struct mm_cfg *cfg;
	int c, ret;

	mm_log_init("mailmeshctl", true);
	while ((c = getopt(argc, argv, "+c:h")) != -1) {
		switch (c) {
		case 'c': cfg_path = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc && cfg_path == NULL && strcmp(argv[optind], "placement") == 0)
		return hb_cmd_placement(NULL, argc - optind, argv + optind);
	if (cfg_path == NULL || optind >= argc) {
		usage(stderr);
		return 2;
	}
	if (mm_cfg_load(cfg_path, &cfg, &error) < 0) {
		fprintf(stderr, "mailmeshctl: %s\n", error);
		return 2;
	}
	argc -= optind;
	argv += optind;
	if (strcmp(argv[0], "journal") == 0)
		ret = cmd_journal(cfg, argc, argv);
	else if (strcmp(argv[0], "account") == 0)
		ret = cmd_account(cfg, argc, argv);
	else if (strcmp(argv[0], "status") == 0)
		ret = cmd_status(cfg, argc, argv);
	else if (strcmp(argv[0], "metrics") == 0)
		ret = cmd_metrics(cfg, argc, argv);
	else if (strcmp(argv[0], "invalidate") == 0)
		ret = cmd_invalidate(cfg, argc, argv);
	else if (strcmp(argv[0], "certs") == 0)
		ret = repl_cmd_certs(cfg, argc, argv);
	else if (strcmp(argv[0], "replication") == 0)
		ret = repl_cmd_replication(cfg, argc, argv);
	else if (strcmp(argv[0], "resync") == 0)
		ret = repl_cmd_resync(cfg, argc, argv);
	else if (strcmp(argv[0], "pause") == 0 || strcmp(argv[0], "resume") == 0)
		ret = repl_cmd_pause(cfg, argc, argv);
	else if (strcmp(argv[0], "expunge-guard") == 0)
		ret = ud_cmd_guard(cfg, argc, argv);
	else if (strcmp(argv[0], "undelete") == 0)
		ret = ud_cmd_undelete(cfg, argc, argv);
	else if (strcmp(argv[0], "placement") == 0)
		ret = hb_cmd_placement(cfg, argc, argv);
	else if (strcmp(argv[0], "drain") == 0)
		ret = hb_cmd_drain(cfg, argc, argv);
	else if (strcmp(argv[0], "promote") == 0)
		ret = hb_cmd_promote(cfg, argc, argv);
	else if (strcmp(argv[0], "events") == 0)
		ret = hb_cmd_events(cfg, argc, argv);
	else if (strcmp(argv[0], "drill") == 0)
		ret = hb_cmd_drill(cfg, argc, argv);
	else {
		usage(stderr);
		ret = 2;
	}
	mm_cfg_free(&cfg);
	return ret;
}
