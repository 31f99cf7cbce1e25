/* SipHash-2-4: see siphash.h.  Two compression rounds per 8-byte word,
 * four finalization rounds (section 2 of the paper). */
#include "config.h"

#include <tsecho/siphash.h>

static inline uint64_t rotl(uint64_t x, unsigned bits)
{
	return (x << bits) | (x >> (64 - bits));
}

/* Written out so that compilers see one little-endian load. */
static inline uint64_t get_le64(const uint8_t *p)
{
	return (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 | (uint64_t)p[3] << 24 |
	       (uint64_t)p[4] << 32 | (uint64_t)p[5] << 40 | (uint64_t)p[6] << 48 |
	       (uint64_t)p[7] << 56;
}

struct sip_state {
	uint64_t v0, v1, v2, v3;
};

static inline void sip_round(struct sip_state *s)
{
	s->v0 += s->v1;
	s->v1 = rotl(s->v1, 13);
	s->v1 ^= s->v0;
	s->v0 = rotl(s->v0, 32);
	s->v2 += s->v3;
	s->v3 = rotl(s->v3, 16);
	s->v3 ^= s->v2;
	s->v0 += s->v3;
	s->v3 = rotl(s->v3, 21);
	s->v3 ^= s->v0;
	s->v2 += s->v1;
	s->v1 = rotl(s->v1, 17);
	s->v1 ^= s->v2;
	s->v2 = rotl(s->v2, 32);
}

static inline void sip_compress(struct sip_state *s, uint64_t m)
{
	s->v3 ^= m;
	sip_round(s);
	sip_round(s);
	s->v0 ^= m;
}

uint64_t ts_siphash24(const uint8_t key[TS_SIPHASH_KEY_LEN], const void *p, size_t len)
{
	const uint8_t *in = p;
	uint64_t k0 = get_le64(key), k1 = get_le64(key + 8);
	/* "somepseudorandomlygeneratedbytes", the paper's initial state. */
	struct sip_state s = {
		k0 ^ 0x736f6d6570736575ULL,
		k1 ^ 0x646f72616e646f6dULL,
		k0 ^ 0x6c7967656e657261ULL,
		k1 ^ 0x7465646279746573ULL,
	};
	size_t i = 0;
	uint64_t last = (uint64_t)len << 56; /* the length's low byte on top */

	for (; i + 8 <= len; i += 8)
		sip_compress(&s, get_le64(in + i));
	for (unsigned j = 0; i + j < len; j++)
		last |= (uint64_t)in[i + j] << (8 * j);
	sip_compress(&s, last);
	s.v2 ^= 0xff;
	for (int r = 0; r < 4; r++)
		sip_round(&s);
	return s.v0 ^ s.v1 ^ s.v2 ^ s.v3;
}
