/* The server's kernel timestamps: see ktime.h. */
#define _GNU_SOURCE
#include "config.h"

#include "ktime.h"

#include <netinet/in.h>
#include <string.h>

#include <tsecho/proto.h>

void ts_kt_sent(struct ts_kt_recent *r, uint32_t key, uint64_t seq, uint32_t slot)
{
	unsigned i = r->next++ % TS_KT_RECENT;

	r->sent[i].key = key;
	r->sent[i].seq = seq;
	r->sent[i].slot = slot + 1; /* 0: the entry is free */
}

bool ts_kt_match(struct ts_kt_recent *r, const struct ts_kts_tx *tx, uint64_t *seq, uint32_t *slot)
{
	if (tx->stage != TS_KTS_STAGE_SND)
		return false;
	for (unsigned i = 0; i < TS_KT_RECENT; i++) {
		if (r->sent[i].slot == 0 || r->sent[i].key != tx->key)
			continue;
		*seq = r->sent[i].seq;
		*slot = r->sent[i].slot - 1;
		r->sent[i].slot = 0;
		return true;
	}
	return false;
}

uint64_t ts_kt_seq(const uint8_t *frame)
{
	return ts_get_be64(frame + 16);
}

bool ts_kt_fill(uint8_t *frame, size_t hdr_len, bool on, int64_t rx_ns,
		const struct ts_kt_last *last)
{
	struct ts_proto_kts k = { .flags = TS_KTS_F_SERVER };
	size_t v;

	if (hdr_len <= TS_PROTO_HDR_LEN)
		return false; /* the common case, at no cost */
	v = ts_proto_find_ext(frame, hdr_len, TS_EXT_KTS, TS_EXT_KTS_LEN);
	if (v == 0)
		return false;
	if (on) {
		k.flags |= TS_KTS_F_RX | TS_KTS_F_TX;
		k.rx_ns = rx_ns > 0 ? (uint64_t)rx_ns : 0;
		if (last->ns > 0) {
			k.tx_seq = last->seq;
			k.tx_ns = (uint64_t)last->ns;
		}
	}
	ts_proto_kts_set(frame + v, &k);
	return true;
}

static bool same_peer(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
		return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	if (a->ss_family == AF_INET6) {
		const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
		return x->sin6_port == y->sin6_port &&
		       memcmp(&x->sin6_addr, &y->sin6_addr, sizeof x->sin6_addr) == 0;
	}
	return false;
}

static uint32_t fnv1a(uint32_t h, const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 16777619u;
	return h;
}

uint32_t ts_kt_udp_slot(const struct sockaddr_storage *peer)
{
	/* A table index, not a defence: a peer that collides only loses
	 * its own server transmit times. */
	uint32_t h = 2166136261u;

	if (peer->ss_family == AF_INET) {
		const struct sockaddr_in *a = (const void *)peer;
		h = fnv1a(h, &a->sin_port, sizeof a->sin_port);
		h = fnv1a(h, &a->sin_addr, sizeof a->sin_addr);
	} else if (peer->ss_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const void *)peer;
		h = fnv1a(h, &a->sin6_port, sizeof a->sin6_port);
		h = fnv1a(h, &a->sin6_addr, sizeof a->sin6_addr);
	}
	return h % TS_KT_PEERS;
}

struct ts_kt_last ts_kt_udp_last(const struct ts_kt_udp *u, const struct sockaddr_storage *peer)
{
	uint32_t slot = ts_kt_udp_slot(peer);
	struct ts_kt_last none = { 0, 0 };

	return same_peer(&u->peers[slot].peer, peer) ? u->peers[slot].last : none;
}

void ts_kt_udp_sent(struct ts_kt_udp *u, const struct sockaddr_storage *peer, uint64_t seq)
{
	uint32_t slot = ts_kt_udp_slot(peer);

	if (!same_peer(&u->peers[slot].peer, peer)) {
		u->peers[slot].peer = *peer;
		u->peers[slot].last = (struct ts_kt_last){ 0, 0 };
	}
	ts_kt_sent(&u->recent, u->key++, seq, slot);
}

void ts_kt_udp_drain(struct ts_kt_udp *u, int fd, int cap)
{
	struct ts_kts_tx tx[TS_KT_RECENT];
	int n = ts_kts_read_tx(fd, tx, cap < TS_KT_RECENT ? cap : TS_KT_RECENT);

	for (int i = 0; i < n; i++) {
		uint64_t seq;
		uint32_t slot;
		if (ts_kt_match(&u->recent, &tx[i], &seq, &slot))
			u->peers[slot].last = (struct ts_kt_last){ seq, tx[i].ns };
	}
}
