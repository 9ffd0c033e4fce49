/* SPDX-License-Identifier: MIT
 * hb-net.c - heartbeats over UDP: the key, the socket, the tick that
 * samples health and sends, and the receive path that checks and counts.
 * Decisions are hb-members.c's and hb-health.c's; this file logs them. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <openssl/evp.h>
#include "buf.h"
#include "hb.h"
#include "journal.h"
#include "log.h"
#include "mem.h"

uint64_t hb_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

uint64_t hb_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int hb_key_load(struct hb_daemon *d, const char **error_r)
{
	static char err[512];
	const char *path = d->cfg->hb_key_file != NULL ? d->cfg->hb_key_file : d->cfg->tls_ca;
	unsigned char buf[4096];
	unsigned int len = 0;
	EVP_MD_CTX *md;
	size_t n, total = 0;
	FILE *f;

	if (path == NULL) {
		snprintf(err, sizeof(err), "%s: the heartbeat key needs [hbmon] key_file "
			 "or [tls] ca", d->cfg->path);
		*error_r = err;
		return -1;
	}
	if ((f = fopen(path, "r")) == NULL) {
		snprintf(err, sizeof(err), "heartbeat key: open(%s) failed: %s", path,
			 strerror(errno));
		*error_r = err;
		return -1;
	}
	md = EVP_MD_CTX_new();
	EVP_DigestInit_ex(md, EVP_sha256(), NULL);
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0) {
		EVP_DigestUpdate(md, buf, n);
		total += n;
	}
	if (ferror(f) || total == 0) {
		snprintf(err, sizeof(err), "heartbeat key: read(%s) failed: %s", path,
			 total == 0 ? "empty file" : strerror(errno));
		fclose(f);
		EVP_MD_CTX_free(md);
		*error_r = err;
		return -1;
	}
	fclose(f);
	EVP_DigestFinal_ex(md, d->key, &len);
	EVP_MD_CTX_free(md);
	return 0;
}

static int resolve(const char *hostport, bool passive, struct sockaddr_storage *sa_r,
		   socklen_t *len_r, const char **error_r)
{
	static char err[512];
	struct addrinfo hints = { .ai_socktype = SOCK_DGRAM,
				  .ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0) };
	struct addrinfo *ai;
	char host[256], port[16];
	unsigned int p;
	int e;

	if (mm_parse_hostport(hostport, host, sizeof(host), &p) < 0) {
		snprintf(err, sizeof(err), "'%s' is not HOST:PORT", hostport);
		*error_r = err;
		return -1;
	}
	snprintf(port, sizeof(port), "%u", p);
	if ((e = getaddrinfo(host, port, &hints, &ai)) != 0) {
		snprintf(err, sizeof(err), "getaddrinfo(%s) failed: %s", hostport,
			 gai_strerror(e));
		*error_r = err;
		return -1;
	}
	memcpy(sa_r, ai->ai_addr, ai->ai_addrlen);
	*len_r = ai->ai_addrlen;
	freeaddrinfo(ai);
	return 0;
}

static void addr_str(const struct sockaddr_storage *sa, char *out, size_t size)
{
	char host[INET6_ADDRSTRLEN] = "?";
	unsigned int port = 0;

	if (sa->ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;

		inet_ntop(AF_INET, &s4->sin_addr, host, sizeof(host));
		port = ntohs(s4->sin_port);
	} else if (sa->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;

		inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof(host));
		port = ntohs(s6->sin6_port);
	}
	snprintf(out, size, "%s:%u", host, port);
}

/* Whether a line about datagrams from `from` may be logged now. */
static bool lograte_ok(struct hb_daemon *d, const char *from, uint64_t now)
{
	size_t oldest = 0;

	for (size_t i = 0; i < HB_LOGRATE_SLOTS; i++) {
		if (strcmp(d->lograte[i].from, from) == 0) {
			if (d->lograte[i].at_us != 0 && now - d->lograte[i].at_us < HB_LOGRATE_US)
				return false;
			d->lograte[i].at_us = now;
			return true;
		}
		if (d->lograte[i].at_us < d->lograte[oldest].at_us)
			oldest = i;
	}
	snprintf(d->lograte[oldest].from, sizeof(d->lograte[oldest].from), "%s", from);
	d->lograte[oldest].at_us = now;
	return true;
}

