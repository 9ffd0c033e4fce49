/* SPDX-License-Identifier: MIT
 * mailmesh-fsck.c - main(), options, the order of the checks, progress
 * and the report (text or JSON). Decisions are fsck-core.c's; this
 * store's I/O fsck-store.c's; the peers' fsck-peer.c's. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <jansson.h>
#include "acct.h"
#include "buf.h"
#include "cfg.h"
#include "classify.h"
#include "fsck-core.h"
#include "fsck-peer.h"
#include "fsck-store.h"
#include "inventory.h"
#include "log.h"
#include "mem.h"
#include "refused.h"

struct fsck {
	struct mm_cfg *cfg;
	struct mm_rules *rules;
	bool quick, repair, json, peers, progress;
	unsigned int threads;	/* for the walk of this store */
	char **ro;		/* read-only accounts here: replicas */
	size_t n_ro;
	struct fsck_journal j;
	bool have_journal;
	struct fsck_report r;
	struct fsck_peers *pp;	/* with --peers */
	char run[32];		/* lost+found/RUN of this repair */
	uint64_t last_tick_ns;
	const char *account;	/* being checked, for progress */
	uint64_t refused;	/* peers' records refused for a stale epoch, kept */
};

/* The records STATE/replication/refused keeps (split brain: see
   docs/runbook.md), reported for the operator to look at. */
static void count_refused(struct fsck *fk)
{
	struct mm_refused_iter *it;
	struct mm_journal_rec rec;
	const char *peer, *error;
	int ret;

	if (mm_refused_iter_init(fk->cfg->state, &it, &error) < 0) {
		mm_log_warn("%s", error);
		return;
	}
	while ((ret = mm_refused_iter_next(it, &peer, &rec, &error)) != 0) {
		if (ret < 0)
			mm_log_warn("%s", error);
		else
			fk->refused++;
	}
	mm_refused_iter_deinit(&it);
	if (fk->refused > 0)
		mm_log_warn("%" PRIu64 " record(s) of peers refused for a stale epoch are kept "
			    "in STATE/%s (mailmeshctl journal --refused)", fk->refused,
			    MM_REFUSED_DIR);
}

static uint64_t now_ns(clock_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000 + (uint64_t)ts.tv_nsec;
}

/* STATE/fsck.last: this run's outcome, for `mailmeshctl metrics` (written
   whole to a temporary name, then renamed: never half a file). */
static void save_last(const struct fsck *fk, int code, uint64_t start_ns)
{
	size_t fixed = 0;
	json_t *o;
	char *tmp, *path;

	if (fk->cfg == NULL)
		return;
	for (size_t i = 0; i < fk->r.n; i++)
		fixed += fk->r.p[i].fixed;
	o = json_pack("{s:I, s:i, s:I, s:I, s:f, s:s, s:b, s:b}",
		      "time", (json_int_t)time(NULL), "exit", code,
		      "problems", (json_int_t)fk->r.n, "fixed", (json_int_t)fixed,
		      "seconds", (double)(now_ns(CLOCK_MONOTONIC) - start_ns) / 1e9,
		      "mode", fk->quick ? "quick" : "content", "peers", fk->peers,
		      "repair", fk->repair);
	path = mm_strdup_printf("%s/fsck.last", fk->cfg->state);
	tmp = mm_strdup_printf("%s.tmp", path);
	if (o == NULL || json_dump_file(o, tmp, JSON_COMPACT) < 0 || rename(tmp, path) < 0) {
		mm_log_warn("cannot write %s: %s", path, strerror(errno));
		unlink(tmp);
	}
	json_decref(o);
	free(tmp);
	free(path);
}

static void usage(FILE *f)
{
	fprintf(f, "usage: mailmesh-fsck -c FILE [--quick] [--peers] [--repair] [--json] "
		"[-j N] [-v] [ACCOUNT...]\n"
		"  --quick   names, flags, sizes and recorded hashes; no content read\n"
		"  --peers   compare every account with each store that holds it\n"
		"  --repair  fix what can be fixed from the account's active store\n"
		"            (never deletes: files go to STATE/lost+found)\n"
		"  --json    the report as JSON on stdout\n"
		"  -j N      threads walking this store (default: one per CPU)\n"
		"exit: 0 clean, 1 errors fixed, 4 errors left, 8 operational error\n");
}

