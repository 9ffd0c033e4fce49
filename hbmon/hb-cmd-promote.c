/* SPDX-License-Identifier: MIT
 * hb-cmd-promote.c - mailmeshctl promote: asks this store's mailmesh-hbmon
 * to pin an account to a store (or to clear its pin), then waits until its
 * view makes that store the account's active, and reports. The pins
 * themselves are the daemon's (hb-promote.c, hb-pins.c). */
#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "ctl.h"
#include "hb-cmd.h"
#include "mem.h"

#define PROMOTE_USAGE "usage: mailmeshctl -c FILE promote ACCOUNT STORE [--no-wait] " \
	"[--timeout SECONDS]\n       mailmeshctl -c FILE promote ACCOUNT --clear " \
	"[--no-wait] [--timeout SECONDS]\n"

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* "active ACCOUNT": the active under this store's view and its previous
   one, and the store the view pins it to, into cur/prev/pin ("-": none),
   each of size bytes. 0, 1 when hbmon is not running, -1 with the message
   printed. */
static int view_active(const char *sock, const char *account, char *cur, char *prev,
		       char *pin, size_t size)
{
	char *line = mm_strdup_printf("active %s", account), out[512] = "";
	const char *error;
	int ret = mm_ctl_call(sock, line, out, sizeof(out), &error);
	char fmt[32];

	free(line);
	if (ret != 0) {
		if (ret < 0)
			fprintf(stderr, "mailmeshctl: promote: mailmesh-hbmon: %s\n",
				out[0] != '\0' ? out : error);
		return ret;
	}
	snprintf(fmt, sizeof(fmt), "ok %%%zus %%%zus %%%zus", size - 1, size - 1, size - 1);
	if (sscanf(out, fmt, cur, prev, pin) != 3) {
		fprintf(stderr, "mailmeshctl: promote: mailmesh-hbmon: bad answer '%s'\n", out);
		return -1;
	}
	return 0;
}

/* From this store's status: whether store is excluded in its view (with
   the member's state in state_r), and the role here of account ("" when
   the account is not in this store). -1 when hbmon does not answer. */
static int status_of(const struct mm_cfg *cfg, const char *store, const char *account,
		     bool *excluded_r, char *state_r, char *role_r, size_t size)
{
	const json_t *v, *leases;
	json_t *st = NULL;
	const char *error;
	size_t i;

	*excluded_r = false;
	state_r[0] = role_r[0] = '\0';
	if (hb_cmd_status_get(cfg, &st, &error) != 0)
		return -1;
	leases = json_object_get(st, "leases");
	json_array_foreach(json_object_get(leases, "excluded"), i, v)
		*excluded_r = *excluded_r || strcmp(json_string_value(v), store) == 0;
	json_array_foreach(json_object_get(st, "members"), i, v)
		if (strcmp(json_string_value(json_object_get(v, "name")), store) == 0)
			snprintf(state_r, size, "%s%s%s",
				 json_string_value(json_object_get(v, "state")),
				 json_string_length(json_object_get(v, "reason")) > 0 ? ": " : "",
				 json_string_value(json_object_get(v, "reason")));
	json_array_foreach(json_object_get(st, "accounts"), i, v)
		if (strcmp(json_string_value(json_object_get(v, "account")), account) == 0)
			snprintf(role_r, size, "%s", json_string_value(json_object_get(v, "role")));
	json_decref(st);
	return 0;
}

