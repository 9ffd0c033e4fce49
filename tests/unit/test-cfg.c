/* SPDX-License-Identifier: MIT
 * test-cfg.c - configuration parsing, defaults, validation and its messages. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "cfg.h"

#define NODE "[node]\nname = mx1\nstore = /srv/mail\nstate = /var/lib/mailmesh\n" \
	"mount = /mnt/mail\n"

static struct mm_cfg *cfg;
static char tmpdir[64];

static void setup(void)
{
	cfg = NULL;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/mm-test-cfg.XXXXXX");
	cr_assert_not_null(mkdtemp(tmpdir));
}

static void teardown(void)
{
	char path[128];

	mm_cfg_free(&cfg);
	snprintf(path, sizeof(path), "%s/mailmesh.conf", tmpdir);
	unlink(path);
	rmdir(tmpdir);
}

TestSuite(cfg, .init = setup, .fini = teardown);

Test(cfg, full_file)
{
	const char *text =
		"; mailmesh node configuration\n"
		"[node]\n"
		"name = mx1\n"
		"store = /srv/mail/\n"
		"state = /var/lib/mailmesh//\n"
		"mount = /mnt/mail\n"
		"account_depth = 3\n"
		"\n"
		"[journal]\n"
		"fsync = always\n"
		"segment_size = 16M\n"
		"retention = 12h\n"
		"retention_size = 10G\n"
		"batch_interval = 20ms\n"
		"\n"
		"# overrides\n"
		"[classify]\n"
		"ignore = *.sieve, *.bak\n"
		"meta = custom-meta\n"
		"plain = dovecot-keywords\n"
		"ignore = spam.log\n";
	const char *error = NULL;

	cr_assert_eq(mm_cfg_parse("mailmesh.conf", text, &cfg, &error), 0, "%s", error);
	cr_expect_str_eq(cfg->path, "mailmesh.conf");
	cr_expect_str_eq(cfg->node_name, "mx1");
	cr_expect_str_eq(cfg->store, "/srv/mail");
	cr_expect_str_eq(cfg->state, "/var/lib/mailmesh");
	cr_expect_str_eq(cfg->mount, "/mnt/mail");
	cr_expect_eq(cfg->account_depth, 3);
	cr_expect_eq(cfg->fsync, MM_FSYNC_ALWAYS);
	cr_expect_eq(cfg->segment_size, 16ULL << 20);
	cr_expect_eq(cfg->retention_s, 12 * 3600);
	cr_expect_eq(cfg->retention_bytes, 10ULL << 30);
	cr_expect_eq(cfg->batch_interval_ms, 20);
	cr_assert_eq(cfg->n_classify_ignore, 3);
	cr_expect_str_eq(cfg->classify_ignore[0], "*.sieve");
	cr_expect_str_eq(cfg->classify_ignore[1], "*.bak");
	cr_expect_str_eq(cfg->classify_ignore[2], "spam.log");
	cr_assert_eq(cfg->n_classify_meta, 1);
	cr_expect_str_eq(cfg->classify_meta[0], "custom-meta");
	cr_assert_eq(cfg->n_classify_plain, 1);
	cr_expect_str_eq(cfg->classify_plain[0], "dovecot-keywords");
}

Test(cfg, defaults)
{
	const char *error = NULL;

	cr_assert_eq(mm_cfg_parse("t.conf", NODE, &cfg, &error), 0, "%s", error);
	cr_expect_eq(cfg->account_depth, 2);
	cr_expect_eq(cfg->fsync, MM_FSYNC_BATCH);
	cr_expect_eq(cfg->segment_size, 64ULL << 20);
	cr_expect_eq(cfg->retention_s, 7 * 86400);
	cr_expect_eq(cfg->retention_bytes, 0);
	cr_expect_eq(cfg->batch_interval_ms, 50);
	cr_expect_eq(cfg->permissions, MM_PERM_DAEMON);
	cr_expect_eq(cfg->hb_replicas, 2);
	cr_expect_eq(cfg->n_classify_ignore, 0);
	cr_expect_eq(cfg->n_classify_meta, 0);
	cr_expect_eq(cfg->n_classify_plain, 0);
}

Test(cfg, fsync_values)
{
	static const char *const names[] = { "always", "batch", "never" };
	static const enum mm_fsync values[] = { MM_FSYNC_ALWAYS, MM_FSYNC_BATCH,
						MM_FSYNC_NEVER };
	const char *error = NULL;

	for (int i = 0; i < 3; i++) {
		char text[256];

		snprintf(text, sizeof(text), NODE "[journal]\nfsync = %s\n", names[i]);
		cr_assert_eq(mm_cfg_parse("t.conf", text, &cfg, &error), 0, "%s", error);
		cr_expect_eq(cfg->fsync, values[i]);
		cr_expect_str_eq(mm_fsync_str(cfg->fsync), names[i]);
		mm_cfg_free(&cfg);
		cr_expect_null(cfg);
	}
}

Test(cfg, permissions_values)
{
	const char *error = NULL;

	cr_assert_eq(mm_cfg_parse("t.conf", NODE "[fs]\npermissions = kernel\n", &cfg,
				  &error), 0, "%s", error);
	cr_expect_eq(cfg->permissions, MM_PERM_KERNEL);
	mm_cfg_free(&cfg);
	cr_assert_eq(mm_cfg_parse("t.conf", NODE "[fs]\npermissions = daemon\n", &cfg,
				  &error), 0, "%s", error);
	cr_expect_eq(cfg->permissions, MM_PERM_DAEMON);
}

Test(cfg, replication_sections)
{
	const char *error = NULL;
	const struct mm_account_cfg *a;

	cr_assert_eq(mm_cfg_parse("t.conf", NODE
		"[replication]\nlisten = 127.0.0.1:7001\n"
		"[tls]\nca = /etc/mm/ca.crt\ncert = /etc/mm/mx1.crt\nkey = /etc/mm/mx1.key\n"
		"[peer mx2]\naddress = 127.0.0.1:7002\n"
		"[peer mx3]\naddress = [::1]:7003\nbandwidth = 10M\n"
		"[account example.org/vip*]\nmode = sync\nsync_acks = 2\n"
		"sync_timeout = 2s\non_timeout = degrade\nreplicas = mx2, mx3\n"
		"[account example.org/*]\nreplicas = mx3\n"
		"[account spam.example/*]\nreplicate = no\n", &cfg, &error), 0, "%s", error);
	cr_expect_str_eq(cfg->repl_listen, "127.0.0.1:7001");
	cr_expect_str_eq(cfg->tls_key, "/etc/mm/mx1.key");
	cr_assert_eq(cfg->n_peers, 2);
	cr_expect_str_eq(cfg->peers[1].name, "mx3");
	cr_expect_str_eq(mm_cfg_peer(cfg, "mx2")->address, "127.0.0.1:7002");
	cr_expect_eq(mm_cfg_peer(cfg, "mx2")->bandwidth, 0);
	cr_expect_eq(mm_cfg_peer(cfg, "mx3")->bandwidth, 10ULL << 20);
	cr_expect_null(mm_cfg_peer(cfg, "mx9"));
	a = mm_cfg_account(cfg, "example.org/vipalice");
	cr_expect_eq(a->mode, MM_REPL_SYNC);
	cr_expect_eq(a->sync_acks, 2);
	cr_expect_eq(a->sync_timeout_ms, 2000);
	cr_expect_eq(a->on_timeout, MM_ON_TIMEOUT_DEGRADE);
	cr_expect(mm_cfg_account_on(a, "mx2") && mm_cfg_account_on(a, "mx3"));
	/* the first matching section wins */
	a = mm_cfg_account(cfg, "example.org/bob");
	cr_expect_eq(a->mode, MM_REPL_ASYNC);
	cr_expect(!mm_cfg_account_on(a, "mx2"));
	cr_expect(mm_cfg_account_on(a, "mx3"));
	cr_expect(!mm_cfg_account_on(mm_cfg_account(cfg, "spam.example/x"), "mx3"));
	/* no section: every peer, async */
	a = mm_cfg_account(cfg, "other.net/carol");
	cr_expect(a->replicate && a->mode == MM_REPL_ASYNC);
	cr_expect(mm_cfg_account_on(a, "mx2"));
}

