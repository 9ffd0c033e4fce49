/* SPDX-License-Identifier: MIT
 * hb-promote.c - pins in the daemon (mailmeshctl promote): the "promote"
 * and "active" commands of STATE/hbmon.sock, the pin gossip in and out of
 * heartbeats, STATE/hbmon.pins. The table's rules are hb-pins.c's. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <jansson.h>
#include "acct.h"
#include "buf.h"
#include "hb.h"
#include "log.h"
#include "mem.h"

static uint64_t wall_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000 + (uint64_t)ts.tv_nsec;
}

static const char *member_name(const struct hb_daemon *d, int m)
{
	return m >= 0 && (size_t)m < d->n_lm ? d->lm_names[m] : "-";
}

/* Writes p to STATE/hbmon.pins: a new file, fsync'ed, renamed over the
   old one, and the directory fsync'ed, so a crash leaves one or the
   other. It is small and changes only on a promote or a gossiped change,
   so it is written on the loop. */
static int pins_save(struct hb_daemon *d, const struct hb_pins *p, const char **error_r)
{
	static char err[512];
	struct mm_buf b = { 0 };
	char *tmp = mm_strdup_printf("%s.tmp", d->pins_path);
	int fd, dfd, ret = -1;

	hb_pins_format(p, d->lm_names, d->n_lm, &b);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, b.data, b.len) != (ssize_t)b.len || fsync(fd) < 0) {
		snprintf(err, sizeof(err), "write(%s) failed: %s", tmp, strerror(errno));
		if (fd >= 0)
			close(fd);
	} else if (close(fd) < 0) {
		snprintf(err, sizeof(err), "close(%s) failed: %s", tmp, strerror(errno));
	} else if (rename(tmp, d->pins_path) < 0) {
		snprintf(err, sizeof(err), "rename(%s, %s) failed: %s", tmp, d->pins_path,
			 strerror(errno));
	} else {
		if ((dfd = open(d->cfg->state, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
			if (fsync(dfd) < 0)
				mm_log_warn("pins: fsync(%s) failed: %m", d->cfg->state);
			close(dfd);
		}
		ret = 0;
	}
	if (ret < 0)
		*error_r = err;
	free(tmp);
	mm_buf_free(&b);
	return ret;
}

/* Reads STATE/hbmon.pins; a missing file is an empty table, a bad one is
   logged, kept aside as hbmon.pins.bad, and the table starts empty (the
   other voters' gossip brings the pins back). */
static struct hb_pins *pins_load(struct hb_daemon *d)
{
	struct hb_pins *p = NULL;
	struct mm_buf b = { 0 };
	char buf[4096];
	const char *error;
	size_t dropped = 0;
	ssize_t n;
	int fd = open(d->pins_path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		if (errno != ENOENT)
			mm_log_error("pins: open(%s) failed: %m; starting with no pin", d->pins_path);
		return hb_pins_new();
	}
	while ((n = read(fd, buf, sizeof(buf))) > 0 && b.len < 1024 * 1024)
		mm_buf_append(&b, buf, (size_t)n);
	if (n < 0) {
		mm_log_error("pins: read(%s) failed: %m; starting with no pin", d->pins_path);
	} else if (hb_pins_parse((const char *)b.data, b.len, d->lm_names, d->n_lm, &p,
				 &dropped, &error) < 0) {
		char *bad = mm_strdup_printf("%s.bad", d->pins_path);

		mm_log_error("pins: %s: %s: ignored (kept as %s); the other voters' gossip "
			     "brings the pins back", d->pins_path, error, bad);
		if (rename(d->pins_path, bad) < 0)
			mm_log_error("pins: rename(%s, %s) failed: %m", d->pins_path, bad);
		free(bad);
	} else {
		if (dropped > 0)
			mm_log_warn("pins: %s: %zu entr%s for a store that is no member any more: "
				    "left out", d->pins_path, dropped, dropped == 1 ? "y" : "ies");
		if (hb_pins_in_force(p) > 0)
			mm_log_info("pins: %zu in force (from %s)", hb_pins_in_force(p),
				    d->pins_path);
	}
	close(fd);
	mm_buf_free(&b);
	return p != NULL ? p : hb_pins_new();
}

void hb_promote_start(struct hb_daemon *d)
{
	d->pins_path = mm_strdup_printf("%s/hbmon.pins", d->cfg->state);
	d->pins = pins_load(d);
	d->pins_hash = hb_pins_table_hash(d->pins);
}

void hb_promote_stop(struct hb_daemon *d)
{
	hb_pins_free(&d->pins);
	mm_free(&d->pins_path);
}

void hb_promote_tick(struct hb_daemon *d)
{
	struct hb_pin_force snap[HB_PINS_MAX];
	size_t n = hb_pins_snapshot(d->pins, snap);

	hb_voter_pins(d->voter, snap, n);
	/* one definition per tick, the same to every receiver */
	d->has_gossip = hb_pins_next(d->pins, &d->gossip);
}

void hb_promote_fill(struct hb_daemon *d, struct hb_msg *msg)
{
	msg->pins_hash = d->pins_hash;
	msg->pins_count = (uint8_t)hb_pins_count(d->pins);
	msg->has_pin = d->has_gossip;
	if (d->has_gossip)
		msg->pin = d->gossip;
}

/* A new table: kept, saved, its hash cached. */
static void pins_changed(struct hb_daemon *d)
{
	const char *error;

	d->pins_hash = hb_pins_table_hash(d->pins);
	if (pins_save(d, d->pins, &error) < 0)
		mm_log_error("pins: %s (a restart would forget this change; the other voters "
			     "keep it)", error);
}

void hb_promote_rx(struct hb_daemon *d, size_t i, const struct hb_msg *msg)
{
	const struct hb_pin_def *def = &msg->pin;
	const struct hb_member *from = hb_members_get(d->members, i);

	if (!msg->has_pin || msg->pins_hash == d->pins_hash)
		return;
	if (def->member != HB_WIRE_PIN_NONE && def->member >= d->n_lm) {
		mm_log_debug("pins: %s sent a pin of %s to member %u, not a member here",
			     from->name, def->account, def->member);
		return;
	}
	if (!hb_pins_merge(d->pins, def))
		return;
	if (def->member == HB_WIRE_PIN_NONE)
		mm_log_info("pin of %s cleared (seq %" PRIu64 "): learned from %s", def->account,
			    def->seq, from->name);
	else
		mm_log_info("pin: %s -> %s (seq %" PRIu64 "): learned from %s", def->account,
			    d->lm_names[def->member], def->seq, from->name);
	pins_changed(d);
}

static int find_member(const struct hb_daemon *d, const char *name)
{
	for (size_t m = 0; m < d->n_lm; m++)
		if (strcmp(d->lm_names[m], name) == 0)
			return (int)m;
	return -1;
}

/* Checks account for a pin command; 0, or -1 with the error in out. */
static int check_account(struct hb_daemon *d, const char *account, struct mm_buf *out)
{
	const char *error;

	if (d->witness_mode) {
		mm_buf_puts(out, "error this is the witness, which has no placement: run it "
			    "on a store\n");
		return -1;
	}
	if (strlen(account) > HB_WIRE_ACCOUNT_MAX) {
		mm_buf_printf(out, "error an account name of more than %d bytes cannot be "
			      "pinned\n", HB_WIRE_ACCOUNT_MAX);
		return -1;
	}
	if (mm_acct_check(account, d->cfg->account_depth, &error) < 0) {
		mm_buf_printf(out, "error %s\n", error);
		return -1;
	}
	return 0;
}

void hb_promote_cmd(struct hb_daemon *d, const char *args, struct mm_buf *out)
{
	const char *sp = strrchr(args, ' '), *error;
	char *account, *target;
	struct hb_pins *cand;
	uint8_t member = HB_WIRE_PIN_NONE;
	uint64_t seq;
	int r, m;

	if (sp == NULL || sp == args || sp[1] == '\0') {
		mm_buf_puts(out, "error usage: promote ACCOUNT STORE | promote ACCOUNT --clear\n");
		return;
	}
	account = mm_strndup(args, (size_t)(sp - args));
	target = mm_strdup(sp + 1);
	if (check_account(d, account, out) < 0)
		goto done;
	if (strcmp(target, "--clear") != 0) {
		if (d->hbm_witness >= 0 && strcmp(target, "witness") == 0) {
			mm_buf_puts(out, "error witness is the witness: it holds no mail\n");
			goto done;
		}
		if ((m = find_member(d, target)) < 0) {
			mm_buf_printf(out, "error %s is not a member (members:", target);
			for (size_t k = 0; k < d->n_lm; k++)
				mm_buf_printf(out, " %s", d->lm_names[k]);
			mm_buf_puts(out, ")\n");
			goto done;
		}
		hb_placement_get(d->pl, account, &d->pll);
		for (size_t k = 0; k < d->pll.want && member == HB_WIRE_PIN_NONE; k++)
			if (d->pll.rank[k] == (unsigned int)m)
				member = (uint8_t)m;
		if (member == HB_WIRE_PIN_NONE) {
			mm_buf_printf(out, "error %s does not hold %s (its stores:", target, account);
			for (size_t k = 0; k < d->pll.want; k++)
				mm_buf_printf(out, " %s", d->lm_names[d->pll.rank[k]]);
			mm_buf_puts(out, ")\n");
			goto done;
		}
	}
	/* recorded (on disk) before the answer, or not at all */
	cand = hb_pins_dup(d->pins);
	r = hb_pins_set(cand, account, member, wall_ns(), &error);
	if (r < 0) {
		mm_buf_printf(out, "error %s\n", error);
	} else if (r > 0 && pins_save(d, cand, &error) < 0) {
		mm_log_error("pins: %s", error);
		mm_buf_printf(out, "error the pin was not recorded: %s\n", error);
	} else {
		if (r > 0) {
			hb_pins_free(&d->pins);
			d->pins = cand;
			cand = NULL;
			d->pins_hash = hb_pins_table_hash(d->pins);
			hb_pins_get(d->pins, account, &seq);
			if (member == HB_WIRE_PIN_NONE)
				mm_log_info("pin of %s cleared (seq %" PRIu64 "): by operator",
					    account, seq);
			else
				mm_log_info("pin: %s -> %s (seq %" PRIu64 "): by operator", account,
					    target, seq);
		}
		mm_buf_puts(out, "ok\n");
	}
	hb_pins_free(&cand);
done:
	free(account);
	free(target);
}

void hb_promote_active(struct hb_daemon *d, const char *account, struct mm_buf *out)
{
	const struct hb_endorsement *v = hb_voter_view(d->voter);
	uint64_t hash = hb_pins_hash(account);

	if (check_account(d, account, out) < 0)
		return;
	hb_placement_get(d->pl, account, &d->pll);
	mm_buf_printf(out, "ok %s %s %s\n",
		      member_name(d, hb_view_active_in(v, &d->pll, hash, false)),
		      member_name(d, hb_view_active_in(v, &d->pll, hash, true)),
		      member_name(d, hb_view_pin(v, hash, false)));
}

const char *hb_promote_pinned(const struct hb_daemon *d, const char *account)
{
	int m = hb_pins_get(d->pins, account, NULL);

	return m >= 0 ? member_name(d, m) : NULL;
}

void hb_promote_note(const struct hb_daemon *d, const char *account, char *buf, size_t size)
{
	const struct hb_endorsement *v = hb_voter_view(d->voter);
	uint64_t hash = hb_pins_hash(account);
	int cur = hb_view_pin(v, hash, false), prev = hb_view_pin(v, hash, true);

	buf[0] = '\0';
	if (cur >= 0 && (v->excl & (1ULL << cur)) == 0)
		snprintf(buf, size, "; promoted by operator to %s", member_name(d, cur));
	else if (cur < 0 && prev >= 0)
		snprintf(buf, size, "; pin to %s cleared by operator", member_name(d, prev));
}

void hb_promote_json(struct hb_daemon *d, json_t *status, json_t *leases)
{
	const struct hb_endorsement *v = hb_voter_view(d->voter);
	json_t *pins = json_array();
	bool in_sync = true;
	char hex[17];

	for (size_t i = 0; i < hb_pins_count(d->pins); i++) {
		const struct hb_pin_def *e = hb_pins_at(d->pins, i);
		json_t *o;

		if (e->member == HB_WIRE_PIN_NONE)
			continue;
		o = json_pack("{s:s, s:s, s:I}", "account", e->account,
			      "store", member_name(d, e->member), "seq", (json_int_t)e->seq);
		if (d->pl != NULL) {
			int act;

			hb_placement_get(d->pl, e->account, &d->pll);
			act = hb_view_active_in(v, &d->pll, hb_pins_hash(e->account), false);
			json_object_set_new(o, "active", act >= 0 ?
					    json_string(member_name(d, act)) : json_null());
		}
		json_array_append_new(pins, o);
	}
	json_object_set_new(status, "pins", pins);
	/* in sync: every voter heard reports the same table */
	for (size_t i = 0; i < hb_members_count(d->members); i++) {
		const struct hb_member *m = hb_members_get(d->members, i);

		if (m->self || m->state == HB_MEMBER_FAILED || m->state == HB_MEMBER_UNKNOWN)
			continue;
		if (m->last.pins_hash != d->pins_hash)
			in_sync = false;
	}
	snprintf(hex, sizeof(hex), "%016" PRIx64, d->pins_hash);
	json_object_set_new(leases, "pins_hash", json_string(hex));
	json_object_set_new(leases, "pins_in_sync", json_boolean(in_sync));
	json_object_set_new(leases, "pins_entries", json_integer((json_int_t)hb_pins_count(d->pins)));
}
