/* SPDX-License-Identifier: MIT
 * test-drill.c - mailmeshctl drill's pure parts (hb-drill-core.c): the
 * figures of a move from its samples, the active holder, the target, the
 * way back, the report. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include "buf.h"
#include "hb-drill-core.h"

static const char *const H3[] = { "a", "b", "c" };

static struct hb_drill_sample smp(uint64_t t, bool active, uint64_t epoch, uint64_t head,
				  uint64_t cursor)
{
	struct hb_drill_sample s = { .t_ms = t, .active = active, .epoch = epoch,
				     .head_known = true, .head = head, .cursor_known = true,
				     .cursor = cursor };
	return s;
}

/* a promote: X (epoch 100) stops at 200 ms, T becomes active at 260 ms */
Test(drill, move_figures)
{
	struct hb_drill_move m;
	struct hb_drill_figures f;
	struct hb_drill_sample s;

	hb_drill_move_init(&m, 100);
	for (uint64_t t = 20; t < 200; t += 20) {
		s = smp(t, true, 100, 50 + t, 0);
		hb_drill_move_from(&m, &s);
		s = smp(t + 1, false, 0, 7, 40 + t);
		hb_drill_move_to(&m, &s);
		cr_assert(!hb_drill_move_done(&m));
	}
	s = smp(200, false, 0, 250, 0);
	hb_drill_move_from(&m, &s);
	s = smp(201, false, 0, 7, 245);
	hb_drill_move_to(&m, &s);
	cr_assert(!hb_drill_move_done(&m));
	/* later samples of the old store do not move the start of the outage */
	s = smp(220, false, 0, 300, 0);
	hb_drill_move_from(&m, &s);
	s = smp(260, true, 200, 7, 250);
	hb_drill_move_to(&m, &s);
	cr_assert(hb_drill_move_done(&m));
	/* nor do later samples of the new one */
	s = smp(280, true, 201, 7, 400);
	hb_drill_move_to(&m, &s);
	hb_drill_move_figures(&m, &f);
	cr_assert(f.done);
	cr_assert_eq(f.switch_ms, 260);
	cr_assert_eq(f.unwritable_ms, 60);
	cr_assert(f.rpo_known);
	cr_assert_eq(f.rpo_records, 0);	/* head 250, cursor 250 */
	cr_assert_eq(f.epoch, 200);
}

Test(drill, rpo_counts_what_was_missing)
{
	struct hb_drill_move m;
	struct hb_drill_figures f;
	struct hb_drill_sample s;

	hb_drill_move_init(&m, 100);
	s = smp(20, false, 0, 1000, 0);
	hb_drill_move_from(&m, &s);
	s = smp(40, true, 150, 0, 990);
	hb_drill_move_to(&m, &s);
	hb_drill_move_figures(&m, &f);
	cr_assert_eq(f.rpo_records, 10);
	/* unknown head: no figure, and not 0 */
	hb_drill_move_init(&m, 100);
	s = smp(20, false, 0, 1000, 0);
	s.head_known = false;
	hb_drill_move_from(&m, &s);
	s = smp(40, true, 150, 0, 990);
	hb_drill_move_to(&m, &s);
	hb_drill_move_figures(&m, &f);
	cr_assert(f.done && !f.rpo_known && f.rpo_records == 0);
	/* a cursor past the head sampled (the head moved on): 0 */
	hb_drill_move_init(&m, 100);
	s = smp(20, false, 0, 1000, 0);
	hb_drill_move_from(&m, &s);
	s = smp(40, true, 150, 0, 1005);
	hb_drill_move_to(&m, &s);
	hb_drill_move_figures(&m, &f);
	cr_assert_eq(f.rpo_records, 0);
}

/* The new store counts only with an epoch above the old one's; the old
   store seen active again before that restarts the outage. */
Test(drill, epochs_and_flaps)
{
	struct hb_drill_move m;
	struct hb_drill_figures f;
	struct hb_drill_sample s;

	hb_drill_move_init(&m, 500);
	s = smp(20, true, 400, 0, 0);	/* a stale epoch: not the move */
	hb_drill_move_to(&m, &s);
	s = smp(21, false, 0, 9, 0);
	hb_drill_move_from(&m, &s);
	cr_assert(!hb_drill_move_done(&m));
	s = smp(40, true, 600, 9, 0);	/* the old store took it back */
	hb_drill_move_from(&m, &s);
	s = smp(60, false, 0, 9, 0);
	hb_drill_move_from(&m, &s);
	s = smp(100, true, 700, 0, 9);
	hb_drill_move_to(&m, &s);
	hb_drill_move_figures(&m, &f);
	cr_assert(f.done);
	cr_assert_eq(f.unwritable_ms, 40);	/* from 60, not 21 */
	/* the new store seen active before the old one's file changed: 0 */
	hb_drill_move_init(&m, 500);
	s = smp(20, true, 500, 9, 0);
	hb_drill_move_from(&m, &s);
	s = smp(21, true, 900, 0, 9);
	hb_drill_move_to(&m, &s);
	s = smp(40, true, 500, 9, 0);	/* still listed: does not reset now */
	hb_drill_move_from(&m, &s);
	cr_assert(!hb_drill_move_done(&m));
	s = smp(60, false, 0, 9, 0);
	hb_drill_move_from(&m, &s);
	cr_assert(hb_drill_move_done(&m));
	hb_drill_move_figures(&m, &f);
	cr_assert_eq(f.unwritable_ms, 0);
	cr_assert_eq(f.switch_ms, 21);
	/* not done: no figures */
	hb_drill_move_init(&m, 500);
	s = smp(21, true, 900, 0, 9);
	hb_drill_move_to(&m, &s);
	hb_drill_move_figures(&m, &f);
	cr_assert(!f.done && f.switch_ms == 0);
}