Test(cfg, expunge_guard_and_retention)
{
	struct mm_cfg *c;
	const char *error;

	cr_assert_eq(mm_cfg_parse("t", NODE,
				  &c, &error), 0, "%s", error);
	cr_expect_eq(c->expunge_retention_s, 7 * 86400);
	cr_expect_eq(c->expunge_guard, 20);
	cr_expect_eq(c->expunge_guard_min, 10);
	cr_expect_eq(c->resync_level, -50, "a resync favours speed by default");
	mm_cfg_free(&c);
	cr_assert_eq(mm_cfg_parse("t", NODE
				  "[replication]\nexpunge_retention = 12h\nexpunge_guard = 35%\n"
				  "expunge_guard_min = 3\nresync_level = 3\n", &c, &error), 0, "%s",
		     error);
	cr_expect_eq(c->resync_level, 3);
	cr_expect_eq(c->expunge_retention_s, 12 * 3600);
	cr_expect_eq(c->expunge_guard, 35);
	cr_expect_eq(c->expunge_guard_min, 3);
	mm_cfg_free(&c);
	cr_assert_eq(mm_cfg_parse("t", NODE
				  "[replication]\nexpunge_retention = 0\nexpunge_guard = 0\n",
				  &c, &error), 0, "%s", error);
	cr_expect_eq(c->expunge_retention_s, 0);
	cr_expect_eq(c->expunge_guard, 0);
	mm_cfg_free(&c);
	cr_expect_eq(mm_cfg_parse("t", NODE "[replication]\nexpunge_guard = 101\n", &c, &error), -1);
	cr_expect_eq(mm_cfg_parse("t", NODE "[replication]\nexpunge_guard = x%\n", &c, &error), -1);
	cr_expect_eq(mm_cfg_parse("t", NODE "[replication]\nexpunge_retention = soon\n", &c,
				  &error), -1);
}

