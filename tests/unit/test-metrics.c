/* SPDX-License-Identifier: MIT
 * test-metrics.c - `mailmeshctl metrics` formatting (fs/ctl-metrics.c):
 * the figures each daemon's status gives, as Prometheus text. */
#include <criterion/criterion.h>
#include <string.h>
#include "buf.h"
#include "ctl-metrics.h"

static char *render(const struct ctl_metrics_in *in)
{
	struct mm_buf out = { 0 };
	char *s;

	ctl_metrics_render(in, &out);
	s = strdup(mm_buf_str(&out));
	mm_buf_free(&out);
	return s;
}

static void expect_line(const char *text, const char *line)
{
	char *want = malloc(strlen(line) + 3);

	sprintf(want, "\n%s\n", line);
	cr_expect_not_null(strstr(text, want), "no line '%s' in:\n%s", line, text);
	free(want);
}

/* Every sample's metric has # HELP and # TYPE before it, once. */
static void expect_well_formed(const char *text)
{
	char *copy = strdup(text), *save = NULL, seen[64][96];
	size_t n = 0;

	for (char *l = strtok_r(copy, "\n", &save); l != NULL; l = strtok_r(NULL, "\n", &save)) {
		char name[96];

		if (strncmp(l, "# TYPE ", 7) == 0) {
			sscanf(l + 7, "%95s", name);
			for (size_t i = 0; i < n; i++)
				cr_expect_str_neq(seen[i], name, "%s typed twice", name);
			cr_assert_lt(n, 64);
			strcpy(seen[n++], name);
			continue;
		}
		if (l[0] == '#')
			continue;
		cr_assert_eq(sscanf(l, "%95[a-z_]", name), 1, "bad line '%s'", l);
		cr_expect(n > 0 && strcmp(seen[n - 1], name) == 0,
			  "'%s' is not under its own # TYPE", l);
		cr_expect_not_null(strchr(l, '}'), "no labels: %s", l);
	}
	free(copy);
}

Test(metrics, nothing_running)
{
	struct ctl_metrics_in in = { .store = "a", .journal_bytes = -1 };
	char *t = render(&in);

	expect_line(t, "mailmesh_up{store=\"a\",daemon=\"mailmesh-fs\"} 0");
	expect_line(t, "mailmesh_up{store=\"a\",daemon=\"mailmesh-replicator\"} 0");
	expect_line(t, "mailmesh_up{store=\"a\",daemon=\"mailmesh-hbmon\"} 0");
	cr_expect_null(strstr(t, "mailmesh_journal_bytes"), "unknown: left out");
	cr_expect_null(strstr(t, "mailmesh_ops_total"));
	expect_well_formed(t);
	free(t);
}

Test(metrics, every_daemon)
{
	json_t *fs = json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I}", "node", "a",
			       "last_lsn", (json_int_t)120, "durable_lsn", (json_int_t)119,
			       "journaled", (json_int_t)120, "refused_readonly", (json_int_t)2,
			       "ops_deliver", (json_int_t)100, "ops_expunge", (json_int_t)20);
	json_t *repl = json_pack("[{s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:b},"
				 " {s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:b},"
				 " {s:s, s:s, s:I, s:I},"
				 " {s:s, s:I, s:I, s:I},"
				 " {s:s, s:I, s:I}]",
				 "peer", "b", "direction", "out", "state", "streaming",
				 "acked_lsn", (json_int_t)117, "lag_ms", (json_int_t)1500,
				 "lag_records", (json_int_t)3, "bytes_sent", (json_int_t)4096,
				 "needs_resync", 0,
				 "peer", "c\"x", "direction", "out", "state", "connecting",
				 "acked_lsn", (json_int_t)90, "lag_ms", (json_int_t)0,
				 "lag_records", (json_int_t)0, "bytes_sent", (json_int_t)0,
				 "needs_resync", 1,
				 "peer", "b", "direction", "in", "applied_lsn", (json_int_t)55,
				 "durable_lsn", (json_int_t)54,
				 "expunge_guard", "example.org/alice", "first_lsn", (json_int_t)7,
				 "since_ns", (json_int_t)1, "held", (json_int_t)40,
				 "store", "a", "applied", (json_int_t)54, "conflicts", (json_int_t)1);
	json_t *hb = json_pack("{s:[{s:s, s:s, s:f, s:n}], s:{s:{s:I, s:I}}}",
			       "members", "name", "b", "state", "degraded", "rtt_ms", 2.5,
			       "probe_ms",
			       "hbmon", "counters", "rx_ok", (json_int_t)10, "rx_replay",
			       (json_int_t)1);
	json_t *fsck = json_pack("{s:I, s:i, s:I, s:I, s:f}", "time", (json_int_t)1700000000,
				 "exit", 1, "problems", (json_int_t)3, "fixed", (json_int_t)3,
				 "seconds", 0.25);
	struct ctl_metrics_in in = { .store = "a", .fs = fs, .repl = repl, .hb = hb,
				     .fsck = fsck, .journal_bytes = 65536 };
	char *t = render(&in);

	expect_line(t, "mailmesh_up{store=\"a\",daemon=\"mailmesh-fs\"} 1");
	expect_line(t, "mailmesh_journal_bytes{store=\"a\"} 65536");
	expect_line(t, "mailmesh_journal_last_lsn{store=\"a\"} 120");
	expect_line(t, "mailmesh_refused_readonly_total{store=\"a\"} 2");
	expect_line(t, "mailmesh_ops_total{store=\"a\",op=\"deliver\"} 100");
	expect_line(t, "mailmesh_ops_total{store=\"a\",op=\"expunge\"} 20");
	expect_line(t, "mailmesh_replication_peer_up{store=\"a\",peer=\"b\"} 1");
	expect_line(t, "mailmesh_replication_peer_up{store=\"a\",peer=\"c\\\"x\"} 0");
	expect_line(t, "mailmesh_replication_lag_seconds{store=\"a\",peer=\"b\"} 1.5");
	expect_line(t, "mailmesh_replication_backlog_records{store=\"a\",peer=\"b\"} 3");
	expect_line(t, "mailmesh_replication_backlog_records{store=\"a\",peer=\"c\\\"x\"} 30");
	expect_line(t, "mailmesh_replication_needs_resync{store=\"a\",peer=\"c\\\"x\"} 1");
	expect_line(t, "mailmesh_expunge_guard_held{store=\"a\",account=\"example.org/alice\"} 40");
	expect_line(t, "mailmesh_replication_applied_lsn{store=\"a\",peer=\"b\"} 54");
	expect_line(t, "mailmesh_replication_conflicts_total{store=\"a\"} 1");
	expect_line(t, "mailmesh_member_state{store=\"a\",member=\"b\",state=\"degraded\"} 1");
	expect_line(t, "mailmesh_member_state{store=\"a\",member=\"b\",state=\"healthy\"} 0");
	expect_line(t, "mailmesh_member_rtt_seconds{store=\"a\",member=\"b\"} 0.0025");
	cr_expect_null(strstr(t, "mailmesh_member_probe_seconds{"), "null: left out");
	expect_line(t, "mailmesh_hbmon_rx_replay_total{store=\"a\"} 1");
	expect_line(t, "mailmesh_fsck_last_exit_code{store=\"a\"} 1");
	expect_line(t, "mailmesh_fsck_last_problems{store=\"a\"} 3");
	expect_well_formed(t);
	free(t);
	json_decref(fs);
	json_decref(repl);
	json_decref(hb);
	json_decref(fsck);
}