static void tick(void *ctx, uint64_t files, uint64_t bytes)
{
	struct fsck *fk = ctx;
	uint64_t t = now_ns(CLOCK_MONOTONIC);

	if (!fk->progress || t - fk->last_tick_ns < 200000000)
		return;
	fk->last_tick_ns = t;
	fprintf(stderr, "\r\033[Kmailmesh-fsck: %s: %" PRIu64 " files, %" PRIu64 " MB read",
		fk->account, files, bytes >> 20);
}

static void progress_done(struct fsck *fk)
{
	if (fk->progress && fk->last_tick_ns != 0)
		fprintf(stderr, "\r\033[K");
	fk->last_tick_ns = 0;
}

static bool is_replica(const struct fsck *fk, const char *account)
{
	return mm_acct_in(fk->ro, fk->n_ro, account, strlen(account));
}

static int check_account(struct fsck *fk, const char *account)
{
	struct mm_inv_progress prog = { .tick = tick, .ctx = fk };
	struct mm_inv *inv;
	const char *error;
	bool replica = is_replica(fk, account);

	fk->account = account;
	if (fk->peers)
		fsck_peers_ask(fk->pp, account, !fk->quick);
	if (mm_inv_scan_threads(fk->cfg->store, account, fk->rules, !fk->quick, fk->threads,
				&prog, &inv, &error) < 0) {
		progress_done(fk);
		mm_log_error("%s: %s", account, error);
		fk->r.operational = true;
		return -1;
	}
	progress_done(fk);
	fk->r.bytes += inv->bytes;
	if (fk->have_journal)
		fsck_journal_more(&fk->j, &fk->r);
	struct fsck_store_ctx ctx = {
		.store = fk->cfg->node_name, .journaled = !replica,
		.js = fk->have_journal ? fk->j.js : NULL, .scan_lsn = fk->j.last_lsn,
		.journal_since_ns = fk->j.first_lsn > 1 || !fk->j.any ? fk->j.first_ns :
			INT64_MIN, .journal_damaged = fk->j.corrupt > 0,
		.now_ns = (int64_t)now_ns(CLOCK_REALTIME),
	};

	/* no journal yet, or it begins after 1 (retention): files older
	   than its first record may be older than the journal */
	if (!fk->j.any)
		ctx.journal_since_ns = INT64_MAX;
	fsck_check_account(&ctx, inv, &fk->r);
	if (fk->peers)
		fsck_peers_compare(fk->pp, inv, !replica, &fk->r);
	mm_inv_free(&inv);
	return 0;
}

static void repair(struct fsck *fk)
{
	time_t t = time(NULL);

	strftime(fk->run, sizeof(fk->run), "%Y%m%d-%H%M%S", gmtime(&t));
	for (size_t i = 0; i < fk->r.n; i++) {
		struct fsck_problem *p = &fk->r.p[i];
		const char *error = NULL;
		char *where = NULL;
		int r = -1;
		bool ours = strcmp(p->store, fk->cfg->node_name) == 0;

		if (p->fix == FSCK_FIX_NONE || (!ours && p->fix != FSCK_FIX_RESYNC))
			continue;
		switch (p->fix) {
		case FSCK_FIX_QUARANTINE:
			r = fsck_quarantine(fk->cfg, fk->run, p, &where, &error);
			if (r == 0) {
				mm_log_info("repair: %s/%s/%s (%s) moved to %s", p->account, p->folder,
					    p->path, fsck_kind_str(p->kind), where);
				free(p->want);
				p->want = where;
			}
			break;
		case FSCK_FIX_FILL:
			r = fsck_fill(fk->cfg, fk->run, p, &where, &error);
			if (r == 0) {
				mm_log_info("repair: journal bytes at %016" PRIx64 ".mmj offset %"
					    PRIu64 " (%" PRIu64 ") saved to %s, a filler record "
					    "written over them", p->segment, p->offset, p->length,
					    where);
				free(p->want);
				p->want = where;
			}
			break;
		case FSCK_FIX_MKDIR:
			r = fsck_mkdirs(fk->cfg, p, &error);
			break;
		case FSCK_FIX_RENAME:
			r = fsck_rename(fk->cfg, p, &error);
			break;
		case FSCK_FIX_FETCH:
		case FSCK_FIX_RESYNC:
			r = fk->pp != NULL ? fsck_peers_repair(fk->pp, fk->run, p, &error) : -1;
			if (fk->pp == NULL)
				error = "only with --peers (a copy comes from another store)";
			break;
		case FSCK_FIX_NONE:
			break;
		}
		if (r == 0) {
			p->fixed = true;
		} else if (error != NULL) {
			mm_log_warn("repair: %s/%s/%s (%s) not fixed: %s", p->account, p->folder,
				    p->path, fsck_kind_str(p->kind), error);
		}
	}
}

