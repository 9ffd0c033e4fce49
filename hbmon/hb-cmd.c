/* SPDX-License-Identifier: MIT
 * hb-cmd.c - mailmeshctl placement: the configured members' placement of
 * the accounts in the store, and the failure simulation, as text or JSON.
 * Placing is hb-placement.c's and hb-sim.c's; this file reads the store
 * directory and the clock, and prints. */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "acct.h"
#include "buf.h"
#include "ctl.h"
#include "ctl-json.h"
#include "hb-cmd.h"
#include "hb-placement.h"
#include "hb-sim.h"
#include "repl-cmd.h"
#include "mem.h"

#define SIM_USAGE "placement --simulate [--stores N] [--accounts N] [--fail K] " \
	"[--replicas N] [--seed S] [--json]"

struct placement_opts {
	bool json, simulate, sim_option, replicas_given;
	struct hb_sim_settings sim;
	const char *account;
};

static int parse_number(const char *opt, const char *s, unsigned long long max,
			unsigned long long *v_r)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (*s < '0' || *s > '9' || *end != '\0' || errno != 0 || v > max) {
		fprintf(stderr, "mailmeshctl: placement: --%s needs a number, not '%s'\n",
			opt, s);
		return -1;
	}
	*v_r = v;
	return 0;
}

/* 0, or 2 (usage, message printed). */
static int parse_opts(int argc, char **argv, struct placement_opts *o)
{
	static const struct option lopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "simulate", no_argument, NULL, 'S' },
		{ "stores", required_argument, NULL, 'n' },
		{ "accounts", required_argument, NULL, 'a' },
		{ "fail", required_argument, NULL, 'f' },
		{ "replicas", required_argument, NULL, 'r' },
		{ "seed", required_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned long long v;
	int c, idx;

	o->sim.stores = 20;
	o->sim.accounts = 100000;
	o->sim.fail = 3;
	o->sim.replicas = 2;
	o->sim.seed = 1;
	/* 0, not 1: glibc then starts afresh and permutes, so ACCOUNT may
	   come before --json (main() stopped at the command with "+") */
	optind = 0;
	while ((c = getopt_long(argc, argv, "", lopts, &idx)) != -1) {
		switch (c) {
		case 'j': o->json = true; break;
		case 'S': o->simulate = true; break;
		case 'n': case 'a': case 'f': case 'r': case 's':
			if (parse_number(lopts[idx].name, optarg,
					 c == 's' ? UINT64_MAX : UINT_MAX, &v) < 0)
				return 2;
			o->sim_option = true;
			if (c == 'n')
				o->sim.stores = (unsigned int)v;
			else if (c == 'a')
				o->sim.accounts = (unsigned int)v;
			else if (c == 'f')
				o->sim.fail = (unsigned int)v;
			else if (c == 'r') {
				o->sim.replicas = (unsigned int)v;
				o->replicas_given = true;
			} else
				o->sim.seed = v;
			break;
		default:
			return 2;
		}
	}
	if (o->simulate) {
		if (optind < argc) {
			fprintf(stderr, "usage: mailmeshctl [-c FILE] " SIM_USAGE "\n");
			return 2;
		}
		return 0;
	}
	if (o->sim_option || optind + 1 < argc) {
		fprintf(stderr, "usage: mailmeshctl -c FILE placement [ACCOUNT] [--json]\n"
			"       mailmeshctl [-c FILE] " SIM_USAGE "\n");
		return 2;
	}
	o->account = optind < argc ? argv[optind] : NULL;
	return 0;
}

/* ---- the configured placement ---- */

struct table {
	const struct hb_placement *pl;
	bool json;
	int width, swidth;		/* of the account and store columns */
	size_t *active, *replicas;	/* per store */
	json_t *accounts;
};

static json_t *json_stores(const struct hb_placement *pl, const unsigned int *v, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_string(hb_placement_store(pl, v[i])));
	return a;
}

static void print_stores(const struct hb_placement *pl, const unsigned int *v, size_t n)
{
	if (n == 0)
		fputs("-", stdout);
	for (size_t i = 0; i < n; i++)
		printf("%s%s", i > 0 ? " " : "", hb_placement_store(pl, v[i]));
}

