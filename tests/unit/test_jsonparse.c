/* The JSON parser: every value type, nesting, escapes, the number grammar,
 * error positions, truncation at every length, the depth limit and the
 * accessors. */
#include "config.h"

#include <math.h>
#include <stdlib.h>

#include <tsecho/jsonparse.h>
#include "unit.h"

/* Parses s from an exact-size heap copy (no NUL after it), so ASan sees
 * any read past the end. */
static struct ts_jv *parse_n(const char *s, size_t len, char *err, size_t err_cap)
{
	char *copy = malloc(len ? len : 1);
	struct ts_jv *v;

	if (!copy)
		return NULL;
	memcpy(copy, s, len);
	v = ts_jv_parse(copy, len, err, err_cap);
	free(copy);
	return v;
}

static struct ts_jv *parse(const char *s)
{
	char err[128];
	struct ts_jv *v = parse_n(s, strlen(s), err, sizeof err);

	if (!v)
		cr_fail("parsing '%s': %s", s, err);
	return v;
}

/* 1 when s is rejected with a message in the expected format. */
static int rejects(const char *s, size_t len)
{
	char err[128] = "untouched";
	struct ts_jv *v = parse_n(s, len, err, sizeof err);

	if (v) {
		ts_jv_free(v);
		return 0;
	}
	return strncmp(err, "line ", 5) == 0 && !strchr(err, '\n');
}

#define CHECK_REJECTS(s) cr_expect(rejects(s, sizeof(s) - 1), "accepted: %s", s)

Test(jsonparse, scalars)
{
	struct ts_jv *v;

	if ((v = parse(" null "))) {
		cr_expect(eq(i64, v->type, TS_JV_NULL));
		ts_jv_free(v);
	}
	if ((v = parse("true"))) {
		cr_expect(eq(i64, v->type, TS_JV_BOOL));
		cr_expect(eq(i64, v->boolean, 1));
		ts_jv_free(v);
	}
	if ((v = parse("\t\r\nfalse\n"))) {
		cr_expect(eq(i64, v->type, TS_JV_BOOL));
		cr_expect(eq(i64, v->boolean, 0));
		ts_jv_free(v);
	}
	if ((v = parse("42"))) {
		cr_expect(eq(i64, v->type, TS_JV_NUM));
		cr_expect(v->num == 42.0);
		ts_jv_free(v);
	}
	if ((v = parse("\"hi\""))) {
		cr_expect(eq(i64, v->type, TS_JV_STR));
		cr_expect_str_eq(v->str, "hi");
		cr_expect(eq(u64, v->str_len, 2));
		ts_jv_free(v);
	}
	if ((v = parse("\"\""))) {
		cr_expect_str_eq(v->str, "");
		cr_expect(eq(u64, v->str_len, 0));
		ts_jv_free(v);
	}
	CHECK_REJECTS("nul");
	CHECK_REJECTS("nulL");
	CHECK_REJECTS("True");
	CHECK_REJECTS("truex");
	CHECK_REJECTS("");
	CHECK_REJECTS("   ");
	CHECK_REJECTS("\xef\xbb\xbf{}"); /* BOM */
	CHECK_REJECTS("'a'");
	CHECK_REJECTS("\"a");
	CHECK_REJECTS("1 2");
	CHECK_REJECTS("{}x");
	CHECK_REJECTS("{} {}");
	CHECK_REJECTS("null\0");
	CHECK_REJECTS("\0");
}

