/* Streaming JSON writer: see json.h. */
#include "config.h"

#include <tsecho/json.h>

#include <inttypes.h>
#include <math.h>

void ts_json_init(struct ts_json *j, FILE *out)
{
	j->out = out;
	j->depth = 0;
	j->count[0] = 0;
}

static void put_string(FILE *out, const char *s)
{
	fputc('"', out);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			fprintf(out, "\\%c", c);
		else if (c < 0x20)
			fprintf(out, "\\u%04x", c);
		else
			fputc(c, out);
	}
	fputc('"', out);
}

/* The comma and key before a value. */
static void prefix(struct ts_json *j, const char *key)
{
	if (j->count[j->depth]++ > 0)
		fputc(',', j->out);
	if (key) {
		put_string(j->out, key);
		fputc(':', j->out);
	}
}

void ts_json_open(struct ts_json *j, const char *key, char bracket)
{
	prefix(j, key);
	fputc(bracket, j->out);
	if (j->depth + 1 < TS_JSON_DEPTH)
		j->depth++;
	j->count[j->depth] = 0;
}

void ts_json_close(struct ts_json *j, char bracket)
{
	fputc(bracket, j->out);
	if (j->depth > 0)
		j->depth--;
}

void ts_json_u64(struct ts_json *j, const char *key, uint64_t v)
{
	prefix(j, key);
	fprintf(j->out, "%" PRIu64, v);
}

void ts_json_i64(struct ts_json *j, const char *key, int64_t v)
{
	prefix(j, key);
	fprintf(j->out, "%" PRId64, v);
}

void ts_json_num(struct ts_json *j, const char *key, double v, int decimals)
{
	prefix(j, key);
	if (isfinite(v))
		fprintf(j->out, "%.*f", decimals, v);
	else
		fputs("null", j->out);
}

void ts_json_str(struct ts_json *j, const char *key, const char *s)
{
	prefix(j, key);
	put_string(j->out, s);
}

void ts_json_bool(struct ts_json *j, const char *key, int v)
{
	prefix(j, key);
	fputs(v ? "true" : "false", j->out);
}

void ts_json_null(struct ts_json *j, const char *key)
{
	prefix(j, key);
	fputs("null", j->out);
}