static void log_changes(struct hb_daemon *d)
{
	enum hb_member_state from;
	size_t i;

	while (hb_members_next_change(d->members, &i, &from)) {
		const struct hb_member *m = hb_members_get(d->members, i);

		mm_log_info("member %s%s: %s -> %s%s%s", m->name, m->self ? " (self)" : "",
			    hb_member_state_str(from), hb_member_state_str(m->state),
			    m->reason[0] != '\0' ? ": " : "", m->reason);
	}
}

static void on_rx(evutil_socket_t fd, short what, void *arg)
{
	struct hb_daemon *d = arg;
	unsigned char buf[HB_WIRE_MAX + 1];
	bool changed = false;

	(void)what;
	for (int k = 0; k < 64; k++) {
		struct sockaddr_storage sa;
		socklen_t salen = sizeof(sa);
		struct hb_msg msg;
		char from[64];
		const char *why = NULL;
		uint64_t now;
		size_t idx;
		ssize_t n = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&sa, &salen);
		int ret;

		if (n < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				mm_log_warn("recvfrom(%s) failed: %m", d->cfg->hb_listen);
			break;
		}
		now = hb_now_us();
		ret = hb_wire_decode(buf, (size_t)n, d->key, &msg);
		if (ret == MM_ERR_CHECKSUM) {
			d->rx_bad_auth++;
			why = "authentication failed (wrong key or forged)";
		} else if (ret < 0) {
			d->rx_malformed++;
			why = mm_strerror(ret);
		} else if (!hb_roles_same_members(d, &msg)) {
			d->rx_members++;
			why = "member lists differ (another [peer] set)";
		} else {
			switch (hb_members_recv(d->members, &msg, now, hb_wall_ms(), &idx)) {
			case HB_RX_OK:
				d->rx_ok++;
				changed = true;
				hb_roles_rx(d, idx, &msg, now);
				break;
			case HB_RX_UNKNOWN:
				d->rx_unknown++;
				why = "not from a member";
				break;
			case HB_RX_REPLAY:
				d->rx_replay++;
				why = "replayed or stale (incarnation, seq)";
				break;
			case HB_RX_CLOCK:
				d->rx_replay++;
				why = "new incarnation sent more than 30 s off our "
				      "clock (replayed, or clocks out of step)";
				break;
			}
		}
		if (why != NULL) {
			addr_str(&sa, from, sizeof(from));
			if (lograte_ok(d, from, now))
				mm_log_warn("heartbeat from %s%s%s refused: %s (%zd bytes)", from,
					    ret == 0 ? " claiming " : "", ret == 0 ? msg.name : "",
					    why, n);
		}
	}
	if (changed) {
		hb_members_tick(d->members, hb_now_us());
		log_changes(d);
		/* an endorsement that no longer counts demotes at once */
		hb_roles_rx_done(d, hb_now_us());
	}
}

static void sample_health(struct hb_daemon *d)
{
	const char *error;
	bool was = d->health.degraded;

	if (d->probe == NULL)
		return;	/* the witness has no store */
	if (hb_probe_get(d->probe, &d->figures, &error) > 0)
		d->sampled = true;
	/* no verdict from the zeroes before the first sample (0 bytes free) */
	if (!d->sampled)
		return;
	if (strcmp(error, d->probe_error) != 0) {
		if (error[0] != '\0')
			mm_log_error("store probe: %s", error);
		snprintf(d->probe_error, sizeof(d->probe_error), "%s", error);
	}
	if (hb_health_state(&d->health, &d->figures, &d->thr) != was)
		mm_log_debug("own health: %s", d->health.degraded ? "degraded" : "healthy");
	if (d->draining) {
		/* planned maintenance: degraded whatever the figures say, so
		   every voter moves this store's accounts off gracefully */
		struct hb_health h = d->health;

		h.degraded = true;
		snprintf(h.reason, sizeof(h.reason), "draining (mailmeshctl drain)");
		hb_members_self(d->members, &h, &d->figures);
		return;
	}
	hb_members_self(d->members, &d->health, &d->figures);
}

