/* SPDX-License-Identifier: MIT
 * ctl-metrics.c - `mailmeshctl metrics`: mailmesh-fs's, mailmesh-replicator's
 * and mailmesh-hbmon's status and mailmesh-fsck's last run in the Prometheus
 * text exposition format (version 0.0.4). Pure formatting, no I/O. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "buf.h"
#include "ctl-metrics.h"

/* A label value, escaped as the format wants (\\, \", \n). */
static void put_label(struct mm_buf *out, const char *name, const char *value)
{
	mm_buf_printf(out, "%s=\"", name);
	for (const char *p = value != NULL ? value : ""; *p != '\0'; p++) {
		if (*p == '\\' || *p == '"')
			mm_buf_printf(out, "\\%c", *p);
		else if (*p == '\n')
			mm_buf_puts(out, "\\n");
		else
			mm_buf_append(out, p, 1);
	}
	mm_buf_puts(out, "\"");
}

static void head(struct mm_buf *out, const char *name, const char *type, const char *help)
{
	mm_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* name{store="S"[,k="v"]...} value: label pairs (key, value) end with NULL. */
static void sample(struct mm_buf *out, const char *name, const char *store, double value,
		   ...)
{
	va_list ap;
	const char *k;

	mm_buf_printf(out, "%s{", name);
	put_label(out, "store", store);
	va_start(ap, value);
	while ((k = va_arg(ap, const char *)) != NULL) {
		mm_buf_puts(out, ",");
		put_label(out, k, va_arg(ap, const char *));
	}
	va_end(ap);
	/* integers (LSNs, bytes) exactly; fractions to 15 digits */
	if (value == (double)(int64_t)value)
		mm_buf_printf(out, "} %" PRId64 "\n", (int64_t)value);
	else
		mm_buf_printf(out, "} %.15g\n", value);
}

static double num(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);

	if (json_is_true(v))
		return 1;
	return json_is_number(v) ? json_number_value(v) : 0;
}

static bool has_num(const json_t *o, const char *key)
{
	return json_is_number(json_object_get(o, key));
}

/* One value per object of the status: a metric from a key of it. */
struct field {
	const char *name, *type, *key, *help;
	double scale;
};

static const struct field fs_fields[] = {
	{ "mailmesh_journal_last_lsn", "gauge", "last_lsn",
	  "LSN of the last record the mount journaled", 1 },
	{ "mailmesh_journal_durable_lsn", "gauge", "durable_lsn",
	  "LSN up to which the journal is on disk", 1 },
	{ "mailmesh_journal_records_total", "counter", "journaled",
	  "Records the mount journaled since it started", 1 },
	{ "mailmesh_refused_readonly_total", "counter", "refused_readonly",
	  "Writes refused because the account is read-only on this store", 1 },
	{ "mailmesh_fs_errors_total", "counter", "errors",
	  "Operations that failed with an error other than a refusal", 1 },
	{ "mailmesh_sync_timeouts_total", "counter", "sync_timeouts",
	  "Sync-mode deliveries whose peers did not acknowledge in time", 1 },
	{ "mailmesh_readonly_accounts", "gauge", "readonly_accounts",
	  "Accounts read-only on this store", 1 },
};

static const struct field peer_fields[] = {
	{ "mailmesh_replication_acked_lsn", "gauge", "acked_lsn",
	  "LSN of this store's journal the peer has durably applied", 1 },
	{ "mailmesh_replication_sent_lsn", "gauge", "sent_lsn",
	  "LSN of this store's journal last sent to the peer", 1 },
	{ "mailmesh_replication_lag_records", "gauge", "lag_records",
	  "Records sent to the peer and not yet acknowledged", 1 },
	{ "mailmesh_replication_lag_seconds", "gauge", "lag_ms",
	  "Age of the oldest record the peer has not acknowledged", 0.001 },
	{ "mailmesh_replication_records_sent_total", "counter", "records_sent",
	  "Records sent to the peer", 1 },
	{ "mailmesh_replication_bytes_sent_total", "counter", "bytes_sent",
	  "Bytes sent to the peer (compressed, before TLS)", 1 },
	{ "mailmesh_replication_content_bytes_total", "counter", "content_bytes",
	  "Message bytes sent to the peer (uncompressed)", 1 },
	{ "mailmesh_replication_deduped_total", "counter", "content_deduped",
	  "Contents the peer already had: sent by hash", 1 },
	{ "mailmesh_replication_needs_resync", "gauge", "needs_resync",
	  "1 when retention removed records the peer had not acknowledged", 1 },
	{ "mailmesh_replication_refused_by_peer_total", "counter", "refused_stale",
	  "Records of this store the peer refused for a stale epoch (split brain?)", 1 },
};

