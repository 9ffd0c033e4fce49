/* SPDX-License-Identifier: MIT
 * hb-drill-core.h - the pure parts of mailmeshctl drill: which store is
 * active and which to move to, the figures of a move from the ROLE samples,
 * how to go back, and the report. Asking, promoting and the clock are
 * hb-drill.c's. */
#ifndef HB_DRILL_CORE_H
#define HB_DRILL_CORE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "buf.h"

/* the two stores of a move are asked this often */
#define HB_DRILL_POLL_MS 20

/* One ROLE answer of a store of a move. */
struct hb_drill_sample {
	uint64_t t_ms;		/* when it came, ms since the move began */
	bool active;
	uint64_t epoch;
	bool head_known;
	uint64_t head;		/* the store's journal head */
	bool cursor_known;
	uint64_t cursor;	/* its durable cursor for the other store of the move */
};

/* A move of the account from one store to another, fed with samples of
   both, in the order they were taken. Fields are read-only for callers. */
struct hb_drill_move {
	uint64_t from_epoch;	/* the epoch it had where it was active */
	/* the first sample of the store moved from that no longer has it
	   active (since the last one that had it) */
	bool from_off;
	uint64_t from_off_ms;
	bool head_known;
	uint64_t from_head;
	/* the first sample of the store moved to that has it active with an
	   epoch above from_epoch */
	bool to_on;
	uint64_t to_on_ms;
	uint64_t to_epoch;
	bool cursor_known;
	uint64_t to_cursor;
};

void hb_drill_move_init(struct hb_drill_move *m, uint64_t from_epoch);
/* A sample of the store moved from (its head matters; cursor is unused). */
void hb_drill_move_from(struct hb_drill_move *m, const struct hb_drill_sample *s);
/* A sample of the store moved to (its cursor for the other store matters). */
void hb_drill_move_to(struct hb_drill_move *m, const struct hb_drill_sample *s);
/* Whether the move is over: the store moved to is active with a higher
   epoch and the one moved from is not. */
bool hb_drill_move_done(const struct hb_drill_move *m);

struct hb_drill_figures {
	bool done;		/* false: the move did not complete; the rest is 0 */
	uint64_t switch_ms;	/* from the promote to the first sample with it active */
	/* from the first sample where the old store no longer had it active to
	   the first where the new one had it: the outage a writer sees, to the
	   poll's resolution; 0 when the new store was seen active first */
	uint64_t unwritable_ms;
	/* records of the old store's journal the new one had not applied when
	   it became active: the old store's head when it stopped minus the new
	   store's cursor for it (0 at least). It counts the records of all the
	   old store's accounts, so it is an upper bound for this one. */
	bool rpo_known;		/* false: no head or no cursor was known */
	uint64_t rpo_records;
	uint64_t epoch;		/* the new store's epoch of the account */
};
void hb_drill_move_figures(const struct hb_drill_move *m, struct hb_drill_figures *f_r);

/* The holder that has the account active. state[i] is 1 when holders[i]
   answered active, 0 not active, -1 no answer. Returns its index when
   exactly one answered active and every one answered; else -1 with what
   was found appended to why ("active on a and b", "active on none of a b
   c", "no answer from c"). */
int hb_drill_find_active(const char *const *holders, const int *state, size_t n,
			 struct mm_buf *why);

/* The store to move to: to (--to) when it is a holder other than the
   active x; else the first holder after x in placement order (wrapping
   around) that healthy[] says is healthy. With to, x may be n (the active
   is not known yet: only whether to is a holder is checked) and healthy
   NULL. Returns its index, or -1 with *error_r (static, this thread). */
int hb_drill_target(const char *const *holders, size_t n, size_t x, const bool *healthy,
		    const char *to, const char **error_r);

/* Whether the way back is "promote ACCOUNT --clear" (true) rather than
   "promote ACCOUNT X": when the account had no pin before the drill
   (pinned_before NULL) and x is what its placement makes active: the first
   of its holders (placement order) that the view does not exclude
   (excluded[i]). */
bool hb_drill_back_clears(const char *pinned_before, const char *const *holders, size_t n,
			  const bool *excluded, size_t x);

/* What a drill did, for the report. */
struct hb_drill_report {
	const char *account, *from, *to;
	struct hb_drill_figures out, back;
	bool back_tried;	/* the way back was attempted */
	bool ok;		/* both moves completed */
	const char *error;	/* why not, or NULL */
	const char *left;	/* the state a failed drill left, or NULL */
	unsigned int poll_ms;
};
/* "drill ACCOUNT: a -> b: unwritable 0.84 s (switch 1.02 s), 0 records
   behind; back b -> a: ..." and, when it failed, lines saying why and what
   it left. Appends to out, ending with a newline. */
void hb_drill_report_text(const struct hb_drill_report *r, struct mm_buf *out);
/* One object: account, from, to, poll_ms, out and back ({switch_ms,
   unwritable_ms, rpo_records (null when unknown), epoch}, null when the
   move did not complete), ok, and error and left when set. New reference. */
json_t *hb_drill_report_json(const struct hb_drill_report *r);
/* The STATE/events line for it (JSON, no newline; the caller frees):
   time (given), account, role "drill", epoch (the last one reached, 0 if
   none), reason (the text report's first line, or the error). */
char *hb_drill_event_line(const struct hb_drill_report *r, const char *time_iso);

#endif
