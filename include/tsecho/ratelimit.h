/* Token buckets, one for the whole server and one per source address, for
 * the reflector's UDP ports: each reply costs a token, so a spoofed source
 * cannot draw more than its rate, and many spoofed sources together no
 * more than the global budget.
 *
 * The per-source buckets live in a fixed table (no allocation after
 * creation), found by a keyed hash (SipHash-2-4, key chosen at start-up)
 * so that a peer cannot choose sources that collide.  The table is
 * 4-way set-associative; a source finds its own way, or takes a free one
 * or one whose bucket has refilled (an idle source, whose state is then
 * the same as a new one's).  When every way of its set holds a source that
 * is still drawing, the newcomer draws on the fullest of their buckets and
 * takes no way of its own: a collision costs the newcomer, and never hands
 * anyone a full bucket. */
#ifndef TSECHO_RATELIMIT_H
#define TSECHO_RATELIMIT_H

#include <stddef.h>
#include <stdint.h>

#include <tsecho/siphash.h>

/* A token bucket: refilled at a rate, holding at most a burst.  Plain data;
 * the rate and the burst are passed to each call. */
struct ts_bucket {
	double tokens;
	int64_t last_mono_ns;
};

/* A full bucket (burst tokens) as of now_mono_ns. */
void ts_bucket_init(struct ts_bucket *b, double burst, int64_t now_mono_ns);

/* The tokens b holds at now_mono_ns (at most burst); b is not changed. */
double ts_bucket_level(const struct ts_bucket *b, double rate_per_s, double burst,
		       int64_t now_mono_ns);

/* Refills b to now_mono_ns, then takes one token: 1, or 0 when there is
 * less than one.  A clock that went back refills nothing. */
int ts_bucket_take(struct ts_bucket *b, double rate_per_s, double burst, int64_t now_mono_ns);

/* Longest source key: an address family byte and an IPv6 address. */
#define TS_RATELIMIT_KEY_MAX 17

struct ts_ratelimit;

/* A table of about `sources` buckets (rounded up to whole sets of 4) of
 * rate_per_s tokens a second and burst tokens at most (burst >= 1).
 * rate_per_s 0 means no limit.  NULL when out of memory. */
struct ts_ratelimit *ts_ratelimit_new(double rate_per_s, double burst, size_t sources,
				      const uint8_t key[TS_SIPHASH_KEY_LEN]);
void ts_ratelimit_free(struct ts_ratelimit *rl);

/* One token for the source src[0..len) (len <= TS_RATELIMIT_KEY_MAX) at
 * now_mono_ns: 1 when it may be answered, 0 when it is over its rate. */
int ts_ratelimit_take(struct ts_ratelimit *rl, const uint8_t *src, size_t len, int64_t now_mono_ns);

#endif
