/* The seed's text protocol: see text.h. */
#include "config.h"

#include <tsecho/text.h>

#include <string.h>

#include <tsecho/clock.h>

size_t ts_text_message_len(const uint8_t *buf, size_t len)
{
	const uint8_t *lf = len ? memchr(buf, '\n', len) : NULL;
	return lf ? (size_t)(lf - buf) + 1 : len;
}

size_t ts_text_reply(uint8_t *dst, size_t cap, int64_t wall_ns, const uint8_t *msg, size_t len)
{
	char prefix[TS_TEXT_PREFIX_MAX + 8];
	int n = ts_format_wall(prefix, sizeof prefix, wall_ns);

	if (n < 0 || (size_t)n >= TS_TEXT_PREFIX_MAX || (size_t)n + 1 > cap ||
	    len > cap - (size_t)n - 1)
		return 0;
	memcpy(dst, prefix, (size_t)n);
	dst[n] = ':';
	memcpy(dst + n + 1, msg, len);
	return (size_t)n + 1 + len;
}

/* Appends one escaped byte to dst at *pos if it fits below limit. */
static int put_escaped(char *dst, size_t *pos, size_t limit, uint8_t c)
{
	static const char hex[] = "0123456789abcdef";
	char tmp[4];
	size_t n = 0;

	if (c == '\\') {
		tmp[n++] = '\\';
		tmp[n++] = '\\';
	} else if (c == '\r' || c == '\n' || c == '\t') {
		tmp[n++] = '\\';
		tmp[n++] = c == '\r' ? 'r' : c == '\n' ? 'n' : 't';
	} else if (c >= 0x20 && c < 0x7f) {
		tmp[n++] = (char)c;
	} else {
		tmp[n++] = '\\';
		tmp[n++] = 'x';
		tmp[n++] = hex[c >> 4];
		tmp[n++] = hex[c & 15];
	}
	if (*pos + n > limit)
		return -1;
	memcpy(dst + *pos, tmp, n);
	*pos += n;
	return 0;
}

size_t ts_text_escape(char *dst, size_t cap, const uint8_t *msg, size_t len)
{
	size_t pos = 0;

	if (cap < 4) {
		if (cap)
			dst[0] = '\0';
		return 0;
	}
	for (size_t i = 0; i < len; i++) {
		/* Keep room for "..." and the NUL in case a later byte
		 * does not fit. */
		if (put_escaped(dst, &pos, cap - 4, msg[i]) != 0) {
			memcpy(dst + pos, "...", 3);
			pos += 3;
			break;
		}
	}
	dst[pos] = '\0';
	return pos;
}

/* The most seconds whose nanoseconds, plus a fraction, fit an int64_t:
 * the year 2262. */
#define SEC_MAX ((INT64_MAX - 999999999) / 1000000000)

int ts_text_parse_time(const uint8_t *s, size_t len, int64_t *wall_ns)
{
	int64_t sec = 0, frac_ns = 0, scale = 100000000;
	size_t i = 0;

	if (len == 0 || len > 40)
		return -1;
	for (; i < len && s[i] != '.'; i++) {
		if (s[i] < '0' || s[i] > '9' || sec > SEC_MAX / 10)
			return -1;
		sec = sec * 10 + (s[i] - '0');
	}
	if (i == 0 || sec > SEC_MAX)
		return -1;
	if (i < len) {
		if (++i == len)
			return -1; /* "123." */
		for (; i < len; i++) {
			if (s[i] < '0' || s[i] > '9')
				return -1;
			frac_ns += (s[i] - '0') * scale;
			scale /= 10;
		}
	}
	*wall_ns = sec * 1000000000LL + frac_ns;
	return 0;
}

int ts_text_is_reply(const uint8_t *buf, size_t len)
{
	size_t n = len < TS_TEXT_PREFIX_MAX ? len : TS_TEXT_PREFIX_MAX;
	const uint8_t *colon = memchr(buf, ':', n);
	const uint8_t *dot;
	int64_t wall_ns;

	if (!colon)
		return 0;
	/* A reply's time has its fraction: "12:" is a message, not a reply. */
	dot = memchr(buf, '.', (size_t)(colon - buf));
	return dot && ts_text_parse_time(buf, (size_t)(colon - buf), &wall_ns) == 0;
}

enum ts_text_hello ts_text_hello_classify(const uint8_t *line, size_t len)
{
	const uint8_t *colon = memchr(line, ':', len);
	int64_t wall_ns;
	size_t rest;

	if (!colon || ts_text_parse_time(line, (size_t)(colon - line), &wall_ns) != 0)
		return TS_TEXT_HELLO_OTHER;
	rest = len - (size_t)(colon + 1 - line);
	if (rest == strlen(TS_HELLO_ANSWER) && memcmp(colon + 1, TS_HELLO_ANSWER, rest) == 0)
		return TS_TEXT_HELLO_TSECHO;
	if (rest == strlen(TS_HELLO_ASK) && memcmp(colon + 1, TS_HELLO_ASK, rest) == 0)
		return TS_TEXT_HELLO_ECHOED;
	return TS_TEXT_HELLO_OTHER;
}
