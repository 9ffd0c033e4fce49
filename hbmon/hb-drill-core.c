/* SPDX-License-Identifier: MIT
 * hb-drill-core.c - the pure parts of mailmeshctl drill (see
 * hb-drill-core.h): choosing, measuring and reporting; no I/O. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ctl-json.h"
#include "hb-drill-core.h"
#include "mem.h"

static __thread char err[1024];

void hb_drill_move_init(struct hb_drill_move *m, uint64_t from_epoch)
{
	memset(m, 0, sizeof(*m));
	m->from_epoch = from_epoch;
}

void hb_drill_move_from(struct hb_drill_move *m, const struct hb_drill_sample *s)
{
	if (s->active) {
		/* still (or again) writable there: the outage has not begun;
		   once the new store is active, it only delays the end */
		if (!m->to_on)
			m->from_off = false;
		return;
	}
	if (m->from_off)
		return;
	m->from_off = true;
	m->from_off_ms = s->t_ms;
	m->head_known = s->head_known;
	m->from_head = s->head;
}

void hb_drill_move_to(struct hb_drill_move *m, const struct hb_drill_sample *s)
{
	if (m->to_on || !s->active || s->epoch <= m->from_epoch)
		return;
	m->to_on = true;
	m->to_on_ms = s->t_ms;
	m->to_epoch = s->epoch;
	m->cursor_known = s->cursor_known;
	m->to_cursor = s->cursor;
}

bool hb_drill_move_done(const struct hb_drill_move *m)
{
	return m->to_on && m->from_off;
}

void hb_drill_move_figures(const struct hb_drill_move *m, struct hb_drill_figures *f_r)
{
	memset(f_r, 0, sizeof(*f_r));
	if (!hb_drill_move_done(m))
		return;
	f_r->done = true;
	f_r->switch_ms = m->to_on_ms;
	f_r->unwritable_ms = m->to_on_ms > m->from_off_ms ? m->to_on_ms - m->from_off_ms : 0;
	f_r->rpo_known = m->head_known && m->cursor_known;
	if (f_r->rpo_known)
		f_r->rpo_records = m->from_head > m->to_cursor ? m->from_head - m->to_cursor : 0;
	f_r->epoch = m->to_epoch;
}

static void names(struct mm_buf *b, const char *const *holders, const size_t *idx, size_t k)
{
	for (size_t i = 0; i < k; i++)
		mm_buf_printf(b, "%s%s", i == 0 ? "" : i + 1 == k ? " and " : ", ",
			      holders[idx[i]]);
}

int hb_drill_find_active(const char *const *holders, const int *state, size_t n,
			 struct mm_buf *why)
{
	size_t *act = mm_calloc(n + 1, sizeof(*act)), *mute = mm_calloc(n + 1, sizeof(*mute));
	size_t na = 0, nm = 0;
	int ret = -1;

	for (size_t i = 0; i < n; i++) {
		if (state[i] > 0)
			act[na++] = i;
		else if (state[i] < 0)
			mute[nm++] = i;
	}
	if (na == 1 && nm == 0) {
		ret = (int)act[0];
	} else if (nm > 0) {
		mm_buf_puts(why, "no answer from ");
		names(why, holders, mute, nm);
		if (na > 0) {
			mm_buf_puts(why, "; active on ");
			names(why, holders, act, na);
		}
	} else if (na == 0) {
		mm_buf_puts(why, "active on none of its holders (");
		for (size_t i = 0; i < n; i++)
			mm_buf_printf(why, "%s%s", i > 0 ? " " : "", holders[i]);
		mm_buf_puts(why, ")");
	} else {
		mm_buf_puts(why, "active on ");
		names(why, holders, act, na);
	}
	free(act);
	free(mute);
	return ret;
}

static void holder_list(char *out, size_t size, const char *const *holders, size_t n)
{
	size_t len = 0;

	out[0] = '\0';
	for (size_t i = 0; i < n && len < size; i++) {
		snprintf(out + len, size - len, "%s%s", i > 0 ? " " : "", holders[i]);
		len += strlen(out + len);
	}
}

int hb_drill_target(const char *const *holders, size_t n, size_t x, const bool *healthy,
		    const char *to, const char **error_r)
{
	char list[512];

	holder_list(list, sizeof(list), holders, n);
	if (to != NULL) {
		for (size_t i = 0; i < n; i++) {
			if (strcmp(holders[i], to) != 0)
				continue;
			if (i == x) {
				snprintf(err, sizeof(err), "%s is where it is active already", to);
				*error_r = err;
				return -1;
			}
			return (int)i;
		}
		snprintf(err, sizeof(err), "%s does not hold it (its holders: %s)", to, list);
		*error_r = err;
		return -1;
	}
	for (size_t k = 1; k < n; k++) {
		size_t i = (x + k) % n;

		if (healthy[i])
			return (int)i;
	}
	snprintf(err, sizeof(err), "no other holder is healthy (its holders: %s)", list);
	*error_r = err;
	return -1;
}

