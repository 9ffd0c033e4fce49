/* SPDX-License-Identifier: MIT
 * repl-cmd.c - mailmeshctl's replication commands: `certs init|node NAME`
 * (a cluster CA and node certificates) and `replication [--json]`. */
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "buf.h"
#include "acct.h"
#include "ctl.h"
#include "mem.h"
#include "repl-certs.h"
#include "repl-cmd.h"

#define CERT_DAYS 3650

/* The CA key lives next to the CA certificate: ca.crt -> ca.key. */
static char *ca_key_path(const char *ca)
{
	size_t n = strlen(ca);

	if (n > 4 && (strcmp(ca + n - 4, ".crt") == 0 || strcmp(ca + n - 4, ".pem") == 0))
		return mm_strdup_printf("%.*s.key", (int)(n - 4), ca);
	return mm_strdup_printf("%s.key", ca);
}

int repl_cmd_certs(const struct mm_cfg *cfg, int argc, char **argv)
{
	const char *error;
	char *ca_key, *dir, *cert, *key;
	int ret = 1;

	if (cfg->tls_ca == NULL) {
		fprintf(stderr, "mailmeshctl: %s: certs needs [tls] ca = FILE\n", cfg->path);
		return 2;
	}
	ca_key = ca_key_path(cfg->tls_ca);
	if (argc == 2 && strcmp(argv[1], "init") == 0) {
		if (repl_certs_init(cfg->tls_ca, ca_key, "mailmesh cluster CA", CERT_DAYS,
				    &error) < 0)
			fprintf(stderr, "mailmeshctl: certs init: %s\n", error);
		else {
			printf("CA certificate %s\nCA key %s (keep it off the stores)\n",
			       cfg->tls_ca, ca_key);
			ret = 0;
		}
	} else if (argc == 3 && strcmp(argv[1], "node") == 0) {
		char *copy = mm_strdup(cfg->tls_ca);

		dir = mm_strdup(dirname(copy));
		free(copy);
		cert = mm_strdup_printf("%s/%s.crt", dir, argv[2]);
		key = mm_strdup_printf("%s/%s.key", dir, argv[2]);
		/* valid from 5 minutes ago: a store whose clock lags a little
		   still accepts a certificate made just now */
		if (repl_certs_node(cfg->tls_ca, ca_key, argv[2], cert, key, -300, CERT_DAYS,
				    &error) < 0)
			fprintf(stderr, "mailmeshctl: certs node %s: %s\n", argv[2], error);
		else {
			printf("certificate %s\nkey %s\n", cert, key);
			ret = 0;
		}
		free(dir);
		free(cert);
		free(key);
	} else {
		fprintf(stderr, "usage: mailmeshctl -c FILE certs init|node NAME\n");
		ret = 2;
	}
	free(ca_key);
	return ret;
}

static void print_table(const char *body)
{
	const char *line = body;

	printf("%-12s %-4s %-11s %12s %12s %8s %8s  %s\n", "peer", "dir", "state",
	       "lsn", "acked/durable", "lag", "lag_ms", "last error");
	while (*line != '\0') {
		size_t n = strcspn(line, "\n");
		json_t *o = json_loadb(line, n, 0, NULL);

		line += n + (line[n] == '\n');
		if (o == NULL)
			continue;
		const char *peer = json_string_value(json_object_get(o, "peer"));
		const char *dir = json_string_value(json_object_get(o, "direction"));

		const char *guarded = json_string_value(json_object_get(o, "expunge_guard"));

		if (guarded != NULL) {
			printf("EXPUNGE GUARD: %s: its expunges are held for every peer since "
			       "LSN %lld (%lld held); mailmeshctl expunge-guard %s confirm|revert\n",
			       guarded, json_integer_value(json_object_get(o, "first_lsn")),
			       json_integer_value(json_object_get(o, "held")), guarded);
		} else if (peer == NULL) {
			printf("store %s: applied %lld, already there %lld, missing %lld, "
			       "late merged %lld, conflicts %lld, refused %lld, stale epoch %lld\n",
			       json_string_value(json_object_get(o, "store")),
			       json_integer_value(json_object_get(o, "applied")),
			       json_integer_value(json_object_get(o, "already")),
			       json_integer_value(json_object_get(o, "missing")),
			       json_integer_value(json_object_get(o, "merged")) +
			       json_integer_value(json_object_get(o, "late_merged")),
			       json_integer_value(json_object_get(o, "conflicts")),
			       json_integer_value(json_object_get(o, "refused")),
			       json_integer_value(json_object_get(o, "stale_epoch")));
		} else if (dir != NULL && strcmp(dir, "out") == 0) {
			printf("%-12s %-4s %-11s %12lld %12lld %8lld %8lld  %s\n", peer, "out",
			       json_string_value(json_object_get(o, "state")),
			       json_integer_value(json_object_get(o, "sent_lsn")),
			       json_integer_value(json_object_get(o, "acked_lsn")),
			       json_integer_value(json_object_get(o, "lag_records")),
			       json_integer_value(json_object_get(o, "lag_ms")),
			       json_string_value(json_object_get(o, "last_error")));
			json_t *pz = json_object_get(o, "paused");
			size_t k;
			json_t *v;

			json_array_foreach(pz, k, v)
				printf("%-12s      %s: %s (held from LSN %lld)%s\n", peer,
				       json_is_true(json_object_get(v, "guard")) ?
				       "EXPUNGES HELD" : "PAUSED",
				       json_string_value(json_object_get(v, "account")),
				       json_integer_value(json_object_get(v, "from_lsn")),
				       json_is_true(json_object_get(v, "replaying")) ?
				       ", resumed, sending what was held" : "");
			if (json_integer_value(json_object_get(o, "refused_stale")) > 0)
				printf("%-12s      REFUSED %lld record(s) for a stale epoch: this store "
				       "wrote accounts it was no longer the active of (split "
				       "brain?)\n", peer,
				       json_integer_value(json_object_get(o, "refused_stale")));
			if (json_is_true(json_object_get(o, "seeding")))
				printf("%-12s      BEING SEEDED: a new peer gets every account this "
				       "store serves by resync\n", peer);
			else if (json_is_true(json_object_get(o, "needs_resync")))
				printf("%-12s      NEEDS A RESYNC: journal records %lld..%lld were "
				       "removed before it had them\n", peer,
				       json_integer_value(json_object_get(o, "lost_from")),
				       json_integer_value(json_object_get(o, "lost_to")));
		} else {
			printf("%-12s %-4s %-11s %12lld %12lld\n", peer, "in", "applying",
			       json_integer_value(json_object_get(o, "applied_lsn")),
			       json_integer_value(json_object_get(o, "durable_lsn")));
			if (json_integer_value(json_object_get(o, "stale_epoch")) > 0)
				printf("%-12s      STALE EPOCH: %lld of its records refused (kept: "
				       "mailmeshctl journal --refused)\n", peer,
				       json_integer_value(json_object_get(o, "stale_epoch")));
		}
		json_decref(o);
	}
}