int hb_cmd_promote(const struct mm_cfg *cfg, int argc, char **argv)
{
	char *sock, *line, out[512] = "", from[128], cur[128], prev[128], pin[128], state[256];
	char role[32];
	const char *account = NULL, *store = NULL, *error;
	unsigned long timeout_s = 30;
	bool clear = false, wait = true, excluded;
	uint64_t t0;
	int ret;

	for (int i = 1; i < argc; i++) {
		char *end;

		if (strcmp(argv[i], "--clear") == 0) {
			clear = true;
		} else if (strcmp(argv[i], "--no-wait") == 0) {
			wait = false;
		} else if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc) {
			errno = 0;
			timeout_s = strtoul(argv[++i], &end, 10);
			if (*end != '\0' || errno != 0 || timeout_s == 0 || timeout_s > 86400) {
				fprintf(stderr, "mailmeshctl: promote: --timeout needs 1..86400 "
					"seconds, not '%s'\n", argv[i]);
				return 2;
			}
		} else if (argv[i][0] == '-') {
			fputs(PROMOTE_USAGE, stderr);
			return 2;
		} else if (account == NULL) {
			account = argv[i];
		} else if (store == NULL) {
			store = argv[i];
		} else {
			fputs(PROMOTE_USAGE, stderr);
			return 2;
		}
	}
	if (account == NULL || (store == NULL) == !clear || strchr(account, '\n') != NULL ||
	    (store != NULL && strchr(store, '\n') != NULL)) {
		fputs(PROMOTE_USAGE, stderr);
		return 2;
	}
	sock = mm_strdup_printf("%s/hbmon.sock", cfg->state);
	if ((ret = view_active(sock, account, from, prev, pin, sizeof(from))) != 0) {
		if (ret == 1)
			fprintf(stderr, "mailmeshctl: promote: mailmesh-hbmon is not running "
				"(no %s)\n", sock);
		free(sock);
		return 1;
	}
	line = mm_strdup_printf("promote %s %s", account, clear ? "--clear" : store);
	ret = mm_ctl_call(sock, line, out, sizeof(out), &error);
	free(line);
	if (ret != 0) {
		fprintf(stderr, "mailmeshctl: promote: %s\n", ret == 1 ?
			"mailmesh-hbmon is not running" :
			strncmp(out, "error ", 6) == 0 ? out + 6 : error);
		free(sock);
		return 1;
	}
	if (!wait) {
		printf(clear ? "pin of %s cleared (active now: %s)\n" :
		       "%s pinned to %s (active now: %s)\n", account, clear ? from : store, from);
		free(sock);
		return 0;
	}
	if (!clear && status_of(cfg, store, account, &excluded, state, role, sizeof(state)) == 0 &&
	    excluded) {
		printf("%s pinned to %s, which is excluded here (%s): the pin applies once it "
		       "is back; %s stays active on %s\n", account, store,
		       state[0] != '\0' ? state : "not ready", account, from);
		free(sock);
		return 0;
	}
	t0 = now_ms();
	for (;;) {
		struct timespec ts = { 0, 50 * 1000000 };
		const char *to;

		if (view_active(sock, account, cur, prev, pin, sizeof(cur)) != 0) {
			fprintf(stderr, "mailmeshctl: promote: mailmesh-hbmon does not answer\n");
			free(sock);
			return 1;
		}
		to = clear ? cur : store;
		/* the view took the pin (or its clear), is out of its
		   transition and names the store; when that store is this one,
		   it writes the account too */
		if (strcmp(pin, clear ? "-" : store) == 0 &&
		    strcmp(cur, to) == 0 && strcmp(prev, to) == 0 &&
		    (strcmp(to, cfg->node_name) != 0 ||
		     (status_of(cfg, to, account, &excluded, state, role, sizeof(state)) == 0 &&
		      (role[0] == '\0' || strcmp(role, "active") == 0))))
			break;
		if (now_ms() - t0 > timeout_s * 1000) {
			fprintf(stderr, "mailmeshctl: promote: after %lu s, %s is active on %s in "
				"this store's view%s, not yet on %s; the %s stays "
				"(mailmeshctl status says why)\n", timeout_s, account, cur,
				strcmp(cur, prev) != 0 ? " (in transition)" : "", to,
				clear ? "clear" : "pin");
			free(sock);
			return 1;
		}
		nanosleep(&ts, NULL);
	}
	printf("%s %s: %s -> %s in %.2f s%s\n", clear ? "pin cleared for" : "promoted", account,
	       from, cur, (double)(now_ms() - t0) / 1000.0,
	       strcmp(cur, cfg->node_name) == 0 ? " (active here)" :
	       " (its active in this store's view; it writes once caught up with the store "
	       "it moves from)");
	free(sock);
	return 0;
}
