/* A small DOM parser for RFC 8259 JSON, for reading result files that may
 * come from anywhere (`tsecho merge`).  The whole text is parsed into a
 * tree of struct ts_jv that the caller walks and then frees.
 *
 * Safety: the parser reads only text[0..len), which need not be
 * NUL-terminated; it recurses at most TS_JV_DEPTH_MAX levels; every value
 * takes at least one input byte, so the tree is bounded by the input size:
 * at worst about 40 bytes of memory per input byte (measured with glibc on
 * arrays of small arrays, numbers or empty strings), so callers should cap
 * len.
 *
 * What it accepts is exactly the RFC 8259 grammar, with these choices:
 *  - any value may be the top-level value; whitespace around it is fine,
 *    anything else after it is an error; a byte order mark is an error;
 *  - strings must be valid UTF-8 (RFC 3629: no overlong forms, no encoded
 *    surrogates, nothing above U+10FFFF); control characters U+0000..U+001F
 *    must be escaped; \uXXXX escapes are decoded to UTF-8 and a surrogate
 *    pair to one 4-byte sequence; a lone surrogate escape (\uD800 without a
 *    following \uDC00..\uDFFF, or a low one alone) is rejected, not
 *    replaced by U+FFFD, so every str and key is valid UTF-8;
 *  - \u0000 is allowed in string values (use str_len) but rejected in
 *    object keys, which are plain C strings;
 *  - numbers follow the grammar (no leading zeros, no "1.", ".5", "+1",
 *    NaN or Infinity), may be at most TS_JV_NUM_LEN_MAX characters long, and
 *    are converted by strtod(3) in the "C" locale; a number too large for a
 *    double (1e400) is rejected, one too small (1e-400) becomes 0 or a
 *    subnormal, so num is always finite;
 *  - duplicate object keys are kept in order; ts_jv_get finds the first. */
#ifndef TSECHO_JSONPARSE_H
#define TSECHO_JSONPARSE_H

#include <stddef.h>
#include <stdint.h>

/* Containers nested deeper than this are rejected: 64 levels of [ or {
 * parse, 65 do not. */
#define TS_JV_DEPTH_MAX 64
/* Longer numbers are rejected: a double needs 17 significant digits, so
 * anything near this length is not a number we wrote. */
#define TS_JV_NUM_LEN_MAX 128

enum ts_jv_type { TS_JV_NULL, TS_JV_BOOL, TS_JV_NUM, TS_JV_STR, TS_JV_ARR, TS_JV_OBJ };

/* One value.  Fields not listed for a type are 0 / NULL.
 *   TS_JV_BOOL  boolean is 0 or 1
 *   TS_JV_NUM   num is finite
 *   TS_JV_STR   str holds str_len bytes of UTF-8 plus a terminating NUL; it
 *               may contain NUL bytes (from \u0000), so use str_len
 *   TS_JV_ARR   items[0..n) in document order; items is NULL when n is 0
 *   TS_JV_OBJ   keys[i] is the NUL-terminated name of items[i], for i < n;
 *               both are NULL when n is 0
 * Everything inside belongs to the tree and is freed by ts_jv_free on the
 * root; do not free or keep pointers into it after that. */
struct ts_jv {
	enum ts_jv_type type;
	int boolean;
	double num;
	char *str;
	size_t str_len;
	size_t n;
	struct ts_jv *items;
	char **keys;
};

/* Parses text[0..len) as one JSON document.  text may be NULL when len is
 * 0.  Returns the root, which the caller owns and frees with ts_jv_free,
 * and sets err to "" (when err_cap > 0).  On error returns NULL, having
 * freed everything it allocated, and writes a one-line reason into err
 * (truncated to err_cap bytes, always NUL-terminated; err may be NULL when
 * err_cap is 0), such as "line 3, column 7: expected ':'" -- lines and
 * columns count from 1, columns in bytes -- or "out of memory". */
struct ts_jv *ts_jv_parse(const char *text, size_t len, char *err, size_t err_cap);

/* Frees a tree returned by ts_jv_parse; NULL is fine.  Only for roots: a
 * node inside a tree is freed with its root. */
void ts_jv_free(struct ts_jv *v);

/* The value of the first member of obj named key, or NULL when there is
 * none or obj is NULL or not an object.  Points into obj's tree.  A linear
 * search: O(members). */
const struct ts_jv *ts_jv_get(const struct ts_jv *obj, const char *key);

/* 0 and *out set when v is a number whose value is an integer in
 * [0, 2^53]; otherwise -1 and *out untouched (also for v NULL).  The test
 * is on the double that strtod produced: above 2^53 not every integer is a
 * double, so 9007199254740993 has already been rounded to 2^53 and passes
 * as 9007199254740992, while 9007199254740994 fails.  -0 passes as 0, and
 * so do 1.0 and 1e3 (as 1 and 1000). */
int ts_jv_u64(const struct ts_jv *v, uint64_t *out);

/* 0 and *out set when v is a number (always finite); otherwise -1 and *out
 * untouched (also for v NULL). */
int ts_jv_num(const struct ts_jv *v, double *out);

#endif