Test(drill, find_active)
{
	struct mm_buf why = { 0 };
	int one[] = { 0, 1, 0 }, two[] = { 1, 1, 0 }, none[] = { 0, 0, 0 },
	    mute[] = { 1, 0, -1 }, three[] = { 1, 1, 1 };

	cr_assert_eq(hb_drill_find_active(H3, one, 3, &why), 1);
	cr_assert_eq(why.len, 0);
	cr_assert_eq(hb_drill_find_active(H3, two, 3, &why), -1);
	cr_assert_str_eq(mm_buf_str(&why), "active on a and b");
	mm_buf_reset(&why);
	cr_assert_eq(hb_drill_find_active(H3, three, 3, &why), -1);
	cr_assert_str_eq(mm_buf_str(&why), "active on a, b and c");
	mm_buf_reset(&why);
	cr_assert_eq(hb_drill_find_active(H3, none, 3, &why), -1);
	cr_assert_str_eq(mm_buf_str(&why), "active on none of its holders (a b c)");
	mm_buf_reset(&why);
	/* one active and one silent: cannot tell that it is the only one */
	cr_assert_eq(hb_drill_find_active(H3, mute, 3, &why), -1);
	cr_assert_str_eq(mm_buf_str(&why), "no answer from c; active on a");
	mm_buf_free(&why);
}

Test(drill, target)
{
	bool all[] = { true, true, true }, c_down[] = { true, true, false },
	     none[] = { false, false, false };
	const char *error;

	/* the next healthy holder after the active, in placement order */
	cr_assert_eq(hb_drill_target(H3, 3, 0, all, NULL, &error), 1);
	cr_assert_eq(hb_drill_target(H3, 3, 1, all, NULL, &error), 2);
	cr_assert_eq(hb_drill_target(H3, 3, 2, all, NULL, &error), 0);	/* wraps */
	cr_assert_eq(hb_drill_target(H3, 3, 1, c_down, NULL, &error), 0);
	cr_assert_eq(hb_drill_target(H3, 3, 0, none, NULL, &error), -1);
	cr_assert_str_eq(error, "no other holder is healthy (its holders: a b c)");
	/* --to: any other holder, healthy or not (hbmon decides) */
	cr_assert_eq(hb_drill_target(H3, 3, 0, c_down, "c", &error), 2);
	cr_assert_eq(hb_drill_target(H3, 3, 0, all, "d", &error), -1);
	cr_assert_str_eq(error, "d does not hold it (its holders: a b c)");
	cr_assert_eq(hb_drill_target(H3, 3, 0, all, "a", &error), -1);
	cr_assert_str_eq(error, "a is where it is active already");
}

Test(drill, back_clears)
{
	bool none[] = { false, false, false }, a_out[] = { true, false, false };

	/* no pin, active on its placement's first: a clear brings it back */
	cr_assert(hb_drill_back_clears(NULL, H3, 3, none, 0));
	/* no pin, active on b because a is excluded: clear too */
	cr_assert(hb_drill_back_clears(NULL, H3, 3, a_out, 1));
	/* active on b while a is not excluded: only a pin brings it back */
	cr_assert(!hb_drill_back_clears(NULL, H3, 3, none, 1));
	/* pinned before: promote back */
	cr_assert(!hb_drill_back_clears("a", H3, 3, none, 0));
	cr_assert(!hb_drill_back_clears(NULL, H3, 3, (bool[]){ true, true, true }, 0));
}

static struct hb_drill_report good(void)
{
	struct hb_drill_report r = {
		.account = "example.org/alice", .from = "a", .to = "b", .ok = true,
		.back_tried = true, .poll_ms = 20,
		.out = { .done = true, .switch_ms = 1020, .unwritable_ms = 840, .rpo_known = true,
			 .rpo_records = 0, .epoch = 1795556559364978166ULL },
		.back = { .done = true, .switch_ms = 950, .unwritable_ms = 800, .rpo_known = true,
			  .rpo_records = 1, .epoch = 1795556569364978166ULL },
	};
	return r;
}