bool hb_drill_back_clears(const char *pinned_before, const char *const *holders, size_t n,
			  const bool *excluded, size_t x)
{
	(void)holders;
	if (pinned_before != NULL)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!excluded[i])
			return i == x;
	return false;
}

static void move_text(struct mm_buf *out, const struct hb_drill_figures *f, const char *from)
{
	if (!f->done) {
		mm_buf_puts(out, "not completed");
		return;
	}
	mm_buf_printf(out, "unwritable %.2f s (switch %.2f s), ", f->unwritable_ms / 1000.0,
		      f->switch_ms / 1000.0);
	if (f->rpo_known)
		mm_buf_printf(out, "%" PRIu64 " record%s behind", f->rpo_records,
			      f->rpo_records == 1 ? "" : "s");
	else
		mm_buf_printf(out, "records behind unknown (no journal head of %s or cursor for it)",
			      from);
}

/* The first line of the text report. */
static void summary(const struct hb_drill_report *r, struct mm_buf *out)
{
	mm_buf_printf(out, "drill %s: %s -> %s: ", r->account, r->from, r->to);
	move_text(out, &r->out, r->from);
	if (r->out.done || r->back_tried) {
		mm_buf_printf(out, "; back %s -> %s: ", r->to, r->from);
		move_text(out, &r->back, r->to);
	}
}

void hb_drill_report_text(const struct hb_drill_report *r, struct mm_buf *out)
{
	summary(r, out);
	mm_buf_puts(out, "\n");
	if (r->out.done)
		mm_buf_printf(out, "  (unwritable: to the %u ms poll's resolution; records behind: "
			      "of all of the old store's accounts, an upper bound)\n", r->poll_ms);
	if (!r->ok) {
		mm_buf_printf(out, "FAILED: %s\n", r->error != NULL ? r->error : "unknown");
		if (r->left != NULL)
			mm_buf_printf(out, "left: %s\n", r->left);
	}
}

static json_t *move_json(const struct hb_drill_figures *f)
{
	if (!f->done)
		return json_null();
	return json_pack("{s:I, s:I, s:o, s:I}", "switch_ms", (json_int_t)f->switch_ms,
			 "unwritable_ms", (json_int_t)f->unwritable_ms,
			 "rpo_records", f->rpo_known ? json_integer((json_int_t)f->rpo_records) :
			 json_null(),
			 "epoch", (json_int_t)f->epoch);
}

json_t *hb_drill_report_json(const struct hb_drill_report *r)
{
	json_t *o = json_object();

	/* the account's name may hold bytes that are not UTF-8 */
	ctl_json_set_str(o, "account", r->account);
	json_object_set_new(o, "from", json_string(r->from));
	json_object_set_new(o, "to", json_string(r->to));
	json_object_set_new(o, "poll_ms", json_integer((json_int_t)r->poll_ms));
	json_object_set_new(o, "out", move_json(&r->out));
	json_object_set_new(o, "back", move_json(&r->back));
	json_object_set_new(o, "ok", json_boolean(r->ok));
	if (r->error != NULL)
		json_object_set_new(o, "error", json_string(r->error));
	if (r->left != NULL)
		json_object_set_new(o, "left", json_string(r->left));
	return o;
}

char *hb_drill_event_line(const struct hb_drill_report *r, const char *time_iso)
{
	struct mm_buf reason = { 0 };
	uint64_t epoch = r->back.done ? r->back.epoch : r->out.done ? r->out.epoch : 0;
	json_t *o;
	char *s;

	summary(r, &reason);
	if (!r->ok)
		mm_buf_printf(&reason, "; FAILED: %s%s%s", r->error != NULL ? r->error : "unknown",
			      r->left != NULL ? "; left: " : "", r->left != NULL ? r->left : "");
	o = json_object();
	json_object_set_new(o, "time", json_string(time_iso));
	ctl_json_set_str(o, "account", r->account);
	json_object_set_new(o, "role", json_string("drill"));
	json_object_set_new(o, "epoch", json_integer((json_int_t)epoch));
	ctl_json_set_str(o, "reason", mm_buf_str(&reason));
	s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	mm_buf_free(&reason);
	return s;
}
