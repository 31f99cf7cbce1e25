/* The server's UDP side: each datagram is one message, binary probe or text
 * (docs/protocol.md), or on the echo listener an RFC 862 echo.  Nothing is answered with more than the request plus
 * the text prefix, so the server cannot amplify a spoofed flood; malformed
 * probes are counted and dropped. */
#include "config.h"

#include <errno.h>
#include <sys/socket.h>

#include <tsecho/clock.h>
#include <tsecho/proto.h>
#include <tsecho/text.h>
#include "server_int.h"

enum { DATAGRAMS_PER_EVENT = 64 }; /* a bounded share of work per event */

/* Builds the answer to one datagram in place (binary) or in tx (text).
 * Returns its length and sets *reply, or 0 for no answer. */
static size_t answer(struct ts_server *srv, const struct sockaddr *peer, uint8_t *dgram, size_t n,
		     int64_t rx_wall_ns, const uint8_t **reply)
{
	struct ts_proto_hdr h;
	int64_t t3_wall_ns;

	if (dgram[0] == TS_PROTO_MAGIC0) {
		size_t max = n < srv->cfg->max_message ? n : srv->cfg->max_message;
		/* A frame must fill its datagram exactly. */
		if (ts_proto_decode(dgram, n, max, &h, NULL) != TS_DECODE_OK || h.frame_len != n ||
		    h.type != TS_MSG_PROBE) {
			srv->stats.errors[TS_ERR_MALFORMED]++;
			return 0;
		}
		t3_wall_ns = ts_wall_ns();
		ts_proto_make_reply(dgram, (uint64_t)rx_wall_ns, (uint64_t)t3_wall_ns);
		srv->stats.traffic[TS_STAT_BINARY][TS_STAT_UDP].messages++;
		ts_server_stats_residence(&srv->stats, rx_wall_ns, t3_wall_ns);
		*reply = dgram;
		return n;
	}
	if (dgram[0] == TS_TEXT_QUIT_BYTE)
		return 0;
	srv->stats.traffic[TS_STAT_TEXT][TS_STAT_UDP].messages++;
	ts_log_message(&srv->log, peer, "udp", rx_wall_ns, dgram, n);
	*reply = srv->tx;
	return ts_text_reply(srv->tx, srv->tx_cap, rx_wall_ns, dgram, n);
}

/* Which protocol a datagram of n bytes at p speaks, for the counters. */
static enum ts_stat_proto udp_proto(const struct listener *l, const uint8_t *p, ssize_t n)
{
	if (l->role == ROLE_ECHO)
		return TS_STAT_ECHO;
	return n > 0 && p[0] == TS_PROTO_MAGIC0 ? TS_STAT_BINARY : TS_STAT_TEXT;
}

void ts_udp_on_readable(struct ts_evloop *loop, int fd, int events, void *arg)
{
	struct listener *l = arg;
	struct ts_server *srv = l->srv;

	(void)loop;
	(void)events;
	for (int i = 0; i < DATAGRAMS_PER_EVENT; i++) {
		struct sockaddr_storage peer;
		socklen_t peer_len = sizeof peer;
		ssize_t n =
		    recvfrom(fd, srv->rx, srv->rx_cap, 0, (struct sockaddr *)&peer, &peer_len);
		int64_t rx_wall_ns = ts_wall_ns(); /* t2: right after the read */
		const uint8_t *reply = NULL;
		struct ts_traffic *t;
		size_t len;

		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			/* ICMP errors from earlier sends surface here
			 * (ECONNREFUSED and the like): not ours to fail on. */
			if (errno != EINTR)
				srv->stats.errors[TS_ERR_IO]++;
			continue;
		}
		t = &srv->stats.traffic[udp_proto(l, srv->rx, n)][TS_STAT_UDP];
		t->bytes_in += (uint64_t)n;
		if (n == 0)
			continue;
		if (l->role == ROLE_ECHO) {
			/* RFC 862: the datagram goes back as it came. */
			t->messages++;
			reply = srv->rx;
			len = (size_t)n;
		} else {
			len = answer(srv, (struct sockaddr *)&peer, srv->rx, (size_t)n, rx_wall_ns,
				     &reply);
		}
		if (len == 0)
			continue;
		if (sendto(fd, reply, len, 0, (struct sockaddr *)&peer, peer_len) < 0) {
			/* A full send buffer drops the reply, as the network
			 * would; the sender sees it as loss. */
			srv->stats.errors[TS_ERR_DROPPED]++;
			continue;
		}
		t->bytes_out += len;
	}
}
