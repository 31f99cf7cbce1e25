/* Number parsing for the command line: see parse.h. */
#include "config.h"

#include <tsecho/parse.h>

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <tsecho/clock.h>

struct unit {
	const char *name;
	double scale;
};

static const struct unit size_units[] = {
	{ "", 1.0 },        { "k", 1024.0 },       { "K", 1024.0 },       { "m", 1048576.0 },
	{ "M", 1048576.0 }, { "g", 1073741824.0 }, { "G", 1073741824.0 }, { NULL, 0 },
};

static const struct unit time_units[] = {
	{ "", (double)TS_NS_PER_S },    { "ns", 1.0 },
	{ "us", (double)TS_NS_PER_US }, { "ms", (double)TS_NS_PER_MS },
	{ "s", (double)TS_NS_PER_S },   { "m", 60.0 * TS_NS_PER_S },
	{ "h", 3600.0 * TS_NS_PER_S },  { NULL, 0 },
};

/* Parses "<number><unit>" into number * unit scale; rejects negative,
 * non-finite, empty and unknown-unit input. */
static int parse_scaled(const char *s, const struct unit *units, double *out)
{
	char *end;
	double v;

	if (s == NULL || *s == '\0' || *s == '-' || *s == '+' || *s == ' ')
		return -1;
	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s || !isfinite(v) || v < 0)
		return -1;
	for (const struct unit *u = units; u->name; u++) {
		if (strcmp(end, u->name) == 0) {
			*out = v * u->scale;
			return 0;
		}
	}
	return -1;
}

int ts_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (s == NULL || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

int ts_parse_size(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	double v;

	if (parse_scaled(s, size_units, &v) != 0 || v != floor(v))
		return -1;
	if (v < (double)min || v > (double)max)
		return -1;
	*out = (uint64_t)v;
	return 0;
}

int ts_parse_duration_ns(const char *s, int64_t min_ns, int64_t max_ns, int64_t *out)
{
	double v;

	if (parse_scaled(s, time_units, &v) != 0)
		return -1;
	if (v < (double)min_ns || v > (double)max_ns)
		return -1;
	*out = (int64_t)llround(v);
	return 0;
}
