/* JSON DOM parser: see jsonparse.h.  Recursive descent over the RFC 8259
 * grammar, with the depth passed down so recursion stops at
 * TS_JV_DEPTH_MAX.
 *
 * Error handling: every node is kept freeable while it is being built (a
 * container's n counts only slots that are initialised, a new slot is
 * zeroed before it is parsed into), so any failure just returns -1 up the
 * stack and ts_jv_parse frees the partial tree from the root. */
#include "config.h"

#include <tsecho/jsonparse.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct parser {
	const char *text;
	size_t len;
	size_t pos;      /* next byte to read, <= len */
	const char *why; /* first error, or NULL */
	size_t err_pos;  /* where it was found */
};

static const char msg_oom[] = "out of memory";

/* Records the error at byte offset at; returns -1 for the caller to pass up. */
static int fail(struct parser *p, size_t at, const char *why)
{
	if (!p->why) {
		p->why = why;
		p->err_pos = at;
	}
	return -1;
}

/* A missing byte is either the end of the input or a wrong byte. */
static int fail_expect(struct parser *p, size_t at, const char *why)
{
	return fail(p, at, at >= p->len ? "unexpected end of input" : why);
}

/* RFC 8259 section 2: space, tab, LF, CR; nothing else. */
static void skip_ws(struct parser *p)
{
	while (p->pos < p->len) {
		char c = p->text[p->pos];
		if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
			break;
		p->pos++;
	}
}

static int at_byte(const struct parser *p, size_t at, char c)
{
	return at < p->len && p->text[at] == c;
}

static int at_digit(const struct parser *p, size_t at)
{
	return at < p->len && p->text[at] >= '0' && p->text[at] <= '9';
}

static int parse_value(struct parser *p, struct ts_jv *v, int depth);

/* "true", "false" or "null" at p->pos. */
static int parse_literal(struct parser *p, const char *word, struct ts_jv *v, enum ts_jv_type type,
			 int boolean)
{
	size_t n = strlen(word), avail = p->len - p->pos;

	if (memcmp(p->text + p->pos, word, avail < n ? avail : n) != 0)
		return fail(p, p->pos, "invalid literal");
	if (avail < n)
		return fail(p, p->len, "unexpected end of input");
	v->type = type;
	v->boolean = boolean;
	p->pos += n;
	return 0;
}

/* RFC 8259 section 6:  -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?
 * The grammar is checked here; strtod only converts a token already known
 * to be valid, from a bounded NUL-terminated copy. */
static int parse_number(struct parser *p, struct ts_jv *v)
{
	size_t start = p->pos, i = p->pos, n;
	char buf[TS_JV_NUM_LEN_MAX + 1];
	char *end;
	double d;

	if (at_byte(p, i, '-'))
		i++;
	if (at_byte(p, i, '0')) {
		i++;
		if (at_digit(p, i))
			return fail(p, i, "leading zero in number");
	} else if (at_digit(p, i)) {
		while (at_digit(p, i))
			i++;
	} else {
		return fail_expect(p, i, "expected a digit");
	}
	if (at_byte(p, i, '.')) {
		i++;
		if (!at_digit(p, i))
			return fail_expect(p, i, "expected a digit after '.'");
		while (at_digit(p, i))
			i++;
	}
	if (at_byte(p, i, 'e') || at_byte(p, i, 'E')) {
		i++;
		if (at_byte(p, i, '+') || at_byte(p, i, '-'))
			i++;
		if (!at_digit(p, i))
			return fail_expect(p, i, "expected a digit in exponent");
		while (at_digit(p, i))
			i++;
	}
	n = i - start;
	if (n > TS_JV_NUM_LEN_MAX)
		return fail(p, start, "number too long");
	memcpy(buf, p->text + start, n);
	buf[n] = '\0';
	d = strtod(buf, &end);
	/* A short conversion means a locale whose decimal point is not '.'. */
	if (end != buf + n)
		return fail(p, start, "number not convertible (locale?)");
	if (!isfinite(d))
		return fail(p, start, "number out of range");
	v->type = TS_JV_NUM;
	v->num = d;
	p->pos = i;
	return 0;
}

/* The length of the valid UTF-8 sequence at s (RFC 3629 section 4), or 0.
 * Reads at most avail bytes. */