static void table_row(struct table *t, const char *account, const struct hb_placement_list *l)
{
	size_t nrep = l->want > 0 ? l->want - 1 : 0;

	if (l->want > 0) {
		t->active[l->rank[0]]++;
		for (size_t i = 1; i < l->want; i++)
			t->replicas[l->rank[i]]++;
	}
	if (t->json) {
		json_t *o = json_object();

		ctl_json_set_str(o, "account", account);
		json_object_set_new(o, "active", l->want > 0 ?
			json_string(hb_placement_store(t->pl, l->rank[0])) : json_null());
		json_object_set_new(o, "replicas", json_stores(t->pl, l->rank + 1, nrep));
		if (l->rule != NULL)
			json_object_set_new(o, "override", json_string(l->rule));
		json_array_append_new(t->accounts, o);
		return;
	}
	printf("%-*s  %-*s  ", t->width, account, t->swidth,
	       l->want > 0 ? hb_placement_store(t->pl, l->rank[0]) : "-");
	print_stores(t->pl, l->rank + 1, nrep);
	if (l->rule != NULL)
		printf("  [account %s]", l->rule);
	putchar('\n');
}

/* One account, with the stores that take over copies after its list. */
static void print_one(const struct hb_placement *pl, const char *account,
		      const struct hb_placement_list *l, bool json)
{
	if (json) {
		json_t *top = json_object(), *o = json_object(), *arr = json_array();
		char *s;

		ctl_json_set_str(o, "account", account);
		json_object_set_new(o, "active", l->want > 0 ?
			json_string(hb_placement_store(pl, l->rank[0])) : json_null());
		json_object_set_new(o, "replicas", json_stores(pl, l->rank + 1,
			l->want > 0 ? l->want - 1 : 0));
		json_object_set_new(o, "next", json_stores(pl, l->rank + l->want,
							  l->n - l->want));
		if (l->rule != NULL)
			json_object_set_new(o, "override", json_string(l->rule));
		json_array_append_new(arr, o);
		json_object_set_new(top, "replicas",
				    json_integer(hb_placement_replicas(pl)));
		json_object_set_new(top, "accounts", arr);
		s = json_dumps(top, JSON_COMPACT | JSON_ENSURE_ASCII);
		puts(s);
		free(s);
		json_decref(top);
		return;
	}
	printf("account   %s\nactive    %s\nreplicas  ", account,
	       l->want > 0 ? hb_placement_store(pl, l->rank[0]) : "-");
	print_stores(pl, l->rank + 1, l->want > 0 ? l->want - 1 : 0);
	printf("\nnext      ");
	print_stores(pl, l->rank + l->want, l->n - l->want);
	printf("%s\n", l->n > l->want ? "   (in order, for the copies of failed stores)" : "");
	if (l->rule != NULL)
		printf("override  [account %s]\n", l->rule);
}

static void print_counts(const struct table *t, const struct mm_cfg *cfg, size_t n_accounts)
{
	size_t n = hb_placement_n_stores(t->pl);

	if (t->json) {
		json_t *top = json_object(), *members = json_array(), *stores = json_array();
		char *s;

		for (unsigned int i = 0; i < n; i++) {
			json_t *o = json_object();

			json_array_append_new(members, json_string(hb_placement_store(t->pl, i)));
			json_object_set_new(o, "name", json_string(hb_placement_store(t->pl, i)));
			json_object_set_new(o, "active", json_integer((json_int_t)t->active[i]));
			json_object_set_new(o, "replicas", json_integer((json_int_t)t->replicas[i]));
			json_array_append_new(stores, o);
		}
		json_object_set_new(top, "members", members);
		json_object_set_new(top, "replicas", json_integer(hb_placement_replicas(t->pl)));
		json_object_set_new(top, "accounts", json_incref(t->accounts));
		json_object_set_new(top, "stores", stores);
		s = json_dumps(top, JSON_COMPACT | JSON_ENSURE_ASCII);
		puts(s);
		free(s);
		json_decref(top);
		return;
	}
	printf("\n%-*s  %8s  %8s\n", t->swidth, "store", "active", "replicas");
	for (unsigned int i = 0; i < n; i++)
		printf("%-*s  %8zu  %8zu\n", t->swidth, hb_placement_store(t->pl, i),
		       t->active[i], t->replicas[i]);
	printf("\n%zu account%s in %s, %zu store%s, replicas %u\n", n_accounts,
	       n_accounts == 1 ? "" : "s", cfg->store, n, n == 1 ? "" : "s",
	       hb_placement_replicas(t->pl));
}

