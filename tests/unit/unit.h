/* A small unit-test runner: each file exports a table of tests, and
 * assertions print both sides when they fail. */
#ifndef TSECHO_UNIT_H
#define TSECHO_UNIT_H

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

struct unit_test {
	const char *name;
	void (*fn)(void);
};

/* Failed assertions in the running test. */
extern int unit_failures;

#define UNIT_FAIL(...)                                                                             \
	do {                                                                                       \
		fprintf(stderr, "    %s:%d: ", __FILE__, __LINE__);                                \
		fprintf(stderr, __VA_ARGS__);                                                      \
		fputc('\n', stderr);                                                               \
		unit_failures++;                                                                   \
	} while (0)

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond))                                                                       \
			UNIT_FAIL("CHECK(%s) failed", #cond);                                      \
	} while (0)

#define CHECK_EQ_U(a, b)                                                                           \
	do {                                                                                       \
		uint64_t a_ = (uint64_t)(a), b_ = (uint64_t)(b);                                   \
		if (a_ != b_)                                                                      \
			UNIT_FAIL("%s == %s: %" PRIu64 " != %" PRIu64, #a, #b, a_, b_);            \
	} while (0)

#define CHECK_EQ_I(a, b)                                                                           \
	do {                                                                                       \
		int64_t a_ = (int64_t)(a), b_ = (int64_t)(b);                                      \
		if (a_ != b_)                                                                      \
			UNIT_FAIL("%s == %s: %" PRId64 " != %" PRId64, #a, #b, a_, b_);            \
	} while (0)

#define CHECK_EQ_STR(a, b)                                                                         \
	do {                                                                                       \
		const char *a_ = (a), *b_ = (b);                                                   \
		if (strcmp(a_, b_) != 0)                                                           \
			UNIT_FAIL("%s == %s: \"%s\" != \"%s\"", #a, #b, a_, b_);                   \
	} while (0)

#define CHECK_MEM(a, b, n)                                                                         \
	do {                                                                                       \
		if (memcmp((a), (b), (n)) != 0)                                                    \
			UNIT_FAIL("%s and %s differ in their %zu bytes", #a, #b, (size_t)(n));     \
	} while (0)

#define UNIT_SUITE(name) const struct unit_test name[]
#define UNIT_END                                                                                   \
	{                                                                                          \
		NULL, NULL                                                                         \
	}

extern const struct unit_test proto_tests[];
extern const struct unit_test text_tests[];
extern const struct unit_test parse_tests[];
extern const struct unit_test buf_tests[];
extern const struct unit_test clock_tests[];
extern const struct unit_test evloop_tests[];
extern const struct unit_test hist_tests[];
extern const struct unit_test pacer_tests[];
extern const struct unit_test stats_tests[];
extern const struct unit_test client_tests[];
extern const struct unit_test jsonparse_tests[];
extern const struct unit_test stamp_tests[];
extern const struct unit_test prom_tests[];
extern const struct unit_test htmlreport_tests[];
extern const struct unit_test httpreq_tests[];

#endif
