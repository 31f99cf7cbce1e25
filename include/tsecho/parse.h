/* Parsing of command-line numbers: counts, sizes ("64k") and durations
 * ("500ms").  Each returns 0 on success or -1 and leaves *out alone; the
 * caller prints the message (these never print). */
#ifndef TSECHO_PARSE_H
#define TSECHO_PARSE_H

#include <stdint.h>

/* A decimal integer in [min, max]. */
int ts_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);

/* A byte count with an optional suffix k, m, g (powers of 1024), in
 * [min, max] bytes. */
int ts_parse_size(const char *s, uint64_t min, uint64_t max, uint64_t *out);

/* A duration with a unit ns, us, ms, s, m, h (a bare number is seconds;
 * a fraction is allowed: "0.5s"), in [min_ns, max_ns] nanoseconds. */
int ts_parse_duration_ns(const char *s, int64_t min_ns, int64_t max_ns, int64_t *out);

#endif