Test(cfg, hbmon_replicas)
{
	const char *error = NULL;

	cr_assert_eq(mm_cfg_parse("t.conf", NODE "[hbmon]\nreplicas = 1\n", &cfg, &error),
		     0, "%s", error);
	cr_expect_eq(cfg->hb_replicas, 1);
	mm_cfg_free(&cfg);
	cr_assert_eq(mm_cfg_parse("t.conf", NODE "[hbmon]\nreplicas = 64\n", &cfg, &error),
		     0, "%s", error);
	cr_expect_eq(cfg->hb_replicas, 64);
}

Test(cfg, hbmon_heartbeat)
{
	const char *error = NULL;

	cr_assert_eq(mm_cfg_parse("t.conf", NODE, &cfg, &error), 0, "%s", error);
	cr_expect_null(cfg->hb_listen);
	cr_expect_null(cfg->hb_key_file);
	cr_expect_eq(cfg->hb_interval_ms, 200);
	cr_expect_eq(cfg->hb_timeout_ms, 1000);
	cr_expect_eq(cfg->hb_rtt_ms, 500);
	cr_expect_eq(cfg->hb_probe_ms, 200);
	cr_expect_eq(cfg->hb_pressure, 50);
	cr_expect_eq(cfg->hb_min_free, 1ULL << 30);
	cr_expect_eq(cfg->hb_window, 5);
	cr_expect_eq(cfg->hb_probe_delay_ms, 0);
	mm_cfg_free(&cfg);
	cr_assert_eq(mm_cfg_parse("t.conf", NODE "[hbmon]\nlisten = 127.0.0.1:7100\n"
				  "interval = 100ms\ntimeout = 2s\nrtt_ms = 300\n"
				  "probe_ms = 50\npressure = 20\nmin_free = 10M\nwindow = 3\n"
				  "key_file = /etc/mailmesh/hb.key\nprobe_delay_ms = 400\n"
				  "[peer mx2]\naddress = h2:7000\nhbmon = h2:7100\n",
				  &cfg, &error), 0, "%s", error);
	cr_expect_str_eq(cfg->hb_listen, "127.0.0.1:7100");
	cr_expect_str_eq(cfg->hb_key_file, "/etc/mailmesh/hb.key");
	cr_expect_eq(cfg->hb_interval_ms, 100);
	cr_expect_eq(cfg->hb_timeout_ms, 2000);
	cr_expect_eq(cfg->hb_rtt_ms, 300);
	cr_expect_eq(cfg->hb_probe_ms, 50);
	cr_expect_eq(cfg->hb_pressure, 20);
	cr_expect_eq(cfg->hb_min_free, 10ULL << 20);
	cr_expect_eq(cfg->hb_window, 3);
	cr_expect_eq(cfg->hb_probe_delay_ms, 400);
	cr_expect_str_eq(cfg->peers[0].hbmon, "h2:7100");
	/* the lease defaults: timeout - interval; catch-up 2 x timeout */
	cr_expect_eq(cfg->hb_lease_ms, 1900);
	cr_expect_eq(cfg->hb_catchup_ms, 4000);
	cr_expect_eq(cfg->hb_failback_ms, 10000, "failback after 10 s by default");
	cr_expect_null(cfg->hb_witness);
	mm_cfg_free(&cfg);
	cr_assert_eq(mm_cfg_parse("t.conf", NODE "[hbmon]\nlease = 600ms\ncatchup = 3s\n"
				  "witness = 10.0.0.9:7200\non_role_change = /usr/bin/hook\n"
				  "failback_after = 0\n", &cfg, &error), 0, "%s", error);
	cr_expect_eq(cfg->hb_failback_ms, 0, "0: at once");
	cr_expect_eq(cfg->hb_lease_ms, 600);
	cr_expect_eq(cfg->hb_catchup_ms, 3000);
	cr_expect_str_eq(cfg->hb_witness, "10.0.0.9:7200");
	cr_expect_str_eq(cfg->hb_on_role_change, "/usr/bin/hook");
	mm_cfg_free(&cfg);
	cr_expect_eq(mm_cfg_parse("t.conf", NODE "[hbmon]\nlease = 300\n", &cfg, &error), -1);
	cr_expect_str_eq(error, "t.conf: [hbmon] lease (300 ms) must be at least 2 x interval "
			 "(200 ms) and at most timeout (1000 ms)");
	cr_expect_eq(mm_cfg_parse("t.conf", NODE "[hbmon]\nlease = 1001\n", &cfg, &error), -1);
	cr_expect_eq(mm_cfg_parse("t.conf", NODE "[hbmon]\ninterval = 500\ntimeout = 500\n",
				  &cfg, &error), -1);
	cr_expect_str_eq(error, "t.conf: [hbmon] timeout (500 ms) must be longer than "
			 "interval (500 ms)");
}