static const struct field store_fields[] = {
	{ "mailmesh_replication_applied_total", "counter", "applied",
	  "Peers' records applied to this store", 1 },
	{ "mailmesh_replication_already_total", "counter", "already",
	  "Peers' records that were already applied (replays)", 1 },
	{ "mailmesh_replication_missing_total", "counter", "missing",
	  "Peers' records about messages this store does not have", 1 },
	{ "mailmesh_replication_conflicts_total", "counter", "conflicts",
	  "Conflicts the late-record merge resolved", 1 },
	{ "mailmesh_replication_late_merged_total", "counter", "late_merged",
	  "Late records of a former source merged here", 1 },
	{ "mailmesh_replication_refused_total", "counter", "refused",
	  "Peers' records refused (bad, or for an account not held here)", 1 },
	{ "mailmesh_replication_stale_epoch_refused_total", "counter", "stale_epoch",
	  "Peers' records refused for a stale epoch: written after a newer epoch of "
	  "their account began (split brain?)", 1 },
	{ "mailmesh_replication_by_hash_total", "counter", "by_hash",
	  "Deliveries applied from content this store kept by hash", 1 },
	{ "mailmesh_expunged_retained_total", "counter", "retained",
	  "Expunged messages kept in STATE/expunged when their expunge was applied", 1 },
	{ "mailmesh_expunged_retain_failed_total", "counter", "retain_failed",
	  "Expunges applied whose message could not be kept (disk full?)", 1 },
};

static const struct field member_fields[] = {
	{ "mailmesh_member_rtt_seconds", "gauge", "rtt_ms",
	  "Heartbeat round trip to the member", 0.001 },
	{ "mailmesh_member_probe_seconds", "gauge", "probe_ms",
	  "The member's last store probe (create, fsync, remove a file)", 0.001 },
	{ "mailmesh_member_pressure_io", "gauge", "pressure_io",
	  "The member's /proc/pressure/io some avg10, percent", 1 },
	{ "mailmesh_member_pressure_cpu", "gauge", "pressure_cpu",
	  "The member's /proc/pressure/cpu some avg10, percent", 1 },
	{ "mailmesh_member_pressure_memory", "gauge", "pressure_mem",
	  "The member's /proc/pressure/memory some avg10, percent", 1 },
	{ "mailmesh_member_free_bytes", "gauge", "free_bytes",
	  "Free space in the member's store", 1 },
	{ "mailmesh_member_last_heard_seconds", "gauge", "last_heard_ms",
	  "Time since the member's last heartbeat", 0.001 },
};

static const char *const member_states[] = { "healthy", "degraded", "failed", "unknown" };

/* Every object of arr whose key "direction" is dir (NULL: any), for each field. */
static void per_object(struct mm_buf *out, const char *store, const json_t *arr,
		       const char *filter_key, const char *filter_val, const char *label,
		       const char *label_key, const struct field *f, size_t nf)
{
	for (size_t i = 0; i < nf; i++) {
		bool any = false;
		size_t k;
		const json_t *o;

		json_array_foreach(arr, k, o) {
			const char *fv = json_string_value(json_object_get(o, filter_key));

			if (filter_key != NULL && (fv == NULL || strcmp(fv, filter_val) != 0))
				continue;
			if (!has_num(o, f[i].key) && !json_is_boolean(json_object_get(o, f[i].key)))
				continue;
			if (!any)
				head(out, f[i].name, f[i].type, f[i].help);
			any = true;
			sample(out, f[i].name, store, num(o, f[i].key) * f[i].scale, label,
			       json_string_value(json_object_get(o, label_key)), NULL);
		}
	}
}

