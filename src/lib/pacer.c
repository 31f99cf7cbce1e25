/* Open-loop schedule: see pacer.h. */
#include "config.h"

#include <tsecho/pacer.h>

#include <math.h>

int64_t ts_pacer_interval_ns(double rate_per_s)
{
	double ns = rate_per_s > 0 ? 1e9 / rate_per_s : 1e9;

	return ns < 1.0 ? 1 : (int64_t)llround(ns);
}

int64_t ts_pacer_due(const struct ts_pacer *p, uint64_t m)
{
	return p->start_ns + (int64_t)(m * (uint64_t)p->interval_ns);
}

int64_t ts_pacer_stream_due(const struct ts_pacer *p, uint64_t j, uint64_t k)
{
	return ts_pacer_due(p, k * p->streams + j);
}

uint64_t ts_pacer_due_by(const struct ts_pacer *p, int64_t now_ns)
{
	if (now_ns < p->start_ns)
		return 0;
	return (uint64_t)((now_ns - p->start_ns) / p->interval_ns) + 1;
}