static int placement_table(const struct mm_cfg *cfg, const struct placement_opts *o)
{
	struct hb_placement *pl = hb_placement_from_cfg(cfg);
	struct hb_placement_list l;
	struct table t = { .pl = pl, .json = o->json, .width = 7, .swidth = 6 };
	const char *error;
	char **accounts;
	size_t n;

	/* one account: its whole ranking; the table: the lists alone */
	hb_placement_list_init(&l, pl, o->account != NULL ? SIZE_MAX : 0);
	if (o->account != NULL) {
		if (mm_acct_check(o->account, cfg->account_depth, &error) < 0) {
			fprintf(stderr, "mailmeshctl: placement: %s\n", error);
			hb_placement_list_deinit(&l);
			hb_placement_free(&pl);
			return 2;
		}
		hb_placement_get(pl, o->account, &l);
		print_one(pl, o->account, &l, o->json);
		hb_placement_list_deinit(&l);
		hb_placement_free(&pl);
		return 0;
	}
	if (mm_acct_list(cfg->store, cfg->account_depth, &accounts, &n, &error) < 0) {
		fprintf(stderr, "mailmeshctl: placement: %s\n", error);
		hb_placement_list_deinit(&l);
		hb_placement_free(&pl);
		return 1;
	}
	t.active = mm_calloc(hb_placement_n_stores(pl) + 1, sizeof(*t.active));
	t.replicas = mm_calloc(hb_placement_n_stores(pl) + 1, sizeof(*t.replicas));
	for (size_t i = 0; i < n; i++)
		if ((int)strlen(accounts[i]) > t.width)
			t.width = (int)strlen(accounts[i]);
	for (unsigned int i = 0; i < hb_placement_n_stores(pl); i++)
		if ((int)strlen(hb_placement_store(pl, i)) > t.swidth)
			t.swidth = (int)strlen(hb_placement_store(pl, i));
	if (o->json)
		t.accounts = json_array();
	else if (n > 0)
		printf("%-*s  %-*s  %s\n", t.width, "account", t.swidth, "active", "replicas");
	for (size_t i = 0; i < n; i++) {
		hb_placement_get(pl, accounts[i], &l);
		table_row(&t, accounts[i], &l);
	}
	print_counts(&t, cfg, n);
	json_decref(t.accounts);
	free(t.active);
	free(t.replicas);
	mm_acct_list_free(&accounts, n);
	hb_placement_list_deinit(&l);
	hb_placement_free(&pl);
	return 0;
}

/* ---- the simulation ---- */

static json_t *json_load(const struct hb_sim_load *ld)
{
	json_t *o = json_object();

	json_object_set_new(o, "mean", json_real(ld->mean));
	json_object_set_new(o, "max", json_integer((json_int_t)ld->max));
	json_object_set_new(o, "max_mean", json_real(ld->max_mean));
	return o;
}

