/* The server's STAMP reflector (RFC 8762, unauthenticated mode, section
 * 4.3), on its own UDP port beside the other listeners of the same loop.
 *
 * For each Session-Sender packet it builds the reflected packet in place:
 * receive time T2 from the kernel's timestamp of the datagram
 * (SO_TIMESTAMPNS, as close to the wire as Linux offers without hardware
 * support), the sender's sequence number, timestamp and error estimate
 * copied, the received TTL or hop limit copied (IP_RECVTTL,
 * IPV6_RECVHOPLIMIT), and octets past the base packet left as they came
 * (symmetric size).  T3 is taken right before the reply is handed to the
 * kernel.  The reply is never larger than the request; packets below the
 * TWAMP-Light minimum of 41 octets, or with an error estimate whose
 * multiplier is 0 (RFC 4656 4.1.2: corrupt), are counted and dropped, and
 * every reply passes the server's guard (guard.h: not to our own or a
 * reflector's port, each source address held to --stamp-rate, all to
 * --udp-budget) so that the reflector cannot be turned against a third
 * party. */
#define _GNU_SOURCE
#include "config.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <tsecho/clock.h>
#include <tsecho/proto.h>
#include <tsecho/stamp.h>
#include "server_int.h"

enum {
	BATCH_MAX = 64,
	TABLE_SIZE = 4096, /* sessions, by keyed hash */
	CMSG_SPACE_BYTES = 256,
	STAMP_DGRAM_MAX = 65536,
};

/* A session's key: family (1), address (16, IPv4 in the first 4), port
 * (2), SSID (2). */
enum { KEY_ADDR = 17, KEY_SESSION = 21 };

struct session {
	uint8_t key[KEY_SESSION];
	uint32_t next_seq;
	int used;
};

struct ts_reflector {
	int stateful;
	int batch;
	struct session sessions[TABLE_SIZE];
	uint16_t ee; /* our error estimate, refreshed once a second */
	int64_t ee_mono_ns;
	uint8_t *bufs; /* batch x STAMP_DGRAM_MAX */
	uint8_t cmsgs[BATCH_MAX][CMSG_SPACE_BYTES];
	struct sockaddr_storage peers[BATCH_MAX];
};

struct ts_reflector *ts_reflector_new(const struct ts_server_config *cfg)
{
	struct ts_reflector *st = calloc(1, sizeof *st);

	if (!st)
		return NULL;
	st->stateful = cfg->stamp_stateful;
	st->batch = cfg->stamp_batch < 1           ? 1
		    : cfg->stamp_batch > BATCH_MAX ? BATCH_MAX
						   : cfg->stamp_batch;
	st->bufs = malloc((size_t)st->batch * STAMP_DGRAM_MAX);
	if (!st->bufs) {
		free(st);
		return NULL;
	}
	return st;
}

void ts_reflector_free(struct ts_reflector *st)
{
	if (!st)
		return;
	free(st->bufs);
	free(st);
}

int ts_reflector_prepare(int fd, int family)
{
	int one = 1;

	/* Kernel receive timestamps, in the cmsg of each datagram. */
	if (setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one) != 0)
		return -errno;
	if (family == AF_INET6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, &one, sizeof one) != 0)
		return -errno;
	/* IPv4 TTLs: on an IPv4 socket, and on a dual-stack IPv6 one for
	 * the IPv4 peers it serves (which may fail where IPv4 is off). */
	if (setsockopt(fd, IPPROTO_IP, IP_RECVTTL, &one, sizeof one) != 0 && family == AF_INET)
		return -errno;
	return 0;
}

/* The key of a peer: family, address, port and SSID (docs above). */
static void peer_key(const struct sockaddr_storage *ss, uint16_t ssid, uint8_t key[KEY_SESSION])
{
	const uint8_t *port = NULL;

	memset(key, 0, KEY_SESSION);
	key[0] = (uint8_t)ss->ss_family;
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)ss;
		memcpy(key + 1, &in->sin_addr, 4);
		port = (const uint8_t *)&in->sin_port;
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;
		memcpy(key + 1, &in6->sin6_addr, 16);
		port = (const uint8_t *)&in6->sin6_port;
	}
	if (port)
		memcpy(key + KEY_ADDR, port, 2);
	key[KEY_ADDR + 2] = (uint8_t)(ssid >> 8);
	key[KEY_ADDR + 3] = (uint8_t)ssid;
}

/* Stateful mode: the session's own counter (RFC 8762 4.3.1), a session
 * being a source address and port and the sender's SSID. */