Test(jsonparse, nesting)
{
	const char *doc = "{\"a\": [1, {\"b\": null}, []], \"c\": {}, \"d\": \"x\"}";
	struct ts_jv *v = parse(doc);
	const struct ts_jv *a, *b;

	if (!v)
		return;
	cr_expect(eq(i64, v->type, TS_JV_OBJ));
	cr_expect(eq(u64, v->n, 3));
	cr_expect_str_eq(v->keys[0], "a");
	cr_expect_str_eq(v->keys[1], "c");
	cr_expect_str_eq(v->keys[2], "d");
	a = &v->items[0];
	cr_expect(eq(i64, a->type, TS_JV_ARR));
	cr_expect(eq(u64, a->n, 3));
	cr_expect(a->keys == NULL);
	if (a->n == 3) {
		cr_expect(a->items[0].type == TS_JV_NUM && a->items[0].num == 1.0);
		b = ts_jv_get(&a->items[1], "b");
		cr_expect(b && b->type == TS_JV_NULL);
		cr_expect(eq(i64, a->items[2].type, TS_JV_ARR));
		cr_expect(eq(u64, a->items[2].n, 0));
		cr_expect(a->items[2].items == NULL);
	}
	cr_expect(eq(i64, v->items[1].type, TS_JV_OBJ));
	cr_expect(eq(u64, v->items[1].n, 0));
	cr_expect_str_eq(v->items[2].str, "x");
	ts_jv_free(v);

	CHECK_REJECTS("[1,]");
	CHECK_REJECTS("[,1]");
	CHECK_REJECTS("[1 2]");
	CHECK_REJECTS("{\"a\":1,}");
	CHECK_REJECTS("{\"a\" 1}");
	CHECK_REJECTS("{a:1}");
	CHECK_REJECTS("{1:1}");
	CHECK_REJECTS("{\"a\":}");
	CHECK_REJECTS("[}");
	CHECK_REJECTS("{]");
	CHECK_REJECTS("]");
}

/* s parses to a string of exactly the n bytes in want. */
static void check_str(const char *s, const char *want, size_t n)
{
	struct ts_jv *v = parse(s);

	if (!v)
		return;
	if (v->type != TS_JV_STR || v->str_len != n || memcmp(v->str, want, n) != 0 ||
	    v->str[n] != '\0')
		cr_fail("%s: wrong string (%zu bytes)", s, v->str_len);
	ts_jv_free(v);
}

