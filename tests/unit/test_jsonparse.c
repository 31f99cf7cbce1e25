/* The JSON parser: every value type, nesting, escapes, the number grammar,
 * error positions, truncation at every length, the depth limit and the
 * accessors. */
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
		UNIT_FAIL("parsing '%s': %s", s, err);
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

#define CHECK_REJECTS(s) CHECK(rejects(s, sizeof(s) - 1))

static void test_scalars(void)
{
	struct ts_jv *v;

	if ((v = parse(" null "))) {
		CHECK_EQ_I(v->type, TS_JV_NULL);
		ts_jv_free(v);
	}
	if ((v = parse("true"))) {
		CHECK_EQ_I(v->type, TS_JV_BOOL);
		CHECK_EQ_I(v->boolean, 1);
		ts_jv_free(v);
	}
	if ((v = parse("\t\r\nfalse\n"))) {
		CHECK_EQ_I(v->type, TS_JV_BOOL);
		CHECK_EQ_I(v->boolean, 0);
		ts_jv_free(v);
	}
	if ((v = parse("42"))) {
		CHECK_EQ_I(v->type, TS_JV_NUM);
		CHECK(v->num == 42.0);
		ts_jv_free(v);
	}
	if ((v = parse("\"hi\""))) {
		CHECK_EQ_I(v->type, TS_JV_STR);
		CHECK_EQ_STR(v->str, "hi");
		CHECK_EQ_U(v->str_len, 2);
		ts_jv_free(v);
	}
	if ((v = parse("\"\""))) {
		CHECK_EQ_STR(v->str, "");
		CHECK_EQ_U(v->str_len, 0);
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

static void test_nesting(void)
{
	const char *doc = "{\"a\": [1, {\"b\": null}, []], \"c\": {}, \"d\": \"x\"}";
	struct ts_jv *v = parse(doc);
	const struct ts_jv *a, *b;

	if (!v)
		return;
	CHECK_EQ_I(v->type, TS_JV_OBJ);
	CHECK_EQ_U(v->n, 3);
	CHECK_EQ_STR(v->keys[0], "a");
	CHECK_EQ_STR(v->keys[1], "c");
	CHECK_EQ_STR(v->keys[2], "d");
	a = &v->items[0];
	CHECK_EQ_I(a->type, TS_JV_ARR);
	CHECK_EQ_U(a->n, 3);
	CHECK(a->keys == NULL);
	if (a->n == 3) {
		CHECK(a->items[0].type == TS_JV_NUM && a->items[0].num == 1.0);
		b = ts_jv_get(&a->items[1], "b");
		CHECK(b && b->type == TS_JV_NULL);
		CHECK_EQ_I(a->items[2].type, TS_JV_ARR);
		CHECK_EQ_U(a->items[2].n, 0);
		CHECK(a->items[2].items == NULL);
	}
	CHECK_EQ_I(v->items[1].type, TS_JV_OBJ);
	CHECK_EQ_U(v->items[1].n, 0);
	CHECK_EQ_STR(v->items[2].str, "x");
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
		UNIT_FAIL("%s: wrong string (%zu bytes)", s, v->str_len);
	ts_jv_free(v);
}

static void test_escapes(void)
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
		UNIT_FAIL("%s: got %.17g, want %.17g", s, d, want);
	ts_jv_free(v);
}

static void test_numbers(void)
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
	CHECK(rejects(long_num, strlen(long_num)));
}

/* Messages name the line and column of the first bad byte. */
static void test_error_position(void)
{
	static const struct {
		const char *doc;
		const char *err;
	} cases[] = {
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
	char err[128];

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct ts_jv *v = parse_n(cases[i].doc, strlen(cases[i].doc), err, sizeof err);
		CHECK(v == NULL);
		ts_jv_free(v);
		CHECK_EQ_STR(err, cases[i].err);
	}

	/* err: NULL with no room, truncated when short, cleared on success. */
	CHECK(parse_n("[", 1, NULL, 0) == NULL);
	memset(err, 'x', sizeof err);
	CHECK(parse_n("[", 1, err, 8) == NULL);
	CHECK_EQ_STR(err, "line 1,");
	ts_jv_free(parse_n("[]", 2, err, sizeof err));
	CHECK_EQ_STR(err, "");
}

/* Every proper prefix of a valid document is rejected, each parsed from
 * an exact-size allocation. */
static void test_truncation(void)
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
			UNIT_FAIL("prefix of %zu bytes accepted", k);
			ts_jv_free(v);
		} else if (strncmp(err, "line 1, column ", 15) != 0) {
			UNIT_FAIL("prefix of %zu bytes: bad message '%s'", k, err);
		}
	}
	v = parse_n(doc, len, err, sizeof err);
	CHECK(v != NULL);
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

static void test_depth(void)
{
	char err[128];

	for (int objects = 0; objects <= 1; objects++) {
		char *ok = nested(TS_JV_DEPTH_MAX, objects);
		char *deep = nested(TS_JV_DEPTH_MAX + 1, objects);
		struct ts_jv *v;

		if (!ok || !deep) {
			UNIT_FAIL("out of memory");
		} else {
			v = parse(ok);
			CHECK(v != NULL);
			ts_jv_free(v);
			v = parse_n(deep, strlen(deep), err, sizeof err);
			CHECK(v == NULL);
			ts_jv_free(v);
			CHECK(strstr(err, "nested too deeply") != NULL);
		}
		free(ok);
		free(deep);
	}
}