static void render_fs(const struct ctl_metrics_in *in, struct mm_buf *out)
{
	const json_t *fs = in->fs;
	const char *key;
	json_t *v;
	bool any = false;

	for (size_t i = 0; i < sizeof(fs_fields) / sizeof(fs_fields[0]); i++) {
		if (!has_num(fs, fs_fields[i].key))
			continue;
		head(out, fs_fields[i].name, fs_fields[i].type, fs_fields[i].help);
		sample(out, fs_fields[i].name, in->store, num(fs, fs_fields[i].key), NULL);
	}
	/* ops_deliver=N ...: one series per op */
	json_object_foreach((json_t *)fs, key, v) {
		if (strncmp(key, "ops_", 4) != 0 || !json_is_number(v))
			continue;
		if (!any)
			head(out, "mailmesh_ops_total", "counter",
			     "Mail operations the mount journaled, per op (deliver: deliveries)");
		any = true;
		sample(out, "mailmesh_ops_total", in->store, json_number_value(v), "op", key + 4,
		       NULL);
	}
}

static void render_repl(const struct ctl_metrics_in *in, struct mm_buf *out)
{
	const json_t *o;
	size_t k;
	bool any = false;
	double last = in->fs != NULL && has_num(in->fs, "last_lsn") ?
		num(in->fs, "last_lsn") : -1;

	head(out, "mailmesh_replication_peer_up", "gauge",
	     "1 when the link to the peer is streaming");
	json_array_foreach(in->repl, k, o) {
		const char *dir = json_string_value(json_object_get(o, "direction"));
		const char *st = json_string_value(json_object_get(o, "state"));

		if (dir == NULL || strcmp(dir, "out") != 0)
			continue;
		sample(out, "mailmesh_replication_peer_up", in->store,
		       st != NULL && strcmp(st, "streaming") == 0, "peer",
		       json_string_value(json_object_get(o, "peer")), NULL);
	}
	per_object(out, in->store, in->repl, "direction", "out", "peer", "peer", peer_fields,
		   sizeof(peer_fields) / sizeof(peer_fields[0]));
	/* the backlog: records journaled here the peer has not acknowledged */
	if (last >= 0) {
		json_array_foreach(in->repl, k, o) {
			const char *dir = json_string_value(json_object_get(o, "direction"));

			if (dir == NULL || strcmp(dir, "out") != 0)
				continue;
			if (!any)
				head(out, "mailmesh_replication_backlog_records", "gauge",
				     "Records of this store's journal the peer has not acknowledged");
			any = true;
			double acked = num(o, "acked_lsn");

			sample(out, "mailmesh_replication_backlog_records", in->store,
			       last > acked ? last - acked : 0, "peer",
			       json_string_value(json_object_get(o, "peer")), NULL);
		}
	}
	any = false;
	json_array_foreach(in->repl, k, o) {
		const char *dir = json_string_value(json_object_get(o, "direction"));

		if (dir == NULL || strcmp(dir, "in") != 0)
			continue;
		if (!any)
			head(out, "mailmesh_replication_applied_lsn", "gauge",
			     "LSN of the peer's journal durably applied to this store");
		any = true;
		sample(out, "mailmesh_replication_applied_lsn", in->store, num(o, "durable_lsn"),
		       "peer", json_string_value(json_object_get(o, "peer")), NULL);
	}
	/* the mass-expunge guard: one series per account it holds */
	any = false;
	json_array_foreach(in->repl, k, o) {
		const char *acct = json_string_value(json_object_get(o, "expunge_guard"));

		if (acct == NULL)
			continue;
		if (!any)
			head(out, "mailmesh_expunge_guard_held", "gauge",
			     "Expunges of the account the guard holds back from its peers "
			     "(the series exists while it is tripped)");
		any = true;
		sample(out, "mailmesh_expunge_guard_held", in->store, num(o, "held"), "account",
		       acct, NULL);
	}
	json_array_foreach(in->repl, k, o) {
		if (json_object_get(o, "direction") != NULL || json_object_get(o, "store") == NULL)
			continue;
		for (size_t i = 0; i < sizeof(store_fields) / sizeof(store_fields[0]); i++) {
			if (!has_num(o, store_fields[i].key))
				continue;
			head(out, store_fields[i].name, store_fields[i].type, store_fields[i].help);
			sample(out, store_fields[i].name, in->store, num(o, store_fields[i].key),
			       NULL);
		}
	}
}

