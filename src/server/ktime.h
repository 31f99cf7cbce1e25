/* The server's kernel timestamps (tsecho server --kernel-timestamps):
 * what a reply's kernel-timestamp extension is filled with, and how the
 * kernel's transmit times are matched to the replies they belong to.
 *
 * A flow is a TCP connection or a UDP peer.  Each reply's send is keyed
 * as the kernel keys its transmit timestamp (kts.h): on TCP the stream
 * offset of the reply's last byte, on UDP the count of the socket's sends
 * that asked for their transmit time (only replies that asked do).
 * When a record comes back from the error queue, the reply with that key
 * gets its transmit time, and the flow's next reply carries it
 * (docs/protocol.md, "Kernel timestamps"). */
#ifndef TSECHO_SERVER_KTIME_H
#define TSECHO_SERVER_KTIME_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include <tsecho/kts.h>

enum { TS_KT_RECENT = 8 };

/* Replies sent on one socket whose transmit times may still come. */
struct ts_kt_recent {
	struct {
		uint32_t key;
		uint32_t slot; /* UDP: the peer's place in the table */
		uint64_t seq;
	} sent[TS_KT_RECENT];
	unsigned next; /* where the next one goes (a ring) */
};

/* The newest transmit time known for a flow. */
struct ts_kt_last {
	uint64_t seq;
	int64_t ns; /* 0: none yet */
};

/* Records that the reply seq was sent with key (on a socket's ring). */
void ts_kt_sent(struct ts_kt_recent *r, uint32_t key, uint64_t seq, uint32_t slot);

/* The reply that transmit record tx belongs to: true with *seq and *slot
 * (and the entry forgotten), false when it is none of the recent ones. */
bool ts_kt_match(struct ts_kt_recent *r, const struct ts_kts_tx *tx, uint64_t *seq, uint32_t *slot);

/* Fills the kernel-timestamp extension of the reply frame (hdr_len bytes
 * of header at frame) when it has one: flags (on: this flow's timestamps
 * are on), the probe's kernel receive time, and last.  Returns whether
 * the frame asked (had the extension). */
bool ts_kt_fill(uint8_t *frame, size_t hdr_len, bool on, int64_t rx_ns,
		const struct ts_kt_last *last);

/* The sequence number of the probe frame at p. */
uint64_t ts_kt_seq(const uint8_t *frame);

/* UDP: the last transmit time per peer, in a table of TS_KT_PEERS
 * places chosen by a hash of the address (two peers on one place take
 * turns: the one that loses gets no server transmit time). */
enum { TS_KT_PEERS = 256 };
struct ts_kt_udp {
	uint32_t key; /* sends on the socket that asked, so far */
	struct ts_kt_recent recent;
	struct {
		struct sockaddr_storage peer;
		struct ts_kt_last last;
	} peers[TS_KT_PEERS];
};

/* The place of peer in the table. */
uint32_t ts_kt_udp_slot(const struct sockaddr_storage *peer);

/* What the table knows for peer (a zeroed last when another peer holds
 * its place). */
struct ts_kt_last ts_kt_udp_last(const struct ts_kt_udp *u, const struct sockaddr_storage *peer);

/* A reply to probe seq went to peer: keys it, and gives peer its place. */
void ts_kt_udp_sent(struct ts_kt_udp *u, const struct sockaddr_storage *peer, uint64_t seq);

/* Reads the transmit records waiting on a UDP socket (at most cap) into
 * the table. */
void ts_kt_udp_drain(struct ts_kt_udp *u, int fd, int cap);

#endif