static uint32_t session_seq(struct ts_server *srv, const struct sockaddr_storage *ss, uint16_t ssid)
{
	uint8_t key[KEY_SESSION];
	struct session *s;

	peer_key(ss, ssid, key);
	s = &srv->stamp->sessions[ts_siphash24(srv->guard.key, key, sizeof key) % TABLE_SIZE];
	if (!s->used || memcmp(s->key, key, sizeof key) != 0) {
		memcpy(s->key, key, sizeof key);
		s->next_seq = 0;
		s->used = 1;
	}
	return s->next_seq++;
}

/* TTL or hop limit and kernel receive time from a datagram's cmsgs. */
static void read_cmsgs(struct msghdr *mh, int *ttl, int64_t *rx_wall_ns)
{
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(mh); cm; cm = CMSG_NXTHDR(mh, cm)) {
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_TIMESTAMPNS) {
			struct timespec ts;
			memcpy(&ts, CMSG_DATA(cm), sizeof ts);
			*rx_wall_ns = (int64_t)ts.tv_sec * TS_NS_PER_S + ts.tv_nsec;
		} else if ((cm->cmsg_level == IPPROTO_IP && cm->cmsg_type == IP_TTL) ||
			   (cm->cmsg_level == IPPROTO_IPV6 && cm->cmsg_type == IPV6_HOPLIMIT)) {
			int v;
			memcpy(&v, CMSG_DATA(cm), sizeof v);
			*ttl = v;
		}
	}
}

/* Turns datagram pkt[0..len) into its reflection, in place, and says when
 * it came (*t2_wall_ns); returns 0, or -1 when it must be dropped. */
static int reflect(struct ts_server *srv, uint8_t *pkt, size_t len, struct msghdr *mh,
		   const struct sockaddr_storage *peer, int64_t now_mono_ns, int64_t *t2_wall_ns)
{
	struct ts_reflector *st = srv->stamp;
	struct ts_stamp_sender in;
	struct ts_stamp_reflector out;
	struct ts_stamp_ee ee;
	int ttl = 255; /* RFC 5357 4.2: 255 when the real one is unknown */
	int64_t rx_wall_ns = 0;

	read_cmsgs(mh, &ttl, &rx_wall_ns);
	if (rx_wall_ns == 0)
		rx_wall_ns = ts_wall_ns();
	*t2_wall_ns = rx_wall_ns;
	if (len < TS_STAMP_TWAMP_MIN || ts_stamp_sender_decode(pkt, len, &in) != TS_DECODE_OK) {
		srv->stats.errors[TS_ERR_MALFORMED]++;
		return -1;
	}
	ts_stamp_ee_decode(in.ee, &ee);
	if (ee.multiplier == 0) {
		srv->stats.errors[TS_ERR_MALFORMED]++;
		return -1;
	}
	if (!ts_guard_admit(&srv->guard, true, peer, now_mono_ns, srv->stats.limits))
		return -1;
	if (now_mono_ns - st->ee_mono_ns >= TS_NS_PER_S || st->ee_mono_ns == 0) {
		st->ee = ts_stamp_local_ee();
		st->ee_mono_ns = now_mono_ns;
	}
	memset(&out, 0, sizeof out);
	out.seq = st->stateful ? session_seq(srv, peer, in.ssid) : in.seq;
	out.ee = st->ee;
	out.ssid = in.ssid;
	out.rx_timestamp = ts_ntp_from_unix_ns(rx_wall_ns);
	out.sender_seq = in.seq;
	out.sender_timestamp = in.timestamp;
	out.sender_ee = in.ee;
	out.sender_ttl = (uint8_t)(ttl < 0 ? 0 : ttl > 255 ? 255 : ttl);
	ts_stamp_reflector_encode(pkt, len, &out);
	srv->stats.traffic[TS_STAT_STAMP][TS_STAT_UDP].messages++;
	return 0;
}

