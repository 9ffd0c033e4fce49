/* SPDX-License-Identifier: MIT
 * test-maildir.c - Maildir name rules: identity, flags, S=/W= tags, limits. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <string.h>
#include "maildir.h"

TestSuite(maildir);

static void check_flags(const struct mm_msgname *m, const char *want)
{
	if (want == NULL) {
		cr_expect_null(m->flags);
		cr_expect_eq(m->flags_len, 0);
		return;
	}
	cr_assert_not_null(m->flags);
	cr_expect_eq(m->flags_len, strlen(want));
	cr_expect_eq(memcmp(m->flags, want, m->flags_len), 0,
		     "flags '%.*s', want '%s'", (int)m->flags_len, m->flags, want);
}

Test(maildir, full_dovecot_name)
{
	const char *name = "1.M2P3.host,S=123,W=130:2,FRSa";
	struct mm_msgname m;

	cr_assert_eq(mm_msgname_parse(name, &m), 0);
	cr_expect_eq(m.base_len, strlen("1.M2P3.host,S=123,W=130"));
	check_flags(&m, "FRSa");
	cr_expect_eq(m.flags, name + strlen(name) - 4, "flags borrow from name");
	cr_expect(m.has_size);
	cr_expect_eq(m.size, 123);
	cr_expect(m.has_vsize);
	cr_expect_eq(m.vsize, 130);
}

Test(maildir, no_info)
{
	struct mm_msgname m;

	cr_assert_eq(mm_msgname_parse("1700000000.M1P2.mx", &m), 0);
	cr_expect_eq(m.base_len, strlen("1700000000.M1P2.mx"));
	check_flags(&m, NULL);
	cr_expect_not(m.has_size);
	cr_expect_not(m.has_vsize);
}

Test(maildir, empty_flags)
{
	struct mm_msgname m;

	cr_assert_eq(mm_msgname_parse("1.M2P3.host:2,", &m), 0);
	cr_expect_eq(m.base_len, strlen("1.M2P3.host"));
	cr_assert_not_null(m.flags);
	cr_expect_eq(m.flags_len, 0);
}

Test(maildir, odd_info_is_accepted_without_flags)
{
	struct mm_msgname m;

	cr_assert_eq(mm_msgname_parse("1.M2P3.host:1,xyz", &m), 0);
	cr_expect_eq(m.base_len, strlen("1.M2P3.host"));
	check_flags(&m, NULL);

	cr_assert_eq(mm_msgname_parse("1.M2P3.host:", &m), 0);
	cr_expect_eq(m.base_len, strlen("1.M2P3.host"));
	check_flags(&m, NULL);

	cr_assert_eq(mm_msgname_parse("1.M2P3.host:2", &m), 0);
	check_flags(&m, NULL);
}

Test(maildir, identity_ends_at_first_colon)
{
	struct mm_msgname m;

	cr_assert_eq(mm_msgname_parse("a:2,S:x", &m), 0);
	cr_expect_eq(m.base_len, 1);
	check_flags(&m, "S:x");
}

Test(maildir, unknown_flags_and_lowercase_keywords)
{
	struct mm_msgname m;

	cr_assert_eq(mm_msgname_parse("x:2,abcdefZ", &m), 0);
	check_flags(&m, "abcdefZ");
}

struct tag_case {
	char name[96];
	bool has_size, has_vsize;
	uint64_t size, vsize;
};

ParameterizedTestParameters(maildir, size_tags)
{
	static struct tag_case cases[] = {
		{ "1.M2P3.host,S=123,W=130:2,S", true, true, 123, 130 },
		{ "1.M2P3.host,W=130,S=123", true, true, 123, 130 },
		{ "1.M2P3.host,S=0", true, false, 0, 0 },
		{ "1.M2P3.host,S=12x", false, false, 0, 0 },
		{ "1.M2P3.host,S=12x,W=7", false, true, 0, 7 },
		{ "1.M2P3.host,S=", false, false, 0, 0 },
		{ "1.M2P3.host,S=abc,S=42", true, false, 42, 0 },
		{ "1.M2P3.host,s=5", false, false, 0, 0 },
		{ "1.M2P3.hostS=5", false, false, 0, 0 },
		{ "1.M2P3.host,S=18446744073709551615", true, false,
		  UINT64_MAX, 0 },
		/* a tag after ':' is info, not identity */
		{ "1.M2P3.host:2,S,S=99", false, false, 0, 0 },
		{ "1.M2P3.host,S=5:2,", true, false, 5, 0 },
		{ "1.M2P3.host,S=5,foo:2,", true, false, 5, 0 },
	};
	return cr_make_param_array(struct tag_case, cases,
				   sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct tag_case *c, maildir, size_tags)
{
	struct mm_msgname m;

	cr_assert_eq(mm_msgname_parse(c->name, &m), 0, "%s", c->name);
	cr_expect_eq(m.has_size, c->has_size, "%s: has_size", c->name);
	cr_expect_eq(m.has_vsize, c->has_vsize, "%s: has_vsize", c->name);
	if (c->has_size)
		cr_expect_eq(m.size, c->size, "%s: size %llu", c->name,
			     (unsigned long long)m.size);
	if (c->has_vsize)
		cr_expect_eq(m.vsize, c->vsize, "%s: vsize %llu", c->name,
			     (unsigned long long)m.vsize);
}

