/* The server's UDP side: each datagram is one message, binary probe or text
 * (docs/protocol.md), or on the echo listener an RFC 862 echo.
 *
 * A reply is never larger than its request plus a text reply's "<time>:"
 * prefix (18 to 21 bytes; binary and echo replies are the request's size),
 * and every reply passes the guard first (guard.h): not to our own or a
 * reflector's port, within the source's --udp-rate and the server's
 * --udp-budget.  So the server adds at most 21 bytes to what a spoofed
 * source sends it, at a bounded rate, and never loops: what is itself a
 * reply (a text reply, a binary reply or error frame, the echo we just
 * sent) is not answered.  Malformed probes and text over --max-message are
 * counted and dropped. */
#define _GNU_SOURCE
#include "config.h"

#include <errno.h>
#include <sys/socket.h>

#include <tsecho/clock.h>
#include <tsecho/kts.h>
#include <tsecho/proto.h>
#include <tsecho/text.h>
#include "ktime.h"
#include "server_int.h"

enum { DATAGRAMS_PER_EVENT = 64 }; /* a bounded share of work per event */

/* Whether the guard lets us answer peer now. */
static bool admitted(struct ts_server *srv, const struct sockaddr_storage *peer)
{
	return ts_guard_admit(&srv->guard, false, peer, ts_mono_ns(), srv->stats.limits);
}

/* Kernel timestamps for a datagram that asks: the socket's, turned on by
 * the first one that asks under --kernel-timestamps=auto (that one has no
 * receive time yet).  Whether they are on. */
static bool kt_on(struct listener *l)
{
	if (!l->kt && !l->kt_refused && l->srv->cfg->kernel_timestamps == TS_KT_AUTO)
		l->kt_refused = ts_server_kt_listener(l) != 0;
	return l->kt != NULL;
}

/* Builds the answer to one binary datagram in place; returns its length,
 * or 0 for no answer.  rx_ns: the kernel's receive time (l->kt); *asked:
 * whether the probe asked for kernel timestamps that are on. */
static size_t answer_binary(struct listener *l, const struct sockaddr_storage *peer, uint8_t *dgram,
			    size_t n, int64_t rx_wall_ns, int64_t rx_raw_ns, int64_t rx_ns,
			    bool *asked)
{
	struct ts_server *srv = l->srv;
	size_t max = n < srv->cfg->max_message ? n : srv->cfg->max_message;
	struct ts_proto_hdr h;
	int64_t t3_wall_ns;

	/* A frame must fill its datagram exactly. */
	if (ts_proto_decode(dgram, n, max, &h, NULL) != TS_DECODE_OK || h.frame_len != n) {
		srv->stats.errors[TS_ERR_MALFORMED]++;
		return 0;
	}
	if (h.type == TS_MSG_REPLY || h.type == TS_MSG_ERROR) {
		srv->stats.limits[TS_LIMIT_LOOP_REPLY]++; /* another reflector's answer */
		return 0;
	}
	if (h.type != TS_MSG_PROBE) {
		srv->stats.errors[TS_ERR_MALFORMED]++;
		return 0;
	}
	if (!admitted(srv, peer))
		return 0;
	if (h.hdr_len > TS_PROTO_HDR_LEN &&
	    ts_proto_find_ext(dgram, h.hdr_len, TS_EXT_KTS, TS_EXT_KTS_LEN) != 0) {
		struct ts_kt_last last = { 0, 0 };
		bool on = kt_on(l);
		if (on)
			last = ts_kt_udp_last(l->kt, peer);
		ts_kt_fill(dgram, h.hdr_len, on, rx_ns, &last);
		*asked = on;
	}
	/* t3 is t2 plus the residence on the raw clock (docs/measurement.md). */
	t3_wall_ns = rx_wall_ns + (ts_raw_ns() - rx_raw_ns);
	ts_proto_make_reply(dgram, (uint64_t)rx_wall_ns, (uint64_t)t3_wall_ns);
	srv->stats.traffic[TS_STAT_BINARY][TS_STAT_UDP].messages++;
	ts_server_stats_residence(&srv->stats, rx_wall_ns, t3_wall_ns);
	return n;
}

