/* What every unit test file includes: Criterion with its assertions that
 * print both sides (cr_expect(eq(u64, a, b)), cr_expect_str_eq), and the
 * two helpers Criterion lacks. */
#ifndef TSECHO_UNIT_H
#define TSECHO_UNIT_H

#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <criterion/parameterized.h>

#include <stddef.h>
#include <string.h>

/* Expects n bytes at a and b to be equal; a failure names the first byte
 * that differs and shows it on both sides.  a and b are read twice. */
#define expect_mem_eq(a, b, n)                                                                     \
	do {                                                                                       \
		const unsigned char *a_ = (const void *)(a), *b_ = (const void *)(b);              \
		size_t n_ = (n), at_ = ts_mem_diff(a_, b_, n_);                                    \
		cr_expect(at_ == n_, "%s and %s differ at byte %zu of %zu: 0x%02x != 0x%02x", #a,  \
			  #b, at_, n_, at_ < n_ ? a_[at_] : 0, at_ < n_ ? b_[at_] : 0);            \
	} while (0)

/* The offset of the first byte that differs between a and b, or n. */
static inline size_t ts_mem_diff(const unsigned char *a, const unsigned char *b, size_t n)
{
	size_t i = 0;

	while (i < n && a[i] == b[i])
		i++;
	return i;
}

/* The body of a ParameterizedTestParameters function whose parameters are
 * the row numbers of a static table: the table stays in the test binary, so
 * its rows may hold pointers, and Criterion copies only the row number into
 * the process that runs the test. */
#define TS_TABLE_ROWS(table)                                                                       \
	do {                                                                                       \
		static size_t rows_[sizeof(table) / sizeof((table)[0])];                           \
		for (size_t i_ = 0; i_ < sizeof rows_ / sizeof rows_[0]; i_++)                     \
			rows_[i_] = i_;                                                            \
		return cr_make_param_array(size_t, rows_, sizeof rows_ / sizeof rows_[0]);         \
	} while (0)

/* How many times what occurs in s (overlapping ones too). */
static inline int ts_count_of(const char *s, const char *what)
{
	int n = 0;

	for (const char *p = strstr(s, what); p; p = strstr(p + 1, what))
		n++;
	return n;
}

#endif