Test(maildir, rejects_impossible_names)
{
	struct mm_msgname m;
	char long_name[MM_NAME_MAX + 2];

	cr_expect_eq(mm_msgname_parse("", &m), -1);
	cr_expect_eq(mm_msgname_parse(".", &m), -1);
	cr_expect_eq(mm_msgname_parse("..", &m), -1);
	cr_expect_eq(mm_msgname_parse("a/b", &m), -1);
	cr_expect_eq(mm_msgname_parse("/", &m), -1);
	cr_expect_eq(mm_msgname_parse("cur/1.M2.h:2,S", &m), -1);

	memset(long_name, 'x', sizeof(long_name));
	long_name[MM_NAME_MAX + 1] = '\0';
	cr_expect_eq(mm_msgname_parse(long_name, &m), -1, "256 bytes");
	long_name[MM_NAME_MAX] = '\0';
	cr_expect_eq(mm_msgname_parse(long_name, &m), 0, "255 bytes");
	cr_expect_eq(m.base_len, MM_NAME_MAX);
}

Test(maildir, dots_inside_names_are_fine)
{
	struct mm_msgname m;

	cr_expect_eq(mm_msgname_parse("...", &m), 0);
	cr_expect_eq(mm_msgname_parse(".x", &m), 0);
	cr_expect_eq(mm_msgname_parse("..x", &m), 0);
}

Test(maildir, accepts_non_utf8_bytes)
{
	const char name[] = "1.M2P3.h\xff\xfe\x80st,S=9:2,\xc3\x28S";
	struct mm_msgname m;

	cr_assert_eq(mm_msgname_parse(name, &m), 0);
	cr_expect_eq(m.base_len, strlen("1.M2P3.h\xff\xfe\x80st,S=9"));
	cr_expect(m.has_size);
	cr_expect_eq(m.size, 9);
	check_flags(&m, "\xc3\x28S");
}

Test(maildir, same_identity)
{
	cr_expect(mm_msgname_same_identity("1.M2P3.h,S=5:2,S", "1.M2P3.h,S=5:2,RS"));
	cr_expect(mm_msgname_same_identity("1.M2P3.h,S=5", "1.M2P3.h,S=5:2,"));
	cr_expect(mm_msgname_same_identity("1.M2P3.h", "1.M2P3.h"));
	cr_expect(mm_msgname_same_identity("", ":2,S"));
	cr_expect_not(mm_msgname_same_identity("1.M2P3.h:2,S", "1.M2P4.h:2,S"));
	cr_expect_not(mm_msgname_same_identity("1.M2P3.h:2,S", "1.M2P3.hx:2,S"));
	cr_expect_not(mm_msgname_same_identity("1.M2P3.hx", "1.M2P3.h:x"));
	cr_expect_not(mm_msgname_same_identity("abc", "ab"));
}

Test(maildir, sub_str_and_parse)
{
	static const enum mm_sub subs[] = { MM_SUB_NEW, MM_SUB_CUR, MM_SUB_TMP };

	for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
		const char *s = mm_sub_str(subs[i]);

		cr_expect_eq(strlen(s), 3);
		cr_expect_eq(mm_sub_parse(s, strlen(s)), subs[i], "%s", s);
	}
	cr_expect_str_eq(mm_sub_str(MM_SUB_NEW), "new");
	cr_expect_str_eq(mm_sub_str(MM_SUB_CUR), "cur");
	cr_expect_str_eq(mm_sub_str(MM_SUB_TMP), "tmp");
	cr_expect_str_eq(mm_sub_str(MM_SUB_NONE), "");

	cr_expect_eq(mm_sub_parse("", 0), MM_SUB_NONE);
	cr_expect_eq(mm_sub_parse("cu", 2), MM_SUB_NONE);
	cr_expect_eq(mm_sub_parse("curx", 4), MM_SUB_NONE);
	cr_expect_eq(mm_sub_parse("CUR", 3), MM_SUB_NONE);
	cr_expect_eq(mm_sub_parse("Cur", 3), MM_SUB_NONE);
	/* length-delimited: the bytes after len are not looked at */
	cr_expect_eq(mm_sub_parse("cur/1.M2.h", 3), MM_SUB_CUR);
	cr_expect_eq(mm_sub_parse("newer", 3), MM_SUB_NEW);
	cr_expect_eq(mm_sub_parse("tmp", 2), MM_SUB_NONE);
}
