/* SipHash-2-4 against the paper's vectors; token buckets and the
 * per-source table on a fake clock. */
#include "config.h"

#include <stdlib.h>

#include <tsecho/ratelimit.h>
#include <tsecho/siphash.h>
#include "unit.h"

#define MS (1000000LL)
#define S (1000000000LL)

static const uint8_t key0[TS_SIPHASH_KEY_LEN] = { 0, 1, 2,  3,  4,  5,  6,  7,
						  8, 9, 10, 11, 12, 13, 14, 15 };

/* Appendix A of the paper, and the first entries of its vector table:
 * key 00..0f, message 00..(len-1). */
Test(siphash, paper_vectors)
{
	uint8_t msg[64];

	for (int i = 0; i < 64; i++)
		msg[i] = (uint8_t)i;
	cr_expect(eq(u64, ts_siphash24(key0, msg, 15), 0xa129ca6149be45e5ULL));
	cr_expect(eq(u64, ts_siphash24(key0, msg, 0), 0x726fdb47dd0e0e31ULL));
	cr_expect(eq(u64, ts_siphash24(key0, msg, 8), 0x93f5f5799a932462ULL));
}

Test(siphash, key_changes_everything)
{
	uint8_t other[TS_SIPHASH_KEY_LEN];
	const char src[] = "\x02\x7f\x00\x00\x01";

	memcpy(other, key0, sizeof other);
	other[15] ^= 1;
	cr_expect(ts_siphash24(key0, src, 5) != ts_siphash24(other, src, 5));
	cr_expect(ts_siphash24(key0, src, 5) != ts_siphash24(key0, src, 4));
}

Test(bucket, burst_then_rate)
{
	struct ts_bucket b;
	int got = 0;

	ts_bucket_init(&b, 10, 0);
	for (int i = 0; i < 20; i++)
		got += ts_bucket_take(&b, 100, 10, 0);
	cr_expect(eq(int, got, 10)); /* the burst, at once */
	cr_expect(eq(int, ts_bucket_take(&b, 100, 10, 5 * MS), 0));
	cr_expect(eq(int, ts_bucket_take(&b, 100, 10, 10 * MS), 1)); /* 1 per 10 ms */
	cr_expect(eq(int, ts_bucket_take(&b, 100, 10, 10 * MS), 0));
	/* Idle for a minute: full again, and no more than full. */
	got = 0;
	for (int i = 0; i < 20; i++)
		got += ts_bucket_take(&b, 100, 10, 60 * S);
	cr_expect(eq(int, got, 10));
}

Test(bucket, clock_going_back_refills_nothing)
{
	struct ts_bucket b;

	ts_bucket_init(&b, 1, 10 * S);
	cr_expect(eq(int, ts_bucket_take(&b, 1, 1, 10 * S), 1));
	cr_expect(eq(int, ts_bucket_take(&b, 1, 1, 5 * S), 0));
	cr_expect(eq(int, ts_bucket_take(&b, 1, 1, 10 * S + S / 2), 0));
	cr_expect(eq(int, ts_bucket_take(&b, 1, 1, 11 * S), 1));
}

/* Replies answered to src over `seconds`, one request every `gap_ns`. */
static int answered(struct ts_ratelimit *rl, const uint8_t *src, int64_t start_ns, int64_t gap_ns,
		    int n)
{
	int got = 0;

	for (int i = 0; i < n; i++)
		got += ts_ratelimit_take(rl, src, 5, start_ns + i * gap_ns);
	return got;
}

static void addr(uint8_t out[5], uint32_t a)
{
	out[0] = 2;
	out[1] = (uint8_t)(a >> 24);
	out[2] = (uint8_t)(a >> 16);
	out[3] = (uint8_t)(a >> 8);
	out[4] = (uint8_t)a;
}

Test(ratelimit, one_source_held_to_its_rate)
{
	struct ts_ratelimit *rl = ts_ratelimit_new(100, 100, 4096, key0);
	uint8_t a[5];

	cr_assert(rl != NULL);
	addr(a, 0x7f000001);
	/* 10,000 requests over 2 s: the burst of 100, then 100 a second. */
	int got = answered(rl, a, S, 200000, 10000);
	cr_expect(got >= 299 && got <= 301, "answered %d of 10000", got);
	ts_ratelimit_free(rl);
}

Test(ratelimit, sources_do_not_share)
{
	struct ts_ratelimit *rl = ts_ratelimit_new(100, 100, 4096, key0);
	uint8_t a[5], b[5];
	int got_a = 0, got_b = 0;

	cr_assert(rl != NULL);
	addr(a, 0x7f000001);
	addr(b, 0x7f001485); /* 127.0.20.133 */
	for (int i = 0; i < 10000; i++) {
		int64_t t = S + i * 200000LL;
		got_a += ts_ratelimit_take(rl, a, 5, t);
		got_b += ts_ratelimit_take(rl, b, 5, t);
	}
	/* Each its own rate: alternating gains neither anything. */
	cr_expect(got_a >= 299 && got_a <= 301, "a answered %d", got_a);
	cr_expect(got_b >= 299 && got_b <= 301, "b answered %d", got_b);
	ts_ratelimit_free(rl);
}

/* One set of four ways: a fifth busy source must not get a bucket of its
 * own, let alone a full one, and must not take a busy source's way. */
Test(ratelimit, collision_costs_the_newcomer)
{
	struct ts_ratelimit *rl = ts_ratelimit_new(100, 100, 4, key0);
	uint8_t src[5][5];
	int got[5] = { 0 };

	cr_assert(rl != NULL);
	for (int k = 0; k < 5; k++)
		addr(src[k], 0x0a000001u + (uint32_t)k);
	for (int i = 0; i < 2000; i++) {
		int64_t t = S + i * 1000000LL; /* 1 ms apart, 2 s */
		for (int k = 0; k < 5; k++)
			got[k] += ts_ratelimit_take(rl, src[k], 5, t);
	}
	int total = got[0] + got[1] + got[2] + got[3] + got[4];
	/* Four buckets' worth in all (4 x (100 + 2 s x 100)), however the
	 * five interleave: the fifth never adds a bucket. */
	cr_expect(total <= 4 * 300 + 4, "answered %d in all", total);
	for (int k = 0; k < 4; k++)
		cr_expect(got[k] >= 150, "source %d answered only %d", k, got[k]);
	ts_ratelimit_free(rl);
}

Test(ratelimit, idle_way_is_taken_over)
{
	struct ts_ratelimit *rl = ts_ratelimit_new(10, 10, 4, key0);
	uint8_t src[5][5];

	cr_assert(rl != NULL);
	for (int k = 0; k < 5; k++)
		addr(src[k], 0x0a000001u + (uint32_t)k);
	for (int k = 0; k < 4; k++)
		cr_expect(eq(int, answered(rl, src[k], S, MS, 20), 10));
	/* Two seconds later all four buckets have refilled: the fifth takes
	 * a way and has its own full burst. */
	cr_expect(eq(int, answered(rl, src[4], 3 * S, MS, 20), 10));
	ts_ratelimit_free(rl);
}

Test(ratelimit, zero_rate_is_no_limit)
{
	struct ts_ratelimit *rl = ts_ratelimit_new(0, 1, 4, key0);
	uint8_t a[5];

	cr_assert(rl != NULL);
	addr(a, 0x7f000001);
	cr_expect(eq(int, answered(rl, a, S, 0, 1000), 1000));
	ts_ratelimit_free(rl);
}