static void sim_json(const struct hb_sim *sim, double ms)
{
	json_t *top = json_object(), *set = json_object(), *failed = json_array();
	json_t *stores = json_array(), *act = json_object(), *rep = json_object();
	char *s;

	json_object_set_new(set, "stores", json_integer(sim->set.stores));
	json_object_set_new(set, "accounts", json_integer(sim->set.accounts));
	json_object_set_new(set, "fail", json_integer(sim->set.fail));
	json_object_set_new(set, "replicas", json_integer(sim->set.replicas));
	json_object_set_new(set, "seed", json_integer((json_int_t)sim->set.seed));
	for (unsigned int i = 0; i < sim->set.fail; i++)
		json_array_append_new(failed, json_string(sim->stores[sim->failed[i]].name));
	for (unsigned int i = 0; i < sim->set.stores; i++) {
		const struct hb_sim_store *st = &sim->stores[i];
		json_t *o = json_object(), *b = json_object(), *a = json_object();

		json_object_set_new(o, "name", json_string(st->name));
		json_object_set_new(o, "failed", json_boolean(st->failed));
		json_object_set_new(b, "active", json_integer((json_int_t)st->active[0]));
		json_object_set_new(b, "replicas", json_integer((json_int_t)st->replicas[0]));
		json_object_set_new(a, "active", json_integer((json_int_t)st->active[1]));
		json_object_set_new(a, "replicas", json_integer((json_int_t)st->replicas[1]));
		json_object_set_new(a, "gained_active", json_integer((json_int_t)st->gained_active));
		json_object_set_new(a, "gained_replicas",
				    json_integer((json_int_t)st->gained_replicas));
		json_object_set_new(o, "before", b);
		json_object_set_new(o, "after", a);
		json_array_append_new(stores, o);
	}
	json_object_set_new(act, "before", json_load(&sim->active[0]));
	json_object_set_new(act, "after", json_load(&sim->active[1]));
	json_object_set_new(act, "moved", json_integer((json_int_t)sim->moved_active));
	json_object_set_new(act, "receivers", json_integer((json_int_t)sim->receivers_active));
	json_object_set_new(rep, "before", json_load(&sim->replicas[0]));
	json_object_set_new(rep, "after", json_load(&sim->replicas[1]));
	json_object_set_new(rep, "moved", json_integer((json_int_t)sim->moved_replicas));
	json_object_set_new(rep, "receivers", json_integer((json_int_t)sim->receivers_replicas));
	json_object_set_new(rep, "short", json_integer((json_int_t)sim->short_copies));
	json_object_set_new(top, "settings", set);
	json_object_set_new(top, "failed", failed);
	json_object_set_new(top, "survivors", json_integer(sim->set.stores - sim->set.fail));
	json_object_set_new(top, "stores", stores);
	json_object_set_new(top, "active", act);
	json_object_set_new(top, "replicas", rep);
	json_object_set_new(top, "lost", json_integer((json_int_t)sim->lost));
	json_object_set_new(top, "elapsed_ms", json_real(ms));
	s = json_dumps(top, JSON_COMPACT);
	puts(s);
	free(s);
	json_decref(top);
}

static void print_load(const char *what, const struct hb_sim_load *ld)
{
	printf("  %-7s mean %10.1f  max %8zu  max/mean %.3f\n", what, ld->mean, ld->max,
	       ld->max_mean);
}

static void sim_text(const struct hb_sim *sim, double ms)
{
	unsigned int survivors = sim->set.stores - sim->set.fail;
	int w = (int)strlen(sim->stores[0].name);

	printf("placement simulation: %u stores, %u accounts, replicas %u, seed %llu\n",
	       sim->set.stores, sim->set.accounts, sim->set.replicas,
	       (unsigned long long)sim->set.seed);
	printf("failed:");
	for (unsigned int i = 0; i < sim->set.fail; i++)
		printf(" %s", sim->stores[sim->failed[i]].name);
	printf("%s\n\n", sim->set.fail == 0 ? " none" : "");
	printf("%-*s  %17s  %17s  %17s\n", w, "", "before", "after", "received");
	printf("%-*s  %8s %8s  %8s %8s  %8s %8s\n", w, "store", "active", "replicas",
	       "active", "replicas", "active", "copies");
	for (unsigned int i = 0; i < sim->set.stores; i++) {
		const struct hb_sim_store *st = &sim->stores[i];

		printf("%-*s  %8zu %8zu  ", w, st->name, st->active[0], st->replicas[0]);
		if (st->failed)
			printf("%8s\n", "failed");
		else
			printf("%8zu %8zu  %8zu %8zu\n", st->active[1], st->replicas[1],
			       st->gained_active, st->gained_replicas);
	}
	printf("\nactive load (before: all %u stores; after: the %u survivors)\n",
	       sim->set.stores, survivors);
	print_load("before", &sim->active[0]);
	print_load("after", &sim->active[1]);
	printf("  moved: %zu accounts changed active store, received by %zu of %u survivors\n",
	       sim->moved_active, sim->receivers_active, survivors);
	printf("replica load\n");
	print_load("before", &sim->replicas[0]);
	print_load("after", &sim->replicas[1]);
	printf("  moved: %zu copies placed on new stores, received by %zu of %u survivors\n",
	       sim->moved_replicas, sim->receivers_replicas, survivors);
	printf("  accounts left with fewer than %u copies (too few survivors): %zu\n",
	       sim->set.replicas + 1, sim->short_copies);
	printf("accounts with no copy left (every store of their list failed): %zu\n",
	       sim->lost);
	printf("computed in %.0f ms\n", ms);
}

