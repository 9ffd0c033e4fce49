/* SPDX-License-Identifier: MIT
 * hb-ctl.c - mailmesh-hbmon's control socket (STATE/hbmon.sock): "status"
 * answers "ok" then one JSON object: this store, its counters and members;
 * the other commands go to the files that own them. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <jansson.h>
#include "buf.h"
#include "evctl.h"
#include "hb.h"
#include "log.h"
#include "mem.h"

void hb_status_json(struct hb_daemon *d, struct mm_buf *out)
{
	json_t *members = json_array(), *o;
	uint64_t now = hb_now_us();
	char inc[17];
	char *s;

	for (size_t i = 0; i < hb_members_count(d->members); i++) {
		const struct hb_member *m = hb_members_get(d->members, i);
		bool figures = m->self || m->heard;

		o = json_pack("{s:s, s:b, s:s, s:s, s:I}",
			      "name", m->name, "self", m->self,
			      "state", hb_member_state_str(m->state), "reason", m->reason,
			      "replays", (json_int_t)m->n_replays);
		json_object_set_new(o, "rtt_ms", m->rtt_us >= 0 ?
				    json_real((double)m->rtt_us / 1000.0) : json_null());
		json_object_set_new(o, "last_heard_ms", m->self ? json_integer(0) :
				    m->heard ? json_integer((json_int_t)((now - m->heard_us) / 1000)) :
				    json_null());
		if (figures) {
			json_object_set_new(o, "probe_ms", json_real(m->last.probe_us / 1000.0));
			json_object_set_new(o, "pressure_io", json_real(m->last.pressure_io / 100.0));
			json_object_set_new(o, "pressure_cpu",
					    json_real(m->last.pressure_cpu / 100.0));
			json_object_set_new(o, "pressure_mem",
					    json_real(m->last.pressure_mem / 100.0));
			json_object_set_new(o, "free_bytes",
					    json_integer((json_int_t)m->last.free_bytes));
		} else {
			json_object_set_new(o, "probe_ms", json_null());
			json_object_set_new(o, "pressure_io", json_null());
			json_object_set_new(o, "pressure_cpu", json_null());
			json_object_set_new(o, "pressure_mem", json_null());
			json_object_set_new(o, "free_bytes", json_null());
		}
		hb_roles_lag_json(d, i, o);
		json_array_append_new(members, o);
	}
	snprintf(inc, sizeof(inc), "%016llx", (unsigned long long)d->incarnation);
	o = json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:{s:I, s:I, s:I, s:I, s:I, s:I}, s:o}",
		      "store", d->cfg->node_name, "listen", d->cfg->hb_listen,
		      "incarnation", inc, "seq", (json_int_t)d->seq,
		      "interval_ms", (json_int_t)d->cfg->hb_interval_ms,
		      "timeout_ms", (json_int_t)d->cfg->hb_timeout_ms,
		      "counters",
		      "rx_ok", (json_int_t)d->rx_ok, "rx_bad_auth", (json_int_t)d->rx_bad_auth,
		      "rx_replay", (json_int_t)d->rx_replay,
		      "rx_malformed", (json_int_t)d->rx_malformed,
		      "rx_unknown", (json_int_t)d->rx_unknown,
		      "tx_errors", (json_int_t)d->tx_errors,
		      "members", members);
	json_object_set_new(json_object_get(o, "counters"), "rx_members",
			    json_integer((json_int_t)d->rx_members));
	json_object_set_new(o, "witness", json_boolean(d->witness_mode));
	hb_roles_json(d, o);
	s = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(6));
	mm_buf_puts(out, s);
	mm_buf_puts(out, "\n");
	free(s);
	json_decref(o);
}

static void c_on_line(struct bufferevent *bev, const char *line, void *arg)
{
	struct hb_daemon *d = arg;
	struct mm_buf out = { 0 };

	if (strcmp(line, "status") == 0) {
		mm_buf_puts(&out, "ok\n");
		hb_status_json(d, &out);
	} else if (strncmp(line, "probe-delay ", 12) == 0 && d->probe != NULL) {
		/* a test knob, like [hbmon] probe_delay_ms */
		unsigned long ms = strtoul(line + 12, NULL, 10);

		if (ms > 60000) {
			mm_buf_puts(&out, "error 0..60000 ms\n");
		} else {
			hb_probe_set_delay(d->probe, (unsigned int)ms);
			mm_log_warn("TEST KNOB: every store probe now sleeps %lu ms", ms);
			mm_buf_puts(&out, "ok\n");
		}
	} else if ((strcmp(line, "drain on") == 0 || strcmp(line, "drain off") == 0) &&
		   !d->witness_mode) {
		hb_drain_set(d, strcmp(line, "drain on") == 0);
		mm_buf_puts(&out, "ok\n");
	} else if (strncmp(line, "account ", 8) == 0) {
		hb_roles_ask(d, line + 8, &out);
	} else if (strncmp(line, "promote ", 8) == 0) {
		hb_promote_cmd(d, line + 8, &out);
	} else if (strncmp(line, "active ", 7) == 0) {
		hb_promote_active(d, line + 7, &out);
	} else {
		mm_buf_puts(&out, "error unknown command\n");
	}
	mm_evctl_reply(bev, out.data, out.len);
	mm_buf_free(&out);
}

int hb_ctl_start(struct hb_daemon *d, const char **error_r)
{
	d->ctl = mm_evctl_listen(d->base, d->ctl_path, c_on_line, d, error_r);
	return d->ctl != NULL ? 0 : -1;
}

void hb_ctl_stop(struct hb_daemon *d)
{
	mm_evctl_close(&d->ctl);
}
