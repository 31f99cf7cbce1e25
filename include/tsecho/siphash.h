/* SipHash-2-4 (Aumasson and Bernstein, "SipHash: a fast short-input PRF",
 * 2012): a keyed hash for tables whose keys a peer chooses, so that without
 * the key nobody can pick inputs that collide. */
#ifndef TSECHO_SIPHASH_H
#define TSECHO_SIPHASH_H

#include <stddef.h>
#include <stdint.h>

#define TS_SIPHASH_KEY_LEN 16

/* The 64-bit SipHash-2-4 of p[0..len) under key (16 bytes, read as two
 * little-endian words, as in the paper). */
uint64_t ts_siphash24(const uint8_t key[TS_SIPHASH_KEY_LEN], const void *p, size_t len);

#endif