static int placement_simulate(const struct mm_cfg *cfg, struct placement_opts *o)
{
	struct timespec t0, t1;
	struct hb_sim *sim;
	const char *error;
	double ms;

	if (cfg != NULL && !o->replicas_given)
		o->sim.replicas = cfg->hb_replicas;
	if (hb_sim_check(&o->sim, &error) < 0) {
		fprintf(stderr, "mailmeshctl: placement --simulate: %s\n", error);
		return 2;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	sim = hb_sim_run(&o->sim);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
	if (o->json)
		sim_json(sim, ms);
	else
		sim_text(sim, ms);
	hb_sim_free(&sim);
	return 0;
}

int hb_cmd_placement(const struct mm_cfg *cfg, int argc, char **argv)
{
	struct placement_opts o = { 0 };
	int ret = parse_opts(argc, argv, &o);

	if (ret != 0)
		return ret;
	if (o.simulate)
		return placement_simulate(cfg, &o);
	if (cfg == NULL) {
		fprintf(stderr, "mailmeshctl: placement needs -c FILE (or --simulate)\n");
		return 2;
	}
	return placement_table(cfg, &o);
}

int hb_cmd_status_get(const struct mm_cfg *cfg, json_t **status_r, const char **error_r)
{
	static char err[512];
	struct mm_buf reply = { 0 };
	json_error_t jerr;
	char *path = mm_strdup_printf("%s/hbmon.sock", cfg->state);
	const char *body;
	int ret = mm_ctl_request(path, "status", &reply, error_r);

	free(path);
	if (ret != 0) {
		mm_buf_free(&reply);
		return ret;
	}
	body = strchr(mm_buf_str(&reply), '\n');
	*status_r = body == NULL ? NULL : json_loads(body + 1, JSON_DISABLE_EOF_CHECK, &jerr);
	if (*status_r == NULL || !json_is_object(*status_r)) {
		snprintf(err, sizeof(err), "mailmesh-hbmon: bad status reply: %s",
			 body == NULL ? "no JSON" : jerr.text);
		json_decref(*status_r);
		*status_r = NULL;
		*error_r = err;
		ret = -1;
	}
	mm_buf_free(&reply);
	return ret;
}

static void print_num(const json_t *v, const char *fmt_real, double scale)
{
	if (json_is_number(v))
		printf(fmt_real, json_number_value(v) * scale);
	else
		printf("%8s", "-");
}

void hb_cmd_status_print(const json_t *status)
{
	const json_t *members = json_object_get(status, "members"), *m;
	size_t i;

	printf("%-16s %-9s %8s %8s %8s %8s %8s %8s  %s\n", "MEMBER", "STATE", "RTT_MS",
	       "PROBE_MS", "IO_PCT", "FREE_GB", "HEARD_MS", "LAG_REC", "REASON");
	json_array_foreach(members, i, m) {
		printf("%-16s %-9s ", json_string_value(json_object_get(m, "name")),
		       json_string_value(json_object_get(m, "state")));
		print_num(json_object_get(m, "rtt_ms"), "%8.1f", 1);
		putchar(' ');
		print_num(json_object_get(m, "probe_ms"), "%8.1f", 1);
		putchar(' ');
		print_num(json_object_get(m, "pressure_io"), "%8.2f", 1);
		putchar(' ');
		print_num(json_object_get(m, "free_bytes"), "%8.1f", 1.0 / (1 << 30));
		putchar(' ');
		print_num(json_object_get(m, "last_heard_ms"), "%8.0f", 1);
		putchar(' ');
		print_num(json_object_get(m, "lag_records"), "%8.0f", 1);
		printf("  %s\n", json_string_value(json_object_get(m, "reason")));
	}
}

void hb_cmd_accounts_print(const json_t *accounts)
{
	const json_t *a, *r;
	size_t i, k;

	if (json_array_size(accounts) == 0)
		return;
	printf("\n%-24s %-12s %-8s %20s  %s\n", "ACCOUNT", "ACTIVE", "ROLE", "EPOCH",
	       "REPLICAS");
	json_array_foreach(accounts, i, a) {
		const json_t *act = json_object_get(a, "active"), *ep = json_object_get(a, "epoch");

		printf("%-24s %-12s %-8s ", json_string_value(json_object_get(a, "account")),
		       json_is_string(act) ? json_string_value(act) : "-",
		       json_string_value(json_object_get(a, "role")));
		if (json_is_integer(ep))
			printf("%20" JSON_INTEGER_FORMAT " ", json_integer_value(ep));
		else
			printf("%20s ", "-");
		json_array_foreach(json_object_get(a, "replicas"), k, r)
			printf(" %s", json_string_value(r));
		if (json_is_string(json_object_get(a, "pinned")))
			printf("  [pinned: %s]", json_string_value(json_object_get(a, "pinned")));
		putchar('\n');
	}
}

int hb_cmd_events(const struct mm_cfg *cfg, int argc, char **argv)
{
	bool json = argc == 2 && strcmp(argv[1], "--json") == 0;
	char *path, *line = NULL;
	size_t cap = 0;
	ssize_t len;
	FILE *f;

	if (argc > 2 || (argc == 2 && !json)) {
		fprintf(stderr, "usage: mailmeshctl -c FILE events [--json]\n");
		return 2;
	}
	path = mm_strdup_printf("%s/events", cfg->state);
	if ((f = fopen(path, "r")) == NULL) {
		if (errno == ENOENT) {
			free(path);
			return 0;	/* no role changed here yet */
		}
		fprintf(stderr, "mailmeshctl: open(%s) failed: %s\n", path, strerror(errno));
		free(path);
		return 1;
	}
	while ((len = getline(&line, &cap, f)) > 0) {
		json_error_t jerr;
		json_t *o;

		if (json) {
			fputs(line, stdout);
			continue;
		}
		if ((o = json_loads(line, 0, &jerr)) == NULL) {
			fprintf(stderr, "mailmeshctl: %s: a bad line: %s\n", path, jerr.text);
			continue;
		}
		printf("%s %s %s %" JSON_INTEGER_FORMAT " %s\n",
		       json_string_value(json_object_get(o, "time")),
		       json_string_value(json_object_get(o, "account")),
		       json_string_value(json_object_get(o, "role")),
		       json_integer_value(json_object_get(o, "epoch")),
		       json_string_value(json_object_get(o, "reason")));
		json_decref(o);
	}
	free(line);
	fclose(f);
	free(path);
	return 0;
}

/* ---- drain: planned maintenance ---- */

static uint64_t drain_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* The accounts still active or pending here, from mailmesh-hbmon's status;
   -1 when it does not answer. */
static int drain_held(const struct mm_cfg *cfg, json_t **status_r)
{
	const char *error;
	const json_t *a;
	size_t i;
	int n = 0;

	if (hb_cmd_status_get(cfg, status_r, &error) != 0)
		return -1;
	json_array_foreach(json_object_get(*status_r, "accounts"), i, a) {
		const char *role = json_string_value(json_object_get(a, "role"));

		n += role != NULL && strcmp(role, "replica") != 0;
	}
	return n;
}

/* mailmesh-fs's last LSN: what the peers must have for nothing to be lost. */
static int drain_head(const struct mm_cfg *cfg, uint64_t *lsn_r)
{
	char *path = mm_strdup_printf("%s/control.sock", cfg->state), out[4200], *p;
	const char *error;
	int ret = mm_ctl_call(path, "status", out, sizeof(out), &error);

	free(path);
	if (ret != 0 || (p = strstr(out, " last_lsn=")) == NULL)
		return -1;
	*lsn_r = strtoull(p + 10, NULL, 10);
	return 0;
}

int hb_cmd_drain(const struct mm_cfg *cfg, int argc, char **argv)
{
	char *path = mm_strdup_printf("%s/hbmon.sock", cfg->state), out[256] = "";
	unsigned long timeout_s = 60;
	bool off = false;
	const char *error = NULL;
	json_t *st = NULL;
	uint64_t t0, head = 0;
	int held, last = -2, ret = 1;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--off") == 0) {
			off = true;
		} else if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc) {
			timeout_s = strtoul(argv[++i], NULL, 10);
		} else if (argv[i][0] != '-' && strcmp(argv[i], cfg->node_name) == 0) {
			/* the store named is this file's: fine */
		} else {
			fprintf(stderr, "usage: mailmeshctl -c FILE drain [%s] [--off] "
				"[--timeout SECONDS]\n(run it on the store to drain, with its "
				"own file)\n", cfg->node_name);
			free(path);
			return 2;
		}
	}
	if (mm_ctl_call(path, off ? "drain off" : "drain on", out, sizeof(out), &error) != 0 ||
	    strncmp(out, "ok", 2) != 0) {
		fprintf(stderr, "mailmeshctl: mailmesh-hbmon: %s\n",
			strncmp(out, "ok", 2) != 0 && out[0] != '\0' ? out : error);
		free(path);
		return 1;
	}
	free(path);
	if (off) {
		printf("drain of %s ended: it takes accounts again once it is healthy and "
		       "ready\n", cfg->node_name);
		return 0;
	}
	printf("draining %s: it reports itself degraded; its accounts move to their "
	       "next stores\n", cfg->node_name);
	t0 = drain_now_ms();
	while ((held = drain_held(cfg, &st)) != 0) {
		if (held < 0) {
			fprintf(stderr, "mailmeshctl: mailmesh-hbmon does not answer\n");
			return 1;
		}
		if (held != last)
			printf("  %d account(s) still active here (%.1f s)\n", held,
			       (drain_now_ms() - t0) / 1000.0);
		last = held;
		json_decref(st);
		st = NULL;
		if (drain_now_ms() - t0 > timeout_s * 1000) {
			fprintf(stderr, "mailmeshctl: %d account(s) still active here after %lu s "
				"(mailmeshctl status says why; the drain goes on)\n", held,
				timeout_s);
			return 1;
		}
		struct timespec ts = { 0, 100 * 1000000 };

		nanosleep(&ts, NULL);
	}
	printf("no account is active on %s any more (%.1f s):\n", cfg->node_name,
	       (drain_now_ms() - t0) / 1000.0);
	{
		const json_t *a;
		size_t i;

		json_array_foreach(json_object_get(st, "accounts"), i, a)
			printf("  %-32s now active on %s\n",
			       json_string_value(json_object_get(a, "account")),
			       json_is_string(json_object_get(a, "active")) ?
			       json_string_value(json_object_get(a, "active")) : "(none yet)");
	}
	json_decref(st);
	/* zero loss: every record this store journaled is on its peers */
	if (drain_head(cfg, &head) < 0) {
		printf("mailmesh-fs does not answer: cannot check that the peers have "
		       "everything\n");
		return 1;
	}
	while (ret != 0) {
		json_t *lines = NULL, *o;
		size_t i;
		bool all = true;

		if (repl_cmd_status_get(cfg, &lines, &error) != 0) {
			fprintf(stderr, "mailmeshctl: mailmesh-replicator: %s\n",
				error != NULL ? error : "not running");
			return 1;
		}
		json_array_foreach(lines, i, o) {
			const char *dir = json_string_value(json_object_get(o, "direction"));

			if (dir != NULL && strcmp(dir, "out") == 0 &&
			    (uint64_t)json_integer_value(json_object_get(o, "acked_lsn")) < head)
				all = false;
		}
		if (all || drain_now_ms() - t0 > timeout_s * 1000) {
			json_array_foreach(lines, i, o) {
				const char *dir = json_string_value(json_object_get(o, "direction"));

				if (dir == NULL || strcmp(dir, "out") != 0)
					continue;
				printf("  peer %-12s has this store's journal to LSN %lld of %llu%s\n",
				       json_string_value(json_object_get(o, "peer")),
				       json_integer_value(json_object_get(o, "acked_lsn")),
				       (unsigned long long)head,
				       (uint64_t)json_integer_value(json_object_get(o, "acked_lsn")) >=
				       head ? "" : "  NOT YET");
			}
			printf(all ? "drained: nothing of %s is only here; stop it for maintenance, "
			       "then 'mailmeshctl drain --off'\n" :
			       "%s: some peers lack records after the timeout (see above)\n",
			       cfg->node_name);
			ret = all ? 0 : 1;
			json_decref(lines);
			break;
		}
		json_decref(lines);
		struct timespec ts = { 0, 100 * 1000000 };

		nanosleep(&ts, NULL);
	}
	return ret;
}