static void test_get(void)
{
	struct ts_jv *v = parse("{\"a\":1,\"b\":{\"c\":\"x\"},\"a\":2,\"\":3}");
	const struct ts_jv *m;
	double d = 0;

	if (!v)
		return;
	m = ts_jv_get(v, "a");
	CHECK(m && ts_jv_num(m, &d) == 0 && d == 1.0); /* the first of duplicates */
	CHECK_EQ_U(v->n, 4);
	m = ts_jv_get(ts_jv_get(v, "b"), "c");
	CHECK(m && m->type == TS_JV_STR);
	m = ts_jv_get(v, "");
	CHECK(m && ts_jv_num(m, &d) == 0 && d == 3.0);
	CHECK(ts_jv_get(v, "z") == NULL);
	CHECK(ts_jv_get(v, "A") == NULL);
	CHECK(ts_jv_get(&v->items[0], "a") == NULL); /* not an object */
	CHECK(ts_jv_get(NULL, "a") == NULL);
	CHECK(ts_jv_get(ts_jv_get(v, "nope"), "c") == NULL);
	CHECK(ts_jv_num(ts_jv_get(v, "b"), &d) == -1);
	CHECK(ts_jv_num(NULL, &d) == -1);
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

static void test_u64(void)
{
	const uint64_t two53 = (uint64_t)1 << 53;
	uint64_t u = 0;

	CHECK_EQ_I(u64_of("0", &u), 0);
	CHECK_EQ_U(u, 0);
	CHECK_EQ_I(u64_of("42", &u), 0);
	CHECK_EQ_U(u, 42);
	CHECK_EQ_I(u64_of("1e3", &u), 0);
	CHECK_EQ_U(u, 1000);
	CHECK_EQ_I(u64_of("2.0", &u), 0);
	CHECK_EQ_U(u, 2);
	u = 7;
	CHECK_EQ_I(u64_of("-0", &u), 0);
	CHECK_EQ_U(u, 0);
	CHECK_EQ_I(u64_of("9007199254740992", &u), 0); /* 2^53 */
	CHECK_EQ_U(u, two53);
	/* 2^53 + 1 is not a double: strtod rounds it to 2^53 (documented). */
	CHECK_EQ_I(u64_of("9007199254740993", &u), 0);
	CHECK_EQ_U(u, two53);
	u = 7;
	CHECK_EQ_I(u64_of("9007199254740994", &u), -1); /* 2^53 + 2 */
	CHECK_EQ_I(u64_of("18446744073709551616", &u), -1);
	CHECK_EQ_I(u64_of("1e300", &u), -1);
	CHECK_EQ_I(u64_of("-1", &u), -1);
	CHECK_EQ_I(u64_of("1.5", &u), -1);
	CHECK_EQ_I(u64_of("0.5", &u), -1);
	CHECK_EQ_I(u64_of("-1e-300", &u), -1);
	CHECK_EQ_I(u64_of("\"5\"", &u), -1);
	CHECK_EQ_I(u64_of("true", &u), -1);
	CHECK_EQ_I(u64_of("null", &u), -1);
	CHECK_EQ_U(u, 7);
	CHECK(ts_jv_u64(NULL, &u) == -1);
}

/* The shape tsecho merge reads. */
static void test_result_shape(void)
{
	struct ts_jv *v =
	    parse("{\"schema\":1,\"histogram\":{\"counts\":[[0,1],[2048,5]]},\"extra\":[]}");
	const struct ts_jv *counts;
	uint64_t schema = 0, lo = 0, n = 0;

	if (!v)
		return;
	CHECK_EQ_I(ts_jv_u64(ts_jv_get(v, "schema"), &schema), 0);
	CHECK_EQ_U(schema, 1);
	counts = ts_jv_get(ts_jv_get(v, "histogram"), "counts");
	CHECK(counts && counts->type == TS_JV_ARR && counts->n == 2);
	if (counts && counts->n == 2 && counts->items[1].n == 2) {
		CHECK_EQ_I(ts_jv_u64(&counts->items[1].items[0], &lo), 0);
		CHECK_EQ_I(ts_jv_u64(&counts->items[1].items[1], &n), 0);
		CHECK_EQ_U(lo, 2048);
		CHECK_EQ_U(n, 5);
	}
	ts_jv_free(v);
}

UNIT_SUITE(jsonparse_tests) = {
	{ "jsonparse_scalars", test_scalars },
	{ "jsonparse_nesting", test_nesting },
	{ "jsonparse_escapes", test_escapes },
	{ "jsonparse_numbers", test_numbers },
	{ "jsonparse_error_position", test_error_position },
	{ "jsonparse_truncation", test_truncation },
	{ "jsonparse_depth", test_depth },
	{ "jsonparse_get", test_get },
	{ "jsonparse_u64", test_u64 },
	{ "jsonparse_result_shape", test_result_shape },
	UNIT_END,
};