#ifdef __linux__
/* Batched: one recvmmsg, replies in one sendmmsg. */
static void serve_batch(struct ts_server *srv, int fd)
{
	struct ts_reflector *st = srv->stamp;
	struct mmsghdr msgs[BATCH_MAX], replies[BATCH_MAX];
	struct iovec iov[BATCH_MAX], riov[BATCH_MAX];
	int64_t t2_wall_ns[BATCH_MAX], t3_wall_ns;
	int n, out = 0;
	int64_t now_mono_ns;
	uint64_t t3;

	memset(msgs, 0, sizeof msgs);
	for (int i = 0; i < st->batch; i++) {
		iov[i].iov_base = st->bufs + (size_t)i * STAMP_DGRAM_MAX;
		iov[i].iov_len = STAMP_DGRAM_MAX;
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
		msgs[i].msg_hdr.msg_name = &st->peers[i];
		msgs[i].msg_hdr.msg_namelen = sizeof st->peers[i];
		msgs[i].msg_hdr.msg_control = st->cmsgs[i];
		msgs[i].msg_hdr.msg_controllen = CMSG_SPACE_BYTES;
	}
	n = recvmmsg(fd, msgs, (unsigned)st->batch, MSG_DONTWAIT, NULL);
	if (n <= 0) {
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			srv->stats.errors[TS_ERR_IO]++;
		return;
	}
	now_mono_ns = ts_mono_ns();
	for (int i = 0; i < n; i++) {
		uint8_t *pkt = iov[i].iov_base;
		size_t len = msgs[i].msg_len;

		srv->stats.traffic[TS_STAT_STAMP][TS_STAT_UDP].bytes_in += len;
		if (reflect(srv, pkt, len, &msgs[i].msg_hdr, &st->peers[i], now_mono_ns,
			    &t2_wall_ns[out]) != 0)
			continue;
		riov[out].iov_base = pkt;
		riov[out].iov_len = len;
		memset(&replies[out], 0, sizeof replies[out]);
		replies[out].msg_hdr.msg_iov = &riov[out];
		replies[out].msg_hdr.msg_iovlen = 1;
		replies[out].msg_hdr.msg_name = &st->peers[i];
		replies[out].msg_hdr.msg_namelen = msgs[i].msg_hdr.msg_namelen;
		out++;
	}
	if (out == 0)
		return;
	/* T3: "at the start of transmitting", once for the batch. */
	t3_wall_ns = ts_wall_ns();
	t3 = ts_ntp_from_unix_ns(t3_wall_ns);
	for (int i = 0; i < out; i++) {
		ts_stamp_reflector_set_t3(riov[i].iov_base, t3);
		ts_server_stats_residence(&srv->stats, t2_wall_ns[i], t3_wall_ns);
	}
	n = sendmmsg(fd, replies, (unsigned)out, 0);
	if (n < 0)
		n = 0;
	for (int i = 0; i < n; i++)
		srv->stats.traffic[TS_STAT_STAMP][TS_STAT_UDP].bytes_out += replies[i].msg_len;
	/* Replies the kernel would not take are lost, as on the network. */
	srv->stats.errors[TS_ERR_DROPPED] += (uint64_t)(out - n);
}
#endif

/* One datagram at a time: recvmsg, sendmsg.  Returns -1 when there was
 * none to read. */
static int serve_one(struct ts_server *srv, int fd)
{
	struct ts_reflector *st = srv->stamp;
	struct iovec iov = { st->bufs, STAMP_DGRAM_MAX };
	struct msghdr mh;
	int64_t t2_wall_ns, t3_wall_ns;
	ssize_t n;

	memset(&mh, 0, sizeof mh);
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_name = &st->peers[0];
	mh.msg_namelen = sizeof st->peers[0];
	mh.msg_control = st->cmsgs[0];
	mh.msg_controllen = CMSG_SPACE_BYTES;
	n = recvmsg(fd, &mh, MSG_DONTWAIT);
	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return -1;
		if (errno != EINTR)
			srv->stats.errors[TS_ERR_IO]++;
		return 0;
	}
	srv->stats.traffic[TS_STAT_STAMP][TS_STAT_UDP].bytes_in += (uint64_t)n;
	if (reflect(srv, st->bufs, (size_t)n, &mh, &st->peers[0], ts_mono_ns(), &t2_wall_ns) != 0)
		return 0;
	t3_wall_ns = ts_wall_ns();
	ts_stamp_reflector_set_t3(st->bufs, ts_ntp_from_unix_ns(t3_wall_ns));
	ts_server_stats_residence(&srv->stats, t2_wall_ns, t3_wall_ns);
	if (sendto(fd, st->bufs, (size_t)n, 0, (struct sockaddr *)&st->peers[0], mh.msg_namelen) <
	    0) {
		srv->stats.errors[TS_ERR_DROPPED]++;
		return 0;
	}
	srv->stats.traffic[TS_STAT_STAMP][TS_STAT_UDP].bytes_out += (uint64_t)n;
	return 0;
}

void ts_reflector_on_readable(struct ts_evloop *loop, int fd, int events, void *arg)
{
	struct listener *l = arg;
	struct ts_server *srv = l->srv;

	(void)loop;
	(void)events;
	/* A bounded share of work per event: one batch, or a few single
	 * datagrams; level-triggered, the loop comes back for the rest. */
#ifdef __linux__
	if (srv->stamp->batch > 1) {
		serve_batch(srv, fd);
		return;
	}
#endif
	for (int i = 0; i < 16 && serve_one(srv, fd) == 0; i++)
		;
}