Test(drill, report_text)
{
	struct hb_drill_report r = good();
	struct mm_buf b = { 0 };

	hb_drill_report_text(&r, &b);
	cr_assert_str_eq(mm_buf_str(&b),
		"drill example.org/alice: a -> b: unwritable 0.84 s (switch 1.02 s), 0 records "
		"behind; back b -> a: unwritable 0.80 s (switch 0.95 s), 1 record behind\n"
		"  (unwritable: to the 20 ms poll's resolution; records behind: of all of the old "
		"store's accounts, an upper bound)\n");
	mm_buf_reset(&b);
	r.ok = false;
	r.back = (struct hb_drill_figures){ 0 };
	r.error = "the way back to a: timed out";
	r.left = "example.org/alice is active on b (epoch 5); pinned to b";
	r.out.rpo_known = false;
	hb_drill_report_text(&r, &b);
	cr_assert_str_eq(mm_buf_str(&b),
		"drill example.org/alice: a -> b: unwritable 0.84 s (switch 1.02 s), records "
		"behind unknown (no journal head of a or cursor for it); back b -> a: not "
		"completed\n"
		"  (unwritable: to the 20 ms poll's resolution; records behind: of all of the old "
		"store's accounts, an upper bound)\n"
		"FAILED: the way back to a: timed out\n"
		"left: example.org/alice is active on b (epoch 5); pinned to b\n");
	/* refused at once: no "back" part */
	mm_buf_reset(&b);
	r.out = (struct hb_drill_figures){ 0 };
	r.back_tried = false;
	r.error = "mailmesh-hbmon refused 'promote example.org/alice b': no";
	r.left = "nothing changed";
	hb_drill_report_text(&r, &b);
	cr_assert_str_eq(mm_buf_str(&b), "drill example.org/alice: a -> b: not completed\n"
			 "FAILED: mailmesh-hbmon refused 'promote example.org/alice b': no\n"
			 "left: nothing changed\n");
	mm_buf_free(&b);
}

Test(drill, report_json)
{
	struct hb_drill_report r = good();
	json_t *o = hb_drill_report_json(&r), *out;

	cr_assert_str_eq(json_string_value(json_object_get(o, "account")), "example.org/alice");
	cr_assert_str_eq(json_string_value(json_object_get(o, "from")), "a");
	cr_assert_str_eq(json_string_value(json_object_get(o, "to")), "b");
	cr_assert(json_is_true(json_object_get(o, "ok")));
	out = json_object_get(o, "out");
	cr_assert_eq(json_integer_value(json_object_get(out, "switch_ms")), 1020);
	cr_assert_eq(json_integer_value(json_object_get(out, "unwritable_ms")), 840);
	cr_assert_eq(json_integer_value(json_object_get(out, "rpo_records")), 0);
	cr_assert_eq((uint64_t)json_integer_value(json_object_get(out, "epoch")),
		     1795556559364978166ULL);
	cr_assert_eq(json_integer_value(json_object_get(json_object_get(o, "back"),
							"rpo_records")), 1);
	cr_assert_null(json_object_get(o, "error"));
	json_decref(o);
	r.ok = false;
	r.back = (struct hb_drill_figures){ 0 };
	r.out.rpo_known = false;
	r.error = "x";
	r.left = "y";
	o = hb_drill_report_json(&r);
	cr_assert(json_is_false(json_object_get(o, "ok")));
	cr_assert(json_is_null(json_object_get(o, "back")));
	cr_assert(json_is_null(json_object_get(json_object_get(o, "out"), "rpo_records")));
	cr_assert_str_eq(json_string_value(json_object_get(o, "error")), "x");
	cr_assert_str_eq(json_string_value(json_object_get(o, "left")), "y");
	json_decref(o);
}

Test(drill, event_line)
{
	struct hb_drill_report r = good();
	char *line = hb_drill_event_line(&r, "2026-01-01T00:00:00.000Z");
	json_error_t jerr;
	json_t *o = json_loads(line, 0, &jerr);

	cr_assert_not_null(o, "%s", jerr.text);
	cr_assert_null(strchr(line, '\n'));
	cr_assert_str_eq(json_string_value(json_object_get(o, "role")), "drill");
	cr_assert_str_eq(json_string_value(json_object_get(o, "time")), "2026-01-01T00:00:00.000Z");
	cr_assert_eq((uint64_t)json_integer_value(json_object_get(o, "epoch")),
		     1795556569364978166ULL);
	cr_assert_not_null(strstr(json_string_value(json_object_get(o, "reason")),
				  "drill example.org/alice: a -> b: unwritable 0.84 s"));
	json_decref(o);
	free(line);
	r.ok = false;
	r.error = "timed out";
	r.left = "pinned to b";
	line = hb_drill_event_line(&r, "t");
	o = json_loads(line, 0, &jerr);
	cr_assert_not_null(strstr(json_string_value(json_object_get(o, "reason")),
				  "; FAILED: timed out; left: pinned to b"));
	json_decref(o);
	free(line);
}
