/* SPDX-License-Identifier: MIT
 * hb-ctl.c - mailmesh-hbmon's control socket (STATE/hbmon.sock): "status"
 * answers "ok" then one JSON object: this store, its counters and members. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/listener.h>
#include <jansson.h>
#include "buf.h"
#include "hb.h"
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
	s = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(6));
	mm_buf_puts(out, s);
	mm_buf_puts(out, "\n");
	free(s);
	json_decref(o);
}

static void c_on_write(struct bufferevent *bev, void *arg)
{
	(void)arg;
	if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		bufferevent_free(bev);
}

static void c_on_read(struct bufferevent *bev, void *arg)
{
	struct hb_daemon *d = arg;
	struct mm_buf out = { 0 };
	size_t n;
	char *line = evbuffer_readln(bufferevent_get_input(bev), &n, EVBUFFER_EOL_LF);

	if (line == NULL)
		return;
	if (strcmp(line, "status") == 0) {
		mm_buf_puts(&out, "ok\n");
		hb_status_json(d, &out);
	} else {
		mm_buf_puts(&out, "error unknown command\n");
	}
	free(line);
	bufferevent_disable(bev, EV_READ);
	bufferevent_setcb(bev, NULL, c_on_write, NULL, d);
	bufferevent_write(bev, out.data, out.len);
	mm_buf_free(&out);
}

static void c_on_event(struct bufferevent *bev, short what, void *arg)
{
	(void)what;
	(void)arg;
	bufferevent_free(bev);
}

static void c_on_accept(struct evconnlistener *lis, evutil_socket_t fd,
			struct sockaddr *sa, int salen, void *arg)
{
	struct bufferevent *bev;

	(void)sa;
	(void)salen;
	bev = bufferevent_socket_new(evconnlistener_get_base(lis), fd, BEV_OPT_CLOSE_ON_FREE);
	bufferevent_setcb(bev, c_on_read, NULL, c_on_event, arg);
	bufferevent_enable(bev, EV_READ);
}

int hb_ctl_start(struct hb_daemon *d, const char **error_r)
{
	static char err[512];
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	if (strlen(d->ctl_path) >= sizeof(sa.sun_path)) {
		snprintf(err, sizeof(err), "%s: path too long for a socket", d->ctl_path);
		*error_r = err;
		return -1;
	}
	strcpy(sa.sun_path, d->ctl_path);
	unlink(d->ctl_path);
	d->ctl_listener = evconnlistener_new_bind(d->base, c_on_accept, d,
						  LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC,
						  16, (struct sockaddr *)&sa, sizeof(sa));
	if (d->ctl_listener == NULL) {
		snprintf(err, sizeof(err), "control socket %s: %s", d->ctl_path,
			 strerror(errno));
		*error_r = err;
		return -1;
	}
	chmod(d->ctl_path, 0600);
	return 0;
}

void hb_ctl_stop(struct hb_daemon *d)
{
	if (d->ctl_listener != NULL) {
		evconnlistener_free(d->ctl_listener);
		unlink(d->ctl_path);
	}
	d->ctl_listener = NULL;
}