void hb_drain_set(struct hb_daemon *d, bool on)
{
	char *path = mm_strdup_printf("%s/hbmon.drain", d->cfg->state);

	if (on != d->draining)
		mm_log_info(on ? "draining: this store gives up its accounts (mailmeshctl drain)" :
			    "drain ended: this store may take accounts again");
	d->draining = on;
	if (on) {
		int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);

		if (fd < 0)
			mm_log_error("drain: cannot create %s (a restart would end the drain): %m",
				     path);
		else
			close(fd);
	} else if (unlink(path) < 0 && errno != ENOENT) {
		mm_log_error("drain: cannot remove %s: %m", path);
	}
	free(path);
	sample_health(d);
}

static void send_heartbeats(struct hb_daemon *d)
{
	struct mm_buf out = { 0 };
	uint64_t now = hb_now_us(), wall = hb_wall_ms();
	struct hb_msg msg;

	memset(&msg, 0, sizeof(msg));
	snprintf(msg.name, sizeof(msg.name), "%s", d->cfg->node_name);
	msg.incarnation = d->incarnation;
	msg.seq = ++d->seq;
	msg.time_ms = wall;
	msg.degraded = d->health.degraded || d->draining;
	snprintf(msg.reason, sizeof(msg.reason), "%s",
		 d->draining ? "draining (mailmeshctl drain)" : d->health.reason);
	msg.probe_us = d->figures.probe_us;
	msg.pressure_io = d->figures.pressure_io;
	msg.pressure_cpu = d->figures.pressure_cpu;
	msg.pressure_mem = d->figures.pressure_mem;
	msg.free_bytes = d->figures.free_bytes;
	hb_members_sent(d->members, msg.seq, now);
	for (size_t i = 0; i < d->n_dests; i++) {
		const struct hb_dest *t = &d->dests[i];

		hb_roles_fill(d, t->member, now, &msg);
		hb_members_echo(d->members, t->member, now, &msg.echo_seq, &msg.echo_held_us);
		mm_buf_reset(&out);
		hb_wire_encode(&msg, d->key, &out);
		if (sendto(d->fd, out.data, out.len, 0, (const struct sockaddr *)&t->sa,
			   t->salen) < 0) {
			/* ECONNREFUSED from an earlier send to a dead member
			   is expected; count, don't log every interval */
			d->tx_errors++;
		}
	}
	mm_buf_free(&out);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct hb_daemon *d = arg;

	(void)fd;
	(void)what;
	/* after a stall (SIGSTOP, a swapped-out process) read what waited in
	   the socket before judging anyone unheard */
	on_rx(d->fd, EV_READ, d);
	sample_health(d);
	hb_members_tick(d->members, hb_now_us());
	log_changes(d);
	hb_roles_tick(d, hb_now_us());
	send_heartbeats(d);
}