Test(cfg, hostport)
{
	char host[64];
	unsigned int port;

	cr_expect_eq(mm_parse_hostport("10.0.0.1:25", host, sizeof(host), &port), 0);
	cr_expect_str_eq(host, "10.0.0.1");
	cr_expect_eq(port, 25);
	cr_expect_eq(mm_parse_hostport("[fe80::1]:7000", host, sizeof(host), &port), 0);
	cr_expect_str_eq(host, "fe80::1");
	cr_expect_eq(mm_parse_hostport("mx2.example:65535", host, sizeof(host), &port), 0);
	cr_expect_str_eq(host, "mx2.example");
	static const char *const bad[] = { "host", "host:", ":25", "host:0", "host:65536",
		"host:25x", "::1:25", "[::1]25", "[::1]:", "[]:25" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_expect_eq(mm_parse_hostport(bad[i], host, sizeof(host), &port), -1, "%s", bad[i]);
}

struct bad_case {
	char text[320];
	char error[256];	/* the exact message */
};

ParameterizedTestParameters(cfg, refused_with_line)
{
	static struct bad_case cases[] = {
		{ NODE "bogus = 1\n",
		  "t.conf:6: unknown key 'bogus' in [node]" },
		{ "[node]\nname = mx1\n\n[nodes]\nstore = /srv/mail\n",
		  "t.conf:5: unknown section [nodes]" },
		{ NODE "[journal]\n\nfsync = sometimes\n",
		  "t.conf:8: fsync must be always, batch or never, not 'sometimes'" },
		{ NODE "account_depth = 0\n",
		  "t.conf:6: account_depth must be 1..8, not '0'" },
		{ NODE "account_depth = x\n",
		  "t.conf:6: account_depth must be 1..8, not 'x'" },
		{ NODE "account_depth = 9\n",
		  "t.conf:6: account_depth must be 1..8, not '9'" },
		{ NODE "account_depth = 2x\n",
		  "t.conf:6: account_depth must be 1..8, not '2x'" },
		{ "[node]\nname = mx1\nstore = srv/mail\n",
		  "t.conf:3: 'srv/mail' is not an absolute path" },
		{ "[node]\nstate = ./state\n",
		  "t.conf:2: './state' is not an absolute path" },
		{ "# comment\nname = mx1\n" NODE,
		  "t.conf:2: key 'name' outside any [section]" },
		{ "[node]\nname =\n",
		  "t.conf:2: empty value" },
		{ NODE "[journal]\nsegment_size = 1K\n",
		  "t.conf:7: segment_size must be a size from 4K to 4G, not '1K'" },
		{ NODE "[journal]\nsegment_size = 8G\n",
		  "t.conf:7: segment_size must be a size from 4K to 4G, not '8G'" },
		{ NODE "[journal]\nsegment_size = lots\n",
		  "t.conf:7: segment_size must be a size from 4K to 4G, not 'lots'" },
		/* 17179869185G wraps to 1G in 64 bits and must not pass */
		{ NODE "[journal]\nsegment_size = 17179869185G\n",
		  "t.conf:7: segment_size must be a size from 4K to 4G, not '17179869185G'" },
		/* 213503982335d wraps to about 9.5 hours */
		{ NODE "[journal]\nretention = 213503982335d\n",
		  "t.conf:7: retention must be a duration such as 7d or 12h, not '213503982335d'" },
		{ NODE "[journal]\nretention = 7 days\n",
		  "t.conf:7: retention must be a duration such as 7d or 12h, not '7 days'" },
		{ NODE "[journal]\nretention_size = -1\n",
		  "t.conf:7: retention_size must be a size such as 10G, not '-1'" },
		{ NODE "[journal]\nbatch_interval = 0ms\n",
		  "t.conf:7: batch_interval must be 1ms..10s, not '0ms'" },
		{ NODE "[journal]\nbatch_interval = 11s\n",
		  "t.conf:7: batch_interval must be 1ms..10s, not '11s'" },
		{ NODE "[journal]\nbogus = 1\n",
		  "t.conf:7: unknown key 'bogus' in [journal]" },
		{ NODE "[fs]\npermissions = none\n",
		  "t.conf:7: permissions must be daemon or kernel, not 'none'" },
		{ NODE "[fs]\nbogus = 1\n",
		  "t.conf:7: unknown key 'bogus' in [fs]" },
		{ NODE "[replication]\nlisten = 7001\n",
		  "t.conf:7: listen must be HOST:PORT, not '7001'" },
		{ NODE "[replication]\nport = 7001\n",
		  "t.conf:7: unknown key 'port' in [replication]" },
		{ NODE "[tls]\ncafile = /x\n",
		  "t.conf:7: unknown key 'cafile' in [tls] (ca, cert, key)" },
		{ NODE "[tls]\nca = x.pem\n",
		  "t.conf:7: 'x.pem' is not an absolute path" },
		{ NODE "[peer a b]\naddress = h:1\n",
		  "t.conf:7: peer name 'a b' must be 1-63 letters, digits, '.' or '-'" },
		{ NODE "[peer mx2]\naddress = h:1\n[peer mx2]\naddress = h:2\n",
		  "t.conf:9: [peer mx2] given twice" },
		{ NODE "[peer mx2]\naddress = h\n",
		  "t.conf:7: address must be HOST:PORT, not 'h'" },
		{ NODE "[peer mx2]\naddress = h:1\nbandwidth = 1K\n",
		  "t.conf:8: bandwidth must be bytes per second (16K or more, 0 for no limit), not '1K'" },
		{ NODE "[peer mx2]\nhost = h:1\n",
		  "t.conf:7: unknown key 'host' in [peer mx2]" },
		{ NODE "[account *]\nmode = semi\n",
		  "t.conf:7: mode must be async or sync, not 'semi'" },
		{ NODE "[account *]\nsync_acks = 0\n",
		  "t.conf:7: sync_acks must be 1..64, not '0'" },
		{ NODE "[account *]\non_timeout = retry\n",
		  "t.conf:7: on_timeout must be fail or degrade, not 'retry'" },
		{ NODE "[account *]\nreplicate = maybe\n",
		  "t.conf:7: replicate must be yes or no, not 'maybe'" },
		{ NODE "[account *]\nsync_timeout = 0ms\n",
		  "t.conf:7: sync_timeout must be 1ms..10m, not '0ms'" },
		{ NODE "[hbmon]\nreplicas = 0\n",
		  "t.conf:7: replicas must be 1..64, not '0'" },
		{ NODE "[hbmon]\n\nreplicas = 65\n",
		  "t.conf:8: replicas must be 1..64, not '65'" },
		{ NODE "[hbmon]\nreplicas = two\n",
		  "t.conf:7: replicas must be 1..64, not 'two'" },
		{ NODE "[hbmon]\nreplicas = -1\n",
		  "t.conf:7: replicas must be 1..64, not '-1'" },
		{ NODE "[hbmon]\nreplicas = 2x\n",
		  "t.conf:7: replicas must be 1..64, not '2x'" },
		{ NODE "[hbmon]\nreplicas =\n",
		  "t.conf:7: replicas must be 1..64, not ''" },
		{ NODE "[hbmon]\nintervals = 100ms\n",
		  "t.conf:7: unknown key 'intervals' in [hbmon] (replicas, listen, key_file, "
		  "interval, timeout, rtt_ms, probe_ms, pressure, min_free, window, "
		  "probe_delay_ms, lease, catchup, failback_after, witness, on_role_change)" },
		{ NODE "[hbmon]\ninterval = 5\n",
		  "t.conf:7: interval must be 10..60000 milliseconds, not '5'" },
		{ NODE "[hbmon]\ntimeout = soon\n",
		  "t.conf:7: timeout must be 50..600000 milliseconds, not 'soon'" },
		{ NODE "[hbmon]\nlisten = nowhere\n",
		  "t.conf:7: listen must be HOST:PORT, not 'nowhere'" },
		{ NODE "[hbmon]\npressure = 101\n",
		  "t.conf:7: pressure must be 1..100, not '101'" },
		{ NODE "[hbmon]\nmin_free = lots\n",
		  "t.conf:7: min_free must be a size (e.g. 1G), not 'lots'" },
		{ NODE "[hbmon]\nkey_file = key\n",
		  "t.conf:7: 'key' is not an absolute path" },
		{ NODE "[peer mx2]\naddress = h:1\nhbmon = h\n",
		  "t.conf:8: hbmon must be HOST:PORT, not 'h'" },
		{ NODE "[classify]\nmessage = *.eml\n",
		  "t.conf:7: unknown key 'message' in [classify] (ignore, meta or plain)" },
		{ NODE "[journal\n",
		  "t.conf:6: syntax error" },
		{ NODE "just some words\n",
		  "t.conf:6: syntax error" },
		/* the first bad line wins, and later ones don't change it */
		{ NODE "account_depth = 0\nbogus = 1\n",
		  "t.conf:6: account_depth must be 1..8, not '0'" },
	};
	return cr_make_param_array(struct bad_case, cases,
				   sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct bad_case *c, cfg, refused_with_line)
{
	const char *error = NULL;

	cr_assert_eq(mm_cfg_parse("t.conf", c->text, &cfg, &error), -1,
		     "accepted:\n%s", c->text);
	cr_expect_null(cfg);
	cr_assert_not_null(error);
	cr_expect_str_eq(error, c->error);
}

/* A syntax error, then a bad key further down: the message names the
   first bad line and must give that line's reason, not the later one's. */
Test(cfg, reason_belongs_to_the_line_named)
{
	const char *error = NULL;

	cr_assert_eq(mm_cfg_parse("t.conf", NODE "just some words\nbogus = 1\n",
				  &cfg, &error), -1);
	cr_expect_str_eq(error, "t.conf:6: syntax error");
}

Test(cfg, missing_required_keys_are_named)
{
	static const char *const keys[] = { "name", "store", "state", "mount" };
	static const char *const lines[] = { "name = mx1\n", "store = /srv/mail\n",
					     "state = /var/lib/mailmesh\n",
					     "mount = /mnt/mail\n" };
	const char *error = NULL;

	for (int skip = 0; skip < 4; skip++) {
		char text[256] = "[node]\n", want[128];

		for (int i = 0; i < 4; i++)
			if (i != skip)
				strcat(text, lines[i]);
		snprintf(want, sizeof(want), "t.conf: missing required key '%s' in [node]",
			 keys[skip]);
		cr_assert_eq(mm_cfg_parse("t.conf", text, &cfg, &error), -1, "%s", text);
		cr_expect_null(cfg);
		cr_expect_str_eq(error, want);
	}
	cr_assert_eq(mm_cfg_parse("t.conf", "", &cfg, &error), -1);
	cr_expect_str_eq(error, "t.conf: missing required key 'name' in [node]");
}

Test(cfg, state_inside_store_is_refused)
{
	static const char *const bad_states[] = {
		"/srv/mail", "/srv/mail/", "/srv/mail/.mailmesh", "/srv/mail/a/b",
	};
	const char *error = NULL;

	for (size_t i = 0; i < sizeof(bad_states) / sizeof(bad_states[0]); i++) {
		char text[256], want[256];

		snprintf(text, sizeof(text), "[node]\nname = mx1\nstore = /srv/mail\n"
			 "state = %s\nmount = /mnt/mail\n", bad_states[i]);
		cr_assert_eq(mm_cfg_parse("t.conf", text, &cfg, &error), -1,
			     "state %s accepted", bad_states[i]);
		snprintf(want, sizeof(want),
			 "t.conf: state (%.*s) must not be inside store (/srv/mail)",
			 (int)strlen(bad_states[i]) -
			 (bad_states[i][strlen(bad_states[i]) - 1] == '/'),
			 bad_states[i]);
		cr_expect_str_eq(error, want);
	}
	/* a sibling sharing the prefix is fine */
	cr_assert_eq(mm_cfg_parse("t.conf", "[node]\nname = mx1\nstore = /srv/mail\n"
				  "state = /srv/mail.state\nmount = /mnt/mail\n",
				  &cfg, &error), 0, "%s", error);
	mm_cfg_free(&cfg);
	cr_assert_eq(mm_cfg_parse("t.conf", "[node]\nname = mx1\nstore = /srv/mail\n"
				  "state = /srv/mailmesh\nmount = /mnt/mail\n",
				  &cfg, &error), 0, "%s", error);
}

Test(cfg, load_from_file)
{
	char path[128];
	const char *error = NULL;
	FILE *f;

	snprintf(path, sizeof(path), "%s/mailmesh.conf", tmpdir);
	f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs(NODE "[journal]\nfsync = never\n", f);
	fclose(f);
	cr_assert_eq(mm_cfg_load(path, &cfg, &error), 0, "%s", error);
	cr_expect_str_eq(cfg->path, path);
	cr_expect_eq(cfg->fsync, MM_FSYNC_NEVER);
	mm_cfg_free(&cfg);

	f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs(NODE "[journal]\nfsync = nope\n", f);
	fclose(f);
	cr_assert_eq(mm_cfg_load(path, &cfg, &error), -1);
	cr_expect_null(cfg);
	{
		char want[256];

		snprintf(want, sizeof(want),
			 "%s:7: fsync must be always, batch or never, not 'nope'", path);
		cr_expect_str_eq(error, want);
	}
}

Test(cfg, load_missing_file)
{
	char path[128], want[256];
	const char *error = NULL;

	snprintf(path, sizeof(path), "%s/absent.conf", tmpdir);
	cr_assert_eq(mm_cfg_load(path, &cfg, &error), -1);
	cr_expect_null(cfg);
	snprintf(want, sizeof(want), "%s: cannot read: No such file or directory", path);
	cr_expect_str_eq(error, want);
}

struct size_case {
	char text[32];
	int ret;
	uint64_t v;
};

ParameterizedTestParameters(cfg, sizes)
{
	static struct size_case cases[] = {
		{ "4096", 0, 4096 },
		{ "0", 0, 0 },
		{ "64M", 0, 64ULL << 20 },
		{ "64m", 0, 64ULL << 20 },
		{ "1G", 0, 1ULL << 30 },
		{ "4K", 0, 4096 },
		{ "10MiB", 0, 10ULL << 20 },
		{ "10MB", 0, 10ULL << 20 },
		{ "", -1, 0 },
		{ "M", -1, 0 },
		{ "-1", -1, 0 },
		{ " 64M", -1, 0 },
		{ "64M ", -1, 0 },
		{ "64X", -1, 0 },
		{ "1.5G", -1, 0 },
		{ "64MM", -1, 0 },
		{ "64 M", -1, 0 },
		{ "0x100", -1, 0 },
		{ "99999999999999999999", -1, 0 },
		/* values that don't fit in 64 bits once scaled */
		{ "17179869184G", -1, 0 },
		{ "17179869185G", -1, 0 },
		{ "18446744073709551615K", -1, 0 },
	};
	return cr_make_param_array(struct size_case, cases,
				   sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct size_case *c, cfg, sizes)
{
	uint64_t v = 12345;

	cr_expect_eq(mm_parse_size(c->text, &v), c->ret, "'%s': ret", c->text);
	if (c->ret == 0)
		cr_expect_eq(v, c->v, "'%s' -> %llu", c->text, (unsigned long long)v);
	else
		cr_expect_eq(v, 12345, "'%s': output written on error", c->text);
}

ParameterizedTestParameters(cfg, durations)
{
	static struct size_case cases[] = {
		{ "7d", 0, 7ULL * 86400 * 1000 },
		{ "12h", 0, 12ULL * 3600 * 1000 },
		{ "500ms", 0, 500 },
		{ "30s", 0, 30000 },
		{ "15m", 0, 15 * 60 * 1000 },
		{ "45", 0, 45000 },
		{ "0ms", 0, 0 },
		{ "", -1, 0 },
		{ "d", -1, 0 },
		{ "-1s", -1, 0 },
		{ "7 d", -1, 0 },
		{ "7D", -1, 0 },
		{ "1.5h", -1, 0 },
		{ "10us", -1, 0 },
		{ "7dd", -1, 0 },
		{ "12hours", -1, 0 },
		{ "99999999999999999999", -1, 0 },
		/* values that don't fit in 64 bits of milliseconds */
		{ "300000000000d", -1, 0 },
		{ "18446744073709551615s", -1, 0 },
	};
	return cr_make_param_array(struct size_case, cases,
				   sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct size_case *c, cfg, durations)
{
	uint64_t v = 12345;

	cr_expect_eq(mm_parse_duration_ms(c->text, &v), c->ret, "'%s': ret", c->text);
	if (c->ret == 0)
		cr_expect_eq(v, c->v, "'%s' -> %llu", c->text, (unsigned long long)v);
	else
		cr_expect_eq(v, 12345, "'%s': output written on error", c->text);
}

Test(cfg, free_is_idempotent)
{
	const char *error = NULL;

	cr_assert_eq(mm_cfg_parse("t.conf", NODE, &cfg, &error), 0, "%s", error);
	mm_cfg_free(&cfg);
	cr_expect_null(cfg);
	mm_cfg_free(&cfg);
}

/* Errors found once the whole file is read name the section's line. */
Test(cfg, cross_section_checks)
{
	const char *error = NULL;

	cr_expect_eq(mm_cfg_parse("t.conf", NODE "[peer mx2]\naddress = h:1\n"
				  "[account *]\nreplicas = mx2, mx7\n", &cfg, &error), -1);
	cr_expect_str_eq(error, "t.conf:8: [account *] replicas: no [peer mx7]");
	cr_expect_null(cfg);
}
