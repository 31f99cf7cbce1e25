/* A minimal streaming JSON writer: objects, arrays, numbers, strings,
 * null.  It tracks commas so callers write keys and values in order.
 * Never fails by itself; errors on the FILE are the caller's to check. */
#ifndef TSECHO_JSON_H
#define TSECHO_JSON_H

#include <stdint.h>
#include <stdio.h>

#define TS_JSON_DEPTH 16

struct ts_json {
	FILE *out;
	int depth;
	int count[TS_JSON_DEPTH]; /* values written at each depth */
};

void ts_json_init(struct ts_json *j, FILE *out);

/* key is NULL inside arrays and at the top level. */
void ts_json_open(struct ts_json *j, const char *key, char bracket);
void ts_json_close(struct ts_json *j, char bracket);
void ts_json_u64(struct ts_json *j, const char *key, uint64_t v);
void ts_json_i64(struct ts_json *j, const char *key, int64_t v);
/* Written with `decimals` places; NaN and infinities become null. */
void ts_json_num(struct ts_json *j, const char *key, double v, int decimals);
void ts_json_str(struct ts_json *j, const char *key, const char *s);
void ts_json_bool(struct ts_json *j, const char *key, int v);
void ts_json_null(struct ts_json *j, const char *key);

#endif
