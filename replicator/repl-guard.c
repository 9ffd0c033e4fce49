/* SPDX-License-Identifier: MIT
 * repl-guard.c - the mass-expunge guard's window and decision (see
 * repl-guard.h). Reading the journal, counting the store, holding records
 * and the alert belong to repl-link.c. */
#include <stdlib.h>
#include <string.h>
#include "mem.h"
#include "repl-guard.h"

struct window {
	char *account;
	uint64_t base;		/* messages when the window opened */
	bool has_base;		/* base was given (only once it may matter) */
	uint64_t *lsn, *ns;	/* the expunges in it, oldest first */
	size_t head, n, cap;	/* a ring */
};

struct repl_guard {
	struct repl_guard_set set;
	struct window *w;
	size_t n;
	uint64_t last_lsn;
};

struct repl_guard *repl_guard_new(const struct repl_guard_set *set)
{
	struct repl_guard *g = mm_calloc(1, sizeof(*g));

	g->set = *set;
	if (g->set.window_ns == 0)
		g->set.window_ns = REPL_GUARD_WINDOW_NS;
	return g;
}

void repl_guard_free(struct repl_guard **gp)
{
	struct repl_guard *g = *gp;

	if (g == NULL)
		return;
	*gp = NULL;
	for (size_t i = 0; i < g->n; i++) {
		free(g->w[i].account);
		free(g->w[i].lsn);
		free(g->w[i].ns);
	}
	free(g->w);
	free(g);
}

uint64_t repl_guard_threshold(const struct repl_guard_set *set, uint64_t base)
{
	uint64_t t = (base * set->pct + 99) / 100;

	return t > set->min ? t : set->min;
}

static struct window *find(const struct repl_guard *g, const char *account)
{
	for (size_t i = 0; i < g->n; i++)
		if (strcmp(g->w[i].account, account) == 0)
			return &g->w[i];
	return NULL;
}

/* Drops the expunges older than the window ending at time_ns. */
static void expire(const struct repl_guard *g, struct window *w, uint64_t time_ns)
{
	while (w->n > 0 && w->ns[w->head] + g->set.window_ns <= time_ns) {
		w->head = (w->head + 1) % w->cap;
		w->n--;
	}
}

bool repl_guard_needs_base(const struct repl_guard *g, const char *account,
			   uint64_t time_ns)
{
	struct window *w = find(g, account);

	if (g->set.pct == 0)
		return false;
	if (w == NULL)
		return g->set.min == 0;
	expire(g, w, time_ns);
	if (w->n == 0)
		w->has_base = false;
	/* below min the window cannot trip, whatever the count: an account
	   is walked only for a burst that might */
	return w->n >= g->set.min && !w->has_base;
}

static void push(struct window *w, uint64_t lsn, uint64_t ns)
{
	if (w->n == w->cap) {
		size_t cap = w->cap ? w->cap * 2 : 16;
		uint64_t *l = mm_malloc(cap * sizeof(*l)), *t = mm_malloc(cap * sizeof(*t));

		for (size_t i = 0; i < w->n; i++) {
			l[i] = w->lsn[(w->head + i) % w->cap];
			t[i] = w->ns[(w->head + i) % w->cap];
		}
		free(w->lsn);
		free(w->ns);
		w->lsn = l;
		w->ns = t;
		w->head = 0;
		w->cap = cap;
	}
	w->lsn[(w->head + w->n) % w->cap] = lsn;
	w->ns[(w->head + w->n) % w->cap] = ns;
	w->n++;
}

enum repl_guard_verdict repl_guard_note(struct repl_guard *g, const char *account,
					uint64_t lsn, uint64_t time_ns, uint64_t base,
					uint64_t *first_lsn_r, uint64_t *first_ns_r)
{
	struct window *w;

	if (g->set.pct == 0 || lsn <= g->last_lsn)
		return REPL_GUARD_PASS;
	g->last_lsn = lsn;
	w = find(g, account);
	if (w == NULL) {
		g->w = mm_realloc(g->w, (g->n + 1) * sizeof(*g->w));
		w = &g->w[g->n++];
		memset(w, 0, sizeof(*w));
		w->account = mm_strdup(account);
	}
	expire(g, w, time_ns);
	if (w->n == 0)
		w->has_base = false;
	if (w->n >= g->set.min && !w->has_base) {
		/* the expunges of the window were messages when it opened */
		w->base = base + w->n;
		w->has_base = true;
	}
	push(w, lsn, time_ns);
	if (!w->has_base)
		return REPL_GUARD_PASS;
	if (w->n <= repl_guard_threshold(&g->set, w->base))
		return REPL_GUARD_PASS;
	*first_lsn_r = w->lsn[w->head];
	*first_ns_r = w->ns[w->head];
	w->n = 0;
	w->head = 0;
	w->has_base = false;
	return REPL_GUARD_TRIP;
}

uint64_t repl_guard_count(const struct repl_guard *g, const char *account, uint64_t time_ns)
{
	struct window *w = find(g, account);

	if (w == NULL)
		return 0;
	expire(g, w, time_ns);
	return w->n;
}