static void render_hb(const struct ctl_metrics_in *in, struct mm_buf *out)
{
	const json_t *members = json_object_get(in->hb, "members"), *m;
	const json_t *counters = json_object_get(json_object_get(in->hb, "hbmon"), "counters");
	const char *key;
	json_t *v;
	size_t k;

	head(out, "mailmesh_member_state", "gauge",
	     "1 for the member's state as this store sees it (healthy, degraded, failed, unknown)");
	json_array_foreach(members, k, m) {
		const char *st = json_string_value(json_object_get(m, "state"));

		for (size_t i = 0; i < sizeof(member_states) / sizeof(member_states[0]); i++)
			sample(out, "mailmesh_member_state", in->store,
			       st != NULL && strcmp(st, member_states[i]) == 0, "member",
			       json_string_value(json_object_get(m, "name")), "state",
			       member_states[i], NULL);
	}
	per_object(out, in->store, members, NULL, NULL, "member", "name", member_fields,
		   sizeof(member_fields) / sizeof(member_fields[0]));
	json_object_foreach((json_t *)counters, key, v) {
		char name[96];

		if (!json_is_number(v))
			continue;
		snprintf(name, sizeof(name), "mailmesh_hbmon_%s_total", key);
		head(out, name, "counter", "mailmesh-hbmon's heartbeat counter of that name");
		sample(out, name, in->store, json_number_value(v), NULL);
	}
}

static void render_fsck(const struct ctl_metrics_in *in, struct mm_buf *out)
{
	static const struct field f[] = {
		{ "mailmesh_fsck_last_run_timestamp_seconds", "gauge", "time",
		  "When mailmesh-fsck last finished on this store", 1 },
		{ "mailmesh_fsck_last_exit_code", "gauge", "exit",
		  "Its exit code: 0 clean, 1 fixed, 4 errors left, 8 operational error", 1 },
		{ "mailmesh_fsck_last_problems", "gauge", "problems",
		  "Problems it found", 1 },
		{ "mailmesh_fsck_last_fixed", "gauge", "fixed", "Problems it fixed", 1 },
		{ "mailmesh_fsck_last_duration_seconds", "gauge", "seconds",
		  "How long it took", 1 },
	};

	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		if (!has_num(in->fsck, f[i].key))
			continue;
		head(out, f[i].name, f[i].type, f[i].help);
		sample(out, f[i].name, in->store, num(in->fsck, f[i].key), NULL);
	}
}

void ctl_metrics_render(const struct ctl_metrics_in *in, struct mm_buf *out)
{
	head(out, "mailmesh_up", "gauge", "1 when the daemon answers on its control socket");
	sample(out, "mailmesh_up", in->store, in->fs != NULL, "daemon", "mailmesh-fs", NULL);
	sample(out, "mailmesh_up", in->store, in->repl != NULL, "daemon",
	       "mailmesh-replicator", NULL);
	sample(out, "mailmesh_up", in->store, in->hb != NULL, "daemon", "mailmesh-hbmon", NULL);
	if (in->journal_bytes >= 0) {
		head(out, "mailmesh_journal_bytes", "gauge", "Size of the journal's segments");
		sample(out, "mailmesh_journal_bytes", in->store, (double)in->journal_bytes, NULL);
	}
	if (in->fs != NULL)
		render_fs(in, out);
	if (in->repl != NULL)
		render_repl(in, out);
	if (in->hb != NULL)
		render_hb(in, out);
	if (in->fsck != NULL)
		render_fsck(in, out);
}