/* Asks the replicator for "status": 0 with *body_r (in reply, the lines
   after "ok"), 1 when it is not running, -1 with *error_r. */
static int status_request(const struct mm_cfg *cfg, struct mm_buf *reply,
			  const char **body_r, const char **error_r)
{
	char *path = mm_strdup_printf("%s/replicator.sock", cfg->state);
	int ret = mm_ctl_request(path, "status", reply, error_r);

	free(path);
	if (ret == 0) {
		const char *nl = strchr(mm_buf_str(reply), '\n');

		*body_r = nl != NULL ? nl + 1 : "";
	}
	return ret;
}

int repl_cmd_status_get(const struct mm_cfg *cfg, json_t **lines_r, const char **error_r)
{
	struct mm_buf reply = { 0 };
	const char *body;
	int ret = status_request(cfg, &reply, &body, error_r);

	*lines_r = NULL;
	if (ret == 0) {
		json_t *arr = json_array();
		char *copy = mm_strdup(body), *save = NULL;

		for (char *line = strtok_r(copy, "\n", &save); line != NULL;
		     line = strtok_r(NULL, "\n", &save)) {
			json_t *o = json_loads(line, 0, NULL);

			if (json_is_object(o))
				json_array_append_new(arr, o);
			else
				json_decref(o);
		}
		free(copy);
		*lines_r = arr;
	}
	mm_buf_free(&reply);
	return ret;
}

int repl_cmd_replication(const struct mm_cfg *cfg, int argc, char **argv)
{
	struct mm_buf reply = { 0 };
	const char *error, *body;
	bool json = argc == 2 && strcmp(argv[1], "--json") == 0;
	int ret;

	if (argc > 2 || (argc == 2 && !json)) {
		fprintf(stderr, "usage: mailmeshctl -c FILE replication [--json]\n");
		return 2;
	}
	ret = status_request(cfg, &reply, &body, &error);
	if (ret == 1)
		printf("mailmesh-replicator: not running (no %s/replicator.sock)\n", cfg->state);
	else if (ret < 0)
		fprintf(stderr, "mailmeshctl: %s\n", error);
	else if (json)
		fputs(body, stdout);
	else
		print_table(body);
	mm_buf_free(&reply);
	return ret == 0 ? 0 : ret == 1 ? 3 : 1;
}

int repl_cmd_call(const struct mm_cfg *cfg, const char *line)
{
	char *path = mm_strdup_printf("%s/replicator.sock", cfg->state), reply[512];
	const char *error;
	int ret = mm_ctl_call(path, line, reply, sizeof(reply), &error);

	if (ret == 1)
		fprintf(stderr, "mailmeshctl: mailmesh-replicator is not running (no %s)\n", path);
	else if (ret < 0)
		fprintf(stderr, "mailmeshctl: %s\n", error);
	else
		printf("%s\n", reply + 3);
	free(path);
	return ret == 0 ? 0 : ret == 1 ? 3 : 1;
}

/* Sends "CMD ACCOUNT [PEER]" to the replicator and prints its answer. */
static int account_call(const struct mm_cfg *cfg, int argc, char **argv, int max_args,
			const char *usage)
{
	char *line;
	const char *error;
	int ret;

	if (argc < 2 || argc > max_args) {
		fprintf(stderr, "usage: mailmeshctl -c FILE %s\n", usage);
		return 2;
	}
	if (mm_acct_check(argv[1], cfg->account_depth, &error) < 0) {
		fprintf(stderr, "mailmeshctl: %s\n", error);
		return 2;
	}
	line = mm_strdup_printf("%s %s%s%s", argv[0], argv[1], argc == 3 ? " " : "",
				argc == 3 ? argv[2] : "");
	ret = repl_cmd_call(cfg, line);
	free(line);
	return ret;
}

int repl_cmd_resync(const struct mm_cfg *cfg, int argc, char **argv)
{
	return account_call(cfg, argc, argv, 3, "resync ACCOUNT [PEER]");
}

int repl_cmd_pause(const struct mm_cfg *cfg, int argc, char **argv)
{
	return account_call(cfg, argc, argv, 2, "pause|resume ACCOUNT");
}
