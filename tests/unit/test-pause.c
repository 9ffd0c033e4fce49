/* SPDX-License-Identifier: MIT
 * test-pause.c - the lines of STATE/replication/to-PEER.paused
 * (repl_pause_parse): what a pause file may hold, and what is refused. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include "repl.h"

Test(pause, parses_paused_and_replaying)
{
	struct repl_pause p = { 0 };

	cr_assert_eq(repl_pause_parse("42 p example.org/alice\n", &p), 0);
	cr_assert_eq(p.from_lsn, 42);
	cr_assert(!p.replaying);
	cr_assert_str_eq(p.account, "example.org/alice");
	free(p.account);
	cr_assert_eq(repl_pause_parse("18446744073709551615 r a/b", &p), 0);
	cr_assert_eq(p.from_lsn, UINT64_MAX);
	cr_assert(p.replaying);
	cr_assert_str_eq(p.account, "a/b");
	free(p.account);
}

Test(pause, parses_guard_entries)
{
	struct repl_pause p = { 0 };
	struct mm_journal_rec ex = { .lsn = 50, .op = MM_OP_EXPUNGE };
	struct mm_journal_rec fl = { .lsn = 50, .op = MM_OP_FLAGS };

	cr_assert_eq(repl_pause_parse("42 g example.org/alice", &p), 0);
	cr_assert(p.guard);
	cr_assert(!p.replaying);
	cr_assert_eq(repl_pause_state(&p), 'g');
	/* the guard holds expunges and folder deletes only */
	cr_assert(repl_pause_holds(&p, &ex));
	cr_assert(!repl_pause_holds(&p, &fl));
	ex.lsn = 41;
	cr_assert(!repl_pause_holds(&p, &ex));
	free(p.account);
	cr_assert_eq(repl_pause_parse("42 c example.org/alice", &p), 0);
	cr_assert(p.guard);
	cr_assert(p.replaying);
	cr_assert_eq(repl_pause_state(&p), 'c');
	free(p.account);
	memset(&p, 0, sizeof(p));
	cr_assert_eq(repl_pause_parse("42 p example.org/alice", &p), 0);
	cr_assert(repl_pause_holds(&p, &fl));
	free(p.account);
}

Test(pause, refuses_bad_lines)
{
	static const char *const bad[] = {
		"", "\n", "42", "42 p", "42 x example.org/alice", "0 p example.org/alice",
		"p 42 example.org/alice", "-1 p example.org/alice", "forty p a/b",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct repl_pause p = { 0 };

		cr_assert_eq(repl_pause_parse(bad[i], &p), -1, "took \"%s\"", bad[i]);
		cr_assert_null(p.account, "\"%s\" left an account", bad[i]);
	}
}
