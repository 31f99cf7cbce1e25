/* Log-linear histogram: see hist.h. */
#include "config.h"

#include <tsecho/hist.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum {
	SUB_BITS = 10,
	SUB_COUNT = 1 << SUB_BITS,   /* sub-buckets per power of two */
	EXACT_LIMIT = 2 * SUB_COUNT, /* values below are exact */
	TOP_BIT = 43,                /* TS_HIST_MAX_NS = 2^TOP_BIT */
	N_BUCKETS = (TOP_BIT - SUB_BITS) * SUB_COUNT + SUB_COUNT,
};

struct ts_hist {
	uint64_t total;
	int64_t min_ns;
	int64_t max_ns;
	double sum;
	double sum_sq;
	uint64_t counts[N_BUCKETS];
};

static int msb_index(uint64_t v)
{
	int n = 0;

	while (v >>= 1)
		n++;
	return n;
}

/* The bucket of value v (0 <= v < 2^TOP_BIT).  Below EXACT_LIMIT the bucket
 * is the value.  Above, with k = floor(log2 v) >= SUB_BITS + 1 and
 * shift = k - SUB_BITS, v >> shift lies in [SUB_COUNT, 2 * SUB_COUNT), and
 * the buckets of each power of two follow those of the one below. */
static size_t index_of(int64_t v)
{
	int shift;

	if (v < EXACT_LIMIT)
		return (size_t)v;
	shift = msb_index((uint64_t)v) - SUB_BITS;
	return (size_t)shift * SUB_COUNT + (size_t)((uint64_t)v >> shift);
}

int64_t ts_hist_bucket_low(size_t i)
{
	size_t shift;

	if (i < EXACT_LIMIT)
		return (int64_t)i;
	shift = i / SUB_COUNT - 1;
	return (int64_t)((i - shift * SUB_COUNT) << shift);
}

int64_t ts_hist_bucket_high(size_t i)
{
	size_t shift;

	if (i < EXACT_LIMIT)
		return (int64_t)i;
	shift = i / SUB_COUNT - 1;
	return ts_hist_bucket_low(i) + ((int64_t)1 << shift) - 1;
}

size_t ts_hist_buckets(void)
{
	return N_BUCKETS;
}

uint64_t ts_hist_bucket_count(const struct ts_hist *h, size_t i)
{
	return i < N_BUCKETS ? h->counts[i] : 0;
}

struct ts_hist *ts_hist_new(void)
{
	struct ts_hist *h = malloc(sizeof *h);

	if (h)
		ts_hist_reset(h);
	return h;
}

void ts_hist_free(struct ts_hist *h)
{
	free(h);
}

void ts_hist_reset(struct ts_hist *h)
{
	memset(h, 0, sizeof *h);
}

void ts_hist_record(struct ts_hist *h, int64_t value_ns)
{
	int64_t v = value_ns < 0 ? 0 : value_ns;
	int64_t clamped = v >= TS_HIST_MAX_NS ? TS_HIST_MAX_NS - 1 : v;

	h->counts[index_of(clamped)]++;
	if (h->total == 0 || v < h->min_ns)
		h->min_ns = v;
	if (h->total == 0 || v > h->max_ns)
		h->max_ns = v;
	h->total++;
	h->sum += (double)v;
	h->sum_sq += (double)v * (double)v;
}

void ts_hist_merge(struct ts_hist *dst, const struct ts_hist *src)
{
	if (src->total == 0)
		return;
	for (size_t i = 0; i < N_BUCKETS; i++)
		dst->counts[i] += src->counts[i];
	if (dst->total == 0 || src->min_ns < dst->min_ns)
		dst->min_ns = src->min_ns;
	if (dst->total == 0 || src->max_ns > dst->max_ns)
		dst->max_ns = src->max_ns;
	dst->total += src->total;
	dst->sum += src->sum;
	dst->sum_sq += src->sum_sq;
}

uint64_t ts_hist_count(const struct ts_hist *h)
{
	return h->total;
}

int64_t ts_hist_min(const struct ts_hist *h)
{
	return h->min_ns;
}

int64_t ts_hist_max(const struct ts_hist *h)
{
	return h->max_ns;
}

double ts_hist_mean(const struct ts_hist *h)
{
	return h->total ? h->sum / (double)h->total : 0.0;
}

double ts_hist_stddev(const struct ts_hist *h)
{
	double mean, var;

	if (h->total == 0)
		return 0.0;
	mean = ts_hist_mean(h);
	var = h->sum_sq / (double)h->total - mean * mean;
	/* Rounding can take a tiny variance below zero. */
	return var > 0 ? sqrt(var) : 0.0;
}

int64_t ts_hist_percentile(const struct ts_hist *h, double p)
{
	uint64_t rank, seen = 0;
	double x;

	if (h->total == 0)
		return 0;
	if (p <= 0)
		return h->min_ns;
	if (p >= 100)
		return h->max_ns;
	/* The rank of the value at p: ceil(p% of the count), at least 1.
	 * 99.9% of 1000 is 999 though the product rounds to 999.0000000001:
	 * a relative nudge keeps exact ranks exact. */
	x = p / 100.0 * (double)h->total;
	rank = (uint64_t)ceil(x - x * 1e-12);
	if (rank < 1)
		rank = 1;
	for (size_t i = 0; i < N_BUCKETS; i++) {
		seen += h->counts[i];
		if (seen >= rank) {
			int64_t v = ts_hist_bucket_high(i);
			if (v > h->max_ns)
				v = h->max_ns;
			if (v < h->min_ns)
				v = h->min_ns;
			return v;
		}
	}
	return h->max_ns;
}

void ts_hist_add_bucket(struct ts_hist *h, size_t i, uint64_t count)
{
	if (i >= N_BUCKETS)
		return;
	h->counts[i] += count;
	h->total += count;
}

void ts_hist_set_exact(struct ts_hist *h, int64_t min_ns, int64_t max_ns, double sum, double sum_sq)
{
	h->min_ns = min_ns;
	h->max_ns = max_ns;
	h->sum = sum;
	h->sum_sq = sum_sq;
}

double ts_hist_sum(const struct ts_hist *h)
{
	return h->sum;
}

double ts_hist_sum_sq(const struct ts_hist *h)
{
	return h->sum_sq;
}