static void report_text(const struct fsck *fk)
{
	size_t fixed = 0;

	for (size_t i = 0; i < fk->r.n; i++) {
		const struct fsck_problem *p = &fk->r.p[i];

		printf("%s: %s: %s%s%s%s%s: %s", p->store, fsck_kind_str(p->kind), p->account,
		       p->folder[0] ? "/" : "", p->folder,
		       p->path[0] && (p->account[0] || p->folder[0]) ? "/" : "", p->path,
		       p->detail);
		if (p->fixed) {
			fixed++;
			bool saved = p->fix == FSCK_FIX_QUARANTINE || p->fix == FSCK_FIX_FILL;

			printf(" [fixed: %s%s%s]", fsck_fix_str(p->fix), saved ? ", saved to " : "",
			       saved ? p->want : "");
		} else if (p->fix != FSCK_FIX_NONE && !fk->repair) {
			printf(" [--repair: %s]", fsck_fix_str(p->fix));
		}
		printf("\n");
	}
	printf("mailmesh-fsck: %s: %" PRIu64 " messages, %" PRIu64 " MB read, %zu problem(s), "
	       "%zu fixed%s", fk->cfg->node_name, fk->r.messages, fk->r.bytes >> 20, fk->r.n,
	       fixed, fk->r.operational ? ", check incomplete" : "");
	if (fk->r.predating > 0)
		printf(", %" PRIu64 " message(s) older than the journal", fk->r.predating);
	if (fk->j.filled > 0)
		printf(", %" PRIu64 " journal range(s) voided by an earlier --repair "
		       "(see lost+found)", fk->j.filled);
	if (fk->pp != NULL)
		printf(", %" PRIu64 " bytes exchanged with peers", fsck_peers_bytes(fk->pp));
	if (fk->refused > 0)
		printf(", %" PRIu64 " record(s) of peers refused for a stale epoch (split "
		       "brain? mailmeshctl journal --refused)", fk->refused);
	printf("\n");
}

