/* SPDX-License-Identifier: MIT
 * hb-test.h - for the lease tests: a placement over named members and an
 * account with the ranking a test needs. */
#ifndef HB_TEST_H
#define HB_TEST_H
#include <stdio.h>
#include "hb-placement.h"

/* A placement with replicas 2 over names (member i = names[i]) and l
   initialised for it; hb_test_placement_free() undoes both. */
static inline struct hb_placement *hb_test_placement(const char *const *names, size_t n,
						     struct hb_placement_list *l)
{
	struct hb_placement *pl = hb_placement_new(2);

	for (size_t i = 0; i < n; i++)
		hb_placement_add_store(pl, names[i]);
	hb_placement_list_init(l, pl, SIZE_MAX);
	return pl;
}

static inline void hb_test_placement_free(struct hb_placement **pl,
					  struct hb_placement_list *l)
{
	hb_placement_list_deinit(l);
	hb_placement_free(pl);
}

/* The first account "uN" ranked first, then second (second < 0: any);
   l holds its list. The name is static. */
static inline const char *hb_test_account(const struct hb_placement *pl,
					  struct hb_placement_list *l, unsigned int first,
					  int second)
{
	static char name[32];

	for (int i = 0;; i++) {
		snprintf(name, sizeof(name), "u%d", i);
		hb_placement_get(pl, name, l);
		if (l->rank[0] == first && (second < 0 || l->rank[1] == (unsigned int)second))
			return name;
	}
}

#endif
