/* Token buckets and the per-source table: see ratelimit.h. */
#include "config.h"

#include <tsecho/ratelimit.h>

#include <stdlib.h>
#include <string.h>

enum { WAYS = 4 };

void ts_bucket_init(struct ts_bucket *b, double burst, int64_t now_mono_ns)
{
	b->tokens = burst;
	b->last_mono_ns = now_mono_ns;
}

double ts_bucket_level(const struct ts_bucket *b, double rate_per_s, double burst,
		       int64_t now_mono_ns)
{
	double t = b->tokens;

	if (now_mono_ns > b->last_mono_ns)
		t += (double)(now_mono_ns - b->last_mono_ns) * 1e-9 * rate_per_s;
	return t < burst ? t : burst;
}

int ts_bucket_take(struct ts_bucket *b, double rate_per_s, double burst, int64_t now_mono_ns)
{
	b->tokens = ts_bucket_level(b, rate_per_s, burst, now_mono_ns);
	if (now_mono_ns > b->last_mono_ns)
		b->last_mono_ns = now_mono_ns;
	if (b->tokens < 1.0)
		return 0;
	b->tokens -= 1.0;
	return 1;
}

struct way {
	uint8_t key[TS_RATELIMIT_KEY_MAX];
	uint8_t len; /* 0: free */
	struct ts_bucket bucket;
};

struct ts_ratelimit {
	double rate_per_s;
	double burst;
	size_t sets;
	uint8_t key[TS_SIPHASH_KEY_LEN];
	/* The way the last source drew on: a run of datagrams from one
	 * source (a flood, a load test) then costs no hash.  Its key is
	 * checked on use, so a way taken over since is not mistaken. */
	struct way *last;
	struct way ways[]; /* sets x WAYS */
};

struct ts_ratelimit *ts_ratelimit_new(double rate_per_s, double burst, size_t sources,
				      const uint8_t key[TS_SIPHASH_KEY_LEN])
{
	size_t sets = sources / WAYS + (sources % WAYS != 0);
	struct ts_ratelimit *rl;

	if (sets == 0)
		sets = 1;
	rl = calloc(1, sizeof *rl + sets * WAYS * sizeof rl->ways[0]);
	if (!rl)
		return NULL;
	rl->rate_per_s = rate_per_s;
	rl->burst = burst < 1.0 ? 1.0 : burst;
	rl->sets = sets;
	memcpy(rl->key, key, sizeof rl->key);
	return rl;
}

void ts_ratelimit_free(struct ts_ratelimit *rl)
{
	free(rl);
}

/* The way that src draws on in its set (see ratelimit.h for the rule). */
static struct way *find_way(struct ts_ratelimit *rl, struct way *set, const uint8_t *src,
			    size_t len, int64_t now_mono_ns)
{
	struct way *fullest = NULL;
	double fullest_level = -1.0;

	for (int i = 0; i < WAYS; i++)
		if (set[i].len != 0 && set[i].len == len && memcmp(set[i].key, src, len) == 0)
			return &set[i];
	for (int i = 0; i < WAYS; i++) {
		double level = set[i].len ? ts_bucket_level(&set[i].bucket, rl->rate_per_s,
							    rl->burst, now_mono_ns)
					  : rl->burst;
		if (level >= rl->burst) {
			/* Free, or idle long enough to be as good as new. */
			memcpy(set[i].key, src, len);
			set[i].len = (uint8_t)len;
			ts_bucket_init(&set[i].bucket, rl->burst, now_mono_ns);
			return &set[i];
		}
		if (level > fullest_level) {
			fullest_level = level;
			fullest = &set[i];
		}
	}
	return fullest;
}

int ts_ratelimit_take(struct ts_ratelimit *rl, const uint8_t *src, size_t len, int64_t now_mono_ns)
{
	struct way *set, *w;

	if (rl->rate_per_s <= 0)
		return 1;
	if (len > TS_RATELIMIT_KEY_MAX)
		len = TS_RATELIMIT_KEY_MAX;
	w = rl->last;
	if (!w || w->len != len || memcmp(w->key, src, len) != 0) {
		set = &rl->ways[(ts_siphash24(rl->key, src, len) % rl->sets) * WAYS];
		w = find_way(rl, set, src, len, now_mono_ns);
		rl->last = w;
	}
	return ts_bucket_take(&w->bucket, rl->rate_per_s, rl->burst, now_mono_ns);
}