static void report_json(const struct fsck *fk)
{
	json_t *o = json_object(), *a = json_array();

	for (size_t i = 0; i < fk->r.n; i++) {
		const struct fsck_problem *p = &fk->r.p[i];

		json_array_append_new(a, json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:b, s:s}",
			"store", p->store, "kind", fsck_kind_str(p->kind), "account", p->account,
			"folder", p->folder, "path", p->path, "detail", p->detail,
			"fix", fsck_fix_str(p->fix), "fixed", p->fixed, "where", p->want));
	}
	json_object_set_new(o, "store", json_string(fk->cfg->node_name));
	json_object_set_new(o, "mode", json_string(fk->quick ? "quick" : "content"));
	json_object_set_new(o, "messages", json_integer((json_int_t)fk->r.messages));
	json_object_set_new(o, "bytes_read", json_integer((json_int_t)fk->r.bytes));
	json_object_set_new(o, "older_than_journal", json_integer((json_int_t)fk->r.predating));
	json_object_set_new(o, "complete", json_boolean(!fk->r.operational));
	json_object_set_new(o, "journal_filled", json_integer((json_int_t)fk->j.filled));
	json_object_set_new(o, "refused_stale", json_integer((json_int_t)fk->refused));
	if (fk->pp != NULL)
		json_object_set_new(o, "peer_bytes",
				    json_integer((json_int_t)fsck_peers_bytes(fk->pp)));
	json_object_set_new(o, "problems", a);
	json_object_set_new(o, "exit", json_integer(fsck_exit_code(&fk->r)));
	json_dumpf(o, stdout, JSON_INDENT(1));
	printf("\n");
	json_decref(o);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "quick", no_argument, NULL, 'q' }, { "repair", no_argument, NULL, 'r' },
		{ "json", no_argument, NULL, 'J' }, { "peers", no_argument, NULL, 'p' },
		{ "threads", required_argument, NULL, 'j' }, { "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct fsck fk = { 0 };
	const char *cfg_path = NULL, *error;
	char **accounts = NULL;
	size_t n_accounts = 0;
	bool listed = false;
	int c, code;
	uint64_t start_ns = now_ns(CLOCK_MONOTONIC);

	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	char *end;

	fk.threads = cpus < 1 ? 1 : cpus > 16 ? 16 : (unsigned int)cpus;
	while ((c = getopt_long(argc, argv, "c:j:vh", opts, NULL)) != -1) {
		switch (c) {
		case 'c': cfg_path = optarg; break;
		case 'q': fk.quick = true; break;
		case 'r': fk.repair = true; break;
		case 'J': fk.json = true; break;
		case 'j':
			errno = 0;
			cpus = strtol(optarg, &end, 10);
			if (errno != 0 || *end != '\0' || cpus < 1 || cpus > 16) {
				fprintf(stderr, "mailmesh-fsck: -j wants 1 to 16, not '%s'\n", optarg);
				return FSCK_EXIT_OPERATIONAL;
			}
			fk.threads = (unsigned int)cpus;
			break;
		case 'p': fk.peers = true; break;
		case 'v': mm_log_verbose = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return FSCK_EXIT_OPERATIONAL;
		}
	}
	if (cfg_path == NULL) {
		usage(stderr);
		return FSCK_EXIT_OPERATIONAL;
	}
	mm_log_init("mailmesh-fsck", true);
	if (mm_cfg_load(cfg_path, &fk.cfg, &error) < 0) {
		mm_log_error("%s", error);
		return FSCK_EXIT_OPERATIONAL;
	}
	fk.progress = !fk.json && isatty(STDERR_FILENO);
	fk.rules = mm_rules_new(fk.cfg);
	if (mm_acct_load(fk.cfg->state, &fk.ro, &fk.n_ro, &error) < 0) {
		mm_log_error("%s", error);
		fk.r.operational = true;
		goto out;
	}
	if (optind < argc) {
		for (int i = optind; i < argc; i++) {
			if (mm_acct_check(argv[i], fk.cfg->account_depth, &error) < 0) {
				mm_log_error("account '%s': %s", argv[i], error);
				fk.r.operational = true;
				goto out;
			}
		}
		accounts = argv + optind;
		n_accounts = (size_t)(argc - optind);
	} else if (mm_acct_list(fk.cfg->store, fk.cfg->account_depth, &accounts, &n_accounts,
				&error) < 0) {
		mm_log_error("%s", error);
		fk.r.operational = true;
		goto out;
	} else {
		listed = true;
	}
	/* the journal first: records made during the walk come after */
	if (fsck_journal_read(fk.cfg, &fk.j, &fk.r, &error) < 0) {
		mm_log_warn("journal: %s (journal checks skipped)", error);
	} else {
		fk.have_journal = true;
	}
	count_refused(&fk);
	if (fk.peers && fsck_peers_open(fk.cfg, &fk.pp, &fk.r) < 0)
		goto out;
	for (size_t i = 0; i < n_accounts; i++)
		check_account(&fk, accounts[i]);
	/* the journal's problems are this store's */
	for (size_t i = 0; i < fk.r.n; i++) {
		if (fk.r.p[i].store[0] == '\0') {
			free(fk.r.p[i].store);
			fk.r.p[i].store = mm_strdup(fk.cfg->node_name);
		}
	}
	if (fk.repair)
		repair(&fk);
out:
	if (fk.pp != NULL)
		fsck_peers_hangup(fk.pp);
	if (fk.json)
		report_json(&fk);
	else if (fk.cfg != NULL)
		report_text(&fk);
	code = fsck_exit_code(&fk.r);
	save_last(&fk, code, start_ns);
	fsck_peers_close(&fk.pp);
	if (fk.have_journal)
		fsck_journal_close(&fk.j);
	if (listed)
		mm_acct_list_free(&accounts, n_accounts);
	mm_acct_list_free(&fk.ro, fk.n_ro);
	mm_rules_free(&fk.rules);
	fsck_report_free(&fk.r);
	mm_cfg_free(&fk.cfg);
	return code;
}
