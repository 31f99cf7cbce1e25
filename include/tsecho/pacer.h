/* The open-loop schedule of tsecho bench (docs/bench.md): a worker's
 * message m is due at start + m * interval, and its n connections take
 * turns, so message k of connection j is the worker's message k * n + j.
 * Pure arithmetic on the caller's clock, so it is tested on a fake one. */
#ifndef TSECHO_PACER_H
#define TSECHO_PACER_H

#include <stdint.h>

struct ts_pacer {
	int64_t start_ns;
	int64_t interval_ns; /* >= 1 */
	uint64_t streams;    /* connections, >= 1 */
};

/* The interval for rate_per_s messages a second, to the nearest ns and at
 * least 1. */
int64_t ts_pacer_interval_ns(double rate_per_s);

/* When the worker's message m is due. */
int64_t ts_pacer_due(const struct ts_pacer *p, uint64_t m);

/* When message k of stream j is due. */
int64_t ts_pacer_stream_due(const struct ts_pacer *p, uint64_t j, uint64_t k);

/* How many of the worker's messages are due by now (0 before start). */
uint64_t ts_pacer_due_by(const struct ts_pacer *p, int64_t now_ns);

#endif
