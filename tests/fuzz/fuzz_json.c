/* libFuzzer harness for the JSON parser (result files from anywhere, read
 * by tsecho merge).  Checks, beyond "no crash, no leak": a rejection says
 * why in one line; an accepted tree keeps every invariant jsonparse.h
 * promises; and writing the tree back out and parsing that gives the same
 * tree. */
#include "config.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tsecho/jsonparse.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* 1 when s[0..n) is valid UTF-8 (no overlongs, surrogates, > U+10FFFF). */
static int valid_utf8(const unsigned char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		uint32_t cp;
		size_t k, len;

		if (s[i] < 0x80) {
			i++;
			continue;
		}
		if ((s[i] & 0xe0) == 0xc0) {
			len = 2;
			cp = s[i] & 0x1fu;
		} else if ((s[i] & 0xf0) == 0xe0) {
			len = 3;
			cp = s[i] & 0x0fu;
		} else if ((s[i] & 0xf8) == 0xf0) {
			len = 4;
			cp = s[i] & 0x07u;
		} else {
			return 0;
		}
		if (n - i < len)
			return 0;
		for (k = 1; k < len; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (s[i + k] & 0x3fu);
		}
		if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) ||
		    (len == 4 && cp < 0x10000) || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += len;
	}
	return 1;
}

/* Checks v and everything under it; returns the number of values. */
static size_t walk(const struct ts_jv *v, int depth)
{
	size_t count = 1;

	if (depth > TS_JV_DEPTH_MAX)
		abort();
	if (v->type != TS_JV_STR && (v->str || v->str_len))
		abort();
	if (v->type != TS_JV_ARR && v->type != TS_JV_OBJ && (v->n || v->items || v->keys))
		abort();
	switch (v->type) {
	case TS_JV_NULL:
		break;
	case TS_JV_BOOL:
		if (v->boolean != 0 && v->boolean != 1)
			abort();
		break;
	case TS_JV_NUM:
		if (!isfinite(v->num))
			abort();
		break;
	case TS_JV_STR:
		if (!v->str || v->str[v->str_len] != '\0' ||
		    !valid_utf8((const unsigned char *)v->str, v->str_len))
			abort();
		break;
	case TS_JV_ARR:
	case TS_JV_OBJ:
		if ((v->n == 0) != (v->items == NULL))
			abort();
		if (v->type == TS_JV_ARR ? v->keys != NULL : (v->n == 0) != (v->keys == NULL))
			abort();
		for (size_t i = 0; i < v->n; i++) {
			if (v->type == TS_JV_OBJ) {
				const char *k = v->keys[i];
				const struct ts_jv *first = ts_jv_get(v, k);
				/* ts_jv_get finds this member or an earlier
				 * one of the same name. */
				if (!k || !valid_utf8((const unsigned char *)k, strlen(k)) ||
				    !first || first > &v->items[i] ||
				    strcmp(v->keys[first - v->items], k) != 0)
					abort();
			}
			count += walk(&v->items[i], depth + 1);
		}
		break;
	default:
		abort();
	}
	return count;
}

static void write_str(FILE *f, const char *s, size_t n)
{
	fputc('"', f);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

/* v as JSON text; %.17g gives back the same double. */
static void write_value(FILE *f, const struct ts_jv *v)
{
	switch (v->type) {
	case TS_JV_NULL:
		fputs("null", f);
		break;
	case TS_JV_BOOL:
		fputs(v->boolean ? "true" : "false", f);
		break;
	case TS_JV_NUM:
		fprintf(f, "%.17g", v->num);
		break;
	case TS_JV_STR:
		write_str(f, v->str, v->str_len);
		break;
	case TS_JV_ARR:
	case TS_JV_OBJ:
		fputc(v->type == TS_JV_ARR ? '[' : '{', f);
		for (size_t i = 0; i < v->n; i++) {
			if (i)
				fputc(',', f);
			if (v->type == TS_JV_OBJ) {
				write_str(f, v->keys[i], strlen(v->keys[i]));
				fputc(':', f);
			}
			write_value(f, &v->items[i]);
		}
		fputc(v->type == TS_JV_ARR ? ']' : '}', f);
		break;
	}
}

static int same(const struct ts_jv *a, const struct ts_jv *b)
{
	if (a->type != b->type || a->boolean != b->boolean || a->n != b->n ||
	    memcmp(&a->num, &b->num, sizeof a->num) != 0 || a->str_len != b->str_len ||
	    (a->str && memcmp(a->str, b->str, a->str_len) != 0))
		return 0;
	for (size_t i = 0; i < a->n; i++)
		if ((a->keys && strcmp(a->keys[i], b->keys[i]) != 0) ||
		    !same(&a->items[i], &b->items[i]))
			return 0;
	return 1;
}

/* Writes v out and parses it again: the same tree must come back. */
static void round_trip(const struct ts_jv *v)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	struct ts_jv *again;
	char err[128];

	if (!f)
		return;
	write_value(f, v);
	if (fclose(f) != 0) {
		free(text);
		return;
	}
	again = ts_jv_parse(text, len, err, sizeof err);
	if (!again) {
		fprintf(stderr, "round trip rejected: %s\n%.*s\n", err, (int)len, text);
		abort();
	}
	if (!same(v, again))
		abort();
	ts_jv_free(again);
	free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[128], small[12];
	struct ts_jv *v, *again;

	/* libFuzzer's data is an exact-size heap copy: ASan sees any read
	 * past size. */
	v = ts_jv_parse((const char *)data, size, err, sizeof err);
	/* The same answer whatever room there is for the message. */
	again = ts_jv_parse((const char *)data, size, small, sizeof small);
	if ((v == NULL) != (again == NULL))
		abort();
	ts_jv_free(again);
	if (!v) {
		if (strchr(err, '\n') ||
		    (strncmp(err, "line ", 5) != 0 && strcmp(err, "out of memory") != 0) ||
		    strlen(small) != sizeof small - 1)
			abort();
		return 0;
	}
	if (err[0] != '\0' || walk(v, 0) > size)
		abort();
	round_trip(v);
	ts_jv_free(v);
	return 0;
}