/* Builds the answer to one text datagram in tx; returns its length, or 0
 * for no answer. */
static size_t answer_text(struct ts_server *srv, const struct sockaddr_storage *peer,
			  const uint8_t *dgram, size_t n, int64_t rx_wall_ns)
{
	if (dgram[0] == TS_TEXT_QUIT_BYTE)
		return 0;
	if (n > srv->cfg->max_message) {
		srv->stats.limits[TS_LIMIT_INPUT]++;
		return 0;
	}
	if (ts_text_is_reply(dgram, n)) {
		srv->stats.limits[TS_LIMIT_LOOP_REPLY]++;
		return 0;
	}
	if (!admitted(srv, peer))
		return 0;
	srv->stats.traffic[TS_STAT_TEXT][TS_STAT_UDP].messages++;
	ts_log_message(&srv->log, (const struct sockaddr *)peer, "udp", rx_wall_ns, dgram, n);
	return ts_text_reply(srv->tx, srv->tx_cap, rx_wall_ns, dgram, n);
}

/* RFC 862: the datagram goes back as it came, unless it is the echo we
 * just sent that source, coming back from another echo service. */
static size_t answer_echo(struct ts_server *srv, const struct sockaddr_storage *peer,
			  const uint8_t *dgram, size_t n)
{
	if (ts_guard_echo_repeat(&srv->guard, peer, dgram, n, ts_mono_ns())) {
		srv->stats.limits[TS_LIMIT_LOOP_REPLY]++;
		return 0;
	}
	if (!admitted(srv, peer))
		return 0;
	srv->stats.traffic[TS_STAT_ECHO][TS_STAT_UDP].messages++;
	return n;
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
	/* Transmit timestamps raise an error event until they are read. */
	if (l->kt)
		ts_kt_udp_drain(l->kt, fd, TS_KT_RECENT);
	for (int i = 0; i < DATAGRAMS_PER_EVENT; i++) {
		struct sockaddr_storage peer;
		socklen_t peer_len = sizeof peer;
		int64_t rx_ns = 0;
		ssize_t n = l->kt
				? ts_kts_recv(fd, srv->rx, srv->rx_cap, 0, &peer, &peer_len, &rx_ns)
				: recvfrom(fd, srv->rx, srv->rx_cap, 0, (struct sockaddr *)&peer,
					   &peer_len);
		int64_t rx_wall_ns, rx_raw_ns;
		bool asked = false;
		const uint8_t *reply;
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
		ts_clock_pair(&rx_wall_ns, &rx_raw_ns); /* t2: right after the read */
		t = &srv->stats.traffic[udp_proto(l, srv->rx, n)][TS_STAT_UDP];
		t->bytes_in += (uint64_t)n;
		if (n == 0)
			continue;
		if (l->role == ROLE_ECHO) {
			reply = srv->rx;
			len = answer_echo(srv, &peer, srv->rx, (size_t)n);
		} else if (srv->rx[0] == TS_PROTO_MAGIC0) {
			reply = srv->rx;
			len = answer_binary(l, &peer, srv->rx, (size_t)n, rx_wall_ns, rx_raw_ns,
					    rx_ns, &asked);
		} else {
			reply = srv->tx;
			len = answer_text(srv, &peer, srv->rx, (size_t)n, rx_wall_ns);
		}
		if (len == 0)
			continue;
		if ((asked ? ts_kts_sendto_stamped(fd, reply, len, 0, &peer, peer_len, TS_KTS_TX)
			   : sendto(fd, reply, len, 0, (struct sockaddr *)&peer, peer_len)) < 0) {
			/* A full send buffer drops the reply, as the network
			 * would; the sender sees it as loss. */
			srv->stats.errors[TS_ERR_DROPPED]++;
			continue;
		}
		t->bytes_out += len;
		if (asked) {
			/* Only the sends that ask count in the socket's keys. */
			ts_kt_udp_sent(l->kt, &peer, ts_kt_seq(srv->rx));
			ts_kt_udp_drain(l->kt, fd, 1);
		}
	}
}