static size_t utf8_len(const unsigned char *s, size_t avail)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t n;

	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4;
	else
		return 0; /* ASCII is not handled here; 80..C1 and F5..FF never lead */
	/* The second byte's range excludes overlong forms (E0, F0), UTF-16
	 * surrogates (ED) and code points above U+10FFFF (F4). */
	if (s[0] == 0xe0)
		lo = 0xa0;
	else if (s[0] == 0xed)
		hi = 0x9f;
	else if (s[0] == 0xf0)
		lo = 0x90;
	else if (s[0] == 0xf4)
		hi = 0x8f;
	if (avail < n || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t k = 2; k < n; k++)
		if (s[k] < 0x80 || s[k] > 0xbf)
			return 0;
	return n;
}

/* Four hex digits at s into *out; -1 if any is not one. */
static int hex4(const unsigned char *s, unsigned *out)
{
	unsigned v = 0;

	for (int k = 0; k < 4; k++) {
		unsigned char c = s[k];
		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (unsigned)(c - 'A' + 10);
		else
			return -1;
	}
	*out = v;
	return 0;
}

/* Writes code point cp (a scalar value, not a surrogate) as UTF-8 at out;
 * returns the number of bytes, 1 to 4. */
static size_t utf8_put(unsigned cp, char *out)
{
	unsigned char *o = (unsigned char *)out;

	if (cp < 0x80) {
		o[0] = (unsigned char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (unsigned char)(0xc0 | (cp >> 6));
		o[1] = (unsigned char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (unsigned char)(0xe0 | (cp >> 12));
		o[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
		o[2] = (unsigned char)(0x80 | (cp & 0x3f));
		return 3;
	}
	o[0] = (unsigned char)(0xf0 | (cp >> 18));
	o[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
	o[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
	o[3] = (unsigned char)(0x80 | (cp & 0x3f));
	return 4;
}

/* The \uXXXX escape at s[i] (s[i + 1] is 'u'), one UTF-16 unit or a
 * surrogate pair (RFC 8259 section 7), decoded into *cp; the string's
 * closing quote is at s[end].  Returns the escape's length, or 0 after
 * recording an error. */
static size_t decode_u(struct parser *p, const unsigned char *s, size_t i, size_t end, unsigned *cp)
{
	unsigned lo;

	if (end - i < 6 || hex4(s + i + 2, cp) < 0) {
		fail(p, i, "invalid \\u escape");
		return 0;
	}
	if (*cp < 0xd800 || *cp > 0xdfff)
		return 6;
	/* A high surrogate must be followed by a low one; lone halves are
	 * rejected rather than replaced by U+FFFD (see jsonparse.h). */
	if (*cp > 0xdbff || end - i < 12 || s[i + 6] != '\\' || s[i + 7] != 'u' ||
	    hex4(s + i + 8, &lo) < 0 || lo < 0xdc00 || lo > 0xdfff) {
		fail(p, i, "lone surrogate in \\u escape");
		return 0;
	}
	*cp = 0x10000 + ((*cp - 0xd800) << 10) + (lo - 0xdc00);
	return 12;
}

/* One character of a string at s[i] (before the closing quote at s[end])
 * decoded into out: sets *wrote to the bytes written, at most as many as
 * it consumed, and returns the bytes consumed, or 0 after recording an
 * error. */
static size_t decode_char(struct parser *p, const unsigned char *s, size_t i, size_t end, char *out,
			  size_t *wrote)
{
	static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
	const char *hit;
	unsigned cp;
	size_t n;

	if (s[i] < 0x20) {
		fail(p, i, "control character in string");
		return 0;
	}
	if (s[i] < 0x80 && s[i] != '\\') {
		*out = (char)s[i];
		*wrote = 1;
		return 1;
	}
	if (s[i] >= 0x80) {
		n = utf8_len(s + i, end - i);
		if (n == 0)
			fail(p, i, "invalid UTF-8 in string");
		memcpy(out, s + i, n);
		*wrote = n;
		return n;
	}
	/* A backslash.  The closing-quote scan stepped over the byte after
	 * every backslash, so s[i + 1] is before end. */
	if (s[i + 1] == 'u') {
		n = decode_u(p, s, i, end, &cp);
		*wrote = n ? utf8_put(cp, out) : 0;
		return n;
	}
	hit = s[i + 1] ? strchr(from, s[i + 1]) : NULL;
	if (!hit) {
		fail(p, i, "invalid escape in string");
		return 0;
	}
	*out = to[hit - from];
	*wrote = 1;
	return 2;
}

/* The string whose opening quote is at p->pos, decoded into a new
 * NUL-terminated buffer (*out, *out_len) that the caller owns. */
static int parse_string(struct parser *p, char **out, size_t *out_len)
{
	const unsigned char *s = (const unsigned char *)p->text;
	size_t start = p->pos + 1, end = start, i, o = 0, n, wrote;
	char *buf;

	/* Find the closing quote first: decoding never lengthens (an escape
	 * of 2, 6 or 12 bytes gives 1, at most 3, or 4), so its distance
	 * bounds the decoded length. */
	while (end < p->len && s[end] != '"')
		end += s[end] == '\\' ? 2 : 1;
	if (end >= p->len)
		return fail(p, p->len, "unexpected end of input in string");
	buf = malloc(end - start + 1);
	if (!buf)
		return fail(p, p->pos, msg_oom);
	for (i = start; i < end; i += n) {
		n = decode_char(p, s, i, end, buf + o, &wrote);
		if (n == 0) {
			free(buf);
			return -1;
		}
		o += wrote;
	}
	buf[o] = '\0';
	*out = buf;
	*out_len = o;
	p->pos = end + 1;
	return 0;
}

/* Room for one more element: items (and keys, for objects) grown to at
 * least n + 1 slots, doubling from 1; *cap is the current capacity.
 * Starting at 1 keeps the many small containers of a result file (the
 * [index, count] pairs of a histogram) exact-size, with no slack for
 * shrink() to leave behind as heap holes. */
static int grow(struct parser *p, struct ts_jv *v, size_t *cap)
{
	size_t new_cap = *cap ? *cap * 2 : 1;
	struct ts_jv *items;

	if (v->n < *cap)
		return 0;
	if (new_cap > SIZE_MAX / sizeof *items)
		return fail(p, p->pos, msg_oom);
	items = realloc(v->items, new_cap * sizeof *items);
	if (!items)
		return fail(p, p->pos, msg_oom);
	v->items = items;
	if (v->type == TS_JV_OBJ) {
		char **keys = realloc(v->keys, new_cap * sizeof *keys);
		if (!keys)
			return fail(p, p->pos, msg_oom);
		v->keys = keys;
	}
	*cap = new_cap;
	return 0;
}

/* Gives back the unused slots once a container is complete; keeping the
 * larger block is harmless if that fails. */
static void shrink(struct ts_jv *v)
{
	struct ts_jv *items;

	if (v->n == 0)
		return;
	items = realloc(v->items, v->n * sizeof *items);
	if (items)
		v->items = items;
	if (v->type == TS_JV_OBJ) {
		char **keys = realloc(v->keys, v->n * sizeof *keys);
		if (keys)
			v->keys = keys;
	}
}

/* After an element: ',' for another (returns 1) or the closing bracket
 * (returns 0, container done), else an error. */
static int next_or_close(struct parser *p, struct ts_jv *v, char close, const char *why)
{
	skip_ws(p);
	if (at_byte(p, p->pos, ',')) {
		p->pos++;
		return 1;
	}
	if (!at_byte(p, p->pos, close))
		return fail_expect(p, p->pos, why);
	p->pos++;
	shrink(v);
	return 0;
}

static int parse_array(struct parser *p, struct ts_jv *v, int depth)
{
	size_t cap = 0;
	int r;

	v->type = TS_JV_ARR;
	if (depth >= TS_JV_DEPTH_MAX)
		return fail(p, p->pos, "nested too deeply");
	p->pos++;
	skip_ws(p);
	if (at_byte(p, p->pos, ']')) {
		p->pos++;
		return 0;
	}
	do {
		if (grow(p, v, &cap) < 0)
			return -1;
		memset(&v->items[v->n], 0, sizeof v->items[v->n]);
		v->n++;
		if (parse_value(p, &v->items[v->n - 1], depth + 1) < 0)
			return -1;
		r = next_or_close(p, v, ']', "expected ',' or ']'");
	} while (r > 0);
	return r;
}

/* One "key": value pair, appended to object v. */
static int parse_member(struct parser *p, struct ts_jv *v, size_t *cap, int depth)
{
	size_t key_pos, key_len;
	char *key = NULL;
	int r;

	skip_ws(p);
	key_pos = p->pos;
	if (!at_byte(p, key_pos, '"'))
		return fail_expect(p, key_pos, "expected a string key");
	if (parse_string(p, &key, &key_len) < 0)
		return -1;
	skip_ws(p);
	/* Keys are C strings: one with a NUL inside would compare equal to
	 * its prefix in ts_jv_get. */
	if (strlen(key) != key_len)
		r = fail(p, key_pos, "\\u0000 in object key");
	else if (!at_byte(p, p->pos, ':'))
		r = fail_expect(p, p->pos, "expected ':'");
	else
		r = grow(p, v, cap);
	if (r < 0) {
		free(key);
		return -1;
	}
	p->pos++;
	v->keys[v->n] = key;
	memset(&v->items[v->n], 0, sizeof v->items[v->n]);
	v->n++;
	return parse_value(p, &v->items[v->n - 1], depth + 1);
}

static int parse_object(struct parser *p, struct ts_jv *v, int depth)
{
	size_t cap = 0;
	int r;

	v->type = TS_JV_OBJ;
	if (depth >= TS_JV_DEPTH_MAX)
		return fail(p, p->pos, "nested too deeply");
	p->pos++;
	skip_ws(p);
	if (at_byte(p, p->pos, '}')) {
		p->pos++;
		return 0;
	}
	do {
		if (parse_member(p, v, &cap, depth) < 0)
			return -1;
		r = next_or_close(p, v, '}', "expected ',' or '}'");
	} while (r > 0);
	return r;
}

/* Any value at p->pos (after whitespace) into v, which is zeroed.  depth
 * is the number of containers around v. */
static int parse_value(struct parser *p, struct ts_jv *v, int depth)
{
	skip_ws(p);
	if (p->pos >= p->len)
		return fail(p, p->pos, "unexpected end of input");
	switch (p->text[p->pos]) {
	case '{':
		return parse_object(p, v, depth);
	case '[':
		return parse_array(p, v, depth);
	case '"':
		v->type = TS_JV_STR;
		return parse_string(p, &v->str, &v->str_len);
	case 't':
		return parse_literal(p, "true", v, TS_JV_BOOL, 1);
	case 'f':
		return parse_literal(p, "false", v, TS_JV_BOOL, 0);
	case 'n':
		return parse_literal(p, "null", v, TS_JV_NULL, 0);
	default:
		if (p->text[p->pos] == '-' || at_digit(p, p->pos))
			return parse_number(p, v);
		return fail(p, p->pos, "expected a value");
	}
}

/* Frees what v owns, not v itself.  Recursion is bounded by the depth
 * limit the tree was parsed under. */
static void free_contents(struct ts_jv *v)
{
	for (size_t i = 0; i < v->n; i++) {
		free_contents(&v->items[i]);
		if (v->keys)
			free(v->keys[i]);
	}
	free(v->items);
	free(v->keys);
	free(v->str);
}

/* "line L, column C: why" for byte offset p->err_pos. */
static void format_error(const struct parser *p, char *err, size_t err_cap)
{
	size_t line = 1, line_start = 0;

	if (!err || err_cap == 0)
		return;
	if (p->why == msg_oom) {
		snprintf(err, err_cap, "%s", p->why);
		return;
	}
	for (size_t i = 0; i < p->err_pos; i++) {
		if (p->text[i] == '\n') {
			line++;
			line_start = i + 1;
		}
	}
	snprintf(err, err_cap, "line %zu, column %zu: %s", line, p->err_pos - line_start + 1,
		 p->why);
}

struct ts_jv *ts_jv_parse(const char *text, size_t len, char *err, size_t err_cap)
{
	struct parser p = { text, len, 0, NULL, 0 };
	struct ts_jv *root = calloc(1, sizeof *root);

	if (!root) {
		fail(&p, 0, msg_oom);
	} else if (parse_value(&p, root, 0) == 0) {
		skip_ws(&p);
		if (p.pos < p.len)
			fail(&p, p.pos, "unexpected data after the value");
	}
	if (p.why) {
		format_error(&p, err, err_cap);
		ts_jv_free(root);
		return NULL;
	}
	if (err && err_cap > 0)
		err[0] = '\0';
	return root;
}

void ts_jv_free(struct ts_jv *v)
{
	if (!v)
		return;
	free_contents(v);
	free(v);
}

const struct ts_jv *ts_jv_get(const struct ts_jv *obj, const char *key)
{
	if (!obj || obj->type != TS_JV_OBJ || !key)
		return NULL;
	for (size_t i = 0; i < obj->n; i++)
		if (strcmp(obj->keys[i], key) == 0)
			return &obj->items[i];
	return NULL;
}

int ts_jv_u64(const struct ts_jv *v, uint64_t *out)
{
	/* 2^53: up to here every integer is a double, so the cast is exact. */
	const double max = 9007199254740992.0;

	if (!v || v->type != TS_JV_NUM || !(v->num >= 0.0) || v->num > max ||
	    v->num != floor(v->num))
		return -1;
	*out = (uint64_t)v->num;
	return 0;
}

int ts_jv_num(const struct ts_jv *v, double *out)
{
	if (!v || v->type != TS_JV_NUM)
		return -1;
	*out = v->num;
	return 0;
}