Test(jsonparse, escapes)
{
	check_str("\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"", "\"\\/\b\f\n\r\t", 8);
	check_str("\"caf\\u00e9\"", "caf\xc3\xa9", 5);
	check_str("\"\\u00E9\"", "\xc3\xa9", 2);
	check_str("\"\\u0041\\u07ff\\u0800\\uffff\"", "A\xdf\xbf\xe0\xa0\x80\xef\xbf\xbf", 9);
	check_str("\"\\ud83d\\ude00\"", "\xf0\x9f\x98\x80", 4); /* U+1F600 */
	check_str("\"\\uDBFF\\uDFFF\"", "\xf4\x8f\xbf\xbf", 4); /* U+10FFFF */
	check_str("\"a\\u0000b\"", "a\0b", 3);
	check_str("\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"",
		  "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 14);
	check_str("\"\x7f\"", "\x7f", 1);

	/* Lone surrogates are rejected, not replaced. */
	CHECK_REJECTS("\"\\ud800\"");
	CHECK_REJECTS("\"\\udc00\"");
	CHECK_REJECTS("\"\\ud800\\u0041\"");
	CHECK_REJECTS("\"\\ud800\\ud800\"");
	CHECK_REJECTS("\"\\ud800x\"");
	CHECK_REJECTS("\"\\ude00\\ud83d\"");
	CHECK_REJECTS("\"\\udc00\\udc00\"");
	/* Bad escapes. */
	CHECK_REJECTS("\"\\x\"");
	CHECK_REJECTS("\"\\U00e9\"");
	CHECK_REJECTS("\"\\u00g9\"");
	CHECK_REJECTS("\"\\u00e\"");
	CHECK_REJECTS("\"\\\"");
	CHECK_REJECTS("\"\\");
	CHECK_REJECTS("\"\\\0\"");
	/* Control characters must be escaped. */
	CHECK_REJECTS("\"a\nb\"");
	CHECK_REJECTS("\"\t\"");
	CHECK_REJECTS("\"\0\"");
	CHECK_REJECTS("\"\x1f\"");
	/* Invalid UTF-8: stray continuation, bad lead bytes, overlong
	 * forms, an encoded surrogate, above U+10FFFF, truncated. */
	CHECK_REJECTS("\"\x80\"");
	CHECK_REJECTS("\"\xff\"");
	CHECK_REJECTS("\"\xc0\x80\"");
	CHECK_REJECTS("\"\xe0\x80\xaf\"");
	CHECK_REJECTS("\"\xed\xa0\x80\"");
	CHECK_REJECTS("\"\xf4\x90\x80\x80\"");
	CHECK_REJECTS("\"\xe2\x82\"");
	CHECK_REJECTS("\"\xc3\"");
	CHECK_REJECTS("[\xc3\xa9]");
	/* A NUL in a key would alias a shorter key. */
	CHECK_REJECTS("{\"a\\u0000b\":1}");
}

/* s parses to exactly the double want (sign of zero included). */
static void check_num(const char *s, double want)
{
	struct ts_jv *v = parse(s);
	double d = -1.0;

	if (!v)
		return;
	if (ts_jv_num(v, &d) != 0 || d != want || signbit(d) != signbit(want))
		cr_fail("%s: got %.17g, want %.17g", s, d, want);
	ts_jv_free(v);
}

Test(jsonparse, numbers)
{
	char long_num[TS_JV_NUM_LEN_MAX + 2];

	check_num("0", 0.0);
	check_num("-0", -0.0);
	check_num("-0.0", -0.0);
	check_num("1e3", 1000.0);
	check_num("1E+3", 1000.0);
	check_num("1.5E-2", 0.015);
	check_num("-12.5e1", -125.0);
	check_num("0.1", 0.1);
	check_num("10", 10.0);
	check_num("1.7976931348623157e308", 1.7976931348623157e308);
	check_num("1e-400", 0.0); /* underflow: becomes zero */

	CHECK_REJECTS("01");
	CHECK_REJECTS("-01");
	CHECK_REJECTS("00");
	CHECK_REJECTS("1.");
	CHECK_REJECTS("1.e3");
	CHECK_REJECTS(".5");
	CHECK_REJECTS("+1");
	CHECK_REJECTS("-");
	CHECK_REJECTS("--1");
	CHECK_REJECTS("1e");
	CHECK_REJECTS("1e+");
	CHECK_REJECTS("1E-");
	CHECK_REJECTS("NaN");
	CHECK_REJECTS("-NaN");
	CHECK_REJECTS("Infinity");
	CHECK_REJECTS("-Infinity");
	CHECK_REJECTS("0x10");
	CHECK_REJECTS("1_000");
	CHECK_REJECTS("1e400"); /* overflow: no infinities */
	CHECK_REJECTS("-1e400");

	/* The length limit: exactly TS_JV_NUM_LEN_MAX characters is fine. */
	memset(long_num, '1', TS_JV_NUM_LEN_MAX);
	long_num[TS_JV_NUM_LEN_MAX] = '\0';
	long_num[1] = '.';
	check_num(long_num, strtod(long_num, NULL));
	long_num[TS_JV_NUM_LEN_MAX] = '1';
	long_num[TS_JV_NUM_LEN_MAX + 1] = '\0';
	cr_expect(rejects(long_num, strlen(long_num)));
}

/* Messages name the line and column of the first bad byte. */
static const struct {
	const char *doc;
	const char *err;
} error_cases[] = {
	{ "{\n  \"a\" 1\n}", "line 2, column 7: expected ':'" },
	{ "[1,\n\n  x]", "line 3, column 3: expected a value" },
	{ "[1 2]", "line 1, column 4: expected ',' or ']'" },
	{ "[1", "line 1, column 3: unexpected end of input" },
	{ "01", "line 1, column 2: leading zero in number" },
	{ "[1ex]", "line 1, column 4: expected a digit in exponent" },
	{ "-", "line 1, column 2: unexpected end of input" },
	{ "{} x", "line 1, column 4: unexpected data after the value" },
	{ "\"ab\\q\"", "line 1, column 4: invalid escape in string" },
	{ "\"\\ud800\"", "line 1, column 2: lone surrogate in \\u escape" },
	{ "\"a\nb\"", "line 1, column 3: control character in string" },
	{ "", "line 1, column 1: unexpected end of input" },
};

ParameterizedTestParameters(jsonparse, error_position)
{
	TS_TABLE_ROWS(error_cases);
}

ParameterizedTest(size_t *row, jsonparse, error_position)
{
	const char *doc = error_cases[*row].doc;
	char err[128];
	struct ts_jv *v = parse_n(doc, strlen(doc), err, sizeof err);

	cr_expect(v == NULL, "accepted: %s", doc);
	ts_jv_free(v);
	cr_expect_str_eq(err, error_cases[*row].err);
}

/* err: NULL with no room, truncated when short, cleared on success. */
Test(jsonparse, error_buffer)
{
	char err[128];

	cr_expect(parse_n("[", 1, NULL, 0) == NULL);
	memset(err, 'x', sizeof err);
	cr_expect(parse_n("[", 1, err, 8) == NULL);
	cr_expect_str_eq(err, "line 1,");
	ts_jv_free(parse_n("[]", 2, err, sizeof err));
	cr_expect_str_eq(err, "");
}

/* Every proper prefix of a valid document is rejected, each parsed from
 * an exact-size allocation. */
Test(jsonparse, truncation)
{
	static const char doc[] = "{\"schema\":1,\"host\":\"caf\\u00e9 \\ud83d\\ude00 \xc3\xa9\","
				  "\"ok\":[true,false,null],\"rtt\":{\"min\":-0.5e-3,\"n\":12345},"
				  "\"histogram\":{\"counts\":[[0,1],[2048,5]]},\"empty\":[{},[]]}";
	const size_t len = sizeof doc - 1;
	char err[128];
	struct ts_jv *v;

	for (size_t k = 0; k < len; k++) {
		err[0] = '\0';
		v = parse_n(doc, k, err, sizeof err);
		if (v) {
			cr_fail("prefix of %zu bytes accepted", k);
			ts_jv_free(v);
		} else if (strncmp(err, "line 1, column ", 15) != 0) {
			cr_fail("prefix of %zu bytes: bad message '%s'", k, err);
		}
	}
	v = parse_n(doc, len, err, sizeof err);
	cr_expect(v != NULL);
	ts_jv_free(v);
}

/* n nested arrays, or objects {"a":...}, around 0. */
static char *nested(int n, int objects)
{
	char *s = malloc((size_t)n * 6 + 2);
	size_t o = 0;

	if (!s)
		return NULL;
	for (int i = 0; i < n; i++) {
		memcpy(s + o, objects ? "{\"a\":" : "[", objects ? 5 : 1);
		o += objects ? 5 : 1;
	}
	s[o++] = '0';
	for (int i = 0; i < n; i++)
		s[o++] = objects ? '}' : ']';
	s[o] = '\0';
	return s;
}

Test(jsonparse, depth)
{
	char err[128];

	for (int objects = 0; objects <= 1; objects++) {
		char *ok = nested(TS_JV_DEPTH_MAX, objects);
		char *deep = nested(TS_JV_DEPTH_MAX + 1, objects);
		struct ts_jv *v;

		if (!ok || !deep) {
			cr_fail("out of memory");
		} else {
			v = parse(ok);
			cr_expect(v != NULL);
			ts_jv_free(v);
			v = parse_n(deep, strlen(deep), err, sizeof err);
			cr_expect(v == NULL);
			ts_jv_free(v);
			cr_expect(strstr(err, "nested too deeply") != NULL);
		}
		free(ok);
		free(deep);
	}
}

Test(jsonparse, get)
{
	struct ts_jv *v = parse("{\"a\":1,\"b\":{\"c\":\"x\"},\"a\":2,\"\":3}");
	const struct ts_jv *m;
	double d = 0;

	if (!v)
		return;
	m = ts_jv_get(v, "a");
	cr_expect(m && ts_jv_num(m, &d) == 0 && d == 1.0); /* the first of duplicates */
	cr_expect(eq(u64, v->n, 4));
	m = ts_jv_get(ts_jv_get(v, "b"), "c");
	cr_expect(m && m->type == TS_JV_STR);
	m = ts_jv_get(v, "");
	cr_expect(m && ts_jv_num(m, &d) == 0 && d == 3.0);
	cr_expect(ts_jv_get(v, "z") == NULL);
	cr_expect(ts_jv_get(v, "A") == NULL);
	cr_expect(ts_jv_get(&v->items[0], "a") == NULL); /* not an object */
	cr_expect(ts_jv_get(NULL, "a") == NULL);
	cr_expect(ts_jv_get(ts_jv_get(v, "nope"), "c") == NULL);
	cr_expect(ts_jv_num(ts_jv_get(v, "b"), &d) == -1);
	cr_expect(ts_jv_num(NULL, &d) == -1);
	ts_jv_free(v);
	ts_jv_free(NULL);
}

/* ts_jv_u64 of the number s: its result, and *out when 0. */
static int u64_of(const char *s, uint64_t *out)
{
	struct ts_jv *v = parse(s);
	int r;

	if (!v)
		return -2;
	r = ts_jv_u64(v, out);
	ts_jv_free(v);
	return r;
}

Test(jsonparse, u64)
{
	const uint64_t two53 = (uint64_t)1 << 53;
	uint64_t u = 0;

	cr_expect(eq(i64, u64_of("0", &u), 0));
	cr_expect(eq(u64, u, 0));
	cr_expect(eq(i64, u64_of("42", &u), 0));
	cr_expect(eq(u64, u, 42));
	cr_expect(eq(i64, u64_of("1e3", &u), 0));
	cr_expect(eq(u64, u, 1000));
	cr_expect(eq(i64, u64_of("2.0", &u), 0));
	cr_expect(eq(u64, u, 2));
	u = 7;
	cr_expect(eq(i64, u64_of("-0", &u), 0));
	cr_expect(eq(u64, u, 0));
	cr_expect(eq(i64, u64_of("9007199254740992", &u), 0)); /* 2^53 */
	cr_expect(eq(u64, u, two53));
	/* 2^53 + 1 is not a double: strtod rounds it to 2^53 (documented). */
	cr_expect(eq(i64, u64_of("9007199254740993", &u), 0));
	cr_expect(eq(u64, u, two53));
	u = 7;
	cr_expect(eq(i64, u64_of("9007199254740994", &u), -1)); /* 2^53 + 2 */
	cr_expect(eq(i64, u64_of("18446744073709551616", &u), -1));
	cr_expect(eq(i64, u64_of("1e300", &u), -1));
	cr_expect(eq(i64, u64_of("-1", &u), -1));
	cr_expect(eq(i64, u64_of("1.5", &u), -1));
	cr_expect(eq(i64, u64_of("0.5", &u), -1));
	cr_expect(eq(i64, u64_of("-1e-300", &u), -1));
	cr_expect(eq(i64, u64_of("\"5\"", &u), -1));
	cr_expect(eq(i64, u64_of("true", &u), -1));
	cr_expect(eq(i64, u64_of("null", &u), -1));
	cr_expect(eq(u64, u, 7));
	cr_expect(ts_jv_u64(NULL, &u) == -1);
}

/* The shape tsecho merge reads. */
Test(jsonparse, result_shape)
{
	struct ts_jv *v =
	    parse("{\"schema\":1,\"histogram\":{\"counts\":[[0,1],[2048,5]]},\"extra\":[]}");
	const struct ts_jv *counts;
	uint64_t schema = 0, lo = 0, n = 0;

	if (!v)
		return;
	cr_expect(eq(i64, ts_jv_u64(ts_jv_get(v, "schema"), &schema), 0));
	cr_expect(eq(u64, schema, 1));
	counts = ts_jv_get(ts_jv_get(v, "histogram"), "counts");
	cr_expect(counts && counts->type == TS_JV_ARR && counts->n == 2);
	if (counts && counts->n == 2 && counts->items[1].n == 2) {
		cr_expect(eq(i64, ts_jv_u64(&counts->items[1].items[0], &lo), 0));
		cr_expect(eq(i64, ts_jv_u64(&counts->items[1].items[1], &n), 0));
		cr_expect(eq(u64, lo, 2048));
		cr_expect(eq(u64, n, 5));
	}
	ts_jv_free(v);
}