int hb_net_start(struct hb_daemon *d, const char **error_r)
{
	static char err[512];
	const struct mm_cfg *cfg = d->cfg;
	struct hb_members_settings set = { .timeout_ms = cfg->hb_timeout_ms,
					   .rtt_ms = cfg->hb_rtt_ms };
	const char **names = mm_calloc(cfg->n_peers + 1, sizeof(*names));
	struct sockaddr_storage sa;
	socklen_t salen;
	size_t n = 0;
	int one = 1;

	for (size_t i = 0; i < cfg->n_peers; i++) {
		if (strcmp(cfg->peers[i].name, cfg->node_name) == 0)
			continue;	/* a shared file lists us too */
		if (cfg->peers[i].hbmon == NULL) {
			mm_log_warn("[peer %s] has no hbmon address: not monitored",
				    cfg->peers[i].name);
			continue;
		}
		names[n++] = cfg->peers[i].name;
	}
	d->members = hb_members_new(cfg->node_name, names, n,
				    cfg->hb_witness != NULL && !d->witness_mode, &set);
	d->dests = mm_calloc(n + 2, sizeof(*d->dests));
	for (size_t i = 0; i < cfg->n_peers; i++) {
		const struct mm_peer_cfg *p = &cfg->peers[i];
		struct hb_dest *t = &d->dests[d->n_dests];

		if (strcmp(p->name, cfg->node_name) == 0 || p->hbmon == NULL)
			continue;
		if (resolve(p->hbmon, false, &t->sa, &t->salen, error_r) < 0) {
			free(names);
			return -1;
		}
		t->member = (size_t)hb_members_find(d->members, p->name);
		d->n_dests++;
	}
	free(names);
	if (cfg->hb_witness != NULL && !d->witness_mode) {
		struct hb_dest *t = &d->dests[d->n_dests];

		if (resolve(cfg->hb_witness, false, &t->sa, &t->salen, error_r) < 0)
			return -1;
		for (size_t i = 0; i < hb_members_count(d->members); i++)
			if (hb_members_get(d->members, i)->witness)
				t->member = i;
		d->n_dests++;
	}

	if (resolve(cfg->hb_listen, true, &sa, &salen, error_r) < 0)
		return -1;
	d->fd = socket(sa.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (d->fd < 0) {
		snprintf(err, sizeof(err), "socket() failed: %s", strerror(errno));
		*error_r = err;
		return -1;
	}
	setsockopt(d->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(d->fd, (struct sockaddr *)&sa, salen) < 0) {
		snprintf(err, sizeof(err), "bind(%s) failed: %s", cfg->hb_listen,
			 strerror(errno));
		*error_r = err;
		return -1;
	}
	if (!d->witness_mode &&
	    hb_probe_start(cfg->store, cfg->hb_interval_ms, cfg->hb_probe_delay_ms,
			   &d->probe, error_r) < 0)
		return -1;
	if (hb_roles_start(d, error_r) < 0)
		return -1;
	if (!d->witness_mode) {
		/* a drain outlives a restart: maintenance often restarts */
		char *path = mm_strdup_printf("%s/hbmon.drain", cfg->state);

		if (access(path, F_OK) == 0) {
			d->draining = true;
			mm_log_info("draining (since before this start: %s): this store takes "
				    "no account; 'mailmeshctl drain --off' ends it", path);
		}
		free(path);
	}
	d->rx_ev = event_new(d->base, d->fd, EV_READ | EV_PERSIST, on_rx, d);
	d->tick_ev = event_new(d->base, -1, EV_PERSIST, on_tick, d);
	event_add(d->rx_ev, NULL);
	struct timeval tv = { .tv_sec = cfg->hb_interval_ms / 1000,
			      .tv_usec = (cfg->hb_interval_ms % 1000) * 1000 };

	event_add(d->tick_ev, &tv);
	on_tick(-1, 0, d);
	return 0;
}

void hb_net_stop(struct hb_daemon *d)
{
	if (d->rx_ev != NULL)
		event_free(d->rx_ev);
	if (d->tick_ev != NULL)
		event_free(d->tick_ev);
	d->rx_ev = d->tick_ev = NULL;
	hb_probe_stop(&d->probe);
	hb_roles_stop(d);
	if (d->fd >= 0)
		close(d->fd);
	d->fd = -1;
	hb_members_free(&d->members);
	mm_free(&d->dests);
	d->n_dests = 0;
}
